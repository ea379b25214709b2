// Sampling flows from a trained checkpoint (optionally conditioned on given attributes) and generator export.
import { ConfigError, InputError, InternalError, expected } from '../errors.js';
import { createSession, ort, type Device } from '../runtime/session.js';
import type { Checkpoint } from './checkpoint.js';
import { attributeGeneratorOnnx, generatorOnnx } from './graphs.js';
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
  const { cfg, layout, weights } = load(opts.checkpoint);
  const A = layoutWidth(layout.attributes);
  const n = opts.n ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(expected('a non-negative integer', 'n', n), 'n');
  const batch = opts.batchSize ?? 1000;
  const seed = opts.seed ?? 0;
  const first = opts.firstFlow ?? 0;
  if (!Number.isInteger(first) || first < 0 || first % batch !== 0) throw new ConfigError(expected(`a non-negative multiple of the batch size ${batch}`, 'firstFlow', first), 'firstFlow');
  const session = await createSession(attributeGeneratorOnnx(cfg, layout, weights), {
    device: opts.device ?? 'cpu',
    ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}),
  });
  const attributes = new Float32Array(n * A);
  const attributesDiscrete = new Float32Array(n * A);
  try {
    for (let at = 0; at < n; at += batch) {
      const m = Math.min(batch, n - at);
      // sample()'s z stream of batch b: z_attr is its first m·Za normals (z_feat follows; not drawn here)
      const zRng = Rng.forPurpose(seed, `sample/noise/z/${(first + at) / batch}`);
      const out = await session.run({ z_attr: new ort.Tensor('float32', zRng.normals(m * cfg.attributeNoiseDim), [m, cfg.attributeNoiseDim]) });
      attributes.set(out['attributes']!.data as Float32Array, at * A);
      attributesDiscrete.set(out['attributes_discrete']!.data as Float32Array, at * A);
    }
  } finally {
    await session.release();
  }
  return { n, layout, attributes, attributesDiscrete };
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
