// Writing flow records in any schema a flow file can be read in (CSV schemas, Zeek conn.log), and finding a file's schema.
import { writeFlowCsv } from './netflow-csv.js';
import { writeNfcapd } from './nfdump.js';
import { readTrace, type FlowSchemaInfo, type ReadTraceOptions } from './read-trace.js';
import type { FlowTable } from './table.js';
import { writeZeekConn } from './zeek-conn.js';

/** Whether a path names an nfcapd file (`x.nfcapd`, or nfcapd's own `nfcapd.YYYYMMDDhhmm`). */
export function isNfcapdPath(path: string): boolean {
  return /\.nfcapd$|(^|\/)nfcapd\.\d{12}$/.test(path.toLowerCase());
}

/**
 * Write `table` as `info.schema` (the input's schema when writing synthetic records back): NetFlow CSV in a CSV
 * schema, a Zeek conn.log (TSV or JSON lines as the input was), or an nfcapd file (through nfdump's collector).
 */
export async function writeFlowFile(file: string, table: FlowTable, info: FlowSchemaInfo, columns?: Record<string, string>): Promise<{ rows: number; schema: string }> {
  if (info.schema === 'nfcapd') return { ...(await writeNfcapd(file, table)), schema: 'nfcapd' };
  if (info.schema === 'zeek') {
    const r = await writeZeekConn(file, table, info.zeek ?? {});
    return { rows: r.rows, schema: info.zeek?.json ? 'zeek (JSON lines)' : 'zeek' };
  }
  const r = await writeFlowCsv(file, table, { schema: info.schema, ...(columns ? { columns } : {}) });
  return { rows: r.rows, schema: info.schema };
}

/** The schema `file` is read in with `read` (its first record only); undefined when it is not a flow file. */
export async function flowSchemaOf(file: string, read: ReadTraceOptions = {}): Promise<FlowSchemaInfo | undefined> {
  const r = await readTrace(file, { ...read, limit: 1, skipBadRows: true });
  return r.flowSchema;
}
