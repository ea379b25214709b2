// `netshare eval`: compare a synthetic trace with a real one (NetShare's metrics, floor ratios, baselines,
// downstream tasks, privacy checks); writes the metrics JSON (--metrics-json) and the HTML report (--report).
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { evaluateFiles } from '../../pipeline/evaluate.js';
import { BASELINES } from '../../eval/baselines.js';
import { fmt, fmtRatio } from '../../eval/report.js';
import { printJson, say, type GlobalArgs } from '../output.js';
import { readOptions, readOptionsFrom, type ReadArgs } from '../read-options.js';

interface EvalArgs extends GlobalArgs, ReadArgs {
  real: string;
  synthetic: string;
  holdout?: string;
  baseline?: string[];
  report?: string;
  metricsJson?: string;
  seed: number;
  floorSplits: number;
  maxSyntheticFlows?: number;
  jsDistance: boolean;
  downstream: boolean;
  privacy: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'Evaluate a synthetic trace against a real one (pcap vs pcap, or NetFlow CSV vs NetFlow CSV)',
  builder: (y: Argv) =>
    readOptions(y)
      .option('real', { type: 'string', demandOption: true, describe: 'Real (training) trace: pcap/pcapng/gzip pcap or NetFlow CSV(.gz)' })
      .option('synthetic', { type: 'string', demandOption: true, describe: 'Synthetic trace of the same kind' })
      .option('holdout', {
        type: 'string',
        describe:
          'Real trace never used for training: the privacy reference, compared with --real. Without it, a seeded random half of the real records is the reference, compared with the other half. Synthetic copying is always measured against all --real records',
      })
      .option('baseline', { type: 'string', array: true, choices: [...BASELINES], describe: 'Also evaluate built-in baselines (repeatable)' })
      .option('report', { type: 'string', describe: 'Write the self-contained HTML report here' })
      .option('metrics-json', { type: 'string', describe: 'Write the full metrics JSON (schema in src/eval/README.md) here' })
      .option('seed', { type: 'number', default: 1, describe: 'Seed for splits, baselines, samples and classifiers' })
      .option('floor-splits', {
        type: 'number',
        default: 5,
        describe: 'Random flow splits the floor and the metrics average over (each: two disjoint real samples of the compared size)',
      })
      .option('max-synthetic-flows', {
        type: 'number',
        describe:
          'Evaluate a synthetic trace of more flows than this on a seeded sample of that many whole flows (its copy shares still over all of it); 0 = every flow. Default: max(2,000,000, 2 × real flows)',
      })
      .option('js-distance', { type: 'boolean', default: false, describe: "Report Jensen-Shannon distance (NetShare master) instead of divergence (paper)" })
      .option('downstream', { type: 'boolean', default: true, describe: 'Run downstream tasks (--no-downstream to skip)' })
      .option('privacy', { type: 'boolean', default: true, describe: 'Run privacy checks (--no-privacy to skip)' }) as unknown as Argv<EvalArgs>,
  handler: async (args: ArgumentsCamelCase<EvalArgs>) => {
    const r = await evaluateFiles({
      real: args.real,
      synthetic: args.synthetic,
      ...(args.holdout ? { holdout: args.holdout } : {}),
      ...(args.baseline ? { baselines: args.baseline } : {}),
      ...(args.report ? { report: args.report } : {}),
      ...(args.metricsJson ? { metricsJson: args.metricsJson } : {}),
      seed: args.seed,
      floorSplits: args.floorSplits,
      ...(args.maxSyntheticFlows !== undefined ? { maxSyntheticFlows: args.maxSyntheticFlows } : {}),
      jsVariant: args.jsDistance ? 'distance' : 'divergence',
      downstream: args.downstream,
      privacy: args.privacy,
      read: readOptionsFrom(args),
      onStage: args.verbose ? (s) => process.stderr.write(`eval: ${s}\n`) : undefined,
    });
    const res = r.result;
    if (args.json) {
      const syn = res.methods[0]!;
      printJson({
        kind: res.kind,
        headline: { value: syn.headline, ...res.headline },
        real: res.inputs.real,
        synthetic: res.inputs.synthetic,
        comparison: res.comparison,
        metrics: syn.metrics,
        ratios: syn.ratios,
        floors: res.floors,
        floorSpread: res.floorSpread,
        flowChronicle: res.flowChronicle ? { ...res.flowChronicle, synthetic: syn.flowChronicle ?? null } : null,
        methods: res.methods.map((m) => ({ name: m.name, headline: m.headline, metrics: m.metrics, ratios: m.ratios, ...(m.flowChronicle ? { flowChronicle: m.flowChronicle } : {}) })),
        report: r.reportPath ?? null,
        metricsJson: r.metricsPath ?? null,
        seconds: r.seconds,
      });
      return;
    }
    const names = res.methods.map((m) => m.name);
    const w = 24;
    const ev = res.inputs.synthetic.evaluated;
    say(args, `${res.kind === 'packets' ? 'packets' : 'NetFlow'}: real ${res.inputs.real.records} records / ${res.inputs.real.flows} 5-tuples; synthetic ${res.inputs.synthetic.records} / ${res.inputs.synthetic.flows}${ev ? ` (evaluated on a seeded sample of ${ev.flows} flows, ${ev.records} records; copy shares over all of it)` : ''}`);
    const hx = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : `${fmt(x)}×`);
    say(args, `headline (median × floor over NetShare's ${res.headline.metrics.length} marginal metrics): ${res.methods.map((m) => `${m.name} ${hx(m.headline)}`).join(', ')}`);
    const cmp = res.comparison;
    say(args, cmp.size > 0 ? `compared at ${cmp.size} 5-tuple flows a side, mean over ${cmp.floorSplits} random flow splits; × floor uses the flow-split floor (mean [min–max] at the end)` : 'no floor: the real trace has a single flow');
    const g = res.methods[0]!.generalisation;
    const ratioText = fmtRatio;
    say(args, ['metric'.padEnd(w), 'floor'.padStart(10), ...names.map((n) => `${n} (× floor)`.padStart(30)), ...(g ? ['synthetic vs holdout (× train)'.padStart(32)] : [])].join(' '));
    for (const mi of res.metricInfo) {
      const cells = res.methods.map((m) => `${fmt(m.metrics[mi.name])} (${ratioText(m.ratios[mi.name])})`.padStart(30));
      const held = g ? [`${fmt(g.metrics[mi.name] ?? null)} (${ratioText(g.ratios[mi.name])})`.padStart(32)] : [];
      say(args, [mi.name.padEnd(w), fmt(res.floors.flows[mi.name]).padStart(10), ...cells, ...held].join(' '));
    }
    if (g) say(args, '(vs holdout: the metric against the --holdout records; × train: divided by the same metric between --real and the holdout)');
    for (const m of res.methods) {
      const c = m.downstream?.classification;
      if (c?.status === 'ok') say(args, `${m.name}: classifier rank Spearman ${fmt(c.rankSpearman)}; accuracy ${c.scores.map((s) => `${s.classifier} ${fmt(s.synAccuracy)} (real ${fmt(s.realAccuracy)})`).join(', ')}`);
      else if (c) say(args, `${m.name}: classification skipped (${c.reason})`);
      if (m.downstream) {
        const h = m.downstream.heavyHitters;
        say(args, `${m.name}: heavy-hitter sketch rank Spearman per memory size ${h.bySize.map((b) => `${b.counters}: ${fmt(b.rankSpearman)}`).join(', ')}; mean ${fmt(h.rankSpearman)}`);
      }
      if (m.privacy) {
        const p = m.privacy;
        say(args, `${m.name}: copied from all ${p.synthetic.trainRecords} real records: 5-tuples ${fmt(p.synthetic.tuplesCopied)}, IPs ${fmt(p.synthetic.ipsCopied)}; DCR median ${fmt(p.dcr.synthetic.median)}, share at 0 ${fmt(p.dcr.synthetic.exact)}`);
      }
    }
    const p0 = res.methods.find((m) => m.privacy)?.privacy;
    if (p0) {
      const ref = p0.holdoutSource === 'holdout-file' ? 'holdout file vs the real records' : `one random half of the real records vs the other (${p0.holdout.trainRecords} records)`;
      say(args, `privacy reference, ${ref}: 5-tuples ${fmt(p0.holdout.tuplesCopied)}, IPs ${fmt(p0.holdout.ipsCopied)}; DCR median ${fmt(p0.dcr.holdout.median)}, share at 0 ${fmt(p0.dcr.holdout.exact)}`);
    }
    if (cmp.size > 0) {
      const sp = (v: number | null | undefined, x: { min: number; max: number } | null | undefined): string => `${fmt(v)}${x ? ` [${fmt(x.min)}–${fmt(x.max)}]` : ''}`;
      say(args, `floors, mean [min–max]: flow split over ${cmp.floorSplits} draws; time split (early vs late flows) over ${cmp.timeDraws}`);
      for (const mi of res.metricInfo) say(args, `  ${mi.name.padEnd(w)} flow ${sp(res.floors.flows[mi.name], res.floorSpread.flows[mi.name]).padEnd(34)} time ${sp(res.floors.time[mi.name], res.floorSpread.time[mi.name])}`);
    }
    const fc = res.flowChronicle;
    if (fc) {
      const ref = fc.referenceSource === 'holdout-file' ? 'real vs holdout' : 'early vs late half of the real trace';
      const row = (name: string, s: { jsd: number; emd: number }, q?: { jsd: number | null; emd: number | null }): string =>
        `${name}: JS distance ${fmt(s.jsd)}${q ? ` (${hx(q.jsd)} reference)` : ''}, histogram EMD ${fmt(s.emd)}${q ? ` (${hx(q.emd)} reference)` : ''}`;
      say(args, `FlowChronicle (scale-free, ${fc.size} ${fc.unit} a sample, ${fc.draws} draws): ${row(`reference (${ref})`, fc.reference)}`);
      for (const m of res.methods) if (m.flowChronicle) say(args, `  ${row(m.name, m.flowChronicle, m.flowChronicle.ratio)}`);
    }
    if (r.metricsPath) say(args, `metrics JSON: ${r.metricsPath}`);
    if (r.reportPath) say(args, `report: ${r.reportPath}`);
  },
};
