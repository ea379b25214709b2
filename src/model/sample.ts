// Sampling flows from a trained checkpoint (optionally conditioned on given attributes) and generator export.
import { ConfigError, InputError, InternalError, expected } from '../errors.js';
import { createSession, ort, type Device } from '../runtime/session.js';
import type { Checkpoint } from './checkpoint.js';
import { attributeGeneratorOnnx, featureSamplerOnnx, generatorOnnx, mustGet } from './graphs.js';
import { layoutWidth, type ModelLayout } from './layout.js';
import { applyStoppingRule, sampleStoppingRule } from './postprocess.js';
import { Rng } from '../core/rng.js';
import { checkpointMeta } from './train.js';
import type { ModelConfig } from './config.js';

export interface SampleOptions {
  /** A checkpoint written by trainChunk (read back with readCheckpoint). */
  checkpoint: Checkpoint;
  /** Flows to generate (ignored when givenAttributes is set: one flow per given row). */
  n?: number;
  seed?: number;
  /** Encoded attributes [rows, A] to condition on (spec §4.2: chunk merge; DoppelGANger issue #47). */
  givenAttributes?: Float32Array;
  device?: Device;
  threads?: number;
  /** Flows per session run (bounds memory; default 1000). */
  batchSize?: number;
  /**
   * Index of this sample's first flow in a larger one split into flow ranges (default 0; a multiple of batchSize).
   * The noise of flows [b·batchSize, (b+1)·batchSize) of the whole comes from its own stream b, so a range sampled on
   * its own equals the same rows of the whole sample, however the ranges are cut.
   */
  firstFlow?: number;
  /**
   * How a flow's end is read from its records' gen flags: `"argmax"` (default; NetShare, and the generator graph's own
   * mask) or `"sample"`, drawn from the flag's softmax (postprocess.stopFlag; sampleStoppingRule), from a stream per
   * batch of flows like the noise, so a flow range sampled on its own gives the same lengths.
   */
  stop?: 'argmax' | 'sample';
}

export interface SampleResult {
  n: number;
  layout: ModelLayout;
  /** [n, A]: generated soft attributes, or the given ones. */
  attributes: Float32Array;
  /** [n, A]: argmax one-hot for softmax fields (what conditioned the features). */
  attributesDiscrete: Float32Array;
  /** [n, T, F] without gen-flag dims, zero after each flow's end. */
  features: Float32Array;
  /** [n, T]: 1 for emitted records. */
  genFlags: Float32Array;
  /** Records per flow. */
  lengths: Int32Array;
}

interface Loaded {
  cfg: ModelConfig;
  layout: ModelLayout;
  weights: Map<string, Float32Array>;
}

function load(ck: Checkpoint): Loaded {
  const meta = checkpointMeta(ck, ck.location);
  const weights = new Map<string, Float32Array>();
  for (const [k, t] of ck.tensors) weights.set(k, t.data);
  return { cfg: meta.config, layout: meta.layout, weights };
}

