// NetShare's distributional metrics (spec §5.1, camera-ready eval/dist_metrics.py) plus the joint and temporal
// structure metrics this project adds. A trace is summarised once into a Profile; metrics compare two profiles.
import { Rng } from '../core/rng.js';
import { InputError } from '../errors.js';
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { flowAggregates, indexFlows, recordsByFlow, tupleColumns, type FlowIndex } from './flows.js';
import { emdSorted, histogramInt, jsd, jsd2d, rankFrequency, rankJsd, sortedCopy, spearman, type JsVariant } from './stats.js';

export type MetricKind = 'jsd' | 'emd' | 'absdiff';
export type MetricFamily = 'marginal' | 'joint';

/** What a metric measures; `unit` is for EMDs (raw units, as NetShare). */
export interface MetricInfo {
  name: string;
  kind: MetricKind;
  family: MetricFamily;
  unit?: string;
  description: string;
}

const M = (name: string, kind: MetricKind, family: MetricFamily, description: string, unit?: string): MetricInfo => ({
  name,
  kind,
  family,
  description,
  ...(unit ? { unit } : {}),
});

const COMMON_MARGINALS: MetricInfo[] = [
  M('srcip', 'jsd', 'marginal', 'JSD of source-IP popularity-rank distributions (counts sorted descending, zero-padded)'),
  M('dstip', 'jsd', 'marginal', 'JSD of destination-IP popularity-rank distributions'),
  M('srcport', 'jsd', 'marginal', 'JSD of exact source-port frequencies (65,536 bins)'),
  M('dstport', 'jsd', 'marginal', 'JSD of exact destination-port frequencies (65,536 bins)'),
  M('proto', 'jsd', 'marginal', 'JSD of IP protocol frequencies (256 bins)'),
];

const JOINT_COMMON: MetricInfo[] = [
  M('pkt_byt_jsd2d', 'jsd', 'joint', 'JSD of the 2-D histogram (20×20, real range) of (log1p packets, log1p bytes) per flow'),
  M('pkt_byt_spearman_diff', 'absdiff', 'joint', '|Spearman ρ(packets, bytes) real − synthetic| per flow'),
  M('dur_size_jsd2d', 'jsd', 'joint', 'JSD of the 2-D histogram of (log1p duration ms, log1p packets) per flow'),
  M('dur_size_spearman_diff', 'absdiff', 'joint', '|Spearman ρ(duration, packets) real − synthetic| per flow'),
  M('flow_iat_emd', 'emd', 'joint', 'EMD of inter-arrival times between consecutive records of the same 5-tuple', 'µs'),
];

/** Metrics reported for packet traces, in report order. */
export const PACKET_METRICS: MetricInfo[] = [
  ...COMMON_MARGINALS,
  M('pkt_len', 'emd', 'marginal', 'EMD of IP total length', 'bytes'),
  M('time', 'emd', 'marginal', 'EMD of packet time relative to the first packet', 'µs'),
  M('flow_size', 'emd', 'marginal', 'EMD of packets per 5-tuple', 'packets'),
  ...JOINT_COMMON,
  M('ttl_const_diff', 'absdiff', 'joint', '|share of multi-packet flows with constant TTL, real − synthetic|'),
  M('tos_const_diff', 'absdiff', 'joint', '|share of multi-packet flows with constant ToS, real − synthetic|'),
  M('tcp_flagseq_jsd', 'jsd', 'joint', 'JSD of TCP flag sequences of the first 3 packets of each TCP flow (exact sequences)'),
];

/** Metrics reported for NetFlow traces, in report order. */
export const FLOW_METRICS: MetricInfo[] = [
  ...COMMON_MARGINALS,
  M('ts', 'emd', 'marginal', 'EMD of flow start relative to the first record', 'µs'),
  M('td', 'emd', 'marginal', 'EMD of flow duration', 's'),
  M('pkt', 'emd', 'marginal', 'EMD of packets per record (rounded)', 'packets'),
  M('byt', 'emd', 'marginal', 'EMD of bytes per record (rounded)', 'bytes'),
  ...JOINT_COMMON,
  M('records_per_5tuple_emd', 'emd', 'joint', 'EMD of records per 5-tuple', 'records'),
  M('tcp_flags_jsd', 'jsd', 'joint', 'JSD of cumulative TCP flags of TCP records (256 bins); when both sides carry flags'),
];

export function metricsFor(kind: Table['kind']): MetricInfo[] {
  return kind === 'packets' ? PACKET_METRICS : FLOW_METRICS;
}

/**
 * NetShare's own metrics, the ones camera-ready `eval/dist_metrics.py` (`compute_metrics_*_v3`) computes and
 * `choose_best_model` ranks (spec §4.3, §5.1): the marginals, nine for NetFlow and eight for packets. The joint and
 * temporal metrics above are this project's.
 */
export const NETSHARE_METRICS: Readonly<Record<Table['kind'], readonly string[]>> = {
  flows: ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'ts', 'td', 'pkt', 'byt'],
  packets: ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'pkt_len', 'time', 'flow_size'],
};

