// Gradients of Softmax (dX = Y·(dY − Σ dY·Y)) and LogSoftmax (dX = dY − exp(Y)·Σ dY), sums along the axis.
import { exp, mul, reduceSum, sub } from '../api.js';
import type { GradRule } from './rule.js';

export const Softmax: GradRule = ({ outputs: [y], attrs }, [dy]) => {
  const axis = typeof attrs['axis'] === 'number' ? attrs['axis'] : -1;
  return [mul(y!, sub(dy!, reduceSum(mul(dy!, y!), [axis], true)))];
};

export const LogSoftmax: GradRule = ({ outputs: [y], attrs }, [dy]) => {
  const axis = typeof attrs['axis'] === 'number' ? attrs['axis'] : -1;
  return [sub(dy!, mul(exp(y!), reduceSum(dy!, [axis], true)))];
};
