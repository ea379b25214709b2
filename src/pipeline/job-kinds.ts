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
