// Baselines, downstream tasks and privacy checks on the real traces in ../shared/data (skipped when absent):
// what the marginal metrics miss, the joint/downstream/privacy checks must show.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import type { FlowTable } from '../../src/io/table.js';
import { evaluateTables } from '../../src/eval/evaluate-tables.js';
import { takeRows } from '../../src/io/rows.js';
import { testRng as rng } from './helpers.js';

const UGR = '../shared/data/netflow/ugr16-2016-04-11.csv.gz';
const CAIDA = '../shared/data/pcap/caida-2018-10k.pcapng';
const ADDON = 'build/Release/netshare_native.node';

describe.skipIf(!existsSync(UGR))(`UGR16 day (${existsSync(UGR) ? 'present' : `skipped: ${UGR} absent`})`, () => {
  it('baselines: marginals breaks joints and copies nothing; bootstrap keeps joints and copies flows; classifiers rank', async () => {
    // First 400k records hold ~107 blacklist rows; keep them all plus a seeded 40k sample of the rest.
    const { table } = await readFlowCsv(UGR, { limit: 400_000 });
    const r = rng(5);
    const keep: number[] = [];
    for (let i = 0; i < table.length; i++) if (table.type![i] === 'blacklist' || r() < 0.1) keep.push(i);
    const real = takeRows(table, keep) as FlowTable;
    expect(new Set(real.type).size).toBe(2);
    // "Synthetic" = the bootstrap of the real trace: the evaluation must see it as copying.
    const { result } = evaluateTables(real, real, { seed: 2, baselines: ['marginals', 'bootstrap'] });
    const [, marg, boot] = result.methods;
    for (const v of Object.values(result.floors.flows)) if (v !== null) expect(Number.isFinite(v)).toBe(true);
    expect(marg!.ratios.pkt_byt_spearman_diff!).toBeGreaterThan(10);
    expect(boot!.ratios.pkt_byt_spearman_diff!).toBeLessThan(5);
    expect(marg!.privacy!.synthetic.tuplesCopied).toBeLessThan(0.05);
    expect(boot!.privacy!.synthetic.tuplesCopied).toBeGreaterThan(0.4);
    expect(boot!.privacy!.dcr.synthetic.exact).toBeGreaterThan(marg!.privacy!.dcr.synthetic.exact);
    const cls = boot!.downstream!.classification;
    expect(cls.status).toBe('ok');
    if (cls.status === 'ok') {
      expect(cls.target).toBe('type');
      const rf = cls.scores.find((s) => s.classifier === 'random_forest')!;
      expect(rf.realAccuracy).toBeGreaterThan(0.75);
      expect(Math.abs(rf.synAccuracy - rf.realAccuracy)).toBeLessThan(0.15);
    }
    expect(boot!.downstream!.heavyHitters.rankSpearman!).toBeGreaterThan(0.5);
  });
});

describe.skipIf(!existsSync(CAIDA) || !existsSync(ADDON))(
  existsSync(CAIDA) && existsSync(ADDON) ? 'CAIDA 10k packets' : `CAIDA 10k packets (skipped: needs ${CAIDA} and the built addon ${ADDON})`,
  () => {
    it('marginals breaks per-flow header consistency, bootstrap keeps it; sketches run on both', async () => {
      const { readPacketTable } = await import('../../src/native/reader.js');
      const { table } = await readPacketTable(CAIDA);
      const { result } = evaluateTables(table, table, { seed: 1, baselines: ['marginals', 'bootstrap'] });
      const [syn, marg, boot] = result.methods;
      expect(syn!.metricsWhole.pkt_len).toBe(0);
      expect(marg!.metrics.ttl_const_diff!).toBeGreaterThan(10 * boot!.metrics.ttl_const_diff!);
      expect(marg!.ratios.flow_size!).toBeGreaterThan(2);
      expect(boot!.downstream!.classification.status).toBe('skipped');
      expect(boot!.downstream!.heavyHitters.sketches.length).toBe(9);
    });
  },
);
