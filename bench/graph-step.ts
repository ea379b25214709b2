// Benchmark: CPU-EP step time, session creation and graph size for DoppelGANger-size step graphs (batch 100,
// MLPs 4×512, LSTM 100 units × 50 steps; D, attr-D and G steps), MatMul GFLOP/s against one large MatMul
// through the same onnxruntime build in the same run; unrolled-LSTM scaling in T; fed vs in-graph noise cost.
// Run: npx vite-node bench/graph-step.ts [--threads N] [--device cpu|cuda] [--reps K] [--quick]
import { mkdirSync, writeFileSync } from 'node:fs';
import * as b from '../src/graph/api.js';
import { grad } from '../src/graph/autodiff.js';
import { toOnnx } from '../src/graph/emit.js';
import { Graph, type Value } from '../src/graph/ir.js';
import { batchNormTrain, dense, denseParams, lstmParams, lstmUnroll, type DenseParams } from '../src/graph/nn.js';
import { compileTrainStep, type CompiledStep } from '../src/graph/optim.js';
import { Rng } from '../src/core/rng.js';
import { createSession, ort, type Device } from '../src/runtime/session.js';
import { Trainer, type FeedValue } from '../src/runtime/trainer.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const device = arg('device', 'cpu') as Device;
const threads = Number(arg('threads', '1'));
const reps = Number(arg('reps', '10'));
const quick = args.includes('--quick');
const sess = { device, intraOpThreads: threads };

const N = 100;
const T = 50;
const UNITS = 100;
const ATTR = 20; // attribute width (heads)
const FEAT = 10; // feature width per record (incl. gen flag)
const ZA = 5;
const ZF = 5;

/** MatMul FLOPs of the nodes a compiled output set needs, with the batch symbol bound to N. */
function matmulFlops(outputs: readonly Value[]): number {
  const g = outputs[0]!.graph;
  let f = 0;
  const dim = (d: number | string): number => (typeof d === 'number' ? d : N);
  for (const n of g.nodesFor(outputs)) {
    if (n.op !== 'MatMul') continue;
    const out = n.outputs[0]!.shape.map(dim);
    const k = dim(n.inputs[0]!.shape[n.inputs[0]!.shape.length - 1]!);
    f += 2 * k * out.reduce((p, q) => p * q, 1);
  }
  return f;
}

function mlp(g: Graph, name: string, x: Value, inDim: number, rng: Rng, group: string, bn: boolean): Value {
  let h = x;
  let d = inDim;
  for (let l = 0; l < 4; l++) {
    const p = denseParams(g, `${name}/fc${l}`, d, 512, rng, { group, init: { kind: 'normal', std: 0.02 } });
    h = g.scope(`${name}/fc${l}`, () => b.relu(dense(h, p)));
    if (bn) {
      const gamma = g.scope(`${name}/bn${l}`, () => g.param('gamma', [512], new Float32Array(512).fill(1), group));
      const beta = g.scope(`${name}/bn${l}`, () => g.param('beta', [512], new Float32Array(512), group));
      h = g.scope(`${name}/bn${l}`, () => batchNormTrain(h, gamma, beta).y);
    }
    d = 512;
  }
  return h;
}

