// `netshare run`: the whole pipeline on one trace (preprocess → train → generate → postprocess → evaluate) with a
// closing fidelity table; `train` and `generate` (in their own files) run its first and second half.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { RUN_PRESETS, resolveRunConfig, runPipeline, type RunEvents, type RunResult, type StageName } from '../../pipeline/run.js';
import type { NetShareConfig } from '../../config/schema.js';
import { fmt, fmtRatio } from '../../eval/report.js';
import { printJson, progress, say, type GlobalArgs, type Progress } from '../output.js';
import { readOptions, readOptionsFrom, type ReadArgs } from '../read-options.js';
import { interruptible } from '../interrupt.js';
import { parseBudget } from '../../pipeline/budget.js';
import type { DpRunLedger } from '../../pipeline/train.js';
import { ConfigError } from '../../errors.js';
import type { GenerateStageResult } from '../../pipeline/generate.js';

export interface PipelineArgs extends GlobalArgs, ReadArgs {
  input?: string;
  workdir: string;
  out?: string;
  preset?: string;
  config?: string;
  chunks?: number;
  iterations?: number;
  budget?: string;
  checkpointEvery?: number;
  sampleLen?: number;
  maxFlowLen?: number;
  device: string;
  workers?: number;
  executor?: string;
  workdirRoot?: string;
  jobTimeout?: number;
  seed?: number;
  flows?: number;
  duration?: number;
  downstream: boolean;
  privacy: boolean;
  holdoutShare?: number;
  holdoutFile?: string;
  dp?: boolean;
  epsilon?: number;
  noiseMultiplier?: number;
  public?: string;
}

/** Options shared by run / train / generate. */
export function pipelineOptions(y: Argv, which: 'run' | 'train' | 'generate'): Argv {
  let a = y
    .option('workdir', { type: 'string', demandOption: true, describe: 'Work folder (stages, checkpoints, manifest; a rerun resumes here)' })
    .option('device', { type: 'string', default: 'cpu', choices: ['cpu', 'cuda'], describe: 'onnxruntime execution provider' })
    .option('workers', { type: 'number', describe: 'Parallel chunk jobs (local process pool); default: the core count' })
    .option('executor', {
      type: 'string',
      describe: 'redis://host:port[/db]: run the train and generate jobs on `netshare worker`s through BullMQ (the workdir must be on storage the workers mount)',
    })
    .option('workdir-root', { type: 'string', describe: 'With --executor: the shared folder job paths are relative to (the workers\' --workdir-root); default: the workdir\'s parent' })
    .option('job-timeout', { type: 'number', describe: 'Fail a train/generate job that runs longer than this many seconds (not retried)' });
  if (which !== 'generate') {
    a = readOptions(a)
      .option('input', { type: 'string', demandOption: true, describe: 'Real trace: pcap/pcapng/gzip pcap, NetFlow CSV(.gz), Zeek conn.log, Argus binetflow or nfcapd' })
      .option('preset', { type: 'string', choices: [...RUN_PRESETS], describe: 'Built-in config (default: pcap for packet traces, netflow for CSV)' })
      .option('config', { type: 'string', describe: 'JSON config file (may start from "preset": "pcap" | "netflow")' })
      .conflicts('preset', 'config')
      .option('chunks', { type: 'number', describe: 'Time chunks (preprocess.nChunks)' })
      .option('iterations', { type: 'number', describe: 'Training iterations of chunk 0 (model.iterations); fine-tuned chunks get a quarter' })
      .option('budget', {
        type: 'string',
        describe: 'Wall-clock budget of the whole run (30m, 2h, 1h30m, 90s; a plain number is minutes): a probe of this machine\'s training speed sizes the iterations to fit; the plan is printed before training and kept in the workdir',
      })
      .conflicts('budget', ['iterations', 'checkpoint-every'])
      .option('checkpoint-every', { type: 'number', describe: 'Checkpoint period (model.checkpointEvery); default keeps the config\'s number of checkpoints' })
      .option('sample-len', { type: 'number', describe: 'Records per LSTM step (model.sampleLen)' })
      .option('max-flow-len', { type: 'number', describe: 'Longest flow kept per chunk (preprocess.maxFlowLen)' })
      .option('seed', { type: 'number', describe: 'Seed of preprocessing, training and generation (global.seed)' })
      .option('holdout-share', {
        type: 'number',
        describe: 'Share of the input\'s 5-tuple flows held out from training and evaluated against (preprocess.holdoutShare, default 0.1; 0 disables)',
      })
      .option('holdout-file', { type: 'string', describe: 'Real trace of the same kind to hold out instead (the whole input is then training data)' })
      .conflicts('holdout-share', 'holdout-file')
      .option('dp', {
        type: 'boolean',
        describe: 'Train with DP-SGD on both critics (global.dp): give --epsilon or --noise-multiplier; the other is derived by the RDP accountant and printed',
      })
      .option('epsilon', { type: 'number', describe: 'With --dp: the target ε of the whole run (global.dp.epsilon; δ = global.dp.delta, default 1e-5)' })
      .option('noise-multiplier', { type: 'number', describe: 'With --dp: the noise multiplier σ (global.dp.noiseMultiplier); ε is derived' })
      .conflicts('epsilon', 'noise-multiplier')
      .option('public', {
        type: 'string',
        describe: 'With --dp: a public trace of the same kind to pretrain on without DP (same config, fixed ranges and tag dims); every private chunk starts from that model',
      });
  }
  if (which !== 'train') {
    a = a
      .option('out', { type: 'string', describe: 'Write the synthetic trace here too (pcap for packet inputs, CSV in the input\'s schema for NetFlow)' })
      .option('flows', { type: 'number', describe: 'Generate about this many flows in total (default: as many as the input)' })
      .option('duration', { type: 'number', describe: 'Generate this many seconds of trace from the input\'s start (longer than the input: more passes)' })
      .option('downstream', { type: 'boolean', default: true, describe: 'Run the downstream tasks in the evaluation (--no-downstream to skip)' })
      .option('privacy', { type: 'boolean', default: true, describe: 'Run the privacy checks in the evaluation (--no-privacy to skip)' });
  }
  return a;
}

