// The reading flags every command that reads a trace accepts: --schema, --columns, --skip-bad-rows.
import type { Argv } from 'yargs';
import { ConfigError, expected } from '../errors.js';
import { FLOW_SCHEMAS, type FlowSchema, type ReadTraceOptions } from '../io/read-trace.js';

export interface ReadArgs {
  schema?: FlowSchema;
  columns?: string[];
  skipBadRows?: boolean;
}

/** Add --schema, --columns and --skip-bad-rows. */
export function readOptions<T>(y: Argv<T>): Argv<T & ReadArgs> {
  return y
    .option('schema', {
      type: 'string',
      choices: [...FLOW_SCHEMAS],
      describe: 'Flow file schema, instead of sniffing the content: NetFlow CSV (netshare, ugr16 = nfdump-style, cidds, argus = binetflow, custom with --columns), zeek (conn.log TSV or JSON lines), nfcapd (binary, read with nfdump)',
    })
    .option('columns', { type: 'string', array: true, describe: 'CSV column mapping field=column (srcip, dstip, srcport, dstport, proto, ts|te, td, pkt, byt, label, type, flags, tos, ...)' })
    .option('skip-bad-rows', { type: 'boolean', default: false, describe: 'Skip and count malformed rows (bad values, missing or extra fields) instead of failing' }) as unknown as Argv<T & ReadArgs>;
}

/** `--columns srcip=Source,dstip=Dest` or repeated `--columns srcip=Source`. */
export function parseColumns(list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list.flatMap((s) => s.split(','))) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(expected('field=column pairs (e.g. srcip=Source)', '--columns', item), 'columns');
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** The ReadTraceOptions the flags ask for (only keys that were given). */
export function readOptionsFrom(args: ReadArgs): ReadTraceOptions {
  const columns = parseColumns(args.columns);
  return {
    ...(args.schema ? { schema: args.schema } : {}),
    ...(columns ? { columns } : {}),
    ...(args.skipBadRows ? { skipBadRows: true } : {}),
  };
}
