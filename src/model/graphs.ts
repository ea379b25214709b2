// Compiles DoppelGANger's step graphs (critic step, generator step) and the standalone generator graph.
import { add, div, mul, reduceSum, slice, sqrt, square, sub } from '../graph/api.js';
import { ghostClippedSums } from './ghost.js';
import { createHash } from 'node:crypto';
import { presetModelConfig } from './config.js';
import { PRESET_LAYOUTS } from './presets.js';
import { InputError } from '../errors.js';
import { toOnnx } from '../graph/emit.js';
import { Graph, type Value } from '../graph/ir.js';
import { grad } from '../graph/autodiff.js';
import { TrainState, compileForward, compileTrainStep, type CompiledStep, type OptimizerConfig } from '../graph/optim.js';
import type { ModelConfig } from './config.js';
import { layoutWidth, type ModelLayout } from './layout.js';
import { criticLosses, criticLossesPerExample, generate, generateRounds, generatorLoss, stepInputs, type StepInputs } from './losses.js';
import { dpAggregate, perExampleGrads } from '../graph/nn.js';
import {
  type BnState, ParamInit, attributeGenerator, bnStateSpecs, declareParams, discreteOf, featureGenerator, featureGeneratorParts, paramSpecs, type NetContext,
} from './networks.js';

export const D_STEP = 'd_step';
export const G_STEP = 'g_step';
export const ITERATION = 'iteration';
export const DP_D_STEP = 'dp_d_step';
export const DP_FAKE = 'dp_fake';

/** DP-SGD settings baked into the DP critic step (spec §3.5). */
export interface DpStepConfig {
  /** Per-example L2 clip C over all critic params together (NetShare: 1.0). */
  clip: number;
  /** σ: the noise added to the clipped sum is N(0, (σ·C)²) per coordinate. */
  noiseMultiplier: number;
  /**
   * How per-example gradients are clipped: 'ghost' (default; ghostClippedSums: norms from activations and adjoints,
   * no per-example gradient tensors) or 'tiling' (perExampleGrads + dpAggregate: per-example gradients materialised,
   * N× the critics' parameter memory). Equal results (tests/model/dp.test.ts).
   */
  method?: 'ghost' | 'tiling';
}

function optimizers(cfg: ModelConfig): Record<'gen' | 'disc' | 'attr_disc', OptimizerConfig> {
  const adam = (lr: number): OptimizerConfig => ({ kind: 'adam', lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.adamEps });
  return { gen: adam(cfg.gLr), disc: adam(cfg.dLr), attr_disc: adam(cfg.attrDLr) };
}

/**
 * The critic step: one Adam update of D and attr-D on the same batch (spec §3.2). Their losses touch
 * disjoint parameters, so one graph minimising L_D + L_attrD equals TF's separate d_op and attr_d_op runs
 * on one feed. The generator runs in training mode; its BatchNorm running stats advance once per
 * generator pass TF would make (two: d_op and attr_d_op).
 */
export function compileCriticStep(cfg: ModelConfig, layout: ModelLayout, seed: number, g = new Graph()): CompiledStep {
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen', 'disc', 'attr_disc']), new ParamInit(seed));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'train', bn: [], bnUpdates: cfg.useAttrDiscriminator ? 2 : 1 };
  const B = cfg.batchSize;
  const x = stepInputs(ctx, B, ['real_attr', 'real_feat', 'z_attr', 'z_feat', 'h0', 'c0', 'alpha', 'alpha_attr']) as StepInputs;
  const L = criticLosses(ctx, x, B);
  const loss = L.attrDLoss ? add(L.dLoss, L.attrDLoss) : L.dLoss;
  const trained = g.paramList().filter((p) => p.group === 'disc' || p.group === 'attr_disc');
  const outputs: Record<string, Value> = { d_loss: L.dLoss, gp: L.gp, w_dist: L.wDist };
  if (L.attrDLoss && L.attrGp) {
    outputs['attr_d_loss'] = L.attrDLoss;
    outputs['attr_gp'] = L.attrGp;
  }
  return compileTrainStep({
    name: D_STEP,
    loss,
    params: trained,
    optimizer: { disc: optimizers(cfg).disc, attr_disc: optimizers(cfg).attr_disc },
    outputs,
    extraState: bnExtraState(ctx),
  });
}

