// Registry of gradient rules by ONNX op type.
import * as ew from './elementwise.js';
import { MatMul } from './MatMul.js';
import { ReduceMean, ReduceSum } from './reduce.js';
import type { GradRule } from './rule.js';
import * as sh from './shape.js';
import { LogSoftmax, Softmax } from './Softmax.js';

export type { GradRule } from './rule.js';
export { unbroadcast } from './rule.js';

export const GRADS: ReadonlyMap<string, GradRule> = new Map<string, GradRule>([
  ...Object.entries(ew),
  ...Object.entries(sh),
  ['MatMul', MatMul],
  ['ReduceSum', ReduceSum],
  ['ReduceMean', ReduceMean],
  ['Softmax', Softmax],
  ['LogSoftmax', LogSoftmax],
]);
