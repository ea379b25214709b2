// Privacy checks: how much of the synthetic trace is copied verbatim from the real records the model was trained
// on (5-tuples, IP addresses), and its distance to the closest training record (DCR), next to the same numbers
// for real records the model never saw (the reference: what independent real traffic shares by chance).
import type { Table } from '../io/table.js';
import { splitByRecords, splitTables } from './floor.js';
import { TupleSet, flowAggregates, indexFlows, type FlowIndex } from './flows.js';
import { NearestIndex } from './nearest.js';
import { Rng } from '../core/rng.js';

export interface CopyStats {
  /** Distinct 5-tuples of the compared side. */
  tuples: number;
  /** Share of those also present in the training records it is compared with. */
  tuplesCopied: number;
  /** Distinct IPv4 addresses (src ∪ dst) of the compared side. */
  ips: number;
  /** Share of those also present (as src or dst) in the training records it is compared with. */
  ipsCopied: number;
  /** Real records this side is compared with: all training records for the synthetic side, see PrivacyResult. */
  trainRecords: number;
}

export interface DcrStats {
  /** Records whose DCR was measured: all of the side's DCR records, or a seeded sample (without replacement) of `querySample` of them. */
  sampled: number;
  /** DCR records searched for each: every DCR record of the training side, never a sample (exact nearest neighbour). */
  searched: number;
  median: number;
  p05: number;
  /** Share of sampled records at distance 0 (an identical feature vector exists among the searched training records). */
  exact: number;
}

/**
 * Where the reference rows come from. 'holdout-file': the given holdout trace, compared with the whole real
 * (training) trace, like the synthetic side. 'record-split': no holdout was given, so the real trace is split by
 * records (each record to one half with probability ½, seeded; a 5-tuple may land on both halves) and one half is
 * compared with the other; the synthetic side is still compared with all real records.
 */
export type HoldoutSource = 'holdout-file' | 'record-split';

export interface PrivacyResult {
  holdoutSource: HoldoutSource;
  /** The synthetic side against all the real records the model trained on. */
  synthetic: CopyStats;
  /** The reference: real records never trained on, against their training side (see HoldoutSource). */
  holdout: CopyStats;
  dcr: {
    features: string[];
    /** DCR records searched for the synthetic side (= synthetic.searched; the name predates exact search). */
    trainSample: number;
    synthetic: DcrStats;
    holdout: DcrStats;
    /** synthetic median / holdout median; null when the holdout median is 0. */
    medianRatio: number | null;
  };
}

/** Sorted distinct IPv4 addresses (src ∪ dst) of a table. */
function ipSet(t: Table): Uint32Array {
  const all = new Uint32Array(2 * t.length);
  all.set(t.srcIp.subarray(0, t.length));
  all.set(t.dstIp.subarray(0, t.length), t.length);
  all.sort();
  let k = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[k++] = all[i]!;
  return all.slice(0, k);
}

function hasSorted(a: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < a.length && a[lo] === v;
}

/** Feature names of the DCR space; every feature is scaled to [0, 1]. Packet traces are compared per 5-tuple flow. */
export function dcrFeatureNames(kind: Table['kind']): string[] {
  const base = ['sip0', 'sip1', 'sip2', 'sip3', 'dip0', 'dip1', 'dip2', 'dip3', 'srcport', 'dstport', 'proto'];
  return kind === 'packets' ? [...base, 'log_flow_packets', 'log_flow_bytes', 'log_flow_duration_us', 'ttl', 'tos'] : [...base, 'log_td', 'log_pkt', 'log_byt'];
}

/**
 * The records DCR compares: NetFlow records as they are; for packets one record per 5-tuple flow (header of its
 * first packet + packets, bytes, duration), since packets of one flow are near-identical and would make every
 * distance 0.
 */
interface DcrRecords {
  t: Table;
  n: number;
  header: Int32Array;
  sizes: [Float64Array, Float64Array, Float64Array];
}

function dcrRecords(t: Table, flowIndex?: FlowIndex): DcrRecords {
  if (t.kind === 'flows') {
    const header = Int32Array.from({ length: t.length }, (_, i) => i);
    return { t, n: t.length, header, sizes: [t.td, t.pkt, t.byt] };
  }
  const idx = flowIndex ?? indexFlows(t);
  const agg = flowAggregates(t, idx);
  return { t, n: idx.count, header: idx.first, sizes: [agg.packets, agg.bytes, agg.duration] };
}

