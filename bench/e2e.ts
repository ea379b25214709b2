// End-to-end benchmark of `netshare run`: wall time, peak RSS, time per stage and the fidelity table (× floor) on
// the enterprise pcap and a 200k-record slice of the UGR16 day, with configs scaled to minutes (bench/e2e-*.json).
// Baseline measured in the same run: a bare read of the same input (readTrace), so stage times read as multiples.
// Run: npm run build && npx vite-node bench/e2e.ts [pcap|netflow|all] [--workers N] [--iterations N (smoke test)]
//        [--executor pool|redis|both]
//      → table on stdout, JSON in bench/out/e2e.json; workdirs in a temp folder (removed unless --keep).
// --executor redis starts a redis-server (temp dir, free loopback port) and N `netshare worker`s on this machine
// (threads = cores / N each, as the pool's) and runs with --executor redis://…; both: the local pool, then Redis.
// Per job (from <wd>/jobs.jsonl): enqueue → start, run, finish → the driver sees it. Then the per-job overhead alone:
// 20 empty `selftest` jobs one at a time through each executor (fork + queue round trip), against in-process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
import { readTrace } from '../src/io/read-trace.js';
import { InProcessExecutor, LocalPoolExecutor, type Executor } from '../src/pipeline/executor.js';
import { BullMQExecutor } from '../src/pipeline/executor-bullmq.js';
import type { Job } from '../src/pipeline/jobs.js';
import { sliceCsv } from './slice-csv.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const INPUTS = {
  pcap: { file: resolve(ROOT, '../shared/data/pcap/enterprise-lan-2012-1h.pcap'), config: join(ROOT, 'bench', 'e2e-pcap.json'), slice: 0 },
  netflow: { file: resolve(ROOT, '../shared/data/netflow/ugr16-2016-04-11.csv.gz'), config: join(ROOT, 'bench', 'e2e-netflow.json'), slice: 200_000 },
};
type Name = keyof typeof INPUTS;

interface Redis {
  url: string;
  stop(): void;
}

/** redis-server on a free loopback port with a temp dir, and `n` workers under `root`. */
async function startRedisAndWorkers(tmp: string, root: string, n: number): Promise<Redis> {
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const dir = join(tmp, 'redis');
  mkdirSync(dir, { recursive: true });
  const procs: ChildProcess[] = [];
  const started = (p: ChildProcess, re: RegExp): Promise<void> =>
    new Promise((res, rej) => {
      let seen = '';
      const on = (d: Buffer): void => {
        seen += String(d);
        if (re.test(seen)) res();
      };
      p.stdout?.on('data', on);
      p.stderr?.on('data', on);
      p.once('exit', (c) => rej(new Error(`exited ${c}: ${seen}`)));
    });
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(redis);
  await started(redis, /Ready to accept connections/);
  const url = `redis://127.0.0.1:${port}`;
  const threads = Math.max(1, Math.floor(availableParallelism() / n));
  for (let i = 0; i < n; i++) {
    const w = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--workdir-root', root, '--threads', String(threads)], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(w);
    await started(w, /netshare worker .*: cpu jobs/);
  }
  return { url, stop: () => procs.reverse().forEach((p) => p.kill('SIGTERM')) };
}

