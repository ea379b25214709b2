import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/ir.js';
import { parseModelConfig, presetModelConfig } from '../../src/model/config.js';
import { compileTrainIteration, matmulFlops } from '../../src/model/graphs.js';
import { PRESET_LAYOUTS } from '../../src/model/presets.js';
import { SMALL_GRAPH_FLOPS, trainingThreads } from '../../src/model/train.js';

describe('trainingThreads', () => {
  it('keeps the allowance for a large graph and uses one thread for a small one', () => {
    expect(trainingThreads(2, SMALL_GRAPH_FLOPS * 10)).toBe(2);
    expect(trainingThreads(undefined, SMALL_GRAPH_FLOPS * 10)).toBeUndefined();
    expect(trainingThreads(2, SMALL_GRAPH_FLOPS / 2)).toBe(1);
    expect(trainingThreads(undefined, SMALL_GRAPH_FLOPS / 2)).toBe(1);
  });

  it('puts the demo-size networks under the threshold and the paper-size presets over it', () => {
    const flops = (cfg: ReturnType<typeof parseModelConfig>, layout: (typeof PRESET_LAYOUTS)['pcap']): number => {
      const g = new Graph();
      compileTrainIteration(cfg, layout, 0, g);
      return matmulFlops(g);
    };
    const demo = parseModelConfig({ sampleLen: 10, batchSize: 64, attrGenUnits: 64, attrGenLayers: 2, lstmUnits: 32, discUnits: 64, discLayers: 2, attrDiscUnits: 64, attrDiscLayers: 2, dRounds: 2 });
    expect(flops(demo, { ...PRESET_LAYOUTS.pcap, maxLen: 50 })).toBeLessThan(SMALL_GRAPH_FLOPS);
    expect(flops(presetModelConfig('netflow'), PRESET_LAYOUTS.netflow)).toBeGreaterThan(SMALL_GRAPH_FLOPS);
  });
});
