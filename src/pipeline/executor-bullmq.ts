// The multi-machine executor: the driver enqueues a stage's jobs on BullMQ queues in Redis (one queue per device, so
// CUDA workers take GPU jobs) and `netshare worker`s on any machine that mounts the shared workdir run them, each job
// in a child process (job-worker.ts). Faults: a thrown error fails the job once (UnrecoverableError: jobs are pure);
// a child that crashes or a busy chunk lease is retried with exponential backoff; a worker that dies mid-job stops
// renewing its BullMQ lock, so the stalled job goes back to the queue for another worker (the chunk lease keeps the
// two runners apart); Redis restarts are ridden out by the clients' reconnects (run Redis with AOF on); a restarted
// driver finds its run's jobs by their keys and waits for the ones still queued or running.
import { existsSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions, type Job as BullJob } from 'bullmq';
import { ConfigError, InterruptedError, NetShareError, expected } from '../errors.js';
import { graphCodeVersion, netshareVersion } from './code-version.js';
import { outcomeError, runJobInChild, type Executor, type ExecutorEvents, type ExecutorOptions, type JobResult } from './executor.js';
import { jobKey, type Job, type JobError } from './jobs.js';

export type QueueDevice = 'cpu' | 'cuda';

/** The queue jobs for `device` go to. */
export const queueName = (device: QueueDevice): string => `netshare-${device}`;
const cancelKey = (scope: string): string => `netshare:cancel:${scope}`;

