// Decode speed alone: a workdir's chunk attribute rows (and optionally records) decoded to tables, records/s, with
// the port/proto nearest-neighbour lookups timed on their own.
//
// Run: npx vite-node bench/decode.ts --workdir WD [--chunk K] [--rows N] [--repeat R]
//      → a table on stdout, JSON in bench/out/decode-<stamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpuUsage } from 'node:process';
import { decodeChunkFromWorkdir, loadChunkMeta, loadEncoders, loadLayout, loadPackedChunk } from '../src/pipeline/chunk-tensors.js';
import { decodeChunk } from '../src/encode/tensors.js';
import { embeddingRowsOf, nearestRows, SCORE_GAP, TOP_K } from '../src/pipeline/embedding-decode.js';
import { unitQuery } from '../src/encode/knn.js';
import { PRUNE_MIN_ROWS, vocabScorer } from '../src/native/nearest.js';
import { readF32 } from '../src/pipeline/workdir.js';
import type { Table } from '../src/io/table.js';
import { arg } from './args.js';

const wd = resolve(arg('workdir') ?? '');
const chunk = Number(arg('chunk', '0'));
const rows = Number(arg('rows', '50000'));
const repeat = Number(arg('repeat', '3'));
/** Generated attribute rows (an attribute job's output, `generate-chunk` with attributesOnly) instead of the chunk's real ones. */
const from = arg('from');
const layout = await loadLayout(wd);
const encoders = await loadEncoders(wd);
const packed = await loadPackedChunk(wd, chunk);
const A = layout.attributeDim;
// the chunk's real attribute rows, tiled with a small jitter so lookups are not exact hits
const attrs = new Float32Array(rows * A);
// (float32 or compact row files: readF32 decodes either)
const gen = from ? await readF32(from) : undefined;
if (gen) for (let r = 0; r < rows; r++) attrs.set(gen.subarray((r % (gen.length / A)) * A, (r % (gen.length / A) + 1) * A), r * A);
else for (let r = 0; r < rows; r++) {
  const src = (r % packed.n) * A;
  for (let a = 0; a < A; a++) attrs[r * A + a] = packed.attributes[src + a]! + (r >= packed.n ? 1e-3 * Math.sin(r * 31 + a) : 0);
}
const time = async (what: string, fn: () => Promise<unknown> | unknown): Promise<{ what: string; wallS: number; cpuS: number; perS: number }> => {
  let best = { wallS: Infinity, cpuS: Infinity };
  for (let i = 0; i < repeat; i++) {
    const c0 = cpuUsage();
    const t0 = performance.now();
    await fn();
    const wallS = (performance.now() - t0) / 1000;
    const c = cpuUsage(c0);
    const cpuS = (c.user + c.system) / 1e6;
    if (cpuS < best.cpuS) best = { wallS, cpuS };
  }
  return { what, ...best, perS: rows / best.cpuS };
};
const results = [];
results.push(
  await time('attribute rows → table (T=1)', () =>
    decodeChunkFromWorkdir(wd, chunk, { attributes: attrs, features: new Float32Array(rows * layout.featureDim), valid: new Uint8Array(rows).fill(1), n: rows, T: 1 }, encoders),
  ),
);
const meta = await loadChunkMeta(wd, chunk);
const t1 = { attributes: attrs, features: new Float32Array(rows * layout.featureDim), valid: new Uint8Array(rows).fill(1), n: rows, T: 1 };
// warm the batch scorer's sessions (built once per vocabulary per process) outside the timing
await embeddingRowsOf(encoders, attrs.subarray(0, 64 * A), A, 64);
results.push(await time('attribute rows → table, batched', async () => decodeChunk(t1, encoders, meta, { embeddingRows: await embeddingRowsOf(encoders, attrs, A, rows) })));
// the two decodings agree field for field
const a = (await decodeChunkFromWorkdir(wd, chunk, t1, encoders)).table as unknown as Record<string, unknown>;
const b = decodeChunk(t1, encoders, meta, { embeddingRows: await embeddingRowsOf(encoders, attrs, A, rows) }).table as Table as unknown as Record<string, unknown>;
let mismatches = 0;
for (const col of ['srcPort', 'dstPort', 'proto', 'srcIp', 'dstIp']) {
  const x = a[col] as ArrayLike<number>;
  const y = b[col] as ArrayLike<number>;
  for (let i = 0; i < rows; i++) if (x[i] !== y[i]) mismatches++;
}
console.log(`batched vs flow-by-flow decoding: ${mismatches} differing values in srcPort/dstPort/proto/srcIp/dstIp over ${rows} rows`);
const emb = layout.attributes.filter((s) => s.encoding === 'word2vecPort' || s.encoding === 'word2vecProto');
for (const sl of emb) {
  const enc = sl.encoding === 'word2vecPort' ? encoders.ports! : encoders.protos!;
  results.push(await time(`${sl.name}: nearest only, batched`, () => nearestRows(enc, attrs, A, sl.offset, rows)));
  results.push(
    await time(`${sl.name}: nearest only`, () => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += enc.decode(attrs, r * A + sl.offset);
      return s;
    }),
  );
}
// the pruned search against the flat scan it replaces (same queries, same run): time per query, share of the vocabulary
// scanned, and whether the rows within SCORE_GAP of the best (all the decoding reads) ever differ
const scorers: { field: string; vocab: number; flatUsPerQuery: number; prunedUsPerQuery: number; ratio: number; scannedShare: number; buildS: number; differing: number }[] = [];
for (const sl of emb) {
  const enc = sl.encoding === 'word2vecPort' ? encoders.ports! : encoders.protos!;
  const V = enc.values.length;
  const D = enc.vecDim;
  if (V < PRUNE_MIN_ROWS) continue;
  const q = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) q.set(unitQuery(attrs, r * A + sl.offset, D), r * D);
  const flat = vocabScorer(enc.vectors, V, D, { k: TOP_K });
  const b0 = performance.now();
  const pruned = vocabScorer(enc.vectors, V, D, { k: TOP_K, gap: SCORE_GAP });
  const buildS = (performance.now() - b0) / 1000;
  let tf = Infinity;
  let tp = Infinity;
  let x = flat.topk(q, rows);
  let y = pruned.topk(q, rows);
  for (let i = 0; i < repeat; i++) {
    let t = performance.now();
    x = flat.topk(q, rows);
    tf = Math.min(tf, performance.now() - t);
    t = performance.now();
    y = pruned.topk(q, rows);
    tp = Math.min(tp, performance.now() - t);
  }
  const near = (z: { rows: Int32Array; scores: Float32Array }, i: number): string => {
    const out: number[] = [];
    for (let j = 0; j < TOP_K && z.scores[i * TOP_K + j]! >= z.scores[i * TOP_K]! - SCORE_GAP; j++) out.push(z.rows[i * TOP_K + j]!);
    return out.sort((u, v) => u - v).join(',');
  };
  let differing = 0;
  for (let i = 0; i < rows; i++) if (near(x, i) !== near(y, i)) differing++;
  const s = { field: sl.name, vocab: V, flatUsPerQuery: (1000 * tf) / rows, prunedUsPerQuery: (1000 * tp) / rows, ratio: tf / tp, scannedShare: pruned.scanned! / ((repeat + 1) * rows * V), buildS, differing };
  scorers.push(s);
  console.log(`${sl.name}: pruned search ${s.prunedUsPerQuery.toFixed(2)} µs/query vs flat scan ${s.flatUsPerQuery.toFixed(2)} (${s.ratio.toFixed(2)}x), ${(100 * s.scannedShare).toFixed(1)}% of ${V} rows scanned, index built in ${buildS.toFixed(2)} s, ${differing} queries with other rows within SCORE_GAP`);
}
console.log(`decode of ${rows} ${gen ? `generated rows (${from})` : 'real rows'} of chunk ${chunk} (${wd}), best of ${repeat} by CPU-seconds`);
console.log(`${'what'.padEnd(36)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(8)} ${'rows/cpu-s'.padStart(12)}`);
for (const r of results) console.log(`${r.what.padEnd(36)} ${r.wallS.toFixed(3).padStart(8)} ${r.cpuS.toFixed(3).padStart(8)} ${Math.round(r.perS).toString().padStart(12)}`);
const out = join(import.meta.dirname, 'out');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `decode-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ workdir: wd, chunk, rows, repeat, from: from ?? null, mismatches, results, scorers }, null, 2));
process.exit(mismatches === 0 ? 0 : 1);
