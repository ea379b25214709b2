// DoppelGANger networks as graph builders: attribute generator, LSTM feature generator, discriminators.
import {
  add, cast, concat, cumSum, less, linear, matmul, mul, reduceSum, relu, reshape, sigmoid, slice, softmax,
  stopGradient, tanh, transpose, greater, argMax, oneHot, split,
} from '../graph/api.js';
import type { Graph, Value } from '../graph/ir.js';
import { batchNormInfer, batchNormTrain, lstmGates } from '../graph/nn.js';
import { InternalError } from '../errors.js';
import type { ModelConfig } from './config.js';
import { layoutWidth, type Activation, type FieldSlice, type ModelLayout } from './layout.js';
import { Rng } from '../core/rng.js';

/** Deterministic per-parameter initial values: a pure function of (seed, parameter name). */
export class ParamInit {
  private readonly root: Rng;

  constructor(readonly seed: number) {
    this.root = Rng.forPurpose(seed, 'init/params');
  }

  /** Stream `init/params/<name>`: adding or reordering parameters never changes another's values. */
  private rng(name: string): Rng {
    return this.root.substream(name);
  }

  /** TF `linear` in DoppelGANger's op.py: W ~ N(0, 0.02). */
  normal(name: string, size: number, std: number): Float32Array {
    return this.rng(name).normals(size, std);
  }

  /** Glorot-uniform (TF1's default for LSTMCell kernels). */
  glorot(name: string, fanIn: number, fanOut: number): Float32Array {
    const r = this.rng(name);
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    const out = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < out.length; i++) out[i] = (2 * r.next() - 1) * lim;
    return out;
  }
}

/** A BatchNorm layer's running statistics, fed as graph inputs and returned updated by training graphs. */
export interface BnState {
  /** Input names of the running mean and variance (e.g. `bn:gen/attr/l0/mean`). */
  meanName: string;
  varName: string;
  dim: number;
  mean: Value;
  var: Value;
  /** Updated running stats (training mode only). */
  newMean?: Value;
  newVar?: Value;
}

/** One trainable parameter: its name (shared by every graph), shape and initial values. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: (pi: ParamInit) => Float32Array;
}

export type NetName = 'gen' | 'disc' | 'attr_disc';

/** Every parameter of the named networks, in a fixed order (the order of checkpoints and graph inputs). */
export function paramSpecs(cfg: ModelConfig, layout: ModelLayout, nets: readonly NetName[]): ParamSpec[] {
  const out: ParamSpec[] = [];
  const densePs = (name: string, inDim: number, outDim: number): void => {
    out.push({ name: `${name}/W`, shape: [inDim, outDim], init: (pi) => pi.normal(`${name}/W`, inDim * outDim, 0.02) });
    out.push({ name: `${name}/b`, shape: [outDim], init: () => new Float32Array(outDim) });
  };
  const A = layoutWidth(layout.attributes);
  const F2 = layoutWidth(layout.features) + 2;
  if (nets.includes('gen')) {
    let d = cfg.attributeNoiseDim;
    for (let i = 0; i < cfg.attrGenLayers; i++) {
      densePs(`gen/attr/l${i}`, d, cfg.attrGenUnits);
      const u = cfg.attrGenUnits;
      out.push({ name: `gen/attr/bn${i}/gamma`, shape: [u], init: () => new Float32Array(u).fill(1) });
      out.push({ name: `gen/attr/bn${i}/beta`, shape: [u], init: () => new Float32Array(u) });
      d = u;
    }
    densePs('gen/attr/out', d, A);
    // TF's single [in + U, 4U] glorot kernel, stored as three row blocks (attributes, noise, recurrent).
    const U = cfg.lstmUnits;
    const Fz = cfg.featureNoiseDim;
    const k = (pi: ParamInit): Float32Array => pi.glorot('gen/feat/lstm/W', A + Fz + U, 4 * U);
    out.push({ name: 'gen/feat/lstm/Wa', shape: [A, 4 * U], init: (pi) => k(pi).slice(0, A * 4 * U) });
    out.push({ name: 'gen/feat/lstm/Wz', shape: [Fz, 4 * U], init: (pi) => k(pi).slice(A * 4 * U, (A + Fz) * 4 * U) });
    out.push({ name: 'gen/feat/lstm/Wh', shape: [U, 4 * U], init: (pi) => k(pi).slice((A + Fz) * 4 * U) });
    out.push({ name: 'gen/feat/lstm/b', shape: [4 * U], init: () => new Float32Array(4 * U) });
    densePs('gen/feat/out', U, cfg.sampleLen * F2);
  }
  const critic = (name: string, inDim: number, layers: number, units: number): void => {
    let d = inDim;
    for (let i = 0; i < layers; i++) {
      densePs(`${name}/l${i}`, d, units);
      d = units;
    }
    densePs(`${name}/out`, d, 1);
  };
  if (nets.includes('disc')) critic('disc', layout.maxLen * F2 + A, cfg.discLayers, cfg.discUnits);
  if (nets.includes('attr_disc') && cfg.useAttrDiscriminator) critic('attr_disc', A, cfg.attrDiscLayers, cfg.attrDiscUnits);
  return out;
}

