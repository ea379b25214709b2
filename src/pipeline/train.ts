// The train stage: chunk 0 from scratch, then chunks 1..n−1 fine-tuned from chunk 0's last checkpoint in parallel
// (spec §3.3), each chunk one idempotent `train-chunk` job that resumes from its own latest checkpoint.
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, NetShareError } from '../errors.js';
import type { NetShareConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { modelConfigSchema, type ModelConfig } from '../model/config.js';
import type { Device } from '../runtime/session.js';
import { loadChunkMeta, loadChunkTensors, loadModelLayout, loadPreprocessSummary } from './chunk-tensors.js';
import { DP_LEDGER_VERSION, cryptoDpRandom, dpChunkPlan, dpLedger, type DpLedger } from '../model/dp.js';
import { dpGraphVersion } from '../model/graphs.js';
import type { Executor, JobResult } from './executor.js';
import { RNG_STREAMS_VERSION } from '../core/rng.js';
import { graphCodeVersion } from './code-version.js';
import { checkpointFiles, listCheckpoints } from './checkpoints.js';
import { fingerprint, readJsonIfExists } from './fsutil.js';
import { reviveError, type Job, type JobContext } from './jobs.js';
import { acquireLease, LeaseBusyError } from './lease.js';
import { checkpointDir, inWorkdir, leaseLogPath, leasePath, relativeToWorkdir, trainChunkDir, trainResultPath, trainRoot } from './workdir.js';
import { loadManifest } from './manifest.js';
import { join } from 'node:path';

/** Params of a `train-chunk` job (plain JSON; the workdir is the job's, paths are relative to it). */
export interface TrainChunkParams {
  /**
   * Fingerprint of everything upstream of this job (the preprocess stage's, which covers the input's bytes and the
   * config, and the model code version): a result or checkpoints made from other data or code never count as done.
   */
  upstream: string;
  /** Time-chunk index. */
  chunk: number;
  model: ModelConfig;
  iterations: number;
  seed: number;
  device: Device;
  /** Fine-tune from this checkpoint (chunk 0's last, relative to the workdir); absent for chunk 0 / from-scratch chunks. */
  initFrom?: string;
  /** DP-SGD (global.dp, σ resolved by the train stage's ledger); absent for non-DP training. */
  dp?: { clip: number; noiseMultiplier: number; countNoise: number };
}

/** A workdir-relative path: no absolute path, no `..` (a job never reaches outside its workdir). */
export const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), { message: 'expected a path relative to the workdir (no leading /, no ..)' });

/** The schema `train-chunk` params are validated with where the job runs. */
export const trainChunkParamsSchema = z.strictObject({
  upstream: z.string().min(1),
  chunk: z.number().int().nonnegative(),
  model: modelConfigSchema,
  iterations: z.number().int().positive(),
  seed: z.number().int(),
  device: z.enum(['cpu', 'cuda']),
  initFrom: relPath.optional(),
  dp: z.strictObject({ clip: z.number().positive(), noiseMultiplier: z.number().nonnegative(), countNoise: z.number().positive() }).optional(),
});

export interface TrainChunkResult {
  /** Fingerprint of the params the result belongs to (a rerun with other params retrains). */
  fp: string;
  chunk: number;
  iterations: number;
  /** Relative to the workdir (older workdirs hold absolute paths; inWorkdir reads both). */
  lastCheckpoint: string;
  /**
   * Every checkpoint of the chunk, oldest first. `seconds` / `cpuSeconds`: wall and process CPU time (user + system,
   * every thread of the job's process) from the job's start to the checkpoint's save; absent for checkpoints an
   * earlier, killed attempt wrote. The learning curve of bench/fidelity.ts plots fidelity against them.
   */
  checkpoints: { iteration: number; path: string; seconds?: number; cpuSeconds?: number }[];
  seconds: number;
  resumedFrom?: number;
  final: { dLoss: number; gLoss: number; wDist: number; itPerSec: number } | null;
  /**
   * DP runs: the chunk's flow count plus N(0, countNoise²) noise from node:crypto (spec §3.5's noisy count, drawn once
   * with the model and kept here), which generation uses instead of the real count.
   */
  dpFlowCount?: number;
}

/** Fingerprint of a job's params, upstream included (the device does not change the result; paths are relative). */
export function trainParamsFingerprint(p: TrainChunkParams): string {
  return fingerprint({ ...p, device: undefined });
}

/**
 * The `train-chunk` job: a pure function of the workdir's preprocess files and its params. Done (result.json with the
 * same fingerprint) → returns it; killed → resumes from the chunk's latest checkpoint; other params or other
 * upstream (re-preprocessed data, other model code) → removes the chunk's folder and starts over.
 */
