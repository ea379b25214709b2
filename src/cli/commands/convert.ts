// `netshare convert`: a capture to a packets CSV, a flow file (--flows), or pcap/pcapng; a flow file to another flow schema.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { convertTrace } from '../../pipeline/convert.js';
import { printJson, progress, say, type GlobalArgs } from '../output.js';
import { readOptions, readOptionsFrom, type ReadArgs } from '../read-options.js';

interface ConvertArgs extends GlobalArgs, ReadArgs {
  outSchema?: 'netshare' | 'ugr16' | 'cidds' | 'argus' | 'zeek';
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
  describe:
    "Convert a capture (pcap, pcapng, gzip'd pcap, ERF-in-pcap) to a packets CSV, flows (--flows: NetFlow CSV or Zeek conn.log) or pcap/pcapng; or a flow file (NetFlow CSV, Zeek conn.log, Argus binetflow, nfcapd) to another flow schema",
  builder: (y: Argv) =>
    readOptions(y)
      .positional('input', { type: 'string', demandOption: true, describe: 'Capture or flow file (or a NetShare packets CSV when writing pcap); - reads a capture from standard input' })
      .option('to', { type: 'string', demandOption: true, describe: 'Output: .csv / .csv.gz (packets, or flows with --flows / --out-schema), .log / .json (Zeek conn.log), .nfcapd (written by nfdump\'s nfcapd from NetFlow v5), .pcap or .pcapng' })
      .option('out-schema', { type: 'string', choices: ['netshare', 'ugr16', 'cidds', 'argus', 'zeek'], describe: 'Flow output schema (default netshare; zeek for .log/.json)' })
      .option('flows', { type: 'boolean', default: false, describe: 'Write 5-tuple flows (NetShare NetFlow CSV columns) instead of packets' })
      .option('filter', { type: 'string', describe: 'BPF filter (libpcap syntax) applied while reading, e.g. "tcp or udp"' })
      .option('timeout', { type: 'number', describe: 'Flow inactive timeout in seconds (default: none, as NetShare)' })
      .option('extended', { type: 'boolean', default: false, describe: 'Packets CSV: add tcp_flags, tcp_window and IPv6 columns; keep IPv6 rows' })
      .option('keep-valid-prefix', { type: 'boolean', default: false, describe: 'On a truncated/corrupt record keep what came before it (warning) instead of failing' }) as unknown as Argv<ConvertArgs>,
  handler: async (args: ArgumentsCamelCase<ConvertArgs>) => {
    const bar = progress('convert', args, 2000);
    let summary;
    try {
      // yargs hands a lone `-` positional over as '' (an empty path names nothing else): standard input, as `tcpdump -r -`
      const input = args.input === '' ? '-' : args.input;
      summary = await convertTrace(input, {
        to: args.to,
        flows: args.flows,
        ...(args.filter ? { filter: args.filter } : {}),
        ...(args.timeout !== undefined ? { timeoutS: args.timeout } : {}),
        extended: args.extended,
        keepValidPrefix: args.keepValidPrefix,
        ...(args.outSchema ? { outSchema: args.outSchema } : {}),
        read: readOptionsFrom(args),
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
    const flows = summary.outputFormat === 'flow-csv' || summary.outputFormat === 'zeek-conn' || summary.outputFormat === 'nfcapd' ? `, ${summary.flows} flows` : '';
    say(
      args,
      `${summary.input} -> ${summary.output}: ${summary.packets} packets (${share}% decoded as IP)${flows}, ${summary.written} ${summary.outputFormat === 'pcap' || summary.outputFormat === 'pcapng' ? 'records' : 'rows'} written in ${summary.seconds.toFixed(2)} s (${human(summary.packetsPerSecond)}packets/s)`,
    );
  },
};
