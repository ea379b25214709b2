// NetFlow CSV: schema detection, column mapping, round trips through every schema, gzip, bad rows, the shared UGR16 data.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../src/errors.js';
import { readFlowCsv, writeFlowCsv, type FlowCsvSchema } from '../../src/io/netflow-csv.js';
import { detectTraceFormat, readTrace } from '../../src/io/read-trace.js';
import { allocFlowTable, type FlowTable } from '../../src/io/table.js';
import { formatDateTimeUs, parseDateTimeUs, parseNumber } from '../../src/io/csv-lines.js';

const UGR = join(__dirname, '../../../shared/data/netflow/ugr16-2016-04-11.csv.gz');
const NS1K = join(__dirname, '../../../shared/data/netflow/ugr16-netshare-1k.csv');
const PCAP = join(__dirname, '../../../shared/data/pcap/enterprise-lan-2012-1h.pcap');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netflow-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectInputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

const PROTOS = [1, 6, 17, 47, 50, 4, 41, 99];
const flowTable = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc
    .record({
      src: fc.array(fc.nat(0xffffffff), { minLength: n, maxLength: n }),
      dst: fc.array(fc.nat(0xffffffff), { minLength: n, maxLength: n }),
      sp: fc.array(fc.nat(65535), { minLength: n, maxLength: n }),
      dp: fc.array(fc.nat(65535), { minLength: n, maxLength: n }),
      pr: fc.array(fc.constantFrom(...PROTOS), { minLength: n, maxLength: n }),
      ts: fc.array(fc.integer({ min: 1.4e15, max: 1.6e15 }), { minLength: n, maxLength: n }),
      td: fc.array(fc.oneof(fc.double({ min: 0, max: 3600, noNaN: true }), fc.integer({ min: 0, max: 600 })), { minLength: n, maxLength: n }),
      pkt: fc.array(fc.nat(1e7), { minLength: n, maxLength: n }),
      byt: fc.array(fc.nat(2 ** 40), { minLength: n, maxLength: n }),
      flags: fc.array(fc.nat(63), { minLength: n, maxLength: n }),
      tos: fc.array(fc.nat(255), { minLength: n, maxLength: n }),
      type: fc.array(fc.constantFrom('background', 'blacklist', 'anomaly-spam', 'with,comma'), { minLength: n, maxLength: n }),
    })
    .map((r): FlowTable => {
      const t = allocFlowTable(n);
      t.srcIp.set(r.src);
      t.dstIp.set(r.dst);
      t.srcPort.set(r.sp);
      t.dstPort.set(r.dp);
      t.proto.set(r.pr);
      t.ts.set(r.ts);
      t.td.set(r.td);
      t.pkt.set(r.pkt);
      t.byt.set(r.byt);
      t.tcpFlags = Uint8Array.from(r.flags);
      t.tos = Uint8Array.from(r.tos);
      t.type = r.type;
      return t;
    }),
);

function expectSameFlows(a: FlowTable, b: FlowTable, extras: boolean): void {
  expect(b.length).toBe(a.length);
  expect(Array.from(b.srcIp)).toEqual(Array.from(a.srcIp));
  expect(Array.from(b.dstIp)).toEqual(Array.from(a.dstIp));
  expect(Array.from(b.srcPort)).toEqual(Array.from(a.srcPort));
  expect(Array.from(b.dstPort)).toEqual(Array.from(a.dstPort));
  expect(Array.from(b.proto)).toEqual(Array.from(a.proto));
  expect(Array.from(b.ts)).toEqual(Array.from(a.ts));
  expect(Array.from(b.td)).toEqual(Array.from(a.td));
  expect(Array.from(b.pkt)).toEqual(Array.from(a.pkt));
  expect(Array.from(b.byt)).toEqual(Array.from(a.byt));
  expect(b.type).toEqual(a.type);
  if (extras) {
    expect(Array.from(b.tcpFlags!)).toEqual(Array.from(a.tcpFlags!));
    expect(Array.from(b.tos!)).toEqual(Array.from(a.tos!));
  }
}

