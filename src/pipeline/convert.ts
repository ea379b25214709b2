// `netshare convert` as a library function: capture (or packets CSV) -> packets CSV, flow CSV, pcap or pcapng; any flow
// file (NetFlow CSV, Zeek conn.log, Argus binetflow, nfcapd) -> any writable flow schema.
import { mkdir } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { ConfigError, expected } from '../errors.js';
import { isNfcapdPath, writeFlowFile } from '../io/flow-files.js';
import { checkOutputPaths } from '../io/output-paths.js';
import { PacketsCsvWriter, readPacketsCsv } from '../io/packets-csv.js';
import { detectTraceFormat, isFlowFormat, readTrace, type FlowSchemaInfo, type ReadTraceOptions } from '../io/read-trace.js';
import type { FlowTable, PacketTable } from '../io/table.js';
import { readFlowTable, readPacketBatches, readPacketTable, type ReadOptions, type ReadStats } from '../native/reader.js';
import { writePcap } from '../native/writer.js';
import { isatty } from 'node:tty';

export interface ConvertOptions {
  /** Output path: `.csv` / `.csv.gz` (packets CSV, or flow CSV with `flows`), `.pcap` or `.pcapng`. */
  to: string;
  /** Write the 5-tuple flow table (NetShare NetFlow CSV schema) instead of packets. */
  flows?: boolean;
  /** BPF filter applied while reading. */
  filter?: string;
  /** Flow inactive timeout in seconds (default: none, as NetShare). */
  timeoutS?: number;
  /** Packets CSV: add tcp flags/window and exact IPv6 columns, keep IPv6 rows and sub-µs time digits. */
  extended?: boolean;
  /** Keep the records before a truncated/corrupt one (with a warning) instead of failing. */
  keepValidPrefix?: boolean;
  onProgress?: (bytesRead: number, totalBytes: number, packets: number) => void;
  /**
   * Flow output schema: a NetFlow CSV schema (netshare default, ugr16 = nfdump-style, cidds, argus) or zeek
   * (conn.log; JSON lines when `to` ends in .json/.jsonl). A `.log` / `.json(l)` path implies zeek.
   */
  outSchema?: 'netshare' | 'ugr16' | 'cidds' | 'argus' | 'zeek';
  /** How to read a flow input (schema, column mapping, skipBadRows). */
  read?: ReadTraceOptions;
}

export type ConvertOutput = 'packets-csv' | 'flow-csv' | 'zeek-conn' | 'nfcapd' | 'pcap' | 'pcapng';

export interface ConvertSummary {
  input: string;
  output: string;
  outputFormat: ConvertOutput;
  inputFormat: string;
  /** Records read (after the filter). */
  packets: number;
  /** IPv4 + IPv6 packets. */
  ipPackets: number;
  /** ipPackets / packets (1 when there are no packets). */
  decodedShare: number;
  /** Flow records (0 unless --flows). */
  flows: number;
  /** Rows or records written. */
  written: number;
  seconds: number;
  packetsPerSecond: number;
  warnings: string[];
  /** Reader statistics; times as decimal ns strings so the summary is JSON. */
  stats?: Omit<ReadStats, 'firstTsNs' | 'lastTsNs'> & { firstTsNs: string | null; lastTsNs: string | null };
}

function outputKind(to: string, flows: boolean): ConvertOutput {
  const lower = to.toLowerCase();
  const ext = extname(lower.endsWith('.gz') ? lower.slice(0, -3) : lower);
  if (isNfcapdPath(lower)) return 'nfcapd';
  if (ext === '.log' || ext === '.json' || ext === '.jsonl') return 'zeek-conn';
  if (ext === '.csv') return flows ? 'flow-csv' : 'packets-csv';
  if (lower.endsWith('.gz')) throw new ConfigError(expected('a .csv.gz, .csv, .pcap or .pcapng output', 'to', to), 'to');
  if (ext === '.pcap' || ext === '.pcapng') {
    if (flows) throw new ConfigError('--flows writes a flow CSV: give --to a .csv path (pcap output holds packets)', 'flows');
    return ext === '.pcap' ? 'pcap' : 'pcapng';
  }
  throw new ConfigError(expected('an output path ending in .csv, .csv.gz, .log, .json(l) (Zeek conn.log), .nfcapd, .pcap or .pcapng', 'to', to), 'to');
}

