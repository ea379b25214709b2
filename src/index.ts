// Library entry point: the typed API behind every `netshare` command.
export * from './errors.js';
export * as graph from './graph/index.js';
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
export { readPacketsCsv, writePacketsCsv, PacketsCsvWriter, type PacketsCsvOptions } from './io/packets-csv.js';
export { convertTrace, type ConvertOptions, type ConvertSummary } from './pipeline/convert.js';
