// Categorical heads of generated flows, read as the arg-max or drawn from the softmax: the attribute heads
// (postprocess.attributeCategoricals) and the per-record feature heads (postprocess.featureCategoricals).
import { Rng } from '../core/rng.js';
import type { Layout } from '../encode/tensors.js';
import { mix } from './ephemeral-ports.js';
import { drawCategoricals } from '../native/draws.js';

/**
 * postprocess.attributeCategoricals = "sample": the value of every categorical attribute head (one softmax over its
 * choices: ipTop's popular addresses, TTL, ToS, categorical fields) is drawn from the generator's softmax instead of
 * taken as its arg-max. Why: at the iterations a CPU budget affords these softmaxes are soft, and the arg-max of a soft
 * output picks the most popular choice for nearly every flow (enterprise pcap, 1,500 iterations, source addresses as a
 * categorical: 90% of packets on one of 3 addresses where the real trace spreads 49/30/17% over 19). Bits heads (2-way
 * groups), the flow tags and the flow-start bin (postprocess.flowStartBin) are not touched. The draw replaces the
 * arg-max one-hot in the discrete rows, so everything downstream (the features, conditioned on the rows; the
 * de-duplication; the decode) sees one consistent value.
 */
export function categoricalSlices(layout: Layout): { offset: number; dim: number }[] {
  return layout.attributes.filter((s) => s.activation === 'softmax' && s.groupSize === s.dim && s.dim > 2 && s.name !== 'flow_start_bin' && s.name !== 'flow_tags');
}

/** The draws of sampleCategoricals for `seed` and `stream`. */
export function categoricalRng(seed: number, stream = 0): Rng {
  return Rng.forPurpose(seed, stream === 0 ? 'attribute-categoricals' : `attribute-categoricals/${stream}`);
}

/**
 * Replaces the categorical heads' one-hots in `discrete` [n, A] by draws from `soft` [n, A] (in place), seeded; `stream`
 * tells apart the blocks of one job (a job sampling in blocks draws each block's rows from its own stream). With `rng`
 * (categoricalRng's, carried over calls), the draws continue that stream: rows given in parts get the draws of the
 * whole.
 */
export function sampleCategoricals(soft: Float32Array, discrete: Float32Array, layout: Layout, seed: number, stream = 0, rng = categoricalRng(seed, stream), only?: (row: number) => boolean): void {
  const slices = categoricalSlices(layout);
  if (slices.length === 0) return;
  const A = layout.attributeDim;
  const n = soft.length / A;
  const k = slices.length;
  // the uniforms of the stream, row by row and slice by slice; `only`: a row left out keeps what `discrete` holds
  // there (the arg-max, or the softmax of a sampler's `soft` fields), and the stream moves on past its draws (the
  // others' draws unchanged): NaN
  const u = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    const skip = only !== undefined && !only(r);
    for (let j = 0; j < k; j++) {
      const x = rng.nextU32();
      u[r * k + j] = skip ? NaN : x / 2 ** 32;
    }
  }
  // drawIndex per row and slice, the one-hot written (the native addon: ~7x faster than the loop here)
  drawCategoricals(soft, discrete, n, A, Int32Array.from(slices.flatMap((sl) => [sl.offset, sl.dim])), u);
}

/**
 * Index i of src[off .. off + dim) drawn with weight max(0, src[off + i]) by the uniform u in [0, 1) (uniform over the
 * slice when every weight is 0).
 */
export function drawIndex(src: Float32Array, off: number, dim: number, u: number): number {
  let total = 0;
  for (let i = 0; i < dim; i++) total += Math.max(0, src[off + i]!);
  if (!(total > 0)) return Math.min(dim - 1, Math.floor(u * dim));
  const target = u * total;
  let acc = 0;
  for (let i = 0; i < dim; i++) {
    acc += Math.max(0, src[off + i]!);
    if (target < acc) return i;
  }
  return dim - 1;
}

/** The softmax feature heads a feature draw applies to: categorical fields, `topValues` and `pointMass` heads. */
export function featureSoftmaxSlices(layout: Layout): { offset: number; dim: number }[] {
  return layout.features.filter((s) => s.activation === 'softmax' && s.groupSize === s.dim && s.dim >= 2);
}

/**
 * postprocess.featureCategoricals = "sample": replaces, in place, the softmax of every feature head of `features`
 * [n, T, F] (or packed by `lengths`) by a one-hot drawn from it. Flow f's draws are keyed by `key(f)` (a hash of its attribute row, so that
 * every decode of a row agrees without state between jobs), the step and the head. Why: the arg-max of a soft
 * per-record softmax repeats the most likely class (UGR16 at 8,000 iterations: 6 distinct TCP flag values where the
 * trace has 28, `.AP.SF` on 51% of the records where the trace has 24%).
 */
export function sampleFeatureCategoricals(features: Float32Array, n: number, T: number, layout: Layout, key: (f: number) => number, lengths?: ArrayLike<number>): void {
  const slices = featureSoftmaxSlices(layout);
  if (slices.length === 0 || n === 0) return;
  const F = layout.featureDim;
  // with `lengths`, `features` holds flow f's lengths[f] records packed after the earlier flows' (sampleFeatures)
  let first = 0;
  for (let f = 0; f < n; f++) {
    const h = key(f) >>> 0;
    const steps = lengths ? lengths[f]! : T;
    if (lengths) first += f > 0 ? lengths[f - 1]! : 0;
    for (let t = 0; t < steps; t++) {
      const base = ((lengths ? first : f * T) + t) * F;
      for (let k = 0; k < slices.length; k++) {
        const sl = slices[k]!;
        const o = base + sl.offset;
        const u = mix(h ^ mix(((t * 64 + k) ^ 0x5bd1e995) >>> 0)) / 2 ** 32;
        const pick = drawIndex(features, o, sl.dim, u);
        for (let i = 0; i < sl.dim; i++) features[o + i] = i === pick ? 1 : 0;
      }
    }
  }
}
