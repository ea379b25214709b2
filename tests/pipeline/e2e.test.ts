// Tiny end-to-end `netshare run`s (seconds each): a synthesised pcap (no shared data), the CAIDA 1k pcap and the
// UGR16 1k NetFlow CSV; outputs exist, parse back, counts are sane, tshark reads the pcap cleanly, reruns skip.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap } from '../../src/native/writer.js';
import { readTrace } from '../../src/io/read-trace.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import type { PacketTable } from '../../src/io/table.js';
import { HAVE_TSHARK, syntheticPackets, tinyConfig, tsharkProblems } from './helpers.js';

const CAIDA = '/work/shared/data/pcap/caida-2018-1k.pcapng';
const UGR = '/work/shared/data/netflow/ugr16-netshare-1k.csv';

async function runTiny(input: string, dataset: 'pcap' | 'netflow', out: string, extra: { flows?: number } = {}) {
  const wd = mkdtempSync(join(tmpdir(), 'ns-e2e-'));
  const config = resolveRunConfig({ raw: tinyConfig(dataset) });
  const r = await runPipeline({ input, workdir: wd, config, out, workers: 1, downstream: false, privacy: false, ...extra });
  return { wd, r, config };
}

describe('netshare run on a synthesised pcap (needs no shared data)', () => {
  it('writes a pcap that parses back and that tshark reads cleanly; a rerun skips every stage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-in-'));
    const input = join(dir, 'in.pcap');
    const real = syntheticPackets(40, 2);
    await writePcap(input, real);
    const out = join(dir, 'synthetic.pcap');
    const { wd, r, config } = await runTiny(input, 'pcap', out);
    expect(r.stages.map((s) => s.name)).toEqual(['preprocess', 'train', 'generate', 'postprocess', 'evaluate']);
    expect(r.stages.every((s) => !s.skipped)).toBe(true);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(wd, 'report.html'))).toBe(true);
    expect(readFileSync(join(wd, 'report.html'), 'utf8')).toContain('Differential privacy: none.');
    const syn = (await readTrace(out)).table as PacketTable;
    expect(syn.kind).toBe('packets');
    expect(syn.length).toBeGreaterThan(0);
    // at most maxFlowLen records per flow and chunk, and no more flows than the chunks' attribute samples
    expect(syn.length).toBeLessThanOrEqual(real.length * 4);
    // sorted by time, inside the real trace's range
    for (let i = 1; i < syn.length; i++) expect(syn.time[i]!).toBeGreaterThanOrEqual(syn.time[i - 1]!);
    expect(syn.time[0]!).toBeGreaterThanOrEqual(real.time[0]! - 1);
    expect(syn.time[syn.length - 1]!).toBeLessThanOrEqual(real.time[real.length - 1]! + 1);
    for (let i = 0; i < syn.length; i++) expect([6, 17]).toContain(syn.proto[i]);
    if (HAVE_TSHARK) expect(tsharkProblems(out)).toEqual([]);
    // fidelity table from the evaluation
    // a real distance between two different traces (EMD of IP total lengths, in bytes: at most the widest length
    // gap of the two traces), and its ratio to a real floor
    const pktLen = r.fidelity!.rows.find((x) => x.metric === 'pkt_len')!;
    expect(pktLen.value!).toBeGreaterThan(0);
    const lens = [...real.pktLen.subarray(0, real.length), ...syn.pktLen.subarray(0, syn.length)];
    expect(pktLen.value!).toBeLessThanOrEqual(Math.max(...lens) - Math.min(...lens));
    expect(pktLen.floor!).toBeGreaterThan(0);
    expect(pktLen.ratio!).toBeCloseTo(pktLen.value! / pktLen.floor!, 6);
    // manifest: every stage done with inputs' sha256, versions, timings
    const m = await loadManifest(wd);
    expect(m.inputs[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.versions['onnxruntime-node']).toBe('1.29.0');
    for (const s of ['preprocess', 'train', 'generate', 'postprocess', 'evaluate']) expect(m.stages[s]!.status).toBe('done');
    // two chunks: chunk 1 fine-tuned from chunk 0 for a quarter of the iterations, one candidate per checkpoint
    const sel = JSON.parse(readFileSync(join(wd, 'postprocess', 'selection.json'), 'utf8')) as { selections: { chunk: number; candidates: unknown[]; best: number }[] };
    expect(sel.selections.map((s) => s.candidates.length)).toEqual([2, 2]);
    // duplicate 5-tuples are dropped once per chunk before the features, so no candidate has any left
    const gen = m.stages.generate!.outcome as { chunks: { duplicateFlows: number[] }[]; candidates: { duplicateFlows: number }[] };
    expect(gen.chunks.every((c) => c.duplicateFlows.length === 1)).toBe(true);
    expect(gen.candidates.every((c) => c.duplicateFlows === 0)).toBe(true);
    const again = await runPipeline({ input, workdir: wd, config, out, workers: 1, downstream: false, privacy: false });
    expect(again.stages.map((s) => s.skipped)).toEqual([true, true, true, true, true]);
    expect(again.fidelity).toEqual(r.fidelity);
    void config;
  }, 120_000);
});

describe.skipIf(!existsSync(CAIDA))(`netshare run on ${CAIDA} (skipped when the file is absent)`, () => {
  it('writes a clean pcap with about as many flows as asked for (--flows)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ns-out-')), 'caida.pcap');
    const { r } = await runTiny(CAIDA, 'pcap', out, { flows: 100 });
    const syn = (await readTrace(out)).table;
    expect(syn.length).toBeGreaterThan(0);
    // duplicates and truncation only remove flows; continuation copies may add some
    expect(r.fidelity!.synthetic.flows).toBeLessThanOrEqual(200);
    if (HAVE_TSHARK) expect(tsharkProblems(out)).toEqual([]);
  }, 120_000);
});

describe.skipIf(!existsSync(UGR))(`netshare run on ${UGR} (skipped when the file is absent)`, () => {
  it('writes a NetFlow CSV in the input schema that parses back with whole packet/byte counts', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ns-out-')), 'ugr.csv');
    const { r } = await runTiny(UGR, 'netflow', out);
    const back = await readFlowCsv(out);
    const inSchema = (await readFlowCsv(UGR, { limit: 1 })).schema;
    expect(back.schema).toBe(inSchema);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(readFileSync(UGR, 'utf8').split('\n')[0]!.replace(/\r$/, ''));
    const t = back.table;
    expect(t.length).toBeGreaterThan(0);
    expect(t.length).toBeLessThanOrEqual(4000);
    for (let i = 0; i < t.length; i++) {
      expect(Number.isInteger(t.pkt[i])).toBe(true);
      expect(t.pkt[i]).toBeGreaterThanOrEqual(1);
      expect(t.td[i]).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(t.ts[i]!).toBeGreaterThanOrEqual(t.ts[i - 1]!);
    }
    expect(r.fidelity!.kind).toBe('flows');
  }, 120_000);
});
