// Typed async API over the native trace reader: batches of typed-array columns, packet tables and flow tables.
//
// Time: batches keep exact nanoseconds in `tsNs` (BigInt64Array, ns since the Unix epoch; saturated at ±2^63 ns,
// i.e. beyond the year 2262, counted in `stats.clampedTs`) and a float64 µs copy in `timeUs` (the table unit).
// `stats.firstTsNs` / `lastTsNs` are exact BigInts even beyond 2262 (built from seconds + nanoseconds).
import { statSync } from 'node:fs';
import { ConfigError, InputError, InternalError, NetShareError, expected } from '../errors.js';
import type { FlowRecordColumns, FlowTable, PacketHeaderColumns, PacketTable } from '../core/columns.js';
import { nativeBinding } from './addon.js';
import type { PacketTableWithNs } from './writer.js';

export interface ReadOptions {
  /** BPF expression (libpcap syntax) applied while reading. */
  filter?: string;
  /** Packets per batch (default 65536). */
  batchSize?: number;
  /** Aggregate 5-tuple flows natively and fill `flowId` (default false; readFlowTable turns it on). */
  flows?: boolean;
  /** Close a flow after this many seconds without packets (default off, as NetShare). */
  inactiveTimeoutS?: number;
  /** Close a flow this many seconds after its first packet (default off). */
  activeTimeoutS?: number;
  /** On a truncated or corrupt record, stop there with a warning instead of throwing an InputError. */
  keepValidPrefix?: boolean;
  /**
   * Reuse batch memory: a batch's columns are valid only until the next batch is requested (the end of its
   * for-await iteration). Saves a fresh buffer (and its page faults) per batch. Default false.
   */
  reuseBatches?: boolean;
  /** Called after every batch; bytes are compressed bytes for gzip'd input. */
  onProgress?: (bytesRead: number, totalBytes: number, packets: number) => void;
}

export type TraceFormat = 'pcap' | 'pcapng' | 'gzip-pcap' | 'gzip-pcapng';

export interface ReadStats {
  file: string;
  format: TraceFormat;
  /** LINKTYPE_* values in file order (pcap header; every pcapng IDB). */
  linktypes: number[];
  /** Records that passed the filter (all records without a filter). */
  packets: number;
  /** Records read from the file before the filter. */
  records: number;
  ipv4: number;
  ipv6: number;
  tcp: number;
  udp: number;
  /** ICMP and ICMPv6. */
  icmp: number;
  otherIp: number;
  notIp: number;
  undecodable: number;
  /** Records with caplen < original length (snaplen-cut); still decoded and counted. */
  truncated: number;
  /** Non-first fragments (IPv4 offset > 0, IPv6 Fragment header offset > 0). */
  fragments: number;
  /** Flow records created (0 unless flows were asked for). */
  flows: number;
  /** Timestamps of the first and last record that passed the filter, in file order (not min/max), exact ns. */
  firstTsNs: bigint | null;
  lastTsNs: bigint | null;
  /** Timestamps outside ±2^63 ns that were saturated in `tsNs`. */
  clampedTs: number;
  seconds: number;
  warnings: string[];
}

/** Per-packet status codes in `PacketBatch.status`. */
export const PacketStatus = { OK: 0, TRUNCATED: 1, NOT_IP: 2, UNDECODABLE: 3 } as const;

/**
 * One batch of per-record columns (every record that passed the filter, IP or not; see `status`). The header columns
 * are a packet table's; on rows that are not IP they are 0 (`ipVersion` 0), and IPv4 addresses are 0 on IPv6 rows.
 */
export interface PacketBatch extends PacketHeaderColumns {
  length: number;
  tsNs: BigInt64Array;
  timeUs: Float64Array;
  /** 0 ok, 1 truncated (snaplen-cut IP), 2 not IP, 3 undecodable (unknown link type / cut IP header). */
  status: Uint8Array;
  /** 16 bytes per record, network order (zeros for IPv4). */
  srcIp6: Uint8Array;
  dstIp6: Uint8Array;
  caplen: Uint32Array;
  wireLen: Uint32Array;
  icmpType: Uint8Array;
  icmpCode: Uint8Array;
  /** pcapng interface id (0 for pcap). */
  iface: Uint16Array;
  linktype: Uint16Array;
  /** Flow id per record (0xffffffff for non-IP); present when `flows` is on. */
  flowId?: Uint32Array;
  /** Flows closed (by a timeout, or at the end of input) while this batch was read; present when `flows` is on. */
  closedFlows?: FlowBatch;
  /** Cumulative statistics up to and including this batch. */
  stats: ReadStats;
}

