// `netshare run` end to end: preprocess → train → generate → postprocess → evaluate, each a manifest stage in the
// workdir (a rerun skips finished stages, a killed run resumes; training resumes from each chunk's last checkpoint).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { ConfigError, InputError, InterruptedError, expected } from '../errors.js';
import { deepMerge, parseConfig, type NetShareConfig } from '../config/schema.js';
import type { ReadTraceOptions } from '../io/read-trace.js';
import { checkOutputPaths, checkWorkdir } from '../io/output-paths.js';
import type { Device } from '../runtime/session.js';
import type { Table } from '../io/table.js';
import { loadPreprocessSummary } from './chunk-tensors.js';
import { InProcessExecutor, LocalPoolExecutor, defaultWorkers, withJobLog, type Executor } from './executor.js';
import { lockWorkdir, workdirIdentity } from './lease.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { fingerprint, readJsonIfExists } from './fsutil.js';
import { inputRecord, loadManifest, runStage, saveManifest } from './manifest.js';
import { tooManyChunksError } from './preprocess.js';
import { STAGES, configPath, jobLogPath, metricsPath, reportPath, syntheticPath, type StageName } from './workdir.js';
import type { DpRunLedger, TrainStageResult } from './train.js';
import type { GenerateStageResult } from './generate.js';
import { GENERATE_VERSION, LENGTH_CALIBRATION_FLOWS, MAX_FILL_PASSES, SELECTION_BUDGET_FLOWS, SELECTION_MIN_FLOWS, SELECTION_SAMPLE_FLOWS } from './generate-settings.js';
import demoPcap from '../config/presets/demo-pcap.json' with { type: 'json' };
import { selectionMetrics, type PostprocessResult } from './postprocess.js';
import type { HoldoutInfo } from './holdout.js';
import type { BudgetPlan } from './budget.js';

export { STAGES, type StageName } from './workdir.js';

/** Presets `netshare run --preset` accepts: the two NetShare ones and a demo-sized pcap one. */
export const RUN_PRESETS = ['pcap', 'netflow', 'pcap-netshare', 'netflow-netshare', 'demo'] as const;
export type RunPreset = (typeof RUN_PRESETS)[number];

function demoPreset(): Record<string, unknown> {
  return structuredClone(demoPcap) as Record<string, unknown>;
}

/** Command-line overrides of the common keys (`--chunks`, `--iterations`, …). */
export interface ConfigOverrides {
  /** `--dp` with `--epsilon` or `--noise-multiplier` (replaces the config's ε/σ; its δ, clip and countNoise stay). */
  dp?: { epsilon?: number; noiseMultiplier?: number };
  chunks?: number;
  iterations?: number;
  checkpointEvery?: number;
  sampleLen?: number;
  seed?: number;
  maxFlowLen?: number;
  /** preprocess.holdoutShare (`--holdout-share`). */
  holdoutShare?: number;
}

/**
 * Build and validate the config: a preset or a JSON file, then the overrides. With `--iterations` alone the checkpoint
 * period keeps the preset's number of checkpoints; an explicit period above the iterations is a ConfigError.
 */
