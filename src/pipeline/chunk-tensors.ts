// On-disk chunk tensors in the workdir (format in src/encode/README.md): atomic writes, loader, decode back to tables.
import type { ReadTraceOptions } from '../io/read-trace.js';
import { readFile } from 'node:fs/promises';
import { openForRead, readFully } from './fsutil.js';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Table } from '../io/table.js';
import { encoderStateFromJson, type EncoderStateJson } from '../encode/state.js';
import { decodeChunk, densify, type ChunkMeta, type ChunkTensors, type DecodedChunk, type EncoderSet, type Layout, type PackedChunkTensors } from '../encode/tensors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import type { HoldoutInfo } from './holdout.js';
import type { ModelLayout } from '../model/layout.js';

export const PREPROCESS_DIR = 'preprocess';
/** 2: fixedSize edges are the chunker's real edges; summary.json has recordRangesUs. Older workdirs are preprocessed again. */
export const TENSOR_FORMAT_VERSION = 2;

export function preprocessDir(workdir: string): string {
  return join(workdir, PREPROCESS_DIR);
}
export function chunkDir(workdir: string, index: number): string {
  return join(preprocessDir(workdir), `chunk-${index}`);
}

/** meta.json of one chunk: shapes + time normalisation ranges + counts. */
export interface ChunkFileMeta extends ChunkMeta {
  format: number;
  n: number;
  T: number;
  A: number;
  F: number;
  /** attributes [n, A] float32; features [records, F] float32 (valid records only, flow by flow); lengths [n] uint32. */
  files: { attributes: string; features: string; lengths: string };
}

/** A model-facing field slice (one softmax per one-hot group): what src/model/layout.ts's ModelLayout holds. */
export interface ModelFieldSlice {
  name: string;
  offset: number;
  dim: number;
  activation: 'softmax' | 'sigmoid' | 'tanh';
}

/**
 * Split grouped one-hot slices (IP bits, flow tags) into one softmax slice per group, so every softmax head is
 * one categorical choice: the shape of `ModelLayout` in src/model/layout.ts.
 */
export function modelLayout(layout: Layout, maxLen: number): { attributes: ModelFieldSlice[]; features: ModelFieldSlice[]; maxLen: number } {
  const split = (slices: Layout['attributes']): ModelFieldSlice[] => {
    const out: ModelFieldSlice[] = [];
    for (const s of slices) {
      const act = s.activation === 'none' ? 'sigmoid' : s.activation;
      if (s.activation === 'softmax' && s.groupSize && s.groupSize < s.dim) {
        for (let g = 0; g < s.dim / s.groupSize; g++) {
          const name = s.name === 'flow_tags' ? (g === 0 ? 'flow_tags.startFromThisChunk' : `flow_tags.chunk_${g - 1}`) : `${s.name}.bit${g}`;
          out.push({ name, offset: s.offset + g * s.groupSize, dim: s.groupSize, activation: 'softmax' });
        }
      } else out.push({ name: s.name, offset: s.offset, dim: s.dim, activation: act });
    }
    return out;
  };
  return { attributes: split(layout.attributes), features: split(layout.features), maxLen };
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Write one chunk's tensors; meta.json goes last, so its presence means the chunk is complete. */
export async function saveChunkTensors(workdir: string, t: PackedChunkTensors): Promise<number> {
  const dir = chunkDir(workdir, t.meta.index);
  const files = { attributes: 'attributes.f32', features: 'features.f32', lengths: 'lengths.u32' };
  await writeFileAtomic(join(dir, files.attributes), f32Bytes(t.attributes));
  await writeFileAtomic(join(dir, files.features), f32Bytes(t.packedFeatures));
  await writeFileAtomic(join(dir, files.lengths), new Uint8Array(t.lengths.buffer, t.lengths.byteOffset, t.lengths.byteLength));
  const meta: ChunkFileMeta = { format: TENSOR_FORMAT_VERSION, ...t.meta, n: t.n, T: t.T, A: t.A, F: t.F, files };
  await writeJsonAtomic(join(dir, 'meta.json'), meta);
  return t.attributes.byteLength + t.packedFeatures.byteLength + t.lengths.byteLength;
}

async function readJson<T>(file: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (run \`netshare preprocess\` first)`, file);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new InputError(`${file} is not valid JSON: ${(err as Error).message}`, file);
  }
}

