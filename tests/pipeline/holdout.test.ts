// Held-out evaluation (issue 12): preprocess sets a seeded share of the input's 5-tuple flows aside before anything is
// fitted, the share is in the preprocess fingerprint, and `run` evaluates against the held-out flows and prints them.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexFlows, keyWords } from '../../src/io/flow-key.js';
import { takeRows } from '../../src/io/rows.js';
import type { PacketTable, Table } from '../../src/io/table.js';
import { writePcap } from '../../src/native/writer.js';
import { MIN_HOLDOUT_FLOWS, holdoutTablePath, loadRealSides, splitHoldout } from '../../src/pipeline/holdout.js';
import { preprocess } from '../../src/pipeline/preprocess.js';
import { loadPreprocessSummary, preprocessDir } from '../../src/pipeline/chunk-tensors.js';
import { readTableFile } from '../../src/pipeline/workdir.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { runCli } from '../cli/run-cli.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

function tupleKeys(t: Table, rows: ArrayLike<number>): Set<string> {
  const w = new Uint32Array(12);
  const out = new Set<string>();
  for (let r = 0; r < rows.length; r++) {
    keyWords(t, rows[r]!, w);
    out.add(w.join(','));
  }
  return out;
}

describe('splitHoldout', () => {
  const t = syntheticPackets(200, 2);
  it('holds out round(share × flows) whole 5-tuple flows; the two sides share none and cover every record once', () => {
    const s = splitHoldout(t, 0.1, 7);
    expect(s.flows).toBe(200);
    expect(s.heldOutFlows).toBe(20);
    expect(indexFlows(takeRows(t, s.holdoutRows)).count).toBe(20);
    expect(indexFlows(takeRows(t, s.trainRows)).count).toBe(180);
    const train = tupleKeys(t, s.trainRows);
    for (const k of tupleKeys(t, s.holdoutRows)) expect(train.has(k)).toBe(false);
    const all = [...s.trainRows, ...s.holdoutRows].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: t.length }, (_, i) => i));
    // both sides keep the input's order
    for (const rows of [s.trainRows, s.holdoutRows]) for (let i = 1; i < rows.length; i++) expect(rows[i]!).toBeGreaterThan(rows[i - 1]!);
    // shares within rounding: 3 of 25 flows for 0.1 (round 2.5 → 3), 50 of 200 for 0.25
    expect(splitHoldout(syntheticPackets(25, 2), 0.1, 1).heldOutFlows).toBe(3);
    expect(splitHoldout(t, 0.25, 1).heldOutFlows).toBe(50);
  });
  it('is a function of the seed (stream preprocess/holdout)', () => {
    expect(Array.from(splitHoldout(t, 0.1, 7).holdoutRows)).toEqual(Array.from(splitHoldout(t, 0.1, 7).holdoutRows));
    expect(Array.from(splitHoldout(t, 0.1, 8).holdoutRows)).not.toEqual(Array.from(splitHoldout(t, 0.1, 7).holdoutRows));
  });
  it(`holds nothing out for share 0 or under ${MIN_HOLDOUT_FLOWS} flows; at least one flow otherwise`, () => {
    expect(splitHoldout(t, 0, 1)).toMatchObject({ heldOutFlows: 0, reason: 'preprocess.holdoutShare is 0' });
    expect(splitHoldout(t, 0, 1).trainRows.length).toBe(t.length);
    const small = splitHoldout(syntheticPackets(MIN_HOLDOUT_FLOWS - 1, 2), 0.1, 1);
    expect(small.heldOutFlows).toBe(0);
    expect(small.reason).toMatch(/19 5-tuple flows, fewer than the 20 needed/);
    expect(splitHoldout(syntheticPackets(MIN_HOLDOUT_FLOWS, 2), 0.01, 1).heldOutFlows).toBe(1);
  });
});

