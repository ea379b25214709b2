// The gradient-rule contract and the broadcast-aware reduction every rule uses.
import { reduceSum, reshape, shapeOf } from '../api.js';
import type { Node, Value } from '../ir.js';

/**
 * A reverse-mode rule: given the node and the gradients of its outputs (null where no gradient flows),
 * returns the gradient of each input (null for non-differentiable inputs or where `needs[i]` is false).
 * Rules are written with builder ops, so their results are differentiable again.
 */
export type GradRule = (node: Node, dys: readonly (Value | null)[], needs: readonly boolean[]) => (Value | null)[];

/** Sums `g` over the axes along which `target` was broadcast, so that the result has target's shape. */
export function unbroadcast(g: Value, target: Value): Value {
  let out = g;
  const lead = g.shape.length - target.shape.length;
  if (lead > 0) out = reduceSum(out, Array.from({ length: lead }, (_, i) => i), false);
  const axes: number[] = [];
  target.shape.forEach((d, i) => {
    if (d === 1 && out.shape[i] !== 1) axes.push(i);
  });
  if (axes.length > 0) out = reduceSum(out, axes, true);
  if (out.shape.length !== target.shape.length || out.shape.some((d, i) => d !== target.shape[i])) {
    out = reshape(out, shapeOf(target));
  }
  return out;
}
