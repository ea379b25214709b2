// Library entry point: the typed API behind every `netshare` command.
export * from './errors.js';
export * as graph from './graph/index.js';
export { Rng, type RngState } from './core/rng.js';
export * as runtime from './runtime/index.js';
export {
  readPacketBatches,
  readPacketTable,
  readFlowTable,
  PacketStatus,
  type ReadOptions,
  type ReadStats,
  type PacketBatch,
  type FlowBatch,
} from './native/reader.js';
export { writePcap, type WriteOptions, type WriteResult } from './native/writer.js';
export { readPacketsCsv, writePacketsCsv, PacketsCsvWriter, type PacketsCsvOptions } from './io/packets-csv.js';
export { convertTrace, type ConvertOptions, type ConvertSummary } from './pipeline/convert.js';
export { evaluateFiles, type EvaluateFilesOptions, type EvaluateFilesResult } from './pipeline/evaluate.js';
export {
  evaluateTables,
  EVAL_SCHEMA_VERSION,
  type EvalResult,
  type MethodResult,
  type ChartData,
  type EvaluateOptions,
} from './eval/evaluate-tables.js';
export { renderReport } from './eval/report.js';
export { profile, compareProfiles, metricsFor, type MetricInfo, type Profile } from './eval/fidelity.js';
export { marginalsBaseline, bootstrapBaseline, makeBaseline, type BaselineName } from './eval/baselines.js';
export { jsd, emd, rankFrequency, rankJsd, spearman, normaliseAcross, type JsVariant } from './eval/stats.js';
export { readFlowCsv, writeFlowCsv, FLOW_FIELDS, type FlowCsvSchema, type ReadFlowCsvOptions, type WriteFlowCsvOptions } from './io/netflow-csv.js';
export { readTrace, detectTraceFormat, type ReadTraceOptions } from './io/read-trace.js';
export { parseConfig, presetConfig, loadConfigFile, PRESETS, type NetShareConfig, type FieldSpec } from './config/schema.js';
export { preprocess, type PreprocessOptions, type PreprocessResult } from './pipeline/preprocess.js';
export {
  loadChunkTensors,
  loadPackedChunk,
  loadEncoders,
  loadLayout,
  loadPreprocessSummary,
  decodeChunkFromWorkdir,
} from './pipeline/chunk-tensors.js';
export { decodeChunk, genFlagOutputs, type EncoderSet, type Layout, type ChunkTensors, type PackedChunkTensors } from './encode/tensors.js';
export {
  runPipeline,
  resolveRunConfig,
  makeExecutor,
  STAGES,
  RUN_PRESETS,
  type RunOptions,
  type RunResult,
  type RunEvents,
  type FidelitySummary,
  type ConfigOverrides,
  type StageName,
} from './pipeline/run.js';
export {
  InProcessExecutor,
  LocalPoolExecutor,
  withJobLog,
  type Executor,
  type ExecutorEvents,
  type JobResult,
} from './pipeline/executor.js';
export { BullMQExecutor, startWorker, parseRedisUrl, queueName, type WorkerOptions, type RunningWorker } from './pipeline/executor-bullmq.js';
export { startDashboard, type Dashboard } from './pipeline/dashboard.js';
export { jobKey, reviveError, registerJob, type Job, type JobContext, type JobError } from './pipeline/jobs.js';
export { acquireLease, lockWorkdir, workdirIdentity, LeaseBusyError, WorkdirLockedError, type Lease } from './pipeline/lease.js';
export { trainStage, trainChunkJob, type TrainChunkParams, type TrainStageResult } from './pipeline/train.js';
export { generateStage, generateChunkJob, mergeByFlowTags, type GenerateChunkParams, type GenerateStageResult } from './pipeline/generate.js';
export { postprocessStage, rankSumSelect, selectionMetrics, type PostprocessResult, type SelectionMetrics } from './pipeline/postprocess.js';
export { splitHoldout, loadRealSides, MIN_HOLDOUT_FLOWS, type HoldoutInfo, type HoldoutSplit } from './pipeline/holdout.js';
