// Output paths checked before any work: each names a file in a writable folder, is not a folder, and is not an input.
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, NetShareError, expected } from '../errors.js';

export interface OutputPath {
  /** The option that names it (for the message): `to`, `out`, `report`, ... */
  key: string;
  path: string;
}

/** stat that answers undefined for a path that does not exist or cannot (ENOTDIR: a file on the way). */
function stat(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * The nearest existing folder at or above `dir` (where a write would create what is missing); a file on the way is
 * a ConfigError for option `key` naming `path`. The root when nothing exists.
 */
function existingFolder(dir: string, key: string, path: string): string {
  for (;;) {
    const d = stat(dir);
    if (d) {
      if (!d.isDirectory()) throw new ConfigError(expected(`a path under a folder (${dir} is a file)`, key, path), key);
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/**
 * Refuse, before a command does any work, an output that could not be written or would destroy something: a path
 * that is a folder, one whose nearest existing parent is not a writable folder, one that is an input of the same
 * command, or two outputs that are the same file. Writers then write atomically (src/io/atomic.ts).
 */
export function checkOutputPaths(outputs: OutputPath[], inputs: string[] = []): void {
  const ins = new Map(inputs.map((i) => [real(i), i]));
  const seen = new Map<string, string>();
  for (const { key, path } of outputs) {
    if (typeof path !== 'string' || path.length === 0) throw new ConfigError(expected('an output file path', key, path), key);
    const abs = resolve(path);
    const st = stat(abs);
    if (st?.isDirectory()) throw new ConfigError(expected('a file path (not a folder)', key, path), key);
    const r = real(abs);
    const clash = ins.get(r);
    if (clash !== undefined) throw new ConfigError(expected(`a path other than the input ${clash} (it would be overwritten)`, key, path), key);
    const other = seen.get(r);
    if (other !== undefined) throw new ConfigError(expected(`a path other than --${other}'s (both would write the same file)`, key, path), key);
    seen.set(r, key);
    const dir = existingFolder(dirname(abs), key, path);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
      if (st) accessSync(abs, constants.W_OK);
    } catch {
      throw new NetShareError(`cannot write ${path} (--${key}): ${st ? 'the file' : `the folder ${dir}`} is not writable`);
    }
  }
}

/** Refuse, before any work, a work folder that is a file, lies under a file, or cannot be created or written. */
export function checkWorkdir(path: string, key = 'workdir'): void {
  if (typeof path !== 'string' || path.length === 0) throw new ConfigError(expected('a folder path', key, path), key);
  const abs = resolve(path);
  const st = stat(abs);
  if (st && !st.isDirectory()) throw new ConfigError(expected('a folder (this is a file)', key, path), key);
  const dir = existingFolder(abs, key, path);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new NetShareError(`cannot write the work folder ${path} (--${key}): ${dir} is not writable`);
  }
}
