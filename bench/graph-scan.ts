// Benchmark: forward LSTM as ONNX Scan (one body, hand-written ModelProto) vs the compiler's unrolled LSTM:
// session creation and run time by T (inference only; the compiler has no differentiated Scan).
// Run: npx vite-node bench/graph-scan.ts [--threads N]
import { mkdirSync, writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import * as b from '../src/graph/api.js';
import { toOnnx } from '../src/graph/emit.js';
import { Graph } from '../src/graph/ir.js';
import { lstmParams, lstmUnroll } from '../src/graph/nn.js';
import { ONNX_PROTO } from '../src/graph/onnx-proto.js';
import { Rng } from '../src/core/rng.js';
import { createSession, ort } from '../src/runtime/session.js';

const args = process.argv.slice(2);
const ti = args.indexOf('--threads');
const threads = ti >= 0 ? Number(args[ti + 1]) : 1;
const N = 100;
const I = 25;
const H = 100;
const ModelProto = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');

const vi = (name: string, dims: (number | string)[]) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } } });
const f32 = (name: string, dims: number[], data: Float32Array) => ({ name, dims, data_type: 1, raw_data: new Uint8Array(data.buffer.slice(0)) });
const i64 = (name: string, data: number[]) => {
  const buf = new Uint8Array(data.length * 8);
  const dv = new DataView(buf.buffer);
  data.forEach((v, k) => dv.setBigInt64(k * 8, BigInt(v), true));
  return { name, dims: [data.length], data_type: 7, raw_data: buf };
};
const nd = (op: string, input: string[], output: string[], attribute: object[] = []) => ({ op_type: op, input, output, name: output[0], attribute });

/** Forward LSTM over X [T, N, I] as one Scan node; W, b are outer-scope graph inputs read by the body. */
function scanModel(T: number): Uint8Array {
  const body = {
    name: 'lstm_body',
    input: [vi('h', [N, H]), vi('c', [N, H]), vi('x', [N, I])],
    output: [vi('h2', [N, H]), vi('c2', [N, H]), vi('h_out', [N, H])],
    initializer: [i64('split_sizes', [H, H, H, H]), f32('one', [], Float32Array.of(1))],
    node: [
      nd('Concat', ['x', 'h'], ['xh'], [{ name: 'axis', type: 2, i: 1 }]),
      nd('MatMul', ['xh', 'W'], ['z0']),
      nd('Add', ['z0', 'b'], ['z']),
      nd('Split', ['z', 'split_sizes'], ['gi', 'gj', 'gf', 'go'], [{ name: 'axis', type: 2, i: 1 }]),
      nd('Add', ['gf', 'one'], ['gf1']),
      nd('Sigmoid', ['gf1'], ['sf']),
      nd('Sigmoid', ['gi'], ['si']),
      nd('Tanh', ['gj'], ['tj']),
      nd('Sigmoid', ['go'], ['so']),
      nd('Mul', ['sf', 'c'], ['fc']),
      nd('Mul', ['si', 'tj'], ['ij']),
      nd('Add', ['fc', 'ij'], ['c2']),
      nd('Tanh', ['c2'], ['tc']),
      nd('Mul', ['so', 'tc'], ['h2']),
      nd('Identity', ['h2'], ['h_out']),
    ],
  };
  const model = {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'netshare-ts-bench',
    graph: {
      name: 'scan_lstm',
      input: [vi('X', [T, N, I]), vi('h0', [N, H]), vi('c0', [N, H]), vi('W', [I + H, 4 * H]), vi('b', [4 * H])],
      output: [vi('H', [T, N, H])],
      node: [nd('Scan', ['h0', 'c0', 'X'], ['hT', 'cT', 'H'], [{ name: 'body', type: 5, g: body }, { name: 'num_scan_inputs', type: 2, i: 1 }])],
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function unrolledModel(T: number): Uint8Array {
  const g = new Graph();
  const xs = Array.from({ length: T }, (_, t) => g.input(`x${t}`, [N, I]));
  const h0 = g.input('h0', [N, H]);
  const c0 = g.input('c0', [N, H]);
  const p = lstmParams(g, 'lstm', I, H, new Rng(1, 'bench'));
  const hs = lstmUnroll(g, xs, h0, c0, p);
  return toOnnx({ outputs: [{ name: 'H', value: b.concat(hs.map((h) => b.unsqueeze(h, [0])), 0) }] });
}

async function best(fn: () => Promise<unknown>, k: number): Promise<number> {
  await fn();
  let m = Infinity;
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    await fn();
    m = Math.min(m, performance.now() - t0);
  }
  return m;
}

const rng = new Rng(2, 'bench');
const rows: Record<string, number | string>[] = [];
let scanOut: Float32Array | null = null;
let maxDiff = 0;
for (const T of [50, 100, 200, 400]) {
  const X = rng.normals(T * N * I);
  const h0 = new ort.Tensor('float32', rng.normals(N * H), [N, H]);
  const c0 = new ort.Tensor('float32', rng.normals(N * H), [N, H]);
  const W = new ort.Tensor('float32', rng.normals((I + H) * 4 * H, 0.1), [I + H, 4 * H]);
  const bias = new ort.Tensor('float32', new Float32Array(4 * H), [4 * H]);
  for (const kind of ['scan', 'unrolled'] as const) {
    const bytes = kind === 'scan' ? scanModel(T) : unrolledModel(T);
    const c = performance.now();
    const s = await createSession(bytes, { intraOpThreads: threads });
    const createMs = performance.now() - c;
    const feeds: Record<string, ort.Tensor> = { h0, c0 };
    if (kind === 'scan') Object.assign(feeds, { X: new ort.Tensor('float32', X, [T, N, I]), W, b: bias });
    else {
      for (let t = 0; t < T; t++) feeds[`x${t}`] = new ort.Tensor('float32', X.subarray(t * N * I, (t + 1) * N * I), [N, I]);
      Object.assign(feeds, { 'lstm/W': W, 'lstm/b': bias });
    }
    const ms = await best(() => s.run(feeds), 5);
    const out = (await s.run(feeds))['H']!.data as Float32Array;
    if (kind === 'scan') scanOut = out;
    else if (scanOut) for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i]! - scanOut[i]!));
    rows.push({ T, kind, onnxKB: Math.round(bytes.length / 1024), createMs: Math.round(createMs), runMs: +ms.toFixed(1) });
    await s.release();
  }
}
console.log(`forward LSTM (${H} units, batch ${N}, input ${I}), CPU EP, ${threads} thread(s)`);
console.table(rows);
console.log(`max |scan − unrolled| over all outputs: ${maxDiff.toExponential(2)} (the two graphs compute the same LSTM)`);
if (!(maxDiff < 1e-4)) throw new Error('Scan and unrolled LSTM disagree');
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/graph-scan-cpu.json', JSON.stringify({ date: new Date().toISOString(), threads, maxDiff, rows }, null, 2));