/** Draws `n` flows (attributes + features) with the gen-flag stopping rule applied. */
export async function sample(opts: SampleOptions): Promise<SampleResult> {
  const { cfg, layout, weights } = load(opts.checkpoint);
  const A = layoutWidth(layout.attributes);
  const F = layoutWidth(layout.features);
  const T = layout.maxLen;
  const S = T / cfg.sampleLen;
  const U = cfg.lstmUnits;
  const given = opts.givenAttributes;
  if (given && given.length % A !== 0) throw new InputError(expected(`a multiple of ${A} values (rows × attribute width)`, 'givenAttributes', given.length));
  const n = given ? given.length / A : opts.n ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(expected('a non-negative integer', 'n', n), 'n');
  const batch = opts.batchSize ?? 1000;
  const session = await createSession(generatorOnnx(cfg, layout, weights), {
    device: opts.device ?? 'cpu',
    ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}),
  });
  const seed = opts.seed ?? 0;
  const first = opts.firstFlow ?? 0;
  if (!Number.isInteger(first) || first < 0 || first % batch !== 0) throw new ConfigError(expected(`a non-negative multiple of the batch size ${batch}`, 'firstFlow', first), 'firstFlow');
  const attributes = new Float32Array(n * A);
  const attributesDiscrete = new Float32Array(n * A);
  const features = new Float32Array(n * T * F);
  const genFlags = new Float32Array(n * T);
  const lengths = new Int32Array(n);
  try {
    for (let at = 0; at < n; at += batch) {
      const m = Math.min(batch, n - at);
      const b = (first + at) / batch;
      const zRng = Rng.forPurpose(seed, `sample/noise/z/${b}`);
      const stateRng = Rng.forPurpose(seed, `sample/noise/lstm-state/${b}`);
      const t = (data: Float32Array, shape: number[]): ort.Tensor => new ort.Tensor('float32', data, shape);
      const feeds = {
        z_attr: t(zRng.normals(m * cfg.attributeNoiseDim), [m, cfg.attributeNoiseDim]),
        z_feat: t(zRng.normals(m * S * cfg.featureNoiseDim), [m, S, cfg.featureNoiseDim]),
        h0: t(stateRng.normals(m * U), [m, U]),
        c0: t(stateRng.normals(m * U), [m, U]),
        given_attr: t(given ? given.slice(at * A, (at + m) * A) : new Float32Array(m * A), [m, A]),
        use_given: t(new Float32Array(m).fill(given ? 1 : 0), [m, 1]),
      };
      const out = await session.run(feeds);
      attributes.set(out['attributes']!.data as Float32Array, at * A);
      attributesDiscrete.set(out['attributes_discrete']!.data as Float32Array, at * A);
      // Stopping rule per batch (no [n, T, F + 2] buffer for the whole sample).
      const raw = out['features']!.data as Float32Array;
      let stopped;
      if (opts.stop === 'sample') {
        const draws = Rng.forPurpose(seed, `sample/stop/${b}`).uniforms(m * T);
        stopped = sampleStoppingRule(raw, m, T, F, (i, t) => draws[i * T + t]!);
      } else {
        stopped = applyStoppingRule(raw, m, T, F);
        const graphMask = out['gen_flags']!.data as Float32Array;
        // The rule the training graphs apply in-graph and the TS rule must agree record for record.
        for (let i = 0; i < m * T; i++) {
          if (graphMask[i] !== stopped.genFlags[i]) throw new InternalError(`stopping rule mismatch at flow ${at + Math.floor(i / T)}, record ${i % T}`);
        }
      }
      features.set(stopped.features, at * T * F);
      genFlags.set(stopped.genFlags, at * T);
      lengths.set(stopped.lengths, at);
    }
  } finally {
    await session.release();
  }
  return { n, layout, attributes, attributesDiscrete, features, genFlags, lengths };
}

export interface FeatureSampleResult {
  n: number;
  layout: ModelLayout;
  /** [Σ lengths, F]: the emitted records, flow after flow, without gen-flag dims. */
  packedFeatures: Float32Array;
  /** Records per flow. */
  lengths: Uint32Array;
}

export type FeatureSampleOptions = Omit<SampleOptions, 'n' | 'givenAttributes'> & {
  givenAttributes: Float32Array;
  /**
   * With `stop: "sample"`: a shift δ_t of the "end" log-odds of every flow's record t ([T] values), so that record t
   * ends its flow with probability σ(logit(p_end) + δ_t) (calibrateEndHazards). Absent: p_end itself, computed as
   * sample() does.
   */
  endBias?: readonly number[];
  /**
   * The step-wise sampler's sessions for `checkpoint`, made beforehand (featureSamplerSessions) and kept by the caller
   * across calls (a worker running many feature jobs of one checkpoint); not released here. Absent: made and released
   * by the call.
   */
  sessions?: FeatureSamplerSessions;
};

/** The three onnxruntime sessions of the step-wise feature sampler (featureSamplerOnnx) for one checkpoint. */
export interface FeatureSamplerSessions {
  readonly checkpoint: Checkpoint;
  /** The projection graph, unless the caller projects (`project`). */
  readonly projection?: Awaited<ReturnType<typeof createSession>>;
  /** The caller's projection of attribute rows (featureSamplerSessions' `project`), instead of the graph. */
  readonly project?: AttributeProjection;
  readonly step: Awaited<ReturnType<typeof createSession>>;
  readonly heads: Awaited<ReturnType<typeof createSession>>;
  release(): Promise<void>;
}

