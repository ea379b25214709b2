// Every pcap/pcapng the writer produces is read by tshark (checksum validation on) with no error-level expert info,
// and tshark's decode of each frame matches the table row it came from.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { PacketTable } from '../../src/io/table.js';
import { ipv4ToString } from '../../src/io/table.js';
import { readPacketTable } from '../../src/native/reader.js';
import { writePcap, type WriteOptions } from '../../src/native/writer.js';
import { convertTrace } from '../../src/pipeline/convert.js';
import { eth, ipv4, pcap, pcapngSection, save } from './reader-fixtures.js';
import { packetRow, tableOf } from './writer-arbitraries.js';

const HAVE_TSHARK = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const SEED = Number(process.env.NETSHARE_TEST_SEED ?? 20180315);
const ROWS = 1500;

// ICMP types whose 8-byte header is complete on its own, with their largest code. In header-only records the
// body is not captured, so error messages (which quote the offending packet) are fine there too.
const ICMP_ECHO: Array<[number, number]> = [[0, 0], [8, 0]];
const ICMP6_ECHO: Array<[number, number]> = [[128, 0], [129, 0]];
const ICMP_HDR: Array<[number, number]> = [...ICMP_ECHO, [3, 15], [11, 1]];
const ICMP6_HDR: Array<[number, number]> = [...ICMP6_ECHO, [1, 6], [3, 1]];
// Protocols whose Wireshark dissector rejects an all-zero body (IGMP/SCTP/DCCP checksums, tunnels that expect
// an inner header, IPv6 extension headers, ...): a full-length record has nothing else to give them.
const ZERO_BODY_REJECTED = new Set([0, 2, 4, 33, 36, 41, 43, 44, 48, 51, 53, 54, 60, 88, 93, 132, 136, 137, 139, 140]);
const OTHER_FULL = Array.from({ length: 256 }, (_, p) => p).filter(
  // (50, 135, 253, 254: IPv6 extension headers the reader walks, so never an upper-layer protocol.)
  (p) => ![1, 6, 17, 58].includes(p) && !ZERO_BODY_REJECTED.has(p) && ![50, 135, 253, 254].includes(p),
);

const FIELDS = [
  'frame.len', 'frame.cap_len', 'frame.time_epoch',
  'ip.len', 'ip.hdr_len', 'ip.dsfield', 'ip.id', 'ip.flags', 'ip.frag_offset', 'ip.ttl', 'ip.proto', 'ip.src', 'ip.dst',
  'ipv6.plen', 'ipv6.tclass', 'ipv6.hlim', 'ipv6.nxt', 'ipv6.src', 'ipv6.dst',
  'ipv6.fraghdr.nxt', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.ident',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.window_size_value',
  'udp.srcport', 'udp.dstport', 'udp.length', 'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
  'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status',
  '_ws.expert.severity', '_ws.expert.message',
] as const;
type Field = (typeof FIELDS)[number];
const PI_ERROR = 0x800000;
const STATUS_GOOD = 1;

interface Combo extends Required<WriteOptions> {
  name: string;
}
const COMBOS: Combo[] = [
  { name: 'header-only pcap raw µs', mode: 'header-only', format: 'pcap', linktype: 'raw', nanosecond: false },
  { name: 'header-only pcapng raw ns', mode: 'header-only', format: 'pcapng', linktype: 'raw', nanosecond: true },
  { name: 'header-only pcap ethernet ns', mode: 'header-only', format: 'pcap', linktype: 'ethernet', nanosecond: true },
  { name: 'header-only pcapng ethernet µs', mode: 'header-only', format: 'pcapng', linktype: 'ethernet', nanosecond: false },
  { name: 'full pcap raw µs', mode: 'full', format: 'pcap', linktype: 'raw', nanosecond: false },
  { name: 'full pcapng ethernet ns', mode: 'full', format: 'pcapng', linktype: 'ethernet', nanosecond: true },
  { name: 'full pcap ethernet µs', mode: 'full', format: 'pcap', linktype: 'ethernet', nanosecond: false },
  { name: 'full pcapng raw ns', mode: 'full', format: 'pcapng', linktype: 'raw', nanosecond: true },
];

