// Executors run independent jobs: in this process, or on a local pool of child processes (one job per child at
// a time, children kept from job to job, onnxruntime's intra-op threads divided so the machine is not oversubscribed); executor-bullmq.ts runs them
// on workers on any machine through Redis. All keep one contract (jobs.ts): keys scoped to the run, params checked
// where the job runs, thrown errors never retried and revived with their class on the driver, lost workers and busy
// leases retried a bounded number of times with backoff, per-job timeouts, cancellation by an AbortSignal.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterruptedError, NetShareError } from '../errors.js';
import { jobHandler, jobKey, serializeError, type Job, type JobError } from './jobs.js';

export interface JobResult {
  id: string;
  /** The job's run-scoped key (jobKey). */
  key: string;
  ok: boolean;
  result?: unknown;
  error?: JobError;
  seconds: number;
  attempts: number;
  /** Epoch ms: handed to the executor, started on a worker, finished there, seen finished by the driver. */
  timing?: { enqueuedAt: number; startedAt?: number; finishedAt?: number; seenAt: number };
}

export interface ExecutorEvents {
  onStart?(job: Job): void;
  onProgress?(job: Job, fraction: number, info?: string): void;
  onDone?(job: Job, result: JobResult): void;
  /** Aborting it cancels the call's jobs (queued ones never start, running ones are stopped); runAll rejects with InterruptedError. */
  signal?: AbortSignal;
}

export interface Executor {
  readonly name: string;
  /** Run every job; resolves with one result per job (in the jobs' order). Never rejects for a job's failure. */
  runAll(jobs: Job[], events?: ExecutorEvents): Promise<JobResult[]>;
  close(): Promise<void>;
  /** Let go of what is held between calls (a local pool's idle child processes); a later runAll starts anew. */
  releaseIdle?(): Promise<void>;
}

/** Cores to use by default: all of them. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Backoff before retry `attempt` (2, 3, …) of a job whose worker died or whose lease was busy. */
export function retryDelayMs(attempt: number, baseMs = 500): number {
  return Math.min(30_000, baseMs * 2 ** Math.max(0, attempt - 2));
}

function interrupted(): InterruptedError {
  return new InterruptedError('cancelled: the run was interrupted');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface ExecutorOptions {
  /** Attempts per job when its worker dies or its lease is busy (thrown errors are never retried: jobs are pure). */
  maxAttempts?: number;
  /** A job running longer than this fails with JobTimeoutError (not retried); 0 = no limit. */
  jobTimeoutS?: number;
  /** Backoff base of retries (ms). */
  retryBaseMs?: number;
}

/** Runs jobs one after another in the calling process (workers = 1; also what tests use). */
export class InProcessExecutor implements Executor {
  readonly name = 'in-process';
  private readonly maxAttempts: number;
  constructor(private readonly threads = defaultWorkers(), private readonly opts: ExecutorOptions = {}) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  }
  async runAll(jobs: Job[], events: ExecutorEvents = {}): Promise<JobResult[]> {
    const out: JobResult[] = [];
    for (const job of jobs) {
      const key = jobKey(job);
      const enqueuedAt = Date.now();
      let r: JobResult | undefined;
      for (let attempt = 1; !r; attempt++) {
        if (events.signal?.aborted) throw interrupted();
        if (attempt > 1) await sleep(retryDelayMs(attempt, this.opts.retryBaseMs), events.signal);
        events.onStart?.(job);
        const t0 = Date.now();
        try {
          const handler = await jobHandler(job.kind);
          const result = await handler(job.params, { workdir: job.workdir, key, threads: this.threads, progress: (f, info) => events.onProgress?.(job, f, info) });
          r = { id: job.id, key, ok: true, result, seconds: (Date.now() - t0) / 1000, attempts: attempt };
        } catch (err) {
          const e = serializeError(err);
          if (e.retryable && attempt < this.maxAttempts) continue;
          r = { id: job.id, key, ok: false, error: e, seconds: (Date.now() - t0) / 1000, attempts: attempt };
        }
        r.timing = { enqueuedAt, startedAt: t0, finishedAt: Date.now(), seenAt: Date.now() };
      }
      events.onDone?.(job, r);
      out.push(r);
    }
    return out;
  }
  async close(): Promise<void> {}
}