/**
 * The feature generator's attribute projection, discreteOf(rows) · Wa + b ([m, A] → [m, 4U]: the first step's input
 * from the attributes, once per flow), as a function a caller may supply in place of the projection graph (the
 * pipeline's native one on the CPU: the rows are mostly one-hot, so a sparse product is a third of the dense MatMul's
 * time). It must compute what projectionInputs describes.
 */
export type AttributeProjection = (rows: Float32Array, m: number) => Float32Array;

/**
 * What the projection computes, for a caller that supplies its own (AttributeProjection): the attribute fields (the
 * softmax ones replaced by the one-hot of their arg-max, ties to the first: discreteOf), Wa [A, 4U] row-major and b [4U].
 */
export function projectionInputs(checkpoint: Checkpoint): { fields: { offset: number; dim: number; argmax: boolean }[]; wa: Float32Array; bias: Float32Array } {
  const { layout, weights } = load(checkpoint);
  return { fields: layout.attributes.map((f) => ({ offset: f.offset, dim: f.dim, argmax: f.activation === 'softmax' })), wa: mustGet(weights, 'gen/feat/lstm/Wa'), bias: mustGet(weights, 'gen/feat/lstm/b') };
}

/**
 * The sessions sampleFeatures and calibrateEndHazards run for `checkpoint`, for a caller that keeps them (`sessions`);
 * with `project`, no projection session (the caller's function projects the rows).
 */
export function featureSamplerSessions(checkpoint: Checkpoint, opts: Pick<SampleOptions, 'device' | 'threads'> & { project?: AttributeProjection } = {}): Promise<FeatureSamplerSessions> {
  return makeFeatureSessions(checkpoint, opts, true) as Promise<FeatureSamplerSessions>;
}

/**
 * The step-wise sampler's sessions; without `withHeads` no heads session (calibrateEndHazards reads only the flags);
 * with `project`, no projection session.
 */
async function makeFeatureSessions(checkpoint: Checkpoint, opts: Pick<SampleOptions, 'device' | 'threads'> & { project?: AttributeProjection }, withHeads: boolean): Promise<Omit<FeatureSamplerSessions, 'heads'> & { heads?: FeatureSamplerSessions['heads'] }> {
  const { cfg, layout, weights } = load(checkpoint);
  const graphs = featureSamplerOnnx(cfg, layout, weights);
  const sessionOpts = { device: opts.device ?? 'cpu', ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}) } as const;
  const made: Awaited<ReturnType<typeof createSession>>[] = [];
  const release = async (): Promise<void> => {
    for (const s of made.splice(0)) await s.release();
  };
  let projection: FeatureSamplerSessions['projection'];
  let step: FeatureSamplerSessions['step'];
  let heads: FeatureSamplerSessions['heads'] | undefined;
  try {
    if (!opts.project) made.push((projection = await createSession(graphs.projection, sessionOpts)));
    made.push((step = await createSession(graphs.step, sessionOpts)));
    if (withHeads) made.push((heads = await createSession(graphs.heads, sessionOpts)));
  } catch (err) {
    await release();
    throw err;
  }
  return { checkpoint, ...(projection ? { projection } : {}), ...(opts.project ? { project: opts.project } : {}), step, ...(heads ? { heads } : {}), release };
}

/**
 * Rows per run of the LSTM step session on the CPU: a step of 1,000 rows took 1.8–2.9 µs a row, in runs of 256
 * 1.4 µs (the netflow preset, U = 32; its intermediates stay in the core's cache), the same values per row.
 */
const STEP_ROWS = 256;

