// The addon's attribute projection (native/project.cc, src/native/project.ts): discreteOf(rows) · Wa + b as the feature
// sampler's projection graph computes it, over sparse rows.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { attributeProjector, type ProjectedField } from '../../src/native/project.js';

type FieldSlice = ProjectedField & { activation: 'softmax' | 'tanh' | 'sigmoid' };

/** discreteOf in float64: each softmax field one-hot at its first largest value, the rest kept; then · W + b. */
function reference(rows: Float32Array, m: number, fields: FieldSlice[], W: Float32Array, b: Float32Array): Float64Array {
  const A = fields.reduce((a, f) => a + f.dim, 0);
  const H = b.length;
  const out = new Float64Array(m * H);
  for (let r = 0; r < m; r++) {
    const x = new Float64Array(A);
    for (const f of fields) {
      if (f.activation === 'softmax') {
        let best = 0;
        for (let j = 1; j < f.dim; j++) if (rows[r * A + f.offset + j]! > rows[r * A + f.offset + best]!) best = j;
        x[f.offset + best] = 1;
      } else for (let j = 0; j < f.dim; j++) x[f.offset + j] = rows[r * A + f.offset + j]!;
    }
    for (let h = 0; h < H; h++) {
      let s = b[h]!;
      for (let k = 0; k < A; k++) s += x[k]! * W[k * H + h]!;
      out[r * H + h] = s;
    }
  }
  return out;
}

describe('attributeProjector', () => {
  // a 256-way field (the AVX2 arg-max), two-way bit fields, a dense embedding, a sigmoid flag, a 3-way field
  const fields: FieldSlice[] = [];
  let at = 0;
  const add = (name: string, dim: number, activation: FieldSlice['activation']): void => {
    fields.push({ offset: at, dim, activation, argmax: activation === 'softmax' });
    void name;
    at += dim;
  };
  add('ip', 256, 'softmax');
  for (let i = 0; i < 8; i++) add(`bit${i}`, 2, 'softmax');
  add('port', 10, 'tanh');
  add('proto', 3, 'softmax');
  add('flag', 1, 'sigmoid');
  add('bins', 19, 'softmax');
  const A = at;

  for (const H of [128, 72, 5]) {
    it(`equals discreteOf(rows) · W + b up to float32 rounding (H = ${H}: blocks of 64 outputs and a tail)`, () => {
      const rng = new Rng(3, `project-${H}`);
      const m = 200;
      const W = rng.normals(A * H);
      const b = rng.normals(H);
      const rows = new Float32Array(m * A);
      for (let r = 0; r < m; r++) {
        for (const f of fields) {
          const o = r * A + f.offset;
          const kind = rng.int(4);
          for (let j = 0; j < f.dim; j++) {
            // one-hot rows, soft rows, rows with ties (the first wins) and with zeros in dense fields
            rows[o + j] = f.activation !== 'softmax' ? (rng.int(3) === 0 ? 0 : rng.next() * 2 - 1) : kind === 0 ? (j === rng.int(f.dim) ? 1 : 0) : kind === 1 ? rng.next() : kind === 2 ? 0.5 : Math.round(rng.next() * 3) / 3;
          }
        }
      }
      // a NaN past the first value never wins
      rows[5 * A + 3] = NaN;
      const project = attributeProjector(fields, W, b);
      const got = project(rows, m);
      const want = reference(rows, m, fields, W, b);
      expect(got.length).toBe(m * H);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
      // a subset of the rows projects alike
      expect(Array.from(project(rows.subarray(7 * A, 9 * A), 2))).toEqual(Array.from(got.subarray(7 * H, 9 * H)));
    });
  }

  it('refuses weights of another shape', () => {
    expect(() => attributeProjector(fields, new Float32Array(A * 4 - 1), new Float32Array(4))).toThrow(/weights of/);
  });
});
