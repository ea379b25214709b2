// MatMul: numpy-style (batched, broadcasting) matrix product of rank ≥ 2 operands.
import { GraphError, shapeStr } from '../ir.js';
import { Tensor, broadcastIndex, shapeSize } from '../tensor.js';
import { broadcastDims, broadcastShapes, requireFloat, type OpDef } from './op.js';

export const MatMul: OpDef = {
  type: 'MatMul',
  attrTypes: {},
  infer([a, b]) {
    requireFloat(a!, 'MatMul');
    requireFloat(b!, 'MatMul');
    if (a!.shape.length < 2 || b!.shape.length < 2) throw new GraphError(`MatMul needs rank ≥ 2 operands, got ${shapeStr(a!.shape)} · ${shapeStr(b!.shape)}`);
    const k1 = a!.shape[a!.shape.length - 1]!;
    const k2 = b!.shape[b!.shape.length - 2]!;
    if (k1 !== k2) throw new GraphError(`MatMul inner dims differ: ${shapeStr(a!.shape)} · ${shapeStr(b!.shape)} (${a!.name}, ${b!.name})`);
    const batch = broadcastDims([a!.shape.slice(0, -2), b!.shape.slice(0, -2)], 'MatMul');
    return [{ dtype: 'float32', shape: [...batch, a!.shape[a!.shape.length - 2]!, b!.shape[b!.shape.length - 1]!] }];
  },
  ref([a, b]) {
    const [m, k] = a!.shape.slice(-2) as [number, number];
    const n = b!.shape[b!.shape.length - 1]!;
    const ba = a!.shape.slice(0, -2);
    const bb = b!.shape.slice(0, -2);
    const batch = broadcastShapes(ba, bb);
    const nb = shapeSize(batch);
    const ia = broadcastIndex(ba, batch);
    const ib = broadcastIndex(bb, batch);
    const out = new Float64Array(nb * m * n);
    for (let t = 0; t < nb; t++) {
      const oa = ia[t]! * m * k;
      const ob = ib[t]! * k * n;
      const oo = t * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a!.data[oa + i * k + p]! * b!.data[ob + p * n + j]!;
          out[oo + i * n + j] = s;
        }
      }
    }
    return [new Tensor('float32', [...batch, m, n], out)];
  },
};
