// NetShare's distributional metrics (spec §5.1, camera-ready eval/dist_metrics.py) plus the joint and temporal
// structure metrics this project adds. A trace is summarised once into a Profile; metrics compare two profiles.
import { Rng } from '../core/rng.js';
import { InputError } from '../errors.js';
import { recordTimes, type FlowTable, type PacketTable, type Table } from '../io/table.js';
import { flowAggregates, indexFlows, recordsByFlow, tupleColumns, type FlowAggregates, type FlowIndex } from './flows.js';
import { argsort, emdSorted, histogramInt, jsd, jsd2d, rankFrequency, rankJsd, sortedCopy, spearman, type JsVariant } from './stats.js';

export type MetricKind = 'jsd' | 'emd' | 'absdiff';
export type MetricFamily = 'marginal' | 'joint';

/** What a metric measures; `unit` is for EMDs (raw units, as NetShare). */
export interface MetricInfo {
  name: string;
  kind: MetricKind;
  family: MetricFamily;
  unit?: string;
  description: string;
  /**
   * A difference of two shares of flows: resolvable only to 1/n with n flows compared, so its floor is read as at least
   * that (evaluate-tables.ts resolvedFloor).
   */
  share?: true;
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
  { ...M('ttl_const_diff', 'absdiff', 'joint', '|share of multi-packet flows with constant TTL, real − synthetic|'), share: true },
  { ...M('tos_const_diff', 'absdiff', 'joint', '|share of multi-packet flows with constant ToS, real − synthetic|'), share: true },
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

/** Pairs (a[at(k)], b[at(k)]) for the sampled positions k of `idx`, `at` mapping a position to a row or flow. */
function pairs(a: Float64Array, b: Float64Array, idx: Int32Array, at: Int32Array | null): [Float64Array, Float64Array] {
  const x = new Float64Array(idx.length);
  const y = new Float64Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    const i = at ? at[idx[k]!]! : idx[k]!;
    x[k] = a[i]!;
    y[k] = b[i]!;
  }
  return [x, y];
}

const mapped = (a: ArrayLike<number>, n: number, f: (v: number) => number): Float64Array => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(a[i]!);
  return out;
};

/**
 * A continuous field of the trace, profiled as a sorted sample. `owner` says which flow each value belongs to
 * ('record': flowOf of the row; 'flow': the value is the flow's own; 'iat': iatFlow), so that a selection of whole
 * flows selects its values.
 */
interface Field {
  values: Float64Array;
  owner: 'record' | 'flow' | 'iat';
  relative: boolean;
  /** `values` sorted, and the flow each sorted value belongs to: built on the first large subset. */
  sorted?: { values: Float64Array; flow: Int32Array };
}

/**
 * One trace prepared for profiling, whole or any selection of its 5-tuple flows. The flow index, per-flow aggregates,
 * records grouped by flow and the continuous fields are computed once; `profile(flows)` then summarises the records of
 * those flows exactly as `profile(takeRows(table, theirRows))` would (same numbers, bit for bit), without re-hashing
 * 5-tuples or re-sorting fields from scratch: the floor draws many equal-size flow samples from one real trace.
 */
export class ProfileSource {
  readonly kind: Table['kind'];
  readonly records: number;
  readonly flowIndex: FlowIndex;
  private readonly agg: FlowAggregates;
  private readonly order: Int32Array;
  private readonly offsets: Int32Array;
  private readonly fields: Record<string, Field> = {};
  /** Inter-arrivals within flows (µs); flow f's are iat[offsets[f] − f .. offsets[f+1] − f − 1). */
  private readonly iatFlow: Int32Array;
  private readonly addr: [Uint32Array, Uint32Array];
  /** Dense ids of the source and destination addresses, for subset rank-frequencies (built on first use). */
  private addrIds?: { ids: [Int32Array, Int32Array]; distinct: [number, number] };
  /** The joint metrics' transformed columns, per flow (packets) or per record (NetFlow): [x, y] of pktByt, durSize. */
  private readonly joint: { pktByt: [Float64Array, Float64Array]; durSize: [Float64Array, Float64Array] };
  private readonly cap: number;
  private readonly seed: number;

