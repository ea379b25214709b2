// Packets CSV in NetShare's pcap2csv columns (srcip,dstip,srcport,dstport,proto,time,pkt_len,version,ihl,tos,id,
// flag,off,ttl,chksum; IPs as integers, time in µs), with an --extended form that adds the other header fields and
// IPv6. Written atomically (temp file + rename; `.gz` names are gzip'd), streamed batch by batch.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import { isIPv6 } from 'node:net';
import { InputError, NetShareError } from '../errors.js';
import { atomicFile, type AtomicFile } from './atomic.js';
import { Grow, forEachLine, parseIpv4Bytes, parseNumber, parseUint, splitFields, trimRange } from './csv-lines.js';
import { protoName, protoNumber } from './protocols.js';
import type { PacketTable } from './table.js';

/** NetShare's pcap2csv header. `ihl` is in 32-bit words as in NetShare (the table keeps bytes). */
export const PACKET_CSV_COLUMNS = ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'time', 'pkt_len', 'version', 'ihl', 'tos', 'id', 'flag', 'off', 'ttl', 'chksum'] as const;
/** Extra columns of the extended form: exact IPv6 addresses (text, empty for IPv4), TCP flags and window. */
export const PACKET_CSV_EXTENDED = ['srcip6', 'dstip6', 'tcp_flags', 'tcp_window'] as const;

export interface PacketsCsvOptions {
  /** Add the extended columns and keep IPv6 rows (the NetShare form has no IPv6: those rows are skipped). */
  extended?: boolean;
}

/** Packet columns the CSV writer takes: a PacketTable, or a reader batch (µs time in `timeUs`, rows filtered by `status`). */
export type PacketRows = Omit<PacketTable, 'kind' | 'time'> & {
  time?: Float64Array;
  timeUs?: Float64Array;
  /** Reader batches: rows with status > 1 (not IP / undecodable) are skipped. */
  status?: Uint8Array;
};

/** Text form of 16 network-order bytes (RFC 5952 compression). */
export function ipv6ToString(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parse IPv6 text into 16 bytes at `out[off]`; false when malformed. */
export function parseIpv6Into(s: string, out: Uint8Array, off: number): boolean {
  if (!isIPv6(s)) return false;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const parts = v4[1]!.split('.').map(Number);
    tail = [(parts[0]! << 8) | parts[1]!, (parts[2]! << 8) | parts[3]!];
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':').filter((x) => x.length > 0) : [];
  const r = rest !== undefined && rest.length > 0 ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return false;
  const nums = groups.map((x) => parseInt(x, 16));
  if (tail.length) {
    nums[6] = tail[0]!;
    nums[7] = tail[1]!;
  }
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = nums[i]! >> 8;
    out[off + 2 * i + 1] = nums[i]! & 255;
  }
  return true;
}

const PROTO_NAMES: string[] = Array.from({ length: 256 }, (_, p) => protoName(p));

/** Streaming packets-CSV writer: header on open, rows per batch, atomic rename on close. */
export class PacketsCsvWriter {
  private readonly target: AtomicFile;
  private readonly out: WriteStream;
  private readonly sink: WriteStream | Gzip;
  private error: Error | undefined;
  private aborted = false;
  rows = 0;
  /** IPv6 rows left out (NetShare form only). */
  skippedIpv6 = 0;

  constructor(
    readonly file: string,
    private readonly opts: PacketsCsvOptions = {},
  ) {
    this.target = atomicFile(file);
    this.out = createWriteStream(this.target.tmp);
    const gz = file.endsWith('.gz') ? createGzip() : null;
    if (gz) gz.pipe(this.out);
    this.sink = gz ?? this.out;
    // a stream error (disk full, or a pending write when abort() destroys the stream) is kept and reported by the
    // next write or close, never left as an unhandled 'error' event that kills the process
    const keep = (err: Error): void => {
      this.error ??= err;
    };
    this.out.on('error', keep);
    gz?.on('error', keep);
    const header = opts.extended ? [...PACKET_CSV_COLUMNS, ...PACKET_CSV_EXTENDED] : [...PACKET_CSV_COLUMNS];
    this.sink.write(`${header.join(',')}\n`);
  }

