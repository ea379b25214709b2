// Checkpoint files: the folder-backed CheckpointStore the pipeline hands the model's trainer, and reading, listing and
// writing `ckpt-<iteration 9 digits>.nsckpt` files (the byte format is src/model/checkpoint.ts').
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeCheckpoint, readCheckpoint, type Checkpoint, type CheckpointStore } from '../model/checkpoint.js';

export function checkpointFileName(iteration: number): string {
  return `ckpt-${String(iteration).padStart(9, '0')}.nsckpt`;
}

/** Reads any checkpoint file by path (InputError naming it when unreadable). */
async function readCheckpointFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new InputError(`Cannot read checkpoint: ${(err as Error).message}`, path, undefined, { cause: err });
  }
}

/**
 * Checkpoints as files in `dir` (created on the first save): written to a temp file, fsynced and renamed, so a killed
 * run leaves whole checkpoints only; locations are file paths, and `read` reads any checkpoint file.
 */
export function checkpointFiles(dir: string): CheckpointStore {
  return {
    async save(iteration, bytes, keep) {
      const path = join(dir, checkpointFileName(iteration));
      await writeFileAtomic(path, bytes, { sync: true });
      if (keep > 0) {
        const all = await listCheckpoints(dir);
        for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(old.path, { force: true });
      }
      return path;
    },
    latest: () => latestCheckpoint(dir),
    read: readCheckpointFile,
  };
}

/** Writes `ck` into `dir` atomically; returns the file path. Optionally keeps only the newest `keep`. */
export function saveCheckpoint(dir: string, ck: Checkpoint, keep = 0): Promise<string> {
  return checkpointFiles(dir).save(ck.iteration, encodeCheckpoint(ck), keep);
}

/** Checkpoints in `dir`, oldest first (missing dir → []). */
export async function listCheckpoints(dir: string): Promise<{ iteration: number; path: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => /^ckpt-(\d{9})\.nsckpt$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ iteration: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.iteration - b.iteration);
}

/** The newest checkpoint in `dir`, or undefined. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const all = await listCheckpoints(dir);
  return all.at(-1)?.path;
}

/** Read and decode a checkpoint file (InputError naming it when unreadable, truncated or damaged). */
export function loadCheckpoint(path: string): Promise<Checkpoint> {
  return readCheckpoint({ read: readCheckpointFile }, path);
}
