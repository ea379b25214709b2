// Benchmark: DP-SGD critic step (per-example gradients by parameter tiling + clip/noise aggregation) vs the plain
// critic step, DoppelGANger size (input 520, 4×512, batch 100). Run: npx vite-node bench/graph-dp.ts [--batch N]
import { mkdirSync, writeFileSync } from 'node:fs';
import * as b from '../src/graph/api.js';
import { grad } from '../src/graph/autodiff.js';
import { Graph, type Value } from '../src/graph/ir.js';
import { dense, denseParams, dpAggregate, perExampleGrads, type DenseParams } from '../src/graph/nn.js';
import { compileTrainStep, type CompiledStep } from '../src/graph/optim.js';
import { Rng } from '../src/core/rng.js';
import { Trainer, type FeedValue } from '../src/runtime/trainer.js';

const args = process.argv.slice(2);
const bi = args.indexOf('--batch');
const N = bi >= 0 ? Number(args[bi + 1]) : 100;
const IN = 520;

function build(dp: boolean): CompiledStep {
  const g = new Graph();
  const rng = new Rng(1, 'bench');
  const real = g.input('real', [N, IN]);
  const fake = g.input('fake', [N, IN]);
  const alpha = g.input('alpha', [N, 1]);
  const ps: DenseParams[] = [];
  const dims = [IN, 512, 512, 512, 512];
  for (let l = 0; l < 4; l++) ps.push(denseParams(g, `disc/fc${l}`, dims[l]!, 512, rng));
  ps.push(denseParams(g, 'disc/out', 512, 1, rng));
  const flat = ps.flatMap((p) => [p.w, p.b]);
  // per-example WGAN-GP critic loss: D(fake_i) − D(real_i) + 10·(‖∂D/∂x̂_i‖ − 1)²
  const perExample = (params: Value[]): Value => {
    const P = (i: number): DenseParams => ({ w: params[2 * i]!, b: params[2 * i + 1]! });
    const critic = (x: Value): Value => {
      let h = x;
      for (let l = 0; l < 4; l++) h = b.relu(dense(h, P(l)));
      return b.reshape(dense(h, P(4)), [-1]);
    };
    const xh = b.add(real, b.mul(alpha, b.sub(fake, real)));
    const [dx] = grad(b.reduceSum(critic(xh)), [xh]);
    const slopes = b.sqrt(b.add(b.reduceSum(b.square(dx!), [1]), 1e-8));
    return b.add(b.sub(critic(fake), critic(real)), b.mul(b.square(b.sub(slopes, 1)), 10));
  };
  const adam = { kind: 'adam', lr: 1e-4, beta1: 0.5 } as const;
  if (!dp) {
    const loss = b.reduceMean(perExample(flat));
    return compileTrainStep({ name: 'd', loss, params: g.paramList('disc/'), optimizer: adam });
  }
  const { losses, grads } = perExampleGrads(flat, real, perExample);
  const noise = flat.map((p) => g.input(`noise/${p.name}`, p.shape));
  const agg = dpAggregate(grads, noise, 1.0, 1.0);
  return compileTrainStep({ name: 'd', loss: b.reduceMean(losses), params: g.paramList('disc/'), optimizer: adam, grads: agg });
}

const rows: Record<string, unknown>[] = [];
for (const dp of [false, true]) {
  const t0 = performance.now();
  const step = build(dp);
  const buildMs = performance.now() - t0;
  const c = performance.now();
  const tr = await Trainer.create([step], { intraOpThreads: 1 });
  const createMs = performance.now() - c;
  const rng = new Rng(2, 'bench');
  const feeds: Record<string, FeedValue> = {};
  for (const f of step.feeds) {
    const shape = f.shape as number[];
    feeds[f.name] = { data: rng.normals(shape.reduce((p, q) => p * q, 1)), shape };
  }
  await tr.run('d', feeds);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await tr.run('d', feeds);
    best = Math.min(best, performance.now() - t);
  }
  rows.push({ step: dp ? 'D (DP-SGD, per-example)' : 'D (plain)', batch: N, buildMs: Math.round(buildMs), createMs: Math.round(createMs), stepMs: Math.round(best), rssMB: Math.round(process.memoryUsage().rss / 1e6) });
  await tr.dispose();
}
console.table(rows);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/graph-dp-cpu.json', JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
