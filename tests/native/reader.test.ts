// Reader API on crafted captures: link layers, IP/L4 fields, pcapng interfaces, gzip, batches, flows, timeouts, BPF.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { PacketStatus, readFlowTable, readPacketBatches, readPacketTable, type PacketBatch } from '../../src/native/reader.js';
import { eth, ipv4, ipv6, mpls, pcap, pcapngSection, pppoe, save, type Rec } from './reader-fixtures.js';

const A = 0x0a000001; // 10.0.0.1
const B = 0xc0a80102; // 192.168.1.2
const V6A = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1];
const V6B = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 2];

async function all(file: string, opts: Parameters<typeof readPacketBatches>[1] = {}): Promise<{ rows: Array<Record<string, number>>; batches: PacketBatch[] }> {
  const rows: Array<Record<string, number>> = [];
  const batches: PacketBatch[] = [];
  for await (const b of readPacketBatches(file, opts)) {
    batches.push(b);
    for (let i = 0; i < b.length; i++) {
      rows.push({
        status: b.status[i]!,
        v: b.ipVersion[i]!,
        src: b.srcIp[i]!,
        dst: b.dstIp[i]!,
        sport: b.srcPort[i]!,
        dport: b.dstPort[i]!,
        proto: b.proto[i]!,
        len: b.pktLen[i]!,
        tos: b.tos[i]!,
        id: b.ipId[i]!,
        flags: b.flags[i]!,
        frag: b.fragOffset[i]!,
        ttl: b.ttl[i]!,
        tcpFlags: b.tcpFlags[i]!,
        win: b.tcpWindow[i]!,
        icmpType: b.icmpType[i]!,
        icmpCode: b.icmpCode[i]!,
        iface: b.iface[i]!,
        lt: b.linktype[i]!,
        caplen: b.caplen[i]!,
        wire: b.wireLen[i]!,
        ...(b.flowId ? { flow: b.flowId[i]! } : {}),
      });
    }
  }
  return { rows, batches };
}

const tcp = ipv4({ src: A, dst: B, proto: 6, sport: 1234, dport: 80, tcpFlags: 0x12, window: 4096, tos: 0x28, id: 777, flags: 2, ttl: 33, payload: 10 });
const udp = ipv4({ src: B, dst: A, proto: 17, sport: 53, dport: 5353 });

