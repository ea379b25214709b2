// The generate stage (spec §4.1–4.2): per-chunk attributes sampled in passes until the requested number of unique
// 5-tuples exists, the flow-tag merge (continuations carried into later chunks), the checkpoint chosen per chunk on a
// seeded sample of its flows, then the features of the chosen checkpoint conditioned on the merged attributes, decoded.
import { copyFile, mkdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { ConfigError, expected, InputError, InternalError } from '../errors.js';
import { CompactRows, copyAttributeRows, copyRowsWhere, F32Appender, gatherRows, mergeByFlowTagsFiles, readStoredRows } from './attr-files.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { FILL_OVERSAMPLE, FILL_PART_ROWS, GENERATE_VERSION, LENGTH_CALIBRATION_FLOWS, MAX_FILL_PASSES, RANGE_FLOWS, SAMPLE_BATCH, SELECTION_SAMPLE_FLOWS, SHUFFLE_MEMORY_BYTES, selectionSampleSize } from './generate-settings.js';
export { FILL_OVERSAMPLE, GENERATE_VERSION, MAX_FILL_PASSES, RANGE_FLOWS, SAMPLE_BATCH, SELECTION_SAMPLE_FLOWS };
import { z } from 'zod';
import type { NetShareConfig } from '../config/schema.js';
import { decodeChunk, type DecodedChunk, type DecodeInput, type EncoderSet, type Layout } from '../encode/tensors.js';
import { embeddingRowsOf, nearestRows, snapEmbeddings } from './embedding-decode.js';
import { applyPortRange, chunkPorts, EPHEMERAL_MAX_FLOWS, EPHEMERAL_MIN_PORT, portRange, portRangeFile, portSalts, portSlices, rowKeys, type PortRange, type PortRangeFile } from './ephemeral-ports.js';
import { BIN_SALT, keepSoftBins, softBinPick } from './flow-starts.js';
import { categoricalRng, categoricalSlices, sampleCategoricals, sampleFeatureCategoricals } from './categoricals.js';
export { EPHEMERAL_MAX_FLOWS, EPHEMERAL_MIN_PORT };
import { indexFlows, TupleSet } from '../io/flow-key.js';
import { concatTables, takeRows } from '../io/rows.js';
import { Rng } from '../core/rng.js';
import type { Table } from '../io/table.js';
import type { Device } from '../runtime/session.js';
import type { EndHazardCalibration, FeatureSamplerSessions } from '../model/sample.js';
import { dirname, join } from 'node:path';
import { loadCheckpoint } from './checkpoints.js';
import { attributeProjector } from '../native/project.js';
import { chunkAttributeBlocks, chunkDir, loadChunkLengths, loadChunkMeta, loadEncoders, loadLayout, loadPreprocessSummary, preprocessDir } from './chunk-tensors.js';
import { fingerprint } from './fsutil.js';
import { rankChunkCandidates, selectionMetrics, type ChunkSelection } from './postprocess.js';
import type { Executor, JobResult } from './executor.js';
import { reviveError, type Job, type JobContext } from './jobs.js';
import { relPath, trainedChunk } from './train.js';
import { acquireLease } from './lease.js';
import { attrCleanPath, attrMergedPath, candidatePath, generateRoot, inWorkdir, leaseLogPath, leasePath, readF32, readF32Range, readTableFile, relativeToWorkdir, rowFileRows, writeTableFile } from './workdir.js';
import { RowCodec } from './row-codec.js';

const partPath = (wd: string, k: number, pass: number, iteration: number, part: number): string => `${candidatePath(wd, k, pass, iteration)}.part${part}`;


/** Files of the fill passes and of the selection samples (under <wd>/generate, removed with the stage). */
const acceptedPath = (wd: string, k: number, pass: number, fill: number): string => join(wd, 'generate', 'attr-accepted', `chunk-${k}-p${pass}-f${fill}.f32`);
/** The decoded records of an accept job's rows (its `startsOut`), for the later chunks' unique jobs. */
const acceptedStartsPath = (wd: string, k: number, pass: number, fill: number): string => join(wd, 'generate', 'attr-accepted', `chunk-${k}-p${pass}-f${fill}-starts.nstable`);
const selectionCandidatePath = (wd: string, k: number, iteration: number): string => join(wd, 'generate', 'selection', `chunk-${k}-ckpt-${String(iteration).padStart(9, '0')}.nstable`);

export interface GenerateStageOptions {
  workdir: string;
  config: NetShareConfig;
  executor: Executor;
  /** The workdir's identity (lease.ts workdirIdentity): scopes the job keys. */
  scope: string;
  device?: Device;
  /** Total start flows to generate (default: as many as the input has, held-out flows included); scales every chunk. */
  flows?: number;
  /** Passes over the trace's time span (≥ 1 when --duration asks for more than the input; default 1). */
  passes?: number;
  seed?: number;
  onProgress?: (job: string, fraction: number, info?: string) => void;
  /** Cancels the stage's jobs (runAll rejects with InterruptedError). */
  signal?: AbortSignal;
  /**
   * The real records of the j-th chunk of the preprocess summary (postprocess's chunkRealRows): with it the checkpoint
   * of each chunk is chosen here on a seeded sample and only that one is generated in full; without it (or with
   * `selectOn: 'full'`) every checkpoint is generated in full and postprocess ranks them.
   */
  realChunk?: (j: number) => Promise<Table>;
  selectOn?: 'sample' | 'full';
  /** Flows per chunk and checkpoint of the selection sample, at most (default SELECTION_SAMPLE_FLOWS; selectionSampleSize). */
  selectionSampleFlows?: number;
  /** Bound on the attribute sampling passes (default MAX_FILL_PASSES). */
  maxFillPasses?: number;
  /** Flows per features job (default RANGE_FLOWS) and per generator run (default SAMPLE_BATCH; tests make both small). */
  rangeFlows?: number;
  sampleBatch?: number;
  /**
   * Rows of a fill pass per job (default FILL_PART_ROWS) and per sampling block (default ATTRIBUTE_BLOCK_ROWS; the parts
   * are whole blocks); tests make both small.
   */
  fillSplit?: { partRows: number; blockRows: number };
  /**
   * Keep the stage's intermediate attribute files (attr-accepted with their starts' records, attr-merged, attr-clean,
   * selection; compact rows, 224 bytes each at the netflow preset's layout) for inspection; by default each is removed
   * once spent. (The fill writes no sampled rows: its jobs sample and accept in one pass.)
   */
  keepIntermediates?: boolean;
}

/** How the requested number of flows was reached: attributes sampled in passes until enough unique 5-tuples exist. */
export interface FillReport {
  /**
   * Flows asked for (`--flows`, else the real trace's flows starting in each chunk, summed over time passes, scaled up
   * by the input's flows over its trained ones when a share of the input was held out).
   */
  asked: number;
  /** Unique 5-tuples (flows starting in their chunk) handed to feature generation. */
  unique: number;
  /** unique / asked. */
  share: number;
  /** Attribute rows sampled in all. */
  sampled: number;
  /** Sampling passes the slowest chunk needed, and the bound. */
  passes: number;
  maxPasses: number;
  /** true when some chunk still had fewer unique 5-tuples than asked after the bound (a warning says so). */
  short: boolean;
  /**
   * Per chunk and time pass: asked, accepted, sampled, passes; `stalled` when it stopped before the bound because its
   * last pass added under 2% of what it still missed.
   */
  chunks: { chunk: number; pass: number; asked: number; unique: number; sampled: number; passes: number; stalled?: boolean }[];
}

/** The checkpoint choice of one chunk, made on the per-checkpoint samples. */
export interface SampleSelection {
  chunk: number;
  /** Merged attribute rows of the chunk (pass 0) and how many of them the candidates were generated from. */
  flows: number;
  sampleFlows: number;
  ranking: ChunkSelection;
  /**
   * The ranked tables, one per checkpoint (absolute paths; the full candidates when the sample is every row; the
   * sample tables are removed at the end of the stage unless keepIntermediates).
   */
  candidates: { iteration: number; path: string }[];
}

export interface GenerateStageResult {
  /** Per chunk: attributes sampled, flows after the merge and the duplicate-5-tuple drop (per pass), duplicates dropped. */
  chunks: { chunk: number; startFlows: number; mergedFlows: number[]; duplicateFlows: number[]; candidates: number }[];
  passes: number;
  /** `lengthCalibration`: the stop-draw shifts of postprocess.flowLengths "calibrated" and what they matched. */
  candidates: { chunk: number; pass: number; iteration: number; path: string; records: number; flows: number; duplicateFlows: number; lengthCalibration?: EndHazardCalibration }[];
  /** Attribute sampling in passes until the asked number of unique 5-tuples (absent in workdirs of older versions). */
  fill?: FillReport;
  /** Checkpoints chosen on samples (absent when every checkpoint was generated in full for postprocess to rank). */
  selection?: { on: 'sample'; sampleFlows: number; chunks: SampleSelection[] };
  /** Wall seconds per step; `merge` includes the sample jobs that ran beside the serial unique jobs, `select` the rest. */
  seconds: { attributes: number; merge: number; features: number; select?: number };
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
  /**
   * Dedupe mode: keep the first row of each 5-tuple of the merged attributes `from`, write them to `out`; with
   * `resampleEphemeral`, first give every generated ephemeral port a fresh draw (resampleEphemeralPorts, seeded by `seed`).
   */
  uniqueTuples?: {
    from: string;
    out: string;
    resampleEphemeral?: boolean;
    /**
     * The starts of the earlier chunks of the pass: tuple tables (an accept job's `startsOut`) and how many of their
     * first records count (the accepted rows the merge took); a start whose 5-tuple is among them is dropped.
     */
    earlier?: { path: string; rows: number }[];
    /**
     * The records of this chunk's own starts (its fill job's `startsOut`), which the merge put from row `from` of
     * `from` on: those rows are not decoded again (without `resampleEphemeral`, which changes them first).
     */
    ownRecords?: { path: string; from: number };
    /**
     * Write the kept rows in a random order drawn from this seed (held in memory as stored: compact rows, row-codec.ts), so
     * that the first rows of `out` are a uniform sample of the chunk (the checkpoint selection's) rather than the
     * flows carried from earlier chunks, which the merge puts first.
     */
    shuffle?: number;
    /**
     * Above this many bytes of merged rows (default SHUFFLE_MEMORY_BYTES), the shuffle goes through bucket files
     * instead of memory (ShuffleBuckets: another seeded permutation, memory one bucket).
     */
    memoryBytes?: number;
  };
  /**
   * Fill mode: of the sampled attribute rows `raw`, keep those that start in this chunk (flow tags), give their
   * ephemeral ports fresh draws (`resampleEphemeral`, seeded by `seed`), and append those whose 5-tuple is new to the
   * rows accepted so far (`prev`, already unique); write the result to `out`, and with `startsOut` the decoded records
   * of its rows (a table, one record per row, in row order: the later chunks' unique jobs check their starts on it).
   * `prevStarts` is the previous pass's `startsOut` for `prev`: the 5-tuples seen so far come from it, and `prev`'s
   * rows are copied without being decoded again. Without `raw`, the job samples its rows itself: `n` rows from
   * `checkpoint` with `seed`, as the attribute job would write them (the fill's one job per chunk and pass: no raw file
   * written and read back, no phase boundary between sampling and accepting); the ephemeral draws then take
   * `resampleSeed`.
   */
  accept?: { raw?: string; prev?: string; prevStarts?: string; out: string; resampleEphemeral?: boolean; resampleSeed?: number; startsOut?: string };
  /**
   * A fill job that samples its own rows samples rows [sampleFrom, sampleFrom + n) of the stream `n` rows from 0
   * would give (sampleFrom a multiple of the block size: the same rows, bit for bit): one part of a chunk's pass split
   * across jobs, each accepting within its part; `combine` then keeps the first row of each 5-tuple over the parts.
   */
  sampleFrom?: number;
  /**
   * Combine mode: the accepted rows of a fill split in parts, as one job with no split would have accepted them: `prev`
   * (copied, its records `prevStarts` seeding the 5-tuples seen), then each part's rows (`rows`, one record each in
   * `starts`, the part job's `startsOut`) in order, a row kept when no row before it had its 5-tuple. Writes `out` and
   * its records `startsOut`.
   */
  combine?: { prev?: string; prevStarts?: string; parts: { rows: string; starts: string }[]; out: string; startsOut: string };
  /**
   * Rows per block of the streamed accept and unique jobs (default STREAM_ROWS) and of the attribute job's sampling
   * calls (rounded down to a multiple of 1,000; default ATTRIBUTE_BLOCK_ROWS); tests make it small.
   */
  blockRows?: number;
  /** Where a features job writes its table (default: candidatePath of chunk, pass and iteration). */
  out?: string;
  /** Only rows [from, to) of `attrFile` (from a multiple of `batch`): one range of a chunk split across jobs. */
  range?: { from: number; to: number };
  /** Flows per generator run, each with its own noise stream (default SAMPLE_BATCH). */
  batch?: number;
  /**
   * postprocess.ephemeralPorts "range": the policy file (ephemeral-ports.ts PortRangeFile) every decode of this job
   * draws ephemeral ports by.
   */
  portRange?: string;
  /**
   * postprocess.flowStartBin "sample": sampled attribute rows keep the bin softmax, features are conditioned on its
   * arg-max, the decode draws the bin from it (flow-starts.ts).
   */
  flowStartBin?: 'sample';
  /** postprocess.attributeCategoricals "sample": categorical attribute heads drawn from the softmax (categoricals.ts). */
  categoricals?: 'sample';
  /** postprocess.featureCategoricals "sample": softmax feature heads drawn from the softmax at decode (categoricals.ts). */
  featureCategoricals?: 'sample';
  /** postprocess.stopFlag "sample": a flow's end drawn from its gen flags' softmax (model/postprocess.ts sampleStoppingRule). */
  stopFlag?: 'sample';
  /**
   * postprocess.flowLengths "calibrated": the features' stop draws are shifted, record by record, to the length
   * distribution of the chunk's training flows (calibrateEndHazards on the first LENGTH_CALIBRATION_FLOWS rows of
   * `attrFile`), by `endBias` when given (a flow range of a candidate whose selection sample found them), else by
   * shifts the job finds.
   */
  flowLengths?: 'calibrated';
  endBias?: number[];
  /**
   * postprocess.trainingTuples "reject": the table file of the training flows' 5-tuples (one record each); the fill
   * treats them as taken, so no generated flow repeats a training 5-tuple verbatim.
   */
  trainingTuples?: string;
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
  uniqueTuples: z.strictObject({ from: relPath, out: relPath, resampleEphemeral: z.boolean().optional(), earlier: z.array(z.strictObject({ path: relPath, rows: z.number().int().nonnegative() })).optional(), ownRecords: z.strictObject({ path: relPath, from: z.number().int().nonnegative() }).optional(), shuffle: z.number().int().optional(), memoryBytes: z.number().int().positive().optional() }).optional(),
  accept: z.strictObject({ raw: relPath.optional(), prev: relPath.optional(), prevStarts: relPath.optional(), out: relPath, resampleEphemeral: z.boolean().optional(), resampleSeed: z.number().int().optional(), startsOut: relPath.optional() }).optional(),
  sampleFrom: z.number().int().nonnegative().optional(),
  combine: z.strictObject({ prev: relPath.optional(), prevStarts: relPath.optional(), parts: z.array(z.strictObject({ rows: relPath, starts: relPath })).min(1), out: relPath, startsOut: relPath }).optional(),
  blockRows: z.number().int().positive().optional(),
  out: relPath.optional(),
  range: z.strictObject({ from: z.number().int().nonnegative(), to: z.number().int().nonnegative() }).optional(),
  batch: z.number().int().positive().optional(),
  portRange: relPath.optional(),
  flowStartBin: z.literal('sample').optional(),
  categoricals: z.literal('sample').optional(),
  featureCategoricals: z.literal('sample').optional(),
  stopFlag: z.literal('sample').optional(),
  flowLengths: z.literal('calibrated').optional(),
  endBias: z.array(z.number().finite()).optional(),
  trainingTuples: relPath.optional(),
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

/** The salt of a flow's key for its feature heads' draws (rowKeys). */
const FLOW_KEY_SALT = 0x68e31da4;

/**
 * Generated tensors of chunk `chunk` decoded to a table, the port/protocol embeddings looked up in batches
 * (embedding-decode.ts: the same nearest rows as flow-by-flow decoding).
 */
async function decodeGenerated(
  workdir: string,
  chunk: number,
  t: DecodeInput,
  encoders: EncoderSet,
  policy: DecodePolicy = {},
  tuplesOnly = false,
): Promise<DecodedChunk> {
  const A = t.n > 0 ? t.attributes.length / t.n : 0;
  const embeddingRows = await embeddingRowsOf(encoders, t.attributes, A, t.n);
  const layout = policy.portRange || policy.flowStartBin || policy.featureCategoricals ? await loadLayout(workdir) : undefined;
  const drawCategoricals = policy.featureCategoricals === 'sample' && t.n > 0 && ('packedFeatures' in t || t.T > 1);
  const pickBins = !tuplesOnly && policy.flowStartBin === 'sample';
  // the row keys of every draw below (flow key, flow-start bin, ephemeral ports), in one pass over each row: keyed by
  // the row without its flow tags (a row carried into a later chunk differs only there)
  const keys = layout ? rowKeys(t.attributes, A, layout.attributes.find((a) => a.name === 'flow_tags'), [...(drawCategoricals ? [FLOW_KEY_SALT] : []), ...(pickBins ? [BIN_SALT] : []), ...(policy.portRange ? portSalts(layout) : [])]) : undefined;
  if (drawCategoricals) {
    const key = (f: number): number => Math.floor(keys!(f, FLOW_KEY_SALT)[0] * 2 ** 32);
    if ('packedFeatures' in t) {
      const packedFeatures = t.packedFeatures.slice();
      sampleFeatureCategoricals(packedFeatures, t.n, 0, layout!, key, t.lengths);
      t = { ...t, packedFeatures };
    } else {
      const features = t.features.slice();
      sampleFeatureCategoricals(features, t.n, t.T, layout!, key);
      t = { ...t, features };
    }
  }
  const dec = decodeChunk(t, encoders, await loadChunkMeta(workdir, chunk), {
    embeddingRows,
    ...(tuplesOnly ? { tuplesOnly } : pickBins ? { pickBin: softBinPick(t.attributes, layout!, keys) } : {}),
  });
  if (policy.portRange) applyPortRange(policy.portRange, dec, t.attributes, layout!, keys);
  return dec;
}

/**
 * How generated rows are decoded beyond NetShare's inverse encoders (postprocess.ephemeralPorts "range":
 * ephemeral-ports.ts; postprocess.flowStartBin "sample": flow-starts.ts). Both draw by a hash of the row, so every
 * decode of a row agrees.
 */
export interface DecodePolicy {
  portRange?: PortRange;
  /** The rows' bin slices hold the generator's softmax: the decode draws the bin from it (flow-starts.ts). */
  flowStartBin?: 'sample';
  /** The features' softmax heads are drawn from, not arg-maxed (categoricals.ts sampleFeatureCategoricals). */
  featureCategoricals?: 'sample';
  /** postprocess.trainingTuples "reject": the training flows' 5-tuples, which uniqueTupleRows treats as taken. */
  trainingTuples?: { table: Table; set: TupleSet };
}

const portRanges = new Map<string, Promise<PortRange>>();

/**
 * A per-process cache key of a file: its path and what a rewrite changes (a long-lived worker serves later runs, whose
 * generate stage writes these files anew: a path alone would hand it the previous run's policy). A file that cannot
 * be read gets its path only: the read then fails with its own error.
 */
export function fileIdentity(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${file}\u0000${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return file;
  }
}

const trainingTupleSets = new Map<string, Promise<{ table: Table; set: TupleSet }>>();

/**
 * The decode policy a job's params name (the port-range file read once per process); `fill`: the job deduplicates the
 * fill's rows, so it also gets the training 5-tuples (postprocess.trainingTuples), which only the fill uses.
 */
function decodePolicy(wd: string, p: Pick<GenerateChunkParams, 'portRange' | 'flowStartBin' | 'featureCategoricals' | 'trainingTuples'>, fill = false): Promise<DecodePolicy> | DecodePolicy {
  const bin = { ...(p.flowStartBin ? { flowStartBin: p.flowStartBin } : {}), ...(p.featureCategoricals ? { featureCategoricals: p.featureCategoricals } : {}) };
  const tuplesFile = fill ? p.trainingTuples : undefined;
  if (p.portRange === undefined && tuplesFile === undefined) return bin;
  let range: Promise<PortRange> | undefined;
  if (p.portRange !== undefined) {
    const file = inWorkdir(wd, p.portRange);
    const key = fileIdentity(file);
    range = portRanges.get(key);
    if (!range) {
      range = readFile(file, 'utf8').then((s) => portRange(JSON.parse(s) as PortRangeFile));
      portRanges.set(key, range);
      range.catch(() => portRanges.delete(key));
    }
  }
  let tuples: Promise<{ table: Table; set: TupleSet }> | undefined;
  if (tuplesFile !== undefined) {
    const file = inWorkdir(wd, tuplesFile);
    const key = fileIdentity(file);
    tuples = trainingTupleSets.get(key);
    if (!tuples) {
      tuples = readTableFile(file).then((table) => {
        const set = new TupleSet(table.length);
        for (let i = 0; i < table.length; i++) set.add(table, i);
        return { table, set };
      });
      trainingTupleSets.set(key, tuples);
      tuples.catch(() => trainingTupleSets.delete(key));
    }
  }
  return Promise.all([range, tuples]).then(([r, t]) => ({ ...bin, ...(r ? { portRange: r } : {}), ...(t ? { trainingTuples: t } : {}) }));
}

/** Zeros the record features of decodeAttributeRows are read from (never written). */
let zeroFeatures = new Float32Array(0);

/**
 * Attribute rows [n, A] decoded as one record each (no features): their 5-tuples, row `flowOf[i]` for record i. The
 * records hold nothing else (decodeChunk's tuplesOnly: times and fields 0).
 */
function decodeAttributeRows(workdir: string, chunk: number, rows: Float32Array, A: number, F: number, encoders: EncoderSet, policy: DecodePolicy = {}): Promise<DecodedChunk> {
  const n = rows.length / A;
  if (zeroFeatures.length < n * F) zeroFeatures = new Float32Array(n * F);
  return decodeGenerated(workdir, chunk, { attributes: rows, features: zeroFeatures.subarray(0, n * F), valid: new Uint8Array(n).fill(1), n, T: 1 }, encoders, policy, true);
}

/**
 * Rows of merged attributes [n, A] whose 5-tuple is the first of its kind. The 5-tuple depends on the attributes
 * only, so dropping duplicates here — once per chunk, before the features are generated for every checkpoint — keeps
 * exactly the flows the per-candidate rule would keep, at a fraction of the sampling and decoding work.
 */
export async function uniqueTupleRows(workdir: string, chunk: number, rows: Float32Array, A: number, F: number, encoders: EncoderSet, policy: DecodePolicy = {}, earlier?: EarlierStarts): Promise<Uint32Array> {
  const f = new FirstOfTuples(workdir, chunk, A, F, encoders, policy);
  if (earlier) f.earlier = { set: earlier.set, isStart: (_, r) => earlier.isStart(r) };
  return Uint32Array.from(await f.select(rows));
}

/** The 5-tuples of flows that started in earlier chunks, and which rows of this chunk are starts (the others continue one). */
export interface EarlierStarts {
  set: TupleSet;
  isStart(row: number): boolean;
}

/**
 * postprocess.ephemeralPorts = "resample": every port of the merged attribute rows [n, A] that decodes to an ephemeral
 * port (≥ EPHEMERAL_MIN_PORT and used by at most EPHEMERAL_MAX_FLOWS of the chunk's training flows, or by none) is
 * replaced, in place, by a uniform draw from the chunk's real ephemeral ports (their embedding written into the row,
 * so every later decode yields the drawn port), as an OS allocates a client port. Service ports (80, 443, 53, 8080 …
 * used by more flows) stay as the model generated them. Why: see ephemeral-ports.ts. Returns how many ports were
 * drawn anew.
 */
export async function resampleEphemeralPorts(wd: string, chunk: number, rows: Float32Array, layout: Layout, encoders: EncoderSet, seed: number): Promise<number> {
  if (rows.length === 0) return 0;
  const resample = await ephemeralResampler(wd, chunk, layout, encoders, seed);
  return resample ? resample(rows) : 0;
}

/**
 * resampleEphemeralPorts over rows given in blocks: the function draws for each block in turn from one random stream,
 * so blocks given in order draw what one call on all their rows draws. Undefined when no port is ever drawn anew.
 */
async function ephemeralResampler(wd: string, chunk: number, layout: Layout, encoders: EncoderSet, seed: number): Promise<((rows: Float32Array) => Promise<number>) | undefined> {
  const ports = encoders.ports;
  const slices = portSlices(layout);
  const A = layout.attributeDim;
  if (!ports || slices.length === 0) return undefined;
  const { flowsOf, ephemeral } = await chunkPorts(wd, chunk, layout, ports);
  const pool = [...flowsOf.keys()].filter((v) => ephemeral(v) && ports.has(v)).sort((a, b) => a - b);
  if (pool.length === 0) return undefined;
  const rng = Rng.forPurpose(seed, 'generate/ephemeral-ports');
  return async (rows) => {
    const n = rows.length / A;
    let drawn = 0;
    const decoded = await Promise.all(slices.map((sl) => nearestRows(ports, rows, A, sl.offset, n)));
    for (let r = 0; r < n; r++) {
      for (const [s, sl] of slices.entries()) {
        const off = r * A + sl.offset;
        if (!ephemeral(ports.values[decoded[s]![r]!]!)) continue;
        ports.encode(pool[rng.int(pool.length)]!, rows, off);
        drawn++;
      }
    }
    return drawn;
  };
}

/**
 * Attribute rows per block of the fill's attribute job: each block's categorical draws are one stream (changing it
 * changes the draws; the generator's calls within a block do not). A split fill's parts are whole blocks, so small
 * blocks let them be of equal size (128k until GENERATE_VERSION 9).
 */
export const ATTRIBUTE_BLOCK_ROWS = 16_000;

/**
 * Rows per block of the streamed accept and unique jobs (~46 MB of float32 rows at the netflow preset's A = 696; the
 * jobs keep a few copies of a block). The rows written do not depend on it.
 */
export const STREAM_ROWS = 16_384;
/**
 * Rows per attribute generator call of an attribute job (a multiple of its 1,000-flow batch): with 128,000 (the whole
 * block) a job held ~1.5 GB at A = 696; the rows are the same either way.
 */
export const ATTRIBUTE_CALL_ROWS = 16_000;

/** A file of rows [n, A] (float32 or compact: row-codec.ts) in blocks of at most STREAM_ROWS rows. */
async function* f32Blocks(path: string, A: number, rowsPerBlock = STREAM_ROWS): AsyncGenerator<Float32Array> {
  const n = await rowFileRows(path, A);
  for (let r = 0; r < n; r += rowsPerBlock) yield readF32Range(path, r * A, Math.min(n, r + rowsPerBlock) * A);
}

/**
 * uniqueTupleRows over rows given in blocks: `keep(block)` returns the block's rows whose 5-tuple no earlier row of
 * this or an earlier block had, in order (the same rows uniqueTupleRows keeps of all blocks concatenated: a row's
 * 5-tuple depends on that row only).
 */
class FirstOfTuples {
  private readonly seen = new TupleSet();
  /** Rows kept so far. */
  kept = 0;
  /** Flows started in earlier chunks: a start (isStart) whose 5-tuple is among them is dropped (select). */
  earlier?: { set: TupleSet; isStart(rows: Float32Array, row: number): boolean };
  /** Which kept rows' decoded records startsTable() collects (the starts). */
  collectStarts?: (rows: Float32Array, row: number) => boolean;
  private readonly startParts: Table[] = [];
  constructor(
    private readonly wd: string,
    private readonly chunk: number,
    private readonly A: number,
    private readonly F: number,
    private readonly encoders: EncoderSet,
    private readonly policy: DecodePolicy,
  ) {}
  async keep(rows: Float32Array, known?: Table): Promise<Float32Array> {
    const keep = await this.select(rows, known);
    return keep.length === rows.length / this.A ? rows : takeAttributeRows(rows, this.A, keep);
  }
  /**
   * The rows of the block to keep, ascending: not a training 5-tuple (postprocess.trainingTuples "reject"), not a start
   * whose 5-tuple started a flow in an earlier chunk (a 5-tuple is one flow over the whole trace: two generated flows
   * sharing one — ephemeral ports drawn from a real range collide by the birthday bound — would read as one flow with a
   * gap of up to the trace's length and two TTLs), and the first row of its 5-tuple.
   */
  async select(rows: Float32Array, known?: Table): Promise<number[]> {
    if (rows.length === 0) return [];
    // `known`: the rows' records decoded already (the same policies, one per row, in order)
    if (known && known.length !== rows.length / this.A) throw new InternalError(`${known.length} known records for ${rows.length / this.A} rows`);
    if (known) return this.pick(known, undefined, (row) => this.earlier!.isStart(rows, row), (row) => this.collectStarts!(rows, row));
    const dec = await decodeAttributeRows(this.wd, this.chunk, rows, this.A, this.F, this.encoders, this.policy);
    return this.pick(dec.table, dec.flowOf, (row) => this.earlier!.isStart(rows, row), (row) => this.collectStarts!(rows, row));
  }
  /**
   * select() over records already decoded, one per row (`flowOf`: record → row; the identity when absent), in row
   * order; `isStart(row)` answers for `earlier`, `collect(row)` for collectStarts (each asked only when that is set).
   * Without `flowOf`, records [from, to) of `table` are rows 0, 1, … (the unique job: its stored rows' own records, their
   * start flags read from the stored bytes; no row is decoded).
   */
  pick(table: Table, flowOf: ArrayLike<number> | undefined, isStart: (row: number) => boolean, collect: (row: number) => boolean, from = 0, to = table.length): number[] {
    const keep: number[] = [];
    const taken = this.policy.trainingTuples?.set;
    const earlier = this.earlier;
    const collectStarts = this.collectStarts;
    const collected: number[] = [];
    for (let i = from; i < to; i++) {
      const row = flowOf ? flowOf[i]! : i - from;
      if (taken?.has(table, i)) continue;
      if (earlier && isStart(row) && earlier.set.has(table, i)) continue;
      if (!this.seen.add(table, i)) continue;
      keep.push(row);
      if (collectStarts && collect(row)) collected.push(i);
    }
    if (collected.length) this.startParts.push(takeRows(table, Uint32Array.from(collected)));
    this.kept += keep.length;
    return keep;
  }
  /** Rows kept before, given by their records (in row order): their 5-tuples are seen, and collected as starts. */
  seed(records: Table): void {
    for (let i = 0; i < records.length; i++) this.seen.add(records, i);
    this.kept += records.length;
    if (this.collectStarts && records.length > 0) this.startParts.push(records);
  }
  /** The collected starts' decoded records (one per kept start), for the later chunks' check. */
  startsTable(kind: Table['kind']): Table {
    return concatTables(kind, this.startParts);
  }
}

/**
 * The attribute job's rows: `p.n` attribute rows from `p.checkpoint` with `p.seed`, discrete (their categorical heads
 * drawn, the bins' softmax kept, as the policies say), in calls of ATTRIBUTE_CALL_ROWS rows. Sampled in blocks of
 * ATTRIBUTE_BLOCK_ROWS (a multiple of the generator's batch, whose noise is drawn per batch: the rows of one call for
 * all n), each block's categorical draws one stream, continued over its calls (memory: two float32 copies of a call,
 * ~90 MB at A = 696).
 */
async function* sampledAttributeBlocks(p: GenerateChunkParams, ctx: Pick<JobContext, 'workdir' | 'threads'>, layout: Layout, only?: (rows: Float32Array, row: number) => boolean): AsyncGenerator<Float32Array> {
  const { attributeSampler } = await import('../model/index.js');
  const checkpoint = await loadCheckpoint(inWorkdir(ctx.workdir, p.checkpoint));
  const batch = 1000;
  const block = Math.max(batch, Math.floor((p.blockRows ?? ATTRIBUTE_BLOCK_ROWS) / batch) * batch);
  const call = Math.min(block, ATTRIBUTE_CALL_ROWS);
  // a part of a split fill: rows [first, first + n) of the stream (its blocks are the whole job's blocks)
  const first = p.sampleFrom ?? 0;
  if (first % block !== 0) throw new ConfigError(expected(`a multiple of the sampling block (${block} rows)`, 'sampleFrom', first), 'sampleFrom');
  const n = first + (p.n ?? 0);
  // each call's rows are consumed before the next call: the sampler's buffers are reused
  // the fields drawn here (categoricals) or kept soft (the bins) come from the graph as softmax values, without arg-max
  const soft = new Set<number>([
    ...(p.categoricals === 'sample' ? categoricalSlices(layout).map((s) => s.offset) : []),
    ...(p.flowStartBin === 'sample' ? layout.attributes.filter((a) => a.name === 'flow_start_bin').map((a) => a.offset) : []),
  ]);
  const sampler = await attributeSampler({ checkpoint, batchSize: batch, seed: p.seed, device: p.device, threads: ctx.threads, reuseBuffers: true, ...(soft.size > 0 ? { soft } : {}) });
  try {
    for (let at = first; at === first || at < n; at += block) {
      const rng = categoricalRng(p.seed, at);
      const end = Math.min(n, at + block);
      for (let from = at; from === at || from < end; from += call) {
        const s = await sampler.sample(Math.min(call, end - from), from);
        if (p.flowStartBin === 'sample') keepSoftBins(s.attributes, s.attributesDiscrete, layout);
        if (p.categoricals === 'sample') sampleCategoricals(s.attributes, s.attributesDiscrete, layout, p.seed, at, rng, only && ((r) => only(s.attributesDiscrete, r)));
        yield s.attributesDiscrete;
      }
    }
  } finally {
    await sampler.release();
  }
}

/** The combine job (GenerateChunkParams.combine). */
async function combineFillParts(wd: string, c: NonNullable<GenerateChunkParams['combine']>, ctx: Pick<JobContext, 'progress'>): Promise<{ accepted: number; added: number }> {
  const layout = await loadLayout(wd);
  const A = layout.attributeDim;
  const codec = RowCodec.forAttributes(layout);
  const out = await F32Appender.open(inWorkdir(wd, c.out), codec);
  const seen = new TupleSet();
  const records: Table[] = [];
  let prevRows = 0;
  let kept = 0;
  try {
    if (c.prev !== undefined) {
      if (c.prevStarts === undefined) throw new ConfigError('a combine job with `prev` needs its records `prevStarts`', 'combine.prevStarts');
      const known = await readTableFile(inWorkdir(wd, c.prevStarts));
      prevRows = await copyRowsWhere(inWorkdir(wd, c.prev), undefined, A, out, codec);
      if (known.length !== prevRows) throw new InputError(`${c.prevStarts} holds ${known.length} records for the ${prevRows} rows of ${c.prev}`, inWorkdir(wd, c.prevStarts));
      for (let i = 0; i < known.length; i++) seen.add(known, i);
      records.push(known);
      kept = prevRows;
    }
    for (const part of c.parts) {
      const recs = await readTableFile(inWorkdir(wd, part.starts));
      const rows = await rowFileRows(inWorkdir(wd, part.rows), A);
      if (recs.length !== rows) throw new InputError(`${part.starts} holds ${recs.length} records for the ${rows} rows of ${part.rows}`, inWorkdir(wd, part.starts));
      const keep = new Uint8Array(rows);
      let k = 0;
      for (let i = 0; i < rows; i++) if (seen.add(recs, i)) (keep[i] = 1), k++;
      await copyRowsWhere(inWorkdir(wd, part.rows), k === rows ? undefined : keep, A, out, codec);
      const idx = new Uint32Array(k);
      for (let i = 0, j = 0; i < rows; i++) if (keep[i]) idx[j++] = i;
      records.push(k === rows ? recs : takeRows(recs, idx));
      kept += k;
    }
    await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  }
  await writeTableFile(inWorkdir(wd, c.startsOut), concatTables(records[0]?.kind ?? 'flows', records));
  ctx.progress(1, `${kept - prevRows} new 5-tuples over ${c.parts.length} parts`);
  return { accepted: kept, added: kept - prevRows };
}

/** Two blocks of rows one after the other. */
function concatRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const encoderSets = new Map<string, Promise<EncoderSet>>();

/**
 * The workdir's encoders, read once per process (per file identity of encoders.json, as the decode policies' files):
 * building the port vocabulary's index was ~17 ms of every job. Read-only to their users.
 */
export function encodersOf(wd: string): Promise<EncoderSet> {
  const key = fileIdentity(join(preprocessDir(wd), 'encoders.json'));
  let e = encoderSets.get(key);
  if (!e) {
    // a worker serving other workdirs keeps the last two
    for (const k of [...encoderSets.keys()].slice(0, Math.max(0, encoderSets.size - 1))) encoderSets.delete(k);
    e = loadEncoders(wd);
    encoderSets.set(key, e);
    e.catch(() => encoderSets.delete(key));
  }
  return e;
}

/** Idle checkpoints whose feature sessions a process keeps (featureSessions): a chunk's selection runs two. */
const FEATURE_SESSIONS_KEPT = 4;
const featureSessions = new Map<string, { users: number; value: Promise<FeatureSamplerSessions> }>();

/**
 * The checkpoint at `path` read and its step-wise feature sessions made once per process (per file identity: a
 * rewritten checkpoint is read anew; device; threads), held by the caller until `done()`. A features job of 20k flows
 * took ~80 ms more than its flows: reading and hashing the checkpoint, building its three graphs and sessions, the
 * encoders (encodersOf) — ~40 job-seconds over the ~500 jobs of `--flows 10000000`. The idle entries beyond
 * FEATURE_SESSIONS_KEPT are released, oldest first.
 */
export async function holdFeatureSessions(path: string, device: Device, threads: number | undefined): Promise<{ sessions: FeatureSamplerSessions; done: () => void }> {
  const { featureSamplerSessions, projectionInputs } = await import('../model/index.js');
  // no await from here to the entry's insertion: two jobs of one process asking at once share one entry
  const key = `${fileIdentity(path)}\u0000${device}\u0000${threads ?? ''}`;
  let e = featureSessions.get(key);
  if (e) featureSessions.delete(key); // re-inserted as the newest
  else {
    // on the CPU the attribute rows are projected by the native addon (attributeProjector: sparse rows, a third of the
    // projection graph's time)
    const value = loadCheckpoint(path).then((ck) => {
      const inputs = device === 'cpu' ? projectionInputs(ck) : undefined;
      return featureSamplerSessions(ck, { device, ...(threads !== undefined ? { threads } : {}), ...(inputs ? { project: attributeProjector(inputs.fields, inputs.wa, inputs.bias) } : {}) });
    });
    e = { users: 0, value };
    value.catch(() => featureSessions.delete(key));
  }
  featureSessions.set(key, e);
  e.users++;
  const entry = e;
  let sessions: FeatureSamplerSessions;
  try {
    sessions = await entry.value;
  } catch (err) {
    entry.users--;
    throw err;
  }
  return {
    sessions,
    done: () => {
      entry.users--;
      const idle = [...featureSessions].filter(([, x]) => x.users === 0);
      for (const [k, x] of idle.slice(0, Math.max(0, idle.length - FEATURE_SESSIONS_KEPT))) {
        featureSessions.delete(k);
        void x.value.then((s) => s.release()).catch(() => undefined);
      }
    },
  };
}

/** The `generate-chunk` job: sample (conditioned on the merged attributes), decode, drop duplicate 5-tuples. */
export async function generateChunkJob(p: GenerateChunkParams, ctx: Pick<JobContext, 'workdir' | 'threads' | 'progress'> & { key?: string }): Promise<unknown> {
  // one runner per output file (a stalled job delivered twice): the outputs are written atomically anyway, the lease
  // keeps a second runner from spending the work twice and from racing the first one's rename
  const base = (f: string): string => f.split('/').at(-1)!.replace(/\.[a-z0-9]+$/, '');
  const what = p.accept ? `accept-${base(p.accept.out)}` : p.uniqueTuples ? 'unique' : p.attributesOnly ? `attributes-${base(p.attributesOnly.out)}` : p.out ? p.out.split('/').at(-1)! : `ckpt-${p.iteration}`;
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
  if (p.combine) return combineFillParts(wd, p.combine, ctx);
  if (p.accept) {
    // streamed in blocks of rows (memory: a block, not the chunk): the rows accepted so far, then the sampled rows
    // that start in this chunk, snapped, their ephemeral ports drawn, kept when their 5-tuple is new (uniqueTupleRows
    // over prev ++ starts, block by block: a row's 5-tuple depends on that row only)
    const layout = await loadLayout(wd);
    const A = layout.attributeDim;
    const encoders = await encodersOf(wd);
    const tags = tagOffsets(layout);
    const firsts = new FirstOfTuples(wd, p.chunk, A, layout.featureDim, encoders, await decodePolicy(wd, p, true));
    const resample = p.accept.resampleEphemeral ? await ephemeralResampler(wd, p.chunk, layout, encoders, p.accept.resampleSeed ?? p.seed) : undefined;
    if (p.accept.startsOut !== undefined) firsts.collectStarts = () => true;
    if (p.accept.raw === undefined && (p.n === undefined || !p.checkpoint)) throw new ConfigError('an accept job without `raw` samples its rows: it needs `n` and `checkpoint`', 'accept.raw');
    // (sampling here, the categorical heads are drawn for the rows that start in the chunk only: the others, which keep
    // the heads' softmax values, are dropped before anything reads or stores them)
    const starting = tags ? (rows: Float32Array, r: number): boolean => isOne(rows, r * A + tags.start) && isOne(rows, r * A + tags.chunk(p.chunk)) : undefined;
    const rawBlocks = p.accept.raw !== undefined ? f32Blocks(inWorkdir(wd, p.accept.raw), A, p.blockRows) : sampledAttributeBlocks(p, ctx, layout, starting);
    const out = await F32Appender.open(inWorkdir(wd, p.accept.out), RowCodec.forAttributes(layout));
    let prevRows = 0;
    let sampled = 0;
    let starts = 0;
    let resampled = 0;
    try {
      // `prev` is unique already, so its rows are all first occurrences and stay in front, in order; with their
      // records (prevStarts) they are copied and their 5-tuples taken from the records, else decoded again
      if (p.accept.prev !== undefined) {
        const known = p.accept.prevStarts !== undefined ? await readTableFile(inWorkdir(wd, p.accept.prevStarts)) : undefined;
        // with the records, the rows are copied (as stored when compact), else decoded block by block
        if (known) prevRows = await copyRowsWhere(inWorkdir(wd, p.accept.prev), undefined, A, out, RowCodec.forAttributes(layout));
        else {
          for await (const block of f32Blocks(inWorkdir(wd, p.accept.prev), A, p.blockRows)) {
            prevRows += block.length / A;
            await out.append(await firsts.keep(block));
          }
        }
        if (known) {
          if (known.length !== prevRows) throw new InputError(`${p.accept.prevStarts} holds ${known.length} records for the ${prevRows} rows of ${p.accept.prev}`, inWorkdir(wd, p.accept.prevStarts!));
          firsts.seed(known);
        }
      }
      for await (const raw of rawBlocks) {
        sampled += raw.length / A;
        const st = tags ? startingRows(raw, A, tags, p.chunk) : raw;
        starts += st.length / A;
        // the one search over the port/protocol vocabularies these rows get: every later decode is an exact hit
        await snapEmbeddings(encoders, st, A, st.length / A);
        if (resample) resampled += await resample(st);
        await out.appendRows(st, A, await firsts.select(st));
      }
      await out.close();
      if (p.accept.startsOut !== undefined) await writeTableFile(inWorkdir(wd, p.accept.startsOut), firsts.startsTable(encoders.dataset === 'pcap' ? 'packets' : 'flows'));
    } catch (err) {
      await out.abort();
      throw err;
    }
    ctx.progress(1, `${firsts.kept - prevRows} new 5-tuples of ${sampled} sampled`);
    return { sampled, starts, accepted: firsts.kept, added: firsts.kept - prevRows, resampledPorts: resampled };
  }
  if (p.uniqueTuples) {
    // streamed in blocks of rows, as the accept job
    const layout = await loadLayout(wd);
    const A = layout.attributeDim;
    const encoders = await encodersOf(wd);
    const tags = tagOffsets(layout);
    const firsts = new FirstOfTuples(wd, p.chunk, A, layout.featureDim, encoders, await decodePolicy(wd, p, true));
    // the 5-tuples of the flows that started in earlier chunks (the first `rows` records of their accept jobs' starts
    // tables: the rows the merge took): a start among them is dropped
    if (tags && p.uniqueTuples.earlier?.length) {
      // sized for all of them at once (growing by doubling held the old table beside the new: ~0.5 GB at 8M starts)
      const set = new TupleSet(p.uniqueTuples.earlier.reduce((a, f) => a + f.rows, 0));
      for (const f of p.uniqueTuples.earlier) {
        const t = await readTableFile(inWorkdir(wd, f.path));
        if (t.length < f.rows) throw new InputError(`${f.path} holds ${t.length} starts, ${f.rows} were asked for`, inWorkdir(wd, f.path));
        for (let i = 0; i < f.rows; i++) set.add(t, i);
      }
      firsts.earlier = { set, isStart: (rows, r) => isOne(rows, r * A + tags.start) };
    }
    const resample = p.uniqueTuples.resampleEphemeral ? await ephemeralResampler(wd, p.chunk, layout, encoders, p.seed) : undefined;
    const codec = RowCodec.forAttributes(layout);
    const outPath = inWorkdir(wd, p.uniqueTuples.out);
    const out = await F32Appender.open(outPath, codec);
    let rows = 0;
    let starts = 0;
    let resampled = 0;
    // the kept rows to shuffle, as stored (compact: 224 bytes a row at the netflow preset's A = 696, not 2,784)
    const held: Uint8Array[] = [];
    const rowBytes = codec?.rowBytes ?? 4 * A;
    const stored = (a: Float32Array): Uint8Array => (codec ? codec.encode(a, outPath) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const from = inWorkdir(wd, p.uniqueTuples.from);
    const shuffle = p.uniqueTuples.shuffle;
    // a chunk too large to shuffle in memory: through bucket files of half that size (the merged rows bound the unique ones)
    const memory = p.uniqueTuples.memoryBytes ?? SHUFFLE_MEMORY_BYTES;
    const bytes = shuffle !== undefined ? rowBytes * (await rowFileRows(from, A)) : 0;
    const buckets = bytes > memory ? await ShuffleBuckets.open(outPath, rowBytes, shuffle!, Math.ceil((2 * bytes) / memory), codec) : undefined;
    const own = p.uniqueTuples.ownRecords !== undefined && !resample ? { table: await readTableFile(inWorkdir(wd, p.uniqueTuples.ownRecords.path)), from: p.uniqueTuples.ownRecords.from } : undefined;
    const range = (a: number, b: number): Uint32Array => Uint32Array.from({ length: b - a }, (_, i) => a + i);
    // a compact file moves as stored: the chunk's own starts are never decoded (their records are known, their start
    // flags are bytes of the stored row), the carried rows are decoded for their 5-tuples only, and the kept rows' bytes
    // are copied (the same rows as decoding every row and encoding the kept ones again)
    const startByte = tags && codec ? codec.flagByte(tags.start) : undefined;
    const compact = codec && !resample && (!tags || startByte !== undefined) ? await CompactRows.open(from, codec) : undefined;
    try {
      const perBlock = p.blockRows ?? STREAM_ROWS;
      for (let at = 0; compact && at < compact.rows; at += perBlock) {
        const n = Math.min(perBlock, compact.rows - at);
        const bytes = await compact.read(at, n);
        rows += n;
        const cut = own ? Math.min(n, Math.max(0, own.from - at)) : n;
        const keep: number[] = cut > 0 ? await firsts.select(codec!.decode(bytes.subarray(0, cut * rowBytes), cut, from)) : [];
        if (cut < n) {
          if (own!.table.length < rows - own!.from) throw new InputError(`${p.uniqueTuples.ownRecords!.path} holds ${own!.table.length} records; row ${rows - 1} of ${p.uniqueTuples.from} needs ${rows - own!.from}`, inWorkdir(wd, p.uniqueTuples.ownRecords!.path));
          const o = at + cut - own!.from;
          const kept = firsts.pick(own!.table, undefined, (r) => bytes[(cut + r) * rowBytes + startByte!] === 1, () => false, o, o + n - cut);
          for (const r of kept) keep.push(cut + r);
        }
        const stored = gatherRows(bytes, rowBytes, keep);
        if (startByte !== undefined) for (const r of keep) starts += bytes[r * rowBytes + startByte]!;
        if (buckets) await buckets.add(stored);
        else if (shuffle !== undefined) held.push(stored);
        else await out.appendStored(stored);
      }
      for await (const block of compact ? [] : f32Blocks(from, A, p.blockRows)) {
        const at = rows;
        rows += block.length / A;
        if (resample) resampled += await resample(block);
        let unique: Float32Array;
        if (own && rows > own.from) {
          // the carried rows decoded, the chunk's own starts read from their records
          const cut = Math.max(0, own.from - at);
          const tail = rows - Math.max(at, own.from);
          if (own.table.length < rows - own.from) throw new InputError(`${p.uniqueTuples.ownRecords!.path} holds ${own.table.length} records; row ${rows - 1} of ${p.uniqueTuples.from} needs ${rows - own.from}`, inWorkdir(wd, p.uniqueTuples.ownRecords!.path));
          const head = cut > 0 ? await firsts.keep(block.subarray(0, cut * A)) : new Float32Array(0);
          const rest = await firsts.keep(block.subarray(cut * A), takeRows(own.table, range(at + cut - own.from, at + cut - own.from + tail)));
          unique = head.length === 0 ? rest : rest.length === 0 ? head : concatRows(head, rest);
        } else unique = await firsts.keep(block);
        if (tags) for (let r = 0; r < unique.length / A; r++) if (isOne(unique, r * A + tags.start)) starts++;
        if (buckets) await buckets.add(stored(unique));
        else if (shuffle !== undefined) held.push(stored(unique));
        else await out.append(unique);
      }
      if (buckets) await buckets.drain(out, p.blockRows ?? STREAM_ROWS);
      else if (shuffle !== undefined) await appendShuffled(out, held, rowBytes, shuffle, p.blockRows ?? STREAM_ROWS);
      await out.close();
    } catch (err) {
      await out.abort();
      throw err;
    } finally {
      await buckets?.remove();
      await compact?.close();
    }
    if (!tags) starts = firsts.kept;
    ctx.progress(1, `${firsts.kept} unique of ${rows}${p.uniqueTuples.resampleEphemeral ? `, ${resampled} ephemeral ports drawn anew` : ''}`);
    return { merged: rows, unique: firsts.kept, starts, resampledPorts: resampled };
  }
  const { sample, sampleFeatures, calibrateEndHazards } = await import('../model/index.js');
  if (p.attributesOnly) {
    // the attribute generator alone (no features: the fill only looks at 5-tuples; the kept rows get their features
    // in step 4); the rows equal those of a full sample() with the same seed
    const layout = await loadLayout(wd);
    const n = p.n ?? 0;
    const out = await F32Appender.open(inWorkdir(wd, p.attributesOnly.out), RowCodec.forAttributes(layout));
    try {
      for await (const rows of sampledAttributeBlocks(p, ctx, layout)) await out.append(rows);
      await out.close();
    } catch (err) {
      await out.abort();
      throw err;
    }
    ctx.progress(1, `${n} attributes`);
    return { n };
  }
  const out = p.out !== undefined ? inWorkdir(wd, p.out) : candidatePath(wd, p.chunk, p.pass, p.iteration);
  // a flow range reads its rows only (not the chunk's whole file)
  const A = p.range ? (await loadLayout(wd)).attributeDim : 0;
  const given = p.attrFile === undefined ? undefined : p.range ? await readF32Range(inWorkdir(wd, p.attrFile), p.range.from * A, p.range.to * A) : await readF32(inWorkdir(wd, p.attrFile));
  const batch = { batchSize: p.batch ?? SAMPLE_BATCH, firstFlow: p.range?.from ?? 0 };
  const encoders: EncoderSet = await encodersOf(wd);
  let input: DecodeInput;
  let calibration: EndHazardCalibration | undefined;
  if (given !== undefined) {
    // the checkpoint and its feature sessions as this process keeps them, held until sampled
    const held = await holdFeatureSessions(inWorkdir(wd, p.checkpoint), p.device ?? 'cpu', ctx.threads);
    try {
      const { sessions } = held;
      const common = { checkpoint: sessions.checkpoint, sessions, seed: p.seed, device: p.device, threads: ctx.threads, ...batch, ...(p.stopFlag ? { stop: p.stopFlag } : {}) };
      // flowStartBin "sample": the rows carry the bin softmax; the features are conditioned on its arg-max, which the
      // sampler's projection graph takes itself (discreteOf over every softmax field, ties to the first; flow-starts.ts)
      let endBias = p.endBias;
      if (p.flowLengths === 'calibrated' && endBias === undefined) {
        // the chunk's first rows, whatever the range: every job of a candidate finds the same shifts
        const layout = await loadLayout(wd);
        const A = layout.attributeDim;
        const file = inWorkdir(wd, p.attrFile!);
        const rows = Math.min(await rowFileRows(file, A), LENGTH_CALIBRATION_FLOWS);
        const head = p.range ? await readF32Range(file, 0, rows * A) : undefined;
        calibration = await calibrateEndHazards({
          ...common,
          // the given rows hold the chunk's first rows when this is no range
          givenAttributes: head === undefined ? given.subarray(0, rows * A) : head,
          firstFlow: 0,
          realLengths: await loadChunkLengths(wd, p.chunk),
        });
        endBias = calibration.bias;
      }
      // one LSTM step at a time, only the emitted records (the same records as sample() with these rows)
      const s = await sampleFeatures({ ...common, givenAttributes: given, ...(endBias !== undefined ? { endBias } : {}) });
      // the decode policies hash the given rows: the same rows the fill passes deduplicated on
      input = { attributes: given, packedFeatures: s.packedFeatures, lengths: s.lengths, n: s.n };
    } finally {
      held.done();
    }
  } else {
    const checkpoint = await loadCheckpoint(inWorkdir(wd, p.checkpoint));
    const s = await sample({ checkpoint, seed: p.seed, device: p.device, threads: ctx.threads, ...batch, ...(p.stopFlag ? { stop: p.stopFlag } : {}), n: p.n ?? 0 });
    // without given rows the features came from the graph's arg-max rows; the decode still draws the categoricals
    let rows = s.attributes;
    if (p.categoricals === 'sample') {
      rows = s.attributes.slice();
      sampleCategoricals(s.attributes, rows, await loadLayout(wd), p.seed);
    }
    input = { attributes: rows, features: s.features, valid: s.genFlags, n: s.n, T: s.layout.maxLen };
  }
  const dec = await decodeGenerated(wd, p.chunk, input, encoders, await decodePolicy(wd, p));
  const { table, duplicateFlows } = dropDuplicateTuples(dec.table, dec.flowOf);
  await writeTableFile(out, table);
  ctx.progress(1, `${table.length} records`);
  return { path: relativeToWorkdir(wd, out), records: table.length, flows: input.n - duplicateFlows, duplicateFlows, ...(calibration ? { lengthCalibration: calibration } : {}) };
}

/**
 * The rows of `blocks` (stored rows of `rowBytes` each: compact, or float32) appended to `out` in a random order drawn
 * from `seed`, `rowsPerWrite` at a time.
 */
async function appendShuffled(out: F32Appender, blocks: Uint8Array[], rowBytes: number, seed: number, rowsPerWrite: number): Promise<void> {
  // the block and the row in it of every row, by its index over all blocks
  const n = blocks.reduce((a, b) => a + b.length / rowBytes, 0);
  const blockOf = new Uint32Array(n);
  const rowOf = new Uint32Array(n);
  let i = 0;
  blocks.forEach((b, k) => {
    for (let r = 0; r < b.length / rowBytes; r++, i++) {
      blockOf[i] = k;
      rowOf[i] = r;
    }
  });
  const order = Rng.forPurpose(seed, 'generate/unique-order').shuffle(Uint32Array.from({ length: n }, (_, j) => j));
  for (let at = 0; at < n; at += rowsPerWrite) {
    const m = Math.min(rowsPerWrite, n - at);
    const buf = new Uint8Array(m * rowBytes);
    for (let j = 0; j < m; j++) {
      const w = order[at + j]!;
      buf.set(blocks[blockOf[w]!]!.subarray(rowOf[w]! * rowBytes, (rowOf[w]! + 1) * rowBytes), j * rowBytes);
    }
    await out.appendStored(buf);
  }
}

/**
 * A seeded random permutation of more rows than fit in memory (the scatter shuffle): each row goes to one of `k`
 * bucket files drawn uniformly and independently, then each bucket is read whole, shuffled and appended in bucket
 * order. The result is a uniform random permutation (Rao 1961; Sandelius 1962), like appendShuffled's, though not
 * the same one; memory is one bucket. Rows move as stored (`rowBytes` each: compact with `codec`, else float32).
 */
class ShuffleBuckets {
  private constructor(
    private readonly files: F32Appender[],
    private readonly paths: string[],
    private readonly rowBytes: number,
    private readonly seed: number,
    private readonly rng: Rng,
    private readonly codec: RowCodec | undefined,
  ) {}
  static async open(out: string, rowBytes: number, seed: number, k: number, codec?: RowCodec): Promise<ShuffleBuckets> {
    const paths = Array.from({ length: Math.max(1, k) }, (_, i) => `${out}.bucket-${i}`);
    const files: F32Appender[] = [];
    try {
      for (const p of paths) files.push(await F32Appender.open(p, codec));
    } catch (err) {
      for (const f of files) await f.abort();
      throw err;
    }
    return new ShuffleBuckets(files, paths, rowBytes, seed, Rng.forPurpose(seed, 'generate/unique-buckets'), codec);
  }
  async add(rows: Uint8Array): Promise<void> {
    const rb = this.rowBytes;
    const n = rows.length / rb;
    const k = this.files.length;
    const bucket = new Uint32Array(n);
    const count = new Uint32Array(k);
    for (let r = 0; r < n; r++) count[(bucket[r] = this.rng.int(k))]!++;
    const parts = Array.from(count, (c) => new Uint8Array(c * rb));
    const at = new Uint32Array(k);
    for (let r = 0; r < n; r++) parts[bucket[r]!]!.set(rows.subarray(r * rb, (r + 1) * rb), at[bucket[r]!]!++ * rb);
    for (let b = 0; b < k; b++) if (count[b]! > 0) await this.files[b]!.appendStored(parts[b]!);
  }
  /** Every bucket, shuffled, appended to `out`; the bucket files are removed as they are read. */
  async drain(out: F32Appender, rowsPerWrite: number): Promise<void> {
    for (let b = 0; b < this.files.length; b++) {
      await this.files[b]!.close();
      const stored = await readStoredRows(this.paths[b]!, this.codec);
      await rm(this.paths[b]!, { force: true });
      await appendShuffled(out, [stored], this.rowBytes, this.seed * 31 + b + 1, rowsPerWrite);
    }
  }
  /** Removes what is left of the bucket files (after an error). */
  async remove(): Promise<void> {
    for (const f of this.files) await f.abort().catch(() => undefined);
    for (const p of this.paths) await rm(p, { force: true });
  }
}

/** Bytes of a decoded record in a table file (a fill's starts' records; the netflow preset's ~56, rounded up). */
const RECORD_BYTES = 64;

/**
 * Refuses, before anything is sampled, a generation whose attribute files would not fit in the free space under the
 * workdir's generate/ folder: a split fill pass's parts beside their combination (each row with its record), then the
 * merged rows beside the deduplicated ones (the most the stage holds at once), `rowBytes` a row on disk (4·A as
 * float32; the compact rows of row-codec.ts: 224 bytes at the netflow preset's A = 696, ~0.8 GB a million flows at the
 * peak).
 */
async function checkScratchSpace(wd: string, slots: readonly { asked: number; first: number }[], rowBytes: number, flows: number | undefined): Promise<void> {
  const asked = slots.reduce((a, s) => a + s.asked, 0);
  const first = slots.reduce((a, s) => a + s.first, 0);
  // a split pass holds its parts' rows (and their records, ~60 bytes each) beside their combination: up to two copies
  // of a pass's sampled rows
  const need = (rowBytes + RECORD_BYTES) * 2 * Math.max(first, asked);
  const root = generateRoot(wd);
  await mkdir(root, { recursive: true });
  const disk = await statfs(root);
  const free = disk.bavail * disk.bsize;
  if (need > free) {
    const gb = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
    throw new ConfigError(
      `generating ${asked} flows needs about ${gb(need)} of scratch space under ${root} (attribute rows of ${rowBytes} bytes and their records: two copies of ` +
        `the ${Math.max(first, asked)} rows of a pass), but ${gb(free)} is free: ask for fewer flows` +
        `${flows !== undefined ? ` than --flows ${flows}` : ' with --flows'}, or free space there`,
      'flows',
    );
  }
}

/** Offsets of the flow-tag pairs in the attribute vector: [startFromThisChunk, chunk_0, …]. */
function tagOffsets(layout: Layout): { start: number; chunk: (i: number) => number; nChunks: number } | undefined {
  const s = layout.attributes.find((a) => a.name === 'flow_tags');
  if (!s) return undefined;
  return { start: s.offset, chunk: (i) => s.offset + 2 + 2 * i, nChunks: s.dim / 2 - 1 };
}
const isOne = (a: Float32Array, at: number): boolean => a[at + 1]! > a[at]!;

/** Rows `keep` of attribute rows [n, A], in that order. */
function takeAttributeRows(rows: Float32Array, A: number, keep: ArrayLike<number>): Float32Array {
  const out = new Float32Array(keep.length * A);
  for (let i = 0; i < keep.length; i++) out.set(rows.subarray(keep[i]! * A, (keep[i]! + 1) * A), i * A);
  return out;
}

/** The rows of chunk `c`'s sampled attributes that mergeByFlowTags keeps as starting there (startFromThisChunk, chunk_c). */
export function startingRows(rows: Float32Array, A: number, tags: { start: number; chunk: (i: number) => number }, c: number): Float32Array {
  const keep: number[] = [];
  for (let r = 0; r < rows.length / A; r++) if (isOne(rows, r * A + tags.start) && isOne(rows, r * A + tags.chunk(c))) keep.push(r);
  return takeAttributeRows(rows, A, keep);
}

/** Flows of the real chunk `k` that start there (its training rows with startFromThisChunk; every flow without tags). */
async function realStartingFlows(wd: string, k: number, A: number, tags: ReturnType<typeof tagOffsets>): Promise<number> {
  if (!tags) return (await loadChunkMeta(wd, k)).n;
  let n = 0;
  for await (const rows of chunkAttributeBlocks(wd, k)) for (let r = 0; r < rows.length / A; r++) if (isOne(rows, r * A + tags.start)) n++;
  return n;
}

/** Split `total` over parts in proportion to `weights` (largest remainder, ties to the earlier part): sums to `total`. */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

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

/**
 * postprocess.ephemeralPorts "range": the trace's port-range policy written to <wd>/generate/port-range.json for the
 * jobs; undefined (no file, ports decoded as the model says) without word2vec ports or without any ephemeral one.
 */
async function writePortRange(wd: string, chunks: readonly number[], layout: Layout, derived?: DerivedInputs): Promise<string | undefined> {
  const ports = (await loadEncoders(wd)).ports;
  if (!ports || portSlices(layout).length === 0) return undefined;
  const compute = (): Promise<PortRangeFile | undefined> => portRangeFile(wd, chunks, layout, ports);
  const f = derived ? await derived.portRange(compute) : await compute();
  if (!f) return undefined;
  const path = join(generateRoot(wd), 'port-range.json');
  await writeJsonAtomic(path, f);
  return path;
}

/**
 * postprocess.trainingTuples "reject": the 5-tuples of every chunk's training flows, decoded from its attribute rows
 * (exact: training rows are vocabulary vectors and address bits, decoded without the decode policies, which only act on
 * generated rows), one record per flow, written once per stage for the jobs.
 */
export async function writeTrainingTuples(wd: string, chunks: readonly number[], layout: Layout, derived?: DerivedInputs): Promise<string> {
  const write = async (path: string): Promise<void> => {
    const encoders = await loadEncoders(wd);
    const parts: Table[] = [];
    // a block of rows at a time (a row's 5-tuple depends on that row only)
    for (const k of chunks) {
      for await (const rows of chunkAttributeBlocks(wd, k)) parts.push((await decodeAttributeRows(wd, k, rows, layout.attributeDim, layout.featureDim, encoders)).table);
    }
    await writeTableFile(path, concatTables(parts[0]!.kind, parts));
  };
  const path = join(generateRoot(wd), 'training-tuples.nstable');
  if (derived) await derived.tuples(path, write);
  else await write(path);
  return path;
}

/**
 * What the generate stage derives from the preprocessed chunks alone — the real starting flows per chunk, the port-range
 * policy file, the training 5-tuples — kept between its runs in <wd>/preprocess/derived (removed with the preprocess
 * outputs when that stage runs again), keyed by GENERATE_VERSION and the identity of every file they are read from (a
 * rewritten chunk, encoders or layout file is read anew). Reading every chunk's attribute rows three times took ~6.7 s
 * before the first job of every run on the 1M-slice workdir (10% of generating 2M flows).
 */
class DerivedInputs {
  private constructor(
    private readonly dir: string,
    private readonly key: string,
    private saved: { key: string; realStarts?: number[]; portRange?: PortRangeFile | null; tuples?: boolean },
  ) {}
  static async open(wd: string, chunks: readonly number[]): Promise<DerivedInputs> {
    const dir = join(preprocessDir(wd), 'derived');
    const files = [join(preprocessDir(wd), 'layout.json'), join(preprocessDir(wd), 'encoders.json'), ...chunks.map((k) => join(chunkDir(wd, k), 'attributes.f32'))];
    const key = fingerprint({ version: GENERATE_VERSION, chunks, files: files.map((f) => fileIdentity(f)) });
    let saved: DerivedInputs['saved'] = { key };
    try {
      const s = JSON.parse(await readFile(join(dir, 'derived.json'), 'utf8')) as DerivedInputs['saved'];
      if (s.key === key) saved = s;
    } catch {
      // none yet, or unreadable: derived again
    }
    return new DerivedInputs(dir, key, saved);
  }
  private async save(): Promise<void> {
    await writeJsonAtomic(join(this.dir, 'derived.json'), this.saved);
  }
  async realStarts(compute: () => Promise<number[]>): Promise<number[]> {
    if (this.saved.realStarts) return this.saved.realStarts;
    this.saved.realStarts = await compute();
    await this.save();
    return this.saved.realStarts;
  }
  /** The port-range policy file's content (null: no training port is ephemeral). */
  async portRange(compute: () => Promise<PortRangeFile | undefined>): Promise<PortRangeFile | undefined> {
    if (this.saved.portRange === undefined) {
      this.saved.portRange = (await compute()) ?? null;
      await this.save();
    }
    return this.saved.portRange ?? undefined;
  }
  /** The training 5-tuples table copied to `out` (written by `write` to the kept file first when there is none). */
  async tuples(out: string, write: (path: string) => Promise<void>): Promise<void> {
    const kept = join(this.dir, 'training-tuples.nstable');
    if (!this.saved.tuples || !existsSync(kept)) {
      await mkdir(this.dir, { recursive: true });
      await write(kept);
      this.saved.tuples = true;
      await this.save();
    }
    await mkdir(dirname(out), { recursive: true });
    await copyFile(kept, out);
  }
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
  const metas = await Promise.all(summary.chunks.map((k) => loadChunkMeta(wd, k)));
  const trained = await Promise.all(summary.chunks.map((k) => trainedChunk(wd, k)));
  // flows asked per chunk and time pass: the real flows starting there, or --flows split in the same proportions. A DP
  // run releases each chunk's noisy flow count instead (drawn with the model, train.ts dpFlowCount), never a real
  // count: it samples that many rows in one pass (NetShare's way; the fill's target and the rows per starting flow
  // would need the real starting counts) and asks for them.
  const dp = trained.some((t) => t.dpFlowCount !== undefined);
  const derived = await DerivedInputs.open(wd, summary.chunks);
  const realStarts = dp
    ? trained.map((t) => Math.max(1, Math.round(t.dpFlowCount ?? 0)))
    : await derived.realStarts(async () => {
        // one chunk's rows in memory at a time
        const out: number[] = [];
        for (const k of summary.chunks) out.push(await realStartingFlows(wd, k, A, tags));
        return out;
      });
  const maxFill = dp ? 1 : Math.max(1, opts.maxFillPasses ?? MAX_FILL_PASSES);
  // without --flows, as many flows as the input has: a share held out of it for evaluation (preprocess.holdoutShare)
  // is not trained on, but a user asking for a synthetic copy of a trace expects its size (a holdout file is not
  // part of the input)
  const h = summary.holdout;
  const inputFlows = !dp && h?.source === 'flows' && h.flows > h.heldOutFlows ? Math.round((realStarts.reduce((a, b) => a + b, 0) * h.flows) / (h.flows - h.heldOutFlows)) : undefined;
  const asked = opts.flows !== undefined ? apportion(opts.flows, realStarts) : inputFlows !== undefined ? apportion(inputFlows, realStarts) : realStarts;
  const slots = [] as { j: number; k: number; pass: number; asked: number; unique: number; sampled: number; passes: number; first: number; file?: string; startsFile?: string; stalled?: boolean }[];
  for (let pass = 0; pass < passes; pass++) {
    summary.chunks.forEach((k, j) => {
      const perStart = tags && !dp ? metas[j]!.flows / Math.max(1, realStarts[j]!) : 1;
      slots.push({ j, k, pass, asked: asked[j]!, unique: 0, sampled: 0, passes: 0, first: Math.max(1, Math.ceil(FILL_OVERSAMPLE * asked[j]! * perStart)) });
    });
  }
  // the attribute files' rows: compact where the layout allows it (row-codec.ts)
  const codec = RowCodec.forAttributes(layout);
  await checkScratchSpace(wd, slots, codec?.rowBytes ?? 4 * A, opts.flows);
  // progress = finished jobs of the current phase
  let phaseDone = 0;
  let phaseTotal = 0;
  // a phase's own hook on each finished job (the features phase assembles a candidate once its ranges are all done)
  let phaseHook: ((job: Job, r: JobResult) => void) | undefined;
  const events = {
    onDone: (job: Job, r: JobResult) => {
      phaseDone++;
      if (r.ok) opts.onProgress?.(job.id, phaseTotal > 0 ? phaseDone / phaseTotal : 1, `${phaseDone}/${phaseTotal} jobs`);
      phaseHook?.(job, r);
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const runPhase = async (jobs: Job[], hook?: (job: Job, r: JobResult) => void): Promise<unknown[]> => {
    phaseDone = 0;
    phaseTotal = jobs.length;
    phaseHook = hook;
    try {
      const rs = await opts.executor.runAll(jobs, events);
      for (const r of rs) if (!r.ok) throw fail(r);
      return rs.map((r) => r.result);
    } finally {
      phaseHook = undefined;
    }
  };
  /**
   * `run` over `jobs` started longest first (by `weights`: the pool hands jobs out in order, so a phase of a few jobs
   * of unequal length ended with one worker idle behind the longest, started last), the results in `jobs`' order.
   */
  const longestFirst = async (jobs: Job[], weights: readonly number[], run: (jobs: Job[]) => Promise<unknown[]> = runPhase): Promise<unknown[]> => {
    const order = jobs.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
    const rs = await run(order.map((i) => jobs[i]!));
    const out = new Array<unknown>(jobs.length);
    order.forEach((i, at) => (out[i] = rs[at]));
    return out;
  };
  // the decode policies every job applies; the port range is computed here once (it reads every chunk's ports)
  const rangeFile = opts.config.postprocess.ephemeralPorts === 'range' ? await writePortRange(wd, summary.chunks, layout, derived) : undefined;
  const tuplesFile = opts.config.postprocess.trainingTuples === 'reject' ? await writeTrainingTuples(wd, summary.chunks, layout, derived) : undefined;
  const policy: Pick<GenerateChunkParams, 'portRange' | 'flowStartBin' | 'categoricals' | 'featureCategoricals' | 'stopFlag' | 'flowLengths' | 'trainingTuples'> = {
    ...(rangeFile !== undefined ? { portRange: rel(rangeFile) } : {}),
    ...(tuplesFile !== undefined ? { trainingTuples: rel(tuplesFile) } : {}),
    ...(opts.config.postprocess.flowStartBin === 'sample' ? { flowStartBin: 'sample' } : {}),
    ...(opts.config.postprocess.attributeCategoricals === 'sample' ? { categoricals: 'sample' } : {}),
    ...(opts.config.postprocess.featureCategoricals === 'sample' ? { featureCategoricals: 'sample' } : {}),
    ...(opts.config.postprocess.stopFlag === 'sample' ? { stopFlag: 'sample' } : {}),
    ...(opts.config.postprocess.flowLengths === 'calibrated' ? { flowLengths: 'calibrated' } : {}),
  };
  const job = (id: string, params: GenerateChunkParams): Job => ({ id, kind: 'generate-chunk', params: { ...params, ...policy } as unknown as Record<string, unknown>, workdir: wd, scope });
  const t0 = performance.now();

  // 1. attributes (last checkpoint), sampled in passes until each chunk has the asked number of unique 5-tuples
  //    starting there: rows that do not start in their chunk (the flow-tag merge drops them) and repeated 5-tuples
  //    are not counted. The first pass samples FILL_OVERSAMPLE× the asked flows (scaled by the chunk's rows per
  //    starting flow); later ones FILL_OVERSAMPLE× what is missing over the yield seen so far, at most 2× the first (so a chunk samples at most 1 + 2·(bound − 1) times its first pass).
  const resample = opts.config.postprocess.ephemeralPorts === 'resample';
  const fillBlock = Math.max(1000, Math.floor((opts.fillSplit?.blockRows ?? ATTRIBUTE_BLOCK_ROWS) / 1000) * 1000);
  for (let f = 0; f < maxFill; f++) {
    // a chunk whose last pass added under 2% of what it still misses would need 50 more: it stops there (reported)
    const open = slots.filter((s) => s.unique < s.asked && !s.stalled);
    if (open.length === 0) break;
    const sizes = open.map((s) => {
      if (f === 0) return s.first;
      const yieldSoFar = s.unique / Math.max(1, s.sampled);
      return Math.max(1, Math.min(2 * s.first, Math.ceil((FILL_OVERSAMPLE * (s.asked - s.unique)) / Math.max(yieldSoFar, 1e-6))));
    });
    // the first pass keeps the seeds of the single-pass generation
    const fillSeed = (s: (typeof open)[number], salt: number): number => seed * 7919 + 31 * s.k + 100_003 * s.pass + salt + 998_244_353 * f;
    // one job per chunk and pass: sample the rows, keep those that start there with a new 5-tuple (no raw file). A
    // pass of more than partRows rows is split in parts of whole sampling blocks, one job each (every worker busy
    // when there are fewer chunks than workers, or an odd number), then combined by a job per chunk that keeps
    // the first row of each 5-tuple over the parts: the rows one job would have accepted (not with the ephemeral
    // ports drawn anew: one random stream over the rows).
    const partRows = Math.max(fillBlock, Math.floor((opts.fillSplit?.partRows ?? FILL_PART_ROWS) / fillBlock) * fillBlock);
    const plan = open.map((s, i) => {
      const n = sizes[i]!;
      const parts = resample || n <= partRows ? 1 : Math.ceil(n / partRows);
      // parts of about equal size (bounds on whole blocks): no short last part left to run alone
      const bound = (r: number): number => (r === parts ? n : Math.round((r * n) / parts / fillBlock) * fillBlock);
      return Array.from({ length: parts }, (_, r) => ({ from: bound(r), n: bound(r + 1) - bound(r) })).filter((x) => x.n > 0 || parts === 1);
    });
    const partPath = (s: (typeof open)[number], r: number, what: 'rows' | 'starts'): string => `${rel(acceptedPath(wd, s.k, s.pass, f))}.part-${r}${what === 'starts' ? '-starts.nstable' : ''}`;
    const fillJobs = open.flatMap((s, i) => {
      const common = { chunk: s.k, pass: s.pass, checkpoint: rel(trained[s.j]!.lastCheckpoint), iteration: -1, seed: fillSeed(s, 1), device, ...(opts.fillSplit ? { blockRows: opts.fillSplit.blockRows } : {}) };
      if (plan[i]!.length === 1) {
        return [job(`generate/fill/chunk-${s.k}/p${s.pass}/f${f}`, {
          ...common, n: sizes[i]!,
          accept: {
            ...(s.file !== undefined ? { prev: s.file } : {}), ...(s.startsFile !== undefined ? { prevStarts: s.startsFile } : {}),
            out: rel(acceptedPath(wd, s.k, s.pass, f)), ...(resample ? { resampleEphemeral: true, resampleSeed: fillSeed(s, 3) } : {}), startsOut: rel(acceptedStartsPath(wd, s.k, s.pass, f)),
          },
        })];
      }
      return plan[i]!.map((part, r) => job(`generate/fill/chunk-${s.k}/p${s.pass}/f${f}/rows-${part.from}-${part.from + part.n}`, {
        ...common, n: part.n, sampleFrom: part.from,
        accept: { out: partPath(s, r, 'rows'), startsOut: partPath(s, r, 'starts') },
      }));
    });
    const filled = (await runPhase(fillJobs)) as { accepted: number }[];
    const split = open.map((_, i) => i).filter((i) => plan[i]!.length > 1);
    // (a combine job copies the rows the pass started from, then reads its parts)
    const combined = (await longestFirst(split.map((i) => {
      const s = open[i]!;
      return job(`generate/fill/chunk-${s.k}/p${s.pass}/f${f}/combine`, {
        chunk: s.k, pass: s.pass, checkpoint: '', iteration: -1, seed: 0, device,
        combine: {
          ...(s.file !== undefined ? { prev: s.file } : {}), ...(s.startsFile !== undefined ? { prevStarts: s.startsFile } : {}),
          parts: plan[i]!.map((_, r) => ({ rows: partPath(s, r, 'rows'), starts: partPath(s, r, 'starts') })),
          out: rel(acceptedPath(wd, s.k, s.pass, f)), startsOut: rel(acceptedStartsPath(wd, s.k, s.pass, f)),
        },
      });
    }), split.map((i) => open[i]!.unique + sizes[i]!))) as { accepted: number }[];
    // each slot's accepted count: its job's, or its combine job's
    const acc: { accepted: number }[] = [];
    let at = 0;
    open.forEach((_, i) => {
      if (plan[i]!.length === 1) acc.push(filled[at]!);
      else acc.push(combined[split.indexOf(i)]!);
      at += plan[i]!.length;
    });
    // the accepted rows the pass started from, and the parts, are spent
    if (!opts.keepIntermediates) {
      await Promise.all(open.flatMap((s, i) => [
        ...(s.file !== undefined ? [rm(inWorkdir(wd, s.file), { force: true })] : []),
        ...(s.startsFile !== undefined ? [rm(inWorkdir(wd, s.startsFile), { force: true })] : []),
        ...(plan[i]!.length > 1 ? plan[i]!.flatMap((_, r) => [rm(inWorkdir(wd, partPath(s, r, 'rows')), { force: true }), rm(inWorkdir(wd, partPath(s, r, 'starts')), { force: true })]) : []),
      ]));
    }
    open.forEach((s, i) => {
      s.sampled += sizes[i]!;
      if (f > 0 && acc[i]!.accepted - s.unique < 0.02 * (s.asked - s.unique)) s.stalled = true;
      s.unique = acc[i]!.accepted;
      s.passes = f + 1;
      s.file = rel(acceptedPath(wd, s.k, s.pass, f));
      s.startsFile = rel(acceptedStartsPath(wd, s.k, s.pass, f));
    });
  }
  // each chunk's accepted rows, cut to the asked number (the first ones: sampling order); read from the files by the
  // merge below, one chunk at a time
  const accepted = new Map<string, { path: string; rows: number }>();
  for (const s of slots) {
    const path = s.file !== undefined ? inWorkdir(wd, s.file) : '';
    const rows = s.file !== undefined ? await rowFileRows(path, A) : 0;
    accepted.set(`${s.k}/${s.pass}`, { path, rows: Math.min(s.asked, Math.floor(rows)) });
  }
  const t1 = performance.now();

  // 3. (set up here, run as the chunks' rows are ready) the checkpoint of each chunk, chosen on a sample of its merged
  //    rows (pass 0; the first rows of its file, which the unique job shuffled): every checkpoint's features for the
  //    sample, ranked as postprocess ranks full candidates. The sample (selectionSampleSize: smaller as checkpoints
  //    grow) is the chosen candidate's first flow range, or its whole when the chunk's rows all fit (same rows, same
  //    seed, same noise streams). A chunk's sample jobs run beside the next chunk's unique job (that chain is serial).
  const featureSeed = (k: number, pass: number, iteration: number): number => seed * 7919 + 31 * k + 100_003 * pass + 7 * iteration + 2;
  const onSample = opts.realChunk !== undefined && (opts.selectOn ?? 'sample') === 'sample';
  const sampleFlows = Math.max(1, opts.selectionSampleFlows ?? SELECTION_SAMPLE_FLOWS);
  const chosen = summary.chunks.map((_, j) => trained[j]!.checkpoints.map((c) => c.iteration));
  // per chunk and chosen checkpoint: its selection sample, the first `rows` rows of the full candidate (all when equal to the chunk's)
  const reused = new Map<string, Generated & { rows: number }>();
  const sampleBatch = opts.sampleBatch ?? SAMPLE_BATCH;
  const batchParam = opts.sampleBatch !== undefined ? { batch: sampleBatch } : {};
  const selections: SampleSelection[] = [];
  const selSet = onSample ? selectionMetrics(opts.config) : undefined;
  /** What a features (or sample) job returns: its table, relative to the workdir, and its counts. */
  type Generated = { path: string; records: number; flows: number; duplicateFlows: number; lengthCalibration?: EndHazardCalibration };
  /** Chunk j's selection-sample jobs, one per checkpoint, once its merged rows are known (none: nothing to choose). */
  const selectionJobs = (j: number): Job[] => {
    const k = summary.chunks[j]!;
    const cks = trained[j]!.checkpoints;
    const n = merged[j]![0]!;
    // one checkpoint, DP (the last one, as NetShare) or no rows: nothing to choose
    if (!onSample) return [];
    if (cks.length <= 1 || opts.config.global.dp || n === 0) {
      chosen[j] = cks.length > 0 ? [cks.at(-1)!.iteration] : [];
      return [];
    }
    // the first rows of the chunk's file, whole generator batches (the unique job wrote the rows in a seeded random
    // order; without flow tags they are the fill's accepted rows in sampling order): the chosen checkpoint's sample is
    // then the first flow range of its full candidate, generated once
    const cap = selectionSampleSize(cks.length, sampleFlows);
    const size = cap >= n ? n : Math.min(n, Math.max(sampleBatch, Math.floor(cap / sampleBatch) * sampleBatch));
    return cks.map((ck) =>
      job(`generate/select/chunk-${k}/ckpt-${ck.iteration}`, {
        chunk: k, pass: 0, checkpoint: rel(ck.path), iteration: ck.iteration, seed: featureSeed(k, 0, ck.iteration), device, attrFile: rel(attrCleanPath(wd, k, 0)),
        ...batchParam,
        ...(size < n ? { range: { from: 0, to: size }, out: rel(selectionCandidatePath(wd, k, ck.iteration)) } : {}),
      }),
    );
  };
  /** Rank chunk j's samples (`results` of its selectionJobs, in order) and keep the choice. */
  const rankSamples = async (j: number, jobs: Job[], results: Generated[]): Promise<void> => {
    const k = summary.chunks[j]!;
    const n = merged[j]![0]!;
    const size = (jobs[0]!.params as unknown as GenerateChunkParams).range?.to ?? n;
    const mine = jobs.map((jb, i) => ({ iteration: (jb.params as unknown as GenerateChunkParams).iteration, path: inWorkdir(wd, results[i]!.path), r: results[i]! }));
    const ranking = await rankChunkCandidates(k, await opts.realChunk!(j), summary.recordRangesUs[j]!, mine, selSet!, opts.config.global.dp !== false);
    selections.push({ chunk: k, flows: n, sampleFlows: size, ranking, candidates: mine.map((c) => ({ iteration: c.iteration, path: c.path })) });
    chosen[j] = [ranking.best];
    reused.set(`${k}/${ranking.best}`, { ...mine.find((c) => c.iteration === ranking.best)!.r, rows: size });
  };
  /** Sample jobs waiting to run, per chunk, and the runner that ranks them when done. */
  let pendingSelect: { j: number; jobs: Job[] }[] = [];
  const runWithSelect = async (phase: Job[]): Promise<unknown[]> => {
    const carried = pendingSelect;
    pendingSelect = [];
    // a chunk's samples are ranked (in the driver, one chunk at a time) as soon as its sample jobs are done, while the
    // phase's other jobs run: ranked after the phase, the five chunks of --flows 10000000 left both workers idle ~2.5 s
    const left = carried.map((c) => c.jobs.length);
    const chunkOf = new Map<string, number>();
    carried.forEach((c, ci) => c.jobs.forEach((jb) => chunkOf.set(jb.id, ci)));
    const got = carried.map((c) => new Array<Generated | undefined>(c.jobs.length));
    let ranking: Promise<void> = Promise.resolve();
    const ranked: Promise<void>[] = [];
    let rankError: unknown;
    const started = carried.map(() => false);
    const rank = (ci: number, results: Generated[]): void => {
      const c = carried[ci]!;
      started[ci] = true;
      ranking = ranking.then(() => rankSamples(c.j, c.jobs, results));
      // (held, not left unhandled while the phase runs on: rethrown below)
      ranked.push(ranking.catch((err: unknown) => {
        rankError ??= err;
      }));
    };
    const rs = await runPhase([...phase, ...carried.flatMap((c) => c.jobs)], (jb, r) => {
      const ci = chunkOf.get(jb.id);
      if (ci === undefined || !r.ok) return;
      got[ci]![carried[ci]!.jobs.indexOf(jb)] = r.result as Generated;
      if (--left[ci]! > 0) return;
      rank(ci, got[ci] as Generated[]);
    });
    // an executor that reports no job as done: every chunk ranked now, from the phase's results
    let at = phase.length;
    carried.forEach((c, ci) => {
      if (!started[ci]) rank(ci, rs.slice(at, at + c.jobs.length) as Generated[]);
      at += c.jobs.length;
    });
    await Promise.all(ranked);
    if (rankError !== undefined) throw rankError;
    return rs.slice(0, phase.length);
  };
  const queueSelect = (j: number): void => {
    const jobs = selectionJobs(j);
    if (jobs.length > 0) pendingSelect.push({ j, jobs });
  };

  // 2. merge by flow tags (cheap, in the driver), then drop 5-tuples repeated across chunks (a start equal to a
  //    continuation from an earlier chunk; jobs, as decoding is not cheap)
  const merged: number[][] = summary.chunks.map(() => []);
  const duplicates: number[][] = summary.chunks.map(() => []);
  const uniqueStarts: number[][] = summary.chunks.map(() => []);
  if (tags) {
    const mergedRows = new Map<string, number>();
    for (let pass = 0; pass < passes; pass++) {
      // mergeByFlowTags from files to files (attr-files.ts: the same rows, one chunk in memory)
      const counts = await mergeByFlowTagsFiles(summary.chunks.map((k) => ({ chunk: k, ...accepted.get(`${k}/${pass}`)! })), A, tags, (k) => attrMergedPath(wd, k, pass), codec);
      for (const [k, n] of counts) mergedRows.set(`${k}/${pass}`, n);
    }
    // every chunk at once (the accepted rows are spent after the merge; their starts' records stay until the unique
    // jobs ran): a start is checked against the starts the merge took from the chunks before it (their accept jobs'
    // records, cut as the rows were), so a 5-tuple is one flow over the whole trace (FirstOfTuples.select). Until
    // session 9 each chunk waited for the previous chunk's unique job and checked only the starts that job kept: the
    // same rows but for a start whose 5-tuple is that of an earlier chunk's start dropped there (~never: it collided
    // with a carried flow); the serial chain left a core idle for most of the merge (UGR16 day: 125 s of 339).
    if (!opts.keepIntermediates) for (const s of slots) if (s.file !== undefined) await rm(inWorkdir(wd, s.file), { force: true });
    const startsOf = (k: number, pass: number): { path: string; rows: number } => {
      const slot = slots.find((s) => s.k === k && s.pass === pass)!;
      return { path: slot.startsFile!, rows: accepted.get(`${k}/${pass}`)!.rows };
    };
    const phase: Job[] = [];
    for (const [j, k] of summary.chunks.entries()) {
      for (let pass = 0; pass < passes; pass++) {
        phase.push(job(`generate/unique/chunk-${k}/p${pass}`, {
          chunk: k, pass, checkpoint: '', iteration: -1, seed: 0, device,
          uniqueTuples: {
            from: rel(attrMergedPath(wd, k, pass)), out: rel(attrCleanPath(wd, k, pass)),
            earlier: summary.chunks.slice(0, j).filter((e) => startsOf(e, pass).rows > 0).map((e) => startsOf(e, pass)),
            // the merge wrote the carried rows, then the chunk's own starts: theirs are decoded already
            ...(startsOf(k, pass).rows > 0 ? { ownRecords: { path: startsOf(k, pass).path, from: mergedRows.get(`${k}/${pass}`)! - startsOf(k, pass).rows } } : {}),
            shuffle: seed * 7919 + 31 * k + 100_003 * pass + 5,
          },
        }));
      }
    }
    // longest first: a job reads its merged rows and builds the set of the earlier chunks' starts
    const weights = summary.chunks.flatMap((k, j) => Array.from({ length: passes }, (_, pass) => mergedRows.get(`${k}/${pass}`)! + summary.chunks.slice(0, j).reduce((a, e) => a + startsOf(e, pass).rows, 0)));
    const results = (await longestFirst(phase, weights, runWithSelect)) as { merged: number; unique: number; starts: number }[];
    for (const [j, k] of summary.chunks.entries()) {
      for (let pass = 0; pass < passes; pass++) {
        const x = results[j * passes + pass]!;
        merged[j]!.push(x.unique);
        duplicates[j]!.push(x.merged - x.unique);
        uniqueStarts[j]!.push(x.starts);
        if (!opts.keepIntermediates) await rm(attrMergedPath(wd, k, pass), { force: true });
      }
      queueSelect(j);
    }
  } else {
    for (let pass = 0; pass < passes; pass++) {
      for (const [j, k] of summary.chunks.entries()) {
        const { path, rows } = accepted.get(`${k}/${pass}`)!;
        await copyAttributeRows(path, rows, A, attrCleanPath(wd, k, pass), codec);
        merged[j]!.push(rows);
        duplicates[j]!.push(0);
        uniqueStarts[j]!.push(rows);
      }
    }
    summary.chunks.forEach((_, j) => queueSelect(j));
  }
  // the accepted and merged rows are spent: the features are conditioned on attr-clean
  if (!opts.keepIntermediates) await Promise.all(['attr-accepted', 'attr-merged'].map((d) => rm(join(generateRoot(wd), d), { recursive: true, force: true })));
  const fillChunks = slots.map((s) => ({ chunk: s.k, pass: s.pass, asked: s.asked, unique: uniqueStarts[s.j]![s.pass]!, sampled: s.sampled, passes: s.passes, ...(s.stalled ? { stalled: true } : {}) }));
  const askedTotal = fillChunks.reduce((a, c) => a + c.asked, 0);
  const uniqueTotal = fillChunks.reduce((a, c) => a + c.unique, 0);
  const fill: FillReport = {
    asked: askedTotal,
    unique: uniqueTotal,
    share: askedTotal > 0 ? uniqueTotal / askedTotal : 1,
    sampled: fillChunks.reduce((a, c) => a + c.sampled, 0),
    passes: Math.max(0, ...fillChunks.map((c) => c.passes)),
    maxPasses: maxFill,
    short: uniqueTotal < askedTotal,
    chunks: fillChunks,
  };
  const t2 = performance.now();

  // 3. the sample jobs not run yet (the last chunk's; every chunk's without flow tags)
  if (pendingSelect.length > 0) await runWithSelect([]);
  const t3 = performance.now();

  // 4. features of the chosen checkpoint (every checkpoint without a choice here), conditioned on the merged rows, after
  //    its selection sample: the rest of a chunk is split into flow ranges of RANGE_FLOWS, one job each (every worker
  //    busy on one chunk), whose tables are concatenated in order: the same bytes as one job (the noise is drawn per
  //    batch of flows).
  const rangeFlows = Math.max(sampleBatch, Math.floor((opts.rangeFlows ?? RANGE_FLOWS) / sampleBatch) * sampleBatch);
  const jobs: Job[] = [];
  // per candidate: its selection sample (the first rows, generated already) and its flow-range jobs, in flow order
  const keys: { chunk: number; pass: number; iteration: number; prior?: Generated & { rows: number }; parts: number }[] = [];
  for (let pass = 0; pass < passes; pass++) {
    summary.chunks.forEach((k, j) => {
      for (const ck of trained[j]!.checkpoints) {
        const n = merged[j]![pass]!;
        if (!chosen[j]!.includes(ck.iteration) || n === 0) continue;
        const prior = pass === 0 ? reused.get(`${k}/${ck.iteration}`) : undefined;
        const start = prior?.rows ?? 0;
        const parts = Math.ceil((n - start) / rangeFlows);
        keys.push({ chunk: k, pass, iteration: ck.iteration, ...(prior ? { prior } : {}), parts });
        const whole = !prior && parts === 1;
        for (let part = 0; part < parts; part++) {
          const from = start + part * rangeFlows;
          const to = Math.min(n, from + rangeFlows);
          jobs.push(job(`generate/chunk-${k}/p${pass}/ckpt-${ck.iteration}${whole ? '' : `/flows-${from}-${to}`}`, {
            chunk: k, pass, checkpoint: rel(ck.path), iteration: ck.iteration, seed: featureSeed(k, pass, ck.iteration), device, attrFile: rel(attrCleanPath(wd, k, pass)),
            ...(whole ? {} : { range: { from, to }, out: rel(partPath(wd, k, pass, ck.iteration, part)) }),
            // the shift its selection sample found (the ranges would find it again)
            ...(prior?.lengthCalibration ? { endBias: prior.lengthCalibration.bias } : {}),
            ...batchParam,
          }));
        }
      }
    });
  }
  // a candidate's tables (its selection sample, then its ranges in flow order) into its file: started by the driver as
  // soon as the candidate's jobs are all done, while the later candidates' jobs run (at --flows 10M the driver spent
  // ~13 s after the last job concatenating 500 range tables), one at a time
  const firstJob: number[] = [];
  keys.reduce((at, key) => (firstJob.push(at), at + key.parts), 0);
  // job id → its candidate and range
  const keyOf = new Map<string, { i: number; q: number }>();
  keys.forEach((key, i) => {
    for (let q = 0; q < key.parts; q++) keyOf.set(jobs[firstJob[i]! + q]!.id, { i, q });
  });
  const partResults: (Generated | undefined)[][] = keys.map((key) => new Array<Generated | undefined>(key.parts).fill(undefined));
  const missing = keys.map((key) => key.parts);
  const assembled: (Promise<Generated> | undefined)[] = new Array(keys.length);
  let assembling: Promise<unknown> = Promise.resolve();
  const assemble = (i: number): Promise<Generated> => {
    const key = keys[i]!;
    const prior: Generated[] = key.prior ? [{ path: key.prior.path, records: key.prior.records, flows: key.prior.flows, duplicateFlows: key.prior.duplicateFlows, ...(key.prior.lengthCalibration ? { lengthCalibration: key.prior.lengthCalibration } : {}) }] : [];
    const mine: Generated[] = [...prior, ...(partResults[i] as Generated[])];
    if (mine.length === 1) return Promise.resolve(mine[0]!);
    const done = assembling.then(async (): Promise<Generated> => {
      const out = candidatePath(wd, key.chunk, key.pass, key.iteration);
      const tables = [];
      for (const m of mine) tables.push(await readTableFile(inWorkdir(wd, m.path)));
      await writeTableFile(out, concatTables(tables[0]!.kind, tables));
      for (const m of mine) await rm(inWorkdir(wd, m.path), { force: true });
      const lengthCalibration = mine.find((m) => m.lengthCalibration)?.lengthCalibration;
      return { path: relativeToWorkdir(wd, out), records: mine.reduce((a, m) => a + m.records, 0), flows: mine.reduce((a, m) => a + m.flows, 0), duplicateFlows: mine.reduce((a, m) => a + m.duplicateFlows, 0), ...(lengthCalibration ? { lengthCalibration } : {}) };
    });
    assembling = done.catch(() => undefined);
    return done;
  };
  let results: Generated[];
  try {
    results = (await runPhase(jobs, (jb, r) => {
      const at = keyOf.get(jb.id);
      if (at === undefined || !r.ok) return;
      const { i, q } = at;
      if (partResults[i]![q] === undefined) missing[i]!--;
      partResults[i]![q] = r.result as Generated;
      if (assembled[i] === undefined && missing[i] === 0) {
        assembled[i] = assemble(i);
        assembled[i]!.catch(() => undefined); // awaited below
      }
    })) as Generated[];
  } catch (err) {
    await assembling;
    throw err;
  }
  const candidates: GenerateStageResult['candidates'] = [];
  for (const [i, key] of keys.entries()) {
    // an executor that reported no job by job: the results of the phase
    if (assembled[i] === undefined) {
      partResults[i] = results.slice(firstJob[i]!, firstJob[i]! + key.parts);
      assembled[i] = assemble(i);
    }
    const r = await assembled[i]!;
    // the stage's outcome (the driver's manifest) holds this machine's absolute paths, as postprocess reads them
    candidates.push({ chunk: key.chunk, pass: key.pass, iteration: key.iteration, ...r, path: inWorkdir(wd, r.path) });
  }
  // the other checkpoints' samples and the rows the features were conditioned on are spent
  if (!opts.keepIntermediates) await Promise.all(['selection', 'attr-clean'].map((d) => rm(join(generateRoot(wd), d), { recursive: true, force: true })));
  const t4 = performance.now();
  return {
    chunks: summary.chunks.map((k, j) => ({
      chunk: k,
      startFlows: asked[j]!,
      mergedFlows: merged[j]!,
      duplicateFlows: duplicates[j]!,
      candidates: onSample ? trained[j]!.checkpoints.length : candidates.filter((c) => c.chunk === k && c.pass === 0).length,
    })),
    passes,
    candidates,
    fill,
    ...(onSample ? { selection: { on: 'sample' as const, sampleFlows, chunks: [...selections].sort((a, b) => a.chunk - b.chunk) } } : {}),
    seconds: { attributes: (t1 - t0) / 1000, merge: (t2 - t1) / 1000, select: (t3 - t2) / 1000, features: (t4 - t3) / 1000 },
  };
}
