// In-graph optimizers (Adam, SGD) and train-step compilation: params + state + batch in, new params + state + losses out.
import { add, concat, constant, div, mul, pow, reshape, split, sqrt, square, sub } from './api.js';
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
  /**
   * The IR value behind each graph output name (`out/…`, `next/…`), so the reference interpreter can run the
   * same step (`evaluate`; inputs are fed by the names above). Not part of the emitted bytes.
   */
  readonly ir?: Readonly<Record<string, Value>>;
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

/**
 * Largest tensor (elements) whose Adam update runs concatenated with its group's other small tensors. Above it the
 * extra copies cost more than the ~10 kernels saved (a kernel ≈ 3 µs; copying 16 K floats 6 times ≈ 10–30 µs).
 */
export const FLAT_ADAM_MAX = 16384;

/** `x` as a 1-D tensor (itself when it already is). */
function flat(x: Value): Value {
  return x.shape.length === 1 ? x : reshape(x, [-1]);
}

function staticShape(v: Value): number[] {
  if (!v.shape.every((d) => typeof d === 'number')) throw new GraphError(`State ${v.name} must have a static shape`);
  return v.shape as number[];
}

/**
 * The state a training graph carries (params, optimizer state, BatchNorm statistics): each key's graph input
 * and its current value as updates are appended. One step graph updates each key once; a fused graph
 * (several steps in one graph, e.g. a whole GAN iteration) chains them: a later step reads the value an
 * earlier step produced, so the state crosses the runtime boundary once per run however many steps it holds.
 */
export class TrainState {
  private readonly slots = new Map<string, { input: Value; current: Value; init: Float32Array }>();
  private readonly lrInputs = new Map<string, { value: Value; cfg: OptimizerConfig }>();

  /** `name` prefixes the learning-rate inputs (`<name>/lr/<group>`). */
  constructor(
    readonly g: Graph,
    readonly name: string,
  ) {}

