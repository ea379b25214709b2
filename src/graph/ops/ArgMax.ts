// ArgMax along one axis (first maximum) and OneHot: the non-differentiable discrete path.
import { GraphError, type Dim } from '../ir.js';
import { Tensor, normAxis, shapeSize } from '../tensor.js';
import { attrInt, axisView, constInts, reducedShape, type OpDef } from './op.js';

export const ArgMax: OpDef = {
  type: 'ArgMax',
  attrTypes: { axis: 'int', keepdims: 'int' },
  infer([x], attrs) {
    return [{ dtype: 'int64', shape: reducedShape(x!.shape, [attrInt(attrs, 'axis', 0)], attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  ref([x], attrs) {
    const axis = attrInt(attrs, 'axis', 0);
    const [outer, n, inner] = axisView(x!.shape, axis);
    const out = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        for (let j = 1; j < n; j++) if (x!.data[(o * n + j) * inner + i]! > x!.data[(o * n + best) * inner + i]!) best = j;
        out[o * inner + i] = best;
      }
    }
    return [new Tensor('int64', reducedShape(x!.shape, [axis], attrInt(attrs, 'keepdims', 1) === 1) as number[], out)];
  },
};

export const OneHot: OpDef = {
  type: 'OneHot',
  attrTypes: { axis: 'int' },
  infer([idx, depth, values], attrs) {
    if (idx!.dtype !== 'int64') throw new GraphError(`OneHot indices must be int64 (${idx!.name})`);
    const d = constInts(depth, 'OneHot depth')[0]!;
    const r = idx!.shape.length + 1;
    const axis = normAxis(attrInt(attrs, 'axis', -1), r);
    const shape: Dim[] = [...idx!.shape];
    shape.splice(axis, 0, d);
    return [{ dtype: values!.dtype, shape }];
  },
  ref([idx, depth, values], attrs) {
    const d = depth!.data[0]!;
    const r = idx!.shape.length + 1;
    const axis = normAxis(attrInt(attrs, 'axis', -1), r);
    const shape = [...idx!.shape];
    shape.splice(axis, 0, d);
    const [outer, , inner] = axisView(shape, axis);
    const out = new Float64Array(shapeSize(shape)).fill(values!.data[0]!);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let k = idx!.data[o * inner + i]!;
        if (k < 0) k += d;
        if (k >= 0 && k < d) out[(o * d + k) * inner + i] = values!.data[1]!;
      }
    }
    return [new Tensor(values!.dtype, shape, out)];
  },
};