/** `redis://host:port[/db]` → connection options (ConfigError naming the flag when malformed). */
export function parseRedisUrl(url: string, flag = '--executor'): ConnectionOptions & { host: string; port: number; db: number } {
  const m = /^redis:\/\/([^/:?#\s]+):(\d{1,5})(?:\/(\d{1,2}))?\/?$/.exec(url);
  if (!m) throw new ConfigError(expected('redis://host:port[/db]', flag, url), flag.replace(/^--/, ''));
  return { host: m[1]!, port: Number(m[2]), db: m[3] !== undefined ? Number(m[3]) : 0, maxRetriesPerRequest: null };
}

/** What a queued job carries (plain JSON). */
export interface QueuedJob {
  v: 1;
  /** The readable id (train/chunk-3). */
  id: string;
  kind: string;
  params: Record<string, unknown>;
  /** The workdir relative to the workdir root (each worker maps it with its --workdir-root). */
  workdir: string;
  scope: string;
  versions: { netshare: string; graphs: string };
  timeoutMs: number;
  /** Set by the worker before it fails the job: the error with its class. */
  error?: JobError;
}

export function driverVersions(): { netshare: string; graphs: string } {
  return { netshare: netshareVersion(), graphs: graphCodeVersion() };
}

export interface BullMQExecutorOptions extends ExecutorOptions {
  url: string;
  /** The folder job workdirs are sent relative to (workers map it with --workdir-root). */
  workdirRoot: string;
  /** Versions the jobs are stamped with (default: this install's); tests set others to check the workers refuse. */
  versions?: { netshare: string; graphs: string };
  /** How often the driver polls the state of its unfinished jobs besides listening to queue events (ms). */
  pollMs?: number;
  /** Give up connecting to Redis after this long (ms). */
  connectTimeoutMs?: number;
}

interface Pending {
  job: Job;
  key: string;
  queue: Queue;
  enqueuedAt: number;
  started: boolean;
  resolve(r: JobResult): void;
}

/** Enqueues jobs on BullMQ and waits for `netshare worker`s to run them. */
export class BullMQExecutor implements Executor {
  readonly name = 'bullmq';
  private readonly conn: ReturnType<typeof parseRedisUrl>;
  private readonly queues = new Map<QueueDevice, { queue: Queue; events: QueueEvents }>();
  private readonly pending = new Map<string, Pending>();
  private readonly versions: { netshare: string; graphs: string };
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly opts: BullMQExecutorOptions) {
    this.conn = parseRedisUrl(opts.url);
    this.versions = opts.versions ?? driverVersions();
  }

  private async queueFor(device: QueueDevice): Promise<Queue> {
    const have = this.queues.get(device);
    if (have) return have.queue;
    const queue = new Queue(queueName(device), { connection: this.conn });
    const events = new QueueEvents(queueName(device), { connection: this.conn });
    this.queues.set(device, { queue, events });
    const timeout = this.opts.connectTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([queue.waitUntilReady(), events.waitUntilReady()]),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new NetShareError(`cannot reach Redis at ${this.opts.url} within ${timeout / 1000} s: is redis-server running there?`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    events.on('active', ({ jobId }) => {
      const p = this.pending.get(jobId);
      if (p && !p.started) {
        p.started = true;
        this.events?.onStart?.(p.job);
      }
    });
    events.on('progress', ({ jobId, data }) => {
      const p = this.pending.get(jobId);
      const d = data as { fraction?: number; info?: string } | number;
      if (p) this.events?.onProgress?.(p.job, typeof d === 'number' ? d / 100 : (d.fraction ?? 0), typeof d === 'number' ? undefined : d.info);
    });
    const check = ({ jobId }: { jobId: string }): void => {
      const p = this.pending.get(jobId);
      if (p) void this.settle(p);
    };
    events.on('completed', check);
    events.on('failed', check);
    return queue;
  }

  private events: ExecutorEvents | undefined;

  /** Resolve `p` if its job has finished for good (completed, or failed with no attempt left). */
  private async settle(p: Pending): Promise<void> {
    // the state first, then the job: read the other way round, a job that completes in between would be seen
    // completed with the data (no return value) of its active self
    const state = await p.queue.getJobState(p.key);
    if (!this.pending.has(p.key)) return;
    if (state === 'unknown') {
      this.pending.delete(p.key);
      p.resolve(this.result(p, false, undefined, { name: 'NetShareError', message: `job ${p.key} vanished from the queue (removed by hand?)` }, 0));
      return;
    }
    if (state !== 'completed' && state !== 'failed') return;
    const j = (await p.queue.getJob(p.key)) as BullJob<QueuedJob> | undefined;
    if (!j || !this.pending.has(p.key)) return;
    this.pending.delete(p.key);
    const timing = { enqueuedAt: j.timestamp, ...(j.processedOn ? { startedAt: j.processedOn } : {}), ...(j.finishedOn ? { finishedAt: j.finishedOn } : {}), seenAt: Date.now() };
    const attempts = Math.max(1, j.attemptsMade + (j.stalledCounter ?? 0));
    if (state === 'completed') p.resolve({ ...this.result(p, true, j.returnvalue, undefined, attempts), timing });
    else {
      // retryable errors that ran out of attempts come as "<name>: <message>"; a job that stalled too often (its
      // workers died) as BullMQ's own text
      const m = /^([A-Z]\w+): ([\s\S]*)$/.exec(j.failedReason ?? '');
      const error: JobError =
        j.data.error ?? (m ? { name: m[1]!, message: m[2]!, retryable: true } : { name: 'WorkerCrashed', message: j.failedReason || 'the job failed on its worker', retryable: true });
      p.resolve({ ...this.result(p, false, undefined, error, attempts), timing });
    }
  }

  private result(p: Pending, ok: boolean, result: unknown, error: JobError | undefined, attempts: number): JobResult {
    const seconds = (Date.now() - p.enqueuedAt) / 1000;
    return { id: p.job.id, key: p.key, ok, ...(ok ? { result } : { error: error! }), seconds, attempts };
  }

  private async pollAll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const p of [...this.pending.values()]) await this.settle(p).catch(() => undefined);
      // a job nobody can take: say so on its progress line rather than wait in silence
      const idle = new Map<Queue, Pending[]>();
      for (const p of this.pending.values()) if (!p.started) idle.set(p.queue, [...(idle.get(p.queue) ?? []), p]);
      for (const [queue, ps] of idle) {
        if ((await queue.getWorkersCount().catch(() => 1)) > 0) continue;
        for (const p of ps) this.events?.onProgress?.(p.job, 0, `waiting: no \`netshare worker\` takes ${queue.name} jobs at ${this.opts.url}`);
      }
    } finally {
      this.polling = false;
    }
  }

  async runAll(jobs: Job[], events: ExecutorEvents = {}): Promise<JobResult[]> {
    if (this.pending.size > 0) throw new NetShareError('BullMQExecutor.runAll is already running: one call at a time');
    this.events = events;
    const signal = events.signal;
    const root = resolve(this.opts.workdirRoot);
    const waits: Promise<JobResult>[] = [];
    const scopes = new Set(jobs.map((j) => j.scope));
    try {
      for (const job of jobs) {
        const rel = relative(root, resolve(job.workdir));
        if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
          throw new ConfigError(`the workdir ${job.workdir} is not inside the workdir root ${root}: pass --workdir-root <the folder the workers mount it under>`, 'workdir-root');
        }
        const device = (job.params.device === 'cuda' ? 'cuda' : 'cpu') as QueueDevice;
        const queue = await this.queueFor(device);
        if (waits.length === 0) {
          // a new run of this workdir: forget an earlier run's cancellation
          const client = await queue.client;
          for (const s of scopes) await client.del(cancelKey(s));
        }
        const key = jobKey(job);
        const data: QueuedJob = {
          v: 1,
          id: job.id,
          kind: job.kind,
          params: job.params,
          workdir: rel.split(sep).join('/'),
          scope: job.scope,
          versions: this.versions,
          timeoutMs: (this.opts.jobTimeoutS ?? 0) * 1000,
        };
        const existing = (await queue.getJob(key)) as BullJob<QueuedJob> | undefined;
        let enqueuedAt = Date.now();
        if (existing) {
          const state = await existing.getState();
          if (state === 'completed' || state === 'failed') await existing.remove();
          else enqueuedAt = existing.timestamp; // still queued or running (a restarted driver): wait for it
        }
        // pending before the add: an idle worker can take the job, and its 'active' event (onStart) arrive, before add() returns
        waits.push(new Promise<JobResult>((resolvePending) => this.pending.set(key, { job, key, queue, enqueuedAt, started: false, resolve: resolvePending })));
        if (!existing || (await queue.getJob(key)) === undefined) {
          const maxAttempts = Math.max(1, this.opts.maxAttempts ?? 3);
          const baseMs = this.opts.retryBaseMs ?? 1000;
          await queue.add(job.id, data, {
            jobId: key,
            attempts: maxAttempts,
            backoff: { type: 'exponential', delay: baseMs },
            removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
            removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
          });
        }
      }
    } catch (err) {
      // nothing is waited for: the next call must not find this one's entries
      this.pending.clear();
      this.events = undefined;
      throw err;
    }
    this.poller = setInterval(() => void this.pollAll(), this.opts.pollMs ?? 1000);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new InterruptedError('cancelled: the run was interrupted'));
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      void this.pollAll();
      const results = await Promise.race([Promise.all(waits), aborted]);
      results.forEach((r, i) => events.onDone?.(jobs[i]!, r));
      return results;
    } catch (err) {
      if (err instanceof InterruptedError) await this.cancel(scopes);
      throw err;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      clearInterval(this.poller);
      this.pending.clear();
      this.events = undefined;
    }
  }

  /** Cancel this run's jobs: queued ones are removed, running ones are stopped by their workers (they poll the key). */
  private async cancel(scopes: Set<string>): Promise<void> {
    for (const { queue } of this.queues.values()) {
      const client = await queue.client;
      for (const s of scopes) await client.set(cancelKey(s), '1', { EX: 24 * 3600 });
    }
    for (const p of this.pending.values()) {
      const j = await p.queue.getJob(p.key);
      const state = j ? await j.getState() : 'unknown';
      if (j && (state === 'waiting' || state === 'delayed' || state === 'prioritized')) await j.remove().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const { queue, events } of this.queues.values()) {
      await events.close();
      await queue.close();
    }
    this.queues.clear();
  }
}