/**
 * The DP-SGD critic step (spec §3.5, TF's DPAdamGaussianOptimizer on d_loss_unflattened): one Adam update of D and
 * attr-D from the noisy mean of per-example gradients. The batch dimension is symbolic ('N'): under Poisson sampling
 * every step's batch has its own size. Example i's loss (criticLossesPerExample: both critics, both gradient penalties)
 * is differentiated w.r.t. per-example copies of the critic params (perExampleGrads), clipped to C jointly over all
 * critic params, summed, noised with σ·C·`dp/noise/<param>` (standard normals fed from a cryptographic source) and
 * divided by the fed `dp/denominator` (the expected batch size q·n). `dp/weight` [N] (1 per sampled example) lets an
 * empty sample run as one zero-weight padding row.
 * The fake rows are fed (`fake_attr`, `fake_feat`, from compileDpFakeBatch in blocks of batchSize): fake i is paired
 * with real i in ℓᵢ, and it must not depend on the sample. Generated here, N at a time, the generator's BatchNorm
 * batch statistics would make every fake depend on N = |sample| (so adding one record would move every term, not
 * one), and its running statistics would carry N into the released model. Fed, adding or removing one record changes
 * the clipped sum by at most one row of norm ≤ C. Outputs no loss (the critic losses are un-noised functions of the
 * private batch, and releasing them would not be DP), only `grad_norm`, the L2 norm of the noisy mean gradient
 * (post-processing of the DP release).
 */
export function compileDpCriticStep(cfg: ModelConfig, layout: ModelLayout, seed: number, dp: DpStepConfig, g = new Graph()): CompiledStep {
  const params = declareParams(g, paramSpecs(cfg, layout, ['disc', 'attr_disc']), new ParamInit(seed));
  const N = 'N';
  const ctx: NetContext = { g, params, cfg, layout, mode: 'train', bn: [] };
  const x = stepInputs(ctx, N, ['real_attr', 'real_feat', 'alpha', 'alpha_attr']) as StepInputs;
  const fake = { attr: g.input('fake_attr', [N, layoutWidth(layout.attributes)]), feat: g.input('fake_feat', [N, layout.maxLen, layoutWidth(layout.features) + 2]) };
  const weight = g.input('dp/weight', [N]);
  const denominator = g.input('dp/denominator', []);
  const trained = g.paramList().filter((p) => p.group === 'disc' || p.group === 'attr_disc');
  const noise = trained.map((p) => g.input(`dp/noise/${p.value.name}`, p.value.shape));
  let grads: Value[];
  if ((dp.method ?? 'ghost') === 'ghost') {
    const sums = g.scope('dp/ghost', () => ghostClippedSums(ctx, x, fake, dp.clip, weight, trained.map((p) => p.value.name)));
    grads = g.scope('dp/aggregate', () => sums.map((sm, k) => div(add(sm, mul(noise[k]!, dp.noiseMultiplier * dp.clip)), denominator)));
  } else {
    const pe = g.scope('dp', () =>
      perExampleGrads(trained.map((p) => p.value), x.realAttr, (tiled) => {
        const tiledParams = new Map(params);
        trained.forEach((p, i) => tiledParams.set(p.value.name, tiled[i]!));
        return criticLossesPerExample({ ...ctx, params: tiledParams }, x, N, fake);
      }));
    grads = g.scope('dp/aggregate', () => dpAggregate(pe.grads, noise, dp.clip, dp.noiseMultiplier, { weights: weight, denominator }));
  }
  const state = new TrainState(g, DP_D_STEP);
  for (const p of trained) state.add(p.value.name, p.value, p.init);
  const opt = optimizers(cfg);
  state.applyUpdate(DP_D_STEP, trained.map((p) => ({ key: p.value.name, group: p.group })), grads, { disc: opt.disc, attr_disc: opt.attr_disc });
  const gradNorm = sqrt(grads.map((v) => reduceSum(square(v), v.shape.map((_, i) => i), false)).reduce((a, b) => add(a, b)));
  return state.compile({ grad_norm: gradNorm });
}

