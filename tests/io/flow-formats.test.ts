// The flow files users have (issue 17): CIDDS address tokens, "Other" protocols, strict field counts, Argus binetflow,
// Zeek conn.log (TSV and JSON lines), content sniffing and --schema, round trips, output-path checks. Fixtures are
// written here, never copied from third-party data.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../src/errors.js';
import { TOKEN_NET, tokenHome } from '../../src/io/address-tokens.js';
import { writeFlowFile } from '../../src/io/flow-files.js';
import { readFlowCsv, writeFlowCsv } from '../../src/io/netflow-csv.js';
import { checkOutputPaths } from '../../src/io/output-paths.js';
import { detectTraceFormat, readTrace } from '../../src/io/read-trace.js';
import { ipv4ToString, parseIpv4, type FlowTable } from '../../src/io/table.js';
import { readZeekConn, writeZeekConn } from '../../src/io/zeek-conn.js';
import { convertTrace } from '../../src/pipeline/convert.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flow-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejects<E extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    return err as E;
  }
  throw new Error(`expected a ${cls.name}`);
}

/** Every record field the readers fill, as plain arrays (for equality across a round trip). */
function records(t: FlowTable): Record<string, unknown> {
  const out: Record<string, unknown> = { length: t.length };
  for (const k of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'ts', 'td', 'pkt', 'byt', 'tcpFlags', 'tos', 'dtos', 'rpkt', 'rbyt', 'sbyt'] as const) {
    const c = t[k];
    if (c) out[k] = Array.from(c);
  }
  for (const k of ['label', 'type', 'state', 'service', 'dir'] as const) if (t[k]) out[k] = t[k];
  if (t.addressTokens) out.addressTokens = [...t.addressTokens].sort((a, b) => a[0] - b[0]);
  return out;
}

const CIDDS_HEADER = 'Date first seen,Duration,Proto,Src IP Addr,Src Pt,Dst IP Addr,Dst Pt,Packets,Bytes,Flows,Flags';
const CIDDS_ROWS = [
  '2017-03-15 00:01:16.632,0.000,TCP  ,192.168.100.5,445,192.168.220.16,58844.0,1,108,1,.AP...',
  '2017-03-15 00:01:16.700,0.012,UDP  ,192.168.220.15,53211,DNS,53,2,150,1,......',
  '2017-03-15 00:01:17.001,1.250,TCP  ,10162_65,443,192.168.220.15,49152,12,5.2 K,1,.AP.SF',
  '2017-03-15 00:01:17.500,0.000,ICMP ,EXT_SERVER,0,192.168.220.16,3.3,1,70,1,......',
  '2017-03-15 00:01:18.000,0.100,Other,OPENSTACK_NET,0,ATTACKER1,0,3,180,1,......',
  '2017-03-15 00:01:18.200,0.300,TCP  ,192.168.220.16,58844,10162_65,443,4,400,1,.A....',
];

