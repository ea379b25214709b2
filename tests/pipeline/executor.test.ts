// Executors: results in job order, failures reported not thrown and revived with their class, bad params refused
// once, a crashed child retried with backoff, timeouts, cancellation, threads divided, scoped keys, leases and the
// workdir lock.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILD_V8_FLAGS, InProcessExecutor, LocalPoolExecutor, retryDelayMs } from '../../src/pipeline/executor.js';
import { jobKey, reviveError, type Job } from '../../src/pipeline/jobs.js';
import { ConfigError, InputError, InterruptedError } from '../../src/errors.js';
import { acquireLease, LeaseBusyError, lockWorkdir, WorkdirLockedError, workdirIdentity } from '../../src/pipeline/lease.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';

const wd = mkdtempSync(join(tmpdir(), 'ns-exec-'));
const job = (id: string, params: Record<string, unknown>, kind = 'selftest'): Job => ({ id, kind, params, workdir: wd, scope: 'test' });
const jobs: Job[] = [job('a', { value: 1, sleepMs: 50 }), job('b', { fail: 'boom' }), job('c', { value: 3 })];

describe('job keys', () => {
  it('are scoped to the workdir identity and the params', async () => {
    const id = await workdirIdentity(wd);
    expect(await workdirIdentity(wd)).toBe(id);
    const other = await workdirIdentity(mkdtempSync(join(tmpdir(), 'ns-exec-')));
    expect(other).not.toBe(id);
    const a = jobKey({ ...job('train/chunk-1', { x: 1 }), scope: id });
    expect(a).toMatch(/^ns-[0-9a-f]{12}\.train\.chunk-1\.[0-9a-f]{10}$/);
    expect(jobKey({ ...job('train/chunk-1', { x: 1 }), scope: other })).not.toBe(a);
    expect(jobKey({ ...job('train/chunk-1', { x: 2 }), scope: id })).not.toBe(a);
  });
});