/**
 * The fake rows of DP critic steps: the generator in training mode (BatchNorm on the batch's statistics, as the plain
 * critic step runs it) on one block of batchSize z/h0/c0 rows, without updating the running statistics (they move
 * only in generator steps). A DP step's N fakes are the first N rows of ⌈N/batchSize⌉ such blocks, so each fake is a
 * function of its block's noise alone, whatever N is. Outputs `fake_attr` [B, A] and `fake_feat` [B, T, F + 2].
 */
export function compileDpFakeBatch(cfg: ModelConfig, layout: ModelLayout, seed: number, g = new Graph()): CompiledStep {
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen']), new ParamInit(seed));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'train', bn: [], bnUpdates: cfg.useAttrDiscriminator ? 2 : 1 };
  const B = cfg.batchSize;
  const x = stepInputs(ctx, B, ['z_attr', 'z_feat', 'h0', 'c0']) as StepInputs;
  const fake = g.scope('fake', () => generate(ctx, x, B));
  return compileForward(DP_FAKE, { fake_attr: fake.attr, fake_feat: fake.feat });
}

/** The generator step: one Adam update of G on L_G (spec §3.2). */
export function compileGeneratorStep(cfg: ModelConfig, layout: ModelLayout, seed: number, g = new Graph()): CompiledStep {
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen', 'disc', 'attr_disc']), new ParamInit(seed));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'train', bn: [] };
  const B = cfg.batchSize;
  const x = stepInputs(ctx, B, ['z_attr', 'z_feat', 'h0', 'c0']) as StepInputs;
  const loss = generatorLoss(ctx, x, B);
  return compileTrainStep({
    name: G_STEP,
    loss,
    params: g.paramList().filter((p) => p.group === 'gen'),
    optimizer: { gen: optimizers(cfg).gen },
    outputs: { g_loss: loss },
    extraState: bnExtraState(ctx),
  });
}

/**
 * A whole training iteration as one graph (spec §3.2's loop body): dRounds critic steps, then gRounds generator
 * steps, each with its Adam update, every step reading the params, Adam state and BatchNorm statistics the step
 * before produced. Built from the same builders as compileCriticStep/compileGeneratorStep, so on the float64
 * interpreter it equals running those graphs one after the other exactly. State keys are the same as theirs (one
 * store, one checkpoint format); state crosses the runtime boundary once per iteration instead of once per step.
 * Feeds: real_attr, real_feat, z_attr, z_feat (one draw per iteration), `d<r>/h0|c0|alpha|alpha_attr` per critic
 * step, `g<r>/h0|c0` per generator step. Outputs: the last critic step's losses and the last generator step's g_loss.
 */