const dir = mkdtempSync(join(tmpdir(), 'netshare-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Full-length records carry zero payloads, so application dissectors chosen by port would judge zeros as their
// protocol; a private Wireshark profile disables everything above IP/TCP/UDP/ICMP for those files.
function l4OnlyConfigDir(): string {
  const cfg = join(dir, 'wireshark-l4-only');
  if (existsSync(join(cfg, 'disabled_protos'))) return cfg;
  mkdirSync(cfg, { recursive: true });
  const all = spawnSync('tshark', ['-G', 'protocols'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const keep = /^(_ws\..*|frame|eth|ethertype|ip|ipv6|ipv6\..*|ip\.options\..*|tcp|tcp\.options\..*|udp|icmp|icmpv6|data|raw)$/;
  const disabled = all
    .split('\n')
    .map((l) => l.split('\t')[2] ?? '')
    .filter((p) => p.length > 0 && !keep.test(p));
  writeFileSync(join(cfg, 'disabled_protos'), `${disabled.join('\n')}\n`);
  return cfg;
}

function tshark(file: string, configDir?: string): { rows: Array<Record<Field, string>>; stderr: string } {
  const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
  args.push('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=/t');
  for (const f of FIELDS) args.push('-e', f);
  const env = { ...process.env, ...(configDir ? { WIRESHARK_CONFIG_DIR: configDir } : {}) };
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 << 20, env });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cells = line.split('\t');
      return Object.fromEntries(FIELDS.map((f, i) => [f, cells[i] ?? ''])) as Record<Field, string>;
    });
  return { rows, stderr: r.stderr.replace(/^Running as user "root".*\n?/m, '') };
}

const first = (s: string): string => s.split('|')[0] ?? '';
const num = (s: string): number => Number(first(s));
const ip6 = (t: PacketTable, col: 'srcIp6' | 'dstIp6', i: number): string => {
  const b = t[col]!.subarray(16 * i, 16 * i + 16);
  const words = Array.from({ length: 8 }, (_, k) => ((b[2 * k]! << 8) | b[2 * k + 1]!).toString(16));
  return words.join(':');
};
/** Expands tshark's compressed IPv6 text to 8 un-padded hex words. */
const expand6 = (s: string): string => {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail.length > 0 ? tail.split(':') : [];
  const mid = tail === undefined ? [] : Array(8 - h.length - tl.length).fill('0');
  return [...h, ...mid, ...tl].map((w) => parseInt(w, 16).toString(16)).join(':');
};

/** Compares tshark's view of frame `i` with row `i`; returns the mismatches. */
function checkFrame(t: PacketTable, i: number, f: Record<Field, string>, c: Combo): string[] {
  const bad: string[] = [];
  const eq = (what: string, got: number | string, want: number | string): void => {
    if (got !== want) bad.push(`${what}: tshark ${got}, table ${want}`);
  };
  const link = c.linktype === 'ethernet' ? 14 : 0;
  const v6 = t.ipVersion[i] === 6;
  const later = t.fragOffset[i]! > 0;
  const fragmented = later || (t.flags[i]! & 1) === 1;
  const proto = t.proto[i]!;
  const ext = v6 && fragmented ? 8 : 0;
  const l4 = later ? 0 : proto === 6 ? 20 : proto === 17 || proto === (v6 ? 58 : 1) ? 8 : 0;
  const ihl = v6 ? 40 : t.ihl[i]!;
  eq('frame.len', num(f['frame.len']), link + t.pktLen[i]!);
  eq('frame.cap_len', num(f['frame.cap_len']), c.mode === 'full' ? link + t.pktLen[i]! : link + ihl + ext + l4);
  const us = t.time[i]!;
  const frac = `${String(us % 1e6).padStart(6, "0")}000`; // integer µs, so ns files end in 000 too
  eq('frame.time_epoch', f['frame.time_epoch'], `${Math.floor(us / 1e6)}.${frac}`);
  if (!v6) {
    eq('ip.len', num(f['ip.len']), t.pktLen[i]!);
    eq('ip.hdr_len', num(f['ip.hdr_len']), ihl);
    eq('ip.dsfield', num(f['ip.dsfield']), t.tos[i]!);
    eq('ip.id', num(f['ip.id']), t.ipId[i]!);
    eq('ip.flags', num(f['ip.flags']), t.flags[i]!);
    eq('ip.frag_offset', num(f['ip.frag_offset']), t.fragOffset[i]!);
    eq('ip.ttl', num(f['ip.ttl']), t.ttl[i]!);
    eq('ip.proto', num(f['ip.proto']), proto);
    eq('ip.src', first(f['ip.src']), ipv4ToString(t.srcIp[i]!));
    eq('ip.dst', first(f['ip.dst']), ipv4ToString(t.dstIp[i]!));
    eq('ip.checksum.status', num(f['ip.checksum.status']), STATUS_GOOD);
  } else {
    eq('ipv6.plen', num(f['ipv6.plen']), t.pktLen[i]! - 40);
    eq('ipv6.tclass', num(f['ipv6.tclass']), t.tos[i]!);
    eq('ipv6.hlim', num(f['ipv6.hlim']), t.ttl[i]!);
    eq('ipv6.nxt', num(f['ipv6.nxt']), fragmented ? 44 : proto);
    eq('ipv6.src', expand6(first(f['ipv6.src'])), ip6(t, 'srcIp6', i));
    eq('ipv6.dst', expand6(first(f['ipv6.dst'])), ip6(t, 'dstIp6', i));
    if (fragmented) {
      eq('ipv6.fraghdr.nxt', num(f['ipv6.fraghdr.nxt']), proto);
      eq('ipv6.fraghdr.offset', num(f['ipv6.fraghdr.offset']), t.fragOffset[i]!);
      eq('ipv6.fraghdr.more', num(f['ipv6.fraghdr.more']), t.flags[i]! & 1);
      eq('ipv6.fraghdr.ident', num(f['ipv6.fraghdr.ident']), t.ipId[i]!);
    }
  }
  // L4 fields of fragments are shown only after reassembly, which a lone fragment never gets.
  if (!fragmented) {
    const verifiable = c.mode === 'full';
    if (proto === 6) {
      eq('tcp.srcport', num(f['tcp.srcport']), t.srcPort[i]!);
      eq('tcp.dstport', num(f['tcp.dstport']), t.dstPort[i]!);
      eq('tcp.flags', num(f['tcp.flags']) & 0xff, t.tcpFlags[i]!);
      eq('tcp.window_size_value', num(f['tcp.window_size_value']), t.tcpWindow[i]!);
      if (verifiable) eq('tcp.checksum.status', num(f['tcp.checksum.status']), STATUS_GOOD);
    } else if (proto === 17) {
      eq('udp.srcport', num(f['udp.srcport']), t.srcPort[i]!);
      eq('udp.dstport', num(f['udp.dstport']), t.dstPort[i]!);
      eq('udp.length', num(f['udp.length']), t.pktLen[i]! - ihl);
      if (verifiable) eq('udp.checksum.status', num(f['udp.checksum.status']), STATUS_GOOD);
    } else if (proto === 1 && !v6) {
      eq('icmp.type', num(f['icmp.type']), t.srcPort[i]!);
      eq('icmp.code', num(f['icmp.code']), t.dstPort[i]!);
      if (verifiable) eq('icmp.checksum.status', num(f['icmp.checksum.status']), STATUS_GOOD);
    } else if (proto === 58 && v6) {
      eq('icmpv6.type', num(f['icmpv6.type']), t.srcPort[i]!);
      eq('icmpv6.code', num(f['icmpv6.code']), t.dstPort[i]!);
      if (verifiable) eq('icmpv6.checksum.status', num(f['icmpv6.checksum.status']), STATUS_GOOD);
    }
  }
  const severities = f['_ws.expert.severity'].split('|').filter(Boolean).map(Number);
  if (severities.some((s) => s >= PI_ERROR)) bad.push(`error-level expert info: ${f['_ws.expert.message']}`);
  return bad;
}

