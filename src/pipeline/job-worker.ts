// Child-process entry of the local pool: receives one job at a time over IPC, runs it, reports the result.
import { jobHandler } from './jobs.js';
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
        threads,
        progress: (fraction, info) => send({ type: 'progress', id: job.id, fraction, ...(info !== undefined ? { info } : {}) }),
      });
      send({ type: 'done', id: job.id, ok: true, result });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      send({ type: 'done', id: job.id, ok: false, error: { name: e.name, message: e.message } });
    }
  })();
});

// The parent went away (it exited, or was killed): stop at once rather than keep training a chunk that a resumed
// run may be training too. Outputs are written atomically, so an abandoned job leaves nothing half-written.
let finishedCleanly = false;
process.on('disconnect', () => process.exit(finishedCleanly ? 0 : 1));

send({ type: 'ready' });
