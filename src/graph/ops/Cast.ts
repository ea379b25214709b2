// Cast between float32, int64 and bool; `to` is the ONNX TensorProto.DataType number.
import { GraphError } from '../ir.js';
import { Tensor, type DType } from '../tensor.js';
import { attrInt, type OpDef } from './op.js';

export const ONNX_DTYPE: Readonly<Record<DType, number>> = { float32: 1, int64: 7, bool: 9 };

export function dtypeFromOnnx(n: number): DType {
  const hit = (Object.entries(ONNX_DTYPE) as [DType, number][]).find(([, v]) => v === n);
  if (!hit) throw new GraphError(`Unsupported ONNX element type ${n}`);
  return hit[0];
}

export const Cast: OpDef = {
  type: 'Cast',
  attrTypes: { to: 'int' },
  infer([x], attrs) {
    return [{ dtype: dtypeFromOnnx(attrInt(attrs, 'to')), shape: x!.shape }];
  },
  ref([x], attrs) {
    const to = dtypeFromOnnx(attrInt(attrs, 'to'));
    const f = to === 'bool' ? (v: number) => (v !== 0 ? 1 : 0) : to === 'int64' ? Math.trunc : to === 'float32' ? Math.fround : (v: number) => v;
    return [new Tensor(to, x!.shape, x!.data.map(f))];
  },
};
