// The generator's in-graph stopping rule, checked on the float64 reference interpreter against TF DoppelGANger's
// (gan/network.py): per-record validity gives the length, but what D sees is masked per sample_len group.
import { describe, expect, it } from 'vitest';
import { Graph, type Value } from '../../src/graph/ir.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { Tensor } from '../../src/graph/tensor.js';
import { parseModelConfig } from '../../src/model/config.js';
import { withGenFlag, type ModelLayout } from '../../src/model/layout.js';
import { generate, generatorLoss, stepInputs, type StepInputs } from '../../src/model/losses.js';
import { ParamInit, declareParams, featureGenerator, paramSpecs, stoppingRule, type NetContext } from '../../src/model/networks.js';
import { Rng } from '../../src/core/rng.js';
import { fdCheck, paramFeeds } from '../graph/helpers.js';
import { tinyConfig, tinyLayout } from './synthetic.js';

// sampleLen 3 over T 9: three LSTM steps of three records each. Records are [x, kind(2), flag(2)].
const SL = 3;
const T = 9;
const S = T / SL;
const F = 3;
const F2 = F + 2;
const A = 4;
const layout: ModelLayout = { ...tinyLayout, maxLen: T };
const cfg = parseModelConfig({ ...tinyConfig, sampleLen: SL, batchSize: 6 });

/**
 * TF DoppelGANger's rule written out as its while_loop runs it (gan/network.py, DoppelGANgerGenerator.build):
 * gen_flag starts at 1; for each step i and each record j of the step, all_gen_flag[i·SL + j] = gen_flag, then
 * gen_flag *= [argmax(flag of record i·SL + j) == 0]. Then gen_flag_t[i] = [Σ_j all_gen_flag[i·SL + j] > 0.5],
 * and the whole step (all SL records, all dims) is multiplied by it.
 */
function tfReference(raw: ArrayLike<number>, n: number): { masked: Float64Array; genFlag: Float64Array } {
  const masked = new Float64Array(n * T * F2);
  const genFlag = new Float64Array(n * T);
  for (let b = 0; b < n; b++) {
    let flag = 1;
    for (let i = 0; i < S; i++) {
      let sum = 0;
      for (let j = 0; j < SL; j++) {
        const r = (b * T + i * SL + j) * F2;
        genFlag[b * T + i * SL + j] = flag;
        sum += flag;
        const argmax = raw[r + F + 1]! > raw[r + F]! ? 1 : 0; // np/tf argmax: first maximum on ties
        flag *= argmax === 0 ? 1 : 0;
      }
      const keep = sum > 0.5 ? 1 : 0;
      for (let k = (b * T + i * SL) * F2; k < (b * T + (i + 1) * SL) * F2; k++) masked[k] = raw[k]! * keep;
    }
  }
  return { masked, genFlag };
}

/** The feature generator alone, with its inputs (discrete attributes, noise, initial state) fed. */
function featureGraph(n: number): { g: Graph; out: ReturnType<typeof featureGenerator> } {
  const g = new Graph();
  const params = declareParams(g, paramSpecs(cfg, layout, ['gen']), new ParamInit(5));
  const ctx: NetContext = { g, params, cfg, layout, mode: 'infer', bn: [] };
  const out = featureGenerator(ctx, g.input('attr', [n, A]), g.input('z_feat', [n, S, 5]), g.input('h0', [n, 8]), g.input('c0', [n, 8]), n);
  return { g, out };
}

function featureFeeds(n: number, r: Rng): Record<string, Tensor> {
  const attr = new Float32Array(n * A);
  for (let b = 0; b < n; b++) {
    attr[b * A + r.int(3)] = 1;
    attr[b * A + 3] = r.next();
  }
  return {
    attr: Tensor.from('float32', [n, A], attr),
    z_feat: Tensor.from('float32', [n, S, 5], r.normals(n * S * 5)),
    h0: Tensor.from('float32', [n, 8], r.normals(n * 8)),
    c0: Tensor.from('float32', [n, 8], r.normals(n * 8)),
  };
}

/** gen/feat/out weights large enough that the flags of different flows and steps disagree. */
function loudOutput(r: Rng): Record<string, Tensor> {
  const W = r.normals(8 * SL * F2).map((v) => 1.5 * v);
  const b = new Float32Array(SL * F2);
  for (let j = 0; j < SL; j++) b[j * F2 + F] = 0.8; // lean to "continue" so flows last a few records
  return { 'gen/feat/out/W': Tensor.from('float32', [8, SL * F2], W), 'gen/feat/out/b': Tensor.from('float32', [SL * F2], b) };
}

const rowsOf = (t: Tensor, n: number): number[][] => Array.from({ length: n * T }, (_, i) => Array.from(t.data.subarray(i * F2, (i + 1) * F2)));