  /** Append the IP rows of `t` (a PacketTable or a reader batch). */
  async write(t: PacketRows): Promise<void> {
    const time = t.time ?? t.timeUs;
    if (!time) throw new NetShareError('packet rows have no time column');
    const ext = Boolean(this.opts.extended);
    const st = t.status;
    let chunk = '';
    for (let i = 0; i < t.length; i++) {
      if (st && st[i]! > 1) continue;
      const v6 = t.ipVersion[i] === 6;
      if (v6 && !ext) {
        this.skippedIpv6++;
        continue;
      }
      const p = t.proto[i]!;
      // NetShare keeps integer µs; the extended form keeps the sub-µs digits of nanosecond captures.
      const tm = ext ? time[i]! : Math.floor(time[i]!);
      chunk += `${t.srcIp[i]},${t.dstIp[i]},${t.srcPort[i]},${t.dstPort[i]},${PROTO_NAMES[p]},${tm},${t.pktLen[i]},${t.ipVersion[i]},${t.ihl[i]! >> 2},${t.tos[i]},${t.ipId[i]},${t.flags[i]},${t.fragOffset[i]},${t.ttl[i]},${t.ipChecksum[i]}`;
      if (ext) {
        const s6 = v6 && t.srcIp6 ? ipv6ToString(t.srcIp6, 16 * i) : '';
        const d6 = v6 && t.dstIp6 ? ipv6ToString(t.dstIp6, 16 * i) : '';
        chunk += `,${s6},${d6},${t.tcpFlags[i]},${t.tcpWindow[i]}`;
      }
      chunk += '\n';
      this.rows++;
      if (chunk.length > 1 << 20) {
        await this.put(chunk);
        chunk = '';
      }
    }
    if (chunk) await this.put(chunk);
  }

  private async put(s: string): Promise<void> {
    if (this.error) throw new NetShareError(`cannot write ${this.file}: ${this.error.message}`, { cause: this.error });
    if (!this.sink.write(s)) await once(this.sink, 'drain');
  }

