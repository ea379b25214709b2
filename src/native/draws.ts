// Typed wrappers of the addon's per-row draw helpers (native/categoricals.cc, native/rowhash.cc): the pipeline's
// categorical draws and row keys over many rows at once, the same values as its JavaScript reference functions.
import { nativeBinding } from './addon.js';

type DrawCategoricals = (soft: Float32Array, discrete: Float32Array, n: number, A: number, slices: Int32Array, u: Float64Array) => void;
type RowUniformsMany = (rows: Float32Array, A: number, salts: Uint32Array, s0: number, s1: number) => Float64Array;

/**
 * Per row r of `soft` / `discrete` [n, A] and slice j of `slices` ((offset, dim) pairs): the index drawn with weight
 * max(0, soft value) by the uniform u[r · k + j] (categoricals.ts drawIndex, in float64), written into `discrete` as a
 * one-hot; a NaN uniform leaves that row's slice as it is.
 */
export function drawCategoricals(soft: Float32Array, discrete: Float32Array, n: number, A: number, slices: Int32Array, u: Float64Array): void {
  (nativeBinding()['drawCategoricals'] as DrawCategoricals)(soft, discrete, n, A, slices, u);
}

/**
 * ephemeral-ports.ts rowUniforms of every row of `rows` [n, A] (the columns [s0, s1) left out) for each of `salts`
 * (1 to 8): row r's pair for salt j at 2 · (k · r + j).
 */
export function rowUniformsMany(rows: Float32Array, A: number, salts: Uint32Array, s0: number, s1: number): Float64Array {
  return (nativeBinding()['rowUniformsMany'] as RowUniformsMany)(rows, A, salts, s0, s1);
}