describe('CIDDS-001 exports: address tokens and "Other"', () => {
  it('reads every row: tokens get stable pseudo-addresses in 240/4, Other is protocol 255; a notice counts them', async () => {
    const file = join(dir, 'cidds-tokens.csv');
    await writeFile(file, `${CIDDS_HEADER}\n${CIDDS_ROWS.join('\n')}\n`);
    expect(await detectTraceFormat(file)).toBe('flow-csv');
    const r = await readFlowCsv(file);
    expect(r.schema).toBe('cidds');
    const t = r.table;
    expect(t.length).toBe(6);
    expect(t.dstIp[1]).toBe(tokenHome('DNS'));
    expect(t.srcIp[2]).toBe(tokenHome('10162_65'));
    expect(t.dstIp[5]).toBe(t.srcIp[2]); // the same token, the same address
    expect(t.srcIp[3]).toBe(tokenHome('EXT_SERVER'));
    for (const a of [t.dstIp[1]!, t.srcIp[2]!, t.srcIp[3]!, t.srcIp[4]!, t.dstIp[4]!]) expect(a >>> 28).toBe(TOKEN_NET >>> 28);
    expect(t.srcIp[0]).toBe(parseIpv4('192.168.100.5'));
    expect(t.proto[4]).toBe(255);
    expect(t.byt[2]).toBe(5200);
    expect(t.addressTokens!.get(tokenHome('ATTACKER1'))).toBe('ATTACKER1');
    expect(r.stats.warnings.join()).toMatch(/5 of 6 records name a host by a token.*5 tokens/);
    expect(r.stats.warnings.join()).toContain('columns not read (no field of the cidds schema): Flows');
  });

  it('a token never takes a real address of the file: its address moves, the real one stays', async () => {
    const home = tokenHome('EXT_SERVER');
    const file = join(dir, 'cidds-collide.csv');
    // the token first, then a real host at exactly its first-choice address
    await writeFile(
      file,
      `${CIDDS_HEADER}\n2017-03-15 00:00:01,0,TCP,EXT_SERVER,80,10.0.0.1,5000,1,60,1,.A....\n2017-03-15 00:00:02,0,TCP,${ipv4ToString(home)},80,EXT_SERVER,5001,1,60,1,.A....\n`,
    );
    const r = await readFlowCsv(file);
    const t = r.table;
    expect(t.srcIp[1]).toBe(home); // the real address
    expect(t.srcIp[0]).not.toBe(home);
    expect(t.srcIp[0]).toBe(t.dstIp[1]); // both token rows moved together
    expect(t.addressTokens!.get(t.srcIp[0]!)).toBe('EXT_SERVER');
    expect(r.stats.warnings.join()).toContain('1 moved off real addresses');
  });

  it('round trip: read → write (cidds and netshare schemas) → read gives the same records, tokens written back as tokens', async () => {
    const file = join(dir, 'cidds-rt.csv');
    await writeFile(file, `${CIDDS_HEADER}\n${CIDDS_ROWS.join('\n')}\n`);
    const a = (await readFlowCsv(file)).table;
    for (const schema of ['cidds', 'netshare', 'ugr16', 'argus'] as const) {
      const out = join(dir, `cidds-rt-out-${schema}.csv`);
      await writeFlowCsv(out, a, { schema });
      const text = await readFile(out, 'utf8');
      expect(text).toContain('10162_65');
      expect(text).toContain('OPENSTACK_NET');
      const b = (await readFlowCsv(out)).table;
      for (const k of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'ts', 'td', 'pkt', 'byt'] as const) expect([schema, k, Array.from(b[k])]).toEqual([schema, k, Array.from(a[k])]);
      expect(b.addressTokens).toEqual(a.addressTokens);
    }
    expect(await readFile(join(dir, 'cidds-rt-out-cidds.csv'), 'utf8')).toMatch(/,Other,OPENSTACK_NET,0,ATTACKER1,/);
  });

  it('a malformed address is still an error naming file, line and column (not a token)', async () => {
    const file = join(dir, 'cidds-badip.csv');
    await writeFile(file, `${CIDDS_HEADER}\n${CIDDS_ROWS[0]}\n2017-03-15 00:01:16,0,TCP,10.0.0.300,1,10.0.0.1,2,1,60,1,.A....\n`);
    const e = await rejects(readFlowCsv(file), InputError);
    expect(e.message).toContain('cidds-badip.csv:3');
    expect(e.message).toContain('10.0.0.300');
    const v6 = join(dir, 'cidds-v6.csv');
    await writeFile(v6, `${CIDDS_HEADER}\n2017-03-15 00:01:16,0,TCP,fe80::1,1,10.0.0.1,2,1,60,1,.A....\n`);
    expect((await rejects(readFlowCsv(v6), InputError)).message).toMatch(/cidds-v6.csv:2.*IPv6/);
  });
});

describe('field counts', () => {
  it('a row with more fields than the header is an InputError with file:line, or skipped and counted with skipBadRows', async () => {
    const file = join(dir, 'extra.csv');
    await writeFile(file, 'srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt\n1,2,3,4,TCP,1000,0.5,2,80\n1,2,3,4,TCP,2000,0.5,2,80,surprise\n5,6,7,8,UDP,3000,0,1,60\n');
    const e = await rejects(readFlowCsv(file), InputError);
    expect(e.message).toMatch(/extra\.csv:3: expected 9 fields \(as the header\) but found 10/);
    const r = await readFlowCsv(file, { skipBadRows: true });
    expect(r.table.length).toBe(2);
    expect(r.stats.skipped).toBe(1);
    expect(r.stats.badRows[0]!.line).toBe(3);
    // and through readTrace, as every command reads
    expect((await readTrace(file, { skipBadRows: true })).table.length).toBe(2);
  });
});

const ARGUS =
  'StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n' +
  '2011/08/10 09:46:59.607825,1.026539,tcp,94.44.127.113,1577,   ->,147.32.84.59,6881,S_RA,0,0,4,276,156,flow=Background-Established-cmpgw-CVUT\n' +
  '2011/08/10 09:47:00.000100,0.000000,icmp,147.32.84.165,0x0008,  <->,147.32.80.9,0x0000,ECO,0,,2,148,74,flow=From-Botnet-V42-ICMP\n' +
  '2011/08/10 09:47:01.5,3.5,udp,147.32.84.165,1025,  <->,147.32.80.9,53,CON,0,0,2,200,80,flow=From-Botnet-V42-UDP-DNS\n';

