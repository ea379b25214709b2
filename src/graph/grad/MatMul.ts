// Gradient of MatMul: dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over its broadcast batch axes.
import { matmul, transpose } from '../api.js';
import type { Value } from '../ir.js';
import type { GradRule } from './rule.js';
import { unbroadcast } from './rule.js';

function t(x: Value): Value {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
}

export const MatMul: GradRule = ({ inputs: [a, b] }, [dy], need) => [
  need[0] ? unbroadcast(matmul(dy!, t(b!)), a!) : null,
  need[1] ? unbroadcast(matmul(t(a!), dy!), b!) : null,
];
