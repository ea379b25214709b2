// The trainer: a shared store of parameter/optimizer-state tensors and one session per compiled step graph.
import type { CompiledStep } from '../graph/optim.js';
import { ConfigError, InternalError, NetShareError } from '../errors.js';
import { encodeParams, decodeParams, type ParamEntry } from './params-file.js';
import { createSession, ort, type SessionOptions } from './session.js';

/** A fed value: a float32 array with its shape, or an onnxruntime tensor. */
export type FeedValue = ort.Tensor | { readonly data: Float32Array | BigInt64Array; readonly shape: readonly number[] };

interface Step {
  readonly spec: CompiledStep;
  readonly session: ort.InferenceSession;
}

/**
 * Keeps every state tensor (params, Adam moments, step counts, BatchNorm statistics) as onnxruntime
 * tensors between steps. Each carried tensor has two buffers of its shape: a run reads the current one and
 * onnxruntime writes the new values straight into the other (preallocated `fetches`), then the two swap, so
 * a step allocates nothing for its state and no values are copied through JavaScript arrays. Several steps
 * (D, attr-D, G, or one fused iteration) share the store by key.
 */
export class Trainer {
  private readonly store = new Map<string, ort.Tensor>();
  /** The second buffer of each carried key: the next run's output, swapped with the store's tensor after it. */
  private readonly spare = new Map<string, ort.Tensor>();
  private readonly steps = new Map<string, Step>();
  private readonly lr = new Map<string, number>();

  private constructor(readonly options: SessionOptions) {}

  /** Creates sessions for every step and initializes the store from the steps' initial values. */
  static async create(steps: readonly CompiledStep[], options: SessionOptions = {}): Promise<Trainer> {
    const t = new Trainer(options);
    for (const s of steps) await t.addStep(s);
    return t;
  }

  /** Adds one more compiled step (its state keys join the shared store). */
  async addStep(spec: CompiledStep): Promise<void> {
    if (this.steps.has(spec.name)) throw new ConfigError(`Duplicate step name ${spec.name}`, 'steps');
    for (const s of [...spec.state, ...spec.reads]) {
      const have = this.store.get(s.key);
      if (have) {
        if (have.dims.join(',') !== s.shape.join(',')) throw new InternalError(`State ${s.key} has shape [${have.dims}] in the store but [${s.shape}] in step ${spec.name}`);
      } else this.store.set(s.key, new ort.Tensor('float32', Float32Array.from(s.init), [...s.shape]));
    }
    for (const [group, l] of Object.entries(spec.learningRates)) {
      const key = `${spec.name}/${group}`;
      if (!this.lr.has(key)) this.lr.set(key, l.value);
    }
    const session = await createSession(spec.onnx, this.options);
    // the IR values (for the reference interpreter) would keep the whole graph alive for the run
    const { ir: _ir, ...kept } = spec;
    this.steps.set(spec.name, { spec: kept, session });
  }

  /** Overrides the learning rate of one group of one step (takes effect at the next step). */
  setLearningRate(step: string, group: string, lr: number): void {
    const key = `${step}/${group}`;
    if (!this.lr.has(key)) throw new ConfigError(`Step ${step} has no parameter group ${group}`, 'lr');
    this.lr.set(key, lr);
  }