function buildDoppelGanger(B: number | string) {
  const g = new Graph();
  const rng = new Rng(1, 'bench');
  const za = g.input('z_attr', [B, ZA]);
  const zf = Array.from({ length: T }, (_, t) => g.input(`z_feat${t}`, [B, ZF]));
  const h0 = g.input('h0', [B, UNITS]);
  const c0 = g.input('c0', [B, UNITS]);
  const realA = g.input('real_attr', [B, ATTR]);
  const realF = g.input('real_feat', [B, T * FEAT]);
  const alpha = g.input('alpha', [B, 1]);
  // generator
  const attr = g.scope('gen/attr', () => {
    const h = mlp(g, 'mlp', za, ZA, rng, 'gen', true);
    const head = denseParams(g, 'head', 512, ATTR, rng, { group: 'gen', init: { kind: 'normal', std: 0.02 } });
    const logits = dense(h, head);
    const [disc, cont] = b.split(logits, [ATTR / 2, ATTR / 2], 1);
    return b.concat([b.softmax(disc!), b.sigmoid(cont!)], 1);
  });
  const cond = b.stopGradient(attr);
  const lstm = lstmParams(g, 'gen/feat/lstm', ATTR + ZF, UNITS, rng, { group: 'gen' });
  const out: DenseParams = denseParams(g, 'gen/feat/out', UNITS, FEAT, rng, { group: 'gen', init: { kind: 'normal', std: 0.02 } });
  const hs = g.scope('gen/feat', () => lstmUnroll(g, zf.map((z) => b.concat([cond, z], 1)), h0, c0, lstm));
  const feat = g.scope('gen/feat', () => b.concat(hs.map((h) => b.tanh(dense(h, out))), 1));
  // discriminators
  const dParams: DenseParams[] = [];
  const aParams: DenseParams[] = [];
  const dims = [T * FEAT + ATTR, 512, 512, 512, 512];
  for (let l = 0; l < 4; l++) dParams.push(denseParams(g, `disc/fc${l}`, dims[l]!, 512, rng, { group: 'disc' }));
  dParams.push(denseParams(g, 'disc/out', 512, 1, rng, { group: 'disc' }));
  const adims = [ATTR, 512, 512, 512, 512];
  for (let l = 0; l < 4; l++) aParams.push(denseParams(g, `adisc/fc${l}`, adims[l]!, 512, rng, { group: 'adisc' }));
  aParams.push(denseParams(g, 'adisc/out', 512, 1, rng, { group: 'adisc' }));
  const critic = (ps: DenseParams[], x: Value, scope: string): Value =>
    g.scope(scope, () => {
      let h = x;
      for (let l = 0; l < 4; l++) h = b.relu(dense(h, ps[l]!));
      return dense(h, ps[4]!);
    });
  const wganGp = (ps: DenseParams[], real: Value, fake: Value, scope: string): Value => {
    const dReal = b.reduceMean(critic(ps, real, scope));
    const dFake = b.reduceMean(critic(ps, fake, scope));
    const xh = b.add(real, b.mul(alpha, b.sub(b.stopGradient(fake), real)));
    const [dx] = grad(b.reduceSum(critic(ps, xh, scope)), [xh]);
    const slopes = b.sqrt(b.add(b.reduceSum(b.square(dx!), [1]), 1e-8));
    return b.add(b.sub(dFake, dReal), b.mul(b.reduceMean(b.square(b.sub(slopes, 1))), 10));
  };
  const realX = b.concat([realF, realA], 1);
  const fakeX = b.concat([feat, attr], 1);
  const dLoss = wganGp(dParams, realX, fakeX, 'disc');
  const aLoss = wganGp(aParams, realA, attr, 'adisc');
  const gLoss = b.neg(b.add(b.reduceMean(critic(dParams, fakeX, 'disc')), b.reduceMean(critic(aParams, attr, 'adisc'))));
  const adam = { kind: 'adam', lr: 1e-4, beta1: 0.5 } as const;
  const steps = {
    D: compileTrainStep({ name: 'd', loss: dLoss, params: g.paramList('disc/'), optimizer: adam }),
    'D-attr': compileTrainStep({ name: 'dattr', loss: aLoss, params: g.paramList('adisc/'), optimizer: adam }),
    G: compileTrainStep({ name: 'g', loss: gLoss, params: g.paramList('gen/'), optimizer: adam }),
  };
  // FLOP counts: the step graphs' outputs (loss + updated params) need every MatMul of forward/backward.
  const flops = { D: flopsOf(g, 'd'), 'D-attr': flopsOf(g, 'dattr'), G: flopsOf(g, 'g') };
  return { g, steps, flops };
}

function flopsOf(g: Graph, step: string): number {
  // recompute the step's outputs: the param updates live under `<step>/adam/…`; take every value named like that
  const outs = g.values.filter((v) => v.name.startsWith(`${step}/adam/`) || v.name.startsWith(`${step}/sgd/`));
  return matmulFlops(outs);
}

function feedsFor(step: CompiledStep, rng: Rng): Record<string, FeedValue> {
  const f: Record<string, FeedValue> = {};
  for (const s of step.feeds) {
    const shape = s.shape.map((d) => (typeof d === 'number' ? d : N));
    const n = shape.reduce((p, q) => p * q, 1);
    f[s.name] = { data: s.name === 'alpha' ? rng.uniforms(n) : rng.normals(n), shape };
  }
  return f;
}

/** Best of k timed runs after one warm-up: on a shared, loaded machine the minimum is the stable statistic. */
async function best(fn: () => Promise<unknown>, k: number): Promise<number> {
  await fn();
  let m = Infinity;
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    await fn();
    m = Math.min(m, performance.now() - t0);
  }
  return m;
}

/** One large [S,S]·[S,S] MatMul session: the GFLOP/s this onnxruntime build reaches, re-measured next to each step. */
async function bigMatmul(size: number): Promise<() => Promise<{ ms: number; gflops: number }>> {
  const g = new Graph();
  const a = g.input('a', [size, size]);
  const c = g.input('b', [size, size]);
  const s = await createSession(toOnnx({ outputs: [b.matmul(a, c)] }), sess);
  const rng = new Rng(3, 'bench');
  const fa = new ort.Tensor('float32', rng.normals(size * size), [size, size]);
  const fb = new ort.Tensor('float32', rng.normals(size * size), [size, size]);
  return async () => {
    const ms = await best(() => s.run({ a: fa, b: fb }), 5);
    return { ms, gflops: (2 * size ** 3) / (ms / 1000) / 1e9 };
  };
}

