// Config validation: presets parse, bad values and unknown keys name the key path, cross-key invariants hold.
import { describe, expect, it } from 'vitest';
import { checkDataInvariants, checkInvariants, parseConfig, presetConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('presets', () => {
  it('pcap-netshare and netflow-netshare carry the camera-ready defaults', () => {
    const p = presetConfig('pcap-netshare');
    expect(p.global.dataset).toBe('pcap');
    expect(p.preprocess.nChunks).toBe(10);
    expect(p.preprocess.word2vec).toMatchObject({ dim: 10, window: 5, negative: 5, epochs: 5 });
    expect(p.preprocess.timeseries.map((f) => f.column)).toEqual(['pkt_len', 'tos', 'id', 'flag', 'off', 'ttl']);
    expect(p.model.iterations).toBe(80000);
    expect(p.model.dRounds).toBe(5);
    expect(p.preprocess.timestamp.flowStartBins).toBe(0);
    const n = presetConfig('netflow-netshare');
    // NetShare's fields, then the optional ones (label; what Zeek conn.log and Argus carry), modelled only when present
    expect(n.preprocess.timeseries.map((f) => f.column)).toEqual(['td', 'pkt', 'byt', 'type', 'label', 'rpkt', 'rbyt', 'sbyt', 'state', 'service', 'dir']);
    expect(n.preprocess.timeseries.slice(3).every((f) => f.optional === true)).toBe(true);
    expect(n.preprocess.timeseries[0]).toMatchObject({ log1p: true, normalization: 'zeroOne' });
    expect(n.model.iterations).toBe(200000);
    expect(n.train.fineTuneFraction).toBe(0.25);
    // issue 12: a tenth of the flows held out for evaluation; checkpoints chosen by NetShare's own metrics
    expect(p.preprocess.holdoutShare).toBe(0.1);
    expect(n.postprocess.selectionMetrics).toBe('netshare');
  });
  it('pcap / netflow: the faithful presets plus per-flow TTL/ToS, TCP flags per packet (pcap) and binned flow starts (both; bench/experiments.md)', () => {
    const p = presetConfig('pcap');
    const f = presetConfig('pcap-netshare');
    expect(p.preprocess.metadata.map((x) => x.column)).toEqual(['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'ttl', 'tos']);
    expect(p.preprocess.timeseries.map((x) => x.column)).toEqual(['pkt_len', 'id', 'flag', 'off', 'tcp_flags']);
    expect(p.preprocess.timestamp.flowStartBins).toBe(16);
    expect(p.model).toEqual(f.model);
    expect(p.preprocess.word2vec).toEqual(f.preprocess.word2vec);
    expect(p.preprocess.timestamp.interarrivalLog).toBe(true);
    expect(p.preprocess.metadata.slice(0, 2)).toEqual([
      { column: 'srcip', encoding: 'ipTop', top: 255, minCount: 2 },
      { column: 'dstip', encoding: 'ipTop', top: 255, minCount: 2 },
    ]);
    expect(f.preprocess.metadata.slice(0, 2).map((x) => x.encoding)).toEqual(['ipBits', 'ipBits']);
    // the protocol as a categorical, packet lengths with a head over the 16 most frequent lengths
    expect(p.preprocess.metadata[4]).toEqual({ column: 'proto', encoding: 'categorical' });
    expect(p.preprocess.timeseries[0]).toMatchObject({ column: 'pkt_len', encoding: 'continuous', topValues: 16 });
    expect(f.preprocess.timeseries[0]).toMatchObject({ column: 'pkt_len', topValues: 0 });
    expect(f.preprocess.timestamp.interarrivalLog).toBe(false);
    for (const c of [p, presetConfig('netflow')]) {
      expect(c.postprocess).toMatchObject({ ephemeralPorts: 'range', flowStartBin: 'sample', attributeCategoricals: 'sample', trainingTuples: 'reject' });
    }
    expect(f.postprocess).toMatchObject({ ephemeralPorts: 'model', flowStartBin: 'argmax', attributeCategoricals: 'argmax', trainingTuples: 'keep' });
    // a flow's end drawn from its gen flags' softmax: NetFlow only (measured there), NetShare's arg-max elsewhere
    expect([p, f, presetConfig('netflow'), presetConfig('netflow-netshare')].map((c) => c.postprocess.stopFlag)).toEqual(['argmax', 'argmax', 'sample', 'argmax']);
    // and calibrated to the chunks' training lengths (it acts on the drawn flag only)
    expect([p, f, presetConfig('netflow'), presetConfig('netflow-netshare')].map((c) => c.postprocess.flowLengths)).toEqual(['model', 'model', 'calibrated', 'model']);
    const n = presetConfig('netflow');
    const nf = presetConfig('netflow-netshare');
    expect(n.preprocess.timestamp).toMatchObject({ flowStartBins: 16, interarrivalLog: true });
    // netflow = netflow-netshare with ipTop addresses, the protocol as a categorical (drawn like the other categorical
    // heads; word2vec's nearest neighbour dropped minority protocols) and TCP flags / ToS as optional per-record categoricals
    expect(n.preprocess.metadata).toEqual([...p.preprocess.metadata.slice(0, 2), ...nf.preprocess.metadata.slice(2, 4), { column: 'proto', encoding: 'categorical' }]);
    expect(nf.preprocess.metadata[4]).toEqual({ column: 'proto', encoding: 'word2vecProto' });
    // td and pkt with a head for their point mass at the minimum (td 0, one packet)
    expect(n.preprocess.timeseries).toEqual([
      ...nf.preprocess.timeseries.map((x) => (x.column === 'td' || x.column === 'pkt' ? { ...x, pointMass: true } : x)),
      { column: 'flags', encoding: 'categorical', optional: true },
      { column: 'tos', encoding: 'categorical', optional: true },
    ]);
    expect({ ...n.preprocess, timestamp: null, metadata: null, timeseries: null }).toEqual({ ...nf.preprocess, timestamp: null, metadata: null, timeseries: null });
    expect(configError(() => parseConfig({ preset: 'pcap-paper' })).message).toMatch(/"pcap" \| "netflow" \| "pcap-netshare" \| "netflow-netshare"/);
  });
  it('holdoutShare is a share in [0, 0.5]; selectionMetrics is "netshare", "all" or a non-empty list', () => {
    expect(parseConfig({ preset: 'pcap', preprocess: { holdoutShare: 0 } }).preprocess.holdoutShare).toBe(0);
    expect(configError(() => parseConfig({ preset: 'pcap', preprocess: { holdoutShare: 0.6 } })).key).toBe('preprocess.holdoutShare');
    expect(configError(() => parseConfig({ preset: 'pcap', preprocess: { holdoutShare: -0.1 } })).key).toBe('preprocess.holdoutShare');
    expect(parseConfig({ preset: 'pcap', postprocess: { selectionMetrics: ['srcip'] } }).postprocess.selectionMetrics).toEqual(['srcip']);
    const e = configError(() => parseConfig({ preset: 'pcap', postprocess: { selectionMetrics: 'best' } }));
    expect(e.key).toBe('postprocess.selectionMetrics');
    expect(e.message).toContain('"netshare", "all" or a non-empty list of metric names');
    expect(configError(() => parseConfig({ preset: 'pcap', postprocess: { selectionMetric: 'all' } })).key).toBe('postprocess.selectionMetric');
  });
  it('a file extends a preset and overrides single keys', () => {
    const c = parseConfig({ preset: 'netflow', preprocess: { nChunks: 3 }, model: { iterations: 100, checkpointEvery: 50 } });
    expect(c.preprocess.nChunks).toBe(3);
    expect(c.preprocess.metadata).toHaveLength(5);
    expect(c.model.iterations).toBe(100);
  });
});

describe('errors name the key path, the bad value and what was expected', () => {
  it('wrong type', () => {
    const e = configError(() => parseConfig({ preset: 'pcap', preprocess: { nChunks: 'ten' } }));
    expect(e.key).toBe('preprocess.nChunks');
    expect(e.message).toContain('preprocess.nChunks');
    expect(e.message).toContain('"ten"');
    expect(e.message).toMatch(/Expected .*number/);
  });
  it('unknown key', () => {
    const e = configError(() => parseConfig({ preset: 'pcap', preprocess: { n_chunks: 2 } }));
    expect(e.key).toBe('preprocess.n_chunks');
    expect(e.message).toContain('unknown key preprocess.n_chunks');
  });
  it('bad enum inside an array element', () => {
    const e = configError(() =>
      parseConfig({ preset: 'pcap', preprocess: { timeseries: [{ column: 'ttl', encoding: 'continuous', normalization: 'zero_one' }] } }),
    );
    expect(e.key).toBe('preprocess.timeseries.0.normalization');
    expect(e.message).toContain('"zero_one"');
  });
  it('model keys are validated with the model prefix', () => {
    const e = configError(() => parseConfig({ preset: 'pcap', model: { batchSize: -1 } }));
    expect(e.key).toBe('model.batchSize');
  });
  it('bad preset name', () => {
    expect(configError(() => parseConfig({ preset: 'caida' })).key).toBe('preset');
  });
});

describe('cross-key invariants', () => {
  it('checkpoint period must not exceed iterations (NetShare issue #18)', () => {
    const e = configError(() => parseConfig({ preset: 'netflow', model: { iterations: 500, checkpointEvery: 20000 } }));
    expect(e.key).toBe('model.checkpointEvery');
  });
  it('sampleLen must not exceed maxFlowLen', () => {
    const e = configError(() => parseConfig({ preset: 'pcap', preprocess: { maxFlowLen: 5 }, model: { sampleLen: 10 } }));
    expect(e.key).toBe('model.sampleLen');
  });
  it('global.dp: true alone is refused (ε or σ is needed), before any other DP check', () => {
    for (const raw of [{ preset: 'netflow', global: { dp: true } }, { preset: 'pcap', global: { dp: true } }]) {
      const e = configError(() => parseConfig(raw));
      expect(e.key).toBe('global.dp.epsilon');
      expect(e.message).toMatch(/exactly one of global.dp.epsilon or global.dp.noiseMultiplier/);
    }
  });
  it('DP mode needs data-independent ranges (and no addresses chosen from the data)', () => {
    const cfg = presetConfig('netflow');
    cfg.global.dp = { epsilon: 4, delta: 1e-5, clip: 1, countNoise: 20 };
    expect(configError(() => checkInvariants(cfg)).key).toBe('preprocess.metadata.0.encoding'); // the preset's ipTop
    cfg.preprocess.metadata = cfg.preprocess.metadata.map((f) => (f.encoding === 'ipTop' ? { column: f.column, encoding: 'ipBits' as const } : f));
    expect(configError(() => checkInvariants(cfg)).key).toBe('preprocess.metadata.4.choices'); // the preset's categorical protocol
    cfg.preprocess.metadata[4] = { column: 'proto', encoding: 'categorical', choices: [1, 6, 17] };
    const e = configError(() => checkInvariants(cfg));
    expect(e.key).toMatch(/^preprocess\.timeseries\.0\.(min|max)$/);
  });
  it('the 5-tuple must be modelled', () => {
    const e = configError(() => parseConfig({ preset: 'netflow', preprocess: { metadata: [{ column: 'srcip', encoding: 'ipBits' }] } }));
    expect(e.key).toBe('preprocess.metadata');
  });
  it('chunk count vs data span', () => {
    const c = presetConfig('netflow');
    expect(configError(() => checkDataInvariants(c, { records: 5, firstUs: 0, lastUs: 10 })).key).toBe('preprocess.nChunks');
    expect(configError(() => checkDataInvariants(c, { records: 50, firstUs: 7, lastUs: 7 })).message).toContain('zero span');
    expect(() => checkDataInvariants(c, { records: 50, firstUs: 0, lastUs: 10 })).not.toThrow();
  });
});
