// Benchmark: DoppelGANger training iterations/s for the pcap and netflow presets at full size, and the
// step graphs' MatMul GFLOP/s against one large MatMul through the same onnxruntime build in the same run.
// Run: npx vite-node bench/model.ts [--device cpu|cuda] [--threads N] [--iters K] [--matmul 2048] (same method as bench/graph-step.ts)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { matmul } from '../src/graph/api.js';
import { toOnnx } from '../src/graph/emit.js';
import { Graph } from '../src/graph/ir.js';
import { presetModelConfig } from '../src/model/config.js';
import { compileCriticStep, compileGeneratorStep, D_STEP, G_STEP, matmulFlops } from '../src/model/graphs.js';
import { layoutWidth } from '../src/model/layout.js';
import { PRESET_LAYOUTS } from '../src/model/presets.js';
import { Rng } from '../src/core/rng.js';
import { createSession, ort, type Device } from '../src/runtime/session.js';
import { Trainer } from '../src/runtime/trainer.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const device = arg('device', 'cpu') as Device;
const threads = arg('threads', '') === '' ? undefined : Number(arg('threads', '0'));
const iters = Number(arg('iters', '3'));
const sessOpts = { device, ...(threads !== undefined ? { intraOpThreads: threads } : {}) };

async function timeIt(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / 1000 / reps;
}

/** GFLOP/s of one [M,K]×[K,N] MatMul session (the roofline this build reaches). */
async function bigMatmul(size: number): Promise<number> {
  const g = new Graph();
  const a = g.input('a', [size, size]);
  const b = g.input('b', [size, size]);
  const s = await createSession(toOnnx({ outputs: [matmul(a, b)], inputs: [a, b] }), sessOpts);
  const r = new Rng(1, 'bench');
  const feeds = { a: new ort.Tensor('float32', r.normals(size * size), [size, size]), b: new ort.Tensor('float32', r.normals(size * size), [size, size]) };
  const sec = await timeIt(() => s.run(feeds), 5);
  await s.release();
  return (2 * size ** 3) / sec / 1e9;
}

interface Row {
  preset: string;
  device: string;
  compileS: number;
  sessionS: number;
  dStepMs: number;
  gStepMs: number;
  itPerS: number;
  dGflops: number;
  gGflops: number;
  stepGflopsPerS: number;
  ratioToMatmul: number;
  referenceGflops?: number;
}

async function benchPreset(preset: 'pcap' | 'netflow', roof: number): Promise<Row> {
  const cfg = presetModelConfig(preset);
  const layout = PRESET_LAYOUTS[preset];
  let t0 = performance.now();
  const gd = new Graph();
  const gg = new Graph();
  const d = compileCriticStep(cfg, layout, 0, gd);
  const gs = compileGeneratorStep(cfg, layout, 0, gg);
  const compileS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const trainer = await Trainer.create([d, gs], sessOpts);
  const sessionS = (performance.now() - t0) / 1000;
  const B = cfg.batchSize;
  const A = layoutWidth(layout.attributes);
  const T = layout.maxLen;
  const F2 = layoutWidth(layout.features) + 2;
  const S = T / cfg.sampleLen;
  const U = cfg.lstmUnits;
  const r = new Rng(2, 'bench');
  const f = (n: number[], u = false): { data: Float32Array; shape: number[] } => {
    const size = n.reduce((x, y) => x * y, 1);
    return { data: u ? r.uniforms(size) : r.normals(size), shape: n };
  };
  const noise = { z_attr: f([B, cfg.attributeNoiseDim]), z_feat: f([B, S, cfg.featureNoiseDim]), h0: f([B, U]), c0: f([B, U]) };
  const dFeed = { ...noise, real_attr: f([B, A], true), real_feat: f([B, T, F2], true), alpha: f([B, 1], true), alpha_attr: f([B, 1], true) };
  const dSec = await timeIt(() => trainer.run(D_STEP, dFeed), iters * cfg.dRounds);
  const gSec = await timeIt(() => trainer.run(G_STEP, noise), iters);
  await trainer.dispose();
  const itSec = cfg.dRounds * dSec + cfg.gRounds * gSec;
  const dFl = matmulFlops(gd);
  const gFl = matmulFlops(gg);
  const stepGflopsPerS = (cfg.dRounds * dFl + cfg.gRounds * gFl) / itSec / 1e9;
  return {
    preset, device, compileS, sessionS, dStepMs: dSec * 1000, gStepMs: gSec * 1000, itPerS: 1 / itSec,
    dGflops: dFl / 1e9, gGflops: gFl / 1e9, stepGflopsPerS, ratioToMatmul: stepGflopsPerS / roof,
  };
}

const mmSize = Number(arg('matmul', '2048'));
// The machine may be shared: measure the reference right before and after each preset and divide by the
// larger of the two (the conservative ratio).
const rows: Row[] = [];
const roofs: number[] = [];
for (const p of ['netflow', 'pcap'] as const) {
  const before = await bigMatmul(mmSize);
  const row = await benchPreset(p, 1);
  const after = await bigMatmul(mmSize);
  const roof = Math.max(before, after);
  roofs.push(before, after);
  rows.push({ ...row, ratioToMatmul: row.stepGflopsPerS / roof, referenceGflops: roof });
}
console.log(`device ${device}, threads ${threads ?? 'default'}, reference MatMul ${mmSize}³: ${roofs.map((r) => r.toFixed(1)).join(' / ')} GFLOP/s (before/after each preset)`);
console.log('| preset | compile s | sessions s | D step ms | G step ms | it/s (5 D + 1 G) | GFLOP D / G | step GFLOP/s | ref MatMul GFLOP/s | ratio |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.preset} | ${r.compileS.toFixed(2)} | ${r.sessionS.toFixed(2)} | ${r.dStepMs.toFixed(1)} | ${r.gStepMs.toFixed(1)} | ${r.itPerS.toFixed(2)} | ${r.dGflops.toFixed(2)} / ${r.gGflops.toFixed(2)} | ${r.stepGflopsPerS.toFixed(1)} | ${r.referenceGflops!.toFixed(1)} | ${r.ratioToMatmul.toFixed(2)} |`);
}
mkdirSync(join('bench', 'out'), { recursive: true });
writeFileSync(join('bench', 'out', `model-${device}.json`), `${JSON.stringify({ device, threads: threads ?? null, referenceMatmulGflops: roofs, rows }, null, 2)}\n`);
