// FlowChronicle's (CoNEXT'24) scale-free fidelity numbers, next to the same numbers for a real reference: the mean
// JS distance of exact values over {proto, srcip, dstip, dstport, tcp flags} and the mean "histogram EMD" over
// {pkt, byt, td} (FlowChronicle's metrics.py: compute_JSD, compute_WD), compared as a ratio to the reference.
import { Rng } from '../core/rng.js';
import type { FlowIndex } from '../io/flow-key.js';
import type { FlowTable, PacketTable, Table } from '../io/table.js';
import { flowAggregates, recordsByFlow, tupleColumns } from './flows.js';
import { argsort, sortedCopy } from './stats.js';

/** Categorical fields (JS distance of exact values); `tcp_flags` only when both sides carry flags. */
export const FC_JSD_FIELDS = ['proto', 'srcip', 'dstip', 'dstport', 'tcp_flags'] as const;
/** Numerical fields (histogram EMD). */
export const FC_EMD_FIELDS = ['pkt', 'byt', 'td'] as const;
/** Units per sample at most: exact-value JS distances sort every sample, so huge traces are subsampled. */
export const FC_MAX_UNITS = 100_000;
/** Freedman–Diaconis can ask for millions of bins on heavy tails (bytes); above this many the bins widen. */
export const FC_MAX_BINS = 1 << 22;

/**
 * FlowChronicle's unit of a trace: a NetFlow record, or a 5-tuple flow of a packet trace (its first packet's header
 * fields, the OR of its TCP flags, its packets, IP bytes and duration in seconds).
 */
export interface FcUnits {
  unit: 'records' | 'flows';
  length: number;
  cat: Partial<Record<(typeof FC_JSD_FIELDS)[number], Float64Array>>;
  num: Record<(typeof FC_EMD_FIELDS)[number], Float64Array>;
}

export function fcUnits(t: Table, idx: FlowIndex): FcUnits {
  const n = t.length;
  const words = tupleColumns(t); // IPv6 addresses folded to 32 bits, as everywhere else in eval
  if (t.kind === 'flows') {
    const fl = t as FlowTable;
    const f64 = (a: Uint8Array | Uint16Array | Uint32Array | Float64Array): Float64Array => new Float64Array(a.subarray(0, n));
    const rounded = (a: Float64Array): Float64Array => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.round(a[i]!);
      return out;
    };
    return {
      unit: 'records',
      length: n,
      cat: {
        proto: f64(fl.proto),
        srcip: f64(words[0]),
        dstip: f64(words[1]),
        dstport: f64(fl.dstPort),
        ...(fl.tcpFlags ? { tcp_flags: f64(fl.tcpFlags) } : {}),
      },
      num: { pkt: rounded(fl.pkt), byt: rounded(fl.byt), td: f64(fl.td) },
    };
  }
  const p = t as PacketTable;
  const k = idx.count;
  const agg = flowAggregates(t, idx);
  const { order, offsets } = recordsByFlow(t, idx);
  const cat = { proto: new Float64Array(k), srcip: new Float64Array(k), dstip: new Float64Array(k), dstport: new Float64Array(k), tcp_flags: new Float64Array(k) };
  for (let f = 0; f < k; f++) {
    const r0 = order[offsets[f]!]!;
    cat.proto[f] = p.proto[r0]!;
    cat.srcip[f] = words[0][r0]!;
    cat.dstip[f] = words[1][r0]!;
    cat.dstport[f] = p.dstPort[r0]!;
    let flags = 0;
    for (let j = offsets[f]!; j < offsets[f + 1]!; j++) flags |= p.tcpFlags[order[j]!]!;
    cat.tcp_flags[f] = flags;
  }
  return { unit: 'flows', length: k, cat, num: { pkt: agg.packets, byt: agg.bytes, td: agg.duration.map((us) => us / 1e6) } };
}

/**
 * `scipy.spatial.distance.jensenshannon(p, q)` (natural log: the JS *distance*) between the exact-value frequencies
 * of two samples (FlowChronicle's compute_JSD for one variable).
 */
export function exactJsDistance(a: Float64Array, b: Float64Array): number {
  return exactJsDistanceSorted(sortedCopy(a), sortedCopy(b));
}

