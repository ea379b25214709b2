// The generate stage (spec §4.1–4.2): per-chunk attributes, the flow-tag merge (continuations carried into later
// chunks), then features conditioned on the merged attributes for every checkpoint, decoded to candidate tables.
import { mkdir, rm } from 'node:fs/promises';
import { z } from 'zod';
import type { NetShareConfig } from '../config/schema.js';
import type { EncoderSet, Layout } from '../encode/tensors.js';
import { indexFlows } from '../io/flow-key.js';
import { takeRows } from '../io/rows.js';
import { Rng } from '../core/rng.js';
import type { Table } from '../io/table.js';
import type { Device } from '../runtime/session.js';
import { loadCheckpoint } from './checkpoints.js';
import { decodeChunkFromWorkdir, loadChunkMeta, loadEncoders, loadLayout, loadPackedChunk, loadPreprocessSummary } from './chunk-tensors.js';
import type { Executor, JobResult } from './executor.js';
import { reviveError, type Job, type JobContext } from './jobs.js';
import { relPath, trainedChunk } from './train.js';
import { acquireLease } from './lease.js';
import { attrCleanPath, attrMergedPath, attrRawPath, candidatePath, generateRoot, inWorkdir, leaseLogPath, leasePath, readF32, relativeToWorkdir, writeF32, writeTableFile } from './workdir.js';

export interface GenerateStageOptions {
  workdir: string;
  config: NetShareConfig;
  executor: Executor;
  /** The workdir's identity (lease.ts workdirIdentity): scopes the job keys. */
  scope: string;
  device?: Device;
  /** Total start flows to generate (default: as many as the real trace has); scales every chunk. */
  flows?: number;
  /** Passes over the trace's time span (≥ 1 when --duration asks for more than the input; default 1). */
  passes?: number;
  seed?: number;
  onProgress?: (job: string, fraction: number, info?: string) => void;
  /** Cancels the stage's jobs (runAll rejects with InterruptedError). */
  signal?: AbortSignal;
}

export interface GenerateStageResult {
  /** Per chunk: attributes sampled, flows after the merge and the duplicate-5-tuple drop (per pass), duplicates dropped. */
  chunks: { chunk: number; startFlows: number; mergedFlows: number[]; duplicateFlows: number[]; candidates: number }[];
  passes: number;
  candidates: { chunk: number; pass: number; iteration: number; path: string; records: number; flows: number; duplicateFlows: number }[];
  seconds: { attributes: number; merge: number; features: number };
}

/**
 * Params of a `generate-chunk` job. Either `attrFile` (conditional) or `n` (joint sampling, no flow tags). Paths are
 * relative to the job's workdir.
 */
export interface GenerateChunkParams {
  chunk: number;
  pass: number;
  checkpoint: string;
  iteration: number;
  seed: number;
  device: Device;
  attrFile?: string;
  n?: number;
  /** Attribute-only mode: sample `n` attributes from `checkpoint` into `out` (its discrete copy). */
  attributesOnly?: { out: string };
  /** Dedupe mode: keep the first row of each 5-tuple of the merged attributes `from`, write them to `out`. */
  /**
   * Dedupe mode: keep the first row of each 5-tuple of the merged attributes `from`, write them to `out`; with
   * `resampleEphemeral`, first give every generated ephemeral port a fresh draw (resampleEphemeralPorts, seeded by `seed`).
   */
  uniqueTuples?: { from: string; out: string; resampleEphemeral?: boolean };
}

/** The schema `generate-chunk` params are validated with where the job runs. */
export const generateChunkParamsSchema = z.strictObject({
  chunk: z.number().int().nonnegative(),
  pass: z.number().int().nonnegative(),
  checkpoint: z.union([relPath, z.literal('')]),
  iteration: z.number().int(),
  seed: z.number().int(),
  device: z.enum(['cpu', 'cuda']),
  attrFile: relPath.optional(),
  n: z.number().int().nonnegative().optional(),
  attributesOnly: z.strictObject({ out: relPath }).optional(),
  uniqueTuples: z.strictObject({ from: relPath, out: relPath, resampleEphemeral: z.boolean().optional() }).optional(),
});