async function configFor(args: PipelineArgs): Promise<NetShareConfig> {
  let preset = args.preset;
  if (!preset && !args.config && args.input) {
    const { detectTraceFormat, isFlowFormat } = await import('../../io/read-trace.js');
    const f = await detectTraceFormat(args.input);
    preset = isFlowFormat(f) || args.schema ? 'netflow' : 'pcap';
  }
  const dp = dpOverride(args);
  return resolveRunConfig(args.config ? { configFile: args.config } : { preset: preset ?? 'pcap' }, {
    ...(args.chunks !== undefined ? { chunks: args.chunks } : {}),
    ...(args.iterations !== undefined ? { iterations: args.iterations } : {}),
    ...(args.checkpointEvery !== undefined ? { checkpointEvery: args.checkpointEvery } : {}),
    ...(args.sampleLen !== undefined ? { sampleLen: args.sampleLen } : {}),
    ...(args.maxFlowLen !== undefined ? { maxFlowLen: args.maxFlowLen } : {}),
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
    ...(args.holdoutShare !== undefined ? { holdoutShare: args.holdoutShare } : {}),
    // DP refuses a share-based holdout; a holdout file replaces it
    ...(args.dp && args.holdoutFile !== undefined ? { holdoutShare: 0 } : {}),
    ...(dp ? { dp } : {}),
  });
}

/** `--dp --epsilon E` / `--dp --noise-multiplier σ` as a config override; --epsilon or --noise-multiplier without --dp is refused. */
function dpOverride(args: PipelineArgs): { epsilon?: number; noiseMultiplier?: number } | undefined {
  const given = args.epsilon !== undefined ? '--epsilon' : args.noiseMultiplier !== undefined ? '--noise-multiplier' : undefined;
  if (!args.dp) {
    if (given) throw new ConfigError(`${given} needs --dp (differential privacy is off without it)`, given.slice(2));
    return undefined;
  }
  if (args.epsilon !== undefined) return { epsilon: args.epsilon };
  if (args.noiseMultiplier !== undefined) return { noiseMultiplier: args.noiseMultiplier };
  return {}; // the config's global.dp must then name ε or σ (parseConfig says so if not)
}

