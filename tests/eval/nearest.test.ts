// The exact nearest-neighbour index behind DCR: distances equal a brute-force scan bit for bit on random,
// clustered, duplicated and tied data, and bad input raises InternalError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../src/errors.js';
import { NearestIndex } from '../../src/eval/nearest.js';
import { testRng as rng } from './helpers.js';

function brute(points: Float64Array, queries: Float64Array, d: number): Float64Array {
  const n = points.length / d;
  const out = new Float64Array(queries.length / d);
  for (let i = 0; i < out.length; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = queries[i * d + k]! - points[j * d + k]!;
        s += diff * diff;
      }
      if (s < best) best = s;
    }
    out[i] = Math.sqrt(best);
  }
  return out;
}

/**
 * Points on a coarse grid (equal coordinates, hence distance ties), clustered like IP octets, with every third
 * point a verbatim repeat of an earlier one (exact duplicates, as a trace repeats records).
 */
function gridPoints(n: number, d: number, levels: number, r: () => number): Float64Array {
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 3 === 0) {
      const j = Math.floor(r() * i);
      x.copyWithin(i * d, j * d, (j + 1) * d);
      continue;
    }
    const cluster = Math.floor(r() * 4);
    for (let k = 0; k < d; k++) x[i * d + k] = k < d / 2 ? ((cluster * 7 + k) % levels) / levels : Math.floor(r() * levels) / levels;
  }
  return x;
}

describe('NearestIndex', () => {
  it('equals brute force on uniform data (d = 14), with and without exact hits', () => {
    const r = rng(11);
    const d = 14;
    const pts = Float64Array.from({ length: 3000 * d }, () => r());
    const idx = NearestIndex.fromRows(pts, d);
    expect(idx.size).toBe(3000);
    expect(idx.distinct).toBe(3000);
    const q = Float64Array.from({ length: 300 * d }, () => r());
    q.set(pts.subarray(5 * d, 6 * d), 0); // an indexed point: distance 0
    const got = idx.distances(q);
    expect(Array.from(got)).toEqual(Array.from(brute(pts, q, d)));
    expect(got[0]).toBe(0);
    expect(got.filter((v) => v === 0).length).toBe(1);
  });

  it('equals brute force on clustered grid data full of duplicates and ties', () => {
    const r = rng(5);
    for (const [d, levels] of [
      [3, 3],
      [16, 4],
      [14, 10],
    ] as const) {
      const pts = gridPoints(5000, d, levels, r);
      const idx = NearestIndex.fromRows(pts, d);
      expect(idx.distinct).toBeLessThanOrEqual(3334);
      const q = new Float64Array([...gridPoints(200, d, levels, r), ...Float64Array.from({ length: 200 * d }, () => r())]);
      expect(Array.from(idx.distances(q))).toEqual(Array.from(brute(pts, q, d)));
    }
  });

  it('equals brute force above the in-cache subtree size (60,000 points, half of them repeats)', () => {
    const r = rng(9);
    const d = 6;
    const pts = gridPoints(60_000, d, 64, r);
    const idx = NearestIndex.fromRows(pts, d);
    expect(idx.distinct).toBeGreaterThan(16_384);
    const copies = Array.from({ length: 60 }, () => Math.floor(r() * 60_000)).flatMap((i) => Array.from(pts.subarray(i * d, (i + 1) * d)));
    const q = new Float64Array([...copies, ...gridPoints(60, d, 64, r), ...Float64Array.from({ length: 60 * d }, () => r() * 1.2 - 0.1)]);
    const got = idx.distances(q);
    expect(Array.from(got)).toEqual(Array.from(brute(pts, q, d)));
    expect(Array.from(got.subarray(0, 60))).toEqual(new Array(60).fill(0));
  });

  it('handles all-identical points, a single point, -0 and huge coordinates', () => {
    const d = 3;
    const same = new Float64Array(100 * d).fill(0.5);
    const idx = NearestIndex.fromRows(same, d);
    expect(idx.distinct).toBe(1);
    expect(Array.from(idx.distances(new Float64Array([0.5, 0.5, 0.5, 0.5, 0.5, 1.5])))).toEqual([0, 1]);
    const zero = NearestIndex.fromRows(new Float64Array([0, 0, 0]), d);
    expect(Array.from(zero.distances(new Float64Array([-0, 0, -0])))).toEqual([0]);
    const big = new Float64Array([1e12, 0, 0, 1e12 + 1, 0, 0, -1e12, 5, 5]);
    const q = new Float64Array([1e12 + 0.75, 0, 0, 0, 0, 0]);
    expect(Array.from(NearestIndex.fromRows(big, d).distances(q))).toEqual(Array.from(brute(big, q, d)));
  });

  it('property: equals brute force on arbitrary small point sets', () => {
    const coord = fc.oneof(fc.constantFrom(0, 0.25, 0.5, 1), fc.double({ min: -10, max: 10, noNaN: true }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.array(coord, { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 80 }), fc.array(fc.array(coord, { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 20 }), (d, rows, qs) => {
        const pts = Float64Array.from(rows.flatMap((row) => row.slice(0, d)));
        const q = Float64Array.from(qs.flatMap((row) => row.slice(0, d)));
        expect(Array.from(NearestIndex.fromRows(pts, d).distances(q))).toEqual(Array.from(brute(pts, q, d)));
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('rejects non-finite coordinates, ragged rows and queries against an empty index', () => {
    expect(() => NearestIndex.fromRows(new Float64Array([0, Number.NaN]), 2)).toThrow(InternalError);
    expect(() => NearestIndex.fromRows(new Float64Array([0, 1, 2]), 2)).toThrow(/not a multiple of dimension 2/);
    const empty = NearestIndex.fromRows(new Float64Array(0), 2);
    expect(empty.distances(new Float64Array(0)).length).toBe(0);
    expect(() => empty.distances(new Float64Array([0, 0]))).toThrow(/no points to search/);
    expect(() => NearestIndex.fromRows(new Float64Array([0, 1]), 2).distances(new Float64Array([1]))).toThrow(InternalError);
  });
});
