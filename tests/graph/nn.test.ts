// Layer helpers: per-example gradients (tiling trick), DP aggregation, LSTM cell and BatchNorm gradients vs finite differences.
import { describe, expect, it } from 'vitest';
import * as b from '../../src/graph/api.js';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { Graph, type Value } from '../../src/graph/ir.js';
import { batchNormTrain, dense, denseParams, dpAggregate, lstmParams, lstmUnroll, perExampleGrads } from '../../src/graph/nn.js';
import { Rng } from '../../src/core/rng.js';
import { Tensor } from '../../src/graph/tensor.js';
import { closeness, fdCheck, paramFeeds, runOrt } from './helpers.js';

describe('perExampleGrads', () => {
  it('equals the gradient of each example loss taken alone, with the ordinary rules', async () => {
    const g = new Graph();
    const rng = new Rng(2, 'test');
    const n = 4;
    const x = g.input('x', ['N', 3]);
    const p0 = denseParams(g, 'd/fc0', 3, 5, rng, { init: { kind: 'normal', std: 0.5 } });
    const p1 = denseParams(g, 'd/fc1', 5, 1, rng, { init: { kind: 'normal', std: 0.5 } });
    const params = [p0.w, p0.b, p1.w, p1.b];
    const critic = (xx: Value, ps: Value[]): Value => dense(b.leakyRelu(dense(xx, { w: ps[0]!, b: ps[1]! }), 0.2), { w: ps[2]!, b: ps[3]! });
    const { losses, grads } = perExampleGrads(params, x, (t) => b.reshape(b.square(critic(x, t)), [-1]));
    expect(grads.map((v) => v.shape)).toEqual([['N', 3, 5], ['N', 5], ['N', 5, 1], ['N', 1]]);
    const feeds = { ...paramFeeds(g), x: Tensor.from('float32', [n, 3], rng.normals(n * 3)) };
    const pe = evaluate([losses, ...grads], feeds);
    // reference: grad of example i alone
    const whole = grad(b.reduceSum(b.square(critic(x, params))), params);
    for (let i = 0; i < n; i++) {
      // the same graph fed with example i alone
      const xi = Tensor.from('float32', [1, 3], feeds.x.data.subarray(i * 3, i * 3 + 3));
      const gi = evaluate(whole, { ...feeds, x: xi });
      gi.forEach((t, k) => {
        const per = pe[k + 1]!;
        const stride = t.size;
        for (let j = 0; j < stride; j++) expect(per.data[i * stride + j]).toBeCloseTo(t.data[j]!, 10);
      });
    }
    const got = await runOrt(grads, feeds);
    got.forEach((t, k) => expect(closeness(t, pe[k + 1]!, 1e-3, 1e-5)).toBeLessThanOrEqual(1));
  });

  it('works through a double-backward WGAN-GP penalty inside the per-example loss', () => {
    const g = new Graph();
    const rng = new Rng(6, 'test');
    const n = 3;
    const x = g.input('x', ['N', 2]);
    const p0 = denseParams(g, 'd/fc0', 2, 4, rng, { init: { kind: 'normal', std: 0.8 } });
    const p1 = denseParams(g, 'd/fc1', 4, 1, rng, { init: { kind: 'normal', std: 0.8 } });
    const params = [p0.w, p0.b, p1.w, p1.b];
    const perEx = (ps: Value[]): Value => {
      const d = b.reshape(dense(b.tanh(dense(x, { w: ps[0]!, b: ps[1]! })), { w: ps[2]!, b: ps[3]! }), [-1]);
      const [dx] = grad(b.reduceSum(d), [x]);
      return b.add(d, b.square(b.sub(b.sqrt(b.reduceSum(b.square(dx!), [1])), 1)));
    };
    const { grads } = perExampleGrads(params, x, perEx);
    const feeds = { ...paramFeeds(g), x: Tensor.from('float32', [n, 2], rng.normals(n * 2)) };
    const pe = evaluate(grads, feeds);
    const whole = grad(b.reduceSum(perEx(params)), params);
    for (let i = 0; i < n; i++) {
      const gi = evaluate(whole, { ...feeds, x: Tensor.from('float32', [1, 2], feeds.x.data.subarray(i * 2, i * 2 + 2)) });
      gi.forEach((t, k) => t.data.forEach((v, j) => expect(pe[k]!.data[i * t.size + j]).toBeCloseTo(v, 10)));
    }
  });

  it('dpAggregate clips each example to norm C, sums, adds σC noise and averages', () => {
    const g = new Graph();
    const ge = g.input('ge', ['N', 2]); // per-example grads of one param [N, 2]
    const noise = g.input('noise', [2]);
    const [agg] = dpAggregate([ge], [noise], 1.0, 0.5);
    const rows = [[3, 4], [0.3, 0.4], [0, -2]]; // norms 5, 0.5, 2
    const out = evaluate([agg!], { ge: Tensor.from('float32', [3, 2], rows.flat()), noise: Tensor.from('float32', [2], [1, -1]) })[0]!;
    const clipped = [0.6 + 0.3 + 0, 0.8 + 0.4 - 1];
    expect(out.data[0]).toBeCloseTo((clipped[0]! + 0.5) / 3, 6);
    expect(out.data[1]).toBeCloseTo((clipped[1]! - 0.5) / 3, 6);
  });
});

