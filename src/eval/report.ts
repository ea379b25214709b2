// Renders the evaluation result as ONE self-contained HTML file: metrics table with floor ratios colour-coded,
// CDFs, rank-frequency plots, top-value bars, downstream and privacy results, drawn by an inlined echarts build.
import type { Table } from '../io/table.js';
import type { ChartData, EvalResult, MethodResult } from './evaluate-tables.js';

/** Ratio bands for the colour code: ≤ GOOD is "as close as real is to itself", > FAIR is far. */
export const RATIO_BANDS = { good: 1.5, fair: 3 } as const;

/**
 * The largest ratio still green, per trace kind and metric: the ideal-generator calibration (bench/calibrate-bands.ts,
 * table in src/eval/README.md). A real sample disjoint from the reference, scored as synthetic, lands at or below it in
 * ≥ 95% of seeds on each shared trace of that kind (the 95th percentile over 40 seeds, and enough for 95% of the
 * seeds 1–20 that define the metric, rounded up to a quarter; never below RATIO_BANDS.good). NetFlow's flow_iat_emd
 * is set by NetShare's 1k sample, whose samples hold a handful of inter-arrivals (p95 1.9 on the UGR16 day cuts).
 * Amber reaches twice the green limit (at least RATIO_BANDS.fair); red is beyond.
 */
export const GREEN_LIMITS: Readonly<Record<Table['kind'], Readonly<Record<string, number>>>> = {
  packets: {
    srcip: 2.5, dstip: 2.25, srcport: 1.5, dstport: 1.5, proto: 7.5, pkt_len: 3.25, time: 2.75, flow_size: 2.25,
    pkt_byt_jsd2d: 1.5, pkt_byt_spearman_diff: 2.5, dur_size_jsd2d: 1.5, dur_size_spearman_diff: 3.25, flow_iat_emd: 3.25,
    ttl_const_diff: 3, tos_const_diff: 2.75, tcp_flagseq_jsd: 2.25,
  },
  flows: {
    srcip: 2.25, dstip: 2, srcport: 1.5, dstport: 1.5, proto: 2.75, ts: 2.25, td: 2.25, pkt: 3.25, byt: 3.5,
    pkt_byt_jsd2d: 1.75, pkt_byt_spearman_diff: 3.5, dur_size_jsd2d: 1.5, dur_size_spearman_diff: 2.75, flow_iat_emd: 8.25,
    records_per_5tuple_emd: 2.5, tcp_flags_jsd: 3,
  },
};

/** Green limit of the headline (median ratio over NetShare's marginal metrics), calibrated the same way. */
export const HEADLINE_GREEN: Readonly<Record<Table['kind'], number>> = { packets: 1.75, flows: 1.5 };

/** The largest ratio still green for `metric` of a `kind` trace ('headline': the headline's). */
export function greenLimit(kind: Table['kind'], metric: string): number {
  if (metric === 'headline') return HEADLINE_GREEN[kind];
  return Math.max(RATIO_BANDS.good, GREEN_LIMITS[kind][metric] ?? RATIO_BANDS.good);
}

interface ChartSpec {
  id: string;
  section: string;
  title: string;
  option: Record<string, unknown>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e6 ? v.toExponential(2) : Number(v.toPrecision(3)).toString();
}

/** A ratio as printed everywhere: `2.5×`, `∞×` (a real-vs-real floor of 0 that the synthetic trace misses), `n/a`. */
export function fmtRatio(r: number | null | undefined): string {
  if (r === Infinity) return '∞×';
  return r === null || r === undefined || !Number.isFinite(r) ? 'n/a' : `${fmt(r)}×`;
}

/** JSON.stringify replacer that keeps ±Infinity (ratios over a floor of 0) as the strings "Infinity"/"-Infinity" instead of null. */
export function keepInfinity(_key: string, v: unknown): unknown {
  return v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
}

/** The colour of ratio `r` of `metric` ('headline' for the headline) in a `kind` trace. */
export function ratioClass(r: number | null | undefined, kind: Table['kind'], metric: string): 'good' | 'fair' | 'poor' | 'na' {
  if (r === Infinity) return 'poor';
  if (r === null || r === undefined || !Number.isFinite(r)) return 'na';
  const good = greenLimit(kind, metric);
  return r <= good ? 'good' : r <= Math.max(RATIO_BANDS.fair, 2 * good) ? 'fair' : 'poor';
}

