// postprocess.ephemeralPorts = "resample": generated client ports are drawn anew from the chunk's real ephemeral ports;
// service ports stay as generated; the draw is seeded and survives every later decode.
import { describe, expect, it } from 'vitest';
import { decodeChunkFromWorkdir, loadChunkTensors } from '../../src/pipeline/chunk-tensors.js';
import { resampleEphemeralPorts, uniqueTupleRows } from '../../src/pipeline/generate.js';
import { applyPortRange, portRange, portRangeFile, portRangeOfCounts, portSlices, rowKeys, rowUniforms } from '../../src/pipeline/ephemeral-ports.js';
import type { DecodedChunk } from '../../src/encode/tensors.js';
import { preprocessedTiny } from './tiny-workdir.js';

describe('resampleEphemeralPorts', () => {
  it('replaces every one-off client port by a draw from the real ones and keeps service ports', async () => {
    // 60 flows: source ports 30000 + f (one flow each: ephemeral), destination 80 / 443 / 53 (service ports)
    const { wd, layout, encoders } = await preprocessedTiny(60, 'ns-ephemeral-');
    const t = await loadChunkTensors(wd, 0);
    const A = layout.attributeDim;
    // "generated" rows: the first real flow's attributes 50 times (one 5-tuple: 49 would be duplicates)
    const rows = new Float32Array(50 * A);
    for (let r = 0; r < 50; r++) rows.set(t.attributes.subarray(0, A), r * A);
    const before = await decodeChunkFromWorkdir(wd, 0, { attributes: rows.slice(), features: new Float32Array(50 * layout.featureDim), valid: new Uint8Array(50).fill(1), n: 50, T: 1 }, encoders);
    const drawn = await resampleEphemeralPorts(wd, 0, rows, layout, encoders, 7);
    expect(drawn).toBe(50); // the source port of every row; the service destination port is kept
    const after = await decodeChunkFromWorkdir(wd, 0, { attributes: rows, features: new Float32Array(50 * layout.featureDim), valid: new Uint8Array(50).fill(1), n: 50, T: 1 }, encoders);
    const src = new Set<number>();
    for (let i = 0; i < after.table.length; i++) {
      expect(after.table.dstPort[i]).toBe(before.table.dstPort[i]);
      const p = after.table.srcPort[i]!;
      expect(p >= 30000 && p < 30060, `port ${p}`).toBe(true);
      src.add(p);
    }
    expect(src.size).toBeGreaterThan(25); // 50 uniform draws from ~55 ports
    // seeded: the same seed draws the same ports
    const again = new Float32Array(50 * A);
    for (let r = 0; r < 50; r++) again.set(t.attributes.subarray(0, A), r * A);
    await resampleEphemeralPorts(wd, 0, again, layout, encoders, 7);
    expect(Array.from(again)).toEqual(Array.from(rows));
  }, 60_000);
});

