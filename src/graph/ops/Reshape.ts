// Reshape to a target held in a shape value (0 copies the input dim, -1 is inferred; symbolic dims allowed).
import { GraphError, shapeStr, type Dim } from '../ir.js';
import { Tensor } from '../tensor.js';
import { type OpDef } from './op.js';

/** Resolves 0/-1 in a target shape against the input shape, symbol by symbol. */
export function resolveReshape(input: readonly Dim[], target: readonly Dim[], ctx: string): Dim[] {
  const out: Dim[] = target.map((t, i) => (t === 0 ? input[i]! : t));
  const hole = out.indexOf(-1);
  if (hole < 0) return out;
  let pi = 1;
  const si: string[] = [];
  for (const d of input) typeof d === 'number' ? (pi *= d) : si.push(d);
  let po = 1;
  const so: string[] = [];
  out.forEach((d, i) => {
    if (i === hole) return;
    typeof d === 'number' ? (po *= d) : so.push(d);
  });
  for (const s of [...so]) {
    const j = si.indexOf(s);
    if (j >= 0) {
      si.splice(j, 1);
      so.splice(so.indexOf(s), 1);
    }
  }
  if (so.length > 0 || pi % po !== 0) throw new GraphError(`${ctx}: cannot infer -1 reshaping ${shapeStr(input)} to ${shapeStr(target)}`);
  const ratio = pi / po;
  if (si.length === 0) out[hole] = ratio;
  else out[hole] = ratio === 1 && si.length === 1 ? si[0]! : [...si, ...(ratio === 1 ? [] : [String(ratio)])].join('*');
  return out;
}

export const Reshape: OpDef = {
  type: 'Reshape',
  attrTypes: {},
  infer([x, shape]) {
    if (!shape!.shapeValue) throw new GraphError(`Reshape target ${shape!.name} must be a shape value (constant or Shape output)`);
    return [{ dtype: x!.dtype, shape: resolveReshape(x!.shape, shape!.shapeValue, `Reshape of ${x!.name}`) }];
  },
  ref([x, shape]) {
    const target = resolveReshape(x!.shape, Array.from(shape!.data), 'Reshape') as number[];
    return [new Tensor(x!.dtype, target, x!.data)];
  },
};
