// Registry of job kinds that executors run, and the job contract every executor keeps. A job is a pure function of
// files in the workdir: it reads its inputs, writes its outputs atomically, and can be retried; its params are plain
// JSON with paths relative to the workdir (never absolute: machines mount the shared workdir at different places),
// validated by the kind's zod schema where the job runs.
import type { z } from 'zod';
import { ConfigError, InputError, InternalError, InterruptedError, NetShareError } from '../errors.js';
import { fingerprint } from './fsutil.js';

export interface Job {
  /** Readable id, unique within one stage of one run, e.g. `train/chunk-3`, `generate/chunk-1/p0/ckpt-6`. */
  id: string;
  /** Registered kind, e.g. `train-chunk`. */
  kind: string;
  params: Record<string, unknown>;
  /** The workdir the job works in (absolute on the driver; executors send it relative to a workdir root). */
  workdir: string;
  /** The workdir's identity (lease.ts `workdirIdentity`): scopes the job's key to this run. */
  scope: string;
}

/**
 * The job's key across executors and machines: workdir identity + stage/chunk/checkpoint id + a hash of its params,
 * so two runs (or one run with other params) never share a key. Only `[A-Za-z0-9._-]` (BullMQ refuses `:`).
 */
export function jobKey(job: Pick<Job, 'id' | 'kind' | 'params' | 'scope'>): string {
  const id = job.id.replace(/[^A-Za-z0-9._-]+/g, '.');
  return `ns-${job.scope}.${id}.${fingerprint({ kind: job.kind, params: job.params }).slice(0, 10)}`;
}

export interface JobContext {
  /** Absolute path of the job's workdir on this machine. */
  workdir: string;
  /** The job's key (jobKey): names the runner in leases and logs. */
  key: string;
  /** onnxruntime intra-op threads this job may use (the executor divides the cores among its workers). */
  threads: number;
  /** Progress from inside the job: fraction in [0, 1] and a short text. */
  progress(fraction: number, info?: string): void;
}

export type JobHandler = (params: Record<string, unknown>, ctx: JobContext) => Promise<unknown>;

interface Registered {
  load: () => Promise<(params: never, ctx: JobContext) => Promise<unknown>>;
  /** Loads the params schema (lazily too: workers load only the code of the kinds they run). */
  schema: () => Promise<z.ZodType>;
}
const registry = new Map<string, Registered>();

/** Register a job kind: its params schema and handler, each behind a lazy loader. */
export function registerJob<S extends z.ZodType>(
  kind: string,
  schema: () => Promise<S>,
  load: () => Promise<(params: z.infer<S>, ctx: JobContext) => Promise<unknown>>,
): void {
  registry.set(kind, { load: load as Registered['load'], schema });
}

/** The handler of `kind`, wrapped to validate its params first (a ConfigError naming the key path: never retried). */
export async function jobHandler(kind: string): Promise<JobHandler> {
  await import('./job-kinds.js');
  const reg = registry.get(kind);
  if (!reg) throw new ConfigError(`unknown job kind "${kind}" (known: ${[...registry.keys()].sort().join(', ')})`, 'kind');
  const [schema, handler] = await Promise.all([reg.schema(), reg.load()]);
  return async (params, ctx) => {
    const r = schema.safeParse(params);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const key = ['params', ...issue.path.map(String)].join('.');
      throw new ConfigError(`bad params for a ${kind} job: ${issue.message} at ${key}`, key);
    }
    return handler(r.data as never, ctx);
  };
}

/** An error as it crosses a process or machine boundary (plain JSON). */
export interface JobError {
  name: string;
  message: string;
  /** ConfigError's key path, InputError's file. */
  key?: string;
  file?: string;
  /** False for deterministic failures (every thrown error: jobs are pure); true for lost workers, busy leases. */
  retryable?: boolean;
}

/** Errors a retry may cure: another runner held the chunk's lease (it finishes or dies), a worker went away. */
const RETRYABLE = new Set(['LeaseBusyError', 'WorkerCrashed']);

export function serializeError(err: unknown): JobError {
  const e = err instanceof Error ? err : new Error(String(err));
  const out: JobError = { name: e.name, message: e.message, retryable: RETRYABLE.has(e.name) };
  if (e instanceof ConfigError && e.key !== undefined) out.key = e.key;
  if (e instanceof InputError && e.file !== undefined) out.file = e.file;
  return out;
}

/**
 * The error a failed job stands for on the driver, with its class (so `netshare` exits with the job's exit code):
 * ConfigError (bad params too) → 2, InputError → 3, InternalError → 1, other NetShare errors and crashes → 4.
 * The message names the job.
 */
export function reviveError(jobId: string, e: JobError): Error {
  const message = `${jobId} failed: ${e.name}: ${e.message}`;
  switch (e.name) {
    case 'ConfigError':
      return new ConfigError(message, e.key);
    case 'InputError':
      return new InputError(message, e.file);
    case 'InternalError':
      return new InternalError(message);
    case 'InterruptedError':
      return new InterruptedError(message);
    default:
      // a plain Error inside a job is a bug there, but the driver reports it as the job's failure, not its own bug
      return new NetShareError(message);
  }
}