/** What a child runs: the job without its driver-side fields. `workdir` is absolute on the child's machine. */
export interface ChildJob {
  key: string;
  kind: string;
  params: Record<string, unknown>;
  workdir: string;
}

/** Messages between a parent (the pool, a BullMQ worker) and a job child. */
export type ToChild = { type: 'run'; job: ChildJob; threads: number } | { type: 'exit' };
export type FromChild =
  | { type: 'ready' }
  | { type: 'progress'; key: string; fraction: number; info?: string }
  | { type: 'done'; key: string; ok: true; result: unknown; rss?: number }
  | { type: 'done'; key: string; ok: false; error: JobError; rss?: number };

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

export type ChildOutcome =
  | { kind: 'done'; ok: true; result: unknown }
  | { kind: 'done'; ok: false; error: JobError }
  | { kind: 'crashed'; reason: string }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'cancelled' };

/**
 * V8 flags of every job child. `--single-threaded-gc`: the garbage collector works on the job's own thread instead of
 * helper threads. The pool runs one child per core, so the helpers' time is taken from the other children: a fill job
 * of 480k sampled rows spent 8.99 CPU-s for 7.07 s of wall time with them, 7.11 CPU-s for 6.85 s without; twenty
 * 20k-flow feature jobs 3.18 → 2.46 CPU-s (−23%) and 2.16 → 2.00 s wall.
 */
export const CHILD_V8_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** A child is forked anew after this many jobs, or when it reports more resident memory than CHILD_RECYCLE_RSS. */
export const CHILD_MAX_JOBS = 64;
export const CHILD_RECYCLE_RSS = 1.5 * 2 ** 30;

/**
 * A job child process that runs jobs one at a time. The local pool keeps one per slot across jobs and phases (a fresh
 * process per job paid module loading, the JIT's warm-up and the job's caches — encoders, the training 5-tuples, the
 * port policy — again for every job: ~40% of the generate stage's CPU at 300k records); it is replaced when it dies,
 * times out, is cancelled, has run CHILD_MAX_JOBS jobs or holds more than CHILD_RECYCLE_RSS.
 */
export class JobChild {
  readonly child: ChildProcess;
  /** Jobs handed to it so far. */
  jobs = 0;
  /** Resident bytes it reported with its last result. */
  rss = 0;
  private gone: string | undefined;
  private readonly ready: Promise<void>;
  private current?: { key: string; onProgress?: (fraction: number, info?: string) => void; settle: (o: ChildOutcome) => void };

