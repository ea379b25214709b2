// Reverse-mode AD: grad(loss, wrt) appends gradient nodes built from ordinary ops (so it can run again on them).
import { add, constant, expand, shapeOf, zerosLike } from './api.js';
import { GRADS } from './grad/index.js';
import { GraphError, shapeStr, type Value } from './ir.js';

export interface GradOptions {
  /** Gradient of the output; defaults to 1 (the loss must then be a scalar). */
  seed?: Value;
  /** Scope under which gradient nodes are named (default 'grad'). */
  scope?: string;
}

/**
 * d loss / d wrt for each value of `wrt`. Gradient flows only through float32 values and stops at
 * stopGradient(). A value of `wrt` that the loss does not depend on gets zeros. Throws a GraphError
 * naming the op and input when a node on the path from loss to `wrt` has no gradient rule.
 */
export function grad(loss: Value, wrt: readonly Value[], opts: GradOptions = {}): Value[] {
  const g = loss.graph;
  if (!opts.seed && loss.shape.length !== 0) throw new GraphError(`grad() needs a scalar loss or a seed; ${loss.name} has shape ${shapeStr(loss.shape)}`);
  const nodes = g.nodesFor([loss]);
  // Values that depend on some wrt through differentiable nodes.
  const active = new Set<number>(wrt.map((w) => w.id));
  const onPath: typeof nodes = [];
  for (const n of nodes) {
    if (n.stopGradient) continue;
    if (!n.inputs.some((v) => active.has(v.id))) continue;
    let any = false;
    for (const o of n.outputs) {
      if (o.dtype === 'float32') {
        active.add(o.id);
        any = true;
      }
    }
    if (any) onPath.push(n);
  }
  const grads = new Map<number, Value>();
  const scope = opts.scope ?? 'grad';
  g.scope(scope, () => {
    grads.set(loss.id, opts.seed ?? constant(g, [1], [], 'float32'));
    for (let k = onPath.length - 1; k >= 0; k--) {
      const n = onPath[k]!;
      const dys = n.outputs.map((o) => grads.get(o.id) ?? null);
      if (dys.every((d) => d === null)) continue;
      const needs = n.inputs.map((v) => active.has(v.id) && v.dtype === 'float32');
      const rule = GRADS.get(n.op);
      if (!rule) {
        const input = n.inputs.find((_, i) => needs[i])!;
        throw new GraphError(`No gradient rule for op ${n.op} (node ${n.name}) on the path from ${loss.name} to its input ${input.name}`);
      }
      const dxs = g.scope(n.name, () => rule(n, dys, needs));
      n.inputs.forEach((v, i) => {
        const d = dxs[i];
        if (!needs[i] || !d) return;
        if (d.shape.length !== v.shape.length || d.shape.some((s, j) => s !== v.shape[j] && s !== 1 && v.shape[j] !== 1 && typeof s === 'number' && typeof v.shape[j] === 'number')) {
          throw new GraphError(`Gradient rule of ${n.op} (${n.name}) gave shape ${shapeStr(d.shape)} for input ${v.name} of shape ${shapeStr(v.shape)}`);
        }
        const prev = grads.get(v.id);
        grads.set(v.id, prev ? add(prev, d) : d);
      });
    }
  });
  return wrt.map((w) => {
    const d = grads.get(w.id);
    if (d) return d;
    return g.scope(scope, () => (w.shape.every((s) => typeof s === 'number') ? expand(constant(g, [0], [], w.dtype), shapeOf(w)) : zerosLike(w)));
  });
}