export async function trainChunkJob(p: TrainChunkParams, ctx: Pick<JobContext, 'workdir' | 'threads' | 'progress'> & { key?: string }): Promise<TrainChunkResult> {
  const wd = ctx.workdir;
  const fp = trainParamsFingerprint(p);
  const resultFile = trainResultPath(wd, p.chunk);
  const done = async (): Promise<TrainChunkResult | undefined> => {
    const prev = await readJsonIfExists<TrainChunkResult>(resultFile);
    return prev && prev.fp === fp && existsSync(inWorkdir(wd, prev.lastCheckpoint)) ? prev : undefined;
  };
  const prev = await done();
  if (prev) return prev;
  // one runner per chunk folder: a stalled job delivered twice must not have two runners writing (or rm-ing) it
  const lease = await acquireLease(leasePath(wd, `train-chunk-${p.chunk}`), { owner: ctx.key ?? `train/chunk-${p.chunk}`, log: leaseLogPath(wd) });
  try {
    return (await done()) ?? (await trainLeased(p, fp, ctx, lease.held));
  } finally {
    await lease.release();
  }
}

async function trainLeased(p: TrainChunkParams, fp: string, ctx: Pick<JobContext, 'workdir' | 'threads' | 'progress'>, held: () => boolean): Promise<TrainChunkResult> {
  const wd = ctx.workdir;
  const resultFile = trainResultPath(wd, p.chunk);
  const dir = trainChunkDir(wd, p.chunk);
  const jobFile = `${dir}/job.json`;
  const started = await readJsonIfExists<{ fp: string }>(jobFile);
  if (!started || started.fp !== fp) {
    await rm(dir, { recursive: true, force: true });
    await writeJsonAtomic(jobFile, { fp, params: { ...p } });
  }
  const initFrom = p.initFrom !== undefined ? inWorkdir(wd, p.initFrom) : undefined;
  if (initFrom !== undefined && !existsSync(initFrom)) {
    throw new NetShareError(
      `chunk ${p.chunk} fine-tunes from chunk 0's last checkpoint ${p.initFrom}, which does not exist (NetShare issue #18): train chunk 0 first`,
    );
  }
  const { trainChunk } = await import('../model/index.js');
  const layout = await loadModelLayout(wd);
  const t = await loadChunkTensors(wd, p.chunk);
  const ckDir = checkpointDir(wd, p.chunk);
  const before = await listCheckpoints(ckDir);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const store = checkpointFiles(ckDir);
  const saved = new Map<number, { seconds: number; cpuSeconds: number }>();
  let lastReport = 0;
  const res = await trainChunk({
    tensors: { n: t.n, attributes: t.attributes, features: t.features, genFlag: t.genFlag },
    layout,
    config: p.model,
    checkpoints: {
      ...store,
      async save(iteration, bytes, keep) {
        if (!held()) throw new LeaseBusyError(`lost the lease of ${dir} (its heartbeat went stale and another runner took it): stopping`);
        const path = await store.save(iteration, bytes, keep);
        const c = process.cpuUsage(cpu0);
        saved.set(iteration, { seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6 });
        return path;
      },
    },
    iterations: p.iterations,
    device: p.device,
    threads: ctx.threads,
    seed: p.seed,
    resumeFrom: 'latest',
    ...(initFrom !== undefined ? { initFrom } : {}),
    ...(p.dp ? { dp: { clip: p.dp.clip, noiseMultiplier: p.dp.noiseMultiplier } } : {}),
    onProgress: (pr) => {
      const now = Date.now();
      if (now - lastReport < 500 && pr.iteration < pr.iterations) return;
      lastReport = now;
      ctx.progress(pr.iteration / pr.iterations, `it ${pr.iteration}/${pr.iterations} d ${pr.dLoss.toFixed(3)} g ${pr.gLoss.toFixed(3)} ${pr.itPerSec.toFixed(1)} it/s`);
    },
  });
  const checkpoints = (await listCheckpoints(ckDir)).map((c) => ({ ...c, path: relativeToWorkdir(wd, c.path), ...saved.get(c.iteration) }));
  const last = checkpoints.at(-1);
  if (!last) {
    throw new NetShareError(`training chunk ${p.chunk} wrote no checkpoint in ${ckDir} (NetShare issue #18); check model.checkpointEvery`);
  }
  const result: TrainChunkResult = {
    fp,
    chunk: p.chunk,
    iterations: res.iterations,
    lastCheckpoint: last.path,
    checkpoints,
    seconds: (performance.now() - t0) / 1000,
    ...(before.length > 0 ? { resumedFrom: before.at(-1)!.iteration } : {}),
    final: res.final ? { dLoss: res.final.dLoss, gLoss: res.final.gLoss, wDist: res.final.wDist, itPerSec: res.final.itPerSec } : null,
    // NetShare's estimate_flowlen_dp is n + N(0, 1), then `+=` onto n (about double): here the noisy count replaces n
    ...(p.dp ? { dpFlowCount: t.n + p.dp.countNoise * cryptoDpRandom().normals(1)[0]! } : {}),
  };
  await writeJsonAtomic(resultFile, result);
  return result;
}

