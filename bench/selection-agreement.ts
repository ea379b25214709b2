// How often choosing each chunk's checkpoint on a seeded sample of its flows picks the checkpoint that ranking every
// checkpoint's full output picks (issue 19). On a trained workdir (a copy: the generate stage is rerun in it), per seed:
// the generate stage with every checkpoint generated in full and ranked as postprocess ranks them, then with the
// choice made on samples of each size. Chunks whose flows all fit in the sample agree by construction and are counted
// apart ("trivial").
//
// Run: npx vite-node bench/selection-agreement.ts --workdir WD --input TRACE [--sizes 1000,5000,20000] [--seeds 0,1,2]
//      → a table on stdout, JSON in bench/out/selection-agreement-<stamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpuUsage } from 'node:process';
import { readTrace } from '../src/io/read-trace.js';
import { parseConfig, type NetShareConfig } from '../src/config/schema.js';
import { loadPreprocessSummary } from '../src/pipeline/chunk-tensors.js';
import { InProcessExecutor } from '../src/pipeline/executor.js';
import { generateStage } from '../src/pipeline/generate.js';
import { loadRealSides } from '../src/pipeline/holdout.js';
import { workdirIdentity } from '../src/pipeline/lease.js';
import { chunkRealRows, rankChunkCandidates, selectionMetrics } from '../src/pipeline/postprocess.js';
import { readFileSync } from 'node:fs';
import { arg } from './args.js';

const wd = resolve(arg('workdir') ?? '');
const input = resolve(arg('input') ?? '');
const sizes = (arg('sizes', '1000,5000,20000') ?? '').split(',').map(Number);
const seeds = (arg('seeds', '0') ?? '').split(',').map(Number);
const config = parseConfig(JSON.parse(readFileSync(join(wd, 'config.json'), 'utf8')) as Record<string, unknown>, 'config.json') as NetShareConfig;
const summary = await loadPreprocessSummary(wd);
const real = (await loadRealSides(wd, (await readTrace(input, summary.read ?? {})).table, summary)).train;
const realChunk = async (j: number) => chunkRealRows(real, summary, j);
const executor = new InProcessExecutor(1);
const scope = await workdirIdentity(wd);
const selSet = selectionMetrics(config);
const cpu = (): number => {
  const c = cpuUsage();
  return (c.user + c.system) / 1e6;
};

interface Row { seed: number; size: number; chunk: number; flows: number; sampleFlows: number; full: number; sample: number; agree: boolean; trivial: boolean; fullRankSums: (number | null)[]; sampleRankSums: (number | null)[] }
const rows: Row[] = [];
const cost: { seed: number; mode: string; cpuS: number; wallS: number; selectCpuS?: number }[] = [];
for (const seed of seeds) {
  let c0 = cpu();
  let t0 = performance.now();
  const full = await generateStage({ workdir: wd, config, executor, scope, seed, selectOn: 'full' });
  const fullRank = new Map<number, Awaited<ReturnType<typeof rankChunkCandidates>>>();
  for (const [j, k] of summary.chunks.entries()) {
    const mine = full.candidates.filter((c) => c.chunk === k && c.pass === 0).sort((a, b) => a.iteration - b.iteration);
    if (mine.length > 1) fullRank.set(k, await rankChunkCandidates(k, await realChunk(j), summary.recordRangesUs[j]!, mine, selSet, config.global.dp !== false));
  }
  cost.push({ seed, mode: 'full', cpuS: cpu() - c0, wallS: (performance.now() - t0) / 1000 });
  for (const size of sizes) {
    c0 = cpu();
    t0 = performance.now();
    const s = await generateStage({ workdir: wd, config, executor, scope, seed, realChunk, selectionSampleFlows: size });
    cost.push({ seed, mode: `sample ${size}`, cpuS: cpu() - c0, wallS: (performance.now() - t0) / 1000 });
    for (const c of s.selection?.chunks ?? []) {
      const f = fullRank.get(c.chunk);
      if (!f) continue;
      rows.push({
        seed, size, chunk: c.chunk, flows: c.flows, sampleFlows: c.sampleFlows, full: f.best, sample: c.ranking.best, agree: f.best === c.ranking.best,
        trivial: c.sampleFlows >= c.flows, fullRankSums: f.candidates.map((x) => x.rankSum), sampleRankSums: c.ranking.candidates.map((x) => x.rankSum),
      });
    }
  }
}
await executor.close();
console.log(`checkpoint choice on samples vs on full outputs: ${wd}`);
console.log(`${'size'.padStart(7)} ${'chunks'.padStart(7)} ${'agree'.padStart(6)} ${'informative'.padStart(12)} ${'agree'.padStart(6)}`);
const summaryRows = sizes.map((size) => {
  const r = rows.filter((x) => x.size === size);
  const inf = r.filter((x) => !x.trivial);
  return { size, chunks: r.length, agree: r.filter((x) => x.agree).length, informative: inf.length, informativeAgree: inf.filter((x) => x.agree).length };
});
for (const s of summaryRows) console.log(`${String(s.size).padStart(7)} ${String(s.chunks).padStart(7)} ${String(s.agree).padStart(6)} ${String(s.informative).padStart(12)} ${String(s.informativeAgree).padStart(6)}`);
for (const c of cost) console.log(`seed ${c.seed} ${c.mode.padEnd(14)} generate (+ ranking for full) ${c.wallS.toFixed(1)} s wall, ${c.cpuS.toFixed(1)} CPU-s (this process)`);
const out = join(import.meta.dirname, 'out');
mkdirSync(out, { recursive: true });
const file = join(out, `selection-agreement-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ workdir: wd, input, sizes, seeds, summary: summaryRows, rows, cost }, null, 2));
console.log(`JSON: ${file}`);
