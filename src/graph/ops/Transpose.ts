// Transpose by a permutation (default: reverse the axes).
import { transposeTensor } from '../tensor.js';
import { attrInts, type OpDef } from './op.js';

export const Transpose: OpDef = {
  type: 'Transpose',
  attrTypes: { perm: 'ints' },
  infer([x], attrs) {
    const perm = attrInts(attrs, 'perm', x!.shape.map((_, i) => x!.shape.length - 1 - i));
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
  },
  ref([x], attrs) {
    return [transposeTensor(x!, attrInts(attrs, 'perm', x!.shape.map((_, i) => x!.shape.length - 1 - i)))];
  },
};