const spreadOf = (v: number | null | undefined, r: { min: number; max: number } | null | undefined): string =>
  `${fmt(v)}${r && r.max > r.min ? ` <span class="spread">[${fmt(r.min)}–${fmt(r.max)}]</span>` : ''}`;

const PALETTE = ['#3b3b3b', '#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9'];

function base(title: string, legend: string[]): Record<string, unknown> {
  return {
    animation: false,
    color: PALETTE,
    title: { text: title, left: 'center', textStyle: { fontSize: 13 } },
    legend: { data: legend, type: 'scroll', bottom: 0, textStyle: { fontSize: 11 } },
    grid: { left: 64, right: 20, top: 36, bottom: 56 },
    tooltip: { trigger: 'axis' },
  };
}

function chartSpecs(result: EvalResult, charts: ChartData): ChartSpec[] {
  const specs: ChartSpec[] = [];
  for (const c of charts.cdfs) {
    const names = c.series.map((s) => s.name);
    specs.push({
      id: `cdf-${c.field}`,
      section: 'cdf',
      title: `CDF of ${c.field}${c.unit ? ` (${c.unit})` : ''}`,
      option: {
        ...base(`CDF of ${c.field}${c.unit ? ` (${c.unit})` : ''}`, names),
        xAxis: { type: c.logX ? 'log' : 'value', scale: true, name: c.field, nameLocation: 'middle', nameGap: 24 },
        yAxis: { type: 'value', min: 0, max: 1, name: 'CDF' },
        series: c.series.map((s) => ({ name: s.name, type: 'line', step: 'end', showSymbol: false, data: s.points })),
      },
    });
  }
  for (const c of charts.rankFreq) {
    specs.push({
      id: `rank-${c.field}`,
      section: 'rank',
      title: `${c.field} popularity rank vs relative frequency`,
      option: {
        ...base(`${c.field}: rank vs relative frequency (log-log)`, c.series.map((s) => s.name)),
        xAxis: { type: 'log', name: 'rank', nameLocation: 'middle', nameGap: 24 },
        yAxis: { type: 'log', name: 'frequency' },
        series: c.series.map((s) => ({ name: s.name, type: 'line', showSymbol: false, data: s.points })),
      },
    });
  }
  for (const b of charts.bars) {
    specs.push({
      id: `bar-${b.field}`,
      section: 'bars',
      title: `Top ${b.field} values`,
      option: {
        ...base(`Top ${b.field} values (share of records)`, b.series.map((s) => s.name)),
        xAxis: { type: 'category', data: b.categories, axisLabel: { fontSize: 10 } },
        yAxis: { type: 'value' },
        series: b.series.map((s) => ({ name: s.name, type: 'bar', data: s.values })),
      },
    });
  }
  const withCls = result.methods.filter((m) => m.downstream?.classification.status === 'ok');
  if (withCls.length > 0) {
    const first = withCls[0]!.downstream!.classification;
    if (first.status === 'ok') {
      const names = first.scores.map((s) => s.classifier);
      const series = [
        { name: 'trained on real', type: 'bar', data: first.scores.map((s) => s.realAccuracy) },
        ...withCls.map((m) => {
          const c = m.downstream!.classification;
          return { name: `trained on ${m.name}`, type: 'bar', data: c.status === 'ok' ? c.scores.map((s) => s.synAccuracy) : [] };
        }),
      ];
      specs.push({
        id: 'downstream-classification',
        section: 'downstream',
        title: 'Classification accuracy on real test records',
        option: {
          ...base(`Accuracy predicting ${first.target} on real test records`, series.map((s) => s.name)),
          xAxis: { type: 'category', data: names, axisLabel: { fontSize: 10 } },
          yAxis: { type: 'value', min: 0, max: 1 },
          series,
        },
      });
    }
  }
  const withHh = result.methods.filter((m) => m.downstream);
  if (withHh.length > 0) {
    const first = withHh[0]!.downstream!.heavyHitters;
    const series = [
      { name: 'real', type: 'bar', data: first.sketches.map((s) => s.realError) },
      ...withHh.map((m) => ({ name: m.name, type: 'bar', data: m.downstream!.heavyHitters.sketches.map((s) => s.synError) })),
    ];
    specs.push({
      id: 'downstream-sketches',
      section: 'downstream',
      title: 'Heavy-hitter relative error',
      option: {
        ...base(`Mean relative error on the top-${first.topK} flows`, series.map((s) => s.name)),
        xAxis: { type: 'category', data: first.sketches.map((s) => s.sketch), axisLabel: { fontSize: 9, rotate: 20 } },
        yAxis: { type: 'value' },
        series,
      },
    });
  }
  const withPriv = result.methods.filter((m) => m.privacy);
  if (withPriv.length > 0) {
    const cats = ['5-tuples copied', 'IPs copied', 'exact DCR matches'];
    const row = (c: { tuplesCopied: number; ipsCopied: number }, exact: number): number[] => [c.tuplesCopied, c.ipsCopied, exact];
    const p0 = withPriv[0]!.privacy!;
    const series = [
      { name: 'real holdout', type: 'bar', data: row(p0.holdout, p0.dcr.holdout.exact) },
      ...withPriv.map((m) => ({ name: m.name, type: 'bar', data: row(m.privacy!.synthetic, m.privacy!.dcr.synthetic.exact) })),
    ];
    specs.push({
      id: 'privacy-copies',
      section: 'privacy',
      title: 'Copied from training',
      option: {
        ...base('Share copied verbatim from the training trace', series.map((s) => s.name)),
        xAxis: { type: 'category', data: cats },
        yAxis: { type: 'value', min: 0, max: 1 },
        series,
      },
    });
  }
  return specs;
}

