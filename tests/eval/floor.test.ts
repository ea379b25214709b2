// The equal-size floor: subset profiles equal profiles of the materialised rows, draws are disjoint, seeded and of
// the documented size, and evaluateTables reports K-split floors with their spread and the headline median ratio.
import { describe, expect, it } from 'vitest';
import { ProfileSource, profile, type Profile } from '../../src/eval/fidelity.js';
import { takeRows } from '../../src/io/rows.js';
import type { Table } from '../../src/io/table.js';
import { makeFlows, makePackets, testRng } from './helpers.js';

function rowsOf(src: ProfileSource, flows: number[]): Int32Array {
  const keep = new Uint8Array(src.flows);
  for (const f of flows) keep[f] = 1;
  const rows: number[] = [];
  for (let i = 0; i < src.records; i++) if (keep[src.flowIndex.flowOf[i]!]) rows.push(i);
  return Int32Array.from(rows);
}

function plain(p: Profile): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v instanceof Map ? [...v.entries()] : v)));
}

function checkSubsets(t: Table, jointSample: number): void {
  const src = new ProfileSource(t, { seed: 3, jointSample });
  const r = testRng(11);
  for (const share of [0.05, 0.5, 0.9]) {
    const flows: number[] = [];
    for (let f = 0; f < src.flows; f++) if (r() < share) flows.push(f);
    const viaSource = src.profile(Int32Array.from(flows));
    const direct = profile(takeRows(t, rowsOf(src, flows)), { seed: 3, jointSample });
    expect(plain(viaSource), `share ${share}`).toEqual(plain(direct));
  }
  expect(plain(src.profile())).toEqual(plain(profile(t, { seed: 3, jointSample })));
}

describe('ProfileSource: a flow selection profiles exactly as its materialised rows', () => {
  it('packets (IPv6 rows included; joint sample capped)', () => {
    const t = makePackets(600, 4);
    // Turn every 7th flow's packets into IPv6 rows with distinct 16-byte addresses.
    const v6 = takeRows(t, Int32Array.from({ length: t.length }, (_, i) => i));
    const src6 = new Uint8Array(16 * v6.length);
    const dst6 = new Uint8Array(16 * v6.length);
    for (let i = 0; i < v6.length; i++) {
      if (v6.srcIp[i]! % 7 !== 0) continue;
      v6.ipVersion[i] = 6;
      src6[16 * i] = 0x20;
      src6[16 * i + 15] = v6.srcIp[i]! & 255;
      dst6[16 * i] = 0x20;
      dst6[16 * i + 14] = v6.dstIp[i]! & 255;
      v6.srcIp[i] = 0;
      v6.dstIp[i] = 0;
    }
    v6.srcIp6 = src6;
    v6.dstIp6 = dst6;
    checkSubsets(t, 200_000);
    checkSubsets(v6, 150);
  });
  it('NetFlow (joint sample capped and not)', () => {
    const t = makeFlows(4000, 5);
    checkSubsets(t, 200_000);
    checkSubsets(t, 300);
  });
});
