// The BullMQ executor against a real redis-server and two `netshare worker` processes on this machine: bit-identical
// outputs to the local pool and to in-process (1 thread per worker, fixed seed); a worker SIGKILLed mid-job (the job
// moves to the other worker, the chunk lease keeps them apart); Redis SIGKILLed and restarted mid-run (AOF); the
// driver SIGKILLed and restarted (resumes without retraining finished chunks); bad params and a version mismatch.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePcap } from '../../src/native/writer.js';
import { resolveRunConfig, runPipeline, type RunEvents } from '../../src/pipeline/run.js';
import { InProcessExecutor, LocalPoolExecutor, type Executor } from '../../src/pipeline/executor.js';
import { BullMQExecutor } from '../../src/pipeline/executor-bullmq.js';
import { reviveError, type Job } from '../../src/pipeline/jobs.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { ConfigError, InterruptedError } from '../../src/errors.js';
import { syntheticPackets, tinyConfig } from './helpers.js';
import { BIN, HAVE_REDIS, startRedis, startWorker, waitFor, type TestRedis, type TestWorker } from './redis-helpers.js';

const CI = process.env.CI === 'true';
// 2 chunks; 200 iterations for chunk 0 (about 2 s here) with a checkpoint half-way, so that a job can be killed after
// it; two checkpoints per chunk keep the generate jobs few
const raw = tinyConfig('pcap', { nChunks: 2, iterations: 200, checkpointEvery: 100 });
const config = resolveRunConfig({ raw });
// for the Ctrl-C tests: chunk 0 trains for many seconds after its first checkpoint, so the interrupt lands mid-job
const rawLong = tinyConfig('pcap', { nChunks: 2, iterations: 5000, checkpointEvery: 100 });

let root: string; // the driver's workdir root
let workerRoot: string; // the same folder under another path (a symlink), as another machine would mount it
let input: string;
let redis: TestRedis;
let workers: TestWorker[] = [];
let reference: Buffer;
const extra: { executor?: Executor }[] = [];

async function tinyRun(name: string, executor: Executor, events?: RunEvents, signal?: AbortSignal): Promise<{ wd: string; out: Buffer }> {
  const wd = join(root, name);
  try {
    await runPipeline({ input, workdir: wd, config, executor, to: 'postprocess', downstream: false, privacy: false, ...(events ? { events } : {}), ...(signal ? { signal } : {}) });
  } catch (err) {
    // the workers' job logs say what happened on their side
    throw new Error(`${(err as Error).message}\n${workers.map((w, i) => `worker ${i}:\n${w.log()}`).join('\n')}`, { cause: err });
  }
  return { wd, out: readFileSync(join(wd, 'synthetic.pcap')) };
}

const bull = (opts: Partial<ConstructorParameters<typeof BullMQExecutor>[0]> = {}): BullMQExecutor => {
  const ex = new BullMQExecutor({ url: redis.url, workdirRoot: root, pollMs: 500, retryBaseMs: 300, ...opts });
  extra.push({ executor: ex });
  return ex;
};

/**
 * The worker running `id` now (train/chunk-0 → key part train.chunk-0): its log's last `start` line names the job and
 * no line after it ends that job. (Earlier tests ran jobs with the same id under other workdirs' scopes: a worker that
 * once ran one is not the one running it now.)
 */
function runnerOf(id: string): TestWorker | undefined {
  const part = new RegExp(`^ns-[0-9a-f]+\\.${id.replace(/\//g, '.').replace(/\./g, '\\.')}\\.`);
  return workers.find((w) => {
    const lines = w.log().split('\n');
    const at = lines.findLastIndex((l) => / start ns-/.test(l));
    if (at < 0) return false;
    const key = / start (ns-\S+)/.exec(lines[at]!)![1]!;
    return part.test(key) && !lines.slice(at + 1).some((l) => l.includes(key));
  });
}

