// Typed API over the native pcap/pcapng writer: validates options and columns, writes atomically (temp file + rename).
import { randomBytes } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError, InputError, NetShareError, expected } from '../errors.js';
import type { PacketTable } from '../core/columns.js';
import { nativeBinding } from './addon.js';

export interface WriteOptions {
  /** 'pcap' (default) or 'pcapng'. */
  format?: 'pcap' | 'pcapng';
  /**
   * 'header-only' (default): each record holds the IP (+ IPv6 fragment) and L4 headers, orig_len = IP total
   * length (CAIDA style). 'full': the record holds the whole packet with a zero payload.
   */
  mode?: 'header-only' | 'full';
  /**
   * Nanosecond timestamps (pcap magic 0xa1b23c4d / pcapng if_tsresol 9) when true, microseconds when false. Default:
   * nanoseconds exactly when the table carries exact times (`timeNs`, as tables from readPacketTable do) and some row
   * has a sub-µs part, so converting a nanosecond capture keeps its digits and a µs one stays µs.
   */
  nanosecond?: boolean;
  /** Link layer: 'raw' (LINKTYPE_RAW 101, default) or 'ethernet' (EN10MB, fixed locally administered MACs). */
  linktype?: 'raw' | 'ethernet';
}

export interface WriteResult {
  packets: number;
  /** Size of the written file in bytes. */
  bytes: number;
  /** Seconds the native writer ran (encoding + I/O, without the rename). */
  seconds: number;
  /** The file's time unit is ns (see WriteOptions.nanosecond). */
  nanosecond: boolean;
}

/**
 * A packet table that may carry each row's exact time: `timeNs`, ns since the epoch (readPacketTable fills it; float64
 * µs in `time` resolve only ~0.25 µs). The writer takes a row's `timeNs` when it agrees with `time` to within 1 µs, and
 * `time` otherwise, so a table whose `time` was changed after reading is written with its new times.
 */
export type PacketTableWithNs = PacketTable & { timeNs?: BigInt64Array };
// (readPacketTable defines timeNs as a non-enumerable property: spreads and generic column code do not copy it.)

interface NativeWriteOptions {
  format: 'pcap' | 'pcapng';
  mode: 'header-only' | 'full';
  nanosecond: boolean | 'auto';
  linktype: 1 | 101;
}
type NativeWritePcap = (path: string, columns: PacketTableWithNs, options: NativeWriteOptions) => Promise<WriteResult>;

const COLUMNS: ReadonlyArray<[keyof PacketTable, new (n: number) => ArrayLike<number>]> = [
  ['time', Float64Array],
  ['ipVersion', Uint8Array],
  ['srcIp', Uint32Array],
  ['dstIp', Uint32Array],
  ['srcPort', Uint16Array],
  ['dstPort', Uint16Array],
  ['proto', Uint8Array],
  ['pktLen', Uint32Array],
  ['ihl', Uint8Array],
  ['tos', Uint8Array],
  ['ipId', Uint32Array],
  ['flags', Uint8Array],
  ['fragOffset', Uint16Array],
  ['ttl', Uint8Array],
  ['tcpFlags', Uint8Array],
  ['tcpWindow', Uint16Array],
];

function checkOptions(opts: WriteOptions): NativeWriteOptions {
  const format = opts.format ?? 'pcap';
  if (format !== 'pcap' && format !== 'pcapng') throw new ConfigError(expected("'pcap' or 'pcapng'", 'format', format), 'format');
  const mode = opts.mode ?? 'header-only';
  if (mode !== 'header-only' && mode !== 'full') throw new ConfigError(expected("'header-only' or 'full'", 'mode', mode), 'mode');
  const nanosecond = opts.nanosecond ?? 'auto';
  if (typeof nanosecond !== 'boolean' && nanosecond !== 'auto') throw new ConfigError(expected('a boolean', 'nanosecond', nanosecond), 'nanosecond');
  const link = opts.linktype ?? 'raw';
  if (link !== 'raw' && link !== 'ethernet') throw new ConfigError(expected("'raw' or 'ethernet'", 'linktype', link), 'linktype');
  return { format, mode, nanosecond, linktype: link === 'raw' ? 101 : 1 };
}

