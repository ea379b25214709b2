// Split along one axis into pieces of given sizes ('split' is an input from opset 13).
import { GraphError } from '../ir.js';
import { Tensor, normAxis } from '../tensor.js';
import { attrInt, axisView, constInts, type OpDef } from './op.js';

export const Split: OpDef = {
  type: 'Split',
  attrTypes: { axis: 'int' },
  infer([x, split], attrs) {
    const axis = normAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
    const sizes = constInts(split, 'Split split');
    const d = x!.shape[axis];
    if (typeof d !== 'number' || sizes.reduce((a, b) => a + b, 0) !== d) throw new GraphError(`Split: sizes [${sizes.join(', ')}] do not add up to dim ${d} of ${x!.name}`);
    return sizes.map((s) => {
      const shape = [...x!.shape];
      shape[axis] = s;
      return { dtype: x!.dtype, shape };
    });
  },
  ref([x, split], attrs) {
    const axis = normAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
    const [outer, n, inner] = axisView(x!.shape, axis);
    let off = 0;
    return Array.from(split!.data).map((k) => {
      const shape = [...x!.shape];
      shape[axis] = k;
      const out = new Float64Array(outer * k * inner);
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < k * inner; j++) out[o * k * inner + j] = x!.data[o * n * inner + off * inner + j]!;
      }
      off += k;
      return new Tensor(x!.dtype, shape, out);
    });
  },
};
