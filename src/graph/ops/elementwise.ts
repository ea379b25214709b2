// Elementwise ONNX ops that share one shape rule (numpy broadcasting): arithmetic, activations, comparisons.
import { binary, unary, type OpDef } from './op.js';
import { attrInt } from './op.js';

export const Add: OpDef = binary('Add', (a, b) => a + b);
export const Sub: OpDef = binary('Sub', (a, b) => a - b);
export const Mul: OpDef = binary('Mul', (a, b) => a * b);
export const Div: OpDef = binary('Div', (a, b) => a / b);
export const Pow: OpDef = binary('Pow', (a, b) => Math.pow(a, b), 'same', true);
export const Max: OpDef = binary('Max', (a, b) => Math.max(a, b));
export const Min: OpDef = binary('Min', (a, b) => Math.min(a, b));
export const Greater: OpDef = binary('Greater', (a, b) => (a > b ? 1 : 0), 'bool');
export const Less: OpDef = binary('Less', (a, b) => (a < b ? 1 : 0), 'bool');
export const GreaterOrEqual: OpDef = binary('GreaterOrEqual', (a, b) => (a >= b ? 1 : 0), 'bool');
export const LessOrEqual: OpDef = binary('LessOrEqual', (a, b) => (a <= b ? 1 : 0), 'bool');
export const Equal: OpDef = binary('Equal', (a, b) => (a === b ? 1 : 0), 'bool');
export const And: OpDef = binary('And', (a, b) => (a && b ? 1 : 0), 'bool');

export const Neg: OpDef = unary('Neg', (x) => -x, { floatOnly: false });
export const Abs: OpDef = unary('Abs', (x) => Math.abs(x), { floatOnly: false });
export const Not: OpDef = unary('Not', (x) => (x ? 0 : 1), { floatOnly: false });
export const Identity: OpDef = unary('Identity', (x) => x, { floatOnly: false });
export const Sqrt: OpDef = unary('Sqrt', Math.sqrt);
export const Exp: OpDef = unary('Exp', Math.exp);
export const Log: OpDef = unary('Log', Math.log);
export const Relu: OpDef = unary('Relu', (x) => (x > 0 ? x : 0));
export const Sigmoid: OpDef = unary('Sigmoid', (x) => 1 / (1 + Math.exp(-x)));
export const Tanh: OpDef = unary('Tanh', Math.tanh);
export const LeakyRelu: OpDef = unary('LeakyRelu', (x) => x, {
  attrs: { alpha: 'float' },
  withAttrs: (attrs) => {
    const alpha = attrs['alpha'] === undefined ? 0.01 : attrInt(attrs, 'alpha');
    return (x) => (x >= 0 ? x : alpha * x);
  },
});