export interface TrainStageOptions {
  workdir: string;
  config: NetShareConfig;
  /** The train stage's fingerprint (trainStageFingerprint): every job's result and checkpoints are tied to it. */
  upstream: string;
  /** The workdir's identity (lease.ts workdirIdentity): scopes the job keys. */
  scope: string;
  executor: Executor;
  device?: Device;
  onProgress?: (job: string, fraction: number, info?: string) => void;
  onJobDone?: (job: string, r: JobResult) => void;
  /** Cancels the stage's jobs (runAll rejects with InterruptedError). */
  signal?: AbortSignal;
  /**
   * DP runs (`--public`): a public trace to pretrain on without DP (spec §3.5): preprocessed with this config (its fixed
   * ranges, choices and tag dims; its own chunk edges) under <wd>/train/public, its first chunk trained, and every
   * private chunk fine-tuned from that model with DP-SGD.
   */
  publicTrace?: { path: string; sha256: string };
}

export interface TrainStageResult {
  chunks: { chunk: number; iterations: number; checkpoints: number; seconds: number; resumedFrom?: number; attempts: number }[];
  /** DP runs: ε, δ, σ, C, q and steps per chunk, and the composition (kept in the manifest as this stage's outcome). */
  dp?: DpRunLedger;
  /** Wall seconds of chunk 0 and of the parallel fine-tuning phase. */
  phases: { chunk0: number; fineTune: number };
  executor: string;
}

/**
 * The train stage's fingerprint: the preprocess stage's (input bytes, preprocessing config), the model and training
 * config, the seed, DP, the version of the model code (graphCodeVersion) and of the seeded streams.
 */
export function trainStageFingerprint(preprocessFp: string, cfg: NetShareConfig, publicSha256?: string): string {
  return fingerprint({
    pre: preprocessFp, model: cfg.model, train: cfg.train, seed: cfg.global.seed, dp: cfg.global.dp, graphs: graphCodeVersion(), streams: RNG_STREAMS_VERSION,
    ...(publicSha256 !== undefined ? { public: publicSha256 } : {}),
    // the ledger's σ allocation (per chunk since DP_LEDGER_VERSION 2): a workdir trained under another one retrains
    ...(cfg.global.dp ? { dpGraphs: dpGraphVersion(), dpLedger: DP_LEDGER_VERSION } : {}),
  });
}

/**
 * `--public`: preprocess the public trace under <wd>/train/public with the run's config made non-DP (its chunk edges
 * are its own; ranges, choices, max flow length and tag dims are the config's, so the layout is the private one's),
 * train its first chunk as one `train-chunk` job, and return the model's last checkpoint (workdir-relative).
 */
async function pretrainPublic(opts: TrainStageOptions, pub: NonNullable<TrainStageOptions['publicTrace']>, device: Device, events: Parameters<Executor['runAll']>[1]): Promise<PublicPretraining> {
  const pwd = join(trainRoot(opts.workdir), 'public');
  const cfg: NetShareConfig = {
    ...opts.config,
    global: { ...opts.config.global, dp: false },
    preprocess: { ...opts.config.preprocess, holdoutShare: 0 },
    train: { ...opts.config.train, fineTuneFromChunk0: false },
  };
  const { preprocess } = await import('./preprocess.js');
  const r = await preprocess({ input: pub.path, workdir: pwd, config: cfg, onProgress: (phase, d, t) => opts.onProgress?.('train/public', t > 0 ? d / t : 0, `preprocess ${phase}`) });
  const chunk = r.chunks[0];
  if (chunk === undefined) throw new NetShareError(`the public trace ${pub.path} has no records to pretrain on`);
  const upstream = fingerprint({ private: opts.upstream, publicPre: (await loadManifest(pwd)).stages['preprocess']?.fingerprint ?? pub.sha256 });
  const { first } = trainJobs(pwd, `${opts.scope}/public`, cfg, [chunk], device, upstream);
  const job = { ...first[0]!, id: `train/public-chunk-${chunk}` };
  const [res] = await opts.executor.runAll([job], events);
  if (!res!.ok) throw failure(res!);
  const out = res!.result as TrainChunkResult;
  return {
    trace: pub.path,
    sha256: pub.sha256,
    chunk,
    flows: (await loadChunkMeta(pwd, chunk)).n,
    iterations: out.iterations,
    checkpoint: relativeToWorkdir(opts.workdir, inWorkdir(pwd, out.lastCheckpoint)),
  };
}

