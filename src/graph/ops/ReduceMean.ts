// ReduceMean with axes as an attribute (opset 17; axes became an input only in opset 18).
import { attrInt, attrInts, reduceTensor, reducedShape, requireFloat, type OpDef } from './op.js';

export const ReduceMean: OpDef = {
  type: 'ReduceMean',
  attrTypes: { axes: 'ints', keepdims: 'int' },
  infer([x], attrs) {
    requireFloat(x!, 'ReduceMean');
    return [{ dtype: x!.dtype, shape: reducedShape(x!.shape, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  ref([x], attrs) {
    return [reduceTensor(x!, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1, 0, (a, v) => a + v, (a, n) => a / n)];
  },
};
