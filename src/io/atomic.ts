// Atomic file writes, the one helper every writer uses: a temp file beside the target, then a rename, so a reader sees
// the old file or the whole new one (never a prefix) and a failed write leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createGzip } from 'node:zlib';
import { NetShareError } from '../errors.js';

/** A temp file for one atomic write of `path`: fill `tmp` by any means, then `commit()` it into place or `abort()`. */
export interface AtomicFile {
  /** Beside `path` (same folder, so the rename is atomic), unique per process and call. */
  readonly tmp: string;
  /** Rename `tmp` to the target. */
  commit(): Promise<void>;
  /** Remove `tmp`; never throws (it runs on error paths, where the first error is the one to report). */
  abort(): Promise<void>;
}

export function atomicFile(path: string): AtomicFile {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  return {
    tmp,
    commit: () => rename(tmp, path),
    abort: () => rm(tmp, { force: true }).catch(() => undefined),
  };
}

export interface AtomicWriteOptions {
  /** fsync the data before the rename, so the file also survives a crash of the machine (checkpoints). */
  sync?: boolean;
}

/** Write `data` to `path` atomically, creating the parent folder. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const f = atomicFile(path);
  try {
    if (opts.sync) {
      const fh = await open(f.tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } else await writeFile(f.tmp, data);
    await f.commit();
  } catch (err) {
    await f.abort();
    throw err;
  }
}

/** `value` as indented JSON with a final newline, written atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Copy `from` to `to` atomically, creating the parent folder. */
export async function copyFileAtomic(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const f = atomicFile(to);
  try {
    await copyFile(from, f.tmp);
    await f.commit();
  } catch (err) {
    await f.abort();
    throw err;
  }
}

/**
 * Write a text file atomically as `fill` produces it (`write` waits when the stream is full); a `.gz` name is gzip'd.
 * Any failure, of the stream or of `fill`, removes the temp file and throws NetShareError `cannot write <file>: …`.
 */
export async function writeTextAtomic(file: string, fill: (write: (s: string) => Promise<void>) => Promise<void>): Promise<void> {
  const target = atomicFile(file);
  const out = createWriteStream(target.tmp);
  const gz = file.endsWith('.gz') ? createGzip() : null;
  if (gz) gz.pipe(out);
  const sink = gz ?? out;
  // a stream error is kept and thrown by the next write or the close, never left as an unhandled 'error' event
  let streamError: Error | undefined;
  const keep = (err: Error): void => {
    streamError ??= err;
  };
  out.on('error', keep);
  gz?.on('error', keep);
  try {
    await fill(async (s) => {
      if (streamError) throw streamError;
      if (!sink.write(s)) await once(sink, 'drain');
    });
    sink.end();
    await once(out, 'close');
    if (streamError) throw streamError;
    await target.commit();
  } catch (err) {
    gz?.destroy();
    out.destroy();
    await target.abort();
    throw new NetShareError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}
