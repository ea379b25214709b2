// Benchmark: DP-SGD critic step (per-example gradients by parameter tiling + clip/noise aggregation) vs the plain
// critic step. Default: a bare 4×512 critic (input 520, batch 100). `--model demo|netflow`: the model's own step graphs
// (compileDpCriticStep vs compileCriticStep: generator forward, both critics, both gradient penalties, Adam) at the demo
// preset's sizes or the netflow preset's with DP's fixed max flow length 100.
// `pcap500`: paper-size networks on packet flows of T = 500 (the issue's memory case; use --no-tiling).
// Run: npx vite-node bench/graph-dp.ts [--batch N] [--model demo|netflow|pcap500 [--no-tiling]]
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { MODEL_PRESETS, parseModelConfig, type ModelConfig } from '../src/model/config.js';
import { compileCriticStep, compileDpCriticStep, compileDpFakeBatch } from '../src/model/graphs.js';
import type { ModelLayout } from '../src/model/layout.js';
import * as b from '../src/graph/api.js';
import { grad } from '../src/graph/autodiff.js';
import { Graph, type Value } from '../src/graph/ir.js';
import { dense, denseParams, dpAggregate, perExampleGrads, type DenseParams } from '../src/graph/nn.js';
import { compileTrainStep, type CompiledStep } from '../src/graph/optim.js';
import { Rng } from '../src/core/rng.js';
import { Trainer, type FeedValue } from '../src/runtime/trainer.js';

const args = process.argv.slice(2);
const bi = args.indexOf('--batch');
const mi = args.indexOf('--model');
const MODEL = mi >= 0 ? args[mi + 1] : undefined;
const N = bi >= 0 ? Number(args[bi + 1]) : MODEL === 'demo' ? 64 : 100;
const IN = 520;

/**
 * Model sizes (widths as preprocessing makes them; the activations do not change the cost):
 * demo = demo-pcap.json (2×64 critics, LSTM 32, T 50, 9 feature dims, 128 IP bits + 30 word2vec + flow start + 8 tag dims);
 * netflow = the netflow preset (4×512 critics, LSTM 100) with DP's fixed max flow length 100 (spec §2.3), 6 feature dims,
 * 181 attribute dims (10 chunks' tags).
 */
function modelCase(name: string): { cfg: ModelConfig; layout: ModelLayout } {
  const lay = (A: number, F: number, T: number): ModelLayout => ({
    attributes: [{ name: 'a', offset: 0, dim: A, activation: 'sigmoid' }],
    features: [{ name: 'f', offset: 0, dim: F, activation: 'sigmoid' }],
    maxLen: T,
  });
  if (name === 'demo') {
    return {
      cfg: parseModelConfig({ sampleLen: 10, batchSize: N, attrGenUnits: 64, attrGenLayers: 2, lstmUnits: 32, discUnits: 64, discLayers: 2, attrDiscUnits: 64, attrDiscLayers: 2, dRounds: 2, iterations: 10, checkpointEvery: 0 }),
      layout: lay(167, 9, 50),
    };
  }
  if (name === 'netflow') return { cfg: parseModelConfig({ ...MODEL_PRESETS.netflow, batchSize: N, iterations: 10, checkpointEvery: 0 }), layout: lay(181, 6, 100) };
  // the issue's memory case: paper-size critics and LSTM on packet flows of T = 500 (9 feature dims + gen flag)
  if (name === 'pcap500') return { cfg: parseModelConfig({ ...MODEL_PRESETS.pcap, batchSize: N, iterations: 10, checkpointEvery: 0 }), layout: lay(181, 9, 500) };
  throw new Error(`--model demo | netflow | pcap500, got ${name}`);
}

/** The model's critic step; DP: its fake-batch graph first (it generates the fakes the plain step generates in-graph). */
function buildModel(variant: Variant): CompiledStep[] {
  const { cfg, layout } = modelCase(MODEL!);
  return variant === 'plain'
    ? [compileCriticStep(cfg, layout, 1, new Graph())]
    : [compileDpFakeBatch(cfg, layout, 1, new Graph()), compileDpCriticStep(cfg, layout, 1, { clip: 1, noiseMultiplier: 1, method: variant }, new Graph())];
}

type Variant = 'plain' | 'ghost' | 'tiling';
const LABEL: Record<Variant, string> = { plain: 'D (plain)', ghost: 'D (DP-SGD, ghost clipping)', tiling: 'D (DP-SGD, per-example by tiling)' };

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
const variants: Variant[] = MODEL ? (args.includes('--no-tiling') ? ['plain', 'ghost'] : ['plain', 'ghost', 'tiling']) : ['plain', 'tiling'];
for (const variant of variants) {
  const t0 = performance.now();
  const steps = MODEL ? buildModel(variant) : [build(variant !== 'plain')];
  const buildMs = performance.now() - t0;
  const c = performance.now();
  const tr = await Trainer.create(steps, { intraOpThreads: 1 });
  const createMs = performance.now() - c;
  const rng = new Rng(2, 'bench');
  const feeds = steps.map((step) => {
    const f: Record<string, FeedValue> = {};
    for (const x of step.feeds) {
      const shape = x.shape.map((d) => (typeof d === 'number' ? d : N));
      const size = shape.reduce((p, q) => p * q, 1);
      f[x.name] = { data: x.name === 'dp/weight' ? new Float32Array(size).fill(1) : x.name === 'dp/denominator' ? Float32Array.of(N) : rng.normals(size), shape };
    }
    return f;
  });
  const once = async (): Promise<void> => {
    for (let k = 0; k < steps.length; k++) await tr.run(steps[k]!.name, feeds[k]!);
  };
  await once();
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await once();
    best = Math.min(best, performance.now() - t);
  }
  rows.push({
    model: MODEL ?? 'bare critic', step: LABEL[variant], batch: N, buildMs: Math.round(buildMs), createMs: Math.round(createMs),
    stepMs: Math.round(best), rssMB: Math.round(process.memoryUsage().rss / 1e6),
  });
  await tr.dispose();
}
const plainMs = rows[0]!['stepMs'] as number;
for (const r of rows.slice(1, variants.length)) r['× plain'] = Number(((r['stepMs'] as number) / plainMs).toFixed(2));
console.table(rows);
mkdirSync('bench/out', { recursive: true });
writeFileSync(`bench/out/graph-dp-cpu${MODEL ? `-${MODEL}` : ''}.json`, JSON.stringify({ date: new Date().toISOString(), load: loadavg(), rows }, null, 2));
