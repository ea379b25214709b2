// The preprocess stage: read a trace, chunk it into flows, fit encoders, write per-chunk tensors + encoder state + layout.
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, InputError, expected } from '../errors.js';
import { checkDataInvariants, type NetShareConfig } from '../config/schema.js';
import { readTrace, type ReadTraceOptions, type TraceFormat } from '../io/read-trace.js';
import { recordTimes, type Table } from '../io/table.js';
import { planChunks } from '../encode/chunks.js';
import { recordView } from '../encode/records.js';
import { encoderStateToJson } from '../encode/state.js';
import { buildLayout, encodeChunk, fitEncoders, paddedLength } from '../encode/tensors.js';
import {
  TENSOR_FORMAT_VERSION,
  modelLayout,
  preprocessDir,
  saveChunkTensors,
  type PreprocessSummaryFile,
} from './chunk-tensors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { checkWorkdir } from '../io/output-paths.js';
import { RNG_STREAMS_VERSION } from '../core/rng.js';
import { fingerprint, sha256File, tableFingerprint } from './fsutil.js';
import { inputRecord, loadManifest, runStage, saveManifest } from './manifest.js';
import { HOLDOUT_SPLIT_VERSION, saveHoldout, splitHoldout, type HoldoutInfo } from './holdout.js';
import { takeRows } from '../io/rows.js';

export interface PreprocessOptions {
  input: string;
  workdir: string;
  config: NetShareConfig;
  /** CSV reading options (schema, column mapping, skipBadRows). */
  read?: ReadTraceOptions;
  /** Rerun even when the manifest says the stage is done with the same inputs. */
  force?: boolean;
  /** Progress: phase name and done/total in that phase's units. */
  onProgress?: (phase: string, done: number, total: number) => void;
  /** An already-read table (tests, library use); `input` is then only recorded. */
  table?: Table;
  /**
   * Real records never to train on, instead of holding out preprocess.holdoutShare of the input's flows: the whole
   * input is then training data. Read like the input (same CSV options); fingerprinted by its bytes.
   */
  holdoutFile?: string;
  /**
   * Refuse, right after chunking and before any encoder is fitted or file written, a chunk count above the number
   * of non-empty time slices (`netshare run` needs every chunk to hold records).
   */
  requireAllChunks?: boolean;
}

/**
 * The ConfigError for more chunks than non-empty time slices (shared by preprocess and the run pipeline);
 * `heldOut`: some flows were held out, so the slices are those of the training records.
 */
export function tooManyChunksError(cfg: NetShareConfig, nonEmpty: number[], heldOut = false): ConfigError {
  const p = cfg.preprocess;
  const empty = Array.from({ length: p.nChunks }, (_, k) => k).filter((k) => !nonEmpty.includes(k));
  return new ConfigError(
    `${expected(`at most ${nonEmpty.length} chunks (only ${nonEmpty.length} of the ${p.nChunks} ${p.chunking} time slices of this trace${heldOut ? "'s training records (after holding out flows)" : ''} hold records; empty: ${empty.join(', ')})`, 'preprocess.nChunks', p.nChunks)}; use --chunks ${nonEmpty.length} or fewer${heldOut ? ' (or --holdout-share 0)' : ''}`,
    'preprocess.nChunks',
  );
}

export interface PreprocessResult extends PreprocessSummaryFile {
  skipped: boolean;
  recordsPerSecond: number;
  readSeconds: number;
  word2vec?: { sentences: number; sampled: boolean; seconds: number };
  outputBytes: number;
}

function tableTimeSpan(t: Table): { first: number; last: number } {
  const time = recordTimes(t);
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < time.length; i++) {
    const x = time[i]!;
    if (x < first) first = x;
    if (x > last) last = x;
  }
  return { first, last };
}

