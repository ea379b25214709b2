// The flow-tag merge from files to files (attr-files.ts) writes exactly mergeByFlowTags's rows, in its order, across
// read blocks, for chunks given in any order and chunks with no rows; copyAttributeRows copies a file's first rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { copyAttributeRows, mergeByFlowTagsFiles } from '../../src/pipeline/attr-files.js';
import { mergeByFlowTags } from '../../src/pipeline/generate.js';
import { readF32, writeF32 } from '../../src/pipeline/workdir.js';
import { F32Appender } from '../../src/pipeline/attr-files.js';
import { RowCodec } from '../../src/pipeline/row-codec.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-attrfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// [x, startFromThisChunk pair, chunk_0 … chunk_3 pairs]: as the layout's flow_tags slice
const C = 4;
const A = 3 + 2 + 2 * C;
const tags = { start: 3, chunk: (i: number) => 5 + 2 * i };

function randomRows(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n * A);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < 3; d++) a[r * A + d] = rng.normal();
    for (let p = 0; p < 1 + C; p++) {
      const on = rng.int(3) > 0 ? 1 : 0; // mostly set: most rows start, many continue
      a[r * A + 3 + 2 * p] = on ? 0.2 : 0.8;
      a[r * A + 3 + 2 * p + 1] = on ? 0.8 : 0.2;
    }
  }
  return a;
}

describe('mergeByFlowTagsFiles', () => {
  it('writes the rows mergeByFlowTags returns, for sources cut to their first rows, over several read blocks', async () => {
    const rng = Rng.forPurpose(3, 'test/attr-files');
    // chunk 2 has no rows; chunk 1's file has more rows than are used (the cut to the asked count)
    const sizes = [40_000, 20_000, 0, 700];
    const used = [40_000, 17_001, 0, 700];
    const raw = new Map<number, Float32Array>();
    const sources: { chunk: number; path: string; rows: number }[] = [];
    for (const c of [3, 0, 2, 1]) {
      const rows = randomRows(sizes[c]!, rng);
      const path = join(dir, `src-${c}.f32`);
      await writeF32(path, rows);
      raw.set(c, rows.subarray(0, used[c]! * A));
      sources.push({ chunk: c, path: sizes[c] ? path : '', rows: used[c]! });
    }
    const want = mergeByFlowTags(raw, A, tags);
    const counts = await mergeByFlowTagsFiles(sources, A, tags, (c) => join(dir, `merged-${c}.f32`));
    for (let c = 0; c < C; c++) {
      const got = await readF32(join(dir, `merged-${c}.f32`));
      expect(got.length).toBe(want.get(c)!.length);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.get(c)!.buffer))).toBe(true);
      expect(counts.get(c)).toBe(got.length / A);
    }
    // carried rows exist (chunk 3 holds copies from earlier chunks before its own 700 starts)
    expect(counts.get(3)!).toBeGreaterThan(700);
  }, 60_000);

  it('compact sources (row-codec.ts) give the same rows, moved as stored; plain sources with a codec too', async () => {
    const rng = Rng.forPurpose(5, 'test/attr-files-compact');
    // one-hot tags (a compact file stores each pair as an index byte), three float32 values
    const codec = new RowCodec({ A, groups: Array.from({ length: 1 + C }, (_, p) => [3 + 2 * p, 2] as [number, number]), floats: [[0, 3]] });
    expect(codec.flagByte(tags.start)).toBe(12);
    expect(codec.flagByte(tags.chunk(2))).toBe(15);
    expect(codec.flagByte(0)).toBeUndefined();
    const sizes = [30_000, 18_000, 0, 500];
    const used = [30_000, 17_500, 0, 500];
    const raw = new Map<number, Float32Array>();
    const compact: { chunk: number; path: string; rows: number }[] = [];
    const plain: { chunk: number; path: string; rows: number }[] = [];
    for (const c of [1, 3, 2, 0]) {
      const rows = randomRows(sizes[c]!, rng).map((v, i) => (i % A < 3 ? v : v > 0.5 ? 1 : 0));
      const path = join(dir, `csrc-${c}.rows`);
      const w = await F32Appender.open(path, codec);
      await w.append(rows);
      await w.close();
      await writeF32(join(dir, `psrc-${c}.f32`), rows);
      raw.set(c, rows.subarray(0, used[c]! * A));
      compact.push({ chunk: c, path: sizes[c] ? path : '', rows: used[c]! });
      plain.push({ chunk: c, path: sizes[c] ? join(dir, `psrc-${c}.f32`) : '', rows: used[c]! });
    }
    const want = mergeByFlowTags(raw, A, tags);
    const fromCompact = await mergeByFlowTagsFiles(compact, A, tags, (c) => join(dir, `cmerged-${c}.rows`), codec);
    const fromPlain = await mergeByFlowTagsFiles(plain, A, tags, (c) => join(dir, `pmerged-${c}.rows`), codec);
    for (let c = 0; c < C; c++) {
      const a = await readF32(join(dir, `cmerged-${c}.rows`));
      const b = await readF32(join(dir, `pmerged-${c}.rows`));
      expect(Buffer.from(a.buffer).equals(Buffer.from(want.get(c)!.buffer))).toBe(true);
      expect(Buffer.from(b.buffer).equals(Buffer.from(want.get(c)!.buffer))).toBe(true);
      expect(fromCompact.get(c)).toBe(a.length / A);
      expect(fromPlain.get(c)).toBe(a.length / A);
    }
    expect(fromCompact.get(3)!).toBeGreaterThan(500);
  }, 60_000);

  it('copyAttributeRows copies the first rows of a file', async () => {
    const rows = randomRows(20_000, Rng.forPurpose(4, 'test/attr-files-copy'));
    await writeF32(join(dir, 'c.f32'), rows);
    await copyAttributeRows(join(dir, 'c.f32'), 19_999, A, join(dir, 'c-copy.f32'));
    expect(Array.from(await readF32(join(dir, 'c-copy.f32')))).toEqual(Array.from(rows.subarray(0, 19_999 * A)));
  });
});
