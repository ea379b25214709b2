// The native flow table (native/flows.h) against a plain Map oracle built from the decoded packets: full 32-bit hash
// collisions (the index compares its hash tag, then the record's key), growth of the index and of the records past
// the file-size hint, IPv4 and IPv6 keys, out-of-order times, and timeouts (flows re-opened on a packet and closed by
// sweeps, whose dead records are compacted away while reading).
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FlowTable, PacketTable } from '../../src/io/table.js';
import { readFlowTable, readPacketBatches, readPacketTable } from '../../src/native/reader.js';
import { eth, ipv4, ipv6, pcap, save, type Rec } from './reader-fixtures.js';

// The flow hash (HashWords in native/flows.h) over the key's five 64-bit words, to find keys that collide.
const M64 = (1n << 64n) - 1n;
const MUL = [0x9e3779b97f4a7c15n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0xd6e8feb86659fd93n, 0xff51afd7ed558ccdn];
function flowHash(w: bigint[]): number {
  let h = 0n;
  for (let i = 0; i < 5; i++) h ^= (w[i]! * MUL[i]!) & M64;
  h ^= h >> 32n;
  h = (h * 0xbf58476d1ce4e5b9n) & M64;
  h ^= h >> 29n;
  return Number(h & 0xffffffffn);
}
const le64 = (b: number[], at: number): bigint => {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[at + k]!);
  return v;
};
const DST4 = 0xc0a80102; // 192.168.1.2
const DST6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 2];
const src6 = (i: number): number[] => [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(8).fill(0), (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255];
const hash4 = (src: number, sport: number): number =>
  flowHash([BigInt(src), 0n, BigInt(DST4), 0n, BigInt(sport) | (53n << 16n) | (17n << 32n) | (4n << 40n)]);
const hash6 = (i: number): number =>
  flowHash([le64(src6(i), 0), le64(src6(i), 8), le64(DST6, 0), le64(DST6, 8), 2000n | (443n << 16n) | (6n << 32n) | (6n << 40n)]);

// Pairs of distinct keys with the same 32-bit hash (found by a birthday search with flowHash) that differ only in the
// source address: IPv4 UDP (src, sport) -> 192.168.1.2:53, and IPv6 TCP 2001:db8::<i>:2000 -> 2001:db8::2:443.
const COLLIDING4: Array<[[number, number], [number, number]]> = [
  [[167885067, 1000], [167895747, 1000]],
  [[167941081, 1000], [167990591, 1000]],
  [[167942851, 1000], [167996200, 1000]],
  [[167950573, 1000], [168015314, 1000]],
  [[167950188, 1000], [168052098, 1000]],
  [[168015049, 1000], [168067558, 1000]],
];
const COLLIDING6: Array<[number, number]> = [
  [35839, 89521],
  [106308, 131311],
  [77954, 134214],
  [123619, 148366],
  [484, 151290],
  [69340, 159622],
];

/** A deterministic generator (xorshift32) in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

interface OracleFlow {
  id: number;
  key: string;
  row: number; // first packet's row (for the key columns)
  first: number; // ns
  last: number;
  pkt: number;
  byt: number;
  flags: number;
}

/** Flows of `t` as the table should build them: one per key, split where a packet comes more than the inactive
 * timeout after the flow's last packet or more than the active timeout after its first; ids in creation order. */
function oracle(t: PacketTable, inactiveS = 0, activeS = 0): { flows: OracleFlow[]; packetFlow: number[] } {
  const open = new Map<string, OracleFlow>();
  const done: OracleFlow[] = [];
  const packetFlow: number[] = [];
  let next = 0;
  for (let i = 0; i < t.length; i++) {
    const v = t.ipVersion[i]!;
    const addr = v === 6 ? `${Array.from(t.srcIp6!.subarray(16 * i, 16 * i + 16)).join('.')}>${Array.from(t.dstIp6!.subarray(16 * i, 16 * i + 16)).join('.')}` : `${t.srcIp[i]}>${t.dstIp[i]}`;
    const key = `${v}|${addr}|${t.srcPort[i]}|${t.dstPort[i]}|${t.proto[i]}`;
    const ts = Math.round(t.time[i]! * 1000);
    let f = open.get(key);
    if (f && ((inactiveS > 0 && ts - f.last > inactiveS * 1e9) || (activeS > 0 && ts - f.first > activeS * 1e9))) {
      done.push(f);
      f = undefined;
    }
    if (!f) {
      f = { id: next++, key, row: i, first: ts, last: ts, pkt: 0, byt: 0, flags: 0 };
      open.set(key, f);
    }
    f.first = Math.min(f.first, ts);
    f.last = Math.max(f.last, ts);
    f.pkt++;
    f.byt += t.pktLen[i]!;
    f.flags |= t.tcpFlags[i]!;
    packetFlow.push(f.id);
  }
  done.push(...open.values());
  done.sort((a, b) => a.id - b.id);
  return { flows: done, packetFlow };
}

function expectSameFlows(got: FlowTable, want: OracleFlow[], t: PacketTable): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let k = 0; k < want.length && bad.length < 5; k++) {
    const w = want[k]!;
    const r = w.row;
    const v = t.ipVersion[r]!;
    const same =
      got.ipVersion![k] === v &&
      got.srcPort[k] === t.srcPort[r] &&
      got.dstPort[k] === t.dstPort[r] &&
      got.proto[k] === t.proto[r] &&
      (v === 6
        ? got.srcIp6!.subarray(16 * k, 16 * k + 16).every((x, j) => x === t.srcIp6![16 * r + j]) &&
          got.dstIp6!.subarray(16 * k, 16 * k + 16).every((x, j) => x === t.dstIp6![16 * r + j])
        : got.srcIp[k] === t.srcIp[r] && got.dstIp[k] === t.dstIp[r]) &&
      got.ts[k] === w.first / 1e3 &&
      got.td[k] === (w.last - w.first) / 1e9 &&
      got.pkt[k] === w.pkt &&
      got.byt[k] === w.byt &&
      got.tcpFlags![k] === w.flags;
    if (!same) bad.push(`flow ${k} (${w.key}): got pkt ${got.pkt[k]} byt ${got.byt[k]} ts ${got.ts[k]} td ${got.td[k]} flags ${got.tcpFlags![k]}, want pkt ${w.pkt} byt ${w.byt} ts ${w.first / 1e3} td ${(w.last - w.first) / 1e9} flags ${w.flags}`);
  }
  expect(bad).toEqual([]);
}