describe('InProcessExecutor', () => {
  it('runs jobs in order and reports failures as results', async () => {
    const ex = new InProcessExecutor(1);
    const r = await ex.runAll(jobs);
    expect(r.map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(r[0]).toMatchObject({ ok: true, result: { value: 1 } });
    expect(r[1]).toMatchObject({ ok: false, error: { message: 'boom' } });
    expect(r[2]).toMatchObject({ ok: true, result: { value: 3 } });
  });
  it('names an unknown job kind', async () => {
    const r = await new InProcessExecutor().runAll([job('x', {}, 'nope')]);
    expect(r[0]!.ok).toBe(false);
    expect(r[0]!.error!.message).toMatch(/unknown job kind "nope"/);
  });
  it('refuses bad params by the kind\'s schema (ConfigError naming the key), once', async () => {
    const r = await new InProcessExecutor(1).runAll([job('t', { chunk: -1, upstream: 'u' }, 'train-chunk')]);
    expect(r[0]).toMatchObject({ ok: false, attempts: 1, error: { name: 'ConfigError', retryable: false } });
    expect(r[0]!.error!.message).toMatch(/bad params for a train-chunk job: .* at params\.chunk/);
    const abs = await new InProcessExecutor(1).runAll([job('g', { chunk: 0, pass: 0, checkpoint: '/abs/ckpt', iteration: 1, seed: 1, device: 'cpu' }, 'generate-chunk')]);
    expect(abs[0]!.error!.message).toMatch(/relative to the workdir.*params\.checkpoint/);
  });
});

describe('errors across the boundary', () => {
  it('keep their class, so the driver exits with the job\'s exit code', async () => {
    const ex = new LocalPoolExecutor({ workers: 2 });
    const r = await ex.runAll([job('cfg', { fail: 'bad key', failAs: 'ConfigError' }), job('in', { fail: 'bad file', failAs: 'InputError' })]);
    await ex.close();
    expect(r.map((x) => x.attempts)).toEqual([1, 1]);
    const e0 = reviveError(r[0]!.id, r[0]!.error!);
    const e1 = reviveError(r[1]!.id, r[1]!.error!);
    expect(e0).toBeInstanceOf(ConfigError);
    expect(e1).toBeInstanceOf(InputError);
    expect(exitCodeFor(e0)).toBe(2);
    expect(exitCodeFor(e1)).toBe(3);
    expect(e1.message).toBe('in failed: InputError: bad file');
  });
});

describe('LocalPoolExecutor', () => {
  it('runs jobs in child processes in parallel with divided threads', async () => {
    const ex = new LocalPoolExecutor({ workers: 2 });
    const progress: string[] = [];
    const r = await ex.runAll(jobs, { onProgress: (j) => progress.push(j.id) });
    await ex.close();
    expect(r.map((x) => x.ok)).toEqual([true, false, true]);
    expect(r[1]!.attempts).toBe(1); // a thrown error is not retried
    const pids = r.filter((x) => x.ok).map((x) => (x.result as { pid: number }).pid);
    expect(pids.every((p) => p !== process.pid)).toBe(true);
    expect((r[0]!.result as { threads: number }).threads).toBe(ex.threadsPerWorker);
    // the children's V8 flags (a garbage collector without helper threads), after the parent's own
    expect((r[0]!.result as { execArgv: string[] }).execArgv.slice(-CHILD_V8_FLAGS.length)).toEqual([...CHILD_V8_FLAGS]);
    expect(CHILD_V8_FLAGS).toContain('--single-threaded-gc');
    expect(progress).toContain('a');
  });
  it('keeps a child from job to job and from call to call, and forks anew after a crash, a failure or a thread change', async () => {
    const ex = new LocalPoolExecutor({ workers: 1, threads: 1, retryBaseMs: 10 });
    const pid = async (...js: Job[]): Promise<(number | undefined)[]> => (await ex.runAll(js)).map((r) => (r.result as { pid?: number } | undefined)?.pid);
    const [p1, p2] = await pid(job('r1', { value: 1 }), job('r2', { value: 2 }));
    const [p3] = await pid(job('r3', { value: 3 }));
    expect(p1).toBeDefined();
    expect([p2, p3]).toEqual([p1, p1]);
    // a thrown error leaves the child usable; a crash does not
    const [, p4] = await pid(job('f', { fail: 'boom' }), job('r4', { value: 4 }));
    expect(p4).toBe(p1);
    const [, p5] = await pid(job('x', { crash: true }), job('r5', { value: 5 }));
    expect(p5).not.toBe(p1);
    await ex.close();
    // another thread count: another child (the threads a child was forked with are its environment)
    const two = new LocalPoolExecutor({ workers: 2, retryBaseMs: 10 });
    const [lone] = (await two.runAll([job('lone', { value: 1 })])).map((r) => r.result as { pid: number; threads: number });
    const pair = (await two.runAll([job('p1', { value: 1, sleepMs: 100 }), job('p2', { value: 2, sleepMs: 100 })])).map((r) => r.result as { pid: number; threads: number });
    await two.close();
    // (a lone job gets every core: on one core it shares the pair's thread count, and may share a child)
    if (availableParallelism() > 1) expect(pair.map((r) => r.pid)).not.toContain(lone!.pid);
    expect(new Set(pair.map((r) => r.pid)).size).toBe(2);
  });
  it('gives a lone job every core (chunk 0 trains alone), unless threads are set', async () => {
    const ex = new LocalPoolExecutor({ workers: 2 });
    const [r] = await ex.runAll([job('lone', { value: 1 })]);
    await ex.close();
    expect((r!.result as { threads: number }).threads).toBe(Math.max(1, availableParallelism()));
    const fixed = new LocalPoolExecutor({ workers: 2, threads: 1 });
    const [f] = await fixed.runAll([job('lone', { value: 1 })]);
    await fixed.close();
    expect((f!.result as { threads: number }).threads).toBe(1);
  });
  it('retries a job whose process dies (with backoff), then reports the crash', async () => {
    const ex = new LocalPoolExecutor({ workers: 1, maxAttempts: 3, retryBaseMs: 200 });
    const r = await ex.runAll([job('crash', { crash: true })]);
    expect(r[0]).toMatchObject({ ok: false, attempts: 3, error: { name: 'WorkerCrashed' } });
    expect([2, 3, 4, 20].map((a) => retryDelayMs(a, 200))).toEqual([200, 400, 800, 30_000]);
  });
  it('stops a job past its timeout, without retrying it', async () => {
    const ex = new LocalPoolExecutor({ workers: 1, jobTimeoutS: 0.5 });
    const r = await ex.runAll([job('slow', { sleepMs: 20_000 })]);
    expect(r[0]).toMatchObject({ ok: false, attempts: 1, error: { name: 'JobTimeoutError' } });
  });
  it('cancels running and queued jobs when its signal aborts', async () => {
    const ex = new LocalPoolExecutor({ workers: 1 });
    const ac = new AbortController();
    const started: string[] = [];
    const p = ex.runAll([job('s1', { sleepMs: 20_000 }), job('s2', { sleepMs: 20_000 })], {
      signal: ac.signal,
      onStart: (j) => {
        started.push(j.id);
        setTimeout(() => ac.abort(), 300);
      },
    });
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    expect(started).toEqual(['s1']);
  });
});

describe('leases', () => {
  it('keep a second runner out while the holder lives, and free up when it is gone', async () => {
    const path = join(wd, 'leases', 'x.lease');
    const log = join(wd, 'leases', 'log.jsonl');
    const a = await acquireLease(path, { owner: 'A', log });
    await expect(acquireLease(path, { owner: 'B' })).rejects.toBeInstanceOf(LeaseBusyError);
    await a.release();
    const b = await acquireLease(path, { owner: 'B', log });
    await b.release();
    // a holder on this host whose process is gone is taken over at once
    writeFileSync(path, JSON.stringify({ token: 't', host: (await import('node:os')).hostname(), pid: 2 ** 22 + 12345, owner: 'dead', acquiredAt: 0, heartbeatAt: Date.now() }));
    const c = await acquireLease(path, { owner: 'C', log });
    await c.release();
    const events = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; owner: string });
    expect(events.map((e) => `${e.event} ${e.owner}`)).toEqual(['acquire A', 'release A', 'acquire B', 'release B', 'takeover C', 'release C']);
  });
  it('lock a workdir for one driver', async () => {
    const lock = await lockWorkdir(wd, 'netshare run');
    await expect(lockWorkdir(wd, 'netshare run')).rejects.toBeInstanceOf(WorkdirLockedError);
    await expect(lockWorkdir(wd, 'netshare run')).rejects.toThrow(/in use by another netshare: .* held by netshare run \(pid \d+/);
    await lock.release();
    await (await lockWorkdir(wd, 'netshare run')).release();
  });
});

describe('pool children', () => {
  it('exit when the parent process dies mid-job', async () => {
    const { spawn } = await import('node:child_process');
    const { workerScript } = await import('../../src/pipeline/executor.js');
    // A parent that forks a pool child running a long job, prints the child's pid, then is SIGKILLed.
    const parentCode = `
      const { fork } = require('node:child_process');
      const c = fork(${JSON.stringify(workerScript())}, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      c.on('message', (m) => {
        if (m.type === 'ready') { c.send({ type: 'run', job: { key: 'long', kind: 'selftest', params: { sleepMs: 60000 }, workdir: ${JSON.stringify(wd)} }, threads: 1 }); console.log(c.pid); }
      });`;
    const parent = spawn(process.execPath, ['-e', parentCode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    parent.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(childPid)).toBe(false);
  });
});