export function compileTrainIteration(cfg: ModelConfig, layout: ModelLayout, seed: number, g = new Graph()): CompiledStep {
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen', 'disc', 'attr_disc']), new ParamInit(seed));
  const state = new TrainState(g, ITERATION);
  const infos = g.paramList();
  for (const p of infos) state.add(p.value.name, p.value, p.init);
  const bn: BnState[] = []; // shared by every step: the running statistics chain from step to step
  const B = cfg.batchSize;
  const current = (): Map<string, Value> => new Map([...params.keys()].map((k) => [k, state.get(k)]));
  const base = stepInputs({ g, params, cfg, layout, mode: 'train', bn }, B, ['real_attr', 'real_feat', 'z_attr', 'z_feat']);
  const opt = optimizers(cfg);
  const outputs: Record<string, Value> = {};
  const bnUpdates = cfg.useAttrDiscriminator ? 2 : 1;
  const dIn = Array.from({ length: cfg.dRounds }, (_, r) =>
    stepInputs({ g, params, cfg, layout, mode: 'train', bn }, B, ['h0', 'c0', 'alpha', 'alpha_attr'], `d${r}/`));
  // G's params do not change during the critic steps: their fake batches are generated together.
  const fakes = g.scope('fake', () =>
    generateRounds({ g, params: current(), cfg, layout, mode: 'train', bn, bnUpdates }, base as StepInputs, dIn.map((d) => d.h0!), dIn.map((d) => d.c0!), B));
  for (let r = 0; r < cfg.dRounds; r++) {
    g.scope(`d${r}`, () => {
      const ctx: NetContext = { g, params: current(), cfg, layout, mode: 'train', bn, bnUpdates };
      const x = { ...base, ...dIn[r] } as StepInputs;
      const L = criticLosses(ctx, x, B, fakes[r]);
      const loss = L.attrDLoss ? add(L.dLoss, L.attrDLoss) : L.dLoss;
      const trained = infos.filter((p) => p.group === 'disc' || p.group === 'attr_disc');
      const grads = g.scope(`${D_STEP}/grad`, () => grad(loss, trained.map((p) => ctx.params.get(p.value.name)!)));
      state.applyUpdate(D_STEP, trained.map((p) => ({ key: p.value.name, group: p.group })), grads, { disc: opt.disc, attr_disc: opt.attr_disc });
      Object.assign(outputs, { d_loss: L.dLoss, gp: L.gp, w_dist: L.wDist });
      if (L.attrDLoss && L.attrGp) Object.assign(outputs, { attr_d_loss: L.attrDLoss, attr_gp: L.attrGp });
    });
  }
  for (let r = 0; r < cfg.gRounds; r++) {
    g.scope(`g${r}`, () => {
      const ctx: NetContext = { g, params: current(), cfg, layout, mode: 'train', bn };
      const x = { ...base, ...stepInputs(ctx, B, ['h0', 'c0'], `g${r}/`) } as StepInputs;
      const loss = generatorLoss(ctx, x, B);
      const trained = infos.filter((p) => p.group === 'gen');
      const grads = g.scope(`${G_STEP}/grad`, () => grad(loss, trained.map((p) => ctx.params.get(p.value.name)!)));
      state.applyUpdate(G_STEP, trained.map((p) => ({ key: p.value.name, group: p.group })), grads, { gen: opt.gen });
      outputs['g_loss'] = loss;
    });
  }
  for (const s of bn) {
    state.add(s.meanName, s.mean, new Float32Array(s.dim));
    state.set(s.meanName, s.newMean!);
    state.add(s.varName, s.var, new Float32Array(s.dim).fill(1));
    state.set(s.varName, s.newVar!);
  }
  return state.compile(outputs);
}

/** MatMul FLOPs (2·M·K·N per product, batch dims included) of every node in `g`: the work a step graph does. */
export function matmulFlops(g: Graph): number {
  let flops = 0;
  for (const n of g.nodes) {
    if (n.op !== 'MatMul') continue;
    const a = n.inputs[0]!;
    const out = n.outputs[0]!;
    const dims = out.shape.map((d) => (typeof d === 'number' ? d : NaN));
    const k = a.shape[a.shape.length - 1] as number;
    flops += 2 * dims.reduce((x, y) => x * y, 1) * k;
  }
  return flops;
}

function bnExtraState(ctx: NetContext): { input: Value; output: Value; init: Float32Array }[] {
  const out: { input: Value; output: Value; init: Float32Array }[] = [];
  for (const s of ctx.bn) {
    out.push({ input: s.mean, output: s.newMean!, init: new Float32Array(s.dim) });
    out.push({ input: s.var, output: s.newVar!, init: new Float32Array(s.dim).fill(1) });
  }
  return out;
}

/** Names of the generator graph's inputs and outputs (a stable contract for exported models). */
export const GENERATOR_IO = {
  inputs: ['z_attr', 'z_feat', 'h0', 'c0', 'given_attr', 'use_given'],
  outputs: ['attributes', 'attributes_discrete', 'features', 'gen_flags'],
} as const;

/**
 * The generator for sampling: BatchNorm on running statistics, symbolic batch N. Inputs z_attr [N,Za],
 * z_feat [N,S,Zf], h0/c0 [N,U], given_attr [N,A] and use_given [N,1]: rows with use_given = 1 take
 * given_attr (its discrete copy conditions the LSTM) instead of generated attributes — conditional
 * sampling for the chunk merge (spec §4.2). Outputs attributes [N,A] (soft), attributes_discrete [N,A]
 * features [N,T,F+2] raw (gen flag last, before the stopping rule) and gen_flags [N,T], the stopping
 * rule's per-record validity computed in-graph (sample() applies the same rule in TS and checks they agree).
 * With `weights`, parameters and BatchNorm statistics are baked in (a standalone model);
 * without, they are graph inputs named as in checkpoints.
 */