/** BatchNorm running statistics of the attribute generator (non-trainable state, fed and returned). */
export function bnStateSpecs(cfg: ModelConfig): { name: string; shape: number[]; init: number }[] {
  const out: { name: string; shape: number[]; init: number }[] = [];
  for (let i = 0; i < cfg.attrGenLayers; i++) {
    out.push({ name: `bn:gen/attr/bn${i}/mean`, shape: [cfg.attrGenUnits], init: 0 });
    out.push({ name: `bn:gen/attr/bn${i}/var`, shape: [cfg.attrGenUnits], init: 1 });
  }
  return out;
}

/** Declares the parameters of `nets` in `g` (at the root scope) and returns them by name. */
export function declareParams(g: Graph, specs: readonly ParamSpec[], init: ParamInit, group: (name: string) => string = (n) => n.split('/')[0]!): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const s of specs) m.set(s.name, g.param(s.name, s.shape, s.init(init), group(s.name)));
  return m;
}

export interface NetContext {
  g: Graph;
  /** Parameters by name (from declareParams). */
  params: Map<string, Value>;
  cfg: ModelConfig;
  layout: ModelLayout;
  /** 'train': BatchNorm on batch statistics (and running stats updated); 'infer': running statistics. */
  mode: 'train' | 'infer';
  /** BatchNorm running-stat inputs created so far (shared by name across graphs). */
  bn: BnState[];
  /** Running-stat updates per BN application: several forward passes in one graph each update once. */
  bnUpdates?: number;
}

function p(ctx: NetContext, name: string): Value {
  const v = ctx.params.get(name);
  if (!v) throw new InternalError(`parameter ${name} was not declared`);
  return v;
}

/** Linear layer `<name>/W`, `<name>/b` (parameter names are absolute, independent of node scopes). */
function dense(ctx: NetContext, x: Value, name: string): Value {
  return ctx.g.scope(name.split('/').at(-1)!, () => linear(x, p(ctx, `${name}/W`), p(ctx, `${name}/b`)));
}

/**
 * BatchNorm over the batch axis (TF contrib batch_norm: eps 1e-5, decay 0.9, scale and center).
 * Training mode normalises with the biased batch variance and emits running = decay·running + (1−decay)·batch.
 */
function batchNorm(ctx: NetContext, x: Value, name: string): Value {
  const { g, cfg } = ctx;
  const dim = x.shape[1] as number;
  return g.scope(name.split('/').at(-1)!, () => {
    const gamma = p(ctx, `${name}/gamma`);
    const beta = p(ctx, `${name}/beta`);
    const meanName = `bn:${name}/mean`;
    const varName = `bn:${name}/var`;
    let st = ctx.bn.find((b) => b.meanName === meanName);
    if (!st) {
      st = { meanName, varName, dim, mean: g.input(meanName, [dim]), var: g.input(varName, [dim]) };
      ctx.bn.push(st);
    }
    if (ctx.mode === 'infer') return batchNormInfer(x, gamma, beta, st.mean, st.var, cfg.batchNormEps);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, cfg.batchNormEps);
    const decay = cfg.batchNormDecay;
    let nm = st.newMean ?? st.mean;
    let nv = st.newVar ?? st.var;
    const ms = stopGradient(mean);
    const vs = stopGradient(variance);
    for (let k = 0; k < (ctx.bnUpdates ?? 1); k++) {
      nm = add(mul(nm, decay), mul(ms, 1 - decay));
      nv = add(mul(nv, decay), mul(vs, 1 - decay));
    }
    st.newMean = nm;
    st.newVar = nv;
    return y;
  });
}

