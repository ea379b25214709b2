// The NetFlow output written a candidate at a time (postprocess streamFlowTrace) has the bytes, record and flow counts
// of the whole trace assembled, sorted and written at once; two time passes (parts out of time order) and --out x.nfcapd
// fall back to the whole trace.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocFlowTable, type FlowTable } from '../../src/io/table.js';
import { takeRows } from '../../src/io/rows.js';
import { loadPreprocessSummary } from '../../src/pipeline/chunk-tensors.js';
import type { GenerateStageResult } from '../../src/pipeline/generate.js';
import { postprocessStage } from '../../src/pipeline/postprocess.js';
import { preprocess } from '../../src/pipeline/preprocess.js';
import { writeTableFile } from '../../src/pipeline/workdir.js';
import { parseConfig } from '../../src/config/schema.js';
import { Rng } from '../../src/core/rng.js';
import { tinyConfig } from './helpers.js';

/** `n` flow records over an hour, rows in random order, some times repeated, repeated 5-tuples. */
function flows(n: number, rng: Rng): FlowTable {
  const t = allocFlowTable(n);
  for (let i = 0; i < n; i++) {
    t.ts[i] = 1_460_332_626_000_000 + rng.int(600) * 6_000_000 + (rng.int(3) === 0 ? 0 : rng.int(1_000_000));
    t.srcIp[i] = (0x0a000001 + rng.int(40)) >>> 0;
    t.dstIp[i] = (0xc0a80001 + rng.int(7)) >>> 0;
    t.srcPort[i] = 40000 + rng.int(30);
    t.dstPort[i] = [80, 443, 53][rng.int(3)]!;
    t.proto[i] = t.dstPort[i] === 53 ? 17 : 6;
    t.td[i] = rng.int(9) * 0.37 - (i % 97 === 0 ? 1 : 0); // a few negative durations: sanitised to 0
    t.pkt[i] = 1 + rng.int(5) + 0.4;
    t.byt[i] = 40 * (1 + rng.int(20)) + 0.6;
  }
  return t;
}

describe('postprocess written streaming', () => {
  it('writes the bytes of the whole-trace path (one pass, a duration cut); falls back for two passes', async () => {
    const rng = Rng.forPurpose(2, 'test/postprocess-stream');
    const real = flows(600, rng);
    const wd = mkdtempSync(join(tmpdir(), 'ns-pp-stream-'));
    const raw = tinyConfig('netflow', { nChunks: 3 });
    (raw.preprocess as Record<string, unknown>).holdoutShare = 0;
    const config = parseConfig(raw);
    const input = join(wd, 'input.csv');
    await preprocess({ input, workdir: wd, config, table: real });
    const summary = await loadPreprocessSummary(wd);
    expect(summary.chunks.length).toBe(3);
    // one candidate per chunk and pass: generated-like records spread over the whole trace (cut to each chunk's
    // range by postprocess), in random row order
    const candidates: GenerateStageResult['candidates'] = [];
    for (const pass of [0, 1]) {
      for (const k of summary.chunks) {
        const t = flows(400, rng);
        const path = join(wd, `cand-${k}-p${pass}.nstable`);
        await writeTableFile(path, takeRows(t, Uint32Array.from(rng.sampleIndices(400, 400)).reverse()));
        candidates.push({ chunk: k, pass, iteration: 1, path, records: t.length, flows: 0, duplicateFlows: 0 });
      }
    }
    const run = async (passes: number, stream: boolean, durationUs?: number) => {
      const generated: GenerateStageResult = { chunks: [], passes, candidates: candidates.filter((c) => c.pass < passes), seconds: { attributes: 0, merge: 0, features: 0 } };
      const r = await postprocessStage({ workdir: wd, config, real, input, generated, stream, ...(durationUs !== undefined ? { durationUs } : {}) });
      return { r, bytes: readFileSync(r.output) };
    };
    const records: number[] = [];
    for (const durationUs of [undefined, 1_500_000_000]) {
      const s = await run(1, true, durationUs);
      const w = await run(1, false, durationUs);
      expect(s.r.streamed).toBe(true);
      expect(w.r.streamed).toBe(false);
      expect(s.bytes.equals(w.bytes)).toBe(true);
      expect([s.r.records, s.r.flows, s.r.format]).toEqual([w.r.records, w.r.flows, w.r.format]);
      // records of every chunk, out of row order in the candidates: the sort mattered
      expect(s.r.records).toBeGreaterThan(durationUs === undefined ? 300 : 100);
      expect(s.r.flows).toBeLessThan(s.r.records);
      records.push(s.r.records);
    }
    expect(records[1]).toBeLessThan(records[0]!); // the duration cut dropped records
    const two = await run(2, true);
    expect(two.r.streamed).toBe(false);
    expect(two.r.records).toBeGreaterThan((await run(1, false)).r.records);
  }, 60_000);
});