interface JobLine {
  id: string;
  seconds: number;
  timing?: { enqueuedAt: number; startedAt?: number; finishedAt?: number; seenAt: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per-job timings of a run (ms): enqueue → start (queueing for a free worker included), run, finish → seen. */
function jobStats(wd: string): Record<string, number> {
  const file = join(wd, 'jobs.jsonl');
  if (!existsSync(file)) return {};
  const jobs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JobLine).filter((j) => j.timing?.startedAt && j.timing.finishedAt);
  const t = jobs.map((j) => j.timing!);
  return {
    jobs: jobs.length,
    enqueueToStartMedianMs: median(t.map((x) => x.startedAt! - x.enqueuedAt)),
    enqueueToStartMinMs: Math.min(...t.map((x) => x.startedAt! - x.enqueuedAt)),
    runMedianMs: median(t.map((x) => x.finishedAt! - x.startedAt!)),
    finishToSeenMedianMs: median(t.map((x) => x.seenAt - x.finishedAt!)),
    finishToSeenMaxMs: Math.max(...t.map((x) => x.seenAt - x.finishedAt!)),
    chunk0S: (jobs.find((j) => j.id === 'train/chunk-0')?.seconds ?? NaN),
    fineTuneMedianS: median(jobs.filter((j) => /^train\/chunk-[1-9]/.test(j.id)).map((j) => j.seconds)),
  };
}

/** 20 empty jobs one at a time: the executor's own cost per job (ms, median and max), in-process as the baseline. */
async function overhead(tmp: string, redisUrl: string | undefined, workers: number): Promise<Record<string, unknown>> {
  const wd = join(tmp, 'overhead');
  mkdirSync(wd, { recursive: true });
  const out: Record<string, unknown> = {};
  const execs: [string, Executor][] = [['in-process', new InProcessExecutor(1)], ['local-pool', new LocalPoolExecutor({ workers })]];
  if (redisUrl) execs.push(['redis', new BullMQExecutor({ url: redisUrl, workdirRoot: tmp, pollMs: 1000 })]);
  for (const [name, ex] of execs) {
    const per: number[] = [];
    const start: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < 21; i++) {
      const job: Job = { id: `overhead/${i}`, kind: 'selftest', params: { value: i }, workdir: wd, scope: `bench${Date.now().toString(16)}` };
      const t0 = performance.now();
      const [r] = await ex.runAll([job]);
      if (!r!.ok) throw new Error(`${name}: ${r!.error?.message}`);
      if (i === 0) continue; // warm-up
      per.push(performance.now() - t0);
      if (r!.timing?.startedAt) start.push(r!.timing.startedAt - r!.timing.enqueuedAt);
      if (r!.timing?.finishedAt) seen.push(r!.timing.seenAt - r!.timing.finishedAt);
    }
    await ex.close();
    out[name] = { roundTripMedianMs: median(per), roundTripMaxMs: Math.max(...per), enqueueToStartMedianMs: median(start), finishToSeenMedianMs: median(seen) };
  }
  return out;
}

async function one(name: Name, tmp: string, workers: number, iterations?: number, redisUrl?: string): Promise<Record<string, unknown>> {
  const spec = INPUTS[name];
  let input = spec.file;
  if (spec.slice > 0) {
    input = join(tmp, `${name}-${spec.slice}.csv`);
    await sliceCsv(spec.file, spec.slice, input);
  }
  const t0 = performance.now();
  const { table } = await readTrace(input);
  const readS = (performance.now() - t0) / 1000;
  const wd = join(tmp, `wd-${name}-${redisUrl ? 'redis' : 'pool'}`);
  const args = [BIN, 'run', '--input', input, '--config', spec.config, '--workdir', wd, '--workers', String(workers), '--json', ...(iterations ? ['--iterations', String(iterations)] : [])];
  if (redisUrl) args.push('--executor', redisUrl, '--workdir-root', tmp);
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr);
  const wallS = wall ? wall[1]!.split(':').reduce((s, x) => s * 60 + Number(x), 0) : NaN;
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
    ok: boolean;
    stages?: { name: string; seconds: number }[];
    fidelity?: { rows: { metric: string; value: number | null; floor: number | null; ratio: number | null }[]; synthetic: { records: number; flows: number } };
  };
  if (!summary.ok) throw new Error(`netshare run failed on ${name}: ${r.stderr.slice(-2000)}`);
  const manifest = JSON.parse(readFileSync(join(wd, 'manifest.json'), 'utf8')) as { stages: Record<string, { outcome?: unknown }> };
  return {
    input: name,
    executor: redisUrl ? 'redis' : 'local-pool',
    jobs: jobStats(wd),
    file: spec.file,
    records: table.length,
    config: JSON.parse(readFileSync(spec.config, 'utf8')),
    workers,
    baselineReadS: readS,
    wallS,
    peakRssMB: rss ? Number(rss[1]) / 1024 : NaN,
    stages: Object.fromEntries((summary.stages ?? []).map((s) => [s.name, s.seconds])),
    train: manifest.stages.train?.outcome,
    synthetic: summary.fidelity?.synthetic,
    fidelity: summary.fidelity?.rows,
  };
}