/** exactJsDistance of two ascending sorted samples. */
function exactJsDistanceSorted(sa: Float64Array, sb: Float64Array): number {
  const na = sa.length;
  const nb = sb.length;
  let i = 0;
  let j = 0;
  let acc = 0;
  while (i < na || j < nb) {
    const v = j >= nb || (i < na && sa[i]! <= sb[j]!) ? sa[i]! : sb[j]!;
    let ca = 0;
    let cb = 0;
    while (i < na && sa[i] === v) {
      i++;
      ca++;
    }
    while (j < nb && sb[j] === v) {
      j++;
      cb++;
    }
    const p = ca / na;
    const q = cb / nb;
    const m = (p + q) / 2;
    if (p > 0) acc += p * Math.log(p / m);
    if (q > 0) acc += q * Math.log(q / m);
  }
  return Math.sqrt(Math.max(0, acc / 2));
}

/** numpy's linear-interpolation percentile of an ascending sorted array. */
function percentile(sorted: Float64Array, q: number): number {
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * FlowChronicle's compute_WD for one variable: bins by Freedman–Diaconis on the real sample (numpy `bins='fd'`,
 * width ≥ 1 for integer fields, at most FC_MAX_BINS), both samples histogrammed on them (values outside the real
 * range are dropped, as numpy does), the cumulative counts divided by each sample's size, and the Wasserstein-1
 * distance between those two vectors taken as samples. Scale-free: the result is in [0, 1].
 */
export function histogramEmd(real: Float64Array, syn: Float64Array, integer: boolean): number {
  return histogramEmdSorted(sortedCopy(real), sortedCopy(syn), integer);
}

/** histogramEmd of two ascending sorted samples. */
function histogramEmdSorted(s: Float64Array, synSorted: Float64Array, integer: boolean): number {
  const n = s.length;
  const syn = synSorted;
  let first = s[0]!;
  let last = s[n - 1]!;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  let width = 2 * (percentile(s, 75) - percentile(s, 25)) * n ** (-1 / 3);
  if (integer && width > 0 && width < 1) width = 1;
  const bins = width > 0 ? Math.min(FC_MAX_BINS, Math.ceil((last - first) / width)) : 1;
  // Bins of the values inside the real range (ascending, as the samples are sorted); values outside are dropped, as
  // numpy drops them.
  const norm = bins / (last - first);
  const binsOf = (x: Float64Array): Int32Array => {
    const out = new Int32Array(x.length);
    let k = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v >= first && v <= last) out[k++] = Math.min(bins - 1, Math.floor((v - first) * norm));
    }
    return out.subarray(0, k);
  };
  const br = binsOf(s);
  const bs = binsOf(syn);
  // Σ over bins of |cumulative real share − cumulative synthetic share|: constant between bins holding a value, so
  // walk those bins only (the sum per bin would cost 2^22 steps on heavy tails).
  let i = 0;
  let j = 0;
  let cr = 0;
  let cs = 0;
  let prev = 0;
  let total = 0;
  while (i < br.length || j < bs.length) {
    const b = j >= bs.length || (i < br.length && br[i]! <= bs[j]!) ? br[i]! : bs[j]!;
    total += (b - prev) * Math.abs(cr / n - cs / syn.length);
    while (i < br.length && br[i] === b) {
      cr++;
      i++;
    }
    while (j < bs.length && bs[j] === b) {
      cs++;
      j++;
    }
    prev = b;
  }
  total += (bins - prev) * Math.abs(cr / n - cs / syn.length);
  return total / bins;
}

export interface FcScore {
  /** Mean JS distance over the categorical fields compared. */
  jsd: number;
  /** Mean histogram EMD over pkt, byt, td. */
  emd: number;
  perField: Record<string, number>;
}

/** The sorted values of `col` at `idx`. */
function sortedAt(col: Float64Array, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = col[idx[i]!]!;
  return sortedCopy(out);
}

/** One side's sample, every field sorted (a test sample is scored against several sides). */
export type FcSample = Record<string, Float64Array>;

export function fcSample(u: FcUnits, idx: Int32Array, jsdFields: readonly string[]): FcSample {
  const out: FcSample = {};
  for (const f of jsdFields) out[f] = sortedAt(u.cat[f as (typeof FC_JSD_FIELDS)[number]]!, idx);
  for (const f of FC_EMD_FIELDS) out[f] = sortedAt(u.num[f], idx);
  return out;
}

/** FlowChronicle's numbers of `other` against `real` (the bins come from `real`), over the categorical `jsdFields`. */
export function fcScore(real: FcSample, other: FcSample, jsdFields: readonly string[]): FcScore {
  const perField: Record<string, number> = {};
  let js = 0;
  for (const f of jsdFields) {
    perField[f] = exactJsDistanceSorted(real[f]!, other[f]!);
    js += perField[f];
  }
  let em = 0;
  for (const f of FC_EMD_FIELDS) {
    perField[f] = histogramEmdSorted(real[f]!, other[f]!, f !== 'td');
    em += perField[f];
  }
  return { jsd: js / jsdFields.length, emd: em / FC_EMD_FIELDS.length, perField };
}

