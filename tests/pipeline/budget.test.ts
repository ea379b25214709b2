// `--budget`: parsing, the iteration plan's arithmetic, and the wiring in runPipeline (the plan is probed once, stored
// in the workdir, reused by a rerun, and becomes the config's model.iterations / checkpointEvery).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { budgetPlan, jobThreads, parseBudget, planIterations, type BudgetPlan } from '../../src/pipeline/budget.js';
import { InProcessExecutor } from '../../src/pipeline/executor.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { resolveRunConfig, runPipeline } from '../../src/pipeline/run.js';
import { configPath, trainResultPath } from '../../src/pipeline/workdir.js';
import { writePcap } from '../../src/native/writer.js';
import { syntheticPackets, tinyConfig } from './helpers.js';

describe('parseBudget', () => {
  it('reads hours, minutes, seconds and plain minutes', () => {
    expect(parseBudget('30m')).toBe(1800);
    expect(parseBudget('2h')).toBe(7200);
    expect(parseBudget('1h30m')).toBe(5400);
    expect(parseBudget('90s')).toBe(90);
    expect(parseBudget('45')).toBe(2700);
    expect(parseBudget(0.5)).toBe(30);
  });
  it('refuses anything else with a ConfigError naming the flag', () => {
    for (const bad of ['abc', '', '10s', '30 min', '-5m', '1x']) {
      expect(() => parseBudget(bad), bad).toThrow(ConfigError);
      expect(() => parseBudget(bad)).toThrow(/--budget/);
    }
  });
});

describe('planIterations', () => {
  const base = { budgetS: 1000, spentS: 100, chunk0ItPerSec: 100, fineTuneItPerSec: 50, chunks: 3, workers: 2, fineTuneFromChunk0: true, fineTuneFraction: 0.25, checkpoints: 4 };
  it('fills 70% of what is left with chunk 0 then one wave of fine-tuning', () => {
    const p = planIterations(base);
    // 630 s = I/100 + 0.25·I/50
    expect(p.trainBudgetS).toBeCloseTo(630, 9);
    expect(p.iterations).toBe(42000);
    expect(p.checkpointEvery).toBe(10500);
    expect(p.estimate.chunk0S + p.estimate.fineTuneS).toBeCloseTo(630, 6);
  });
  it('counts fine-tuning waves, from-scratch chunks, and keeps at least one iteration per checkpoint (at most 6)', () => {
    expect(planIterations({ ...base, chunks: 6 }).iterations).toBe(Math.floor(630 / (1 / 100 + (3 * 0.25) / 50)));
    expect(planIterations({ ...base, fineTuneFromChunk0: false }).iterations).toBe(Math.floor((630 * 50) / 2));
    const tiny = planIterations({ ...base, spentS: 1000, chunk0ItPerSec: 1, fineTuneItPerSec: 1, checkpoints: 20 });
    expect(tiny.iterations).toBe(6);
    expect(tiny.checkpointEvery).toBe(1);
    expect(jobThreads(2, 2)).toEqual({ lone: 2, parallel: 1 });
    expect(jobThreads(1, 4)).toEqual({ lone: 4, parallel: 4 });
  });
});

describe('runPipeline with a budget', () => {
  it('probes once, stores the plan, and a rerun trains with the stored plan', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-budget-'));
    const input = join(dir, 'in.pcap');
    await writePcap(input, syntheticPackets(40, 2));
    const cfg = resolveRunConfig({ raw: tinyConfig('pcap', { nChunks: 1, iterations: 4, checkpointEvery: 2 }) });
    const wd = join(dir, 'wd');
    const executor = new InProcessExecutor(1);
    await runPipeline({ input, workdir: wd, config: cfg, to: 'preprocess', executor, workers: 1 });
    const pre = (await loadManifest(wd)).stages.preprocess!;
    const first = await budgetPlan(wd, cfg, { budgetS: 60, preprocessFp: pre.fingerprint, spentS: pre.seconds ?? 0, workers: 1 });
    expect(first.reused).toBe(false);
    expect(first.plan.chunk0ItPerSec).toBeGreaterThan(0);
    expect(first.plan.iterations).toBeGreaterThan(10);
    // make the stored plan tiny (same key) so that the run below trains in a moment
    const file = join(wd, 'budget-plan.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { key: string; plan: BudgetPlan };
    writeFileSync(file, JSON.stringify({ key: stored.key, plan: { ...stored.plan, iterations: 3, checkpointEvery: 3 } }));
    const plans: boolean[] = [];
    const r = await runPipeline({ input, workdir: wd, config: cfg, to: 'train', executor, workers: 1, budgetS: 60, events: { plan: (_p, reused) => plans.push(reused) } });
    expect(plans).toEqual([true]);
    expect(r.budget?.plan.iterations).toBe(3);
    const saved = JSON.parse(readFileSync(configPath(wd), 'utf8')) as { model: { iterations: number; checkpointEvery: number } };
    expect(saved.model).toMatchObject({ iterations: 3, checkpointEvery: 3 });
    const result = JSON.parse(readFileSync(trainResultPath(wd, 0), 'utf8')) as { iterations: number; checkpoints: { iteration: number; seconds?: number; cpuSeconds?: number }[] };
    expect(result.iterations).toBe(3);
    // every checkpoint this job saved carries the wall and CPU seconds from the job's start (bench/fidelity.ts's curve)
    expect(result.checkpoints.length).toBeGreaterThan(0);
    for (const c of result.checkpoints) {
      expect(c.seconds).toBeGreaterThan(0);
      expect(c.cpuSeconds).toBeGreaterThan(0);
    }
    // another budget is another plan; without --budget the config's own iterations stand
    await expect(runPipeline({ input, workdir: wd, config: cfg, from: 'train', to: 'train', executor, workers: 1, budgetS: 60 })).rejects.toThrow(/--budget sizes training/);
  }, 60_000);
});
