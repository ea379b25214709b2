// Privacy checks: how much of the synthetic trace is copied verbatim from the training trace (5-tuples, IP
// addresses), and distance to the closest training record (DCR) of synthetic records vs real holdout records.
import type { Table } from '../io/table.js';
import { TupleSet } from './flows.js';
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
  const seen = new TupleSet(Math.min(other.length, 1 << 20));
  let copied = 0;
  for (let i = 0; i < other.length; i++) if (seen.add(other, i) && trainTuples.has(other, i)) copied++;
  const ips = ipSet(other);
  let ipCopied = 0;
  for (let i = 0; i < ips.length; i++) if (hasSorted(trainIps, ips[i]!)) ipCopied++;
  return { tuples: seen.size, tuplesCopied: seen.size ? copied / seen.size : 0, ips: ips.length, ipsCopied: ips.length ? ipCopied / ips.length : 0 };
}

/** Feature names of the DCR space; every feature is scaled to [0, 1]. */
export function dcrFeatureNames(kind: Table['kind']): string[] {
  const base = ['sip0', 'sip1', 'sip2', 'sip3', 'dip0', 'dip1', 'dip2', 'dip3', 'srcport', 'dstport', 'proto'];
  return kind === 'packets' ? [...base, 'log_pkt_len', 'ttl', 'tos'] : [...base, 'log_td', 'log_pkt', 'log_byt'];
}

/** Normalised feature vectors: octets/255, ports/65535, proto/255, log1p sizes over log1p of the training max. */
function dcrFeatures(t: Table, rows: Int32Array, scale: number[]): Float64Array {
  const d = dcrFeatureNames(t.kind).length;
  const x = new Float64Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const s = t.srcIp[i]!;
    const dd = t.dstIp[i]!;
    const v = [s >>> 24, (s >>> 16) & 255, (s >>> 8) & 255, s & 255, dd >>> 24, (dd >>> 16) & 255, (dd >>> 8) & 255, dd & 255].map((o) => o / 255);
    v.push(t.srcPort[i]! / 65535, t.dstPort[i]! / 65535, t.proto[i]! / 255);
    if (t.kind === 'packets') v.push(Math.log1p(t.pktLen[i]!) / scale[0]!, t.ttl[i]! / 255, t.tos[i]! / 255);
    else v.push(Math.log1p(Math.max(0, t.td[i]!)) / scale[0]!, Math.log1p(Math.max(0, t.pkt[i]!)) / scale[1]!, Math.log1p(Math.max(0, t.byt[i]!)) / scale[2]!);
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
  const tuples = new TupleSet(Math.min(train.length, 1 << 20));
  for (let i = 0; i < train.length; i++) tuples.add(train, i);
  const ips = ipSet(train);
  const r = rng(opts.seed ^ 0xdc4);
  const scale: number[] = [];
  if (train.kind === 'packets') {
    let mx = 0;
    for (let i = 0; i < train.length; i++) mx = Math.max(mx, train.pktLen[i]!);
    scale.push(Math.log1p(mx) || 1);
  } else {
    for (const col of [train.td, train.pkt, train.byt]) {
      let mx = 0;
      for (let i = 0; i < train.length; i++) mx = Math.max(mx, col[i]!);
      scale.push(Math.log1p(mx) || 1);
    }
  }
  const names = dcrFeatureNames(train.kind);
  const tr = sample(train.length, opts.trainSample ?? 5000, r);
  const ref = dcrFeatures(train, tr, scale);
  const qh = sample(holdout.length, opts.querySample ?? 1000, r);
  const holdoutDcr = dcrStats(nearest(dcrFeatures(holdout, qh, scale), qh.length, ref, tr.length, names.length));
  return { source, tuples, ips, scale, names, trainRows: tr.length, ref, holdout: copyStats(holdout, tuples, ips), holdoutDcr, opts };
}

/** Privacy checks of `syn` against a prepared training trace. */
export function privacyFor(ctx: PrivacyContext, syn: Table): PrivacyResult {
  const r = rng(ctx.opts.seed ^ 0x5d4);
  const qs = sample(syn.length, ctx.opts.querySample ?? 1000, r);
  const ds = dcrStats(nearest(dcrFeatures(syn, qs, ctx.scale), qs.length, ctx.ref, ctx.trainRows, ctx.names.length));
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
