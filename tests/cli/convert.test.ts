// `netshare convert` end to end (in-process main()): packets CSV, flow CSV, pcap round trip, --json, errors, atomicity.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { readPacketsCsv, writePacketsCsv } from '../../src/io/packets-csv.js';
import { readPacketTable } from '../../src/native/reader.js';
import { convertTrace } from '../../src/pipeline/convert.js';
import { ConfigError, InputError } from '../../src/errors.js';
import { eth, ipv4, ipv6, pcap, save, tmp } from '../native/reader-fixtures.js';
import { runCli } from './run-cli.js';

const A = 0x0a000001;
const B = 0xc0a80102;
const V6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 7];
const frames = [
  { sec: 1_600_000_000, frac: 250_000_500, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 6, sport: 1234, dport: 80, tcpFlags: 2, window: 512, tos: 8, id: 42, flags: 2, ttl: 61 })) },
  { sec: 1_600_000_001, frac: 0, data: eth(0x0800, ipv4({ src: B, dst: A, proto: 17, sport: 53, dport: 999, payload: 20 })) },
  { sec: 1_600_000_002, frac: 0, data: eth(0x86dd, ipv6({ src: V6, dst: V6, proto: 17, sport: 5, dport: 6 })) },
  { sec: 1_600_000_003, frac: 0, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 6, sport: 1234, dport: 80, tcpFlags: 0x10 })) },
  { sec: 1_600_000_004, frac: 0, data: eth(0x0806, new Uint8Array(28)) },
];
const input = save('cli-in.pcap', pcap(frames, { ns: true }));

const run = runCli;

afterEach(() => vi.restoreAllMocks());

