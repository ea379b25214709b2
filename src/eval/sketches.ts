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
 * Space-Saving (Metwally et al.) with `k` counters; unmonitored keys estimate 0. The counters sit in a binary
 * min-heap with a key → slot map, so an increment or an eviction costs O(log k).
 */
export class SpaceSaving implements Sketch {
  readonly name: string;
  private readonly keys: Int32Array;
  private readonly counts: Float64Array;
  /** Heap slot of each monitored key, -1 otherwise (keys are dense ids below `keySpace`). */
  private readonly slot: Int32Array;
  private size = 0;
  constructor(
    private readonly k: number,
    keySpace: number,
  ) {
    this.name = `space-saving k=${k}`;
    this.keys = new Int32Array(k);
    this.counts = new Float64Array(k);
    this.slot = new Int32Array(keySpace).fill(-1);
  }
  private swap(a: number, b: number): void {
    const ka = this.keys[a]!;
    const ca = this.counts[a]!;
    this.keys[a] = this.keys[b]!;
    this.counts[a] = this.counts[b]!;
    this.keys[b] = ka;
    this.counts[b] = ca;
    this.slot[this.keys[a]!] = a;
    this.slot[this.keys[b]!] = b;
  }
  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.counts[l]! < this.counts[m]!) m = l;
      if (r < this.size && this.counts[r]! < this.counts[m]!) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.counts[p]! <= this.counts[i]!) return;
      this.swap(i, p);
      i = p;
    }
  }
  addAll(keys: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.add(keys[i]!);
  }
  add(key: number): void {
    const at = this.slot[key]!;
    if (at >= 0) {
      this.counts[at]! += 1;
      this.down(at);
      return;
    }
    if (this.size < this.k) {
      const i = this.size++;
      this.keys[i] = key;
      this.counts[i] = 1;
      this.slot[key] = i;
      this.up(i);
      return;
    }
    // Evict the minimum (the root); the newcomer inherits its count + 1.
    this.slot[this.keys[0]!] = -1;
    this.keys[0] = key;
    this.counts[0]! += 1;
    this.slot[key] = 0;
    this.down(0);
  }
  estimate(key: number): number {
    const at = this.slot[key]!;
    return at < 0 ? 0 : this.counts[at]!;
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
