// DoppelGANger training loop on one chunk: batches, noise, D/G steps, progress, checkpoints, resume.
import { ConfigError, InputError, expected } from '../errors.js';
import { encodeParams, type ParamEntry } from '../runtime/params-file.js';
import { Trainer } from '../runtime/trainer.js';
import type { Device } from '../runtime/session.js';
import { encodeCheckpoint, readCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoint.js';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { compileCriticStep, compileDpCriticStep, compileDpFakeBatch, compileGeneratorStep, compileTrainIteration, D_STEP, DP_D_STEP, DP_FAKE, G_STEP, ITERATION, matmulFlops } from './graphs.js';
import { Graph } from '../graph/ir.js';
import { cryptoDpRandom, poissonSample, type DpRandom } from './dp.js';
import { layoutWidth, validateLayout, validateTensors, writeFlowWithGenFlag, type ChunkTensors, type ModelLayout } from './layout.js';
import { Rng } from '../core/rng.js';

export interface TrainProgress {
  /** Iterations completed (of `iterations`). */
  iteration: number;
  iterations: number;
  /** Losses of the last critic step and generator step of this iteration. */
  dLoss: number;
  attrDLoss: number | null;
  gLoss: number;
  gp: number;
  /** W-distance estimate mean D(real) − mean D(fake). */
  wDist: number;
  /** Iterations per second since this call started. */
  itPerSec: number;
  /** Location of the checkpoint written at this iteration, if any. */
  checkpoint?: string;
}

export interface TrainChunkOptions {
  tensors: ChunkTensors;
  layout: ModelLayout;
  config?: ModelConfig | ModelConfigInput;
  /** Where checkpoints are saved, and read back by resumeFrom/initFrom (the pipeline's: files in a folder). */
  checkpoints: CheckpointStore;
  /** Total iterations of this run (default config.iterations). */
  iterations?: number;
  device?: Device;
  /** Intra-op threads for onnxruntime (default: onnxruntime's choice). */
  threads?: number;
  /** Seed of parameter initialisation, batch draws and noise (default 0). */
  seed?: number;
  /** Continue a killed run: a checkpoint location, or 'latest' for the store's newest (none → start fresh). */
  resumeFrom?: string;
  /**
   * Fine-tune from another chunk's checkpoint, a location `checkpoints` can read (spec §3.3): every network and Adam state is restored,
   * the iteration count restarts at 0 (TF's saver.restore).
   */
  initFrom?: string;
  onProgress?: (p: TrainProgress) => void;
  /** Stops after the current iteration (its checkpoint, if due, is written). */
  signal?: AbortSignal;
  /** Only write the starting point as a checkpoint (iteration 0, or the restored one) and return: the untrained baseline. */
  initialOnly?: boolean;
  /**
   * Run each iteration as one fused graph (compileTrainIteration; default) or as dRounds critic-step runs and
   * gRounds generator-step runs (the per-step graphs; same state keys, same random draws, same checkpoints).
   */
  fused?: boolean;
  /**
   * DP-SGD (spec §3.5): every critic step is compileDpCriticStep on its own Poisson sample (rate
   * q = min(1, batchSize / n)), clipped to `clip` and noised with σ = `noiseMultiplier`; the generator takes plain
   * Adam steps. Batches and noise come from `random` (default node:crypto). Implies per-step graphs (no fused
   * iteration). The critic losses are not reported (NaN): they are un-noised functions of the private batch.
   */
  dp?: { clip: number; noiseMultiplier: number; random?: DpRandom };
}

export interface TrainResult {
  iterations: number;
  lastCheckpoint: string;
  final: TrainProgress | null;
}

/** Meta stored in every checkpoint: enough to rebuild the graphs and to sample. */
export interface CheckpointMeta {
  config: ModelConfig;
  layout: ModelLayout;
  seed: number;
  /** Iterations the run was asked for (resume uses its own value). */
  iterations: number;
  /** DP-SGD settings when the model was trained with them. */
  dp?: { clip: number; noiseMultiplier: number };
}

/**
 * Trains DoppelGANger on one chunk (spec §3.2, TF camera-ready loop): per iteration one batch of
 * `batchSize` flows drawn uniformly with replacement and one draw of z_attr/z_feat; then dRounds ×
 * critic step (fresh h0/c0 and GP α each) and gRounds × generator step (fresh h0/c0), all on that feed.
 */
export async function trainChunk(opts: TrainChunkOptions): Promise<TrainResult> {
  let cfg = parseModelConfig(opts.config ?? {});
  const iterations = opts.iterations ?? cfg.iterations;
  if (!Number.isInteger(iterations) || iterations < 1) throw new ConfigError(expected('a positive integer', 'iterations', iterations), 'iterations');
  // The config itself was checked (checkpointEvery ≤ model.iterations, NetShare issue #18). A shorter run
  // asked for here (fine-tuning chunks train 1/4 as long) still ends with a checkpoint: the last iteration
  // always writes one, so a long period cannot leave a run without any.
  cfg = { ...cfg, iterations };
  validateLayout(opts.layout, cfg.sampleLen);
  validateTensors(opts.tensors, opts.layout);
  const seed = opts.seed ?? 0;

  let resume: Checkpoint | undefined;
  let resumePath = '';
  if (opts.resumeFrom !== undefined) {
    const path = opts.resumeFrom === 'latest' ? await opts.checkpoints.latest() : opts.resumeFrom;
    if (path) {
      resume = await readCheckpoint(opts.checkpoints, path);
      resumePath = path;
    }
  }
  const init = opts.initFrom !== undefined && !resume ? await readCheckpoint(opts.checkpoints, opts.initFrom) : undefined;
  for (const [ck, what] of [[resume, 'resumeFrom'], [init, 'initFrom']] as const) {
    if (ck) checkCompatible(ck, cfg, opts.layout, what);
  }

  // a finished run resumed again draws nothing, so an old checkpoint without stream states is fine there
  const rng = trainStreams(seed, resume && (opts.initialOnly || resume.iteration < iterations) ? resume : undefined);
  const dp = opts.dp;
  if (dp && !(dp.clip > 0 && dp.noiseMultiplier >= 0)) throw new ConfigError(expected('clip > 0 and noiseMultiplier ≥ 0', 'dp', dp), 'dp');
  const fused = dp ? false : (opts.fused ?? true);
  const gs = [new Graph(), new Graph(), new Graph()] as const;
  const steps = dp
    ? [compileDpCriticStep(cfg, opts.layout, seed, dp, gs[0]), compileDpFakeBatch(cfg, opts.layout, seed, gs[1]), compileGeneratorStep(cfg, opts.layout, seed, gs[2])]
    : fused ? [compileTrainIteration(cfg, opts.layout, seed, gs[0])] : [compileCriticStep(cfg, opts.layout, seed, gs[0]), compileGeneratorStep(cfg, opts.layout, seed, gs[1])];
  const threads = trainingThreads(opts.threads, Math.max(...gs.map((g) => matmulFlops(g))));
  const dpRandom = dp ? (dp.random ?? cryptoDpRandom()) : undefined;
  const dpNoise = dp ? steps[0]!.feeds.filter((f) => f.name.startsWith('dp/noise/')).map((f) => ({ name: f.name, shape: f.shape as number[], size: (f.shape as number[]).reduce((a, b) => a * b, 1) })) : [];
  const trainer = await Trainer.create(steps, { device: opts.device ?? 'cpu', ...(threads !== undefined ? { intraOpThreads: threads } : {}) });
  try {
    const shapes = new Map<string, number[]>();
    for (const st of steps) for (const e of [...st.state, ...st.reads]) shapes.set(e.key, [...e.shape]);
    const from = resume ?? init;
    if (from) trainer.load(checkpointParamBytes(from), { ignoreUnknown: false });
    let iteration = resume?.iteration ?? 0;

    const { n } = opts.tensors;
    const A = layoutWidth(opts.layout.attributes);
    const T = opts.layout.maxLen;
    const F2 = layoutWidth(opts.layout.features) + 2;
    const S = T / cfg.sampleLen;
    const B = cfg.batchSize;
    const U = cfg.lstmUnits;
    const realAttr = new Float32Array(B * A);
    const realFeat = new Float32Array(B * T * F2);
    const q = Math.min(1, B / n);
    // no q in the checkpoint: q = batch/n would carry the chunk's exact flow count with the model
    const meta: CheckpointMeta = { config: cfg, layout: opts.layout, seed, iterations, ...(dp ? { dp: { clip: dp.clip, noiseMultiplier: dp.noiseMultiplier } } : {}) };
    const started = Date.now();
    const startIt = iteration;
    let last: TrainProgress | null = null;
    let lastCheckpoint = resumePath; // a finished run resumed again has nothing left to do

    if (opts.initialOnly) {
      lastCheckpoint = await opts.checkpoints.save(iteration, encodeCheckpoint(snapshot(trainer, shapes, iteration, rng, meta)), cfg.keepCheckpoints);
      return { iterations: iteration, lastCheckpoint, final: null };
    }
    while (iteration < iterations) {
      // Batch: one flow drawn uniformly with replacement per slot (camera-ready src/gan/dataset.py).
      for (let b = 0; b < B; b++) {
        const i = rng.batches.int(n);
        realAttr.set(opts.tensors.attributes.subarray(i * A, (i + 1) * A), b * A);
        writeFlowWithGenFlag(opts.tensors, opts.layout, cfg.sampleLen, i, realFeat, b * T * F2);
      }
      const zAttr = { data: rng.z.normals(B * cfg.attributeNoiseDim), shape: [B, cfg.attributeNoiseDim] };
      const zFeat = { data: rng.z.normals(B * S * cfg.featureNoiseDim), shape: [B, S, cfg.featureNoiseDim] };
      const state = (): { h0: { data: Float32Array; shape: number[] }; c0: { data: Float32Array; shape: number[] } } => ({
        h0: { data: rng.lstmState.normals(B * U), shape: [B, U] },
        c0: { data: rng.lstmState.normals(B * U), shape: [B, U] },
      });
      // The draws are made in the same order on both paths (each stream's consumption per iteration is fixed).
      const realA = { data: realAttr, shape: [B, A] };
      const realF = { data: realFeat, shape: [B, T, F2] };
      const alpha = (): { data: Float32Array; shape: number[] } => ({ data: rng.gpAlpha.uniforms(B), shape: [B, 1] });
      let dOut: Record<string, unknown> = {};
      let gOut: Record<string, unknown> = {};
      if (dp) {
        for (let r = 0; r < cfg.dRounds; r++) {
          // this step's seeded draws (fakes' z/h0/c0, α) from their own substream: their number depends on the sample's
          // size, and from the shared streams it would shift the generator steps' noise by a data-dependent amount
          const own = Rng.forPurpose(seed, `train/dp-step/${iteration}/${r}`);
          await trainer.run(DP_D_STEP, await dpCriticFeeds(trainer, opts.tensors, opts.layout, cfg, q, dpRandom!, dpNoise, own));
        }
        for (let r = 0; r < cfg.gRounds; r++) gOut = await trainer.run(G_STEP, { z_attr: zAttr, z_feat: zFeat, ...state() });
        dOut = { d_loss: NaN, gp: NaN, w_dist: NaN };
      } else if (fused) {
        const feeds: Record<string, { data: Float32Array; shape: number[] }> = { real_attr: realA, real_feat: realF, z_attr: zAttr, z_feat: zFeat };
        for (let r = 0; r < cfg.dRounds; r++) {
          const { h0, c0 } = state();
          Object.assign(feeds, { [`d${r}/h0`]: h0, [`d${r}/c0`]: c0, [`d${r}/alpha`]: alpha(), [`d${r}/alpha_attr`]: alpha() });
        }
        for (let r = 0; r < cfg.gRounds; r++) {
          const { h0, c0 } = state();
          Object.assign(feeds, { [`g${r}/h0`]: h0, [`g${r}/c0`]: c0 });
        }
        dOut = await trainer.run(ITERATION, feeds);
        gOut = dOut;
      } else {
        for (let r = 0; r < cfg.dRounds; r++) {
          dOut = await trainer.run(D_STEP, { real_attr: realA, real_feat: realF, z_attr: zAttr, z_feat: zFeat, ...state(), alpha: alpha(), alpha_attr: alpha() });
        }
        for (let r = 0; r < cfg.gRounds; r++) gOut = await trainer.run(G_STEP, { z_attr: zAttr, z_feat: zFeat, ...state() });
      }
      iteration++;

      let checkpoint: string | undefined;
      const due = (cfg.checkpointEvery > 0 && iteration % cfg.checkpointEvery === 0) || iteration === iterations;
      if (due) {
        checkpoint = await opts.checkpoints.save(iteration, encodeCheckpoint(snapshot(trainer, shapes, iteration, rng, meta)), cfg.keepCheckpoints);
        lastCheckpoint = checkpoint;
      }
      const secs = (Date.now() - started) / 1000;
      last = {
        iteration,
        iterations,
        dLoss: dOut['d_loss'] as number,
        attrDLoss: (dOut['attr_d_loss'] as number | undefined) ?? null,
        gLoss: gOut['g_loss'] as number,
        gp: dOut['gp'] as number,
        wDist: dOut['w_dist'] as number,
        itPerSec: secs > 0 ? (iteration - startIt) / secs : 0,
        ...(checkpoint ? { checkpoint } : {}),
      };
      opts.onProgress?.(last);
      if (opts.signal?.aborted) break;
    }
    return { iterations: iteration, lastCheckpoint, final: last };
  } finally {
    await trainer.dispose();
  }
}

type Feed = { data: Float32Array; shape: number[] };

/**
 * The feeds of one DP critic step: a fresh Poisson sample of the chunk's flows (rate q, from `rnd`); as many fake rows,
 * the first N of ⌈N/B⌉ blocks of B from the DP_FAKE graph (z/h0/c0 seeded, one substream of `own` per block: the
 * fakes depend on no record, and a block's fakes not on N); GP weights from `own` (row i's weight is the i-th draw,
 * whatever N); standard-normal noise per critic param from `rnd`. An empty sample runs as one zero-weight row (the step then applies noise only).
 */
async function dpCriticFeeds(
  trainer: Trainer,
  tensors: ChunkTensors,
  layout: ModelLayout,
  cfg: ModelConfig,
  q: number,
  rnd: DpRandom,
  noise: readonly { name: string; shape: number[]; size: number }[],
  own: Rng,
): Promise<Record<string, Feed>> {
  const idx = poissonSample(tensors.n, q, rnd);
  const N = Math.max(1, idx.length);
  const A = layoutWidth(layout.attributes);
  const T = layout.maxLen;
  const F2 = layoutWidth(layout.features) + 2;
  const S = T / cfg.sampleLen;
  const U = cfg.lstmUnits;
  const B = cfg.batchSize;
  const attr = new Float32Array(N * A);
  const feat = new Float32Array(N * T * F2);
  const weight = new Float32Array(N);
  idx.forEach((i, b) => {
    attr.set(tensors.attributes.subarray(i * A, (i + 1) * A), b * A);
    writeFlowWithGenFlag(tensors, layout, cfg.sampleLen, i, feat, b * T * F2);
    weight[b] = 1;
  });
  const fakeAttr = new Float32Array(N * A);
  const fakeFeat = new Float32Array(N * T * F2);
  const gpAlpha = own.substream('gp-alpha');
  for (let start = 0; start < N; start += B) {
    // block k's noise from its own substream: fake i is a function of (i, this step's key), whatever N is
    const block = own.substream(`fake-block-${start / B}`);
    const rng = { z: block, lstmState: block };
    const out = await trainer.run(DP_FAKE, {
      z_attr: { data: rng.z.normals(B * cfg.attributeNoiseDim), shape: [B, cfg.attributeNoiseDim] },
      z_feat: { data: rng.z.normals(B * S * cfg.featureNoiseDim), shape: [B, S, cfg.featureNoiseDim] },
      h0: { data: rng.lstmState.normals(B * U), shape: [B, U] },
      c0: { data: rng.lstmState.normals(B * U), shape: [B, U] },
    });
    const rows = Math.min(B, N - start);
    fakeAttr.set(((out['fake_attr'] as { data: Float32Array }).data).subarray(0, rows * A), start * A);
    fakeFeat.set(((out['fake_feat'] as { data: Float32Array }).data).subarray(0, rows * T * F2), start * T * F2);
  }
  const feeds: Record<string, Feed> = {
    real_attr: { data: attr, shape: [N, A] },
    real_feat: { data: feat, shape: [N, T, F2] },
    fake_attr: { data: fakeAttr, shape: [N, A] },
    fake_feat: { data: fakeFeat, shape: [N, T, F2] },
    alpha: { data: gpAlpha.substream('d').uniforms(N), shape: [N, 1] },
    alpha_attr: { data: gpAlpha.substream('attr-d').uniforms(N), shape: [N, 1] },
    'dp/weight': { data: weight, shape: [N] },
    'dp/denominator': { data: Float32Array.of(q * tensors.n), shape: [] },
  };
  for (const f of noise) feeds[f.name] = { data: rnd.normals(f.size), shape: f.shape };
  return feeds;
}

/** The training loop's random streams, one per purpose, so that a new consumer never shifts the others. */
interface TrainStreams {
  /** Which flows fill each batch slot. */
  batches: Rng;
  /** z_attr and z_feat of each iteration. */
  z: Rng;
  /** h0/c0 of every critic and generator step. */
  lstmState: Rng;
  /** The gradient penalty's interpolation weights α. */
  gpAlpha: Rng;
}

const TRAIN_STREAMS: Record<keyof TrainStreams, string> = {
  batches: 'train/batches',
  z: 'train/noise/z',
  lstmState: 'train/noise/lstm-state',
  gpAlpha: 'train/gp-alpha',
};

/** Fresh streams of `seed`, or the ones `resume` saved, continued exactly (whatever seed the resumed run had). */
function trainStreams(seed: number, resume: Checkpoint | undefined): TrainStreams {
  const out = {} as TrainStreams;
  for (const [key, purpose] of Object.entries(TRAIN_STREAMS) as [keyof TrainStreams, string][]) {
    if (!resume) {
      out[key] = Rng.forPurpose(seed, purpose);
      continue;
    }
    const st = resume.rng.find((r) => r.purpose === purpose);
    if (!st) {
      throw new InputError(
        `The resumeFrom checkpoint holds no state of random stream ${purpose} (written by an older version, checkpoint format 1): ` +
          'its weights can initialise a run (initFrom) or generate, but training cannot resume from it; train again in a fresh workdir',
        resume.location ?? 'resumeFrom',
      );
    }
    try {
      out[key] = Rng.fromState(st);
    } catch (err) {
      throw new InputError(`The resumeFrom checkpoint's state of random stream ${purpose} is damaged: ${(err as Error).message}`, resume.location ?? 'resumeFrom', undefined, { cause: err });
    }
  }
  return out;
}

function snapshot(trainer: Trainer, shapes: ReadonlyMap<string, number[]>, iteration: number, rng: TrainStreams, meta: CheckpointMeta): Checkpoint {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, data] of trainer.values()) tensors.set(k, { shape: shapes.get(k) ?? [data.length], data });
  return { iteration, rng: Object.values(rng).map((r: Rng) => r.state()), meta: meta as unknown as Record<string, unknown>, tensors };
}

