// In-memory evaluation of a synthetic trace against a real one: metrics, floors, baselines, downstream tasks and
// privacy checks, returning the documented JSON result (schema in src/eval/README.md) and the report's chart data.
import { ConfigError, InputError, expected } from '../errors.js';
import type { Table } from '../io/table.js';
import { BASELINES, makeBaseline, type BaselineName } from './baselines.js';
import { classifySynthetic, heavyHitterTask, prepareClassification, type ClassificationResult, type HeavyHitterResult } from './downstream.js';
import { indexFlows, type FlowIndex } from './flows.js';
import { heavyHitterErrors, sketchWeights } from './sketches.js';
import { compareProfiles, metricsFor, NETSHARE_METRICS, profile, ProfileSource, type MetricInfo, type Profile } from './fidelity.js';
import { DEFAULT_FLOOR_SPLITS, median, type Spread } from './floor.js';
import { compareAtEqualSize, type ComparisonPlan } from './comparison.js';
import { fcUnits, flowChronicleComparison, type FcMethodScore, type FcResult } from './flowchronicle.js';
import { copiesFor, preparePrivacy, privacyFor, type CopyStats, type PrivacyResult } from './privacy.js';
import { validateTable } from './rows.js';
import { takeRows } from '../io/rows.js';
import { Rng } from '../core/rng.js';
import { cdfPoints, normaliseAcross, type JsVariant } from './stats.js';

/**
 * 2: heavy-hitter rank ρ per memory size (rankSpearman = their mean), NetFlow sketches count packets.
 * 3: `metrics` and `floors` are means over K equal-size draws (see `comparison`), not one whole-trace comparison
 * and one half split; `metricsWhole` keeps the whole-trace comparison.
 */
export const EVAL_SCHEMA_VERSION = 3;

/** Min, max and sample standard deviation over the draws of a mean reported elsewhere. */
export interface Range {
  min: number;
  max: number;
  sd: number;
}

/** The headline: the median floor ratio over NetShare's own marginal metrics (NETSHARE_METRICS). */
export interface Headline {
  statistic: 'median';
  metrics: readonly string[];
  split: 'flows';
}

export interface MethodResult {
  /** 'synthetic', or 'baseline:marginals' / 'baseline:bootstrap'. */
  name: string;
  records: number;
  flows: number;
  /** Each metric against a real sample of the comparison size, mean over the K flow-split draws. */
  metrics: Record<string, number | null>;
  /** Min and max of `metrics` over the draws. */
  metricsSpread: Record<string, Range | null>;
  /** Each metric against the whole real trace, at the inputs' own sizes (NetShare's paper code compares so). */
  metricsWhole: Record<string, number | null>;
  /** Flows of this method in each draw (the comparison size, or all its flows when it has fewer). */
  comparedFlows: number;
  /** Median of `ratios` over the headline metrics (EvalResult.headline); null when none is defined. */
  headline: number | null;
  /** metric / floor (random-flow split); null when the floor is 0 or a side is undefined. */
  ratios: Record<string, number | null>;
  /** metric / time-split floor. */
  ratiosTime: Record<string, number | null>;
  /** EMD metrics mapped to [0.1, 0.9] across the compared methods (the papers' plot normalisation). */
  emdNormalised: Record<string, number | null>;
  downstream?: { classification: ClassificationResult; heavyHitters: HeavyHitterResult };
  privacy?: PrivacyResult;
  /** FlowChronicle's scale-free numbers against the test side of EvalResult.flowChronicle, and their ratio to it. */
  flowChronicle?: FcMethodScore;
  /**
   * Only with a holdout: every metric against the held-out real records instead of `real` (`metrics`), and its
   * ratio to `EvalResult.generalisation.floor` (how far the training records themselves are from the holdout).
   */
  generalisation?: { metrics: Record<string, number | null>; ratios: Record<string, number | null> };
}

