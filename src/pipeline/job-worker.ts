// Child-process entry of jobs: receives jobs over IPC, one at a time, runs each and reports its result (the local pool
// keeps such a child from job to job, the BullMQ worker forks one per job; a crash, a timeout or a cancellation kills
// only the child).
import { jobHandler, serializeError } from './jobs.js';
import type { FromChild, ToChild } from './executor.js';

function send(m: FromChild): void {
  process.send?.(m);
}

process.on('message', (m: ToChild) => {
  if (m.type === 'exit') {
    finishedCleanly = true;
    process.disconnect?.();
    return;
  }
  void (async () => {
    const { job, threads } = m;
    try {
      const handler = await jobHandler(job.kind);
      const result = await handler(job.params, {
        workdir: job.workdir,
        key: job.key,
        threads,
        progress: (fraction, info) => send({ type: 'progress', key: job.key, fraction, ...(info !== undefined ? { info } : {}) }),
      });
      send({ type: 'done', key: job.key, ok: true, result, rss: process.memoryUsage.rss() });
    } catch (err) {
      send({ type: 'done', key: job.key, ok: false, error: serializeError(err), rss: process.memoryUsage.rss() });
    }
  })();
});

// The parent went away (it exited, or was killed): stop at once rather than keep training a chunk that a resumed
// run may be training too. Outputs are written atomically, so an abandoned job leaves nothing half-written.
let finishedCleanly = false;
process.on('disconnect', () => process.exit(finishedCleanly ? 0 : 1));

send({ type: 'ready' });
