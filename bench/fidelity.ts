// The fidelity benchmark: `netshare run` on a suite of the shared traces under a fixed budget per trace, then, per
// trace, every metric's ratio to the real-vs-real floor (with the floor's spread), the headline (median over NetShare's
// marginal metrics), the joint metrics, synthetic unique flows / requested and the copied-5-tuple share, for the model
// and for the `marginals` and `bootstrap` baselines measured in the same run, plus a learning curve: the headline at
// every checkpoint against training CPU-seconds. The tool the model issues are measured with (issue 12).
//
// Run: npm run build && npx vite-node bench/fidelity.ts [--budget MIN] [--quick] [--trace NAME,...] [--iterations N]
//        [--workers N] [--seed S] [--set key.path=value]... [--keep]
//      → tables on stdout, JSON in bench/out/fidelity-<stamp>.json (one file per run; `--out FILE` to choose).
// How the budget is spent (per trace, wall-clock on this machine): preprocess runs first (timed), then
// `netshare run --budget` (src/pipeline/budget.ts: a probe of the training speed sizes model.iterations so that training
// fills 70% of what preprocessing left). The bench's own evaluation is not counted. `--iterations N` runs that many
// instead of a budget (reproducible reruns: take `plan.iterations` from an earlier JSON).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readTrace } from '../src/io/read-trace.js';
import { indexFlows } from '../src/io/flow-key.js';
import { recordTimes, type Table } from '../src/io/table.js';
import { evaluateTables, type EvalResult, type MethodResult } from '../src/eval/evaluate-tables.js';
import { fmt, fmtRatio } from '../src/eval/report.js';
import { loadPreprocessSummary } from '../src/pipeline/chunk-tensors.js';
import { loadRealSides } from '../src/pipeline/holdout.js';
import { assembleTrace, finishTrace, chunkRealRows } from '../src/pipeline/postprocess.js';
import { fineTuneSchedule, type TrainChunkResult } from '../src/pipeline/train.js';
import { trainResultPath } from '../src/pipeline/workdir.js';
import { resolveRunConfig } from '../src/pipeline/run.js';
import type { GenerateStageResult } from '../src/pipeline/generate.js';
import type { NetShareConfig } from '../src/config/schema.js';
import type { BudgetPlan } from '../src/pipeline/budget.js';
import { sliceCsv } from './slice-csv.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const DATA = resolve(ROOT, '../shared/data');

interface TraceSpec {
  file: string;
  /** Base config: the demo preset (packets) or bench/fidelity-netflow.json. */
  config: 'demo' | 'netflow';
  /** Use only the first N CSV records (0: all). */
  slice: number;
  /** preprocess.nChunks override. */
  chunks?: number;
  /** Skip the first N CSV records before the slice (0: none). */
  skip?: number;
}

const SUITE: Record<string, TraceSpec> = {
  'enterprise-lan': { file: join(DATA, 'pcap/enterprise-lan-2012-1h.pcap'), config: 'demo', slice: 0 },
  'caida-10k': { file: join(DATA, 'pcap/caida-2018-10k.pcapng'), config: 'demo', slice: 0 },
  'ugr16-200k': { file: join(DATA, 'netflow/ugr16-2016-04-11.csv.gz'), config: 'netflow', slice: 200_000 },
  'ugr16-1k': { file: join(DATA, 'netflow/ugr16-netshare-1k.csv'), config: 'netflow', slice: 0, chunks: 1 },
};

/**
 * `--public NAME` (DP runs): the public trace `netshare run --public` pretrains on. `ugr16-noon` is the same UGR16 day
 * from record 700,000 on (12:33 onwards; the private slices are the day's first records, 00:01 onwards), as many
 * records as the private slice: disjoint flows and hours of the same network.
 */
const PUBLIC: Record<string, Omit<TraceSpec, 'config'>> = {
  'caida-1k': { file: join(DATA, 'pcap/caida-2018-1k.pcapng'), slice: 0 },
  'caida-10k': { file: join(DATA, 'pcap/caida-2018-10k.pcapng'), slice: 0 },
  'ugr16-noon': { file: join(DATA, 'netflow/ugr16-2016-04-11.csv.gz'), slice: 200_000, skip: 700_000 },
};

