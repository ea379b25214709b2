// `--budget`: size training to a wall-clock budget for the whole run (preprocess → report) on this machine. After
// preprocessing, a short probe measures chunk 0's iterations/s with the threads its job will get (and a fine-tuning
// job's, when they differ); model.iterations is then set so that chunk 0 plus the fine-tuned chunks (`workers` at a
// time, train.fineTuneFraction as long) fill TRAIN_SHARE of what is left, the rest being generation, checkpoint
// selection and evaluation. The plan is stored in the workdir: a rerun (resume) uses it again instead of probing anew,
// so the training fingerprint, and every finished chunk, stay valid.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError, expected } from '../errors.js';
import type { NetShareConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../io/atomic.js';
import type { ModelConfig } from '../model/config.js';
import type { Device } from '../runtime/session.js';
import { loadChunkTensors, loadModelLayout, loadPreprocessSummary } from './chunk-tensors.js';
import { fingerprint, readJsonIfExists } from './fsutil.js';

/** Share of the budget left after preprocessing that training may take. */
export const TRAIN_SHARE = 0.7;
/** Checkpoints per chunk in a budgeted run: the config's number, at most this many (each costs a generation). */
export const MAX_BUDGET_CHECKPOINTS = 6;

/**
 * A budget in seconds from `30m`, `2h`, `1h30m`, `90s` or a plain number of minutes. ConfigError naming `key` for
 * anything else, or for a budget under 30 seconds.
 */
export function parseBudget(text: string | number, key = '--budget'): number {
  const s = String(text).trim();
  let seconds: number;
  if (/^\d+(\.\d+)?$/.test(s)) seconds = Number(s) * 60;
  else {
    const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
    if (!m || s === '') throw new ConfigError(expected('a duration such as 30m, 2h, 1h30m, 90s (a plain number is minutes)', key, text), key);
    seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  }
  if (!(seconds >= 30)) throw new ConfigError(expected('at least 30 seconds', key, text), key);
  return seconds;
}

/**
 * Threads of one training job as the executors give them: a lone job (chunk 0) every core, each of `workers` parallel
 * jobs (the fine-tuned chunks) the cores divided by the jobs running at once.
 */
export function jobThreads(workers: number, cores = availableParallelism()): { lone: number; parallel: number } {
  return { lone: cores, parallel: Math.max(1, Math.floor(cores / Math.max(1, workers))) };
}

export interface BudgetInputs {
  budgetS: number;
  /** Seconds already spent on this workdir before training (preprocessing). */
  spentS: number;
  chunk0ItPerSec: number;
  fineTuneItPerSec: number;
  chunks: number;
  workers: number;
  fineTuneFromChunk0: boolean;
  fineTuneFraction: number;
  /** The config's checkpoints per chunk (model.iterations / model.checkpointEvery). */
  checkpoints: number;
}

export interface BudgetPlan extends BudgetInputs {
  trainShare: number;
  trainBudgetS: number;
  iterations: number;
  checkpointEvery: number;
  /** Estimated wall seconds of chunk 0 and of the fine-tuning phase. */
  estimate: { chunk0S: number; fineTuneS: number };
}

/**
 * Iterations for chunk 0 so that training fills TRAIN_SHARE of what the budget leaves: chunk 0 alone, then the other
 * chunks `workers` at a time, each `fineTuneFraction` as long (all chunks from scratch, in waves, when fine-tuning is
 * off). At least one iteration per checkpoint.
 */
export function planIterations(x: BudgetInputs): BudgetPlan {
  const trainBudgetS = Math.max(1, (x.budgetS - x.spentS) * TRAIN_SHARE);
  const rest = x.chunks - 1;
  const waves = rest > 0 ? Math.ceil(rest / Math.max(1, Math.min(x.workers, rest))) : 0;
  const checkpoints = Math.max(1, Math.min(MAX_BUDGET_CHECKPOINTS, Math.round(x.checkpoints)));
  let iterations: number;
  let chunk0S: number;
  let fineTuneS: number;
  if (x.fineTuneFromChunk0) {
    // I / r0 + waves · f · I / rft = T
    iterations = Math.floor(trainBudgetS / (1 / x.chunk0ItPerSec + (waves * x.fineTuneFraction) / x.fineTuneItPerSec));
    chunk0S = iterations / x.chunk0ItPerSec;
    fineTuneS = (waves * x.fineTuneFraction * iterations) / x.fineTuneItPerSec;
  } else {
    const allWaves = Math.ceil(x.chunks / Math.max(1, Math.min(x.workers, x.chunks)));
    iterations = Math.floor((trainBudgetS * x.fineTuneItPerSec) / allWaves);
    chunk0S = 0;
    fineTuneS = (allWaves * iterations) / x.fineTuneItPerSec;
  }
  iterations = Math.max(checkpoints, iterations);
  return { ...x, trainShare: TRAIN_SHARE, trainBudgetS, iterations, checkpointEvery: Math.ceil(iterations / checkpoints), estimate: { chunk0S, fineTuneS } };
}

/**
 * Chunk 0's training speed (iterations/s after graph and session creation), measured for about `seconds` of training
 * over its second half: the first iterations of a process run slower (JIT, allocations, page faults; UGR16 day with the
 * netflow preset: 0.3 it/s at the first iteration, 1.0 it/s after a minute), and a rate taken from the start made the
 * plan give chunk 0 0.79 it/s and 653 iterations where it trained at 1.0 it/s, leaving budget unspent.
 */
export async function probeTrainingSpeed(wd: string, model: ModelConfig, threads: number, seconds: number, device: Device = 'cpu'): Promise<number> {
  const { trainChunk } = await import('../model/index.js');
  const summary = await loadPreprocessSummary(wd);
  const layout = await loadModelLayout(wd);
  const t = await loadChunkTensors(wd, summary.chunks[0]!);
  const seen: { at: number; it: number }[] = [];
  // the first progress report at or after half the probe's time: the rate is measured from there
  let mid = -1;
  const ac = new AbortController();
  await trainChunk({
    tensors: { n: t.n, attributes: t.attributes, features: t.features, genFlag: t.genFlag },
    layout,
    config: { ...model, checkpointEvery: 0, iterations: 1_000_000_000 },
    // the probe's model is thrown away: a store that keeps nothing
    checkpoints: { save: async () => '<probe>', latest: async () => undefined, read: async () => new Uint8Array(0) },
    iterations: 1_000_000_000,
    device,
    threads,
    seed: 1,
    signal: ac.signal,
    onProgress: (p) => {
      const now = performance.now();
      seen.push({ at: now, it: p.iteration });
      const first = seen[0]!;
      if (mid < 0 && now - first.at >= (seconds * 1000) / 2) mid = seen.length - 1;
      if (now - first.at >= seconds * 1000 && mid >= 0 && p.iteration - seen[mid]!.it >= 3) ac.abort();
    },
  });
  const from = seen[mid]!;
  const to = seen.at(-1)!;
  return (to.it - from.it) / ((to.at - from.at) / 1000);
}

const planPath = (wd: string): string => join(wd, 'budget-plan.json');

export interface BudgetOptions {
  budgetS: number;
  /** Fingerprint of the preprocess stage (a re-preprocessed workdir plans again). */
  preprocessFp: string;
  spentS: number;
  workers: number;
  device?: Device;
}

/**
 * The plan for `cfg` in workdir `wd`: the stored one when it was made for the same budget, preprocessing, model
 * (less its iteration count) and worker count, else a new one (probe, plan, store). Returns it and whether it was
 * reused.
 */
export async function budgetPlan(wd: string, cfg: NetShareConfig, o: BudgetOptions): Promise<{ plan: BudgetPlan; reused: boolean; probeS: number }> {
  const key = fingerprint({ budgetS: o.budgetS, pre: o.preprocessFp, model: { ...cfg.model, iterations: null, checkpointEvery: null }, train: cfg.train, workers: o.workers, device: o.device ?? 'cpu' });
  const stored = await readJsonIfExists<{ key: string; plan: BudgetPlan }>(planPath(wd));
  if (stored && stored.key === key) return { plan: stored.plan, reused: true, probeS: 0 };
  const summary = await loadPreprocessSummary(wd);
  const threads = jobThreads(o.workers);
  const probeFor = Math.min(15, Math.max(3, o.budgetS * 0.01));
  const t0 = performance.now();
  const r0 = await probeTrainingSpeed(wd, cfg.model, threads.lone, probeFor, o.device);
  const rft = threads.parallel === threads.lone ? r0 : await probeTrainingSpeed(wd, cfg.model, threads.parallel, probeFor, o.device);
  const probeS = (performance.now() - t0) / 1000;
  const plan = planIterations({
    budgetS: o.budgetS,
    spentS: o.spentS + probeS,
    chunk0ItPerSec: r0,
    fineTuneItPerSec: rft,
    chunks: summary.chunks.length,
    workers: o.workers,
    fineTuneFromChunk0: cfg.train.fineTuneFromChunk0 && !cfg.global.dp,
    fineTuneFraction: cfg.train.fineTuneFraction,
    checkpoints: cfg.model.checkpointEvery > 0 ? cfg.model.iterations / cfg.model.checkpointEvery : 1,
  });
  await writeJsonAtomic(planPath(wd), { key, plan });
  return { plan, reused: false, probeS };
}
