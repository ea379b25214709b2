// Round trip: random valid packet tables (fast-check) -> writePcap -> the native reader give back the same columns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { PacketTable } from '../../src/io/table.js';
import { readPacketBatches, readPacketTable } from '../../src/native/reader.js';
import { writePcap, type WriteOptions } from '../../src/native/writer.js';
import { ipv4HeaderChecksum, packetRow, tableOf } from './writer-arbitraries.js';

const dir = mkdtempSync(join(tmpdir(), 'netshare-roundtrip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options: fc.Arbitrary<Required<WriteOptions>> = fc.record({
  format: fc.constantFrom('pcap' as const, 'pcapng' as const),
  mode: fc.constantFrom('header-only' as const, 'full' as const),
  nanosecond: fc.boolean(),
  linktype: fc.constantFrom('raw' as const, 'ethernet' as const),
});

const COLUMNS = ['ipVersion', 'srcPort', 'dstPort', 'proto', 'pktLen', 'ihl', 'tos', 'ipId', 'flags', 'fragOffset', 'ttl', 'tcpFlags', 'tcpWindow'] as const;

const isIcmp = (t: PacketTable, i: number): boolean =>
  t.fragOffset[i] === 0 && ((t.ipVersion[i] === 4 && t.proto[i] === 1) || (t.ipVersion[i] === 6 && t.proto[i] === 58));

/** Differences between the written table and what the reader returned (empty when they agree). */
async function compare(file: string, want: PacketTable, got: PacketTable): Promise<string[]> {
  const bad: string[] = [];
  if (got.length !== want.length) return [`rows: read ${got.length}, wrote ${want.length}`];
  // The reader's ICMP type/code live in its batch columns; the table's srcPort/dstPort carry them into the writer.
  const icmp: Array<[number, number]> = [];
  for await (const b of readPacketBatches(file)) for (let i = 0; i < b.length; i++) icmp.push([b.icmpType[i]!, b.icmpCode[i]!]);
  for (let i = 0; i < want.length && bad.length < 10; i++) {
    const diff = (what: string, g: unknown, w: unknown): void => {
      if (g !== w) bad.push(`row ${i} ${what}: read ${String(g)}, wrote ${String(w)}`);
    };
    diff('time', got.time[i], want.time[i]);
    for (const c of COLUMNS) {
      if (isIcmp(want, i) && (c === 'srcPort' || c === 'dstPort')) continue;
      diff(c, got[c][i], want[c][i]);
    }
    if (isIcmp(want, i)) {
      diff('icmpType', icmp[i]![0], want.srcPort[i]);
      diff('icmpCode', icmp[i]![1], want.dstPort[i]);
    }
    if (want.ipVersion[i] === 4) {
      diff('srcIp', got.srcIp[i], want.srcIp[i]);
      diff('dstIp', got.dstIp[i], want.dstIp[i]);
      diff('ipChecksum', got.ipChecksum[i], ipv4HeaderChecksum(want, i));
    } else {
      diff('srcIp6', Buffer.from(got.srcIp6!.subarray(16 * i, 16 * i + 16)).toString('hex'), Buffer.from(want.srcIp6!.subarray(16 * i, 16 * i + 16)).toString('hex'));
      diff('dstIp6', Buffer.from(got.dstIp6!.subarray(16 * i, 16 * i + 16)).toString('hex'), Buffer.from(want.dstIp6!.subarray(16 * i, 16 * i + 16)).toString('hex'));
    }
  }
  return bad;
}

describe('writer -> reader round trip', () => {
  let run = 0;
  it('gives back every column for random valid packets, in every format, mode, link type and time unit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(packetRow({ maxLen: 1500 }), { minLength: 1, maxLength: 120 }),
        options,
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 120, maxLength: 120 }),
        async (rows, opts, quarters) => {
          const table = tableOf(rows);
          // ns files keep sub-µs time: quarter µs are exact in float64 at current epochs.
          if (opts.nanosecond) for (let i = 0; i < table.length; i++) table.time[i]! += quarters[i]! * 0.25;
          const file = join(dir, `rt${run++}.${opts.format}`);
          const w = await writePcap(file, table, opts);
          expect(w.packets).toBe(table.length);
          const { table: got, stats } = await readPacketTable(file);
          expect(stats.format).toBe(opts.format);
          expect(stats.linktypes).toEqual([opts.linktype === 'raw' ? 101 : 1]);
          expect(stats.undecodable).toBe(0);
          expect(await compare(file, table, got)).toEqual([]);
          rmSync(file);
        },
      ),
      { numRuns: 60, seed: Number(process.env.NETSHARE_TEST_SEED ?? 424242) },
    );
  });

  it('header-only records are flagged truncated and full records are not', async () => {
    const table = tableOf(fc.sample(packetRow({ maxLen: 1000, minOtherPayload: 1 }), { numRuns: 300, seed: 7 }));
    // Rows whose headers fill the whole packet are complete even in header-only mode.
    let complete = 0;
    for (let i = 0; i < table.length; i++) {
      const v6 = table.ipVersion[i] === 6;
      const frag = table.fragOffset[i]! > 0 || (table.flags[i]! & 1) === 1;
      const p = table.proto[i]!;
      const l4 = table.fragOffset[i]! > 0 ? 0 : p === 6 ? 20 : p === 17 || p === (v6 ? 58 : 1) ? 8 : 0;
      if (table.pktLen[i] === (v6 ? 40 + (frag ? 8 : 0) : table.ihl[i]!) + l4) complete++;
    }
    const a = join(dir, 'hdr.pcap');
    const b = join(dir, 'full.pcapng');
    await writePcap(a, table, { mode: 'header-only' });
    await writePcap(b, table, { mode: 'full', format: 'pcapng', linktype: 'ethernet' });
    const ra = await readPacketTable(a);
    const rb = await readPacketTable(b);
    expect(ra.stats.truncated).toBe(table.length - complete);
    expect(rb.stats.truncated).toBe(0);
    expect(ra.table.pktLen).toEqual(table.pktLen);
    expect(rb.table.pktLen).toEqual(table.pktLen);
  });
});