const which = (process.argv[2] ?? 'all') as Name | 'all';
const wi = process.argv.indexOf('--workers');
const workers = wi > 0 ? Number(process.argv[wi + 1]) : 2;
const ei = process.argv.indexOf('--executor');
const executorArg = ei > 0 ? process.argv[ei + 1]! : 'pool';
if (!['pool', 'redis', 'both'].includes(executorArg)) throw new Error(`--executor pool|redis|both, not ${executorArg}`);
const ii = process.argv.indexOf('--iterations');
const iterations = ii > 0 ? Number(process.argv[ii + 1]) : undefined;
if (!existsSync(BIN)) throw new Error('dist/ is not built: run `npm run build` first');
const tmp = mkdtempSync(join(tmpdir(), 'ns-bench-e2e-'));
const rows: Record<string, unknown>[] = [];
const which2 = which.startsWith('--') ? 'all' : which;
const redis = executorArg === 'pool' ? undefined : await startRedisAndWorkers(tmp, tmp, workers);
process.on('exit', () => redis?.stop());
const runs: (string | undefined)[] = executorArg === 'both' ? [undefined, redis!.url] : [redis?.url];
for (const name of (which2 === 'all' ? ['pcap', 'netflow'] : [which2]) as Name[]) {
  if (!existsSync(INPUTS[name].file)) {
    console.log(`${name}: skipped (${INPUTS[name].file} is absent)`);
    continue;
  }
  for (const url of runs) {
  const row = await one(name, tmp, workers, iterations, url);
  rows.push(row);
  const js = row.jobs as Record<string, number>;
  console.log(`\n${name} (${row.executor}, ${workers} workers): ${js.jobs} jobs; enqueue → start median ${js.enqueueToStartMedianMs?.toFixed(0)} ms (min ${js.enqueueToStartMinMs?.toFixed(0)}), run median ${js.runMedianMs?.toFixed(0)} ms, finish → driver median ${js.finishToSeenMedianMs?.toFixed(0)} ms (max ${js.finishToSeenMaxMs?.toFixed(0)}); chunk 0 ${js.chunk0S?.toFixed(1)} s, a fine-tune job ${js.fineTuneMedianS?.toFixed(1)} s`);
  const st = row.stages as Record<string, number>;
  const total = Object.values(st).reduce((a, b) => a + b, 0);
  console.log(`\n${name}: ${row.records} records; wall ${(row.wallS as number).toFixed(1)} s (${((row.wallS as number) / (row.baselineReadS as number)).toFixed(0)}× a bare read of ${(row.baselineReadS as number).toFixed(2)} s); peak RSS ${(row.peakRssMB as number).toFixed(0)} MB`);
  console.log(`  stages: ${Object.entries(st).map(([k, v]) => `${k} ${v.toFixed(1)} s (${((100 * v) / total).toFixed(0)}%)`).join(', ')}`);
  console.log(`  ${'metric'.padEnd(24)} ${'synthetic'.padStart(12)} ${'floor'.padStart(12)} ${'× floor'.padStart(9)}`);
  for (const f of (row.fidelity ?? []) as { metric: string; value: number | null; floor: number | null; ratio: number | null }[]) {
    const fm = (v: number | null): string => (v === null ? 'n/a' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));
    console.log(`  ${f.metric.padEnd(24)} ${fm(f.value).padStart(12)} ${fm(f.floor).padStart(12)} ${(f.ratio === null ? 'n/a' : `${fm(f.ratio)}×`).padStart(9)}`);
  }
  }
}
const perJob = executorArg === 'pool' ? undefined : await overhead(tmp, redis!.url, workers);
if (perJob) {
  console.log('\nper-job overhead (20 empty selftest jobs, one at a time):');
  for (const [k, v] of Object.entries(perJob) as [string, Record<string, number>][]) {
    console.log(`  ${k.padEnd(11)} round trip median ${v.roundTripMedianMs!.toFixed(1)} ms (max ${v.roundTripMaxMs!.toFixed(1)}); enqueue → start ${v.enqueueToStartMedianMs!.toFixed(1)} ms; finish → driver ${v.finishToSeenMedianMs!.toFixed(1)} ms`);
  }
}
redis?.stop();
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'out', `e2e${executorArg === 'pool' ? '' : `-${executorArg}`}.json`), `${JSON.stringify({ date: new Date().toISOString(), workers, rows, ...(perJob ? { perJob } : {}) }, null, 2)}\n`);
if (!process.argv.includes('--keep')) rmSync(tmp, { recursive: true, force: true });
else console.log(`workdirs kept in ${tmp}`);
