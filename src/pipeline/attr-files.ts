// The generate stage's flow-tag merge over attribute files, one chunk in memory at a time (issue 19: the driver held
// every chunk's accepted rows and their merged copies at once, ~1.5 KB per flow: 1.5 GB at 1M flows). The files it
// writes hold exactly the rows mergeByFlowTags (generate.ts) returns, in the same order.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicFile, type AtomicFile } from '../io/atomic.js';
import { InputError, InternalError } from '../errors.js';
import { openForRead, readFully } from './fsutil.js';
import { readF32Range, rowFileRows } from './workdir.js';
import type { RowCodec } from './row-codec.js';

/**
 * Float32 rows appended to a file written atomically (committed by `close`, removed by `abort`); with a codec, a
 * compact row file (row-codec.ts: workdir.ts's readers decode it).
 */
export class F32Appender {
  private constructor(
    private readonly fh: FileHandle,
    private readonly file: AtomicFile,
    private readonly codec: RowCodec | undefined,
    private readonly path: string,
    private at = 0,
  ) {}
  static async open(path: string, codec?: RowCodec): Promise<F32Appender> {
    await mkdir(dirname(path), { recursive: true });
    const f = atomicFile(path);
    const w = new F32Appender(await open(f.tmp, 'w'), f, codec, path);
    if (codec) await w.write(codec.header);
    return w;
  }
  async append(a: Float32Array): Promise<void> {
    await this.write(this.codec ? this.codec.encode(a, this.path) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  /** Rows `at[0], at[1], …` of the rows `a` [·, A] (encoded from `a` when compact: no copy of them first). */
  async appendRows(a: Float32Array, A: number, at: ArrayLike<number>): Promise<void> {
    if (at.length === 0) return;
    if (this.codec) return this.write(this.codec.encode(a, this.path, at));
    const out = new Float32Array(at.length * A);
    for (let i = 0; i < at.length; i++) out.set(a.subarray(at[i]! * A, (at[i]! + 1) * A), i * A);
    await this.write(new Uint8Array(out.buffer));
  }
  /** Rows as this appender stores them: encoded with its codec (whole rows of codec.rowBytes), else float32 bytes. */
  async appendStored(bytes: Uint8Array): Promise<void> {
    if (bytes.length % (this.codec ? this.codec.rowBytes : 4) !== 0) throw new InternalError(`${this.path}: ${bytes.length} bytes are not whole stored rows`);
    await this.write(bytes);
  }
  private async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, this.at + done);
      done += bytesWritten;
    }
    this.at += bytes.length;
  }
  async close(): Promise<void> {
    await this.fh.close();
    await this.file.commit();
  }
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await this.file.abort();
  }
}

const isOne = (a: Float32Array, at: number): boolean => a[at + 1]! > a[at]!;

/** Rows written per append (bounds the copy buffers, not the result). */
const APPEND_ROWS = 16_384;

/**
 * NetShare's `_merge_attr` (mergeByFlowTags) from files to files: `sources` in any order, each the first `rows` rows of
 * the float32 attribute file `path` ([rows, A]) sampled for `chunk`; writes each chunk's merged rows to `out(chunk)`:
 * the rows carried from earlier chunks (startFromThisChunk set to 0), in chunk then row order, then the chunk's own
 * rows that start there. Reads one source at a time; returns the merged row count per chunk. With `codec`, compact row
 * files (row-codec.ts).
 */
