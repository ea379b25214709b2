// Compact attribute row files (row-codec.ts): one-hot groups stored as indices, read back bit for bit by workdir.ts's
// readers; rows that are not one-hot are refused when written, damaged files when read.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import type { Layout } from '../../src/encode/tensors.js';
import { copyRowsWhere, F32Appender } from '../../src/pipeline/attr-files.js';
import { RowCodec } from '../../src/pipeline/row-codec.js';
import { readF32, readF32Range, rowFileRows } from '../../src/pipeline/workdir.js';

// a netflow-like layout: a 300-way address (two-byte indices), 8 address bits, a port embedding, a protocol, the flow
// tags, the flow-start bins (kept soft) and a continuous field
const slices = [
  { name: 'srcip', dim: 300, activation: 'softmax', groupSize: 300 },
  { name: 'srcip.bits', dim: 16, activation: 'softmax', groupSize: 2 },
  { name: 'srcport', dim: 10, activation: 'tanh' },
  { name: 'proto', dim: 3, activation: 'softmax', groupSize: 3 },
  { name: 'flow_tags', dim: 8, activation: 'softmax', groupSize: 2 },
  { name: 'flow_start_bin', dim: 6, activation: 'softmax', groupSize: 6 },
  { name: 'size', dim: 1, activation: 'sigmoid' },
] as const;
let off = 0;
const layout = {
  attributes: slices.map((s) => {
    const x = { ...s, kind: 'attribute', offset: off, discrete: s.activation === 'softmax' };
    off += s.dim;
    return x;
  }),
  attributeDim: off,
} as unknown as Layout;
const A = layout.attributeDim;

function rows(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * A);
  for (let r = 0; r < n; r++) {
    for (const s of layout.attributes) {
      const o = r * A + s.offset;
      if (s.activation === 'softmax' && s.name !== 'flow_start_bin') {
        for (let g = 0; g < s.dim; g += s.groupSize!) out[o + g + rng.int(s.groupSize!)] = 1;
      } else for (let d = 0; d < s.dim; d++) out[o + d] = rng.normal();
    }
  }
  return out;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ns-rowcodec-'));
  dirs.push(d);
  return d;
}