describe('netshare convert', () => {
  it('writes NetShare pcap2csv columns and prints the one-line summary', async () => {
    const to = join(tmp, 'cli-packets.csv');
    const r = await run(['convert', input, '--to', to]);
    expect(r.code).toBe(EXIT.OK);
    expect(r.out).toMatch(/5 packets \(80\.0% decoded as IP\), 3 rows written in [\d.]+ s \([\d.]+ k?packets\/s\)/);
    expect(r.err).toContain('1 IPv6 packets left out');
    const lines = readFileSync(to, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('srcip,dstip,srcport,dstport,proto,time,pkt_len,version,ihl,tos,id,flag,off,ttl,chksum');
    expect(lines[1]).toBe(`${A},${B},1234,80,TCP,1600000000250000,40,4,5,8,42,2,0,61,43981`);
    expect(lines[2]!.split(',').slice(0, 7)).toEqual([String(B), String(A), '53', '999', 'UDP', '1600000001000000', '48']);
  });

  it('--extended keeps IPv6 rows, sub-µs digits, tcp flags and window; the CSV reads back', async () => {
    const to = join(tmp, 'cli-ext.csv');
    expect((await run(['convert', input, '--to', to, '--extended'])).code).toBe(EXIT.OK);
    const { table } = await readPacketsCsv(to);
    expect(table.length).toBe(4);
    expect(Array.from(table.ipVersion)).toEqual([4, 4, 6, 4]);
    expect(table.time[0]).toBeCloseTo(1_600_000_000_250_000.5, 1);
    expect(Array.from(table.srcIp6!.subarray(32, 48))).toEqual(V6);
    expect(table.tcpFlags[0]).toBe(2);
    expect(table.tcpWindow[0]).toBe(512);
    expect(table.ihl[0]).toBe(20);
    const again = join(tmp, 'cli-ext2.csv');
    await writePacketsCsv(again, table, { extended: true });
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(to, 'utf8'));
  });

  it('--flows writes the flow table in NetShare columns; --json prints one summary line', async () => {
    const to = join(tmp, 'cli-flows.csv');
    const r = await run(['convert', input, '--to', to, '--flows', '--json']);
    expect(r.code).toBe(EXIT.OK);
    const s = JSON.parse(r.out.trim()) as Record<string, unknown>;
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(s).toMatchObject({ ok: true, packets: 5, ipPackets: 4, flows: 3, written: 2, outputFormat: 'flow-csv', decodedShare: 0.8 });
    expect((s.stats as Record<string, unknown>).firstTsNs).toBe('1600000000250000500');
    const lines = readFileSync(to, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt');
    expect(lines[1]).toBe(`${A},${B},1234,80,TCP,1600000000250000.5,2.7499995,2,80`);
  });

  it('--filter and --timeout reach the reader', async () => {
    const to = join(tmp, 'cli-filter.csv');
    const s = await convertTrace(input, { to, flows: true, filter: 'tcp', timeoutS: 1 });
    expect(s.packets).toBe(2);
    expect(s.flows).toBe(2); // the two TCP packets are 2.75 s apart: two flows with a 1 s inactive timeout
  });

  it('pcap output (native writer) reads back with the same header fields', async () => {
    const to = join(tmp, 'cli-out.pcap');
    const r = await run(['convert', input, '--to', to]);
    expect(r.code).toBe(EXIT.OK);
    const orig = await readPacketTable(input);
    const back = await readPacketTable(to);
    expect(back.table.length).toBe(orig.table.length);
    for (const k of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto', 'pktLen', 'tos', 'ipId', 'flags', 'ttl', 'tcpFlags'] as const)
      expect(Array.from(back.table[k]), k).toEqual(Array.from(orig.table[k]));
  });

  it('bad input and bad options: documented exit codes, no output file left behind', async () => {
    const bad = save('cli-bad.pcap', pcap(frames).subarray(0, 60));
    const to = join(tmp, 'cli-never.csv');
    const r = await run(['convert', bad, '--to', to, '--json']);
    expect(r.code).toBe(EXIT.INPUT);
    expect(JSON.parse(r.out.trim())).toMatchObject({ ok: false, error: { type: 'InputError', exitCode: EXIT.INPUT } });
    expect(r.err).toContain('byte offset 24');
    expect(existsSync(to)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('cli-never'))).toEqual([]);
    expect((await run(['convert', join(tmp, 'missing.pcap'), '--to', to])).code).toBe(EXIT.INPUT);
    expect((await run(['convert', input, '--to', join(tmp, 'x.txt')])).code).toBe(EXIT.USAGE);
    expect((await run(['convert', input, '--to', join(tmp, 'x.pcap'), '--flows'])).code).toBe(EXIT.USAGE);
    expect((await run(['convert', input, '--to', to, '--filter', 'tcp and and'])).code).toBe(EXIT.USAGE);
    await expect(convertTrace(input, { to, timeoutS: 0 })).rejects.toBeInstanceOf(ConfigError);
    const kept = await run(['convert', bad, '--to', to, '--keep-valid-prefix']);
    expect(kept.code).toBe(EXIT.OK);
    expect(kept.err).toContain('kept the valid prefix of 0 records');
    await expect(convertTrace(bad, { to })).rejects.toBeInstanceOf(InputError);
  });
});

describe('netshare convert - (standard input)', () => {
  const BIN = join(__dirname, '../../dist/src/cli/bin.js');
  const CAIDA = join(__dirname, '../../../shared/data/pcap/caida-2018-10k.pcapng');
  const have = existsSync(BIN) && existsSync(CAIDA);
  const name = 'reads a piped capture like the file itself and refuses a non-capture on stdin';
  it.skipIf(!have)(have ? name : `${name} (skipped: needs dist/ built and ../shared/data/pcap/caida-2018-10k.pcapng)`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-convert-stdin-'));
    const piped = spawnSync(process.execPath, [BIN, 'convert', '-', '--to', join(dir, 'stdin.csv'), '--flows'], { input: readFileSync(CAIDA), encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    const file = spawnSync(process.execPath, [BIN, 'convert', CAIDA, '--to', join(dir, 'file.csv'), '--flows'], { encoding: 'utf8' });
    expect(file.status, file.stderr).toBe(0);
    expect(readFileSync(join(dir, 'stdin.csv'), 'utf8')).toBe(readFileSync(join(dir, 'file.csv'), 'utf8'));
    const csv = spawnSync(process.execPath, [BIN, 'convert', '-', '--to', join(dir, 'x.csv')], { input: 'a,b,c\n1,2,3\n', encoding: 'utf8' });
    expect(csv.status).toBe(3);
    expect(csv.stderr).toMatch(/-: unknown file format/);
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
    const schema = spawnSync(process.execPath, [BIN, 'convert', '-', '--to', join(dir, 'y.csv'), '--schema', 'ugr16'], { input: 'x\n', encoding: 'utf8' });
    expect(schema.status).toBe(2);
    expect(schema.stderr).toMatch(/standard input \(-\) is read as a capture only/);
  });
});