export async function mergeByFlowTagsFiles(
  sources: readonly { chunk: number; path: string; rows: number }[],
  A: number,
  tags: { start: number; chunk: (i: number) => number },
  out: (chunk: number) => string,
  codec?: RowCodec,
): Promise<Map<number, number>> {
  const chunks = sources.map((s) => s.chunk).sort((a, b) => a - b);
  // compact sources of this codec: the rows move as stored (no float32 rows built and encoded again), the tags read as
  // index bytes; else float32 rows (encoded for the writers when there is a codec)
  const flag = codec ? { start: codec.flagByte(tags.start), chunk: new Map(chunks.map((c) => [c, codec.flagByte(tags.chunk(c))])) } : undefined;
  const byteTags = codec && flag?.start !== undefined && chunks.every((c) => flag.chunk.get(c) !== undefined);
  // (a source of no rows has no file)
  const readers = byteTags ? await Promise.all(sources.map((s) => (s.rows > 0 ? CompactRows.open(s.path, codec!) : null))) : [];
  try {
    const compact = byteTags && readers.every((r) => r !== undefined);
    const rb = compact ? codec!.rowBytes : 4 * A;
    const f32 = (a: Uint8Array): Float32Array => new Float32Array(a.buffer, a.byteOffset, a.length / 4);
    const format: StoredRows = compact
      ? { rowBytes: rb, tagsOf: (a) => (r, at) => a[r * rb + at] === 1, clearStart: (a, r) => void (a[r * rb + flag!.start!] = 0), start: flag!.start!, chunk: (c) => flag!.chunk.get(c)! }
      : {
          rowBytes: rb,
          tagsOf: (a) => {
            const v = f32(a);
            return (r, at) => isOne(v, r * A + at);
          },
          clearStart: (a, r) => {
            const v = f32(a);
            v[r * A + tags.start] = 1;
            v[r * A + tags.start + 1] = 0;
          },
          start: tags.start,
          chunk: tags.chunk,
        };
    const read = async (i: number, r0: number, n: number): Promise<Uint8Array> => {
      if (compact) return readers[i]!.read(r0, n);
      const a = await readF32Range(sources[i]!.path, r0 * A, (r0 + n) * A);
      return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    };
    // float32 rows to a compact writer: encoded (appendStored takes rows as the writer stores them)
    const store = (w: F32Appender, a: Uint8Array): Promise<void> => (compact || !codec ? w.appendStored(a) : w.append(f32(a)));
    return await mergeStoredRows(sources, chunks, format, read, store, (c) => F32Appender.open(out(c), codec));
  } finally {
    for (const r of readers) await r?.close();
  }
}

/** The stored rows `rs` (in that order) of the rows `a`, `rowBytes` each. */
export function gatherRows(a: Uint8Array, rowBytes: number, rs: readonly number[]): Uint8Array {
  const m = new Uint8Array(rs.length * rowBytes);
  rs.forEach((r, j) => m.set(a.subarray(r * rowBytes, (r + 1) * rowBytes), j * rowBytes));
  return m;
}

/** How mergeByFlowTagsFiles reads the flow tags of stored rows: index bytes (compact rows) or float32 pairs. */
interface StoredRows {
  rowBytes: number;
  /** For a block of rows: whether the tag pair at `at` (a byte of a compact row, a value of a float32 one) of row `r` is set (isOne). */
  tagsOf(a: Uint8Array): (r: number, at: number) => boolean;
  /** Row `r`'s startFromThisChunk set to 0. */
  clearStart(a: Uint8Array, r: number): void;
  start: number;
  chunk(c: number): number;
}

async function mergeStoredRows(
  sources: readonly { chunk: number; path: string; rows: number }[],
  chunks: readonly number[],
  f: StoredRows,
  read: (source: number, from: number, n: number) => Promise<Uint8Array>,
  store: (w: F32Appender, rows: Uint8Array) => Promise<void>,
  open: (chunk: number) => Promise<F32Appender>,
): Promise<Map<number, number>> {
  const rb = f.rowBytes;
  const writers = new Map<number, F32Appender>();
  const counts = new Map<number, number>(chunks.map((c) => [c, 0]));
  const gather = (a: Uint8Array, rs: readonly number[]): Uint8Array => gatherRows(a, rb, rs);
  try {
    for (const c of chunks) writers.set(c, await open(c));
    for (const c of chunks) {
      const i = sources.findIndex((s) => s.chunk === c);
      const later = chunks.filter((k) => k > c).map((k) => ({ k, at: f.chunk(k) }));
      const mine = f.chunk(c);
      for (let r0 = 0; r0 < sources[i]!.rows; r0 += APPEND_ROWS) {
        const n = Math.min(APPEND_ROWS, sources[i]!.rows - r0);
        const a = await read(i, r0, n);
        const own: number[] = [];
        const copies = later.map(() => [] as number[]);
        const isSet = f.tagsOf(a);
        for (let r = 0; r < n; r++) {
          if (!isSet(r, f.start) || !isSet(r, mine)) continue;
          own.push(r);
          for (let j = 0; j < later.length; j++) if (isSet(r, later[j]!.at)) copies[j]!.push(r);
        }
        for (let j = 0; j < later.length; j++) {
          const rs = copies[j]!;
          if (rs.length === 0) continue;
          const m = gather(a, rs);
          for (let q = 0; q < rs.length; q++) f.clearStart(m, q);
          await store(writers.get(later[j]!.k)!, m);
          counts.set(later[j]!.k, counts.get(later[j]!.k)! + rs.length);
        }
        if (own.length === n) await store(writers.get(c)!, a);
        else if (own.length > 0) await store(writers.get(c)!, gather(a, own));
        counts.set(c, counts.get(c)! + own.length);
      }
    }
    for (const c of chunks) {
      await writers.get(c)!.close();
      writers.delete(c);
    }
  } catch (err) {
    for (const w of writers.values()) await w.abort();
    throw err;
  }
  return counts;
}

