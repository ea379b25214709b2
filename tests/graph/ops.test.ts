// Every op: onnxruntime vs the float64 reference interpreter on random shapes; every gradient rule: finite differences + onnxruntime.
import { describe, expect, it } from 'vitest';
import * as b from '../../src/graph/api.js';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { Graph, type Dim, type Value } from '../../src/graph/ir.js';
import { GRADS } from '../../src/graph/grad/index.js';
import * as elementwiseGrads from '../../src/graph/grad/elementwise.js';
import * as shapeGrads from '../../src/graph/grad/shape.js';
import { OPS } from '../../src/graph/ops/index.js';
import { Rng } from '../../src/core/rng.js';
import { Tensor } from '../../src/graph/tensor.js';
import { closeness, runOrt } from './helpers.js';

interface Built {
  out: Value;
  wrt: Value[];
}
interface Ctx {
  g: Graph;
  rng: Rng;
  feeds: Record<string, Tensor>;
  /** Random float input; values in [lo, hi), kept ≥ `gap` away from 0 when gap > 0. */
  x(shape: readonly number[], opts?: { lo?: number; hi?: number; gap?: number; sym?: boolean }): Value;
  dims(rank: number, max?: number): number[];
}
interface Case {
  name: string;
  ops: string[];
  diff: boolean;
  build(c: Ctx): Built;
}

function ctx(seed: number): Ctx {
  const g = new Graph();
  const rng = new Rng(seed, 'test');
  const feeds: Record<string, Tensor> = {};
  let k = 0;
  return {
    g,
    rng,
    feeds,
    x(shape, opts = {}) {
      const lo = opts.lo ?? -2;
      const hi = opts.hi ?? 2;
      const gap = opts.gap ?? 0;
      const n = shape.reduce((p, q) => p * q, 1);
      const data = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let v = lo + (hi - lo) * rng.next();
        if (gap > 0 && Math.abs(v) < gap) v = v < 0 ? v - gap : v + gap;
        data[i] = Math.fround(v);
      }
      const name = `x${k++}`;
      feeds[name] = new Tensor('float32', shape, data);
      const declared: Dim[] = opts.sym ? ['N', ...shape.slice(1)] : [...shape];
      return g.input(name, declared);
    },
    dims(rank, max = 4) {
      return Array.from({ length: rank }, () => 1 + rng.int(max));
    },
  };
}

const unaryCases: [string, (v: Value) => Value, { lo?: number; hi?: number; gap?: number }][] = [
  ['Neg', b.neg, {}],
  ['Abs', b.abs, { gap: 0.1 }],
  ['Sqrt', b.sqrt, { lo: 0.2, hi: 3 }],
  ['Exp', b.exp, {}],
  ['Log', b.log, { lo: 0.2, hi: 3 }],
  ['Relu', b.relu, { gap: 0.1 }],
  ['LeakyRelu', (v) => b.leakyRelu(v, 0.2), { gap: 0.1 }],
  ['Sigmoid', b.sigmoid, {}],
  ['Tanh', b.tanh, {}],
  ['Identity', (v) => b.identity(v), {}],
];

const binaryCases: [string, (p: Value, q: Value) => Value, { lo?: number; hi?: number; gap?: number }, { lo?: number; hi?: number; gap?: number }][] = [
  ['Add', b.add, {}, {}],
  ['Sub', b.sub, {}, {}],
  ['Mul', b.mul, {}, {}],
  ['Div', b.div, {}, { gap: 0.3 }],
  ['Pow', b.pow, { lo: 0.3, hi: 2 }, { lo: -1.5, hi: 1.5 }],
];

