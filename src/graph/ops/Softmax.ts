// Softmax and LogSoftmax along one axis (opset-13 semantics).
import { Tensor } from '../tensor.js';
import { attrInt, axisView, requireFloat, type OpDef } from './op.js';

function softmaxRef(x: Tensor, axis: number, log: boolean): Tensor {
  const [outer, n, inner] = axisView(x.shape, axis);
  const out = new Float64Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, x.data[base + j * inner]!);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(x.data[base + j * inner]! - mx);
      for (let j = 0; j < n; j++) {
        const z = x.data[base + j * inner]! - mx;
        out[base + j * inner] = log ? z - Math.log(s) : Math.exp(z) / s;
      }
    }
  }
  return new Tensor(x.dtype, x.shape, out);
}

function make(type: 'Softmax' | 'LogSoftmax'): OpDef {
  return {
    type,
    attrTypes: { axis: 'int' },
    infer([x]) {
      requireFloat(x!, type);
      return [{ dtype: 'float32', shape: x!.shape }];
    },
    ref([x], attrs) {
      return [softmaxRef(x!, attrInt(attrs, 'axis', -1), type === 'LogSoftmax')];
    },
  };
}

export const Softmax: OpDef = make('Softmax');
export const LogSoftmax: OpDef = make('LogSoftmax');