async function readBytes(file: string, bytes: number): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
  }
  if (buf.length !== bytes) throw new InputError(`${file} holds ${buf.length} bytes, expected ${bytes}`, file, { offset: Math.min(buf.length, bytes) });
  return buf;
}
async function readF32(file: string, count: number): Promise<Float32Array> {
  const buf = await readBytes(file, count * 4);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** meta.json of chunk `index`. */
export async function loadChunkMeta(workdir: string, index: number): Promise<ChunkFileMeta> {
  const file = join(chunkDir(workdir, index), 'meta.json');
  const meta = await readJson<ChunkFileMeta>(file);
  if (meta.format !== TENSOR_FORMAT_VERSION) throw new InputError(`${file}: tensor format ${meta.format} is not ${TENSOR_FORMAT_VERSION}`, file);
  return meta;
}

/** Chunk `index`'s attribute rows [n, A] alone (no features read). */
export async function loadChunkAttributes(workdir: string, index: number): Promise<Float32Array> {
  const meta = await loadChunkMeta(workdir, index);
  return readF32(join(chunkDir(workdir, index), meta.files.attributes), meta.n * meta.A);
}

/**
 * Chunk `index`'s attribute rows in blocks of at most `rowsPerBlock` rows, in order (the generate stage's driver reads
 * a chunk's training rows this way: memory one block, not the chunk).
 */
export async function* chunkAttributeBlocks(workdir: string, index: number, rowsPerBlock = 16_384): AsyncGenerator<Float32Array> {
  const meta = await loadChunkMeta(workdir, index);
  const file = join(chunkDir(workdir, index), meta.files.attributes);
  const A = meta.A;
  const fh = await openForRead(file);
  try {
    const size = (await fh.stat()).size;
    if (size !== meta.n * A * 4) throw new InputError(`${file} holds ${size} bytes, expected ${meta.n * A * 4}`, file, { offset: Math.min(size, meta.n * A * 4) });
    for (let r = 0; r < meta.n; r += rowsPerBlock) {
      const m = Math.min(rowsPerBlock, meta.n - r);
      const out = new Float32Array(m * A);
      await readFully(fh, new Uint8Array(out.buffer), r * A * 4, file);
      yield out;
    }
  } finally {
    await fh.close();
  }
}

/** Chunk `index`'s flow lengths [n] alone (each checked to be in [1, T]). */
export async function loadChunkLengths(workdir: string, index: number): Promise<Uint32Array> {
  const meta = await loadChunkMeta(workdir, index);
  const file = join(chunkDir(workdir, index), meta.files.lengths);
  const lengths = new Uint32Array(meta.n);
  new Uint8Array(lengths.buffer).set(await readBytes(file, meta.n * 4));
  lengths.forEach((l, f) => {
    if (l < 1 || l > meta.T) throw new InputError(`${file}: flow ${f} has ${l} records, outside [1, T ${meta.T}]`, file, { offset: 4 * f });
  });
  return lengths;
}

/** Chunk `index` as stored: attributes [n,A], valid records' features [records,F], lengths [n]. */
export async function loadPackedChunk(workdir: string, index: number): Promise<PackedChunkTensors & { meta: ChunkFileMeta }> {
  const dir = chunkDir(workdir, index);
  const meta = await loadChunkMeta(workdir, index);
  const { n, T, A, F, records } = meta;
  const [attributes, packedFeatures, lenBuf] = await Promise.all([
    readF32(join(dir, meta.files.attributes), n * A),
    readF32(join(dir, meta.files.features), records * F),
    readBytes(join(dir, meta.files.lengths), n * 4),
  ]);
  const lengths = new Uint32Array(n);
  new Uint8Array(lengths.buffer).set(lenBuf);
  let sum = 0;
  for (let f = 0; f < n; f++) {
    if (lengths[f]! > T) throw new InputError(`${join(dir, meta.files.lengths)}: flow ${f} has ${lengths[f]} records > T ${T}`, join(dir, meta.files.lengths), { offset: 4 * f });
    sum += lengths[f]!;
  }
  if (sum !== records) throw new InputError(`${join(dir, meta.files.lengths)}: lengths sum to ${sum}, meta says ${records} records`, join(dir, meta.files.lengths));
  return { meta, n, T, A, F, attributes, packedFeatures, lengths };
}

/** Load chunk `index` as dense DoppelGANger tensors: attributes [n,A], features [n,T,F] (zero padded), genFlag [n,T]. */
export async function loadChunkTensors(workdir: string, index: number): Promise<ChunkTensors & { meta: ChunkFileMeta }> {
  const p = await loadPackedChunk(workdir, index);
  return { ...densify(p), meta: p.meta };
}

/** The preprocess summary written last (preprocess/summary.json). */
export interface PreprocessSummaryFile {
  format: number;
  dataset: 'pcap' | 'netflow';
  input: string;
  inputFormat: string;
  records: number;
  flowKeys: number;
  nChunks: number;
  /** Time-chunk indices that have tensors (empty chunks are skipped). */
  chunks: number[];
  maxLen: number;
  sampleLen: number;
  attributeDim: number;
  featureDim: number;
  /** Chunk edges in µs as the chunker made them (nChunks + 1; semantics in src/encode/chunks.ts ChunkPlan.edges). */
  edgesUs: number[];
  /**
   * Per entry of `chunks`: [first, last] time (µs) of the records the chunker put in that chunk (before length caps).
   * The real records with time in this closed range are exactly the chunk's records.
   */
  recordRangesUs: [number, number][];
  warnings: string[];
  seconds: number;
  /**
   * How the input was split into the records everything above was made from (`trainRecords`) and held-out records
   * (src/pipeline/holdout.ts); absent in workdirs preprocessed before held-out evaluation (nothing held out).
   */
  holdout?: HoldoutInfo;
  /**
   * How the input was read (flow schema, column mapping, skipBadRows): later stages read the real trace again with
   * the same options. Absent in older workdirs (read with the defaults).
   */
  read?: Omit<ReadTraceOptions, 'onProgress' | 'onPacketProgress'>;
}

export async function loadPreprocessSummary(workdir: string): Promise<PreprocessSummaryFile> {
  const file = join(preprocessDir(workdir), 'summary.json');
  const summary = await readJson<PreprocessSummaryFile>(file);
  if (summary.format !== TENSOR_FORMAT_VERSION) {
    throw new InputError(`${file}: preprocess format ${summary.format} is not ${TENSOR_FORMAT_VERSION}; run netshare preprocess again`, file);
  }
  return summary;
}
export async function loadEncoders(workdir: string): Promise<EncoderSet> {
  const file = join(preprocessDir(workdir), 'encoders.json');
  return encoderStateFromJson(await readJson<EncoderStateJson>(file), file);
}
export async function loadLayout(workdir: string): Promise<Layout> {
  return readJson<Layout>(join(preprocessDir(workdir), 'layout.json'));
}
/** The model-facing layout preprocessing stored beside the field layout (layout.json's `model`), as training reads it. */
export async function loadModelLayout(workdir: string): Promise<ModelLayout> {
  return ((await loadLayout(workdir)) as unknown as { model: ModelLayout }).model;
}

/**
 * Decode tensors of chunk `index` (the saved ones, or generated ones passed in) back to a packet/flow table with the
 * workdir's encoders. `valid` defaults to the tensors' gen flags.
 */
export async function decodeChunkFromWorkdir(
  workdir: string,
  index: number,
  tensors?: { attributes: Float32Array; features: Float32Array; valid: Float32Array | Uint8Array; n: number; T: number },
  encoders?: EncoderSet,
): Promise<DecodedChunk & { table: Table }> {
  const set = encoders ?? (await loadEncoders(workdir));
  if (tensors) return decodeChunk(tensors, set, await loadChunkMeta(workdir, index));
  const saved = await loadPackedChunk(workdir, index);
  return decodeChunk({ attributes: saved.attributes, packedFeatures: saved.packedFeatures, lengths: saved.lengths, n: saved.n }, set, saved.meta);
}
