// Byte-level builders of small crafted captures (pcap, pcapng, link layers, IPv4/IPv6/L4) for the reader tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tmp = mkdtempSync(join(tmpdir(), 'netshare-reader-'));

export function save(name: string, data: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
}

const be16 = (v: number): number[] => [(v >>> 8) & 255, v & 255];
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

export interface L4 {
  proto: number;
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  window?: number;
  icmpType?: number;
  icmpCode?: number;
}

function l4(o: L4): number[] {
  if (o.proto === 6) return [...be16(o.sport ?? 0), ...be16(o.dport ?? 0), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, o.tcpFlags ?? 0, ...be16(o.window ?? 0), 0, 0, 0, 0];
  if (o.proto === 17) return [...be16(o.sport ?? 0), ...be16(o.dport ?? 0), 0, 8, 0, 0];
  if (o.proto === 132) return [...be16(o.sport ?? 0), ...be16(o.dport ?? 0), 0, 0, 0, 0, 0, 0, 0, 0];
  if (o.proto === 1 || o.proto === 58) return [o.icmpType ?? 8, o.icmpCode ?? 0, 0, 0, 0, 0, 0, 0];
  return [0, 0, 0, 0];
}

export interface V4 extends L4 {
  src: number;
  dst: number;
  tos?: number;
  id?: number;
  flags?: number;
  frag?: number;
  ttl?: number;
  /** Extra payload bytes after the L4 header. */
  payload?: number;
}

export function ipv4(o: V4): Uint8Array {
  const body = o.frag ? [1, 2, 3, 4, 5, 6, 7, 8] : l4(o);
  const total = 20 + body.length + (o.payload ?? 0);
  const off = ((o.flags ?? 0) << 13) | (o.frag ?? 0);
  const h = [0x45, o.tos ?? 0, ...be16(total), ...be16(o.id ?? 0), ...be16(off), o.ttl ?? 64, o.proto, 0xab, 0xcd, ...be32(o.src), ...be32(o.dst)];
  return Uint8Array.from([...h, ...body, ...new Array<number>(o.payload ?? 0).fill(0)]);
}

export interface V6 extends L4 {
  src: number[];
  dst: number[];
  tc?: number;
  hop?: number;
  /** Extension headers in order: [type, ...]; 44 = Fragment with `fragOffset`/`more`. */
  ext?: number[];
  fragOffset?: number;
  more?: boolean;
  fragId?: number;
}

export function ipv6(o: V6): Uint8Array {
  const chain = o.ext ?? [];
  const exts: number[] = [];
  for (let i = 0; i < chain.length; i++) {
    const next = i + 1 < chain.length ? chain[i + 1]! : o.proto;
    if (chain[i] === 44) exts.push(next, 0, ...be16(((o.fragOffset ?? 0) << 3) | (o.more ? 1 : 0)), ...be32(o.fragId ?? 0x1234));
    else exts.push(next, 0, 1, 4, 0, 0, 0, 0); // 8-byte HBH/DST/RH with PadN
  }
  const body = (o.fragOffset ?? 0) > 0 ? [9, 9, 9, 9, 9, 9, 9, 9] : l4(o);
  const plen = exts.length + body.length;
  const tc = o.tc ?? 0;
  const h = [0x60 | (tc >> 4), (tc & 15) << 4, 0, 0, ...be16(plen), chain.length ? chain[0]! : o.proto, o.hop ?? 64, ...o.src, ...o.dst];
  return Uint8Array.from([...h, ...exts, ...body]);
}

export const MAC = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
export function eth(type: number, payload: Uint8Array, tags: number[][] = []): Uint8Array {
  // tags: [[tpid, vid], ...] outermost first
  const out: number[] = [...MAC];
  if (tags.length) {
    out.push(...be16(tags[0]![0]!));
    for (let i = 0; i < tags.length; i++) {
      out.push(...be16(tags[i]![1]!));
      out.push(...be16(i + 1 < tags.length ? tags[i + 1]![0]! : type));
    }
  } else out.push(...be16(type));
  return Uint8Array.from([...out, ...payload]);
}