/** Mean of several scores, field by field. */
export function meanScore(scores: FcScore[]): FcScore {
  const perField: Record<string, number> = {};
  for (const k of Object.keys(scores[0]!.perField)) perField[k] = scores.reduce((s, x) => s + x.perField[k]!, 0) / scores.length;
  return { jsd: scores.reduce((s, x) => s + x.jsd, 0) / scores.length, emd: scores.reduce((s, x) => s + x.emd, 0) / scores.length, perField };
}

/** `m` of the indices `pool` (or 0..n−1), uniformly without replacement; all when m ≥ their number. */
export function sampleUnits(pool: Int32Array, m: number, r: Rng): Int32Array {
  if (m >= pool.length) return pool;
  const ids = pool.slice();
  for (let i = 0; i < m; i++) {
    const j = i + r.int(ids.length - i);
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids.slice(0, m).sort();
}

/** EvalResult.flowChronicle: the real reference's numbers and how they were drawn. */
export interface FcResult {
  /** 'holdout-file': synthetic and the real (training) trace are both scored against the holdout. 'time-split': both
   * against the late half of the real units (by start time), the reference being the early half. */
  referenceSource: 'holdout-file' | 'time-split';
  unit: FcUnits['unit'];
  /** Units per sample (min of the sides' and FC_MAX_UNITS), and the number of draws averaged. */
  size: number;
  draws: number;
  jsdFields: string[];
  emdFields: string[];
  reference: FcScore;
}

/** A method's FlowChronicle numbers and their ratio to the reference (FlowChronicle's paper reads this ratio). */
export type FcMethodScore = FcScore & { ratio: { jsd: number | null; emd: number | null } };

const ratioOf = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a) ? a / b : null);

/**
 * FlowChronicle's comparison, each side at the same size: `draws` times, a sample of m units of the test side
 * (holdout, or the late half of the real trace), of the reference side (the real trace, or its early half) and of
 * every method; scores against the test sample, averaged. Null when a side has no unit to draw.
 */
export function flowChronicleComparison(
  real: FcUnits,
  realStarts: Float64Array,
  methods: readonly { name: string; units: FcUnits }[],
  opts: { seed: number; draws: number; holdout?: FcUnits },
): { result: FcResult; methods: FcMethodScore[] } | null {
  const all = (n: number): Int32Array => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    return a;
  };
  let test: FcUnits;
  let testPool: Int32Array;
  let refPool: Int32Array;
  if (opts.holdout) {
    test = opts.holdout;
    testPool = all(opts.holdout.length);
    refPool = all(real.length);
  } else {
    test = real;
    const order = argsort(realStarts);
    const h = real.length >> 1;
    refPool = order.slice(0, h).sort();
    testPool = order.slice(real.length - h).sort();
  }
  const m = Math.min(FC_MAX_UNITS, testPool.length, refPool.length, ...methods.map((x) => x.units.length));
  const jsdFields = FC_JSD_FIELDS.filter((f) => test.cat[f] && real.cat[f] && methods.every((x) => x.units.cat[f]));
  if (m < 1 || opts.draws < 1) return null;
  const refScores: FcScore[] = [];
  const methodScores: FcScore[][] = methods.map(() => []);
  const pools = methods.map((x) => all(x.units.length));
  for (let k = 0; k < opts.draws; k++) {
    const t = fcSample(test, sampleUnits(testPool, m, Rng.forPurpose(opts.seed, `flowchronicle/test/${k}`)), jsdFields);
    refScores.push(fcScore(t, fcSample(real, sampleUnits(refPool, m, Rng.forPurpose(opts.seed, `flowchronicle/reference/${k}`)), jsdFields), jsdFields));
    methods.forEach((x, i) =>
      methodScores[i]!.push(fcScore(t, fcSample(x.units, sampleUnits(pools[i]!, m, Rng.forPurpose(opts.seed, `flowchronicle/${x.name}/${k}`)), jsdFields), jsdFields)),
    );
  }
  const reference = meanScore(refScores);
  return {
    result: { referenceSource: opts.holdout ? 'holdout-file' : 'time-split', unit: real.unit, size: m, draws: opts.draws, jsdFields, emdFields: [...FC_EMD_FIELDS], reference },
    methods: methodScores.map((s) => {
      const sc = meanScore(s);
      return { ...sc, ratio: { jsd: ratioOf(sc.jsd, reference.jsd), emd: ratioOf(sc.emd, reference.emd) } };
    }),
  };
}