/** Writes DCR record j's feature vector into `out` (length = dcrFeatureNames(kind).length). */
function dcrFeature(recs: DcrRecords, j: number, scale: number[], out: Float64Array): void {
  const t = recs.t;
  const i = recs.header[j]!;
  const s = t.srcIp[i]!;
  const d = t.dstIp[i]!;
  out[0] = (s >>> 24) / 255;
  out[1] = ((s >>> 16) & 255) / 255;
  out[2] = ((s >>> 8) & 255) / 255;
  out[3] = (s & 255) / 255;
  out[4] = (d >>> 24) / 255;
  out[5] = ((d >>> 16) & 255) / 255;
  out[6] = ((d >>> 8) & 255) / 255;
  out[7] = (d & 255) / 255;
  out[8] = t.srcPort[i]! / 65535;
  out[9] = t.dstPort[i]! / 65535;
  out[10] = t.proto[i]! / 255;
  for (let k = 0; k < 3; k++) out[11 + k] = Math.log1p(Math.max(0, recs.sizes[k]![j]!)) / scale[k]!;
  if (t.kind === 'packets') {
    out[14] = t.ttl[i]! / 255;
    out[15] = t.tos[i]! / 255;
  }
}

/** Log features are divided by log1p of the training maximum, so the training side spans [0, 1]. */
function dcrScale(recs: DcrRecords): number[] {
  return recs.sizes.map((col) => {
    let mx = 0;
    for (let i = 0; i < recs.n; i++) mx = Math.max(mx, col[i]!);
    return Math.log1p(mx) || 1;
  });
}

function dcrIndex(recs: DcrRecords, scale: number[], d: number): NearestIndex {
  return NearestIndex.build(recs.n, d, (j, out) => dcrFeature(recs, j, scale, out));
}

function dcrStats(dist: Float64Array, searched: number): DcrStats {
  const sorted = dist.slice().sort();
  const n = sorted.length;
  const q = (p: number): number => (n ? sorted[Math.min(n - 1, Math.floor(p * (n - 1) + 0.5))]! : Number.NaN);
  let exact = 0;
  for (const v of sorted) if (v === 0) exact++;
  return { sampled: n, searched, median: q(0.5), p05: q(0.05), exact: n ? exact / n : 0 };
}

export interface PrivacyOptions {
  seed: number;
  /** DCR query records sampled per side (synthetic, reference); default 2000. The searched training records are never sampled. */
  querySample?: number;
  /** A real trace never used for training: the reference. Absent: the record split described at HoldoutSource. */
  holdout?: Table;
  /** indexFlows(real) when the caller already has it. */
  flowIndex?: FlowIndex;
}

/** One training side prepared for copy and DCR checks. */
export interface TrainSide {
  /** Records of the side. */
  records: number;
  /** Its exact 5-tuples. */
  tuples: TupleSet;
  /** Its sorted distinct IPv4 addresses (src ∪ dst). */
  ips: Uint32Array;
  /** Exact nearest-neighbour index over all its DCR records. */
  index: NearestIndex;
}

function trainSide(t: Table, recs: DcrRecords, scale: number[], d: number, flowIndex?: FlowIndex): TrainSide {
  const idx = flowIndex ?? indexFlows(t);
  const tuples = new TupleSet(idx.count);
  for (let f = 0; f < idx.count; f++) tuples.add(t, idx.first[f]!);
  return { records: t.length, tuples, ips: ipSet(t), index: dcrIndex(recs, scale, d) };
}

function copyStats(other: Table, train: TrainSide, flowIndex?: FlowIndex): CopyStats {
  // One membership test per distinct 5-tuple (its first record).
  const idx = flowIndex ?? indexFlows(other);
  let copied = 0;
  for (let f = 0; f < idx.count; f++) if (train.tuples.has(other, idx.first[f]!)) copied++;
  const ips = ipSet(other);
  let ipCopied = 0;
  for (let i = 0; i < ips.length; i++) if (hasSorted(train.ips, ips[i]!)) ipCopied++;
  return { tuples: idx.count, tuplesCopied: idx.count ? copied / idx.count : 0, ips: ips.length, ipsCopied: ips.length ? ipCopied / ips.length : 0, trainRecords: train.records };
}

