// Reference field layouts of the built-in presets (camera-ready attribute order), for models/ and benchmarks.
import type { FieldSlice, ModelLayout, Activation } from './layout.js';

function build(fields: [string, number, Activation][]): FieldSlice[] {
  let at = 0;
  return fields.map(([name, dim, activation]) => {
    const f = { name, offset: at, dim, activation };
    at += dim;
    return f;
  });
}

/**
 * Camera-ready attributes (spec §2.5): srcip and dstip as 32 two-way one-hot bits each, srcport/dstport/proto
 * word2vec (10, tanh), flow_start (sigmoid), startFromThisChunk (2-way) and presence in each of 10 chunks (2-way).
 * 181 dims.
 */
function attributes(nChunks = 10): FieldSlice[] {
  const f: [string, number, Activation][] = [];
  for (const ip of ['srcip', 'dstip']) for (let b = 0; b < 32; b++) f.push([`${ip}/bit${b}`, 2, 'softmax']);
  f.push(['srcport', 10, 'tanh'], ['dstport', 10, 'tanh'], ['proto', 10, 'tanh'], ['flow_start', 1, 'sigmoid'], ['start_from_this_chunk', 2, 'softmax']);
  for (let c = 0; c < nChunks; c++) f.push([`chunk${c}`, 2, 'softmax']);
  return build(f);
}

/**
 * The real T_max depends on the data (maxFlowLen null = longest flow of the chunk). These reference
 * layouts fix it so the preset graphs and the benchmark have a definite size:
 * pcap 500 records (50 LSTM steps of sampleLen 10), netflow 50 records (5 steps).
 * UGR16's `type` has 9 labels (background, blacklist, anomaly-spam, -sshscan, -udpscan, dos, nerisbotnet, scan11, scan44).
 */
export const PRESET_LAYOUTS: Record<'pcap' | 'netflow', ModelLayout> = {
  pcap: {
    attributes: attributes(),
    features: build([
      ['interarrival', 1, 'sigmoid'], ['pkt_len', 1, 'sigmoid'], ['tos', 1, 'sigmoid'], ['id', 1, 'sigmoid'],
      ['flag', 3, 'softmax'], ['off', 1, 'sigmoid'], ['ttl', 1, 'sigmoid'],
    ]),
    maxLen: 500,
  },
  netflow: {
    attributes: attributes(),
    features: build([['interarrival', 1, 'sigmoid'], ['td', 1, 'sigmoid'], ['pkt', 1, 'sigmoid'], ['byt', 1, 'sigmoid'], ['type', 9, 'softmax']]),
    maxLen: 50,
  },
};