/** The reading options later stages need again (JSON: no callbacks). */
function readOptionsRecord(r: ReadTraceOptions | undefined): NonNullable<PreprocessSummaryFile['read']> {
  const { onProgress: _p, onPacketProgress: _q, ...rest } = r ?? {};
  return rest;
}

/** Run preprocessing into `<workdir>/preprocess/` (layout documented in src/encode/README.md). */
export async function preprocess(opts: PreprocessOptions): Promise<PreprocessResult> {
  checkWorkdir(opts.workdir);
  const workdir = resolve(opts.workdir);
  await mkdir(workdir, { recursive: true });
  const cfg = opts.config;
  const input = resolve(opts.input);
  // what the output depends on: the input's bytes (never its path or mtime), the config slices, the tensor format
  const rec = opts.table ? undefined : await inputRecord(workdir, input);
  const holdoutFile = opts.holdoutFile ? resolve(opts.holdoutFile) : undefined;
  let holdoutSha: string | undefined;
  if (holdoutFile) {
    const st = await stat(holdoutFile).catch(() => null);
    if (!st || !st.isFile()) throw new InputError(`holdout trace ${holdoutFile} does not exist or is not a file`, holdoutFile);
    holdoutSha = await sha256File(holdoutFile);
  }
  const fp = fingerprint({
    input: rec ? rec.sha256 : tableFingerprint(opts.table!),
    // preprocess.holdoutShare is in `preprocess`; a holdout file replaces it
    holdout: holdoutSha ? { file: holdoutSha } : { split: HOLDOUT_SPLIT_VERSION },
    preprocess: cfg.preprocess,
    global: { seed: cfg.global.seed, dataset: cfg.global.dataset, dp: cfg.global.dp !== false }, // ε/σ do not change preprocessing
    sampleLen: cfg.model.sampleLen,
    read: { ...opts.read, onProgress: undefined, onPacketProgress: undefined },
    format: TENSOR_FORMAT_VERSION,
    streams: RNG_STREAMS_VERSION,
  });
  const run = async (begin: () => Promise<void>): Promise<PreprocessResult> => {
    const t0 = performance.now();
    opts.onProgress?.('read', 0, 0);
    let table: Table;
    let inputFormat: TraceFormat | 'table';
    let readWarnings: string[] = [];
    if (opts.table) {
      table = opts.table;
      inputFormat = 'table';
    } else {
      const r = await readTrace(input, {
        ...opts.read,
        onProgress: (b, tot) => opts.onProgress?.('read', b, tot),
        onPacketProgress: (b, tot) => opts.onProgress?.('read', b, tot),
      });
      table = r.table;
      inputFormat = r.format;
      readWarnings = r.warnings;
    }
    const readSeconds = (performance.now() - t0) / 1000;
    const want = cfg.global.dataset === 'pcap' ? 'packets' : 'flows';
    if (table.kind !== want) {
      throw new ConfigError(
        expected(`"${table.kind === 'packets' ? 'pcap' : 'netflow'}" for this ${table.kind === 'packets' ? 'packet' : 'flow-record'} trace (or --preset ${table.kind === 'packets' ? 'pcap' : 'netflow'})`, 'global.dataset', cfg.global.dataset),
        'global.dataset',
      );
    }
    // held-out records first: chunking, encoders and word2vec see only the training records
    const inputRecords = table.length;
    let holdout: { table: Table; rows?: Uint32Array; info: HoldoutInfo } | undefined;
    let noHoldout = '';
    if (holdoutFile) {
      const h = (await readTrace(holdoutFile, { ...opts.read, limit: undefined, onProgress: undefined, onPacketProgress: undefined })).table;
      if (h.kind !== table.kind) throw new InputError(`the holdout trace holds ${h.kind === 'packets' ? 'packets' : 'flow records'} but the input holds ${table.kind === 'packets' ? 'packets' : 'flow records'}`, holdoutFile);
      if (h.length === 0) throw new InputError('the holdout trace has no records', holdoutFile);
      holdout = { table: h, info: { source: 'file', path: holdoutFile, sha256: holdoutSha!, records: h.length, trainRecords: table.length, file: 'holdout.nstable' } };
    } else {
      const split = splitHoldout(table, cfg.preprocess.holdoutShare, cfg.global.seed);
      if (split.holdoutRows.length > 0) {
        holdout = {
          table: takeRows(table, split.holdoutRows),
          rows: split.holdoutRows,
          info: { source: 'flows', share: cfg.preprocess.holdoutShare, flows: split.flows, heldOutFlows: split.heldOutFlows, records: split.holdoutRows.length, trainRecords: split.trainRows.length, file: 'holdout.nstable', rowsFile: 'holdout-rows.u32' },
        };
        table = takeRows(table, split.trainRows);
      } else noHoldout = split.reason ?? '';
    }
    const heldOut = holdout?.info.source === 'flows';
    const span = tableTimeSpan(table);
    checkDataInvariants(cfg, { records: table.length, firstUs: span.first, lastUs: span.last });
    const view = recordView(table);
    const p = cfg.preprocess;
    opts.onProgress?.('chunk', 0, p.nChunks);
    const planWith = (maxFlowLen: number | null): ReturnType<typeof planChunks> =>
      planChunks(view, {
        nChunks: p.nChunks,
        chunking: p.chunking,
        maxFlowLen,
        longFlows: p.longFlows,
        emptyChunks: p.emptyChunks,
        ...(cfg.global.dp ? { fixedRangeUs: [p.dpRanges.startTimeUs!, p.dpRanges.endTimeUs!] as [number, number] } : {}),
      });
    let plan = planWith(p.maxFlowLen);
    if (plan.chunks.length === 0) throw new ConfigError('no chunk holds any record after chunking', 'preprocess.nChunks');
    if (opts.requireAllChunks && plan.chunks.length < p.nChunks) throw tooManyChunksError(cfg, plan.chunks.map((c) => c.index), heldOut);
    const sampleLen = cfg.model.sampleLen;
    let T = paddedLength(cfg.preprocess.maxFlowLen ?? plan.maxLen, sampleLen);
    opts.onProgress?.('fit', 0, 1);
    const set = fitEncoders(view, cfg);
    const notices = [...readWarnings];
    if (set.skippedFields?.length) notices.push(`optional fields not modelled (the trace has no such column): ${set.skippedFields.join(', ')}`);
    const constants = Object.entries(set.constants ?? {});
    if (constants.length) notices.push(`fields with one value in every record, not modelled and written back as that value: ${constants.map(([c, v]) => `${c} = ${JSON.stringify(v)}`).join(', ')}`);
    const layout = buildLayout(set);
    // dense feature tensors: refuse before allocating something the machine cannot hold
    let totalFlows = 0;
    for (const c of plan.chunks) totalFlows = Math.max(totalFlows, c.flowKeyIds.length);
    let mb = (totalFlows * T * layout.featureDim * 4) / 2 ** 20;
    // the longest length (a multiple of model.sampleLen) whose dense tensors fit
    const fits = Math.floor((p.maxTensorMB * 2 ** 20) / (Math.max(1, totalFlows) * layout.featureDim * 4) / sampleLen) * sampleLen;
    if (mb > p.maxTensorMB && p.maxFlowLen === null && !cfg.global.dp && fits >= sampleLen) {
      // no length configured (the netflow preset: every flow whole, as NetShare's camera-ready code) but the longest
      // flow would not fit: the longest length that does, the longer flows cut as preprocess.longFlows says
      const longest = plan.maxLen;
      plan = planWith(fits);
      T = paddedLength(fits, sampleLen);
      notices.push(
        `preprocess.maxFlowLen chosen as ${fits} records (longer flows ${p.longFlows === 'drop' ? 'dropped' : 'truncated'}): the longest flow has ${longest}, and the largest chunk's ${totalFlows} flows × ${paddedLength(longest, sampleLen)} records × ${layout.featureDim} features would need ${mb.toFixed(0)} MB dense, over preprocess.maxTensorMB (${p.maxTensorMB} MB); set --max-flow-len or preprocess.maxTensorMB to choose otherwise`,
      );
      totalFlows = 0;
      for (const c of plan.chunks) totalFlows = Math.max(totalFlows, c.flowKeyIds.length);
      mb = (totalFlows * T * layout.featureDim * 4) / 2 ** 20;
    }
    if (mb > p.maxTensorMB) {
      throw new ConfigError(
        expected(
          `a maximum flow length that keeps the feature tensors under preprocess.maxTensorMB (${p.maxTensorMB} MB; the largest chunk's ${totalFlows} flows × T ${T} × F ${layout.featureDim} would need ${mb.toFixed(0)} MB dense${fits >= sampleLen ? `; ${fits} records fit` : ''})`,
          'preprocess.maxFlowLen',
          p.maxFlowLen,
        ),
        'preprocess.maxFlowLen',
      );
    }
    // every check passed: from here on the stage replaces this and every later stage's outputs
    await begin();
    if (rec) {
      const m = await loadManifest(workdir);
      m.inputs = [rec];
      await saveManifest(workdir, m);
    }
    const dir = preprocessDir(workdir);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(dir, 'encoders.json'), encoderStateToJson(set));
    if (holdout) await saveHoldout(workdir, holdout.table, holdout.rows);
    await writeJsonAtomic(join(dir, 'layout.json'), { ...layout, maxLen: T, sampleLen, model: modelLayout(layout, T) });
    let outputBytes = 0;
    let records = 0;
    const dp = cfg.global.dp ? { interarrivalUs: [p.dpRanges.interarrivalS[0] * 1e6, p.dpRanges.interarrivalS[1] * 1e6] as [number, number] } : undefined;
    opts.onProgress?.('encode', 0, plan.chunks.length);
    for (let k = 0; k < plan.chunks.length; k++) {
      const c = plan.chunks[k]!;
      const t = encodeChunk(view, plan, c, set, T, dp);
      outputBytes += await saveChunkTensors(workdir, t);
      records += t.meta.records;
      c.recIdx = new Uint32Array(0); // free as we go
      opts.onProgress?.('encode', k + 1, plan.chunks.length);
    }
    const seconds = (performance.now() - t0) / 1000;
    const summary: PreprocessSummaryFile = {
      format: TENSOR_FORMAT_VERSION,
      dataset: cfg.global.dataset,
      input,
      inputFormat,
      records: inputRecords,
      flowKeys: plan.nFlowKeys,
      nChunks: p.nChunks,
      chunks: plan.chunks.map((c) => c.index),
      maxLen: T,
      sampleLen,
      attributeDim: layout.attributeDim,
      featureDim: layout.featureDim,
      edgesUs: Array.from(plan.edges),
      recordRangesUs: plan.chunks.map((c) => [c.firstUs, c.lastUs]),
      warnings: [...notices, ...plan.warnings],
      read: readOptionsRecord(opts.read),
      seconds,
      holdout: holdout ? holdout.info : { source: 'none', reason: noHoldout, trainRecords: table.length },
    };
    await writeJsonAtomic(join(dir, 'summary.json'), { ...summary, encodedRecords: records });
    return {
      ...summary,
      skipped: false,
      recordsPerSecond: inputRecords / seconds,
      readSeconds,
      ...(set.word2vecInfo ? { word2vec: set.word2vecInfo } : {}),
      outputBytes,
    };
  };
  if (opts.force) {
    const m = await loadManifest(workdir);
    delete m.stages.preprocess;
    await saveManifest(workdir, m);
  }
  const r = await runStage(workdir, 'preprocess', fp, run, { deferBegin: true });
  return { ...r.outcome, skipped: r.skipped };
}
