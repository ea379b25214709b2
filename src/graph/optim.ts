// In-graph optimizers (Adam, SGD) and train-step compilation: params + state + batch in, new params + state + losses out.
import { add, constant, div, mul, pow, sqrt, square, sub } from './api.js';
import { grad } from './autodiff.js';
import { toOnnx } from './emit.js';
import { GraphError, type Graph, type ParamInfo, type Value } from './ir.js';
import type { DType } from './tensor.js';

/**
 * Adam (Kingma & Ba, Algorithm 1, as in torch.optim.Adam):
 *   t ← t+1;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   p ← p − lr · (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + ε)
 * The step count t is state (one float scalar per group), so restoring it resumes bias correction.
 */
export interface AdamConfig {
  readonly kind: 'adam';
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/** Plain SGD: p ← p − lr·g. */
export interface SgdConfig {
  readonly kind: 'sgd';
  readonly lr: number;
}

export type OptimizerConfig = AdamConfig | SgdConfig;

/** A tensor carried from one step to the next: fed as `input`, returned as `output` (named `next/<key>`). */
export interface StateSlot {
  readonly key: string;
  readonly input: Value;
  readonly output: Value;
  readonly init: Float32Array;
}

/** Everything a runtime needs to run a step graph, without knowing the IR. */
export interface CompiledStep {
  readonly name: string;
  readonly onnx: Uint8Array;
  /** Per-step fed inputs (batch, noise, learning rates), in graph-input order. */
  readonly feeds: readonly { readonly name: string; readonly dtype: DType; readonly shape: readonly (number | string)[] }[];
  /** Tensors read from the shared store and written back after each step (params being trained, optimizer state). */
  readonly state: readonly { readonly key: string; readonly output: string; readonly shape: readonly number[]; readonly init: Float32Array }[];
  /** Tensors read from the shared store but not updated (e.g. the generator's params in a discriminator step). */
  readonly reads: readonly { readonly key: string; readonly shape: readonly number[]; readonly init: Float32Array }[];
  /** Named outputs returned to the caller (losses, diagnostics): caller name → graph output name. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Learning rate inputs: group → { input name, configured value }. */
  readonly learningRates: Readonly<Record<string, { readonly input: string; readonly value: number }>>;
}

export interface TrainStepOptions {
  readonly name: string;
  /** The scalar loss to minimize. */
  readonly loss: Value;
  /** Parameters to update (others the loss reads become `reads`). */
  readonly params: readonly ParamInfo[];
  /** Optimizer per parameter group (ParamInfo.group); a single config applies to every group. */
  readonly optimizer: OptimizerConfig | Readonly<Record<string, OptimizerConfig>>;
  /** Outputs returned after each step, by name (the loss is always returned as 'loss'). */
  readonly outputs?: Readonly<Record<string, Value>>;
  /** Extra carried state (e.g. BatchNorm running statistics): input value (an input()) → next value. */
  readonly extraState?: readonly { readonly input: Value; readonly output: Value; readonly init: Float32Array }[];
  /**
   * Precomputed gradients (same order as params), e.g. DP-SGD's clipped, noised sums. When absent,
   * grad(loss, params) is used.
   */
  readonly grads?: readonly Value[];
}

function staticShape(v: Value): number[] {
  if (!v.shape.every((d) => typeof d === 'number')) throw new GraphError(`State ${v.name} must have a static shape`);
  return v.shape as number[];
}

/** Appends gradients and optimizer updates for `params` and emits the step graph. */
export function compileTrainStep(opts: TrainStepOptions): CompiledStep {
  const g: Graph = opts.loss.graph;
  const cfgFor = (group: string): OptimizerConfig => {
    const o = opts.optimizer as Record<string, OptimizerConfig>;
    if ('kind' in opts.optimizer) return opts.optimizer as OptimizerConfig;
    const c = o[group];
    if (!c) throw new GraphError(`No optimizer configured for parameter group "${group}"`);
    return c;
  };
  const slots: StateSlot[] = [];
  const lrInputs = new Map<string, { value: Value; cfg: OptimizerConfig }>();
  const stepState = new Map<string, { t: Value; tNext: Value; c1: Value; c2: Value }>();
  const grads = opts.grads ?? g.scope(`${opts.name}/grad`, () => grad(opts.loss, opts.params.map((p) => p.value)));
  if (grads.length !== opts.params.length) throw new GraphError('grads must match params one to one');

  g.scope(opts.name, () => {
    opts.params.forEach((p, i) => {
      const cfg = cfgFor(p.group);
      let lr = lrInputs.get(p.group);
      if (!lr) {
        lr = { value: g.input(`${opts.name}/lr/${p.group}`, []), cfg };
        lrInputs.set(p.group, lr);
      }
      const gi = grads[i]!;
      const name = p.value.name;
      let next: Value;
      if (cfg.kind === 'sgd') {
        next = g.scope(`sgd/${name}`, () => sub(p.value, mul(lr!.value, gi)));
      } else {
        const b1 = cfg.beta1 ?? 0.9;
        const b2 = cfg.beta2 ?? 0.999;
        const eps = cfg.eps ?? 1e-8;
        let st = stepState.get(p.group);
        if (!st) {
          const key = `adam/step/${p.group}`;
          const t = g.input(key, []);
          const s = g.scope(`adam/${p.group}`, () => {
            const tNext = add(t, 1);
            return { t, tNext, c1: sub(1, pow(constant(g, [b1], []), tNext)), c2: sub(1, pow(constant(g, [b2], []), tNext)) };
          });
          st = s;
          stepState.set(p.group, s);
          slots.push({ key, input: t, output: s.tNext, init: new Float32Array(1) });
        }
        const shape = staticShape(p.value);
        const m = g.input(`adam/m/${name}`, shape);
        const v = g.input(`adam/v/${name}`, shape);
        const size = shape.reduce((a, b) => a * b, 1);
        const s = st;
        const [mN, vN, pN] = g.scope(`adam/${name}`, () => {
          const mNext = add(mul(m, b1), mul(gi, 1 - b1));
          const vNext = add(mul(v, b2), mul(square(gi), 1 - b2));
          const upd = div(div(mNext, s.c1), add(sqrt(div(vNext, s.c2)), eps));
          return [mNext, vNext, sub(p.value, mul(lr!.value, upd))];
        });
        slots.push({ key: m.name, input: m, output: mN!, init: new Float32Array(size) });
        slots.push({ key: v.name, input: v, output: vN!, init: new Float32Array(size) });
        next = pN!;
      }
      slots.push({ key: name, input: p.value, output: next, init: p.init });
    });
  });
  for (const e of opts.extraState ?? []) slots.push({ key: e.input.name, input: e.input, output: e.output, init: e.init });

  const named: Record<string, Value> = { loss: opts.loss, ...(opts.outputs ?? {}) };
  const outSpecs = [
    ...Object.keys(named).map((k) => ({ name: `out/${k}`, value: named[k]! })),
    ...slots.map((s) => ({ name: `next/${s.key}`, value: s.output })),
  ];
  const outValues = outSpecs.map((o) => o.value);
  const leaves = g.leavesFor(outValues).filter((v) => v.kind !== 'const');
  const stateIds = new Set(slots.map((s) => s.input.id));
  const lrIds = new Set([...lrInputs.values()].map((l) => l.value.id));
  const reads = leaves.filter((v) => v.kind === 'param' && !stateIds.has(v.id));
  const feeds = leaves.filter((v) => v.kind === 'input' && !stateIds.has(v.id));
  for (const l of lrInputs.values()) if (!feeds.includes(l.value)) feeds.push(l.value);
  const inputs = [...feeds, ...reads, ...slots.map((s) => s.input)];
  const onnx = toOnnx({ outputs: outSpecs, inputs, name: opts.name });
  return {
    name: opts.name,
    onnx,
    feeds: feeds.filter((v) => !lrIds.has(v.id)).map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] })),
    state: slots.map((s) => ({ key: s.key, output: `next/${s.key}`, shape: staticShape(s.input), init: s.init })),
    reads: reads.map((v) => ({ key: v.name, shape: staticShape(v), init: g.params.get(v.name)!.init })),
    outputs: Object.fromEntries(Object.keys(named).map((k) => [k, `out/${k}`])),
    learningRates: Object.fromEntries([...lrInputs.entries()].map(([grp, l]) => [grp, { input: l.value.name, value: l.cfg.lr }])),
  };
}

/** Compiles a forward-only graph (no state updates) that reads params from the store, e.g. for sampling. */
export function compileForward(name: string, outputs: Readonly<Record<string, Value>>): CompiledStep {
  const vals = Object.values(outputs);
  if (vals.length === 0) throw new GraphError('compileForward needs outputs');
  const g = vals[0]!.graph;
  const leaves = g.leavesFor(vals).filter((v) => v.kind !== 'const');
  const reads = leaves.filter((v) => v.kind === 'param');
  const feeds = leaves.filter((v) => v.kind === 'input');
  const onnx = toOnnx({ outputs: Object.keys(outputs).map((k) => ({ name: `out/${k}`, value: outputs[k]! })), inputs: [...feeds, ...reads], name });
  return {
    name,
    onnx,
    feeds: feeds.map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] })),
    state: [],
    reads: reads.map((v) => ({ key: v.name, shape: staticShape(v), init: g.params.get(v.name)!.init })),
    outputs: Object.fromEntries(Object.keys(outputs).map((k) => [k, `out/${k}`])),
    learningRates: {},
  };
}
