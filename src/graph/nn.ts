// Layer helpers built from the op set: dense layers, BatchNorm (decomposed), the LSTM cell/unroll, per-example grads, DP aggregation.
import { add, concat, div, expand, ints, linear, matmul, max, mul, reduceMean, reduceSum, reshape, shapeOf, sigmoid, slice, split, sqrt, square, sub, tanh, unsqueeze } from './api.js';
import { grad } from './autodiff.js';
import { GraphError, type Graph, type Value } from './ir.js';
import type { Rng } from '../core/rng.js';

/** Weight initializers. 'normal' is TF DoppelGANger's N(0, std); 'xavier' is Glorot uniform. */
export type Init = { kind: 'normal'; std: number } | { kind: 'xavier' } | { kind: 'zeros' } | { kind: 'const'; value: number };

export function initValues(rng: Rng, shape: readonly number[], init: Init): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (init.kind) {
    case 'normal':
      return rng.normals(n, init.std);
    case 'xavier': {
      const fanIn = shape.length >= 2 ? shape[shape.length - 2]! : shape[0]!;
      const fanOut = shape[shape.length - 1]!;
      const a = Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniforms(n, -a, a);
    }
    case 'zeros':
      return new Float32Array(n);
    case 'const':
      return new Float32Array(n).fill(init.value);
  }
}

export interface DenseParams {
  readonly w: Value;
  readonly b: Value;
}

/** Creates W [inDim, outDim] and b [outDim] under scope `name` (params 'name/W', 'name/b'). */
export function denseParams(g: Graph, name: string, inDim: number, outDim: number, rng: Rng, opts: { init?: Init; group?: string } = {}): DenseParams {
  const init = opts.init ?? { kind: 'xavier' };
  return g.scope(name, () => ({
    w: g.param('W', [inDim, outDim], initValues(rng, [inDim, outDim], init), opts.group),
    b: g.param('b', [outDim], new Float32Array(outDim), opts.group),
  }));
}

/** x·W + b with the params of denseParams (W may be tiled per example). */
export function dense(x: Value, p: DenseParams): Value {
  return linear(x, p.w, p.b);
}

/** Batch-statistics BatchNorm over axis 0: y = (x − mean)/sqrt(var + eps)·γ + β. Also returns the batch stats. */
export function batchNormTrain(x: Value, gamma: Value, beta: Value, eps = 1e-5): { y: Value; mean: Value; variance: Value } {
  const mean = reduceMean(x, [0], true);
  const xc = sub(x, mean);
  const variance = reduceMean(square(xc), [0], true);
  const y = add(mul(div(xc, sqrt(add(variance, eps))), gamma), beta);
  return { y, mean: reshape(mean, [-1]), variance: reshape(variance, [-1]) };
}

/** Inference-form BatchNorm with running statistics. */
export function batchNormInfer(x: Value, gamma: Value, beta: Value, runMean: Value, runVar: Value, eps = 1e-5): Value {
  return add(mul(div(sub(x, runMean), sqrt(add(runVar, eps))), gamma), beta);
}

export interface LstmParams {
  /** [I + H, 4H], gate order i, g, f, o (TF LSTMCell). */
  readonly w: Value;
  /** [4H] */
  readonly b: Value;
  readonly units: number;
}

export function lstmParams(g: Graph, name: string, inDim: number, units: number, rng: Rng, opts: { group?: string } = {}): LstmParams {
  return g.scope(name, () => ({
    w: g.param('W', [inDim + units, 4 * units], initValues(rng, [inDim + units, 4 * units], { kind: 'xavier' }), opts.group),
    b: g.param('b', [4 * units], new Float32Array(4 * units), opts.group),
    units,
  }));
}

/** One LSTM step (TF LSTMCell, forget bias added to f): returns [h', c']. */
export function lstmCell(x: Value, h: Value, c: Value, p: LstmParams, forgetBias = 1.0): [Value, Value] {
  return lstmGates(linear(concat([x, h], -1), p.w, p.b), c, p.units, forgetBias);
}

/**
 * The cell's update from its gate pre-activations z = [x, h]·W + b ([N, 4H], gates i, j, f, o as TF LSTMCell):
 * c' = σ(f + forgetBias)·c + σ(i)·tanh(j), h' = σ(o)·tanh(c'). Callers that compute z their own way (e.g. an
 * input projection shared by every step) use this directly.
 */
export function lstmGates(z: Value, c: Value, units: number, forgetBias = 1.0): [Value, Value] {
  const [i, j, f, o] = split(z, [units, units, units, units], -1) as [Value, Value, Value, Value];
  const c2 = add(mul(sigmoid(add(f, forgetBias)), c), mul(sigmoid(i), tanh(j)));
  const h2 = mul(sigmoid(o), tanh(c2));
  return [h2, c2];
}