/** Drop every flow whose 5-tuple already appeared in an earlier flow (first occurrence wins; spec §4.3). */
export function dropDuplicateTuples(table: Table, flowOf: Int32Array): { table: Table; duplicateFlows: number } {
  const tuples = indexFlows(table);
  const owner = new Int32Array(tuples.count).fill(-1);
  const keep: number[] = [];
  const dupFlows = new Set<number>();
  for (let i = 0; i < table.length; i++) {
    const f = flowOf[i]!;
    const key = tuples.flowOf[i]!;
    const o = owner[key]!;
    if (o < 0) owner[key] = f;
    else if (o !== f) {
      dupFlows.add(f);
      continue;
    }
    keep.push(i);
  }
  if (keep.length === table.length) return { table, duplicateFlows: 0 };
  return { table: takeRows(table, Uint32Array.from(keep)), duplicateFlows: dupFlows.size };
}

/** Attribute rows [n, A] decoded as one record each (no features): their 5-tuples, row `flowOf[i]` for record i. */
function decodeAttributeRows(workdir: string, chunk: number, rows: Float32Array, A: number, F: number, encoders: EncoderSet): ReturnType<typeof decodeChunkFromWorkdir> {
  const n = rows.length / A;
  return decodeChunkFromWorkdir(workdir, chunk, { attributes: rows, features: new Float32Array(n * F), valid: new Uint8Array(n).fill(1), n, T: 1 }, encoders);
}

/**
 * Rows of merged attributes [n, A] whose 5-tuple is the first of its kind. The 5-tuple depends on the attributes
 * only, so dropping duplicates here — once per chunk, before the features are generated for every checkpoint — keeps
 * exactly the flows the per-candidate rule would keep, at a fraction of the sampling and decoding work.
 */
export async function uniqueTupleRows(workdir: string, chunk: number, rows: Float32Array, A: number, F: number, encoders: EncoderSet): Promise<Uint32Array> {
  if (rows.length === 0) return new Uint32Array(0);
  const dec = await decodeAttributeRows(workdir, chunk, rows, A, F, encoders);
  // each 5-tuple's first row, in row order
  return Uint32Array.from(indexFlows(dec.table).first, (i) => dec.flowOf[i]!);
}

/** A port at or above this, used by at most EPHEMERAL_MAX_FLOWS training flows of the chunk, is an ephemeral port. */
export const EPHEMERAL_MIN_PORT = 1024;
export const EPHEMERAL_MAX_FLOWS = 2;

/**
 * postprocess.ephemeralPorts = "resample": every port of the merged attribute rows [n, A] that decodes to an ephemeral
 * port (≥ EPHEMERAL_MIN_PORT and used by at most EPHEMERAL_MAX_FLOWS of the chunk's training flows, or by none) is
 * replaced, in place, by a uniform draw from the chunk's real ephemeral ports (their embedding written into the row,
 * so every later decode yields the drawn port), as an OS allocates a client port. Service ports (80, 443, 53, 8080 …
 * used by more flows) stay as the model generated them. Why: the word2vec nearest-neighbour decoding maps the many
 * one-off client ports onto a few hub ports — on the enterprise pcap 3,687 generated flows of chunk 0 decoded to 170
 * distinct source ports (the real chunk: ~1,800), so 80% of the flows were dropped as duplicate 5-tuples. Returns how
 * many ports were drawn anew.
 */
export async function resampleEphemeralPorts(wd: string, chunk: number, rows: Float32Array, layout: Layout, encoders: EncoderSet, seed: number): Promise<number> {
  const ports = encoders.ports;
  const slices = layout.attributes.filter((sl) => sl.encoding === 'word2vecPort');
  const A = layout.attributeDim;
  const n = rows.length / A;
  if (!ports || slices.length === 0 || n === 0) return 0;
  // flows per port among the chunk's training flows (source and destination ports alike)
  // the chunk's training flows: their attribute rows alone (the records' features are not needed for their ports)
  const t = (await decodeAttributeRows(wd, chunk, (await loadPackedChunk(wd, chunk)).attributes, A, layout.featureDim, encoders)).table;
  const idx = indexFlows(t);
  const flowsOf = new Map<number, number>();
  for (let f = 0; f < idx.count; f++) {
    const i = idx.first[f]!;
    for (const v of [t.srcPort[i]!, t.dstPort[i]!]) flowsOf.set(v, (flowsOf.get(v) ?? 0) + 1);
  }
  const ephemeral = (v: number): boolean => v >= EPHEMERAL_MIN_PORT && (flowsOf.get(v) ?? 0) <= EPHEMERAL_MAX_FLOWS;
  const pool = [...flowsOf.keys()].filter((v) => ephemeral(v) && ports.has(v)).sort((a, b) => a - b);
  if (pool.length === 0) return 0;
  const rng = Rng.forPurpose(seed, 'generate/ephemeral-ports');
  let drawn = 0;
  for (let r = 0; r < n; r++) {
    for (const sl of slices) {
      const off = r * A + sl.offset;
      if (!ephemeral(ports.decode(rows, off))) continue;
      ports.encode(pool[rng.int(pool.length)]!, rows, off);
      drawn++;
    }
  }
  return drawn;
}