describe('link layers', () => {
  const recs = (frames: Uint8Array[]): Rec[] => frames.map((d, i) => ({ sec: 1000 + i, frac: 5, data: d }));

  it('decodes Ethernet, 802.1Q, QinQ (88a8), MPLS, PPPoE and 802.3 LLC/SNAP to the same IPv4 fields', async () => {
    const snap = Uint8Array.from([...eth(0, new Uint8Array(0)).subarray(0, 12), 0, tcp.length + 8, 0xaa, 0xaa, 3, 0, 0, 0, 8, 0, ...tcp]);
    const f = save(
      'eth.pcap',
      pcap(recs([eth(0x0800, tcp), eth(0x0800, tcp, [[0x8100, 5]]), eth(0x0800, tcp, [[0x88a8, 5], [0x8100, 7]]), mpls(2, tcp), pppoe(0x0021, tcp), snap])),
    );
    const { rows } = await all(f);
    expect(rows).toHaveLength(6);
    for (const r of rows) {
      expect(r).toMatchObject({ status: PacketStatus.OK, v: 4, src: A, dst: B, sport: 1234, dport: 80, proto: 6, len: tcp.length, tos: 0x28, id: 777, flags: 2, ttl: 33, tcpFlags: 0x12, win: 4096, lt: 1 });
    }
  });

  it('raw IP (12, 14, 101), IPV4/IPV6 (228/229), SLL, SLL2, NULL, LOOP, PPP (9, 50, 51), Cisco HDLC', async () => {
    const v6 = ipv6({ src: V6A, dst: V6B, proto: 17, sport: 1, dport: 2 });
    const sll = (type: number, p: Uint8Array) => Uint8Array.from([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, type >> 8, type & 255, ...p]);
    const sll2 = (type: number, p: Uint8Array) => Uint8Array.from([type >> 8, type & 255, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, ...p]);
    const cases: Array<[number, Uint8Array[], number[]]> = [
      [12, [tcp, v6], [4, 6]],
      [14, [tcp], [4]],
      [101, [v6, tcp], [6, 4]],
      [228, [tcp, v6], [4, 0]], // IPv6 on an IPv4 link type: not decoded (no guessing)
      [229, [v6], [6]],
      [113, [sll(0x0800, tcp), sll(0x86dd, v6), sll(0x0806, new Uint8Array(28))], [4, 6, 0]],
      [276, [sll2(0x86dd, v6), sll2(0x0800, tcp)], [6, 4]],
      [0, [Uint8Array.from([2, 0, 0, 0, ...tcp]), Uint8Array.from([30, 0, 0, 0, ...v6]), Uint8Array.from([0, 0, 0, 2, ...tcp])], [4, 6, 4]],
      [108, [Uint8Array.from([0, 0, 0, 2, ...tcp]), Uint8Array.from([0, 0, 0, 24, ...v6])], [4, 6]],
      [9, [Uint8Array.from([0xff, 0x03, 0, 0x21, ...tcp]), Uint8Array.from([0xff, 0x03, 0, 0x57, ...v6]), Uint8Array.from([0xff, 0x03, 0xc0, 0x21, 1, 2])], [4, 6, 0]],
      [50, [Uint8Array.from([0xff, 0x03, 0, 0x21, ...tcp])], [4]],
      [51, [Uint8Array.from([0x11, 0, 0, 1, 0, 42, 0, 0x57, ...v6]), Uint8Array.from([0x11, 0, 0, 1, 0, 42, 0xc0, 0x21, 1, 2])], [6, 0]],
      [104, [Uint8Array.from([0x0f, 0, 8, 0, ...tcp]), Uint8Array.from([0x8f, 0, 0x86, 0xdd, ...v6])], [4, 6]],
    ];
    for (const [lt, frames, versions] of cases) {
      const { rows, batches } = await all(save(`lt${lt}.pcap`, pcap(recs(frames), { linktype: lt })));
      expect(rows.map((r) => r.v), `linktype ${lt}`).toEqual(versions);
      expect(batches.at(-1)!.stats.linktypes).toEqual([lt]);
    }
  });

  it('ERF records (type 2 Ethernet with VLAN, type 3 ATM with LLC/SNAP)', async () => {
    const erf = (type: number, payload: number[]) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, type, 4, 0, 0, 0, 0, 0, 0, ...payload]);
    const atm = erf(3, [0, 0, 0x10, 0, 0xaa, 0xaa, 3, 0, 0, 0, 8, 0, ...tcp.subarray(0, 40)]);
    const f = save('erf.pcap', pcap(recs([erf(2, [0, 0, ...eth(0x0800, udp, [[0x8100, 9]])]), atm, erf(3, [0, 0, 0x10, 0, 1, 2, 3, 4])]), { linktype: 197 }));
    const { rows } = await all(f);
    expect(rows.map((r) => [r.v, r.proto, r.sport])).toEqual([
      [4, 17, 53],
      [4, 6, 1234],
      [0, 0, 0],
    ]);
    expect(rows[2]!.status).toBe(PacketStatus.NOT_IP);
  });

  it('unknown link types are undecodable, never guessed as IPv4', async () => {
    const { rows, batches } = await all(save('lt147.pcap', pcap(recs([tcp]), { linktype: 147 })));
    expect(rows[0]).toMatchObject({ status: PacketStatus.UNDECODABLE, v: 0 });
    expect(batches.at(-1)!.stats).toMatchObject({ packets: 1, undecodable: 1, ipv4: 0 });
  });
});

