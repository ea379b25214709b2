// Batched embedding decoding (onnxruntime MatMul + ArgMax, exact check of near ties) answers exactly what the
// flow-by-flow k-d tree answers: same row, ties to the lowest, exact hits, zero and non-finite queries.
import { describe, expect, it, vi } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { EmbeddingEncoder } from '../../src/encode/fields.js';
import { nearestRows, snapEmbeddings, TOP_K } from '../../src/pipeline/embedding-decode.js';
import { PRUNE_MIN_ROWS } from '../../src/native/nearest.js';
import type { EncoderSet } from '../../src/encode/tensors.js';

function unitVectors(n: number, dim: number, rng: Rng): Float32Array {
  const v = rng.normals(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[i * dim + d]! ** 2;
    for (let d = 0; d < dim; d++) v[i * dim + d]! /= Math.sqrt(s);
  }
  return v;
}

describe('nearestRows', () => {
  // 3,000 rows: the flat scan; 6,000 (≥ PRUNE_MIN_ROWS): the pruned search
  for (const V of [3000, 6000]) it(`equals CosineIndex.nearest row for row on generated-like queries, near ties, duplicates and exact hits (${V} rows)`, async () => {
    const rng = Rng.forPurpose(5, 'test/embedding-decode');
    const dim = 10;
    const vecs = unitVectors(V, dim, rng);
    // duplicate vectors: ties the exact comparison breaks to the lower row
    vecs.set(vecs.subarray(7 * dim, 8 * dim), 2500 * dim);
    vecs.set(vecs.subarray(11 * dim, 12 * dim), 12 * dim);
    const enc = new EmbeddingEncoder('port', 'word2vecPort', Array.from({ length: V }, (_, i) => 1000 + i), vecs, dim);
    const stride = dim + 3;
    const n = 4000;
    const rows = new Float32Array(n * stride);
    for (let r = 0; r < n; r++) {
      const o = r * stride + 2;
      const kind = r % 8;
      if (kind === 0) rows.set(vecs.subarray((r % V) * dim, (r % V + 1) * dim), o); // exact hit
      else if (kind === 1) {
        // halfway between two rows: a near tie
        const a = rng.int(V);
        const b = rng.int(V);
        for (let d = 0; d < dim; d++) rows[o + d] = (vecs[a * dim + d]! + vecs[b * dim + d]!) / 2;
      } else if (kind === 2 && r % 400 === 2) rows.fill(0, o, o + dim); // zero query
      else if (kind === 2 && r % 400 === 10) rows[o] = Number.NaN;
      else for (let d = 0; d < dim; d++) rows[o + d] = Math.tanh(2 * rng.normal()); // tanh outputs, any norm
    }
    const got = await nearestRows(enc, rows, stride, 2, n);
    const index = enc.nearestIndex();
    expect(V >= PRUNE_MIN_ROWS).toBe(V === 6000);
    let differ = 0;
    for (let r = 0; r < n; r++) if (got[r] !== index.nearest(rows, r * stride + 2)) differ++;
    expect(differ).toBe(0);
    // the duplicate rows are never answered (their lower twins are)
    expect(Array.from(got).filter((x) => x === 2500 || x === 12)).toEqual([]);
  }, 120_000);

  for (const V of [3000, 6000]) it(`settles clusters of near ties (fewer and more rows than TOP_K within SCORE_GAP) as the k-d tree does (${V} rows)`, async () => {
    const rng = Rng.forPurpose(7, 'test/embedding-decode-ties');
    const dim = 10;
    const vecs = unitVectors(V, dim, rng);
    // clusters of 3 and of TOP_K + 4 rows a float32 step or so apart (their float32 scores within SCORE_GAP of each other)
    const clusters = [{ base: 100, size: 3 }, { base: 200, size: TOP_K + 4 }];
    for (const c of clusters) {
      for (let j = 1; j < c.size; j++) {
        for (let d = 0; d < dim; d++) vecs[(c.base + j * 37) * dim + d] = vecs[c.base * dim + d]! + (rng.normal() * 1e-6) / Math.sqrt(dim);
      }
    }
    const enc = new EmbeddingEncoder('port', 'word2vecPort', Array.from({ length: V }, (_, i) => 1000 + i), vecs, dim);
    const n = 1200;
    const rows = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      const c = clusters[r % 2]!;
      for (let d = 0; d < dim; d++) rows[r * dim + d] = vecs[c.base * dim + d]! + rng.normal() * 1e-3;
    }
    const index = enc.nearestIndex();
    const among = vi.spyOn(index, 'nearestAmong');
    const tree = vi.spyOn(index, 'nearest');
    const got = await nearestRows(enc, rows, dim, 0, n);
    // both ways of settling a tie ran: among the top rows (cluster of 3: in JavaScript for a small vocabulary, in the
    // addon for a pruned one), the k-d tree (more than TOP_K)
    if (V < PRUNE_MIN_ROWS) expect(among.mock.calls.length).toBeGreaterThan(0);
    else expect(among.mock.calls.length).toBe(0);
    expect(tree.mock.calls.length).toBeGreaterThan(0);
    expect(tree.mock.calls.length).toBeLessThan(n);
    among.mockRestore();
    tree.mockRestore();
    const want = Array.from({ length: n }, (_, r) => index.nearest(rows, r * dim));
    expect(Array.from(got)).toEqual(want);
    // the answers are spread over the clusters' rows (the ties are real, not all settled on the base row)
    expect(new Set(want).size).toBeGreaterThan(4);
  }, 120_000);

  it('snapEmbeddings writes each row\'s nearest vocabulary vector over the generated one and leaves other fields alone', async () => {
    const rng = Rng.forPurpose(6, 'test/embedding-snap');
    const V = 500;
    const dim = 10;
    const vecs = unitVectors(V, dim, rng);
    const enc = new EmbeddingEncoder('port', 'word2vecPort', Array.from({ length: V }, (_, i) => 2000 + i), vecs, dim);
    // [3 other dims | port embedding | 2 other dims]: a stand-in for a non-embedding field before it
    const set = { metadata: [{ dim: 3 }, enc] } as unknown as EncoderSet;
    const A = 3 + dim + 2;
    const n = 300;
    const rows = Float32Array.from({ length: n * A }, () => Math.tanh(2 * rng.normal()));
    const before = Float32Array.from(rows);
    const expected = await nearestRows(enc, before, A, 3, n);
    const found = await snapEmbeddings(set, rows, A, n);
    expect(Array.from(found.get(1)!)).toEqual(Array.from(expected));
    const index = enc.nearestIndex();
    let moved = 0;
    for (let r = 0; r < n; r++) {
      expect(index.exactHit(rows, r * A + 3)).toBe(expected[r]);
      expect(Array.from(rows.subarray(r * A + 3, r * A + 3 + dim))).toEqual(Array.from(vecs.subarray(expected[r]! * dim, (expected[r]! + 1) * dim)));
      expect(Array.from(rows.subarray(r * A, r * A + 3))).toEqual(Array.from(before.subarray(r * A, r * A + 3)));
      expect(Array.from(rows.subarray(r * A + 3 + dim, (r + 1) * A))).toEqual(Array.from(before.subarray(r * A + 3 + dim, (r + 1) * A)));
      if (rows[r * A + 3] !== before[r * A + 3]) moved++;
    }
    // generated (tanh) vectors are not vocabulary vectors: snapping moved them
    expect(moved).toBe(n);
    // snapped rows decode to the same values, without a search
    expect(Array.from(await nearestRows(enc, rows, A, 3, n))).toEqual(Array.from(expected));
  });
});