describe('postprocess.ephemeralPorts "range"', () => {
  it('draws each generated ephemeral port from the chunk range, the same for the same row, and keeps service ports', async () => {
    // 60 flows: source ports 30000 + f (ephemeral, all in the 1,024-port bin 29696–30719), destination 80 / 443 / 53
    const { wd, layout, encoders } = await preprocessedTiny(60, 'ns-ephemeral-range-');
    const t = await loadChunkTensors(wd, 0);
    const A = layout.attributeDim;
    const F = layout.featureDim;
    const src = portSlices(layout).find((s) => s.column === 'srcPort')!;
    // "generated" rows: the first real flow 50 times, each with its own tiny perturbation of the source-port
    // embedding (it still decodes to the same vocabulary port): the model's one-off client ports collapsed on a hub
    const rows = new Float32Array(50 * A);
    for (let r = 0; r < 50; r++) {
      rows.set(t.attributes.subarray(0, A), r * A);
      rows[r * A + src.offset] = rows[r * A + src.offset]! + (r + 1) * 1e-5;
    }
    const file = (await portRangeFile(wd, [0], layout, encoders.ports!))!;
    expect(file.servicePorts).toEqual([]); // 80, 443, 53 are below 1024; every source port has one flow
    const range = portRange(file);
    const model = await uniqueTupleRows(wd, 0, rows, A, F, encoders);
    expect(model.length).toBe(1); // NetShare's decoding: one 5-tuple
    const kept = await uniqueTupleRows(wd, 0, rows, A, F, encoders, { portRange: range });
    expect(kept.length).toBeGreaterThan(45); // 50 draws from 1,024 ports: a few collisions at most

    const decode = async (): Promise<DecodedChunk> => {
      const d = await decodeChunkFromWorkdir(wd, 0, { attributes: rows, features: new Float32Array(50 * F), valid: new Uint8Array(50).fill(1), n: 50, T: 1 }, encoders);
      expect(applyPortRange(range, d, rows, layout)).toBe(50);
      return d;
    };
    const a = await decode();
    const b = await decode();
    const realSrc = new Set(Array.from({ length: 60 }, (_, f) => 30000 + f));
    let outside = 0;
    for (let i = 0; i < a.table.length; i++) {
      const p = a.table.srcPort[i]!;
      expect(p >= 29696 && p < 30720, `port ${p}`).toBe(true);
      if (!realSrc.has(p)) outside++;
      expect(b.table.srcPort[i]).toBe(p); // a hash of the row: the same row decodes to the same port
      expect([80, 443, 53]).toContain(a.table.dstPort[i]); // service ports as generated
    }
    expect(outside).toBeGreaterThan(40); // drawn from the range, not from the real ports (60 of 1,024)

    // a row carried into a later chunk (its flow tags rewritten, as mergeByFlowTags does) keeps its drawn ports
    const tags = layout.attributes.find((x) => x.name === 'flow_tags')!;
    const carried = rows.slice();
    for (let r = 0; r < 50; r++) {
      carried[r * A + tags.offset] = 1;
      carried[r * A + tags.offset + 1] = 0;
    }
    const c = await decodeChunkFromWorkdir(wd, 0, { attributes: carried, features: new Float32Array(50 * F), valid: new Uint8Array(50).fill(1), n: 50, T: 1 }, encoders);
    applyPortRange(range, c, carried, layout);
    expect(Array.from(c.table.srcPort)).toEqual(Array.from(a.table.srcPort));

  }, 60_000);

  it('draws from the histogram bins of the real ephemeral ports only, never a service port', () => {
    const bins = new Array<number>(64).fill(0);
    bins[39] = 2; // 40000, 40001
    bins[58] = 1; // 60000
    const range = portRange({ servicePorts: [8080], bins });
    expect(range.count).toBe(3);
    expect(range.ephemeral(8080)).toBe(false);
    expect(range.ephemeral(443)).toBe(false);
    expect(range.ephemeral(40000)).toBe(true);
    expect(range.ephemeral(12345)).toBe(true); // a port no training flow used
    // the file from the per-port counts (the most training flows any chunk has on a port)
    expect(portRangeOfCounts(new Map([[8080, 5], [40000, 1], [40001, 2], [60000, 1], [443, 50]]))).toEqual({ servicePorts: [8080], bins });
    // a trace without ephemeral ports has no range: its ports stay as decoded
    expect(portRangeOfCounts(new Map([[80, 10], [53, 4], [8080, 3]]))).toBeUndefined();
    const seen = { low: 0, high: 0 };
    for (let i = 0; i < 3000; i++) {
      const [u, w] = rowUniforms(Float32Array.of(i, i * 0.5, 1), 0, 3, 0);
      const p = range.draw(u, w);
      if (p >= 39936 && p < 40960) seen.low++;
      else if (p >= 59392 && p < 60416) seen.high++;
      else throw new Error(`port ${p} outside the real ephemeral bins`);
    }
    // two thirds of the real ephemeral ports are in the lower bin
    expect(seen.low / 3000).toBeGreaterThan(0.6);
    expect(seen.low / 3000).toBeLessThan(0.73);
  });
});

