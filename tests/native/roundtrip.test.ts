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
  // The written table carries ICMP type/code in srcPort/dstPort; the read one has them in icmpType/icmpCode, as
  // the reader's batches do.
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
      diff('table icmpType', got.icmpType?.[i], want.srcPort[i]);
      diff('table icmpCode', got.icmpCode?.[i], want.dstPort[i]);
      diff('ICMP srcPort', got.srcPort[i], 0);
      diff('ICMP dstPort', got.dstPort[i], 0);
    } else {
      diff('table icmpType', got.icmpType?.[i], 0);
      diff('table icmpCode', got.icmpCode?.[i], 0);
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

  it('pcap -> readPacketTable -> writePcap -> readPacketTable keeps ICMP type/code (icmpType/icmpCode, ports 0)', async () => {
    const rows = fc.sample(packetRow({ maxLen: 600 }), { numRuns: 400, seed: 11 });
    const table = tableOf(rows);
    const a = join(dir, 'icmp-a.pcap');
    const b = join(dir, 'icmp-b.pcapng');
    await writePcap(a, table);
    const first = (await readPacketTable(a)).table;
    let icmpRows = 0;
    let nonZero = 0;
    for (let i = 0; i < table.length; i++) {
      if (!isIcmp(table, i)) continue;
      icmpRows++;
      if (table.srcPort[i] !== 0 || table.dstPort[i] !== 0) nonZero++;
      expect([first.icmpType![i], first.icmpCode![i], first.srcPort[i], first.dstPort[i]], `row ${i}`).toEqual([table.srcPort[i], table.dstPort[i], 0, 0]);
    }
    expect(icmpRows).toBeGreaterThan(20);
    expect(nonZero).toBeGreaterThan(10); // type/code 0/0 alone would not show a loss
    // Ports are 0 on ICMP rows of `first`: the writer must take type/code from icmpType/icmpCode.
    await writePcap(b, first, { format: 'pcapng', mode: 'full', linktype: 'ethernet' });
    const second = (await readPacketTable(b)).table;
    expect(Array.from(second.icmpType!)).toEqual(Array.from(first.icmpType!));
    expect(Array.from(second.icmpCode!)).toEqual(Array.from(first.icmpCode!));
    expect(Array.from(second.srcPort)).toEqual(Array.from(first.srcPort));
    expect(Array.from(second.dstPort)).toEqual(Array.from(first.dstPort));
    // The caller's table is not modified by the substitution.
    for (let i = 0; i < first.length; i++) if (isIcmp(first, i)) expect(first.srcPort[i]).toBe(0);
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