/** The sizes, sessions and noise both step-wise samplers (sampleFeatures, calibrateEndHazards) share. */
interface FeatureStepper {
  layout: ModelLayout;
  T: number;
  L: number;
  S: number;
  U: number;
  F: number;
  n: number;
  batch: number;
  seed: number;
  /** The given rows of batch `b` through the projection, [m, 4U], and sample()'s noise for them: z_feat [m, S, Fz] and (h0, c0). */
  start: (at: number, m: number) => Promise<{ b: number; proj: Float32Array; zFeat: Float32Array; h: Float32Array; c: Float32Array }>;
  /** One LSTM step of the flows `active` (their rows in `zFeat`): z of step `st` gathered for them. */
  step: (st: number, active: ArrayLike<number>, zFeat: Float32Array, proj: Float32Array, h: Float32Array, c: Float32Array) => Promise<Record<'h' | 'c' | 'logits' | 'flag', Float32Array>>;
  /** The heads over emitted records' logits [R, F + 2] → [R, F]. */
  heads: (logits: Float32Array, R: number) => Promise<Float32Array>;
  release: () => Promise<void>;
}

async function featureStepper(opts: Omit<FeatureSampleOptions, 'endBias' | 'stop'>, withHeads: boolean): Promise<FeatureStepper> {
  const { cfg, layout } = load(opts.checkpoint);
  const A = layoutWidth(layout.attributes);
  const F = layoutWidth(layout.features);
  const T = layout.maxLen;
  const L = cfg.sampleLen;
  const S = T / L;
  const U = cfg.lstmUnits;
  const Fz = cfg.featureNoiseDim;
  const given = opts.givenAttributes;
  if (given.length % A !== 0) throw new InputError(expected(`a multiple of ${A} values (rows × attribute width)`, 'givenAttributes', given.length));
  const batch = opts.batchSize ?? 1000;
  const first = opts.firstFlow ?? 0;
  if (!Number.isInteger(first) || first < 0 || first % batch !== 0) throw new ConfigError(expected(`a non-negative multiple of the batch size ${batch}`, 'firstFlow', first), 'firstFlow');
  const seed = opts.seed ?? 0;
  const device = opts.device ?? 'cpu';
  const t = (data: Float32Array, shape: number[]): ort.Tensor => new ort.Tensor('float32', data, shape);
  // the caller's sessions (kept by the caller: they must be this checkpoint's), else this call's own
  if (opts.sessions && opts.sessions.checkpoint !== opts.checkpoint) throw new InternalError('sessions of another checkpoint were given to the feature sampler');
  const own = opts.sessions ? undefined : await makeFeatureSessions(opts.checkpoint, opts, withHeads);
  const { projection, project, step: stepSession, heads: headsSession } = opts.sessions ?? own!;
  const release = async (): Promise<void> => {
    await own?.release();
  };
  return {
    layout, T, L, S, U, F, n: given.length / A, batch, seed, release,
    start: async (at, m) => {
      const b = (first + at) / batch;
      // sample()'s draws for this batch: z_attr (unused here: the attributes are given), then z_feat [m, S, Fz]
      const zRng = Rng.forPurpose(seed, `sample/noise/z/${b}`);
      zRng.normals(m * cfg.attributeNoiseDim);
      const zFeat = zRng.normals(m * S * Fz);
      const stateRng = Rng.forPurpose(seed, `sample/noise/lstm-state/${b}`);
      const h = stateRng.normals(m * U);
      const c = stateRng.normals(m * U);
      const rows = given.subarray(at * A, (at + m) * A);
      const proj = project ? project(rows, m) : ((await projection!.run({ given_attr: t(rows, [m, A]) }))['attr_proj']!.data as Float32Array);
      return { b, proj, zFeat, h, c };
    },
    step: async (st, active, zFeat, proj, h, c) => {
      const k = active.length;
      const z = new Float32Array(k * Fz);
      for (let j = 0; j < k; j++) z.set(zFeat.subarray((active[j]! * S + st) * Fz, (active[j]! * S + st + 1) * Fz), j * Fz);
      const part = async (a: number, b: number): Promise<Record<'h' | 'c' | 'logits' | 'flag', Float32Array>> => {
        const n = b - a;
        const out = await stepSession.run({ attr_proj: t(proj.subarray(a * 4 * U, b * 4 * U), [n, 4 * U]), z: t(z.subarray(a * Fz, b * Fz), [n, Fz]), h: t(h.subarray(a * U, b * U), [n, U]), c: t(c.subarray(a * U, b * U), [n, U]) });
        const get = (name: string): Float32Array => out[name]!.data as Float32Array;
        return { h: get('h_out'), c: get('c_out'), logits: get('logits'), flag: get('flag') };
      };
      if (k <= STEP_ROWS || device !== 'cpu') return part(0, k);
      // in runs of STEP_ROWS rows (the same values per row, run by run)
      const res = { h: new Float32Array(k * U), c: new Float32Array(k * U), logits: new Float32Array(k * L * (F + 2)), flag: new Float32Array(k * L * 2) };
      for (let a = 0; a < k; a += STEP_ROWS) {
        const o = await part(a, Math.min(k, a + STEP_ROWS));
        res.h.set(o.h, a * U);
        res.c.set(o.c, a * U);
        res.logits.set(o.logits, a * L * (F + 2));
        res.flag.set(o.flag, a * L * 2);
      }
      return res;
    },
    heads: async (logits, R) => (R === 0 ? new Float32Array(0) : ((await headsSession!.run({ logits: t(logits, [R, F + 2]) }))['records']!.data as Float32Array)),
  };
}

