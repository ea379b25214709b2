// The evaluate stage: read the real and synthetic traces (pcap or NetFlow CSV), run the evaluation library, and
// write the metrics JSON and the self-contained HTML report atomically. Used by `netshare eval` and the pipeline.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { NetShareError } from '../errors.js';
import { readTrace, type ReadTraceOptions } from '../io/read-trace.js';
import { checkOutputPaths } from '../io/output-paths.js';
import type { Table } from '../io/table.js';
import { evaluateTables, validateEvaluateOptions, type EvalResult } from '../eval/evaluate-tables.js';
import { keepInfinity, renderReport, type ReportPrivacyGuarantee } from '../eval/report.js';
import type { JsVariant } from '../eval/stats.js';
import { writeFileAtomic } from '../io/atomic.js';

export interface EvaluateFilesOptions {
  real: string;
  synthetic: string;
  /**
   * Real records never used for training (privacy reference, compared with `real`); default: a seeded random half
   * of the real records, compared with the other half. Synthetic copying is always measured against all of `real`.
   */
  holdout?: string;
  /**
   * Already-read tables to use instead of reading `real` / `holdout` (whose names are then only recorded): `run`
   * passes the records it trained on and its held-out records, both taken out of its input.
   */
  tables?: { real?: Table; holdout?: Table };
  baselines?: readonly string[];
  /** Where to write the HTML report / the metrics JSON (nothing written when absent). */
  report?: string;
  metricsJson?: string;
  seed?: number;
  /** Random flow splits the floor and the metrics average over (default 5). */
  floorSplits?: number;
  /** Synthetic flows evaluated at most (EvaluateOptions.maxSyntheticFlows; 0: all). */
  maxSyntheticFlows?: number;
  jsVariant?: JsVariant;
  downstream?: boolean;
  privacy?: boolean;
  onStage?: (stage: string) => void;
  /** `run`: the model's differential-privacy guarantee (or that it has none), stated at the top of the report. */
  guarantee?: ReportPrivacyGuarantee;
  /** How to read the files (flow schema, column mapping, skipBadRows); the mapping applies to the real ones only. */
  read?: ReadTraceOptions;
}

export interface EvaluateFilesResult {
  result: EvalResult;
  reportPath?: string;
  metricsPath?: string;
  seconds: { read: number; evaluate: number; write: number };
}

/** Text of echarts' full minified browser build, inlined into reports. */
export async function echartsSource(): Promise<string> {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve('echarts/dist/echarts.min.js');
  } catch (err) {
    throw new NetShareError('the echarts package is not installed (npm install); it is needed to build the report', { cause: err });
  }
  return readFile(path, 'utf8');
}

async function writeOut(path: string, data: string, what: string): Promise<void> {
  try {
    await writeFileAtomic(path, data);
  } catch (err) {
    throw new NetShareError(`cannot write the ${what} to ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Evaluate a synthetic trace file against a real one; see src/eval/README.md for the JSON schema. */
export async function evaluateFiles(opts: EvaluateFilesOptions): Promise<EvaluateFilesResult> {
  validateEvaluateOptions(opts);
  // outputs are checked before anything is read: a folder, an unwritable place or an input named as output is refused
  checkOutputPaths(
    [...(opts.report ? [{ key: 'report', path: opts.report }] : []), ...(opts.metricsJson ? [{ key: 'metrics-json', path: opts.metricsJson }] : [])],
    [opts.real, opts.synthetic, ...(opts.holdout ? [opts.holdout] : [])],
  );
  const t0 = performance.now();
  opts.onStage?.('read');
  const ro = opts.read ?? {};
  // the synthetic file is in the input's schema, but a custom column mapping is the real file's (synthetic CSVs use NetShare's names)
  const synRead: ReadTraceOptions = { ...(ro.skipBadRows ? { skipBadRows: true } : {}), ...(ro.schema && ro.schema !== 'custom' && !ro.columns ? { schema: ro.schema } : {}) };
  const read = async (f: string, o: ReadTraceOptions): Promise<Table> => (await readTrace(f, o)).table;
  const [real, synTable, holdout] = await Promise.all([
    opts.tables?.real ?? read(opts.real, ro),
    read(opts.synthetic, synRead),
    opts.tables?.holdout ?? (opts.holdout ? read(opts.holdout, ro) : Promise.resolve(undefined)),
  ]);
  // handed over: evaluateTables may replace a large synthetic trace by a sample of its flows, and the whole one is
  // then garbage (it is not held here)
  let syn: Table | undefined = synTable;
  const handOver = (): Table => {
    const t = syn!;
    syn = undefined;
    return t;
  };
  const t1 = performance.now();
  const { result, charts } = evaluateTables(real, handOver(), {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.baselines ? { baselines: opts.baselines } : {}),
    ...(opts.jsVariant ? { jsVariant: opts.jsVariant } : {}),
    ...(opts.floorSplits !== undefined ? { floorSplits: opts.floorSplits } : {}),
    ...(opts.maxSyntheticFlows !== undefined ? { maxSyntheticFlows: opts.maxSyntheticFlows } : {}),
    ...(holdout ? { holdout } : {}),
    ...(opts.downstream !== undefined ? { downstream: opts.downstream } : {}),
    ...(opts.privacy !== undefined ? { privacy: opts.privacy } : {}),
    ...(opts.onStage ? { onStage: opts.onStage } : {}),
    files: { real: opts.real, synthetic: opts.synthetic, ...(opts.holdout ? { holdout: opts.holdout } : {}) },
  });
  const t2 = performance.now();
  if (opts.metricsJson) await writeOut(opts.metricsJson, `${JSON.stringify(result, keepInfinity, 2)}\n`, 'metrics JSON');
  if (opts.report) await writeOut(opts.report, renderReport(result, charts, await echartsSource(), opts.guarantee), 'report');
  const t3 = performance.now();
  return {
    result,
    ...(opts.report ? { reportPath: opts.report } : {}),
    ...(opts.metricsJson ? { metricsPath: opts.metricsJson } : {}),
    seconds: { read: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000, write: (t3 - t2) / 1000 },
  };
}