describe.skipIf(!HAVE_TSHARK)('writer output checked by tshark (skipped when tshark is not installed)', () => {
  COMBOS.forEach((combo, k) => {
    it(`${combo.name}: no malformed packets or bad checksums, fields match the table`, async () => {
      const full = combo.mode === 'full';
      const arb = packetRow({
        maxLen: 1400,
        icmpTypes: full ? ICMP_ECHO : ICMP_HDR,
        icmp6Types: full ? ICMP6_ECHO : ICMP6_HDR,
        minOtherPayload: 64, // other protocols get room for their own header
        ...(full ? { otherProtos: OTHER_FULL } : {}),
      });
      const sample = fc.sample(arb, { numRuns: ROWS, seed: SEED + k });
      // Wireshark's LINKTYPE_RAW dissector first looks for a PPP header "ff 03" at byte 0 or 1 (a Linux 2.1 PPP
      // workaround in packet-raw.c), so an IPv4 header with TOS 0xff and a total length of 0x03xx shows as PPP.
      // That is a property of the dissector, not of the file: steer clear of it for raw-IP files.
      if (combo.linktype === 'raw') for (const r of sample) if (r.tos === 0xff && r.pktLen >> 8 === 3) r.tos = 0xfe;
      const table = tableOf(sample);
      const file = join(dir, `w${k}.${combo.format}`);
      const res = await writePcap(file, table, combo);
      expect(res.packets).toBe(ROWS);
      const { rows, stderr } = tshark(file, full ? l4OnlyConfigDir() : undefined);
      expect(stderr).not.toMatch(/damaged|corrupt|cut short|isn't a capture file/i);
      expect(rows.length).toBe(ROWS);
      const problems: string[] = [];
      for (let i = 0; i < ROWS && problems.length < 20; i++) {
        for (const p of checkFrame(table, i, rows[i]!, combo)) problems.push(`frame ${i + 1}: ${p}`);
      }
      expect(problems, `seed ${SEED + k}`).toEqual([]);
    });
  });

  it('never shows an error in `tshark -z expert` for a mixed header-only file with every protocol number', async () => {
    const rows = fc.sample(packetRow({ minOtherPayload: 64 }), { numRuns: 200, seed: SEED }).filter((r) => r.proto !== 1 && r.proto !== 58);
    const file = join(dir, 'expert.pcap');
    await writePcap(file, tableOf(rows));
    const r = spawnSync(
      'tshark',
      ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-z', 'expert', '-q'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/Errors \(\d+\)/);
    expect(r.stdout).not.toMatch(/Malformed|Bad checksum/i);
  });
});

describe.skipIf(!HAVE_TSHARK)('exact nanoseconds from a capture to the writer (skipped when tshark is not installed)', () => {
  // Fractions a float64 µs time cannot hold at this epoch (it resolves ~0.24 µs): each needs the exact ns.
  const SEC = 1_700_000_000;
  const FRACS = [123_456_789, 1, 999_999_999, 500, 250_000_501];
  const frames = FRACS.map((frac, i) => ({ sec: SEC + i, frac, data: eth(0x0800, ipv4({ src: 0x0a000001, dst: 0x0a000002, proto: 17, sport: 1000 + i, dport: 53 })) }));
  const exact = FRACS.map((f, i) => `${SEC + i}.${String(f).padStart(9, '0')}`);
  const magic = (file: string): number => readFileSync(file).readUInt32LE(0);
  const epochs = (file: string): string[] =>
    spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' }).stdout.trim().split('\n');

  it('a nanosecond pcap or pcapng read into a PacketTable is written with the same ns digits (pcap and pcapng out)', async () => {
    const inputs = [
      save('ns-in.pcap', pcap(frames, { ns: true })),
      save('ns-in.pcapng', pcapngSection([{ linktype: 1, tsresol: 9 }], frames.map((f) => ({ iface: 0, ts: BigInt(f.sec) * 1_000_000_000n + BigInt(f.frac), data: f.data })))),
    ];
    for (const input of inputs) {
      expect(epochs(input)).toEqual(exact); // the fixture itself, as tshark reads it
      const { table } = await readPacketTable(input);
      for (const format of ['pcap', 'pcapng'] as const) {
        const out = join(dir, `ns-out-${format}`);
        const w = await writePcap(out, table, { format });
        expect(w.nanosecond).toBe(true); // chosen from the data: sub-µs digits present
        if (format === 'pcap') expect(magic(out)).toBe(0xa1b23c4d);
        expect(epochs(out)).toEqual(exact);
      }
      // Asked for µs: rounded to the nearest µs from the exact ns (not from the float64).
      const us = join(dir, 'ns-out-us.pcap');
      expect((await writePcap(us, table, { nanosecond: false })).nanosecond).toBe(false);
      expect(magic(us)).toBe(0xa1b2c3d4);
      expect(epochs(us)).toEqual(['1700000000.123457000', '1700000001.000000000', '1700000003.000000000', '1700000003.000001000', '1700000004.250001000']);
    }
  });

  it('`convert` of a nanosecond capture to pcap keeps the digits; a µs capture stays µs', async () => {
    const out = join(dir, 'ns-convert.pcap');
    await convertTrace(save('ns-conv.pcap', pcap(frames, { ns: true })), { to: out });
    expect(epochs(out)).toEqual(exact);
    const usFrames = frames.map((f, i) => ({ ...f, frac: 1000 * i + 7 }));
    const usOut = join(dir, 'us-convert.pcap');
    const w = await writePcap(usOut, (await readPacketTable(save('us-conv.pcap', pcap(usFrames)))).table);
    expect(w.nanosecond).toBe(false);
    expect(magic(usOut)).toBe(0xa1b2c3d4);
    expect(epochs(usOut)).toEqual(usFrames.map((f) => `${f.sec}.${String(f.frac).padStart(6, '0')}000`)); // tshark prints 9 digits
  });

  it('a row whose `time` changed after reading is written with its new time, not the stale ns', async () => {
    const { table } = await readPacketTable(save('ns-shift.pcap', pcap(frames, { ns: true })));
    const shifted = { ...table, timeNs: table.timeNs, time: table.time.map((t) => t + 5e6) }; // 5 s later, timeNs left as read
    const out = join(dir, 'ns-shift-out.pcap');
    await writePcap(out, shifted, { nanosecond: true });
    const got = epochs(out).map(Number);
    got.forEach((t, i) => expect(Math.abs(t - (SEC + i + 5 + FRACS[i]! / 1e9))).toBeLessThan(1e-6));
    await expect(writePcap(out, { ...table, timeNs: new BigInt64Array(1) })).rejects.toThrow(/Expected a BigInt64Array of at least 5 elements for table.timeNs/);
  });
});