interface Args {
  budgetMin: number;
  quick: boolean;
  traces: string[];
  iterations?: number;
  workers: number;
  seed: number;
  keep: boolean;
  out?: string;
  checkpoints: number;
  /** `--set key.path=value` config overrides (value parsed as JSON when it parses, else a string), applied in order. */
  set: [string, unknown][];
  /** `--base FILE`: the base config instead of the trace's own (the demo preset or bench/fidelity-netflow.json). */
  base?: string;
  /** `--public NAME`: a PUBLIC trace for `netshare run --public` (needs global.dp, e.g. --set 'global.dp={"epsilon":4}'). */
  public?: string;
}

const USAGE = `usage: npx vite-node bench/fidelity.ts [options]   (build first: npm run build)
  --budget MIN        wall-clock budget per trace in minutes (default 30; 0.6 with --quick)
  --quick             3 checkpoints instead of 6 and a short default budget: for comparing ideas
  --trace A,B         traces of the suite (default all): ${Object.keys(SUITE).join(', ')}
  --iterations N      train chunk 0 for N iterations instead of sizing them from a budget (reproducible reruns)
  --workers N         parallel training jobs (default: the cores)
  --seed S            global.seed (default 0)
  --set key.path=V    config override, V parsed as JSON when it parses (repeatable, applied in order)
  --base FILE         base config instead of the trace's own (DP runs: bench/fidelity-dp-pcap.json, fidelity-dp-netflow.json)
  --public NAME       DP runs: pretrain on a public trace (${Object.keys(PUBLIC).join(', ')}); needs --set 'global.dp={"epsilon":E}'
  --out FILE          where the JSON goes (default bench/out/fidelity[-quick]-<stamp>.json)
  --keep              keep the workdirs (printed at the end)`;

