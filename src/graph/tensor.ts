// Dense float64 host tensors: constants in graphs and the values of the reference interpreter.
import { InternalError } from '../errors.js';

/** Element types the compiler knows. int64 and bool values are held as float64 numbers on the host. */
export type DType = 'float32' | 'int64' | 'bool';

/** A dense row-major tensor on the host; every dtype is stored as float64 numbers. */
export class Tensor {
  readonly size: number;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly data: Float64Array,
  ) {
    this.size = shapeSize(shape);
    if (data.length !== this.size) {
      throw new InternalError(`Tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${this.size}`);
    }
  }

  static from(dtype: DType, shape: readonly number[], data: ArrayLike<number>): Tensor {
    return new Tensor(dtype, shape, Float64Array.from(data));
  }

  static zeros(dtype: DType, shape: readonly number[]): Tensor {
    return new Tensor(dtype, shape, new Float64Array(shapeSize(shape)));
  }

  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return new Tensor(dtype, [], Float64Array.of(value));
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Numpy broadcasting of concrete shapes; throws when incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new InternalError(`Cannot broadcast shapes [${a.join(', ')}] and [${b.join(', ')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** For every flat index of `out`, the flat index into a tensor of shape `src` broadcast to `out`. */
export function broadcastIndex(src: readonly number[], out: readonly number[]): Int32Array {
  const total = shapeSize(out);
  const idx = new Int32Array(total);
  const n = out.length;
  const srcStrides = stridesOf(src);
  // stride per output axis (0 where broadcast)
  const st = new Array<number>(n).fill(0);
  for (let i = 0; i < src.length; i++) {
    const oi = n - src.length + i;
    st[oi] = src[i] === 1 && out[oi] !== 1 ? 0 : srcStrides[i]!;
  }
  const counter = new Array<number>(n).fill(0);
  let cur = 0;
  for (let k = 0; k < total; k++) {
    idx[k] = cur;
    for (let ax = n - 1; ax >= 0; ax--) {
      counter[ax]!++;
      cur += st[ax]!;
      if (counter[ax]! < out[ax]!) break;
      cur -= st[ax]! * counter[ax]!;
      counter[ax] = 0;
    }
  }
  return idx;
}

/** Elementwise n-ary kernel with broadcasting. */
export function mapBroadcast(
  inputs: readonly Tensor[],
  dtype: DType,
  f: (...xs: number[]) => number,
): Tensor {
  let shape: number[] = [];
  for (const t of inputs) shape = broadcastShapes(shape, t.shape);
  const total = shapeSize(shape);
  const idxs = inputs.map((t) => broadcastIndex(t.shape, shape));
  const out = new Float64Array(total);
  const args = new Array<number>(inputs.length);
  for (let k = 0; k < total; k++) {
    for (let j = 0; j < inputs.length; j++) args[j] = inputs[j]!.data[idxs[j]![k]!]!;
    out[k] = f(...args);
  }
  return new Tensor(dtype, shape, out);
}

/** Normalizes a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new InternalError(`Axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Copies a transposed view: out[i_perm] = in[i]. */
export function transposeTensor(t: Tensor, perm: readonly number[]): Tensor {
  const inStr = stridesOf(t.shape);
  const outShape = perm.map((p) => t.shape[p]!);
  const total = t.size;
  const out = new Float64Array(total);
  const n = outShape.length;
  const counter = new Array<number>(n).fill(0);
  const st = perm.map((p) => inStr[p]!);
  let cur = 0;
  for (let k = 0; k < total; k++) {
    out[k] = t.data[cur]!;
    for (let ax = n - 1; ax >= 0; ax--) {
      counter[ax]!++;
      cur += st[ax]!;
      if (counter[ax]! < outShape[ax]!) break;
      cur -= st[ax]! * counter[ax]!;
      counter[ax] = 0;
    }
  }
  return new Tensor(t.dtype, outShape, out);
}