export interface EvalResult {
  schemaVersion: number;
  kind: Table['kind'];
  seed: number;
  jsVariant: JsVariant;
  inputs: {
    real: { file?: string; records: number; flows: number };
    synthetic: {
      file?: string;
      records: number;
      flows: number;
      /**
       * Present when the synthetic trace had more flows than `maxSyntheticFlows`: the seeded sample of whole flows
       * every metric, floor comparison, downstream task and DCR was computed on (methods[0].records / flows are its
       * size). The copy shares (privacy.synthetic) are still over every synthetic flow and address.
       */
      evaluated?: { records: number; flows: number };
    };
    holdout?: { file?: string; records: number };
  };
  metricInfo: MetricInfo[];
  /** What the headline number (methods[i].headline) is. */
  headline: Headline;
  /** How the metrics and floors were drawn: sample size (flows), K splits, which floor the ratios use. */
  comparison: ComparisonPlan;
  /** Mean over the draws of each metric between two disjoint real samples of the comparison size. */
  floors: { flows: Record<string, number | null>; time: Record<string, number | null> };
  /** Min and max of the floors over the draws. */
  floorSpread: { flows: Record<string, Range | null>; time: Record<string, Range | null> };
  /** FlowChronicle's comparison (absent when a side has no unit). */
  flowChronicle?: FcResult;
  /**
   * Only with a holdout: every metric between `real` (the training records) and the held-out records. It is the
   * floor of each method's `generalisation` column: ratio 1 = as close to unseen real traffic as the training data is.
   */
  generalisation?: { floor: Record<string, number | null> };
  methods: MethodResult[];
  timings: Record<string, number>;
}

export interface ChartSeries {
  name: string;
  points: [number, number][];
}
export interface ChartData {
  cdfs: { field: string; unit?: string; logX: boolean; series: ChartSeries[] }[];
  rankFreq: { field: string; series: ChartSeries[] }[];
  bars: { field: string; categories: string[]; series: { name: string; values: number[] }[] }[];
}

export interface EvaluateOptions {
  seed?: number;
  baselines?: readonly string[];
  jsVariant?: JsVariant;
  /** Random flow splits the floor and the metrics average over (K); default DEFAULT_FLOOR_SPLITS. */
  floorSplits?: number;
  /**
   * A real trace never used for training (`real` is then the training data). It is the privacy reference, compared
   * with `real`; the real test set of the classification task (trained on all of `real` or on the synthetic trace);
   * and the reference of the `generalisation` column. Absent: the privacy reference is a seeded random half of the
   * real records compared with the other half, the classification tests on a random half of the real 5-tuples, and
   * there is no generalisation column. Synthetic copying is always measured against all of `real`.
   */
  holdout?: Table;
  downstream?: boolean;
  privacy?: boolean;
  files?: { real?: string; synthetic?: string; holdout?: string };
  onStage?: (stage: string) => void;
  /**
   * Synthetic flows evaluated at most: a larger synthetic trace is evaluated on a seeded sample of this many whole
   * flows (inputs.synthetic.evaluated), its copy shares on all of it. Default: max(SYNTHETIC_EVAL_FLOWS, 2 × real
   * flows), so the equal-size comparisons (at most half the real flows a side) never see the sample's limit. 0: all.
   */
  maxSyntheticFlows?: number;
}

/**
 * Synthetic flows evaluated at least before a larger trace is sampled (EvaluateOptions.maxSyntheticFlows): a
 * `--flows 10000000` trace evaluated whole held 3.6 GB (the table, its per-record profile arrays, FlowChronicle's
 * units); on 2M flows its metrics move by far less than their spread over the floor's draws.
 */
export const SYNTHETIC_EVAL_FLOWS = 2_000_000;

/** The synthetic flows evaluateTables keeps (all when 0 or not fewer than the trace has). */
export function syntheticFlowCap(realFlows: number, maxSyntheticFlows?: number): number {
  if (maxSyntheticFlows === 0) return Infinity;
  return maxSyntheticFlows ?? Math.max(SYNTHETIC_EVAL_FLOWS, 2 * realFlows);
}

/** The records of `keep` whole flows of `t` (a seeded sample; records in table order). */
export function sampleWholeFlows<T extends Table>(t: T, idx: FlowIndex, keep: number, seed: number): T {
  const chosen = new Uint8Array(idx.count);
  for (const f of Rng.forPurpose(seed, 'evaluate/synthetic-flows').sampleIndices(idx.count, keep)) chosen[f] = 1;
  let n = 0;
  for (let i = 0; i < t.length; i++) if (chosen[idx.flowOf[i]!]) n++;
  const rows = new Uint32Array(n);
  n = 0;
  for (let i = 0; i < t.length; i++) if (chosen[idx.flowOf[i]!]) rows[n++] = i;
  return takeRows(t, rows);
}

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 4: 'IPIP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 46: 'RSVP', 47: 'GRE', 50: 'ESP', 58: 'ICMPv6', 255: 'Other' };

/** Metrics that are a difference of two shares of flows (MetricInfo.share: the TTL / ToS constancy metrics). */
const SHARE_METRICS = new Set([...metricsFor('packets'), ...metricsFor('flows')].filter((m) => m.share).map((m) => m.name));

