// The functional builder: one function per op (matmul, add, relu, …) that infers shapes and appends nodes.
import { GraphError, type Attrs, type Dim, type Graph, type Value } from './ir.js';
import { ONNX_DTYPE } from './ops/Cast.js';
import { opDef } from './ops/index.js';
import { Tensor, type DType } from './tensor.js';

export type ValueOrNumber = Value | number;

/** Appends one node of ONNX type `op`; returns its outputs. */
export function nodeN(op: string, inputs: readonly Value[], attrs: Attrs = {}, opts: { stopGradient?: boolean; name?: string } = {}): Value[] {
  if (inputs.length === 0) throw new GraphError(`${op} needs at least one input`);
  const g = inputs[0]!.graph;
  const types = opDef(op).infer(inputs, attrs);
  return [...g.addNode(op, inputs, attrs, types, opts).outputs];
}

/** Appends a single-output node. */
export function node(op: string, inputs: readonly Value[], attrs: Attrs = {}, opts: { stopGradient?: boolean; name?: string } = {}): Value {
  return nodeN(op, inputs, attrs, opts)[0]!;
}

/** A constant in `g`. */
export function constant(g: Graph, data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'float32'): Value {
  return g.constant(Tensor.from(dtype, shape, data));
}

/** A rank-0 constant with `like`'s dtype. */
export function scalarLike(like: Value, v: number): Value {
  return like.graph.constant(Tensor.scalar(v, like.dtype));
}

/** A 1-D int64 constant (axes, shapes, starts, …). */
export function ints(g: Graph, xs: readonly number[]): Value {
  return g.constant(Tensor.from('int64', [xs.length], xs));
}

function lift(a: ValueOrNumber, b: ValueOrNumber): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') throw new GraphError('Binary op needs at least one Value');
  if (typeof a === 'number') return [scalarLike(b as Value, a), b as Value];
  if (typeof b === 'number') return [a, scalarLike(a, b)];
  return [a, b];
}

export const add = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Add', lift(a, b));
export const sub = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Sub', lift(a, b));
export const mul = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Mul', lift(a, b));
export const div = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Div', lift(a, b));
export const pow = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Pow', lift(a, b));
export const max = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Max', lift(a, b));
export const min = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Min', lift(a, b));
export const greater = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Greater', lift(a, b));
export const less = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Less', lift(a, b));
export const greaterOrEqual = (a: ValueOrNumber, b: ValueOrNumber): Value => node('GreaterOrEqual', lift(a, b));
export const lessOrEqual = (a: ValueOrNumber, b: ValueOrNumber): Value => node('LessOrEqual', lift(a, b));
export const equal = (a: ValueOrNumber, b: ValueOrNumber): Value => node('Equal', lift(a, b));
export const and = (a: Value, b: Value): Value => node('And', [a, b]);
export const not = (a: Value): Value => node('Not', [a]);
export const neg = (x: Value): Value => node('Neg', [x]);
export const abs = (x: Value): Value => node('Abs', [x]);
export const sqrt = (x: Value): Value => node('Sqrt', [x]);
export const exp = (x: Value): Value => node('Exp', [x]);
export const log = (x: Value): Value => node('Log', [x]);
export const relu = (x: Value): Value => node('Relu', [x]);
export const sigmoid = (x: Value): Value => node('Sigmoid', [x]);
export const tanh = (x: Value): Value => node('Tanh', [x]);
export const leakyRelu = (x: Value, alpha = 0.01): Value => node('LeakyRelu', [x], { alpha });
export const softmax = (x: Value, axis = -1): Value => node('Softmax', [x], { axis });
export const logSoftmax = (x: Value, axis = -1): Value => node('LogSoftmax', [x], { axis });
export const square = (x: Value): Value => node('Mul', [x, x], {}, { name: 'Square' });
export const matmul = (a: Value, b: Value): Value => node('MatMul', [a, b]);

/** Named pass-through (also how a value gets a readable name in the emitted graph). */
export const identity = (x: Value, name?: string): Value => node('Identity', [x], {}, name === undefined ? {} : { name });

/** Blocks reverse-mode AD: the result is treated as a constant by grad(). */
export const stopGradient = (x: Value): Value => node('Identity', [x], {}, { stopGradient: true, name: 'StopGradient' });

export function reduceSum(x: Value, axes?: readonly number[], keepdims = false): Value {
  const ax = axes ?? x.shape.map((_, i) => i);
  if (ax.length === 0) return x;
  return node('ReduceSum', [x, ints(x.graph, ax)], { keepdims: keepdims ? 1 : 0 });
}

export function reduceMean(x: Value, axes?: readonly number[], keepdims = false): Value {
  const ax = axes ?? x.shape.map((_, i) => i);
  if (ax.length === 0) return x;
  return node('ReduceMean', [x], { axes: ax, keepdims: keepdims ? 1 : 0 });
}