describe('stopping rule: group-level masking as TF DoppelGANger', () => {
  it('keeps the whole sample_len group holding the first "end" record, flag dims included; zeroes later groups', () => {
    // Flag logits set by the output bias alone: record 1 of every step says "end", records 0 and 2 "continue".
    const n = 2;
    const { out } = featureGraph(n);
    const W = new Rng(1, 'test').normals(8 * SL * F2).map((v) => 0.5 * v);
    const bias = new Float32Array(SL * F2);
    for (let j = 0; j < SL; j++) {
      for (let u = 0; u < 8; u++) W[u * SL * F2 + j * F2 + F] = W[u * SL * F2 + j * F2 + F + 1] = 0;
      bias[j * F2 + F + (j === 1 ? 1 : 0)] = 2;
    }
    const feeds = { ...featureFeeds(n, new Rng(2, 'test')), 'gen/feat/out/W': Tensor.from('float32', [8, SL * F2], W), 'gen/feat/out/b': Tensor.from('float32', [SL * F2], bias) };
    const [raw, masked, mask, groupMask] = evaluate([out.raw, out.masked, out.mask, out.groupMask], feeds);
    for (let b = 0; b < n; b++) {
      // Length 2: records 0 and 1 are valid (the "end" record included) …
      expect(Array.from(mask!.data.subarray(b * T, (b + 1) * T))).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0]);
      expect(Array.from(groupMask!.data.subarray(b * S, (b + 1) * S))).toEqual([1, 0, 0]);
      const rows = rowsOf(masked!, n).slice(b * T, (b + 1) * T);
      const rawRows = rowsOf(raw!, n).slice(b * T, (b + 1) * T);
      // … but D sees all of step 0: record 2, after the end, keeps its values and its flag (TF's gen_flag_t) …
      expect(rows.slice(0, SL)).toEqual(rawRows.slice(0, SL));
      expect(rows[2]![F]).toBeGreaterThan(0.8); // a "continue" flag, exactly as emitted
      // … and steps 1 and 2 are zero, flag dims included.
      for (const row of rows.slice(SL)) expect(row).toEqual([0, 0, 0, 0, 0]);
    }
  });

  it('equals TF\'s while_loop rule record for record on random flows (mid-group ends, fully masked steps, no end)', () => {
    const n = 32;
    const { out } = featureGraph(n);
    const r = new Rng(7, 'test');
    const feeds = { ...featureFeeds(n, r), ...loudOutput(r) };
    const [raw, masked, mask] = evaluate([out.raw, out.masked, out.mask], feeds);
    const ref = tfReference(raw!.data, n);
    expect(Array.from(masked!.data)).toEqual(Array.from(ref.masked));
    expect(Array.from(mask!.data)).toEqual(Array.from(ref.genFlag));
    // The case covers what tells group from record masking apart.
    let afterEndKept = 0;
    let maskedSteps = 0;
    let neverEnds = 0;
    for (let b = 0; b < n; b++) {
      const len = ref.genFlag.subarray(b * T, (b + 1) * T).reduce((s, v) => s + v, 0);
      if (len === T) neverEnds++;
      else if (len % SL !== 0) afterEndKept += SL - (len % SL);
      maskedSteps += S - Math.ceil(len / SL);
    }
    expect(afterEndKept).toBeGreaterThan(3);
    expect(maskedSteps).toBeGreaterThan(3);
    expect(neverEnds).toBeGreaterThan(0);
  });

  it('leaves real data encoded by add_gen_flag unchanged and recovers its length: real and fake have one structure', () => {
    // One real flow per length 1..T; padded records are zero with flag [0,1] inside the last group, [0,0] after.
    const n = T;
    const r = new Rng(3, 'test');
    const features = new Float32Array(n * T * F);
    const genFlag = new Float32Array(n * T);
    for (let b = 0; b < n; b++) {
      for (let t = 0; t <= b; t++) {
        genFlag[b * T + t] = 1;
        features[(b * T + t) * F] = r.next();
        features[(b * T + t) * F + 1 + r.int(2)] = 1;
      }
    }
    const real = withGenFlag({ n, attributes: new Float32Array(n * A), features, genFlag }, layout, SL);
    const g = new Graph();
    const x = g.input('x', [n, T, F2]);
    const rule = stoppingRule(x, SL, n);
    const [masked, mask] = evaluate([rule.masked, rule.mask], { x: Tensor.from('float32', [n, T, F2], real) });
    expect(Array.from(masked!.data)).toEqual(Array.from(real));
    expect(Array.from(mask!.data)).toEqual(Array.from(genFlag));
    // Padded records inside the last group do carry [0,1]: a record-level mask would have zeroed them.
    expect(real[(0 * T + 1) * F2 + F + 1]).toBe(1);
    // model.recordMask keeps the flags by group, so real data is unchanged by it too
    const byRecord = stoppingRule(x, SL, n, true);
    const [maskedR] = evaluate([byRecord.masked], { x: Tensor.from('float32', [n, T, F2], real) });
    expect(Array.from(maskedR!.data)).toEqual(Array.from(real));
  });

  it('model.recordMask: the feature dims of generated records after the end are zeroed, their flag dims kept by group', () => {
    const n = 40;
    const r = new Rng(5, 'test');
    const raw = r.normals(n * T * F2).map((v) => v * 2);
    const g = new Graph();
    const x = g.input('x', [n, T, F2]);
    const grouped = stoppingRule(x, SL, n);
    const byRecord = stoppingRule(x, SL, n, true);
    const [a, b, mask] = evaluate([grouped.masked, byRecord.masked, byRecord.mask], { x: Tensor.from('float32', [n, T, F2], raw) });
    let zeroed = 0;
    for (let i = 0; i < n * T; i++) {
      for (let d = 0; d < F2; d++) {
        const k = i * F2 + d;
        if (mask!.data[i] === 1 || d >= F) expect(b!.data[k]).toBe(a!.data[k]);
        else {
          expect(b!.data[k] === 0).toBe(true); // ±0
          if (a!.data[k] !== 0) zeroed++;
        }
      }
    }
    // the case has records after an end inside a kept group, which only the record mask zeroes
    expect(zeroed).toBeGreaterThan(0);
  });

  it('generator loss: the gradient through the group mask matches central finite differences (float64)', () => {
    const B = cfg.batchSize;
    const g = new Graph();
    const params = declareParams(g, paramSpecs(cfg, layout, ['gen', 'disc', 'attr_disc']), new ParamInit(6));
    const ctx: NetContext = { g, params, cfg, layout, mode: 'train', bn: [] };
    const x = stepInputs(ctx, B, ['z_attr', 'z_feat', 'h0', 'c0']) as StepInputs;
    const loss = generatorLoss(ctx, x, B);
    const fake = generate(ctx, x, B); // the same forward pass, to see which records D got
    const r = new Rng(9, 'test');
    const feeds: Record<string, Tensor> = { ...paramFeeds(g), ...loudOutput(r) };
    // Critic weights large enough that D's slopes are far from 0.
    for (const s of paramSpecs(cfg, layout, ['disc', 'attr_disc'])) {
      feeds[s.name] = Tensor.from('float32', s.shape, r.normals(s.shape.reduce((a, b) => a * b, 1)).map((v) => v * 0.4));
    }
    feeds['z_attr'] = Tensor.from('float32', [B, 5], r.normals(B * 5));
    feeds['z_feat'] = Tensor.from('float32', [B, S, 5], r.normals(B * S * 5));
    feeds['h0'] = Tensor.from('float32', [B, 8], r.normals(B * 8));
    feeds['c0'] = Tensor.from('float32', [B, 8], r.normals(B * 8));
    for (let i = 0; i < cfg.attrGenLayers; i++) {
      feeds[`bn:gen/attr/bn${i}/mean`] = Tensor.from('float32', [16], new Float32Array(16));
      feeds[`bn:gen/attr/bn${i}/var`] = Tensor.from('float32', [16], new Float32Array(16).fill(1));
    }
    // The batch has records after an end inside a kept step (group masking lets gradient reach them), and
    // no flag is near a tie, so a 1e-5 step cannot move any mask and the loss is smooth where it is probed.
    const [feat] = evaluate([fake.feat], feeds);
    const ref = tfReference(feat!.data, B);
    let afterEndKept = 0;
    for (let b = 0; b < B; b++) {
      const len = ref.genFlag.subarray(b * T, (b + 1) * T).reduce((s, v) => s + v, 0);
      if (len < T && len % SL !== 0) afterEndKept++;
      for (let t = 0; t < Math.min(T, Math.ceil(len / SL) * SL); t++) {
        const k = (b * T + t) * F2;
        expect(Math.abs(feat!.data[k + F]! - feat!.data[k + F + 1]!)).toBeGreaterThan(1e-3);
      }
    }
    expect(afterEndKept).toBeGreaterThan(0);
    const wrt = ['gen/feat/out/W', 'gen/feat/out/b', 'gen/feat/lstm/Wh', 'gen/feat/lstm/Wz'].map((name) => params.get(name)!) as Value[];
    expect(fdCheck(loss, wrt, feeds, new Rng(4, 'test'), 12)).toBeLessThanOrEqual(1);
  });
});