function parseArgs(argv: string[]): Args {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const num = (name: string, ok: (x: number) => boolean, what: string): number | undefined => {
    const v = val(name);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!ok(x)) throw new Error(`${name}: expected ${what}, got ${JSON.stringify(v)}`);
    return x;
  };
  const known = new Set(['--budget', '--quick', '--trace', '--iterations', '--workers', '--seed', '--keep', '--out', '--set', '--base', '--public']);
  const set: [string, unknown][] = [];
  argv.forEach((a, i) => {
    if (a !== '--set') return;
    const kv = argv[i + 1] ?? '';
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--set: expected key.path=value, got ${JSON.stringify(kv)}`);
    const raw = kv.slice(eq + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    set.push([kv.slice(0, eq), v]);
  });
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (known: ${[...known].join(' ')})`);
  const quick = argv.includes('--quick');
  const traces = (val('--trace') ?? Object.keys(SUITE).join(',')).split(',').filter(Boolean);
  for (const t of traces) if (!SUITE[t]) throw new Error(`--trace: unknown trace ${JSON.stringify(t)} (suite: ${Object.keys(SUITE).join(', ')})`);
  const iterations = num('--iterations', (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
  const out = val('--out');
  const base = val('--base');
  if (base !== undefined && !existsSync(base)) throw new Error(`--base: no such file ${JSON.stringify(base)}`);
  const pub = val('--public');
  if (pub !== undefined && !PUBLIC[pub]) throw new Error(`--public: unknown public trace ${JSON.stringify(pub)} (known: ${Object.keys(PUBLIC).join(', ')})`);
  return {
    ...(base !== undefined ? { base } : {}),
    ...(pub !== undefined ? { public: pub } : {}),
    budgetMin: num('--budget', (x) => x > 0, 'minutes > 0') ?? (quick ? 0.6 : 30),
    quick,
    traces,
    ...(iterations !== undefined ? { iterations } : {}),
    workers: num('--workers', (x) => Number.isInteger(x) && x >= 1, 'a positive integer') ?? availableParallelism(),
    seed: num('--seed', (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0') ?? 0,
    keep: argv.includes('--keep'),
    ...(out !== undefined ? { out } : {}),
    checkpoints: quick ? 3 : 6,
    set,
  };
}

interface Timed {
  wallS: number;
  cpuS: number;
  peakRssMB: number;
  stdout: string;
  stderr: string;
}

/** Run `node dist/src/cli/bin.js …` under /usr/bin/time: wall, CPU (user + sys of it and every child it reaped), peak RSS. */
function netshare(args: string[], tmp: string): Timed {
  const timeFile = join(tmp, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, BIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`netshare ${args[0]} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  const [e, u, s, m] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(/\s+/).map(Number);
  return { wallS: e!, cpuS: u! + s!, peakRssMB: m! / 1024, stdout: r.stdout, stderr: r.stderr };
}

interface MethodRow {
  name: string;
  headline: number | null;
  ratios: Record<string, number | null>;
  heldOutRatios?: Record<string, number | null>;
  uniqueFlows: number;
  uniqueFlowsPerRequested: number;
  copiedTupleShare: number | null;
}

function methodRow(m: MethodResult, requested: number): MethodRow {
  return {
    name: m.name,
    headline: m.headline,
    ratios: m.ratios,
    ...(m.generalisation ? { heldOutRatios: m.generalisation.ratios } : {}),
    uniqueFlows: m.flows,
    uniqueFlowsPerRequested: m.flows / requested,
    copiedTupleShare: m.privacy ? m.privacy.synthetic.tuplesCopied : null,
  };
}

interface CurvePoint {
  checkpoint: number;
  /** Iteration of each chunk's checkpoint used. */
  iterations: number[];
  /** Preprocessing CPU + every chunk's training CPU up to that checkpoint (fine-tuned chunks: their own, from their start). */
  cpuS: number | null;
  records: number;
  flows: number;
  headline: number | null;
  ratios: Record<string, number | null>;
  selected: boolean;
}

/**
 * The learning curve: for k = 1..K, the trace made of every chunk's k-th checkpoint (as postprocess assembles the
 * chosen ones), scored against the training records. With flow tags (every preset) the generate stage samples each
 * chunk's 5-tuples (attributes) once, from its last checkpoint (NetShare §4.2), and only the record features come from
 * the k-th: the attribute metrics along the curve are the final model's. x = preprocessing CPU + Σ chunks' training CPU to their k-th
 * checkpoint: what a run stopped at checkpoint k would have cost (for fine-tuned chunks this is approximate: their
 * start is chunk 0's last checkpoint, not its k-th).
 */
async function learningCurve(wd: string, cfg: NetShareConfig, train: Table, preprocessCpuS: number, seed: number): Promise<CurvePoint[]> {
  const summary = await loadPreprocessSummary(wd);
  const manifest = JSON.parse(readFileSync(join(wd, 'manifest.json'), 'utf8')) as { stages: Record<string, { outcome?: unknown }> };
  const gen = manifest.stages.generate?.outcome as GenerateStageResult;
  const sel = JSON.parse(readFileSync(join(wd, 'postprocess', 'selection.json'), 'utf8')) as { selections: { chunk: number; best: number }[] };
  const results = await Promise.all(summary.chunks.map(async (k) => JSON.parse(readFileSync(trainResultPath(wd, k), 'utf8')) as TrainChunkResult));
  const time = recordTimes(train);
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < time.length; i++) {
    first = Math.min(first, time[i]!);
    last = Math.max(last, time[i]!);
  }
  const span = Math.max(1, last - first);
  const kind: Table['kind'] = summary.dataset === 'pcap' ? 'packets' : 'flows';
  const K = Math.max(...results.map((r) => r.checkpoints.length));
  const out: CurvePoint[] = [];
  for (let k = 0; k < K; k++) {
    const iterations: number[] = [];
    let cpu: number | null = preprocessCpuS;
    const picks = summary.chunks.map((chunk, j) => {
      const ck = results[j]!.checkpoints[Math.min(k, results[j]!.checkpoints.length - 1)]!;
      iterations.push(ck.iteration);
      cpu = cpu === null || ck.cpuSeconds === undefined ? null : cpu + ck.cpuSeconds;
      const realK = chunkRealRows(train, summary, j);
      // checkpoints not chosen were generated only for the selection sample (all the chunk's flows when it has fewer)
      const full = gen.candidates.filter((c) => c.chunk === chunk && c.iteration === ck.iteration);
      const sampled = gen.selection?.chunks.find((c) => c.chunk === chunk)?.candidates.filter((c) => c.iteration === ck.iteration).map((c) => ({ ...c, pass: 0 })) ?? [];
      return { realRecords: realK.length, timeRange: summary.recordRangesUs[j]!, candidates: full.length > 0 ? full : sampled };
    });
    // DP runs generate only the last checkpoint (no selection on real data): the others have no candidates to score
    if (picks.some((p) => p.realRecords > 0 && p.candidates.length === 0)) continue;
    const syn = await assembleTrace(kind, picks.filter((p) => p.realRecords > 0), { first, span });
    finishTrace(syn, train, cfg);
    const selected = sel.selections.every((s, j) => s.best === iterations[j]);
    if (syn.length === 0) {
      out.push({ checkpoint: k + 1, iterations, cpuS: cpu, records: 0, flows: 0, headline: null, ratios: {}, selected });
      continue;
    }
    const { result } = evaluateTables(train, syn, { seed, downstream: false, privacy: false });
    const m = result.methods[0]!;
    out.push({ checkpoint: k + 1, iterations, cpuS: cpu, records: syn.length, flows: m.flows, headline: m.headline, ratios: m.ratios, selected });
  }
  return out;
}

interface TraceResult {
  trace: string;
  file: string;
  slice: number;
  records: number;
  budgetS: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  baselineReadS: number;
  preprocess: { wallS: number; cpuS: number };
  /** run's budget plan (absent with --iterations) and the iterations and checkpoint period trained. */
  plan: { iterations: number; checkpointEvery: number; fineTune: { iterations: number; checkpointEvery: number } | null; chunks: number; budget: BudgetPlan | null };
  run: { wallS: number; cpuS: number; peakRssMB: number; stages: Record<string, number>; overBudget: number };
  evaluation: {
    kind: EvalResult['kind'];
    comparedFlows: number;
    floorSplits: number;
    headlineMetrics: readonly string[];
    floors: Record<string, { mean: number | null; min: number | null; max: number | null }>;
    requestedFlows: number;
    methods: MethodRow[];
  };
  curve: CurvePoint[];
  config: NetShareConfig;
  /** DP runs: the ledger `run --json` printed (ε reached, q, steps and σ per chunk), and the public trace if any. */
  dp: { epsilon: number; delta: number; given: string; chunks: { chunk: number; flows: number; q: number; steps: number; noiseMultiplier: number }[]; publicTrace: string | null } | null;
}

async function runTrace(name: string, spec: TraceSpec, a: Args, tmp: string): Promise<TraceResult> {
  if (!existsSync(spec.file)) throw new Error(`${spec.file} is missing (the shared traces live in ../shared/data)`);
  const budgetS = a.budgetMin * 60;
  const slice = a.quick && spec.slice > 0 ? Math.min(spec.slice, 20_000) : spec.slice;
  let input = spec.file;
  if (slice > 0) {
    input = join(tmp, `${name}-${slice}.csv`);
    await sliceCsv(spec.file, slice, input, spec.skip ?? 0);
  }
  let publicInput: string | null = null;
  if (a.public !== undefined) {
    const ps = PUBLIC[a.public]!;
    if (!existsSync(ps.file)) throw new Error(`${ps.file} is missing (the shared traces live in ../shared/data)`);
    publicInput = ps.file;
    if (ps.slice > 0) {
      const n = slice > 0 ? Math.min(slice, ps.slice) : ps.slice; // as many records as the private slice
      publicInput = join(tmp, `public-${a.public}-${n}.csv`);
      await sliceCsv(ps.file, n, publicInput, ps.skip ?? 0);
    }
  }
  const tr = performance.now();
  const { table } = await readTrace(input);
  const baselineReadS = (performance.now() - tr) / 1000;

  // the config: demo preset (packets) or bench/fidelity-netflow.json, with the trace's chunk count and the seed
  const raw: Record<string, unknown> =
    a.base !== undefined
      ? (JSON.parse(readFileSync(a.base, 'utf8')) as Record<string, unknown>)
      : spec.config === 'demo'
      ? (JSON.parse(readFileSync(join(ROOT, 'src/config/presets/demo-pcap.json'), 'utf8')) as Record<string, unknown>)
      : (JSON.parse(readFileSync(join(ROOT, 'bench/fidelity-netflow.json'), 'utf8')) as Record<string, unknown>);
  for (const [path, v] of a.set) {
    const keys = path.split('.');
    let o = raw as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[keys.at(-1)!] = v;
  }
  // DP needs data-independent chunk edges: unless the config fixes them, the capture window (the trace's first and last
  // record, widened to whole minutes) is treated as public, as a capture's start and end time usually are.
  const pre0 = ((raw['preprocess'] ??= {}) as Record<string, unknown>);
  const ranges = ((pre0['dpRanges'] ??= {}) as Record<string, unknown>);
  if ((raw['global'] as Record<string, unknown> | undefined)?.['dp'] && (ranges['startTimeUs'] == null || ranges['endTimeUs'] == null)) {
    const time = recordTimes(table);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < time.length; i++) {
      lo = Math.min(lo, time[i]!);
      hi = Math.max(hi, time[i]!);
    }
    ranges['startTimeUs'] = Math.floor(lo / 60e6) * 60e6;
    ranges['endTimeUs'] = Math.ceil((hi + 1) / 60e6) * 60e6;
    process.stderr.write(`fidelity: ${name}: DP chunk edges = the capture window widened to minutes: ${ranges['startTimeUs']}–${ranges['endTimeUs']} µs\n`);
  }
  const cfg0 = resolveRunConfig({ raw }, { seed: a.seed, ...(spec.chunks !== undefined ? { chunks: spec.chunks } : {}) });
  const cfgFile = join(tmp, `${name}-config.json`);
  writeFileSync(cfgFile, JSON.stringify(cfg0));
  const wd = join(tmp, `wd-${name}`);
  const loadavgBefore = loadavg();

  process.stderr.write(`fidelity: ${name}: preprocess …\n`);
  const pre = netshare(['preprocess', '--input', input, '--config', cfgFile, '--workdir', wd, '--json'], tmp);
  const summary = await loadPreprocessSummary(wd);
  const chunks = summary.chunks.length;
  const training =
    a.iterations !== undefined
      ? ['--iterations', String(a.iterations), '--checkpoint-every', String(Math.max(1, Math.ceil(a.iterations / a.checkpoints)))]
      : ['--budget', `${Math.round(budgetS)}s`];
  process.stderr.write(`fidelity: ${name}: run ${training.join(' ')} …\n`);
  const pub = publicInput !== null ? ['--public', publicInput] : [];
  const run = netshare(['run', '--input', input, '--config', cfgFile, '--workdir', wd, ...training, ...pub, '--workers', String(a.workers), '--json'], tmp);
  const summaryJson = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
    stages?: { name: string; seconds: number; skipped: boolean }[];
    budget?: { plan: BudgetPlan } | null;
    dp?: { epsilon: number; delta: number; given: string; chunks: { chunk: number; flows: number; q: number; steps: number; noiseMultiplier: number }[] } | null;
  };
  const stages = Object.fromEntries((summaryJson.stages ?? []).map((s) => [s.name, s.seconds]));
  if (summaryJson.stages?.find((s) => s.name === 'preprocess')?.skipped === false) {
    process.stderr.write(`fidelity: ${name}: warning: run preprocessed again (the budget counts it twice)\n`);
  }
  const cfg = JSON.parse(readFileSync(join(wd, 'config.json'), 'utf8')) as NetShareConfig;
  const iterations = cfg.model.iterations;
  const checkpointEvery = cfg.model.checkpointEvery;
  const ft = chunks > 1 && cfg.train.fineTuneFromChunk0 ? fineTuneSchedule(cfg.model, cfg.train.fineTuneFraction) : null;
  const loadavgAfter = loadavg();

  // the bench's evaluation (not in the budget): synthetic and both baselines against the training records
  process.stderr.write(`fidelity: ${name}: evaluation and learning curve …\n`);
  const { train, holdout } = await loadRealSides(wd, table, summary);
  const synFile = join(wd, cfg.global.dataset === 'pcap' ? 'synthetic.pcap' : 'synthetic.csv');
  const syn = (await readTrace(synFile)).table;
  const { result } = evaluateTables(train, syn, { seed: a.seed + 1, baselines: ['marginals', 'bootstrap'], downstream: false, privacy: true, ...(holdout ? { holdout } : {}) });
  const requested = indexFlows(train).count;
  const floors: TraceResult['evaluation']['floors'] = {};
  for (const mi of result.metricInfo) {
    const s = result.floorSpread.flows[mi.name];
    floors[mi.name] = { mean: result.floors.flows[mi.name] ?? null, min: s?.min ?? null, max: s?.max ?? null };
  }
  const curve = await learningCurve(wd, cfg, train, pre.cpuS, a.seed + 1);
  return {
    trace: name,
    file: spec.file,
    slice,
    records: table.length,
    budgetS,
    loadavgBefore,
    loadavgAfter,
    baselineReadS,
    preprocess: { wallS: pre.wallS, cpuS: pre.cpuS },
    plan: { iterations, checkpointEvery, fineTune: ft, chunks, budget: summaryJson.budget?.plan ?? null },
    run: { wallS: run.wallS, cpuS: run.cpuS, peakRssMB: run.peakRssMB, stages, overBudget: (pre.wallS + run.wallS) / budgetS },
    evaluation: {
      kind: result.kind,
      comparedFlows: result.comparison.size,
      floorSplits: result.comparison.floorSplits,
      headlineMetrics: result.headline.metrics,
      floors,
      requestedFlows: requested,
      methods: result.methods.map((m) => methodRow(m, requested)),
    },
    curve,
    config: cfg,
    dp: summaryJson.dp
      ? {
          epsilon: summaryJson.dp.epsilon,
          delta: summaryJson.dp.delta,
          given: summaryJson.dp.given,
          chunks: summaryJson.dp.chunks.map((c) => ({ chunk: c.chunk, flows: c.flows, q: c.q, steps: c.steps, noiseMultiplier: c.noiseMultiplier })),
          publicTrace: a.public ?? null,
        }
      : null,
  };
}

const x = fmtRatio;
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);

function printTrace(r: TraceResult): void {
  const e = r.evaluation;
  const [syn, ...base] = e.methods;
  const names = (m: MethodRow): string => m.name.replace('baseline:', '');
  console.log(`\n== ${r.trace} (${r.records} records${r.slice ? `, first ${r.slice}` : ''}) — ${e.kind}, budget ${(r.budgetS / 60).toFixed(1)} min`);
  console.log(
    `preprocess ${r.preprocess.wallS.toFixed(1)} s wall / ${r.preprocess.cpuS.toFixed(1)} s CPU; run ${r.run.wallS.toFixed(1)} s wall / ${r.run.cpuS.toFixed(1)} s CPU ` +
      `(${(100 * r.run.overBudget).toFixed(0)}% of budget), peak RSS ${r.run.peakRssMB.toFixed(0)} MB; ${r.plan.chunks} chunks, ${r.plan.iterations} iterations` +
      `${r.plan.budget ? ` (probe: chunk 0 ${r.plan.budget.chunk0ItPerSec.toFixed(1)} it/s, fine-tuning ${r.plan.budget.fineTuneItPerSec.toFixed(1)} it/s)` : ''}; load ${r.loadavgBefore[0]!.toFixed(2)} → ${r.loadavgAfter[0]!.toFixed(2)}`,
  );
  if (r.dp) {
    const qs = r.dp.chunks.map((c) => c.q.toPrecision(3)).join('/');
    const steps = r.dp.chunks.map((c) => c.steps).join('/');
    const sigmas = r.dp.chunks.map((c) => fmt(c.noiseMultiplier)).join('/');
    console.log(`DP: ε = ${fmt(r.dp.epsilon)} (δ = ${fmt(r.dp.delta)}, ${r.dp.given} given), σ per chunk ${sigmas}, q per chunk ${qs}, critic steps per chunk ${steps}; public pretraining: ${r.dp.publicTrace ?? 'none'}`);
  }
  console.log(`floor: ${e.floorSplits} flow splits of ${e.comparedFlows} flows; ratio = metric ÷ floor mean (× floor)`);
  const head = ['metric', 'floor mean [min–max]', 'synthetic', ...(syn!.heldOutRatios ? ['held-out'] : []), ...base.map(names)];
  const rows: string[][] = [];
  for (const [metric, f] of Object.entries(e.floors)) {
    const tag = e.headlineMetrics.includes(metric) ? '' : ' (joint)';
    rows.push([
      `${metric}${tag}`,
      `${fmt(f.mean)} [${fmt(f.min)}–${fmt(f.max)}]`,
      x(syn!.ratios[metric]),
      ...(syn!.heldOutRatios ? [x(syn!.heldOutRatios[metric])] : []),
      ...base.map((b) => x(b.ratios[metric])),
    ]);
  }
  rows.push(['HEADLINE (median)', '', x(syn!.headline), ...(syn!.heldOutRatios ? [''] : []), ...base.map((b) => x(b.headline))]);
  rows.push(['unique flows / requested', '', pct(syn!.uniqueFlowsPerRequested), ...(syn!.heldOutRatios ? [''] : []), ...base.map((b) => pct(b.uniqueFlowsPerRequested))]);
  rows.push(['copied 5-tuples', '', pct(syn!.copiedTupleShare), ...(syn!.heldOutRatios ? [''] : []), ...base.map((b) => pct(b.copiedTupleShare))]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  console.log(head.map((h, i) => h.padEnd(w[i]!)).join('  '));
  for (const row of rows) console.log(row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  console.log(`learning curve (every chunk's k-th checkpoint; 5-tuples are sampled once from the last checkpoint, so only the record features move; * = the checkpoints postprocess chose):`);
  for (const p of r.curve) {
    const per = e.headlineMetrics.map((mm) => `${mm} ${x(p.ratios[mm])}`).join(', ');
    console.log(`  ckpt ${p.checkpoint} it ${p.iterations.join('/')}: ${p.cpuS === null ? 'n/a' : p.cpuS.toFixed(0)} CPU-s → headline ${x(p.headline)}, ${p.flows} flows${p.selected ? ' *' : ''} (${per})`);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (!existsSync(BIN)) throw new Error('dist/ is not built: run `npm run build` first');
  const tmp = mkdtempSync(join(tmpdir(), 'ns-bench-fidelity-'));
  const t0 = performance.now();
  const results: TraceResult[] = [];
  try {
    for (const name of a.traces) {
      const r = await runTrace(name, SUITE[name]!, a, tmp);
      printTrace(r);
      results.push(r);
    }
  } finally {
    if (!a.keep) rmSync(tmp, { recursive: true, force: true });
    else console.log(`\nworkdirs kept in ${tmp}`);
  }
  console.log('\nsummary (headline = median ratio over NetShare\'s marginal metrics; synthetic | marginals | bootstrap):');
  for (const r of results) {
    const [s, ...b] = r.evaluation.methods;
    const dp = r.dp ? `, ε ${fmt(r.dp.epsilon)} σ ${r.dp.chunks.map((c) => fmt(c.noiseMultiplier)).join('/')}${r.dp.publicTrace ? ` public ${r.dp.publicTrace}` : ''}` : '';
    console.log(`  ${r.trace.padEnd(16)} ${x(s!.headline).padStart(8)} | ${b.map((m) => x(m.headline).padStart(8)).join(' | ')}   flows ${pct(s!.uniqueFlowsPerRequested)}, copied ${pct(s!.copiedTupleShare)}, ${(r.run.cpuS + r.preprocess.cpuS).toFixed(0)} CPU-s${dp}`);
  }
  const outDir = join(ROOT, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = a.out ?? join(outDir, `fidelity${a.quick ? '-quick' : ''}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ args: a, cores: availableParallelism(), totalWallS: (performance.now() - t0) / 1000, traces: results }, null, 2)}\n`);
  console.log(`\nJSON: ${file} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

await main();