function activate(x: Value, a: Activation): Value {
  return a === 'softmax' ? softmax(x, -1) : a === 'sigmoid' ? sigmoid(x) : tanh(x);
}

/** A run of neighbouring fields that share one activation node: `width` is each softmax's size (softmax runs). */
interface Run extends FieldSlice {
  width: number;
}

/**
 * Applies each field's activation to its slice of the last axis of `x`. One Split (whose gradient is
 * one Concat) rather than a Slice per field (each Slice's gradient pads back to the full tensor), and one
 * node per run of same-size softmax fields (the 64 two-way IP-bit heads are one Softmax over [.., 64, 2]).
 */
function heads(x: Value, fields: readonly FieldSlice[]): Value {
  const r = x.shape.length - 1;
  const runs = mergeRuns(fields);
  const parts = runs.length === 1 ? [x] : split(x, runs.map((f) => f.dim), r);
  return concat(parts.map((p, i) => activateRun(p, runs[i]!)), r);
}

function activateRun(x: Value, run: Run): Value {
  if (run.activation !== 'softmax' || run.width === run.dim) return activate(x, run.activation);
  return byGroup(x, run, (v) => softmax(v, -1));
}

/** `fn` on `x` [.., k·w] seen as [.., k, w] (k softmax fields of width w), then back to [.., k·w]. */
function byGroup(x: Value, run: Run, fn: (v: Value) => Value): Value {
  const lead = [typeof x.shape[0] === 'number' ? x.shape[0] : -1, ...(x.shape.slice(1, -1) as number[])];
  return reshape(fn(reshape(x, [...lead, run.dim / run.width, run.width])), [...lead, run.dim]);
}

/** Neighbouring sigmoid/tanh fields, and neighbouring softmax fields of one size, share one slice + activation node. */
function mergeRuns(fields: readonly FieldSlice[]): Run[] {
  const out: Run[] = [];
  for (const f of fields) {
    const last = out.at(-1);
    const joins = last && last.activation === f.activation && last.offset + last.dim === f.offset && (f.activation !== 'softmax' || last.width === f.dim);
    if (joins) out[out.length - 1] = { ...last, dim: last.dim + f.dim };
    else out.push({ ...f, width: f.dim });
  }
  return out;
}

/**
 * One-hot of the argmax for softmax fields, the value itself otherwise; no gradient flows (spec §3.1). The softmax
 * fields at the offsets `soft` keep their values (a caller that draws them from the softmax itself).
 */
export function discreteOf(x: Value, fields: readonly FieldSlice[], soft?: ReadonlySet<number>): Value {
  const parts: Value[] = [];
  let pending: FieldSlice[] = [];
  const flush = (): void => {
    for (const f of mergeRuns(pending)) {
      const s = slice(x, [f.offset], [f.offset + f.dim], [1]);
      if (f.activation !== 'softmax') parts.push(s);
      else if (f.width === f.dim) parts.push(oneHot(argMax(s, -1, false), f.dim));
      else parts.push(byGroup(s, f, (v) => oneHot(argMax(v, -1, false), f.width)));
    }
    pending = [];
  };
  for (const f of fields) {
    if (soft !== undefined && f.activation === 'softmax' && soft.has(f.offset)) {
      flush();
      parts.push(slice(x, [f.offset], [f.offset + f.dim], [1]));
    } else pending.push(f);
  }
  flush();
  return stopGradient(concat(parts, 1));
}

