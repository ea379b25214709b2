// WGAN-GP wiring checked in float64 on the reference interpreter: the penalty equals one computed from
// finite differences of the critic, α is per example, and the D-loss combines the terms as in spec §3.2.
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/ir.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { Tensor } from '../../src/graph/tensor.js';
import { parseModelConfig } from '../../src/model/config.js';
import { criticLosses, generate, generatorLoss, stepInputs, type StepInputs } from '../../src/model/losses.js';
import { ParamInit, bnStateSpecs, declareParams, discriminator, paramSpecs, type NetContext } from '../../src/model/networks.js';
import { fdCheck } from '../graph/helpers.js';
import { Rng } from '../../src/core/rng.js';
import { stopMask } from '../../src/model/postprocess.js';
import { tinyConfig, tinyLayout } from './synthetic.js';

const cfg = parseModelConfig({ ...tinyConfig, batchSize: 3, useAttrDiscriminator: false });
const B = 3;
const T = 4;
const F2 = 5;
const A = 4;

describe('WGAN-GP critic loss', () => {
  it('matches finite differences of the critic at x̂ = real + α·(fake − real), α per example', () => {
    const r = new Rng(11, 'test');
    const feeds: Record<string, Tensor> = {};
    const put = (name: string, shape: number[], data: Float32Array): void => {
      feeds[name] = Tensor.from('float32', shape, data);
    };
    // Critic weights large enough that slopes are far from 0 (the 0.02 init would give GP ≈ 1 whatever the wiring).
    for (const s of paramSpecs(cfg, tinyLayout, ['disc'])) put(s.name, s.shape, r.normals(s.shape.reduce((a, b) => a * b, 1)).map((v) => v * 0.4));
    const realA = r.uniforms(B * A);
    const realF = r.uniforms(B * T * F2);
    const alpha = Float32Array.from([0.1, 0.5, 0.9]);
    put('real_attr', [B, A], realA);
    put('real_feat', [B, T, F2], realF);
    put('z_attr', [B, 5], r.normals(B * 5));
    put('z_feat', [B, 2, 5], r.normals(B * 2 * 5));
    put('h0', [B, 8], r.normals(B * 8));
    put('c0', [B, 8], r.normals(B * 8));
    put('alpha', [B, 1], alpha);
    put('alpha_attr', [B, 1], r.uniforms(B));
    for (let i = 0; i < cfg.attrGenLayers; i++) {
      put(`bn:gen/attr/bn${i}/mean`, [16], new Float32Array(16));
      put(`bn:gen/attr/bn${i}/var`, [16], new Float32Array(16).fill(1));
    }

    // The graph under test.
    const g = new Graph();
    const params = declareParams(g, paramSpecs(cfg, tinyLayout, ['gen', 'disc']), new ParamInit(4));
    const ctx: NetContext = { g, params, cfg, layout: tinyLayout, mode: 'train', bn: [] };
    const x = stepInputs(ctx, B, ['real_attr', 'real_feat', 'z_attr', 'z_feat', 'h0', 'c0', 'alpha', 'alpha_attr']) as StepInputs;
    const L = criticLosses(ctx, x, B);
    const fake = generate(ctx, x, B); // same params, same feeds → the fake batch the loss saw
    const [gp, dLoss, wDist, fa, ff] = evaluate([L.gp, L.dLoss, L.wDist, fake.attr, fake.feat], feeds);

    // Reference: the critic alone, its input gradient by central differences.
    const g2 = new Graph();
    const p2 = declareParams(g2, paramSpecs(cfg, tinyLayout, ['disc']), new ParamInit(4));
    const ctx2: NetContext = { g: g2, params: p2, cfg, layout: tinyLayout, mode: 'train', bn: [] };
    const xf = g2.input('xf', [1, T, F2]);
    const xa = g2.input('xa', [1, A]);
    const d = discriminator(ctx2, xf, xa, 1);
    const D = (f: Float64Array, a: Float64Array): number => evaluate([d], { ...feeds, xf: new Tensor('float32', [1, T, F2], f), xa: new Tensor('float32', [1, A], a) })[0]!.data[0]!;
    let expectedGp = 0;
    for (let b = 0; b < B; b++) {
      const hf = new Float64Array(T * F2);
      const ha = new Float64Array(A);
      for (let k = 0; k < T * F2; k++) hf[k] = realF[b * T * F2 + k]! + alpha[b]! * (ff!.data[b * T * F2 + k]! - realF[b * T * F2 + k]!);
      for (let k = 0; k < A; k++) ha[k] = realA[b * A + k]! + alpha[b]! * (fa!.data[b * A + k]! - realA[b * A + k]!);
      let ss = 0;
      const h = 1e-5;
      for (const v of [hf, ha]) {
        for (let k = 0; k < v.length; k++) {
          const o = v[k]!;
          v[k] = o + h;
          const up = D(hf, ha);
          v[k] = o - h;
          const dn = D(hf, ha);
          v[k] = o;
          ss += ((up - dn) / (2 * h)) ** 2;
        }
      }
      expectedGp += (Math.sqrt(ss + 1e-8) - 1) ** 2 / B;
    }
    expect(Math.abs(expectedGp - 1)).toBeGreaterThan(0.05); // the check is sensitive
    expect(gp!.data[0]).toBeCloseTo(expectedGp, 5);
    expect(dLoss!.data[0]).toBeCloseTo(-wDist!.data[0]! + 10 * expectedGp, 4);

    // The fake features D sees are masked per sampleLen group, as TF DoppelGANger's gen_flag_t: a record is zero
    // (every dim) iff the first record of its group comes after the flow's end; records after the end inside
    // the last kept group keep their (never exactly zero) sigmoid/softmax outputs. tests/model/networks.test.ts
    // checks the rule itself.
    const mask = stopMask(Float32Array.from(ff!.data), B, T, F2 - 2);
    const SL = cfg.sampleLen;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const kept = mask[b * T + t - (t % SL)] === 1;
        for (let k = 0; k < F2; k++) expect(ff!.data[(b * T + t) * F2 + k] !== 0, `flow ${b} record ${t} dim ${k}`).toBe(kept);
      }
    }
  });
});

