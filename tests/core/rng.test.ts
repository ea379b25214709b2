// The one seeded generator: xoshiro128** output, streams keyed by (seed, purpose), ranges, state round trips, uniformity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';

const draws = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.nextU32());

describe('Rng', () => {
  it('is xoshiro128**: the reference implementation’s outputs from state {1, 2, 3, 4}', () => {
    // reference: prng.di.unimi.it/xoshiro128starstar.c compiled with cc, same state
    const r = new Rng(0, 'kat');
    r.setState({ seed: 0, purpose: 'kat', words: [1, 2, 3, 4] });
    const out = draws(r, 1000);
    expect(out.slice(0, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    expect(out[999]).toBe(3170714187);
    expect(r.state().words).toEqual([2954884481, 294556968, 2598411021, 550772539]);
  });

  it('is deterministic: the same (seed, purpose) gives the same stream; other seeds or purposes give others', () => {
    expect(draws(new Rng(7, 'word2vec'), 50)).toEqual(draws(Rng.forPurpose(7, 'word2vec'), 50));
    const base = draws(new Rng(7, 'word2vec'), 50);
    for (const other of [new Rng(8, 'word2vec'), new Rng(7, 'word2vec2'), new Rng(7 + 2 ** 32, 'word2vec'), new Rng(-7, 'word2vec')]) {
      const o = draws(other, 50);
      // unrelated streams: equal 32-bit words by chance only (expected 50 / 2^32)
      expect(o.filter((v, i) => v === base[i]).length).toBe(0);
    }
  });

  it('derives substreams from the key alone: draws, or other substreams created first, never shift them', () => {
    const fresh = draws(Rng.forPurpose(3, 'train/noise'), 20);
    const parent = Rng.forPurpose(3, 'train');
    draws(parent, 17);
    parent.substream('batches');
    parent.substream('gp-alpha').next();
    expect(draws(parent.substream('noise'), 20)).toEqual(fresh);
    // a substream is not its parent and different names differ
    const a = draws(Rng.forPurpose(3, 'train').substream('a'), 20);
    const b = draws(Rng.forPurpose(3, 'train').substream('b'), 20);
    const p = draws(Rng.forPurpose(3, 'train'), 20);
    expect(a.filter((v, i) => v === b[i] || v === p[i]).length).toBe(0);
  });

  it('next() is in [0, 1), nextOpen() in (0, 1), at both ends of the uint32 range', () => {
    const r = new Rng(1, 'range');
    r.nextU32 = () => 0;
    expect(r.next()).toBe(0);
    expect(r.nextOpen()).toBeGreaterThan(0);
    expect(Number.isFinite(r.normal())).toBe(true);
    r.nextU32 = () => 0xffffffff;
    expect(r.next()).toBeLessThan(1);
    expect(r.nextOpen()).toBeLessThan(1);
    expect(r.int(10)).toBe(9);
    // and on real draws
    const q = new Rng(2, 'range');
    for (let i = 0; i < 10000; i++) {
      const u = q.next();
      const v = q.nextOpen();
      expect(u >= 0 && u < 1 && v > 0 && v < 1).toBe(true);
    }
  });

  it('state() round-trips through JSON and continues the exact stream; a mismatched or zero state is refused', () => {
    const r = new Rng(11, 'train/batches');
    draws(r, 123);
    r.normals(7);
    const saved = JSON.parse(JSON.stringify(r.state())) as ReturnType<Rng['state']>;
    const cont = [...draws(r, 30), r.int(1000), r.next(), ...r.normals(5)];
    const back = Rng.fromState(saved);
    expect([...draws(back, 30), back.int(1000), back.next(), ...back.normals(5)]).toEqual(cont);
    const r2 = new Rng(11, 'train/batches');
    r2.setState(saved);
    expect(draws(r2, 30)).toEqual(cont.slice(0, 30));
    expect(() => new Rng(11, 'train/noise').setState(saved)).toThrow(/train\/batches/);
    expect(() => r2.setState({ ...saved, words: [0, 0, 0, 0] })).toThrow(RangeError);
    expect(() => r2.setState({ ...saved, words: [1, 2, 3] as unknown as [number, number, number, number] })).toThrow(RangeError);
  });

  it('int(n) is the high word of x·n (exact 64-bit product) and rejects exactly the low words below 2^32 mod n', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 2 ** 32 - 1 }), (x, n) => {
      const r = new Rng(1, 'int');
      let calls = 0;
      r.nextU32 = () => {
        if (calls++ > 0) throw new Error('redraw');
        return x;
      };
      const prod = BigInt(x) * BigInt(n);
      const rejected = (prod & 0xffffffffn) < (2n ** 32n - BigInt(n)) % BigInt(n);
      let got: number | 'redraw';
      try {
        got = r.int(n);
      } catch {
        got = 'redraw';
      }
      return rejected ? got === 'redraw' : got === Number(prod >> 32n);
    }), { numRuns: 2000 });
    // the boundary words of the widest bounds
    const r = new Rng(1, 'int');
    for (const [x, n] of [[0xffffffff, 0xffffffff], [0xffffffff, 2 ** 31 + 1], [0x80000000, 3_000_000_001], [1, 2 ** 32 - 1]] as const) {
      r.nextU32 = () => x;
      expect(r.int(n)).toBe(Number((BigInt(x) * BigInt(n)) >> 32n));
    }
  });

  it('refuses non-integer seeds, empty purposes and bad bounds', () => {
    expect(() => new Rng(1.5, 'x')).toThrow(RangeError);
    expect(() => new Rng(Number.NaN, 'x')).toThrow(RangeError);
    expect(() => new Rng(1, '')).toThrow(RangeError);
    expect(() => new Rng(1, 'x').substream('')).toThrow(RangeError);
    for (const n of [0, -1, 2.5, 2 ** 32 + 1, Number.NaN]) expect(() => new Rng(1, 'x').int(n)).toThrow(RangeError);
  });

  it('is uniform: mean and variance of 1e5 draws, a χ² over int(10), normals N(0, 1)', () => {
    const r = new Rng(5, 'uniformity');
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      s += u;
      s2 += u * u;
    }
    const mean = s / n;
    // standard error of the mean 0.29/√n ≈ 0.0009 and of the variance ≈ 0.0002: bounds at ~5σ
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.001);

    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) counts[r.int(10)]!++;
    const chi2 = counts.reduce((a, c) => a + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(33.7); // χ²(9) at p = 1e-4

    const z = r.normals(n);
    let m = 0;
    let v = 0;
    for (const x of z) m += x;
    m /= n;
    for (const x of z) v += (x - m) ** 2;
    v /= n;
    expect(Math.abs(m)).toBeLessThan(0.016);
    expect(Math.abs(v - 1)).toBeLessThan(0.025);
    const u = r.uniforms(1000, -2, 3);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThanOrEqual(3);
    // bounds above 2^21 take the modulo path; still in range and spread over it
    const big = Array.from({ length: 1000 }, () => r.int(3_000_000_000));
    expect(big.every((x) => Number.isInteger(x) && x >= 0 && x < 3_000_000_000)).toBe(true);
    expect(Math.max(...big)).toBeGreaterThan(2_500_000_000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 32 }), fc.integer(), (n, s) => {
      const v = new Rng(s, 'int').int(n);
      return Number.isInteger(v) && v >= 0 && v < n;
    }));
  });

  it('shuffles in place into a permutation, reproducibly', () => {
    const a = Int32Array.from({ length: 100 }, (_, i) => i);
    const b = Int32Array.from({ length: 100 }, (_, i) => i);
    new Rng(9, 'shuffle').shuffle(a);
    new Rng(9, 'shuffle').shuffle(b);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe('Rng.sampleIndices', () => {
  it('draws `k` distinct ascending indices of [0, n), the same for the same seed, all of them when k ≥ n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 600 }), fc.integer(), (n, k, seed) => {
        const a = Rng.forPurpose(seed, 't').sampleIndices(n, k);
        expect(a.length).toBe(Math.min(n, k));
        for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThan(a[i - 1]!);
        if (a.length) expect(a[a.length - 1]!).toBeLessThan(n);
        expect(Rng.forPurpose(seed, 't').sampleIndices(n, k)).toEqual(a);
      }),
    );
  });

  it('is uniform: every index about equally often', () => {
    const hits = new Array<number>(20).fill(0);
    const r = Rng.forPurpose(1, 'uniform');
    for (let t = 0; t < 4000; t++) for (const i of r.sampleIndices(20, 5)) hits[i]!++;
    // 1,000 expected each (4,000 × 5 / 20); a 5-σ band
    for (const h of hits) expect(Math.abs(h - 1000)).toBeLessThan(5 * Math.sqrt(1000 * 0.75));
  });
});
