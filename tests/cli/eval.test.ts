// `netshare eval` end to end (in-process main()): NetFlow CSV and pcap pairs, --metrics-json / --report / --json,
// and clear errors for bad input (missing file, mixed kinds, bad baseline) with no half-written outputs.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { writeFlowCsv } from '../../src/io/netflow-csv.js';
import { makeFlows, makePackets } from '../eval/helpers.js';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'netshare-eval-cli-'));
const ADDON = 'build/Release/netshare_native.node';

const run = runCli;

afterEach(() => vi.restoreAllMocks());

describe('netshare eval (NetFlow CSV)', () => {
  it('writes the metrics JSON and the report, and prints the --json summary', async () => {
    const real = join(dir, 'real.csv');
    const syn = join(dir, 'syn.csv');
    await writeFlowCsv(real, makeFlows(3000, 1));
    await writeFlowCsv(syn, makeFlows(2000, 2));
    const mj = join(dir, 'out', 'm.json');
    const rep = join(dir, 'out', 'r.html');
    const { code, out, err } = await run(['eval', '--real', real, '--synthetic', syn, '--baseline', 'bootstrap', '--metrics-json', mj, '--report', rep, '--json', '--seed', '4']);
    expect(err).not.toMatch(/Error/);
    expect(code).toBe(EXIT.OK);
    const summary = JSON.parse(out.trim()) as {
      ok: boolean;
      kind: string;
      report: string;
      metricsJson: string;
      ratios: Record<string, number | null>;
      headline: { value: number; metrics: string[]; split: string };
      floorSpread: { flows: Record<string, { min: number; max: number } | null> };
      flowChronicle: { reference: { jsd: number }; synthetic: { jsd: number; ratio: { jsd: number } } };
    };
    expect(summary.ok).toBe(true);
    expect(summary.kind).toBe('flows');
    expect(Object.keys(summary).slice(0, 3)).toEqual(['ok', 'kind', 'headline']);
    expect(summary.headline.metrics).toHaveLength(9);
    expect(summary.headline.value).toBeGreaterThan(0);
    expect(summary.floorSpread.flows.byt!.max).toBeGreaterThanOrEqual(summary.floorSpread.flows.byt!.min);
    expect(summary.flowChronicle.synthetic.ratio.jsd).toBeCloseTo(summary.flowChronicle.synthetic.jsd / summary.flowChronicle.reference.jsd, 9);
    expect(summary.report).toBe(rep);
    expect(summary.metricsJson).toBe(mj);
    const m = JSON.parse(readFileSync(mj, 'utf8')) as { schemaVersion: number; seed: number; methods: { name: string; metrics: Record<string, number | null> }[] };
    expect(m.schemaVersion).toBe(3);
    expect(m.seed).toBe(4);
    expect(m.methods.map((x) => x.name)).toEqual(['synthetic', 'baseline:bootstrap']);
    expect(m.methods[0]!.metrics.byt).toBeGreaterThan(0);
    const html = readFileSync(rep, 'utf8');
    expect(html).toContain('<script id="chart-data"');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['m.json', 'r.html']);
  });

  it('prints a human metrics table without --json', async () => {
    const real = join(dir, 'real.csv');
    const { code, out } = await run(['eval', '--real', real, '--synthetic', real, '--no-downstream', '--no-privacy']);
    expect(code).toBe(EXIT.OK);
    // The headline comes first; the synthetic side (the real trace itself) is compared at half its size.
    const lines = out.split('\n');
    expect(lines[1]).toMatch(/^headline \(median × floor over NetShare's 9 marginal metrics\): synthetic \S+×$/);
    expect(out).toMatch(/^srcip\s+\S+\s+\S+ \(\S+×\)/m);
    expect(out).toMatch(/^byt\s/m);
    expect(out).toMatch(/^ {2}td\s+flow \S+ \[\S+–\S+\]\s+time \S+ \[\S+–\S+\]$/m);
    expect(out).toMatch(/^FlowChronicle \(scale-free, \d+ records a sample, 5 draws\): reference \(early vs late half of the real trace\)/m);
    expect(out).not.toContain('vs holdout');
  });

  it('with --holdout: a column of the synthetic trace against the holdout, as a ratio to real vs holdout', async () => {
    const real = join(dir, 'real.csv');
    const held = join(dir, 'held.csv');
    await writeFlowCsv(held, makeFlows(600, 3));
    const { code, out } = await run(['eval', '--real', real, '--synthetic', real, '--holdout', held, '--no-downstream', '--no-privacy']);
    expect(code).toBe(EXIT.OK);
    expect(out).toMatch(/synthetic vs holdout \(× train\)/);
    // the synthetic side is the real trace itself: as far from the holdout as the training records are (1×)
    expect(out).toMatch(/^srcport\s+\S+\s+\S+ \(\S+×\)\s+\S+ \(1×\)$/m);
  });

  it('fails with the input code and writes nothing for a missing file', async () => {
    const mj = join(dir, 'missing', 'm.json');
    const { code, err } = await run(['eval', '--real', join(dir, 'nope.csv'), '--synthetic', join(dir, 'real.csv'), '--metrics-json', mj]);
    expect(code).toBe(EXIT.INPUT);
    expect(err).toMatch(/nope\.csv/);
    expect(existsSync(mj)).toBe(false);
  });

  it('rejects an unknown baseline and a missing --synthetic with the usage code', async () => {
    const real = join(dir, 'real.csv');
    expect((await run(['eval', '--real', real, '--synthetic', real, '--baseline', 'gan'])).code).toBe(EXIT.USAGE);
    expect((await run(['eval', '--real', real])).code).toBe(EXIT.USAGE);
    const bad = await run(['eval', '--real', join(dir, 'absent.csv'), '--synthetic', real, '--seed', '-3']);
    expect(bad.code).toBe(EXIT.USAGE); // options are checked before any file is read
    expect(bad.err).toMatch(/seed/);
  });
});

describe.skipIf(!existsSync(ADDON))(existsSync(ADDON) ? 'netshare eval (pcap)' : `netshare eval (pcap) (skipped: addon ${ADDON} not built)`, () => {
  it('evaluates a pcap pair and refuses to compare a pcap with a NetFlow CSV', async () => {
    const { writePcap } = await import('../../src/native/writer.js');
    const a = join(dir, 'a.pcap');
    const b = join(dir, 'b.pcap');
    await writePcap(a, makePackets(400, 1));
    await writePcap(b, makePackets(300, 2));
    const mj = join(dir, 'p.json');
    const ok = await run(['eval', '--real', a, '--synthetic', b, '--metrics-json', mj, '--baseline', 'marginals']);
    expect(ok.err).not.toMatch(/Error/);
    expect(ok.code).toBe(EXIT.OK);
    const m = JSON.parse(readFileSync(mj, 'utf8')) as { kind: string; methods: { metrics: Record<string, number | null> }[] };
    expect(m.kind).toBe('packets');
    expect(m.methods[0]!.metrics.pkt_len).toBeGreaterThan(0);
    const mixed = await run(['eval', '--real', a, '--synthetic', join(dir, 'real.csv')]);
    expect(mixed.code).toBe(EXIT.INPUT);
    expect(mixed.err).toMatch(/compare like with like/);
  });
});
