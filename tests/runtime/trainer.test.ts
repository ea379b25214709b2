// Trainer: Adam/SGD against hand-computed references, per-group learning rates, save/load, export, EP errors, MLP regression.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import * as b from '../../src/graph/api.js';
import { toOnnx } from '../../src/graph/emit.js';
import { Graph } from '../../src/graph/ir.js';
import { dense, denseParams } from '../../src/graph/nn.js';
import { compileForward, compileTrainStep, FLAT_ADAM_MAX } from '../../src/graph/optim.js';
import { Rng } from '../../src/core/rng.js';
import { decodeParams, encodeParams } from '../../src/runtime/params-file.js';
import { createSession, DeviceError, ort } from '../../src/runtime/session.js';
import { Trainer } from '../../src/runtime/trainer.js';

/** loss = Σ c·p + ½ Σ p²  ⇒  g = c + p */
function quadratic(groups: [string, string]) {
  const g = new Graph();
  const c = g.input('c', [3]);
  const p = g.param('p', [3], Float32Array.from([0.5, -1, 2]), groups[0]);
  const q = g.param('q', [3], Float32Array.from([1, 1, -1]), groups[1]);
  const loss = b.add(b.reduceSum(b.add(b.mul(c, p), b.mul(b.square(p), 0.5))), b.reduceSum(b.add(b.mul(c, q), b.mul(b.square(q), 0.5))));
  return { g, loss };
}