describe('RowCodec', () => {
  const codec = RowCodec.forAttributes(layout)!;

  it('stores one-hot groups as indices and the rest as float32, and reads back every row bit for bit', async () => {
    // 10 + 6 + 1 floats, one two-byte index, 8 + 1 + 4 one-byte indices: 68 + 15 = 83 → 84 bytes
    expect(codec.rowBytes).toBe(84);
    expect(codec.spec.groups.length).toBe(1 + 8 + 1 + 4);
    const rng = Rng.forPurpose(1, 'test/row-codec');
    const a = rows(1000, rng);
    const path = join(await tmp(), 'rows.f32');
    const w = await F32Appender.open(path, codec);
    await w.append(a.subarray(0, 333 * A));
    await w.append(a.subarray(333 * A));
    await w.close();
    expect(Buffer.from((await readF32(path)).buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(await rowFileRows(path, A)).toBe(1000);
    const part = await readF32Range(path, 417 * A, 801 * A);
    expect(Buffer.from(part.buffer).equals(Buffer.from(a.slice(417 * A, 801 * A).buffer))).toBe(true);
    expect((await readF32Range(path, 5 * A, 5 * A)).length).toBe(0);
    // ranges past the end or through a row: an InputError naming the file
    await expect(readF32Range(path, 999 * A, 1001 * A)).rejects.toThrow(/rows\.f32 holds 1000 rows/);
    await expect(readF32Range(path, 3, A)).rejects.toThrow(/values 3\.\./);
    await expect(rowFileRows(path, A + 1)).rejects.toThrow(/rows of \d+ values, not/);
  });

  it('refuses a group that is not one-hot, naming the file, row and values', async () => {
    const rng = Rng.forPurpose(2, 'test/row-codec-bad');
    const a = rows(10, rng);
    const proto = layout.attributes.find((s) => s.name === 'proto')!;
    a[7 * A + proto.offset] = 0.5;
    const path = join(await tmp(), 'bad.f32');
    const w = await F32Appender.open(path, codec);
    await expect(w.append(a)).rejects.toThrow(new RegExp(`bad\\.f32: row 7 is not one-hot at values ${proto.offset}\\.\\.`));
    await w.abort();
    const b = rows(3, rng);
    b.fill(0, 2 * A + proto.offset, 2 * A + proto.offset + 3);
    expect(() => codec.encode(b, 'x')).toThrow(/x: row 2 has no 1/);
    // two ones, and a −0 (it would read back as +0)
    const c = rows(2, rng);
    c.fill(1, proto.offset, proto.offset + 2);
    expect(() => codec.encode(c, 'y')).toThrow(/y: row 0 is not one-hot/);
    const d = rows(2, rng);
    const bits = layout.attributes.find((s) => s.name === 'srcip.bits')!;
    const z = d[A + bits.offset] === 0 ? bits.offset : bits.offset + 1;
    d[A + z] = -0;
    expect(() => codec.encode(d, 'z')).toThrow(/z: row 1 is not one-hot/);
    // rows picked by index (the accept job's kept rows, encoded from the block): the bytes of the picked rows' copy, the
    // source's row named when one is not one-hot, an index past the rows refused
    const e = rows(6, rng);
    const at = [4, 1, 5];
    const copy = new Float32Array(3 * A);
    at.forEach((r, i) => copy.set(e.subarray(r * A, (r + 1) * A), i * A));
    expect(Buffer.from(codec.encode(e, 'e', at)).equals(Buffer.from(codec.encode(copy, 'e')))).toBe(true);
    const pw = join(await tmp(), 'picked.f32');
    const wp = await F32Appender.open(pw, codec);
    await wp.appendRows(e, A, at);
    await wp.appendRows(e, A, []);
    await wp.close();
    expect(Buffer.from((await readF32(pw)).buffer).equals(Buffer.from(copy.buffer))).toBe(true);
    e.fill(0, 5 * A + proto.offset, 5 * A + proto.offset + 3);
    expect(() => codec.encode(e, 'e', at)).toThrow(/e: row 5 has no 1/);
    expect(() => codec.encode(e, 'e', [6])).toThrow(/e: row 6 of 6 asked for/);
  });

  it('reads damaged files as InputErrors and plain float32 files as before', async () => {
    const dir = await tmp();
    const a = rows(4, Rng.forPurpose(3, 'test/row-codec-damaged'));
    const bytes = codec.encode(a, 'x');
    // an index past its group
    const idx = 4 * 17;
    const bad = bytes.slice();
    bad[idx] = 0xff;
    bad[idx + 1] = 0xff;
    await writeFile(join(dir, 'idx.f32'), Buffer.concat([codec.header, bad]));
    await expect(readF32(join(dir, 'idx.f32'))).rejects.toThrow(/idx\.f32: row 0 holds index 65535 for a group of 300/);
    // a torn row, a cut header, a header that is not JSON
    await writeFile(join(dir, 'torn.f32'), Buffer.concat([codec.header, bytes.subarray(0, bytes.length - 3)]));
    await expect(readF32(join(dir, 'torn.f32'))).rejects.toThrow(/torn\.f32 holds \d+ bytes of rows, not whole rows of 84/);
    await expect(rowFileRows(join(dir, 'torn.f32'), A)).rejects.toThrow(/not whole rows of 84/);
    await writeFile(join(dir, 'cut.f32'), codec.header.subarray(0, 20));
    await expect(readF32(join(dir, 'cut.f32'))).rejects.toThrow(/cut\.f32 ends inside its compact row header/);
    await expect(readF32Range(join(dir, 'cut.f32'), 0, 0)).rejects.toThrow(/cut\.f32 ends inside its compact row header/);
    const junk = Buffer.from(codec.header);
    junk[12] = 0x7b + 1;
    await writeFile(join(dir, 'junk.f32'), junk);
    await expect(readF32(join(dir, 'junk.f32'))).rejects.toThrow(/junk\.f32: the compact row file's header is not JSON/);
    // a plain float32 file: as it was
    await writeFile(join(dir, 'plain.f32'), Buffer.from(a.buffer));
    expect(Array.from(await readF32Range(join(dir, 'plain.f32'), A, 3 * A))).toEqual(Array.from(a.subarray(A, 3 * A)));
    expect(await rowFileRows(join(dir, 'plain.f32'), A)).toBe(4);
  });

  it('copyRowsWhere copies a compact file of the same codec as stored, a float32 file encoded, the kept rows only', async () => {
    const dir = await tmp();
    const a = rows(50, Rng.forPurpose(4, 'test/row-codec-copy'));
    const src = join(dir, 'src.f32');
    const w = await F32Appender.open(src, codec);
    await w.append(a);
    await w.close();
    const dst = join(dir, 'dst.f32');
    const c = await F32Appender.open(dst, codec);
    expect(await copyRowsWhere(src, undefined, A, c, codec)).toBe(50);
    await c.append(a.subarray(0, 3 * A));
    await c.close();
    const back = await readF32(dst);
    expect(Buffer.from(back.subarray(0, 50 * A).buffer.slice(0, 50 * A * 4)).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Array.from(back.subarray(50 * A))).toEqual(Array.from(a.subarray(0, 3 * A)));
    // the stored bytes moved unchanged: the copy's rows are the source's bytes
    const { readFile } = await import('node:fs/promises');
    const body = (f: Buffer): Buffer => f.subarray(codec.header.length);
    expect(body(await readFile(dst)).subarray(0, 50 * codec.rowBytes).equals(body(await readFile(src)))).toBe(true);
    // a plain float32 file: its rows, encoded; `keep` picks rows in order
    await writeFile(join(dir, 'plain.f32'), Buffer.from(a.buffer));
    const d = await F32Appender.open(join(dir, 'd.f32'), codec);
    const keep = new Uint8Array(50).map((_, i) => (i % 7 === 2 ? 1 : 0));
    expect(await copyRowsWhere(join(dir, 'plain.f32'), keep, A, d, codec)).toBe(50);
    expect(await copyRowsWhere(src, keep, A, d, codec)).toBe(50);
    await d.close();
    const picked = [...keep.keys()].filter((i) => keep[i]).flatMap((i) => Array.from(a.subarray(i * A, (i + 1) * A)));
    expect(Array.from(await readF32(join(dir, 'd.f32')))).toEqual([...picked, ...picked]);
    // a torn compact file: an InputError naming it; flags for another row count: refused
    await writeFile(join(dir, 'torn.f32'), Buffer.concat([codec.header, codec.encode(a, 'x').subarray(5)]));
    const e = await F32Appender.open(join(dir, 'e.f32'), codec);
    await expect(copyRowsWhere(join(dir, 'torn.f32'), undefined, A, e, codec)).rejects.toThrow(/torn\.f32 holds \d+ bytes of rows, not whole rows of 84/);
    await expect(copyRowsWhere(src, new Uint8Array(49), A, e, codec)).rejects.toThrow(/49 flags for the 50 rows/);
    await e.abort();
  });

  it('is not used where it would not save a third of the bytes', () => {
    const cont = { attributes: [{ name: 'x', kind: 'attribute', offset: 0, dim: 20, activation: 'tanh', discrete: false }], attributeDim: 20 } as unknown as Layout;
    expect(RowCodec.forAttributes(cont)).toBeUndefined();
  });
});