export interface AttrGenOut {
  /** Soft attributes [B, A] (what D sees). */
  attributes: Value;
  /** Discrete copy [B, A] (conditions the feature generator; stop-gradient). */
  discrete: Value;
}

/** Attribute generator: z_a → attrGenLayers × [Linear, ReLU, BatchNorm] → one head per field. */
export function attributeGenerator(ctx: NetContext, zA: Value): AttrGenOut {
  const { g, cfg, layout } = ctx;
  return g.scope('gen', () =>
    g.scope('attr', () => {
      let h = zA;
      for (let i = 0; i < cfg.attrGenLayers; i++) {
        h = dense(ctx, h, `gen/attr/l${i}`);
        h = relu(h);
        h = batchNorm(ctx, h, `gen/attr/bn${i}`);
      }
      const logits = dense(ctx, h, 'gen/attr/out');
      const attributes = heads(logits, layout.attributes);
      return { attributes, discrete: discreteOf(attributes, layout.attributes) };
    }),
  );
}

export interface FeatureGenOut {
  /** Raw records [B, T, F + 2] (softmax/sigmoid/tanh applied, gen flag last), before the stopping rule. */
  raw: Value;
  /**
   * Records after the in-graph stopping rule, masked per sampleLen group as TF DoppelGANger does: a group
   * (one LSTM step) is kept whole, flag dims included, iff no earlier group holds an "end" record; later
   * groups are zero. Records after the end inside the last kept group keep their values. This is what D sees.
   */
  masked: Value;
  /** [B, S] group mask behind `masked` (S = T / sampleLen; stop-gradient). */
  groupMask: Value;
  /** [B, T] record validity (stop-gradient): 1 up to and including the first "end" record. Gives the length. */
  mask: Value;
}

/** Feature-record fields including the 2-way softmax gen flag, as the generator emits them. */
export function featureFieldsWithFlag(layout: ModelLayout): FieldSlice[] {
  const F = layoutWidth(layout.features);
  return [...layout.features, { name: 'gen_flag', offset: F, dim: 2, activation: 'softmax' }];
}

/**
 * Feature generator: a 1-layer LSTM (TF LSTMCell: gates i, j, f, o; forget bias 1; glorot kernel)
 * over S = T / sampleLen steps; input per step = [discrete attributes, z_f[t]]; initial state (h0, c0)
 * fed (drawn N(0,1) by the caller). Each step's output emits sampleLen records through one Linear.
 * `rounds` > 1 runs R independent copies at once (a fused iteration's critic steps): discreteAttrs and zF hold
 * one batch [B, …], h0/c0 hold R stacked batches [R·B, U], and the outputs are [R·B, …], round-major.
 */