export function resolveRunConfig(src: { preset?: string; configFile?: string; raw?: Record<string, unknown> }, o: ConfigOverrides = {}): NetShareConfig {
  let raw: Record<string, unknown>;
  let source: string;
  if (src.raw) {
    raw = src.raw;
    source = 'config';
  } else if (src.configFile) {
    let text: string;
    try {
      text = readFileSync(src.configFile, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read config ${src.configFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, src.configFile);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`${src.configFile} is not valid JSON: ${(err as Error).message}`, '');
    }
    source = src.configFile;
  } else {
    const p = src.preset ?? 'pcap';
    if (!(RUN_PRESETS as readonly string[]).includes(p)) throw new ConfigError(expected(RUN_PRESETS.join(' | '), '--preset', p), 'preset');
    raw = p === 'demo' ? demoPreset() : { preset: p };
    source = `preset ${p}`;
  }
  const over: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {};
  const model: Record<string, unknown> = {};
  if (o.chunks !== undefined) pre.nChunks = o.chunks;
  if (o.maxFlowLen !== undefined) pre.maxFlowLen = o.maxFlowLen;
  if (o.holdoutShare !== undefined) pre.holdoutShare = o.holdoutShare;
  if (o.iterations !== undefined) model.iterations = o.iterations;
  if (o.checkpointEvery !== undefined) model.checkpointEvery = o.checkpointEvery;
  if (o.sampleLen !== undefined) model.sampleLen = o.sampleLen;
  if (o.seed !== undefined) over.global = { seed: o.seed };
  if (o.dp) {
    // the flag's ε or σ replaces the config's (either one): rebuilt here, since a merge would keep the other
    const glob = { ...((raw as { global?: Record<string, unknown> }).global ?? {}) };
    const g = glob['dp'];
    const base = typeof g === 'object' && g !== null ? { ...(g as Record<string, unknown>) } : {};
    delete base['epsilon'];
    delete base['noiseMultiplier'];
    glob['dp'] = { ...base, ...o.dp };
    raw = { ...raw, global: glob };
  }
  if (Object.keys(pre).length) over.preprocess = pre;
  if (Object.keys(model).length) over.model = model;
  if (o.iterations !== undefined && o.checkpointEvery === undefined) {
    // keep the base's number of checkpoints when only the length changes
    const base = parseConfig(raw, source).model;
    const per = base.checkpointEvery === 0 ? 0 : Math.max(1, Math.round(base.iterations / base.checkpointEvery));
    model.checkpointEvery = per === 0 ? 0 : Math.max(1, Math.floor(o.iterations / per));
  }
  const merged = deepMerge(raw, over) as Record<string, unknown>;
  const cfg = parseConfig(merged, source);
  selectionMetrics(cfg); // metric names need src/eval, which the config layer may not import
  return cfg;
}

export interface RunEvents {
  /** A stage starts (or is skipped because the manifest has it done). */
  stage?(name: StageName, skipped: boolean): void;
  stageDone?(name: StageName, seconds: number, skipped: boolean): void;
  progress?(stage: StageName, label: string, fraction: number, info?: string): void;
  warn?(message: string): void;
  /** The training plan of a `--budget` run, before training starts (`reused`: the workdir's stored plan). */
  plan?(plan: BudgetPlan, reused: boolean, probeS: number): void;
}

export interface RunOptions {
  input?: string;
  workdir: string;
  /** Required for a fresh workdir; later commands (generate) read <wd>/config.json when absent. */
  config?: NetShareConfig;
  out?: string;
  workers?: number;
  device?: Device;
  /** Total start flows to generate (default: the input's). */
  flows?: number;
  /** Seconds of trace to generate from the input's start (may exceed the input: more passes). */
  durationS?: number;
  /** First and last stage to run (inclusive). */
  from?: StageName;
  to?: StageName;
  /**
   * Real records never to train on (`--holdout-file`), instead of holding out preprocess.holdoutShare of the
   * input's flows; the input is then all training data.
   */
  holdoutFile?: string;
  /** How to read the input (flow schema, column mapping, skipBadRows); later stages reuse what preprocess recorded. */
  read?: ReadTraceOptions;
  /**
   * Wall-clock budget of the whole run in seconds (`--budget`): after preprocessing, a probe of the training speed sizes
   * model.iterations (and checkpointEvery) to fit it (src/pipeline/budget.ts); the plan is stored in the workdir.
   */
  budgetS?: number;
  /** `--public`: a public trace to pretrain on without DP before the private chunks' DP-SGD (needs global.dp). */
  publicTrace?: string;
  /** Evaluation options. */
  downstream?: boolean;
  privacy?: boolean;
  events?: RunEvents;
  /** An executor to use instead of the default (tests). */
  executor?: Executor;
  /**
   * `redis://host:port[/db]`: run the train and generate jobs on `netshare worker`s through BullMQ (executor-bullmq.ts)
   * instead of the local pool.
   */
  executorUrl?: string;
  /**
   * The folder job params are relative to (the workers' `--workdir-root` is the same folder on their machine); default:
   * the workdir's parent. Only the BullMQ executor uses it.
   */
  workdirRoot?: string;
  /** A job running longer than this fails (JobTimeoutError, not retried); default none. */
  jobTimeoutS?: number;
  /** Aborting it cancels the run's jobs; the run rejects with InterruptedError (the CLI exits 130). */
  signal?: AbortSignal;
}

