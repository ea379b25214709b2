// CumSum along one axis (ONNX: the axis is a 0-D int64 input; `exclusive` leaves out the element itself, `reverse` sums from the end).
import { attrInt, axisView, constInts, type OpDef } from './op.js';
import { Tensor } from '../tensor.js';
import { GraphError } from '../ir.js';

export const CumSum: OpDef = {
  type: 'CumSum',
  attrTypes: { exclusive: 'int', reverse: 'int' },
  infer([x, axis]) {
    if (x!.dtype !== 'float32') throw new GraphError(`CumSum input must be float32 (${x!.name})`);
    constInts(axis, 'CumSum axis');
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  ref([x, axis], attrs) {
    const [outer, n, inner] = axisView(x!.shape, axis!.data[0]!);
    const exclusive = attrInt(attrs, 'exclusive', 0) === 1;
    const reverse = attrInt(attrs, 'reverse', 0) === 1;
    const out = new Float64Array(x!.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          const j = reverse ? n - 1 - k : k;
          const at = (o * n + j) * inner + i;
          if (exclusive) {
            out[at] = acc;
            acc += x!.data[at]!;
          } else {
            acc += x!.data[at]!;
            out[at] = acc;
          }
        }
      }
    }
    return [new Tensor(x!.dtype, [...x!.shape], out)];
  },
};
