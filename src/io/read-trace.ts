// Format detection for any input trace: pcap / pcapng / gzip'd pcap go to the native reader, CSV(.gz) to the CSV readers.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import type { Table } from './table.js';
import { isGzip, sniffBytes } from './csv-lines.js';
import { readFlowCsv, type ReadFlowCsvOptions } from './netflow-csv.js';

export type TraceFormat = 'pcap' | 'pcapng' | 'gzip-pcap' | 'gzip-pcapng' | 'flow-csv' | 'packets-csv';

export interface ReadTraceOptions extends ReadFlowCsvOptions {
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
  // text? (CSV header: printable ASCII/UTF-8 up to the first newline)
  const nl = head.indexOf(10);
  const first = head.subarray(0, nl < 0 ? head.length : nl).toString('utf8');
  for (let i = 0; i < Math.min(head.length, 512); i++) {
    const c = head[i]!;
    if (c < 9 || (c > 13 && c < 32)) {
      throw new InputError(
        `${file}: not a pcap, pcapng, gzip'd pcap or CSV file (magic bytes ${head.subarray(0, 4).toString('hex')})`,
        file,
        { offset: 0 },
      );
    }
  }
  return looksLikePacketsCsv(first) ? 'packets-csv' : 'flow-csv';
}

/**
 * Read any supported trace into a column table: packets (pcap, pcapng, gzip'd pcap, NetShare packets CSV) as a
 * PacketTable, NetFlow CSVs as a FlowTable.
 */
export async function readTrace(file: string, opts: ReadTraceOptions = {}): Promise<{ table: Table; format: TraceFormat }> {
  const format = await detectTraceFormat(file);
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
      return { table, format };
    }
    case 'packets-csv': {
      const { readPacketsCsv } = await import('./packets-csv.js');
      // contract: readPacketsCsv(file) -> PacketTable (accept a { table } wrapper too)
      const r = (await readPacketsCsv(file)) as unknown as Table | { table: Table };
      return { table: 'kind' in r ? r : r.table, format };
    }
    case 'flow-csv': {
      const { table } = await readFlowCsv(file, opts);
      return { table, format };
    }
  }
}