export interface FidelitySummary {
  kind: 'packets' | 'flows';
  /** The records the model was trained on (the input less any held-out flows): NetShare's comparison. */
  real: { records: number; flows: number };
  synthetic: { records: number; flows: number };
  /** The held-out real records, when the run held some out (the `heldOut*` columns of `rows`). */
  holdout?: { records: number; flows: number };
  /** The headline: median ratio over NetShare's marginal metrics (eval's EvalResult.headline); absent in older runs. */
  headline?: { value: number | null; metrics: readonly string[]; split: 'flows' };
  /**
   * `value`: the metric against the training records, `floor` its real-vs-real floor, `ratio` = value ÷ floor.
   * `heldOut`: the metric against the held-out records, `heldOutFloor` the same between training and held-out
   * records, `heldOutRatio` = heldOut ÷ heldOutFloor (null without a holdout).
   */
  rows: {
    metric: string;
    value: number | null;
    floor: number | null;
    ratio: number | null;
    heldOut: number | null;
    heldOutFloor: number | null;
    heldOutRatio: number | null;
  }[];
}

export interface RunResult {
  /** The plan of a `--budget` run. */
  budget?: { plan: BudgetPlan; reused: boolean };
  /** A DP run's privacy ledger (ε, δ, σ, C, q and steps per chunk, composition, what is not DP). */
  dp?: DpRunLedger;
  workdir: string;
  input: string;
  output?: string;
  out?: string;
  report?: string;
  metrics?: string;
  stages: { name: StageName; seconds: number; skipped: boolean; outcome: unknown }[];
  fidelity?: FidelitySummary;
  executor: string;
  workers: number;
}

function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const v: Record<string, string> = { node: process.version };
  for (const [name, spec] of [['netshare', '../../package.json'], ['onnxruntime-node', 'onnxruntime-node/package.json']] as const) {
    try {
      const file = name === 'netshare' ? resolve(new URL('.', import.meta.url).pathname, spec) : require.resolve(spec);
      const alt = name === 'netshare' && !existsSync(file) ? resolve(new URL('.', import.meta.url).pathname, '../../../package.json') : file;
      v[name] = (JSON.parse(readFileSync(alt, 'utf8')) as { version: string }).version;
    } catch {
      v[name] = 'unknown';
    }
  }
  return v;
}

/**
 * The executor: BullMQ workers through Redis for a `redis://` URL, else a local process pool for `workers` > 1, else
 * in-process with every core for onnxruntime.
 */
export async function makeExecutor(workers: number, opts: { url?: string; workdir?: string; workdirRoot?: string; jobTimeoutS?: number } = {}): Promise<Executor> {
  const timeout = opts.jobTimeoutS !== undefined ? { jobTimeoutS: opts.jobTimeoutS } : {};
  if (opts.url !== undefined) {
    const { BullMQExecutor, parseRedisUrl } = await import('./executor-bullmq.js');
    parseRedisUrl(opts.url);
    const root = resolve(opts.workdirRoot ?? (opts.workdir ? dirname(resolve(opts.workdir)) : '.'));
    return new BullMQExecutor({ url: opts.url, workdirRoot: root, ...timeout });
  }
  return workers > 1 ? new LocalPoolExecutor({ workers, ...timeout }) : new InProcessExecutor(defaultWorkers(), timeout);
}

function stageIndex(s: StageName): number {
  return STAGES.indexOf(s);
}

/**
 * Run the pipeline stages `from`..`to` in `workdir`. Config errors surface before any stage runs; the chunk-count
 * check that needs the data (more chunks than non-empty time slices) runs inside preprocess right after chunking,
 * before encoders are fitted or anything is written.
 */
