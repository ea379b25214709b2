// Heavy-hitter sketches for the telemetry downstream task (spec §5.3): Count-Min, Count Sketch and
// Space-Saving, fed with packets per 5-tuple flow; error on the true top-k, compared real vs synthetic.
import type { FlowIndex } from './flows.js';

/** A streaming frequency estimator over integer keys (flow ids) with unit increments. */
export interface Sketch {
  readonly name: string;
  add(key: number, hash1: number, hash2: number): void;
  estimate(key: number, hash1: number, hash2: number): number;
}

function rowHash(h1: number, h2: number, row: number): number {
  // Kirsch–Mitzenmacher double hashing, then a final avalanche.
  let h = (h1 + Math.imul(row + 1, h2)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
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
  add(_k: number, h1: number, h2: number): void {
    for (let r = 0; r < this.depth; r++) this.t[r * this.width + (rowHash(h1, h2, r) % this.width)]! += 1;
  }
  estimate(_k: number, h1: number, h2: number): number {
    let m = Infinity;
    for (let r = 0; r < this.depth; r++) m = Math.min(m, this.t[r * this.width + (rowHash(h1, h2, r) % this.width)]!);
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
  private cell(h1: number, h2: number, r: number): [number, number] {
    const h = rowHash(h1, h2, r);
    return [r * this.width + (h % this.width), h & 0x80000000 ? -1 : 1];
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

/** Space-Saving (Metwally et al.) with `k` counters; unmonitored keys estimate 0. */
export class SpaceSaving implements Sketch {
  readonly name: string;
  private readonly counts = new Map<number, number>();
  constructor(private readonly k: number) {
    this.name = `space-saving k=${k}`;
  }
  add(key: number): void {
    const c = this.counts.get(key);
    if (c !== undefined) {
      this.counts.set(key, c + 1);
      return;
    }
    if (this.counts.size < this.k) {
      this.counts.set(key, 1);
      return;
    }
    // Evict the minimum (linear scan: k is small, and evictions are rarer than hits on skewed traffic).
    let minKey = -1;
    let minVal = Infinity;
    for (const [kk, v] of this.counts)
      if (v < minVal) {
        minVal = v;
        minKey = kk;
      }
    this.counts.delete(minKey);
    this.counts.set(key, minVal + 1);
  }
  estimate(key: number): number {
    return this.counts.get(key) ?? 0;
  }
}

export interface SketchResult {
  sketch: string;
  /** Mean |estimate − true| / true over the true top-k flows. */
  meanRelativeError: number;
}

/** Memory-matched sketch configurations: every sketch gets the same number of counters. */
export function sketchSuite(): (() => Sketch)[] {
  const suite: (() => Sketch)[] = [];
  for (const counters of [512, 2048, 8192]) {
    suite.push(() => new CountMin(4, counters / 4));
    suite.push(() => new CountSketch(4, counters / 4));
    suite.push(() => new SpaceSaving(counters / 2)); // a Space-Saving entry holds a key and a count
  }
  return suite;
}

/** Run every sketch of the suite over the records (one increment per record, key = 5-tuple flow). */
export function heavyHitterErrors(idx: FlowIndex, topK = 100, maxRecords = 2_000_000): SketchResult[] {
  const n = Math.min(idx.flowOf.length, maxRecords);
  const truth = new Float64Array(idx.count);
  for (let i = 0; i < n; i++) truth[idx.flowOf[i]!]! += 1;
  const flows = Array.from({ length: idx.count }, (_, f) => f).filter((f) => truth[f]! > 0);
  flows.sort((a, b) => truth[b]! - truth[a]! || a - b);
  const top = flows.slice(0, topK);
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
  return sketchSuite().map((make) => {
    const s = make();
    for (let i = 0; i < n; i++) {
      const f = idx.flowOf[i]!;
      s.add(f, h1(f), h2(f));
    }
    let err = 0;
    for (const f of top) err += Math.abs(s.estimate(f, h1(f), h2(f)) - truth[f]!) / truth[f]!;
    return { sketch: s.name, meanRelativeError: top.length ? err / top.length : 0 };
  });
}