/**
 * The features of flows conditioned on given attributes, as sample() with `givenAttributes` draws them (the same
 * noise streams and stopping rule; the records equal its records up to float rounding, and so do the lengths but
 * where that rounding moves an arg-max tie or a drawn end across its threshold), but run one LSTM step at a time
 * (featureSamplerOnnx): after each step the flows that have ended leave the batch, and only the emitted records go
 * through the heads. Most flows end within their first sampleLen records (UGR16: 1.3 records per flow at T = 50),
 * so this skips most of the work of sample(), which runs every step and every head of all T records of every flow,
 * and it holds no [n, T, F] buffer: the records come back packed.
 */
export async function sampleFeatures(opts: FeatureSampleOptions): Promise<FeatureSampleResult> {
  const run = await featureStepper(opts, true);
  const { layout, T, L, S, U, F, n, batch, seed } = run;
  const F2 = F + 2;
  const lengths = new Uint32Array(n);
  const parts: Float32Array[] = [];
  const bias = opts.endBias;
  try {
    if (bias !== undefined && (opts.stop !== 'sample' || bias.length !== T || !bias.every(Number.isFinite))) {
      throw new ConfigError(expected(`${T} finite numbers (one per record), with stop "sample"`, 'endBias', bias), 'endBias');
    }
    for (let at = 0; at < n; at += batch) {
      const m = Math.min(batch, n - at);
      const { b, zFeat, ...state } = await run.start(at, m);
      let { proj, h, c } = state;
      const draws = opts.stop === 'sample' ? Rng.forPurpose(seed, `sample/stop/${b}`).uniforms(m * T) : undefined;
      let active = Int32Array.from({ length: m }, (_, i) => i);
      const len = new Int32Array(m);
      // per step: the logits of its active flows, and each flow's row among them (-1: not active)
      const stepLogits: Float32Array[] = [];
      const rowAt: Int32Array[] = [];
      for (let st = 0; st < S && active.length > 0; st++) {
        const k = active.length;
        const out = await run.step(st, active, zFeat, proj, h, c);
        const flag = out.flag;
        stepLogits.push(out.logits);
        const rows = new Int32Array(m).fill(-1);
        const keep: number[] = [];
        for (let j = 0; j < k; j++) {
          const i = active[j]!;
          rows[i] = j;
          let ended = false;
          for (let r = 0; r < L && !ended; r++) {
            const tt = st * L + r;
            len[i] = tt + 1;
            const go = flag[(j * L + r) * 2]!;
            const end = flag[(j * L + r) * 2 + 1]!;
            // applyStoppingRule / sampleStoppingRule, record by record
            ended = draws ? draws[i * T + tt]! < (bias === undefined ? (go + end > 0 ? end / (go + end) : 0.5) : endChance(go, end, bias[tt]!)) : end > go;
          }
          if (!ended) keep.push(j);
        }
        rowAt.push(rows);
        if (keep.length === k) {
          h = out.h;
          c = out.c;
          continue;
        }
        // the flows still running, their rows gathered
        const k2 = keep.length;
        const next = new Int32Array(k2);
        const p2 = new Float32Array(k2 * 4 * U);
        h = new Float32Array(k2 * U);
        c = new Float32Array(k2 * U);
        keep.forEach((j, q) => {
          next[q] = active[j]!;
          p2.set(proj.subarray(j * 4 * U, (j + 1) * 4 * U), q * 4 * U);
          h.set(out.h.subarray(j * U, (j + 1) * U), q * U);
          c.set(out.c.subarray(j * U, (j + 1) * U), q * U);
        });
        proj = p2;
        active = next;
      }
      // the emitted records' logits, flow after flow, through the heads
      let R = 0;
      for (let i = 0; i < m; i++) R += len[i]!;
      const emitted = new Float32Array(R * F2);
      let r = 0;
      for (let i = 0; i < m; i++) {
        for (let tt = 0; tt < len[i]!; tt++, r++) {
          const st = Math.floor(tt / L);
          const src = (rowAt[st]![i]! * L + (tt % L)) * F2;
          emitted.set(stepLogits[st]!.subarray(src, src + F2), r * F2);
        }
        lengths[at + i] = len[i]!;
      }
      parts.push(await run.heads(emitted, R));
    }
  } finally {
    await run.release();
  }
  const packedFeatures = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    packedFeatures.set(p, off);
    off += p.length;
  }
  return { n, layout, packedFeatures, lengths };
}

