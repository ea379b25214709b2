// ReduceSum with axes as an input (opset ≥ 13); the builder always passes explicit axes.
import { Tensor } from '../tensor.js';
import { attrInt, constInts, reduceTensor, reducedShape, type OpDef } from './op.js';

export const ReduceSum: OpDef = {
  type: 'ReduceSum',
  attrTypes: { keepdims: 'int' },
  infer([x, axes], attrs) {
    return [{ dtype: x!.dtype, shape: reducedShape(x!.shape, constInts(axes, 'ReduceSum axes'), attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  ref([x, axes], attrs) {
    return [reduceTensor(x!, Array.from((axes as Tensor).data), attrInt(attrs, 'keepdims', 1) === 1, 0, (a, v) => a + v)];
  },
};