  constructor(readonly threads: number) {
    this.child = fork(workerScript(), [], {
      execArgv: [...process.execArgv, ...CHILD_V8_FLAGS],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NETSHARE_ORT_THREADS: String(threads) },
    });
    let onReady!: () => void;
    this.ready = new Promise((r) => (onReady = r));
    this.child.on('message', (m: FromChild) => {
      if (m.type === 'ready') onReady();
      else if (m.type === 'progress') this.current?.onProgress?.(m.fraction, m.info);
      else if (m.type === 'done') {
        if (m.rss !== undefined) this.rss = m.rss;
        this.current?.settle(m.ok ? { kind: 'done', ok: true, result: m.result } : { kind: 'done', ok: false, error: m.error });
      }
    });
    const lost = (reason: string): void => {
      this.gone ??= reason;
      onReady();
      this.current?.settle({ kind: 'crashed', reason });
    };
    this.child.on('exit', (code, signal) => lost(signal ? `signal ${signal}` : `code ${code}`));
    this.child.on('error', (err) => lost(err.message));
  }

  /** Whether it can take another job (alive, under its job and memory bounds). */
  get usable(): boolean {
    return this.gone === undefined && this.current === undefined && this.jobs < CHILD_MAX_JOBS && this.rss <= CHILD_RECYCLE_RSS;
  }

  /** Run one job: its result, its error, or why the child went away (it is killed on timeout and on abort). */
  async run(job: ChildJob, opts: { onProgress?: (fraction: number, info?: string) => void; signal?: AbortSignal; timeoutMs?: number }): Promise<ChildOutcome> {
    this.jobs++;
    this.child.ref();
    this.child.channel?.ref();
    await this.ready;
    if (this.gone !== undefined) return { kind: 'crashed', reason: this.gone };
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        settle({ kind: 'cancelled' });
        this.kill();
      };
      const settle = (o: ChildOutcome): void => {
        if (this.current?.key !== job.key) return;
        this.current = undefined;
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(o);
      };
      this.current = { key: job.key, settle, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        timer = setTimeout(() => {
          settle({ kind: 'timeout', seconds: opts.timeoutMs! / 1000 });
          this.kill();
        }, opts.timeoutMs);
      }
      try {
        this.child.send({ type: 'run', job, threads: this.threads } satisfies ToChild);
      } catch (err) {
        this.gone ??= (err as Error).message;
        settle({ kind: 'crashed', reason: this.gone });
      }
    });
  }

  /** Between jobs: an idle child does not keep the parent's event loop alive (it exits with its parent). */
  park(): void {
    this.child.unref();
    this.child.channel?.unref();
  }

  private kill(): void {
    this.gone ??= 'killed';
    this.child.kill('SIGKILL');
  }

  /** Let it exit (it finishes nothing: call between jobs), or kill it when it is busy or `force`. */
  close(force = false): void {
    if (this.gone !== undefined) return;
    if (force || this.current || !this.child.connected) return this.kill();
    this.gone = 'closed';
    this.child.send({ type: 'exit' } satisfies ToChild);
  }
}

/**
 * Run one job in a fresh child process: resolves with its result, its error, or why the child went away (a crash,
 * the timeout, the signal). The child is killed on timeout and on abort; it exits by itself when its parent dies.
 */
export async function runJobInChild(
  job: ChildJob,
  opts: { threads: number; onProgress?: (fraction: number, info?: string) => void; signal?: AbortSignal; timeoutMs?: number; onChild?: (c: ChildProcess) => void },
): Promise<ChildOutcome> {
  const c = new JobChild(opts.threads);
  opts.onChild?.(c.child);
  const outcome = await c.run(job, opts);
  c.close();
  return outcome;
}

/** A child's outcome as a job error (undefined when it succeeded); crashes are retryable, timeouts are not. */
export function outcomeError(o: ChildOutcome, key: string): JobError | undefined {
  switch (o.kind) {
    case 'done':
      return o.ok ? undefined : o.error;
    case 'crashed':
      return { name: 'WorkerCrashed', message: `worker process exited (${o.reason}) while running ${key}`, retryable: true };
    case 'timeout':
      return { name: 'JobTimeoutError', message: `${key} ran longer than its ${o.seconds} s timeout and was stopped`, retryable: false };
    case 'cancelled':
      return { name: 'InterruptedError', message: `${key} was cancelled`, retryable: false };
  }
}

export interface LocalPoolOptions extends ExecutorOptions {
  workers?: number;
  /** onnxruntime threads per child (default: the cores divided by the jobs running at once, so a lone job gets every core). */
  threads?: number;
}

/** A pool of child processes, each running one job at a time. */
export class LocalPoolExecutor implements Executor {
  readonly name = 'local-pool';
  readonly workers: number;
  readonly threadsPerWorker: number;
  private readonly maxAttempts: number;
  /** Children between jobs, kept for the next job with the same thread count (JobChild). */
  private idle: JobChild[] = [];
  private readonly children = new Set<JobChild>();

  constructor(private readonly opts: LocalPoolOptions = {}) {
    this.workers = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
    this.threadsPerWorker = Math.max(1, Math.floor(opts.threads ?? defaultWorkers() / this.workers));
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  }

