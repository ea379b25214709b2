// Registry of every op the compiler knows, by ONNX op type.
import { GraphError } from '../ir.js';
import { ArgMax, OneHot } from './ArgMax.js';
import { Cast } from './Cast.js';
import { Concat } from './Concat.js';
import { CumSum } from './CumSum.js';
import * as ew from './elementwise.js';
import { Expand } from './Expand.js';
import { Gather } from './Gather.js';
import { MatMul } from './MatMul.js';
import type { OpDef } from './op.js';
import { Pad } from './Pad.js';
import { ReduceMean } from './ReduceMean.js';
import { ReduceSum } from './ReduceSum.js';
import { Reshape } from './Reshape.js';
import { ConstantOfShape, Shape, Size } from './Shape.js';
import { Slice } from './Slice.js';
import { LogSoftmax, Softmax } from './Softmax.js';
import { Split } from './Split.js';
import { TopK } from './TopK.js';
import { Transpose } from './Transpose.js';
import { Squeeze, Unsqueeze } from './Unsqueeze.js';
import { Where } from './Where.js';

export type { OpDef, AttrType } from './op.js';

const all: OpDef[] = [
  ...Object.values(ew),
  ArgMax, OneHot, Cast, Concat, CumSum, Expand, Gather, MatMul, Pad, ReduceMean, ReduceSum, Reshape,
  ConstantOfShape, Shape, Size, Slice, LogSoftmax, Softmax, Split, TopK, Transpose, Squeeze, Unsqueeze, Where,
];

export const OPS: ReadonlyMap<string, OpDef> = new Map(all.map((o) => [o.type, o]));

export function opDef(type: string): OpDef {
  const d = OPS.get(type);
  if (!d) throw new GraphError(`Unknown op ${type}`);
  return d;
}
