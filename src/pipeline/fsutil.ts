// Filesystem helpers for the pipeline: hashing, fingerprints, JSON files, reads that name the file. Atomic writes are io's (src/io/atomic.ts).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** Parse a JSON file; `undefined` when it does not exist. */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/** SHA-256 of a file, streamed (hex). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Stable JSON (sorted keys) and its SHA-256: fingerprints of configs and job parameters. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(',')}}`;
}

export function fingerprint(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

/** Fingerprint of a table's contents (every column's name and bytes): an in-memory input has no file to hash. */
export function tableFingerprint(t: object): string {
  const h = createHash('sha256');
  for (const [name, v] of Object.entries(t).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${name}\0`);
    if (ArrayBuffer.isView(v)) h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    else h.update(`${stableStringify(v)}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

/** A file opened for reading; one that cannot be is an InputError naming it. */
export async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, path);
  }
}

/** Fills `bytes` from `position` of an open file; an early end is an InputError naming the file and the byte. */
export async function readFully(fh: FileHandle, bytes: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await fh.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) throw new InputError(`${path} ended at byte ${position + done} while reading bytes ${position}..${position + bytes.length}`, path, { offset: position + done });
    done += bytesRead;
  }
}
