// The job kinds netshare ships: each with its params schema (checked where the job runs) and a lazy handler loader.
import { z } from 'zod';
import { registerJob } from './jobs.js';

// `selftest`: checks an executor end to end (used by the executor tests).
// params: { sleepMs?: number, fail?: string, crash?: boolean, value?: unknown }
const selftestSchema = z.strictObject({
  sleepMs: z.number().nonnegative().optional(),
  fail: z.string().optional(),
  /** Throw this error class (ConfigError, InputError, …) with `fail` as its message. */
  failAs: z.enum(['Error', 'ConfigError', 'InputError', 'InternalError']).optional(),
  crash: z.boolean().optional(),
  value: z.unknown().optional(),
});
registerJob('selftest', async () => selftestSchema, async () => async (params, ctx) => {
  const sleepMs = params.sleepMs ?? 0;
  for (let t = 0; t < sleepMs; t += 100) {
    await new Promise((r) => setTimeout(r, Math.min(100, sleepMs - t)));
    ctx.progress(Math.min(1, (t + 100) / sleepMs), 'selftest sleeping');
  }
  ctx.progress(1, 'selftest done');
  if (params.crash) process.exit(70);
  if (typeof params.fail === 'string') {
    const errors = await import('../errors.js');
    const Cls = params.failAs && params.failAs !== 'Error' ? errors[params.failAs] : Error;
    throw new Cls(params.fail);
  }
  return { value: params.value ?? null, pid: process.pid, threads: ctx.threads, execArgv: process.execArgv };
});

// `train-chunk`: train (or fine-tune) one chunk into <wd>/train/chunk-<k>/ (params: TrainChunkParams in train.ts).
registerJob(
  'train-chunk',
  async () => (await import('./train.js')).trainChunkParamsSchema,
  async () => {
    const { trainChunkJob } = await import('./train.js');
    return (params, ctx) => trainChunkJob(params, ctx);
  },
);

// `generate-chunk`: sample attributes, or features conditioned on merged attributes, for one chunk and checkpoint
// (params: GenerateChunkParams in generate.ts).
registerJob(
  'generate-chunk',
  async () => (await import('./generate.js')).generateChunkParamsSchema,
  async () => {
    const { generateChunkJob } = await import('./generate.js');
    return (params, ctx) => generateChunkJob(params, ctx);
  },
);
