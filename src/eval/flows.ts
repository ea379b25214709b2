// Groups the records of a table into NetShare flows (all records sharing the 5-tuple; no timeout) with an
// exact open-addressing hash table, and derives per-flow aggregates used by the joint metrics.
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { argsort } from './stats.js';

/** Record → flow assignment. Flow ids are numbered in order of first appearance. */
export interface FlowIndex {
  /** Flow id of each record. */
  flowOf: Int32Array;
  /** Number of distinct 5-tuples. */
  count: number;
  /** Record index of each flow's first record (in table order). */
  first: Int32Array;
}

/** 32-bit fold of a 16-byte IPv6 address (FNV-1a), used as the address word of IPv6 rows. */
function fold6(bytes: Uint8Array, row: number): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < 16; k++) h = Math.imul(h ^ bytes[16 * row + k]!, 0x01000193);
  return h >>> 0;
}

/** The four 32-bit words identifying a record's 5-tuple (IPv6 addresses folded; version kept in word 3). */
export function keyWords(t: Table, i: number, out: Uint32Array): void {
  const v6 = t.ipVersion !== undefined && t.ipVersion[i] === 6 && t.srcIp6 !== undefined && t.dstIp6 !== undefined;
  out[0] = v6 ? fold6(t.srcIp6!, i) : t.srcIp[i]!;
  out[1] = v6 ? fold6(t.dstIp6!, i) : t.dstIp[i]!;
  out[2] = ((t.srcPort[i]! << 16) | t.dstPort[i]!) >>> 0;
  out[3] = t.proto[i]! | (v6 ? 0x600 : 0);
}

