// The fill's accept and unique jobs stream their rows in blocks: the file they write is the one the whole-chunk
// algorithm writes (starting rows snapped, prev ++ starts, the first row of each 5-tuple), whatever the block size.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChunkTensors } from '../../src/pipeline/chunk-tensors.js';
import { snapEmbeddings } from '../../src/pipeline/embedding-decode.js';
import { generateChunkJob, startingRows, uniqueTupleRows } from '../../src/pipeline/generate.js';
import { readF32, readTableFile, writeF32 } from '../../src/pipeline/workdir.js';
import { F32Appender } from '../../src/pipeline/attr-files.js';
import { RowCodec } from '../../src/pipeline/row-codec.js';
import { Rng } from '../../src/core/rng.js';
import { preprocessedTiny } from './tiny-workdir.js';

const ctx = (wd: string) => ({ workdir: wd, threads: 1, progress: () => {} });

describe('streamed accept and unique jobs', () => {
  it('write the rows of the whole-chunk algorithm, for blocks of 7 rows and of one block', async () => {
    const { wd, layout, encoders } = await preprocessedTiny(120, 'ns-gen-stream-');
    const A = layout.attributeDim;
    const F = layout.featureDim;
    const real = (await loadChunkTensors(wd, 0)).attributes;
    const nReal = real.length / A;
    const s = layout.attributes.find((a) => a.name === 'flow_tags')!;
    const tags = { start: s.offset, chunk: (i: number) => s.offset + 2 + 2 * i };
    const ports = layout.attributes.filter((a) => a.name === 'srcport' || a.name === 'dstport');
    expect(ports.length).toBe(2);
    // "generated" rows: real rows, repeated (duplicate 5-tuples), their port embeddings perturbed (a search, not an
    // exact hit), and a quarter marked as not starting in the chunk
    const rng = Rng.forPurpose(9, 'test/generate-stream');
    const gen = (n: number): Float32Array => {
      const rows = new Float32Array(n * A);
      for (let r = 0; r < n; r++) {
        const src = rng.int(nReal);
        rows.set(real.subarray(src * A, (src + 1) * A), r * A);
        for (const p of ports) for (let d = 0; d < p.dim; d++) rows[r * A + p.offset + d] = rows[r * A + p.offset + d]! + rng.normal() * 0.05;
        if (rng.int(4) === 0) {
          rows[r * A + tags.start] = 1;
          rows[r * A + tags.start + 1] = 0;
        }
      }
      return rows;
    };
    const raw1 = gen(90);
    const raw2 = gen(150);
    const dir = join(wd, 'generate', 'stream-test');
    await writeF32(join(dir, 'raw1.f32'), raw1);
    await writeF32(join(dir, 'raw2.f32'), raw2);
    const rel = (f: string): string => `generate/stream-test/${f}`;
    const base = { chunk: 0, pass: 0, checkpoint: '', iteration: -1, seed: 0, device: 'cpu' as const };

    // the whole-chunk algorithm (the jobs before streaming)
    const acceptWhole = async (raw: Float32Array, prev: Float32Array): Promise<Float32Array> => {
      const starts = startingRows(raw.slice(), A, tags, 0);
      await snapEmbeddings(encoders, starts, A, starts.length / A);
      const all = new Float32Array(prev.length + starts.length);
      all.set(prev);
      all.set(starts, prev.length);
      const keep = (await uniqueTupleRows(wd, 0, all, A, F, encoders)).sort();
      const out = new Float32Array(keep.length * A);
      keep.forEach((k, i) => out.set(all.subarray(k * A, (k + 1) * A), i * A));
      return out;
    };
    const want1 = await acceptWhole(raw1, new Float32Array(0));
    const want2 = await acceptWhole(raw2, want1);
    // duplicates were dropped and some rows did not start here: the comparison can fail
    expect(want1.length / A).toBeLessThan(90 * 0.9);
    expect(want2.length / A).toBeGreaterThan(want1.length / A);

    for (const blockRows of [7, 100_000]) {
      const tag = `b${blockRows}`;
      const r1 = (await generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw1.f32'), out: rel(`acc1-${tag}.f32`) } }, ctx(wd))) as { sampled: number; accepted: number; added: number };
      const r2 = (await generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw2.f32'), prev: rel(`acc1-${tag}.f32`), out: rel(`acc2-${tag}.f32`) } }, ctx(wd))) as { sampled: number; accepted: number; added: number };
      expect(Buffer.from((await readF32(join(dir, `acc1-${tag}.f32`))).buffer).equals(Buffer.from(want1.buffer))).toBe(true);
      expect(Buffer.from((await readF32(join(dir, `acc2-${tag}.f32`))).buffer).equals(Buffer.from(want2.buffer))).toBe(true);
      expect([r1.sampled, r1.accepted, r1.added]).toEqual([90, want1.length / A, want1.length / A]);
      expect([r2.sampled, r2.accepted, r2.added]).toEqual([150, want2.length / A, (want2.length - want1.length) / A]);
      // with the records of the accepted rows (startsOut), the next pass takes the seen 5-tuples from them instead
      // of decoding `prev` again: the same rows, the same records
      await generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw1.f32'), out: rel(`acc1s-${tag}.f32`), startsOut: rel(`acc1s-${tag}.nstable`) } }, ctx(wd));
      const r2s = (await generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw2.f32'), prev: rel(`acc1s-${tag}.f32`), prevStarts: rel(`acc1s-${tag}.nstable`), out: rel(`acc2s-${tag}.f32`), startsOut: rel(`acc2s-${tag}.nstable`) } }, ctx(wd))) as { accepted: number; added: number };
      await generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw2.f32'), prev: rel(`acc1s-${tag}.f32`), out: rel(`acc2d-${tag}.f32`), startsOut: rel(`acc2d-${tag}.nstable`) } }, ctx(wd));
      expect(Buffer.from((await readF32(join(dir, `acc2s-${tag}.f32`))).buffer).equals(Buffer.from(want2.buffer))).toBe(true);
      expect([r2s.accepted, r2s.added]).toEqual([r2.accepted, r2.added]);
      const viaRecords = await readTableFile(join(dir, `acc2s-${tag}.nstable`));
      const viaDecode = await readTableFile(join(dir, `acc2d-${tag}.nstable`));
      expect(viaRecords.length).toBe(want2.length / A);
      expect(JSON.stringify(viaRecords)).toBe(JSON.stringify(viaDecode));
      // records that do not match the rows: refused
      await expect(generateChunkJob({ ...base, blockRows, accept: { raw: rel('raw2.f32'), prev: rel(`acc2s-${tag}.f32`), prevStarts: rel(`acc1s-${tag}.nstable`), out: rel(`acc3-${tag}.f32`) } }, ctx(wd))).rejects.toThrow(/acc1s-.*\.nstable holds \d+ records for the \d+ rows of/);
    }

    // unique: the merged rows with repeats (the accepted rows twice, then the second pass's)
    const merged = new Float32Array(2 * want1.length + want2.length);
    merged.set(want1);
    merged.set(want1, want1.length);
    merged.set(want2, 2 * want1.length);
    await writeF32(join(dir, 'merged.f32'), merged);
    const keep = await uniqueTupleRows(wd, 0, merged, A, F, encoders);
    const wantU = new Float32Array(keep.length * A);
    keep.forEach((k, i) => wantU.set(merged.subarray(k * A, (k + 1) * A), i * A));
    expect(keep.length).toBe(want2.length / A);
    for (const blockRows of [7, 100_000]) {
      const r = (await generateChunkJob({ ...base, blockRows, uniqueTuples: { from: rel('merged.f32'), out: rel(`u-${blockRows}.f32`) } }, ctx(wd))) as { merged: number; unique: number };
      expect(Buffer.from((await readF32(join(dir, `u-${blockRows}.f32`))).buffer).equals(Buffer.from(wantU.buffer))).toBe(true);
      // written compact (row-codec.ts): a fraction of the float32 bytes
      expect(readFileSync(join(dir, `u-${blockRows}.f32`)).length).toBeLessThan((2 / 3) * wantU.byteLength + 4096);
      expect([r.merged, r.unique]).toEqual([merged.length / A, keep.length]);
      // the merged rows' tail given by its records (the chunk's own starts: the fill's records of want2), not decoded
      // again: the same rows, blocks straddling the boundary included
      const from = (2 * want1.length) / A;
      const viaRecords = (await generateChunkJob({ ...base, blockRows, uniqueTuples: { from: rel('merged.f32'), out: rel(`ur-${blockRows}.f32`), ownRecords: { path: rel('acc2s-b7.nstable'), from } } }, ctx(wd))) as { merged: number; unique: number };
      expect(Buffer.from((await readF32(join(dir, `ur-${blockRows}.f32`))).buffer).equals(Buffer.from(wantU.buffer))).toBe(true);
      expect([viaRecords.merged, viaRecords.unique]).toEqual([r.merged, r.unique]);
      // records that do not cover the rows: refused, naming the file
      await expect(generateChunkJob({ ...base, blockRows, uniqueTuples: { from: rel('merged.f32'), out: rel(`ux-${blockRows}.f32`), ownRecords: { path: rel('acc1s-b7.nstable'), from } } }, ctx(wd))).rejects.toThrow(/acc1s-b7\.nstable holds \d+ records; row \d+ of/);
    }
    // the merged rows in a compact file (as the generate stage writes them): moved as stored, the own starts never
    // decoded (start flags read from the stored bytes), yet the same rows and counts as from the float32 file, with
    // earlier chunks' starts dropping some of them and with the shuffle
    const codec = RowCodec.forAttributes(layout)!;
    const compactOut = await F32Appender.open(join(dir, 'merged-c.f32'), codec);
    await compactOut.append(merged);
    await compactOut.close();
    const from = (2 * want1.length) / A;
    for (const blockRows of [7, 100_000]) {
      for (const extra of [{}, { earlier: [{ path: rel('acc1s-b7.nstable'), rows: 9 }] }, { shuffle: 3 }]) {
        const run = async (file: string, out: string): Promise<{ r: unknown; rows: Float32Array }> => {
          const r = await generateChunkJob({ ...base, blockRows, uniqueTuples: { from: rel(file), out: rel(out), ownRecords: { path: rel('acc2s-b7.nstable'), from }, ...extra } }, ctx(wd));
          return { r, rows: await readF32(join(dir, out)) };
        };
        const f = await run('merged.f32', 'uf.f32');
        const c = await run('merged-c.f32', 'uc.f32');
        expect(c.r).toEqual(f.r);
        expect(Buffer.from(c.rows.buffer).equals(Buffer.from(f.rows.buffer))).toBe(true);
        if ('earlier' in extra) expect((c.r as { unique: number }).unique).toBeLessThan(keep.length);
      }
    }

    // shuffled: in memory, or through bucket files when the merged rows are over memoryBytes; either is a permutation of
    // the unique rows, the same for the same seed, and no bucket file is left behind
    const rowsOf = (a: Float32Array): string[] => Array.from({ length: a.length / A }, (_, r) => Buffer.from(a.slice(r * A, (r + 1) * A).buffer).toString('base64'));
    const shuffled = async (name: string, memoryBytes?: number): Promise<Float32Array> => {
      await generateChunkJob({ ...base, blockRows: 7, uniqueTuples: { from: rel('merged.f32'), out: rel(name), shuffle: 5, ...(memoryBytes ? { memoryBytes } : {}) } }, ctx(wd));
      return readF32(join(dir, name));
    };
    const inMemory = await shuffled('s-mem.f32');
    const onDisk = await shuffled('s-disk.f32', 4 * A * 10);
    const again = await shuffled('s-disk2.f32', 4 * A * 10);
    expect(readdirSync(dir).filter((f) => f.includes('bucket'))).toEqual([]);
    for (const x of [inMemory, onDisk]) {
      expect([...rowsOf(x)].sort()).toEqual([...rowsOf(wantU)].sort());
      expect(rowsOf(x)).not.toEqual(rowsOf(wantU));
    }
    expect(rowsOf(onDisk)).not.toEqual(rowsOf(inMemory));
    expect(Buffer.from(again.buffer).equals(Buffer.from(onDisk.buffer))).toBe(true);
  }, 120_000);
});
