// Expand: broadcast a tensor to a shape (the result is the broadcast of both).
import { GraphError } from '../ir.js';
import { Tensor, broadcastIndex, broadcastShapes } from '../tensor.js';
import { broadcastDims, type OpDef } from './op.js';

export const Expand: OpDef = {
  type: 'Expand',
  attrTypes: {},
  infer([x, shape]) {
    if (!shape!.shapeValue) throw new GraphError(`Expand target ${shape!.name} must be a shape value`);
    return [{ dtype: x!.dtype, shape: broadcastDims([x!.shape, shape!.shapeValue], `Expand of ${x!.name}`) }];
  },
  ref([x, shape]) {
    const out = broadcastShapes(x!.shape, Array.from(shape!.data));
    const idx = broadcastIndex(x!.shape, out);
    return [new Tensor(x!.dtype, out, Float64Array.from(idx, (i) => x!.data[i]!))];
  },
};