/** The `generate-chunk` job: sample (conditioned on the merged attributes), decode, drop duplicate 5-tuples. */
export async function generateChunkJob(p: GenerateChunkParams, ctx: Pick<JobContext, 'workdir' | 'threads' | 'progress'> & { key?: string }): Promise<unknown> {
  // one runner per output file (a stalled job delivered twice): the outputs are written atomically anyway, the lease
  // keeps a second runner from spending the work twice and from racing the first one's rename
  const what = p.uniqueTuples ? 'unique' : p.attributesOnly ? 'attributes' : `ckpt-${p.iteration}`;
  const lease = await acquireLease(leasePath(ctx.workdir, `generate-chunk-${p.chunk}-p${p.pass}-${what}`), {
    owner: ctx.key ?? `generate/chunk-${p.chunk}/p${p.pass}/${what}`,
    log: leaseLogPath(ctx.workdir),
  });
  try {
    return await generateLeased(p, ctx);
  } finally {
    await lease.release();
  }
}

async function generateLeased(p: GenerateChunkParams, ctx: Pick<JobContext, 'workdir' | 'threads' | 'progress'>): Promise<unknown> {
  const wd = ctx.workdir;
  if (p.uniqueTuples) {
    const layout = await loadLayout(wd);
    const rows = await readF32(inWorkdir(wd, p.uniqueTuples.from));
    const A = layout.attributeDim;
    const encoders = await loadEncoders(wd);
    const resampled = p.uniqueTuples.resampleEphemeral ? await resampleEphemeralPorts(wd, p.chunk, rows, layout, encoders, p.seed) : 0;
    const keep = await uniqueTupleRows(wd, p.chunk, rows, A, layout.featureDim, encoders);
    const unique = new Float32Array(keep.length * A);
    keep.forEach((r, i) => unique.set(rows.subarray(r * A, (r + 1) * A), i * A));
    await writeF32(inWorkdir(wd, p.uniqueTuples.out), unique);
    ctx.progress(1, `${keep.length} unique of ${rows.length / A}${p.uniqueTuples.resampleEphemeral ? `, ${resampled} ephemeral ports drawn anew` : ''}`);
    return { merged: rows.length / A, unique: keep.length, resampledPorts: resampled };
  }
  const { sample } = await import('../model/index.js');
  if (p.attributesOnly) {
    const s = await sample({ checkpoint: await loadCheckpoint(inWorkdir(wd, p.checkpoint)), n: p.n ?? 0, seed: p.seed, device: p.device, threads: ctx.threads });
    await writeF32(inWorkdir(wd, p.attributesOnly.out), s.attributesDiscrete);
    ctx.progress(1, `${s.n} attributes`);
    return { n: s.n };
  }
  const out = candidatePath(wd, p.chunk, p.pass, p.iteration);
  const given = p.attrFile !== undefined ? await readF32(inWorkdir(wd, p.attrFile)) : undefined;
  const checkpoint = await loadCheckpoint(inWorkdir(wd, p.checkpoint));
  const s =
    given !== undefined
      ? await sample({ checkpoint, givenAttributes: given, seed: p.seed, device: p.device, threads: ctx.threads })
      : await sample({ checkpoint, n: p.n ?? 0, seed: p.seed, device: p.device, threads: ctx.threads });
  const T = s.layout.maxLen;
  const encoders: EncoderSet = await loadEncoders(wd);
  const dec = await decodeChunkFromWorkdir(wd, p.chunk, { attributes: s.attributes, features: s.features, valid: s.genFlags, n: s.n, T }, encoders);
  const { table, duplicateFlows } = dropDuplicateTuples(dec.table, dec.flowOf);
  await writeTableFile(out, table);
  ctx.progress(1, `${table.length} records`);
  return { path: relativeToWorkdir(wd, out), records: table.length, flows: s.n - duplicateFlows, duplicateFlows };
}

