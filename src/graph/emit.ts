// Emission of IR graphs as ONNX ModelProto bytes (opset 17, IR version 8): a dumb, deterministic translation.
import protobuf from 'protobufjs';
import { GraphError, type Value } from './ir.js';
import { ONNX_DTYPE } from './ops/Cast.js';
import { opDef } from './ops/index.js';
import { ONNX_PROTO } from './onnx-proto.js';
import { Tensor, type DType } from './tensor.js';

export const OPSET = 17;
export const IR_VERSION = 8;

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

/** A graph output: a value, optionally exposed under another name (an Identity node is added). */
export type OutputSpec = Value | { readonly name: string; readonly value: Value };

export interface EmitOptions {
  readonly outputs: readonly OutputSpec[];
  /**
   * Order of the graph inputs. Defaults to every input/param the outputs depend on, in creation order.
   * Inputs and params the outputs depend on must be listed here or baked.
   */
  readonly inputs?: readonly Value[];
  /** Inputs/params (by name) whose values are baked into the model as initializers. */
  readonly bake?: ReadonlyMap<string, Float32Array | Tensor>;
  readonly name?: string;
  readonly docString?: string;
  /** Extra key/value metadata stored in the model. */
  readonly metadata?: Readonly<Record<string, string>>;
}

function rawBytes(dtype: DType, data: ArrayLike<number>): Uint8Array {
  const n = data.length;
  if (dtype === 'float32') {
    const buf = new Uint8Array(n * 4);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) dv.setFloat32(i * 4, data[i]!, true);
    return buf;
  }
  if (dtype === 'int64') {
    const buf = new Uint8Array(n * 8);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, BigInt(Math.trunc(data[i]!)), true);
    return buf;
  }
  return Uint8Array.from(data, (v) => (v ? 1 : 0));
}

function tensorProto(name: string, t: Tensor): Record<string, unknown> {
  return { name, dims: [...t.shape], data_type: ONNX_DTYPE[t.dtype], raw_data: rawBytes(t.dtype, t.data) };
}

function valueInfo(name: string, v: Value): Record<string, unknown> {
  const dim = v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: ONNX_DTYPE[v.dtype], shape: { dim } } } };
}

/** Serializes the part of the graph that computes `outputs` as ONNX ModelProto bytes. Same graph, same bytes. */
export function toOnnx(opts: EmitOptions): Uint8Array {
  const outs = opts.outputs.map((o) => ('value' in o && 'name' in o && !('kind' in o) ? o : { name: (o as Value).name, value: o as Value }));
  if (outs.length === 0) throw new GraphError('toOnnx needs at least one output');
  const g = outs[0]!.value.graph;
  const outValues = outs.map((o) => o.value);
  const nodes = g.nodesFor(outValues);
  const leaves = g.leavesFor(outValues);
  const bake = opts.bake ?? new Map<string, Float32Array | Tensor>();
  const inputs = opts.inputs ?? leaves.filter((v) => (v.kind === 'input' || v.kind === 'param') && !bake.has(v.name));
  const inputIds = new Set(inputs.map((v) => v.id));
  const initializer: Record<string, unknown>[] = [];
  for (const v of leaves) {
    if (v.kind === 'const') initializer.push(tensorProto(v.name, v.data!));
    else if (bake.has(v.name)) {
      const b = bake.get(v.name)!;
      const t = b instanceof Tensor ? b : Tensor.from(v.dtype, v.shape as number[], b);
      initializer.push(tensorProto(v.name, t));
    } else if (!inputIds.has(v.id)) throw new GraphError(`Input ${v.name} is needed by the outputs but neither listed as an input nor baked`);
  }
  // Outputs produced by a node are emitted under their output name directly (no Identity copy), unless
  // the value is a graph output twice or the name is taken.
  const taken = new Set<string>([...leaves.map((v) => v.name), ...nodes.flatMap((n) => n.outputs.map((v) => v.name))]);
  const rename = new Map<number, string>();
  const claimed = new Set<number>();
  for (const o of outs) {
    if (o.value.kind !== 'node' || claimed.has(o.value.id)) continue;
    claimed.add(o.value.id);
    if (o.name !== o.value.name && !taken.has(o.name)) rename.set(o.value.id, o.name);
  }
  const nameOf = (v: Value): string => rename.get(v.id) ?? v.name;
  const nodeProtos: Record<string, unknown>[] = nodes.map((n) => {
    const def = opDef(n.op);
    const attribute = Object.keys(n.attrs)
      .sort()
      .map((k) => {
        const type = def.attrTypes[k];
        if (!type) throw new GraphError(`Op ${n.op} has no attribute ${k}`);
        const v = n.attrs[k]!;
        const a: Record<string, unknown> = { name: k, type: ATTR_TYPE[type as keyof typeof ATTR_TYPE] };
        if (type === 'float') a['f'] = v;
        else if (type === 'int') a['i'] = v;
        else if (type === 'ints') a['ints'] = [...(v as number[])];
        else if (type === 'floats') a['floats'] = [...(v as number[])];
        else if (type === 'string') a['s'] = new TextEncoder().encode(v as string);
        else a['t'] = tensorProto('', v as Tensor);
        return a;
      });
    return { input: n.inputs.map(nameOf), output: n.outputs.map(nameOf), name: n.name, op_type: n.op, attribute };
  });
  const usedOutNames = new Set<string>();
  const outputInfos = outs.map((o) => {
    if (usedOutNames.has(o.name)) throw new GraphError(`Duplicate output name ${o.name}`);
    usedOutNames.add(o.name);
    if (o.name !== nameOf(o.value) || o.value.kind !== 'node') {
      nodeProtos.push({ input: [nameOf(o.value)], output: [o.name], name: `${o.name}/Identity`, op_type: 'Identity', attribute: [] });
    }
    return valueInfo(o.name, o.value);
  });
  const model = {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'netshare-ts',
    producer_version: '0.1.0',
    doc_string: opts.docString ?? '',
    graph: {
      name: opts.name ?? 'graph',
      node: nodeProtos,
      initializer,
      input: inputs.map((v) => valueInfo(v.name, v)),
      output: outputInfos,
    },
    metadata_props: Object.keys(opts.metadata ?? {})
      .sort()
      .map((key) => ({ key, value: opts.metadata![key]! })),
  };
  const msg = ModelProto.fromObject(model);
  return ModelProto.encode(msg).finish();
}

/** Decodes ONNX bytes into a plain object (for tests and inspection). */
export function decodeOnnx(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
