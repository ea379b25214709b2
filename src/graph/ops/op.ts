// The op-definition contract and shared helpers for shape inference and float64 reference kernels.
import { GraphError, shapeStr, type Attrs, type Dim, type OutputType, type Value } from '../ir.js';
import { Tensor, broadcastShapes, mapBroadcast, normAxis, shapeSize, stridesOf, type DType } from '../tensor.js';

/** How an attribute is typed in ONNX. */
export type AttrType = 'int' | 'float' | 'ints' | 'floats' | 'string' | 'tensor';

/** One ONNX operator: shape inference over IR values and a float64 reference kernel. */
export interface OpDef {
  readonly type: string;
  readonly attrTypes: Readonly<Record<string, AttrType>>;
  infer(inputs: readonly Value[], attrs: Attrs): OutputType[];
  ref(inputs: readonly Tensor[], attrs: Attrs): Tensor[];
}

export function attrInt(attrs: Attrs, name: string, dflt?: number): number {
  const v = attrs[name];
  if (v === undefined) {
    if (dflt === undefined) throw new GraphError(`Missing attribute ${name}`);
    return dflt;
  }
  if (typeof v !== 'number') throw new GraphError(`Attribute ${name} must be a number`);
  return v;
}

export function attrInts(attrs: Attrs, name: string, dflt?: readonly number[]): readonly number[] {
  const v = attrs[name];
  if (v === undefined) {
    if (dflt === undefined) throw new GraphError(`Missing attribute ${name}`);
    return dflt;
  }
  if (!Array.isArray(v)) throw new GraphError(`Attribute ${name} must be a list of numbers`);
  return v as readonly number[];
}

/** Reads a constant int64 input (axes, starts, …) at build time. */
export function constInts(v: Value | undefined, what: string): number[] {
  if (!v) throw new GraphError(`Missing ${what} input`);
  if (v.data) return Array.from(v.data.data);
  if (v.shapeValue && v.shapeValue.every((d) => typeof d === 'number')) return v.shapeValue as number[];
  throw new GraphError(`${what} must be a constant (got ${v.name})`);
}

/** Broadcasts two dims, symbolic ones included. */
export function broadcastDim(a: Dim, b: Dim, ctx: string): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  throw new GraphError(`${ctx}: cannot broadcast dims ${a} and ${b}`);
}

export function broadcastDims(shapes: readonly (readonly Dim[])[], ctx: string): Dim[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    let d: Dim = 1;
    for (const s of shapes) d = broadcastDim(d, s[s.length - n + i] ?? 1, ctx);
    out.push(d);
  }
  return out;
}

export function requireFloat(v: Value, op: string): void {
  if (v.dtype !== 'float32') throw new GraphError(`${op} needs a float32 input, got ${v.dtype} for ${v.name}`);
}

export function unary(type: string, f: (x: number) => number, opts: { floatOnly?: boolean; attrs?: Record<string, AttrType>; withAttrs?: (attrs: Attrs) => (x: number) => number } = {}): OpDef {
  return {
    type,
    attrTypes: opts.attrs ?? {},
    infer([x]) {
      if (opts.floatOnly !== false) requireFloat(x!, type);
      return [{ dtype: x!.dtype, shape: x!.shape }];
    },
    ref([x], attrs) {
      const g = opts.withAttrs ? opts.withAttrs(attrs) : f;
      return [new Tensor(x!.dtype, x!.shape, x!.data.map(g))];
    },
  };
}

export function binary(type: string, f: (a: number, b: number) => number, out: 'same' | 'bool' = 'same', floatOnly = false): OpDef {
  return {
    type,
    attrTypes: {},
    infer([a, b]) {
      if (a!.dtype !== b!.dtype) throw new GraphError(`${type}: dtype mismatch ${a!.dtype} (${a!.name}) vs ${b!.dtype} (${b!.name})`);
      if (floatOnly) requireFloat(a!, type);
      return [{ dtype: out === 'bool' ? 'bool' : a!.dtype, shape: broadcastDims([a!.shape, b!.shape], type) }];
    },
    ref([a, b]) {
      const dtype: DType = out === 'bool' ? 'bool' : a!.dtype;
      const g = a!.dtype === 'int64' && type === 'Div' ? (x: number, y: number) => Math.trunc(x / y) : f;
      return [mapBroadcast([a!, b!], dtype, out === 'bool' ? (x, y) => (g(x, y) ? 1 : 0) : g)];
    },
  };
}

/** Reduces `t` over `axes` with a (start, combine, finish) fold. */
export function reduceTensor(t: Tensor, axes: readonly number[], keepdims: boolean, init: number, comb: (acc: number, x: number) => number, fin: (acc: number, n: number) => number = (a) => a): Tensor {
  const rank = t.shape.length;
  const ax = new Set(axes.map((a) => normAxis(a, rank)));
  const keptShape = t.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const outShape = keepdims ? keptShape : t.shape.filter((_, i) => !ax.has(i));
  const outSize = shapeSize(keptShape);
  const acc = new Float64Array(outSize).fill(init);
  const outStr = stridesOf(keptShape);
  const inStr = stridesOf(t.shape);
  let count = 1;
  for (const a of ax) count *= t.shape[a]!;
  for (let k = 0; k < t.size; k++) {
    let o = 0;
    let rem = k;
    for (let i = 0; i < rank; i++) {
      const c = Math.floor(rem / inStr[i]!);
      rem -= c * inStr[i]!;
      if (!ax.has(i)) o += c * outStr[i]!;
    }
    acc[o] = comb(acc[o]!, t.data[k]!);
  }
  return new Tensor(t.dtype, outShape, acc.map((v) => fin(v, count)));
}

export function reducedShape(shape: readonly Dim[], axes: readonly number[], keepdims: boolean): Dim[] {
  const ax = new Set(axes.map((a) => normAxis(a, shape.length)));
  return keepdims ? shape.map((d, i) => (ax.has(i) ? 1 : d)) : shape.filter((_, i) => !ax.has(i));
}

/** Views a tensor as [outer, n, inner] around `axis`. */
export function axisView(shape: readonly number[], axis: number): [number, number, number] {
  const a = normAxis(axis, shape.length);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < a; i++) outer *= shape[i]!;
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[a]!, inner];
}

export function concreteShape(shape: readonly Dim[], ctx: string): number[] {
  return shape.map((d) => {
    if (typeof d !== 'number') throw new GraphError(`${ctx}: dimension ${d} must be static here (shape ${shapeStr(shape)})`);
    return d;
  });
}

export { broadcastShapes };
