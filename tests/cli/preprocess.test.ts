// `netshare preprocess` end to end: tensors + encoder state in the workdir, decoding them reproduces the input's flows.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFlowCsv, readFlowCsv } from '../../src/io/netflow-csv.js';
import { allocFlowTable, type Table } from '../../src/io/table.js';
import { decodeChunkFromWorkdir, loadChunkMeta, loadChunkTensors, loadEncoders, loadLayout, loadPreprocessSummary } from '../../src/pipeline/chunk-tensors.js';
import type { IpTopEncoder } from '../../src/encode/fields.js';
import { loadRealSides } from '../../src/pipeline/holdout.js';
import { runCli } from './run-cli.js';

const UGR = join(__dirname, '../../../shared/data/netflow/ugr16-2016-04-11.csv.gz');
const PCAP = join(__dirname, '../../../shared/data/pcap/enterprise-lan-2012-1h.pcap');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-preprocess-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = runCli;

function key(t: Table, i: number): string {
  return `${t.srcIp[i]}|${t.dstIp[i]}|${t.srcPort[i]}|${t.dstPort[i]}|${t.proto[i]}`;
}

/**
 * Decode every saved chunk and compare with the input's training records (the input less the held-out flows, which
 * share no 5-tuple with them): the same records per 5-tuple, and per 5-tuple the same sorted times within the
 * float32 quantisation of the chunk's time ranges. Returns rows decoded.
 */
async function expectDecodedMatchesInput(workdir: string, all: Table): Promise<number> {
  const s = await loadPreprocessSummary(workdir);
  const { train: input, holdout } = await loadRealSides(workdir, all, s);
  expect(input.length + (holdout?.length ?? 0)).toBe(all.length);
  const trainKeys = new Set(Array.from({ length: input.length }, (_, i) => key(input, i)));
  for (let i = 0; i < (holdout?.length ?? 0); i++) expect(trainKeys.has(key(holdout!, i))).toBe(false);
  const want = new Map<string, number[]>();
  const tIn = input.kind === 'packets' ? input.time : input.ts;
  for (let i = 0; i < input.length; i++) {
    const k = key(input, i);
    const l = want.get(k);
    if (l) l.push(tIn[i]!);
    else want.set(k, [tIn[i]!]);
  }
  const got = new Map<string, number[]>();
  let rows = 0;
  let tol = 0;
  for (const c of s.chunks) {
    const meta = await loadChunkMeta(workdir, c);
    tol = Math.max(tol, (meta.flowStartRange[1] - meta.flowStartRange[0] + meta.T * (meta.interarrivalRange[1] - meta.interarrivalRange[0])) * 2 ** -22);
    const d = await decodeChunkFromWorkdir(workdir, c);
    const t = d.table;
    const tt = t.kind === 'packets' ? t.time : t.ts;
    for (let i = 0; i < t.length; i++) {
      const k = key(t, i);
      const l = got.get(k);
      if (l) l.push(tt[i]!);
      else got.set(k, [tt[i]!]);
    }
    rows += t.length;
  }
  expect(rows).toBe(input.length);
  expect(got.size).toBe(want.size);
  let worst = 0;
  for (const [k, times] of want) {
    const g = got.get(k);
    expect(g?.length, k).toBe(times.length);
    times.sort((a, b) => a - b);
    g!.sort((a, b) => a - b);
    for (let i = 0; i < times.length; i++) worst = Math.max(worst, Math.abs(times[i]! - g![i]!));
  }
  expect(worst).toBeLessThanOrEqual(tol + 1);
  return rows;
}

async function syntheticCsv(file: string, n: number): Promise<void> {
  const t = allocFlowTable(n);
  t.type = [];
  for (let i = 0; i < n; i++) {
    const k = i % 37;
    t.srcIp[i] = 0x0a000000 + k;
    t.dstIp[i] = 0xc0a80001;
    t.srcPort[i] = 30000 + k;
    t.dstPort[i] = [80, 443, 53][k % 3]!;
    t.proto[i] = k % 3 === 2 ? 17 : 6;
    t.ts[i] = 1.46e15 + i * 1_000_003;
    t.td[i] = (i % 50) / 10;
    t.pkt[i] = 1 + (i % 20);
    t.byt[i] = 40 * (1 + (i % 20));
    t.type.push(i % 97 === 0 ? 'blacklist' : 'background');
  }
  await writeFlowCsv(file, t);
}