export function featureGenerator(ctx: NetContext, discreteAttrs: Value, zF: Value, h0: Value, c0: Value, batch: number | string, rounds = 1): FeatureGenOut {
  const { g, cfg, layout } = ctx;
  const S = layout.maxLen / cfg.sampleLen;
  const U = cfg.lstmUnits;
  const Fz = cfg.featureNoiseDim;
  const F2 = layoutWidth(layout.features) + 2;
  const T = layout.maxLen;
  const R = rounds;
  if (R > 1 && typeof batch !== 'number') throw new InternalError('featureGenerator: rounds > 1 needs a static batch');
  const rows = typeof batch === 'number' ? R * batch : -1;
  return g.scope('gen', () =>
    g.scope('feat', () => {
      const wa = p(ctx, 'gen/feat/lstm/Wa');
      const wz = p(ctx, 'gen/feat/lstm/Wz');
      const wh = p(ctx, 'gen/feat/lstm/Wh');
      const b = p(ctx, 'gen/feat/lstm/b');
      // The attribute part of the input is the same at every step: project it once.
      const attrProj = add(matmul(discreteAttrs, wa), b); // [B, 4U]
      // The noise part: one product for all steps. With a static batch, time-major ([S·B, Fz], a transpose of the
      // small z) so that step t's rows are one contiguous block; a Split along the time axis of [B, S, 4U] copies
      // strided rows (it was a tenth of a pcap iteration).
      let zSteps: Value[];
      if (typeof batch === 'number') {
        const zProj = matmul(reshape(transpose(zF, [1, 0, 2]), [S * batch, Fz]), wz); // [S·B, 4U]
        zSteps = S === 1 ? [zProj] : split(zProj, new Array<number>(S).fill(batch), 0);
      } else {
        const zProj = linear(zF, wz); // [N, S, 4U]
        zSteps = (S === 1 ? [zProj] : split(zProj, new Array<number>(S).fill(1), 1)).map((z) => reshape(z, [-1, 4 * U]));
      }
      let h = h0;
      let c = c0;
      const hs: Value[] = [];
      for (let t = 0; t < S; t++) {
        [h, c] = g.scope(`step${t}`, () => {
          const x = add(attrProj, zSteps[t]!); // [B, 4U]
          const hw = matmul(h, wh); // [R·B, 4U]
          // R rounds: the per-batch input part broadcast over [R, B, 4U] (reshapes only, no copies of it)
          const gates = R === 1 ? add(x, hw) : reshape(add(x, reshape(hw, [R, batch as number, 4 * U])), [rows, 4 * U]);
          return lstmGates(gates, c, U, 1);
        });
        hs.push(h);
      }
      // All steps' outputs through one Linear: [R·B, S, U] → [R·B, S, sampleLen·F2] → [R·B, T, F2].
      const H = concat(hs.map((x) => reshape(x, [rows, 1, U])), 1);
      const logits = dense(ctx, H, 'gen/feat/out');
      const raw = heads(reshape(logits, [rows, T, F2]), featureFieldsWithFlag(layout));
      return { raw, ...stoppingRule(raw, cfg.sampleLen, typeof batch === 'number' ? R * batch : batch, cfg.recordMask === true) };
    }),
  );
}

/**
 * featureGenerator taken apart for sampling one LSTM step at a time (sample.ts sampleFeatures), so that the steps
 * after every flow of a batch has ended, and the heads of records after a flow's end, are not computed. The same
 * nodes per row as featureGenerator (symbolic batch): a flow's records equal its records there, up to the rounding
 * of other batch shapes.
 * - `projection`: discrete attributes [N, A] → their part of the gates, [N, 4U] (with the bias; once per flow).
 * - `step`: (projection, z [N, Fz], h, c) → (h', c', `logits` [N, sampleLen, F + 2] before the heads, `flag`
 *   [N, sampleLen, 2]: the gen flag's softmax, which decides where each flow ends).
 * - `heads`: logits of emitted records [N, F + 2] → the records as featureGenerator's `raw` holds them.
 */
export function featureGeneratorParts(ctx: NetContext): {
  projection: (discreteAttrs: Value) => Value;
  step: (attrProj: Value, z: Value, h: Value, c: Value) => { h: Value; c: Value; logits: Value; flag: Value };
  heads: (logits: Value) => Value;
} {
  const { g, cfg, layout } = ctx;
  const U = cfg.lstmUnits;
  const L = cfg.sampleLen;
  const F = layoutWidth(layout.features);
  const F2 = F + 2;
  const scoped = <T>(fn: () => T): T => g.scope('gen', () => g.scope('feat', fn));
  const flagField: FieldSlice[] = [{ name: 'gen_flag', offset: 0, dim: 2, activation: 'softmax' }];
  return {
    projection: (discreteAttrs) => scoped(() => add(matmul(discreteAttrs, p(ctx, 'gen/feat/lstm/Wa')), p(ctx, 'gen/feat/lstm/b'))),
    step: (attrProj, z, h0, c0) =>
      scoped(() => {
        // featureGenerator's order of sums: (attribute part + noise part) + recurrent part
        const x = add(attrProj, reshape(linear(reshape(z, [-1, 1, cfg.featureNoiseDim]), p(ctx, 'gen/feat/lstm/Wz')), [-1, 4 * U]));
        const [h, c] = lstmGates(add(x, matmul(h0, p(ctx, 'gen/feat/lstm/Wh'))), c0, U, 1);
        // through the output Linear as [N, 1, U], the rank featureGenerator feeds it (a rank-2 MatMul + Add may fuse)
        const logits = reshape(dense(ctx, reshape(h, [-1, 1, U]), 'gen/feat/out'), [-1, L, F2]);
        return { h, c, logits, flag: heads(slice(logits, [F], [F2], [2]), flagField) };
      }),
    heads: (logits) => scoped(() => heads(logits, featureFieldsWithFlag(layout))),
  };
}

