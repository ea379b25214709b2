// Gradient rules of the elementwise ops (arithmetic and activations); the math is in each line's comment.
import * as b from '../api.js';
import { scalarLike } from '../api.js';
import type { GradRule } from './rule.js';
import { unbroadcast as unb } from './rule.js';

// dA = dY, dB = dY (each summed over its broadcast axes)
export const Add: GradRule = ({ inputs: [x, y] }, [dy], need) => [need[0] ? unb(dy!, x!) : null, need[1] ? unb(dy!, y!) : null];
// dA = dY, dB = −dY
export const Sub: GradRule = ({ inputs: [x, y] }, [dy], need) => [need[0] ? unb(dy!, x!) : null, need[1] ? unb(b.neg(dy!), y!) : null];
// dA = dY·B, dB = dY·A
export const Mul: GradRule = ({ inputs: [x, y] }, [dy], need) => [need[0] ? unb(b.mul(dy!, y!), x!) : null, need[1] ? unb(b.mul(dy!, x!), y!) : null];
// dA = dY/B, dB = −dY·A/B²
export const Div: GradRule = ({ inputs: [x, y] }, [dy], need) => [
  need[0] ? unb(b.div(dy!, y!), x!) : null,
  need[1] ? unb(b.neg(b.div(b.mul(dy!, x!), b.mul(y!, y!))), y!) : null,
];
// dA = dY·B·A^(B−1), dB = dY·Y·log A
export const Pow: GradRule = ({ inputs: [x, y], outputs: [out] }, [dy], need) => [
  need[0] ? unb(b.mul(dy!, b.mul(y!, b.pow(x!, b.sub(y!, 1)))), x!) : null,
  need[1] ? unb(b.mul(dy!, b.mul(out!, b.log(x!))), y!) : null,
];
// dA = dY where A ≥ B, dB = dY elsewhere
export const Max: GradRule = ({ inputs: [x, y] }, [dy], need) => {
  const c = b.greaterOrEqual(x!, y!);
  return [need[0] ? unb(b.where(c, dy!, 0), x!) : null, need[1] ? unb(b.where(c, 0, dy!), y!) : null];
};
// dA = dY where A ≤ B, dB = dY elsewhere
export const Min: GradRule = ({ inputs: [x, y] }, [dy], need) => {
  const c = b.lessOrEqual(x!, y!);
  return [need[0] ? unb(b.where(c, dy!, 0), x!) : null, need[1] ? unb(b.where(c, 0, dy!), y!) : null];
};
// dX = −dY
export const Neg: GradRule = (_n, [dy]) => [b.neg(dy!)];
// dX = dY·sign(X)
export const Abs: GradRule = ({ inputs: [x] }, [dy]) => [b.mul(dy!, b.where(b.greaterOrEqual(x!, 0), scalarLike(x!, 1), scalarLike(x!, -1)))];
// dX = dY
export const Identity: GradRule = (_n, [dy]) => [dy!];
// dX = dY / (2·Y)
export const Sqrt: GradRule = ({ outputs: [y] }, [dy]) => [b.div(dy!, b.mul(y!, 2))];
// dX = dY·Y
export const Exp: GradRule = ({ outputs: [y] }, [dy]) => [b.mul(dy!, y!)];
// dX = dY / X
export const Log: GradRule = ({ inputs: [x] }, [dy]) => [b.div(dy!, x!)];
// dX = dY where X > 0
export const Relu: GradRule = ({ inputs: [x] }, [dy]) => [b.where(b.greater(x!, 0), dy!, 0)];
// dX = dY where X ≥ 0, α·dY elsewhere
export const LeakyRelu: GradRule = ({ inputs: [x], attrs }, [dy]) => [
  b.where(b.greaterOrEqual(x!, 0), dy!, b.mul(dy!, typeof attrs['alpha'] === 'number' ? attrs['alpha'] : 0.01)),
];
// dX = dY·Y·(1 − Y)
export const Sigmoid: GradRule = ({ outputs: [y] }, [dy]) => [b.mul(dy!, b.mul(y!, b.sub(1, y!)))];
// dX = dY·(1 − Y²)
export const Tanh: GradRule = ({ outputs: [y] }, [dy]) => [b.mul(dy!, b.sub(1, b.square(y!)))];