function jsonStats(s: ReadStats): NonNullable<ConvertSummary['stats']> {
  return { ...s, firstTsNs: s.firstTsNs === null ? null : s.firstTsNs.toString(), lastTsNs: s.lastTsNs === null ? null : s.lastTsNs.toString() };
}

/** Drop IPv6 rows from a flow table (NetShare's flow CSV schema has IPv4 integer addresses only). */
function ipv4Flows(t: FlowTable): { table: FlowTable; dropped: number } {
  const v = t.ipVersion;
  if (!v || !v.includes(6)) return { table: t, dropped: 0 };
  const keep: number[] = [];
  for (let i = 0; i < t.length; i++) if (v[i] !== 6) keep.push(i);
  const pick = <A extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: A): A => {
    const out = new (a.constructor as new (n: number) => A)(keep.length);
    for (let k = 0; k < keep.length; k++) out[k] = a[keep[k]!]!;
    return out;
  };
  const table: FlowTable = {
    kind: 'flows',
    length: keep.length,
    srcIp: pick(t.srcIp),
    dstIp: pick(t.dstIp),
    srcPort: pick(t.srcPort),
    dstPort: pick(t.dstPort),
    proto: pick(t.proto),
    ts: pick(t.ts),
    td: pick(t.td),
    pkt: pick(t.pkt),
    byt: pick(t.byt),
    ipVersion: pick(v),
    ...(t.tcpFlags ? { tcpFlags: pick(t.tcpFlags) } : {}),
  };
  return { table, dropped: t.length - keep.length };
}

/**
 * Convert a capture to a packets CSV (streamed batch by batch), a flow CSV, or pcap/pcapng (via the native
 * writer); a NetShare packets CSV can also be turned into pcap/pcapng. Outputs are written atomically.
 * Throws ConfigError for bad options, InputError for bad input.
 */
