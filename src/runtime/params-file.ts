// The versioned parameter-file format (bytes only; the pipeline layer writes them to disk atomically).
//
// Layout (all integers little-endian):
//   bytes 0..7    magic "NSPARAM\0"
//   bytes 8..11   uint32 format version (currently 1)
//   bytes 12..15  uint32 header length H in bytes
//   bytes 16..16+H  UTF-8 JSON header:
//                 { "tensors": [{ "key": string, "dtype": "float32", "shape": number[], "offset": number, "length": number }],
//                   "meta": { string: string } }
//                 offset is in bytes from the start of the data section, length in elements
//   then zero padding to a multiple of 8, then the data section: raw little-endian float32 blobs,
//   each starting at a multiple of 8 bytes.
// Keys are the parameter/state names of the step graphs (e.g. "gen/attr/fc0/W", "adam/m/gen/attr/fc0/W").
import { InputError } from '../errors.js';

export const PARAMS_MAGIC = 'NSPARAM\0';
export const PARAMS_VERSION = 1;

export interface ParamEntry {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface ParamFile {
  readonly tensors: ReadonlyMap<string, ParamEntry>;
  readonly meta: Readonly<Record<string, string>>;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Encodes tensors (in sorted key order, so equal contents give equal bytes) and metadata. */
export function encodeParams(tensors: ReadonlyMap<string, ParamEntry>, meta: Readonly<Record<string, string>> = {}): Uint8Array {
  const keys = [...tensors.keys()].sort();
  let off = 0;
  const entries = keys.map((key) => {
    const t = tensors.get(key)!;
    const e = { key, dtype: 'float32', shape: [...t.shape], offset: off, length: t.data.length };
    off = align8(off + t.data.length * 4);
    return e;
  });
  const sortedMeta = Object.fromEntries(Object.keys(meta).sort().map((k) => [k, meta[k]!]));
  const header = new TextEncoder().encode(JSON.stringify({ tensors: entries, meta: sortedMeta }));
  const dataStart = align8(16 + header.length);
  const out = new Uint8Array(dataStart + off);
  out.set(new TextEncoder().encode(PARAMS_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, PARAMS_VERSION, true);
  dv.setUint32(12, header.length, true);
  out.set(header, 16);
  entries.forEach((e, i) => {
    const data = tensors.get(keys[i]!)!.data;
    for (let j = 0; j < data.length; j++) dv.setFloat32(dataStart + e.offset + j * 4, data[j]!, true);
  });
  return out;
}

/** Decodes a parameter file; `file` names it in errors. */
export function decodeParams(bytes: Uint8Array, file = '<params>'): ParamFile {
  if (bytes.length < 16) throw new InputError(`Parameter file is truncated (${bytes.length} bytes)`, file, { offset: 0 });
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== PARAMS_MAGIC) throw new InputError('Not a netshare parameter file (bad magic)', file, { offset: 0 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== PARAMS_VERSION) throw new InputError(`Unsupported parameter file version ${version} (this build reads ${PARAMS_VERSION})`, file, { offset: 8 });
  const hlen = dv.getUint32(12, true);
  if (16 + hlen > bytes.length) throw new InputError(`Header length ${hlen} runs past the end of the file`, file, { offset: 12 });
  let header: { tensors?: unknown; meta?: unknown };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen))) as typeof header;
  } catch (err) {
    throw new InputError('Parameter file header is not valid JSON', file, { offset: 16 }, { cause: err });
  }
  const dataStart = align8(16 + hlen);
  const tensors = new Map<string, ParamEntry>();
  if (!Array.isArray(header.tensors)) throw new InputError('Parameter file header has no tensor list', file, { offset: 16 });
  for (const raw of header.tensors as unknown[]) {
    const e = raw as { key?: unknown; dtype?: unknown; shape?: unknown; offset?: unknown; length?: unknown };
    if (typeof e.key !== 'string' || e.dtype !== 'float32' || !Array.isArray(e.shape) || typeof e.offset !== 'number' || typeof e.length !== 'number') {
      throw new InputError(`Malformed tensor entry ${JSON.stringify(raw).slice(0, 80)}`, file, { offset: 16 });
    }
    const shape = e.shape as number[];
    if (shape.reduce((a, b) => a * b, 1) !== e.length) throw new InputError(`Tensor ${e.key}: shape does not match length`, file, { offset: 16 });
    const start = dataStart + e.offset;
    if (start + e.length * 4 > bytes.length) throw new InputError(`Tensor ${e.key} runs past the end of the file`, file, { offset: start });
    const data = new Float32Array(e.length);
    for (let j = 0; j < e.length; j++) data[j] = dv.getFloat32(start + j * 4, true);
    tensors.set(e.key, { shape, data });
  }
  const meta: Record<string, string> = {};
  if (header.meta && typeof header.meta === 'object') for (const [k, v] of Object.entries(header.meta)) meta[k] = String(v);
  return { tensors, meta };
}
