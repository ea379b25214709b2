// End-to-end benchmark of `netshare run`: wall time, peak RSS, time per stage and the fidelity table (× floor) on
// the enterprise pcap and a 200k-record slice of the UGR16 day, with configs scaled to minutes (bench/e2e-*.json).
// Baseline measured in the same run: a bare read of the same input (readTrace), so stage times read as multiples.
// Run: npm run build && npx vite-node bench/e2e.ts [pcap|netflow|all] [--workers N] [--iterations N (smoke test)]
//      → table on stdout, JSON in bench/out/e2e.json; workdirs in a temp folder (removed unless --keep).
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { readTrace } from '../src/io/read-trace.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const INPUTS = {
  pcap: { file: resolve(ROOT, '../shared/data/pcap/enterprise-lan-2012-1h.pcap'), config: join(ROOT, 'bench', 'e2e-pcap.json'), slice: 0 },
  netflow: { file: resolve(ROOT, '../shared/data/netflow/ugr16-2016-04-11.csv.gz'), config: join(ROOT, 'bench', 'e2e-netflow.json'), slice: 200_000 },
};
type Name = keyof typeof INPUTS;

/** The header and the first `n` records of a (gzip'd) CSV. */
async function sliceCsv(file: string, n: number, out: string): Promise<void> {
  const rl = createInterface({ input: file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file) });
  const w = createWriteStream(out);
  let lines = 0;
  for await (const line of rl) {
    w.write(`${line}\n`);
    if (++lines > n) break;
  }
  rl.close();
  await new Promise((r) => w.end(r));
}

async function one(name: Name, tmp: string, workers: number, iterations?: number): Promise<Record<string, unknown>> {
  const spec = INPUTS[name];
  let input = spec.file;
  if (spec.slice > 0) {
    input = join(tmp, `${name}-${spec.slice}.csv`);
    await sliceCsv(spec.file, spec.slice, input);
  }
  const t0 = performance.now();
  const { table } = await readTrace(input);
  const readS = (performance.now() - t0) / 1000;
  const wd = join(tmp, `wd-${name}`);
  const args = [BIN, 'run', '--input', input, '--config', spec.config, '--workdir', wd, '--workers', String(workers), '--json', ...(iterations ? ['--iterations', String(iterations)] : [])];
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr);
  const wallS = wall ? wall[1]!.split(':').reduce((s, x) => s * 60 + Number(x), 0) : NaN;
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
    ok: boolean;
    stages?: { name: string; seconds: number }[];
    fidelity?: { rows: { metric: string; value: number | null; floor: number | null; ratio: number | null }[]; synthetic: { records: number; flows: number } };
  };
  if (!summary.ok) throw new Error(`netshare run failed on ${name}: ${r.stderr.slice(-2000)}`);
  const manifest = JSON.parse(readFileSync(join(wd, 'manifest.json'), 'utf8')) as { stages: Record<string, { outcome?: unknown }> };
  return {
    input: name,
    file: spec.file,
    records: table.length,
    config: JSON.parse(readFileSync(spec.config, 'utf8')),
    workers,
    baselineReadS: readS,
    wallS,
    peakRssMB: rss ? Number(rss[1]) / 1024 : NaN,
    stages: Object.fromEntries((summary.stages ?? []).map((s) => [s.name, s.seconds])),
    train: manifest.stages.train?.outcome,
    synthetic: summary.fidelity?.synthetic,
    fidelity: summary.fidelity?.rows,
  };
}

const which = (process.argv[2] ?? 'all') as Name | 'all';
const wi = process.argv.indexOf('--workers');
const workers = wi > 0 ? Number(process.argv[wi + 1]) : 2;
const ii = process.argv.indexOf('--iterations');
const iterations = ii > 0 ? Number(process.argv[ii + 1]) : undefined;
if (!existsSync(BIN)) throw new Error('dist/ is not built: run `npm run build` first');
const tmp = mkdtempSync(join(tmpdir(), 'ns-bench-e2e-'));
const rows: Record<string, unknown>[] = [];
const which2 = which.startsWith('--') ? 'all' : which;
for (const name of (which2 === 'all' ? ['pcap', 'netflow'] : [which2]) as Name[]) {
  if (!existsSync(INPUTS[name].file)) {
    console.log(`${name}: skipped (${INPUTS[name].file} is absent)`);
    continue;
  }
  const row = await one(name, tmp, workers, iterations);
  rows.push(row);
  const st = row.stages as Record<string, number>;
  const total = Object.values(st).reduce((a, b) => a + b, 0);
  console.log(`\n${name}: ${row.records} records; wall ${(row.wallS as number).toFixed(1)} s (${((row.wallS as number) / (row.baselineReadS as number)).toFixed(0)}× a bare read of ${(row.baselineReadS as number).toFixed(2)} s); peak RSS ${(row.peakRssMB as number).toFixed(0)} MB`);
  console.log(`  stages: ${Object.entries(st).map(([k, v]) => `${k} ${v.toFixed(1)} s (${((100 * v) / total).toFixed(0)}%)`).join(', ')}`);
  console.log(`  ${'metric'.padEnd(24)} ${'synthetic'.padStart(12)} ${'floor'.padStart(12)} ${'× floor'.padStart(9)}`);
  for (const f of (row.fidelity ?? []) as { metric: string; value: number | null; floor: number | null; ratio: number | null }[]) {
    const fm = (v: number | null): string => (v === null ? 'n/a' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));
    console.log(`  ${f.metric.padEnd(24)} ${fm(f.value).padStart(12)} ${fm(f.floor).padStart(12)} ${(f.ratio === null ? 'n/a' : `${fm(f.ratio)}×`).padStart(9)}`);
  }
}
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'out', 'e2e.json'), `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
if (!process.argv.includes('--keep')) rmSync(tmp, { recursive: true, force: true });
else console.log(`workdirs kept in ${tmp}`);