export async function convertTrace(input: string, opts: ConvertOptions): Promise<ConvertSummary> {
  if (typeof opts.to !== 'string' || opts.to.length === 0) throw new ConfigError(expected('an output path', 'to', opts.to), 'to');
  let kind = outputKind(opts.to, Boolean(opts.flows) || opts.outSchema !== undefined);
  if (opts.outSchema === 'zeek' && kind === 'flow-csv') kind = 'zeek-conn';
  if (kind === 'zeek-conn' && opts.outSchema && opts.outSchema !== 'zeek') {
    throw new ConfigError(expected(`a .csv path for the ${opts.outSchema} schema (.log/.json name a Zeek conn.log)`, 'to', opts.to), 'to');
  }
  const lowerTo = opts.to.toLowerCase();
  if (kind === 'nfcapd' && opts.outSchema) throw new ConfigError(expected('no --out-schema for an nfcapd output (nfcapd is its own format)', 'out-schema', opts.outSchema), 'out-schema');
  const flowOut: FlowSchemaInfo = kind === 'zeek-conn'
    ? { schema: 'zeek', zeek: { json: /\.jsonl?(\.gz)?$/.test(lowerTo), bytes: 'ip' } }
    : kind === 'nfcapd'
      ? { schema: 'nfcapd' }
      : { schema: opts.outSchema && opts.outSchema !== 'zeek' ? opts.outSchema : 'netshare' };
  checkOutputPaths([{ key: 'to', path: opts.to }], [input]);
  // the writers need the output's folder; it is made now, before the work (the check above found it can be)
  await mkdir(dirname(resolve(opts.to)), { recursive: true });
  if (opts.timeoutS !== undefined && !(Number.isFinite(opts.timeoutS) && opts.timeoutS > 0))
    throw new ConfigError(expected('a positive number of seconds', 'timeout', opts.timeoutS), 'timeout');
  // `-`: a capture on standard input (`tcpdump -w - | netshare convert - --to x.csv`). A pipe cannot be sniffed and
  // read again, so it is taken as a capture: the native reader checks the pcap/pcapng magic itself and names `-` in
  // its error when the bytes are something else (flow files and CSVs are read from files only).
  const stdin = input === '-';
  // isatty(0), not process.stdin.isTTY: touching process.stdin makes node switch a piped fd 0 to non-blocking, and the
  // native reader's read() then fails with EAGAIN mid-capture
  if (stdin && isatty(0)) throw new ConfigError('standard input (-) is a terminal: pipe a capture into it, e.g. tcpdump -w - | netshare convert - --to flows.csv --flows', 'input');
  if (stdin && opts.read?.schema) throw new ConfigError('--schema names the schema of a flow file; standard input (-) is read as a capture only', 'schema');
  const detected = stdin ? undefined : await detectTraceFormat(input);
  const inputFormat: string = detected ?? 'capture on standard input';
  const t0 = performance.now();
  const warnings: string[] = [];
  const done = (packets: number, ipPackets: number, flows: number, written: number, stats?: ReadStats): ConvertSummary => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      input,
      output: opts.to,
      outputFormat: kind,
      inputFormat,
      packets,
      ipPackets,
      decodedShare: packets > 0 ? ipPackets / packets : 1,
      flows,
      written,
      seconds,
      packetsPerSecond: seconds > 0 ? packets / seconds : 0,
      warnings: [...(stats?.warnings ?? []), ...warnings],
      ...(stats ? { stats: jsonStats(stats) } : {}),
    };
  };

  if (detected !== undefined && (isFlowFormat(detected) || (opts.read?.schema && detected !== 'packets-csv'))) {
    if (kind !== 'flow-csv' && kind !== 'zeek-conn' && kind !== 'nfcapd') {
      throw new ConfigError(`${input} holds flow records (${inputFormat}); convert them to a flow file (.csv with --out-schema, .log/.json for Zeek), not ${opts.to}`, 'to');
    }
    if (opts.filter) throw new ConfigError('--filter needs a capture as input (BPF runs on captured packets)', 'filter');
    const r = await readTrace(input, opts.read ?? {});
    warnings.push(...r.warnings);
    const table = r.table as FlowTable;
    const { rows } = await writeFlowFile(opts.to, table, flowOut);
    return done(table.length, table.length, table.length, rows);
  }
  if (detected === 'packets-csv') {
    if (kind !== 'pcap' && kind !== 'pcapng')
      throw new ConfigError(`convert reads captures (pcap, pcapng, gzip'd pcap); a packets CSV can only be converted to .pcap/.pcapng, got ${input} (${inputFormat}) -> ${opts.to}`, 'to');
    if (opts.filter) throw new ConfigError('--filter needs a capture as input (BPF runs on captured packets)', 'filter');
    const { table } = await readPacketsCsv(input, { ...(opts.read?.skipBadRows ? { skipBadRows: true } : {}) });
    const w = await writePcap(opts.to, table, { format: kind });
    return done(table.length, table.length, 0, w.packets);
  }

  const read: ReadOptions = {
    ...(opts.filter ? { filter: opts.filter } : {}),
    ...(opts.timeoutS ? { inactiveTimeoutS: opts.timeoutS } : {}),
    ...(opts.keepValidPrefix ? { keepValidPrefix: true } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  };

  if (kind === 'flow-csv' || kind === 'zeek-conn' || kind === 'nfcapd') {
    const { flows, stats } = await readFlowTable(input, read);
    const { table, dropped } = ipv4Flows(flows);
    if (dropped > 0) warnings.push(`${dropped} IPv6 flows left out: the flow schemas here hold IPv4 addresses only`);
    // packets make unidirectional 5-tuple flows: as a Zeek conn.log the originator's counts, resp_* 0, conn_state and service unset
    const { rows } = await writeFlowFile(opts.to, table, flowOut);
    return done(stats.packets, stats.ipv4 + stats.ipv6, flows.length, rows, stats);
  }

  if (kind === 'packets-csv') {
    const w = new PacketsCsvWriter(opts.to, { extended: Boolean(opts.extended) });
    let stats: ReadStats | undefined;
    try {
      for await (const b of readPacketBatches(input, { ...read, reuseBatches: true })) {
        stats = b.stats;
        await w.write(b);
      }
    } catch (err) {
      await w.abort();
      throw err;
    }
    const { rows, skippedIpv6 } = await w.close();
    if (skippedIpv6 > 0) warnings.push(`${skippedIpv6} IPv6 packets left out: NetShare's packet columns are IPv4-only (use --extended to keep them)`);
    const s = stats!;
    return done(s.packets, s.ipv4 + s.ipv6, 0, rows, s);
  }

  const { table, stats }: { table: PacketTable; stats: ReadStats } = await readPacketTable(input, read);
  const w = await writePcap(opts.to, table, { format: kind });
  return done(stats.packets, stats.ipv4 + stats.ipv6, 0, w.packets, stats);
}
