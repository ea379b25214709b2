// The job kinds netshare ships, registered with lazy loaders (imported by jobs.ts before any lookup).
import { registerJob } from './jobs.js';

// `selftest`: checks an executor end to end (used by `netshare worker --selftest` and the executor tests).
// params: { sleepMs?: number, fail?: string, crash?: boolean, value?: unknown }
registerJob('selftest', async () => async (params, ctx) => {
  const sleepMs = Number(params.sleepMs ?? 0);
  if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
  ctx.progress(1, 'selftest done');
  if (params.crash) process.exit(70);
  if (typeof params.fail === 'string') throw new Error(params.fail);
  return { value: params.value ?? null, pid: process.pid, threads: ctx.threads };
});

// `train-chunk`: train (or fine-tune) one chunk into <wd>/train/chunk-<k>/ (params: TrainChunkParams in train.ts).
registerJob('train-chunk', async () => {
  const { trainChunkJob } = await import('./train.js');
  return (params, ctx) => trainChunkJob(params as unknown as import('./train.js').TrainChunkParams, ctx);
});

// `generate-chunk`: sample attributes, or features conditioned on merged attributes, for one chunk and checkpoint
// (params: GenerateChunkParams in generate.ts).
registerJob('generate-chunk', async () => {
  const { generateChunkJob } = await import('./generate.js');
  return (params, ctx) => generateChunkJob(params as unknown as import('./generate.js').GenerateChunkParams, ctx);
});