describe('preprocess with held-out flows', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-holdout-'));
  });
  const cfg = (share?: number) => resolveRunConfig({ raw: tinyConfig('pcap') }, share === undefined ? {} : { holdoutShare: share });

  it('fits nothing on them: encoders (word2vec, ranges) and tensors equal those of the training records alone', async () => {
    const input = syntheticPackets(60, 2);
    const wdA = join(dir, 'with-holdout');
    const r = await preprocess({ input: join(dir, 'in.pcap'), workdir: wdA, config: cfg(), table: input });
    const split = splitHoldout(input, 0.1, 0);
    expect(r.holdout).toEqual({
      source: 'flows', share: 0.1, flows: 60, heldOutFlows: 6, records: split.holdoutRows.length, trainRecords: split.trainRows.length,
      file: 'holdout.nstable', rowsFile: 'holdout-rows.u32',
    });
    expect(r.records).toBe(input.length);
    expect(r.flowKeys).toBe(54);
    const wdB = join(dir, 'training-only');
    await preprocess({ input: join(dir, 'train.pcap'), workdir: wdB, config: cfg(0), table: takeRows(input, split.trainRows) });
    const files = (wd: string): string[] => readdirSync(preprocessDir(wd), { recursive: true }).map(String).filter((f) => !f.startsWith('holdout') && f !== 'summary.json' && f.includes('.')).sort();
    expect(files(wdA)).toEqual(files(wdB));
    // byte for byte, but for encoders.json's word2vec timing
    const bytes = (wd: string, f: string): Buffer => {
      const b = readFileSync(join(preprocessDir(wd), f));
      if (f !== 'encoders.json') return b;
      const j = JSON.parse(b.toString('utf8')) as { word2vecInfo?: { seconds?: number } };
      delete j.word2vecInfo?.seconds;
      return Buffer.from(JSON.stringify(j));
    };
    for (const f of files(wdA)) expect(bytes(wdA, f).equals(bytes(wdB, f)), f).toBe(true);
    // the held-out records are in the workdir, and the input's two sides come back from it
    const held = await readTableFile(holdoutTablePath(wdA));
    expect(held).toEqual(takeRows(input, split.holdoutRows));
    const sides = await loadRealSides(wdA, input, await loadPreprocessSummary(wdA));
    expect(sides.train).toEqual(takeRows(input, split.trainRows));
    expect(sides.holdout).toEqual(held);
    expect((await loadPreprocessSummary(wdB)).holdout).toEqual({ source: 'none', reason: 'preprocess.holdoutShare is 0', trainRecords: split.trainRows.length });
  });

  it('a holdout file: the whole input is training, the file is held out, its bytes are fingerprinted', async () => {
    const input = join(dir, 'in-file.pcap');
    const other = join(dir, 'held.pcap');
    const table = syntheticPackets(30, 2);
    await writePcap(input, table);
    await writePcap(other, syntheticPackets(8, 1));
    const wd = join(dir, 'wd-file');
    const r = await preprocess({ input, workdir: wd, config: cfg(), holdoutFile: other });
    expect(r.holdout).toMatchObject({ source: 'file', path: other, trainRecords: table.length });
    expect(r.flowKeys).toBe(30);
    expect((await readTableFile(holdoutTablePath(wd))).length).toBe((r.holdout as { records: number }).records);
    expect((await preprocess({ input, workdir: wd, config: cfg(), holdoutFile: other })).skipped).toBe(true);
    await writePcap(other, syntheticPackets(9, 1));
    expect((await preprocess({ input, workdir: wd, config: cfg(), holdoutFile: other })).skipped).toBe(false);
  });

  it('the share is in the preprocess fingerprint: changing it preprocesses and trains again', async () => {
    const input = join(dir, 'in-fp.pcap');
    await writePcap(input, syntheticPackets(40, 2));
    const wd = join(dir, 'wd-fp');
    const small = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1, iterations: 2, checkpointEvery: 1 }) });
    const executor = new InProcessExecutor(1);
    const go = (share: number) => runPipeline({ input, workdir: wd, config: { ...small, preprocess: { ...small.preprocess, holdoutShare: share } }, to: 'train', executor });
    await go(0.1);
    const fp1 = (await loadManifest(wd)).stages.preprocess!.fingerprint;
    expect((await go(0.1)).stages.map((s) => s.skipped)).toEqual([true, true]);
    const r = await go(0.2);
    expect(r.stages.map((s) => [s.name, s.skipped])).toEqual([['preprocess', false], ['train', false]]);
    expect((await loadManifest(wd)).stages.preprocess!.fingerprint).not.toBe(fp1);
    expect((await loadPreprocessSummary(wd)).holdout).toMatchObject({ source: 'flows', heldOutFlows: 8 });
  }, 120_000);
});