describe('network and transport', () => {
  it('IPv6 extension headers, fragments, ICMP/ICMPv6, SCTP, snaplen-cut headers', async () => {
    const frames: Rec[] = [
      { sec: 1, frac: 0, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 6, sport: 7, dport: 8, ext: [0, 60, 43], tc: 0xb8, hop: 9 })) },
      { sec: 1, frac: 1, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 17, sport: 7, dport: 8, ext: [0, 44], fragOffset: 0, more: true, fragId: 99 })) },
      { sec: 1, frac: 2, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 17, ext: [44], fragOffset: 100, fragId: 99 })) },
      { sec: 1, frac: 3, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 51, ext: [0] })) },
      { sec: 1, frac: 4, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 17, frag: 185, flags: 0 })) },
      { sec: 1, frac: 5, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 1, icmpType: 3, icmpCode: 3 })) },
      { sec: 1, frac: 6, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 58, icmpType: 128 })) },
      { sec: 1, frac: 7, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 132, sport: 36412, dport: 2905 })) },
      { sec: 1, frac: 8, data: eth(0x0800, tcp), cut: 14 + 20 + 2 }, // ports cut off
      { sec: 1, frac: 9, data: eth(0x0800, tcp), cut: 14 + 19 }, // IPv4 header cut: undecodable
      { sec: 1, frac: 10, data: eth(0x0800, ipv6({ src: V6A, dst: V6B, proto: 6 })) }, // ethertype says IPv4, header is v6
    ];
    const { rows, batches } = await all(save('l3.pcap', pcap(frames)));
    expect(rows[0]).toMatchObject({ v: 6, proto: 6, sport: 7, dport: 8, tos: 0xb8, ttl: 9, len: 40 + 24 + 20 });
    expect(rows[1]).toMatchObject({ v: 6, proto: 17, sport: 7, dport: 8, frag: 0, flags: 1, id: 99 });
    expect(rows[2]).toMatchObject({ v: 6, proto: 17, sport: 0, dport: 0, frag: 100, id: 99 });
    expect(rows[3]).toMatchObject({ v: 6, proto: 51 });
    expect(rows[4]).toMatchObject({ v: 4, proto: 17, frag: 185, sport: 0 });
    expect(rows[5]).toMatchObject({ proto: 1, icmpType: 3, icmpCode: 3, sport: 0, dport: 0 });
    expect(rows[6]).toMatchObject({ proto: 58, icmpType: 128 });
    expect(rows[7]).toMatchObject({ proto: 132, sport: 36412, dport: 2905 });
    expect(rows[8]).toMatchObject({ status: PacketStatus.TRUNCATED, v: 4, proto: 6, sport: 0, dport: 0, len: tcp.length, caplen: 36, wire: 14 + tcp.length });
    expect(rows[9]).toMatchObject({ status: PacketStatus.UNDECODABLE, v: 0 });
    expect(rows[10]).toMatchObject({ status: PacketStatus.UNDECODABLE, v: 0 });
    expect(batches.at(-1)!.stats).toMatchObject({ packets: 11, ipv4: 4, ipv6: 5, tcp: 2, udp: 3, icmp: 2, otherIp: 2, fragments: 2, truncated: 2, undecodable: 2 });
  });
});

describe('formats', () => {
  const recs: Rec[] = [
    { sec: 1_600_000_000, frac: 123456789, data: eth(0x0800, tcp) },
    { sec: 1_600_000_001, frac: 1, data: eth(0x0800, udp) },
  ];

  it('nanosecond and microsecond pcap in both byte orders keep exact times', async () => {
    for (const be of [false, true]) {
      const { batches } = await all(save(`ns-${be}.pcap`, pcap(recs, { ns: true, be })));
      const b = batches[0]!;
      expect(Array.from(b.tsNs)).toEqual([1_600_000_000_123_456_789n, 1_600_000_001_000_000_001n]);
      expect(b.stats.firstTsNs).toBe(1_600_000_000_123_456_789n);
      expect(b.timeUs[0]).toBeCloseTo(1_600_000_000_123_456.789, 0);
      const us = pcap([{ ...recs[0]!, frac: 654321 }], { be });
      const { batches: ub } = await all(save(`us-${be}.pcap`, us));
      expect(ub[0]!.tsNs[0]).toBe(1_600_000_000_654_321_000n);
      expect(ub[0]!.stats.format).toBe('pcap');
    }
  });

  it('pcapng: per-interface link type and resolution, interface ids, both byte orders, two sections', async () => {
    for (const be of [false, true]) {
      const sec1 = pcapngSection(
        [{ linktype: 1, tsresol: 9 }, { linktype: 101 }, { linktype: 113, tsresol: 0x88 }],
        [
          { iface: 0, ts: 1_600_000_000_123_456_789n, data: eth(0x0800, tcp) },
          { iface: 1, ts: 1_600_000_000_000_001n, data: udp },
          { iface: 2, ts: (1_600_000_000n << 8n) | 128n, data: Uint8Array.from([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0, ...tcp]) },
        ],
        { be, extra: [[4, [0, 0, 0, 0]], [0x0bad, [0, 0, 0, 1, 2, 3]]] },
      );
      const sec2 = pcapngSection([{ linktype: 12 }], [{ iface: 0, ts: 5_000_000n, data: udp }], { be });
      const { rows, batches } = await all(save(`ng-${be}.pcapng`, Buffer.concat([sec1, sec2])));
      expect(rows.map((r) => [r.iface, r.lt, r.v, r.proto])).toEqual([
        [0, 1, 4, 6],
        [1, 101, 4, 17],
        [2, 113, 4, 6],
        [0, 12, 4, 17],
      ]);
      const b = batches[0]!;
      expect(Array.from(b.tsNs)).toEqual([1_600_000_000_123_456_789n, 1_600_000_000_000_001_000n, 1_600_000_000_500_000_000n, 5_000_000_000n]);
      expect(b.stats).toMatchObject({ format: 'pcapng', linktypes: [1, 101, 113, 12], warnings: [] });
    }
  });

  it("gzip'd pcap and pcapng are decompressed transparently", async () => {
    const raw = pcap(recs, { ns: true });
    const { rows, batches } = await all(save('g.pcap.gz', gzipSync(raw)));
    expect(rows).toHaveLength(2);
    expect(batches[0]!.stats.format).toBe('gzip-pcap');
    const ng = pcapngSection([{ linktype: 1 }], [{ iface: 0, ts: 1n, data: eth(0x0800, tcp) }]);
    const r2 = await all(save('g.pcapng.gz', gzipSync(ng)));
    expect(r2.batches[0]!.stats.format).toBe('gzip-pcapng');
    expect(r2.rows[0]).toMatchObject({ v: 4, proto: 6 });
  });
});

