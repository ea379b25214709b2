// Executors: results in job order, failures reported not thrown, a crashed child retried, threads divided.
import { describe, expect, it } from 'vitest';
import { InProcessExecutor, LocalPoolExecutor } from '../../src/pipeline/executor.js';
import type { Job } from '../../src/pipeline/jobs.js';

const jobs: Job[] = [
  { id: 'a', kind: 'selftest', params: { value: 1, sleepMs: 50 } },
  { id: 'b', kind: 'selftest', params: { fail: 'boom' } },
  { id: 'c', kind: 'selftest', params: { value: 3 } },
];

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
    const r = await new InProcessExecutor().runAll([{ id: 'x', kind: 'nope', params: {} }]);
    expect(r[0]!.ok).toBe(false);
    expect(r[0]!.error!.message).toMatch(/unknown job kind "nope"/);
  });
});

describe('LocalPoolExecutor', () => {
  it('runs jobs in child processes in parallel with divided threads', async () => {
    const ex = new LocalPoolExecutor({ workers: 2 });
    const progress: string[] = [];
    const r = await ex.runAll(jobs, { onProgress: (j) => progress.push(j.id) });
    await ex.close();
    expect(r.map((x) => x.ok)).toEqual([true, false, true]);
    const pids = r.filter((x) => x.ok).map((x) => (x.result as { pid: number }).pid);
    expect(pids.every((p) => p !== process.pid)).toBe(true);
    expect((r[0]!.result as { threads: number }).threads).toBe(ex.threadsPerWorker);
    expect(progress).toContain('a');
  });
  it('retries a job whose process dies, then reports the crash', async () => {
    const ex = new LocalPoolExecutor({ workers: 1, maxAttempts: 2 });
    const r = await ex.runAll([{ id: 'crash', kind: 'selftest', params: { crash: true } }]);
    expect(r[0]).toMatchObject({ ok: false, attempts: 2, error: { name: 'WorkerCrashed' } });
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
        if (m.type === 'ready') { c.send({ type: 'run', job: { id: 'long', kind: 'selftest', params: { sleepMs: 60000 } }, threads: 1 }); console.log(c.pid); }
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
