// Workdir layout of `netshare run` (where every stage and job reads and writes) and a small binary table file format.
//
//   <wd>/manifest.json                      stage records (manifest.ts)
//   <wd>/config.json                        the resolved config the run used
//   <wd>/preprocess/...                     encoders, layout, per-chunk tensors (src/pipeline/chunk-tensors.ts)
//   <wd>/preprocess/holdout.nstable         held-out real records; holdout-rows.u32 their input rows (holdout.ts)
//   <wd>/train/chunk-<k>/checkpoints/       ckpt-<iteration>.nsckpt (src/pipeline/checkpoints.ts)
//   <wd>/train/chunk-<k>/result.json        written last by the train-chunk job: its presence means "done"
//   <wd>/generate/attr-accepted/chunk-<k>-p<p>-f<f>.f32  the fill's accepted attribute rows [n, A] (compact rows:
//                                                   row-codec.ts), and -starts.nstable their decoded records
//   <wd>/generate/attr-merged/chunk-<k>-p<p>.f32  attributes after the flow-tag merge [n, A]
//   <wd>/generate/attr-clean/chunk-<k>-p<p>.f32   …and after dropping duplicate 5-tuples
//   <wd>/generate/chunk-<k>/p<p>-ckpt-<it>.nstable  decoded candidate records (one per checkpoint and pass)
//   <wd>/postprocess/selection.json         best checkpoint per chunk (rank-sum) and counts
//   <wd>/synthetic.pcap | synthetic.csv     the output (also copied to --out)
//   <wd>/report.html, <wd>/metrics.json     the evaluation
//   <wd>/.netshare-id, <wd>/.netshare-lock  the workdir's identity and its driver's lock (lease.ts)
//   <wd>/leases/                            per-chunk job leases and their log (lease.ts)
//   <wd>/jobs.jsonl                         one line per finished job: attempts, timings (executor.ts withJobLog)
//
// Job params, job results and candidate lists hold paths relative to the workdir, so that machines that mount the
// shared workdir at different places can all run its jobs.
import { readFile, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { InputError } from '../errors.js';
import type { Table } from '../io/table.js';
import { preprocessDir } from './chunk-tensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { RowCodec } from './row-codec.js';
import { openForRead, readFully } from './fsutil.js';

/** The pipeline's stages in order: each one's outputs depend on every earlier one's. */
export const STAGES = ['preprocess', 'train', 'generate', 'postprocess', 'evaluate'] as const;
export type StageName = (typeof STAGES)[number];

/** A path of a job param or result: relative ones are inside `wd` (absolute ones come from older workdirs). */
export const inWorkdir = (wd: string, p: string): string => (isAbsolute(p) ? p : join(wd, p));
/** `p` (inside `wd`) relative to `wd`. */
export const relativeToWorkdir = (wd: string, p: string): string => (isAbsolute(p) ? relative(wd, p) : p);
export const leaseRoot = (wd: string): string => join(wd, 'leases');
export const leasePath = (wd: string, name: string): string => join(leaseRoot(wd), `${name}.lease`);
export const leaseLogPath = (wd: string): string => join(leaseRoot(wd), 'log.jsonl');
export const trainRoot = (wd: string): string => join(wd, 'train');
export const trainChunkDir = (wd: string, k: number): string => join(trainRoot(wd), `chunk-${k}`);
export const checkpointDir = (wd: string, k: number): string => join(trainChunkDir(wd, k), 'checkpoints');
export const trainResultPath = (wd: string, k: number): string => join(trainChunkDir(wd, k), 'result.json');
export const generateRoot = (wd: string): string => join(wd, 'generate');
export const attrMergedPath = (wd: string, k: number, pass: number): string => join(wd, 'generate', 'attr-merged', `chunk-${k}-p${pass}.f32`);
export const attrCleanPath = (wd: string, k: number, pass: number): string => join(wd, 'generate', 'attr-clean', `chunk-${k}-p${pass}.f32`);
export const candidateDir = (wd: string, k: number): string => join(wd, 'generate', `chunk-${k}`);
export const candidatePath = (wd: string, k: number, pass: number, iteration: number): string =>
  join(candidateDir(wd, k), `p${pass}-ckpt-${String(iteration).padStart(9, '0')}.nstable`);
export const postprocessRoot = (wd: string): string => join(wd, 'postprocess');
export const selectionPath = (wd: string): string => join(wd, 'postprocess', 'selection.json');
export const configPath = (wd: string): string => join(wd, 'config.json');
export const jobLogPath = (wd: string): string => join(wd, 'jobs.jsonl');
export const reportPath = (wd: string): string => join(wd, 'report.html');
export const metricsPath = (wd: string): string => join(wd, 'metrics.json');
export const syntheticPath = (wd: string, dataset: 'pcap' | 'netflow'): string => join(wd, dataset === 'pcap' ? 'synthetic.pcap' : 'synthetic.csv');

/**
 * The files and folders a stage writes inside the workdir: removed before the stage runs for other inputs (so no
 * output of an older run survives next to a newer one) and whenever an upstream stage runs again.
 */
export function stageOutputs(wd: string, stage: StageName): string[] {
  switch (stage) {
    case 'preprocess':
      return [preprocessDir(wd)];
    case 'train':
      return [trainRoot(wd)];
    case 'generate':
      return [generateRoot(wd)];
    case 'postprocess':
      return [postprocessRoot(wd), syntheticPath(wd, 'pcap'), syntheticPath(wd, 'netflow')];
    case 'evaluate':
      return [reportPath(wd), metricsPath(wd)];
  }
}

/** Float32 array file (raw little-endian values). */
export async function writeF32(path: string, a: Float32Array): Promise<void> {
  await writeFileAtomic(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}
export async function readF32(path: string): Promise<Float32Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, path);
  }
  // a compact row file (row-codec.ts): its rows decoded
  const parsed = RowCodec.parse(buf, path);
  if (parsed !== undefined) {
    if ('need' in parsed) throw new InputError(`${path} ends inside its compact row header (${buf.length} bytes)`, path, { offset: buf.length });
    const { codec, dataOffset } = parsed;
    const body = buf.length - dataOffset;
    if (body % codec.rowBytes !== 0) throw new InputError(`${path} holds ${body} bytes of rows, not whole rows of ${codec.rowBytes} bytes`, path, { offset: buf.length });
    return codec.decode(buf.subarray(dataOffset), body / codec.rowBytes, path);
  }
  if (buf.length % 4 !== 0) throw new InputError(`${path} holds ${buf.length} bytes, not a whole number of float32 values`, path, { offset: buf.length });
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** The codec and first row's offset of an open compact row file, or undefined for a plain float32 file. */
async function rowHeader(fh: FileHandle, size: number, path: string): Promise<{ codec: RowCodec; dataOffset: number } | undefined> {
  let head = new Uint8Array(Math.min(size, 4096));
  await readFully(fh, head, 0, path);
  let parsed = RowCodec.parse(head, path);
  if (parsed !== undefined && 'need' in parsed) {
    if (parsed.need > size) throw new InputError(`${path} ends inside its compact row header (${size} bytes)`, path, { offset: size });
    head = new Uint8Array(parsed.need);
    await readFully(fh, head, 0, path);
    parsed = RowCodec.parse(head, path);
    if (parsed !== undefined && 'need' in parsed) throw new InputError(`${path}: unreadable compact row header`, path, { offset: 0 });
  }
  return parsed as { codec: RowCodec; dataOffset: number } | undefined;
}

