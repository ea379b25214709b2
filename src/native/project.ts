// The feature generator's attribute projection in the native addon (native/project.cc): discreteOf(rows) · Wa + b over
// sparse rows, for the step-wise feature sampler on the CPU (src/model/sample.ts).
import { nativeBinding } from './addon.js';

/** A field of the attribute rows: its offset and width, and whether it is replaced by the one-hot of its arg-max. */
export interface ProjectedField {
  offset: number;
  dim: number;
  argmax: boolean;
}

type ProjectAttributes = (rows: Float32Array, m: number, A: number, fields: Int32Array, wa: Float32Array, H: number, bias: Float32Array) => Float32Array;

/**
 * A projection of attribute rows [m, A] → [m, H]: each `argmax` field of a row replaced by the one-hot of its arg-max
 * (the first largest value), the other fields kept, times `wa` [A, H] (row-major), plus `bias` [H]. A one-hot field
 * adds the weight row of its arg-max; a zero adds nothing, so a row costs its nonzeros (~95 of 696 values at the
 * netflow preset: 0.9 µs a row here against 2.8 µs for the dense MatMul in onnxruntime). The sums run in input order,
 * so they differ from onnxruntime's by float32 rounding.
 */
export function attributeProjector(fields: readonly ProjectedField[], wa: Float32Array, bias: Float32Array): (rows: Float32Array, m: number) => Float32Array {
  const A = fields.reduce((a, f) => a + f.dim, 0);
  const H = bias.length;
  if (wa.length !== A * H) throw new RangeError(`attributeProjector: weights of ${wa.length} values for ${A} inputs × ${H} outputs`);
  const spec = Int32Array.from(fields.flatMap((f) => [f.offset, f.dim, f.argmax ? 1 : 0]));
  const native = nativeBinding()['projectAttributes'] as ProjectAttributes;
  return (rows, m) => native(rows, m, A, spec, wa, H, bias);
}
