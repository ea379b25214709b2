// Shape, Size and ConstantOfShape: the runtime-shape plumbing used by gradients of symbolic-batch graphs.
import { GraphError } from '../ir.js';
import { Tensor, shapeSize } from '../tensor.js';
import { type OpDef } from './op.js';

export const Shape: OpDef = {
  type: 'Shape',
  attrTypes: {},
  infer([x]) {
    return [{ dtype: 'int64', shape: [x!.shape.length], shapeValue: x!.shape }];
  },
  ref([x]) {
    return [Tensor.from('int64', [x!.shape.length], x!.shape)];
  },
};

export const Size: OpDef = {
  type: 'Size',
  attrTypes: {},
  infer() {
    return [{ dtype: 'int64', shape: [] }];
  },
  ref([x]) {
    return [Tensor.scalar(x!.size, 'int64')];
  },
};

export const ConstantOfShape: OpDef = {
  type: 'ConstantOfShape',
  attrTypes: { value: 'tensor' },
  infer([s], attrs) {
    if (!s!.shapeValue) throw new GraphError(`ConstantOfShape input ${s!.name} must be a shape value`);
    const v = attrs['value'];
    return [{ dtype: v instanceof Tensor ? v.dtype : 'float32', shape: s!.shapeValue }];
  },
  ref([s], attrs) {
    const v = attrs['value'];
    const shape = Array.from(s!.data);
    const fill = v instanceof Tensor ? v.data[0]! : 0;
    return [new Tensor(v instanceof Tensor ? v.dtype : 'float32', shape, new Float64Array(shapeSize(shape)).fill(fill))];
  },
};