  async runAll(jobs: Job[], events: ExecutorEvents = {}): Promise<JobResult[]> {
    workerScript(); // a missing build fails the call, not each job
    const results = new Map<string, JobResult>();
    const enqueuedAt = Date.now();
    const queue = jobs.map((job) => ({ job, key: jobKey(job), attempts: 0 }));
    const slots = Math.min(this.workers, Math.max(1, jobs.length));
    // fewer jobs than workers (chunk 0 trains alone before the fine-tunes) share the cores the idle workers leave
    const threads = Math.max(1, Math.floor(this.opts.threads ?? defaultWorkers() / slots));
    const signal = events.signal;

    const runSlot = async (): Promise<void> => {
      while (queue.length > 0 && !signal?.aborted) {
        const item = queue.shift()!;
        item.attempts += 1;
        if (item.attempts > 1) await sleep(retryDelayMs(item.attempts, this.opts.retryBaseMs), signal);
        if (signal?.aborted) return;
        events.onStart?.(item.job);
        const t0 = Date.now();
        const child = this.takeChild(threads);
        const outcome = await child.run(
          { key: item.key, kind: item.job.kind, params: item.job.params, workdir: item.job.workdir },
          {
            onProgress: (f, info) => events.onProgress?.(item.job, f, info),
            ...(signal ? { signal } : {}),
            ...(this.opts.jobTimeoutS ? { timeoutMs: this.opts.jobTimeoutS * 1000 } : {}),
          },
        );
        this.giveBack(child);
        if (outcome.kind === 'cancelled') return;
        const seconds = (Date.now() - t0) / 1000;
        const error = outcomeError(outcome, item.key);
        if (error?.retryable && item.attempts < this.maxAttempts) {
          queue.push(item);
          continue;
        }
        const now = Date.now();
        const r: JobResult = {
          id: item.job.id,
          key: item.key,
          ok: !error,
          ...(error ? { error } : { result: (outcome as { result: unknown }).result }),
          seconds,
          attempts: item.attempts,
          timing: { enqueuedAt, startedAt: t0, finishedAt: now, seenAt: now },
        };
        results.set(item.job.id, r);
        events.onDone?.(item.job, r);
      }
    };
    await Promise.all(Array.from({ length: slots }, runSlot));
    if (signal?.aborted) throw interrupted();
    return jobs.map((j) => results.get(j.id)!);
  }

  /** An idle child forked with `threads` that can take a job, else a new one (unusable idle ones are let go). */
  private takeChild(threads: number): JobChild {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.usable && c.threads === threads) return c;
      this.retire(c);
    }
    const c = new JobChild(threads);
    this.children.add(c);
    c.child.on('exit', () => this.children.delete(c));
    return c;
  }

  private giveBack(c: JobChild): void {
    if (!c.usable) return this.retire(c);
    c.park();
    this.idle.push(c);
  }

  private retire(c: JobChild): void {
    c.close();
    this.children.delete(c);
  }

  async close(): Promise<void> {
    this.idle = [];
    for (const c of this.children) c.close(true);
    this.children.clear();
  }

  async releaseIdle(): Promise<void> {
    for (const c of this.idle.splice(0)) this.retire(c);
  }
}

/**
 * `inner`, appending one JSON line per finished job to `file` (stage/job id, key, executor, ok, attempts, seconds, and
 * the timing: enqueued → started on a worker → finished there → seen by the driver, epoch ms).
 */
export function withJobLog(inner: Executor, file: string): Executor {
  return {
    name: inner.name,
    close: () => inner.close(),
    ...(inner.releaseIdle ? { releaseIdle: () => inner.releaseIdle!() } : {}),
    async runAll(jobs, events) {
      const results = await inner.runAll(jobs, events);
      const lines = results.map((r) =>
        JSON.stringify({ id: r.id, key: r.key, executor: inner.name, ok: r.ok, attempts: r.attempts, seconds: r.seconds, ...(r.timing ? { timing: r.timing } : {}), ...(r.error ? { error: r.error } : {}) }),
      );
      if (lines.length > 0) await appendFile(file, `${lines.join('\n')}\n`);
      return results;
    },
  };
}