/** Everything the metrics need from one trace, computed once. */
export interface Profile {
  kind: Table['kind'];
  records: number;
  flows: number;
  srcipRank: Float64Array;
  dstipRank: Float64Array;
  srcport: Float64Array;
  dstport: Float64Array;
  proto: Float64Array;
  /** Sorted samples of each continuous field (names as in the metric list). */
  sorted: Record<string, Float64Array>;
  /** Per-flow (packets) or per-record (NetFlow) joint samples, capped by `jointSample`. */
  pktByt: [Float64Array, Float64Array];
  durSize: [Float64Array, Float64Array];
  /** Spearman ρ of pktByt / durSize (NaN when a side is constant). */
  pktBytRho: number;
  durSizeRho: number;
  ttlConst: number | null;
  tosConst: number | null;
  /** Counts of categorical joint tokens (TCP flag sequences / flag sets); null when not present. */
  flagTokens: Map<string, number> | null;
}

export interface ProfileOptions {
  /** Cap on the flows used for Spearman/2-D metrics (seeded subsample). Default 200,000. */
  jointSample?: number;
  seed?: number;
}

function relativeSorted(t: Float64Array): Float64Array {
  const s = sortedCopy(t);
  const t0 = s[0]!;
  for (let i = 0; i < s.length; i++) s[i]! -= t0;
  return s;
}

function sampleIdx(n: number, cap: number, seed: number): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  if (n <= cap) return all;
  const r = Rng.forPurpose(seed, 'fidelity/pairs-sample');
  for (let i = 0; i < cap; i++) {
    const j = i + r.int(n - i);
    const tmp = all[i]!;
    all[i] = all[j]!;
    all[j] = tmp;
  }
  return all.slice(0, cap);
}

function pairs(a: Float64Array, b: Float64Array, idx: Int32Array, fa: (v: number) => number, fb: (v: number) => number): [Float64Array, Float64Array] {
  const x = new Float64Array(idx.length);
  const y = new Float64Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    x[k] = fa(a[idx[k]!]!);
    y[k] = fb(b[idx[k]!]!);
  }
  return [x, y];
}

/** Summarise one trace. The table must be validated (see validateTable). */
export function profile(t: Table, opts: ProfileOptions = {}, flowIndex?: FlowIndex): Profile {
  const cap = opts.jointSample ?? 200_000;
  const seed = opts.seed ?? 1;
  const idx = flowIndex ?? indexFlows(t);
  const agg = flowAggregates(t, idx);
  const { order, offsets } = recordsByFlow(t, idx);
  const time = recordTimes(t);

  // Inter-arrivals within flows (µs), NetShare's interarrival_within_flow without the leading 0.
  const iat = new Float64Array(Math.max(0, t.length - idx.count));
  let ni = 0;
  for (let f = 0; f < idx.count; f++) {
    for (let k = offsets[f]! + 1; k < offsets[f + 1]!; k++) iat[ni++] = time[order[k]!]! - time[order[k - 1]!]!;
  }
  const sorted: Record<string, Float64Array> = { flow_iat_emd: sortedCopy(iat.subarray(0, ni)) };

  const log1p = Math.log1p;
  const ms = (us: number): number => Math.log1p(us / 1000);
  let pktByt: [Float64Array, Float64Array];
  let durSize: [Float64Array, Float64Array];
  let ttlConst: number | null = null;
  let tosConst: number | null = null;
  let flagTokens: Map<string, number> | null = null;

  if (t.kind === 'packets') {
    const p = t as PacketTable;
    sorted.pkt_len = sortedCopy(p.pktLen);
    sorted.time = relativeSorted(p.time);
    sorted.flow_size = sortedCopy(agg.records);
    const fi = sampleIdx(idx.count, cap, seed);
    pktByt = pairs(agg.packets, agg.bytes, fi, log1p, log1p);
    durSize = pairs(agg.duration, agg.packets, fi, ms, log1p);
    // Header consistency within multi-packet flows.
    let multi = 0;
    let ttlSame = 0;
    let tosSame = 0;
    const tokens = new Map<string, number>();
    for (let f = 0; f < idx.count; f++) {
      const a = offsets[f]!;
      const b = offsets[f + 1]!;
      const r0 = order[a]!;
      if (b - a >= 2) {
        multi++;
        let ttlOk = true;
        let tosOk = true;
        for (let k = a + 1; k < b; k++) {
          const r = order[k]!;
          if (p.ttl[r] !== p.ttl[r0]) ttlOk = false;
          if (p.tos[r] !== p.tos[r0]) tosOk = false;
        }
        if (ttlOk) ttlSame++;
        if (tosOk) tosSame++;
      }
      if (p.proto[r0] === 6) {
        let tok = '';
        for (let k = a; k < Math.min(b, a + 3); k++) tok += `${k > a ? '-' : ''}${p.tcpFlags[order[k]!]!}`;
        tokens.set(tok, (tokens.get(tok) ?? 0) + 1);
      }
    }
    ttlConst = multi > 0 ? ttlSame / multi : null;
    tosConst = multi > 0 ? tosSame / multi : null;
    flagTokens = tokens.size > 0 ? tokens : null;
  } else {
    const fl = t as FlowTable;
    sorted.ts = relativeSorted(fl.ts);
    sorted.td = sortedCopy(fl.td);
    const pkt = new Float64Array(fl.length);
    const byt = new Float64Array(fl.length);
    for (let i = 0; i < fl.length; i++) {
      pkt[i] = Math.round(fl.pkt[i]!);
      byt[i] = Math.round(fl.byt[i]!);
    }
    sorted.pkt = sortedCopy(pkt);
    sorted.byt = sortedCopy(byt);
    sorted.records_per_5tuple_emd = sortedCopy(agg.records);
    const ri = sampleIdx(fl.length, cap, seed);
    pktByt = pairs(pkt, byt, ri, log1p, log1p);
    durSize = pairs(fl.td, pkt, ri, (s) => Math.log1p(s * 1000), log1p);
    if (fl.tcpFlags) {
      const tokens = new Map<string, number>();
      for (let i = 0; i < fl.length; i++) {
        if (fl.proto[i] !== 6) continue;
        const k = String(fl.tcpFlags[i]);
        tokens.set(k, (tokens.get(k) ?? 0) + 1);
      }
      flagTokens = tokens.size > 0 ? tokens : null;
    }
  }

  // IPv6 rows carry 0 in the uint32 columns: rank their (folded) 16-byte addresses instead.
  const hasV6 = t.srcIp6 !== undefined && t.ipVersion !== undefined && t.ipVersion.includes(6);
  const addr = hasV6 ? tupleColumns(t) : [t.srcIp.subarray(0, t.length), t.dstIp.subarray(0, t.length)];
  return {
    kind: t.kind,
    records: t.length,
    flows: idx.count,
    srcipRank: rankFrequency(addr[0]),
    dstipRank: rankFrequency(addr[1]),
    srcport: histogramInt(t.srcPort, 65536),
    dstport: histogramInt(t.dstPort, 65536),
    proto: histogramInt(t.proto, 256),
    sorted,
    pktByt,
    durSize,
    pktBytRho: spearman(pktByt[0], pktByt[1]),
    durSizeRho: spearman(durSize[0], durSize[1]),
    ttlConst,
    tosConst,
    flagTokens,
  };
}