/** Offsets of the flow-tag pairs in the attribute vector: [startFromThisChunk, chunk_0, …]. */
function tagOffsets(layout: Layout): { start: number; chunk: (i: number) => number; nChunks: number } | undefined {
  const s = layout.attributes.find((a) => a.name === 'flow_tags');
  if (!s) return undefined;
  return { start: s.offset, chunk: (i) => s.offset + 2 + 2 * i, nChunks: s.dim / 2 - 1 };
}
const isOne = (a: Float32Array, at: number): boolean => a[at + 1]! > a[at]!;

/**
 * NetShare's `_merge_attr`: a row generated for chunk c is kept iff it starts there (startFromThisChunk = 1 and
 * chunk_c = 1); a kept row is also copied, with startFromThisChunk = 0, into every later chunk i with chunk_i = 1.
 * `raw[c]` holds chunk c's sampled attributes [n_c, A]; returns each chunk's merged rows.
 */
export function mergeByFlowTags(raw: Map<number, Float32Array>, A: number, tags: { start: number; chunk: (i: number) => number }): Map<number, Float32Array> {
  const rows = new Map<number, Float32Array[]>();
  for (const c of raw.keys()) rows.set(c, []);
  const chunks = [...raw.keys()].sort((a, b) => a - b);
  for (const c of chunks) {
    const a = raw.get(c)!;
    const n = a.length / A;
    for (let r = 0; r < n; r++) {
      const row = a.subarray(r * A, (r + 1) * A);
      if (!isOne(row, tags.start) || !isOne(row, tags.chunk(c))) continue;
      rows.get(c)!.push(row);
      for (const i of chunks) {
        if (i <= c || !isOne(row, tags.chunk(i))) continue;
        const copy = Float32Array.from(row);
        copy[tags.start] = 1;
        copy[tags.start + 1] = 0;
        rows.get(i)!.push(copy);
      }
    }
  }
  const out = new Map<number, Float32Array>();
  for (const [c, list] of rows) {
    const m = new Float32Array(list.length * A);
    list.forEach((r, j) => m.set(r, j * A));
    out.set(c, m);
  }
  return out;
}

function fail(r: JobResult): Error {
  return reviveError(r.id, r.error ?? { name: 'Error', message: 'unknown failure' });
}

