// The workdir manifest: which stages ran, with what config and inputs, how long, and how they ended.
// A rerun skips a stage whose record is `done` with the same fingerprint; a killed run resumes at the first
// stage that is not done; a stage that runs for other inputs first removes its own and every later stage's
// outputs. Only the driver process writes the manifest (jobs write their own files).
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { readJsonIfExists, sha256File } from './fsutil.js';
import { InputError, InternalError } from '../errors.js';
import { STAGES, stageOutputs, type StageName } from './workdir.js';

export const MANIFEST_VERSION = 1;

export interface StageRecord {
  status: 'running' | 'done' | 'failed';
  /** Hash of everything the stage's output depends on (config slice, input hashes, upstream fingerprints). */
  fingerprint: string;
  startedAt: string;
  finishedAt?: string;
  seconds?: number;
  /** Small JSON summary the stage returned (counts, paths). */
  outcome?: unknown;
  error?: string;
}

/** An input trace as the manifest records it; mtime/ctime let a rerun reuse the hash of an unchanged file. */
export interface InputRecord {
  path: string;
  sha256: string;
  bytes: number;
  mtimeMs?: number;
  ctimeMs?: number;
}

export interface Manifest {
  version: number;
  createdAt: string;
  configHash?: string;
  inputs: InputRecord[];
  versions: Record<string, string>;
  stages: Record<string, StageRecord>;
}

export function manifestPath(workdir: string): string {
  return join(workdir, 'manifest.json');
}

export async function loadManifest(workdir: string): Promise<Manifest> {
  const path = manifestPath(workdir);
  let m: Manifest | undefined;
  try {
    m = await readJsonIfExists<Manifest>(path);
  } catch (err) {
    throw new InputError(`workdir manifest is not valid JSON: ${(err as Error).message}`, path, undefined, { cause: err });
  }
  if (!m) return { version: MANIFEST_VERSION, createdAt: new Date().toISOString(), inputs: [], versions: {}, stages: {} };
  if (m.version !== MANIFEST_VERSION) {
    throw new InputError(`workdir manifest has version ${m.version}; this netshare reads version ${MANIFEST_VERSION}`, path);
  }
  return m;
}

export async function saveManifest(workdir: string, m: Manifest): Promise<void> {
  await writeJsonAtomic(manifestPath(workdir), m);
}

/**
 * The input's record with its SHA-256: the manifest's hash is reused only when path, size, mtime and ctime all match
 * (ctime changes on every write and no tool can set it back), otherwise the file is hashed again.
 */
export async function inputRecord(workdir: string, path: string): Promise<InputRecord> {
  const st = await stat(path).catch(() => null);
  if (!st || !st.isFile()) throw new InputError(`input trace ${path} does not exist or is not a file`, path);
  const prev = (await loadManifest(workdir)).inputs.find((r) => r.path === path);
  const same = prev && prev.bytes === st.size && prev.mtimeMs === st.mtimeMs && prev.ctimeMs === st.ctimeMs;
  const sha256 = same ? prev.sha256 : await sha256File(path);
  return { path, sha256, bytes: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

export interface StageRun<T> {
  outcome: T;
  skipped: boolean;
  seconds: number;
}

export interface RunStageOptions {
  /**
   * The stage calls `begin` itself once its checks have passed, right before it writes anything (preprocess reads
   * and checks the data first). A failure before `begin` leaves the manifest and every output as they were, so a
   * finished stage of an earlier run is never marked failed by an invocation that did nothing.
   */
  deferBegin?: boolean;
}

/** Remove a stage's outputs and forget its record (an upstream stage ran again, or its inputs changed). */
async function clearStage(workdir: string, m: Manifest, name: StageName): Promise<void> {
  for (const path of stageOutputs(workdir, name)) await rm(path, { recursive: true, force: true });
  delete m.stages[name];
}

/**
 * Run `fn` as stage `name` unless the manifest already records it done with `fp`.
 *
 * When the stage starts (`begin`): outputs of an earlier run with another fingerprint are removed, and so are the
 * records and outputs of every later stage (they were made from this stage's old outputs); a rerun with the same
 * fingerprint after a kill or failure keeps its outputs so the stage can resume. The manifest is saved at the
 * start (status running) and at the end (done / failed), so a kill leaves an honest record.
 */
export async function runStage<T>(
  workdir: string,
  name: StageName,
  fp: string,
  fn: (begin: () => Promise<void>) => Promise<T>,
  opts: RunStageOptions = {},
): Promise<StageRun<T>> {
  const m0 = await loadManifest(workdir);
  const prev = m0.stages[name];
  if (prev && prev.status === 'done' && prev.fingerprint === fp) {
    return { outcome: prev.outcome as T, skipped: true, seconds: 0 };
  }
  let started = 0;
  const begin = async (): Promise<void> => {
    if (started) return;
    started = Date.now();
    const m = await loadManifest(workdir);
    const old = m.stages[name];
    if (!old || old.fingerprint !== fp) await clearStage(workdir, m, name);
    for (const later of STAGES.slice(STAGES.indexOf(name) + 1)) await clearStage(workdir, m, later);
    m.stages[name] = { status: 'running', fingerprint: fp, startedAt: new Date(started).toISOString() };
    await saveManifest(workdir, m);
  };
  /** Record how the stage ended (done with its outcome, or failed with its error); returns its seconds. */
  const finish = async (end: Pick<StageRecord, 'status' | 'outcome' | 'error'>): Promise<number> => {
    const seconds = (Date.now() - started) / 1000;
    const after = await loadManifest(workdir);
    after.stages[name] = { fingerprint: fp, startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), seconds, ...end };
    await saveManifest(workdir, after);
    return seconds;
  };
  if (!opts.deferBegin) await begin();
  let outcome: T;
  try {
    outcome = await fn(begin);
    if (!started) throw new InternalError(`stage ${name} finished without calling begin()`);
  } catch (err) {
    if (!started) throw err; // nothing was touched: the manifest keeps what it had
    await finish({ status: 'failed', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    throw err;
  }
  const seconds = await finish({ status: 'done', outcome });
  return { outcome, skipped: false, seconds };
}