/** The typed-array columns of a batch (what the addon hands out; the rest of PacketBatch is added here). */
export type PacketBatchColumn = Exclude<keyof PacketBatch, 'length' | 'closedFlows' | 'stats'>;

type ArrayName<A> = A extends BigInt64Array ? 'BigInt64Array' : A extends Float64Array ? 'Float64Array'
  : A extends Uint32Array ? 'Uint32Array' : A extends Uint16Array ? 'Uint16Array' : A extends Uint8Array ? 'Uint8Array' : never;

/**
 * Each batch column's typed array, in the order of the C column list (NETSHARE_PACKET_COLUMNS, native/reader.h).
 * Its type makes it name exactly PacketBatch's columns and arrays; tests/native/columns.test.ts checks it against the
 * list the addon exports from the C macro. So a column added on one side only fails the build or the test.
 */
export const PACKET_BATCH_COLUMNS = {
  tsNs: 'BigInt64Array',
  timeUs: 'Float64Array',
  status: 'Uint8Array',
  ipVersion: 'Uint8Array',
  srcIp: 'Uint32Array',
  dstIp: 'Uint32Array',
  srcIp6: 'Uint8Array',
  dstIp6: 'Uint8Array',
  srcPort: 'Uint16Array',
  dstPort: 'Uint16Array',
  proto: 'Uint8Array',
  pktLen: 'Uint32Array',
  caplen: 'Uint32Array',
  wireLen: 'Uint32Array',
  ihl: 'Uint8Array',
  tos: 'Uint8Array',
  ipId: 'Uint32Array',
  flags: 'Uint8Array',
  fragOffset: 'Uint16Array',
  ttl: 'Uint8Array',
  ipChecksum: 'Uint16Array',
  tcpFlags: 'Uint8Array',
  tcpWindow: 'Uint16Array',
  icmpType: 'Uint8Array',
  icmpCode: 'Uint8Array',
  iface: 'Uint16Array',
  linktype: 'Uint16Array',
  flowId: 'Uint32Array',
} as const satisfies { readonly [K in PacketBatchColumn]-?: ArrayName<NonNullable<PacketBatch[K]>> };

/** Flow records as columns (a flow table's: ts in µs, td in seconds), plus the flow id, IP version and TCP flags. */
export interface FlowBatch extends FlowRecordColumns {
  length: number;
  id: Uint32Array;
  ipVersion: Uint8Array;
  /** 16 bytes per flow (network order, zeros for IPv4 rows); EMPTY (length 0) when no flow of the batch is IPv6. */
  srcIp6: Uint8Array;
  dstIp6: Uint8Array;
  tcpFlags: Uint8Array;
}

interface RawStats {
  format: TraceFormat;
  linktypes: number[];
  records: number;
  packets: number;
  ipv4: number;
  ipv6: number;
  tcp: number;
  udp: number;
  icmp: number;
  otherIp: number;
  notIp: number;
  undecodable: number;
  truncated: number;
  fragments: number;
  clampedTs: number;
  flows: number;
  firstSec?: string;
  firstNsec?: number;
  lastSec?: string;
  lastNsec?: number;
  warnings: string[];
  totalBytes: number;
}

interface RawBatch {
  count: number;
  done: boolean;
  columns: Omit<PacketBatch, 'length' | 'stats' | 'closedFlows'>;
  flows: FlowBatch;
  stats: RawStats;
  bytesRead: number;
}

interface NativeReaderHandle {
  nextBatch(capacity: number, recycle?: ArrayBufferLike): Promise<RawBatch>;
  close(): void;
}
type NativeReaderCtor = new (
  path: string,
  opts: { filter?: string; flows: boolean; packetColumns: boolean; keepValidPrefix: boolean; inactiveNs: number; activeNs: number },
) => NativeReaderHandle;