export interface WorkerOptions {
  url: string;
  /** Where this machine mounts the shared workdirs (the driver's --workdir-root there). */
  workdirRoot: string;
  concurrency?: number;
  device?: QueueDevice;
  /** onnxruntime threads per job (default: the cores divided by the concurrency). */
  threads?: number;
  /** BullMQ lock duration (ms): a dead worker's job goes back to the queue about this long after it died. */
  lockMs?: number;
  /** How many times a job may stall (its worker died) before it fails. */
  maxStalled?: number;
  /** Versions this worker runs (default: this install's); tests set others to check the refusal. */
  versions?: { netshare: string; graphs: string };
  log?: (line: string) => void;
}

export interface RunningWorker {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Start a worker: takes jobs of the device's queue, checks the driver's versions, maps the workdir, runs each job in
 * a child process, reports progress, and stops a job whose run was cancelled.
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const conn = parseRedisUrl(opts.url, '--redis');
  const root = resolve(opts.workdirRoot);
  if (!existsSync(root)) throw new ConfigError(`--workdir-root ${root} does not exist: mount the shared workdirs there first`, 'workdir-root');
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
  const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism() / concurrency));
  const device = opts.device ?? 'cpu';
  const mine = opts.versions ?? driverVersions();
  const name = `${hostname()}:${process.pid}`;
  const log = opts.log ?? (() => undefined);
  const active = new Map<string, string>(); // job key → scope

  const fail = async (job: BullJob<QueuedJob>, error: JobError): Promise<never> => {
    if (error.retryable) throw new Error(`${error.name}: ${error.message}`); // BullMQ retries it with backoff
    await job.updateData({ ...job.data, error });
    throw new UnrecoverableError(`${error.name}: ${error.message}`);
  };

  const processor = async (job: BullJob<QueuedJob>, _token?: string, signal?: AbortSignal): Promise<unknown> => {
    const d = job.data;
    const key = job.id!;
    if (d.versions.netshare !== mine.netshare || d.versions.graphs !== mine.graphs) {
      return fail(job, {
        name: 'VersionMismatchError',
        message: `worker ${name} runs netshare ${mine.netshare} with model graphs ${mine.graphs}, the driver netshare ${d.versions.netshare} with model graphs ${d.versions.graphs}: install the driver's version on the worker`,
      });
    }
    const workdir = join(root, d.workdir);
    if (d.workdir.startsWith('/') || d.workdir.split('/').includes('..') || !existsSync(workdir)) {
      return fail(job, { name: 'InputError', message: `workdir ${d.workdir} is not under this worker's --workdir-root ${root} (${workdir} does not exist): is the shared storage mounted here?` });
    }
    active.set(key, d.scope);
    log(`${new Date().toISOString()} start ${key} (attempt ${job.attemptsMade + 1})`);
    let lastProgress = 0;
    try {
      const outcome = await runJobInChild(
        { key, kind: d.kind, params: d.params, workdir },
        {
          threads,
          ...(signal ? { signal } : {}),
          ...(d.timeoutMs > 0 ? { timeoutMs: d.timeoutMs } : {}),
          onProgress: (fraction, info) => {
            const now = Date.now();
            if (now - lastProgress < 250 && fraction < 1) return;
            lastProgress = now;
            void job.updateProgress({ fraction, ...(info !== undefined ? { info } : {}) }).catch(() => undefined);
          },
        },
      );
      const error = outcomeError(outcome, key);
      log(`${new Date().toISOString()} ${error ? `fail ${key}: ${error.name}: ${error.message}` : `done ${key}`}`);
      if (error) return await fail(job, error);
      return (outcome as { result: unknown }).result;
    } finally {
      active.delete(key);
    }
  };

  const worker = new Worker<QueuedJob>(queueName(device), processor, {
    connection: conn,
    concurrency,
    name,
    lockDuration: opts.lockMs ?? 30_000,
    stalledInterval: opts.lockMs ?? 30_000,
    maxStalledCount: opts.maxStalled ?? 2,
  });
  worker.on('error', (err) => log(`${new Date().toISOString()} redis: ${err.message}`));
  await worker.waitUntilReady();
  // cancellation: a driver interrupted by Ctrl-C sets its run's cancel key; stop our jobs of that run
  const client = await worker.client;
  const cancelPoll = setInterval(() => {
    void (async () => {
      for (const [key, scope] of active) {
        if ((await client.get(cancelKey(scope)).catch(() => null)) !== null) worker.cancelJob(key, 'the run was cancelled');
      }
    })();
  }, 1000);
  return {
    name,
    async close() {
      clearInterval(cancelPoll);
      await worker.close();
    },
  };
}