/** A record's chance to be its flow's last: σ(logit(end / (go + end)) + bias) (an even chance without flag mass). */
function endChance(go: number, end: number, bias: number): number {
  if (!(go + end > 0)) return 1 / (1 + Math.exp(-bias));
  return 1 / (1 + Math.exp(Math.log(go) - Math.log(end) - bias));
}

export interface EndHazardCalibration {
  /** δ_t per record t: the shifts of the "end" log-odds (sampleFeatures' endBias). */
  bias: number[];
  /** Expected records per flow of the calibration flows without the shifts, with them, and of the real lengths. */
  before: number;
  after: number;
  target: number;
  /** The calibration flows, and the real flows whose lengths were matched. */
  flows: number;
  realFlows: number;
}

/**
 * Shifts δ_t of the gen flag's "end" log-odds, one per record t (sampleFeatures' endBias), under which the flows of
 * `givenAttributes` (with the noise sampleFeatures draws for them: the same seed, batch size and first flow) have, in
 * expectation over the stop draws, the distribution of `realLengths`: record by record, the chance that a flow still
 * running at record t ends there, averaged over the flows weighted by their chance to be running, equals the real
 * flows' (the hazard; 1 past the longest real flow). Each δ_t is found by bisection, in order of t. The model still
 * decides which flows are long: a flow's odds keep their rank among the flows at every record. Every LSTM step is run
 * for every flow (the flags of all T records), so these should be a few thousand rows.
 * Why: a generator trained for few iterations ends too few flows late. UGR16 day, 924 iterations, chunk 0 (real vs
 * drawn stop flags): lengths 1 / 2 / 3+ in 82.4 / 14.9 / 2.7% vs 83.1 / 16.5 / 0.4% of flows, 1.28 vs 1.17 records a
 * flow, so the records fall short of the trace's. One shift for all records (matching the mean) made the one-record
 * flows too few (71.5%) and records per 5-tuple worse (300k model: 6.1× → 8.8× its floor).
 */
