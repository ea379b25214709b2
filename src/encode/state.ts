// Encoder state as JSON (version 1): field encoders, embedding vocabularies (vectors as base64 float32 LE), options.
import { InputError } from '../errors.js';
import type { Normalization } from '../config/schema.js';
import { BitsEncoder, CategoricalEncoder, ContinuousEncoder, EmbeddingEncoder, IpBitsEncoder, IpTopEncoder, type FieldEncoder } from './fields.js';
import type { EncoderSet } from './tensors.js';
import { tokensFromJson, tokensToJson } from '../io/address-tokens.js';

export const ENCODER_STATE_VERSION = 1;

interface VocabJson {
  values: number[];
  dim: number;
  /** base64 of little-endian float32 rows */
  vectors: string;
}

export interface EncoderStateJson {
  version: number;
  dataset: 'pcap' | 'netflow';
  tagChunks: number;
  timestampNormalization: Normalization;
  flowStartBins?: number;
  interarrivalLog?: boolean;
  metadata: Record<string, unknown>[];
  timeseries: Record<string, unknown>[];
  ports?: VocabJson;
  protos?: VocabJson;
  word2vecInfo?: EncoderSet['word2vecInfo'];
  /** Address tokens: integer pseudo-address (as a string key) → the token the input had there. */
  addressTokens?: Record<string, string>;
  skippedFields?: string[];
  constants?: Record<string, string | number>;
}

function f32ToB64(a: Float32Array): string {
  const le = new Float32Array(a); // copy: Buffer view of a fresh buffer (the platform is little-endian)
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString('base64');
}
function b64ToF32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function vocabJson(e: EmbeddingEncoder): VocabJson {
  return { values: e.values, dim: e.vecDim, vectors: f32ToB64(e.vectors) };
}

export function encoderStateToJson(set: EncoderSet): EncoderStateJson {
  const enc = (e: FieldEncoder): Record<string, unknown> =>
    e instanceof EmbeddingEncoder ? { encoding: e.encoding, column: e.column } : (e.toJSON() as Record<string, unknown>);
  return {
    version: ENCODER_STATE_VERSION,
    dataset: set.dataset,
    tagChunks: set.tagChunks,
    timestampNormalization: set.timestampNormalization,
    ...(set.flowStartBins ? { flowStartBins: set.flowStartBins } : {}),
    ...(set.interarrivalLog ? { interarrivalLog: true } : {}),
    metadata: set.metadata.map(enc),
    timeseries: set.timeseries.map(enc),
    ...(set.ports ? { ports: vocabJson(set.ports) } : {}),
    ...(set.protos ? { protos: vocabJson(set.protos) } : {}),
    ...(set.word2vecInfo ? { word2vecInfo: set.word2vecInfo } : {}),
    ...(set.addressTokens?.size ? { addressTokens: tokensToJson(set.addressTokens) } : {}),
    ...(set.skippedFields?.length ? { skippedFields: set.skippedFields } : {}),
    ...(set.constants ? { constants: set.constants } : {}),
  };
}

export function encoderStateFromJson(j: EncoderStateJson, file = 'encoders.json'): EncoderSet {
  if (!j || j.version !== ENCODER_STATE_VERSION) throw new InputError(`${file}: encoder state version ${j?.version} is not ${ENCODER_STATE_VERSION}`, file);
  const vocab = (v: VocabJson | undefined, enc: 'word2vecPort' | 'word2vecProto'): EmbeddingEncoder | undefined =>
    v ? new EmbeddingEncoder(enc === 'word2vecPort' ? 'port' : 'proto', enc, v.values, b64ToF32(v.vectors), v.dim) : undefined;
  const ports = vocab(j.ports, 'word2vecPort');
  const tokens = tokensFromJson(j.addressTokens);
  const protos = vocab(j.protos, 'word2vecProto');
  const field = (s: Record<string, unknown>): FieldEncoder => {
    const column = String(s.column);
    switch (s.encoding) {
      case 'ipBits':
        return new IpBitsEncoder(column, s.bits === 128 ? 128 : 32);
      case 'ipTop':
        return IpTopEncoder.fromJSON(s as Parameters<typeof IpTopEncoder.fromJSON>[0]);
      case 'bits':
        return new BitsEncoder(column, Number(s.nBits));
      case 'categorical':
        return CategoricalEncoder.fromJSON(s as { column: string; choices: (string | number)[] });
      case 'continuous':
        return ContinuousEncoder.fromJSON(s as Parameters<typeof ContinuousEncoder.fromJSON>[0]);
      case 'word2vecPort':
        if (!ports) throw new InputError(`${file}: word2vecPort field without a port vocabulary`, file);
        return new EmbeddingEncoder(column, 'word2vecPort', ports.values, ports.vectors, ports.vecDim);
      case 'word2vecProto':
        if (!protos) throw new InputError(`${file}: word2vecProto field without a protocol vocabulary`, file);
        return new EmbeddingEncoder(column, 'word2vecProto', protos.values, protos.vectors, protos.vecDim);
      default:
        throw new InputError(`${file}: unknown encoding ${String(s.encoding)}`, file);
    }
  };
  return {
    dataset: j.dataset,
    tagChunks: j.tagChunks,
    timestampNormalization: j.timestampNormalization,
    ...(j.flowStartBins ? { flowStartBins: j.flowStartBins } : {}),
    ...(j.interarrivalLog ? { interarrivalLog: true } : {}),
    metadata: j.metadata.map(field),
    timeseries: j.timeseries.map(field),
    ...(ports ? { ports } : {}),
    ...(protos ? { protos } : {}),
    ...(j.word2vecInfo ? { word2vecInfo: j.word2vecInfo } : {}),
    ...(tokens ? { addressTokens: tokens } : {}),
    ...(j.skippedFields ? { skippedFields: j.skippedFields } : {}),
    ...(j.constants ? { constants: j.constants } : {}),
  };
}
