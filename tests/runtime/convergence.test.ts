// Problems that must converge with fixed seeds: an LSTM on a noisy periodic sequence and a WGAN-GP on 8 Gaussians.
import { describe, expect, it } from 'vitest';
import * as b from '../../src/graph/api.js';
import { grad } from '../../src/graph/autodiff.js';
import { Graph, type Value } from '../../src/graph/ir.js';
import { dense, denseParams, lstmParams, lstmUnroll, type DenseParams } from '../../src/graph/nn.js';
import { compileForward, compileTrainStep } from '../../src/graph/optim.js';
import { Rng } from '../../src/core/rng.js';
import { ort } from '../../src/runtime/session.js';
import { Trainer } from '../../src/runtime/trainer.js';

describe('LSTM', () => {
  it('learns to predict the next value of a noisy periodic sequence (MSE near the noise floor)', async () => {
    const T = 24;
    const units = 16;
    const noise = 0.1;
    const g = new Graph();
    const rng = new Rng(21, 'test');
    const xs = Array.from({ length: T }, (_, t) => g.input(`x${t}`, ['N', 1]));
    const ys = Array.from({ length: T }, (_, t) => g.input(`y${t}`, ['N', 1]));
    const h0 = g.input('h0', ['N', units]);
    const c0 = g.input('c0', ['N', units]);
    const p = lstmParams(g, 'lstm', 1, units, rng);
    const head = denseParams(g, 'head', units, 1, rng);
    const hs = g.scope('seq', () => lstmUnroll(g, xs, h0, c0, p));
    // loss over steps ≥ 4 (the phase is unknown at first)
    const errs = hs.slice(4).map((h, t) => b.square(b.sub(dense(h, head), ys[t + 4]!)));
    const loss = b.reduceMean(b.concat(errs, 1));
    const step = compileTrainStep({ name: 'train', loss, params: g.paramList(), optimizer: { kind: 'adam', lr: 1e-2 } });
    const tr = await Trainer.create([step], { intraOpThreads: 1 });
    const batch = 32;
    const period = 8;
    const draw = (r: Rng) => {
      const feed: Record<string, { data: Float32Array; shape: number[] }> = {
        h0: { data: new Float32Array(batch * units), shape: [batch, units] },
        c0: { data: new Float32Array(batch * units), shape: [batch, units] },
      };
      const seq = Array.from({ length: batch }, () => {
        const phase = r.next() * 2 * Math.PI;
        return Array.from({ length: T + 1 }, (_, t) => Math.sin((2 * Math.PI * t) / period + phase) + noise * r.normal());
      });
      for (let t = 0; t < T; t++) {
        feed[`x${t}`] = { data: Float32Array.from(seq, (s) => s[t]!), shape: [batch, 1] };
        feed[`y${t}`] = { data: Float32Array.from(seq, (s) => s[t + 1]!), shape: [batch, 1] };
      }
      return feed;
    };
    const train = new Rng(5, 'test');
    let first = 0;
    for (let it = 0; it < 250; it++) {
      const l = (await tr.run('train', draw(train)))['loss'] as number;
      if (it === 0) first = l;
    }
    await tr.addStep(compileForward('eval', { loss }));
    const held = (await tr.run('eval', draw(new Rng(77, 'test'))))['loss'] as number;
    // Predicting the mean gives ≈ 0.5 + 2σ² ≈ 0.52; the best possible is about σ² = 0.01 for the target's noise
    // (plus the input noise carried through): require well under a tenth of the trivial error.
    expect(first).toBeGreaterThan(0.3);
    expect(held).toBeLessThan(0.05);
    await tr.dispose();
  });
});

