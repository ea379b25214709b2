// Training checkpoints: parameters, optimizer state, RNG state and iteration in one atomic, checksummed file.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, expected } from '../errors.js';
import type { RngState } from './rng.js';

/**
 * File format, version 1 (`ckpt-<iteration 9 digits>.nsckpt`):
 *   bytes 0..7   magic "NSCKPT01"
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header: UTF-8 JSON (CheckpointHeader), padded with spaces to a multiple of 4 bytes
 *   then         every tensor's float32 LE data, in header order, back to back
 * The header's `sha256` covers the tensor data, so a truncated or damaged file is an InputError.
 * Written to a temp file, fsynced, renamed: readers see the whole file or nothing.
 */
export const CHECKPOINT_MAGIC = 'NSCKPT01';
export const CHECKPOINT_VERSION = 1;

export interface TensorEntry {
  name: string;
  shape: number[];
}

export interface CheckpointHeader {
  version: number;
  /** Iterations completed when written. */
  iteration: number;
  /** RNG state to continue from. */
  rng: RngState;
  /** Free-form JSON the trainer needs to rebuild the graphs (model config, layout, seed…). */
  meta: Record<string, unknown>;
  tensors: TensorEntry[];
  sha256: string;
}

export interface Checkpoint {
  iteration: number;
  rng: RngState;
  meta: Record<string, unknown>;
  /** Parameters ("param:<name>") and optimizer state ("state:<name>"), float32. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

const MAGIC_BYTES = Buffer.from(CHECKPOINT_MAGIC, 'latin1');

export function checkpointFileName(iteration: number): string {
  return `ckpt-${String(iteration).padStart(9, '0')}.nsckpt`;
}

export function encodeCheckpoint(ck: Checkpoint): Buffer {
  const entries: TensorEntry[] = [];
  const blobs: Buffer[] = [];
  const hash = createHash('sha256');
  for (const [name, t] of ck.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new RangeError(`checkpoint tensor ${name}: shape [${t.shape}] vs ${t.data.length} values`);
    entries.push({ name, shape: [...t.shape] });
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    // Host order is little endian on every platform onnxruntime-node ships for.
    blobs.push(b);
    hash.update(b);
  }
  const header: CheckpointHeader = {
    version: CHECKPOINT_VERSION,
    iteration: ck.iteration,
    rng: ck.rng,
    meta: ck.meta,
    tensors: entries,
    sha256: hash.digest('hex'),
  };
  let json = JSON.stringify(header);
  while (Buffer.byteLength(json) % 4 !== 0) json += ' ';
  const hbuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(hbuf.length, 0);
  return Buffer.concat([MAGIC_BYTES, len, hbuf, ...blobs]);
}

export function decodeCheckpoint(buf: Buffer, file = '<checkpoint>'): Checkpoint {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC_BYTES)) {
    throw new InputError(expected(`a checkpoint starting with "${CHECKPOINT_MAGIC}"`, 'file magic', buf.subarray(0, 8).toString('latin1')), file, { offset: 0 });
  }
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new InputError(`Checkpoint header runs past the end of the file (truncated?)`, file, { offset: 8 });
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as CheckpointHeader;
  } catch (err) {
    throw new InputError(`Checkpoint header is not valid JSON`, file, { offset: 12 }, { cause: err });
  }
  if (header.version !== CHECKPOINT_VERSION) {
    throw new InputError(expected(`checkpoint version ${CHECKPOINT_VERSION}`, 'version', header.version), file, { offset: 12 });
  }
  let at = 12 + hlen;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const hash = createHash('sha256');
  for (const e of header.tensors) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    const bytes = size * 4;
    if (at + bytes > buf.length) throw new InputError(`Checkpoint tensor "${e.name}" runs past the end of the file (truncated?)`, file, { offset: at });
    const slice = buf.subarray(at, at + bytes);
    hash.update(slice);
    const data = new Float32Array(size);
    new Uint8Array(data.buffer).set(slice);
    tensors.set(e.name, { shape: e.shape, data });
    at += bytes;
  }
  if (at !== buf.length) throw new InputError(`Checkpoint has ${buf.length - at} trailing bytes`, file, { offset: at });
  if (hash.digest('hex') !== header.sha256) throw new InputError(`Checkpoint data does not match its checksum (damaged file)`, file, { offset: 12 + hlen });
  return { iteration: header.iteration, rng: header.rng, meta: header.meta, tensors };
}

/** Writes `ck` into `dir` atomically; returns the file path. Optionally keeps only the newest `keep`. */
export async function saveCheckpoint(dir: string, ck: Checkpoint, keep = 0): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, checkpointFileName(ck.iteration));
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(encodeCheckpoint(ck));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (keep > 0) {
    const all = await listCheckpoints(dir);
    for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(old.path, { force: true });
  }
  return path;
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

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InputError(`Cannot read checkpoint: ${(err as Error).message}`, path, undefined, { cause: err });
  }
  return decodeCheckpoint(buf, path);
}

/** The newest checkpoint in `dir`, or undefined. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const all = await listCheckpoints(dir);
  return all.at(-1)?.path;
}

/** Writes a small file atomically (used for exported models and sample outputs). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
