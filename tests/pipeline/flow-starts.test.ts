// postprocess.flowStarts = "histogram": the in-bin position of a generated flow start is drawn from the chunk's real
// starts in that bin (16 sub-bins), keyed by the generated row.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { argmaxBins, chunkStartHistogram, histogramInSlice, keepSoftBins, softBinPick, SUB_BINS, type StartHistogram } from '../../src/pipeline/flow-starts.js';
import { loadChunkMeta, loadChunkTensors, loadLayout } from '../../src/pipeline/chunk-tensors.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { writePcap } from '../../src/native/writer.js';
import { syntheticPackets, tinyConfig } from './helpers.js';
import { readFlowStart } from '../../src/encode/tensors.js';

describe('histogramInSlice', () => {
  const bins = 4;
  const counts = new Float64Array(bins * SUB_BINS);
  counts[2 * SUB_BINS + 3] = 30; // bin 2: every real start in sub-bin 3 ...
  counts[2 * SUB_BINS + 12] = 10; // ... or 12 (3:1)
  const h: StartHistogram = { bins, counts };
  const A = 5;
  const rows = new Float32Array(4000 * A);
  for (let i = 0; i < rows.length; i++) rows[i] = Math.sin(i * 12.9898) * 0.5;
  const inSlice = histogramInSlice(h, rows, A);

  it('draws inside the real sub-bins of the bin, in their proportions', () => {
    let low = 0;
    for (let f = 0; f < 4000; f++) {
      const pos = inSlice(f, 2);
      const sub = Math.floor(pos * SUB_BINS);
      expect([3, 12]).toContain(sub);
      if (sub === 3) low++;
    }
    expect(low / 4000).toBeGreaterThan(0.7);
    expect(low / 4000).toBeLessThan(0.8);
  });

  it('is a function of the row, and uniform in a bin with no real start', () => {
    expect(inSlice(17, 2)).toBe(inSlice(17, 2));
    const subs = new Set<number>();
    for (let f = 0; f < 1000; f++) {
      const pos = inSlice(f, 0);
      expect(pos >= 0 && pos < 1).toBe(true);
      subs.add(Math.floor(pos * SUB_BINS));
    }
    expect(subs.size).toBe(SUB_BINS);
  });

  it('replaces the generated position in readFlowStart, keeping the bin', () => {
    // bins 4 over [0, 400): one-hot on bin 1, generated position 0.5 → 150; given position 0.25 → 125
    const src = Float32Array.of(0, 1, 0, 0, 0.5);
    expect(readFlowStart(src, 0, 0, 400, 'zeroOne', 4)).toBe(150);
    expect(readFlowStart(src, 0, 0, 400, 'zeroOne', 4, (b) => (b === 1 ? 0.25 : NaN))).toBe(125);
  });
});

describe('chunkStartHistogram', () => {
  it('counts every training flow start of the chunk in its bin and sub-bin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-flow-starts-'));
    const input = join(dir, 'in.pcap');
    await writePcap(input, syntheticPackets(60, 2));
    const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1 }) }, { holdoutShare: 0 });
    expect(cfg.preprocess.timestamp.flowStartBins).toBeGreaterThan(0);
    const wd = join(dir, 'wd');
    await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', executor: new InProcessExecutor(1), workers: 1 });
    const layout = await loadLayout(wd);
    const t = await loadChunkTensors(wd, 0);
    const meta = await loadChunkMeta(wd, 0);
    const h = (await chunkStartHistogram(wd, 0, layout, cfg.preprocess.timestamp.normalization))!;
    const bins = cfg.preprocess.timestamp.flowStartBins;
    expect(h.bins).toBe(bins);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(t.n);
    const A = layout.attributeDim;
    const off = layout.attributes.find((a) => a.name === 'flow_start_bin')!.offset;
    const [lo, hi] = meta.flowStartRange;
    for (let f = 0; f < t.n; f++) {
      const start = readFlowStart(t.attributes, f * A + off, lo, hi, cfg.preprocess.timestamp.normalization, bins);
      const sub = Math.min(bins * SUB_BINS - 1, Math.floor(((start - lo) / (hi - lo)) * bins * SUB_BINS));
      expect(h.counts[sub]! + (h.counts[sub - 1] ?? 0) + (h.counts[sub + 1] ?? 0), `flow ${f}`).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('flowStartBin "sample"', () => {
  it('keeps the bin softmax in the rows, conditions on its arg-max and decodes a draw from it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-flow-start-bins-'));
    const input = join(dir, 'in.pcap');
    await writePcap(input, syntheticPackets(20, 2));
    const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1 }) }, { holdoutShare: 0 });
    const wd = join(dir, 'wd');
    await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', executor: new InProcessExecutor(1), workers: 1 });
    const layout = await loadLayout(wd);
    const A = layout.attributeDim;
    const bin = layout.attributes.find((a) => a.name === 'flow_start_bin')!;
    const K = bin.dim;
    const n = 4000;
    // a nearly flat softmax: bin 5 twice as likely as the others, so its arg-max is always bin 5
    const soft = new Float32Array(n * A);
    const discrete = new Float32Array(n * A);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < K; i++) soft[r * A + bin.offset + i] = i === 5 ? 2 / (K + 1) : 1 / (K + 1);
      soft[r * A] = Math.sin(r); // the rest of the row differs from row to row (the draw's key)
      discrete[r * A + bin.offset + 3] = 1;
      discrete[r * A] = soft[r * A]!;
    }
    keepSoftBins(soft, discrete, layout);
    expect(Array.from(discrete.subarray(bin.offset, bin.offset + K))).toEqual(Array.from(soft.subarray(bin.offset, bin.offset + K)));
    // what the feature generator is given: the arg-max one-hot, as in training
    const model = argmaxBins(discrete, layout);
    for (let r = 0; r < n; r++) if (model.subarray(r * A + bin.offset, r * A + bin.offset + K).indexOf(1) !== 5) throw new Error(`row ${r}`);
    // the decode's bin: a draw from the kept softmax, the same for the same row
    const pick = softBinPick(discrete, A);
    const counts = new Array<number>(K).fill(0);
    for (let r = 0; r < n; r++) counts[pick(r, discrete, r * A + bin.offset, K)]!++;
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(counts[5]! / n).toBeGreaterThan(0.09); // expected 2/17 = 0.118; the arg-max would give 1
    expect(counts[5]! / n).toBeLessThan(0.145);
    expect(pick(17, discrete, 17 * A + bin.offset, K)).toBe(pick(17, discrete, 17 * A + bin.offset, K));
    // readFlowStart with the pick: bin from the draw, position as generated
    const src = Float32Array.of(0.2, 0.5, 0.3, 0.5);
    expect(readFlowStart(src, 0, 0, 300, 'zeroOne', 3, undefined, () => 2)).toBe(250);
  }, 60_000);
});