/** Progress lines / bars per stage, stage timings, and warnings on stderr. */
function reporter(args: PipelineArgs): RunEvents & { stop(): void } {
  const bars = new Map<string, Progress>();
  const line = (s: string): void => {
    if (!args.json) process.stderr.write(`${s}\n`);
  };
  return {
    stage(name, skipped) {
      if (skipped) line(`netshare: ${name}: already done in the workdir (skipped)`);
      else line(`netshare: ${name} …`);
    },
    stageDone(name, seconds, skipped) {
      for (const b of bars.values()) b.stop();
      bars.clear();
      if (!skipped) line(`netshare: ${name} done in ${seconds.toFixed(1)} s`);
    },
    progress(stage, label, fraction, info) {
      // one bar per training job (long), one per stage otherwise (many short jobs / phases)
      const key = stage === 'train' ? `${stage}:${label}` : stage;
      let b = bars.get(key);
      if (!b) {
        b = progress(stage === 'train' ? `train ${label.replace(/^train\//, '')}` : stage, args, 5000, { percentOnly: true });
        bars.set(key, b);
      }
      const text = stage === 'train' ? (info ?? '') : `${label}${info ? ` ${info}` : ''}`;
      b.update(Math.round(fraction * 1000), 1000, text);
    },
    warn(message) {
      line(`netshare: warning: ${message}`);
    },
    plan(p, reused, probeS) {
      const min = (s: number): string => `${(s / 60).toFixed(1)} min`;
      line(
        `netshare: budget ${min(p.budgetS)}${reused ? ' (the plan stored in the workdir)' : ''}: ${p.spentS.toFixed(0)} s spent before training${reused ? '' : ` (probe ${probeS.toFixed(0)} s)`}; ` +
          `chunk 0 at ${p.chunk0ItPerSec.toFixed(1)} it/s, fine-tuning at ${p.fineTuneItPerSec.toFixed(1)} it/s (${p.workers} at a time) → ` +
          `${p.iterations} iterations for chunk 0 (~${min(p.estimate.chunk0S)})${p.chunks > 1 ? `, ${Math.max(1, Math.round(p.iterations * p.fineTuneFraction))} per fine-tuned chunk (~${min(p.estimate.fineTuneS)})` : ''}, checkpoint every ${p.checkpointEvery}; ` +
          `training gets ${Math.round(100 * p.trainShare)}% of what is left, generation and evaluation the rest`,
      );
    },
    stop() {
      for (const b of bars.values()) b.stop();
    },
  };
}

/** How generation reached the flows asked for (the generate stage's fill report), for the closing summary. */
function generationLine(r: RunResult): { text: string; json: Record<string, unknown> } | undefined {
  const g = r.stages.find((s) => s.name === 'generate')?.outcome as GenerateStageResult | undefined;
  if (!g?.fill) return undefined;
  const f = g.fill;
  const used = g.selection ? Math.max(0, ...g.selection.chunks.map((c) => c.sampleFlows)) : 0;
  const sel = g.selection && used > 0 ? `; checkpoints chosen on samples of up to ${used} flows per chunk and checkpoint` : '';
  return {
    text: `generation: ${f.unique} unique 5-tuples of ${f.asked} flows asked for (${(100 * f.share).toFixed(1)}%) in ${f.passes} sampling pass${f.passes === 1 ? '' : 'es'} (bound ${f.maxPasses})${sel}`,
    json: { asked: f.asked, unique: f.unique, share: f.share, passes: f.passes, maxPasses: f.maxPasses, short: f.short, selectionSampleFlows: g.selection ? used : null },
  };
}