describe('WGAN-GP', () => {
  it('covers all 8 modes of a 2-D Gaussian mixture (each mode share 12.5% ± 5%, ≥ 75% of samples within 0.3 of a mode)', async () => {
    const zDim = 4;
    const hidden = 64;
    const radius = 2;
    const std = 0.05;
    const modes = Array.from({ length: 8 }, (_, k) => [radius * Math.cos((k * Math.PI) / 4), radius * Math.sin((k * Math.PI) / 4)] as const);
    const g = new Graph();
    // Seeds of the shared generator (src/core/rng.ts) that converge: like the old graph generator, about 3 in 10 seed sets
    // of this 2000-iteration run end with under 75% of samples near a mode (measured over 10 sets, old and new).
    const rng = new Rng(208, 'test');
    const z = g.input('z', ['N', zDim]);
    const real = g.input('real', ['N', 2]);
    const alpha = g.input('alpha', ['N', 1]);
    const gp: DenseParams[] = [denseParams(g, 'gen/fc0', zDim, hidden, rng, { group: 'gen' }), denseParams(g, 'gen/fc1', hidden, hidden, rng, { group: 'gen' }), denseParams(g, 'gen/fc2', hidden, 2, rng, { group: 'gen' })];
    const dp: DenseParams[] = [denseParams(g, 'disc/fc0', 2, hidden, rng, { group: 'disc' }), denseParams(g, 'disc/fc1', hidden, hidden, rng, { group: 'disc' }), denseParams(g, 'disc/fc2', hidden, 1, rng, { group: 'disc' })];
    const gen = (v: Value): Value => g.scope('gen', () => dense(b.relu(dense(b.relu(dense(v, gp[0]!)), gp[1]!)), gp[2]!));
    const disc = (v: Value): Value => g.scope('disc', () => dense(b.relu(dense(b.relu(dense(v, dp[0]!)), dp[1]!)), dp[2]!));
    const fake = gen(z);
    const dFake = b.reduceMean(disc(fake));
    const dReal = b.reduceMean(disc(real));
    const xHat = b.add(real, b.mul(alpha, b.sub(b.stopGradient(fake), real)));
    const [dx] = grad(b.reduceSum(disc(xHat)), [xHat]);
    const slopes = b.sqrt(b.add(b.reduceSum(b.square(dx!), [1]), 1e-8));
    const penalty = b.reduceMean(b.square(b.sub(slopes, 1)));
    const dLoss = b.add(b.sub(dFake, dReal), b.mul(penalty, 10));
    const gLoss = b.neg(dFake);
    const adam = { kind: 'adam', lr: 2e-3, beta1: 0.5, beta2: 0.9 } as const;
    const dStep = compileTrainStep({ name: 'd', loss: dLoss, params: g.paramList('disc/'), optimizer: adam, outputs: { penalty } });
    const gStep = compileTrainStep({ name: 'g', loss: gLoss, params: g.paramList('gen/'), optimizer: adam });
    const sample = compileForward('sample', { fake });
    const tr = await Trainer.create([dStep, gStep, sample], { intraOpThreads: 1 });
    const batch = 128;
    const data = new Rng(209, 'test');
    const realBatch = () => {
      const out = new Float32Array(batch * 2);
      for (let i = 0; i < batch; i++) {
        const m = modes[data.int(8)]!;
        out[2 * i] = m[0] + std * data.normal();
        out[2 * i + 1] = m[1] + std * data.normal();
      }
      return { data: out, shape: [batch, 2] };
    };
    const noise = new Rng(210, 'test');
    const zs = (n: number) => ({ data: noise.normals(n * zDim), shape: [n, zDim] });
    // 2000 generator iterations × (5 critic steps + 1 generator step): about 40 s on one busy core
    for (let it = 0; it < 2000; it++) {
      for (let k = 0; k < 5; k++) await tr.run('d', { real: realBatch(), z: zs(batch), alpha: { data: noise.uniforms(batch), shape: [batch, 1] } });
      await tr.run('g', { z: zs(batch) });
    }
    const n = 4000;
    const out = (await tr.run('sample', { z: zs(n) }))['fake'] as ort.Tensor;
    const pts = out.data as Float32Array;
    const counts = new Array<number>(8).fill(0);
    let near = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bd = Infinity;
      modes.forEach((m, k) => {
        const d = Math.hypot(pts[2 * i]! - m[0], pts[2 * i + 1]! - m[1]);
        if (d < bd) [bd, best] = [d, k];
      });
      counts[best]!++;
      if (bd < 0.3) near++;
    }
    const shares = counts.map((c) => c / n);
    console.log('8 Gaussians mode shares', shares.map((s) => s.toFixed(3)).join(' '), 'near', (near / n).toFixed(3));
    for (const s of shares) {
      expect(s).toBeGreaterThan(0.075);
      expect(s).toBeLessThan(0.175);
    }
    expect(near / n).toBeGreaterThan(0.75);
    await tr.dispose();
  });
});
