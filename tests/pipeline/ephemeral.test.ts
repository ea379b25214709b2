// postprocess.ephemeralPorts = "resample": generated client ports are drawn anew from the chunk's real ephemeral ports;
// service ports stay as generated; the draw is seeded and survives every later decode.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeChunkFromWorkdir, loadChunkTensors, loadEncoders, loadLayout } from '../../src/pipeline/chunk-tensors.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { resampleEphemeralPorts } from '../../src/pipeline/generate.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { writePcap } from '../../src/native/writer.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

describe('resampleEphemeralPorts', () => {
  it('replaces every one-off client port by a draw from the real ones and keeps service ports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-ephemeral-'));
    const input = join(dir, 'in.pcap');
    // 60 flows: source ports 30000 + f (one flow each: ephemeral), destination 80 / 443 / 53 (service ports)
    await writePcap(input, syntheticPackets(60, 2));
    const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1 }) }, { holdoutShare: 0 });
    const wd = join(dir, 'wd');
    await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', executor: new InProcessExecutor(1), workers: 1 });
    const layout = await loadLayout(wd);
    const encoders = await loadEncoders(wd);
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
