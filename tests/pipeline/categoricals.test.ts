// postprocess.attributeCategoricals "sample": categorical attribute heads drawn from the generator's softmax.
import { describe, expect, it } from 'vitest';
import { categoricalRng, categoricalSlices, drawIndex, featureSoftmaxSlices, sampleCategoricals, sampleFeatureCategoricals } from '../../src/pipeline/categoricals.js';
import type { Layout } from '../../src/encode/tensors.js';

// srcip as ipTop (4 classes + bits), a 2-way bits head, the flow tags, 3 flow-start bins and the position
const layout: Layout = {
  attributes: [
    { name: 'srcip', kind: 'attribute', offset: 0, dim: 4, activation: 'softmax', groupSize: 4, discrete: true, encoding: 'ipTop' },
    { name: 'srcip.bits', kind: 'attribute', offset: 4, dim: 4, activation: 'softmax', groupSize: 2, discrete: true, encoding: 'ipBits' },
    { name: 'flow_tags', kind: 'attribute', offset: 8, dim: 4, activation: 'softmax', groupSize: 2, discrete: true, encoding: 'multichunk_dep_v2' },
    { name: 'flow_start_bin', kind: 'attribute', offset: 12, dim: 3, activation: 'softmax', groupSize: 3, discrete: true, encoding: 'flowStartBin' },
    { name: 'flow_start', kind: 'attribute', offset: 15, dim: 1, activation: 'sigmoid', discrete: false, encoding: 'flowStart' },
  ],
  features: [],
  attributeDim: 16,
  featureDim: 1,
  genFlag: { dim: 2, activation: 'softmax' },
};

function rows(n: number): { soft: Float32Array; discrete: Float32Array } {
  const soft = new Float32Array(n * 16);
  const discrete = new Float32Array(n * 16);
  for (let r = 0; r < n; r++) {
    soft.set([0.5, 0.3, 0.2, 0, 0.6, 0.4, 0.45, 0.55, 0.9, 0.1, 0.2, 0.8, 0.4, 0.35, 0.25, 0.7], r * 16);
    discrete.set([1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0.7], r * 16);
  }
  return { soft, discrete };
}

describe('categorical attribute heads drawn from the softmax', () => {
  it('only heads of one softmax over > 2 choices, not bits, flow tags or flow-start bins', () => {
    expect(categoricalSlices(layout).map((s) => s.offset)).toEqual([0]);
  });
  it('`only` draws the chosen rows as a draw over all rows would, leaves the others at their arg-max', () => {
    const n = 500;
    const all = rows(n);
    sampleCategoricals(all.soft, all.discrete, layout, 9);
    const some = rows(n);
    const argmax = some.discrete.slice();
    sampleCategoricals(some.soft, some.discrete, layout, 9, 0, undefined, (r) => r % 3 !== 0);
    for (let r = 0; r < n; r++) {
      const got = Array.from(some.discrete.subarray(r * 16, r * 16 + 16));
      expect(got).toEqual(Array.from((r % 3 !== 0 ? all.discrete : argmax).subarray(r * 16, r * 16 + 16)));
    }
  });
  it('draws follow the softmax (50/30/20/0), one-hot, seeded; every other slice untouched', () => {
    const n = 20_000;
    const { soft, discrete } = rows(n);
    const before = discrete.slice();
    sampleCategoricals(soft, discrete, layout, 7);
    const count = [0, 0, 0, 0];
    for (let r = 0; r < n; r++) {
      const o = r * 16;
      const head = Array.from(discrete.subarray(o, o + 4));
      expect(head.reduce((a, b) => a + b, 0)).toBe(1);
      count[head.indexOf(1)]!++;
      expect(Array.from(discrete.subarray(o + 4, o + 16))).toEqual(Array.from(before.subarray(o + 4, o + 16)));
    }
    // 4 standard errors of a binomial share over 20,000 draws is ≤ 0.0142
    expect(Math.abs(count[0]! / n - 0.5)).toBeLessThan(0.0142);
    expect(Math.abs(count[1]! / n - 0.3)).toBeLessThan(0.0142);
    expect(Math.abs(count[2]! / n - 0.2)).toBeLessThan(0.0142);
    expect(count[3]).toBe(0);
    const again = rows(n);
    sampleCategoricals(again.soft, again.discrete, layout, 7);
    expect(again.discrete).toEqual(discrete);
    const other = rows(n);
    sampleCategoricals(other.soft, other.discrete, layout, 8);
    expect(other.discrete).not.toEqual(discrete);
    // rows given in parts with one categoricalRng carried over (the attribute job's calls within a block): the draws
    // of the whole; a stream of its own per part would not be
    const parts = rows(n);
    const rng = categoricalRng(7, 0);
    const cut = 7_001 * 16;
    sampleCategoricals(parts.soft.subarray(0, cut), parts.discrete.subarray(0, cut), layout, 7, 0, rng);
    sampleCategoricals(parts.soft.subarray(cut), parts.discrete.subarray(cut), layout, 7, 0, rng);
    expect(parts.discrete).toEqual(discrete);
    const fresh = rows(n);
    sampleCategoricals(fresh.soft.subarray(0, cut), fresh.discrete.subarray(0, cut), layout, 7);
    sampleCategoricals(fresh.soft.subarray(cut), fresh.discrete.subarray(cut), layout, 7);
    expect(fresh.discrete).not.toEqual(discrete);
  });
});