describe('batches, flows, filter', () => {
  // 3 flows: A->B tcp (5 packets, 1 s apart), B->A udp (2), A->B tcp again after a 100 s gap.
  const frames: Rec[] = [];
  for (let i = 0; i < 5; i++) frames.push({ sec: 100 + i, frac: 0, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 6, sport: 1, dport: 2, tcpFlags: 1 << i, payload: i })) });
  frames.push({ sec: 100, frac: 500, data: eth(0x0800, udp) }, { sec: 102, frac: 0, data: eth(0x0800, udp) });
  frames.push({ sec: 200, frac: 0, data: eth(0x0800, ipv4({ src: A, dst: B, proto: 6, sport: 1, dport: 2, tcpFlags: 0x10 })) });
  frames.push({ sec: 201, frac: 0, data: Uint8Array.from([...eth(0x0806, new Uint8Array(28))]) });
  const file = save('flows.pcap', pcap(frames));

  it('batch size does not change the columns; progress is reported', async () => {
    const big = await all(file, { flows: true });
    const progress: number[] = [];
    const small = await all(file, { flows: true, batchSize: 2, onProgress: (_b, _t, p) => progress.push(p) });
    expect(small.rows).toEqual(big.rows);
    expect(small.batches.length).toBeGreaterThanOrEqual(5);
    expect(progress.at(-1)).toBe(9);
    expect(big.rows.map((r) => r.flow)).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0xffffffff]);
  });

  it('reuseBatches recycles batch memory without changing what each iteration sees', async () => {
    const fresh = await all(file, { flows: true, batchSize: 2 });
    const reused = await all(file, { flows: true, batchSize: 2, reuseBatches: true });
    expect(reused.rows).toEqual(fresh.rows);
    expect(reused.batches[2]!.tsNs.buffer).toBe(reused.batches[0]!.tsNs.buffer);
    expect(fresh.batches[2]!.tsNs.buffer).not.toBe(fresh.batches[0]!.tsNs.buffer);
    // Without reuse, kept batches stay intact.
    expect(fresh.batches[0]!.tsNs[0]).toBe(100_000_000_000n);
  });

  it('readFlowTable aggregates 5-tuples (no timeout, as NetShare)', async () => {
    const { flows, stats } = await readFlowTable(file);
    expect(flows.length).toBe(2);
    expect(stats.flows).toBe(2);
    expect(Array.from(flows.pkt)).toEqual([6, 2]);
    expect(flows.ts[0]).toBe(100e6);
    expect(flows.td[0]).toBe(100);
    expect(flows.tcpFlags![0]).toBe(0x1f | 0x10);
    const lens = [0, 1, 2, 3, 4].map((i) => 40 + i);
    expect(flows.byt[0]).toBe(lens.reduce((a, b) => a + b, 0) + 40);
    expect(flows.srcIp[1]).toBe(B);
    expect(flows.proto[1]).toBe(17);
  });

  it('inactive and active timeouts split flows', async () => {
    const inactive = await readFlowTable(file, { inactiveTimeoutS: 10 });
    expect(Array.from(inactive.flows.pkt)).toEqual([5, 2, 1]);
    expect(Array.from(inactive.flows.ts)).toEqual([100e6, 100.0005e6, 200e6]);
    const active = await readFlowTable(file, { activeTimeoutS: 2.5 });
    // tcp: 100,101,102 | 103,104 | 200 ; udp: 100.0005, 102
    expect(Array.from(active.flows.pkt)).toEqual([3, 2, 2, 1]);
  });

  it('timeouts bound the flows in flight on a long trace (sweeps close idle flows)', async () => {
    const many: Rec[] = [];
    for (let i = 0; i < 3000; i++) many.push({ sec: 1000 + i, frac: 0, data: eth(0x0800, ipv4({ src: A + i, dst: B, proto: 17, sport: i, dport: 53 })) });
    const f = save('many.pcap', pcap(many));
    const closedPerBatch: number[] = [];
    for await (const b of readPacketBatches(f, { flows: true, inactiveTimeoutS: 5, batchSize: 256 })) closedPerBatch.push(b.closedFlows!.length);
    expect(closedPerBatch.reduce((a, b) => a + b, 0)).toBe(3000);
    // Flows are closed while reading, not all at the end: what is left for the final flush is about one timeout's worth.
    expect(closedPerBatch.at(-1)).toBeLessThan(300);
    const { flows } = await readFlowTable(f, { inactiveTimeoutS: 5, batchSize: 256 });
    expect(flows.length).toBe(3000);
    expect(Array.from(flows.srcPort.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
  });

  it('readPacketTable keeps IP packets only, with µs times', async () => {
    const { table, stats } = await readPacketTable(file);
    expect(table.length).toBe(8);
    expect(stats).toMatchObject({ packets: 9, notIp: 1 });
    expect(table.time[0]).toBe(100e6);
    expect(table.ihl[0]).toBe(20);
    expect(table.srcIp6).toBeUndefined();
  });

  it('readPacketTable keeps IPv6 addresses at the right rows when IPv6 appears late', async () => {
    const recs: Rec[] = [];
    for (let i = 0; i < 300; i++) recs.push({ sec: i, frac: 0, data: eth(0x0800, tcp) });
    recs.push({ sec: 400, frac: 0, data: eth(0x86dd, ipv6({ src: V6A, dst: V6B, proto: 17, sport: 1, dport: 2 })) });
    const { table } = await readPacketTable(save('late-v6.pcap', pcap(recs)), { batchSize: 64 });
    expect(table.length).toBe(301);
    expect(table.srcIp6!.length).toBe(16 * 301);
    expect(Array.from(table.srcIp6!.subarray(16 * 300))).toEqual(V6A);
    expect(Array.from(table.dstIp6!.subarray(16 * 300))).toEqual(V6B);
    expect(table.srcIp6!.subarray(0, 16 * 300).every((x) => x === 0)).toBe(true);
    expect(table.ipVersion[300]).toBe(6);
  });

  it('BPF filter runs while reading; a bad expression is a ConfigError', async () => {
    const { rows, batches } = await all(file, { filter: 'udp' });
    expect(rows.map((r) => r.proto)).toEqual([17, 17]);
    expect(batches.at(-1)!.stats).toMatchObject({ packets: 2, records: 9 });
    await expect(all(file, { filter: 'tcp and and' })).rejects.toBeInstanceOf(ConfigError);
    await expect(all(file, { batchSize: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(all(file, { inactiveTimeoutS: -1 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('reading runs off the main thread: the event loop keeps turning while a batch is filled', async () => {
    const one = Buffer.from(pcap([{ sec: 1, frac: 0, data: eth(0x0800, tcp) }]));
    const rec = one.subarray(24);
    const n = 400_000; // long enough that the read spans several event-loop turns even when flows are fast and the machine loaded
    const big = Buffer.alloc(24 + n * rec.length);
    one.copy(big, 0, 0, 24);
    for (let i = 0; i < n; i++) rec.copy(big, 24 + i * rec.length);
    const f = save('offthread.pcap', big);
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const it = readPacketBatches(f, { batchSize: n, flows: true })[Symbol.asyncIterator]();
    const first = await it.next();
    const turnsWhileReading = turns;
    spinning = false;
    await it.return?.(undefined);
    expect(first.done).toBe(false);
    expect((first.value as PacketBatch).length).toBe(n);
    expect(turnsWhileReading).toBeGreaterThan(1);
  });

  it('a consumer that stops early closes the reader cleanly', async () => {
    for await (const b of readPacketBatches(file, { batchSize: 1 })) {
      expect(b.length).toBe(1);
      break;
    }
  });
});
