// Format detection for any input trace: pcap / pcapng / gzip'd pcap go to the native reader; NetFlow CSV(.gz), Zeek
// conn.log (TSV or JSON lines) and nfdump's binary nfcapd files to the flow readers; `schema` overrides the sniffing.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { ConfigError, InputError, expected } from '../errors.js';
import type { Table } from './table.js';
import { isGzip, sniffBytes } from './csv-lines.js';
import { readFlowCsv, type FlowCsvSchema, type ReadFlowCsvOptions } from './netflow-csv.js';
import { readZeekConn, zeekKind, type ZeekVariant } from './zeek-conn.js';
import { NFCAPD_MAGIC, readNfcapd } from './nfdump.js';

export type TraceFormat = 'pcap' | 'pcapng' | 'gzip-pcap' | 'gzip-pcapng' | 'flow-csv' | 'packets-csv' | 'zeek-conn' | 'zeek-json' | 'nfcapd';

/** Every flow-record schema a file can be read in (and written back in): the CSV schemas, Zeek conn.log, nfcapd. */
export type FlowSchema = FlowCsvSchema | 'zeek' | 'nfcapd';
export const FLOW_SCHEMAS: readonly FlowSchema[] = ['netshare', 'ugr16', 'cidds', 'argus', 'custom', 'zeek', 'nfcapd'];

/** Formats holding flow records (the netflow preset), as opposed to packets. */
export function isFlowFormat(f: TraceFormat): boolean {
  return f === 'flow-csv' || f === 'zeek-conn' || f === 'zeek-json' || f === 'nfcapd';
}

export interface ReadTraceOptions extends Omit<ReadFlowCsvOptions, 'schema'> {
  /** Force a flow schema (CSV schema, `zeek` or `nfcapd`) instead of sniffing the content. */
  schema?: FlowSchema;
  /** BPF filter for packet traces. */
  filter?: string;
  /** Progress for packet traces: bytes read of total. */
  onPacketProgress?: (bytesRead: number, totalBytes: number, packets: number) => void;
}

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1]);
const PCAPNG_MAGIC = 0x0a0d0d0a;

function magicKind(head: Buffer): 'pcap' | 'pcapng' | null {
  if (head.length < 4) return null;
  const m = head.readUInt32BE(0);
  if (PCAP_MAGICS.has(m)) return 'pcap';
  if (m === PCAPNG_MAGIC) return 'pcapng';
  return null;
}

/** First `n` decompressed bytes of a gzip file (empty when it is not valid gzip). */
async function gunzipHead(file: string, n: number): Promise<Buffer> {
  const stream = createReadStream(file).pipe(createGunzip());
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
  } catch {
    /* a truncated / corrupt gzip is reported by the reader that opens it */
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

function looksLikePacketsCsv(firstLine: string): boolean {
  const cols = firstLine.split(',').map((c) => c.trim().toLowerCase());
  return cols.includes('time') && cols.includes('pkt_len') && cols.includes('srcip');
}

/** Sniff a trace's format from its magic bytes (looking inside gzip) and, for CSV, its header. */
export async function detectTraceFormat(file: string): Promise<TraceFormat> {
  let head = await sniffBytes(file, 4096);
  let gz = false;
  if (isGzip(head)) {
    gz = true;
    head = await gunzipHead(file, 4096);
  }
  const k = magicKind(head);
  if (k) return gz ? (k === 'pcap' ? 'gzip-pcap' : 'gzip-pcapng') : k;
  if (head.length === 0) throw new InputError(`${file}: empty file`, file, { offset: 0 });
  if (!gz && head.length >= 4 && head.readUInt16LE(0) === NFCAPD_MAGIC) return 'nfcapd';
  // text? (CSV header: printable ASCII/UTF-8 up to the first newline)
  const nl = head.indexOf(10);
  const first = head.subarray(0, nl < 0 ? head.length : nl).toString('utf8');
  for (let i = 0; i < Math.min(head.length, 512); i++) {
    const c = head[i]!;
    if (c < 9 || (c > 13 && c < 32)) {
      throw new InputError(
        `${file}: not a pcap, pcapng, gzip'd pcap, nfcapd, CSV or Zeek log file (magic bytes ${head.subarray(0, 4).toString('hex')})`,
        file,
        { offset: 0 },
      );
    }
  }
  const z = zeekKind(first.replace(/^\uFEFF/, ''));
  if (z) return z;
  return looksLikePacketsCsv(first) ? 'packets-csv' : 'flow-csv';
}

/** What a flow file was read as: enough to write records back in the same schema. */
export interface FlowSchemaInfo {
  schema: FlowSchema;
  zeek?: ZeekVariant;
}

/**
 * Read any supported trace into a column table: packets (pcap, pcapng, gzip'd pcap, NetShare packets CSV) as a
 * PacketTable, NetFlow CSVs as a FlowTable.
 */
export async function readTrace(
  file: string,
  opts: ReadTraceOptions = {},
): Promise<{ table: Table; format: TraceFormat; flowSchema?: FlowSchemaInfo; warnings: string[] }> {
  let format = await detectTraceFormat(file);
  if (opts.schema) {
    if (!isFlowFormat(format) && format !== 'packets-csv') {
      throw new ConfigError(expected(`no --schema for this ${format} capture (--schema names a flow file's schema)`, 'schema', opts.schema), 'schema');
    }
    format = opts.schema === 'zeek' ? (format === 'zeek-json' ? 'zeek-json' : 'zeek-conn') : opts.schema === 'nfcapd' ? 'nfcapd' : 'flow-csv';
  }
  const { schema: _s, ...rest } = opts;
  switch (format) {
    case 'pcap':
    case 'pcapng':
    case 'gzip-pcap':
    case 'gzip-pcapng': {
      const { readPacketTable } = await import('../native/reader.js');
      const { table } = await readPacketTable(file, {
        ...(opts.filter ? { filter: opts.filter } : {}),
        ...(opts.onPacketProgress ? { onProgress: opts.onPacketProgress } : {}),
      });
      return { table, format, warnings: [] };
    }
    case 'packets-csv': {
      const { readPacketsCsv } = await import('./packets-csv.js');
      const r = await readPacketsCsv(file, { ...(opts.skipBadRows ? { skipBadRows: true } : {}) });
      return { table: r.table, format, warnings: r.warnings };
    }
    case 'zeek-conn':
    case 'zeek-json': {
      const r = await readZeekConn(file, rest);
      return { table: r.table, format, flowSchema: { schema: 'zeek', zeek: r.variant }, warnings: r.stats.warnings };
    }
    case 'nfcapd': {
      const r = await readNfcapd(file, rest);
      return { table: r.table, format, flowSchema: { schema: 'nfcapd' }, warnings: r.stats.warnings };
    }
    case 'flow-csv': {
      const csvSchema = opts.schema === 'zeek' || opts.schema === 'nfcapd' ? undefined : opts.schema;
      const r = await readFlowCsv(file, { ...rest, ...(csvSchema ? { schema: csvSchema } : {}) });
      return { table: r.table, format, flowSchema: { schema: r.schema }, warnings: r.stats.warnings };
    }
  }
}
