// Registry of job kinds that executors run. A job is a pure function of files in the workdir: it reads its
// inputs, writes its outputs atomically, and can be retried; its params are plain JSON.
import { NetShareError } from '../errors.js';

export interface Job {
  /** Unique within one executor call, e.g. `train/chunk-3`. */
  id: string;
  /** Registered kind, e.g. `train-chunk`. */
  kind: string;
  params: Record<string, unknown>;
}

export interface JobContext {
  /** onnxruntime intra-op threads this job may use (the executor divides the cores among its workers). */
  threads: number;
  /** Progress from inside the job: fraction in [0, 1] and a short text. */
  progress(fraction: number, info?: string): void;
}

export type JobHandler = (params: Record<string, unknown>, ctx: JobContext) => Promise<unknown>;

const registry = new Map<string, () => Promise<JobHandler>>();

/** Register a job kind with a lazy loader, so workers only load the code of the jobs they run. */
export function registerJob(kind: string, load: () => Promise<JobHandler>): void {
  registry.set(kind, load);
}

export async function jobHandler(kind: string): Promise<JobHandler> {
  await import('./job-kinds.js');
  const load = registry.get(kind);
  if (!load) throw new NetShareError(`unknown job kind "${kind}" (known: ${[...registry.keys()].sort().join(', ')})`);
  return load();
}