function metricsTable(result: EvalResult): string {
  const head = result.methods.map((m) => `<th colspan="2">${esc(m.name)}</th>`).join('');
  const sub = result.methods.map(() => '<th>value</th><th>× floor</th>').join('');
  const rows = result.metricInfo
    .map((mi) => {
      const cells = result.methods
        .map((m) => {
          const r = m.ratios[mi.name];
          const norm = mi.kind === 'emd' && result.methods.length > 1 ? ` <span class="norm">(${fmt(m.emdNormalised[mi.name])})</span>` : '';
          return `<td>${spreadOf(m.metrics[mi.name], m.metricsSpread[mi.name])}${norm}</td><td class="r ${ratioClass(r, result.kind, mi.name)}" title="green ≤ ${greenLimit(result.kind, mi.name)}×">${fmtRatio(r)}</td>`;
        })
        .join('');
      const fl = result.floors.flows[mi.name];
      const tm = result.floors.time[mi.name];
      const drift = fl !== null && fl !== undefined && fl > 0 && tm !== null && tm !== undefined ? tm / fl : null;
      const headline = result.headline.metrics.includes(mi.name);
      return `<tr${headline ? ' class="hl"' : ''}><td title="${esc(mi.description)}"><b>${esc(mi.name)}</b>${mi.family === 'joint' ? ' <span class="tag">joint</span>' : ''}</td><td>${mi.kind.toUpperCase()}${mi.unit ? ` (${esc(mi.unit)})` : ''}</td><td>${spreadOf(fl, result.floorSpread.flows[mi.name])}</td><td>${spreadOf(tm, result.floorSpread.time[mi.name])}</td><td>${drift === null ? 'n/a' : `${fmt(drift)}×`}</td>${cells}</tr>`;
    })
    .join('\n');
  return `<table class="metrics"><thead><tr><th rowspan="2">metric</th><th rowspan="2">kind</th><th rowspan="2">floor, flow split: mean [min–max]</th><th rowspan="2">floor, time split: mean [min–max]</th><th rowspan="2">drift (time ÷ flow floor)</th>${head}</tr><tr>${sub}</tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * The generalisation column (only with a holdout): each method against the held-out real records, and the same metric
 * between the training records and the held-out ones (its floor). Whole traces, not equal-size draws.
 */
function generalisationTable(result: EvalResult): string {
  const g = result.generalisation;
  if (!g) return '';
  const methods = result.methods.filter((m) => m.generalisation);
  const head = methods.map((m) => `<th colspan="2">${esc(m.name)}</th>`).join('');
  const sub = methods.map(() => '<th>value</th><th>× floor</th>').join('');
  const rows = result.metricInfo
    .map((mi) => {
      const cells = methods
        .map((m) => {
          const r = m.generalisation!.ratios[mi.name];
          return `<td>${fmt(m.generalisation!.metrics[mi.name])}</td><td class="r ${ratioClass(r, result.kind, mi.name)}">${fmtRatio(r)}</td>`;
        })
        .join('');
      const headline = result.headline.metrics.includes(mi.name);
      return `<tr${headline ? ' class="hl"' : ''}><td><b>${esc(mi.name)}</b>${mi.family === 'joint' ? ' <span class="tag">joint</span>' : ''}</td><td>${fmt(g.floor[mi.name])}</td>${cells}</tr>`;
    })
    .join('\n');
  const h = result.inputs.holdout;
  return `<h2>Generalisation: against held-out real records</h2><p>The same metrics against real records the model never saw (<code>${esc(h?.file ?? 'holdout')}</code>, ${h?.records ?? '?'} records), whole traces against each other. The floor is the metric between the training records and the held-out ones: 1× = as close to unseen real traffic as the training data itself is. A method far better here than in the table above memorises its training records; one far worse does not generalise.</p><table class="metrics"><thead><tr><th rowspan="2">metric</th><th rowspan="2">floor (training vs held-out)</th>${head}</tr><tr>${sub}</tr></thead><tbody>${rows}</tbody></table>`;
}

function headlineBlock(result: EvalResult): string {
  const h = result.headline;
  const c = result.comparison;
  const items = result.methods
    .map((m) => `<li><b>${esc(m.name)}</b>: <span class="hv r ${ratioClass(m.headline, result.kind, 'headline')}">${fmtRatio(m.headline)}</span></li>`)
    .join('');
  const size =
    c.size > 0
      ? `Every comparison is made at ${c.size} 5-tuple flows a side (min(synthetic flows, real flows ÷ 2); a larger side is subsampled), averaged over ${c.floorSplits} random flow splits.`
      : 'The real trace has a single flow, so there is no floor and no ratio; values compare the whole traces.';
  return `<div class="headline"><p><b>Headline: median × floor over NetShare's ${h.metrics.length} marginal metrics</b> (${h.metrics.map(esc).join(', ')}; flow split). 1× = as close to the real trace as a disjoint real sample of the same size; green ≤ ${HEADLINE_GREEN[result.kind]}× (a perfect generator stays below it in ≥ 95% of seeds), amber ≤ ${Math.max(RATIO_BANDS.fair, 2 * HEADLINE_GREEN[result.kind])}×.</p><ul>${items}</ul><p class="meta">${size} Joint metrics follow the marginals in the table below.</p></div>`;
}

