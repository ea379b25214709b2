// The workdir manifest: which stages ran, with what config and inputs, how long, and how they ended.
// A rerun skips a stage whose record is `done` with the same fingerprint; a killed run resumes at the first
// stage that is not done. Only the driver process writes the manifest (jobs write their own files).
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from './fsutil.js';
import { InputError } from '../errors.js';

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

export interface Manifest {
  version: number;
  createdAt: string;
  configHash?: string;
  inputs: { path: string; sha256: string; bytes: number }[];
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

export interface StageRun<T> {
  outcome: T;
  skipped: boolean;
  seconds: number;
}

/**
 * Run `fn` as stage `name` unless the manifest already records it done with `fp`. The manifest is saved before
 * (status running) and after (done / failed), so a kill leaves an honest record.
 */
export async function runStage<T>(
  workdir: string,
  name: string,
  fp: string,
  fn: () => Promise<T>,
): Promise<StageRun<T>> {
  const m = await loadManifest(workdir);
  const prev = m.stages[name];
  if (prev && prev.status === 'done' && prev.fingerprint === fp) {
    return { outcome: prev.outcome as T, skipped: true, seconds: 0 };
  }
  const started = Date.now();
  m.stages[name] = { status: 'running', fingerprint: fp, startedAt: new Date(started).toISOString() };
  await saveManifest(workdir, m);
  try {
    const outcome = await fn();
    const seconds = (Date.now() - started) / 1000;
    const after = await loadManifest(workdir);
    after.stages[name] = {
      status: 'done',
      fingerprint: fp,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      seconds,
      outcome,
    };
    await saveManifest(workdir, after);
    return { outcome, skipped: false, seconds };
  } catch (err) {
    const after = await loadManifest(workdir);
    after.stages[name] = {
      status: 'failed',
      fingerprint: fp,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
    await saveManifest(workdir, after);
    throw err;
  }
}