const cases: Case[] = [
  ...unaryCases.map(([op, f, o]): Case => ({ name: op, ops: [op], diff: true, build: (c) => { const x = c.x(c.dims(1 + c.rng.int(3)), o); return { out: f(x), wrt: [x] }; } })),
  ...binaryCases.map(([op, f, oa, ob]): Case => ({
    name: `${op} (broadcast)`,
    ops: [op],
    diff: true,
    build: (c) => {
      const s = c.dims(3);
      const t = s.map((d) => (c.rng.next() < 0.4 ? 1 : d)).slice(c.rng.int(2));
      const x = c.x(s, oa);
      const y = c.x(t, ob);
      return { out: op !== 'Pow' && c.rng.next() < 0.5 ? f(y, x) : f(x, y), wrt: [x, y] };
    },
  })),
  {
    name: 'Max/Min (no ties)',
    ops: ['Max', 'Min'],
    diff: true,
    build: (c) => {
      const s = c.dims(2);
      const x = c.x(s);
      const y = b.add(x, c.x([s[1]!], { gap: 0.2 }));
      return { out: b.add(b.max(x, y), b.mul(b.min(y, x), 3)), wrt: [x] };
    },
  },
  { name: 'MatMul 2-D', ops: ['MatMul'], diff: true, build: (c) => { const [m, k, n] = c.dims(3, 5); const x = c.x([m!, k!]); const w = c.x([k!, n!]); return { out: b.matmul(x, w), wrt: [x, w] }; } },
  { name: 'MatMul batched + broadcast', ops: ['MatMul'], diff: true, build: (c) => { const [bt, m, k, n] = c.dims(4); const x = c.x([bt!, m!, k!]); const w = c.x([k!, n!]); return { out: b.matmul(x, w), wrt: [x, w] }; } },
  { name: 'MatMul per-example weights', ops: ['MatMul'], diff: true, build: (c) => { const [bt, k, n] = c.dims(3); const x = c.x([bt!, 1, k!]); const w = c.x([bt!, k!, n!]); return { out: b.matmul(x, w), wrt: [x, w] }; } },
  { name: 'CumSum', ops: ['CumSum'], diff: true, build: (c) => { const s = c.dims(3); const x = c.x(s); return { out: b.cumSum(x, c.rng.int(3) - 1, { exclusive: c.rng.int(2) === 1, reverse: c.rng.int(2) === 1 }), wrt: [x] }; } },
  { name: 'Softmax', ops: ['Softmax'], diff: true, build: (c) => { const s = c.dims(3); const x = c.x(s); return { out: b.softmax(x, c.rng.int(3) - 1), wrt: [x] }; } },
  { name: 'LogSoftmax', ops: ['LogSoftmax'], diff: true, build: (c) => { const s = c.dims(2, 6); const x = c.x(s); return { out: b.logSoftmax(x, c.rng.int(2)), wrt: [x] }; } },
  { name: 'ReduceSum', ops: ['ReduceSum'], diff: true, build: (c) => { const s = c.dims(3); const x = c.x(s); return { out: b.reduceSum(x, c.rng.next() < 0.5 ? [0, 2] : [1], c.rng.next() < 0.5), wrt: [x] }; } },
  { name: 'ReduceMean', ops: ['ReduceMean'], diff: true, build: (c) => { const s = c.dims(3); const x = c.x(s); return { out: b.reduceMean(x, c.rng.next() < 0.5 ? [-1] : [0, 1], c.rng.next() < 0.5), wrt: [x] }; } },
  { name: 'ReduceMean over a symbolic batch', ops: ['ReduceMean', 'Shape', 'Size', 'Expand'], diff: true, build: (c) => { const x = c.x([3 + c.rng.int(3), 2], { sym: true }); return { out: b.reduceMean(b.mul(x, x), [0]), wrt: [x] }; } },
  { name: 'Concat', ops: ['Concat'], diff: true, build: (c) => { const s = c.dims(2); const x = c.x(s); const y = c.x([s[0]!, 1 + c.rng.int(3)]); return { out: b.concat([x, y, x], 1), wrt: [x, y] }; } },
  { name: 'Slice', ops: ['Slice'], diff: true, build: (c) => { const x = c.x([4, 5, 2]); return { out: b.slice(x, [1, -3], [3, 100], [0, 1]), wrt: [x] }; } },
  { name: 'Split', ops: ['Split'], diff: true, build: (c) => { const x = c.x([3, 6]); const [p, , r] = b.split(x, [1, 2, 3], 1); return { out: b.concat([b.mul(p!, 2), r!], 1), wrt: [x] }; } },
  { name: 'Pad', ops: ['Pad'], diff: true, build: (c) => { const x = c.x([2, 3]); return { out: b.pad(x, [1, 0, 0, 2]), wrt: [x] }; } },
  { name: 'Reshape (0 and -1)', ops: ['Reshape'], diff: true, build: (c) => { const x = c.x([2, 3, 4]); return { out: b.reshape(x, [0, -1]), wrt: [x] }; } },
  { name: 'Reshape symbolic batch', ops: ['Reshape', 'Shape'], diff: true, build: (c) => { const x = c.x([3, 2, 2], { sym: true }); return { out: b.reshape(x, [-1, 4]), wrt: [x] }; } },
  { name: 'Transpose', ops: ['Transpose'], diff: true, build: (c) => { const x = c.x(c.dims(3)); return { out: b.transpose(x, [2, 0, 1]), wrt: [x] }; } },
  { name: 'Unsqueeze/Squeeze', ops: ['Unsqueeze', 'Squeeze'], diff: true, build: (c) => { const x = c.x(c.dims(2)); return { out: b.mul(b.squeeze(b.unsqueeze(x, [0, 2]), [0]), b.unsqueeze(x, [1])), wrt: [x] }; } },
  { name: 'Gather (repeated indices)', ops: ['Gather', 'OneHot'], diff: true, build: (c) => { const x = c.x([5, 3]); const idx = c.g.constant(Tensor.from('int64', [2, 2], [4, 0, 4, 2])); return { out: b.gather(x, idx, 0), wrt: [x] }; } },
  { name: 'Where + Greater', ops: ['Where', 'Greater'], diff: true, build: (c) => { const s = c.dims(2); const x = c.x(s); const y = c.x(s); const z = c.x([s[1]!], { gap: 0.1 }); return { out: b.where(b.greater(z, 0), x, y), wrt: [x, y] }; } },
  { name: 'Expand', ops: ['Expand'], diff: true, build: (c) => { const x = c.x([3, 1]); return { out: b.expand(x, [2, 3, 4]), wrt: [x] }; } },
  { name: 'Cast int64↔float', ops: ['Cast'], diff: false, build: (c) => { const x = c.x([7], { lo: -5, hi: 5 }); return { out: b.cast(b.cast(x, 'int64'), 'float32'), wrt: [] }; } },
  { name: 'Comparisons', ops: ['Less', 'LessOrEqual', 'GreaterOrEqual', 'Equal', 'And', 'Not'], diff: false, build: (c) => {
    const x = c.x([6]); const y = c.x([6]);
    const m = b.and(b.not(b.less(x, y)), b.lessOrEqual(x, 1));
    const e = b.and(b.greaterOrEqual(x, y), b.equal(x, x));
    return { out: b.add(b.cast(m, 'float32'), b.mul(b.cast(e, 'float32'), 2)), wrt: [] };
  } },
  { name: 'ArgMax + OneHot', ops: ['ArgMax', 'OneHot'], diff: false, build: (c) => { const x = c.x([4, 5]); return { out: b.oneHot(b.argMax(x, -1), 5), wrt: [] }; } },
  { name: 'TopK (values and indices, ties to the lower index)', ops: ['TopK'], diff: false, build: (c) => {
    // whole numbers in -4..4 over 9 columns, so ties occur; indices as float so both outputs are compared
    const x = c.x([3, 9], { lo: -2, hi: 2 });
    const [v, i] = b.topK(b.cast(b.cast(b.mul(x, 2), 'int64'), 'float32'), 3, 1);
    return { out: b.add(b.mul(v, 100), b.cast(i, 'float32')), wrt: [] };
  } },
  { name: 'Shape/Size/ConstantOfShape', ops: ['Shape', 'Size', 'ConstantOfShape'], diff: false, build: (c) => { const x = c.x([3, 2], { sym: true }); return { out: b.add(b.zerosLike(x), b.cast(b.size(x), 'float32')), wrt: [] }; } },
];

