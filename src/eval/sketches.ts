// Heavy-hitter sketches for the telemetry downstream task (spec §5.3): Count-Min, Count Sketch and
// Space-Saving, fed with packets per 5-tuple flow; error on the true top-k, compared real vs synthetic.
import type { Table } from '../io/table.js';
import type { FlowIndex } from './flows.js';
import { argsort } from './stats.js';

/** A streaming frequency estimator over integer keys (flow ids) with non-negative weighted increments. */
export interface Sketch {
  readonly name: string;
  add(key: number, hash1: number, hash2: number, weight?: number): void;
  /** Add keys[0..n), record i with weight w[i] (1 when absent; hashes looked up by key): one tight loop per sketch class. */
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array, w?: ArrayLike<number>): void;
  estimate(key: number, hash1: number, hash2: number): number;
}

function rowHash(h1: number, h2: number, row: number): number {
  // Kirsch–Mitzenmacher double hashing, then a final avalanche.
  // Stays in int32 (no >>> 0) so V8 keeps small-integer arithmetic; callers mask the low bits, sign = bit 31.
  let h = (h1 + Math.imul(row + 1, h2)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return h ^ (h >>> 16);
}

export class CountMin implements Sketch {
  readonly name: string;
  private readonly t: Float64Array;
  constructor(
    private readonly depth: number,
    private readonly width: number,
  ) {
    this.t = new Float64Array(depth * width);
    this.name = `count-min ${depth}×${width}`;
  }
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array, w?: ArrayLike<number>): void {
    const { t, depth, width } = this;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const a = h1[k]!;
      const b = h2[k]!;
      const inc = w ? w[i]! : 1;
      for (let r = 0; r < depth; r++) t[r * width + (rowHash(a, b, r) & (width - 1))]! += inc;
    }
  }
  add(_k: number, h1: number, h2: number, weight = 1): void {
    for (let r = 0; r < this.depth; r++) this.t[r * this.width + (rowHash(h1, h2, r) & (this.width - 1))]! += weight;
  }
  estimate(_k: number, h1: number, h2: number): number {
    let m = Infinity;
    for (let r = 0; r < this.depth; r++) m = Math.min(m, this.t[r * this.width + (rowHash(h1, h2, r) & (this.width - 1))]!);
    return m;
  }
}

export class CountSketch implements Sketch {
  readonly name: string;
  private readonly t: Float64Array;
  constructor(
    private readonly depth: number,
    private readonly width: number,
  ) {
    this.t = new Float64Array(depth * width);
    this.name = `count-sketch ${depth}×${width}`;
  }
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array, w?: ArrayLike<number>): void {
    const { t, depth, width } = this;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const a = h1[k]!;
      const b = h2[k]!;
      const inc = w ? w[i]! : 1;
      for (let r = 0; r < depth; r++) {
        const h = rowHash(a, b, r);
        t[r * width + (h & (width - 1))]! += h < 0 ? -inc : inc;
      }
    }
  }
  private cell(h1: number, h2: number, r: number): [number, number] {
    const h = rowHash(h1, h2, r);
    return [r * this.width + (h & (this.width - 1)), h < 0 ? -1 : 1];
  }
  add(_k: number, h1: number, h2: number, weight = 1): void {
    for (let r = 0; r < this.depth; r++) {
      const [c, s] = this.cell(h1, h2, r);
      this.t[c]! += s * weight;
    }
  }
  estimate(_k: number, h1: number, h2: number): number {
    const v: number[] = [];
    for (let r = 0; r < this.depth; r++) {
      const [c, s] = this.cell(h1, h2, r);
      v.push(s * this.t[c]!);
    }
    v.sort((a, b) => a - b);
    const mid = v.length >> 1;
    return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  }
}

/**
 * Space-Saving (Metwally et al.) with `k` counters; unmonitored keys estimate 0. Counters live in the paper's
 * Stream-Summary: buckets of equal count in a doubly linked list of increasing counts, each holding a linked
 * list of its entries, so a unit increment and an eviction are both O(1). Weighted increments (NetFlow records
 * count their packets) follow weighted Space-Saving: the newcomer inherits the minimum count plus its weight; the
 * entry's new bucket is found by walking up the list, past the buckets with counts in (c, c + w).
 */