export async function calibrateEndHazards(opts: Omit<FeatureSampleOptions, 'endBias' | 'stop'> & { realLengths: ArrayLike<number> }): Promise<EndHazardCalibration> {
  const run = await featureStepper(opts, false);
  const { T, L, S, n, batch } = run;
  // the real hazards: of the flows with more than t records, the share with t + 1
  const real = opts.realLengths;
  const atLeast = new Float64Array(T + 1);
  try {
    for (let i = 0; i < real.length; i++) {
      const l = real[i]!;
      if (!Number.isInteger(l) || l < 1 || l > T) throw new InputError(expected(`flow lengths in [1, ${T}]`, `realLengths[${i}]`, l));
      atLeast[l - 1]!++;
    }
  } catch (err) {
    await run.release();
    throw err;
  }
  for (let t = T - 1; t > 0; t--) atLeast[t - 1]! += atLeast[t]!;
  const hazard = (t: number): number => (atLeast[t]! > 0 ? (atLeast[t]! - atLeast[t + 1]!) / atLeast[t]! : 1);
  const target = real.length > 0 ? atLeast.reduce((a, b) => a + b, 0) / real.length : 1;
  // log-odds of "end" of every record of every flow: every step for every flow
  const logOdds = new Float64Array(n * T);
  try {
    for (let at = 0; at < n; at += batch) {
      const m = Math.min(batch, n - at);
      const { proj, zFeat, ...state } = await run.start(at, m);
      let { h, c } = state;
      const all = Int32Array.from({ length: m }, (_, i) => i);
      for (let st = 0; st < S; st++) {
        const out = await run.step(st, all, zFeat, proj, h, c);
        for (let i = 0; i < m; i++) {
          for (let r = 0; r < L; r++) {
            const go = out.flag[(i * L + r) * 2]!;
            const end = out.flag[(i * L + r) * 2 + 1]!;
            logOdds[(at + i) * T + st * L + r] = go + end > 0 ? Math.log(end) - Math.log(go) : 0;
          }
        }
        h = out.h;
        c = out.c;
      }
    }
  } finally {
    await run.release();
  }
  const ends = (i: number, t: number, delta: number): number => 1 / (1 + Math.exp(-(logOdds[i * T + t]! + delta)));
  const expectedLength = (bias: readonly number[]): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let alive = 1;
      for (let t = 0; t < T && alive > 0; t++) {
        sum += alive;
        alive *= 1 - ends(i, t, bias[t]!);
      }
    }
    return n > 0 ? sum / n : 0;
  };
  const bias = new Array<number>(T).fill(0);
  const before = expectedLength(bias);
  if (n === 0 || real.length === 0) return { bias, before, after: before, target, flows: n, realFlows: real.length };
  // each flow's chance to be running at record t under the shifts so far
  const alive = new Float64Array(n).fill(1);
  for (let t = 0; t < T - 1; t++) {
    let mass = 0;
    for (let i = 0; i < n; i++) mass += alive[i]!;
    // no flow running any more (underflow): weigh them all alike
    const w = (i: number): number => (mass > 1e-300 ? alive[i]! : 1);
    const total = mass > 1e-300 ? mass : n;
    const h = hazard(t);
    const rate = (delta: number): number => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += w(i) * ends(i, t, delta);
      return sum / total;
    };
    // ±40 in log-odds: σ within 5e-18 of 0 or 1
    let lo = -40;
    let hi = 40;
    if (h >= 1) lo = hi;
    else if (h <= 0) hi = lo;
    else {
      for (let k = 0; k < 50; k++) {
        const mid = (lo + hi) / 2;
        if (rate(mid) < h) lo = mid;
        else hi = mid;
      }
    }
    bias[t] = (lo + hi) / 2;
    for (let i = 0; i < n; i++) alive[i] = alive[i]! * (1 - ends(i, t, bias[t]!));
  }
  return { bias, before, after: expectedLength(bias), target, flows: n, realFlows: real.length };
}

export interface AttributeSampleResult {
  n: number;
  layout: ModelLayout;
  /** [n, A]: generated soft attributes. */
  attributes: Float32Array;
  /** [n, A]: argmax one-hot for softmax fields. */
  attributesDiscrete: Float32Array;
}

/**
 * Draws the attributes of `n` flows without their features: the attribute generator alone (attributeGeneratorOnnx).
 * Each batch's z_attr is the first draw of the same noise stream sample() uses, so the rows equal sample()'s
 * `attributes` and `attributesDiscrete` for the same checkpoint, n, seed, batchSize and firstFlow; features for
 * chosen rows come later from sample() with givenAttributes. Costs a fraction of sample() (no LSTM over the records)
 * and holds no [n, T, F] buffer.
 */
export async function sampleAttributes(opts: Omit<SampleOptions, 'givenAttributes'>): Promise<AttributeSampleResult> {
  const sampler = await attributeSampler(opts);
  try {
    return await sampler.sample(opts.n ?? 0, opts.firstFlow ?? 0);
  } finally {
    await sampler.release();
  }
}