describe('sampleCategoricals in the native addon', () => {
  it('draws what drawIndex draws with the same stream, over soft values with negatives, zeros, −0, NaN and all-zero heads', () => {
    // two categorical heads (4- and 9-way) around a bits head
    const wide: Layout = {
      ...layout,
      attributes: [
        { name: 'a', kind: 'attribute', offset: 0, dim: 4, activation: 'softmax', groupSize: 4, discrete: true, encoding: 'categorical' },
        { name: 'b.bits', kind: 'attribute', offset: 4, dim: 2, activation: 'softmax', groupSize: 2, discrete: true, encoding: 'ipBits' },
        { name: 'c', kind: 'attribute', offset: 6, dim: 9, activation: 'softmax', groupSize: 9, discrete: true, encoding: 'categorical' },
        { name: 'flow_start', kind: 'attribute', offset: 15, dim: 1, activation: 'sigmoid', discrete: false, encoding: 'flowStart' },
      ],
    };
    expect(categoricalSlices(wide).map((sl) => [sl.offset, sl.dim])).toEqual([[0, 4], [6, 9]]);
    const n = 3000;
    const soft = new Float32Array(n * 16);
    let x = 99;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < soft.length; i++) {
      const r = next();
      soft[i] = r < 0.3 ? 0 : r < 0.35 ? -0 : r < 0.45 ? -next() : r < 0.46 ? NaN : next();
    }
    // whole heads of zeros (the uniform pick)
    for (let r = 0; r < n; r += 17) soft.fill(0, r * 16, r * 16 + 4);
    const only = (r: number): boolean => r % 5 !== 2;
    const discrete = soft.slice();
    sampleCategoricals(soft, discrete, wide, 11, 3, undefined, only);
    const rng = categoricalRng(11, 3);
    const want = soft.slice();
    for (let r = 0; r < n; r++) {
      for (const [off, dim] of [[0, 4], [6, 9]] as const) {
        const u = rng.next();
        if (!only(r)) continue;
        const pick = drawIndex(soft, r * 16 + off, dim, u);
        for (let i = 0; i < dim; i++) want[r * 16 + off + i] = i === pick ? 1 : 0;
      }
    }
    expect(Array.from(discrete)).toEqual(Array.from(want));
  });
});