/**
 * The stopping rule in-graph, on records `raw` [B, T, F + 2] (2-way gen flag last), as TF DoppelGANger runs it
 * (gan/network.py, DoppelGANgerGenerator.build). `mask`: record t is valid iff no earlier record's flag says
 * "end" (argmax = 1; a tie is "continue"), TF's per-record `gen_flag`, which gives the length. `masked`: what D
 * sees, masked per sampleLen group (TF's `gen_flag_t`: a group is kept whole, flag dims included, iff any of
 * its records is valid, i.e. iff its first one is). The records after the end inside the last kept group keep
 * their outputs and gradients, so their flags can learn the [0,1] that real data carries there (spec §2.5).
 */
export function stoppingRule(raw: Value, sampleLen: number, batch: number | string, recordMask = false): Omit<FeatureGenOut, 'raw'> {
  const g = raw.graph;
  const T = raw.shape[1] as number;
  const F2 = raw.shape[2] as number;
  const S = T / sampleLen;
  if (!Number.isInteger(S)) throw new InternalError(`stoppingRule: T ${T} is not a multiple of sampleLen ${sampleLen}`);
  const Bd = typeof batch === 'number' ? batch : -1;
  const flag = slice(raw, [F2 - 2], [F2], [2]); // [B, T, 2]
  const ends = cast(greater(slice(flag, [1], [2], [2]), slice(flag, [0], [1], [2])), 'float32'); // [B, T, 1]
  // "an end record strictly before t" = an exclusive running sum over time (O(B·T), not a [T,T] product)
  const mask = stopGradient(cast(less(cumSum(reshape(ends, [Bd, T]), 1, { exclusive: true }), 0.5), 'float32')); // [B, T]
  const groupEnds = reduceSum(reshape(ends, [Bd, S, sampleLen]), [2]); // [B, S]: "end" records per group
  const groupMask = stopGradient(cast(less(cumSum(groupEnds, 1, { exclusive: true }), 0.5), 'float32')); // [B, S]
  const grouped = reshape(mul(reshape(raw, [Bd, S, sampleLen * F2]), reshape(groupMask, [Bd, S, 1])), [Bd, T, F2]);
  if (!recordMask) return { masked: grouped, groupMask, mask };
  // model.recordMask: the feature dims of records after the end zeroed record by record, the flag dims by group
  const masked = concat([mul(slice(grouped, [0], [F2 - 2], [2]), reshape(mask, [Bd, T, 1])), slice(grouped, [F2 - 2], [F2], [2])], 2);
  return { masked, groupMask, mask };
}

/** 4 × [Linear 512, ReLU] → Linear 1 (no normalisation). */
function mlpCritic(ctx: NetContext, x: Value, layers: number, scope: string): Value {
  return ctx.g.scope(scope, () => {
    let h = x;
    for (let i = 0; i < layers; i++) h = relu(dense(ctx, h, `${scope}/l${i}`));
    return dense(ctx, h, `${scope}/out`);
  });
}

/** Discriminator on [flatten(features incl. gen flag), attributes] → [B, 1]. */
export function discriminator(ctx: NetContext, features: Value, attributes: Value, batch: number | string): Value {
  const { layout } = ctx;
  const F2 = layoutWidth(layout.features) + 2;
  const flat = reshape(features, [typeof batch === 'number' ? batch : -1, layout.maxLen * F2]);
  return mlpCritic(ctx, concat([flat, attributes], 1), ctx.cfg.discLayers, 'disc');
}

/** Auxiliary attribute discriminator → [B, 1]. */
export function attrDiscriminator(ctx: NetContext, attributes: Value): Value {
  return mlpCritic(ctx, attributes, ctx.cfg.attrDiscLayers, 'attr_disc');
}