export class SpaceSaving implements Sketch {
  readonly name: string;
  // entries 0..k-1
  private readonly eKey: Int32Array;
  private readonly eBucket: Int32Array;
  private readonly ePrev: Int32Array;
  private readonly eNext: Int32Array;
  // buckets 0..k-1 (at most k non-empty buckets), with a free list
  private readonly bCount: Float64Array;
  private readonly bHead: Int32Array;
  private readonly bPrev: Int32Array;
  private readonly bNext: Int32Array;
  private freeBucket = 0;
  private minBucket = -1;
  private size = 0;
  /** Entry of each monitored key, -1 otherwise (keys are dense ids below `keySpace`). */
  private readonly slot: Int32Array;
  constructor(
    private readonly k: number,
    keySpace: number,
  ) {
    this.name = `space-saving k=${k}`;
    this.eKey = new Int32Array(k);
    this.eBucket = new Int32Array(k);
    this.ePrev = new Int32Array(k);
    this.eNext = new Int32Array(k);
    this.bCount = new Float64Array(k);
    this.bHead = new Int32Array(k).fill(-1);
    this.bPrev = new Int32Array(k);
    this.bNext = new Int32Array(k);
    for (let b = 0; b < k; b++) this.bNext[b] = b + 1 < k ? b + 1 : -1; // free list threaded through bNext
    this.slot = new Int32Array(keySpace).fill(-1);
  }
  private newBucket(count: number, prev: number, next: number): number {
    const b = this.freeBucket;
    this.freeBucket = this.bNext[b]!;
    this.bCount[b] = count;
    this.bHead[b] = -1;
    this.bPrev[b] = prev;
    this.bNext[b] = next;
    if (prev >= 0) this.bNext[prev] = b;
    else this.minBucket = b;
    if (next >= 0) this.bPrev[next] = b;
    return b;
  }
  private unlinkEntry(e: number): void {
    const b = this.eBucket[e]!;
    const p = this.ePrev[e]!;
    const n = this.eNext[e]!;
    if (p >= 0) this.eNext[p] = n;
    else this.bHead[b] = n;
    if (n >= 0) this.ePrev[n] = p;
  }
  private linkEntry(e: number, b: number): void {
    const h = this.bHead[b]!;
    this.eBucket[e] = b;
    this.ePrev[e] = -1;
    this.eNext[e] = h;
    if (h >= 0) this.ePrev[h] = e;
    this.bHead[b] = e;
  }
  private freeIfEmpty(b: number): void {
    if (this.bHead[b]! >= 0) return;
    const p = this.bPrev[b]!;
    const n = this.bNext[b]!;
    if (p >= 0) this.bNext[p] = n;
    else this.minBucket = n;
    if (n >= 0) this.bPrev[n] = p;
    this.bNext[b] = this.freeBucket;
    this.freeBucket = b;
  }
  /** Move entry e from its bucket (count c) to the bucket of count c + w (w > 0). */
  private increment(e: number, w: number): void {
    const b = this.eBucket[e]!;
    const c = this.bCount[b]! + w;
    this.unlinkEntry(e);
    // the last bucket below c and the first at or above it (for w = 1: b and its successor)
    let prev = b;
    let n = this.bNext[b]!;
    while (n >= 0 && this.bCount[n]! < c) {
      prev = n;
      n = this.bNext[n]!;
    }
    let target: number;
    if (n >= 0 && this.bCount[n] === c) target = n;
    else if (prev === b && this.bHead[b]! < 0) {
      // e was alone and no bucket lies between: reuse its bucket in place
      this.bCount[b] = c;
      this.linkEntry(e, b);
      return;
    } else if (prev !== b && this.bHead[b]! < 0) {
      // e left b empty: free it first, the new bucket may need its slot (at most k buckets in use)
      this.freeIfEmpty(b);
      this.linkEntry(e, this.newBucket(c, prev, n));
      return;
    } else target = this.newBucket(c, prev, n);
    this.linkEntry(e, target);
    this.freeIfEmpty(b);
  }
  addAll(keys: Int32Array, n: number, _h1?: Uint32Array, _h2?: Uint32Array, w?: ArrayLike<number>): void {
    if (w) for (let i = 0; i < n; i++) this.add(keys[i]!, 0, 0, w[i]!);
    else for (let i = 0; i < n; i++) this.add(keys[i]!);
  }
  add(key: number, _h1 = 0, _h2 = 0, weight = 1): void {
    if (!(weight > 0)) return; // a zero weight changes no count (and must not evict)
    const at = this.slot[key]!;
    if (at >= 0) {
      this.increment(at, weight);
      return;
    }
    if (this.size < this.k) {
      const e = this.size++;
      this.eKey[e] = key;
      this.slot[key] = e;
      const m = this.minBucket;
      // a new entry at count `weight`: its place is found like an increment from a bucket of count 0
      if (m >= 0 && this.bCount[m] === weight) this.linkEntry(e, m);
      else if (m < 0 || this.bCount[m]! > weight) this.linkEntry(e, this.newBucket(weight, -1, m));
      else {
        let prev = m;
        let n = this.bNext[m]!;
        while (n >= 0 && this.bCount[n]! < weight) {
          prev = n;
          n = this.bNext[n]!;
        }
        this.linkEntry(e, n >= 0 && this.bCount[n] === weight ? n : this.newBucket(weight, prev, n));
      }
      return;
    }
    // Evict an entry of the minimum bucket; the newcomer inherits its count + weight.
    const e = this.bHead[this.minBucket]!;
    this.slot[this.eKey[e]!] = -1;
    this.eKey[e] = key;
    this.slot[key] = e;
    this.increment(e, weight);
  }
  estimate(key: number): number {
    const at = this.slot[key]!;
    return at < 0 ? 0 : this.bCount[this.eBucket[at]!]!;
  }
}