/** The closing summary: stage timings, output, fidelity table with floor ratios, report path. */
export function printSummary(args: GlobalArgs, r: RunResult): void {
  const gen = generationLine(r);
  if (args.json) {
    printJson({
      workdir: r.workdir,
      input: r.input,
      output: r.output ?? null,
      out: r.out ?? null,
      report: r.report ?? null,
      metrics: r.metrics ?? null,
      stages: r.stages.map((s) => ({ name: s.name, seconds: s.seconds, skipped: s.skipped })),
      fidelity: r.fidelity ?? null,
      executor: r.executor,
      workers: r.workers,
      budget: r.budget ?? null,
      dp: r.dp ? dpJson(r.dp) : null,
      generation: gen?.json ?? null,
    });
    return;
  }
  say(args, '');
  say(args, `stages: ${r.stages.map((s) => `${s.name} ${s.skipped ? 'skipped' : `${s.seconds.toFixed(1)} s`}`).join(', ')} (executor ${r.executor}, ${r.workers} worker${r.workers === 1 ? '' : 's'})`);
  if (r.output) say(args, `synthetic trace: ${r.out ?? r.output}`);
  if (gen) say(args, gen.text);
  const f = r.fidelity;
  if (f) {
    const h = f.holdout;
    say(
      args,
      `fidelity (${f.kind === 'packets' ? 'packets' : 'NetFlow'}): real ${f.real.records} records / ${f.real.flows} 5-tuples${h ? ' trained on' : ''}; synthetic ${f.synthetic.records} / ${f.synthetic.flows}${h ? `; held out ${h.records} / ${h.flows}` : ''}`,
    );
    const times = fmtRatio;
    if (f.headline) say(args, `headline: ${times(f.headline.value)} floor (median over NetShare's ${f.headline.metrics.length} marginal metrics, flow split)`);
    const heldCols = (row: (typeof f.rows)[number]): string => (h ? ` ${fmt(row.heldOut ?? null).padStart(12)} ${times(row.heldOutRatio).padStart(9)}` : '');
    say(args, `${'metric'.padEnd(24)} ${'synthetic'.padStart(12)} ${'floor'.padStart(12)} ${'× floor'.padStart(9)}${h ? ` ${'held-out'.padStart(12)} ${'× train'.padStart(9)}` : ''}`);
    for (const row of f.rows) {
      say(args, `${row.metric.padEnd(24)} ${fmt(row.value).padStart(12)} ${fmt(row.floor).padStart(12)} ${times(row.ratio).padStart(9)}${heldCols(row)}`);
    }
    say(args, '(× floor: the metric divided by the same metric between two disjoint random real samples of the compared size, mean over the floor splits; 1× = as close as real data to itself)');
    if (h) {
      say(args, '(held-out: the metric between the synthetic trace and the real flows held out from training; × train: divided by the same metric between the training and held-out records, 1× = as close to unseen real traffic as the training data is)');
    }
  }
  if (r.report) say(args, `report: ${r.report}`);
  if (r.dp) printDp(args, r.dp);
}

function dpJson(d: DpRunLedger): Record<string, unknown> {
  return {
    epsilon: d.epsilon, delta: d.delta, order: d.order, clip: d.clip, countNoise: d.countNoise, given: d.given,
    ...(d.targetEpsilon !== undefined ? { targetEpsilon: d.targetEpsilon, shareEpsilon: d.shareEpsilon } : {}),
    ...(d.noiseMultiplier !== undefined ? { noiseMultiplier: d.noiseMultiplier } : {}),
    chunks: d.chunks, mechanisms: d.mechanisms, composition: d.composition, notPrivate: d.notPrivate,
    ...(d.publicPretraining ? { publicPretraining: d.publicPretraining } : {}),
  };
}

