// Benchmark: what one onnxruntime CPU kernel costs without the profiler (a chain of K Adds on [n] floats, 1 thread).
// Run: npx vite-node bench/kernel-cost.ts [--sizes 64,4096,65536] [--chain 1000] [--out FILE]
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { add } from '../src/graph/api.js';
import { toOnnx } from '../src/graph/emit.js';
import { Graph } from '../src/graph/ir.js';
import { createSession, ort } from '../src/runtime/session.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const sizes = arg('sizes', '64,4096,65536').split(',').map(Number);
const chain = Number(arg('chain', '1000'));

/** CPU µs of this process per session.run of a graph of `k` chained Adds on [n] floats (median of 5 batches). */
async function cpuPerRun(n: number, k: number): Promise<number> {
  const g = new Graph();
  const x = g.input('x', [n]);
  const y = g.input('y', [n]);
  let v = x;
  for (let i = 0; i < k; i++) v = add(v, y);
  const s = await createSession(toOnnx({ outputs: [v], inputs: [x, y] }), { intraOpThreads: 1 });
  const feeds = { x: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]), y: new ort.Tensor('float32', new Float32Array(n).fill(1e-3), [n]) };
  for (let i = 0; i < 20; i++) await s.run(feeds);
  const runs = Math.max(20, Math.round(200_000 / (k * Math.max(1, n / 1024))));
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) await s.run(feeds);
    const c = process.cpuUsage(c0);
    batches.push((c.user + c.system) / runs);
  }
  await s.release();
  return batches.sort((a, b) => a - b)[2]!;
}

// The chain's cost less a one-node graph's, per extra node: the kernel alone, without session.run's fixed cost.
const rows: { n: number; runUs: number; chainUs: number; kernelUs: number; loadavg: number }[] = [];
for (const n of sizes) {
  const one = await cpuPerRun(n, 1);
  const many = await cpuPerRun(n, chain);
  rows.push({ n, runUs: one, chainUs: many, kernelUs: (many - one) / (chain - 1), loadavg: loadavg()[0]! });
}
console.log(`onnxruntime CPU EP, 1 intra-op thread, Add on [n] float32, chain of ${chain}; CPU µs (median of 5 batches)`);
console.log('| n | one-node run | chain run | per kernel | load |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.n} | ${r.runUs.toFixed(1)} | ${r.chainUs.toFixed(0)} | ${r.kernelUs.toFixed(2)} | ${r.loadavg.toFixed(1)} |`);
const out = arg('out', join('bench', 'out', 'kernel-cost.json'));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ chain, rows }, null, 2)}\n`);
