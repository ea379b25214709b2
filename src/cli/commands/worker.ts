// `netshare worker`: runs train/generate jobs of `netshare run --executor redis://…` on this machine until stopped.
import type { Argv, CommandModule } from 'yargs';
import { interruptible, untilAborted } from '../interrupt.js';
import type { GlobalArgs } from '../output.js';

interface WorkerArgs extends GlobalArgs {
  redis: string;
  workdirRoot: string;
  concurrency: number;
  device: string;
  threads?: number;
  lockDuration: number;
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'Run the jobs of `netshare run --executor redis://…` on this machine (the workdirs must be mounted under --workdir-root)',
  builder: (y: Argv) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: 'redis://host:port[/db] of the queue' })
      .option('workdir-root', { type: 'string', demandOption: true, describe: 'Where this machine mounts the shared folder the drivers\' --workdir-root names' })
      .option('concurrency', { type: 'number', default: 1, describe: 'Jobs at a time (each in its own process)' })
      .option('device', { type: 'string', default: 'cpu', choices: ['cpu', 'cuda'], describe: 'Take the jobs of this device\'s queue' })
      .option('threads', { type: 'number', describe: 'onnxruntime threads per job (default: the cores divided by --concurrency)' })
      .option('lock-duration', {
        type: 'number',
        default: 30,
        describe: 'Seconds a job\'s BullMQ lock lasts without renewal: a job of a worker that died goes to another worker about this long later (keep it above the 10 s after which a chunk lease of a dead worker on another machine frees up)',
      }) as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    const { startWorker } = await import('../../pipeline/executor-bullmq.js');
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    await interruptible(async (signal) => {
      const w = await startWorker({
        url: args.redis,
        workdirRoot: args.workdirRoot,
        concurrency: args.concurrency,
        device: args.device as 'cpu' | 'cuda',
        ...(args.threads !== undefined ? { threads: args.threads } : {}),
        lockMs: Math.round(args.lockDuration * 1000),
        log,
      });
      log(`netshare worker ${w.name}: ${args.device} jobs from ${args.redis}, workdirs under ${args.workdirRoot}, ${args.concurrency} at a time (Ctrl-C stops)`);
      await untilAborted(signal);
      await w.close();
    }, () => undefined);
  },
};

interface DashboardArgs extends GlobalArgs {
  redis: string;
  port: number;
}

export const dashboardCommand: CommandModule<object, DashboardArgs> = {
  command: 'dashboard',
  describe: 'Serve a view of the job queues (bull-board) on localhost',
  builder: (y: Argv) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: 'redis://host:port[/db] of the queue' })
      .option('port', { type: 'number', default: 3000, describe: 'Port on 127.0.0.1' }) as unknown as Argv<DashboardArgs>,
  handler: async (args) => {
    const { startDashboard } = await import('../../pipeline/dashboard.js');
    await interruptible(async (signal) => {
      const d = await startDashboard({ redis: args.redis, port: args.port });
      process.stderr.write(`netshare dashboard: ${d.url} (Ctrl-C stops)\n`);
      await untilAborted(signal);
      await d.close();
    }, () => undefined);
  },
};
