// preprocess.maxFlowLen left open (null, the netflow preset) on a trace whose longest flow would not fit
// preprocess.maxTensorMB dense: preprocessing picks the longest length that fits and says so; a configured length
// that does not fit is refused with the length that would.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { loadPreprocessSummary } from '../../src/pipeline/chunk-tensors.js';
import { tinyConfig } from './helpers.js';

/** A NetFlow CSV of 3,000 short flows (1–3 records) and one of 60 records, over ten minutes. */
function fixture(): string {
  const lines = ['srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type'];
  const t0 = 1458298072364000;
  for (let f = 0; f < 3000; f++) {
    for (let r = 0; r < 1 + (f % 3); r++) lines.push(`${167772160 + f},${3232235520 + (f % 7)},${40000 + f},${[80, 443, 53][f % 3]},${f % 3 === 2 ? 'UDP' : 'TCP'},${t0 + f * 190_000 + r * 1000},0.5,${2 + r},${120 + 40 * r},background`);
  }
  for (let r = 0; r < 60; r++) lines.push(`167772999,3232235530,50000,22,TCP,${t0 + r * 9_000_000},1.5,${4 + (r % 5)},${300 + r},background`);
  const dir = mkdtempSync(join(tmpdir(), 'ns-mfl-in-'));
  writeFileSync(join(dir, 'long.csv'), `${lines.join('\n')}\n`);
  return join(dir, 'long.csv');
}

describe('preprocess.maxFlowLen chosen to fit preprocess.maxTensorMB', () => {
  const UGR = fixture();
  const raw = (maxFlowLen: number | null, maxTensorMB: number): Record<string, unknown> => {
    const c = tinyConfig('netflow', { nChunks: 1 }) as { preprocess: Record<string, unknown> };
    return { ...c, preprocess: { ...c.preprocess, maxFlowLen, maxTensorMB, holdoutShare: 0 } };
  };
  it('caps an open length at what fits and warns with the numbers; refuses a configured one naming what fits', async () => {
    const open = mkdtempSync(join(tmpdir(), 'ns-mfl-'));
    await runPipeline({ input: UGR, workdir: open, config: resolveRunConfig({ raw: raw(null, 4096) }), workers: 1, to: 'preprocess' });
    const whole = await loadPreprocessSummary(open);
    expect(whole.maxLen).toBe(60);
    const capped = mkdtempSync(join(tmpdir(), 'ns-mfl-'));
    const warnings: string[] = [];
    await runPipeline({ input: UGR, workdir: capped, config: resolveRunConfig({ raw: raw(null, 1) }), workers: 1, to: 'preprocess', events: { warn: (m) => warnings.push(m) } });
    const s = await loadPreprocessSummary(capped);
    expect(s.maxLen).toBeLessThan(whole.maxLen);
    expect(s.maxLen % 5).toBe(0);
    expect(warnings.join('\n')).toMatch(new RegExp(`preprocess.maxFlowLen chosen as ${s.maxLen} records \\(longer flows truncated\\): the longest flow has ${whole.maxLen}`));
    await expect(runPipeline({ input: UGR, workdir: mkdtempSync(join(tmpdir(), 'ns-mfl-')), config: resolveRunConfig({ raw: raw(whole.maxLen + 50, 1) }), workers: 1, to: 'preprocess' })).rejects.toThrow(
      new RegExp(`${s.maxLen} records fit\\) for preprocess.maxFlowLen`),
    );
  }, 60_000);
});
