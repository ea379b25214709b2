// The fused training iteration (one graph per iteration) against the per-step graphs: equal on the float64
// interpreter exactly, on onnxruntime to float32 tolerance; and one fused iteration on onnxruntime vs the interpreter.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/ir.js';
import type { CompiledStep } from '../../src/graph/optim.js';
import { Tensor } from '../../src/graph/tensor.js';
import { parseModelConfig } from '../../src/model/config.js';
import { compileCriticStep, compileGeneratorStep, compileTrainIteration } from '../../src/model/graphs.js';
import { trainChunk } from '../../src/model/index.js';
import { Rng } from '../../src/core/rng.js';
import { checkpointFiles, loadCheckpoint } from '../../src/pipeline/checkpoints.js';
import { Trainer } from '../../src/runtime/trainer.js';
import { closeness } from '../graph/helpers.js';
import { interpret, tinyConfig, tinyLayout, tinyTensors } from './synthetic.js';

// dRounds 2 and gRounds 2: the chaining of every kind of state (D and G params, Adam moments and step counts,
// BatchNorm statistics) is exercised in both directions within one iteration.
const cfg = parseModelConfig({ ...tinyConfig, batchSize: 6, dRounds: 2, gRounds: 2 });
const B = cfg.batchSize;


/** One iteration's random feeds, per step of the per-step path and under the fused graph's names. */
function iterationFeeds(r: Rng, step: CompiledStep): { fused: Record<string, Tensor>; d: Record<string, Tensor>[]; g: Record<string, Tensor>[] } {
  const fused: Record<string, Tensor> = {};
  for (const f of step.feeds) {
    const shape = f.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    fused[f.name] = Tensor.from('float32', shape, /alpha|real/.test(f.name) ? r.uniforms(n) : r.normals(n));
  }
  const shared = { real_attr: fused['real_attr']!, real_feat: fused['real_feat']!, z_attr: fused['z_attr']!, z_feat: fused['z_feat']! };
  const d = Array.from({ length: cfg.dRounds }, (_, k) => ({
    ...shared, h0: fused[`d${k}/h0`]!, c0: fused[`d${k}/c0`]!, alpha: fused[`d${k}/alpha`]!, alpha_attr: fused[`d${k}/alpha_attr`]!,
  }));
  const g = Array.from({ length: cfg.gRounds }, (_, k) => ({ z_attr: shared.z_attr, z_feat: shared.z_feat, h0: fused[`g${k}/h0`]!, c0: fused[`g${k}/c0`]! }));
  return { fused, d, g };
}

describe('fused training iteration', () => {
  const it3 = compileTrainIteration(cfg, tinyLayout, 5, new Graph());
  const dStep = compileCriticStep(cfg, tinyLayout, 5, new Graph());
  const gStep = compileGeneratorStep(cfg, tinyLayout, 5, new Graph());

  it('carries the same state keys as the per-step graphs and feeds every step its own noise', () => {
    const perStep = new Set([...dStep.state, ...gStep.state].map((s) => s.key));
    expect(new Set(it3.state.map((s) => s.key))).toEqual(perStep);
    expect(it3.reads).toEqual([]);
    expect(it3.feeds.map((f) => f.name)).toEqual([
      'real_attr', 'real_feat', 'z_attr', 'z_feat',
      'd0/h0', 'd0/c0', 'd0/alpha', 'd0/alpha_attr', 'd1/h0', 'd1/c0', 'd1/alpha', 'd1/alpha_attr', 'g0/h0', 'g0/c0', 'g1/h0', 'g1/c0',
    ]);
  });

  it('equals the step-by-step iteration exactly on the float64 interpreter after 3 iterations', () => {
    const r = new Rng(21, 'test');
    const fusedState = new Map<string, Tensor>();
    const stepState = new Map<string, Tensor>();
    let last: Record<string, Tensor> = {};
    let lastG: Record<string, Tensor> = {};
    for (let i = 0; i < 3; i++) {
      const f = iterationFeeds(r, it3);
      last = interpret(it3, fusedState, f.fused);
      for (const d of f.d) interpret(dStep, stepState, d);
      for (const g of f.g) lastG = interpret(gStep, stepState, g);
    }
    expect(fusedState.size).toBe(stepState.size);
    const still: string[] = [];
    for (const [k, v] of stepState) {
      const w = fusedState.get(k)!;
      expect(w.shape, k).toEqual(v.shape);
      expect(Array.from(w.data), k).toEqual(Array.from(v.data));
      const init = [...dStep.state, ...gStep.state].find((s) => s.key === k)!.init;
      if (v.data.every((x, j) => x === init[j])) still.push(k);
    }
    // Every tensor (params, moments, step counts, BN stats) was updated but the critics' output biases, whose
    // gradient is zero (a Wasserstein loss is a difference of means, and the penalty sees no bias).
    expect(still.sort()).toEqual(['adam/m/attr_disc/out/b', 'adam/m/disc/out/b', 'adam/v/attr_disc/out/b', 'adam/v/disc/out/b', 'attr_disc/out/b', 'disc/out/b']);
    expect(fusedState.get('adam/step/disc')!.data[0]).toBe(3 * cfg.dRounds);
    expect(fusedState.get('adam/step/gen')!.data[0]).toBe(3 * cfg.gRounds);
    expect(last['out/g_loss']!.data[0]).toBe(lastG['out/g_loss']!.data[0]);
  });

  it('one fused iteration on onnxruntime matches the interpreter to float32 tolerance', async () => {
    const r = new Rng(22, 'test');
    const f = iterationFeeds(r, it3);
    const ref = new Map<string, Tensor>();
    const want = interpret(it3, ref, f.fused);
    const trainer = await Trainer.create([it3], { intraOpThreads: 1 });
    try {
      const feeds = Object.fromEntries(Object.entries(f.fused).map(([k, t]) => [k, { data: Float32Array.from(t.data), shape: [...t.shape] }]));
      const got = await trainer.run(it3.name, feeds);
      for (const [k, name] of Object.entries(it3.outputs)) expect(got[k] as number, k).toBeCloseTo(want[name]!.data[0]!, 4);
      for (const s of it3.state) {
        const have = new Tensor('float32', [...s.shape], Float64Array.from(trainer.value(s.key)));
        expect(closeness(have, ref.get(s.key)!, 1e-3, 1e-5), s.key).toBeLessThanOrEqual(1);
      }
    } finally {
      await trainer.dispose();
    }
  });

  it('trainChunk gives the same checkpoint fused and step by step (onnxruntime, float32 tolerance)', async () => {
    const tensors = tinyTensors(60);
    const run = async (fused: boolean): Promise<Awaited<ReturnType<typeof loadCheckpoint>>> => {
      const dir = mkdtempSync(join(tmpdir(), `dg-fused-${fused}-`));
      const res = await trainChunk({ tensors, layout: tinyLayout, config: { ...tinyConfig, dRounds: 2, gRounds: 2 }, checkpoints: checkpointFiles(dir), iterations: 3, seed: 7, threads: 1, fused });
      return loadCheckpoint(res.lastCheckpoint);
    };
    const a = await run(true);
    const b = await run(false);
    expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
    expect(a.rng).toEqual(b.rng); // the same draws from every stream
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!;
      const close = closeness(new Tensor('float32', t.shape, Float64Array.from(t.data)), new Tensor('float32', u.shape, Float64Array.from(u.data)), 1e-3, 1e-5);
      expect(close, k).toBeLessThanOrEqual(1);
    }
  });
});