describe('optimizers', () => {
  it('Adam matches a hand-computed reference over several steps (with bias correction)', async () => {
    const { g, loss } = quadratic(['default', 'default']);
    const lr = 0.1, b1 = 0.5, b2 = 0.999, eps = 1e-8;
    const step = compileTrainStep({ name: 'train', loss, params: g.paramList(), optimizer: { kind: 'adam', lr, beta1: b1, beta2: b2, eps } });
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    const cv = [0.3, -0.2, 1.5];
    const ref = { p: [0.5, -1, 2], q: [1, 1, -1] };
    const m = { p: [0, 0, 0], q: [0, 0, 0] };
    const v = { p: [0, 0, 0], q: [0, 0, 0] };
    for (let t = 1; t <= 6; t++) {
      const out = await tr.run('train', { c: { data: Float32Array.from(cv), shape: [3] } });
      let expectLoss = 0;
      for (const k of ['p', 'q'] as const) {
        for (let i = 0; i < 3; i++) {
          const x = ref[k][i]!;
          expectLoss += cv[i]! * x + 0.5 * x * x;
          const gr = cv[i]! + x;
          m[k][i] = b1 * m[k][i]! + (1 - b1) * gr;
          v[k][i] = b2 * v[k][i]! + (1 - b2) * gr * gr;
          const mh = m[k][i]! / (1 - b1 ** t);
          const vh = v[k][i]! / (1 - b2 ** t);
          ref[k][i] = x - (lr * mh) / (Math.sqrt(vh) + eps);
        }
      }
      expect(out['loss']).toBeCloseTo(expectLoss, 4);
      for (const k of ['p', 'q'] as const) Array.from(tr.value(k)).forEach((x, i) => expect(x).toBeCloseTo(ref[k][i]!, 5));
    }
    expect(tr.value('adam/step/default')[0]).toBe(6);
    await tr.dispose();
  });

  it('Adam over a group of 2-D, 1-D and large params (small ones concatenated, large ones alone) matches a per-tensor reference', async () => {
    const g = new Graph();
    const c = g.input('c', [2, 3]);
    const w = g.param('net/W', [2, 3], Float32Array.from([0.5, -1, 2, 0.1, 0.2, -0.3]), 'net');
    const bias = g.param('net/b', [3], Float32Array.from([1, -2, 0.5]), 'net');
    const s = g.param('other/s', [], Float32Array.from([0.7]), 'other');
    // above FLAT_ADAM_MAX: updated on its own, moments in its shape
    const bigInit = Float32Array.from({ length: 2 * 8193 }, (_, i) => Math.sin(i));
    const big = g.param('net/big', [2, 8193], bigInit, 'net');
    expect(2 * 8193).toBeGreaterThan(FLAT_ADAM_MAX);
    // loss = Σ c·W + ½ΣW² + Σ b·W[0] + s² + ½Σbig² ⇒ dW = c + W + [b; 0], db = W[0], ds = 2s, dbig = big
    const row0 = b.slice(w, [0], [1], [0]);
    const loss = b.add(b.add(b.add(b.reduceSum(b.add(b.mul(c, w), b.mul(b.square(w), 0.5))), b.reduceSum(b.mul(bias, row0))), b.square(s)), b.mul(b.reduceSum(b.square(big)), 0.5));
    const lr = 0.05, b1 = 0.8, b2 = 0.99, eps = 1e-8;
    const step = compileTrainStep({ name: 'train', loss, params: g.paramList(), optimizer: { kind: 'adam', lr, beta1: b1, beta2: b2, eps } });
    expect(step.state.find((x) => x.key === 'adam/m/net/W')!.shape).toEqual([6]);
    expect(step.state.find((x) => x.key === 'adam/v/net/big')!.shape).toEqual([2, 8193]);
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    const cv = [0.3, -0.2, 1.5, 0.4, 0.0, -1];
    const P = { W: [0.5, -1, 2, 0.1, 0.2, -0.3], b: [1, -2, 0.5], s: [0.7], big: Array.from(bigInit) };
    const M = { W: new Array(6).fill(0), b: [0, 0, 0], s: [0], big: new Array(bigInit.length).fill(0) };
    const V = { W: new Array(6).fill(0), b: [0, 0, 0], s: [0], big: new Array(bigInit.length).fill(0) };
    for (let t = 1; t <= 4; t++) {
      await tr.run('train', { c: { data: Float32Array.from(cv), shape: [2, 3] } });
      const G = { W: P.W.map((x, i) => cv[i]! + x + (i < 3 ? P.b[i]! : 0)), b: P.b.map((_, i) => P.W[i]!), s: [2 * P.s[0]!], big: P.big };
      for (const k of ['W', 'b', 's', 'big'] as const) {
        P[k] = P[k].map((x, i) => {
          M[k][i] = b1 * M[k][i]! + (1 - b1) * G[k][i]!;
          V[k][i] = b2 * V[k][i]! + (1 - b2) * G[k][i]! ** 2;
          return x - (lr * M[k][i]! / (1 - b1 ** t)) / (Math.sqrt(V[k][i]! / (1 - b2 ** t)) + eps);
        });
      }
      Array.from(tr.value('net/W')).forEach((x, i) => expect(x).toBeCloseTo(P.W[i]!, 5));
      Array.from(tr.value('net/b')).forEach((x, i) => expect(x).toBeCloseTo(P.b[i]!, 5));
      expect(tr.value('other/s')[0]).toBeCloseTo(P.s[0]!, 5);
      Array.from(tr.value('adam/v/net/W')).forEach((x, i) => expect(x).toBeCloseTo(V.W[i]!, 5));
      const bigNow = tr.value('net/big');
      for (const i of [0, 1, 8192, 8193, 16385]) expect(bigNow[i]).toBeCloseTo(P.big[i]!, 5);
    }
    expect(tr.value('adam/step/net')[0]).toBe(4);
    expect(tr.value('adam/step/other')[0]).toBe(4);
    await tr.dispose();
  });

  it('SGD with per-group learning rates', async () => {
    const { g, loss } = quadratic(['fast', 'slow']);
    const step = compileTrainStep({ name: 's', loss, params: g.paramList(), optimizer: { fast: { kind: 'sgd', lr: 0.5 }, slow: { kind: 'sgd', lr: 0.1 } } });
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    await tr.run('s', { c: { data: new Float32Array(3), shape: [3] } });
    // p ← p − 0.5·p, q ← q − 0.1·q
    expect(Array.from(tr.value('p'))).toEqual([0.25, -0.5, 1]);
    Array.from(tr.value('q')).forEach((x, i) => expect(x).toBeCloseTo([0.9, 0.9, -0.9][i]!, 6));
    tr.setLearningRate('s', 'slow', 0);
    await tr.run('s', { c: { data: new Float32Array(3), shape: [3] } });
    Array.from(tr.value('q')).forEach((x, i) => expect(x).toBeCloseTo([0.9, 0.9, -0.9][i]!, 6));
    await tr.dispose();
  });
});

function regressionData(n: number, rng: Rng) {
  const xs = new Float32Array(n * 2);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.next() * 4 - 2;
    const c = rng.next() * 4 - 2;
    xs[2 * i] = a;
    xs[2 * i + 1] = c;
    ys[i] = Math.sin(a) + 0.25 * c * c;
  }
  return { xs, ys };
}

function mlp(seed: number) {
  const g = new Graph();
  const rng = new Rng(seed, 'test');
  const x = g.input('x', ['N', 2]);
  const y = g.input('y', ['N', 1]);
  const pred = g.scope('mlp', () => {
    const h0 = b.relu(dense(x, denseParams(g, 'fc0', 2, 32, rng)));
    const h1 = b.tanh(dense(h0, denseParams(g, 'fc1', 32, 32, rng)));
    return dense(h1, denseParams(g, 'fc2', 32, 1, rng));
  });
  const loss = b.reduceMean(b.square(b.sub(pred, y)));
  return { g, x, y, pred, loss };
}