function checkTable(table: PacketTableWithNs): void {
  if (table === null || typeof table !== 'object' || table.kind !== 'packets') {
    throw new InputError(expected('a PacketTable (kind "packets")', 'table', (table as { kind?: unknown } | null)?.kind));
  }
  const n = table.length;
  if (!Number.isSafeInteger(n) || n < 0) throw new InputError(expected('a non-negative integer', 'table.length', n));
  for (const [name, ctor] of COLUMNS) {
    const col = table[name];
    if (!(col instanceof ctor) || (col as ArrayLike<number>).length < n) {
      throw new InputError(expected(`a ${ctor.name} of at least ${n} elements`, `table.${name}`, describe(col)));
    }
  }
  if (table.timeNs !== undefined && (!(table.timeNs instanceof BigInt64Array) || table.timeNs.length < n)) {
    throw new InputError(expected(`a BigInt64Array of at least ${n} elements`, 'table.timeNs', describe(table.timeNs)));
  }
  for (const name of ['srcIp6', 'dstIp6'] as const) {
    const col = table[name];
    if (col !== undefined && (!(col instanceof Uint8Array) || col.length < 16 * n)) {
      throw new InputError(expected(`a Uint8Array of at least ${16 * n} bytes`, `table.${name}`, describe(col)));
    }
  }
  for (const name of ['icmpType', 'icmpCode'] as const) {
    const col = table[name];
    if (col !== undefined && (!(col instanceof Uint8Array) || col.length < n)) {
      throw new InputError(expected(`a Uint8Array of at least ${n} elements`, `table.${name}`, describe(col)));
    }
  }
}

/**
 * The native writer reads an ICMP row's type/code from srcPort/dstPort: when the table has icmpType/icmpCode, hand
 * it port columns with those values on ICMP/ICMPv6 rows (copies; the caller's table is not modified).
 */
function withIcmpInPorts(table: PacketTableWithNs): PacketTableWithNs {
  const { icmpType, icmpCode } = table;
  if (!icmpType && !icmpCode) return table;
  const n = table.length;
  let srcPort: Uint16Array | undefined;
  let dstPort: Uint16Array | undefined;
  for (let i = 0; i < n; i++) {
    const p = table.proto[i];
    if ((p !== 1 || table.ipVersion[i] !== 4) && (p !== 58 || table.ipVersion[i] !== 6)) continue;
    if (icmpType) (srcPort ??= table.srcPort.slice(0, n))[i] = icmpType[i]!;
    if (icmpCode) (dstPort ??= table.dstPort.slice(0, n))[i] = icmpCode[i]!;
  }
  return srcPort || dstPort ? { ...table, srcPort: srcPort ?? table.srcPort, dstPort: dstPort ?? table.dstPort } : table;
}

function describe(v: unknown): string {
  if (v === undefined || v === null) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  return typeof v;
}

/**
 * Writes `table` as a pcap or pcapng file: one record per row with IPv4/IPv6 + TCP/UDP/ICMP headers built
 * from the columns (tos, id, flags, fragment offset, ttl, TCP flags and window are taken as given; the IPv4
 * header checksum and TCP/UDP/ICMPv6 checksums over the pseudo-header are computed, the ipChecksum column is
 * ignored). Non-first fragments carry no L4 header; ICMP type/code come from icmpType/icmpCode when the table
 * has them (as tables from readPacketTable do), else from srcPort/dstPort.
 * Times: `time` is µs since 1970, 0 <= time < 2^32 s (up to 2106-02-07 06:28:16 UTC: pcap's 32-bit ts_sec, which the
 * reader reads back unsigned, as Wireshark does); anything else is an InputError naming the row. A row's exact
 * `timeNs` (when the table has it and it agrees with `time`) is written as is in a ns file and rounded to the µs in a
 * µs file; otherwise `time` is rounded to the file's unit (float64 keeps ~0.25 µs of sub-µs digits at today's epochs).
 * The file appears atomically (temp file in the same folder + rename); on any error nothing is left behind.
 * The table's arrays must not be modified until the promise settles.
 * Throws ConfigError (bad option), InputError (a row that cannot form a valid packet: names the column and
 * row), NetShareError (the file cannot be written).
 */
export async function writePcap(file: string, table: PacketTableWithNs, opts: WriteOptions = {}): Promise<WriteResult> {
  if (typeof file !== 'string' || file.length === 0) throw new ConfigError(expected('an output path', 'file', file), 'file');
  const options = checkOptions(opts);
  checkTable(table);
  const native = nativeBinding().writePcap as NativeWritePcap;
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let result: WriteResult;
  try {
    // timeNs may be non-enumerable (readPacketTable's): hand it over explicitly, the spread in withIcmpInPorts drops it.
    result = await native(tmp, { ...withIcmpInPorts(table), ...(table.timeNs ? { timeNs: table.timeNs } : {}) }, options);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const e = err as Error & { code?: string; row?: number };
    if (e.code === 'EROW') throw new InputError(`cannot write ${file}: ${e.message}`);
    throw new NetShareError(`cannot write ${file}: ${e.message.replace(tmp, file)}`, { cause: err });
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new NetShareError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return result;
}
