// The port/protocol embedding learns something measurable: web/mail ports cluster, DNS/NTP cluster, unrelated ports do not.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../src/config/schema.js';
import { recordView } from '../../src/encode/records.js';
import { fitEmbeddings } from '../../src/encode/tensors.js';
import { cosineRows } from '../../src/encode/word2vec.js';
import { readFlowCsv } from '../../src/io/netflow-csv.js';
import { allocFlowTable } from '../../src/io/table.js';

const UGR = join(__dirname, '../../../shared/data/netflow/ugr16-2016-04-11.csv.gz');

describe('word2vec on synthetic sentences', () => {
  it('ports that co-occur with the same partners end up close; ports and protocols never share a token', () => {
    // two "services": ports {1000..1009} always talk to 80 over TCP, ports {2000..2009} to 53 over UDP; port 6 exists too
    const n = 20000;
    const t = allocFlowTable(n);
    for (let i = 0; i < n; i++) {
      const web = i % 2 === 0;
      t.srcPort[i] = (web ? 1000 : 2000) + (Math.floor(i / 2) % 10);
      t.dstPort[i] = web ? 80 : 53;
      t.proto[i] = web ? 6 : 17;
      if (i % 1000 === 1) t.srcPort[i] = 6;
    }
    const cfg = presetConfig('netflow', { preprocess: { word2vec: { epochs: 5 } } });
    const a = fitEmbeddings(recordView(t), cfg);
    const b = fitEmbeddings(recordView(t), cfg);
    expect(Array.from(b.ports.vectors)).toEqual(Array.from(a.ports.vectors)); // seeded: reproducible
    const cos = (x: number, y: number): number => cosineRows(a.ports.vectors, 10, a.ports.rowOf(x), a.ports.rowOf(y));
    let within = 0;
    let across = 0;
    for (let k = 0; k < 10; k++) {
      within += cos(1000 + k, 1000 + ((k + 1) % 10)) + cos(2000 + k, 2000 + ((k + 1) % 10));
      across += 2 * cos(1000 + k, 2000 + k);
    }
    expect(within / 20 - across / 20).toBeGreaterThan(0.5);
    // separate vocabularies: port 6 and protocol 6 are different rows with different vectors
    expect(a.ports.has(6)).toBe(true);
    expect(a.protos.values).toEqual([6, 17]);
    const p6 = a.ports.vectors.subarray(a.ports.rowOf(6) * 10, a.ports.rowOf(6) * 10 + 10);
    const t6 = a.protos.vectors.subarray(0, 10);
    expect(Array.from(p6)).not.toEqual(Array.from(t6));
  });
});

describe.skipIf(!existsSync(UGR))('word2vec on the UGR16 day (needs ../shared/data/netflow; skipped when absent)', () => {
  it('80/443/8080 and 25/110 cluster, 53/123 cluster, rare ports are unrelated to 80', async () => {
    const { table } = await readFlowCsv(UGR, { limit: 400_000 });
    const { ports } = fitEmbeddings(recordView(table), presetConfig('netflow'));
    const cos = (x: number, y: number): number => cosineRows(ports.vectors, 10, ports.rowOf(x), ports.rowOf(y));
    let rare = 0;
    let k = 0;
    for (let i = 1000; i < ports.values.length; i += 97, k++) rare += cos(80, ports.values[i]!);
    rare /= k;
    const web = cos(80, 443);
    console.log(`cos(80,443) ${web.toFixed(3)}, cos(80,8080) ${cos(80, 8080).toFixed(3)}, cos(25,110) ${cos(25, 110).toFixed(3)}, cos(53,123) ${cos(53, 123).toFixed(3)}, cos(80,53) ${cos(80, 53).toFixed(3)}, mean cos(80, rare) ${rare.toFixed(3)}`);
    expect(web - rare).toBeGreaterThan(0.4);
    expect(cos(80, 8080)).toBeGreaterThan(0.6);
    expect(cos(25, 110)).toBeGreaterThan(0.6);
    expect(cos(53, 123)).toBeGreaterThan(0.5);
    expect(cos(80, 53)).toBeLessThan(web);
  });
});