  constructor(
    readonly table: Table,
    opts: ProfileOptions = {},
    flowIndex?: FlowIndex,
  ) {
    const t = table;
    const n = t.length;
    this.kind = t.kind;
    this.records = n;
    this.cap = opts.jointSample ?? 200_000;
    this.seed = opts.seed ?? 1;
    const idx = flowIndex ?? indexFlows(t);
    this.flowIndex = idx;
    this.agg = flowAggregates(t, idx);
    const { order, offsets } = recordsByFlow(t, idx);
    this.order = order;
    this.offsets = offsets;
    const time = recordTimes(t);

    // Inter-arrivals within flows (µs), NetShare's interarrival_within_flow without the leading 0.
    const iat = new Float64Array(Math.max(0, n - idx.count));
    const iatFlow = new Int32Array(iat.length);
    let ni = 0;
    for (let f = 0; f < idx.count; f++) {
      for (let k = offsets[f]! + 1; k < offsets[f + 1]!; k++) {
        iatFlow[ni] = f;
        iat[ni++] = time[order[k]!]! - time[order[k - 1]!]!;
      }
    }
    this.iatFlow = iatFlow;
    const field = (values: Float64Array, owner: Field['owner'], relative = false): Field => ({ values, owner, relative });
    this.fields.flow_iat_emd = field(iat.subarray(0, ni), 'iat');
    if (t.kind === 'packets') {
      const p = t as PacketTable;
      this.fields.pkt_len = field(Float64Array.from(p.pktLen.subarray(0, n)), 'record');
      this.fields.time = field(p.time.subarray(0, n), 'record', true);
      this.fields.flow_size = field(this.agg.records, 'flow');
      const k = idx.count;
      const lp = mapped(this.agg.packets, k, Math.log1p);
      this.joint = {
        pktByt: [lp, mapped(this.agg.bytes, k, Math.log1p)],
        durSize: [mapped(this.agg.duration, k, (us) => Math.log1p(us / 1000)), lp],
      };
    } else {
      const fl = t as FlowTable;
      const pkt = new Float64Array(n);
      const byt = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        pkt[i] = Math.round(fl.pkt[i]!);
        byt[i] = Math.round(fl.byt[i]!);
      }
      const lp = mapped(pkt, n, Math.log1p);
      this.joint = {
        pktByt: [lp, mapped(byt, n, Math.log1p)],
        durSize: [mapped(fl.td, n, (sec) => Math.log1p(sec * 1000)), lp],
      };
      this.fields.ts = field(fl.ts.subarray(0, n), 'record', true);
      this.fields.td = field(fl.td.subarray(0, n), 'record');
      this.fields.pkt = field(pkt, 'record');
      this.fields.byt = field(byt, 'record');
      this.fields.records_per_5tuple_emd = field(this.agg.records, 'flow');
    }
    // IPv6 rows carry 0 in the uint32 columns: rank their (folded) 16-byte addresses instead.
    const hasV6 = t.srcIp6 !== undefined && t.ipVersion !== undefined && t.ipVersion.subarray(0, n).includes(6);
    const words = hasV6 ? tupleColumns(t) : null;
    this.addr = words ? [words[0], words[1]] : [t.srcIp.subarray(0, n), t.dstIp.subarray(0, n)];
  }

  /** Number of 5-tuple flows. */
  get flows(): number {
    return this.flowIndex.count;
  }

  /** Time of each flow's first record (packet time or flow start, µs). */
  flowStarts(): Float64Array {
    const time = recordTimes(this.table);
    const out = new Float64Array(this.flowIndex.count);
    for (let f = 0; f < out.length; f++) out[f] = time[this.order[this.offsets[f]!]!]!;
    return out;
  }

  /**
   * Summarise the whole trace, or only the records of `flows` (flow ids of `flowIndex`; whole flows, so no flow is
   * cut). The result equals `profile(takeRows(table, rows of those flows in table order))`.
   */
  profile(flows?: ArrayLike<number>): Profile {
    const t = this.table;
    const idx = this.flowIndex;
    const n = t.length;
    let sel: Int32Array | null = null; // selected flow ids, ascending
    let mask: Uint8Array | null = null;
    let rows: Int32Array | null = null; // selected rows, ascending
    if (flows !== undefined) {
      mask = new Uint8Array(idx.count);
      for (let k = 0; k < flows.length; k++) mask[flows[k]!] = 1;
      let nf = 0;
      for (let f = 0; f < idx.count; f++) nf += mask[f]!;
      sel = new Int32Array(nf);
      nf = 0;
      let nr = 0;
      for (let f = 0; f < idx.count; f++) {
        if (mask[f]) {
          sel[nf++] = f;
          nr += this.offsets[f + 1]! - this.offsets[f]!;
        }
      }
      rows = new Int32Array(nr);
      nr = 0;
      const flowOf = idx.flowOf;
      for (let i = 0; i < n; i++) if (mask[flowOf[i]!]) rows[nr++] = i;
    }
    const nFlows = sel ? sel.length : idx.count;
    const nRows = rows ? rows.length : n;
    const flowAt = (k: number): number => (sel ? sel[k]! : k);

    const sorted: Record<string, Float64Array> = {};
    for (const [name, f] of Object.entries(this.fields)) {
      const count = f.owner === 'record' ? nRows : f.owner === 'flow' ? nFlows : nRows - nFlows;
      const s = mask && sel && rows ? this.sortedSubset(f, mask, sel, rows, count) : sortedCopy(f.values);
      if (f.relative && s.length > 0) {
        const t0 = s[0]!;
        for (let i = 0; i < s.length; i++) s[i]! -= t0;
      }
      sorted[name] = s;
    }

    let pktByt: [Float64Array, Float64Array];
    let durSize: [Float64Array, Float64Array];
    let ttlConst: number | null = null;
    let tosConst: number | null = null;
    let flagTokens: Map<string, number> | null = null;
    const { order, offsets } = this;

    if (t.kind === 'packets') {
      const p = t as PacketTable;
      const fi = sampleIdx(nFlows, this.cap, this.seed);
      pktByt = pairs(this.joint.pktByt[0], this.joint.pktByt[1], fi, sel);
      durSize = pairs(this.joint.durSize[0], this.joint.durSize[1], fi, sel);
      // Header consistency within multi-packet flows.
      let multi = 0;
      let ttlSame = 0;
      let tosSame = 0;
      const tokens = new Map<string, number>();
      for (let k = 0; k < nFlows; k++) {
        const f = flowAt(k);
        const a = offsets[f]!;
        const b = offsets[f + 1]!;
        const r0 = order[a]!;
        if (b - a >= 2) {
          multi++;
          let ttlOk = true;
          let tosOk = true;
          for (let j = a + 1; j < b; j++) {
            const r = order[j]!;
            if (p.ttl[r] !== p.ttl[r0]) ttlOk = false;
            if (p.tos[r] !== p.tos[r0]) tosOk = false;
          }
          if (ttlOk) ttlSame++;
          if (tosOk) tosSame++;
        }
        if (p.proto[r0] === 6) {
          let tok = '';
          for (let j = a; j < Math.min(b, a + 3); j++) tok += `${j > a ? '-' : ''}${p.tcpFlags[order[j]!]!}`;
          tokens.set(tok, (tokens.get(tok) ?? 0) + 1);
        }
      }
      ttlConst = multi > 0 ? ttlSame / multi : null;
      tosConst = multi > 0 ? tosSame / multi : null;
      flagTokens = tokens.size > 0 ? tokens : null;
    } else {
      const fl = t as FlowTable;
      const ri = sampleIdx(nRows, this.cap, this.seed);
      pktByt = pairs(this.joint.pktByt[0], this.joint.pktByt[1], ri, rows);
      durSize = pairs(this.joint.durSize[0], this.joint.durSize[1], ri, rows);
      if (fl.tcpFlags) {
        // Count flag values (a byte) and keep their first-appearance order, the order a Map keyed on them would have.
        const flags = fl.tcpFlags;
        const counts = new Float64Array(256);
        const seen: number[] = [];
        for (let k = 0; k < nRows; k++) {
          const i = rows ? rows[k]! : k;
          if (fl.proto[i] !== 6) continue;
          const v = flags[i]!;
          if (counts[v]!++ === 0) seen.push(v);
        }
        const tokens = new Map<string, number>();
        for (const v of seen) tokens.set(String(v), counts[v]!);
        flagTokens = tokens.size > 0 ? tokens : null;
      }
    }

    const hist = (col: Uint8Array | Uint16Array, bins: number): Float64Array => {
      if (!rows) return histogramInt(col.subarray(0, n), bins);
      const h = new Float64Array(bins);
      for (let k = 0; k < rows.length; k++) {
        let v = Math.round(col[rows[k]!]!);
        if (v < 0) v = 0;
        else if (v >= bins) v = bins - 1;
        h[v]! += 1;
      }
      return h;
    };
    return {
      kind: t.kind,
      records: nRows,
      flows: nFlows,
      srcipRank: rows ? this.subsetRank(0, rows) : rankFrequency(this.addr[0]),
      dstipRank: rows ? this.subsetRank(1, rows) : rankFrequency(this.addr[1]),
      srcport: hist(t.srcPort, 65536),
      dstport: hist(t.dstPort, 65536),
      proto: hist(t.proto, 256),
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

  /**
   * The sorted values of a field over the selected flows. Small selections gather and sort; large ones walk the
   * field's (cached) argsort and keep the selected values, which is linear and needs no sort per selection.
   */
  private sortedSubset(f: Field, mask: Uint8Array, sel: Int32Array, rows: Int32Array, count: number): Float64Array {
    const v = f.values;
    const out = new Float64Array(count);
    let k = 0;
    if (count * 6 < v.length) {
      if (f.owner === 'record') for (let j = 0; j < rows.length; j++) out[k++] = v[rows[j]!]!;
      else if (f.owner === 'flow') for (let j = 0; j < sel.length; j++) out[k++] = v[sel[j]!]!;
      else {
        for (let j = 0; j < sel.length; j++) {
          const fl = sel[j]!;
          for (let i = this.offsets[fl]! - fl; i < this.offsets[fl + 1]! - fl - 1; i++) out[k++] = v[i]!;
        }
      }
      return sortedCopy(out);
    }
    if (!f.sorted) {
      const ord = argsort(v);
      const owner = f.owner === 'record' ? this.flowIndex.flowOf : f.owner === 'iat' ? this.iatFlow : null;
      const values = new Float64Array(ord.length);
      const flow = new Int32Array(ord.length);
      for (let j = 0; j < ord.length; j++) {
        const i = ord[j]!;
        values[j] = v[i]!;
        flow[j] = owner ? owner[i]! : i;
      }
      f.sorted = { values, flow };
    }
    // Sequential reads; only the selection mask (a byte per flow) is read at random.
    const { values, flow } = f.sorted;
    for (let j = 0; j < values.length; j++) if (mask[flow[j]!]) out[k++] = values[j]!;
    return out;
  }

  /** Popularity-rank distribution of source (0) or destination (1) addresses over `rows`. */
  private subsetRank(side: 0 | 1, rows: Int32Array): Float64Array {
    if (!this.addrIds) {
      const a = denseIds(this.addr[0]);
      const b = denseIds(this.addr[1]);
      this.addrIds = { ids: [a.ids, b.ids], distinct: [a.distinct, b.distinct] };
    }
    const ids = this.addrIds.ids[side];
    const counts = new Int32Array(this.addrIds.distinct[side]);
    let d = 0;
    for (let k = 0; k < rows.length; k++) if (counts[ids[rows[k]!]!]!++ === 0) d++;
    const out = new Float64Array(d);
    let j = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) out[j++] = counts[i]!;
    return out.sort().reverse();
  }
}

/** Dense ids 0..distinct−1 of uint32 values (open addressing). */
function denseIds(values: Uint32Array): { ids: Int32Array; distinct: number } {
  const n = values.length;
  let cap = 16;
  while (cap < n * 2) cap <<= 1;
  const mask = cap - 1;
  const keys = new Uint32Array(cap);
  const slotId = new Int32Array(cap).fill(-1);
  const ids = new Int32Array(n);
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    let h = Math.imul(v, 0x9e3779b1);
    h = (h ^ (h >>> 15)) & mask;
    while (slotId[h] !== -1 && keys[h] !== v) h = (h + 1) & mask;
    if (slotId[h] === -1) {
      keys[h] = v;
      slotId[h] = distinct++;
    }
    ids[i] = slotId[h]!;
  }
  return { ids, distinct };
}

/** Summarise one trace. The table must be validated (see validateTable). */
export function profile(t: Table, opts: ProfileOptions = {}, flowIndex?: FlowIndex): Profile {
  return new ProfileSource(t, opts, flowIndex).profile();
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