function flowChronicleTable(result: EvalResult): string {
  const fc = result.flowChronicle;
  if (!fc) return '<p>FlowChronicle\'s comparison was not computed (a side has no record).</p>';
  const ref = fc.referenceSource === 'holdout-file' ? 'the real (training) trace against the holdout' : 'the early half of the real trace against the late half';
  const test = fc.referenceSource === 'holdout-file' ? 'the holdout' : 'the late half of the real trace (by start time)';
  const fields = [...fc.jsdFields, ...fc.emdFields];
  const row = (name: string, s: { jsd: number; emd: number; perField: Record<string, number> }, ratio?: { jsd: number | null; emd: number | null }): string =>
    `<tr><td>${esc(name)}</td><td>${fmt(s.jsd)}</td><td>${ratio ? `${fmt(ratio.jsd)}×` : '1×'}</td><td>${fmt(s.emd)}</td><td>${ratio ? `${fmt(ratio.emd)}×` : '1×'}</td>${fields.map((f) => `<td>${fmt(s.perField[f])}</td>`).join('')}</tr>`;
  const rows = [row(`real reference (${ref})`, fc.reference), ...result.methods.filter((m) => m.flowChronicle).map((m) => row(m.name, m.flowChronicle!, m.flowChronicle!.ratio))].join('');
  return `<p>FlowChronicle (CoNEXT'24) scores generators with scale-free numbers and reads them against a real reference: the mean Jensen–Shannon <i>distance</i> of exact values over {${fc.jsdFields.join(', ')}} and the mean histogram EMD (Freedman–Diaconis bins of the test side, Wasserstein-1 between the two cumulative histograms) over {${fc.emdFields.join(', ')}}. Every row is scored against ${test}, ${fc.size} ${fc.unit} a sample, mean of ${fc.draws} draws. Their paper reports, on CIDDS, ratios to the reference of 2.38 (NetShare), 0.99 (CTGAN) and 0.66 (FlowChronicle).</p><table><thead><tr><th>scored</th><th>mean JS distance</th><th>÷ reference</th><th>mean hist. EMD</th><th>÷ reference</th>${fields.map((f) => `<th>${esc(f)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

function downstreamTables(methods: MethodResult[]): string {
  const parts: string[] = [];
  for (const m of methods) {
    if (!m.downstream) continue;
    const c = m.downstream.classification;
    if (c.status === 'skipped') parts.push(`<p><b>${esc(m.name)}</b> classification skipped: ${esc(c.reason)}</p>`);
    else {
      const rows = c.scores
        .map((s) => `<tr><td>${s.classifier}</td><td>${fmt(s.realAccuracy)}</td><td>${fmt(s.synAccuracy)}</td><td>${fmt(s.realBalancedAccuracy)}</td><td>${fmt(s.synBalancedAccuracy)}</td></tr>`)
        .join('');
      parts.push(
        `<h3>${esc(m.name)}: predicting <code>${esc(c.target)}</code> (${c.classes.map(esc).join(', ')})</h3><p>train rows: real ${c.trainRows.real}, ${esc(m.name)} ${c.trainRows.synthetic}; real test rows ${c.testRows} (${c.testSource === 'holdout' ? 'held-out records' : 'a random half of the real 5-tuples'}); rank ordering Spearman ρ = <b>${fmt(c.rankSpearman)}</b></p><table><thead><tr><th>classifier</th><th>acc (train real)</th><th>acc (train ${esc(m.name)})</th><th>bal. acc (real)</th><th>bal. acc (${esc(m.name)})</th></tr></thead><tbody>${rows}</tbody></table>`,
      );
    }
    const h = m.downstream.heavyHitters;
    const rows = h.sketches.map((s) => `<tr><td>${esc(s.sketch)}</td><td>${fmt(s.realError)}</td><td>${fmt(s.synError)}</td><td>${fmt(s.relativeDifference)}</td></tr>`).join('');
    parts.push(
      `<h3>${esc(m.name)}: heavy hitters (top ${h.topK} 5-tuples by packets)</h3><p>sketch ranking Spearman ρ (real vs ${esc(m.name)}) per memory size: ${h.bySize.map((b) => `${b.counters} counters <b>${fmt(b.rankSpearman)}</b>`).join(', ')}; mean <b>${fmt(h.rankSpearman)}</b></p><table><thead><tr><th>sketch</th><th>error on real</th><th>error on ${esc(m.name)}</th><th>relative difference</th></tr></thead><tbody>${rows}</tbody></table>`,
    );
  }
  return parts.join('\n');
}

function privacyTable(methods: MethodResult[]): string {
  const ps = methods.filter((m) => m.privacy);
  if (ps.length === 0) return '<p>Privacy checks were not run.</p>';
  const p0 = ps[0]!.privacy!;
  const row = (name: string, c: { tuples: number; tuplesCopied: number; ips: number; ipsCopied: number }, d: { median: number; p05: number; exact: number }): string =>
    `<tr><td>${esc(name)}</td><td>${c.tuples}</td><td>${fmt(c.tuplesCopied)}</td><td>${c.ips}</td><td>${fmt(c.ipsCopied)}</td><td>${fmt(d.median)}</td><td>${fmt(d.p05)}</td><td>${fmt(d.exact)}</td></tr>`;
  const rows = [row('real holdout (reference)', p0.holdout, p0.dcr.holdout), ...ps.map((m) => row(m.name, m.privacy!.synthetic, m.privacy!.dcr.synthetic))].join('');
  const ref =
    p0.holdoutSource === 'holdout-file'
      ? `The reference is the given holdout file, compared with the same ${p0.holdout.trainRecords} real records.`
      : `No holdout file was given, so the reference is a seeded random half of the real records (split by record: a 5-tuple may fall in both halves), compared with the other half (${p0.holdout.trainRecords} records, ${p0.dcr.holdout.searched} DCR records); against half the training data it shares somewhat less by chance than a full-size comparison would.`;
  return `<p>Synthetic traces are compared with all ${p0.synthetic.trainRecords} real (training) records. ${ref} DCR = Euclidean distance to the closest training record (exact search over all ${p0.dcr.synthetic.searched} of them, ${p0.dcr.features.includes('log_flow_packets') ? 'one per 5-tuple flow' : 'one per record'}) in the normalised space [${p0.dcr.features.join(', ')}], measured for a seeded sample of each row's records (reference: ${p0.dcr.holdout.sampled}; ${esc(ps[0]!.name)}: ${p0.dcr.synthetic.sampled}).</p><table><thead><tr><th>records</th><th>distinct 5-tuples</th><th>share in training</th><th>distinct IPs</th><th>share in training</th><th>DCR median</th><th>DCR 5th pct</th><th>DCR = 0</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** What the report says about differential privacy: the run's guarantee and what it does not cover, or that it has none. */
export type ReportPrivacyGuarantee =
  | { dp: false }
  | {
      dp: true;
      epsilon: number;
      delta: number;
      /** σ of each chunk's critic steps (one σ for all when given; per chunk when derived from a target ε). */
      noiseMultipliers: readonly { chunk: number; sigma: number }[];
      clip: number;
      composition: string;
      notPrivate: readonly string[];
      publicTrace?: string;
    };

/** "noise multiplier σ = 1.2" when every chunk has the same σ, else "noise multiplier σ per chunk: 0: 319, 1: 3.67, …". */
function sigmaText(sigmas: readonly { chunk: number; sigma: number }[]): string {
  const first = sigmas[0]?.sigma;
  if (sigmas.every((s) => s.sigma === first)) return `noise multiplier σ = ${fmt(first ?? NaN)}`;
  return `noise multiplier σ per chunk: ${sigmas.map((s) => `${s.chunk}: ${fmt(s.sigma)}`).join(', ')}`;
}

function dpBlock(g: ReportPrivacyGuarantee | undefined): string {
  if (!g) return '';
  if (!g.dp) {
    return '<p class="headline"><b>Differential privacy: none.</b> This model was trained without DP-SGD (<code>global.dp</code> false): the synthetic trace carries no formal privacy guarantee; the privacy checks below measure copying, they do not bound it.</p>';
  }
  return `<div class="headline"><p><b>Differential privacy: (ε = ${fmt(g.epsilon)}, δ = ${fmt(g.delta)})</b> per 5-tuple flow, for the trained models and the released flow counts (${sigmaText(g.noiseMultipliers)}, per-example clip C = ${fmt(g.clip)}${g.publicTrace ? `, pretrained without DP on the public trace <code>${esc(g.publicTrace)}</code>` : ''}).</p>
<p class="meta">${esc(g.composition)}</p>
<p><b>Not covered by ε</b> (these use the real data directly):</p><ul>${g.notPrivate.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></div>`;
}

/**
 * The report as an HTML string. `echartsSource` is the text of echarts' dist/echarts.min.js (the caller reads
 * it from disk); it is inlined so the page fetches nothing. `guarantee` (from `run`) states the model's privacy
 * guarantee at the top.
 */
export function renderReport(result: EvalResult, charts: ChartData, echartsSource: string, guarantee?: ReportPrivacyGuarantee): string {
  const specs = chartSpecs(result, charts);
  const json = JSON.stringify(specs).replace(/</g, '\\u003c');
  const div = (section: string): string =>
    specs
      .filter((s) => s.section === section)
      .map((s) => `<div class="chart" id="${s.id}" data-chart="${s.id}" aria-label="${esc(s.title)}"></div>`)
      .join('\n');
  const inp = result.inputs;
  const safeJs = echartsSource.replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>netshare eval: ${esc(inp.synthetic.file ?? 'synthetic')} vs ${esc(inp.real.file ?? 'real')}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1280px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f6f6f6}
td:first-child{text-align:left}.r.good{background:#c3f0c8}.r.fair{background:#ffe8a3}.r.poor{background:#ffc9c9}.r.na{color:#999}
.norm{color:#888;font-size:11px}.spread{color:#777;font-size:11px;white-space:nowrap}tr.hl td:first-child{background:#f3f8ff}
.headline{border:1px solid #ccd;border-radius:6px;padding:4px 14px;background:#fafbff}.headline ul{margin:4px 0}.hv{padding:0 6px;font-size:16px;font-weight:600}.tag{font-size:10px;background:#e7f5ff;border-radius:3px;padding:0 4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:12px}.chart{height:300px;border:1px solid #eee}
.meta{color:#555}code{background:#f3f3f3;padding:0 3px}
</style></head><body>
<h1>Synthetic trace evaluation</h1>
<p class="meta">${result.kind === 'packets' ? 'Packet' : 'NetFlow'} traces. Real: <code>${esc(inp.real.file ?? 'real')}</code> (${inp.real.records} records, ${inp.real.flows} 5-tuples). Synthetic: <code>${esc(inp.synthetic.file ?? 'synthetic')}</code> (${inp.synthetic.records} records, ${inp.synthetic.flows} 5-tuples${inp.synthetic.evaluated ? `; evaluated on a seeded sample of ${inp.synthetic.evaluated.flows} whole flows (${inp.synthetic.evaluated.records} records), the copy shares over all of it` : ''}). Seed ${result.seed}. JS ${result.jsVariant} (natural log). Schema v${result.schemaVersion}.</p>
${dpBlock(guarantee)}
${headlineBlock(result)}
<h2>Fidelity metrics</h2>
<p>NetShare's metrics (JSD of IP popularity ranks, exact-value JSD of ports/protocol, Wasserstein-1 of continuous fields in raw units; highlighted rows, the headline's), then this project's joint metrics. Each value compares a method with a real sample of the same size (${result.comparison.size} flows), mean [min–max] over ${result.comparison.floorSplits} random flow splits. The floor is the same metric between two disjoint real samples of that size: by random 5-tuple flows (the <b>flow split</b>, over the same draws) and by time (the early vs the late half of the flows, ${result.comparison.timeDraws === 1 ? 'both whole' : `subsampled, ${result.comparison.timeDraws} draws`}; a time floor well above the flow floor shows drift). <b>× floor</b> is value ÷ <b>flow-split</b> floor:
<span class="r good">&nbsp;green&nbsp;</span> up to each metric's limit (hover a ratio), calibrated so that a perfect generator (a disjoint real sample) is green in ≥ 95% of seeds: ${result.metricInfo.map((mi) => `${esc(mi.name)} ${greenLimit(result.kind, mi.name)}×`).join(', ')}; <span class="r fair">&nbsp;amber&nbsp;</span> up to twice that (at least ${RATIO_BANDS.fair}×), <span class="r poor">&nbsp;red&nbsp;</span> above. A single synthetic trace is one sample: its ratio scatters around 1× even when it is perfect, which is why the bands are wide.${result.methods.length > 1 ? ' Grey numbers in brackets: EMD normalised to [0.1, 0.9] across the compared methods.' : ''}</p>
${metricsTable(result)}
${generalisationTable(result)}
<h2>FlowChronicle's scale-free comparison</h2>
${flowChronicleTable(result)}
<h2>Distributions (CDFs, real vs synthetic)</h2><div class="grid">${div('cdf')}</div>
<h2>IP popularity ranks</h2><div class="grid">${div('rank')}</div>
<h2>Top ports and protocols</h2><div class="grid">${div('bars')}</div>
<h2>Downstream tasks</h2><div class="grid">${div('downstream')}</div>
${downstreamTables(result.methods)}
<h2>Privacy</h2><div class="grid">${div('privacy')}</div>
${privacyTable(result.methods)}
<script>${safeJs}</script>
<script id="chart-data" type="application/json">${json}</script>
<script>
(function(){
  var specs = JSON.parse(document.getElementById('chart-data').textContent);
  specs.forEach(function(s){
    var el = document.getElementById(s.id);
    var chart = echarts.init(el, null, {renderer: 'svg'});
    chart.setOption(s.option);
    el.setAttribute('data-rendered', '1');
  });
  window.__chartsRendered = specs.length;
})();
</script>
</body></html>
`;
}