/**
 * The floor a share metric is read against: at least 1/n when n flows a side are compared, the resolution of a share
 * of n flows (two real samples that agree exactly give a floor of 0, which would make one odd synthetic flow in
 * thousands an infinite ratio). Other metrics' floors as they are.
 */
export function resolvedFloor(metric: string, floor: number | null | undefined, flows: number): number | null | undefined {
  if (!SHARE_METRICS.has(metric) || floor === null || floor === undefined || !(flows > 0)) return floor;
  return Math.max(floor, 1 / flows);
}

/**
 * metric ÷ floor. A floor of exactly 0 (two real samples agree perfectly: e.g. every real flow keeps its TTL, so
 * ttl_const_diff is 0 between any two halves) gives 1 when the synthetic metric is 0 too and +Infinity when it is not
 * — never "n/a", which would hide the failure. null only when there is no floor or no metric.
 */
export function ratio(m: number | null | undefined, f: number | null | undefined): number | null {
  if (m === null || m === undefined || f === null || f === undefined || !(f >= 0)) return null;
  if (f === 0) return m <= 1e-12 ? 1 : Infinity;
  return m / f;
}

function rankPoints(rank: Float64Array, maxPoints = 120): [number, number][] {
  let total = 0;
  for (const c of rank) total += c;
  const out: [number, number][] = [];
  let last = -1;
  for (let t = 0; t < maxPoints; t++) {
    const r = Math.min(rank.length, Math.max(1, Math.round(Math.exp((Math.log(rank.length) * t) / Math.max(1, maxPoints - 1)))));
    if (r === last) continue;
    last = r;
    out.push([r, rank[r - 1]! / total]);
  }
  return out;
}

function topBars(field: string, profs: { name: string; p: Profile }[], pick: (p: Profile) => Float64Array, k: number, label: (v: number) => string): ChartData['bars'][number] {
  const real = pick(profs[0]!.p);
  const idx = Array.from(real.keys()).filter((v) => real[v]! > 0);
  idx.sort((a, b) => real[b]! - real[a]! || a - b);
  const top = idx.slice(0, k);
  return {
    field,
    categories: top.map(label),
    series: profs.map(({ name, p }) => {
      const h = pick(p);
      let s = 0;
      for (const c of h) s += c;
      return { name, values: top.map((v) => (s > 0 ? h[v]! / s : 0)) };
    }),
  };
}

/** Check the options that do not depend on the data (call before reading large inputs). Throws ConfigError. */
export function validateEvaluateOptions(opts: Pick<EvaluateOptions, 'seed' | 'jsVariant' | 'baselines' | 'floorSplits' | 'maxSyntheticFlows'>): void {
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ConfigError(expected('an integer in [0, 2^32)', 'seed', seed), 'seed');
  const variant = opts.jsVariant ?? 'divergence';
  if (variant !== 'divergence' && variant !== 'distance') throw new ConfigError(expected("'divergence' or 'distance'", 'jsVariant', variant), 'jsVariant');
  for (const b of opts.baselines ?? []) if (!BASELINES.includes(b as BaselineName)) throw new ConfigError(expected(`one of ${BASELINES.join(', ')}`, 'baseline', b), 'baseline');
  const k = opts.floorSplits ?? DEFAULT_FLOOR_SPLITS;
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new ConfigError(expected('an integer in [1, 100]', 'floorSplits', k), 'floorSplits');
  const m = opts.maxSyntheticFlows;
  if (m !== undefined && (!Number.isInteger(m) || m < 0 || (m > 0 && m < 1000))) throw new ConfigError(expected('0 (all) or an integer ≥ 1000', 'maxSyntheticFlows', m), 'maxSyntheticFlows');
}