async function lstmScaling(steps: number, B: number | string): Promise<Record<string, number | string>> {
  const g = new Graph();
  const rng = new Rng(2, 'bench');
  const xs = Array.from({ length: steps }, (_, t) => g.input(`x${t}`, [B, ATTR + ZF]));
  const h0 = g.input('h0', [B, UNITS]);
  const c0 = g.input('c0', [B, UNITS]);
  const p = lstmParams(g, 'lstm', ATTR + ZF, UNITS, rng);
  const head = denseParams(g, 'head', UNITS, FEAT, rng);
  const t0 = performance.now();
  const hs = lstmUnroll(g, xs, h0, c0, p);
  const loss = b.reduceMean(b.square(b.concat(hs.map((h) => dense(h, head)), 1)));
  const step = compileTrainStep({ name: 'train', loss, params: g.paramList(), optimizer: { kind: 'adam', lr: 1e-4 } });
  const buildMs = performance.now() - t0;
  const c = performance.now();
  const tr = await Trainer.create([step], sess);
  const createMs = performance.now() - c;
  const feeds = feedsFor(step, new Rng(4, 'bench'));
  const stepMs = await best(() => tr.run('train', feeds), Math.max(3, Math.floor(reps / 2)));
  await tr.dispose();
  const nodes = g.nodesFor(g.values.filter((v) => v.name.startsWith('train/adam/'))).length;
  return { T: steps, batch: String(B), nodes, onnxMB: step.onnx.length / 1e6, buildMs, createMs, stepMs };
}

const result: Record<string, unknown> = { device, threads, batch: N, date: new Date().toISOString() };
const MM = 1024;
const baseline = await bigMatmul(MM);
const mm = await baseline();
console.log(`baseline MatMul ${MM}²: ${mm.ms.toFixed(1)} ms, ${mm.gflops.toFixed(1)} GFLOP/s (threads ${threads}, ${device})`);
result['matmul'] = mm;

const rows: Record<string, unknown>[] = [];
let buildMs = 0;
for (const B of quick ? [N] : [N, 'N'] as const) {
const t0 = performance.now();
const dg = buildDoppelGanger(B);
buildMs = performance.now() - t0;
const trainer = await Trainer.create([], sess);
const rng = new Rng(5, 'bench');
for (const [name, step] of Object.entries(dg.steps)) {
  if (B === 'N' && name !== 'G') continue; // symbolic batch: only the session-creation cost of the largest graph
  const c = performance.now();
  await trainer.addStep(step);
  const createMs = performance.now() - c;
  const feeds = feedsFor(step, rng);
  const before = await baseline();
  const ms = await best(() => trainer.run(step.name, feeds), reps);
  const after = await baseline();
  const ref = Math.max(before.gflops, after.gflops);
  const flops = dg.flops[name as keyof typeof dg.flops];
  const gflops = flops / (ms / 1000) / 1e9;
  rows.push({ step: name, batch: String(B), onnxMB: +(step.onnx.length / 1e6).toFixed(2), createMs: Math.round(createMs), stepMs: +ms.toFixed(1), gflop: +(flops / 1e9).toFixed(3), gflops: +gflops.toFixed(1), matmulGflops: +ref.toFixed(1), vsMatmul: +(gflops / ref).toFixed(2) });
}
await trainer.dispose();
}
console.log(`DoppelGANger-size graphs (batch ${N}, MLP 4×512, LSTM ${UNITS}×${T}); graph build ${buildMs.toFixed(0)} ms`);
console.table(rows);
result['steps'] = rows;
result['buildMs'] = buildMs;

// Noise: generating every per-step input in JS (fed) vs the step time.
const nNoise = N * (ZA + T * ZF + 2 * UNITS + 1);
for (let i = 0; i < 5; i++) new Rng(7, 'bench').normals(nNoise); // JIT warm-up
const noiseMs = await best(async () => new Rng(7, 'bench').normals(nNoise), 20);
console.log(`fed noise: ${nNoise} normals per step in ${noiseMs.toFixed(2)} ms (JS xoshiro + Box–Muller)`);
result['noise'] = { values: nNoise, ms: noiseMs };

const lstmRows: Record<string, number | string>[] = [];
for (const [steps, B] of (quick ? [[50, N]] : [[50, N], [100, N], [200, N], [50, 'N'], [100, 'N']]) as [number, number | string][]) lstmRows.push(await lstmScaling(steps, B));
console.log(`unrolled LSTM (${UNITS} units, batch ${N}) train step: graph size and timings by T`);
console.table(lstmRows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? +v.toFixed(k === 'onnxMB' ? 2 : 0) : v]))));
result['lstm'] = lstmRows;

mkdirSync('bench/out', { recursive: true });
writeFileSync(`bench/out/graph-step-${device}.json`, JSON.stringify(result, null, 2));