function mix(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ d, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The four key words of every record as columns (one pass; IPv6 rows folded as in keyWords). */
export function tupleColumns(t: Table): [Uint32Array, Uint32Array, Uint32Array, Uint32Array] {
  const n = t.length;
  const a = new Uint32Array(t.srcIp.subarray(0, n));
  const b = new Uint32Array(t.dstIp.subarray(0, n));
  const c = new Uint32Array(n);
  const d = new Uint32Array(n);
  const sp = t.srcPort;
  const dp = t.dstPort;
  const pr = t.proto;
  for (let i = 0; i < n; i++) {
    c[i] = ((sp[i]! << 16) | dp[i]!) >>> 0;
    d[i] = pr[i]!;
  }
  const ver = t.ipVersion;
  if (ver && t.srcIp6 && t.dstIp6) {
    for (let i = 0; i < n; i++) {
      if (ver[i] !== 6) continue;
      a[i] = fold6(t.srcIp6, i);
      b[i] = fold6(t.dstIp6, i);
      d[i] = d[i]! | 0x600;
    }
  }
  return [a, b, c, d];
}

/** Assign every record of `t` to its 5-tuple flow. O(n), exact (keys compared in full). */
export function indexFlows(t: Table): FlowIndex {
  const n = t.length;
  const [c0, c1, c2, c3] = tupleColumns(t);
  let cap = 16;
  while (cap < n * 2) cap <<= 1;
  const mask = cap - 1;
  // Slot s holds [key0, key1, key2, key3, flow id + 1] contiguously: one cache line per probe.
  const table = new Uint32Array(5 * cap);
  const flowOf = new Int32Array(n);
  const firstAll = new Int32Array(Math.max(1, n));
  let count = 0;
  for (let i = 0; i < n; i++) {
    const w0 = c0[i]!;
    const w1 = c1[i]!;
    const w2 = c2[i]!;
    const w3 = c3[i]!;
    let s = mix(w0, w1, w2, w3) & mask;
    for (;;) {
      const o = 5 * s;
      const id = table[o + 4]!;
      if (id === 0) {
        table[o] = w0;
        table[o + 1] = w1;
        table[o + 2] = w2;
        table[o + 3] = w3;
        table[o + 4] = count + 1;
        firstAll[count] = i;
        flowOf[i] = count++;
        break;
      }
      if (table[o] === w0 && table[o + 1] === w1 && table[o + 2] === w2 && table[o + 3] === w3) {
        flowOf[i] = id - 1;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  return { flowOf, count, first: firstAll.slice(0, count) };
}

/** Per-flow aggregates. For packets: packets, IP bytes, duration (µs). For flow records: summed pkt/byt, and duration from first ts to max(ts + td). */
export interface FlowAggregates {
  packets: Float64Array;
  bytes: Float64Array;
  /** µs */
  duration: Float64Array;
  /** Records (packets, or NetFlow records) per flow: NetShare's flow size. */
  records: Float64Array;
}

export function flowAggregates(t: Table, idx: FlowIndex): FlowAggregates {
  const k = idx.count;
  const packets = new Float64Array(k);
  const bytes = new Float64Array(k);
  const records = new Float64Array(k);
  const start = new Float64Array(k).fill(Infinity);
  const end = new Float64Array(k).fill(-Infinity);
  const flowOf = idx.flowOf;
  if (t.kind === 'packets') {
    const time = (t as PacketTable).time;
    const len = (t as PacketTable).pktLen;
    for (let i = 0; i < t.length; i++) {
      const f = flowOf[i]!;
      records[f]! += 1;
      packets[f]! += 1;
      bytes[f]! += len[i]!;
      const ts = time[i]!;
      if (ts < start[f]!) start[f] = ts;
      if (ts > end[f]!) end[f] = ts;
    }
  } else {
    const ft = t as FlowTable;
    const { ts: time, pkt, byt, td } = ft;
    for (let i = 0; i < t.length; i++) {
      const f = flowOf[i]!;
      records[f]! += 1;
      packets[f]! += pkt[i]!;
      bytes[f]! += byt[i]!;
      const ts = time[i]!;
      if (ts < start[f]!) start[f] = ts;
      const e = ts + td[i]! * 1e6;
      if (e > end[f]!) end[f] = e;
    }
  }
  const duration = new Float64Array(k);
  for (let f = 0; f < k; f++) duration[f] = Math.max(0, end[f]! - start[f]!);
  return { packets, bytes, duration, records };
}

/**
 * Record order grouped by flow, time-sorted within each flow: returns `order` (record indices) and
 * `offsets` (flow f's records are order[offsets[f] .. offsets[f+1])).
 */
export function recordsByFlow(t: Table, idx: FlowIndex): { order: Int32Array; offsets: Int32Array } {
  const k = idx.count;
  const offsets = new Int32Array(k + 1);
  for (let i = 0; i < t.length; i++) offsets[idx.flowOf[i]! + 1]! += 1;
  for (let f = 0; f < k; f++) offsets[f + 1]! += offsets[f]!;
  const fill = offsets.slice(0, k);
  const order = new Int32Array(t.length);
  // Visit records in time order so each flow's slice comes out time-sorted.
  const time = recordTimes(t);
  let sorted = true;
  for (let i = 1; i < t.length && sorted; i++) if (time[i]! < time[i - 1]!) sorted = false;
  let byTime: Int32Array;
  if (sorted) {
    byTime = new Int32Array(t.length);
    for (let i = 0; i < t.length; i++) byTime[i] = i;
  } else byTime = argsort(time);
  for (let r = 0; r < t.length; r++) {
    const i = byTime[r]!;
    const f = idx.flowOf[i]!;
    order[fill[f]!] = i;
    fill[f]! += 1;
  }
  return { order, offsets };
}

/** A set of exact 5-tuples (open addressing, grows by doubling). */
export class TupleSet {
  private keys: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;
  private readonly w = new Uint32Array(4);
  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap <<= 1;
    this.keys = new Uint32Array(4 * cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }
  private find(w: Uint32Array): number {
    let s = mix(w[0]!, w[1]!, w[2]!, w[3]!) & this.mask;
    const k = this.keys;
    while (this.used[s] && !(k[4 * s] === w[0] && k[4 * s + 1] === w[1] && k[4 * s + 2] === w[2] && k[4 * s + 3] === w[3])) s = (s + 1) & this.mask;
    return s;
  }
  /** Add row `i` of `t`; returns true when it was new. */
  add(t: Table, i: number): boolean {
    keyWords(t, i, this.w);
    const s = this.find(this.w);
    if (this.used[s]) return false;
    this.used[s] = 1;
    this.keys.set(this.w, 4 * s);
    if (++this.size * 2 > this.used.length) this.grow();
    return true;
  }
  has(t: Table, i: number): boolean {
    keyWords(t, i, this.w);
    return this.used[this.find(this.w)] === 1;
  }
  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    const cap = oldUsed.length * 2;
    this.keys = new Uint32Array(4 * cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    const w = new Uint32Array(4);
    for (let s = 0; s < oldUsed.length; s++) {
      if (!oldUsed[s]) continue;
      w.set(oldKeys.subarray(4 * s, 4 * s + 4));
      const d = this.find(w);
      this.used[d] = 1;
      this.keys.set(w, 4 * d);
    }
  }
}
