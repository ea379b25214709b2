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

/** The rows whose float64 score is within `gap` of the best (the rows a pruned search must return), sorted. */
function withinGap(vecs: Float32Array, n: number, dim: number, q: Float32Array, at: number, gap: number): number[] {
  const all = bruteTop(vecs, n, dim, q, at);
  return all.filter((x) => x.score >= all[0]!.score - gap).map((x) => x.row).sort((a, b) => a - b);
}

describe('PrunedVocab (vocabScorer with a gap)', () => {
  const gap = 1e-4;
  // clustered rows (what trained embeddings look like), uniform rows (the worst case for the bounds), rows of any
  // norm, the scalar kernel (dim 17), one dimension (mostly more than k rows within the gap), 5 vectors repeated
  const cases: { name: string; n: number; dim: number; make: (rng: Rng, n: number, dim: number) => Float32Array }[] = [
    { name: 'clustered unit rows', n: 6000, dim: 10, make: (rng, n, dim) => clustered(rng, n, dim, 40, true) },
    { name: 'uniform unit rows', n: 5000, dim: 10, make: (rng, n, dim) => clustered(rng, n, dim, n, true) },
    { name: 'rows of any norm', n: 4500, dim: 8, make: (rng, n, dim) => clustered(rng, n, dim, 30, false) },
    { name: 'dim 17 (scalar loop)', n: 4200, dim: 17, make: (rng, n, dim) => clustered(rng, n, dim, 30, true) },
    { name: 'dim 1', n: 4100, dim: 1, make: (rng, n) => Float32Array.from(rng.normals(n)) },
    { name: 'duplicates', n: 4096, dim: 4, make: (rng, n, dim) => { const base = Float32Array.from(rng.normals(5 * dim)); const v = new Float32Array(n * dim); for (let i = 0; i < n; i++) v.set(base.subarray((i % 5) * dim, (i % 5 + 1) * dim), i * dim); return v; } },
  ];
  for (const c of cases) {
    it(`${c.name}: every row within the gap of the best is returned, as the flat scan finds them`, () => {
      const rng = Rng.forPurpose(c.n + c.dim, 'test/native-pruned');
      const vecs = c.make(rng, c.n, c.dim);
      const b = 300;
      const q = new Float32Array(b * c.dim);
      for (let i = 0; i < b; i++) {
        // near a row, between two rows, anywhere
        const a = rng.int(c.n);
        const o = rng.int(c.n);
        for (let d = 0; d < c.dim; d++) {
          const x = vecs[a * c.dim + d]!;
          q[i * c.dim + d] = i % 3 === 0 ? x + rng.normal() * 0.05 : i % 3 === 1 ? (x + vecs[o * c.dim + d]!) / 2 : rng.normal();
        }
      }
      const k = 8;
      const pruned = vocabScorer(vecs, c.n, c.dim, { k, gap });
      const flat = vocabScorer(vecs, c.n, c.dim, { k });
      expect(pruned.scanned).toBe(0);
      const got = pruned.topk(q, b);
      const ref = flat.topk(q, b);
      let compared = 0;
      for (let i = 0; i < b; i++) {
        const best = got.scores[i * k]!;
        // the best float32 score is the flat scan's
        expect(best).toBe(ref.scores[i * k]!);
        const mine = [];
        for (let j = 0; j < k && got.scores[i * k + j]! >= best - gap; j++) mine.push(got.rows[i * k + j]!);
        const want = withinGap(vecs, c.n, c.dim, q, i, gap);
        if (want.length >= k) {
          // more near ties than k: k of them (the caller then asks the k-d tree)
          expect(mine.length).toBe(k);
          continue;
        }
        // rows a float32 step from the gap's edge may fall either side of it
        const edge = withinGap(vecs, c.n, c.dim, q, i, gap * 1.01);
        const inner = withinGap(vecs, c.n, c.dim, q, i, gap * 0.99);
        for (const r of inner) expect(mine).toContain(r);
        for (const r of mine) expect(edge).toContain(r);
        compared++;
      }
      expect(compared).toBeGreaterThan(c.name === 'duplicates' || c.name === 'dim 1' ? -1 : b * 0.9);
      // it pruned: on clustered rows far fewer than all rows were scored
      if (c.name === 'clustered unit rows') expect(pruned.scanned!).toBeLessThan(0.5 * b * c.n);
      expect(pruned.scanned!).toBeGreaterThan(0);
    });
  }

  it('a zero or non-finite query scans every row (no bound holds for it)', () => {
    const rng = Rng.forPurpose(3, 'test/native-pruned-zero');
    const n = 5000;
    const dim = 6;
    const vecs = clustered(rng, n, dim, 20, true);
    const s = vocabScorer(vecs, n, dim, { k: 4, gap });
    const q = new Float32Array(2 * dim);
    q[dim] = Number.NaN;
    const got = s.topk(q, 2);
    expect(s.scanned).toBe(2 * n);
    // the zero query: every unit row scores −1/2; the flat scan's rows
    expect(got.scores[0]).toBeCloseTo(-0.5, 6);
  });

  it('refuses inconsistent sizes with a RangeError', () => {
    const Pruned = nativeBinding()['PrunedVocab'] as new (...a: unknown[]) => { topk(...a: unknown[]): unknown };
    expect(() => new Pruned(new Float32Array(10), 10, 4)).toThrow(/vectors must hold/);
    const p = new Pruned(new Float32Array(40), 10, 4);
    expect(() => p.topk(new Float32Array(3), 1, 2, 1e-4)).toThrow(/queries must hold/);
    expect(() => p.topk(new Float32Array(4), 1, 11, 1e-4)).toThrow(/k ≤ n/);
    expect(() => p.topk(new Float32Array(4), 1, 2, -1)).toThrow(/gap ≥ 0/);
  });
});

/** n rows around `centers` random centres (each row a centre plus noise), unit length when `unit`, else norms 0.2–3. */
function clustered(rng: Rng, n: number, dim: number, centers: number, unit: boolean): Float32Array {
  const c = Float32Array.from(rng.normals(centers * dim));
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const k = i % centers;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      v[i * dim + d] = c[k * dim + d]! + rng.normal() * 0.3;
      s += v[i * dim + d]! ** 2;
    }
    const scale = unit ? 1 / Math.sqrt(s) : (0.2 + 2.8 * rng.next()) / Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[i * dim + d]! *= scale;
  }
  return v;
}
