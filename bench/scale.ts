// Scale: one config on the first N records of the UGR16 day for several N; per stage the wall seconds, CPU-seconds
// (the stage's process and its workers) and peak RSS, and the exponent of time vs records per stage (least squares
// on log-log). Every non-training stage should be linear (exponent ≤ 1.1; issue 19).
//
// Each stage runs in its own process (`node dist/…/run.js` through runPipeline's from/to), so CPU and RSS are the
// stage's own (getrusage of the waited-for children, workers included) — except generate and postprocess, which
// runPipeline cannot stop between: they share one process (wall seconds per stage from the run, CPU and RSS for both).
//
// Run: npm run build:ts && npx vite-node bench/scale.ts [--sizes 20000,50000,100000] [--iterations 200]
//        [--checkpoint-every 100] [--chunks 5] [--workers 2] [--input FILE] [--keep]
//      Sizes of the issue: --sizes 100000,300000,1000000 (the full day: 1367375).
//      --dir D --from generate: reuse the slices and trained workdirs of an earlier --keep run in D (its wd-<N>) and
//      run only generate + postprocess and evaluate again (code changes to generation, same model; implies --keep).
//      --flows F: ask generation for F flows (netshare run --flows) instead of the input's count.
//      → a table on stdout, JSON in bench/out/scale-<stamp>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sliceCsv } from './slice-csv.js';

const ROOT = resolve(import.meta.dirname, '..');
const RUN_JS = join(ROOT, 'dist', 'src', 'pipeline', 'run.js');
const STAGES = ['preprocess', 'train', 'generate', 'postprocess', 'evaluate'] as const;
const PROCS: (typeof STAGES)[number][][] = [['preprocess'], ['train'], ['generate', 'postprocess'], ['evaluate']];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}
const sizes = arg('sizes', '20000,50000,100000').split(',').map(Number);
const iterations = Number(arg('iterations', '200'));
const checkpointEvery = Number(arg('checkpoint-every', String(Math.max(1, Math.floor(iterations / 2)))));
const chunks = Number(arg('chunks', '5'));
const workers = Number(arg('workers', '2'));
const input = resolve(arg('input', join(ROOT, '../shared/data/netflow/ugr16-2016-04-11.csv.gz')));
const from = arg('from', 'preprocess') as (typeof STAGES)[number];
const reuse = process.argv.includes('--dir') ? resolve(arg('dir', '')) : undefined;
const flows = process.argv.includes('--flows') ? Number(arg('flows', '')) : undefined;
const keep = process.argv.includes('--keep') || reuse !== undefined;
if (!(STAGES as readonly string[]).includes(from) || from === 'postprocess' || from === 'evaluate') throw new Error(`Expected preprocess, train or generate for --from but received ${from}`);
if (from !== 'preprocess' && reuse === undefined) throw new Error('--from needs --dir (the folder of an earlier --keep run)');
if (flows !== undefined && !(Number.isInteger(flows) && flows > 0)) throw new Error(`Expected a positive integer for --flows but received ${arg('flows', '')}`);
if (!existsSync(RUN_JS)) throw new Error(`${RUN_JS} is missing: run \`npm run build:ts\` first`);
if (!existsSync(input)) throw new Error(`${input} is missing (the shared traces live in ../shared/data)`);
if (sizes.some((n) => !(Number.isInteger(n) && n > 0))) throw new Error(`Expected positive integers for --sizes but received ${arg('sizes', '')}`);

// the issue's 300k config, iterations and checkpoints from the flags
const config = {
  preset: 'netflow',
  global: { seed: 0, dataset: 'netflow' },
  preprocess: { nChunks: chunks, maxFlowLen: 50 },
  model: { iterations, checkpointEvery, sampleLen: 10, batchSize: 64, attrGenUnits: 64, attrGenLayers: 2, lstmUnits: 32, discUnits: 64, discLayers: 2, attrDiscUnits: 64, attrDiscLayers: 2, dRounds: 2 },
};

interface StageRow { stage: string; wallS: number; cpuS: number; peakRssMiB: number; sharedWith?: string }
interface SizeRow { records: number; stages: StageRow[]; synthetic?: { records: number; flows: number }; generation?: unknown }

