// `netshare preprocess`: turn a packet or NetFlow trace into per-chunk DoppelGANger tensors + encoder state in a workdir.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { deepMerge, loadConfigFile, parseConfig, presetConfig, type NetShareConfig } from '../../config/schema.js';
import { detectTraceFormat, isFlowFormat } from '../../io/read-trace.js';
import { readOptions, readOptionsFrom, type ReadArgs } from '../read-options.js';
import { preprocess } from '../../pipeline/preprocess.js';
import { preprocessDir } from '../../pipeline/chunk-tensors.js';
import { printJson, progress, say, type GlobalArgs } from '../output.js';

interface PreprocessArgs extends GlobalArgs, ReadArgs {
  input: string;
  workdir: string;
  preset?: 'pcap' | 'netflow';
  config?: string;
  seed?: number;
  chunks?: number;
  maxFlowLen?: number;
  limit?: number;
  force: boolean;
  holdoutShare?: number;
  holdoutFile?: string;
}

export const preprocessCommand: CommandModule<object, PreprocessArgs> = {
  command: 'preprocess',
  describe: 'Chunk a trace into flows and encode it into DoppelGANger tensors (NetShare preprocessing)',
  builder: (y: Argv) =>
    readOptions(y)
      .option('input', { type: 'string', demandOption: true, describe: 'pcap / pcapng / gzip pcap, or NetFlow CSV(.gz)' })
      .option('workdir', { type: 'string', demandOption: true, describe: 'Work folder (tensors go to <workdir>/preprocess/)' })
      .option('preset', { type: 'string', choices: ['pcap', 'netflow'], describe: 'Built-in config (default: by input kind)' })
      .option('config', { type: 'string', describe: 'JSON config file (may name a "preset" it extends)' })
      .option('seed', { type: 'number', describe: 'Overrides global.seed' })
      .option('chunks', { type: 'number', describe: 'Overrides preprocess.nChunks' })
      .option('max-flow-len', { type: 'number', describe: 'Overrides preprocess.maxFlowLen' })
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
        preset = isFlowFormat(fmt) || args.schema ? 'netflow' : 'pcap';
      }
      cfg = presetConfig(preset, overrides);
    }
    const bar = progress('preprocess', args);
    let phase = '';
    const r = await preprocess({
      input: args.input,
      workdir: args.workdir,
      config: cfg,
      force: args.force,
      ...(args.holdoutFile !== undefined ? { holdoutFile: args.holdoutFile } : {}),
      read: {
        ...readOptionsFrom(args),
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