/** Running sum along `axis`; `exclusive` leaves out the element itself (ONNX CumSum). */
export function cumSum(x: Value, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Value {
  const ax = x.graph.constant(Tensor.from('int64', [], [axis]));
  return node('CumSum', [x, ax], { exclusive: opts.exclusive ? 1 : 0, reverse: opts.reverse ? 1 : 0 });
}

export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0]!;
  return node('Concat', xs, { axis });
}

/** x[starts:ends] on `axes` (steps of 1). */
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Value {
  const g = x.graph;
  const ins = [x, ints(g, starts), ints(g, ends)];
  if (axes) ins.push(ints(g, axes));
  return node('Slice', ins);
}

export function split(x: Value, sizes: readonly number[], axis = 0): Value[] {
  return nodeN('Split', [x, ints(x.graph, sizes)], { axis });
}

/** Zero padding: `pads` = [begin per axis…, end per axis…]. */
export function pad(x: Value, pads: readonly number[]): Value {
  return node('Pad', [x, ints(x.graph, pads)], { mode: 'constant' });
}

export function reshape(x: Value, shape: readonly number[] | Value): Value {
  const s = Array.isArray(shape) ? ints(x.graph, shape as readonly number[]) : (shape as Value);
  return node('Reshape', [x, s]);
}

export function transpose(x: Value, perm?: readonly number[]): Value {
  return node('Transpose', [x], perm ? { perm } : {});
}

export const unsqueeze = (x: Value, axes: readonly number[]): Value => node('Unsqueeze', [x, ints(x.graph, axes)]);
export const squeeze = (x: Value, axes: readonly number[]): Value => node('Squeeze', [x, ints(x.graph, axes)]);
export const gather = (x: Value, indices: Value, axis = 0): Value => node('Gather', [x, indices], { axis });
export const where = (cond: Value, a: ValueOrNumber, b: ValueOrNumber): Value => node('Where', [cond, ...lift(a, b)]);

/** The runtime shape of `x` as an int64 vector: a constant when every dim is static. */
export function shapeOf(x: Value): Value {
  if (x.shape.every((d) => typeof d === 'number')) return ints(x.graph, x.shape as number[]);
  return node('Shape', [x]);
}

export function expand(x: Value, shape: readonly Dim[] | Value): Value {
  let s: Value;
  if (Array.isArray(shape)) {
    const dims = shape as readonly Dim[];
    if (dims.every((d) => typeof d === 'number')) s = ints(x.graph, dims as number[]);
    else throw new GraphError('expand() with symbolic dims needs a shape Value (e.g. shapeOf(y))');
  } else s = shape as Value;
  return node('Expand', [x, s]);
}

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return node('Cast', [x], { to: ONNX_DTYPE[to] });
}

export const size = (x: Value): Value => node('Size', [x]);

/** Zeros with the runtime shape of `x`. */
export function zerosLike(x: Value): Value {
  return node('ConstantOfShape', [shapeOf(x)], { value: Tensor.from(x.dtype, [1], [0]) }, { name: 'ZerosLike' });
}

export const argMax = (x: Value, axis = -1, keepdims = false): Value => node('ArgMax', [x], { axis, keepdims: keepdims ? 1 : 0 });
/** The k largest values along `axis` and their int64 indices, sorted, ties to the lower index (ONNX TopK). */
export const topK = (x: Value, k: number, axis = -1): [Value, Value] => nodeN('TopK', [x, ints(x.graph, [k])], { axis, largest: 1, sorted: 1 }) as [Value, Value];

/** One-hot float32 encoding of int64 indices along a new last axis. */
export function oneHot(indices: Value, depth: number): Value {
  const g = indices.graph;
  return node('OneHot', [indices, g.constant(Tensor.from('int64', [1], [depth])), constant(g, [0, 1], [2])], { axis: -1 });
}

/** Mean over every element. */
export const mean = (x: Value): Value => reduceMean(x);
/** Sum over every element. */
export const sum = (x: Value): Value => reduceSum(x);

/**
 * x·W + b. W may be [I, O] (shared) or [N, I, O] (one copy per example, see perExampleGrads), in which
 * case x [N, I] is multiplied row by row. A shared W on x of rank > 2 ([N, S, I]) multiplies x reshaped to
 * 2-D ([N·S, I]) when its shape is static (training graphs): one product whose weight gradient is one product too,
 * where the broadcast 3-D MatMul's is a batch of small products and a ReduceSum.
 */
export function linear(x: Value, w: Value, b?: Value): Value {
  let y: Value;
  if (w.shape.length === 3 && x.shape.length === 2) {
    y = squeeze(matmul(unsqueeze(x, [1]), w), [1]);
    if (b) y = add(y, b);
  } else if (w.shape.length === 2 && x.shape.length > 2 && x.shape.every((d) => typeof d === 'number')) {
    const inner = x.shape.slice(1, -1) as number[];
    y = matmul(reshape(x, [-1, w.shape[0] as number]), w);
    if (b) y = add(y, b);
    y = reshape(y, [x.shape[0] as number, ...inner, w.shape[1] as number]);
  } else {
    y = matmul(x, w);
    if (b) y = add(y, b);
  }
  return y;
}