describe('Argus / CTU-13 binetflow', () => {
  it('is sniffed by its header; slashes in dates, hex ICMP ports, blank dTos, Dir/State/SrcBytes/Label kept', async () => {
    const file = join(dir, 'capture.binetflow');
    await writeFile(file, ARGUS);
    expect(await detectTraceFormat(file)).toBe('flow-csv');
    const r = await readTrace(file);
    expect(r.flowSchema).toEqual({ schema: 'argus' });
    const t = r.table as FlowTable;
    expect(t.length).toBe(3);
    expect(t.ts[0]).toBe(Date.UTC(2011, 7, 10, 9, 46, 59) * 1000 + 607825);
    expect(t.srcPort[1]).toBe(8);
    expect(t.proto[1]).toBe(1);
    expect(t.dtos![1]).toBe(0);
    expect(t.dir).toEqual(['->', '<->', '<->']);
    expect(t.state).toEqual(['S_RA', 'ECO', 'CON']);
    expect(Array.from(t.sbyt!)).toEqual([156, 74, 80]);
    expect(Array.from(t.pkt)).toEqual([4, 2, 2]);
    expect(t.label![2]).toBe('flow=From-Botnet-V42-UDP-DNS');
  });

  it('round trip through the argus and netshare schemas keeps every record', async () => {
    const file = join(dir, 'rt.binetflow');
    await writeFile(file, ARGUS);
    const a = (await readFlowCsv(file)).table;
    for (const schema of ['argus', 'netshare'] as const) {
      const out = join(dir, `rt-argus-${schema}.csv`);
      await writeFlowCsv(out, a, { schema });
      const r = await readFlowCsv(out);
      expect(r.schema).toBe(schema);
      // NetShare's schema has no TOS or flag columns (as NetShare's own CSVs); everything else comes back
      const want = records(a);
      if (schema === 'netshare') delete want.tos;
      expect(records(r.table)).toEqual(want);
    }
  });
});

const ZEEK_TSV = [
  '#separator \\x09',
  '#set_separator\t,',
  '#empty_field\t(empty)',
  '#unset_field\t-',
  '#path\tconn',
  '#open\t2024-01-01-00-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]',
  '1700000000.123456\tCabc1\t10.0.0.1\t51000\t10.0.0.2\t80\ttcp\thttp\t0.512345\t100\t2000\tSF\t-\t-\t0\tShADadFf\t5\t360\t4\t2160\t(empty)',
  '1700000001.000001\tCabc2\t10.0.0.3\t53211\t8.8.8.8\t53\tudp\tdns\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t60\t0\t0\t(empty)',
  '1700000002.5\tCabc3\t10.0.0.1\t8\t10.0.0.9\t0\ticmp\t-\t1.5\t56\t56\tOTH\t-\t-\t0\t-\t2\t168\t2\t168\t(empty)',
  '#close\t2024-01-01-00-00-10',
].join('\n');

