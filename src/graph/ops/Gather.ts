// Gather along one axis with int64 indices (negative indices count from the end).
import { GraphError } from '../ir.js';
import { Tensor, normAxis } from '../tensor.js';
import { attrInt, axisView, type OpDef } from './op.js';

export const Gather: OpDef = {
  type: 'Gather',
  attrTypes: { axis: 'int' },
  infer([x, idx], attrs) {
    if (idx!.dtype !== 'int64') throw new GraphError(`Gather indices must be int64 (${idx!.name})`);
    const axis = normAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
  },
  ref([x, idx], attrs) {
    const axis = normAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
    const [outer, n, inner] = axisView(x!.shape, axis);
    const m = idx!.size;
    const out = new Float64Array(outer * m * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        let k = idx!.data[j]!;
        if (k < 0) k += n;
        if (k < 0 || k >= n) throw new GraphError(`Gather index ${idx!.data[j]} out of range [0, ${n})`);
        for (let i = 0; i < inner; i++) out[(o * m + j) * inner + i] = x!.data[(o * n + k) * inner + i]!;
      }
    }
    return [new Tensor(x!.dtype, [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)], out)];
  },
};
