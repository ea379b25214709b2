// `netshare convert`: a capture to a packets CSV, a flow CSV (--flows), or pcap/pcapng; prints a one-line summary.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { convertTrace } from '../../pipeline/convert.js';
import { printJson, progress, say, type GlobalArgs } from '../output.js';

interface ConvertArgs extends GlobalArgs {
  input: string;
  to: string;
  flows: boolean;
  filter?: string;
  timeout?: number;
  extended: boolean;
  keepValidPrefix: boolean;
}

function human(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return `${Math.round(n)} `;
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <input>',
  describe: 'Convert a capture (pcap, pcapng, gzip\'d pcap, ERF-in-pcap) to a packets CSV, a flow CSV (--flows) or pcap/pcapng',
  builder: (y: Argv) =>
    y
      .positional('input', { type: 'string', demandOption: true, describe: 'Capture file (or a NetShare packets CSV when writing pcap)' })
      .option('to', { type: 'string', demandOption: true, describe: 'Output: .csv / .csv.gz (packets, or flows with --flows), .pcap or .pcapng' })
      .option('flows', { type: 'boolean', default: false, describe: 'Write 5-tuple flows (NetShare NetFlow CSV columns) instead of packets' })
      .option('filter', { type: 'string', describe: 'BPF filter (libpcap syntax) applied while reading, e.g. "tcp or udp"' })
      .option('timeout', { type: 'number', describe: 'Flow inactive timeout in seconds (default: none, as NetShare)' })
      .option('extended', { type: 'boolean', default: false, describe: 'Packets CSV: add tcp_flags, tcp_window and IPv6 columns; keep IPv6 rows' })
      .option('keep-valid-prefix', { type: 'boolean', default: false, describe: 'On a truncated/corrupt record keep what came before it (warning) instead of failing' }) as unknown as Argv<ConvertArgs>,
  handler: async (args: ArgumentsCamelCase<ConvertArgs>) => {
    const bar = progress('convert', args, 2000);
    let summary;
    try {
      summary = await convertTrace(args.input, {
        to: args.to,
        flows: args.flows,
        ...(args.filter ? { filter: args.filter } : {}),
        ...(args.timeout !== undefined ? { timeoutS: args.timeout } : {}),
        extended: args.extended,
        keepValidPrefix: args.keepValidPrefix,
        onProgress: (bytes, total, packets) => bar.update(bytes, total, `${packets} packets`),
      });
    } finally {
      bar.stop();
    }
    for (const w of summary.warnings) process.stderr.write(`netshare: warning: ${w}\n`);
    if (args.json) {
      printJson(summary as unknown as Record<string, unknown>);
      return;
    }
    const share = (100 * summary.decodedShare).toFixed(1);
    const flows = summary.outputFormat === 'flow-csv' ? `, ${summary.flows} flows` : '';
    say(
      args,
      `${summary.input} -> ${summary.output}: ${summary.packets} packets (${share}% decoded as IP)${flows}, ${summary.written} ${summary.outputFormat === 'pcap' || summary.outputFormat === 'pcapng' ? 'records' : 'rows'} written in ${summary.seconds.toFixed(2)} s (${human(summary.packetsPerSecond)}packets/s)`,
    );
  },
};
