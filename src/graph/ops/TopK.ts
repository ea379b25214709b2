// TopK along one axis: the k largest (or smallest) values and their indices, ties to the lower index (ONNX TopK-11).
import { GraphError } from '../ir.js';
import { Tensor, normAxis } from '../tensor.js';
import { attrInt, axisView, constInts, type OpDef } from './op.js';

export const TopK: OpDef = {
  type: 'TopK',
  attrTypes: { axis: 'int', largest: 'int', sorted: 'int' },
  infer([x, k], attrs) {
    const axis = normAxis(attrInt(attrs, 'axis', -1), x!.shape.length);
    const [kk] = constInts(k, 'TopK k');
    const d = x!.shape[axis];
    if (kk === undefined || kk < 0 || (typeof d === 'number' && kk > d)) throw new GraphError(`TopK: k ${kk} is not within dim ${d} of ${x!.name}`);
    if (attrInt(attrs, 'sorted', 1) !== 1) throw new GraphError('TopK: only sorted = 1 is supported (the order of unsorted output is up to the runtime)');
    const shape = [...x!.shape];
    shape[axis] = kk;
    return [{ dtype: x!.dtype, shape }, { dtype: 'int64', shape: [...shape] }];
  },
  ref([x, k], attrs) {
    const axis = normAxis(attrInt(attrs, 'axis', -1), x!.shape.length);
    const kk = k!.data[0]!;
    const sign = attrInt(attrs, 'largest', 1) === 1 ? -1 : 1;
    const [outer, n, inner] = axisView(x!.shape, axis);
    const shape = [...x!.shape];
    shape[axis] = kk;
    const values = new Float64Array(outer * kk * inner);
    const indices = new Float64Array(outer * kk * inner);
    const order = Array.from({ length: n }, (_, j) => j);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number): number => x!.data[(o * n + j) * inner + i]!;
        // stable: equal values keep index order, so the lower index comes first
        const sortedIdx = [...order].sort((a, b) => sign * (at(a) - at(b)) || a - b);
        for (let r = 0; r < kk; r++) {
          values[(o * kk + r) * inner + i] = at(sortedIdx[r]!);
          indices[(o * kk + r) * inner + i] = sortedIdx[r]!;
        }
      }
    }
    return [new Tensor(x!.dtype, shape, values), new Tensor('int64', shape, indices)];
  },
};
