// Synthetic test tables for the evaluation tests: seeded packet and flow traces with real flow structure.
import { allocFlowTable, allocPacketTable, type FlowTable, type PacketTable } from '../../src/io/table.js';
import { Rng } from '../../src/core/rng.js';

/** Uniform draws in [0, 1) from the test stream of `seed` (src/core/rng.ts), as a closure. */
export function testRng(seed: number): () => number {
  const g = new Rng(seed, 'test');
  return () => g.next();
}

/** `flows` 5-tuple flows with geometric sizes, per-flow constant TTL/ToS, TCP/UDP mix. */
export function makePackets(flows: number, seed = 1): PacketTable {
  const r = testRng(seed);
  const sizes: number[] = [];
  for (let f = 0; f < flows; f++) sizes.push(1 + Math.floor(-Math.log(1 - r()) * 4));
  const n = sizes.reduce((a, b) => a + b, 0);
  const t = allocPacketTable(n);
  let i = 0;
  for (let f = 0; f < flows; f++) {
    const src = (0x0a000000 + Math.floor(r() * 50)) >>> 0;
    const dst = (0xc0a80000 + Math.floor(r() * 200)) >>> 0;
    const sp = 1024 + Math.floor(r() * 60000);
    const dp = [80, 443, 53, 22][Math.floor(r() * 4)]!;
    const proto = dp === 53 ? 17 : 6;
    const ttl = 32 + Math.floor(r() * 200);
    const tos = r() < 0.9 ? 0 : 16;
    let time = 1e15 + r() * 1e6;
    for (let k = 0; k < sizes[f]!; k++, i++) {
      t.time[i] = time;
      time += 1 + r() * 1000;
      t.ipVersion[i] = 4;
      t.srcIp[i] = src;
      t.dstIp[i] = dst;
      t.srcPort[i] = sp;
      t.dstPort[i] = dp;
      t.proto[i] = proto;
      t.pktLen[i] = 40 + Math.floor(r() * 1460);
      t.ihl[i] = 20;
      t.ttl[i] = ttl;
      t.tos[i] = tos;
      t.tcpFlags[i] = proto === 6 ? (k === 0 ? 2 : 16) : 0;
    }
  }
  return t;
}

/** `n` NetFlow records over `n/2` 5-tuples with a `type` column (every 10th record 'blacklist', distinguishable by dstport). */
export function makeFlows(n: number, seed = 1): FlowTable {
  const r = testRng(seed);
  const t = allocFlowTable(n);
  t.type = [];
  for (let i = 0; i < n; i++) {
    const bad = i % 10 === 0;
    const j = Math.floor(r() * (n / 2)); // 5-tuple pool of n/2, so tuples repeat
    t.srcIp[i] = (0x0a000000 + (j % 997)) >>> 0;
    t.dstIp[i] = (0xc0a80000 + (j % 100)) >>> 0;
    t.srcPort[i] = 1024 + (j % 1000);
    t.dstPort[i] = bad ? 6667 : [80, 443, 53][Math.floor(r() * 3)]!;
    t.proto[i] = t.dstPort[i] === 53 ? 17 : 6;
    t.ts[i] = 1.46e15 + i * 1000 + r() * 500;
    t.pkt[i] = 1 + Math.floor(-Math.log(1 - r()) * (bad ? 2 : 20));
    t.byt[i] = t.pkt[i]! * (40 + Math.floor(r() * 1400));
    t.td[i] = t.pkt[i]! > 1 ? r() * 10 : 0;
    t.type.push(bad ? 'blacklist' : 'background');
  }
  return t;
}