function validate(file: string, opts: ReadOptions): void {
  if (typeof file !== 'string' || file.length === 0) throw new InputError(expected('a file path (or "-" for standard input)', 'file', file));
  // C sees a string only up to its first NUL byte: another file than the one named would be read.
  if (file.includes('\0')) throw new InputError(expected('a file path without NUL bytes', 'file', JSON.stringify(file)), file);
  if (opts.filter !== undefined && typeof opts.filter !== 'string') throw new ConfigError(expected('a BPF expression string', 'filter', opts.filter), 'filter');
  if (opts.filter?.includes('\0')) throw new ConfigError(expected('a BPF expression without NUL bytes', 'filter', JSON.stringify(opts.filter)), 'filter');
  if (opts.batchSize !== undefined && !(Number.isInteger(opts.batchSize) && opts.batchSize >= 1 && opts.batchSize <= 1 << 24))
    throw new ConfigError(expected('an integer in 1..16777216', 'batchSize', opts.batchSize), 'batchSize');
  for (const k of ['inactiveTimeoutS', 'activeTimeoutS'] as const) {
    const v = opts[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 9e9))
      throw new ConfigError(expected('a positive number of seconds', k, v), k);
  }
}

function toStats(file: string, raw: RawStats, seconds: number): ReadStats {
  const ts = (sec?: string, nsec?: number): bigint | null => (sec === undefined ? null : BigInt(sec) * 1_000_000_000n + BigInt(nsec ?? 0));
  return {
    file,
    format: raw.format,
    linktypes: raw.linktypes,
    packets: raw.packets,
    records: raw.records,
    ipv4: raw.ipv4,
    ipv6: raw.ipv6,
    tcp: raw.tcp,
    udp: raw.udp,
    icmp: raw.icmp,
    otherIp: raw.otherIp,
    notIp: raw.notIp,
    undecodable: raw.undecodable,
    truncated: raw.truncated,
    fragments: raw.fragments,
    flows: raw.flows,
    firstTsNs: ts(raw.firstSec, raw.firstNsec),
    lastTsNs: ts(raw.lastSec, raw.lastNsec),
    clampedTs: raw.clampedTs,
    seconds,
    warnings: raw.warnings,
  };
}

/** Turn the addon's rejection into the project's error classes (InputError names the file and byte offset). */
function mapError(file: string, err: unknown): NetShareError {
  const e = err as { message?: string; kind?: string; offset?: number };
  const msg = e?.message ?? String(err);
  if (e?.kind === 'input') {
    const offset = typeof e.offset === 'number' && e.offset >= 0 ? e.offset : undefined;
    return new InputError(`${file}: ${msg}`, file, offset === undefined ? undefined : { offset }, { cause: err });
  }
  if (e?.kind === 'config') return new ConfigError(`${msg}`, 'filter', { cause: err });
  return new InternalError(`reading ${file}: ${msg}`, { cause: err });
}

/**
 * Stream a capture as batches of columns. `file` is a path, or `-` for standard input; pipes, FIFOs and character
 * devices are read as a stream (gzip'd content through a pipe is refused: pipe it through gunzip). pcap timestamps
 * are read as unsigned 32-bit seconds (1970..2106); ERF records (link type 197) take their own 32.32 timestamp. Reading runs on a worker thread; the next batch is read while the caller
 * works on the current one. Throws InputError (file, byte offset) on unreadable/malformed input and ConfigError on
 * bad options (e.g. a BPF filter libpcap cannot compile).
 */
export async function* readPacketBatches(file: string, opts: ReadOptions = {}): AsyncGenerator<PacketBatch, ReadStats, void> {
  const flows = Boolean(opts.flows);
  const raws = rawBatches(file, opts, flows, true);
  try {
    for (;;) {
      const it = await raws.next();
      if (it.done) return it.value;
      const raw = it.value.raw;
      yield { length: raw.count, ...raw.columns, ...(flows ? { closedFlows: raw.flows } : {}), stats: it.value.stats };
    }
  } finally {
    await raws.return(undefined as never); // a consumer that stops early closes the native reader
  }
}

/** One batch of a flows-only read: the records read, the flows closed meanwhile, the statistics so far. */
export interface FlowOnlyBatch {
  /** Records read in this batch (that passed the filter). */
  records: number;
  /** Flows closed (by a timeout, or at the end of input) while this batch was read. */
  closedFlows: FlowBatch;
  stats: ReadStats;
}