/**
 * Rows of A values in a float32 or compact row file (row-codec.ts): an InputError naming the file when it holds no
 * whole number of them (or a compact file of other rows).
 */
export async function rowFileRows(path: string, A: number): Promise<number> {
  const fh = await openForRead(path);
  try {
    const size = (await fh.stat()).size;
    const h = await rowHeader(fh, size, path);
    if (h !== undefined) {
      if (h.codec.A !== A) throw new InputError(`${path} holds rows of ${h.codec.A} values, not ${A}`, path, { offset: 12 });
      const body = size - h.dataOffset;
      if (body % h.codec.rowBytes !== 0) throw new InputError(`${path} holds ${body} bytes of rows, not whole rows of ${h.codec.rowBytes} bytes`, path, { offset: size });
      return body / h.codec.rowBytes;
    }
    if (size % (4 * A) !== 0) throw new InputError(`${path} holds ${size} bytes, not whole rows of ${A} float32 values`, path, { offset: size });
    return size / (4 * A);
  } finally {
    await fh.close();
  }
}

/**
 * Values [from, to) of a float32 file (readF32 of a part: a features job reads its flow range of the chunk's attribute
 * rows, not the whole chunk); a range past the end is an InputError naming the file. A compact row file
 * (row-codec.ts) answers the same values, decoded; its ranges must be whole rows.
 */
