// Gradients of ReduceSum (dX = dY broadcast back) and ReduceMean (dX = dY broadcast back · |Y|/|X|).
import { cast, constant, cumSum, div, expand, mul, shapeOf, size, unsqueeze } from '../api.js';
import type { Node, Value } from '../ir.js';
import { attrInt, attrInts, constInts } from '../ops/op.js';
import { normAxis } from '../tensor.js';
import type { GradRule } from './rule.js';

function spread(n: Node, dy: Value, axes: readonly number[]): Value {
  const x = n.inputs[0]!;
  const keep = attrInt(n.attrs, 'keepdims', 1) === 1;
  const ax = axes.map((a) => normAxis(a, x.shape.length)).sort((p, q) => p - q);
  const d = keep ? dy : unsqueeze(dy, ax);
  return expand(d, shapeOf(x));
}

export const ReduceSum: GradRule = (n, [dy]) => [spread(n, dy!, constInts(n.inputs[1], 'ReduceSum axes')), null];

export const ReduceMean: GradRule = (n, [dy]) => {
  const x = n.inputs[0]!;
  const axes = attrInts(n.attrs, 'axes');
  const g = spread(n, dy!, axes);
  const dims = axes.map((a) => x.shape[normAxis(a, x.shape.length)]!);
  if (dims.every((d) => typeof d === 'number')) {
    const count = (dims as number[]).reduce((p, q) => p * q, 1);
    return [mul(g, constant(x.graph, [1 / count], []))];
  }
  return [div(g, cast(div(size(x), size(n.outputs[0]!)), 'float32'))];
};

/** CumSum: dX = CumSum(dY) in the opposite direction, as exclusive as the forward one. */
export const CumSum: GradRule = (n, [dy]) => {
  const axis = constInts(n.inputs[1], 'CumSum axis')[0]!;
  return [cumSum(dy!, axis, { exclusive: attrInt(n.attrs, 'exclusive', 0) === 1, reverse: attrInt(n.attrs, 'reverse', 0) !== 1 })];
};
