// Field layout and chunk tensors as the model sees them: which slice is which field, with which head.
import { ConfigError, InputError, expected } from '../errors.js';

/** Output activation of one generator head: softmax (discrete one-hot field), sigmoid ([0,1]) or tanh ([-1,1]). */
export type Activation = 'softmax' | 'sigmoid' | 'tanh';

/** One field's slice of the attribute vector or of one feature record. */
export interface FieldSlice {
  name: string;
  offset: number;
  dim: number;
  activation: Activation;
}

/**
 * The model's view of a chunk's encoding. `features` describes one record (time step) WITHOUT the
 * 2-way gen flag, which the model appends itself (spec §2.5 `add_gen_flag`).
 */
export interface ModelLayout {
  attributes: FieldSlice[];
  features: FieldSlice[];
  /** T_max: records per flow, a multiple of the config's sampleLen. */
  maxLen: number;
}

/**
 * Training tensors of one chunk, row-major float32:
 * attributes [n, A], features [n, maxLen, F] (no gen flag), genFlag [n, maxLen] with 1 for valid records.
 */
export interface ChunkTensors {
  n: number;
  attributes: Float32Array;
  features: Float32Array;
  genFlag: Float32Array;
}

export function layoutWidth(fields: readonly FieldSlice[]): number {
  return fields.reduce((m, f) => Math.max(m, f.offset + f.dim), 0);
}

/** Checks that slices tile [0, width) without gaps or overlaps and softmax heads have ≥ 2 classes. */
export function validateLayout(layout: ModelLayout, sampleLen: number, where = 'layout'): void {
  for (const [kind, fields] of [['attributes', layout.attributes], ['features', layout.features]] as const) {
    if (fields.length === 0) throw new ConfigError(expected('at least one field', `${where}.${kind}`, fields), `${where}.${kind}`);
    let at = 0;
    fields.forEach((f, i) => {
      const key = `${where}.${kind}[${i}]`;
      if (f.offset !== at) throw new ConfigError(expected(`offset ${at} (fields must tile the vector in order)`, `${key}.offset`, f.offset), `${key}.offset`);
      if (!Number.isInteger(f.dim) || f.dim < 1) throw new ConfigError(expected('a positive integer', `${key}.dim`, f.dim), `${key}.dim`);
      if (!['softmax', 'sigmoid', 'tanh'].includes(f.activation)) {
        throw new ConfigError(expected('softmax, sigmoid or tanh', `${key}.activation`, f.activation), `${key}.activation`);
      }
      if (f.activation === 'softmax' && f.dim < 2) throw new ConfigError(expected('dim ≥ 2 for a softmax head', `${key}.dim`, f.dim), `${key}.dim`);
      at += f.dim;
    });
  }
  if (!Number.isInteger(layout.maxLen) || layout.maxLen < 1 || layout.maxLen % sampleLen !== 0) {
    throw new ConfigError(expected(`a positive multiple of sampleLen (${sampleLen})`, `${where}.maxLen`, layout.maxLen), `${where}.maxLen`);
  }
}

/** Checks tensor sizes against the layout (a mismatch means the chunk files do not belong together). */
export function validateTensors(t: ChunkTensors, layout: ModelLayout, file = '<tensors>'): void {
  const A = layoutWidth(layout.attributes);
  const F = layoutWidth(layout.features);
  const T = layout.maxLen;
  const check = (name: string, got: number, want: number): void => {
    if (got !== want) throw new InputError(expected(`${want} values (${name})`, name, got), file);
  };
  if (!Number.isInteger(t.n) || t.n < 1) throw new InputError(expected('at least one flow', 'n', t.n), file);
  check('attributes', t.attributes.length, t.n * A);
  check('features', t.features.length, t.n * T * F);
  check('genFlag', t.genFlag.length, t.n * T);
}

/**
 * DoppelGANger's `add_gen_flag` (spec §2.5): per record [next valid, (1 − next valid)·(its sample_len
 * group holds a valid record)], so [1,0] continue, [0,1] last (and padding inside the last group), [0,0] after.
 * Returns features with the 2 flag dims appended: [n, T, F + 2].
 */
export function withGenFlag(t: ChunkTensors, layout: ModelLayout, sampleLen: number): Float32Array {
  const F2 = layoutWidth(layout.features) + 2;
  const T = layout.maxLen;
  const out = new Float32Array(t.n * T * F2);
  for (let i = 0; i < t.n; i++) writeFlowWithGenFlag(t, layout, sampleLen, i, out, i * T * F2);
  return out;
}

/** Writes flow `i` as [T, F + 2] (features + add_gen_flag dims) into `out` at `at`: one batch slot. */
export function writeFlowWithGenFlag(t: ChunkTensors, layout: ModelLayout, sampleLen: number, i: number, out: Float32Array, at: number): void {
  const F = layoutWidth(layout.features);
  const T = layout.maxLen;
  const F2 = F + 2;
  for (let g = 0; g < T / sampleLen; g++) {
    let groupValid = 0;
    for (let j = 0; j < sampleLen; j++) if (t.genFlag[i * T + g * sampleLen + j]! > 0.5) groupValid = 1;
    for (let j = 0; j < sampleLen; j++) {
      const s = g * sampleLen + j;
      const src = (i * T + s) * F;
      const dst = at + s * F2;
      for (let k = 0; k < F; k++) out[dst + k] = t.features[src + k]!;
      const next = s + 1 < T ? (t.genFlag[i * T + s + 1]! > 0.5 ? 1 : 0) : 0;
      out[dst + F] = next;
      out[dst + F + 1] = (1 - next) * groupValid;
    }
  }
}
