// Slice with constant starts/ends/axes (steps must be 1 so that the gradient is a Pad).
import { GraphError, type Dim } from '../ir.js';
import { Tensor, normAxis, stridesOf, shapeSize } from '../tensor.js';
import { constInts, type OpDef } from './op.js';

/** Clamped [start, end) per axis for a dim of length `d`. */
export function sliceRange(start: number, end: number, d: number): [number, number] {
  const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
  const e = Math.min(Math.max(end < 0 ? end + d : end, 0), d);
  return [s, Math.max(e, s)];
}

export const Slice: OpDef = {
  type: 'Slice',
  attrTypes: {},
  infer([x, starts, ends, axes, steps]) {
    const st = constInts(starts, 'Slice starts');
    const en = constInts(ends, 'Slice ends');
    const ax = axes ? constInts(axes, 'Slice axes') : st.map((_, i) => i);
    if (steps && constInts(steps, 'Slice steps').some((s) => s !== 1)) throw new GraphError('Slice: only steps of 1 are supported');
    const shape: Dim[] = [...x!.shape];
    ax.forEach((a0, i) => {
      const a = normAxis(a0, shape.length);
      const d = shape[a]!;
      if (typeof d !== 'number') {
        if (st[i] === 0 && en[i]! >= 2 ** 53) return;
        // non-negative bounds on a symbolic dim: assumes the dim is at least `end` at run time
        if (st[i]! >= 0 && en[i]! >= st[i]! && en[i]! < 2 ** 53) {
          shape[a] = en[i]! - st[i]!;
          return;
        }
        throw new GraphError(`Slice: cannot slice symbolic dim ${d} of ${x!.name}`);
      }
      const [s, e] = sliceRange(st[i]!, en[i]!, d);
      shape[a] = e - s;
    });
    let shapeValue: Dim[] | null = null;
    if (x!.shapeValue && x!.shape.length === 1 && ax.length === 1) {
      const [s, e] = sliceRange(st[0]!, en[0]!, x!.shapeValue.length);
      shapeValue = x!.shapeValue.slice(s, e);
    }
    return [{ dtype: x!.dtype, shape, shapeValue }];
  },
  ref([x, starts, ends, axes]) {
    const rank = x!.shape.length;
    const lo = new Array<number>(rank).fill(0);
    const shape = [...x!.shape];
    const st = Array.from(starts!.data);
    const en = Array.from(ends!.data);
    const ax = axes ? Array.from(axes.data) : st.map((_, i) => i);
    ax.forEach((a0, i) => {
      const a = normAxis(a0, rank);
      const [s, e] = sliceRange(st[i]!, en[i]!, x!.shape[a]!);
      lo[a] = s;
      shape[a] = e - s;
    });
    const out = new Float64Array(shapeSize(shape));
    const inStr = stridesOf(x!.shape);
    const outStr = stridesOf(shape);
    for (let k = 0; k < out.length; k++) {
      let rem = k;
      let src = 0;
      for (let i = 0; i < rank; i++) {
        const c = Math.floor(rem / outStr[i]!);
        rem -= c * outStr[i]!;
        src += (c + lo[i]!) * inStr[i]!;
      }
      out[k] = x!.data[src]!;
    }
    return [new Tensor(x!.dtype, shape, out)];
  },
};
