// Field encoders: inverse(transform(x)) exact for discrete fields, within float32 quantisation for continuous ones; JSON state.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitsEncoder, CategoricalEncoder, ContinuousEncoder, EmbeddingEncoder, IpBitsEncoder } from '../../src/encode/fields.js';
import { CosineIndex } from '../../src/encode/knn.js';
import { Rng } from '../../src/core/rng.js';
import { normalizeRows } from '../../src/encode/word2vec.js';

describe('IP bits', () => {
  it('IPv4: 32 bits MSB first, each a 2-way one-hot, exact inverse', () => {
    const e = new IpBitsEncoder('srcip', 32);
    const out = new Float32Array(64);
    e.encode4(0x80000001, out, 0);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 1, 1, 0]); // MSB = 1, next bit 0
    expect(Array.from(out.subarray(60, 64))).toEqual([1, 0, 0, 1]); // LSB = 1
    fc.assert(
      fc.property(fc.nat(0xffffffff), (ip) => {
        const o = new Float32Array(64);
        e.encode4(ip, o, 0);
        for (let b = 0; b < 32; b++) expect(o[2 * b]! + o[2 * b + 1]!).toBe(1);
        expect(e.decode(o, 0)).toEqual({ version: 4, v4: ip });
      }),
    );
  });
  it('IPv6: 128 bits, IPv4 kept as v4 through ::ffff: mapping', () => {
    const e = new IpBitsEncoder('dstip', 128);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const o = new Float32Array(256);
        e.encode6(bytes, 0, o, 0);
        const d = e.decode(o, 0);
        const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
        if (!mapped) expect(Array.from(d.v6!)).toEqual(Array.from(bytes));
      }),
    );
    const o = new Float32Array(256);
    e.encode4(0x0a000001, o, 0);
    expect(e.decode(o, 0)).toEqual({ version: 4, v4: 0x0a000001 });
  });
  it('port bits (the alternative to word2vec): exact', () => {
    const e = new BitsEncoder('srcport', 16);
    fc.assert(
      fc.property(fc.nat(65535), (p) => {
        const o = new Float32Array(32);
        e.encode(p, o, 0);
        expect(e.decode(o, 0)).toBe(p);
      }),
    );
  });
});

describe('categorical', () => {
  it('choices in a stable order (given first, unseen values sorted), exact inverse, JSON round trip', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('b', 'a', 'c', 'zz', '---'), { minLength: 1, maxLength: 50 }), (vals) => {
        const e = new CategoricalEncoder('type', ['zz']);
        e.fit(vals);
        const again = new CategoricalEncoder('type', ['zz']);
        again.fit([...vals].reverse());
        expect(again.choices).toEqual(e.choices);
        expect(e.choices[0]).toBe('zz');
        const rest = e.choices.slice(1);
        expect(rest).toEqual([...rest].sort());
        const back = CategoricalEncoder.fromJSON(JSON.parse(JSON.stringify(e.toJSON())));
        for (const v of vals) {
          const o = new Float32Array(e.dim);
          e.encode(v, o, 0);
          expect(o.reduce((a, b) => a + b, 0)).toBe(1);
          expect(back.decode(o, 0)).toBe(v);
        }
      }),
    );
  });
  it('fixed choices reject unseen values', () => {
    const e = new CategoricalEncoder('flag', [0, 1, 2], true);
    expect(() => e.fit([0, 5])).toThrow(/outside its fixed choices/);
  });
});

describe('continuous', () => {
  const cases = [
    ['zeroOne', false],
    ['minusOneOne', false],
    ['zeroOne', true],
    ['minusOneOne', true],
  ] as const;
  for (const [norm, log] of cases) {
    it(`${norm}${log ? ' + log1p' : ''}: inverse within float32 quantisation of the range`, () => {
      fc.assert(
        fc.property(fc.array(fc.double({ min: 0, max: 1e9, noNaN: true }), { minLength: 2, maxLength: 100 }), (xs) => {
          const e = new ContinuousEncoder('x', norm, log);
          e.fit(xs);
          const back = ContinuousEncoder.fromJSON(JSON.parse(JSON.stringify(e.toJSON())));
          const span = e.max - e.min;
          for (const x of xs) {
            const o = new Float32Array(1);
            e.encode(x, o, 0);
            const lo = norm === 'zeroOne' ? 0 : -1;
            expect(o[0]).toBeGreaterThanOrEqual(lo);
            expect(o[0]).toBeLessThanOrEqual(1);
            const y = back.decode(o, 0);
            // error in the normalised domain ≤ 2^-24 relative (float32) → in x: span · 2^-23, through expm1 when log
            const epsY = span * 2 ** -22 + 1e-12;
            const tol = log ? (1 + x) * Math.expm1(epsY) + 1e-9 : epsY;
            expect(Math.abs(y - x)).toBeLessThanOrEqual(tol);
          }
        }),
        { numRuns: 200 },
      );
    });
  }
  it('integral data decodes to the exact integer', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1500), { minLength: 2, maxLength: 100 }), (xs) => {
        const e = new ContinuousEncoder('pkt_len', 'zeroOne', false);
        e.fit(xs);
        for (const x of xs) {
          const o = new Float32Array(1);
          e.encode(x, o, 0);
          expect(e.decode(o, 0)).toBe(x);
        }
      }),
    );
  });
  it('fixed (DP) ranges are used as given and clamp data outside them', () => {
    const e = new ContinuousEncoder('ttl', 'zeroOne', false, 1, 255);
    e.fit([5, 300]);
    expect([e.min, e.max]).toEqual([1, 255]);
    const o = new Float32Array(1);
    e.encode(300, o, 0);
    expect(o[0]).toBe(1);
  });
});

describe('embeddings decode by exact cosine nearest neighbour', () => {
  it('the k-d tree agrees with brute force', () => {
    const rng = new Rng(7, 'test');
    const n = 3000;
    const dim = 10;
    const v = new Float32Array(n * dim);
    for (let i = 0; i < v.length; i++) v[i] = rng.next() * 2 - 1;
    normalizeRows(v, dim);
    const idx = new CosineIndex(v, n, dim);
    for (let q = 0; q < 300; q++) {
      const query = new Float64Array(dim);
      for (let d = 0; d < dim; d++) query[d] = rng.next() * 2 - 1;
      let best = -1;
      let bestCos = -Infinity;
      for (let i = 0; i < n; i++) {
        let c = 0;
        for (let d = 0; d < dim; d++) c += v[i * dim + d]! * query[d]!;
        if (c > bestCos) {
          bestCos = c;
          best = i;
        }
      }
      const got = idx.nearest(query);
      let gc = 0;
      for (let d = 0; d < dim; d++) gc += v[got * dim + d]! * query[d]!;
      expect(gc).toBeCloseTo(bestCos, 6);
      if (got !== best) expect(Math.abs(gc - bestCos)).toBeLessThan(1e-6);
    }
  });
  it('every vocabulary value encodes and decodes to itself', () => {
    const rng = new Rng(3, 'test');
    const values = Array.from({ length: 500 }, (_, i) => i * 7);
    const v = new Float32Array(500 * 10);
    for (let i = 0; i < v.length; i++) v[i] = rng.next() - 0.5;
    normalizeRows(v, 10);
    const e = new EmbeddingEncoder('srcport', 'word2vecPort', values, v, 10);
    for (const x of values) {
      const o = new Float32Array(10);
      e.encode(x, o, 0);
      expect(e.decode(o, 0)).toBe(x);
      // a perturbed vector still decodes to a vocabulary value
      o[0]! += 0.01;
      expect(values).toContain(e.decode(o, 0));
    }
  });
});