/** Run the whole generate stage into <wd>/generate (the caller wraps this in runStage). */
export async function generateStage(opts: GenerateStageOptions): Promise<GenerateStageResult> {
  const wd = opts.workdir;
  const scope = opts.scope;
  const rel = (p: string): string => relativeToWorkdir(wd, p);
  const device = opts.device ?? 'cpu';
  const seed = opts.seed ?? opts.config.global.seed;
  const passes = Math.max(1, Math.ceil(opts.passes ?? 1));
  const summary = await loadPreprocessSummary(wd);
  const layout = await loadLayout(wd);
  const A = layout.attributeDim;
  const tags = tagOffsets(layout);
  await rm(generateRoot(wd), { recursive: true, force: true });
  await mkdir(generateRoot(wd), { recursive: true });
  const trained = await Promise.all(summary.chunks.map((k) => trainedChunk(wd, k)));
  // a DP run releases each chunk's noisy flow count (drawn with the model, train.ts dpFlowCount), never the real one
  const metas = (await Promise.all(summary.chunks.map((k) => loadChunkMeta(wd, k)))).map((m, j) => {
    const noisy = trained[j]!.dpFlowCount;
    return noisy === undefined ? m : { ...m, flows: Math.max(1, Math.round(noisy)) };
  });
  const realFlows = metas.reduce((s, m) => s + m.flows, 0);
  const scale = opts.flows !== undefined ? opts.flows / Math.max(1, realFlows) : 1;
  // progress = finished jobs of the current phase
  let phaseDone = 0;
  let phaseTotal = 0;
  const events = {
    onDone: (job: Job, r: JobResult) => {
      phaseDone++;
      if (r.ok) opts.onProgress?.(job.id, phaseTotal > 0 ? phaseDone / phaseTotal : 1, `${phaseDone}/${phaseTotal} jobs`);
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const phase = (n: number): void => {
    phaseDone = 0;
    phaseTotal = n;
  };
  const t0 = performance.now();

  // 1. attributes per chunk (last checkpoint), one job per chunk and pass
  const counts = metas.map((m) => Math.max(1, Math.round(m.flows * scale)));
  const attrJobs: Job[] = [];
  if (tags) {
    for (let pass = 0; pass < passes; pass++) {
      summary.chunks.forEach((k, j) => {
        const params: GenerateChunkParams = {
          chunk: k, pass, checkpoint: rel(trained[j]!.lastCheckpoint), iteration: -1,
          seed: seed * 7919 + 31 * k + 100_003 * pass + 1, device, n: counts[j]!, attributesOnly: { out: rel(attrRawPath(wd, k, pass)) },
        };
        attrJobs.push({ id: `generate/attributes/chunk-${k}/p${pass}`, kind: 'generate-chunk', params: params as unknown as Record<string, unknown>, workdir: wd, scope });
      });
    }
    phase(attrJobs.length);
    for (const r of await opts.executor.runAll(attrJobs, events)) if (!r.ok) throw fail(r);
  }
  const t1 = performance.now();

  // 2. merge by flow tags (cheap, in the driver), then drop duplicate 5-tuples per chunk (jobs: decoding is not cheap)
  const merged: number[][] = summary.chunks.map(() => []);
  const duplicates: number[][] = summary.chunks.map(() => []);
  const resample = opts.config.postprocess.ephemeralPorts === 'resample';
  if (tags) {
    const uniqueJobs: Job[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const raw = new Map<number, Float32Array>();
      for (const k of summary.chunks) raw.set(k, await readF32(attrRawPath(wd, k, pass)));
      const m = mergeByFlowTags(raw, A, tags);
      for (const k of summary.chunks) {
        await writeF32(attrMergedPath(wd, k, pass), m.get(k)!);
        const params: GenerateChunkParams = {
          chunk: k, pass, checkpoint: '', iteration: -1, seed: resample ? seed * 7919 + 31 * k + 100_003 * pass + 3 : 0, device,
          uniqueTuples: { from: rel(attrMergedPath(wd, k, pass)), out: rel(attrCleanPath(wd, k, pass)), ...(resample ? { resampleEphemeral: true } : {}) },
        };
        uniqueJobs.push({ id: `generate/unique/chunk-${k}/p${pass}`, kind: 'generate-chunk', params: params as unknown as Record<string, unknown>, workdir: wd, scope });
      }
    }
    phase(uniqueJobs.length);
    const ur = await opts.executor.runAll(uniqueJobs, events);
    ur.forEach((r, i) => {
      if (!r.ok) throw fail(r);
      const j = summary.chunks.indexOf((uniqueJobs[i]!.params as unknown as GenerateChunkParams).chunk);
      const x = r.result as { merged: number; unique: number };
      merged[j]!.push(x.unique);
      duplicates[j]!.push(x.merged - x.unique);
    });
  }
  const t2 = performance.now();

  // 3. features for every checkpoint of every chunk, conditioned on the merged attributes
  const jobs: Job[] = [];
  for (let pass = 0; pass < passes; pass++) {
    summary.chunks.forEach((k, j) => {
      for (const ck of trained[j]!.checkpoints) {
        if (tags && merged[j]![pass] === 0) continue;
        const params: GenerateChunkParams = {
          chunk: k, pass, checkpoint: rel(ck.path), iteration: ck.iteration,
          seed: seed * 7919 + 31 * k + 100_003 * pass + 7 * ck.iteration + 2, device,
          ...(tags ? { attrFile: rel(attrCleanPath(wd, k, pass)) } : { n: counts[j]! }),
        };
        jobs.push({ id: `generate/chunk-${k}/p${pass}/ckpt-${ck.iteration}`, kind: 'generate-chunk', params: params as unknown as Record<string, unknown>, workdir: wd, scope });
      }
    });
  }
  phase(jobs.length);
  const results = await opts.executor.runAll(jobs, events);
  for (const r of results) if (!r.ok) throw fail(r);
  const t3 = performance.now();
  const candidates = jobs.map((job, i) => {
    const p = job.params as unknown as GenerateChunkParams;
    const r = results[i]!.result as { path: string; records: number; flows: number; duplicateFlows: number };
    // the stage's outcome (the driver's manifest) holds this machine's absolute paths, as postprocess reads them
    return { chunk: p.chunk, pass: p.pass, iteration: p.iteration, ...r, path: inWorkdir(wd, r.path) };
  });
  return {
    chunks: summary.chunks.map((k, j) => ({
      chunk: k,
      startFlows: counts[j]!,
      mergedFlows: tags ? merged[j]! : [counts[j]!],
      duplicateFlows: tags ? duplicates[j]! : [],
      candidates: candidates.filter((c) => c.chunk === k && c.pass === 0).length,
    })),
    passes,
    candidates,
    seconds: { attributes: (t1 - t0) / 1000, merge: (t2 - t1) / 1000, features: (t3 - t2) / 1000 },
  };
}