function checkpointParamBytes(ck: Checkpoint): Uint8Array {
  const m = new Map<string, ParamEntry>();
  for (const [k, t] of ck.tensors) m.set(k, { shape: t.shape, data: t.data });
  return encodeParams(m);
}

/** The checkpoint was written by a model of the same architecture and layout. */
function checkCompatible(ck: Checkpoint, cfg: ModelConfig, layout: ModelLayout, what: string): void {
  const meta = ck.meta as unknown as CheckpointMeta;
  const arch = (c: ModelConfig): string =>
    JSON.stringify([c.attributeNoiseDim, c.featureNoiseDim, c.attrGenLayers, c.attrGenUnits, c.lstmUnits, c.sampleLen, c.discLayers, c.discUnits,
      c.useAttrDiscriminator, c.attrDiscLayers, c.attrDiscUnits, c.batchSize]);
  if (!meta?.config || arch(meta.config) !== arch(cfg)) {
    throw new InputError(`The ${what} checkpoint was trained with a different model architecture or batch size`, what);
  }
  if (JSON.stringify(meta.layout) !== JSON.stringify(layout)) {
    throw new InputError(`The ${what} checkpoint was trained on a different field layout`, what);
  }
}

/** Reads the meta of a checkpoint written by trainChunk. */
export function checkpointMeta(ck: Checkpoint, file = '<checkpoint>'): CheckpointMeta {
  const meta = ck.meta as unknown as CheckpointMeta;
  if (!meta?.config || !meta.layout) throw new InputError('Checkpoint has no model meta (not written by trainChunk?)', file);
  return { ...meta, config: parseModelConfig(meta.config) };
}

/**
 * Below this many MatMul FLOPs per graph run, onnxruntime's intra-op pool costs more than it gives: the demo-size
 * networks (0.2 GFLOP per fused iteration) ran 86–101 it/s at 2 threads against 104–108 at 1, at twice the CPU time
 * (bench/model.ts on an idle 2-core machine), while the paper-size presets (22–46 GFLOP) gain 1.6–1.8× from the
 * second thread.
 */
export const SMALL_GRAPH_FLOPS = 1e9;

/**
 * The intra-op threads a training run uses: what it was allowed (`allowed`; undefined = onnxruntime's choice, all
 * cores), but one thread when the largest graph it runs does under SMALL_GRAPH_FLOPS of MatMul work on the CPU.
 */
export function trainingThreads(allowed: number | undefined, graphFlops: number): number | undefined {
  if (graphFlops < SMALL_GRAPH_FLOPS) return 1;
  return allowed;
}