/**
 * Unrolled LSTM over inputs xs[t] ([N, I] each), steps scoped 'step<t>'. Returns the hidden state of every step.
 *
 * Why unrolled (bench/graph-step.ts, CPU EP, 1 intra-op thread, 100 units, batch 100, Adam train step;
 * ranges over 3 runs on a shared 2-core box with load average ≈ 8, so timings swing 2–3×):
 *   T=50:  2.8k nodes, 0.32 MB, session creation 0.9–2.3 s (static batch) / 1.2–6.8 s ('N'), step 51–148 ms
 *   T=100: 5.6k nodes, 0.64 MB, creation 5.1–8.3 s (static) / 8.3–21.8 s ('N'), step 131–362 ms
 *   T=200: 11k nodes,  1.3 MB,  creation 11.7–19.1 s (static), step 313–525 ms
 * Step time is linear in T; creation is superlinear (onnxruntime's allocation planner; ~2 of 3.3 s at
 * T=100 with optimizations off) but stays a one-off cost per training run for the T NetShare uses
 * (tens of LSTM steps). A Scan/Loop body with a differentiated backward Scan was not built.
 * Forward only (bench/graph-scan.ts, hand-written Scan vs this unroll, identical outputs): run time is
 * the same within ±15% at T=50..400; creation is 15–100 ms for Scan vs 0.24 s (T=50) … 2.6 s (T=400)
 * unrolled. So Scan wins only on creation; it becomes worth building (with a reverse Scan for the
 * backward pass) if training needs T in the hundreds.
 */
export function lstmUnroll(g: Graph, xs: readonly Value[], h0: Value, c0: Value, p: LstmParams, forgetBias = 1.0): Value[] {
  let h = h0;
  let c = c0;
  const hs: Value[] = [];
  xs.forEach((x, t) => {
    [h, c] = g.scope(`step${t}`, () => lstmCell(x, h, c, p, forgetBias));
    hs.push(h);
  });
  return hs;
}

/**
 * Per-example gradients by tiling: each param P is replaced by T = expand(P, [N, ...P.shape]) and the
 * model is built on T (linear() multiplies row i by its own copy). Because example i's loss reads only
 * T[i], ∂(Σᵢ lossᵢ)/∂T[i] = ∂lossᵢ/∂P: one ordinary reverse pass with the ordinary rules gives every
 * example's gradient, shape [N, ...P.shape]. Costs N× the parameter memory for the tiled copies.
 */
export function perExampleGrads(params: readonly Value[], batchLike: Value, build: (tiled: Value[]) => Value): { losses: Value; grads: Value[]; tiled: Value[] } {
  const nDim = slice(shapeOf(batchLike), [0], [1]);
  const tiled = params.map((p) => {
    if (!p.shape.every((d) => typeof d === 'number')) throw new GraphError(`perExampleGrads: ${p.name} must have a static shape`);
    return expand(unsqueeze(p, [0]), concat([nDim, ints(p.graph, p.shape as number[])], 0));
  });
  const losses = build(tiled);
  if (losses.shape.length !== 1) throw new GraphError(`perExampleGrads: build() must return per-example losses [N], got rank ${losses.shape.length}`);
  const grads = grad(reduceSum(losses), tiled, { scope: 'pegrad' });
  return { losses, grads, tiled };
}

/**
 * DP-SGD aggregation: clip each example's gradient (all params together) to L2 norm ≤ clip, sum over
 * examples, add N(0, (noiseMultiplier·clip)²) noise from the fed standard-normal `noise` values (one per
 * param, same shape), and divide by the batch size. Returns the noisy mean gradient per param.
 * `opts.weights` ([N], 0 or 1) drops rows (a padding row when a Poisson sample is empty); `opts.denominator`
 * replaces the batch size: under Poisson sampling the actual size is data-dependent and not covered by the
 * accountant, so DP-SGD divides by the expected size q·n (Opacus does the same).
 */
export function dpAggregate(
  perExample: readonly Value[],
  noise: readonly Value[],
  clip: number,
  noiseMultiplier: number,
  opts: { weights?: Value; denominator?: Value } = {},
): Value[] {
  const sq = perExample.map((gp) => reduceSum(square(gp), gp.shape.slice(1).map((_, i) => i + 1), false));
  const norm = sqrt(sq.reduce((a, b) => add(a, b)));
  let factor = div(1, max(div(norm, clip), 1)); // [N]
  const n = opts.denominator ?? reduceSum(div(factor, factor)); // batch size as a float
  if (opts.weights) factor = mul(factor, opts.weights);
  return perExample.map((gp, k) => {
    const f = reshape(factor, [-1, ...gp.shape.slice(1).map(() => 1)]);
    const clipped = reduceSum(mul(gp, f), [0], false);
    return div(add(clipped, mul(noise[k]!, noiseMultiplier * clip)), n);
  });
}