/**
 * sampleAttributes with one onnxruntime session for many calls (a job sampling its rows in blocks). With `reuseBuffers`,
 * a call's arrays are the previous call's, overwritten: a caller done with each call's rows before the next saves two
 * [n, A] allocations a call.
 */
export interface AttributeSampler {
  /** What sampleAttributes gives for these n and firstFlow (a multiple of the batch size). */
  sample(n: number, firstFlow: number): Promise<AttributeSampleResult>;
  release(): Promise<void>;
}

export async function attributeSampler(
  opts: Omit<SampleOptions, 'givenAttributes' | 'n' | 'firstFlow'> & {
    reuseBuffers?: boolean;
    /**
     * Offsets of softmax fields the caller draws from itself: `attributesDiscrete` holds their softmax values (the
     * values `attributes` has there) instead of their arg-max one-hot, and `attributes` is that same array — the other
     * fields' soft values are not kept. The graph then computes no arg-max for them and has one output (the generate
     * stage's fill: ~a quarter of the attribute generator's time was the arg-max one-hots of the address heads it
     * draws anew, and a copy of the soft rows).
     */
    soft?: ReadonlySet<number>;
  },
): Promise<AttributeSampler> {
  const { cfg, layout, weights } = load(opts.checkpoint);
  const A = layoutWidth(layout.attributes);
  const batch = opts.batchSize ?? 1000;
  const seed = opts.seed ?? 0;
  const soft = opts.soft;
  if (soft) {
    for (const o of soft) if (!layout.attributes.some((f) => f.offset === o && f.activation === 'softmax')) throw new ConfigError(expected('offsets of softmax attribute fields', 'soft', o), 'soft');
  }
  const session = await createSession(attributeGeneratorOnnx(cfg, layout, weights, {}, soft), {
    device: opts.device ?? 'cpu',
    ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}),
  });
  let buffers: [Float32Array, Float32Array] | undefined;
  return {
    async sample(n: number, first: number): Promise<AttributeSampleResult> {
      if (!Number.isInteger(n) || n < 0) throw new ConfigError(expected('a non-negative integer', 'n', n), 'n');
      if (!Number.isInteger(first) || first < 0 || first % batch !== 0) throw new ConfigError(expected(`a non-negative multiple of the batch size ${batch}`, 'firstFlow', first), 'firstFlow');
      // reuseBuffers: the arrays of the previous call hold this call's rows (the caller is done with them); every value
      // is written below
      if (!opts.reuseBuffers || !buffers || buffers[0].length < n * A) {
        const d = new Float32Array(n * A);
        buffers = [soft ? d : new Float32Array(n * A), d];
      }
      const attributes = buffers[0].subarray(0, n * A);
      const attributesDiscrete = buffers[1].subarray(0, n * A);
      for (let at = 0; at < n; at += batch) {
        const m = Math.min(batch, n - at);
        // sample()'s z stream of batch b: z_attr is its first m·Za normals (z_feat follows; not drawn here)
        const zRng = Rng.forPurpose(seed, `sample/noise/z/${(first + at) / batch}`);
        const out = await session.run({ z_attr: new ort.Tensor('float32', zRng.normals(m * cfg.attributeNoiseDim), [m, cfg.attributeNoiseDim]) });
        if (!soft) attributes.set(out['attributes']!.data as Float32Array, at * A);
        attributesDiscrete.set(out['attributes_discrete']!.data as Float32Array, at * A);
      }
      return { n, layout, attributes, attributesDiscrete };
    },
    release: () => session.release(),
  };
}

/**
 * The trained generator as a standalone ONNX model (bytes) with weights and BatchNorm running statistics baked in
 * (inputs/outputs: GENERATOR_IO in graphs.ts; the stopping rule is left to the caller). Its metadata names the
 * checkpoint by the last part of its location.
 */
export function exportGenerator(checkpoint: Checkpoint): Uint8Array {
  const { cfg, layout, weights } = load(checkpoint);
  return generatorOnnx(cfg, layout, weights, { producer: 'netshare-ts', checkpoint: (checkpoint.location ?? '').split(/[\\/]/).at(-1)! });
}
