// The real-vs-real floor: split the real trace in two (by time, and by seeded random 5-tuple flows) and
// compute every metric between the halves, so synthetic-vs-real metrics can be read as ratios to it.
import { takeRows } from '../io/rows.js';
import { recordTimes, type Table } from '../io/table.js';
import { indexFlows, type FlowIndex } from './flows.js';
import { argsort } from './stats.js';
import { Rng } from '../core/rng.js';

export type SplitKind = 'time' | 'flows';

/** The two halves of a split, as row indices into the original table. */
export interface Split {
  a: Int32Array;
  b: Int32Array;
}

/** First half of the records in time order vs the second half (ties broken by row order). */
export function splitByTime(t: Table): Split {
  const time = recordTimes(t);
  const order = argsort(time);
  const h = Math.floor(t.length / 2);
  return { a: order.slice(0, h), b: order.slice(h) };
}

/** Each 5-tuple flow goes to half A or B with probability 1/2 (seeded); flows are never cut. */
export function splitByFlows(t: Table, seed: number, flowIndex?: FlowIndex): Split {
  const idx = flowIndex ?? indexFlows(t);
  const r = Rng.forPurpose(seed, 'split/flows');
  const side = new Uint8Array(idx.count);
  for (let f = 0; f < idx.count; f++) side[f] = r.next() < 0.5 ? 0 : 1;
  let na = 0;
  for (let i = 0; i < t.length; i++) if (side[idx.flowOf[i]!] === 0) na++;
  const a = new Int32Array(na);
  const b = new Int32Array(t.length - na);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < t.length; i++) {
    if (side[idx.flowOf[i]!] === 0) a[ia++] = i;
    else b[ib++] = i;
  }
  return { a, b };
}

/** Each record goes to half A or B with probability 1/2 (seeded); a 5-tuple may land on both sides. */
export function splitByRecords(t: Table, seed: number): Split {
  const r = Rng.forPurpose(seed, 'split/records');
  const side = new Uint8Array(t.length);
  let na = 0;
  for (let i = 0; i < t.length; i++) if ((side[i] = r.next() < 0.5 ? 0 : 1) === 0) na++;
  const a = new Int32Array(na);
  const b = new Int32Array(t.length - na);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < t.length; i++) {
    if (side[i] === 0) a[ia++] = i;
    else b[ib++] = i;
  }
  return { a, b };
}

/** Materialise a split into two tables. */
export function splitTables<T extends Table>(t: T, s: Split): [T, T] {
  return [takeRows(t, s.a), takeRows(t, s.b)];
}

// ---- The equal-size, multi-split floor -------------------------------------------------------------------------

/** Default number of random splits the floor averages over (`eval --floor-splits`). */
export const DEFAULT_FLOOR_SPLITS = 5;

/**
 * The size every comparison is made at, in 5-tuple flows: min(synthetic flows, ⌊real flows / 2⌋). The floor compares
 * two disjoint real samples of that size, and the synthetic side (subsampled when larger) is compared with a real
 * sample of that size, so ratio 1 means "as close as a real sample of the same size" whatever the input sizes.
 * 0 when the real trace has a single flow (then there is no floor).
 */
export function comparisonSize(realFlows: number, synFlows: number): number {
  return Math.max(0, Math.min(synFlows, Math.floor(realFlows / 2)));
}

/** Shuffle the first `take` places of `ids` in place (partial Fisher–Yates): they become a uniform random sample. */
function shuffleHead(ids: Int32Array, take: number, r: Rng): void {
  for (let i = 0; i < take; i++) {
    const j = i + r.int(ids.length - i);
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
}

const iota = (n: number): Int32Array => {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
};

/**
 * Draw k of the flow split: two disjoint uniform samples of `n` flows each (2n ≤ count), from stream
 * `floor/split/<k>` of `seed`. Flows are never cut.
 */
export function flowSplitDraw(count: number, n: number, seed: number, k: number): [Int32Array, Int32Array] {
  if (2 * n > count) throw new RangeError(`Expected at most ${count >> 1} flows per side for a split of ${count} flows but received ${n}`);
  const ids = iota(count);
  shuffleHead(ids, 2 * n, Rng.forPurpose(seed, `floor/split/${k}`));
  return [ids.slice(0, n).sort(), ids.slice(n, 2 * n).sort()];
}

/** The time split's halves: flow ids ordered by first-record time, the first ⌊count/2⌋ and the last ⌊count/2⌋. */
export function timeHalves(flowStarts: Float64Array): [Int32Array, Int32Array] {
  const order = argsort(flowStarts);
  const h = order.length >> 1;
  return [order.slice(0, h), order.slice(order.length - h)];
}

/**
 * Draw k of the time split at size n: the early and the late half, each subsampled to `n` flows (stream
 * `floor/time/<k>`); at n = half size both halves are whole and every draw is the same.
 */
export function timeSplitDraw(halves: [Int32Array, Int32Array], n: number, seed: number, k: number): [Int32Array, Int32Array] {
  const r = Rng.forPurpose(seed, `floor/time/${k}`);
  const pick = (h: Int32Array): Int32Array => {
    if (n >= h.length) return h.slice().sort();
    const ids = h.slice();
    shuffleHead(ids, n, r);
    return ids.slice(0, n).sort();
  };
  return [pick(halves[0]), pick(halves[1])];
}

/** Mean, min, max and sample standard deviation (0 for one draw) of a metric over the draws where it is defined. */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  sd: number;
  /** Draws that defined it. */
  n: number;
}

/** Per-metric mean and spread over the draws (null where no draw defines the metric). */
export function summariseDraws(draws: Record<string, number | null>[], names: readonly string[]): Record<string, Spread | null> {
  const out: Record<string, Spread | null> = {};
  for (const m of names) {
    let sum = 0;
    let n = 0;
    let min = Infinity;
    let max = -Infinity;
    const vs: number[] = [];
    for (const d of draws) {
      const v = d[m];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      sum += v;
      n++;
      vs.push(v);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const mean = sum / n;
    const sd = n > 1 ? Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
    out[m] = n > 0 ? { mean, min, max, sd, n } : null;
  }
  return out;
}

/** The median of the defined values (mean of the middle two for an even count); null when none is defined. */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const h = v.length >> 1;
  return v.length % 2 === 1 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}

/**
 * The ideal generator of the band calibration: each 5-tuple flow goes to the "synthetic" side with probability 1/3
 * (stream `floor/ideal` of `seed`), the rest is the real reference. The synthetic side is then a real sample disjoint
 * from the reference and about half its size, i.e. of the comparison size: scored as `eval` scores it, its ratios
 * show how far a perfect generator lands from 1×.
 */
export function idealGeneratorSplit(t: Table, seed: number, flowIndex?: FlowIndex): { real: Int32Array; synthetic: Int32Array } {
  const idx = flowIndex ?? indexFlows(t);
  const r = Rng.forPurpose(seed, 'floor/ideal');
  const side = new Uint8Array(idx.count);
  for (let f = 0; f < idx.count; f++) side[f] = r.next() < 1 / 3 ? 1 : 0;
  const real: number[] = [];
  const synthetic: number[] = [];
  for (let i = 0; i < t.length; i++) (side[idx.flowOf[i]!] ? synthetic : real).push(i);
  return { real: Int32Array.from(real), synthetic: Int32Array.from(synthetic) };
}