describe('layers', () => {
  it('LSTM unroll: gradient w.r.t. weights, inputs and initial state matches finite differences', () => {
    const g = new Graph();
    const rng = new Rng(3, 'test');
    const p = lstmParams(g, 'lstm', 2, 3, rng);
    const xs = [0, 1, 2].map((t) => g.input(`x${t}`, [2, 2]));
    const h0 = g.input('h0', [2, 3]);
    const c0 = g.input('c0', [2, 3]);
    const hs = lstmUnroll(g, xs, h0, c0, p);
    const r = g.constant(Tensor.from('float32', [2, 3], rng.normals(6)));
    const loss = b.reduceSum(b.mul(b.add(hs[2]!, b.mul(hs[0]!, 0.5)), r));
    const feeds: Record<string, Tensor> = { ...paramFeeds(g), h0: Tensor.from('float32', [2, 3], rng.normals(6)), c0: Tensor.from('float32', [2, 3], rng.normals(6)) };
    xs.forEach((x) => (feeds[x.name] = Tensor.from('float32', [2, 2], rng.normals(4))));
    // each step's values are scoped by their step, so a graph opened in Netron reads step by step
    expect(hs.map((h) => h.name.split('/')[0])).toEqual(['step0', 'step1', 'step2']);
    expect(fdCheck(loss, [p.w, p.b, xs[0]!, h0, c0], feeds, rng)).toBeLessThanOrEqual(1);
  });

  it('BatchNorm (batch statistics) normalizes over the batch and its gradient matches finite differences', () => {
    const g = new Graph();
    const rng = new Rng(4, 'test');
    const x = g.input('x', ['N', 3]);
    const gamma = g.param('gamma', [3], Float32Array.from([1, 2, 0.5]));
    const beta = g.param('beta', [3], Float32Array.from([0, 1, -1]));
    const { y, mean, variance } = batchNormTrain(x, gamma, beta);
    const feeds = { ...paramFeeds(g), x: Tensor.from('float32', [5, 3], rng.normals(15, 2, 1)) };
    const [yv, mv, vv] = evaluate([y, mean, variance], feeds);
    expect(mv!.shape).toEqual([3]);
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let i = 0; i < 5; i++) s += yv!.data[i * 3 + j]!;
      expect(s / 5).toBeCloseTo([0, 1, -1][j]!, 10);
      expect(vv!.data[j]).toBeGreaterThan(0);
    }
    const loss = b.reduceSum(b.mul(b.square(y), g.constant(Tensor.from('float32', [3], [1, -1, 2]))));
    expect(fdCheck(loss, [x, gamma, beta], feeds, rng)).toBeLessThanOrEqual(1);
  });
});