/** Evaluate `syn` against `real` (and any requested baselines). Pure: no file access. */
export function evaluateTables(real: Table, syn: Table, opts: EvaluateOptions = {}): { result: EvalResult; charts: ChartData } {
  validateEvaluateOptions(opts);
  const seed = opts.seed ?? 1;
  const variant = opts.jsVariant ?? 'divergence';
  validateTable(real, opts.files?.real ?? 'real');
  validateTable(syn, opts.files?.synthetic ?? 'synthetic');
  if (real.kind !== syn.kind) {
    throw new InputError(
      `the real trace holds ${real.kind === 'packets' ? 'packets (pcap)' : 'flow records (NetFlow)'} but the synthetic trace holds ${syn.kind === 'packets' ? 'packets (pcap)' : 'flow records (NetFlow)'}; compare like with like`,
      opts.files?.synthetic,
    );
  }
  if (opts.holdout) {
    validateTable(opts.holdout, opts.files?.holdout ?? 'holdout');
    if (opts.holdout.kind !== real.kind) throw new InputError('the holdout trace is not of the same kind as the real trace', opts.files?.holdout);
  }
  const timings: Record<string, number> = {};
  const timed = <T>(stage: string, f: () => T): T => {
    opts.onStage?.(stage);
    const t0 = performance.now();
    const v = f();
    timings[stage] = (timings[stage] ?? 0) + (performance.now() - t0) / 1000;
    return v;
  };
  const popts = { seed };
  const floorSplits = opts.floorSplits ?? DEFAULT_FLOOR_SPLITS;
  const idxReal = timed('profile', () => indexFlows(real));
  // Copying is measured against every real record (the model trained on all of them); the reference rows come
  // from the holdout, else from a record split of the real trace (privacy.ts, HoldoutSource).
  const privacyCtx = opts.privacy === false ? null : timed('privacy', () => preparePrivacy(real, { seed, flowIndex: idxReal, ...(opts.holdout ? { holdout: opts.holdout } : {}) }));
  // a synthetic trace of more flows than the cap: its copy shares over all of it, everything else on a sample of
  // whole flows (the whole trace is not referenced past this point: the caller hands it over)
  const synAll = { records: syn.length, flows: 0 };
  let synIdx: FlowIndex | undefined = timed('profile', () => indexFlows(syn));
  synAll.flows = synIdx.count;
  let copiesAll: CopyStats | undefined;
  let sampled = false;
  const cap = syntheticFlowCap(idxReal.count, opts.maxSyntheticFlows);
  if (synIdx.count > cap) {
    const full = synIdx;
    if (privacyCtx) copiesAll = timed('privacy', () => copiesFor(privacyCtx, syn, full));
    syn = timed('profile', () => sampleWholeFlows(syn, full, cap, seed));
    synIdx = undefined;
    sampled = true;
  }
  const realSource = timed('profile', () => new ProfileSource(real, popts, idxReal));
  const pReal = timed('profile', () => realSource.profile());
  const sides: { name: string; table: Table }[] = [{ name: 'synthetic', table: syn }];
  for (const b of opts.baselines ?? []) sides.push({ name: `baseline:${b}`, table: timed(`baseline:${b}`, () => makeBaseline(b, real, seed)) });
  const sided = sides.map(({ name, table }, i) => {
    const idx = i === 0 && synIdx ? synIdx : timed('profile', () => indexFlows(table));
    const source = timed('profile', () => new ProfileSource(table, popts, idx));
    return { name, table, idx, source, whole: timed('profile', () => source.profile()) };
  });
  // Every method against real samples of one size, and the floor at that size (comparison.ts).
  const eq = timed('floor', () => compareAtEqualSize(realSource, sided, { seed, splits: floorSplits, variant }));
  const mean = (r: Record<string, { mean: number } | null>): Record<string, number | null> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ? v.mean : null]));
  const range = (r: Record<string, Spread | null>): Record<string, Range | null> =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ? { min: v.min, max: v.max, sd: v.sd } : null]));
  const floors = { flows: mean(eq.floors.flows), time: mean(eq.floors.time) };
  const fc = timed('flowchronicle', () =>
    flowChronicleComparison(
      fcUnits(real, idxReal),
      real.kind === 'flows' ? real.ts.subarray(0, real.length) : realSource.flowStarts(),
      sided.map((x) => ({ name: x.name, units: fcUnits(x.table, x.idx) })),
      { seed, draws: floorSplits, ...(opts.holdout ? { holdout: fcUnits(opts.holdout, indexFlows(opts.holdout)) } : {}) },
    ),
  );

  const clsCtx = opts.downstream === false ? null : timed('classification', () => prepareClassification(real, { seed, flowIndex: idxReal, ...(opts.holdout ? { test: opts.holdout } : {}) }));
  const hhReal = opts.downstream === false ? null : timed('heavy-hitters', () => heavyHitterErrors(idxReal, 100, undefined, sketchWeights(real)));
  // generalisation: the same metrics against records the model never saw, floored by the training records' distance
  const pHoldout = opts.holdout ? timed('generalisation', () => profile(opts.holdout!, popts)) : null;
  const genFloor = pHoldout ? timed('generalisation', () => compareProfiles(pHoldout, pReal, variant)) : null;

  const profs: { name: string; p: Profile }[] = [{ name: 'real', p: pReal }];
  const methods: MethodResult[] = sided.map(({ name, table, idx, whole: p }, i) => {
    profs.push({ name, p });
    const metricsWhole = timed('metrics', () => compareProfiles(pReal, p, variant));
    // No floor (a one-flow real trace): the whole-trace comparison stands in, with no ratio.
    const metrics = eq.plan.size > 0 ? mean(eq.sides[i]!.metrics) : metricsWhole;
    const ratios = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, ratio(v, resolvedFloor(k, floors.flows[k], eq.plan.size))]));
    const m: MethodResult = {
      name,
      records: table.length,
      flows: p.flows,
      headline: median(NETSHARE_METRICS[real.kind].map((k) => ratios[k])),
      metrics,
      metricsSpread: range(eq.sides[i]!.metrics),
      metricsWhole,
      comparedFlows: eq.sides[i]!.flows,
      ratios,
      ratiosTime: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, ratio(v, resolvedFloor(k, floors.time[k], eq.plan.size))])),
      emdNormalised: {},
      ...(fc ? { flowChronicle: fc.methods[i]! } : {}),
    };
    if (clsCtx && hhReal) {
      m.downstream = {
        classification: timed('classification', () => ('status' in clsCtx ? clsCtx : classifySynthetic(clsCtx, table))),
        heavyHitters: timed('heavy-hitters', () => heavyHitterTask(hhReal, table, 100, idx)),
      };
    }
    if (privacyCtx) {
      const pr = timed('privacy', () => privacyFor(privacyCtx, table, idx));
      m.privacy = i === 0 && copiesAll ? { ...pr, synthetic: copiesAll } : pr;
    }
    if (pHoldout && genFloor) {
      const g = timed('generalisation', () => compareProfiles(pHoldout, p, variant));
      m.generalisation = { metrics: g, ratios: Object.fromEntries(Object.entries(g).map(([k, v]) => [k, ratio(v, resolvedFloor(k, genFloor[k], pHoldout.flows))])) };
    }
    return m;
  });
  const info = metricsFor(real.kind);
  for (const mi of info.filter((x) => x.kind === 'emd')) {
    const norm = normaliseAcross(methods.map((m) => m.metrics[mi.name] ?? null));
    methods.forEach((m, i) => (m.emdNormalised[mi.name] = norm[i]!));
  }

  const charts: ChartData = timed('charts', () => ({
    cdfs: info
      .filter((mi) => mi.kind === 'emd')
      .map((mi) => {
        const series = profs.map(({ name, p }) => ({ name, points: cdfPoints(p.sorted[mi.name] ?? new Float64Array(0)) }));
        const all = profs.map(({ p }) => p.sorted[mi.name]).filter((s): s is Float64Array => s !== undefined && s.length > 0);
        const lo = Math.min(...all.map((s) => s[0]!));
        const hi = Math.max(...all.map((s) => s[s.length - 1]!));
        const logX = lo > 0 && hi / lo > 100;
        return { field: mi.name, ...(mi.unit ? { unit: mi.unit } : {}), logX, series };
      }),
    rankFreq: (['srcip', 'dstip'] as const).map((field) => ({
      field,
      series: profs.map(({ name, p }) => ({ name, points: rankPoints(field === 'srcip' ? p.srcipRank : p.dstipRank) })),
    })),
    bars: [
      topBars('srcport', profs, (p) => p.srcport, 10, String),
      topBars('dstport', profs, (p) => p.dstport, 10, String),
      topBars('proto', profs, (p) => p.proto, 8, (v) => PROTO_NAMES[v] ?? String(v)),
    ],
  }));

  const result: EvalResult = {
    schemaVersion: EVAL_SCHEMA_VERSION,
    kind: real.kind,
    seed,
    jsVariant: variant,
    inputs: {
      real: { ...(opts.files?.real ? { file: opts.files.real } : {}), records: real.length, flows: pReal.flows },
      synthetic: {
        ...(opts.files?.synthetic ? { file: opts.files.synthetic } : {}),
        records: synAll.records,
        flows: synAll.flows,
        ...(sampled ? { evaluated: { records: syn.length, flows: methods[0]!.flows } } : {}),
      },
      ...(opts.holdout ? { holdout: { ...(opts.files?.holdout ? { file: opts.files.holdout } : {}), records: opts.holdout.length } } : {}),
    },
    metricInfo: info,
    headline: { statistic: 'median', metrics: NETSHARE_METRICS[real.kind], split: 'flows' },
    comparison: eq.plan,
    floors,
    floorSpread: { flows: range(eq.floors.flows), time: range(eq.floors.time) },
    ...(fc ? { flowChronicle: fc.result } : {}),
    ...(genFloor ? { generalisation: { floor: genFloor } } : {}),
    methods,
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
  };
  return { result, charts };
}
