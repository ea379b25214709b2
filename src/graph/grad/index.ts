// Registry of gradient rules by ONNX op type: every rule is listed here by name (a new rule is registered explicitly).
import { Abs, Add, Div, Exp, Identity, LeakyRelu, Log, Max, Min, Mul, Neg, Pow, Relu, Sigmoid, Sqrt, Sub, Tanh } from './elementwise.js';
import { MatMul } from './MatMul.js';
import { CumSum, ReduceMean, ReduceSum } from './reduce.js';
import type { GradRule } from './rule.js';
import { Concat, Expand, Gather, Pad, Reshape, Slice, Split, Squeeze, Transpose, Unsqueeze, Where } from './shape.js';
import { LogSoftmax, Softmax } from './Softmax.js';

export type { GradRule } from './rule.js';
export { unbroadcast } from './rule.js';

export const GRADS: ReadonlyMap<string, GradRule> = new Map<string, GradRule>([
  // elementwise.ts
  ['Add', Add],
  ['Sub', Sub],
  ['Mul', Mul],
  ['Div', Div],
  ['Pow', Pow],
  ['Max', Max],
  ['Min', Min],
  ['Neg', Neg],
  ['Abs', Abs],
  ['Identity', Identity],
  ['Sqrt', Sqrt],
  ['Exp', Exp],
  ['Log', Log],
  ['Relu', Relu],
  ['LeakyRelu', LeakyRelu],
  ['Sigmoid', Sigmoid],
  ['Tanh', Tanh],
  // shape.ts
  ['CumSum', CumSum],
  ['Concat', Concat],
  ['Split', Split],
  ['Slice', Slice],
  ['Pad', Pad],
  ['Reshape', Reshape],
  ['Squeeze', Squeeze],
  ['Unsqueeze', Unsqueeze],
  ['Transpose', Transpose],
  ['Expand', Expand],
  ['Gather', Gather],
  ['Where', Where],
  // one file each
  ['MatMul', MatMul],
  ['ReduceSum', ReduceSum],
  ['ReduceMean', ReduceMean],
  ['Softmax', Softmax],
  ['LogSoftmax', LogSoftmax],
]);