/** Flow ids the reader gives each packet (flowId column) next to the oracle's. */
async function expectSamePacketIds(file: string, want: number[], opts: { inactiveTimeoutS?: number; activeTimeoutS?: number; batchSize?: number }): Promise<void> {
  const ids: number[] = [];
  for await (const b of readPacketBatches(file, { flows: true, ...opts })) for (const id of b.flowId!) ids.push(id);
  expect(ids.length).toBe(want.length);
  let mismatches = 0;
  for (let i = 0; i < want.length; i++) if (ids[i] !== want[i]) mismatches++;
  expect(mismatches).toBe(0);
}

describe('native flow table', () => {
  it('the colliding keys of this test really collide under the flow hash', () => {
    for (const [[a, pa], [b, pb]] of COLLIDING4) {
      expect(hash4(a, pa)).toBe(hash4(b, pb));
      expect([a, pa]).not.toEqual([b, pb]);
    }
    for (const [a, b] of COLLIDING6) expect(hash6(a)).toBe(hash6(b));
  });

  it('colliding hashes, growth past the size hint, IPv4 + IPv6, out-of-order times: the same flows as a Map', { timeout: 120_000 }, async () => {
    const next = rng(7);
    const recs: Rec[] = [];
    const colliding: Array<() => Uint8Array> = [];
    for (const pair of COLLIDING4)
      for (const [src, sport] of pair) colliding.push(() => eth(0x0800, ipv4({ src, dst: DST4, proto: 17, sport, dport: 53, payload: Math.floor(next() * 40) })));
    for (const pair of COLLIDING6)
      for (const i of pair)
        colliding.push(() => eth(0x86dd, ipv6({ src: src6(i), dst: DST6, proto: 6, sport: 2000, dport: 443, tcpFlags: 1 << Math.floor(next() * 6) })));
    // 60,000 small flows (one or two packets) make the file hint ~20,000 flows: the index and the records each grow
    // twice while reading. Every 97th packet belongs to a colliding key; one packet in 50 is 0.5 s early.
    const N = 60_000;
    let sec = 1_000;
    for (let i = 0; i < N; i++) {
      if (i % 97 === 0) {
        const c = colliding[Math.floor(next() * colliding.length)]!;
        recs.push({ sec: sec - (next() < 0.3 ? 1 : 0), frac: Math.floor(next() * 1e6), data: c() });
      }
      const src = (0x0b000000 + i) >>> 0;
      const data = i % 5 === 0
        ? eth(0x86dd, ipv6({ src: src6(0x01000000 + i), dst: DST6, proto: 17, sport: i & 0xffff, dport: 9 }))
        : eth(0x0800, ipv4({ src, dst: DST4, proto: i % 3 ? 17 : 6, sport: 1 + (i % 50_000), dport: 80, tcpFlags: 0x10 }));
      recs.push({ sec, frac: (i * 13) % 1_000_000, data });
      if (i % 7 === 0) recs.push({ sec: next() < 0.02 ? sec - 1 : sec + 1, frac: 500_000, data }); // a second packet
      if (i % 1000 === 999) sec++;
    }
    const file = save('flow-table-collisions.pcap', pcap(recs));
    const { table } = await readPacketTable(file);
    const want = oracle(table);
    const distinctColliding = new Set(want.flows.filter((f) => f.key.includes('|53|17') || f.key.includes('|2000|443|6')).map((f) => f.key));
    expect(distinctColliding.size).toBe(2 * (COLLIDING4.length + COLLIDING6.length)); // both sides of every pair present
    const { flows, stats } = await readFlowTable(file);
    expect(stats.flows).toBe(want.flows.length);
    expect(want.flows.length).toBeGreaterThan((2 * statSync(file).size) / 160); // over twice the size hint (bytes / 160)
    expectSameFlows(flows, want.flows, table);
    await expectSamePacketIds(file, want.packetFlow, {});
  });

  it('timeouts: re-opened flows, sweeps and compaction give the same flows as a Map', { timeout: 120_000 }, async () => {
    const next = rng(11);
    // 4,000 keys (a quarter IPv6, the colliding pairs among them), 40,000 packets 1 ms apart; each packet picks a key
    // from a window that drifts over the keys, so flows go idle (swept), come back after 2-4 s (re-opened or a new
    // flow after a sweep) and some last longer than the active timeout.
    const keys: Array<() => Uint8Array> = [];
    for (const pair of COLLIDING4) for (const [src, sport] of pair) keys.push(() => eth(0x0800, ipv4({ src, dst: DST4, proto: 17, sport, dport: 53 })));
    for (const pair of COLLIDING6) for (const i of pair) keys.push(() => eth(0x86dd, ipv6({ src: src6(i), dst: DST6, proto: 6, sport: 2000, dport: 443, tcpFlags: 2 })));
    for (let k = keys.length; k < 4000; k++)
      keys.push(
        k % 4 === 0
          ? () => eth(0x86dd, ipv6({ src: src6(0x02000000 + k), dst: DST6, proto: 17, sport: k, dport: 7 }))
          : () => eth(0x0800, ipv4({ src: (0x0c000000 + k) >>> 0, dst: DST4, proto: 6, sport: k, dport: 22, tcpFlags: 0x18, payload: k % 9 })),
      );
    const recs: Rec[] = [];
    for (let i = 0; i < 40_000; i++) {
      const centre = (i / 40_000) * 4000;
      const k = Math.floor(centre + (next() - 0.5) * 600 + 4000) % 4000;
      const us = 10_000_000 + i * 1000;
      recs.push({ sec: Math.floor(us / 1e6), frac: us % 1e6, data: keys[next() < 0.05 ? Math.floor(next() * 24) : k]!() });
    }
    const file = save('flow-table-timeouts.pcap', pcap(recs));
    const { table } = await readPacketTable(file);
    for (const [inactive, active] of [[2, 0], [0, 3], [2, 5]] as const) {
      const want = oracle(table, inactive, active);
      const split = want.flows.length - new Set(want.flows.map((f) => f.key)).size;
      expect(split).toBeGreaterThan(500); // many keys have several flows
      const opts = { ...(inactive ? { inactiveTimeoutS: inactive } : {}), ...(active ? { activeTimeoutS: active } : {}), batchSize: 500 };
      const { flows, stats } = await readFlowTable(file, opts);
      expect(stats.flows).toBe(want.flows.length);
      expectSameFlows(flows, want.flows, table);
      await expectSamePacketIds(file, want.packetFlow, opts);
    }
  });
});
