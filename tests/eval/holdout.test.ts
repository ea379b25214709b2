// evaluateTables with held-out real records: the classification tests on them, privacy's reference is them, and every
// metric is also measured against them (the generalisation column), floored by the training records' own distance.
import { describe, expect, it } from 'vitest';
import { evaluateTables, ratio, resolvedFloor } from '../../src/eval/evaluate-tables.js';
import { compareProfiles, profile } from '../../src/eval/fidelity.js';
import { fmt, renderReport } from '../../src/eval/report.js';
import { makeFlows } from './helpers.js';

describe('evaluateTables with a holdout', () => {
  const train = makeFlows(3000, 1);
  const holdout = makeFlows(600, 3);
  const syn = makeFlows(3000, 2);
  const { result } = evaluateTables(train, syn, { seed: 1, holdout, baselines: ['marginals'] });

  it('tests the classifiers on the held-out records and uses them as the privacy reference', () => {
    const s = result.methods[0]!;
    const c = s.downstream!.classification;
    expect(c.status).toBe('ok');
    if (c.status === 'ok') {
      expect(c.testSource).toBe('holdout');
      expect(c.testRows).toBe(Math.min(540, 1000) + 60);
    }
    expect(s.privacy!.holdoutSource).toBe('holdout-file');
    expect(s.privacy!.holdout.trainRecords).toBe(train.length);
    expect(result.inputs.holdout!.records).toBe(holdout.length);
  });

  it('measures every method against the held-out records, as ratios to the training records\' distance from them', () => {
    const ph = profile(holdout, { seed: 1 });
    expect(result.generalisation!.floor).toEqual(compareProfiles(ph, profile(train, { seed: 1 })));
    for (const [m, table] of [[result.methods[0]!, syn]] as const) {
      const g = compareProfiles(ph, profile(table, { seed: 1 }));
      expect(m.generalisation!.metrics).toEqual(g);
      for (const k of Object.keys(g)) {
        const f = result.generalisation!.floor[k];
        expect(m.generalisation!.ratios[k]).toBe(ratio(g[k], resolvedFloor(k, f, ph.flows)));
      }
    }
    expect(result.methods[1]!.generalisation!.metrics.srcport).toBeGreaterThanOrEqual(0);
  });

  it('without a holdout: no generalisation column, classification on a random half of the real 5-tuples', () => {
    const r = evaluateTables(train, syn, { seed: 1 }).result;
    expect(r.generalisation).toBeUndefined();
    expect(r.methods[0]!.generalisation).toBeUndefined();
    const c = r.methods[0]!.downstream!.classification;
    expect(c.status === 'ok' && c.testSource).toBe('flow-split');
  });

  it('the report shows the generalisation column (floor and every method against the held-out records) only with a holdout', () => {
    const charts = { cdfs: [], rankFreq: [], bars: [] };
    const html = renderReport(result, charts, '');
    const at = html.indexOf('Generalisation: against held-out real records');
    expect(at).toBeGreaterThan(0);
    const section = html.slice(at, html.indexOf('</table>', at));
    expect(section).toContain('<th colspan="2">synthetic</th>');
    expect(section).toContain('<th colspan="2">baseline:marginals</th>');
    expect(section).toContain(`<td>${fmt(result.generalisation!.floor.srcport)}</td>`);
    expect(section).toContain(`${fmt(result.methods[0]!.generalisation!.ratios.srcport)}×`);
    const plain = evaluateTables(train, syn, { seed: 1, downstream: false, privacy: false }).result;
    expect(renderReport(plain, charts, '')).not.toContain('Generalisation: against held-out');
  });
});
