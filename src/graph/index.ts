// Public API of the graph compiler: IR, functional builder, autodiff, layers, optimizers, emission, reference interpreter.
export { Graph, GraphError, shapeStr, type Attrs, type AttrValue, type Dim, type Node, type ParamInfo, type Value, type ValueKind } from './ir.js';
export * from './api.js';
export { grad, type GradOptions } from './autodiff.js';
export { toOnnx, decodeOnnx, OPSET, IR_VERSION, type EmitOptions, type OutputSpec } from './emit.js';
export { evaluate, type Feeds } from './interpreter.js';
export { Tensor, type DType } from './tensor.js';
export * from './nn.js';
export { compileTrainStep, compileForward, TrainState, type AdamConfig, type SgdConfig, type OptimizerConfig, type CompiledStep, type TrainStepOptions } from './optim.js';
export { OPS, opDef, type OpDef } from './ops/index.js';
export { GRADS, unbroadcast, type GradRule } from './grad/index.js';
