// The addon's nearestTopK (native/nearest.cc): the k best rows by float32 score v·q − ‖v‖²/2, best first, over every
// vocabulary row (the AVX2 kernels for dim ≤ 16, the scalar loop beyond, a tail of rows that is not a multiple of 8).
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { vocabScorer } from '../../src/native/nearest.js';
import { nativeBinding } from '../../src/native/addon.js';

/** Exact (float64) scores of every row for one query, sorted best first (ties to the lower row). */
function bruteTop(vecs: Float32Array, n: number, dim: number, q: Float32Array, at: number): { row: number; score: number }[] {
  const all: { row: number; score: number }[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      s += vecs[i * dim + d]! * q[at * dim + d]!;
      sq += vecs[i * dim + d]! ** 2;
    }
    all.push({ row: i, score: s - sq / 2 });
  }
  return all.sort((a, b) => b.score - a.score || a.row - b.row);
}

describe('nearestTopK', () => {
  for (const [n, dim, k] of [[1000, 10, 8], [1003, 10, 8], [77, 3, 5], [501, 16, 4], [300, 17, 3], [9, 10, 9], [5, 2, 1]] as const) {
    it(`n ${n}, dim ${dim}, k ${k}: the k best rows and their scores, best first`, () => {
      const rng = Rng.forPurpose(n * 31 + dim, 'test/native-nearest');
      const vecs = Float32Array.from(rng.normals(n * dim));
      const b = 150;
      const q = Float32Array.from(rng.normals(b * dim));
      const s = vocabScorer(vecs, n, dim, { k });
      const got = s.topk(q, b);
      expect(got.rows.length).toBe(b * k);
      let checked = 0;
      for (let i = 0; i < b; i++) {
        const want = bruteTop(vecs, n, dim, q, i);
        for (let j = 0; j < k; j++) {
          // float32 scores agree with the exact ones to rounding; rows wherever the exact scores are not near ties
          expect(got.scores[i * k + j]!).toBeCloseTo(want[j]!.score, 3);
          const tie = (j > 0 && want[j]!.score - want[j - 1]!.score > -1e-4) || (j + 1 < want.length && want[j]!.score - want[j + 1]!.score < 1e-4);
          if (!tie) {
            expect(got.rows[i * k + j]).toBe(want[j]!.row);
            checked++;
          }
        }
        for (let j = 1; j < k; j++) expect(got.scores[i * k + j]!).toBeLessThanOrEqual(got.scores[i * k + j - 1]!);
      }
      expect(checked).toBeGreaterThan(b * k * 0.9);
    });
  }

  it('answers an empty batch, and refuses inconsistent sizes with a RangeError naming the argument', () => {
    const s = vocabScorer(new Float32Array(40), 10, 4, { k: 2 });
    expect(s.topk(new Float32Array(0), 0).rows.length).toBe(0);
    const topK = nativeBinding()['nearestTopK'] as (...a: unknown[]) => unknown;
    expect(() => topK(new Float32Array(10), 10, 4, new Float32Array(4), 1, 2)).toThrow(/vocabT must hold/);
    expect(() => topK(new Float32Array(50), 10, 4, new Float32Array(3), 1, 2)).toThrow(/queries must hold/);
    expect(() => topK(new Float32Array(50), 10, 4, new Float32Array(4), 1, 11)).toThrow(/k ≤ n/);
    expect(() => topK(new Float32Array(50), 10, 4)).toThrow(/nearestTopK\(/);
  });
});
