// Flow start times inside a flow-start bin (preprocess.timestamp.flowStartBins > 0). The generator picks the bin well
// (its one-hot head) but its in-bin position collapses: on the enterprise pcap the generated positions sit in a narrow
// band of every bin, so the packet times come out in steps. postprocess.flowStarts chooses the position:
// - "model": the generated position (NetShare-like: the one scaled value decides);
// - "histogram": a draw from the chunk's real flow starts inside that bin, at SUB_BINS sub-bins per bin (a coarse
//   histogram: with 16 bins over a 20-minute chunk, sub-bins of ~5 s), uniform inside the sub-bin. The draw is a hash
//   of the generated attribute row, so every decode of the row gives the same start, with no state between jobs.
import type { Layout } from '../encode/tensors.js';
import { loadPackedChunk } from './chunk-tensors.js';
import { rowUniforms } from './ephemeral-ports.js';

/** Sub-bins of the real flow-start histogram per flow-start bin. */
export const SUB_BINS = 16;

/** Real flow starts of one chunk: counts per sub-bin, bins × SUB_BINS of them. */
export interface StartHistogram {
  bins: number;
  counts: Float64Array;
}

/** The flow-start slices of the attribute vector (absent without flow-start bins). */
function startSlices(layout: Layout): { bin: { offset: number; dim: number }; pos: { offset: number } } | undefined {
  const bin = layout.attributes.find((a) => a.name === 'flow_start_bin');
  const pos = layout.attributes.find((a) => a.name === 'flow_start');
  return bin && pos ? { bin, pos } : undefined;
}

const cache = new Map<string, Promise<StartHistogram | undefined>>();

/**
 * The histogram of chunk `chunk`'s training flow starts (from its attribute rows: bin one-hot and in-bin position as
 * preprocessing wrote them, the position scaled to [0, 1] by `zeroOne` or [−1, 1] by `minusOneOne`). Undefined without
 * flow-start bins. Cached per workdir and chunk for the life of the process.
 */
export function chunkStartHistogram(wd: string, chunk: number, layout: Layout, normalization: 'zeroOne' | 'minusOneOne'): Promise<StartHistogram | undefined> {
  const sl = startSlices(layout);
  if (!sl) return Promise.resolve(undefined);
  const key = `${wd}\u0000${chunk}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const A = layout.attributeDim;
      const rows = (await loadPackedChunk(wd, chunk)).attributes;
      const n = rows.length / A;
      const bins = sl.bin.dim;
      const counts = new Float64Array(bins * SUB_BINS);
      for (let r = 0; r < n; r++) {
        const o = r * A + sl.bin.offset;
        let b = 0;
        for (let i = 1; i < bins; i++) if (rows[o + i]! > rows[o + b]!) b = i;
        const v = rows[r * A + sl.pos.offset]!;
        const u = Math.min(1, Math.max(0, normalization === 'zeroOne' ? v : (v + 1) / 2));
        counts[b * SUB_BINS + Math.min(SUB_BINS - 1, Math.floor(u * SUB_BINS))]! += 1;
      }
      return { bins, counts };
    })();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * The in-bin position of generated flow f (attribute row f of `rows` [n, A]) in bin b: a sub-bin drawn by the real
 * counts of bin b (uniform when the bin has no real start), then a uniform point inside it.
 */
export function histogramInSlice(h: StartHistogram, rows: Float32Array, A: number): (f: number, b: number) => number {
  return (f, b) => {
    const [u, w] = rowUniforms(rows, f * A, A, 0x5f3759df);
    let total = 0;
    for (let s = 0; s < SUB_BINS; s++) total += h.counts[b * SUB_BINS + s]!;
    let sub = Math.min(SUB_BINS - 1, Math.floor(u * SUB_BINS));
    if (total > 0) {
      let acc = 0;
      const target = u * total;
      for (sub = 0; sub < SUB_BINS - 1; sub++) {
        acc += h.counts[b * SUB_BINS + sub]!;
        if (target < acc) break;
      }
    }
    return (sub + w) / SUB_BINS;
  };
}

/**
 * postprocess.flowStartBin = "sample": the flow-start bin of a generated flow is drawn from the generator's softmax over
 * the bins instead of taken as its arg-max. Why: at the iterations a CPU budget affords the bin softmax is nearly flat
 * (enterprise pcap, 1,500 iterations: mean top probability 0.085 over 16 bins, the mean output 0.05–0.08 in every bin,
 * like the real starts), so the arg-max of near-ties put 49% of a chunk's flows in one bin with 11 of 16 bins empty.
 * How, without disturbing the features: the sampled attribute rows keep the softmax values in the bin slice
 * (keepSoftBins), every stage carries rows verbatim, the features are generated conditioned on the arg-max one-hot
 * (argmaxBins: what the feature generator saw in training; feeding it the sampled bin made the TCP flag sequences 9×
 * worse), and the decode draws the bin from the kept softmax (softBinPick), keyed by a hash of the row.
 */
function binSlice(layout: Layout): { offset: number; dim: number } | undefined {
  return startSlices(layout)?.bin;
}

/** Copies the generator's softmax over the bins from `soft` into the discrete rows `discrete` [n, A] (in place). */
export function keepSoftBins(soft: Float32Array, discrete: Float32Array, layout: Layout): void {
  const sl = binSlice(layout);
  if (!sl) return;
  const A = layout.attributeDim;
  for (let r = 0; r < soft.length / A; r++) discrete.set(soft.subarray(r * A + sl.offset, r * A + sl.offset + sl.dim), r * A + sl.offset);
}

/** A copy of the rows [n, A] with the bin slice as the one-hot of its arg-max (the rows themselves when no bins). */
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

/** The decode's bin choice for row f of `rows` [n, A]: a draw from the bin slice's values, keyed by the whole row. */
export function softBinPick(rows: Float32Array, A: number): (f: number, src: Float32Array, off: number, bins: number) => number {
  return (f, src, off, bins) => {
    let total = 0;
    for (let i = 0; i < bins; i++) total += Math.max(0, src[off + i]!);
    const [u] = rowUniforms(rows, f * A, A, 0x2545f491);
    if (!(total > 0)) return Math.min(bins - 1, Math.floor(u * bins));
    const target = u * total;
    let acc = 0;
    for (let i = 0; i < bins; i++) {
      acc += Math.max(0, src[off + i]!);
      if (target < acc) return i;
    }
    return bins - 1;
  };
}
