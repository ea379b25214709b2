// `netshare dashboard`: bull-board's queue view (jobs by state, progress, failures, retries) of the netshare queues,
// served on localhost.
import type { Server } from 'node:http';
import { Queue } from 'bullmq';
import { NetShareError } from '../errors.js';
import { parseRedisUrl, queueName } from './executor-bullmq.js';

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** Serve the dashboard of the cpu and cuda queues at http://127.0.0.1:<port>/ (port 0: any free one). */
export async function startDashboard(opts: { redis: string; port?: number; host?: string }): Promise<Dashboard> {
  const conn = parseRedisUrl(opts.redis, '--redis');
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }, { default: express }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
    import('express'),
  ]);
  const queues = (['cpu', 'cuda'] as const).map((d) => new Queue(queueName(d), { connection: conn }));
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter, options: { uiConfig: { boardTitle: 'netshare' } } });
  const app = express();
  app.use('/', serverAdapter.getRouter());
  const host = opts.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port ?? 3000, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.on('error', (err) => reject(new NetShareError(`cannot serve the dashboard on ${host}:${opts.port ?? 3000}: ${err.message}`)));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 3000;
  return {
    url: `http://${host}:${port}/`,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      for (const q of queues) await q.close();
    },
  };
}
