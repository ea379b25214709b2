// Real Redis for the distributed tests: a redis-server on a free loopback port with its own temp dir (AOF on, fsync
// on every write, so a SIGKILLed server loses nothing), restartable in place; and `netshare worker` processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const HAVE_REDIS = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
export const BIN = resolve(import.meta.dirname, '../../dist/src/cli/bin.js');

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Resolves when `child`'s output (stdout or stderr) has matched `re`. */
export function waitFor(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<void> {
  return new Promise((res, rej) => {
    let seen = '';
    const t = setTimeout(() => rej(new Error(`timed out waiting for ${re} in: ${seen.slice(-2000)}`)), timeoutMs);
    const on = (d: Buffer): void => {
      seen += String(d);
      if (re.test(seen)) {
        clearTimeout(t);
        child.stdout?.off('data', on);
        child.stderr?.off('data', on);
        res();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`exited ${code} before ${re}: ${seen.slice(-2000)}`));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL the server and start it again on the same port and data dir (AOF replays). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ns-redis-'));
  let proc: ChildProcess;
  const start = async (): Promise<void> => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no', '--logfile', ''],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitFor(proc, /Ready to accept connections/);
  };
  const kill = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(sig);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async restart() {
      await kill('SIGKILL');
      await start();
    },
    stop: () => kill('SIGTERM'),
  };
}

export interface TestWorker {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far (its job log). */
  log(): string;
  stop(): Promise<void>;
}

/** A `netshare worker` process (1 job at a time, 1 onnxruntime thread, a short lock so a dead worker's job moves on fast). */
export async function startWorker(url: string, root: string, extra: string[] = []): Promise<TestWorker> {
  const proc = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--workdir-root', root, '--concurrency', '1', '--threads', '1', '--lock-duration', '3', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += String(d)));
  await waitFor(proc, /netshare worker .*: cpu jobs/);
  return {
    proc,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