describe('Zeek conn.log', () => {
  it('TSV: sniffed by #separator; originator 5-tuple, orig → pkt/byt (IP bytes), resp → rpkt/rbyt, conn_state and service', async () => {
    const file = join(dir, 'conn.log');
    await writeFile(file, `${ZEEK_TSV}\n`);
    expect(await detectTraceFormat(file)).toBe('zeek-conn');
    const r = await readTrace(file);
    expect(r.flowSchema).toEqual({ schema: 'zeek', zeek: { json: false, bytes: 'ip' } });
    const t = r.table as FlowTable;
    expect(t.length).toBe(3);
    expect(t.ts[0]).toBe(1700000000123456);
    expect(t.ts[2]).toBe(1700000002500000);
    expect(t.srcIp[1]).toBe(parseIpv4('10.0.0.3'));
    expect(t.dstPort[1]).toBe(53);
    expect(Array.from(t.proto)).toEqual([6, 17, 1]);
    expect(Array.from(t.td)).toEqual([0.512345, 0, 1.5]);
    expect(Array.from(t.pkt)).toEqual([5, 1, 2]);
    expect(Array.from(t.byt)).toEqual([360, 60, 168]);
    expect(Array.from(t.rpkt!)).toEqual([4, 0, 2]);
    expect(Array.from(t.rbyt!)).toEqual([2160, 0, 168]);
    expect(t.state).toEqual(['SF', 'S0', 'OTH']);
    expect(t.service).toEqual(['http', 'dns', '-']);
  });

  it('JSON lines: the same records; round trips TSV → JSON → TSV are exact', async () => {
    const tsv = join(dir, 'conn-rt.log');
    await writeFile(tsv, `${ZEEK_TSV}\n`);
    const a = (await readZeekConn(tsv)).table;
    const json = join(dir, 'conn.json');
    await writeZeekConn(json, a, { json: true });
    expect(await detectTraceFormat(json)).toBe('zeek-json');
    const jr = await readZeekConn(json);
    expect(jr.variant.json).toBe(true);
    expect(records(jr.table)).toEqual(records(a));
    const back = join(dir, 'conn-back.log.gz');
    await writeFlowFile(back, jr.table, { schema: 'zeek', zeek: { json: false, bytes: 'ip' } });
    expect(records((await readTrace(back)).table as FlowTable)).toEqual(records(a));
    // Zeek's own JSON (unset fields left out, numbers as numbers) reads the same way
    const own = join(dir, 'own.json');
    await writeFile(
      own,
      '{"ts":1700000001.000001,"uid":"Cx","id.orig_h":"10.0.0.3","id.orig_p":53211,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","service":"dns","conn_state":"S0","missed_bytes":0,"history":"D","orig_pkts":1,"orig_ip_bytes":60,"resp_pkts":0,"resp_ip_bytes":0}\n',
    );
    const o = (await readTrace(own)).table as FlowTable;
    expect([o.ts[0], o.td[0], o.pkt[0], o.byt[0], o.state![0]]).toEqual([1700000001000001, 0, 1, 60, 'S0']);
  });

  it('a log with payload bytes only is written back under orig_bytes/resp_bytes, not as IP bytes', async () => {
    const file = join(dir, 'payload.log');
    const lines = ZEEK_TSV.split('\n').map((l) => l.split('\t'));
    // drop orig_ip_bytes / resp_ip_bytes (fields 17 and 19; one further right on #fields/#types, after the tag)
    const cut = lines.map((c) => {
      if (c[0] === '#fields' || c[0] === '#types') return c.filter((_, k) => k !== 18 && k !== 20);
      if (c[0]!.startsWith('#')) return c;
      return c.filter((_, k) => k !== 17 && k !== 19);
    });
    await writeFile(file, `${cut.map((c) => c.join('\t')).join('\n')}\n`);
    const r = await readZeekConn(file);
    expect(r.variant.bytes).toBe('payload');
    expect(Array.from(r.table.byt)).toEqual([100, 0, 56]);
    const out = join(dir, 'payload-out.log');
    await writeZeekConn(out, r.table, r.variant);
    const text = await readFile(out, 'utf8');
    expect(text).toMatch(/#fields\t.*\torig_bytes\t/);
    expect(text).not.toContain('orig_ip_bytes');
  });

  it('bad records name file and line; --skip-bad-rows skips them; IPv6 is refused clearly', async () => {
    const file = join(dir, 'bad.log');
    const bad = ZEEK_TSV.replace('\t10.0.0.3\t', '\tfe80::1\t').replace('1700000002.5\tCabc3', '1700000002.5\tCabc3\textra');
    await writeFile(file, `${bad}\n`);
    const e = await rejects(readTrace(file), InputError);
    expect(e.message).toMatch(/bad\.log:10: .*IPv6/);
    const r = await readTrace(file, { skipBadRows: true });
    expect(r.table.length).toBe(1);
    expect(r.warnings.join()).toContain('2 malformed rows skipped (first at line 10)');
    const j = join(dir, 'bad.json');
    await writeFile(j, '{"ts":1,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","orig_pkts":1,"orig_ip_bytes":40,"resp_pkts":0,"resp_ip_bytes":0}\n{"ts":2,\n');
    expect((await rejects(readTrace(j), InputError)).message).toMatch(/bad\.json:2: not a JSON object/);
  });
});

describe('--schema overrides the sniffing', () => {
  it('a CIDDS file forced as ugr16 fails on its header; a NetShare file forced as cidds too', async () => {
    const file = join(dir, 'forced.csv');
    await writeFile(file, `${CIDDS_HEADER}\n${CIDDS_ROWS[0]}\n`);
    await rejects(readTrace(file, { schema: 'ugr16' }), InputError);
    expect((await readTrace(file, { schema: 'cidds' })).flowSchema).toEqual({ schema: 'cidds' });
    // a conn.log named .csv is still a conn.log by content, and --schema zeek on a CSV refuses it
    const log = join(dir, 'conn-named.csv');
    await writeFile(log, `${ZEEK_TSV}\n`);
    expect(await detectTraceFormat(log)).toBe('zeek-conn');
    await rejects(readTrace(file, { schema: 'zeek' }), InputError);
  });
});

describe('convert between flow formats, outputs checked first and written atomically', () => {
  it('Zeek conn.log → NetShare CSV → Zeek conn.log keeps the records; CIDDS → Zeek keeps the tokens', async () => {
    const log = join(dir, 'cv.log');
    await writeFile(log, `${ZEEK_TSV}\n`);
    const a = (await readTrace(log)).table as FlowTable;
    const csv = join(dir, 'new-folder', 'cv.csv'); // the output's folder is made before the work
    const s1 = await convertTrace(log, { to: csv, outSchema: 'netshare' });
    expect([s1.inputFormat, s1.outputFormat, s1.written]).toEqual(['zeek-conn', 'flow-csv', 3]);
    const back = join(dir, 'cv-back.log');
    await convertTrace(csv, { to: back });
    expect(records((await readTrace(back)).table as FlowTable)).toEqual(records(a));
    const cidds = join(dir, 'cv-cidds.csv');
    await writeFile(cidds, `${CIDDS_HEADER}\n${CIDDS_ROWS.join('\n')}\n`);
    const z = join(dir, 'cv-cidds.log');
    await convertTrace(cidds, { to: z });
    expect(await readFile(z, 'utf8')).toMatch(/\tEXT_SERVER\t0\t192\.168\.220\.16\t3\ticmp\t/);
  });

  it('refuses a folder, the input itself, a path under a file and an unknown extension before any work', async () => {
    const csv = join(dir, 'ck.csv');
    await writeFile(csv, `${CIDDS_HEADER}\n${CIDDS_ROWS[0]}\n`);
    await mkdir(join(dir, 'a-folder.csv'), { recursive: true });
    expect((await rejects(convertTrace(csv, { to: join(dir, 'a-folder.csv'), outSchema: 'netshare' }), ConfigError)).message).toMatch(/not a folder/);
    expect((await rejects(convertTrace(csv, { to: csv, outSchema: 'netshare' }), ConfigError)).message).toMatch(/other than the input/);
    expect((await rejects(convertTrace(csv, { to: join(csv, 'x.csv'), outSchema: 'netshare' }), ConfigError)).message).toMatch(/is a file/);
    expect((await rejects(convertTrace(csv, { to: join(dir, 'x.txt') }), ConfigError)).message).toMatch(/ending in \.csv/);
    expect(() => checkOutputPaths([{ key: 'report', path: join(dir, 'r.html') }, { key: 'metrics-json', path: join(dir, 'r.html') }])).toThrow(ConfigError);
  });

  it('a bad record half-way leaves no output file (nor a temp file) behind', async () => {
    const sub = join(dir, 'partial');
    await mkdir(sub);
    const csv = join(sub, 'in.csv');
    await writeFile(csv, `${CIDDS_HEADER}\n${CIDDS_ROWS.join('\n')}\n2017-03-15 00:02:00,x,TCP,10.0.0.1,1,10.0.0.2,2,1,60,1,.A....\n`);
    await rejects(convertTrace(csv, { to: join(sub, 'out.log') }), InputError);
    expect(readdirSync(sub)).toEqual(['in.csv']);
    expect(existsSync(join(sub, 'out.log'))).toBe(false);
  });
});

describe('packets CSV rows', () => {
  it('a row with more or fewer fields than the header is an InputError with file:line, or skipped with skipBadRows', async () => {
    const file = join(dir, 'packets.csv');
    await writeFile(
      file,
      'srcip,dstip,srcport,dstport,proto,time,pkt_len\n1,2,3,4,TCP,1000,60\n1,2,3,4,TCP,2000,60,extra\n1,2,3,4,TCP,3000\n5,6,7,8,UDP,4000,80\n',
    );
    expect(await detectTraceFormat(file)).toBe('packets-csv');
    const e = await rejects(readTrace(file), InputError);
    expect(e.message).toMatch(/packets\.csv:3: expected 7 fields \(as the header\) but found 8/);
    const r = await readTrace(file, { skipBadRows: true });
    expect(r.table.length).toBe(2);
    expect(r.warnings).toEqual(['2 malformed rows skipped (first at line 3)']);
    const t = r.table as import('../../src/io/table.js').PacketTable;
    expect([t.time[1], t.pktLen[1], t.srcIp[1]]).toEqual([4000, 80, 5]);
  });
});
