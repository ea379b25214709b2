// Unit tests of writePcap: file headers, golden bytes, checksums verified independently, errors and atomic output.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InputError, NetShareError } from '../../src/errors.js';
import { allocPacketTable, type PacketTable } from '../../src/io/table.js';
import { writePcap, type WriteOptions } from '../../src/native/writer.js';
import { packetRow, tableOf } from './writer-arbitraries.js';

const dir = mkdtempSync(join(tmpdir(), 'netshare-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One TCP SYN, 192.0.2.1:40000 -> 198.51.100.7:443, total length 60 (20 bytes of zero payload). */
function synTable(): PacketTable {
  const t = allocPacketTable(1);
  t.time[0] = 1_521_129_600_123_456;
  t.ipVersion[0] = 4;
  t.srcIp[0] = (192 << 24) | (2 << 8) | 1;
  t.dstIp[0] = (198 << 24) | (51 << 16) | (100 << 8) | 7;
  t.srcPort[0] = 40000;
  t.dstPort[0] = 443;
  t.proto[0] = 6;
  t.pktLen[0] = 60;
  t.ihl[0] = 20;
  t.tos[0] = 0x10;
  t.ipId[0] = 0x1234;
  t.flags[0] = 2;
  t.ttl[0] = 64;
  t.tcpFlags[0] = 0x02;
  t.tcpWindow[0] = 29200;
  return t;
}
// Computed independently (Python struct + RFC 1071 sum) for the row above.
const SYN_HEADERS = '4510003c1234400040063c3cc0000201c63364079c4001bb000000000000000050027210b3860000';

/** Records of a little-endian pcap file (test helper: fixed 24-byte header, 16-byte record headers). */
function pcapRecords(buf: Buffer): Array<{ sec: number; frac: number; caplen: number; len: number; data: Buffer }> {
  const out = [];
  for (let o = 24; o < buf.length; ) {
    const caplen = buf.readUInt32LE(o + 8);
    out.push({ sec: buf.readUInt32LE(o), frac: buf.readUInt32LE(o + 4), caplen, len: buf.readUInt32LE(o + 12), data: buf.subarray(o + 16, o + 16 + caplen) });
    o += 16 + caplen;
  }
  return out;
}

/** RFC 1071 sum over `parts`, folded; a correct checksum makes the sum over the covered bytes 0xffff. */
function onesSum(...parts: Buffer[]): number {
  let s = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) s += p.readUInt16BE(i);
    if (p.length % 2) s += p[p.length - 1]! << 8;
  }
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

function leftovers(d: string): string[] {
  return readdirSync(d).filter((f) => f.includes('.tmp-'));
}

describe('writePcap file layout', () => {
  it('writes the golden header-only record for a TCP SYN (pcap, µs, raw IP)', async () => {
    const f = join(dir, 'syn.pcap');
    const r = await writePcap(f, synTable());
    const buf = readFileSync(f);
    expect(r).toMatchObject({ packets: 1, bytes: buf.length });
    expect(buf.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(buf.readUInt32LE(20)).toBe(101);
    const [rec] = pcapRecords(buf);
    expect(rec).toMatchObject({ sec: 1_521_129_600, frac: 123_456, caplen: 40, len: 60 });
    expect(rec!.data.toString('hex')).toBe(SYN_HEADERS);
  });

  it('writes full records with a zero payload, Ethernet framing and ns timestamps', async () => {
    const f = join(dir, 'syn-full.pcap');
    await writePcap(f, synTable(), { mode: 'full', linktype: 'ethernet', nanosecond: true });
    const buf = readFileSync(f);
    expect(buf.readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(buf.readUInt32LE(20)).toBe(1);
    const [rec] = pcapRecords(buf);
    expect(rec).toMatchObject({ frac: 123_456_000, caplen: 74, len: 74 });
    expect(rec!.data.readUInt16BE(12)).toBe(0x0800);
    expect(rec!.data.subarray(14, 54).toString('hex')).toBe(SYN_HEADERS);
    expect(rec!.data.subarray(54).equals(Buffer.alloc(20))).toBe(true);
  });

  it('writes pcapng with SHB, an IDB carrying link type and if_tsresol, and padded EPBs', async () => {
    for (const nanosecond of [false, true]) {
      const f = join(dir, `syn-${nanosecond}.pcapng`);
      await writePcap(f, synTable(), { format: 'pcapng', nanosecond });
      const b = readFileSync(f);
      expect(b.readUInt32LE(0)).toBe(0x0a0d0d0a);
      expect(b.readUInt32LE(8)).toBe(0x1a2b3c4d);
      const idb = 28;
      expect(b.readUInt32LE(idb)).toBe(1);
      expect(b.readUInt16LE(idb + 8)).toBe(101);
      expect(b.readUInt16LE(idb + 16)).toBe(9); // if_tsresol
      expect(b[idb + 20]).toBe(nanosecond ? 9 : 6);
      const epb = idb + b.readUInt32LE(idb + 4);
      expect(b.readUInt32LE(epb)).toBe(6);
      const blockLen = b.readUInt32LE(epb + 4);
      expect(blockLen % 4).toBe(0);
      expect(b.readUInt32LE(epb + blockLen - 4)).toBe(blockLen);
      const ts = (BigInt(b.readUInt32LE(epb + 12)) << 32n) | BigInt(b.readUInt32LE(epb + 16));
      expect(ts).toBe(nanosecond ? 1_521_129_600_123_456_000n : 1_521_129_600_123_456n);
      expect(b.readUInt32LE(epb + 20)).toBe(40);
      expect(b.readUInt32LE(epb + 24)).toBe(60);
      expect(b.subarray(epb + 28, epb + 68).toString('hex')).toBe(SYN_HEADERS);
      expect(epb + blockLen).toBe(b.length);
    }
  });

  it('writes a valid empty file for an empty table', async () => {
    const f = join(dir, 'empty.pcap');
    const r = await writePcap(f, allocPacketTable(0));
    expect(r.packets).toBe(0);
    expect(readFileSync(f).length).toBe(24);
  });

  it('computes IPv4, TCP, UDP, ICMP and ICMPv6 checksums that verify over random full packets', async () => {
    const table = tableOf(fc.sample(packetRow({ maxLen: 300 }), { numRuns: 800, seed: 99 }));
    const f = join(dir, 'sums.pcap');
    await writePcap(f, table, { mode: 'full' });
    const recs = pcapRecords(readFileSync(f));
    expect(recs.length).toBe(table.length);
    let checked = 0;
    recs.forEach((r, i) => {
      const p = r.data;
      const v6 = table.ipVersion[i] === 6;
      const proto = table.proto[i]!;
      const frag = table.fragOffset[i]! > 0 || (table.flags[i]! & 1) === 1;
      const hl = v6 ? 40 + (frag ? 8 : 0) : (p[0]! & 15) * 4;
      if (!v6) expect(onesSum(p.subarray(0, hl)), `row ${i} IPv4 header`).toBe(0xffff);
      if (frag) return; // L4 checksums of fragments cover the reassembled datagram
      const l4 = p.subarray(hl);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(l4.length);
      const pseudo = v6
        ? Buffer.concat([p.subarray(8, 40), len, Buffer.from([0, 0, 0, proto])])
        : Buffer.concat([p.subarray(12, 20), Buffer.from([0, proto]), len.subarray(2)]);
      if (proto === 6 || proto === 17 || (v6 && proto === 58)) {
        expect(onesSum(pseudo, l4), `row ${i} proto ${proto}`).toBe(0xffff);
        checked++;
      } else if (!v6 && proto === 1) {
        expect(onesSum(l4), `row ${i} ICMP`).toBe(0xffff);
        checked++;
      }
      if (proto === 17) expect(l4.readUInt16BE(4)).toBe(l4.length);
    });
    expect(checked).toBeGreaterThan(400);
  });
});

describe('writePcap errors', () => {
  it('rejects a row whose length cannot hold its headers with an InputError naming column and row, leaving no file', async () => {
    const t = tableOf(fc.sample(packetRow(), { numRuns: 5, seed: 1 }));
    t.proto[3] = 6;
    t.fragOffset[3] = 0;
    t.ipVersion[3] = 4;
    t.ihl[3] = 20;
    t.pktLen[3] = 30;
    const f = join(dir, 'bad-row.pcap');
    const err = await writePcap(f, t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/pktLen\[3\] but received 30/);
    expect(existsSync(f)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it.each([
    ['ipVersion', (t: PacketTable) => (t.ipVersion[0] = 5), /ipVersion\[0\]/],
    ['ihl', (t: PacketTable) => (t.ihl[0] = 22), /ihl\[0\]/],
    ['time', (t: PacketTable) => (t.time[0] = Number.NaN), /time\[0\]/],
    ['ipId', (t: PacketTable) => (t.ipId[0] = 70000), /ipId\[0\]/],
    ['flags', (t: PacketTable) => (t.flags[0] = 9), /flags\[0\]/],
    ['fragOffset', (t: PacketTable) => (t.fragOffset[0] = 9000), /fragOffset\[0\]/],
  ])('rejects a bad %s', async (_name, mutate, msg) => {
    const t = synTable();
    mutate(t);
    await expect(writePcap(join(dir, 'bad.pcap'), t)).rejects.toThrow(msg);
  });

  it('rejects an IPv6 row whose proto is an extension header (it would read back as one)', async () => {
    const t = tableOf(fc.sample(packetRow(), { numRuns: 3, seed: 5 }).map((r) => ({ ...r, ipVersion: 6 as const })));
    t.proto[1] = 43;
    await expect(writePcap(join(dir, 'bad6x.pcap'), t)).rejects.toThrow(/proto\[1\] but received 43/);
  });

  it('rejects an IPv6 row without IPv6 address columns', async () => {
    const t = synTable();
    t.ipVersion[0] = 6;
    await expect(writePcap(join(dir, 'bad6.pcap'), t)).rejects.toBeInstanceOf(InputError);
  });

  it('rejects missing or mistyped columns before calling the addon', async () => {
    const t = synTable();
    const broken = { ...t, ttl: new Uint16Array(1) } as unknown as PacketTable;
    await expect(writePcap(join(dir, 'x.pcap'), broken)).rejects.toThrow(/Expected a Uint8Array of at least 1 elements for table.ttl/);
    const short = { ...t, length: 2 };
    await expect(writePcap(join(dir, 'x.pcap'), short)).rejects.toBeInstanceOf(InputError);
  });

  it.each([
    [{ format: 'erf' }, 'format'],
    [{ mode: 'payload' }, 'mode'],
    [{ linktype: 'sll' }, 'linktype'],
    [{ nanosecond: 'yes' }, 'nanosecond'],
  ])('rejects option %j with a ConfigError naming the key', async (opts, key) => {
    const err = await writePcap(join(dir, 'x.pcap'), synTable(), opts as unknown as WriteOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe(key);
  });

  it('reports an unwritable destination as a NetShareError and keeps an existing file intact', async () => {
    await expect(writePcap(join(dir, 'no', 'such', 'dir.pcap'), synTable())).rejects.toThrow(/cannot write .*dir\.pcap/);
    const f = join(dir, 'keep.pcap');
    writeFileSync(f, 'old contents');
    const t = synTable();
    t.pktLen[0] = 10;
    await expect(writePcap(f, t)).rejects.toBeInstanceOf(InputError);
    expect(readFileSync(f, 'utf8')).toBe('old contents');
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      const err = await writePcap(join(ro, 'x.pcap'), synTable()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetShareError);
      expect(err).not.toBeInstanceOf(InputError);
      chmodSync(ro, 0o700);
    }
    expect(leftovers(dir)).toEqual([]);
  });
});
