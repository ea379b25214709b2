// Training checkpoints: parameters, optimizer state, RNG state and iteration in one checksummed byte string, and the
// store interface the trainer saves them through (the model touches no files; src/pipeline/checkpoints.ts keeps them).
import { createHash } from 'node:crypto';
import { InputError, expected } from '../errors.js';
import type { RngState } from '../core/rng.js';

/**
 * Format, version 2 (the pipeline's files: `ckpt-<iteration 9 digits>.nsckpt`):
 *   bytes 0..7   magic "NSCKPT01"
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header: UTF-8 JSON (CheckpointHeader), padded with spaces to a multiple of 4 bytes
 *   then         every tensor's float32 LE data, in header order, back to back
 * The header's `sha256` covers the tensor data, so a truncated or damaged file is an InputError.
 * A CheckpointStore persists it atomically: readers see the whole checkpoint or nothing.
 * Version 2 holds the state of every named random stream of the run (src/core/rng.ts); version 1 held one state of
 * the generator used before them. Version 1 files are still read, with no stream states: their weights can
 * initialise a run or generate, but a run cannot resume from them (its streams would not continue).
 */
export const CHECKPOINT_MAGIC = 'NSCKPT01';
export const CHECKPOINT_VERSION = 2;

export interface TensorEntry {
  name: string;
  shape: number[];
}

export interface CheckpointHeader {
  version: number;
  /** Iterations completed when written. */
  iteration: number;
  /** State of each random stream to continue from (version 1: four uint32 words of the old generator). */
  rng: RngState[] | [number, number, number, number];
  /** Free-form JSON the trainer needs to rebuild the graphs (model config, layout, seed…). */
  meta: Record<string, unknown>;
  tensors: TensorEntry[];
  sha256: string;
}

export interface Checkpoint {
  iteration: number;
  /** States of the run's random streams, by purpose (empty when read from a version 1 file). */
  rng: RngState[];
  meta: Record<string, unknown>;
  /** Parameters ("param:<name>") and optimizer state ("state:<name>"), float32. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** Where it was read from (named in error messages); not part of the encoding. */
  location?: string;
}

/**
 * Where a training run keeps its checkpoints, injected by the caller (the pipeline's store keeps files in a folder:
 * src/pipeline/checkpoints.ts). The model encodes and decodes; the store persists bytes and names each checkpoint by a
 * location string.
 */
export interface CheckpointStore {
  /**
   * Persist the encoded checkpoint of `iteration` atomically (readers see all of it or nothing); when `keep` > 0, keep
   * only the newest `keep`. Returns its location.
   */
  save(iteration: number, bytes: Uint8Array, keep: number): Promise<string>;
  /** Location of the newest checkpoint, or undefined when there is none. */
  latest(): Promise<string | undefined>;
  /** The bytes at `location` (one `save` returned, or another run's, e.g. the chunk fine-tuned from); InputError when unreadable. */
  read(location: string): Promise<Uint8Array>;
}

const MAGIC_BYTES = Buffer.from(CHECKPOINT_MAGIC, 'latin1');

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
  if (header.version !== CHECKPOINT_VERSION && header.version !== 1) {
    throw new InputError(expected(`checkpoint version 1 or ${CHECKPOINT_VERSION}`, 'version', header.version), file, { offset: 12 });
  }
  const rng: unknown = header.version === 1 ? [] : header.rng;
  if (!Array.isArray(rng) || !rng.every((r: unknown) => typeof r === 'object' && r !== null && typeof (r as RngState).purpose === 'string')) {
    throw new InputError(expected('a list of random-stream states', 'rng', JSON.stringify(rng)), file, { offset: 12 });
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
  return { iteration: header.iteration, rng: rng as RngState[], meta: header.meta, tensors };
}

/** Read and decode the checkpoint at `location`; InputError naming it when unreadable, truncated or damaged. */
export async function readCheckpoint(store: Pick<CheckpointStore, 'read'>, location: string): Promise<Checkpoint> {
  const bytes = await store.read(location);
  return { ...decodeCheckpoint(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), location), location };
}
