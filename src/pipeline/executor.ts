// Executors run independent jobs: in this process, or on a local pool of child processes (one job per child at
// a time, onnxruntime's intra-op threads divided so the machine is not oversubscribed). A distributed executor
// (BullMQ on Redis) implements the same interface.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetShareError } from '../errors.js';
import { jobHandler, type Job } from './jobs.js';

export interface JobResult {
  id: string;
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string };
  seconds: number;
  attempts: number;
}

export interface ExecutorEvents {
  onStart?(job: Job): void;
  onProgress?(job: Job, fraction: number, info?: string): void;
  onDone?(job: Job, result: JobResult): void;
}

export interface Executor {
  readonly name: string;
  /** Run every job; resolves with one result per job (in the jobs' order). Never rejects for a job's failure. */
  runAll(jobs: Job[], events?: ExecutorEvents): Promise<JobResult[]>;
  close(): Promise<void>;
}

/** Cores to use by default: all of them. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Runs jobs one after another in the calling process (workers = 1; also what tests use). */
export class InProcessExecutor implements Executor {
  readonly name = 'in-process';
  constructor(private readonly threads = defaultWorkers()) {}
  async runAll(jobs: Job[], events: ExecutorEvents = {}): Promise<JobResult[]> {
    const out: JobResult[] = [];
    for (const job of jobs) {
      events.onStart?.(job);
      const t0 = Date.now();
      let r: JobResult;
      try {
        const handler = await jobHandler(job.kind);
        const result = await handler(job.params, {
          threads: this.threads,
          progress: (f, info) => events.onProgress?.(job, f, info),
        });
        r = { id: job.id, ok: true, result, seconds: (Date.now() - t0) / 1000, attempts: 1 };
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        r = { id: job.id, ok: false, error: { name: e.name, message: e.message }, seconds: (Date.now() - t0) / 1000, attempts: 1 };
      }
      events.onDone?.(job, r);
      out.push(r);
    }
    return out;
  }
  async close(): Promise<void> {}
}

/** Messages between the pool and its children. */
export type ToChild = { type: 'run'; job: Job; threads: number } | { type: 'exit' };
export type FromChild =
  | { type: 'ready' }
  | { type: 'progress'; id: string; fraction: number; info?: string }
  | { type: 'done'; id: string; ok: true; result: unknown }
  | { type: 'done'; id: string; ok: false; error: { name: string; message: string } };

/** The compiled child entry point (children always run the built JS, also when the caller runs from TS sources). */
export function workerScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, 'job-worker.js');
  if (existsSync(js)) return js;
  // Running from src/ (tests): use the build in dist/.
  const dist = join(here, '..', '..', 'dist', 'src', 'pipeline', 'job-worker.js');
  if (existsSync(dist)) return dist;
  throw new NetShareError(`the job worker is not built (looked for ${js} and ${dist}); run \`npm run build\``);
}

export interface LocalPoolOptions {
  workers?: number;
  /** Attempts per job when its child process dies (a thrown error is not retried: jobs are deterministic). */
  maxAttempts?: number;
}

/** A pool of child processes, each running one job at a time. */
export class LocalPoolExecutor implements Executor {
  readonly name = 'local-pool';
  readonly workers: number;
  readonly threadsPerWorker: number;
  private readonly maxAttempts: number;
  private readonly children = new Set<ChildProcess>();

  constructor(opts: LocalPoolOptions = {}) {
    this.workers = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
    this.threadsPerWorker = Math.max(1, Math.floor(defaultWorkers() / this.workers));
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 2);
  }

  async runAll(jobs: Job[], events: ExecutorEvents = {}): Promise<JobResult[]> {
    const script = workerScript();
    const results = new Map<string, JobResult>();
    const queue = jobs.map((job) => ({ job, attempts: 0 }));
    const slots = Math.min(this.workers, Math.max(1, jobs.length));

    const runSlot = async (): Promise<void> => {
      while (queue.length > 0) {
        const item = queue.shift()!;
        item.attempts += 1;
        events.onStart?.(item.job);
        const t0 = Date.now();
        const outcome = await this.runInChild(script, item.job, events);
        const seconds = (Date.now() - t0) / 1000;
        if (outcome.kind === 'crashed' && item.attempts < this.maxAttempts) {
          queue.push(item);
          continue;
        }
        const r: JobResult =
          outcome.kind === 'done'
            ? outcome.msg.ok
              ? { id: item.job.id, ok: true, result: outcome.msg.result, seconds, attempts: item.attempts }
              : { id: item.job.id, ok: false, error: outcome.msg.error, seconds, attempts: item.attempts }
            : {
                id: item.job.id,
                ok: false,
                error: { name: 'WorkerCrashed', message: `worker process exited (${outcome.reason}) while running ${item.job.id}` },
                seconds,
                attempts: item.attempts,
              };
        results.set(item.job.id, r);
        events.onDone?.(item.job, r);
      }
    };
    await Promise.all(Array.from({ length: slots }, runSlot));
    return jobs.map((j) => results.get(j.id)!);
  }

  private runInChild(
    script: string,
    job: Job,
    events: ExecutorEvents,
  ): Promise<{ kind: 'done'; msg: Extract<FromChild, { type: 'done' }> } | { kind: 'crashed'; reason: string }> {
    return new Promise((resolve) => {
      const child = fork(script, [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NETSHARE_ORT_THREADS: String(this.threadsPerWorker) },
      });
      this.children.add(child);
      let settled = false;
      const finish = (v: { kind: 'done'; msg: Extract<FromChild, { type: 'done' }> } | { kind: 'crashed'; reason: string }) => {
        if (settled) return;
        settled = true;
        resolve(v);
      };
      child.on('message', (m: FromChild) => {
        if (m.type === 'ready') child.send({ type: 'run', job, threads: this.threadsPerWorker } satisfies ToChild);
        else if (m.type === 'progress') events.onProgress?.(job, m.fraction, m.info);
        else if (m.type === 'done') {
          finish({ kind: 'done', msg: m });
          child.send({ type: 'exit' } satisfies ToChild);
        }
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        finish({ kind: 'crashed', reason: signal ? `signal ${signal}` : `code ${code}` });
      });
      child.on('error', (err) => finish({ kind: 'crashed', reason: err.message }));
    });
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGTERM');
    this.children.clear();
  }
}
