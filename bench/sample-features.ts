// Feature sampling speed: the whole generator graph (sample() with given attributes: every LSTM step and every head of
// all T records of every flow) against the step-wise sampler the generate stage's feature jobs run (sampleFeatures:
// ended flows leave the batch after each step, heads on emitted records only), in the same run on the same rows, with
// both stop rules. Checks that both give the same lengths and records, and prints the step-wise speed-up (the ratio to
// the whole graph measured beside it).
//
// Run: npm run build:ts && npx vite-node bench/sample-features.ts --workdir WD [--chunk K] [--flows N] [--repeat R]
//      (WD: a trained workdir; its chunk's last checkpoint, conditioned on the chunk's real attribute rows)
//      → a table on stdout, JSON in bench/out/sample-features-<stamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sample, sampleFeatures } from '../src/model/index.js';
import { loadCheckpoint } from '../src/pipeline/checkpoints.js';
import { loadChunkAttributes, loadLayout, loadPreprocessSummary } from '../src/pipeline/chunk-tensors.js';
import { trainedChunk } from '../src/pipeline/train.js';
import { inWorkdir } from '../src/pipeline/workdir.js';
import { arg } from './args.js';

const wd = resolve(arg('workdir') ?? '');
const chunk = Number(arg('chunk', '0'));
const flows = Number(arg('flows', '20000'));
const repeat = Number(arg('repeat', '3'));
const layout = await loadLayout(wd);
const A = layout.attributeDim;
const checkpoint = await loadCheckpoint(inWorkdir(wd, (await trainedChunk(wd, chunk)).lastCheckpoint));
// the chunk's real rows, repeated up to `flows` (each batch draws its own noise, so repeats are other flows)
const real = await loadChunkAttributes(wd, chunk);
const given = new Float32Array(flows * A);
for (let r = 0; r < flows; r++) given.set(real.subarray((r % (real.length / A)) * A, ((r % (real.length / A)) + 1) * A), r * A);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { stop: string; wholeMs: number[]; stepMs: number[]; ratio: number; records: number; lengthDiffs: number; maxAbsDiff: number }[] = [];
for (const stop of ['argmax', 'sample'] as const) {
  const opts = { checkpoint, givenAttributes: given, seed: 3, batchSize: 1000, threads: 1, stop };
  const wholeMs: number[] = [];
  const stepMs: number[] = [];
  let whole, step;
  for (let i = 0; i < repeat; i++) {
    let t0 = performance.now();
    whole = await sample(opts);
    wholeMs.push(performance.now() - t0);
    t0 = performance.now();
    step = await sampleFeatures(opts);
    stepMs.push(performance.now() - t0);
  }
  const T = whole!.layout.maxLen;
  const F = layout.featureDim;
  let lengthDiffs = 0;
  let maxAbsDiff = 0;
  let r = 0;
  for (let i = 0; i < flows; i++) {
    if (whole!.lengths[i] !== step!.lengths[i]) lengthDiffs++;
    for (let t = 0; t < Math.min(whole!.lengths[i]!, step!.lengths[i]!); t++) {
      for (let k = 0; k < F; k++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(whole!.features[(i * T + t) * F + k]! - step!.packedFeatures[(r + t) * F + k]!));
    }
    r += step!.lengths[i]!;
  }
  rows.push({ stop, wholeMs, stepMs, ratio: median(wholeMs) / median(stepMs), records: r, lengthDiffs, maxAbsDiff });
}

console.log(`${wd}, chunk ${chunk}: ${flows} flows given their attributes, T = ${(await loadPreprocessSummary(wd)).maxLen}, A = ${A}, F = ${layout.featureDim}, 1 thread, median of ${repeat}`);
console.log('stop     whole graph ms   step-wise ms   speed-up   records   length diffs   max |diff|');
for (const x of rows) {
  console.log(`${x.stop.padEnd(8)} ${median(x.wholeMs).toFixed(0).padStart(14)} ${median(x.stepMs).toFixed(0).padStart(14)} ${x.ratio.toFixed(2).padStart(9)}× ${String(x.records).padStart(9)} ${String(x.lengthDiffs).padStart(14)} ${x.maxAbsDiff.toExponential(1).padStart(12)}`);
}
const outDir = join(import.meta.dirname, 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `sample-features-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ workdir: wd, chunk, flows, repeat, rows }, null, 2)}\n`);
console.log(file);
