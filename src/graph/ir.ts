// The tensor IR: values with dtype and (partly symbolic) shape, nodes, and a graph with naming scopes.
import { InternalError, NetShareError } from '../errors.js';
import { Tensor, type DType } from './tensor.js';

export type { DType } from './tensor.js';

/** A dimension: a number, or a symbol such as 'N' (the batch size, bound when the graph runs). */
export type Dim = number | string;

/** Attribute values as stored on nodes; the op definition says how each one is typed in ONNX. */
export type AttrValue = number | string | readonly number[] | Tensor;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** Where a value comes from: a graph input (batch data or parameter), a constant, or a node output. */
export type ValueKind = 'input' | 'param' | 'const' | 'node';

export interface Value {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
  readonly kind: ValueKind;
  readonly graph: Graph;
  /** Producing node when kind === 'node'. */
  readonly producer: Node | null;
  /** Constant data when kind === 'const'. */
  readonly data: Tensor | null;
  /**
   * For 1-D int64 values that hold a shape (Shape outputs, shape constants): the dims they evaluate to,
   * so that Reshape/Expand/ConstantOfShape can infer static or symbolic output shapes.
   */
  readonly shapeValue: readonly Dim[] | null;
}

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  /** Reverse-mode AD does not propagate through this node (stop-gradient). */
  readonly stopGradient: boolean;
}

/** Output type of an op as inferred from its inputs. */
export interface OutputType {
  dtype: DType;
  shape: readonly Dim[];
  shapeValue?: readonly Dim[] | null;
}

/** A parameter: a float32 graph input with initial values; trainers keep its current value. */
export interface ParamInfo {
  readonly value: Value;
  readonly init: Float32Array;
  /** Optimizer group name (per-group learning rates), 'default' unless given. */
  readonly group: string;
}

/** The error thrown when a graph is built wrongly (bad shapes, unknown op, missing gradient rule). */
export class GraphError extends NetShareError {
  override readonly name = 'GraphError';
}

export function shapeStr(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/** A growing DAG of nodes. Nodes are appended in a topological order by construction. */
export class Graph {
  readonly values: Value[] = [];
  readonly nodes: Node[] = [];
  readonly params = new Map<string, ParamInfo>();
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constCache = new Map<string, Value>();

  /** Current scope path, e.g. 'gen/lstm/step3'. */
  get scopePath(): string {
    return this.scopes.join('/');
  }

  /** Runs `fn` with `name` pushed onto the scope stack; every value it creates is named under it. */
  scope<T>(name: string, fn: () => T): T {
    if (name.length === 0) throw new GraphError('Scope name must not be empty');
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A fresh unique name `<scope>/<base>`, suffixed `_1`, `_2`, … on collision. */
  uniqueName(base: string, absolute = false): string {
    const full = absolute || this.scopes.length === 0 ? base : `${this.scopePath}/${base}`;
    let name = full;
    for (let k = 1; this.usedNames.has(name); k++) name = `${full}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  private addValue(v: Omit<Value, 'id' | 'graph'>): Value {
    const value: Value = { ...v, id: this.values.length, graph: this };
    this.values.push(value);
    return value;
  }

  /** A batch input fed at run time. Its name is used verbatim (not scoped) and must be unique. */
  input(name: string, shape: readonly Dim[], dtype: DType = 'float32'): Value {
    if (this.usedNames.has(name)) throw new GraphError(`Duplicate value name "${name}"`);
    this.usedNames.add(name);
    return this.addValue({ name, dtype, shape: [...shape], kind: 'input', producer: null, data: null, shapeValue: null });
  }

  /**
   * A trainable float32 parameter named `<scope>/<name>`, with its initial values. `group` selects
   * the optimizer group (per-group learning rates).
   */
  param(name: string, shape: readonly number[], init: Float32Array, group = 'default'): Value {
    const size = shape.reduce((a, b) => a * b, 1);
    if (init.length !== size) throw new GraphError(`Parameter ${name}: init has ${init.length} values, shape ${shapeStr(shape)} needs ${size}`);
    const full = this.scopes.length === 0 ? name : `${this.scopePath}/${name}`;
    if (this.usedNames.has(full)) throw new GraphError(`Duplicate parameter name "${full}"`);
    this.usedNames.add(full);
    const value = this.addValue({ name: full, dtype: 'float32', shape: [...shape], kind: 'param', producer: null, data: null, shapeValue: null });
    this.params.set(full, { value, init, group });
    return value;
  }

  /** A constant; identical constants are shared. */
  constant(t: Tensor): Value {
    const useCache = t.size <= 64;
    const key = useCache ? `${t.dtype}|${t.shape.join(',')}|${Array.from(t.data).join(',')}` : '';
    if (useCache) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.uniqueName(`const${this.values.length}`, true);
    const shapeValue = t.dtype === 'int64' && t.shape.length === 1 ? Array.from(t.data) : null;
    const v = this.addValue({ name, dtype: t.dtype, shape: [...t.shape], kind: 'const', producer: null, data: t, shapeValue });
    if (useCache) this.constCache.set(key, v);
    return v;
  }

  /** Appends a node; output types come from the op's shape inference (see ops/index.ts). */
  addNode(op: string, inputs: readonly Value[], attrs: Attrs, outTypes: readonly OutputType[], opts: { stopGradient?: boolean; name?: string } = {}): Node {
    for (const v of inputs) {
      if (v.graph !== this) throw new GraphError(`Value ${v.name} belongs to another graph (op ${op})`);
    }
    const name = this.uniqueName(opts.name ?? op);
    const outputs: Value[] = [];
    const node: Node = { id: this.nodes.length, op, name, inputs: [...inputs], outputs, attrs, stopGradient: opts.stopGradient ?? false };
    outTypes.forEach((t, i) => {
      const vname = outTypes.length === 1 ? name : `${name}:${i}`;
      if (outTypes.length > 1) this.usedNames.add(vname);
      outputs.push(this.addValue({ name: vname, dtype: t.dtype, shape: [...t.shape], kind: 'node', producer: node, data: null, shapeValue: t.shapeValue ?? null }));
    });
    this.nodes.push(node);
    return node;
  }

  /** Parameters in creation order, optionally only those whose name starts with `prefix`. */
  paramList(prefix = ''): ParamInfo[] {
    return [...this.params.values()].filter((p) => p.value.name.startsWith(prefix));
  }

  /** Nodes needed to compute `outputs`, in topological (creation) order. */
  nodesFor(outputs: readonly Value[]): Node[] {
    const needed = new Set<number>();
    const stack: Value[] = [...outputs];
    while (stack.length > 0) {
      const v = stack.pop()!;
      const p = v.producer;
      if (!p || needed.has(p.id)) continue;
      needed.add(p.id);
      for (const i of p.inputs) stack.push(i);
    }
    return this.nodes.filter((n) => needed.has(n.id));
  }

  /** Leaf values (inputs, params, constants) that `outputs` depend on, in creation order. */
  leavesFor(outputs: readonly Value[]): Value[] {
    const nodes = this.nodesFor(outputs);
    const seen = new Set<number>();
    for (const o of outputs) if (o.kind !== 'node') seen.add(o.id);
    for (const n of nodes) for (const i of n.inputs) if (i.kind !== 'node') seen.add(i.id);
    return this.values.filter((v) => seen.has(v.id));
  }
}

export function assertInternal(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new InternalError(msg);
}
