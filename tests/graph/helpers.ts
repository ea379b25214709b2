// Test helpers: run IR outputs through onnxruntime, compare with the reference interpreter, check gradients by finite differences.
import { grad } from '../../src/graph/autodiff.js';
import { toOnnx, type Value } from '../../src/graph/index.js';
import { evaluate } from '../../src/graph/interpreter.js';
import type { Graph } from '../../src/graph/ir.js';
import { Tensor } from '../../src/graph/tensor.js';
import { createSession, ort } from '../../src/runtime/session.js';

export function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(t.data), [...t.shape]);
  if (t.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), [...t.shape]);
  return new ort.Tensor('bool', Uint8Array.from(t.data), [...t.shape]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const data = t.type === 'int64' ? Float64Array.from(t.data as BigInt64Array, (v) => Number(v)) : Float64Array.from(t.data as ArrayLike<number>, (v) => Number(v));
  const dtype = t.type === 'float32' ? 'float32' : t.type === 'int64' ? 'int64' : 'bool';
  return new Tensor(dtype, [...t.dims], data);
}

/** Emits `outputs` (named out0, out1, …) and runs them on the CPU EP. */
export async function runOrt(outputs: readonly Value[], feeds: Readonly<Record<string, Tensor>>): Promise<Tensor[]> {
  const bytes = toOnnx({ outputs: outputs.map((v, i) => ({ name: `out${i}`, value: v })) });
  const s = await createSession(bytes, { intraOpThreads: 1 });
  const f: Record<string, ort.Tensor> = {};
  for (const name of s.inputNames) {
    const t = feeds[name];
    if (!t) throw new Error(`test feeds lack ${name}`);
    f[name] = toOrt(t);
  }
  const r = await s.run(f);
  await s.release();
  return outputs.map((_, i) => fromOrt(r[`out${i}`]!));
}

/** Max |a−b| / (atol + rtol·|b|) over elements; ≤ 1 means close. */
export function closeness(a: Tensor, b: Tensor, rtol = 1e-4, atol = 1e-5): number {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`shape mismatch [${a.shape}] vs [${b.shape}]`);
  let worst = 0;
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!) / (atol + rtol * Math.abs(b.data[i]!));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** Every parameter of `g` at its initial value, as feeds by name. */
export function paramFeeds(g: Graph): Record<string, Tensor> {
  const f: Record<string, Tensor> = {};
  for (const p of g.params.values()) f[p.value.name] = Tensor.from('float32', p.value.shape as number[], p.init);
  return f;
}

/**
 * Checks d(loss)/d(wrt) from the reference interpreter against central differences on `perInput` random
 * elements of each of `wrt` (each fed by name in `feeds`). Returns the worst |fd − an| / (1e-6 + 1e-5·|fd|); ≤ 1 passes.
 */
export function fdCheck(loss: Value, wrt: readonly Value[], feeds: Record<string, Tensor>, rng: { int(n: number): number }, perInput = 8): number {
  const an = evaluate(grad(loss, wrt), feeds);
  let worst = 0;
  wrt.forEach((w, k) => {
    const base = feeds[w.name]!;
    for (let n = 0; n < perInput; n++) {
      const i = rng.int(base.size);
      const at = (delta: number): number => {
        const d = Float64Array.from(base.data);
        d[i]! += delta;
        return evaluate([loss], { ...feeds, [w.name]: new Tensor('float32', base.shape, d) })[0]!.data[0]!;
      };
      const fd = (at(1e-5) - at(-1e-5)) / 2e-5;
      worst = Math.max(worst, Math.abs(fd - an[k]!.data[i]!) / (1e-6 + 1e-5 * Math.abs(fd)));
    }
  });
  return worst;
}
