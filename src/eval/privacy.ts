// Privacy checks: how much of the synthetic trace is copied verbatim from the training trace (5-tuples, IP
// addresses), and distance to the closest training record (DCR) of synthetic records vs real holdout records.
import type { Table } from '../io/table.js';
import { TupleSet, flowAggregates, indexFlows } from './flows.js';
import { rng } from './stats.js';

export interface CopyStats {
  /** Distinct 5-tuples of the compared side. */
  tuples: number;
  /** Share of those also present in the training trace. */
  tuplesCopied: number;
  /** Distinct IPv4 addresses (src ∪ dst) of the compared side. */
  ips: number;
  /** Share of those also present (as src or dst) in the training trace. */
  ipsCopied: number;
}

export interface DcrStats {
  sampled: number;
  median: number;
  p05: number;
  /** Share of sampled records at distance 0 (an identical feature vector exists in the training sample). */
  exact: number;
}

export interface PrivacyResult {
  /** 'holdout-file' when a holdout trace was given, else 'record-split' (training = a random half of the real records). */
  holdoutSource: 'holdout-file' | 'record-split';
  synthetic: CopyStats;
  /** The same statistics for real holdout records: what an independent real sample shares by chance. */
  holdout: CopyStats;
  dcr: { features: string[]; trainSample: number; synthetic: DcrStats; holdout: DcrStats; medianRatio: number | null };
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

function copyStats(other: Table, trainTuples: TupleSet, trainIps: Uint32Array): CopyStats {
  // One membership test per distinct 5-tuple (its first record).
  const idx = indexFlows(other);
  let copied = 0;
  for (let f = 0; f < idx.count; f++) if (trainTuples.has(other, idx.first[f]!)) copied++;
  const seen = { size: idx.count };
  const ips = ipSet(other);
  let ipCopied = 0;
  for (let i = 0; i < ips.length; i++) if (hasSorted(trainIps, ips[i]!)) ipCopied++;
  return { tuples: seen.size, tuplesCopied: seen.size ? copied / seen.size : 0, ips: ips.length, ipsCopied: ips.length ? ipCopied / ips.length : 0 };
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

function dcrRecords(t: Table): DcrRecords {
  if (t.kind === 'flows') {
    const header = Int32Array.from({ length: t.length }, (_, i) => i);
    return { t, n: t.length, header, sizes: [t.td, t.pkt, t.byt] };
  }
  const idx = indexFlows(t);
  const agg = flowAggregates(t, idx);
  return { t, n: idx.count, header: idx.first, sizes: [agg.packets, agg.bytes, agg.duration] };
}

function dcrFeatures(recs: DcrRecords, rows: Int32Array, scale: number[]): Float64Array {
  const t = recs.t;
  const d = dcrFeatureNames(t.kind).length;
  const x = new Float64Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const j = rows[r]!;
    const i = recs.header[j]!;
    const s = t.srcIp[i]!;
    const dd = t.dstIp[i]!;
    const v = [s >>> 24, (s >>> 16) & 255, (s >>> 8) & 255, s & 255, dd >>> 24, (dd >>> 16) & 255, (dd >>> 8) & 255, dd & 255].map((o) => o / 255);
    v.push(t.srcPort[i]! / 65535, t.dstPort[i]! / 65535, t.proto[i]! / 255);
    for (let k = 0; k < 3; k++) v.push(Math.log1p(Math.max(0, recs.sizes[k]![j]!)) / scale[k]!);
    if (t.kind === 'packets') v.push(t.ttl[i]! / 255, t.tos[i]! / 255);
    x.set(v, r * d);
  }
  return x;
}

function sample(n: number, k: number, r: () => number): Int32Array {
  if (n <= k) return Int32Array.from({ length: n }, (_, i) => i);
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.floor(r() * n);
  return out;
}

function nearest(q: Float64Array, nq: number, ref: Float64Array, nr: number, d: number): Float64Array {
  const out = new Float64Array(nq);
  for (let i = 0; i < nq; i++) {
    let best = Infinity;
    for (let j = 0; j < nr; j++) {
      let s = 0;
      for (let k = 0; k < d && s < best; k++) {
        const diff = q[i * d + k]! - ref[j * d + k]!;
        s += diff * diff;
      }
      if (s < best) best = s;
    }
    out[i] = Math.sqrt(best);
  }
  return out.sort();
}

function dcrStats(sorted: Float64Array): DcrStats {
  const n = sorted.length;
  const q = (p: number): number => (n ? sorted[Math.min(n - 1, Math.floor(p * (n - 1) + 0.5))]! : Number.NaN);
  let exact = 0;
  for (const v of sorted) if (v === 0) exact++;
  return { sampled: n, median: q(0.5), p05: q(0.05), exact: n ? exact / n : 0 };
}

export interface PrivacyOptions {
  seed: number;
  /** Training records sampled for DCR (default 5000). */
  trainSample?: number;
  /** Synthetic / holdout records sampled for DCR (default 1000 each). */
  querySample?: number;
}

/** The training-side structures of the privacy checks, built once for several synthetic traces. */
export interface PrivacyContext {
  source: PrivacyResult['holdoutSource'];
  tuples: TupleSet;
  ips: Uint32Array;
  scale: number[];
  names: string[];
  trainRows: number;
  ref: Float64Array;
  holdout: CopyStats;
  holdoutDcr: DcrStats;
  opts: PrivacyOptions;
}

export function preparePrivacy(train: Table, holdout: Table, source: PrivacyResult['holdoutSource'], opts: PrivacyOptions): PrivacyContext {
  const trainIdx = indexFlows(train);
  const tuples = new TupleSet(trainIdx.count);
  for (let f = 0; f < trainIdx.count; f++) tuples.add(train, trainIdx.first[f]!);
  const ips = ipSet(train);
  const r = rng(opts.seed ^ 0xdc4);
  const trainRecs = dcrRecords(train);
  const scale = trainRecs.sizes.map((col) => {
    let mx = 0;
    for (let i = 0; i < trainRecs.n; i++) mx = Math.max(mx, col[i]!);
    return Math.log1p(mx) || 1;
  });
  const names = dcrFeatureNames(train.kind);
  const tr = sample(trainRecs.n, opts.trainSample ?? 5000, r);
  const ref = dcrFeatures(trainRecs, tr, scale);
  const holdRecs = dcrRecords(holdout);
  const qh = sample(holdRecs.n, opts.querySample ?? 1000, r);
  const holdoutDcr = dcrStats(nearest(dcrFeatures(holdRecs, qh, scale), qh.length, ref, tr.length, names.length));
  return { source, tuples, ips, scale, names, trainRows: tr.length, ref, holdout: copyStats(holdout, tuples, ips), holdoutDcr, opts };
}

/** Privacy checks of `syn` against a prepared training trace. */
export function privacyFor(ctx: PrivacyContext, syn: Table): PrivacyResult {
  const r = rng(ctx.opts.seed ^ 0x5d4);
  const synRecs = dcrRecords(syn);
  const qs = sample(synRecs.n, ctx.opts.querySample ?? 1000, r);
  const ds = dcrStats(nearest(dcrFeatures(synRecs, qs, ctx.scale), qs.length, ctx.ref, ctx.trainRows, ctx.names.length));
  const dh = ctx.holdoutDcr;
  return {
    holdoutSource: ctx.source,
    synthetic: copyStats(syn, ctx.tuples, ctx.ips),
    holdout: ctx.holdout,
    dcr: { features: ctx.names, trainSample: ctx.trainRows, synthetic: ds, holdout: dh, medianRatio: dh.median > 0 ? ds.median / dh.median : null },
  };
}

/** Privacy checks of `syn` against the training trace `train`, with `holdout` as the real reference. */
export function privacyChecks(train: Table, holdout: Table, syn: Table, holdoutSource: PrivacyResult['holdoutSource'], opts: PrivacyOptions): PrivacyResult {
  return privacyFor(preparePrivacy(train, holdout, holdoutSource, opts), syn);
}