export async function runPipeline(opts: RunOptions): Promise<RunResult> {
  checkWorkdir(opts.workdir);
  const wd = resolve(opts.workdir);
  const from = stageIndex(opts.from ?? 'preprocess');
  const to = stageIndex(opts.to ?? 'evaluate');
  const ev = opts.events ?? {};
  if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
    throw new ConfigError(expected('a positive integer', '--workers', opts.workers), 'workers');
  }
  if (opts.flows !== undefined && (!Number.isInteger(opts.flows) || opts.flows < 1)) throw new ConfigError(expected('a positive integer', '--flows', opts.flows), 'flows');
  if (opts.durationS !== undefined && !(opts.durationS > 0)) throw new ConfigError(expected('a positive number of seconds', '--duration', opts.durationS), 'duration');
  if (opts.device !== undefined && opts.device !== 'cpu' && opts.device !== 'cuda') throw new ConfigError(expected("'cpu' or 'cuda'", '--device', opts.device), 'device');
  if (opts.budgetS !== undefined && (from > 0 || opts.config?.global.dp)) {
    throw new ConfigError(from > 0 ? '--budget sizes training: give it to `netshare run` or `netshare train`' : '--budget is not available with DP training', 'budget');
  }
  if (opts.holdoutFile !== undefined && from > 0) throw new ConfigError('--holdout-file is read by preprocessing; give it to `netshare run` or `netshare train`', 'holdout-file');

  // config: given, or the one this workdir ran with
  const saved = await readJsonIfExists<NetShareConfig>(configPath(wd));
  let cfg: NetShareConfig;
  if (opts.config) cfg = opts.config;
  else {
    if (!saved) throw new InputError(`${wd} holds no config.json: run \`netshare run\` or \`netshare train\` on it first`, configPath(wd));
    cfg = parseConfig(saved, configPath(wd));
  }
  const selection = selectionMetrics(cfg);
  const m0 = await loadManifest(wd);
  const input = resolve(opts.input ?? m0.inputs[0]?.path ?? '');
  if (!opts.input && !m0.inputs[0]) throw new ConfigError('name the input trace with --input', 'input');
  const st = await stat(input).catch(() => null);
  if (!st || !st.isFile()) throw new InputError(`input trace ${input} does not exist or is not a file`, input);
  if (opts.out !== undefined) {
    // the synthetic trace's --out is checked before any stage runs: a folder, an unwritable place or the input itself is refused
    checkOutputPaths([{ key: 'out', path: opts.out }], [input]);
  }
  const device: Device = opts.device ?? 'cpu';
  const workers = opts.workers ?? defaultWorkers();
  if (opts.jobTimeoutS !== undefined && !(opts.jobTimeoutS > 0)) throw new ConfigError(expected('a positive number of seconds', '--job-timeout', opts.jobTimeoutS), 'job-timeout');
  const url = opts.executorUrl ?? cfg.executor?.url;
  const workdirRoot = opts.workdirRoot ?? cfg.executor?.workdirRoot;
  const jobTimeoutS = opts.jobTimeoutS ?? cfg.executor?.jobTimeoutS;
  const signal = opts.signal;
  const checkSignal = (): void => {
    if (signal?.aborted) throw new InterruptedError('interrupted');
  };

  // one driver per workdir: a second `netshare run` on it stops here (WorkdirLockedError)
  await mkdir(wd, { recursive: true });
  const lock = await lockWorkdir(wd, `netshare ${opts.from === 'generate' ? 'generate' : opts.to === 'train' ? 'train' : 'run'}`);
  let inner: Executor;
  try {
    inner =
      opts.executor ??
      (await makeExecutor(workers, {
        workdir: wd,
        // the flags, else the config's `executor` keys
        ...(url !== undefined ? { url } : {}),
        ...(workdirRoot !== undefined ? { workdirRoot } : {}),
        ...(jobTimeoutS !== undefined ? { jobTimeoutS } : {}),
      }));
  } catch (err) {
    await lock.release();
    throw err;
  }
  // every job's attempts and timings go to <wd>/jobs.jsonl (bench/e2e.ts reads the per-job overhead there)
  const executor = withJobLog(inner, jobLogPath(wd));
  const stages: RunResult['stages'] = [];
  const record = async <T>(name: StageName, fp: string, fn: () => Promise<T>): Promise<T> => {
    const idx = stageIndex(name);
    if (idx < from || idx > to) {
      const rec = (await loadManifest(wd)).stages[name];
      if (!rec || rec.status !== 'done') throw new InputError(`stage ${name} has not finished in ${wd}; run it first`, wd);
      return rec.outcome as T;
    }
    const done = (await loadManifest(wd)).stages[name];
    const willSkip = done?.status === 'done' && done.fingerprint === fp;
    ev.stage?.(name, willSkip);
    const r = await runStage(wd, name, fp, fn);
    stages.push({ name, seconds: r.seconds, skipped: r.skipped, outcome: r.outcome });
    ev.stageDone?.(name, r.seconds, r.skipped);
    return r.outcome;
  };

  try {
    // 1. preprocess (its own runStage inside, fingerprinted on the input's size/mtime and the config)
    if (from <= 0) {
      const { preprocess } = await import('./preprocess.js');
      const before = (await loadManifest(wd)).stages.preprocess;
      ev.stage?.('preprocess', before?.status === 'done');
      const t0 = performance.now();
      const r = await preprocess({
        input,
        workdir: wd,
        config: cfg,
        requireAllChunks: true,
        ...(opts.read ? { read: opts.read } : {}),
        ...(opts.holdoutFile !== undefined ? { holdoutFile: opts.holdoutFile } : {}),
        onProgress: (phase, done, total) => ev.progress?.('preprocess', phase, total > 0 ? done / total : 0, `${done}/${total}`),
      });
      const seconds = r.skipped ? 0 : (performance.now() - t0) / 1000;
      stages.push({ name: 'preprocess', seconds, skipped: r.skipped, outcome: { records: r.records, flowKeys: r.flowKeys, chunks: r.chunks, maxLen: r.maxLen, ...(r.holdout ? { holdout: r.holdout } : {}) } });
      ev.stageDone?.('preprocess', seconds, r.skipped);
      for (const w of r.warnings ?? []) ev.warn?.(w);
    }
    if (to < stageIndex('train')) return { workdir: wd, input, stages, executor: executor.name, workers };
    const pre = (await loadManifest(wd)).stages.preprocess;
    if (!pre || pre.status !== 'done') throw new InputError(`${wd} is not preprocessed; run \`netshare run\` or \`netshare train\` first`, wd);
    if (from > 0) {
      // later stages read the real trace again (selection, evaluation): it must be the one the model learnt
      const trained = (await loadManifest(wd)).inputs[0];
      const now = await inputRecord(wd, input);
      if (!trained || trained.sha256 !== now.sha256) {
        throw new InputError(
          `${input} is not the trace this workdir was trained on (${trained ? `${trained.path}, sha256 ${trained.sha256.slice(0, 12)}…; now ${now.sha256.slice(0, 12)}…` : 'no input recorded'}); rerun \`netshare run\` or \`netshare train\` with it`,
          input,
        );
      }
    }
    const summary = await loadPreprocessSummary(wd);
    // also checked inside preprocess before any work; here for a workdir preprocessed earlier
    if (summary.chunks.length < cfg.preprocess.nChunks) throw tooManyChunksError(cfg, summary.chunks, summary.holdout?.source === 'flows');
    const holdoutInfo: HoldoutInfo | undefined = summary.holdout;
    let budget: RunResult['budget'];
    if (opts.budgetS !== undefined) {
      const { budgetPlan } = await import('./budget.js');
      const r = await budgetPlan(wd, cfg, { budgetS: opts.budgetS, preprocessFp: pre.fingerprint, spentS: pre.seconds ?? 0, workers, device });
      budget = { plan: r.plan, reused: r.reused };
      cfg = { ...cfg, model: { ...cfg.model, iterations: r.plan.iterations, checkpointEvery: r.plan.checkpointEvery } };
      ev.plan?.(r.plan, r.reused, r.probeS);
    }
    // the config and data checks passed: only now does the workdir take this config as its own
    if (!saved || fingerprint(saved) !== fingerprint(cfg)) await writeJsonAtomic(configPath(wd), cfg);
    const m = await loadManifest(wd);
    m.configHash = fingerprint(cfg);
    m.versions = versions();
    await saveManifest(wd, m);

    // 2. train
    const { trainStageFingerprint } = await import('./train.js');
    let publicTrace: { path: string; sha256: string } | undefined;
    if (opts.publicTrace !== undefined) {
      if (!cfg.global.dp) throw new ConfigError('--public pretrains the model that DP-SGD fine-tunes: it needs --dp', 'public');
      const path = resolve(opts.publicTrace);
      publicTrace = { path, sha256: (await inputRecord(wd, path)).sha256 };
    }
    const trainFp = trainStageFingerprint(pre.fingerprint, cfg, publicTrace?.sha256);
    const scope = await workdirIdentity(wd);
    checkSignal();
    const trainedStage = await record<TrainStageResult>('train', trainFp, async () => {
      const { trainStage } = await import('./train.js');
      return trainStage({
        workdir: wd,
        config: cfg,
        upstream: trainFp,
        scope,
        executor,
        device,
        ...(signal ? { signal } : {}),
        ...(publicTrace ? { publicTrace } : {}),
        onProgress: (job, f, info) => ev.progress?.('train', job, f, info),
      });
    });
    const dpRes = trainedStage.dp ? { dp: trainedStage.dp } : {};
    if (to < stageIndex('generate')) return { workdir: wd, input, stages, executor: executor.name, workers, ...(budget ? { budget } : {}), ...dpRes };

    // 3. generate
    checkSignal();
    // the real records again: the input less the held-out flows (what the model trained on), and the held-out ones
    let sides: { train: Table; holdout?: Table } | undefined;
    const realSides = async (): Promise<{ train: Table; holdout?: Table }> => {
      if (!sides) {
        const { readTrace } = await import('../io/read-trace.js');
        const { loadRealSides } = await import('./holdout.js');
        sides = await loadRealSides(wd, (await readTrace(input, summary.read ?? {})).table, summary);
      }
      return sides;
    };
    const span = summary.edgesUs.length > 1 ? summary.edgesUs.at(-1)! - summary.edgesUs[0]! : 0;
    const passes = opts.durationS !== undefined && span > 0 ? Math.max(1, Math.ceil((opts.durationS * 1e6) / span - 1e-9)) : 1;
    const genFp = fingerprint({ version: GENERATE_VERSION, fill: MAX_FILL_PASSES, selectionSample: [SELECTION_SAMPLE_FLOWS, SELECTION_BUDGET_FLOWS, SELECTION_MIN_FLOWS], train: trainFp, flows: opts.flows ?? null, passes, seed: cfg.global.seed, ...(cfg.postprocess.ephemeralPorts !== 'model' ? { ephemeralPorts: cfg.postprocess.ephemeralPorts } : {}), ...(cfg.postprocess.flowStartBin !== 'argmax' ? { flowStartBin: cfg.postprocess.flowStartBin } : {}), ...(cfg.postprocess.attributeCategoricals !== 'argmax' ? { attributeCategoricals: cfg.postprocess.attributeCategoricals } : {}), ...(cfg.postprocess.featureCategoricals !== 'argmax' ? { featureCategoricals: cfg.postprocess.featureCategoricals } : {}), ...(cfg.postprocess.stopFlag !== 'argmax' ? { stopFlag: cfg.postprocess.stopFlag } : {}), ...(cfg.postprocess.flowLengths !== 'model' ? { flowLengths: cfg.postprocess.flowLengths, lengthCalibration: LENGTH_CALIBRATION_FLOWS } : {}), ...(cfg.postprocess.trainingTuples !== 'keep' ? { trainingTuples: cfg.postprocess.trainingTuples } : {}) });
    const gen = await record<GenerateStageResult>('generate', genFp, async () => {
      const { generateStage } = await import('./generate.js');
      return generateStage({
        workdir: wd,
        config: cfg,
        executor,
        scope,
        device,
        ...(signal ? { signal } : {}),
        ...(opts.flows !== undefined ? { flows: opts.flows } : {}),
        passes,
        // checkpoints are chosen on samples of each chunk, against its real records (read only if a choice is made)
        realChunk: async (j) => (await import('./postprocess.js')).chunkRealRows((await realSides()).train, summary, j),
        onProgress: (job, f, info) => ev.progress?.('generate', job, f, info),
      });
    });
    if (gen.fill?.short) {
      ev.warn?.(`generation reached ${gen.fill.unique} unique 5-tuples of the ${gen.fill.asked} flows asked for (${(100 * gen.fill.share).toFixed(1)}%) after ${gen.fill.passes} sampling passes (bound ${gen.fill.maxPasses}; a chunk stops early when a pass adds under 2% of what it misses): the model repeats 5-tuples or rarely starts flows in a chunk; train longer or ask for fewer flows`);
    }

    // 4. postprocess (the real trace is read only when this or the evaluation runs). The workers' jobs are done:
    // a local pool's idle children go (~0.4 GB each after a large generation; they would sit beside the driver's
    // evaluation, the run's largest process)
    checkSignal();
    await executor.releaseIdle?.();
    const output = syntheticPath(wd, cfg.global.dataset);
    const out = opts.out ? resolve(opts.out) : undefined;
    const postFp = fingerprint({ gen: genFp, durationS: opts.durationS ?? null, out: out ?? null, selection });
    if ((!existsSync(output) || (out && !existsSync(out))) && (await loadManifest(wd)).stages.postprocess) {
      const mm = await loadManifest(wd);
      delete mm.stages.postprocess;
      delete mm.stages.evaluate;
      await saveManifest(wd, mm);
    }
    const post = await record<PostprocessResult>('postprocess', postFp, async () => {
      const { postprocessStage } = await import('./postprocess.js');
      return postprocessStage({
        workdir: wd,
        config: cfg,
        real: (await realSides()).train,
        input,
        generated: gen,
        ...(out ? { out } : {}),
        ...(opts.durationS !== undefined ? { durationUs: opts.durationS * 1e6 } : {}),
        onProgress: (d, t, info) => ev.progress?.('postprocess', 'select', t > 0 ? d / t : 0, info),
      });
    });
    if (to < stageIndex('evaluate')) return { workdir: wd, input, output: post.output, ...(post.out ? { out: post.out } : {}), stages, executor: executor.name, workers, ...(budget ? { budget } : {}), ...dpRes };

    // 5. evaluate
    const evalFp = fingerprint({ post: postFp, seed: cfg.global.seed, downstream: opts.downstream ?? true, privacy: opts.privacy ?? true });
    if (!existsSync(reportPath(wd)) && (await loadManifest(wd)).stages.evaluate) {
      const mm = await loadManifest(wd);
      delete mm.stages.evaluate;
      await saveManifest(wd, mm);
    }
    const fidelity = await record<FidelitySummary>('evaluate', evalFp, async () => {
      const { evaluateFiles } = await import('./evaluate.js');
      const { holdoutTablePath } = await import('./holdout.js');
      const { train, holdout } = await realSides();
      const r = await evaluateFiles({
        real: input,
        tables: { real: train, ...(holdout ? { holdout } : {}) },
        ...(holdout ? { holdout: holdoutInfo?.source === 'file' ? holdoutInfo.path : holdoutTablePath(wd) } : {}),
        synthetic: post.output,
        report: reportPath(wd),
        metricsJson: metricsPath(wd),
        seed: cfg.global.seed + 1,
        downstream: opts.downstream ?? true,
        privacy: opts.privacy ?? true,
        guarantee: trainedStage.dp
          ? {
              dp: true,
              epsilon: trainedStage.dp.epsilon,
              delta: trainedStage.dp.delta,
              noiseMultipliers: trainedStage.dp.chunks.map((c) => ({ chunk: c.chunk, sigma: c.noiseMultiplier })),
              clip: trainedStage.dp.clip,
              composition: trainedStage.dp.composition,
              notPrivate: trainedStage.dp.notPrivate,
              ...(trainedStage.dp.publicPretraining ? { publicTrace: trainedStage.dp.publicPretraining.trace } : {}),
            }
          : { dp: false },
      });
      const res = r.result;
      const syn = res.methods[0]!;
      const gen = syn.generalisation;
      return {
        kind: res.kind,
        real: { records: res.inputs.real.records, flows: res.inputs.real.flows },
        synthetic: { records: res.inputs.synthetic.records, flows: res.inputs.synthetic.flows },
        ...(holdout ? { holdout: { records: holdout.length, flows: holdoutInfo?.source === 'flows' ? holdoutInfo.heldOutFlows : (await import('../io/flow-key.js')).indexFlows(holdout).count } } : {}),
        headline: { value: syn.headline, metrics: res.headline.metrics, split: res.headline.split },
        rows: res.metricInfo.map((mi) => ({
          metric: mi.name,
          value: syn.metrics[mi.name] ?? null,
          floor: res.floors.flows[mi.name] ?? null,
          ratio: syn.ratios[mi.name] ?? null,
          heldOut: gen?.metrics[mi.name] ?? null,
          heldOutFloor: res.generalisation?.floor[mi.name] ?? null,
          heldOutRatio: gen?.ratios[mi.name] ?? null,
        })),
      };
    });
    return {
      workdir: wd,
      input,
      output: post.output,
      ...(post.out ? { out: post.out } : {}),
      report: reportPath(wd),
      metrics: metricsPath(wd),
      stages,
      fidelity,
      executor: executor.name,
      workers,
      ...(budget ? { budget } : {}),
      ...dpRes,
    };
  } finally {
    try {
      if (!opts.executor) await executor.close();
    } finally {
      await lock.release();
    }
  }
}