describe('netshare run evaluates against the held-out flows', () => {
  let input: string;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ns-holdout-run-'));
    input = join(dir, 'in.pcap');
    await writePcap(input, syntheticPackets(40, 2) as PacketTable);
  });
  const config = (): string => {
    const f = join(dir, 'tiny.json');
    writeFileSync(f, JSON.stringify(tinyConfig('pcap')));
    return f;
  };

  it('prints the held-out columns; the metrics JSON has the generalisation column and the held-out privacy reference', async () => {
    const wd = join(dir, 'wd');
    const r = await runCli(['run', '--input', input, '--config', config(), '--workdir', wd, '--workers', '1']);
    expect(r.code, r.err).toBe(0);
    const held = (await loadPreprocessSummary(wd)).holdout as { heldOutFlows: number; records: number; trainRecords: number };
    expect(held.heldOutFlows).toBe(4);
    expect(r.out).toContain(`real ${held.trainRecords} records / 36 5-tuples trained on;`);
    expect(r.out).toContain(`held out ${held.records} / 4`);
    const header = r.out.split('\n').find((l) => l.startsWith('metric'))!;
    expect(header.split(/\s{2,}/).map((s) => s.trim())).toEqual(['metric', 'synthetic', 'floor', '× floor', 'held-out', '× train']);
    const row = r.out.split('\n').find((l) => l.startsWith('pkt_len'))!;
    expect(row.trim().split(/\s+/)).toHaveLength(6);
    const m = JSON.parse(readFileSync(join(wd, 'metrics.json'), 'utf8')) as {
      inputs: { real: { records: number }; holdout: { records: number } };
      generalisation: { floor: Record<string, number | null> };
      methods: { generalisation: { metrics: Record<string, number | null> }; privacy: { holdoutSource: string; holdout: { trainRecords: number } } }[];
    };
    expect(m.inputs.real.records).toBe(held.trainRecords);
    expect(m.inputs.holdout.records).toBe(held.records);
    expect(m.generalisation.floor.pkt_len).toBeGreaterThan(0);
    expect(m.methods[0]!.generalisation.metrics.pkt_len).toBeGreaterThan(0);
    expect(m.methods[0]!.privacy.holdoutSource).toBe('holdout-file');
    expect(m.methods[0]!.privacy.holdout.trainRecords).toBe(held.trainRecords);
  }, 120_000);

  it('--holdout-share 0 is the old behaviour: the whole input is the real side, no held-out column', async () => {
    const wd = join(dir, 'wd0');
    const r = await runCli(['run', '--input', input, '--config', config(), '--workdir', wd, '--workers', '1', '--holdout-share', '0', '--no-downstream']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('held-out');
    const header = r.out.split('\n').find((l) => l.startsWith('metric'))!;
    expect(header.split(/\s{2,}/).map((s) => s.trim())).toEqual(['metric', 'synthetic', 'floor', '× floor']);
    const m = JSON.parse(readFileSync(join(wd, 'metrics.json'), 'utf8')) as { inputs: { real: { records: number }; holdout?: unknown }; generalisation?: unknown };
    expect(m.inputs.real.records).toBe(syntheticPackets(40, 2).length);
    expect(m.inputs.holdout).toBeUndefined();
    expect(m.generalisation).toBeUndefined();
  }, 120_000);
});