describe('op coverage', () => {
  it('every registered op is exercised by a case, and every gradient rule too', () => {
    const covered = new Set(cases.flatMap((c) => c.ops));
    const missing = [...OPS.keys()].filter((o) => !covered.has(o));
    expect(missing).toEqual([]);
    const diffCovered = new Set(cases.filter((c) => c.diff).flatMap((c) => c.ops));
    const missingGrad = [...GRADS.keys()].filter((o) => !diffCovered.has(o) && o !== 'Identity');
    expect(missingGrad).toEqual([]);
  });
  it('registers every rule the multi-rule files export, each under its own op name (the registry lists them)', () => {
    for (const [name, rule] of [...Object.entries(elementwiseGrads), ...Object.entries(shapeGrads)]) expect(GRADS.get(name), name).toBe(rule);
  });
  it('has no Cast rule: cast() to the same dtype emits no node, and a Cast between dtypes carries no gradient', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    expect(b.cast(x, 'float32')).toBe(x);
    expect(GRADS.has('Cast')).toBe(false);
  });
});

describe.each(cases)('$name', (cs) => {
  it('onnxruntime matches the float64 reference on random shapes', async () => {
    for (const seed of [1, 2, 3]) {
      const c = ctx(seed * 7919 + cs.name.length);
      const { out } = cs.build(c);
      const [ref] = evaluate([out], c.feeds);
      const [got] = await runOrt([out], c.feeds);
      expect(closeness(got!, ref!), `seed ${seed}`).toBeLessThanOrEqual(1);
    }
  });

  it.skipIf(!cs.diff)('gradient matches central finite differences (float64) and onnxruntime', async () => {
    for (const seed of [11, 12]) {
      const c = ctx(seed * 104729 + cs.name.length);
      const { out, wrt } = cs.build(c);
      const [o] = evaluate([out], c.feeds);
      c.feeds['r'] = Tensor.from('float32', o!.shape, c.rng.normals(o!.size));
      const r = c.g.input('r', out.shape);
      const loss = b.reduceSum(b.mul(out, r));
      const grads = grad(loss, wrt);
      const refGrads = evaluate(grads, c.feeds);
      for (let k = 0; k < wrt.length; k++) {
        const name = wrt[k]!.name;
        const base = c.feeds[name]!;
        const picks = Array.from({ length: Math.min(base.size, 10) }, () => c.rng.int(base.size));
        for (const i of picks) {
          const h = 1e-5 * Math.max(1, Math.abs(base.data[i]!));
          const at = (delta: number): number => {
            const d = Float64Array.from(base.data);
            d[i]! += delta;
            return evaluate([loss], { ...c.feeds, [name]: new Tensor('float32', base.shape, d) })[0]!.data[0]!;
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          const an = refGrads[k]!.data[i]!;
          expect(Math.abs(fd - an), `d/d${name}[${i}] fd ${fd} vs ${an}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(an));
        }
      }
      const ortGrads = await runOrt(grads, c.feeds);
      ortGrads.forEach((t, k) => expect(closeness(t, refGrads[k]!, 1e-3, 1e-4), `grad ${k}`).toBeLessThanOrEqual(1));
    }
  });
});