/** The closing DP table: ε and δ, σ and C (which was given, which derived), per chunk q, steps and σ, and what is not DP. */
function printDp(args: GlobalArgs, d: DpRunLedger): void {
  say(args, '');
  const how = d.given === 'epsilon' ? `reached with the derived σ per chunk, target ${d.targetEpsilon}` : 'derived by the accountant from σ';
  say(args, `differential privacy: ε = ${d.epsilon.toFixed(4)} (${how}) at δ = ${d.delta} (RDP order ${d.order})`);
  if (d.given === 'epsilon') {
    say(args, `  noise multiplier σ per chunk (derived by the accountant: each chunk's critic steps alone cost ε_c = ${d.shareEpsilon!.toFixed(4)}), clip C = ${d.clip}, flow-count noise std ${d.countNoise}`);
  } else {
    say(args, `  noise multiplier σ = ${d.noiseMultiplier!.toFixed(4)} (given, every chunk), clip C = ${d.clip}, flow-count noise std ${d.countNoise}`);
  }
  say(args, `  ${'chunk'.padEnd(6)} ${'flows'.padStart(8)} ${'q'.padStart(8)} ${'E[batch]'.padStart(9)} ${'critic steps'.padStart(13)} ${'σ'.padStart(10)} ${'ε alone'.padStart(8)}`);
  for (const c of d.chunks) {
    say(
      args,
      `  ${String(c.chunk).padEnd(6)} ${String(c.flows).padStart(8)} ${c.q.toFixed(4).padStart(8)} ${c.expectedBatch.toFixed(1).padStart(9)} ${String(c.steps).padStart(13)} ${c.noiseMultiplier.toFixed(4).padStart(10)} ${c.epsilonAlone.toFixed(3).padStart(8)}`,
    );
  }
  const pub = d.publicPretraining;
  if (pub) say(args, `  public pretraining (not DP, public data): ${pub.trace} chunk ${pub.chunk} (${pub.flows} flows), ${pub.iterations} iterations; every private chunk started from ${pub.checkpoint}`);
  say(args, `  composition: ${d.composition}`);
  say(args, '  not covered by ε (uses the real data outside DP-SGD):');
  for (const n of d.notPrivate) say(args, `    - ${n}`);
}

export async function runCommandHandler(args: ArgumentsCamelCase<PipelineArgs>, which: 'run' | 'train' | 'generate'): Promise<void> {
  const config = which === 'generate' ? undefined : await configFor(args);
  const rep = reporter(args);
  const stages: Record<typeof which, { from: StageName; to: StageName }> = {
    run: { from: 'preprocess', to: 'evaluate' },
    train: { from: 'preprocess', to: 'train' },
    generate: { from: 'generate', to: 'evaluate' },
  };
  try {
    const r = await interruptible((signal) => runPipeline({
      signal,
      workdir: args.workdir,
      ...(args.executor !== undefined ? { executorUrl: args.executor } : {}),
      ...(args.workdirRoot !== undefined ? { workdirRoot: args.workdirRoot } : {}),
      ...(args.jobTimeout !== undefined ? { jobTimeoutS: args.jobTimeout } : {}),
      ...(args.input ? { input: args.input } : {}),
      ...(config ? { config } : {}),
      ...(args.out ? { out: args.out } : {}),
      ...(args.workers !== undefined ? { workers: args.workers } : {}),
      device: args.device as 'cpu' | 'cuda',
      ...(args.flows !== undefined ? { flows: args.flows } : {}),
      ...(args.duration !== undefined ? { durationS: args.duration } : {}),
      ...(args.holdoutFile !== undefined ? { holdoutFile: args.holdoutFile } : {}),
      ...(args.public !== undefined ? { publicTrace: args.public } : {}),
      ...(which !== 'generate' ? { read: readOptionsFrom(args) } : {}),
      ...(args.budget !== undefined ? { budgetS: parseBudget(args.budget) } : {}),
      downstream: args.downstream ?? true,
      privacy: args.privacy ?? true,
      ...stages[which],
      events: rep,
    }));
    rep.stop();
    printSummary(args, r);
  } finally {
    rep.stop();
  }
}

export const runCommand: CommandModule<object, PipelineArgs> = {
  command: 'run',
  describe: 'Learn a trace and synthesise a new one: preprocess → train → generate → postprocess → evaluate (resumable)',
  builder: (y: Argv) => pipelineOptions(y, 'run') as unknown as Argv<PipelineArgs>,
  handler: (args) => runCommandHandler(args, 'run'),
};