describe('generator step', () => {
  it('d L_G / d(every generator parameter) matches central finite differences (float64)', () => {
    const c = parseModelConfig({ ...tinyConfig, batchSize: 3 }); // with the attribute critic: both terms of L_G
    const g = new Graph();
    const params = declareParams(g, paramSpecs(c, tinyLayout, ['gen', 'disc', 'attr_disc']), new ParamInit(6));
    const ctx: NetContext = { g, params, cfg: c, layout: tinyLayout, mode: 'train', bn: [] };
    const x = stepInputs(ctx, B, ['z_attr', 'z_feat', 'h0', 'c0']) as StepInputs;
    const loss = generatorLoss(ctx, x, B);
    const r = new Rng(12, 'test');
    const feeds: Record<string, Tensor> = {};
    // Critic weights far from the 0.02 init so that L_G depends visibly on every generator output.
    for (const [name, v] of params) {
      const n = (v.shape as number[]).reduce((a, b) => a * b, 1);
      const init = g.params.get(name)!.init;
      feeds[name] = Tensor.from('float32', v.shape as number[], name.startsWith('gen/') ? init.map((w, i) => w + 0.1 * Math.sin(i)) : r.normals(n).map((w) => w * 0.4));
    }
    // The LSTM reads the attributes' discrete copy without gradient (spec §3.1): a one-hot, constant under small
    // changes, but the continuous 'val' passes its value. Zeroing its LSTM rows makes L_G's true derivative
    // equal the gradient the graph defines, so finite differences can check every generator parameter.
    const wa = feeds['gen/feat/lstm/Wa']!;
    for (let k = 3 * 32; k < 4 * 32; k++) wa.data[k] = 0;
    feeds['z_attr'] = Tensor.from('float32', [B, 5], r.normals(B * 5));
    feeds['z_feat'] = Tensor.from('float32', [B, 2, 5], r.normals(B * 2 * 5));
    feeds['h0'] = Tensor.from('float32', [B, 8], r.normals(B * 8));
    feeds['c0'] = Tensor.from('float32', [B, 8], r.normals(B * 8));
    for (const s of bnStateSpecs(c)) feeds[s.name] = Tensor.from('float32', s.shape, new Float32Array(s.shape[0]!).fill(s.init));
    const wrt = [...params.entries()].filter(([k]) => k.startsWith('gen/')).map(([, v]) => v);
    expect(wrt.length).toBe(16);
    expect(fdCheck(loss, wrt, feeds, r, 4)).toBeLessThanOrEqual(1);
  });
});