export interface SketchResult {
  sketch: string;
  /** Memory of the configuration, in counters (the sizes the task compares sketches at). */
  counters: number;
  /** Mean |estimate − true| / true over the true top-k flows. */
  meanRelativeError: number;
}

/** Memory sizes of the suite, in counters. */
export const SKETCH_COUNTERS = [512, 2048, 8192] as const;

/** Memory-matched sketch configurations: at each size every sketch gets the same number of counters. */
export function sketchSuite(keySpace: number): { counters: number; make: () => Sketch }[] {
  const suite: { counters: number; make: () => Sketch }[] = [];
  for (const counters of SKETCH_COUNTERS) {
    suite.push({ counters, make: () => new CountMin(4, counters / 4) });
    suite.push({ counters, make: () => new CountSketch(4, counters / 4) });
    suite.push({ counters, make: () => new SpaceSaving(counters / 2, keySpace) }); // a Space-Saving entry holds a key and a count
  }
  return suite;
}

/**
 * What one record adds to its flow's count, as an operator's sketch would count it: packets. A packet record is one
 * packet (undefined: unit weights); a NetFlow record counts its `pkt` packets (negative or NaN counted as 0).
 */
export function sketchWeights(t: Table): Float64Array | undefined {
  if (t.kind !== 'flows') return undefined;
  const w = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) w[i] = t.pkt[i]! > 0 ? t.pkt[i]! : 0;
  return w;
}

/**
 * Run every sketch of the suite over the records (key = 5-tuple flow; record i adds `weights[i]`, 1 when absent:
 * see sketchWeights). Error is relative to the true weighted count, over the true top-k flows by that count.
 */
export function heavyHitterErrors(idx: FlowIndex, topK = 100, maxRecords = 2_000_000, weights?: ArrayLike<number>): SketchResult[] {
  const n = Math.min(idx.flowOf.length, maxRecords);
  const truth = new Float64Array(idx.count);
  if (weights) for (let i = 0; i < n; i++) truth[idx.flowOf[i]!]! += weights[i]!;
  else for (let i = 0; i < n; i++) truth[idx.flowOf[i]!]! += 1;
  // Top-k flows by true count (ties: lower flow id), without sorting every flow.
  const neg = new Float64Array(idx.count);
  for (let f = 0; f < idx.count; f++) neg[f] = -truth[f]!;
  const top = Array.from(argsort(neg).subarray(0, Math.min(topK, idx.count))).filter((f) => truth[f]! > 0);
  // Two independent 32-bit hashes of the flow id; ids are dense, so mix them.
  const h1 = (f: number): number => {
    let h = Math.imul(f ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const h2 = (f: number): number => {
    let h = Math.imul(f + 0x632be5ab, 0xcc9e2d51);
    h = Math.imul(h ^ (h >>> 15), 0x1b873593);
    return ((h ^ (h >>> 16)) | 1) >>> 0;
  };
  const H1 = new Uint32Array(idx.count);
  const H2 = new Uint32Array(idx.count);
  for (let f = 0; f < idx.count; f++) {
    H1[f] = h1(f);
    H2[f] = h2(f);
  }
  return sketchSuite(idx.count).map(({ counters, make }) => {
    const s = make();
    s.addAll(idx.flowOf, n, H1, H2, weights);
    let err = 0;
    for (const f of top) err += Math.abs(s.estimate(f, H1[f]!, H2[f]!) - truth[f]!) / truth[f]!;
    return { sketch: s.name, counters, meanRelativeError: top.length ? err / top.length : 0 };
  });
}