export function mpls(labels: number, payload: Uint8Array): Uint8Array {
  const out: number[] = [...MAC, 0x88, 0x47];
  for (let i = 0; i < labels; i++) {
    const label = 16 + i;
    out.push(label >> 12, (label >> 4) & 255, ((label & 15) << 4) | (i === labels - 1 ? 1 : 0), 64);
  }
  return Uint8Array.from([...out, ...payload]);
}

export function pppoe(pppProto: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...MAC, 0x88, 0x64, 0x11, 0, 0, 1, ...be16(payload.length + 2), ...be16(pppProto), ...payload]);
}

export interface Rec {
  sec: number;
  frac: number; // µs or ns, per the file
  data: Uint8Array;
  /** Original length (default: data length). */
  len?: number;
  /** Captured length to keep (snaplen cut). */
  cut?: number;
}

/** Classic pcap bytes. */
export function pcap(recs: Rec[], o: { linktype?: number; ns?: boolean; be?: boolean; snaplen?: number } = {}): Uint8Array {
  const parts: Buffer[] = [];
  const le = !o.be;
  const h = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  const w16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  w32(h, o.ns ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, o.snaplen ?? 262144, 16);
  w32(h, o.linktype ?? 1, 20);
  parts.push(h);
  for (const r of recs) {
    const cap = Math.min(r.cut ?? r.data.length, r.data.length);
    const rh = Buffer.alloc(16);
    w32(rh, r.sec, 0);
    w32(rh, r.frac, 4);
    w32(rh, cap, 8);
    w32(rh, r.len ?? r.data.length, 12);
    parts.push(rh, Buffer.from(r.data.subarray(0, cap)));
  }
  return Buffer.concat(parts);
}

export interface NgIface {
  linktype: number;
  /** if_tsresol byte (6 = µs default, 9 = ns, 0x88 = 2^-8). */
  tsresol?: number;
  snaplen?: number;
}
export interface NgPacket {
  iface: number;
  /** Timestamp in the interface's units. */
  ts: bigint;
  data: Uint8Array;
  len?: number;
}

/** pcapng block with body `body` (already padded to 4). */
function block(type: number, body: number[], le: boolean): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  const w32 = (v: number, at: number) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  w32(type, 0);
  w32(total, 4);
  Buffer.from(body).copy(b, 8);
  w32(total, total - 4);
  return b;
}

function pad4(a: number[]): number[] {
  while (a.length % 4) a.push(0);
  return a;
}

/** One pcapng section (SHB + IDBs + packets + optional extra raw blocks [type, body]). */
export function pcapngSection(ifaces: NgIface[], packets: NgPacket[], o: { be?: boolean; extra?: Array<[number, number[]]> } = {}): Buffer {
  const le = !o.be;
  const u16 = (v: number): number[] => (le ? [v & 255, v >> 8] : [v >> 8, v & 255]);
  const u32 = (v: number): number[] => (le ? [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24] : be32(v));
  const parts: Buffer[] = [block(0x0a0d0d0a, [...u32(0x1a2b3c4d), ...u16(1), ...u16(0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], le)];
  for (const i of ifaces) {
    const opts = i.tsresol !== undefined ? [...u16(9), ...u16(1), i.tsresol, 0, 0, 0, ...u16(0), ...u16(0)] : [];
    parts.push(block(1, [...u16(i.linktype), ...u16(0), ...u32(i.snaplen ?? 0), ...opts], le));
  }
  for (const [t, body] of o.extra ?? []) parts.push(block(t, pad4([...body]), le));
  for (const p of packets) {
    const hi = Number(p.ts >> 32n);
    const lo = Number(p.ts & 0xffffffffn);
    parts.push(block(6, pad4([...u32(p.iface), ...u32(hi), ...u32(lo), ...u32(p.data.length), ...u32(p.len ?? p.data.length), ...p.data]), le));
  }
  return Buffer.concat(parts);
}
