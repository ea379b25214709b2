// Benchmark of `netshare preprocess` on the UGR16 day and the enterprise pcap: records/s per stage and peak RSS,
// against a bare read of the same input measured in the same run (gunzip + line split; native packet read).
// Run: npx vite-node bench/preprocess.ts [ugr|pcap|all]  → table on stdout, JSON in bench/out/preprocess.json
// Each input runs in its own child process so peak RSS is per input.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { presetConfig } from '../src/config/schema.js';
import { forEachLine } from '../src/io/csv-lines.js';
import { preprocess } from '../src/pipeline/preprocess.js';

const INPUTS = {
  ugr: { file: '../shared/data/netflow/ugr16-2016-04-11.csv.gz', preset: 'netflow' as const },
  pcap: { file: '../shared/data/pcap/enterprise-lan-2012-1h.pcap', preset: 'pcap' as const },
};
type Name = keyof typeof INPUTS;

interface Row {
  input: string;
  records: number;
  baselineReadS: number;
  readS: number;
  chunkS: number;
  fitS: number;
  encodeWriteS: number;
  totalS: number;
  recordsPerS: number;
  readVsBaseline: number;
  peakRssMB: number;
  T: number;
  chunks: number;
  outputMB: number;
  word2vecSentences: number;
}

async function one(name: Name): Promise<Row> {
  const { file, preset } = INPUTS[name];
  let t0 = performance.now();
  if (preset === 'netflow') {
    await forEachLine(file, () => undefined);
  } else {
    const { readPacketTable } = await import('../src/native/reader.js');
    await readPacketTable(file);
  }
  const baselineReadS = (performance.now() - t0) / 1000;
  const wd = mkdtempSync(join(tmpdir(), `bench-pre-${name}-`));
  const marks: Record<string, number> = {};
  t0 = performance.now();
  const r = await preprocess({
    input: file,
    workdir: wd,
    config: presetConfig(preset),
    force: true,
    onProgress: (phase) => {
      marks[phase] ??= performance.now();
    },
  });
  const end = performance.now();
  rmSync(wd, { recursive: true, force: true });
  const s = (a: string, b: string | number): number => ((typeof b === 'number' ? b : marks[b]!) - marks[a]!) / 1000;
  return {
    input: name,
    records: r.records,
    baselineReadS,
    readS: s('read', 'chunk'),
    chunkS: s('chunk', 'fit'),
    fitS: s('fit', 'encode'),
    encodeWriteS: s('encode', end),
    totalS: (end - t0) / 1000,
    recordsPerS: r.records / ((end - t0) / 1000),
    readVsBaseline: s('read', 'chunk') / baselineReadS,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    T: r.maxLen,
    chunks: r.chunks.length,
    outputMB: r.outputBytes / 2 ** 20,
    word2vecSentences: r.word2vec?.sentences ?? 0,
  };
}

const which = (process.argv[2] ?? 'all') as Name | 'all';
if (which !== 'all') {
  if (!existsSync(INPUTS[which].file)) {
    process.stdout.write(`${JSON.stringify({ skipped: `${INPUTS[which].file} absent` })}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(await one(which))}\n`);
  }
} else {
  const rows: Row[] = [];
  for (const name of Object.keys(INPUTS) as Name[]) {
    const child = spawnSync('npx', ['vite-node', 'bench/preprocess.ts', name], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = child.stdout.trim().split('\n').pop() ?? '';
    try {
      const row = JSON.parse(line) as Row | { skipped: string };
      if ('skipped' in row) process.stdout.write(`${name}: skipped (${row.skipped})\n`);
      else rows.push(row);
    } catch {
      process.stdout.write(`${name}: failed\n${child.stderr}\n`);
    }
  }
  const cols: (keyof Row)[] = ['input', 'records', 'baselineReadS', 'readS', 'readVsBaseline', 'chunkS', 'fitS', 'encodeWriteS', 'totalS', 'recordsPerS', 'peakRssMB', 'T', 'chunks', 'outputMB', 'word2vecSentences'];
  const fmt = (v: unknown): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0)) : String(v));
  process.stdout.write(`${cols.join('\t')}\n`);
  for (const r of rows) process.stdout.write(`${cols.map((c) => fmt(r[c])).join('\t')}\n`);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/preprocess.json', `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
}
