// Gradients of the data-movement ops: Concat↔Split, Slice↔Pad, Reshape/Squeeze/Unsqueeze, Transpose, Expand, Gather, Where.
// (No Cast rule: cast() never emits a float32 → float32 Cast, and a Cast to or from int64/bool carries no gradient.)
import { concat, matmul, oneHot, pad, reshape, shapeOf, slice, split, transpose, where, zerosLike } from '../api.js';
import { GraphError } from '../ir.js';
import { attrInt, attrInts, concreteShape, constInts } from '../ops/op.js';
import { sliceRange } from '../ops/Slice.js';
import { normAxis } from '../tensor.js';
import type { GradRule } from './rule.js';
import { unbroadcast } from './rule.js';

// dXᵢ = the i-th piece of dY along the axis
export const Concat: GradRule = (n, [dy]) => {
  const axis = normAxis(attrInt(n.attrs, 'axis'), n.inputs[0]!.shape.length);
  const sizes = n.inputs.map((v) => v.shape[axis]!);
  if (!sizes.every((d) => typeof d === 'number')) throw new GraphError(`Concat gradient needs static sizes along axis ${axis} (${n.name})`);
  return split(dy!, sizes as number[], axis);
};

// dX = concat of the pieces' gradients (zeros where none flows)
export const Split: GradRule = (n, dys) => {
  const axis = attrInt(n.attrs, 'axis', 0);
  return [concat(dys.map((d, i) => d ?? zerosLike(n.outputs[i]!)), axis), null];
};

// dX = dY zero-padded back to X's extent
export const Slice: GradRule = (n, [dy]) => {
  const x = n.inputs[0]!;
  const r = x.shape.length;
  const st = constInts(n.inputs[1], 'starts');
  const en = constInts(n.inputs[2], 'ends');
  const ax = n.inputs[3] ? constInts(n.inputs[3], 'axes') : st.map((_, i) => i);
  const pads = new Array<number>(2 * r).fill(0);
  ax.forEach((a0, i) => {
    const a = normAxis(a0, r);
    const d = x.shape[a]!;
    if (typeof d !== 'number') {
      if (st[i] === 0 && en[i]! >= 2 ** 53) return;
      throw new GraphError(`Slice gradient needs a static dim on sliced axis ${a} (${n.name})`);
    }
    const [s, e] = sliceRange(st[i]!, en[i]!, d);
    pads[a] = s;
    pads[a + r] = d - e;
  });
  return [pad(dy!, pads), null, null, null, null];
};

// dX = dY with the padding sliced off
export const Pad: GradRule = (n, [dy]) => {
  const x = n.inputs[0]!;
  const p = constInts(n.inputs[1], 'pads');
  const r = x.shape.length;
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let a = 0; a < r; a++) {
    if (p[a] === 0 && p[a + r] === 0) continue;
    const d = concreteShape([x.shape[a]!], 'Pad gradient')[0]!;
    axes.push(a);
    starts.push(p[a]!);
    ends.push(p[a]! + d);
  }
  return [axes.length ? slice(dy!, starts, ends, axes) : dy!, null, null];
};

// dX = dY reshaped to X's shape
const backToShape: GradRule = (n, [dy]) => [reshape(dy!, shapeOf(n.inputs[0]!)), null];
export const Reshape = backToShape;
export const Squeeze = backToShape;
export const Unsqueeze = backToShape;

// dX = dY transposed by the inverse permutation
export const Transpose: GradRule = (n, [dy]) => {
  const r = n.inputs[0]!.shape.length;
  const perm = attrInts(n.attrs, 'perm', Array.from({ length: r }, (_, i) => r - 1 - i));
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return [transpose(dy!, inv)];
};

// dX = dY summed over the broadcast axes
export const Expand: GradRule = (n, [dy]) => [unbroadcast(dy!, n.inputs[0]!), null];

// dX = onehot(indices)ᵀ · dY (axis 0 only): rows that were gathered several times add up
export const Gather: GradRule = (n, [dy]) => {
  const [x, idx] = n.inputs as [typeof n.inputs[0], typeof n.inputs[0]];
  if (normAxis(attrInt(n.attrs, 'axis', 0), x!.shape.length) !== 0) throw new GraphError(`Gather gradient supports axis 0 only (${n.name})`);
  const [v, ...rest] = concreteShape(x!.shape, 'Gather gradient');
  const r = rest.reduce((p, q) => p * q, 1);
  const oh = oneHot(reshape(idx!, [-1]), v!);
  const g = matmul(transpose(oh), reshape(dy!, [-1, r]));
  return [reshape(g, shapeOf(x!)), null];
};

// dA = dY where cond, dB = dY elsewhere
export const Where: GradRule = ({ inputs: [c, a, b] }, [dy], need) => [
  null,
  need[1] ? unbroadcast(where(c!, dy!, 0), a!) : null,
  need[2] ? unbroadcast(where(c!, 0, dy!), b!) : null,
];