  /** Flush and rename into place. */
  async close(): Promise<{ rows: number; skippedIpv6: number }> {
    try {
      if (this.error) throw this.error;
      this.sink.end();
      await once(this.out, 'close');
      if (this.error) throw this.error;
      await this.target.commit();
    } catch (err) {
      await this.abort();
      throw new NetShareError(`cannot write ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    return { rows: this.rows, skippedIpv6: this.skippedIpv6 };
  }

  /** Drop the temp file (nothing is left at the destination). */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    if (this.sink !== this.out) this.sink.destroy();
    this.out.destroy();
    if (!this.out.closed) await once(this.out, 'close').catch(() => undefined);
    await this.target.abort();
  }
}

/** Write a PacketTable as a packets CSV (atomic). */
export async function writePacketsCsv(file: string, table: PacketTable, opts: PacketsCsvOptions = {}): Promise<{ rows: number; skippedIpv6: number }> {
  const w = new PacketsCsvWriter(file, opts);
  try {
    await w.write(table);
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.close();
}

class BadPacketRow extends Error {}

export interface ReadPacketsCsvOptions {
  /** Skip and count malformed rows (bad values, missing or extra fields) instead of throwing an InputError. */
  skipBadRows?: boolean;
}

/**
 * Read a packets CSV (NetShare pcap2csv columns, any order; extended columns when present). IPs may be integers or
 * dotted quads, proto a name or number, ihl in 32-bit words. A bad row (a bad value, or not exactly the header's
 * number of fields) raises an InputError naming file and line, or is skipped and counted with `skipBadRows`.
 */
export async function readPacketsCsv(
  file: string,
  opts: ReadPacketsCsvOptions = {},
): Promise<{ table: PacketTable; rows: number; skipped: number; warnings: string[] }> {
  const F = (n = 1 << 14) => ({
    time: new Grow(Float64Array, n),
    ipVersion: new Grow(Uint8Array, n),
    srcIp: new Grow(Uint32Array, n),
    dstIp: new Grow(Uint32Array, n),
    srcIp6: new Grow(Uint8Array, 16 * n),
    dstIp6: new Grow(Uint8Array, 16 * n),
    srcPort: new Grow(Uint16Array, n),
    dstPort: new Grow(Uint16Array, n),
    proto: new Grow(Uint8Array, n),
    pktLen: new Grow(Uint32Array, n),
    ihl: new Grow(Uint8Array, n),
    tos: new Grow(Uint8Array, n),
    ipId: new Grow(Uint32Array, n),
    flags: new Grow(Uint8Array, n),
    fragOffset: new Grow(Uint16Array, n),
    ttl: new Grow(Uint8Array, n),
    ipChecksum: new Grow(Uint16Array, n),
    tcpFlags: new Grow(Uint8Array, n),
    tcpWindow: new Grow(Uint16Array, n),
  });
  const c = F();
  const starts = new Int32Array(64);
  const ends = new Int32Array(64);
  let col: Record<string, number> | undefined;
  let anyV6 = false;
  let rows = 0;
  let skipped = 0;
  let firstSkipped = 0;
  let nCols = 0;
  const src6 = new Uint8Array(16);
  const dst6 = new Uint8Array(16);
  const bad = (_line: number, what: string): never => {
    throw new BadPacketRow(what);
  };
  await forEachLine(file, (buf, s, e, line) => {
    const n = splitFields(buf, s, e, starts, ends);
    if (!col) {
      col = {};
      nCols = n;
      for (let k = 0; k < Math.min(n, 64); k++) {
        const [a, b] = trimRange(buf, starts[k]!, ends[k]!);
        col[buf.toString('latin1', a, b).toLowerCase()] = k;
      }
      for (const need of ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'time', 'pkt_len'])
        if (col[need] === undefined) throw new InputError(`${file}:${line}: missing column "${need}" (expected NetShare's ${PACKET_CSV_COLUMNS.join(',')})`, file, { line });
      return;
    }
    try {
      if (n !== nCols) bad(line, `expected ${nCols} fields (as the header) but found ${n}`);
      parseRow(buf, n, line);
    } catch (err) {
      if (!(err instanceof BadPacketRow)) throw err;
      if (opts.skipBadRows) {
        if (skipped++ === 0) firstSkipped = line;
        return true;
      }
      throw new InputError(`${file}:${line}: ${err.message} (use --skip-bad-rows to skip such rows)`, file, { line });
    }
    return true;
  });
  if (!col) throw new InputError(`${file}: empty file (no header line)`, file, { line: 1 });

  /** One data row: every value parsed (throwing BadPacketRow) before anything is pushed, so a skipped row leaves no trace. */
  function parseRow(buf: Buffer, n: number, line: number): void {
    const cols = col!;
    const field = (name: string): [number, number] | undefined => {
      const k = cols[name];
      return k === undefined || k >= n ? undefined : [starts[k]!, ends[k]!];
    };
    const uint = (name: string, max: number, dflt = 0): number => {
      const f = field(name);
      if (!f) return dflt;
      const [a, b] = trimRange(buf, f[0], f[1]);
      if (a === b) return dflt;
      const v = parseUint(buf, a, b);
      if (v < 0 || v > max) bad(line, `expected an integer in 0..${max} for ${name} but received "${buf.toString('latin1', a, b)}"`);
      return v;
    };
    const ip = (name: string): number => {
      const f = field(name)!;
      const [a, b] = trimRange(buf, f[0], f[1]);
      let v = parseUint(buf, a, b);
      if (v < 0) v = parseIpv4Bytes(buf, a, b);
      if (v < 0 || v > 0xffffffff) bad(line, `expected an IPv4 address (integer or dotted quad) for ${name} but received "${buf.toString('latin1', a, b)}"`);
      return v;
    };
    const ip6 = (name: string, into: Uint8Array): boolean => {
      const f = field(name);
      into.fill(0);
      let ok = false;
      if (f) {
        const [a, b] = trimRange(buf, f[0], f[1]);
        if (a < b) {
          const txt = buf.toString('latin1', a, b);
          if (!parseIpv6Into(txt, into, 0)) bad(line, `expected an IPv6 address for ${name} but received "${txt}"`);
          ok = true;
        }
      }
      return ok;
    };
    const pf = field('proto')!;
    const [pa, pb] = trimRange(buf, pf[0], pf[1]);
    let proto = parseUint(buf, pa, pb);
    if (proto < 0) proto = protoNumber(buf.toString('latin1', pa, pb));
    if (!(proto >= 0 && proto <= 255)) bad(line, `expected a protocol name or number for proto but received "${buf.toString('latin1', pa, pb)}"`);
    const tf = field('time')!;
    const time = parseNumber(buf, tf[0], tf[1]);
    if (!Number.isFinite(time)) bad(line, `expected a time in µs but received "${buf.toString('latin1', tf[0], tf[1])}"`);
    const has6 = ip6('srcip6', src6);
    ip6('dstip6', dst6);
    const version = uint('version', 15, has6 ? 6 : 4);
    if (version !== 4 && version !== 6) bad(line, `expected 4 or 6 for version but received ${version}`);
    const vals = [
      version === 4 ? ip('srcip') : 0,
      version === 4 ? ip('dstip') : 0,
      uint('srcport', 65535),
      uint('dstport', 65535),
      uint('pkt_len', 0xffffffff),
      uint('ihl', 15, version === 6 ? 10 : 5) * 4,
      uint('tos', 255),
      uint('id', 0xffffffff),
      uint('flag', 7),
      uint('off', 0x1fff),
      uint('ttl', 255),
      uint('chksum', 65535),
      uint('tcp_flags', 255),
      uint('tcp_window', 65535),
    ] as const;
    if (version === 6) anyV6 = true;
    c.time.push(time);
    c.ipVersion.push(version);
    for (let k = 0; k < 16; k++) {
      c.srcIp6.push(src6[k]!);
      c.dstIp6.push(dst6[k]!);
    }
    c.srcIp.push(vals[0]);
    c.dstIp.push(vals[1]);
    c.srcPort.push(vals[2]);
    c.dstPort.push(vals[3]);
    c.proto.push(proto);
    c.pktLen.push(vals[4]);
    c.ihl.push(vals[5]);
    c.tos.push(vals[6]);
    c.ipId.push(vals[7]);
    c.flags.push(vals[8]);
    c.fragOffset.push(vals[9]);
    c.ttl.push(vals[10]);
    c.ipChecksum.push(vals[11]);
    c.tcpFlags.push(vals[12]);
    c.tcpWindow.push(vals[13]);
    rows++;
  }
  const table: PacketTable = {
    kind: 'packets',
    length: rows,
    time: c.time.done(),
    ipVersion: c.ipVersion.done(),
    srcIp: c.srcIp.done(),
    dstIp: c.dstIp.done(),
    ...(anyV6 ? { srcIp6: c.srcIp6.done(), dstIp6: c.dstIp6.done() } : {}),
    srcPort: c.srcPort.done(),
    dstPort: c.dstPort.done(),
    proto: c.proto.done(),
    pktLen: c.pktLen.done(),
    ihl: c.ihl.done(),
    tos: c.tos.done(),
    ipId: c.ipId.done(),
    flags: c.flags.done(),
    fragOffset: c.fragOffset.done(),
    ttl: c.ttl.done(),
    ipChecksum: c.ipChecksum.done(),
    tcpFlags: c.tcpFlags.done(),
    tcpWindow: c.tcpWindow.done(),
  };
  const warnings = skipped > 0 ? [`${skipped} malformed rows skipped (first at line ${firstSkipped})`] : [];
  return { table, rows, skipped, warnings };
}