function tokenJsd(a: Map<string, number>, b: Map<string, number>, variant: JsVariant): number {
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return jsd(
    keys.map((k) => a.get(k) ?? 0),
    keys.map((k) => b.get(k) ?? 0),
    variant,
  );
}

function absDiff(a: number | null, b: number | null): number | null {
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.abs(a - b);
}

/**
 * Every metric of `real`'s kind between two profiles. A value is null when undefined for these inputs
 * (e.g. no multi-packet flows on a side, no inter-arrivals, no TCP flags); JSDs follow `variant`.
 */
export function compareProfiles(real: Profile, syn: Profile, variant: JsVariant = 'divergence'): Record<string, number | null> {
  if (real.kind !== syn.kind) {
    throw new InputError(`cannot compare a ${real.kind} trace with a ${syn.kind} trace: give both sides as pcap or both as NetFlow CSV`);
  }
  const out: Record<string, number | null> = {
    srcip: rankJsd(real.srcipRank, syn.srcipRank, variant),
    dstip: rankJsd(real.dstipRank, syn.dstipRank, variant),
    srcport: jsd(real.srcport, syn.srcport, variant),
    dstport: jsd(real.dstport, syn.dstport, variant),
    proto: jsd(real.proto, syn.proto, variant),
  };
  for (const m of metricsFor(real.kind)) {
    if (m.kind === 'emd') {
      const a = real.sorted[m.name];
      const b = syn.sorted[m.name];
      out[m.name] = a && b && a.length > 0 && b.length > 0 ? emdSorted(a, b) : null;
    }
  }
  const j2 = (a: [Float64Array, Float64Array], b: [Float64Array, Float64Array]): number | null =>
    a[0].length > 0 && b[0].length > 0 ? jsd2d(a[0], a[1], b[0], b[1], 20, variant) : null;
  out.pkt_byt_jsd2d = j2(real.pktByt, syn.pktByt);
  out.dur_size_jsd2d = j2(real.durSize, syn.durSize);
  out.pkt_byt_spearman_diff = absDiff(real.pktBytRho, syn.pktBytRho);
  out.dur_size_spearman_diff = absDiff(real.durSizeRho, syn.durSizeRho);
  const flagName = real.kind === 'packets' ? 'tcp_flagseq_jsd' : 'tcp_flags_jsd';
  out[flagName] = real.flagTokens && syn.flagTokens ? tokenJsd(real.flagTokens, syn.flagTokens, variant) : null;
  if (real.kind === 'packets') {
    out.ttl_const_diff = absDiff(real.ttlConst, syn.ttlConst);
    out.tos_const_diff = absDiff(real.tosConst, syn.tosConst);
  }
  return out;
}