/** A DP run's ledger plus what of the run used the real data outside DP-SGD (and is therefore not covered by ε). */
export interface DpRunLedger extends DpLedger {
  notPrivate: string[];
  /** `--public`: the non-DP model every private chunk started from (spec §3.5 pretrain_dp). */
  publicPretraining?: PublicPretraining;
}

/** The public model of `--public`: trained without DP on the first chunk of the public trace, same config and layout. */
export interface PublicPretraining {
  trace: string;
  sha256: string;
  /** The public trace's chunk it trained on (its first non-empty one) and how long. */
  chunk: number;
  flows: number;
  iterations: number;
  /** Its last checkpoint, relative to the workdir: every private chunk's initFrom. */
  checkpoint: string;
}

/**
 * What a DP run releases from the real data outside the DP-SGD training and the noisy flow counts. ε covers the
 * models and the counts; these are not DP (they are listed in the manifest and printed with the run's ε).
 */
export const DP_NOT_PRIVATE: readonly string[] = [
  'the number of flows per chunk sets the sampling rate q = batch / flows and, with a target ε, the chunk\'s own σ (treated as public, as in DP-SGD generally); ' +
    'the exact counts are in this ledger (manifest, --json, closing table) and the workdir: share the synthetic trace or the exported generator, not the workdir',
  'which time chunks hold records (an empty chunk is refused before training)',
  'postprocess cuts each chunk\'s synthetic records to the time range of its real records (recordRangesUs)',
  'postprocess (pcap) gives the synthetic IPv4 fragment offsets the real marginal and snaps ICMP type/code to real values',
  'the evaluation (report, fidelity table, privacy checks) compares with the real records: its numbers are not DP',
  'the progress lines and result.json of each chunk report no critic loss (NaN): those would not be DP',
];

/** σ and ε of a DP run from the preprocessed chunks' flow counts (the ledger of src/model/dp.ts). */
export async function dpRunLedger(workdir: string, cfg: NetShareConfig, chunks: readonly number[]): Promise<DpRunLedger | undefined> {
  const dp = cfg.global.dp;
  if (!dp) return undefined;
  const plans = await Promise.all(chunks.map(async (k) => dpChunkPlan(k, (await loadChunkMeta(workdir, k)).n, cfg.model.batchSize, cfg.model.iterations, cfg.model.dRounds)));
  const base = { clip: dp.clip, delta: dp.delta, countNoise: dp.countNoise };
  const ledger = dp.epsilon !== undefined ? dpLedger(plans, { ...base, epsilon: dp.epsilon }) : dpLedger(plans, { ...base, noiseMultiplier: dp.noiseMultiplier! });
  return { ...ledger, notPrivate: [...DP_NOT_PRIVATE] };
}

/** Fine-tuning length and checkpoint period for chunks 1..n−1: the fraction of chunk 0's, at least 1. */
export function fineTuneSchedule(model: ModelConfig, fraction: number): { iterations: number; checkpointEvery: number } {
  const iterations = Math.max(1, Math.round(model.iterations * fraction));
  const every = model.checkpointEvery === 0 ? 0 : Math.min(iterations, Math.max(1, Math.round(model.checkpointEvery * fraction)));
  return { iterations, checkpointEvery: every };
}

/**
 * Jobs of the train stage: [chunk 0] and [the rest] (the rest need chunk 0's checkpoint when fine-tuning).
 * `upstream` is the train stage's fingerprint (preprocess fingerprint, config, model code version).
 */
