// Metric primitives against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { cdfPoints, emd, histogramInt, jsd, jsd2d, normaliseAcross, rankData, rankFrequency, rankJsd, spearman } from '../../src/eval/stats.js';
import { InputError } from '../../src/errors.js';

describe('jsd (natural log, scipy jensenshannon squared)', () => {
  it('is ln 2 for disjoint supports and 0 for equal ones', () => {
    expect(jsd([1, 0], [0, 1])).toBeCloseTo(Math.LN2, 12);
    expect(jsd([2, 6, 2], [1, 3, 1])).toBeCloseTo(0, 12);
  });
  it('matches the hand computation for p=[.5,.5], q=[1,0]', () => {
    // m = [.75,.25]; KL(p||m) = .5 ln(4/3); KL(q||m) = ln(4/3); JSD = .75 ln(4/3)
    expect(jsd([1, 1], [1, 0])).toBeCloseTo(0.75 * Math.log(4 / 3), 12);
    expect(jsd([1, 1], [1, 0], 'distance')).toBeCloseTo(Math.sqrt(0.75 * Math.log(4 / 3)), 12);
  });
  it('rejects empty distributions and length mismatch with InputError', () => {
    expect(() => jsd([0, 0], [1, 0])).toThrow(InputError);
    expect(() => jsd([1], [1, 0])).toThrow(/differ in length/);
  });
});

describe('emd (scipy wasserstein_distance)', () => {
  it('is the shift for a translated sample', () => {
    expect(emd([0, 1, 3], [5, 6, 8])).toBeCloseTo(5, 12);
  });
  it('handles unequal sizes and ties', () => {
    expect(emd([0], [1, 2])).toBeCloseTo(1.5, 12);
    // F_u = 2/3 and F_v = 1/3 on [0,1): area 1/3
    expect(emd([0, 0, 1], [0, 1, 1])).toBeCloseTo(1 / 3, 12);
    expect(emd([3, 1, 2], [2, 3, 1])).toBe(0);
  });
  it('rejects an empty sample', () => {
    expect(() => emd([], [1])).toThrow(InputError);
  });
});

describe('rank-frequency and exact histograms', () => {
  it('sorts counts descending and ignores identity', () => {
    expect(Array.from(rankFrequency([5, 5, 5, 7, 7, 9]))).toEqual([3, 2, 1]);
    expect(rankJsd(rankFrequency([1, 1, 2]), rankFrequency([8, 9, 9]))).toBe(0);
  });
  it('zero-pads to the longer vector: [2] vs [1,1] is JSD([1,0],[.5,.5])', () => {
    expect(rankJsd(rankFrequency([4, 4]), rankFrequency([1, 2]))).toBeCloseTo(0.75 * Math.log(4 / 3), 12);
  });
  it('clips out-of-range values into the edge bins', () => {
    expect(Array.from(histogramInt([-3, 0, 2, 9], 3))).toEqual([2, 0, 2]);
  });
});

describe('ranks and Spearman', () => {
  it('averages tied ranks like scipy.rankdata', () => {
    expect(Array.from(rankData([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
  });
  it('is ±1 for monotone relations and NaN for constants', () => {
    expect(spearman([1, 2, 3, 4], [10, 100, 1000, 1e4])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('jsd2d, normalisation and CDF points', () => {
  it('is 0 for the same joint sample and ln 2 for disjoint cells', () => {
    expect(jsd2d([0, 1, 2], [0, 1, 2], [2, 1, 0], [2, 1, 0])).toBe(0);
    expect(jsd2d([0, 10], [0, 10], [0, 0], [10, 10], 2)).toBeCloseTo(jsd([1, 0, 0, 1], [0, 2, 0, 0]), 12);
  });
  it('maps min to 0.1 and max to 0.9', () => {
    expect(normaliseAcross([1, 3, 2, null])).toEqual([0.1, 0.9, 0.5, null]);
    expect(normaliseAcross([2, 2])).toEqual([0.5, 0.5]);
  });
  it('downsamples a CDF to at most the requested points, ending at 1', () => {
    const s = Float64Array.from({ length: 1000 }, (_, i) => i);
    const p = cdfPoints(s, 200);
    expect(p.length).toBe(200);
    expect(p[p.length - 1]).toEqual([999, 1]);
  });
});

describe('argsort (radix)', () => {
  it('matches a stable comparator sort on mixed signs, ties, fractions and big timestamps', async () => {
    const { argsort } = await import('../../src/eval/stats.js');
    const { testRng } = await import('./helpers.js');
    const r = testRng(9);
    const v = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 3 : i % 5 === 0 ? -r() * 1e6 : i % 3 === 0 ? 1.46e15 + Math.floor(r() * 1e9) + 0.25 : r()));
    v.push(0, -Infinity, Infinity);
    const want = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]! || a - b);
    const got = Array.from(argsort(v));
    expect(got.map((i) => v[i])).toEqual(want.map((i) => v[i]));
    // stability among equal keys
    const threes = got.filter((i) => v[i] === 3);
    expect(threes).toEqual([...threes].sort((a, b) => a - b));
  });
});

describe('fast paths', () => {
  it('rankFrequency on uint32 addresses (hash count, 0 included) equals the sort-based count', () => {
    const v = Uint32Array.of(0, 5, 5, 0xffffffff, 0, 0, 9, 5);
    expect(Array.from(rankFrequency(v))).toEqual([3, 3, 1, 1]);
    expect(Array.from(rankFrequency(Array.from(v)))).toEqual([3, 3, 1, 1]);
  });
  it('sortedCopy: sorted input, small integers (counting sort) and floats all sort ascending', async () => {
    const { sortedCopy } = await import('../../src/eval/stats.js');
    expect(Array.from(sortedCopy(Uint32Array.of(40, 1500, 40, 0, 576)))).toEqual([0, 40, 40, 576, 1500]);
    expect(Array.from(sortedCopy([1, 2, 2, 3]))).toEqual([1, 2, 2, 3]);
    expect(Array.from(sortedCopy([2.5, -1, 1e9, 0]))).toEqual([-1, 0, 2.5, 1e9]);
  });
});