describe('round trips', () => {
  for (const schema of ['netshare', 'ugr16', 'custom'] as FlowCsvSchema[]) {
    it(`writeFlowCsv → readFlowCsv is exact in the ${schema} schema`, async () => {
      let k = 0;
      await fc.assert(
        fc.asyncProperty(flowTable, async (t) => {
          const file = join(dir, `rt-${schema}-${k++}.csv${k % 2 ? '.gz' : ''}`);
          await writeFlowCsv(file, t, { schema, ...(schema === 'custom' ? { columns: { srcip: 'Source', dstip: 'Dest' } } : {}) });
          const r = await readFlowCsv(file, schema === 'custom' ? { columns: { srcip: 'Source', dstip: 'Dest' } } : {});
          expect(r.schema).toBe(schema);
          expectSameFlows(t, r.table, schema !== 'netshare');
        }),
        { numRuns: 25 },
      );
    });
  }
  it('CIDDS: header detected, ts as a date-time with ms, class → label, attackType → type, named hosts mapped', async () => {
    const file = join(dir, 'cidds.csv');
    await writeFile(
      file,
      'Date first seen,Duration,Proto,Src IP Addr,Src Pt,Dst IP Addr,Dst Pt,Packets,Bytes,Flows,Flags,Tos,class,attackType,attackID,attackDescription\n' +
        '2017-03-15 00:01:16.632,0.000,TCP  ,192.168.100.5,445,192.168.220.16,58844.0,1,108,1,.AP...,0,normal,---,---,---\n' +
        '2017-03-15 00:01:16.552,0.021,ICMP ,EXT_SERVER,0,192.168.220.15,3.3,2,1.2 M,1,......,0,attacker,pingScan,1,desc\n',
    );
    const r = await readFlowCsv(file);
    expect(r.schema).toBe('cidds');
    expect(r.table.length).toBe(2);
    expect(r.table.ts[0]).toBe(Date.UTC(2017, 2, 15, 0, 1, 16, 632) * 1000);
    expect(r.table.proto[1]).toBe(1);
    expect(r.table.dstPort[1]).toBe(3);
    expect(r.table.byt[1]).toBe(1_200_000);
    expect(r.table.srcIp[1]! >>> 28).toBe(0xf);
    expect(r.table.label).toEqual(['normal', 'attacker']);
    expect(r.table.type).toEqual(['---', 'pingScan']);
    expect(r.table.tcpFlags![0]).toBe(0x18);
    expect(r.stats.warnings.join()).toContain('EXT_SERVER');
  });
  it('headerless UGR16 (the original files) is read by position', async () => {
    const file = join(dir, 'ugr-nohdr.csv');
    await writeFile(file, '2016-03-18 00:00:05,1.5,42.219.153.7,143.72.8.137,53,53,UDP,.A....,0,0,2,152,background\n');
    const r = await readFlowCsv(file, { schema: 'ugr16' });
    expect(r.table.length).toBe(1);
    expect(r.table.ts[0]).toBe(Date.UTC(2016, 2, 18, 0, 0, 5) * 1000 - 1_500_000);
    expect(r.table.type).toEqual(['background']);
  });
});

describe('column mapping and header errors', () => {
  it('renamed columns (NetShare issue #13) are read through an explicit mapping', async () => {
    const file = join(dir, 'renamed.csv');
    await writeFile(file, 'Start,Src,Dst,SPort,DPort,Protocol,Dur,Packets,Bytes\n1000000,10.0.0.1,10.0.0.2,1234,80,tcp,0.5,3,180\n');
    const e = await expectInputError(readFlowCsv(file));
    expect(e.message).toContain('header');
    expect(e.where?.line).toBe(1);
    const r = await readFlowCsv(file, {
      columns: { ts: 'Start', srcip: 'Src', dstip: 'Dst', srcport: 'SPort', dstport: 'DPort', proto: 'Protocol', td: 'Dur', pkt: 'Packets', byt: 'Bytes' },
    });
    expect(r.schema).toBe('custom');
    expect(r.table.srcIp[0]).toBe(0x0a000001);
    expect(r.table.proto[0]).toBe(6);
    expect(r.table.ts[0]).toBe(1_000_000);
  });
  it('a mapping to a missing column is a ConfigError naming columns.<field>', async () => {
    const file = join(dir, 'renamed2.csv');
    await writeFile(file, 'a,b\n1,2\n');
    await expect(readFlowCsv(file, { columns: { srcip: 'nope' } })).rejects.toThrowError(ConfigError);
    await expect(readFlowCsv(file, { columns: { srcip: 'nope' } })).rejects.toMatchObject({ key: 'columns.srcip' });
  });
  it('an empty file is an InputError', async () => {
    const file = join(dir, 'empty.csv');
    await writeFile(file, '');
    await expectInputError(readFlowCsv(file));
  });
});

