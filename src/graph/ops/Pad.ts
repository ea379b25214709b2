// Pad in constant mode with constant pads (the gradient of Slice); the pad value defaults to 0.
import { GraphError, type Dim } from '../ir.js';
import { Tensor, stridesOf, shapeSize } from '../tensor.js';
import { constInts, type OpDef } from './op.js';

export const Pad: OpDef = {
  type: 'Pad',
  attrTypes: { mode: 'string' },
  infer([x, pads]) {
    const p = constInts(pads, 'Pad pads');
    const r = x!.shape.length;
    if (p.length !== 2 * r) throw new GraphError(`Pad: pads needs ${2 * r} values`);
    const shape: Dim[] = x!.shape.map((d, i) => {
      if (p[i] === 0 && p[i + r] === 0) return d;
      if (typeof d !== 'number') throw new GraphError(`Pad: cannot pad symbolic dim ${d}`);
      return d + p[i]! + p[i + r]!;
    });
    return [{ dtype: x!.dtype, shape }];
  },
  ref([x, pads, value]) {
    const p = Array.from(pads!.data);
    const r = x!.shape.length;
    const shape = x!.shape.map((d, i) => d + p[i]! + p[i + r]!);
    const out = new Float64Array(shapeSize(shape)).fill(value ? value.data[0]! : 0);
    const inStr = stridesOf(x!.shape);
    const outStr = stridesOf(shape);
    for (let k = 0; k < x!.size; k++) {
      let rem = k;
      let dst = 0;
      for (let i = 0; i < r; i++) {
        const c = Math.floor(rem / inStr[i]!);
        rem -= c * inStr[i]!;
        dst += (c + p[i]!) * outStr[i]!;
      }
      out[dst] = x!.data[k]!;
    }
    return [new Tensor(x!.dtype, shape, out)];
  },
};
