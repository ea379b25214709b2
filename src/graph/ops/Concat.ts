// Concat along one axis.
import { GraphError, type Dim } from '../ir.js';
import { Tensor, normAxis } from '../tensor.js';
import { attrInt, axisView, broadcastDim, type OpDef } from './op.js';

export const Concat: OpDef = {
  type: 'Concat',
  attrTypes: { axis: 'int' },
  infer(inputs, attrs) {
    const first = inputs[0]!;
    const axis = normAxis(attrInt(attrs, 'axis'), first.shape.length);
    let total: Dim = 0;
    const shape = [...first.shape];
    for (const v of inputs) {
      if (v.shape.length !== first.shape.length || v.dtype !== first.dtype) throw new GraphError(`Concat inputs differ in rank or dtype (${first.name}, ${v.name})`);
      v.shape.forEach((d, i) => {
        if (i !== axis && d !== shape[i]) shape[i] = broadcastDimStrict(shape[i]!, d);
      });
      const d = v.shape[axis]!;
      total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
    }
    shape[axis] = total;
    const shapeValue = shape.length === 1 && inputs.every((v) => v.shapeValue) ? inputs.flatMap((v) => [...v.shapeValue!]) : null;
    return [{ dtype: first.dtype, shape, shapeValue }];
  },
  ref(inputs, attrs) {
    const axis = normAxis(attrInt(attrs, 'axis'), inputs[0]!.shape.length);
    const n = inputs.reduce((s, t) => s + t.shape[axis]!, 0);
    const shape = [...inputs[0]!.shape];
    shape[axis] = n;
    const [outer, , inner] = axisView(shape, axis);
    const out = new Float64Array(outer * n * inner);
    let off = 0;
    for (const t of inputs) {
      const k = t.shape[axis]!;
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < k * inner; j++) out[o * n * inner + off * inner + j] = t.data[o * k * inner + j]!;
      }
      off += k;
    }
    return [new Tensor(inputs[0]!.dtype, shape, out)];
  },
};

function broadcastDimStrict(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  throw new GraphError(`Concat: non-axis dims differ (${a} vs ${b}); ${broadcastDim.name} does not apply`);
}