describe('malformed rows', () => {
  const header = 'srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n';
  const good = '1,2,3,4,TCP,1000,0.5,1,40,background\n';
  for (const [what, row, col] of [
    ['a port out of range', '1,2,70000,4,TCP,1000,0.5,1,40,background', 'srcport'],
    ['an unknown protocol', '1,2,3,4,XYZ,1000,0.5,1,40,background', 'proto'],
    ['a bad IP', '1,300.1.1.1,3,4,TCP,1000,0.5,1,40,background', 'dstip'],
    ['a missing field', '1,2,3,4,TCP,1000,0.5,1', 'fields'],
    ['a negative count', '1,2,3,4,TCP,1000,0.5,-1,40,background', 'pkt'],
    ['a non-numeric time', '1,2,3,4,TCP,abc,0.5,1,40,background', 'ts'],
  ] as const) {
    it(`${what}: InputError with file and line, or skipped and counted`, async () => {
      const file = join(dir, `bad-${col}.csv.gz`);
      await writeFile(file, gzipSync(header + good + good + `${row}\n` + good));
      const e = await expectInputError(readFlowCsv(file));
      expect(e.file).toBe(file);
      expect(e.where?.line).toBe(4);
      expect(e.message).toContain(`${file}:4:`);
      expect(e.message).toContain(col);
      const r = await readFlowCsv(file, { skipBadRows: true });
      expect(r.table.length).toBe(3);
      expect(r.stats.skipped).toBe(1);
      expect(r.stats.badRows[0]!.line).toBe(4);
    });
  }
  it('a corrupt gzip stream is an InputError', async () => {
    const file = join(dir, 'corrupt.csv.gz');
    const gz = gzipSync(header + good.repeat(5000));
    await writeFile(file, gz.subarray(0, gz.length >> 1));
    await expectInputError(readFlowCsv(file));
  });
});

describe('number parsing', () => {
  it('parseNumber agrees with Number on random decimals', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = String(x);
        const b = Buffer.from(s);
        expect(parseNumber(b, 0, b.length)).toBe(Number(s));
      }),
      { numRuns: 2000 },
    );
    for (const s of ['305.63599999999997', '1458298072364000.0', '0.000001', '6.004', '1e-7', '12']) {
      const b = Buffer.from(s);
      expect(parseNumber(b, 0, b.length)).toBe(Number(s));
    }
  });
  it('parseDateTimeUs agrees with Date.UTC', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1971-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }), (d) => {
        const s = d.toISOString().replace('T', ' ').replace('Z', '');
        const b = Buffer.from(s);
        expect(parseDateTimeUs(b, 0, b.length)).toBe(d.getTime() * 1000);
      }),
      { numRuns: 500 },
    );
  });
});

describe('trace format detection', () => {
  it('sniffs CSV, gzip CSV and garbage', async () => {
    const csv = join(dir, 'f.csv');
    await writeFile(csv, 'srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt\n1,2,3,4,6,5,0,1,1\n');
    expect(await detectTraceFormat(csv)).toBe('flow-csv');
    const gz = join(dir, 'f.csv.gz');
    await writeFile(gz, gzipSync(await readFile(csv)));
    expect(await detectTraceFormat(gz)).toBe('flow-csv');
    const pk = join(dir, 'p.csv');
    await writeFile(pk, 'srcip,dstip,srcport,dstport,proto,time,pkt_len,version,ihl,tos,id,flag,off,ttl,chksum\n');
    expect(await detectTraceFormat(pk)).toBe('packets-csv');
    const bin = join(dir, 'junk.bin');
    await writeFile(bin, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]));
    await expectInputError(detectTraceFormat(bin));
    await expectInputError(detectTraceFormat(join(dir, 'missing.csv')));
    const r = await readTrace(gz);
    expect(r.table.kind).toBe('flows');
  });
  it("reads NetShare's packets CSV through readTrace as packets", async () => {
    const { writePacketsCsv } = await import('../../src/io/packets-csv.js');
    const { allocPacketTable } = await import('../../src/io/table.js');
    const t = allocPacketTable(3);
    for (let i = 0; i < 3; i++) {
      t.time[i] = 1.5e15 + i;
      t.ipVersion[i] = 4;
      t.ihl[i] = 20;
      t.srcIp[i] = 0x0a000001 + i;
      t.dstIp[i] = 0x0a0000ff;
      t.srcPort[i] = 1000 + i;
      t.dstPort[i] = 80;
      t.proto[i] = 6;
      t.pktLen[i] = 60;
      t.ttl[i] = 64;
    }
    const file = join(dir, 'packets.csv');
    await writePacketsCsv(file, t);
    const r = await readTrace(file);
    expect(r.format).toBe('packets-csv');
    expect(r.table.kind).toBe('packets');
    expect(Array.from(r.table.srcPort)).toEqual([1000, 1001, 1002]);
  });
  it.skipIf(!existsSync(PCAP))('sniffs pcap magic and reads packets through the native reader (needs ../shared/data)', async () => {
    expect(await detectTraceFormat(PCAP)).toBe('pcap');
    const gz = join(dir, 'e.pcap.gz');
    await writeFile(gz, gzipSync((await readFile(PCAP)).subarray(0, 200_000)));
    expect(await detectTraceFormat(gz)).toBe('gzip-pcap');
  });
});