describe('trainer', () => {
  it('carries extra state (BatchNorm running mean) and reads params of other steps from the shared store', async () => {
    const g = new Graph();
    const x = g.input('x', [4, 2]);
    const w = g.param('a/w', [2], Float32Array.from([1, 1]), 'a');
    const v = g.param('b/v', [2], Float32Array.from([2, 2]), 'b');
    const run = g.input('bn/running_mean', [2]);
    const mean = b.reduceMean(b.mul(x, w), [0]);
    const nextRun = b.add(b.mul(run, 0.9), b.mul(mean, 0.1));
    const lossA = b.reduceSum(b.mul(b.mul(x, w), v));
    const lossB = b.reduceSum(b.square(b.sub(v, w)));
    const sa = compileTrainStep({ name: 'sa', loss: lossA, params: g.paramList('a/'), optimizer: { kind: 'sgd', lr: 0.1 }, extraState: [{ input: run, output: nextRun, init: new Float32Array(2) }] });
    const sb = compileTrainStep({ name: 'sb', loss: lossB, params: g.paramList('b/'), optimizer: { kind: 'sgd', lr: 0.25 } });
    expect(sa.reads.map((r) => r.key)).toEqual(['b/v']);
    expect(sb.reads.map((r) => r.key)).toEqual(['a/w']);
    const tr = await Trainer.create([sa, sb], { intraOpThreads: 1 });
    const xs = { data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), shape: [4, 2] };
    await tr.run('sa', { x: xs });
    // mean of x·w per column = [4, 5]; running = 0.1·[4, 5]; w ← w − 0.1·Σx·v = 1 − 0.1·[32, 40]
    Array.from(tr.value('bn/running_mean')).forEach((r, i) => expect(r).toBeCloseTo([0.4, 0.5][i]!, 6));
    Array.from(tr.value('a/w')).forEach((r, i) => expect(r).toBeCloseTo([1 - 3.2, 1 - 4][i]!, 5));
    await tr.run('sa', { x: xs });
    expect(tr.value('bn/running_mean')[0]).toBeCloseTo(0.9 * 0.4 + 0.1 * 4 * (1 - 3.2), 5);
    // step b reads the w that step a wrote: v ← v − 0.25·2(v − w)
    const wNow = tr.value('a/w');
    await tr.run('sb', {});
    Array.from(tr.value('b/v')).forEach((r, i) => expect(r).toBeCloseTo(2 - 0.5 * (2 - wNow[i]!), 5));
    await expect(tr.run('sa', {})).rejects.toThrow(/needs input x/);
    await expect(tr.run('nope', {})).rejects.toThrow(/Unknown step/);
    await expect(tr.run('sa', { x: { data: new Float32Array(6), shape: [3, 2] } })).rejects.toThrow(/Expected shape \[4, 2\] for input x of step sa but received \[3, 2\]/);
    await tr.dispose();
  });

  it('fits an MLP regression (fixed seeds): MSE falls below 0.02 and 5% of its start', async () => {
    const { g, loss } = mlp(3);
    const step = compileTrainStep({ name: 'train', loss, params: g.paramList('mlp/'), optimizer: { kind: 'adam', lr: 1e-2 } });
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    const rng = new Rng(4, 'test');
    const { xs, ys } = regressionData(512, rng);
    const batch = 64;
    let first = NaN;
    let last = NaN;
    for (let it = 0; it < 600; it++) {
      const off = (it % 8) * batch;
      const out = await tr.run('train', { x: { data: xs.subarray(off * 2, (off + batch) * 2), shape: [batch, 2] }, y: { data: ys.subarray(off, off + batch), shape: [batch, 1] } });
      if (it === 0) first = out['loss'] as number;
      last = out['loss'] as number;
    }
    // held-out MSE via the same params
    const test = regressionData(256, new Rng(99, 'test'));
    const fwd = compileForward('eval', { loss });
    await tr.addStep(fwd);
    const ev = (await tr.run('eval', { x: { data: test.xs, shape: [256, 2] }, y: { data: test.ys, shape: [256, 1] } }))['loss'] as number;
    expect(first).toBeGreaterThan(0.3);
    expect(last).toBeLessThan(0.02);
    expect(ev).toBeLessThan(0.02);
    expect(ev).toBeLessThan(0.05 * first);
    await tr.dispose();
  });

  it('saves and loads params + optimizer state byte-exactly; exports a standalone model with baked weights', async () => {
    const { g, x, pred, loss } = mlp(8);
    const step = compileTrainStep({ name: 'train', loss, params: g.paramList('mlp/'), optimizer: { kind: 'adam', lr: 1e-2 } });
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    const { xs, ys } = regressionData(32, new Rng(1, 'test'));
    const feed = { x: { data: xs, shape: [32, 2] }, y: { data: ys, shape: [32, 1] } };
    for (let i = 0; i < 3; i++) await tr.run('train', feed);
    const saved = tr.save({ iteration: '3' });
    const before = tr.values();
    const lossA = (await tr.run('train', feed))['loss'];
    expect(tr.value('mlp/fc0/W')).not.toEqual(before.get('mlp/fc0/W'));
    expect(tr.load(saved)).toEqual({ iteration: '3' });
    for (const [k, v] of before) expect(tr.value(k)).toEqual(v);
    expect((await tr.run('train', feed))['loss']).toBe(lossA); // same state ⇒ same next step
    expect(Buffer.compare(Buffer.from(tr.save({}, 'mlp/')), Buffer.from(tr.save({}, 'mlp/')))).toBe(0);

    // files written when Adam moments had their parameter's shape ([2, 32]) load by element count
    const old = decodeParams(saved);
    const asOld = new Map([...old.tensors].map(([k, e]) => [k, k === 'adam/m/mlp/fc0/W' || k === 'adam/v/mlp/fc0/W' ? { ...e, shape: [2, 32] } : e]));
    expect(tr.load(encodeParams(asOld, { iteration: '3' }))).toEqual({ iteration: '3' });
    for (const [k, v] of before) expect(tr.value(k)).toEqual(v);
    expect((await tr.run('train', feed))['loss']).toBe(lossA);
    const wrongSize = new Map([...old.tensors].map(([k, e]) => [k, k === 'adam/m/mlp/fc0/W' ? { shape: [2, 31], data: e.data.subarray(0, 62) } : e]));
    expect(() => tr.load(encodeParams(wrongSize))).toThrow(/Parameter adam\/m\/mlp\/fc0\/W has shape \[2,31\] in the file but \[64\] here/);

    const model = toOnnx({ outputs: [{ name: 'pred', value: pred }], inputs: [x], bake: tr.values('mlp/') });
    const s = await createSession(model);
    expect(s.inputNames).toEqual(['x']);
    const r = await s.run({ x: new ort.Tensor('float32', xs, [32, 2]) });
    await tr.addStep(compileForward('predict', { pred }));
    const viaTrainer = (await tr.run('predict', { x: feed.x }))['pred'] as ort.Tensor;
    // baked weights let onnxruntime fold/fuse differently, so equal up to float32 rounding
    const baked = r['pred']!.data as Float32Array;
    (viaTrainer.data as Float32Array).forEach((v, i) => expect(Math.abs(baked[i]! - v)).toBeLessThan(1e-5 * (1 + Math.abs(v))));
    await tr.dispose();
  });

  it('rejects malformed parameter files with InputError and an offset', () => {
    const good = encodeParams(new Map([['a', { shape: [2], data: Float32Array.from([1, 2]) }]]), { k: 'v' });
    expect(decodeParams(good).tensors.get('a')!.data).toEqual(Float32Array.from([1, 2]));
    const bad = Uint8Array.from(good);
    bad[0] = 0x58;
    expect(() => decodeParams(bad, 'x.params')).toThrow(InputError);
    try {
      decodeParams(bad, 'x.params');
    } catch (e) {
      expect((e as InputError).file).toBe('x.params');
      expect((e as InputError).where).toEqual({ offset: 0 });
    }
    expect(() => decodeParams(good.subarray(0, good.length - 4))).toThrow(/past the end/);
    const v2 = Uint8Array.from(good);
    v2[8] = 2;
    expect(() => decodeParams(v2)).toThrow(/version 2/);
  });
});

const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
const hasCudaLibs = (() => {
  const root = join(ortDir, '..', 'bin');
  const walk = (d: string): boolean => readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.includes('providers_cuda')));
  return existsSync(root) && walk(root);
})();

describe('execution providers', () => {
  it.skipIf(hasCudaLibs)('a CUDA request without the CUDA provider is a DeviceError, never a CPU fallback (skipped where CUDA libs are installed)', async () => {
    const g = new Graph();
    const bytes = toOnnx({ outputs: [b.relu(g.input('x', [2]))] });
    await expect(createSession(bytes, { device: 'cuda' })).rejects.toThrow(DeviceError);
    await expect(createSession(bytes, { device: 'tpu' as 'cpu' })).rejects.toThrow(/cpu.*cuda/);
  });
});