describe('netshare preprocess', () => {
  it('writes chunk tensors, encoder state and layout; decoding reproduces the input flows; reruns are skipped', async () => {
    const csv = join(dir, 'flows.csv');
    await syntheticCsv(csv, 2000);
    const wd = join(dir, 'wd1');
    const r = await run(['preprocess', '--input', csv, '--preset', 'netflow', '--workdir', wd, '--chunks', '3', '--json']);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out.trim()) as Record<string, unknown>;
    // 4 of the 37 5-tuples (round(0.1 × 37)) are held out before anything is fitted
    expect(summary).toMatchObject({ ok: true, dataset: 'netflow', records: 2000, flowKeys: 33, chunks: [0, 1, 2], skipped: false });
    expect(summary.holdout).toMatchObject({ source: 'flows', share: 0.1, flows: 37, heldOutFlows: 4 });
    const held = summary.holdout as { records: number; trainRecords: number };
    expect(held.records + held.trainRecords).toBe(2000);
    expect(existsSync(join(wd, 'preprocess', 'holdout.nstable'))).toBe(true);
    for (const f of ['encoders.json', 'layout.json', 'summary.json', 'chunk-0/meta.json', 'chunk-0/attributes.f32', 'chunk-0/features.f32', 'chunk-0/lengths.u32']) {
      expect(existsSync(join(wd, 'preprocess', f)), f).toBe(true);
    }
    const layout = await loadLayout(wd);
    // the netflow preset's ipTop addresses: a head over the popular addresses, then one over the bits
    expect(layout.attributes.map((s) => s.name)).toEqual(['srcip', 'srcip.bits', 'dstip', 'dstip.bits', 'srcport', 'dstport', 'proto', 'flow_tags', 'flow_start_bin', 'flow_start']);
    // td and pkt: a head for the point mass at their minimum, then the value
    expect(layout.features.map((s) => [s.name, s.activation])).toEqual([
      ['interarrival', 'sigmoid'], ['td.atMin', 'softmax'], ['td', 'sigmoid'], ['pkt.atMin', 'softmax'], ['pkt', 'sigmoid'], ['byt', 'sigmoid'], ['type', 'softmax'],
    ]);
    const dense = await loadChunkTensors(wd, 1);
    expect(dense.features.length).toBe(dense.n * dense.T * dense.F);
    expect(dense.T % 10).toBe(0);
    const meta = (await loadEncoders(wd)).metadata;
    const [src, dst] = meta as IpTopEncoder[];
    expect(src!.classes).toBeGreaterThan(1);
    // the protocol: a categorical over the trace's protocols (one-hot)
    expect(meta[4]).toMatchObject({ column: 'proto', encoding: 'categorical' });
    expect(meta[4]!.dim).toBeGreaterThan(1);
    // addresses (classes + bits), ports, proto, tags, flow-start bins, flow start
    expect(dense.A).toBe(src!.classes + 64 + dst!.classes + 64 + 20 + meta[4]!.dim + 8 + 16 + 1);
    const input = (await readFlowCsv(csv)).table;
    expect(await expectDecodedMatchesInput(wd, input)).toBe(held.trainRecords);
    // same input + config: the manifest says done
    const again = await run(['preprocess', '--input', csv, '--preset', 'netflow', '--workdir', wd, '--chunks', '3', '--json']);
    expect(JSON.parse(again.out.trim())).toMatchObject({ skipped: true });
  });

  it('a bad config names the key path (exit 2); a bad CSV row names file and line (exit 3)', async () => {
    const cfg = join(dir, 'bad.json');
    await writeFile(cfg, JSON.stringify({ preset: 'netflow', preprocess: { nChunks: 0 } }));
    const csv = join(dir, 'flows2.csv');
    await syntheticCsv(csv, 50);
    const r = await run(['preprocess', '--input', csv, '--config', cfg, '--workdir', join(dir, 'wd2')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('preprocess.nChunks');
    expect(r.err).toContain('ConfigError');
    const text = await readFile(csv, 'utf8');
    const lines = text.split('\n');
    lines[7] = lines[7]!.replace(/^(\d+),/, '1.2.3,');
    await writeFile(csv, lines.join('\n'));
    const b = await run(['preprocess', '--input', csv, '--preset', 'netflow', '--workdir', join(dir, 'wd3'), '--chunks', '2']);
    expect(b.code).toBe(3);
    expect(b.err).toContain(`${csv}:8:`);
    const s = await run(['preprocess', '--input', csv, '--preset', 'netflow', '--workdir', join(dir, 'wd3'), '--chunks', '2', '--skip-bad-rows', '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.out.trim())).toMatchObject({ records: 49 });
  });

  it('too many chunks for the data is a ConfigError before any work', async () => {
    const csv = join(dir, 'flows3.csv');
    await syntheticCsv(csv, 5);
    const r = await run(['preprocess', '--input', csv, '--workdir', join(dir, 'wd4'), '--chunks', '10']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('preprocess.nChunks');
  });
});

describe.skipIf(!existsSync(UGR))('UGR16 day (needs ../shared/data/netflow; skipped when absent)', () => {
  it('preprocesses the first 50k records and decodes them back', async () => {
    const wd = join(dir, 'ugr');
    const r = await run(['preprocess', '--input', UGR, '--workdir', wd, '--limit', '50000', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim())).toMatchObject({ dataset: 'netflow', inputFormat: 'flow-csv', records: 50000 });
    const input = (await readFlowCsv(UGR, { limit: 50000 })).table;
    expect(await expectDecodedMatchesInput(wd, input)).toBe((await loadPreprocessSummary(wd)).holdout!.trainRecords);
  });
});

describe.skipIf(!existsSync(PCAP))('enterprise pcap (needs ../shared/data/pcap; skipped when absent)', () => {
  it('preprocesses the hour of packets and decodes every packet back', async () => {
    const wd = join(dir, 'pcap');
    const r = await run(['preprocess', '--input', PCAP, '--workdir', wd, '--json']);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out.trim()) as { dataset: string; inputFormat: string; records: number; maxLen: number };
    expect(s).toMatchObject({ dataset: 'pcap', inputFormat: 'pcap' });
    const { readPacketTable } = await import('../../src/native/reader.js');
    const { table } = await readPacketTable(PCAP);
    expect(s.records).toBe(table.length);
    expect(await expectDecodedMatchesInput(wd, table)).toBe((await loadPreprocessSummary(wd)).holdout!.trainRecords);
  });
});
