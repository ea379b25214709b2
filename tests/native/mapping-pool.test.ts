// The addon keeps released flow tables and flow/packet blocks (mappings of 2 MiB and more) for the next read in the
// process (native/mapping_pool.h): a reused mapping must read as zero-filled, or a second read of a many-flow trace
// would find the first read's flows in its table and the first read's IPv6 addresses in its IPv4 rows.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eth, ipv4, ipv6, pcap, save, type Rec } from './reader-fixtures.js';

/** `n` flows of two packets each (all first packets, then all second ones), IPv6 where `v6(i)`. */
function manyFlows(name: string, n: number, v6: (i: number) => boolean, port: number): string {
  const recs: Rec[] = [];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i++) {
      const sport = i & 0xffff;
      const dport = port + (i >>> 16);
      const data = v6(i)
        ? eth(0x86dd, ipv6({ src: [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(8).fill(0), (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255], dst: new Array<number>(16).fill(0xee), proto: 17, sport, dport }))
        : eth(0x0800, ipv4({ src: (0x0a000000 + i) >>> 0, dst: 0xc0a80001, proto: 17, sport, dport }));
      recs.push({ sec: 1000 + round, frac: i % 1_000_000, data });
    }
  }
  return save(name, pcap(recs));
}

describe('mapping pool (reused flow tables and flow blocks)', () => {
  it('reading many-flow traces again in one process gives the same flows (tables and blocks reused, cleared)', { timeout: 180_000 }, () => {
    const N = 80_000; // a table of several MiB that grows once while reading, and a flow block over 4 MiB
    const a = manyFlows('pool-a.pcap', N, (i) => i % 2 === 0, 53);
    const b = manyFlows('pool-b.pcap', N, (i) => i % 3 === 1, 123);
    const addon = process.env.NETSHARE_NATIVE_ADDON ?? join(process.cwd(), 'build', 'Release', 'netshare_native.node');
    // A child with --expose-gc, so the blocks of one read are collected (and pooled) before the next read starts.
    const script = `
      const crypto = require('crypto');
      const addon = require(${JSON.stringify(addon)});
      const settle = async () => { for (let k = 0; k < 3; k++) { gc(); await new Promise((r) => setImmediate(r)); } };
      async function read(file) {
        const r = new addon.NativeReader(file, { flows: true, packetColumns: false });
        const h = crypto.createHash('sha256');
        let flows = 0, packets = 0, v6 = 0, stale6 = 0, idsInOrder = true;
        for (;;) {
          const batch = await r.nextBatch(1 << 20);
          const f = batch.flows;
          for (const k of ['srcIp', 'dstIp', 'srcIp6', 'dstIp6', 'srcPort', 'dstPort', 'proto', 'ipVersion', 'tcpFlags', 'id', 'ts', 'td', 'pkt', 'byt'])
            h.update(new Uint8Array(f[k].buffer, f[k].byteOffset, f[k].byteLength));
          for (let i = 0; i < f.length; i++) {
            packets += f.pkt[i];
            if (f.id[i] !== flows + i) idsInOrder = false;
            if (f.ipVersion[i] === 6) v6++;
            else if (f.srcIp6.length && (f.srcIp6.subarray(16 * i, 16 * i + 16).some((x) => x) || f.dstIp6.subarray(16 * i, 16 * i + 16).some((x) => x))) stale6++;
          }
          flows += f.length;
          if (batch.done) break;
        }
        r.close();
        return { digest: h.digest('hex'), flows, packets, v6, stale6, idsInOrder };
      }
      (async () => {
        const out = [];
        for (const file of process.argv.slice(1)) {
          const before = addon.mappingPool().reused;
          const res = await read(file);
          await settle();
          out.push({ ...res, reused: addon.mappingPool().reused - before });
        }
        console.log(JSON.stringify(out));
      })();`;
    // (A table left full of the earlier read's flows probes forever: the timeout turns that into a failure.)
    const res = spawnSync(process.execPath, ['--expose-gc', '-e', script, a, b, a, b], { encoding: 'utf8', timeout: 120_000 });
    expect(res.status, res.stderr).toBe(0);
    const [a1, b1, a2, b2] = JSON.parse(res.stdout) as Array<{ digest: string; flows: number; packets: number; v6: number; stale6: number; idsInOrder: boolean; reused: number }>;
    for (const [r, v6] of [[a1!, N / 2], [b1!, Math.floor((N - 2) / 3) + 1]] as const) {
      expect(r).toMatchObject({ flows: N, packets: 2 * N, v6, stale6: 0, idsInOrder: true });
    }
    // The later reads took pooled mappings (the first read's table and flow block) and saw exactly what a fresh
    // process sees.
    expect(a2!.reused).toBeGreaterThan(0);
    expect(b2!.reused).toBeGreaterThan(0);
    expect(a2).toEqual({ ...a1, reused: a2!.reused });
    expect(b2).toEqual({ ...b1, reused: b2!.reused });
  });
});