describe('softmax feature heads drawn at decode (postprocess.featureCategoricals)', () => {
  // per record: a 3-way TCP-flags categorical, a pkt_len topValues head (2 values + other) and its value
  const fl: Layout = {
    attributes: [],
    features: [
      { name: 'tcp_flags', kind: 'feature', offset: 0, dim: 3, activation: 'softmax', groupSize: 3, discrete: true, encoding: 'categorical' },
      { name: 'pkt_len.top', kind: 'feature', offset: 3, dim: 3, activation: 'softmax', groupSize: 3, discrete: true, encoding: 'topValues' },
      { name: 'pkt_len', kind: 'feature', offset: 6, dim: 1, activation: 'sigmoid', discrete: false, encoding: 'continuous' },
    ],
    attributeDim: 0,
    featureDim: 7,
    genFlag: { dim: 2, activation: 'softmax' },
  };
  const tensor = (n: number, T: number): Float32Array => {
    const f = new Float32Array(n * T * 7);
    for (let i = 0; i < n * T; i++) f.set([0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.42], i * 7);
    return f;
  };
  it('every softmax head of one softmax, not the value heads', () => {
    expect(featureSoftmaxSlices(fl).map((s) => s.offset)).toEqual([0, 3]);
  });
  it('draws follow the softmax of each head per step, one-hot, keyed by the flow (same key, same draws); value heads untouched', () => {
    const n = 4000;
    const T = 5;
    const f = tensor(n, T);
    sampleFeatureCategoricals(f, n, T, fl, (r) => r * 2654435761);
    const flags = [0, 0, 0];
    const top = [0, 0, 0];
    for (let i = 0; i < n * T; i++) {
      const o = i * 7;
      const a = Array.from(f.subarray(o, o + 3));
      const b = Array.from(f.subarray(o + 3, o + 6));
      expect(a.reduce((x, y) => x + y, 0)).toBe(1);
      expect(b.reduce((x, y) => x + y, 0)).toBe(1);
      flags[a.indexOf(1)]!++;
      top[b.indexOf(1)]!++;
      expect(f[o + 6]).toBeCloseTo(0.42, 6);
    }
    // 4 standard errors of a binomial share over 20,000 draws is <= 0.0142
    for (const [c, p] of [[flags, [0.6, 0.3, 0.1]], [top, [0.2, 0.2, 0.6]]] as const) for (let k = 0; k < 3; k++) expect(Math.abs(c[k]! / (n * T) - p[k]!)).toBeLessThan(0.0142);
    // the steps of one flow are not one draw repeated
    let varied = 0;
    for (let r = 0; r < n; r++) {
      const first = f.subarray(r * T * 7, r * T * 7 + 3).indexOf(1);
      for (let t = 1; t < T; t++) if (f.subarray((r * T + t) * 7, (r * T + t) * 7 + 3).indexOf(1) !== first) { varied++; break; }
    }
    expect(varied).toBeGreaterThan(n / 2);
    const again = tensor(n, T);
    sampleFeatureCategoricals(again, n, T, fl, (r) => r * 2654435761);
    expect(again).toEqual(f);
    const other = tensor(n, T);
    sampleFeatureCategoricals(other, n, T, fl, (r) => r * 2654435761 + 1);
    expect(other).not.toEqual(f);
  });
  it('packed records (lengths) get the draws of the same flow and step of the dense tensor', () => {
    const n = 50;
    const T = 5;
    const dense = tensor(n, T);
    sampleFeatureCategoricals(dense, n, T, fl, (r) => r * 2654435761);
    const lengths = Uint32Array.from({ length: n }, (_, i) => 1 + ((i * 7) % T));
    const total = lengths.reduce((a, b) => a + b, 0);
    const packed = new Float32Array(total * 7);
    for (let i = 0; i < total; i++) packed.set([0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.42], i * 7);
    sampleFeatureCategoricals(packed, n, 0, fl, (r) => r * 2654435761, lengths);
    let r = 0;
    for (let i = 0; i < n; i++) for (let t = 0; t < lengths[i]!; t++, r++) expect(Array.from(packed.subarray(r * 7, r * 7 + 7))).toEqual(Array.from(dense.subarray((i * T + t) * 7, (i * T + t) * 7 + 7)));
  });
});
