// `netshare preprocess`: turn a packet or NetFlow trace into per-chunk DoppelGANger tensors + encoder state in a workdir.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ConfigError, expected } from '../../errors.js';
import { deepMerge, loadConfigFile, parseConfig, presetConfig, type NetShareConfig } from '../../config/schema.js';
import { detectTraceFormat } from '../../io/read-trace.js';
import type { FlowCsvSchema } from '../../io/netflow-csv.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { preprocessDir } from '../../pipeline/chunk-tensors.js';
import { printJson, progress, say, type GlobalArgs } from '../output.js';

interface PreprocessArgs extends GlobalArgs {
  input: string;
  workdir: string;
  preset?: 'pcap' | 'netflow';
  config?: string;
  seed?: number;
  chunks?: number;
  maxFlowLen?: number;
  schema?: FlowCsvSchema;
  columns?: string[];
  skipBadRows: boolean;
  limit?: number;
  force: boolean;
  holdoutShare?: number;
  holdoutFile?: string;
}

/** `--columns srcip=Source,dstip=Dest` or repeated `--columns srcip=Source`. */
function parseColumns(list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list.flatMap((s) => s.split(','))) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(expected('field=column pairs (e.g. srcip=Source)', '--columns', item), 'columns');
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

export const preprocessCommand: CommandModule<object, PreprocessArgs> = {
  command: 'preprocess',
  describe: 'Chunk a trace into flows and encode it into DoppelGANger tensors (NetShare preprocessing)',
  builder: (y: Argv) =>
    y
      .option('input', { type: 'string', demandOption: true, describe: 'pcap / pcapng / gzip pcap, or NetFlow CSV(.gz)' })
      .option('workdir', { type: 'string', demandOption: true, describe: 'Work folder (tensors go to <workdir>/preprocess/)' })
      .option('preset', { type: 'string', choices: ['pcap', 'netflow'], describe: 'Built-in config (default: by input kind)' })
      .option('config', { type: 'string', describe: 'JSON config file (may name a "preset" it extends)' })
      .option('seed', { type: 'number', describe: 'Overrides global.seed' })
      .option('chunks', { type: 'number', describe: 'Overrides preprocess.nChunks' })
      .option('max-flow-len', { type: 'number', describe: 'Overrides preprocess.maxFlowLen' })
      .option('schema', { type: 'string', choices: ['netshare', 'ugr16', 'cidds', 'custom'], describe: 'NetFlow CSV schema (default: from the header)' })
      .option('columns', { type: 'string', array: true, describe: 'CSV column mapping field=column (srcip, dstip, srcport, dstport, proto, ts|te, td, pkt, byt, label, type, flags, tos)' })
      .option('skip-bad-rows', { type: 'boolean', default: false, describe: 'Skip and count malformed CSV rows instead of failing' })
      .option('limit', { type: 'number', describe: 'Read only the first N CSV records' })
      .option('force', { type: 'boolean', default: false, describe: 'Rerun even if the workdir manifest says this is already done' })
      .option('holdout-share', { type: 'number', describe: 'Share of the 5-tuple flows held out before anything is fitted (preprocess.holdoutShare, default 0.1; 0 disables)' })
      .option('holdout-file', { type: 'string', describe: 'Real trace to hold out instead (the whole input is then training data)' })
      .conflicts('holdout-share', 'holdout-file')
      .conflicts('preset', 'config') as unknown as Argv<PreprocessArgs>,
  handler: async (args: ArgumentsCamelCase<PreprocessArgs>) => {
    let cfg: NetShareConfig;
    const overrides: Record<string, unknown> = {};
    if (args.seed !== undefined) overrides.global = { seed: args.seed };
    if (args.chunks !== undefined || args.maxFlowLen !== undefined || args.holdoutShare !== undefined) {
      overrides.preprocess = {
        ...(args.chunks !== undefined ? { nChunks: args.chunks } : {}),
        ...(args.maxFlowLen !== undefined ? { maxFlowLen: args.maxFlowLen } : {}),
        ...(args.holdoutShare !== undefined ? { holdoutShare: args.holdoutShare } : {}),
      };
    }
    if (args.config) {
      const base = loadConfigFile(args.config);
      cfg = Object.keys(overrides).length ? parseConfig(deepMerge(base, overrides), args.config) : base;
    } else {
      let preset = args.preset;
      if (!preset) {
        const fmt = await detectTraceFormat(args.input);
        preset = fmt === 'flow-csv' ? 'netflow' : 'pcap';
      }
      cfg = presetConfig(preset, overrides);
    }
    const columns = parseColumns(args.columns);
    const bar = progress('preprocess', args);
    let phase = '';
    const r = await preprocess({
      input: args.input,
      workdir: args.workdir,
      config: cfg,
      force: args.force,
      ...(args.holdoutFile !== undefined ? { holdoutFile: args.holdoutFile } : {}),
      read: {
        ...(args.schema ? { schema: args.schema } : {}),
        ...(columns ? { columns } : {}),
        skipBadRows: args.skipBadRows,
        ...(args.limit !== undefined ? { limit: args.limit } : {}),
      },
      onProgress: (p, done, total) => {
        if (p !== phase) phase = p;
        bar.update(done, total, p);
      },
    });
    bar.stop();
    const summary = {
      workdir: preprocessDir(args.workdir),
      dataset: r.dataset,
      inputFormat: r.inputFormat,
      records: r.records,
      flowKeys: r.flowKeys,
      chunks: r.chunks,
      maxLen: r.maxLen,
      sampleLen: r.sampleLen,
      attributeDim: r.attributeDim,
      featureDim: r.featureDim,
      seconds: r.seconds,
      recordsPerSecond: r.recordsPerSecond,
      skipped: r.skipped,
      warnings: r.warnings,
      holdout: r.holdout ?? null,
    };
    if (args.json) printJson(summary);
    else {
      say(args, `${r.skipped ? 'already done (same input and config): ' : ''}${r.records} ${r.dataset === 'pcap' ? 'packets' : 'flow records'}, ${r.flowKeys} 5-tuples`);
      const h = r.holdout;
      if (h?.source === 'flows') say(args, `held out ${h.heldOutFlows} of ${h.flows} 5-tuples (${h.records} records; share ${h.share}) before fitting → ${h.file}`);
      else if (h?.source === 'file') say(args, `held out ${h.records} records of ${h.path}; all ${h.trainRecords} input records are training data`);
      else if (h) say(args, `nothing held out: ${h.reason}`);
      say(args, `chunks ${r.chunks.join(',')} of ${r.nChunks}; T ${r.maxLen} (sampleLen ${r.sampleLen}); attributes ${r.attributeDim}, features ${r.featureDim} per step`);
      if (!r.skipped) say(args, `${r.seconds.toFixed(1)} s, ${Math.round(r.recordsPerSecond)} records/s → ${preprocessDir(args.workdir)}`);
      for (const w of r.warnings) say(args, `warning: ${w}`);
    }
  },
};
