// Leases on shared storage: a lock file with a heartbeat, so that one runner at a time writes a chunk's folder (a
// stalled job delivered twice) and one driver at a time runs a workdir. Works on any shared mount (NFS included):
// the file is created with O_EXCL, refreshed by rewriting it, and only taken over once its holder is known dead
// (same host, pid gone) or its heartbeat is older than `staleMs`.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { NetShareError } from '../errors.js';

/** Another live runner holds the lease. Retryable: the holder finishes or dies, then the lease frees up. */
export class LeaseBusyError extends NetShareError {
  override readonly name = 'LeaseBusyError';
}

/** A second driver on a workdir another one is running. */
export class WorkdirLockedError extends NetShareError {
  override readonly name = 'WorkdirLockedError';
}

export interface LeaseHolder {
  token: string;
  host: string;
  pid: number;
  /** What holds it (a job id, `netshare run`). */
  owner: string;
  acquiredAt: number;
  heartbeatAt: number;
}

export interface Lease {
  readonly path: string;
  readonly holder: LeaseHolder;
  /** Stop the heartbeat and remove the file (only if it is still ours). */
  release(): Promise<void>;
  /** False once another runner took the lease over (our heartbeat went stale): stop writing. */
  held(): boolean;
}

export interface LeaseOptions {
  owner: string;
  /** Heartbeat period (default 2 s). */
  heartbeatMs?: number;
  /**
   * A lease whose heartbeat is older than this is free (default 10 s, 5× the heartbeat): shorter than a BullMQ lock
   * (`netshare worker --lock-duration`, 30 s), so a job redelivered after its worker died finds the lease free.
   */
  staleMs?: number;
  /** Appends one JSON line per acquire / takeover / release here (the tests check no two holders overlapped). */
  log?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LeaseHolder | undefined | 'unreadable'> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LeaseHolder;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'unreadable'; // being written by its creator right now, or damaged
  }
}

/** Why `h` is no longer a live holder ('' while it is). */
function staleReason(h: LeaseHolder, staleMs: number): string {
  if (h.host === hostname() && !alive(h.pid)) return `holder pid ${h.pid} on ${h.host} is gone`;
  const age = Date.now() - h.heartbeatAt;
  if (age > staleMs) return `heartbeat ${(age / 1000).toFixed(1)} s old`;
  return '';
}

async function logLine(file: string | undefined, rec: Record<string, unknown> & { lease: string }): Promise<void> {
  if (!file) return;
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify({ t: Date.now(), host: hostname(), pid: process.pid, ...rec })}\n`);
}

/**
 * Take the lease at `path`, or throw LeaseBusyError naming the live holder. A stale lease (dead holder) is taken
 * over: renamed aside first, so that of two runners taking it over at once only one wins the O_EXCL create.
 */
export async function acquireLease(path: string, opts: LeaseOptions): Promise<Lease> {
  const heartbeatMs = opts.heartbeatMs ?? 2000;
  const staleMs = opts.staleMs ?? Math.max(10_000, heartbeatMs * 5);
  await mkdir(dirname(path), { recursive: true });
  const now = Date.now();
  const me: LeaseHolder = { token: randomUUID(), host: hostname(), pid: process.pid, owner: opts.owner, acquiredAt: now, heartbeatAt: now };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, JSON.stringify(me), { flag: 'wx' });
      await logLine(opts.log, { lease: basename(path), event: attempt === 0 ? 'acquire' : 'takeover', owner: opts.owner, token: me.token });
      return startHeartbeat(path, me, heartbeatMs, opts.log);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const h = await readHolder(path);
    if (h === undefined) continue;
    if (h === 'unreadable') {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const why = staleReason(h, staleMs);
    if (!why) {
      throw new LeaseBusyError(
        `${path} is held by ${h.owner} (pid ${h.pid} on ${h.host}, heartbeat ${((Date.now() - h.heartbeatAt) / 1000).toFixed(1)} s ago)`,
      );
    }
    const aside = `${path}.stale-${me.token}`;
    try {
      await rename(path, aside);
      await rm(aside, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new LeaseBusyError(`${path}: could not take the lease (contended)`);
}

function startHeartbeat(path: string, me: LeaseHolder, heartbeatMs: number, log: string | undefined): Lease {
  let lost = false;
  let stopped = false;
  const beat = async (): Promise<void> => {
    const h = await readHolder(path);
    if (h === undefined || h === 'unreadable' || h.token !== me.token) {
      lost = true;
      return;
    }
    me.heartbeatAt = Date.now();
    // rewrite through a temp file + rename, so a reader never sees a half-written holder
    const tmp = `${path}.${me.token}.tmp`;
    await writeFile(tmp, JSON.stringify(me));
    await rename(tmp, path);
  };
  const timer = setInterval(() => {
    if (!stopped && !lost) beat().catch(() => undefined);
  }, heartbeatMs);
  timer.unref();
  return {
    path,
    holder: me,
    held: () => !lost,
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      const h = await readHolder(path);
      if (h !== undefined && h !== 'unreadable' && h.token === me.token) await rm(path, { force: true });
      await logLine(log, { lease: basename(path), event: 'release', owner: me.owner, token: me.token });
    },
  };
}

/** The workdir's identity: a random id made once (jobs of two workdirs, or of one path re-created, never share ids). */
export async function workdirIdentity(workdir: string): Promise<string> {
  const file = join(workdir, '.netshare-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{12}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(workdir, { recursive: true });
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  try {
    await writeFile(file, `${id}\n`, { flag: 'wx' });
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readFile(file, 'utf8')).trim();
  }
}

/** The lock file of a workdir's driver. */
export const workdirLockPath = (workdir: string): string => join(workdir, '.netshare-lock');

/** Lock the workdir for one driver (`netshare run|train|generate`); a second one gets a WorkdirLockedError. */
export async function lockWorkdir(workdir: string, owner: string): Promise<Lease> {
  try {
    return await acquireLease(workdirLockPath(workdir), { owner });
  } catch (err) {
    if (err instanceof LeaseBusyError) {
      throw new WorkdirLockedError(`${workdir} is in use by another netshare: ${err.message}; wait for it to finish or stop it (a killed one's lock frees itself)`);
    }
    throw err;
  }
}