export function generatorOnnx(cfg: ModelConfig, layout: ModelLayout, weights?: ReadonlyMap<string, Float32Array>, metadata: Record<string, string> = {}): Uint8Array {
  const g = new Graph();
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen']), new ParamInit(0));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'infer', bn: [] };
  const N = 'N';
  const A = layoutWidth(layout.attributes);
  const S = layout.maxLen / cfg.sampleLen;
  const zA = g.input('z_attr', [N, cfg.attributeNoiseDim]);
  const zF = g.input('z_feat', [N, S, cfg.featureNoiseDim]);
  const h0 = g.input('h0', [N, cfg.lstmUnits]);
  const c0 = g.input('c0', [N, cfg.lstmUnits]);
  const given = g.input('given_attr', [N, A]);
  const use = g.input('use_given', [N, 1]);
  const a = attributeGenerator(ctx, zA);
  const blend = (x: Value, y: Value): Value => add(mul(use, x), mul(sub(1, use), y));
  const attributes = blend(given, a.attributes);
  const discrete = blend(discreteOf(given, layout.attributes), a.discrete);
  const f = featureGenerator(ctx, discrete, zF, h0, c0, N);
  const inputs = [zA, zF, h0, c0, given, use];
  let bake: Map<string, Float32Array> | undefined;
  if (weights) {
    bake = new Map();
    for (const [name] of params) bake.set(name, mustGet(weights, name));
    for (const s of bnStateSpecs(cfg)) bake.set(s.name, mustGet(weights, s.name));
  } else {
    inputs.push(...params.values(), ...ctx.bn.flatMap((s) => [s.mean, s.var]));
  }
  return toOnnx({
    name: 'doppelganger_generator',
    outputs: [
      { name: 'attributes', value: attributes },
      { name: 'attributes_discrete', value: discrete },
      { name: 'features', value: f.raw },
      { name: 'gen_flags', value: f.mask },
    ],
    inputs,
    ...(bake ? { bake } : {}),
    metadata: { ...metadata, layout: JSON.stringify(layout), sampleLen: String(cfg.sampleLen) },
  });
}

/**
 * The attribute generator alone, for sampling (BatchNorm on running statistics, symbolic batch N): z_attr [N,Za] →
 * attributes [N,A] (soft) and attributes_discrete [N,A]. The same nodes as generatorOnnx's attribute part, so the
 * same z_attr gives the same rows; what it leaves out is the feature LSTM over T records, which is most of a
 * sampling run. The generate stage's fill passes use it: they only look at 5-tuples, and features are sampled later,
 * conditioned on the rows that were kept (generatorOnnx with use_given = 1). With `weights`, baked in as there.
 */
export function attributeGeneratorOnnx(
  cfg: ModelConfig,
  layout: ModelLayout,
  weights?: ReadonlyMap<string, Float32Array>,
  metadata: Record<string, string> = {},
  /**
   * The offsets of softmax fields the caller draws from itself: the graph then has one output, `attributes_discrete`
   * with those fields' softmax values (everything else as in the discrete output), and computes no arg-max for them.
   */
  soft?: ReadonlySet<number>,
): Uint8Array {
  const g = new Graph();
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen']), new ParamInit(0));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'infer', bn: [] };
  const zA = g.input('z_attr', ['N', cfg.attributeNoiseDim]);
  const a = attributeGenerator(ctx, zA);
  let bake: Map<string, Float32Array> | undefined;
  if (weights) {
    // only what the attribute generator reads (toOnnx ignores the rest, but a missing feature weight must not fail)
    bake = new Map();
    for (const [name] of params) if (name.startsWith('gen/attr/')) bake.set(name, mustGet(weights, name));
    for (const s of bnStateSpecs(cfg)) if (s.name.startsWith('bn:gen/attr/')) bake.set(s.name, mustGet(weights, s.name));
  }
  return toOnnx({
    name: 'doppelganger_attribute_generator',
    outputs: soft
      ? [{ name: 'attributes_discrete', value: discreteOf(a.attributes, layout.attributes, soft) }]
      : [
          { name: 'attributes', value: a.attributes },
          { name: 'attributes_discrete', value: a.discrete },
        ],
    ...(bake ? { bake } : {}),
    metadata: { ...metadata, layout: JSON.stringify(layout), sampleLen: String(cfg.sampleLen) },
  });
}