describe.skipIf(!existsSync(UGR))('shared UGR16 data (needs ../shared/data/netflow; skipped when absent)', () => {
  it('reads the nfdump-style day: te − td = ts, labels, flags', async () => {
    const r = await readFlowCsv(UGR, { limit: 50_000 });
    expect(r.schema).toBe('ugr16');
    expect(r.table.length).toBe(50_000);
    // first row: 2016-04-11 00:01:38,6.004,165.133.210.175,42.219.155.19,34921,161,UDP,.A....,0,64,12,864,background
    expect(r.table.ts[0]).toBe(Date.UTC(2016, 3, 11, 0, 1, 38) * 1000 - 6_004_000);
    expect(r.table.srcIp[0]).toBe(((165 << 24) | (133 << 16) | (210 << 8) | 175) >>> 0);
    expect(r.table.proto[0]).toBe(17);
    expect(r.table.tcpFlags![0]).toBe(0x10);
    expect(r.table.tos![0]).toBe(64);
    expect(r.table.type![0]).toBe('background');
  });
});
describe.skipIf(!existsSync(NS1K))("NetShare's own sample (needs ../shared/data/netflow; skipped when absent)", () => {
  it('reads 1000 records in the NetShare schema and writes them back identically', async () => {
    const r = await readFlowCsv(NS1K);
    expect(r.schema).toBe('netshare');
    expect(r.table.length).toBe(1000);
    expect(r.table.ts[0]).toBe(1458298072364000);
    expect(r.table.td[0]).toBe(305.63599999999997);
    const out = join(dir, 'ns.csv');
    await writeFlowCsv(out, r.table);
    const back = await readFlowCsv(out);
    expectSameFlows(r.table, back.table, false);
  });
});

describe('formatDateTimeUs', () => {
  /** The formatter before its per-second cache, for whole µs. */
  const reference = (us: number): string => {
    const iso = new Date(Math.floor(us / 1000)).toISOString();
    const frac = Math.round(us - Math.floor(us / 1e6) * 1e6);
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac > 0 ? `.${String(frac).padStart(6, '0').replace(/0+$/, '')}` : ''}`;
  };
  it('prints whole µs as before, in any order (the cached second is checked every time), and round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000_000 }), { minLength: 1, maxLength: 50 }), (times) => {
        for (const us of [...times, ...times.map((t) => t - (t % 1_000_000))]) {
          expect(formatDateTimeUs(us)).toBe(reference(us));
          expect(parseDateTimeUs(Buffer.from(formatDateTimeUs(us)), 0, formatDateTimeUs(us).length)).toBe(us);
        }
      }),
    );
  });
  it('a time a fraction of a µs before a second prints that second', () => {
    expect(formatDateTimeUs(1_460_332_612_000_000 - 0.3)).toBe('2016-04-10 23:56:52');
    expect(formatDateTimeUs(1_460_332_611_999_999.2)).toBe('2016-04-10 23:56:51.999999');
  });
});

describe('text fields with quotes and commas', () => {
  it('are quoted in every schema and read back unchanged; numbers and addresses are never quoted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ns-quote-'));
    try {
      for (const schema of ['netshare', 'ugr16', 'cidds', 'argus'] as const) {
        const t = allocFlowTable(3);
        t.label = ['a,b', 'plain', 'say "hi"'];
        for (let i = 0; i < 3; i++) {
          t.srcIp[i] = 0x0a000001 + i;
          t.dstIp[i] = 0x0a000101;
          t.srcPort[i] = 1000 + i;
          t.dstPort[i] = 80;
          t.proto[i] = 6;
          t.ts[i] = 1.46e15 + i * 1e6;
          t.td[i] = 0.5;
          t.pkt[i] = 2;
          t.byt[i] = 120;
        }
        const f = join(dir, `${schema}.csv`);
        await writeFlowCsv(f, t, { schema });
        const text = await readFile(f, 'utf8');
        expect(text, schema).toContain('"a,b"');
        expect(text, schema).toContain('"say ""hi"""');
        expect(text, schema).not.toMatch(/"10\.|"1000"|"80"/);
        const back = (await readFlowCsv(f, { schema })).table;
        expect(back.length, schema).toBe(3);
        expect(back.label ?? back.type, schema).toEqual(['a,b', 'plain', 'say "hi"']);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
