// Workdir float32 files: a range of values read alone equals the same values of the whole file; ranges outside the
// file and damaged files are errors naming the file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readF32, readF32Range, writeF32 } from '../../src/pipeline/workdir.js';

const dir = mkdtempSync(join(tmpdir(), 'ns-wdfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readF32Range', () => {
  it('returns values [from, to) of the file, the same as the whole file read and cut', async () => {
    const file = join(dir, 'a.f32');
    const all = Float32Array.from({ length: 10_007 }, (_, i) => Math.sin(i) * 1e3);
    await writeF32(file, all);
    const whole = await readF32(file);
    for (const [from, to] of [[0, 0], [0, 10_007], [3, 4], [1_000, 9_999], [10_007, 10_007]] as const) {
      expect(Array.from(await readF32Range(file, from, to))).toEqual(Array.from(whole.subarray(from, to)));
    }
  });

  it('rejects a range past the end, a reversed range and a file that is not whole float32 values, naming the file', async () => {
    const file = join(dir, 'b.f32');
    await writeF32(file, new Float32Array(8));
    await expect(readF32Range(file, 4, 9)).rejects.toThrow(/b\.f32 holds 8 float32 values; values 4\.\.9/);
    await expect(readF32Range(file, 5, 4)).rejects.toThrow(/b\.f32/);
    const bad = join(dir, 'c.f32');
    writeFileSync(bad, Buffer.alloc(10));
    await expect(readF32Range(bad, 0, 1)).rejects.toThrow(/c\.f32 holds 10 bytes/);
    await expect(readF32Range(join(dir, 'missing.f32'), 0, 1)).rejects.toThrow(/missing\.f32: ENOENT/);
  });
});