/**
 * Aggregate flows without packet columns (the addon writes no per-packet column at all): for consumers of the closed
 * flows only (readFlowTable). Same flows, ids and statistics as readPacketBatches with `flows: true`.
 */
export async function* readFlowBatches(file: string, opts: ReadOptions = {}): AsyncGenerator<FlowOnlyBatch, ReadStats, void> {
  const raws = rawBatches(file, opts, true, false);
  try {
    for (;;) {
      const it = await raws.next();
      if (it.done) return it.value;
      yield { records: it.value.raw.count, closedFlows: it.value.raw.flows, stats: it.value.stats };
    }
  } finally {
    await raws.return(undefined as never);
  }
}

async function* rawBatches(file: string, opts: ReadOptions, flows: boolean, packetColumns: boolean): AsyncGenerator<{ raw: RawBatch; stats: ReadStats }, ReadStats, void> {
  validate(file, opts);
  const Ctor = nativeBinding().NativeReader as NativeReaderCtor;
  const native = new Ctor(file, {
    ...(opts.filter ? { filter: opts.filter } : {}),
    flows,
    packetColumns,
    keepValidPrefix: Boolean(opts.keepValidPrefix),
    inactiveNs: opts.inactiveTimeoutS ? Math.round(opts.inactiveTimeoutS * 1e9) : 0,
    activeNs: opts.activeTimeoutS ? Math.round(opts.activeTimeoutS * 1e9) : 0,
  });
  // Flows only: a batch costs no memory per record, so fewer, larger batches (fewer worker round trips).
  let cap = opts.batchSize ?? (packetColumns ? 65536 : 1 << 20);
  if (opts.batchSize === undefined && packetColumns && file !== '-') {
    // Small files: no need for a 6 MB batch buffer (a record takes at least 16 bytes; gzip may expand ~10x).
    try {
      cap = Math.min(cap, Math.max(256, Math.ceil(statSync(file).size / 16) * 10));
    } catch {
      /* the native reader reports a missing/unreadable file with the proper error */
    }
  }
  const t0 = performance.now();
  let pending: Promise<RawBatch> | undefined = native.nextBatch(cap);
  let last: ReadStats | undefined;
  const reuse = Boolean(opts.reuseBatches);
  let previous: ArrayBufferLike | undefined;
  try {
    while (pending) {
      let raw: RawBatch;
      try {
        raw = await pending;
      } catch (err) {
        pending = undefined;
        throw mapError(file, err);
      }
      // Prefetch: the worker reads the next batch while the consumer handles this one. With reuseBatches, it
      // fills the buffer of the batch before this one (the consumer has asked for the next item since).
      pending = raw.done ? undefined : native.nextBatch(cap, reuse ? previous : undefined);
      previous = reuse && packetColumns ? raw.columns.tsNs.buffer : undefined;
      last = toStats(file, raw.stats, (performance.now() - t0) / 1000);
      opts.onProgress?.(raw.bytesRead, raw.stats.totalBytes, raw.stats.packets);
      if (raw.count > 0 || (flows && raw.flows.length > 0) || raw.done) yield { raw, stats: last };
    }
  } finally {
    if (pending) await pending.catch(() => undefined);
    native.close();
  }
  if (!last) throw new InternalError(`reading ${file}: no batch was returned`);
  return last;
}

/** Growable column buffer (doubling), so the packet table never holds more than 2x its rows. */
class Grow<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array> {
  arr: T;
  constructor(private readonly make: (n: number) => T, cap = 1024) {
    this.arr = make(cap);
  }
  ensure(n: number): void {
    if (n <= this.arr.length) return;
    let c = this.arr.length * 2;
    while (c < n) c *= 2;
    const next = this.make(c);
    next.set(this.arr);
    this.arr = next;
  }
}

/**
 * Read the IP packets of a capture into a PacketTable (time in µs; ICMP/ICMPv6 type and code in icmpType/icmpCode;
 * non-IP and undecodable records are skipped). The table also carries each row's exact time in `timeNs` (ns since the
 * epoch, as the batches' tsNs; a non-enumerable property, so spreads and generic column code leave it out), so
 * writePcap keeps a nanosecond capture's digits.
 */
