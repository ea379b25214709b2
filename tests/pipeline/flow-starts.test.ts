// postprocess.flowStartBin = "sample": the flow-start bin is drawn from the generator's softmax at decode, while the
// features are conditioned on its arg-max.
import { describe, expect, it } from 'vitest';
import { argmaxBins, keepSoftBins, softBinPick } from '../../src/pipeline/flow-starts.js';
import { preprocessedTiny } from './tiny-workdir.js';
import { readFlowStart } from '../../src/encode/tensors.js';

describe('flowStartBin "sample"', () => {
  it('keeps the bin softmax in the rows, conditions on its arg-max and decodes a draw from it', async () => {
    const { layout } = await preprocessedTiny(20, 'ns-flow-start-bins-');
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
    const pick = softBinPick(discrete, layout);
    const counts = new Array<number>(K).fill(0);
    for (let r = 0; r < n; r++) counts[pick(r, discrete, r * A + bin.offset, K)]!++;
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(counts[5]! / n).toBeGreaterThan(0.09); // expected 2/17 = 0.118; the arg-max would give 1
    expect(counts[5]! / n).toBeLessThan(0.145);
    expect(pick(17, discrete, 17 * A + bin.offset, K)).toBe(pick(17, discrete, 17 * A + bin.offset, K));
    // readFlowStart with the pick: bin from the draw, position as generated
    const src = Float32Array.of(0.2, 0.5, 0.3, 0.5);
    expect(readFlowStart(src, 0, 0, 300, 'zeroOne', 3, () => 2)).toBe(250);
  }, 60_000);
});
