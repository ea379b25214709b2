// CosineIndex's exact-match table: every vocabulary vector is found bit for bit, also when two different vectors share
// the table's 32-bit hash (100k random vectors of this seed hold three such pairs), and the k-d tree is built only for a
// search that is not an exact hit.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { CosineIndex } from '../../src/encode/knn.js';

describe('CosineIndex exact hits', () => {
  it('finds each of 100k distinct vectors at its own row, hash collisions included; a search still answers the rest', () => {
    const V = 100_000;
    const dim = 10;
    const vecs = Float32Array.from(Rng.forPurpose(1, 'test/knn-collisions').normals(V * dim));
    const index = new CosineIndex(vecs, V, dim);
    let misses = 0;
    for (let i = 0; i < V; i++) if (index.exactHit(vecs, i * dim) !== i) misses++;
    expect(misses).toBe(0);
    // a vector off the vocabulary: no exact hit, the search answers (the tree built now) and agrees with brute force
    const q = Float32Array.from(vecs.subarray(5 * dim, 6 * dim), (x, d) => x + (d === 0 ? 1e-3 : 0));
    expect(index.exactHit(q)).toBe(-1);
    expect(index.nearest(q)).toBe(index.nearestAmong(q, 0, Array.from({ length: V }, (_, i) => i)));
  });
});
