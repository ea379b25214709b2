// Benchmark: DoppelGANger training iterations/s (paper-size presets, demo-size networks, a T sweep) and the
// iteration's MatMul GFLOP/s against one large MatMul through the same onnxruntime build at the same thread count, in the same run.
// Run: npx vite-node bench/model.ts [--cases pcap,netflow,pcap-default,demo,t50,t2690] [--threads 1,2] [--mode fused,steps]
//        [--iters K] [--matmul 2048] [--device cpu|cuda] [--out FILE]
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { matmul } from '../src/graph/api.js';
import { toOnnx } from '../src/graph/emit.js';
import { Graph } from '../src/graph/ir.js';
import type { CompiledStep } from '../src/graph/optim.js';
import { parseModelConfig, presetModelConfig, type ModelConfig } from '../src/model/config.js';
import * as graphs from '../src/model/graphs.js';
import type { Activation, FieldSlice, ModelLayout } from '../src/model/layout.js';
import { PRESET_LAYOUTS } from '../src/model/presets.js';
import { Rng } from '../src/core/rng.js';
import { createSession, ort, type Device } from '../src/runtime/session.js';
import { Trainer, type FeedValue } from '../src/runtime/trainer.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const device = arg('device', 'cpu') as Device;
const threadList = arg('threads', '1,2').split(',').map(Number);
const iters = Number(arg('iters', '3'));
const modes = arg('mode', 'fused,steps').split(',') as ('fused' | 'steps')[];
const cases = arg('cases', 'pcap,netflow,demo').split(',');
const mmSize = Number(arg('matmul', '2048'));

/** The demo preset's networks (src/config/presets/demo-pcap.json) on the pcap layout at its maxFlowLen 50. */
const DEMO = { sampleLen: 10, batchSize: 64, attrGenUnits: 64, attrGenLayers: 2, lstmUnits: 32, discUnits: 64, discLayers: 2, attrDiscUnits: 64, attrDiscLayers: 2, dRounds: 2 };

/**
 * The layout the default `pcap` preset (src/config/presets/pcap.json) gives a trace, unlike PRESET_LAYOUTS.pcap (the
 * faithful NetShare layout): TTL and ToS as categorical attributes, 16 flow-start bins before the scaled start, and a
 * per-packet TCP-flags categorical instead of ToS/TTL features. Categorical vocabularies come from the data; the sizes
 * here are those preprocessing found on ../shared/data/pcap/caida-2018-1k.pcapng (TTL 54, ToS 11, TCP flags 8). T 500 as
 * in PRESET_LAYOUTS.pcap (the preset's maxFlowLen is the data's longest flow). 262 attribute dims, 15 feature dims.
 */
function pcapDefaultLayout(nChunks = 10, vocab = { ttl: 54, tos: 11, tcpFlags: 8 }): ModelLayout {
  const build = (fields: [string, number, Activation][]): FieldSlice[] => {
    let at = 0;
    return fields.map(([name, dim, activation]) => ({ name, offset: (at += dim) - dim, dim, activation }));
  };
  const a: [string, number, Activation][] = [];
  for (const ip of ['srcip', 'dstip']) for (let b = 0; b < 32; b++) a.push([`${ip}.bit${b}`, 2, 'softmax']);
  a.push(['srcport', 10, 'tanh'], ['dstport', 10, 'tanh'], ['proto', 10, 'tanh'], ['ttl', vocab.ttl, 'softmax'], ['tos', vocab.tos, 'softmax']);
  a.push(['flow_tags.startFromThisChunk', 2, 'softmax']);
  for (let c = 0; c < nChunks; c++) a.push([`flow_tags.chunk_${c}`, 2, 'softmax']);
  a.push(['flow_start_bin', 16, 'softmax'], ['flow_start', 1, 'sigmoid']);
  const f: [string, number, Activation][] = [
    ['interarrival', 1, 'sigmoid'], ['pkt_len', 1, 'sigmoid'], ['id', 1, 'sigmoid'], ['flag', 3, 'softmax'], ['off', 1, 'sigmoid'], ['tcp_flags', vocab.tcpFlags, 'softmax'],
  ];
  return { attributes: build(a), features: build(f), maxLen: 500 };
}

function caseSpec(name: string): { cfg: ModelConfig; layout: ModelLayout } {
  if (name === 'pcap' || name === 'netflow') return { cfg: presetModelConfig(name), layout: PRESET_LAYOUTS[name] };
  if (name === 'pcap-default') return { cfg: presetModelConfig('pcap'), layout: pcapDefaultLayout() };
  if (name === 'demo') return { cfg: parseModelConfig(DEMO), layout: { ...PRESET_LAYOUTS.pcap, maxLen: 50 } };
  const t = /^t(\d+)$/.exec(name);
  if (t) return { cfg: presetModelConfig('pcap'), layout: { ...PRESET_LAYOUTS.pcap, maxLen: Number(t[1]) } };
  throw new Error(`unknown case ${name} (pcap, netflow, pcap-default, demo, t<T>)`);
}

/**
 * Median seconds per call of `fn` over at least `reps` calls and at least `minSec` seconds, after one warm-up,
 * and CPU seconds (all threads of this process) per call.
 */
async function timeIt(fn: () => Promise<unknown>, reps: number, minSec = 0): Promise<{ sec: number; cpu: number }> {
  await fn();
  const times: number[] = [];
  const c0 = process.cpuUsage();
  const start = performance.now();
  while (times.length < reps || performance.now() - start < minSec * 1000) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  const c = process.cpuUsage(c0);
  const n = times.length;
  times.sort((a, b) => a - b);
  return { sec: times[Math.floor(n / 2)]!, cpu: (c.user + c.system) / 1e6 / n };
}