export function trainJobs(
  workdir: string,
  scope: string,
  cfg: NetShareConfig,
  chunks: number[],
  device: Device,
  upstream: string,
  /** DP runs: each chunk's DP-SGD settings (its own σ, from the ledger). */
  dp?: (chunk: number) => TrainChunkParams['dp'],
): { first: Job[]; rest: Job[] } {
  const seed = cfg.global.seed;
  const base = cfg.model;
  const mk = (k: number, model: ModelConfig, initFrom?: string): Job => {
    const params: TrainChunkParams = {
      upstream,
      chunk: k,
      model,
      iterations: model.iterations,
      seed: seed * 1009 + k,
      device,
      ...(initFrom !== undefined ? { initFrom } : {}),
      ...(dp ? { dp: dp(k) } : {}),
    };
    return { id: `train/chunk-${k}`, kind: 'train-chunk', params: params as unknown as Record<string, unknown>, workdir, scope };
  };
  const [c0, ...others] = chunks;
  if (!cfg.train.fineTuneFromChunk0 || cfg.global.dp) {
    return { first: chunks.map((k) => mk(k, base)), rest: [] };
  }
  const ft = fineTuneSchedule(base, cfg.train.fineTuneFraction);
  const init = '<chunk0-last>';
  return { first: [mk(c0!, base)], rest: others.map((k) => mk(k, { ...base, ...ft }, init)) };
}

function failure(r: JobResult): Error {
  return reviveError(r.id, r.error ?? { name: 'Error', message: 'unknown failure' });
}

/** Train every chunk of the preprocessed workdir (the caller wraps this in runStage). */
export async function trainStage(opts: TrainStageOptions): Promise<TrainStageResult> {
  const summary = await loadPreprocessSummary(opts.workdir);
  const device = opts.device ?? 'cpu';
  const ledger = await dpRunLedger(opts.workdir, opts.config, summary.chunks);
  const dpParams = ledger
    ? (k: number): TrainChunkParams['dp'] => {
        const c = ledger.chunks.find((x) => x.chunk === k);
        if (!c) throw new NetShareError(`chunk ${k} has no entry in the DP ledger`);
        return { clip: ledger.clip, noiseMultiplier: c.noiseMultiplier, countNoise: ledger.countNoise };
      }
    : undefined;
  const { first, rest } = trainJobs(opts.workdir, opts.scope, opts.config, summary.chunks, device, opts.upstream, dpParams);
  const events = {
    onProgress: (job: Job, f: number, info?: string) => opts.onProgress?.(job.id, f, info),
    onDone: (job: Job, r: JobResult) => opts.onJobDone?.(job.id, r),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  if (opts.publicTrace) {
    if (!ledger) throw new ConfigError('--public pretrains the model that DP-SGD fine-tunes: it needs --dp', 'public');
    ledger.publicPretraining = await pretrainPublic(opts, opts.publicTrace, device, events);
    for (const j of first) (j.params as unknown as TrainChunkParams).initFrom = ledger.publicPretraining.checkpoint;
  }
  const t0 = performance.now();
  const r0 = await opts.executor.runAll(first, events);
  for (const r of r0) if (!r.ok) throw failure(r);
  const t1 = performance.now();
  let rr: JobResult[] = [];
  if (rest.length > 0) {
    const c0 = r0[0]!.result as TrainChunkResult;
    if (!c0?.lastCheckpoint || !existsSync(inWorkdir(opts.workdir, c0.lastCheckpoint))) {
      throw new NetShareError(`chunk 0 left no checkpoint to fine-tune from (NetShare issue #18); looked for ${c0?.lastCheckpoint ?? checkpointDir(opts.workdir, summary.chunks[0]!)}`);
    }
    for (const j of rest) (j.params as unknown as TrainChunkParams).initFrom = relativeToWorkdir(opts.workdir, inWorkdir(opts.workdir, c0.lastCheckpoint));
    rr = await opts.executor.runAll(rest, events);
    for (const r of rr) if (!r.ok) throw failure(r);
  }
  const t2 = performance.now();
  const all = [...r0, ...rr];
  return {
    chunks: all.map((r) => {
      const x = r.result as TrainChunkResult;
      return {
        chunk: x.chunk,
        iterations: x.iterations,
        checkpoints: x.checkpoints.length,
        seconds: x.seconds,
        ...(x.resumedFrom !== undefined ? { resumedFrom: x.resumedFrom } : {}),
        attempts: r.attempts,
      };
    }),
    phases: { chunk0: (t1 - t0) / 1000, fineTune: (t2 - t1) / 1000 },
    executor: opts.executor.name,
    ...(ledger ? { dp: ledger } : {}),
  };
}

/** Checkpoints of chunk k as recorded by its finished job. */
export async function trainedChunk(workdir: string, k: number): Promise<TrainChunkResult> {
  const r = await readJsonIfExists<TrainChunkResult>(trainResultPath(workdir, k));
  if (!r) throw new NetShareError(`chunk ${k} is not trained (no ${trainResultPath(workdir, k)}); run \`netshare train\` first`);
  return r;
}