const dir = reuse ?? mkdtempSync(join(tmpdir(), 'ns-scale-'));
const groups = PROCS.slice(PROCS.findIndex((g) => g[0] === from));
const results: SizeRow[] = [];
const load0 = loadavg();
for (const n of sizes) {
  const csv = join(dir, `ugr16-${n}.csv`);
  if (!(reuse && existsSync(csv))) await sliceCsv(input, n, csv);
  const wd = join(dir, `wd-${n}`);
  const row: SizeRow = { records: n, stages: [] };
  for (const group of groups) {
    // one process per group: runPipeline from = first, to = last stage of the group
    const script = `
      const { runPipeline, resolveRunConfig } = await import(${JSON.stringify(RUN_JS)});
      const r = await runPipeline({ input: ${JSON.stringify(csv)}, workdir: ${JSON.stringify(wd)}, workers: ${workers},
        config: resolveRunConfig({ raw: ${JSON.stringify(config)} }),
        from: ${JSON.stringify(group[0])}, to: ${JSON.stringify(group.at(-1))}, downstream: false, privacy: false${flows !== undefined ? `, flows: ${flows}` : ''} });
      process.stdout.write(JSON.stringify({ stages: r.stages, fidelity: r.fidelity ?? null }));`;
    // a file, not `node -e`: the local pool forks workers with this process's exec arguments
    const file = join(dir, `stage-${group[0]}.mjs`);
    writeFileSync(file, script);
    const t0 = performance.now();
    const p = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, file], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const wallS = (performance.now() - t0) / 1000;
    if (p.status !== 0) throw new Error(`${group.join('+')} on ${n} records failed (exit ${p.status}):\n${p.stderr.slice(-3000)}`);
    const [user, sys, rssK] = p.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    const out = JSON.parse(p.stdout) as { stages: { name: string; seconds: number; outcome: unknown }[]; fidelity: { synthetic: { records: number; flows: number } } | null };
    for (const stage of group) {
      const st = out.stages.find((x) => x.name === stage);
      row.stages.push({ stage, wallS: st?.seconds ?? wallS, cpuS: user! + sys!, peakRssMiB: rssK! / 1024, ...(group.length > 1 ? { sharedWith: group.join('+') } : {}) });
      if (stage === 'generate') row.generation = (st?.outcome as { fill?: unknown } | undefined)?.fill ?? null;
      process.stderr.write(`scale: ${n} records: ${stage} ${row.stages.at(-1)!.wallS.toFixed(1)} s; ${group.join('+')} ${(user! + sys!).toFixed(1)} CPU-s, ${(rssK! / 1024).toFixed(0)} MiB\n`);
    }
    if (out.fidelity) row.synthetic = out.fidelity.synthetic;
  }
  results.push(row);
  if (!keep) rmSync(wd, { recursive: true, force: true });
}

/** Least-squares slope of log(y) on log(x). */
function exponent(xs: number[], ys: number[]): number | null {
  const pts = xs.map((x, i) => [Math.log(x), Math.log(Math.max(ys[i]!, 1e-3))] as const);
  if (pts.length < 2) return null;
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const sxx = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx > 0 ? pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx : null;
}
const load1 = loadavg();
console.log(`scale: ${input}, ${chunks} chunks, ${iterations} iterations (checkpoint every ${checkpointEvery}), ${workers} workers${reuse ? `, from ${from} in ${reuse}` : ''}${flows !== undefined ? `, --flows ${flows}` : ''}; load average ${load0[0]!.toFixed(1)} → ${load1[0]!.toFixed(1)}`);
console.log(`${'stage'.padEnd(12)} ${sizes.map((n) => `${n} rec: s / CPU-s / MiB`.padStart(30)).join(' ')} ${'exp(wall)'.padStart(10)} ${'exp(CPU)'.padStart(9)}`);
const exps: Record<string, { wall: number | null; cpu: number | null }> = {};
for (const stage of STAGES) {
  if (!results[0]!.stages.some((s) => s.stage === stage)) continue;
  const st = results.map((r) => r.stages.find((s) => s.stage === stage)!);
  const e = { wall: exponent(sizes, st.map((s) => s.wallS)), cpu: exponent(sizes, st.map((s) => s.cpuS)) };
  exps[stage] = e;
  const f = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));
  console.log(`${(stage + (st[0]!.sharedWith ? '*' : '')).padEnd(12)} ${st.map((s) => `${s.wallS.toFixed(1)} / ${s.cpuS.toFixed(1)} / ${s.peakRssMiB.toFixed(0)}`.padStart(30)).join(' ')} ${f(e.wall).padStart(10)} ${f(e.cpu).padStart(9)}${stage !== 'train' && (e.cpu ?? 0) > 1.1 ? '  > 1.1' : ''}`);
}
console.log('* CPU-s and MiB of generate and postprocess together (one process); wall seconds their own');
for (const r of results) {
  const g = r.generation as { asked?: number; unique?: number; passes?: number } | null;
  console.log(`${r.records} records: synthetic ${r.synthetic?.records ?? '?'} records / ${r.synthetic?.flows ?? '?'} flows${g ? `; generation ${g.unique}/${g.asked} unique 5-tuples asked, ${g.passes} passes` : ''}`);
}
const outDir = join(ROOT, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ input, sizes, from, flows, iterations, checkpointEvery, chunks, workers, loadavg: { before: load0, after: load1 }, results, exponents: exps }, null, 2));
console.log(`JSON: ${file}`);
if (!keep) rmSync(dir, { recursive: true, force: true });