/** GFLOP/s (wall) and GFLOP per CPU-second of one [n,n]×[n,n] MatMul session at `threads` (the roofline this build reaches). */
async function bigMatmul(size: number, threads: number): Promise<{ wall: number; cpu: number }> {
  const g = new Graph();
  const a = g.input('a', [size, size]);
  const b = g.input('b', [size, size]);
  const s = await createSession(toOnnx({ outputs: [matmul(a, b)], inputs: [a, b] }), { device, intraOpThreads: threads });
  const r = new Rng(1, 'bench');
  const feeds = { a: new ort.Tensor('float32', r.normals(size * size), [size, size]), b: new ort.Tensor('float32', r.normals(size * size), [size, size]) };
  const { sec, cpu } = await timeIt(() => s.run(feeds), 5);
  await s.release();
  return { wall: (2 * size ** 3) / sec / 1e9, cpu: (2 * size ** 3) / cpu / 1e9 };
}

/** Random feeds for every input a step declares (uniforms: valid data, α, and noise alike for timing). */
function feedsFor(steps: readonly CompiledStep[]): Map<string, Record<string, FeedValue>> {
  const r = new Rng(2, 'bench');
  const out = new Map<string, Record<string, FeedValue>>();
  for (const s of steps) {
    const f: Record<string, FeedValue> = {};
    for (const x of s.feeds) {
      const shape = x.shape as number[];
      f[x.name] = { data: r.uniforms(shape.reduce((a, b) => a * b, 1)), shape };
    }
    out.set(s.name, f);
  }
  return out;
}

interface Row {
  case: string;
  mode: string;
  threads: number;
  T: number;
  compileS: number;
  sessionS: number;
  itPerS: number;
  cpuSPerIt: number;
  gflopPerIt: number;
  gflopsPerS: number;
  refGflops: number;
  ratio: number;
  /** GFLOP per CPU-second of the iteration / of the reference MatMul: what a shared machine's load disturbs least at 1 thread. */
  cpuRatio: number;
  loadavg: number;
}

async function benchCase(name: string, mode: 'fused' | 'steps', threads: number): Promise<Omit<Row, 'refGflops' | 'ratio' | 'cpuRatio' | 'loadavg'>> {
  const { cfg, layout } = caseSpec(name);
  let t0 = performance.now();
  const built: { step: CompiledStep; g: Graph; runs: number }[] = [];
  if (mode === 'fused') {
    const g = new Graph();
    built.push({ step: graphs.compileTrainIteration(cfg, layout, 0, g), g, runs: 1 });
  } else {
    const gd = new Graph();
    const gg = new Graph();
    built.push({ step: graphs.compileCriticStep(cfg, layout, 0, gd), g: gd, runs: cfg.dRounds });
    built.push({ step: graphs.compileGeneratorStep(cfg, layout, 0, gg), g: gg, runs: cfg.gRounds });
  }
  const compileS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const trainer = await Trainer.create(built.map((b) => b.step), { device, intraOpThreads: threads });
  const sessionS = (performance.now() - t0) / 1000;
  const feeds = feedsFor(built.map((b) => b.step));
  const iteration = async (): Promise<void> => {
    for (const b of built) for (let k = 0; k < b.runs; k++) await trainer.run(b.step.name, feeds.get(b.step.name)!);
  };
  const { sec, cpu } = await timeIt(iteration, iters, 3);
  await trainer.dispose();
  const flops = built.reduce((a, b) => a + b.runs * graphs.matmulFlops(b.g), 0);
  return { case: name, mode, threads, T: layout.maxLen, compileS, sessionS, itPerS: 1 / sec, cpuSPerIt: cpu, gflopPerIt: flops / 1e9, gflopsPerS: flops / sec / 1e9 };
}

// The machine may be shared: the reference is measured right before and after each case at the same thread
// count, and the ratio divides by the larger of the two (the conservative ratio).
const rows: Row[] = [];
for (const threads of threadList) {
  for (const c of cases) {
    for (const mode of modes) {
      const before = await bigMatmul(mmSize, threads);
      const r = await benchCase(c, mode, threads);
      const after = await bigMatmul(mmSize, threads);
      const ref = Math.max(before.wall, after.wall);
      const refCpu = Math.max(before.cpu, after.cpu);
      rows.push({ ...r, refGflops: ref, ratio: r.gflopsPerS / ref, cpuRatio: r.gflopPerIt / r.cpuSPerIt / refCpu, loadavg: loadavg()[0]! });
      console.error(`done ${c} ${mode} ${threads}t: ${r.itPerS.toFixed(2)} it/s`);
    }
  }
}
const ms = (x: number): string => x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2);
console.log(`device ${device}, reference MatMul ${mmSize}³ at the same thread count, ${iters} timed iterations (median) after one warm-up`);
console.log('| case | T | mode | threads | compile s | session s | it/s | CPU ms/it | GFLOP/it | GFLOP/s | ref MatMul GFLOP/s | ratio | CPU-time ratio | load |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.case} | ${r.T} | ${r.mode} | ${r.threads} | ${r.compileS.toFixed(2)} | ${r.sessionS.toFixed(2)} | ${r.itPerS.toFixed(2)} | ${ms(r.cpuSPerIt * 1000)} | ${r.gflopPerIt.toFixed(2)} | ${r.gflopsPerS.toFixed(1)} | ${r.refGflops.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.cpuRatio.toFixed(2)} | ${r.loadavg.toFixed(1)} |`);
}
const out = arg('out', join('bench', 'out', `model-${device}.json`));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ device, iters, matmul: mmSize, rows }, null, 2)}\n`);
