// Heavy-hitter sketches for the telemetry downstream task (spec §5.3): Count-Min, Count Sketch and
// Space-Saving, fed with packets per 5-tuple flow; error on the true top-k, compared real vs synthetic.
import type { FlowIndex } from './flows.js';
import { argsort } from './stats.js';

/** A streaming frequency estimator over integer keys (flow ids) with unit increments. */
export interface Sketch {
  readonly name: string;
  add(key: number, hash1: number, hash2: number): void;
  /** Add keys[0..n) (hashes looked up by key): one tight loop per sketch class. */
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array): void;
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
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array): void {
    const { t, depth, width } = this;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const a = h1[k]!;
      const b = h2[k]!;
      for (let r = 0; r < depth; r++) t[r * width + (rowHash(a, b, r) & (width - 1))]! += 1;
    }
  }
  add(_k: number, h1: number, h2: number): void {
    for (let r = 0; r < this.depth; r++) this.t[r * this.width + (rowHash(h1, h2, r) & (this.width - 1))]! += 1;
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
  addAll(keys: Int32Array, n: number, h1: Uint32Array, h2: Uint32Array): void {
    const { t, depth, width } = this;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const a = h1[k]!;
      const b = h2[k]!;
      for (let r = 0; r < depth; r++) {
        const h = rowHash(a, b, r);
        t[r * width + (h & (width - 1))]! += h < 0 ? -1 : 1;
      }
    }
  }
  private cell(h1: number, h2: number, r: number): [number, number] {
    const h = rowHash(h1, h2, r);
    return [r * this.width + (h & (this.width - 1)), h < 0 ? -1 : 1];
  }
  add(_k: number, h1: number, h2: number): void {
    for (let r = 0; r < this.depth; r++) {
      const [c, s] = this.cell(h1, h2, r);
      this.t[c]! += s;
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
 * list of its entries, so an increment and an eviction are both O(1).
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
  /** Move entry e from its bucket to the bucket of count + 1. */
  private increment(e: number): void {
    const b = this.eBucket[e]!;
    const c = this.bCount[b]! + 1;
    const n = this.bNext[b]!;
    this.unlinkEntry(e);
    let target: number;
    if (n >= 0 && this.bCount[n] === c) target = n;
    else if (this.bHead[b]! < 0) {
      // e was alone: reuse its bucket in place
      this.bCount[b] = c;
      this.linkEntry(e, b);
      return;
    } else target = this.newBucket(c, b, n);
    this.linkEntry(e, target);
    this.freeIfEmpty(b);
  }
  addAll(keys: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.add(keys[i]!);
  }
  add(key: number): void {
    const at = this.slot[key]!;
    if (at >= 0) {
      this.increment(at);
      return;
    }
    if (this.size < this.k) {
      const e = this.size++;
      this.eKey[e] = key;
      this.slot[key] = e;
      const m = this.minBucket;
      const b = m >= 0 && this.bCount[m] === 1 ? m : this.newBucket(1, -1, m);
      this.linkEntry(e, b);
      return;
    }
    // Evict an entry of the minimum bucket; the newcomer inherits its count + 1.
    const e = this.bHead[this.minBucket]!;
    this.slot[this.eKey[e]!] = -1;
    this.eKey[e] = key;
    this.slot[key] = e;
    this.increment(e);
  }
  estimate(key: number): number {
    const at = this.slot[key]!;
    return at < 0 ? 0 : this.bCount[this.eBucket[at]!]!;
  }
}

export interface SketchResult {
  sketch: string;
  /** Mean |estimate − true| / true over the true top-k flows. */
  meanRelativeError: number;
}

/** Memory-matched sketch configurations: every sketch gets the same number of counters. */
export function sketchSuite(keySpace: number): (() => Sketch)[] {
  const suite: (() => Sketch)[] = [];
  for (const counters of [512, 2048, 8192]) {
    suite.push(() => new CountMin(4, counters / 4));
    suite.push(() => new CountSketch(4, counters / 4));
    suite.push(() => new SpaceSaving(counters / 2, keySpace)); // a Space-Saving entry holds a key and a count
  }
  return suite;
}

/** Run every sketch of the suite over the records (one increment per record, key = 5-tuple flow). */
export function heavyHitterErrors(idx: FlowIndex, topK = 100, maxRecords = 2_000_000): SketchResult[] {
  const n = Math.min(idx.flowOf.length, maxRecords);
  const truth = new Float64Array(idx.count);
  for (let i = 0; i < n; i++) truth[idx.flowOf[i]!]! += 1;
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
  return sketchSuite(idx.count).map((make) => {
    const s = make();
    s.addAll(idx.flowOf, n, H1, H2);
    let err = 0;
    for (const f of top) err += Math.abs(s.estimate(f, H1[f]!, H2[f]!) - truth[f]!) / truth[f]!;
    return { sketch: s.name, meanRelativeError: top.length ? err / top.length : 0 };
  });
}