describe('rowUniforms', () => {
  it('keys on the values and their positions (zeros mixed in by their place), salted, the skip range left out; uniform over one-hot rows', () => {
    const A = 64;
    const row = (hot: number[], extra = 0): Float32Array => {
      const r = new Float32Array(A);
      for (const h of hot) r[h] = 1;
      r[A - 1] = extra;
      return r;
    };
    const u = (r: Float32Array, salt = 0, skip?: { offset: number; dim: number }): number => rowUniforms(r, 0, A, salt, skip)[0];
    expect(u(row([3, 20]))).toBe(u(row([3, 20])));
    expect(u(row([3, 20]))).not.toBe(u(row([3, 21])));
    expect(u(row([3, 20]))).not.toBe(u(row([20, 3 + 1])));
    expect(u(row([3, 20]), 1)).not.toBe(u(row([3, 20]), 2));
    expect(u(row([3, 20]), 0, { offset: 30, dim: 10 })).toBe(u(row([3, 20, 35]), 0, { offset: 30, dim: 10 }));
    expect(u(row([3, 20]), 0, { offset: 30, dim: 10 })).not.toBe(u(row([3, 20, 45]), 0, { offset: 30, dim: 10 }));
    // a row and the same row one position along are different keys
    const shifted = new Float32Array(A + 1);
    shifted.set(row([3, 20], 0.25), 1);
    expect(rowUniforms(shifted, 1, A, 0)[0]).toBe(u(row([3, 20], 0.25)));
    // over rows of two hot values and a float, both uniforms fill ten bins evenly
    const bins = [new Array<number>(10).fill(0), new Array<number>(10).fill(0)];
    let n = 0;
    for (let a = 0; a < 40; a++) {
      for (let b = 40; b < 63; b++) {
        for (const x of [0, 0.5, -1]) {
          const [p, q] = rowUniforms(row([a, b], x), 0, A, 7);
          bins[0]![Math.floor(p * 10)]!++;
          bins[1]![Math.floor(q * 10)]!++;
          n++;
        }
      }
    }
    for (const b of bins) for (const c of b) expect(Math.abs(c / n - 0.1)).toBeLessThan(0.025);
  });

  it('rowKeys (the native addon over many rows and salts) equals rowUniforms row by row, with and without a skip range, for any salts and bits', () => {
    const A = 37;
    const n = 300;
    const rows = new Float32Array(n * A);
    let x = 12345;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < rows.length; i++) {
      const r = next() % 8;
      // zeros, ones, negative zero, odd floats and NaN/∞ bit patterns
      rows[i] = r < 4 ? 0 : r === 4 ? 1 : r === 5 ? -0 : r === 6 ? (next() - 2 ** 31) / 977 : [NaN, Infinity, -Infinity, 1e-42][next() % 4]!;
    }
    const salts = [0, 1, 7, 0x2545f491, 0x68e31da4, 0xffffffff];
    for (const skip of [undefined, { offset: 0, dim: 5 }, { offset: 30, dim: 7 }]) {
      for (const asked of [salts, [0x2545f491], [1, 0]]) {
        const keys = rowKeys(rows, A, skip, asked);
        for (let r = 0; r < n; r++) for (const salt of asked) expect(keys(r, salt)).toEqual(rowUniforms(rows, r * A, A, salt, skip));
        expect(() => keys(0, 3)).toThrow(/salt 3 was not asked for/);
      }
    }
    expect(() => rowKeys(rows, A, undefined, [1, 2, 3, 4, 5, 6, 7, 8, 9])(0, 1)).toThrow(/1 to 8 salts/);
    expect(() => rowKeys(rows.subarray(1), A, undefined, [1])(0, 1)).toThrow(/whole rows of A values/);
  });
});