describe.skipIf(!HAVE_REDIS && !CI)('BullMQ executor on a real Redis with 2 workers (skipped without redis-server)', () => {
  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), 'ns-dist-'));
    root = join(base, 'shared');
    mkdirSync(root);
    workerRoot = join(base, 'mnt-shared');
    symlinkSync(root, workerRoot);
    input = join(base, 'in.pcap');
    await writePcap(input, syntheticPackets(40, 2));
    redis = await startRedis();
    workers = [await startWorker(redis.url, workerRoot), await startWorker(redis.url, workerRoot)];
    reference = (await tinyRun('ref-inprocess', new InProcessExecutor(1))).out;
  }, 120_000);
  afterAll(async () => {
    for (const e of extra) await e.executor?.close();
    for (const w of workers) await w.stop();
    await redis?.stop();
  });

  it('gives bit-identical outputs to the local pool and to in-process, with the jobs\' progress at the driver', async () => {
    const pool = new LocalPoolExecutor({ workers: 2, threads: 1 });
    const viaPool = await tinyRun('pool', pool);
    await pool.close();
    expect(viaPool.out.equals(reference)).toBe(true);
    const progress: string[] = [];
    const viaRedis = await tinyRun('redis', bull(), { progress: (stage, label, f) => progress.push(`${stage} ${label} ${f.toFixed(2)}`) });
    expect(viaRedis.out.length).toBeGreaterThan(0);
    expect(viaRedis.out.equals(reference)).toBe(true);
    expect(progress.some((p) => /^train train\/chunk-0 0\.\d\d$/.test(p))).toBe(true);
    // both workers took jobs
    expect(workers.every((w) => /done ns-/.test(w.log()))).toBe(true);
  });

  it('retries a job of a SIGKILLed worker on the other one; the output is unchanged and the chunk lease was never shared', async () => {
    const run = tinyRun('redis-kill', bull());
    // as soon as chunk 0 has its half-way checkpoint, SIGKILL the worker running it
    const half = join(root, 'redis-kill', 'train', 'chunk-0', 'checkpoints', 'ckpt-000000100.nsckpt');
    let killed: TestWorker | undefined;
    const deadline = Date.now() + 60_000;
    while (!killed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (existsSync(half)) {
        killed = runnerOf('train/chunk-0');
        killed?.proc.kill('SIGKILL');
      }
    }
    const { wd, out } = await run;
    expect(killed).toBeDefined();
    expect(out.equals(reference)).toBe(true);
    // the survivor resumed chunk 0 from its checkpoints
    const res = JSON.parse(readFileSync(join(wd, 'train', 'chunk-0', 'result.json'), 'utf8')) as { resumedFrom?: number };
    expect(res.resumedFrom).toBeGreaterThan(0);
    // lease log: chunk 0's lease went to the second runner only by taking it over from the dead one (never two live)
    const log = readFileSync(join(wd, 'leases', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { lease: string; event: string; pid: number; token: string });
    const c0 = log.filter((e) => e.lease === 'train-chunk-0.lease');
    expect(c0.map((e) => e.event)).toEqual(['acquire', 'takeover', 'release']);
    expect(c0[1]!.pid).not.toBe(c0[0]!.pid);
    expect(c0[2]!.token).toBe(c0[1]!.token);
    for (const lease of new Set(log.map((e) => e.lease))) {
      let holder: string | undefined;
      for (const e of log.filter((x) => x.lease === lease)) {
        if (e.event === 'acquire') expect(holder).toBeUndefined();
        if (e.event === 'release') {
          expect(holder).toBe(e.token);
          holder = undefined;
        } else holder = e.token;
      }
    }
    // a replacement worker for the next tests
    workers = [...workers.filter((w) => w !== killed), await startWorker(redis.url, workerRoot)];
  });

  it('rides out a Redis SIGKILL + restart mid-run (AOF): nothing is lost', async () => {
    let restarted: Promise<void> | undefined;
    const events: RunEvents = {
      progress: (stage, label, f) => {
        if (!restarted && stage === 'train' && label === 'train/chunk-0' && f >= 0.3) restarted = redis.restart();
      },
    };
    const { out } = await tinyRun('redis-restart', bull(), events);
    expect(restarted).toBeDefined();
    await restarted;
    expect(out.equals(reference)).toBe(true);
  });

  it('resumes a SIGKILLed driver from the manifest and the queue without retraining finished chunks', async () => {
    const wd = join(root, 'driver-kill');
    const cfgFile = join(root, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify(raw));
    const args = [BIN, 'train', '--input', input, '--config', cfgFile, '--workdir', wd, '--executor', redis.url];
    const first = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const result0 = join(wd, 'train', 'chunk-0', 'result.json');
    const exited = new Promise((r) => first.once('exit', r));
    while (!existsSync(result0) && first.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    first.kill('SIGKILL');
    await exited;
    expect(existsSync(result0)).toBe(true);
    const before = { text: readFileSync(result0, 'utf8'), mtime: statSync(result0).mtimeMs };
    const second = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr!.on('data', (d: Buffer) => (err += String(d)));
    const code = await new Promise<number | null>((r) => second.once('exit', r));
    expect(code, err).toBe(0);
    expect(readFileSync(result0, 'utf8')).toBe(before.text);
    expect(statSync(result0).mtimeMs).toBe(before.mtime);
    expect(existsSync(join(wd, 'train', 'chunk-1', 'result.json'))).toBe(true);
    // and the rest of the run gives the reference output
    await runPipeline({ input, workdir: wd, executor: bull(), from: 'generate', to: 'postprocess', downstream: false, privacy: false });
    expect(readFileSync(join(wd, 'synthetic.pcap')).equals(reference)).toBe(true);
  });

  it('fails a job with bad params once, not retried, with its class (exit code) and message', async () => {
    const wd = join(root, 'bad');
    mkdirSync(wd, { recursive: true });
    const job: Job = { id: 'train/chunk-0', kind: 'train-chunk', params: { chunk: 'zero', upstream: 'u' }, workdir: wd, scope: 'badparams' };
    const [r] = await bull().runAll([job]);
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { name: 'ConfigError' } });
    const e = reviveError(r!.id, r!.error!);
    expect(e).toBeInstanceOf(ConfigError);
    expect(exitCodeFor(e)).toBe(2);
    expect(e.message).toMatch(/^train\/chunk-0 failed: ConfigError: bad params for a train-chunk job: .* at params\.chunk/);
  });

  it('retries a job whose process crashes, a bounded number of times, then reports the crash', async () => {
    const wd = join(root, 'crash');
    mkdirSync(wd, { recursive: true });
    const [r] = await bull({ maxAttempts: 3, retryBaseMs: 200 }).runAll([{ id: 'crash', kind: 'selftest', params: { crash: true }, workdir: wd, scope: 'crash' }]);
    expect(r).toMatchObject({ ok: false, attempts: 3, error: { name: 'WorkerCrashed' } });
    expect(r!.error!.message).toMatch(/worker process exited \(code 70\)/);
  });

  it('refuses to run a job of a driver with another netshare version or model graphs', async () => {
    const wd = join(root, 'versions');
    mkdirSync(wd, { recursive: true });
    const ex = bull({ versions: { netshare: '0.0.0-other', graphs: 'feedfacefeedface' } });
    const [r] = await ex.runAll([{ id: 'v', kind: 'selftest', params: {}, workdir: wd, scope: 'versions' }]);
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { name: 'VersionMismatchError' } });
    expect(r!.error!.message).toMatch(/runs netshare \d+\.\d+\.\d+ with model graphs [0-9a-f]{16}, the driver netshare 0\.0\.0-other with model graphs feedfacefeedface/);
  });

  it('cancels the run\'s jobs on its workers when the signal aborts', async () => {
    const wd = join(root, 'cancel');
    mkdirSync(wd, { recursive: true });
    const ac = new AbortController();
    const p = bull().runAll([{ id: 'long', kind: 'selftest', params: { sleepMs: 60_000 }, workdir: wd, scope: 'cancelled' }], { signal: ac.signal, onStart: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    await Promise.any(workers.map((w) => waitFor(w.proc, /fail ns-cancelled\.long\.[0-9a-f]+: InterruptedError/, 10_000)));
  });

  it('stops the run\'s jobs on the workers when the driver gets SIGINT, and exits 130', async () => {
    const wd = join(root, 'sigint');
    const cfgFile = join(root, 'cfg-sigint.json');
    writeFileSync(cfgFile, JSON.stringify(rawLong));
    const { code, stderr } = await interruptDuringChunk0(['train', '--input', input, '--config', cfgFile, '--workdir', wd, '--executor', redis.url], wd);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT: cancelling the run's jobs/);
    await Promise.any(workers.map((w) => (/fail ns-[0-9a-f]+\.train\.chunk-0\.[0-9a-f]+: InterruptedError/.test(w.log()) ? Promise.resolve() : waitFor(w.proc, /fail ns-[0-9a-f]+\.train\.chunk-0\.[0-9a-f]+: InterruptedError/, 10_000))));
  });

  it('serves the queues on localhost with `netshare dashboard` (bull-board)', async () => {
    const { startDashboard } = await import('../../src/pipeline/dashboard.js');
    const d = await startDashboard({ redis: redis.url, port: 0 });
    try {
      expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const api = (await (await fetch(`${d.url}api/queues`)).json()) as { queues: { name: string; counts: Record<string, number> }[] };
      const cpu = api.queues.find((q) => q.name === 'netshare-cpu');
      expect(cpu).toBeDefined();
      expect(cpu!.counts.completed).toBeGreaterThan(0);
      expect(await (await fetch(d.url)).text()).toMatch(/<html/i);
    } finally {
      await d.close();
    }
  });
});

