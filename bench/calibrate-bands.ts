// Calibration of the report's colour bands with the ideal generator: for each seed, a third of a real trace's 5-tuple
// flows (idealGeneratorSplit) is scored as "synthetic" against the other two thirds exactly as `eval` scores a
// synthetic trace. A perfect generator must land green on every metric in ≥ 95% of seeds; this prints each metric's
// ratio quantiles per trace, the share of seeds green under the current bands, and the bands the data asks for.
// Run: npx vite-node bench/calibrate-bands.ts [seeds=40] [floorSplits=5]  → table on stdout, JSON in bench/out/
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { evaluateTables } from '../src/eval/evaluate-tables.js';
import { idealGeneratorSplit } from '../src/eval/floor.js';
import { metricsFor, NETSHARE_METRICS } from '../src/eval/fidelity.js';
import { greenLimit } from '../src/eval/report.js';
import { readTrace } from '../src/io/read-trace.js';
import { readFlowCsv } from '../src/io/netflow-csv.js';
import { takeRows } from '../src/io/rows.js';
import type { Table } from '../src/io/table.js';

const SEEDS = Number(process.argv[2] ?? 40);
const K = Number(process.argv[3] ?? 5);
/** Trace names to run (default: all). */
const ONLY = process.argv.slice(4);
const firstRows = <T extends Table>(t: T, n: number): T => takeRows(t, Int32Array.from({ length: Math.min(n, t.length) }, (_, i) => i));
const D = '../shared/data';
const TRACES: { name: string; load: () => Promise<Table> }[] = [
  { name: 'caida-2018-10k', load: async () => (await readTrace(`${D}/pcap/caida-2018-10k.pcapng`)).table },
  { name: 'enterprise-lan-2012-1h', load: async () => (await readTrace(`${D}/pcap/enterprise-lan-2012-1h.pcap`)).table },
  { name: 'ugr16-netshare-1k', load: async () => (await readTrace(`${D}/netflow/ugr16-netshare-1k.csv`)).table },
  { name: 'ugr16-day-200k', load: async () => (await readFlowCsv(`${D}/netflow/ugr16-2016-04-11.csv.gz`, { limit: 200_000 })).table },
  // The small cuts tests/eval/calibration.test.ts checks.
  { name: 'enterprise-lan-2012-1h-10k', load: async () => firstRows((await readTrace(`${D}/pcap/enterprise-lan-2012-1h.pcap`)).table, 10_000) },
  { name: 'ugr16-day-5k', load: async () => (await readFlowCsv(`${D}/netflow/ugr16-2016-04-11.csv.gz`, { limit: 5_000 })).table },
].filter((t) => ONLY.length === 0 || ONLY.includes(t.name));

const quantile = (v: number[], q: number): number => {
  const s = [...v].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(s.length - 1, lo + 1)]! - s[lo]!) * (pos - lo);
};
const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

interface Row {
  trace: string;
  metric: string;
  n: number;
  p05: number;
  p50: number;
  p95: number;
  max: number;
  green: number;
}

const rows: Row[] = [];
const TRACE_KIND: Record<string, Table['kind']> = {};
/** Per trace, seed and metric: the synthetic value, the floor's mean and spread (for studying band rules). */
const raw: { trace: string; seed: number; metric: string; value: number | null; ratio: number | null; floor: number | null; floorSd: number | null; floorMax: number | null }[] = [];
const allGreen: Record<string, number> = {};
const started = performance.now();
for (const tr of TRACES) {
  const file = tr.name;
  let table: Table;
  try {
    table = await tr.load();
  } catch (err) {
    console.error(`${file}: skipped (${(err as Error).message})`);
    continue;
  }
  TRACE_KIND[file] = table.kind;
  const ratios: Record<string, number[]> = {};
  let everyGreen = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const s = idealGeneratorSplit(table, seed);
    const { result } = evaluateTables(takeRows(table, s.real), takeRows(table, s.synthetic), { seed, floorSplits: K, downstream: false, privacy: false });
    const m = result.methods[0]!;
    for (const mi of metricsFor(table.kind)) {
      const sp = result.floorSpread.flows[mi.name];
      raw.push({ trace: file, seed, metric: mi.name, value: m.metrics[mi.name] ?? null, ratio: m.ratios[mi.name] ?? null, floor: result.floors.flows[mi.name] ?? null, floorSd: sp?.sd ?? null, floorMax: sp?.max ?? null });
    }
    let ok = true;
    for (const mi of metricsFor(table.kind)) {
      const r = m.ratios[mi.name];
      if (r === null || r === undefined) continue;
      (ratios[mi.name] ??= []).push(r);
      if (r > greenLimit(table.kind, mi.name)) ok = false;
    }
    if (m.headline !== null) (ratios.headline ??= []).push(m.headline);
    if (ok) everyGreen++;
  }
  allGreen[file] = everyGreen / SEEDS;
  for (const [metric, v] of Object.entries(ratios)) {
    const limit = greenLimit(table.kind, metric);
    rows.push({ trace: file, metric, n: v.length, p05: quantile(v, 0.05), p50: quantile(v, 0.5), p95: quantile(v, 0.95), max: Math.max(...v), green: v.filter((x) => x <= limit).length / v.length });
  }
  console.error(`${file}: ${SEEDS} seeds done (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

const order = (k: Table['kind']): string[] => ['headline', ...metricsFor(k).map((m) => m.name)];
console.log(`ideal generator, ${SEEDS} seeds, K = ${K}: ratio quantiles p05 / p50 / p95 / max, share of seeds green`);
console.log('| trace | metric | p05 | p50 | p95 | max | green |');
console.log('|---|---|---|---|---|---|---|');
for (const kind of ['packets', 'flows'] as const) {
  for (const r of rows.filter((x) => order(kind).includes(x.metric) && TRACE_KIND[x.trace] === kind)) {
    const marg = NETSHARE_METRICS[kind].includes(r.metric) ? ' (NetShare)' : '';
    console.log(`| ${r.trace} | ${r.metric}${marg} | ${f(r.p05)} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.max)} | ${(100 * r.green).toFixed(0)}% |`);
  }
}
console.log(`seeds green on every metric at once: ${Object.entries(allGreen).map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(', ')}`);
// The band each metric needs: the largest per-trace 95th percentile.
const need: Record<string, number> = {};
for (const r of rows) need[r.metric] = Math.max(need[r.metric] ?? 0, r.p95);
console.log('95th-percentile ratio per metric (max over traces):', Object.entries(need).map(([k, v]) => `${k} ${f(v)}`).join(', '));
if (!existsSync('bench/out')) mkdirSync('bench/out', { recursive: true });
writeFileSync(ONLY.length > 0 ? `bench/out/calibrate-bands-${ONLY.join('+')}.json` : 'bench/out/calibrate-bands.json', `${JSON.stringify({ seeds: SEEDS, floorSplits: K, rows, allGreen, need, raw }, null, 2)}\n`);