/** The three graphs of sampleFeatures (networks.ts featureGeneratorParts), weights baked in; inputs and outputs there. */
export interface FeatureSamplerOnnx {
  /** given_attr [N, A] → attr_proj [N, 4U] (given rows through discreteOf, as generatorOnnx conditions on them). */
  projection: Uint8Array;
  /** attr_proj [N, 4U], z [N, Fz], h, c [N, U] → h_out, c_out [N, U], logits [N, sampleLen, F + 2], flag [N, sampleLen, 2]. */
  step: Uint8Array;
  /** logits [N, F + 2] → records [N, F] (the heads; gen-flag dims dropped). */
  heads: Uint8Array;
}

/**
 * The feature generator as three graphs run one LSTM step at a time (sample.ts sampleFeatures): generatorOnnx's
 * feature part with use_given = 1, without its attribute generator, and with the steps and heads of records after
 * every flow's end left out. `weights` as for generatorOnnx.
 */
export function featureSamplerOnnx(cfg: ModelConfig, layout: ModelLayout, weights: ReadonlyMap<string, Float32Array>): FeatureSamplerOnnx {
  const meta = { layout: JSON.stringify(layout), sampleLen: String(cfg.sampleLen) };
  const F = layoutWidth(layout.features);
  const U = cfg.lstmUnits;
  const build = (name: string, body: (ctx: NetContext) => { inputs: Value[]; outputs: { name: string; value: Value }[] }): Uint8Array => {
    const g = new Graph();
    const params = declareParams(g, paramSpecs(cfg, layout, ['gen']), new ParamInit(0));
    const ctx: NetContext = { g, params, cfg, layout, mode: 'infer', bn: [] };
    const { inputs, outputs } = body(ctx);
    const bake = new Map<string, Float32Array>();
    for (const [k] of params) if (k.startsWith('gen/feat/')) bake.set(k, mustGet(weights, k));
    return toOnnx({ name, inputs, outputs, bake, metadata: meta });
  };
  return {
    projection: build('doppelganger_feature_projection', (ctx) => {
      const given = ctx.g.input('given_attr', ['N', layoutWidth(layout.attributes)]);
      return { inputs: [given], outputs: [{ name: 'attr_proj', value: featureGeneratorParts(ctx).projection(discreteOf(given, layout.attributes)) }] };
    }),
    step: build('doppelganger_feature_step', (ctx) => {
      const { g } = ctx;
      const x = [g.input('attr_proj', ['N', 4 * U]), g.input('z', ['N', cfg.featureNoiseDim]), g.input('h', ['N', U]), g.input('c', ['N', U])] as const;
      const o = featureGeneratorParts(ctx).step(...x);
      return {
        inputs: [...x],
        outputs: [
          { name: 'h_out', value: o.h },
          { name: 'c_out', value: o.c },
          { name: 'logits', value: o.logits },
          { name: 'flag', value: o.flag },
        ],
      };
    }),
    heads: build('doppelganger_feature_heads', (ctx) => {
      const logits = ctx.g.input('logits', ['N', F + 2]);
      return { inputs: [logits], outputs: [{ name: 'records', value: slice(featureGeneratorParts(ctx).heads(logits), [0], [F], [1]) }] };
    }),
  };
}

/** Weight `k` of a checkpoint's weights, or an InputError naming it. */
export function mustGet(m: ReadonlyMap<string, Float32Array>, k: string): Float32Array {
  const v = m.get(k);
  if (!v) throw new InputError(`Generator weight ${k} is missing from the checkpoint`);
  return v;
}

let dpVersion: string | undefined;

/**
 * Hash of the DP graphs (compileDpCriticStep, ghost and tiling, and compileDpFakeBatch) emitted for the netflow
 * preset's reference layout: part of a DP run's train fingerprint, since models/ (graphCodeVersion) holds no DP graph.
 */
export function dpGraphVersion(): string {
  if (dpVersion) return dpVersion;
  const cfg = presetModelConfig('netflow', { iterations: 10, checkpointEvery: 0 });
  const layout = PRESET_LAYOUTS.netflow;
  const h = createHash('sha256');
  for (const method of ['ghost', 'tiling'] as const) h.update(compileDpCriticStep(cfg, layout, 0, { clip: 1, noiseMultiplier: 1, method }).onnx);
  h.update(compileDpFakeBatch(cfg, layout, 0).onnx);
  dpVersion = h.digest('hex').slice(0, 16);
  return dpVersion;
}