/** Start `netshare <args>`, SIGINT it once chunk 0 has a checkpoint; its exit code and stderr. */
async function interruptDuringChunk0(args: string[], wd: string): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => p.once('exit', r));
  const half = join(wd, 'train', 'chunk-0', 'checkpoints', 'ckpt-000000100.nsckpt');
  while (!existsSync(half) && p.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  p.kill('SIGINT');
  return { code: await exited, stderr };
}

describe('Ctrl-C on a local-pool run', () => {
  it('cancels the jobs and exits 130', async () => {
    const base = mkdtempSync(join(tmpdir(), 'ns-sigint-'));
    const inp = join(base, 'in.pcap');
    await writePcap(inp, syntheticPackets(40, 2));
    const cfgFile = join(base, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify(rawLong));
    const wd = join(base, 'wd');
    const { code, stderr } = await interruptDuringChunk0(['train', '--input', inp, '--config', cfgFile, '--workdir', wd, '--workers', '2'], wd);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/netshare: InterruptedError: /);
    // the workdir lock went with it: the next run may start (and resumes)
    expect(existsSync(join(wd, '.netshare-lock'))).toBe(false);
  });
});

describe('netshare run on a workdir another netshare is running', () => {
  it('stops with a clear error', async () => {
    const { lockWorkdir } = await import('../../src/pipeline/lease.js');
    const wd = mkdtempSync(join(tmpdir(), 'ns-lock-'));
    const inp = join(wd, '..', `${wd.split('/').at(-1)}-in.pcap`);
    await writePcap(inp, syntheticPackets(40, 2));
    const lock = await lockWorkdir(wd, 'netshare run');
    try {
      await expect(runPipeline({ input: inp, workdir: wd, config, executor: new InProcessExecutor(1) })).rejects.toThrow(/in use by another netshare/);
    } finally {
      await lock.release();
    }
  });
});

describe('command line of the distributed executor', () => {
  it('refuses a malformed Redis URL or workdir root with exit 2, naming the flag', async () => {
    const { runCli } = await import('../cli/run-cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'ns-cli-'));
    const w = await runCli(['worker', '--redis', 'http://localhost:6379', '--workdir-root', dir]);
    expect(w.code).toBe(2);
    expect(w.err).toMatch(/Expected redis:\/\/host:port\[\/db\] for --redis but received "http:\/\/localhost:6379"/);
    const root = await runCli(['worker', '--redis', 'redis://127.0.0.1:1', '--workdir-root', join(dir, 'absent')]);
    expect(root.code).toBe(2);
    expect(root.err).toMatch(/--workdir-root .*absent does not exist/);
    const inp = join(dir, 'in.pcap');
    await writePcap(inp, syntheticPackets(40, 2));
    const r = await runCli(['train', '--input', inp, '--preset', 'demo', '--workdir', join(dir, 'wd'), '--executor', 'redis://nohost']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected redis:\/\/host:port\[\/db\] for --executor but received "redis:\/\/nohost"/);
  });
});