/** The training-side structures of the privacy checks, built once for several synthetic traces. */
export interface PrivacyContext {
  source: HoldoutSource;
  /** All real records the model trained on. */
  train: TrainSide;
  /** Divisors of the three log features (log1p of the real maximum), shared by every compared side. */
  scale: number[];
  /** dcrFeatureNames of the real kind. */
  names: string[];
  /** The reference rows, computed once. */
  holdout: CopyStats;
  holdoutDcr: DcrStats;
  opts: PrivacyOptions;
}

/**
 * Prepare the checks against `real`, the records the model was trained on (all of them: a verbatim copy of `real`
 * must score 1). The reference is `opts.holdout` against `real`, else one record-split half of `real` against the
 * other; null when that split leaves a half empty (a one-record trace), since there is then no reference.
 */
export function preparePrivacy(real: Table, opts: PrivacyOptions): PrivacyContext | null {
  const names = dcrFeatureNames(real.kind);
  const d = names.length;
  const realRecs = dcrRecords(real, opts.flowIndex);
  const scale = dcrScale(realRecs);
  const train = trainSide(real, realRecs, scale, d, opts.flowIndex);
  let source: HoldoutSource;
  let refTrain: TrainSide;
  let refSample: Table;
  if (opts.holdout) {
    source = 'holdout-file';
    refTrain = train;
    refSample = opts.holdout;
  } else {
    // The model saw every real record, so the reference must come from inside `real`: half of it, compared with
    // the other half (same feature scale as the synthetic side, so distances are comparable).
    source = 'record-split';
    const [a, b] = splitTables(real, splitByRecords(real, opts.seed + 7));
    if (a.length === 0 || b.length === 0) return null;
    refTrain = trainSide(a, dcrRecords(a), scale, d);
    refSample = b;
  }
  const refRecs = dcrRecords(refSample);
  const rows = Rng.forPurpose(opts.seed, 'privacy/dcr-sample/reference').sampleIndices(refRecs.n, opts.querySample ?? 2000);
  const holdoutDcr = dcrStats(refTrain.index.distances(queryMatrix(refRecs, rows, scale, d)), refTrain.index.size);
  return { source, train, scale, names, holdout: copyStats(refSample, refTrain), holdoutDcr, opts };
}

function queryMatrix(recs: DcrRecords, rows: Int32Array, scale: number[], d: number): Float64Array {
  const x = new Float64Array(rows.length * d);
  const row = new Float64Array(d);
  for (let r = 0; r < rows.length; r++) {
    dcrFeature(recs, rows[r]!, scale, row);
    x.set(row, r * d);
  }
  return x;
}

/** The copy shares of `syn` (all its 5-tuples and addresses) against the prepared training trace. */
export function copiesFor(ctx: PrivacyContext, syn: Table, flowIndex?: FlowIndex): CopyStats {
  return copyStats(syn, ctx.train, flowIndex);
}

/** Privacy checks of `syn` against a prepared training trace; `flowIndex` = indexFlows(syn) when the caller has it. */
export function privacyFor(ctx: PrivacyContext, syn: Table, flowIndex?: FlowIndex): PrivacyResult {
  const d = ctx.names.length;
  const synRecs = dcrRecords(syn, flowIndex);
  const rows = Rng.forPurpose(ctx.opts.seed, 'privacy/dcr-sample/synthetic').sampleIndices(synRecs.n, ctx.opts.querySample ?? 2000);
  const ds = dcrStats(ctx.train.index.distances(queryMatrix(synRecs, rows, ctx.scale, d)), ctx.train.index.size);
  const dh = ctx.holdoutDcr;
  return {
    holdoutSource: ctx.source,
    synthetic: copyStats(syn, ctx.train, flowIndex),
    holdout: ctx.holdout,
    dcr: { features: ctx.names, trainSample: ds.searched, synthetic: ds, holdout: dh, medianRatio: dh.median > 0 ? ds.median / dh.median : null },
  };
}

/** Privacy checks of `syn` against `real` (all records the model trained on); null when no reference exists. */
export function privacyChecks(real: Table, syn: Table, opts: PrivacyOptions): PrivacyResult | null {
  const ctx = preparePrivacy(real, opts);
  return ctx ? privacyFor(ctx, syn) : null;
}
