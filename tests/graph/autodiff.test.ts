// Autodiff behaviour beyond single rules: double backward, stop-gradient, missing rules, accumulation, emission determinism.
import { describe, expect, it } from 'vitest';
import * as b from '../../src/graph/api.js';
import { grad } from '../../src/graph/autodiff.js';
import { toOnnx } from '../../src/graph/emit.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { Graph, GraphError, type Value } from '../../src/graph/ir.js';
import { dense, denseParams } from '../../src/graph/nn.js';
import { Rng } from '../../src/core/rng.js';
import { Tensor } from '../../src/graph/tensor.js';
import { closeness, runOrt } from './helpers.js';

/** A small critic D(x) = fc2(tanh(fc1(leakyRelu(fc0(x))))) and the WGAN-GP penalty mean((‖∂D/∂x‖₂ − 1)²). */
function penaltyGraph(seed: number) {
  const g = new Graph();
  const rng = new Rng(seed, 'test');
  const x = g.input('x', ['N', 3]);
  const p0 = denseParams(g, 'd/fc0', 3, 5, rng, { init: { kind: 'normal', std: 0.7 } });
  const p1 = denseParams(g, 'd/fc1', 5, 4, rng, { init: { kind: 'normal', std: 0.7 } });
  const p2 = denseParams(g, 'd/fc2', 4, 1, rng, { init: { kind: 'normal', std: 0.7 } });
  const d = dense(b.tanh(dense(b.leakyRelu(dense(x, p0), 0.2), p1)), p2);
  const [dx] = grad(b.reduceSum(d), [x]);
  const slopes = b.sqrt(b.add(b.reduceSum(b.square(dx!), [1]), 1e-8));
  const gp = b.reduceMean(b.square(b.sub(slopes, 1)));
  const params = g.paramList('d/').map((p) => p.value);
  return { g, x, gp, params, rng };
}

describe('double backward', () => {
  it('the gradient of the gradient-norm penalty w.r.t. the params matches finite differences and onnxruntime', async () => {
    const { g, gp, params, rng } = penaltyGraph(5);
    const grads = grad(gp, params);
    const feeds: Record<string, Tensor> = { x: Tensor.from('float32', [4, 3], rng.normals(12)) };
    for (const p of params) feeds[p.name] = Tensor.from('float32', p.shape as number[], g.params.get(p.name)!.init);
    const an = evaluate(grads, feeds);
    let checked = 0;
    params.forEach((p, k) => {
      const base = feeds[p.name]!;
      for (let i = 0; i < base.size; i += Math.max(1, Math.floor(base.size / 6))) {
        const at = (delta: number): number => {
          const dd = Float64Array.from(base.data);
          dd[i]! += delta;
          return evaluate([gp], { ...feeds, [p.name]: new Tensor('float32', base.shape, dd) })[0]!.data[0]!;
        };
        const h = 1e-5;
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(fd - an[k]!.data[i]!), `${p.name}[${i}]`).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.abs(fd));
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(20);
    expect(Math.max(...an.map((t) => Math.max(...t.data.map(Math.abs))))).toBeGreaterThan(1e-3);
    const got = await runOrt(grads, feeds);
    got.forEach((t, k) => expect(closeness(t, an[k]!, 2e-3, 1e-5)).toBeLessThanOrEqual(1));
    // the penalty depends on x (a gradient of the critic w.r.t. its input), not only on the params
    const moved = evaluate([gp], { ...feeds, x: Tensor.from('float32', [4, 3], rng.normals(12)) })[0]!.data[0]!;
    expect(Math.abs(moved - evaluate([gp], feeds)[0]!.data[0]!)).toBeGreaterThan(1e-6);
  });
});

describe('grad()', () => {
  it('stops at stopGradient and gives zeros for unused wrt', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const y = g.input('y', [3]);
    const loss = b.reduceSum(b.mul(b.stopGradient(b.mul(x, x)), x));
    const [dx, dy] = grad(loss, [x, y]);
    const xv = Tensor.from('float32', [3], [1, 2, 3]);
    const [gx, gy] = evaluate([dx!, dy!], { x: xv, y: xv });
    expect(Array.from(gx!.data)).toEqual([1, 4, 9]); // only the unstopped factor is differentiated
    expect(Array.from(gy!.data)).toEqual([0, 0, 0]);
  });

  it('accumulates gradients of a value used twice and reduces over broadcast axes', () => {
    const g = new Graph();
    const w = g.input('w', [1, 2]);
    const x = g.input('x', ['N', 2]);
    const loss = b.reduceSum(b.add(b.mul(x, w), w));
    const [dw] = grad(loss, [w]);
    expect(dw!.shape).toEqual([1, 2]);
    const [gw] = evaluate([dw!], { w: Tensor.from('float32', [1, 2], [1, 1]), x: Tensor.from('float32', [3, 2], [1, 2, 3, 4, 5, 6]) });
    expect(Array.from(gw!.data)).toEqual([1 + 3 + 5 + 3, 2 + 4 + 6 + 3]);
  });

  it('names the op and input when a rule is missing on the path', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const ok = b.reduceSum(b.mul(x, 2));
    // ArgMax has no rule but is not on a float path: fine.
    grad(b.add(ok, b.reduceSum(b.cast(b.argMax(x, 1), 'float32'))), [x]);
    // Every registered float op has a rule, so relabel a node as an op without one (Erf).
    const y = b.node('Softmax', [x], { axis: 1 });
    (y.producer as { op: string }).op = 'Erf';
    expect(() => grad(b.reduceSum(y), [x])).toThrow(GraphError);
    expect(() => grad(b.reduceSum(y), [x])).toThrow(/Erf.*input x/);
  });

  it('requires a scalar loss unless a seed is given', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    expect(() => grad(b.mul(x, x), [x])).toThrow(/scalar/);
    const [dx] = grad(b.mul(x, x), [x], { seed: b.constant(g, [1, 10], [2]) });
    expect(Array.from(evaluate([dx!], { x: Tensor.from('float32', [2], [3, 4]) })[0]!.data)).toEqual([6, 80]);
  });
});

describe('emission', () => {
  it('gives the same bytes for the same graph, built twice', () => {
    const build = (): Uint8Array => {
      const { gp, params } = penaltyGraph(9);
      return toOnnx({ outputs: [gp, ...grad(gp, params)] });
    };
    const a = build();
    const c = build();
    expect(a.length).toBeGreaterThan(1000);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(c))).toBe(0);
  });

  it('bakes params as initializers for a standalone model', async () => {
    const g = new Graph();
    const x = g.input('x', ['N', 2]);
    const w = g.param('w', [2, 1], Float32Array.from([1, 1]));
    const y: Value = b.matmul(x, w);
    const bytes = toOnnx({ outputs: [{ name: 'y', value: y }], bake: new Map([['w', Float32Array.from([2, -1])]]) });
    const { createSession, ort } = await import('../../src/runtime/session.js');
    const s = await createSession(bytes);
    expect(s.inputNames).toEqual(['x']);
    const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]) });
    expect(Array.from(r['y']!.data as Float32Array)).toEqual([0, 2]);
  });
});