/** The first `rows` rows of the float32 attribute file `from` ([·, A]) copied to `to`, one block in memory at a time. */
export async function copyAttributeRows(from: string, rows: number, A: number, to: string, codec?: RowCodec): Promise<void> {
  const w = await F32Appender.open(to, codec);
  try {
    for (let r0 = 0; r0 < rows; r0 += APPEND_ROWS) await w.append(await readF32Range(from, r0 * A, Math.min(rows, r0 + APPEND_ROWS) * A));
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** A compact row file (row-codec.ts) of a given codec, read as stored: whole encoded rows. */
export class CompactRows {
  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly codec: RowCodec,
    readonly rows: number,
  ) {}
  /** Undefined when `path` is not a compact row file of `codec` (the same header). */
  static async open(path: string, codec: RowCodec): Promise<CompactRows | undefined> {
    const fh = await openForRead(path);
    try {
      const size = (await fh.stat()).size;
      const h = codec.header;
      if (size >= h.length) {
        const head = new Uint8Array(h.length);
        await readFully(fh, head, 0, path);
        if (Buffer.from(head).equals(Buffer.from(h))) {
          const body = size - h.length;
          if (body % codec.rowBytes !== 0) throw new InputError(`${path} holds ${body} bytes of rows, not whole rows of ${codec.rowBytes} bytes`, path, { offset: size });
          return new CompactRows(fh, path, codec, body / codec.rowBytes);
        }
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    await fh.close();
    return undefined;
  }
  /** Rows [from, from + n) as stored. */
  async read(from: number, n: number): Promise<Uint8Array> {
    if (from + n > this.rows) throw new InputError(`${this.path} holds ${this.rows} rows; rows ${from}..${from + n - 1} were asked for`, this.path);
    const rb = this.codec.rowBytes;
    const bytes = new Uint8Array(n * rb);
    await readFully(this.fh, bytes, this.codec.header.length + from * rb, this.path);
    return bytes;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Every row of `path` as stored: a compact row file of `codec` (its header checked and skipped), or a float32 file
 * when there is no codec.
 */
export async function readStoredRows(path: string, codec: RowCodec | undefined): Promise<Uint8Array> {
  if (!codec) {
    const fh = await openForRead(path);
    try {
      const bytes = new Uint8Array((await fh.stat()).size);
      await readFully(fh, bytes, 0, path);
      return bytes;
    } finally {
      await fh.close();
    }
  }
  const r = await CompactRows.open(path, codec);
  if (!r) throw new InputError(`${path} is not a compact row file of this layout`, path);
  try {
    return await r.read(0, r.rows);
  } finally {
    await r.close();
  }
}

/**
 * The rows of `from` whose `keep` is 1 (all with no `keep`) appended to `out` in order, a block at a time: as stored
 * when `from` is a compact file of `out`'s codec, else read as float32 rows. Returns the rows `from` holds.
 */
export async function copyRowsWhere(from: string, keep: Uint8Array | undefined, A: number, out: F32Appender, codec: RowCodec | undefined): Promise<number> {
  const compact = codec ? await CompactRows.open(from, codec) : undefined;
  try {
    // compact rows move as stored; float32 rows go through append (encoded when `out` has a codec)
    const rows = compact ? compact.rows : await rowFileRows(from, A);
    const rb = compact ? codec!.rowBytes : 4 * A;
    if (keep && keep.length !== rows) throw new InternalError(`copyRowsWhere: ${keep.length} flags for the ${rows} rows of ${from}`);
    for (let r0 = 0; r0 < rows; r0 += APPEND_ROWS) {
      const n = Math.min(APPEND_ROWS, rows - r0);
      let a: Uint8Array;
      if (compact) a = await compact.read(r0, n);
      else {
        const f = await readF32Range(from, r0 * A, (r0 + n) * A);
        a = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      }
      if (keep) {
        let k = 0;
        for (let r = 0; r < n; r++) k += keep[r0 + r]!;
        const m = new Uint8Array(k * rb);
        for (let r = 0, j = 0; r < n; r++) if (keep[r0 + r]) m.set(a.subarray(r * rb, (r + 1) * rb), j++ * rb);
        a = m;
      }
      if (a.length === 0) continue;
      if (compact) await out.appendStored(a);
      else await out.append(new Float32Array(a.buffer, a.byteOffset, a.length / 4));
    }
    return rows;
  } finally {
    await compact?.close();
  }
}
