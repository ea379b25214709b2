// The flow-start bin of generated flows (preprocess.timestamp.flowStartBins > 0): postprocess.flowStartBin.
import type { Layout } from '../encode/tensors.js';
import { rowKeys, type RowKeys } from './ephemeral-ports.js';
import { drawIndex } from './categoricals.js';

/**
 * postprocess.flowStartBin = "sample": the flow-start bin of a generated flow is drawn from the generator's softmax over
 * the bins instead of taken as its arg-max. Why: at the iterations a CPU budget affords the bin softmax is nearly flat
 * (enterprise pcap, 1,500 iterations: mean top probability 0.085 over 16 bins, the mean output 0.05–0.08 in every bin,
 * like the real starts), so the arg-max of near-ties put 49% of a chunk's flows in one bin with 11 of 16 bins empty.
 * How, without disturbing the features: the sampled attribute rows keep the softmax values in the bin slice
 * (keepSoftBins), every stage carries rows verbatim, the features are generated conditioned on the arg-max one-hot
 * (what the feature generator saw in training; feeding it the sampled bin made the TCP flag sequences 9× worse) — the
 * feature sampler's projection takes the arg-max of every softmax field of the rows it is given (discreteOf, or the
 * native attributeProjector on the CPU, as argmaxBins does here: ties to the first) — and the decode draws the bin from the kept softmax (softBinPick), keyed by
 * a hash of the row.
 */
function binSlice(layout: Layout): { offset: number; dim: number } | undefined {
  return layout.attributes.find((a) => a.name === 'flow_start_bin');
}

/** Copies the generator's softmax over the bins from `soft` into the discrete rows `discrete` [n, A] (in place). */
export function keepSoftBins(soft: Float32Array, discrete: Float32Array, layout: Layout): void {
  const sl = binSlice(layout);
  if (!sl) return;
  const A = layout.attributeDim;
  for (let r = 0; r < soft.length / A; r++) discrete.set(soft.subarray(r * A + sl.offset, r * A + sl.offset + sl.dim), r * A + sl.offset);
}

/**
 * A copy of the rows [n, A] with the bin slice as the one-hot of its arg-max (the rows themselves when no bins): what the
 * feature sampler conditions on when given the soft rows.
 */
export function argmaxBins(rows: Float32Array, layout: Layout): Float32Array {
  const sl = binSlice(layout);
  if (!sl) return rows;
  const A = layout.attributeDim;
  const out = rows.slice();
  for (let r = 0; r < rows.length / A; r++) {
    const o = r * A + sl.offset;
    let b = 0;
    for (let i = 1; i < sl.dim; i++) if (rows[o + i]! > rows[o + b]!) b = i;
    for (let i = 0; i < sl.dim; i++) out[o + i] = i === b ? 1 : 0;
  }
  return out;
}

/** The salt of the flow-start bin draws (rowKeys). */
export const BIN_SALT = 0x2545f491;

/**
 * The decode's bin choice for row f of `rows` [n, A]: a draw from the bin slice's values, keyed by the row (`keys`: the
 * rows' keys with BIN_SALT computed beforehand).
 */
export function softBinPick(rows: Float32Array, layout: Layout, keys?: RowKeys): (f: number, src: Float32Array, off: number, bins: number) => number {
  const A = layout.attributeDim;
  // keyed without the flow tags: a row carried into a later chunk differs only there
  const tags = layout.attributes.find((a) => a.name === 'flow_tags');
  const key = keys ?? rowKeys(rows, A, tags, [BIN_SALT]);
  return (f, src, off, bins) => drawIndex(src, off, bins, key(f, BIN_SALT)[0]);
}