export async function readPacketTable(file: string, opts: ReadOptions = {}): Promise<{ table: PacketTableWithNs & { timeNs: BigInt64Array }; stats: ReadStats }> {
  const g8 = () => new Grow((n) => new Uint8Array(n));
  const g16 = () => new Grow((n) => new Uint16Array(n));
  const g32 = () => new Grow((n) => new Uint32Array(n));
  // The ns as pairs of 32-bit words: copying BigInts one by one would allocate one per row.
  const timeNs = new Grow((n) => new Uint32Array(n), 2048);
  const c = {
    time: new Grow((n) => new Float64Array(n)),
    ipVersion: g8(),
    srcIp: g32(),
    dstIp: g32(),
    srcIp6: new Grow((n) => new Uint8Array(n), 16),
    dstIp6: new Grow((n) => new Uint8Array(n), 16),
    srcPort: g16(),
    dstPort: g16(),
    proto: g8(),
    pktLen: g32(),
    ihl: g8(),
    tos: g8(),
    ipId: g32(),
    flags: g8(),
    fragOffset: g16(),
    ttl: g8(),
    ipChecksum: g16(),
    tcpFlags: g8(),
    tcpWindow: g16(),
    icmpType: g8(),
    icmpCode: g8(),
  };
  type Col = Exclude<keyof typeof c, 'time' | 'srcIp6' | 'dstIp6'>;
  const plain: Col[] = ['ipVersion', 'srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'pktLen', 'ihl', 'tos', 'ipId', 'flags', 'fragOffset', 'ttl', 'ipChecksum', 'tcpFlags', 'tcpWindow', 'icmpType', 'icmpCode'];
  let n = 0;
  let anyV6 = false;
  let stats: ReadStats | undefined;
  for await (const b of readPacketBatches(file, { reuseBatches: true, ...opts })) {
    stats = b.stats;
    const need = n + b.length;
    c.time.ensure(need);
    timeNs.ensure(2 * need);
    for (const k of plain) c[k].ensure(need);
    if (anyV6 || b.ipVersion.includes(6)) {
      // IPv6 address columns only grow once the trace has IPv6 (IPv4-only traces never pay 32 bytes a row).
      c.srcIp6.ensure(16 * need);
      c.dstIp6.ensure(16 * need);
    }
    const st = b.status;
    const ns32 = new Uint32Array(b.tsNs.buffer, b.tsNs.byteOffset, 2 * b.length);
    for (let i = 0; i < b.length; i++) {
      if (st[i] > PacketStatus.TRUNCATED) continue;
      c.time.arr[n] = b.timeUs[i];
      timeNs.arr[2 * n] = ns32[2 * i];
      timeNs.arr[2 * n + 1] = ns32[2 * i + 1];
      for (const k of plain) c[k].arr[n] = b[k][i];
      if (b.ipVersion[i] === 6) {
        anyV6 = true;
        c.srcIp6.arr.set(b.srcIp6.subarray(16 * i, 16 * i + 16), 16 * n);
        c.dstIp6.arr.set(b.dstIp6.subarray(16 * i, 16 * i + 16), 16 * n);
      }
      n++;
    }
  }
  if (!stats) throw new InternalError(`reading ${file}: no statistics returned`);
  const cut = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(g: Grow<T>, w = 1): T => g.arr.slice(0, n * w) as T;
  const table: PacketTable = {
    kind: 'packets',
    length: n,
    time: cut(c.time),
    ipVersion: cut(c.ipVersion),
    srcIp: cut(c.srcIp),
    dstIp: cut(c.dstIp),
    ...(anyV6 ? { srcIp6: cut(c.srcIp6, 16), dstIp6: cut(c.dstIp6, 16) } : {}),
    srcPort: cut(c.srcPort),
    dstPort: cut(c.dstPort),
    proto: cut(c.proto),
    pktLen: cut(c.pktLen),
    ihl: cut(c.ihl),
    tos: cut(c.tos),
    ipId: cut(c.ipId),
    flags: cut(c.flags),
    fragOffset: cut(c.fragOffset),
    ttl: cut(c.ttl),
    ipChecksum: cut(c.ipChecksum),
    tcpFlags: cut(c.tcpFlags),
    tcpWindow: cut(c.tcpWindow),
    icmpType: cut(c.icmpType),
    icmpCode: cut(c.icmpCode),
  };
  // Not enumerable: code that treats every own typed array as a numeric column (takeRows, concatTables, table files,
  // fingerprints) never meets a BigInt64Array, and a table derived from this one simply has no exact times (the writer
  // then uses `time`).
  Object.defineProperty(table, 'timeNs', { value: new BigInt64Array(cut(timeNs, 2).buffer, 0, n), enumerable: false, writable: true, configurable: true });
  return { table: table as PacketTableWithNs & { timeNs: BigInt64Array }, stats };
}

/**
 * Aggregate a capture into 5-tuple flows natively: ts = first packet (µs), td = last - first (s), pkt, byt = sum of
 * IP total length, tcpFlags = union. Rows are ordered by first packet (flow id). With timeouts, a 5-tuple may give
 * several rows.
 */
export async function readFlowTable(file: string, opts: ReadOptions = {}): Promise<{ flows: FlowTable; stats: ReadStats }> {
  const parts: FlowBatch[] = [];
  let total = 0;
  let stats: ReadStats | undefined;
  for await (const b of readFlowBatches(file, opts)) {
    stats = b.stats;
    if (b.closedFlows.length > 0) {
      parts.push(b.closedFlows);
      total += b.closedFlows.length;
    }
  }
  if (!stats) throw new InternalError(`reading ${file}: no statistics returned`);
  // Concatenate the batches' flow columns, then order rows by flow id (= order of first packets) when timeouts
  // closed flows out of order.
  const cat = <A extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(pick: (p: FlowBatch) => A, make: new (n: number) => A, w = 1): A => {
    if (parts.length === 1) return pick(parts[0]!);
    const out = new make(total * w);
    let at = 0;
    for (const p of parts) {
      out.set(pick(p) as unknown as ArrayLike<number>, at);
      at += p.length * w;
    }
    return out;
  };
  const id = cat((p) => p.id, Uint32Array);
  let anyV6 = false;
  for (const p of parts) if (p.ipVersion.includes(6)) anyV6 = true;
  let order: Uint32Array | undefined;
  for (let i = 1; i < total; i++)
    if (id[i - 1]! > id[i]!) {
      order = Uint32Array.from({ length: total }, (_, k) => k).sort((x, y) => id[x]! - id[y]!);
      break;
    }
  const perm = <A extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: A, w = 1): A => {
    if (!order) return a;
    const out = new (a.constructor as new (n: number) => A)(a.length);
    for (let r = 0; r < total; r++) {
      const from = order[r]!;
      if (w === 1) out[r] = a[from]!;
      else out.set(a.subarray(from * w, from * w + w) as unknown as ArrayLike<number>, r * w);
    }
    return out;
  };
  const t: FlowTable = {
    kind: 'flows',
    length: total,
    srcIp: perm(cat((p) => p.srcIp, Uint32Array)),
    dstIp: perm(cat((p) => p.dstIp, Uint32Array)),
    srcPort: perm(cat((p) => p.srcPort, Uint16Array)),
    dstPort: perm(cat((p) => p.dstPort, Uint16Array)),
    proto: perm(cat((p) => p.proto, Uint8Array)),
    ts: perm(cat((p) => p.ts, Float64Array)),
    td: perm(cat((p) => p.td, Float64Array)),
    pkt: perm(cat((p) => p.pkt, Float64Array)),
    byt: perm(cat((p) => p.byt, Float64Array)),
  };
  const ipVersion = perm(cat((p) => p.ipVersion, Uint8Array));
  const tcpFlags = perm(cat((p) => p.tcpFlags, Uint8Array));
  const srcIp6 = anyV6 ? perm(cat((p) => p.srcIp6, Uint8Array, 16), 16) : undefined;
  const dstIp6 = anyV6 ? perm(cat((p) => p.dstIp6, Uint8Array, 16), 16) : undefined;
  const flows: FlowTable = { ...t, ipVersion, tcpFlags, ...(srcIp6 && dstIp6 ? { srcIp6, dstIp6 } : {}) };
  return { flows, stats };
}
