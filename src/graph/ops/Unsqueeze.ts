// Unsqueeze and Squeeze with axes as an input (opset ≥ 13).
import { GraphError, type Dim } from '../ir.js';
import { Tensor, normAxis } from '../tensor.js';
import { constInts, type OpDef } from './op.js';

export function unsqueezeShape<T extends Dim>(shape: readonly T[], axes: readonly number[]): (T | 1)[] {
  const r = shape.length + axes.length;
  const ax = new Set(axes.map((a) => normAxis(a, r)));
  const out: (T | 1)[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(ax.has(i) ? 1 : shape[j++]!);
  return out;
}

export function squeezeShape<T extends Dim>(shape: readonly T[], axes: readonly number[], ctx: string): T[] {
  const ax = new Set(axes.map((a) => normAxis(a, shape.length)));
  for (const a of ax) if (shape[a] !== 1) throw new GraphError(`${ctx}: axis ${a} has size ${shape[a]}, not 1`);
  return shape.filter((_, i) => !ax.has(i));
}

export const Unsqueeze: OpDef = {
  type: 'Unsqueeze',
  attrTypes: {},
  infer([x, axes]) {
    return [{ dtype: x!.dtype, shape: unsqueezeShape(x!.shape, constInts(axes, 'Unsqueeze axes')) }];
  },
  ref([x, axes]) {
    return [new Tensor(x!.dtype, unsqueezeShape(x!.shape, Array.from(axes!.data)), x!.data)];
  },
};

export const Squeeze: OpDef = {
  type: 'Squeeze',
  attrTypes: {},
  infer([x, axes]) {
    return [{ dtype: x!.dtype, shape: squeezeShape(x!.shape, constInts(axes, 'Squeeze axes'), `Squeeze of ${x!.name}`) }];
  },
  ref([x, axes]) {
    return [new Tensor(x!.dtype, squeezeShape(x!.shape, Array.from(axes!.data), 'Squeeze'), x!.data)];
  },
};
