// The colour bands, calibrated with the ideal generator (src/eval/README.md, "Colour bands"): a real sample disjoint
// from the reference (a third of the 5-tuple flows), scored as synthetic exactly as `eval` scores a synthetic trace,
// must be green on every metric, and on the headline, in ≥ 95% of seeds 1–20 on the shared pcap and NetFlow traces
// (cut small so the whole file runs in well under a minute; bench/calibrate-bands.ts runs the full-size table).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateTables } from '../../src/eval/evaluate-tables.js';
import { idealGeneratorSplit } from '../../src/eval/floor.js';
import { greenLimit } from '../../src/eval/report.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { takeRows } from '../../src/io/rows.js';
import type { Table } from '../../src/io/table.js';

const D = '../shared/data';
const ADDON = 'build/Release/netshare_native.node';
const SEEDS = 20;

const firstRows = <T extends Table>(t: T, n: number): T => takeRows(t, Int32Array.from({ length: Math.min(n, t.length) }, (_, i) => i));

async function readPcap(file: string, limit: number): Promise<Table> {
  const { readPacketTable } = await import('../../src/native/reader.js');
  return firstRows((await readPacketTable(file)).table, limit);
}

const TRACES: { name: string; file: string; pcap: boolean; load: () => Promise<Table> }[] = [
  { name: 'caida-2018-10k', file: `${D}/pcap/caida-2018-10k.pcapng`, pcap: true, load: () => readPcap(`${D}/pcap/caida-2018-10k.pcapng`, 10_000) },
  { name: 'enterprise-lan-2012-1h, first 10k packets', file: `${D}/pcap/enterprise-lan-2012-1h.pcap`, pcap: true, load: () => readPcap(`${D}/pcap/enterprise-lan-2012-1h.pcap`, 10_000) },
  { name: 'ugr16-netshare-1k', file: `${D}/netflow/ugr16-netshare-1k.csv`, pcap: false, load: async () => (await readFlowCsv(`${D}/netflow/ugr16-netshare-1k.csv`)).table },
  { name: 'ugr16 day, first 5k records', file: `${D}/netflow/ugr16-2016-04-11.csv.gz`, pcap: false, load: async () => (await readFlowCsv(`${D}/netflow/ugr16-2016-04-11.csv.gz`, { limit: 5_000 })).table },
];

describe('colour bands: a perfect generator is green on every metric in ≥ 95% of seeds', () => {
  for (const tr of TRACES) {
    const missing = !existsSync(tr.file) ? `${tr.file} absent` : tr.pcap && !existsSync(ADDON) ? `the native addon ${ADDON} is not built` : null;
    it.skipIf(missing !== null)(missing === null ? tr.name : `${tr.name} (skipped: ${missing})`, async () => {
      const table = await tr.load();
      const green: Record<string, number> = {};
      const seen: Record<string, number> = {};
      const count = (metric: string, r: number | null | undefined): void => {
        if (r === null || r === undefined) return;
        seen[metric] = (seen[metric] ?? 0) + 1;
        if (r <= greenLimit(table.kind, metric)) green[metric] = (green[metric] ?? 0) + 1;
      };
      for (let seed = 1; seed <= SEEDS; seed++) {
        const s = idealGeneratorSplit(table, seed);
        const { result } = evaluateTables(takeRows(table, s.real), takeRows(table, s.synthetic), { seed, downstream: false, privacy: false });
        const m = result.methods[0]!;
        for (const mi of result.metricInfo) count(mi.name, m.ratios[mi.name]);
        count('headline', m.headline);
      }
      expect(seen.headline).toBe(SEEDS);
      const below = Object.keys(seen).filter((k) => (green[k] ?? 0) / seen[k]! < 0.95).map((k) => `${k} green in ${green[k] ?? 0}/${seen[k]} seeds`);
      expect(below, `${tr.name}: ${below.join('; ')}`).toEqual([]);
    }, 60_000);
  }
});