export async function readF32Range(path: string, from: number, to: number): Promise<Float32Array> {
  const fh = await openForRead(path);
  try {
    const size = (await fh.stat()).size;
    const h = size >= 8 ? await rowHeader(fh, size, path) : undefined;
    if (h !== undefined) {
      const { codec, dataOffset } = h;
      const A = codec.A;
      const rows = Math.floor((size - dataOffset) / codec.rowBytes);
      if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && from % A === 0 && to % A === 0 && to / A <= rows)) {
        throw new InputError(`${path} holds ${rows} rows of ${A} values; values ${from}..${to} were asked for`, path, { offset: size });
      }
      const bytes = new Uint8Array(((to - from) / A) * codec.rowBytes);
      await readFully(fh, bytes, dataOffset + (from / A) * codec.rowBytes, path);
      return codec.decode(bytes, (to - from) / A, path);
    }
    if (size % 4 !== 0) throw new InputError(`${path} holds ${size} bytes, not a whole number of float32 values`, path, { offset: size });
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to * 4 <= size)) {
      throw new InputError(`${path} holds ${size / 4} float32 values; values ${from}..${to} were asked for`, path, { offset: Math.min(size, Math.max(0, to * 4)) });
    }
    const out = new Float32Array(to - from);
    await readFully(fh, new Uint8Array(out.buffer), from * 4, path);
    return out;
  } finally {
    await fh.close();
  }
}

// ---- table files: "NSTABLE1" | u32 header length | JSON header | column bytes (each 8-byte aligned) ----

const TABLE_MAGIC = 'NSTABLE1';
type TypedCtor = Float64ArrayConstructor | Float32ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor;
const CTORS: Record<string, TypedCtor> = {
  Float64Array,
  Float32Array,
  Uint32Array,
  Int32Array,
  Uint16Array,
  Uint8Array,
};

interface ColumnHeader {
  name: string;
  type: string;
  offset: number;
  bytes: number;
}

/** Write a Table (typed-array columns; string[] columns as JSON in the header) atomically. */
export async function writeTableFile(path: string, table: Table): Promise<void> {
  const cols: ColumnHeader[] = [];
  const strings: Record<string, string[]> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, v] of Object.entries(table)) {
    if (ArrayBuffer.isView(v)) {
      const ta = v as unknown as Uint8Array;
      const type = v.constructor.name;
      if (!CTORS[type]) throw new InputError(`table column ${name} has unsupported type ${type}`);
      const bytes = new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
      cols.push({ name, type, offset, bytes: bytes.length });
      parts.push(bytes);
      const pad = (8 - (bytes.length % 8)) % 8;
      if (pad) parts.push(new Uint8Array(pad));
      offset += bytes.length + pad;
    } else if (Array.isArray(v)) strings[name] = v as string[];
  }
  const header = Buffer.from(JSON.stringify({ kind: table.kind, length: table.length, columns: cols, strings }), 'utf8');
  const hpad = (8 - ((12 + header.length) % 8)) % 8;
  const head = Buffer.alloc(12 + header.length + hpad);
  head.write(TABLE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(header.length + hpad, 8);
  header.copy(head, 12);
  head.fill(0x20, 12 + header.length);
  await writeFileAtomic(path, Buffer.concat([head, ...parts]));
}

/** Read a file written by writeTableFile. */
export async function readTableFile(path: string): Promise<Table> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, path);
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== TABLE_MAGIC) throw new InputError(`${path} is not a netshare table file`, path, { offset: 0 });
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new InputError(`${path}: header runs past the end of the file`, path, { offset: 8 });
  let header: { kind: Table['kind']; length: number; columns: ColumnHeader[]; strings: Record<string, string[]> };
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen));
  } catch (err) {
    throw new InputError(`${path}: damaged header (${(err as Error).message})`, path, { offset: 12 });
  }
  const base = 12 + hlen;
  const t: Record<string, unknown> = { kind: header.kind, length: header.length };
  for (const c of header.columns) {
    const Ctor = CTORS[c.type];
    if (!Ctor || base + c.offset + c.bytes > buf.length) throw new InputError(`${path}: column ${c.name} is damaged`, path, { offset: base + c.offset });
    const copy = new Uint8Array(c.bytes);
    copy.set(buf.subarray(base + c.offset, base + c.offset + c.bytes));
    t[c.name] = new Ctor(copy.buffer, 0, c.bytes / Ctor.BYTES_PER_ELEMENT);
  }
  for (const [k, v] of Object.entries(header.strings)) t[k] = v;
  return t as unknown as Table;
}
