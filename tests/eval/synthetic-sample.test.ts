// A synthetic trace of more flows than EvaluateOptions.maxSyntheticFlows is evaluated on a seeded sample of whole
// flows (inputs.synthetic.evaluated), and its copy shares are still measured over every flow and address of it.
import { describe, expect, it } from 'vitest';
import { evaluateTables, sampleWholeFlows, syntheticFlowCap, SYNTHETIC_EVAL_FLOWS } from '../../src/eval/evaluate-tables.js';
import { indexFlows } from '../../src/eval/flows.js';
import { concatTables } from '../../src/io/rows.js';
import type { FlowTable } from '../../src/io/table.js';
import { makeFlows } from './helpers.js';

/** `real` verbatim, then flows of other addresses (10.1.x.x): the copies are a known share of the 5-tuples. */
function withFresh(real: FlowTable, n: number): FlowTable {
  const fresh = makeFlows(n, 9);
  for (let i = 0; i < fresh.length; i++) fresh.srcIp[i] = (0x0a010000 + (fresh.srcIp[i]! & 0xffff)) >>> 0;
  return concatTables('flows', [real, fresh]) as FlowTable;
}

describe('evaluation of a large synthetic trace on a sample of its flows', () => {
  const real = makeFlows(3000, 3);
  const syn = withFresh(real, 20_000);
  const all = indexFlows(syn);
  const opts = { seed: 4, downstream: false } as const;

  it('samples whole flows, the copy shares stay over the whole trace', () => {
    const whole = evaluateTables(real, syn, { ...opts, maxSyntheticFlows: 0 }).result;
    expect(whole.inputs.synthetic.evaluated).toBeUndefined();
    expect(whole.methods[0]!.flows).toBe(all.count);

    const { result } = evaluateTables(real, syn, { ...opts, maxSyntheticFlows: 2000 });
    const ev = result.inputs.synthetic.evaluated!;
    expect(result.inputs.synthetic).toMatchObject({ records: syn.length, flows: all.count });
    expect(ev.flows).toBe(2000);
    expect(result.methods[0]!.flows).toBe(2000);
    expect(result.methods[0]!.records).toBe(ev.records);
    expect(ev.records).toBeLessThan(syn.length);
    // every synthetic 5-tuple and address was looked up, not only the sample's: the same shares as unsampled
    const p = result.methods[0]!.privacy!;
    expect(p.synthetic).toEqual(whole.methods[0]!.privacy!.synthetic);
    expect(p.synthetic.tuples).toBe(all.count);
    expect(p.synthetic.tuplesCopied).toBeCloseTo(indexFlows(real).count / all.count, 12);
    // DCR is drawn from the sample (2,000 query records of it)
    expect(p.dcr.synthetic.sampled).toBe(Math.min(2000, ev.records));
    // the same seed, the same sample
    expect(evaluateTables(real, syn, { ...opts, maxSyntheticFlows: 2000 }).result.inputs.synthetic.evaluated).toEqual(ev);
  });

  it('a sampled flow keeps all its records, in table order', () => {
    const s = sampleWholeFlows(syn, all, 1500, 7);
    const idx = indexFlows(s);
    expect(idx.count).toBe(1500);
    const perFlow = (t: FlowTable, ix: ReturnType<typeof indexFlows>): Map<string, number[]> => {
      const m = new Map<string, number[]>();
      for (let i = 0; i < t.length; i++) {
        const f = ix.flowOf[i]!;
        const key = `${t.srcIp[ix.first[f]!]}:${t.dstIp[ix.first[f]!]}:${t.srcPort[ix.first[f]!]}:${t.dstPort[ix.first[f]!]}:${t.proto[ix.first[f]!]}`;
        (m.get(key) ?? m.set(key, []).get(key)!).push(t.ts[i]!);
      }
      return m;
    };
    const full = perFlow(syn, all);
    for (const [key, times] of perFlow(s, idx)) expect(times).toEqual(full.get(key));
  });

  it('the default cap is max(SYNTHETIC_EVAL_FLOWS, 2 × real flows); 0 keeps every flow', () => {
    expect(syntheticFlowCap(10)).toBe(SYNTHETIC_EVAL_FLOWS);
    expect(syntheticFlowCap(5_000_000)).toBe(10_000_000);
    expect(syntheticFlowCap(10, 0)).toBe(Infinity);
    expect(syntheticFlowCap(10, 5000)).toBe(5000);
    // the fixtures are far below the default: nothing is sampled
    expect(evaluateTables(real, syn, opts).result.inputs.synthetic.evaluated).toBeUndefined();
  });

  it('refuses a cap that is not 0 or an integer ≥ 1000, naming the key', () => {
    for (const bad of [5, -1, 1500.5, Number.NaN]) expect(() => evaluateTables(real, syn, { ...opts, maxSyntheticFlows: bad })).toThrow(/maxSyntheticFlows/);
  });
});