  /** Declares a carried tensor: `input` is fed each run, `init` its starting value. */
  add(key: string, input: Value, init: Float32Array): void {
    if (this.slots.has(key)) throw new GraphError(`State ${key} declared twice`);
    this.slots.set(key, { input, current: input, init });
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  /** The current value of `key` (its input until an update is appended). */
  get(key: string): Value {
    const s = this.slots.get(key);
    if (!s) throw new GraphError(`No state ${key}`);
    return s.current;
  }

  /** Sets the value `key` has from now on (and, finally, its `next/<key>` output). */
  set(key: string, value: Value): void {
    const s = this.slots.get(key);
    if (!s) throw new GraphError(`No state ${key}`);
    s.current = value;
  }

  /** The learning-rate input of a parameter group (one per group and graph, however many steps use it). */
  lr(group: string, cfg: OptimizerConfig): Value {
    let l = this.lrInputs.get(group);
    if (!l) {
      l = { value: this.g.input(`${this.name}/lr/${group}`, []), cfg };
      this.lrInputs.set(group, l);
    }
    return l.value;
  }

  /**
   * Appends one optimizer update of the params `keys` (state keys of params) with gradients `grads`, under
   * scope `scope`: Adam moments and step counts are declared on first use and chained after.
   * Adam runs once per parameter group over the group's small tensors (≤ FLAT_ADAM_MAX elements) concatenated into
   * one vector, and per tensor for the large ones. Adam is elementwise, so every element gets exactly the value a
   * per-tensor update gives. A kernel costs a few µs whatever its size, and small networks are bound by kernel count
   * (~13 per tensor per update); the concatenation and the split back copy the gradients, moments and updates once
   * more, which costs less than the kernels it saves only for small tensors. The moments of the concatenated tensors
   * are carried 1-D ([size]) so they concatenate and split without reshapes, those of the large ones in the param's
   * shape; Trainer.load accepts moments in either shape (same elements, same row-major order).
   */
  applyUpdate(scope: string, params: readonly { readonly key: string; readonly group: string }[], grads: readonly Value[], optimizer: TrainStepOptions['optimizer']): void {
    if (grads.length !== params.length) throw new GraphError('grads must match params one to one');
    const g = this.g;
    const cfgFor = (group: string): OptimizerConfig => {
      if ('kind' in optimizer) return optimizer as OptimizerConfig;
      const c = (optimizer as Record<string, OptimizerConfig>)[group];
      if (!c) throw new GraphError(`No optimizer configured for parameter group "${group}"`);
      return c;
    };
    const groups = new Map<string, number[]>();
    params.forEach((p, i) => {
      const l = groups.get(p.group);
      if (l) l.push(i);
      else groups.set(p.group, [i]);
    });
    g.scope(scope, () => {
      for (const [group, idx] of groups) {
        const cfg = cfgFor(group);
        const lr = this.lr(group, cfg);
        if (cfg.kind === 'sgd') {
          for (const i of idx) {
            const p = params[i]!;
            const cur = this.get(p.key);
            this.set(p.key, g.scope(`sgd/${p.key}`, () => sub(cur, mul(lr, grads[i]!))));
          }
          continue;
        }
        const b1 = cfg.beta1 ?? 0.9;
        const b2 = cfg.beta2 ?? 0.999;
        const eps = cfg.eps ?? 1e-8;
        const stepKey = `adam/step/${group}`;
        if (!this.has(stepKey)) this.add(stepKey, g.input(stepKey, []), new Float32Array(1));
        const t = this.get(stepKey);
        const sizeOf = (i: number): number => staticShape(this.get(params[i]!.key)).reduce((a, b) => a * b, 1);
        const small = idx.filter((i) => sizeOf(i) <= FLAT_ADAM_MAX);
        const large = idx.filter((i) => sizeOf(i) > FLAT_ADAM_MAX);
        const moments = (i: number, shape: number[]): [string, string] => {
          const keys: [string, string] = [`adam/m/${params[i]!.key}`, `adam/v/${params[i]!.key}`];
          const size = shape.reduce((a, b) => a * b, 1);
          for (const k of keys) if (!this.has(k)) this.add(k, g.input(k, shape), new Float32Array(size));
          return keys;
        };
        const c = g.scope(`adam/${group}`, () => {
          const tNext = add(t, 1);
          return { tNext, c1: sub(1, pow(constant(g, [b1], []), tNext)), c2: sub(1, pow(constant(g, [b2], []), tNext)) };
        });
        this.set(stepKey, c.tNext);
        /** One Adam update of moments m, v with gradient gi: [m', v', lr·m̂/(√v̂ + ε)]. */
        const adam = (gi: Value, m: Value, v: Value): [Value, Value, Value] => {
          const mNext = add(mul(m, b1), mul(gi, 1 - b1));
          const vNext = add(mul(v, b2), mul(square(gi), 1 - b2));
          const upd = div(div(mNext, c.c1), add(sqrt(div(vNext, c.c2)), eps));
          return [mNext, vNext, mul(lr, upd)];
        };
        const steps = new Map<number, Value>();
        if (small.length > 0) {
          const sizes = small.map(sizeOf);
          const keys = small.map((i, j) => moments(i, [sizes[j]!]));
          const r = g.scope(`adam/${group}`, () => {
            const [mN, vN, st] = adam(concat(small.map((i) => flat(grads[i]!)), 0), concat(keys.map((k) => this.get(k[0])), 0), concat(keys.map((k) => this.get(k[1])), 0));
            const parts = (x: Value): Value[] => (small.length === 1 ? [x] : split(x, sizes, 0));
            return { m: parts(mN), v: parts(vN), step: parts(st) };
          });
          small.forEach((i, j) => {
            this.set(keys[j]![0], r.m[j]!);
            this.set(keys[j]![1], r.v[j]!);
            steps.set(i, r.step[j]!);
          });
        }
        for (const i of large) {
          const [mk, vk] = moments(i, staticShape(this.get(params[i]!.key)));
          const [mN, vN, st] = g.scope(`adam/${params[i]!.key}`, () => adam(grads[i]!, this.get(mk), this.get(vk)));
          this.set(mk, mN);
          this.set(vk, vN);
          steps.set(i, st);
        }
        for (const i of idx) {
          const p = params[i]!;
          const cur = this.get(p.key);
          const st = steps.get(i)!;
          this.set(p.key, g.scope(`adam/${p.key}`, () => sub(cur, st.shape.length === cur.shape.length ? st : reshape(st, staticShape(cur)))));
        }
      }
    });
  }

  /**
   * Emits the graph: inputs = per-run feeds, then params read but not carried, then the carried state; outputs
   * `out/<name>` for `outputs` and `next/<key>` for every carried key (in declaration order).
   */
  compile(outputs: Readonly<Record<string, Value>>): CompiledStep {
    const slots = [...this.slots.entries()];
    const outSpecs = [
      ...Object.keys(outputs).map((k) => ({ name: `out/${k}`, value: outputs[k]! })),
      ...slots.map(([key, s]) => ({ name: `next/${key}`, value: s.current })),
    ];
    const outValues = outSpecs.map((o) => o.value);
    const leaves = this.g.leavesFor(outValues).filter((v) => v.kind !== 'const');
    const stateIds = new Set(slots.map(([, s]) => s.input.id));
    const lrIds = new Set([...this.lrInputs.values()].map((l) => l.value.id));
    const reads = leaves.filter((v) => v.kind === 'param' && !stateIds.has(v.id));
    const feeds = leaves.filter((v) => v.kind === 'input' && !stateIds.has(v.id));
    for (const l of this.lrInputs.values()) if (!feeds.includes(l.value)) feeds.push(l.value);
    const inputs = [...feeds, ...reads, ...slots.map(([, s]) => s.input)];
    const onnx = toOnnx({ outputs: outSpecs, inputs, name: this.name });
    return {
      name: this.name,
      onnx,
      feeds: feeds.filter((v) => !lrIds.has(v.id)).map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] })),
      state: slots.map(([key, s]) => ({ key, output: `next/${key}`, shape: staticShape(s.input), init: s.init })),
      reads: reads.map((v) => ({ key: v.name, shape: staticShape(v), init: this.g.params.get(v.name)!.init })),
      outputs: Object.fromEntries(Object.keys(outputs).map((k) => [k, `out/${k}`])),
      learningRates: Object.fromEntries([...this.lrInputs.entries()].map(([grp, l]) => [grp, { input: l.value.name, value: l.cfg.lr }])),
      ir: Object.fromEntries(outSpecs.map((o) => [o.name, o.value])),
    };
  }
}

/** Appends gradients and optimizer updates for `params` and emits the step graph. */
export function compileTrainStep(opts: TrainStepOptions): CompiledStep {
  const g: Graph = opts.loss.graph;
  const grads = opts.grads ?? g.scope(`${opts.name}/grad`, () => grad(opts.loss, opts.params.map((p) => p.value)));
  if (grads.length !== opts.params.length) throw new GraphError('grads must match params one to one');
  const state = new TrainState(g, opts.name);
  for (const p of opts.params) state.add(p.value.name, p.value, p.init);
  state.applyUpdate(opts.name, opts.params.map((p) => ({ key: p.value.name, group: p.group })), grads, opts.optimizer);
  for (const e of opts.extraState ?? []) {
    state.add(e.input.name, e.input, e.init);
    state.set(e.input.name, e.output);
  }
  return state.compile({ loss: opts.loss, ...(opts.outputs ?? {}) });
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
    ir: Object.fromEntries(Object.keys(outputs).map((k) => [`out/${k}`, outputs[k]!])),
  };
}