  /**
   * Runs one step: feeds the batch plus stored state, keeps the new state, and returns the named
   * outputs (numbers for scalars, tensors otherwise).
   */
  async run(stepName: string, batch: Readonly<Record<string, FeedValue>>): Promise<Record<string, number | ort.Tensor>> {
    const step = this.steps.get(stepName);
    if (!step) throw new ConfigError(`Unknown step ${stepName}`, 'step');
    const { spec, session } = step;
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of spec.feeds) {
      const v = batch[f.name];
      if (!v) throw new NetShareError(`Step ${stepName} needs input ${f.name}`);
      const t = 'dims' in v ? v : new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : 'float32', v.data, [...(v as { shape: readonly number[] }).shape]);
      const bad = t.dims.length !== f.shape.length || f.shape.some((d, i) => typeof d === 'number' && d !== t.dims[i]);
      if (bad) throw new ConfigError(`Expected shape [${f.shape.join(', ')}] for input ${f.name} of step ${stepName} but received [${t.dims.join(', ')}]`, f.name);
      feeds[f.name] = t;
    }
    for (const [group, l] of Object.entries(spec.learningRates)) {
      feeds[l.input] = new ort.Tensor('float32', Float32Array.of(this.lr.get(`${stepName}/${group}`)!), []);
    }
    for (const s of [...spec.state, ...spec.reads]) feeds[s.key] = this.store.get(s.key)!;
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of Object.values(spec.outputs)) fetches[name] = null;
    for (const s of spec.state) fetches[s.output] = this.spareOf(s.key);
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      res = await session.run(feeds, fetches);
    } catch (err) {
      throw new NetShareError(`Step ${stepName} failed in onnxruntime: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`, { cause: err });
    }
    for (const s of spec.state) {
      const written = fetches[s.output]!;
      this.spare.set(s.key, this.store.get(s.key)!);
      this.store.set(s.key, written);
    }
    const out: Record<string, number | ort.Tensor> = {};
    for (const [k, name] of Object.entries(spec.outputs)) {
      const t = res[name]!;
      out[k] = t.dims.length === 0 || t.size === 1 ? Number((t.data as Float32Array)[0]) : t;
    }
    return out;
  }

  /** The output buffer of carried key `key`: same shape as its stored tensor, never the same memory. */
  private spareOf(key: string): ort.Tensor {
    const cur = this.store.get(key)!;
    let t = this.spare.get(key);
    if (!t || t.dims.join(',') !== cur.dims.join(',')) {
      t = new ort.Tensor('float32', new Float32Array(cur.size), [...cur.dims]);
      this.spare.set(key, t);
    }
    return t;
  }

  /** Current value of one stored tensor (a copy). */
  value(key: string): Float32Array {
    const t = this.store.get(key);
    if (!t) throw new ConfigError(`No stored tensor ${key}`, 'key');
    return Float32Array.from(t.data as Float32Array);
  }

  /** Stored tensors whose key starts with `prefix` (copies), e.g. the generator's params for export. */
  values(prefix = ''): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const k of [...this.store.keys()].sort()) if (k.startsWith(prefix)) out.set(k, this.value(k));
    return out;
  }

  /** Serializes the store (params and optimizer state) in the versioned format of params-file.ts. */
  save(meta: Readonly<Record<string, string>> = {}, prefix = ''): Uint8Array {
    const m = new Map<string, ParamEntry>();
    for (const [k, t] of this.store) if (k.startsWith(prefix)) m.set(k, { shape: [...t.dims], data: Float32Array.from(t.data as Float32Array) });
    return encodeParams(m, meta);
  }

  /**
   * Restores stored tensors from bytes written by save(). Keys absent from the file keep their values
   * (e.g. fine-tuning without optimizer state); keys not in this trainer are an error unless `ignoreUnknown`.
   */
  load(bytes: Uint8Array, opts: { file?: string; ignoreUnknown?: boolean } = {}): Record<string, string> {
    const f = decodeParams(bytes, opts.file);
    for (const [k, e] of f.tensors) {
      const have = this.store.get(k);
      if (!have) {
        if (opts.ignoreUnknown) continue;
        throw new ConfigError(`Parameter file has ${k}, which no step of this trainer uses`, 'params');
      }
      // Adam moments of small params are carried flat ([size], see TrainState.applyUpdate), of large ones in the
      // param's shape; a file with the other shape (older files: always the param's) holds the same elements in the same
      // row-major order.
      const flatMoment = /^adam\/[mv]\//.test(k) && e.data.length === have.size;
      if (have.dims.join(',') !== e.shape.join(',') && !flatMoment) throw new ConfigError(`Parameter ${k} has shape [${e.shape}] in the file but [${have.dims}] here`, 'params');
      this.store.set(k, new ort.Tensor('float32', Float32Array.from(e.data), [...have.dims]));
    }
    return { ...f.meta };
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    for (const s of this.steps.values()) await s.session.release();
    this.steps.clear();
  }
}
