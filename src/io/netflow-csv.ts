// NetFlow CSV reader/writer: NetShare's schema, UGR16 nfdump-style, CIDDS, Argus/CTU binetflow, or an explicit column mapping; .csv.gz streamed.
import { ConfigError, InputError, InternalError, expected } from '../errors.js';
import { writeTextAtomic } from './atomic.js';
import type { FlowTable } from './table.js';
import { ipv4ToString } from './table.js';
import {
  formatDateTimeUs,
  forEachLine,
  parseDateTimeUs,
  parseIpv4Bytes,
  parseNumber,
  parseUint,
  splitFields,
  trimRange,
} from './csv-lines.js';
import { protoName, protoNumber } from './protocols.js';
import { isAddressToken } from './address-tokens.js';
import { BadRow, FlowTableBuilder, type FlowReadOptions, type FlowReadStats, type OptionalFlowColumn } from './flow-table-builder.js';

export type FlowCsvSchema = 'netshare' | 'ugr16' | 'cidds' | 'argus' | 'custom';

/**
 * Canonical flow fields a column can be mapped to. `ts` is the flow start and `te` the flow end (either may be
 * numeric or a date-time string; with only `te`, ts = te − td). `label`/`type` are free-text classes; `flags`
 * is an nfdump flag string (`.AP.SF`) or a number; `tos` an integer.
 */
export const FLOW_FIELDS = [
  'srcip', 'dstip', 'srcport', 'dstport', 'proto', 'ts', 'te', 'td', 'pkt', 'byt', 'label', 'type', 'flags', 'tos',
  'rpkt', 'rbyt', 'sbyt', 'dtos', 'state', 'service', 'dir',
] as const;
export type FlowField = (typeof FLOW_FIELDS)[number];

export interface ReadFlowCsvOptions extends FlowReadOptions {
  /** Force a schema; detected from the header when absent. */
  schema?: FlowCsvSchema;
  /** Canonical field -> header name, applied over the (detected or named) schema. Implies `custom` if nothing is detected. */
  columns?: Record<string, string>;
  /** Unit of numeric `ts`/`te` columns (NetShare: µs). Date-time strings are always understood. */
  timeUnit?: 's' | 'ms' | 'us';
}

export type ReadFlowCsvStats = FlowReadStats;

/** Header names (lower-cased, trimmed) each schema maps to canonical fields. */
const SCHEMAS: Record<Exclude<FlowCsvSchema, 'custom'>, { fields: Partial<Record<FlowField, string[]>>; required: FlowField[]; positional?: string[] }> = {
  netshare: {
    fields: {
      srcip: ['srcip'],
      dstip: ['dstip'],
      srcport: ['srcport'],
      dstport: ['dstport'],
      proto: ['proto'],
      ts: ['ts'],
      td: ['td'],
      pkt: ['pkt'],
      byt: ['byt'],
      label: ['label'],
      type: ['type'],
      // what bidirectional inputs (Zeek, Argus) carry besides NetShare's columns, under their canonical names
      rpkt: ['rpkt'],
      rbyt: ['rbyt'],
      sbyt: ['sbyt'],
      dtos: ['dtos'],
      state: ['state'],
      service: ['service'],
      dir: ['dir'],
    },
    required: ['srcip', 'dstip', 'srcport', 'dstport', 'proto', 'ts', 'td', 'pkt', 'byt'],
  },
  ugr16: {
    fields: {
      te: ['te'],
      td: ['td'],
      srcip: ['sa'],
      dstip: ['da'],
      srcport: ['sp'],
      dstport: ['dp'],
      proto: ['pr'],
      flags: ['flg'],
      tos: ['stos'],
      pkt: ['pkt', 'ipkt'],
      byt: ['byt', 'ibyt'],
      // UGR16's class column ("background"/"blacklist"/attack names) is NetShare's `type`; the shared file spells it "lable".
      type: ['label', 'lable', 'type'],
    },
    required: ['te', 'td', 'srcip', 'dstip', 'srcport', 'dstport', 'proto', 'pkt', 'byt'],
    // the original UGR16 files have no header line
    positional: ['te', 'td', 'sa', 'da', 'sp', 'dp', 'pr', 'flg', 'fwd', 'stos', 'pkt', 'byt', 'label'],
  },
  cidds: {
    fields: {
      ts: ['date first seen'],
      td: ['duration'],
      proto: ['proto'],
      srcip: ['src ip addr'],
      srcport: ['src pt'],
      dstip: ['dst ip addr'],
      dstport: ['dst pt'],
      pkt: ['packets'],
      byt: ['bytes'],
      flags: ['flags'],
      tos: ['tos'],
      label: ['class'],
      type: ['attacktype'],
    },
    required: ['ts', 'td', 'proto', 'srcip', 'srcport', 'dstip', 'dstport', 'pkt', 'byt'],
  },
  // Argus ra/CTU-13 binetflow: one bidirectional record per row; TotPkts/TotBytes count both directions
  argus: {
    fields: {
      ts: ['starttime'],
      td: ['dur'],
      proto: ['proto'],
      srcip: ['srcaddr'],
      srcport: ['sport'],
      dir: ['dir'],
      dstip: ['dstaddr'],
      dstport: ['dport'],
      state: ['state'],
      tos: ['stos'],
      dtos: ['dtos'],
      pkt: ['totpkts'],
      byt: ['totbytes'],
      sbyt: ['srcbytes'],
      label: ['label'],
    },
    required: ['ts', 'td', 'proto', 'srcip', 'srcport', 'dstip', 'dstport', 'pkt', 'byt'],
  },
};

const NUMERIC_FIELDS = new Set<FlowField>(['td', 'pkt', 'byt']);

interface Plan {
  schema: FlowCsvSchema;
  idx: Record<FlowField, number>;
  nCols: number;
  headerLine: boolean;
}

function norm(h: string): string {
  return h.trim().replace(/^"|"$/g, '').trim().toLowerCase();
}

/** Work out which column holds which field, from the header (or positions for headerless UGR16). */
function makePlan(file: string, header: string[], opts: ReadFlowCsvOptions): Plan {
  const names = header.map(norm);
  const idx = Object.fromEntries(FLOW_FIELDS.map((f) => [f, -1])) as Record<FlowField, number>;
  const tryMap = (s: Exclude<FlowCsvSchema, 'custom'>, cols: string[]): boolean => {
    const def = SCHEMAS[s];
    const found: Partial<Record<FlowField, number>> = {};
    for (const [f, aliases] of Object.entries(def.fields) as [FlowField, string[]][]) {
      const i = cols.findIndex((c) => aliases.includes(c));
      if (i >= 0) found[f] = i;
    }
    if (!def.required.every((f) => found[f] !== undefined)) return false;
    for (const [f, i] of Object.entries(found)) idx[f as FlowField] = i!;
    return true;
  };
  let schema: FlowCsvSchema | undefined;
  let headerLine = true;
  const order: Exclude<FlowCsvSchema, 'custom'>[] = opts.schema && opts.schema !== 'custom' ? [opts.schema] : ['netshare', 'ugr16', 'cidds', 'argus'];
  for (const s of order) {
    if (tryMap(s, names)) {
      schema = s;
      break;
    }
  }
  if (!schema && (opts.schema === 'ugr16' || !opts.schema) && SCHEMAS.ugr16.positional) {
    // headerless UGR16: a date-time in the first column and 12+ columns
    const looksLikeData = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/.test(header[0]?.trim() ?? '') && header.length >= 12;
    if (looksLikeData && tryMap('ugr16', SCHEMAS.ugr16.positional)) {
      schema = 'ugr16';
      headerLine = false;
    }
  }
  const columns = opts.columns ?? {};
  if (Object.keys(columns).length > 0) {
    for (const [field, col] of Object.entries(columns)) {
      if (!(FLOW_FIELDS as readonly string[]).includes(field)) {
        throw new ConfigError(expected(`one of ${FLOW_FIELDS.join(', ')}`, `the field name in columns.${field}`, field), `columns.${field}`);
      }
      const i = names.indexOf(norm(col));
      if (i < 0) {
        throw new ConfigError(
          expected(`a column of ${file} (header: ${header.map((h) => h.trim()).join(',')})`, `columns.${field}`, col),
          `columns.${field}`,
        );
      }
      idx[field as FlowField] = i;
    }
    if (!schema || opts.schema === 'custom') {
      schema = 'custom';
      // unmapped fields fall back to columns named like the canonical field
      for (const f of FLOW_FIELDS) {
        if (idx[f] >= 0 || f in columns) continue;
        const i = names.indexOf(f);
        if (i >= 0 && !Object.values(idx).includes(i)) idx[f] = i;
      }
    }
  }
  if (!schema) {
    const want = opts.schema
      ? `the ${opts.schema} header`
      : 'a NetShare (srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type), UGR16 (te,td,sa,da,sp,dp,pr,...), CIDDS (Date first seen,Duration,Proto,...) or Argus binetflow (StartTime,Dur,Proto,SrcAddr,...) header';
    throw new InputError(
      `${file}:1: ${expected(want, 'the CSV header', header.join(','))}; name the columns with --columns / columns: {srcip: "...", ...}`,
      file,
      { line: 1 },
    );
  }
  const missing = (['srcip', 'dstip', 'srcport', 'dstport', 'proto'] as FlowField[]).filter((f) => idx[f] < 0);
  if (idx.ts < 0 && idx.te < 0) missing.push('ts');
  if (idx.ts < 0 && idx.te >= 0 && idx.td < 0) missing.push('td');
  if (missing.length > 0) {
    throw new ConfigError(
      `${file}: no column for ${missing.join(', ')} (header: ${header.map((h) => h.trim()).join(',')}); map them with columns: {${missing.map((m) => `${m}: "<column>"`).join(', ')}}`,
      'columns',
    );
  }
  return { schema, idx, nCols: header.length, headerLine };
}

const FLAG_BITS = [0x20, 0x10, 0x08, 0x04, 0x02, 0x01]; // U A P R S F, nfdump order
const FLAG_CHARS = 'UAPRSF';
/** byte → position in FLAG_CHARS (either case), −1 otherwise. */
const FLAG_INDEX = new Int8Array(256).fill(-1);
for (let k = 0; k < 6; k++) {
  FLAG_INDEX[FLAG_CHARS.charCodeAt(k)] = k;
  FLAG_INDEX[FLAG_CHARS.toLowerCase().charCodeAt(k)] = k;
}

function parseFlags(buf: Buffer, s: number, e: number): number {
  [s, e] = trimRange(buf, s, e);
  if (s >= e) return 0;
  const c0 = buf[s]!;
  if (c0 >= 48 && c0 <= 57) {
    const n = parseUint(buf, s, e);
    return n >= 0 && n <= 255 ? n : -1;
  }
  let v = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c === 46) continue;
    const k = FLAG_INDEX[c]!;
    if (k < 0) {
      // CIDDS uses 'C'/'E' (CWR/ECE) too; keep the 6 classic bits
      if (c === 67 || c === 69) continue;
      return -1;
    }
    v |= FLAG_BITS[k]!;
  }
  return v;
}

/** nfdump flag string of a TCP flag byte. */
export function formatFlags(v: number): string {
  const known = FLAG_TEXT[v & 255];
  if (known !== undefined && v >= 0 && v < 256) return known;
  let out = '';
  for (let k = 0; k < 6; k++) out += v & FLAG_BITS[k]! ? FLAG_CHARS[k] : '.';
  if (v >= 0 && v < 256 && Number.isInteger(v)) FLAG_TEXT[v] = out;
  return out;
}
/** formatFlags of each byte, filled as they are met (a CSV of millions of records has a few dozen distinct ones). */
const FLAG_TEXT: (string | undefined)[] = new Array<string | undefined>(256).fill(undefined);

/** Counts with CIDDS-style suffixes ("1.2 M"). */
function parseCount(buf: Buffer, s: number, e: number): number {
  [s, e] = trimRange(buf, s, e);
  const last = buf[e - 1];
  if (last === 77 || last === 75 || last === 71) {
    const mult = last === 77 ? 1e6 : last === 75 ? 1e3 : 1e9;
    const v = parseNumber(buf, s, e - 1);
    return Math.round(v * mult);
  }
  return parseNumber(buf, s, e);
}

/** The FlowTable column each optional field fills. */
const OPTIONAL_COLUMNS: [FlowField, OptionalFlowColumn][] = [
  ['flags', 'tcpFlags'], ['tos', 'tos'], ['label', 'label'], ['type', 'type'], ['dtos', 'dtos'], ['rpkt', 'rpkt'],
  ['rbyt', 'rbyt'], ['sbyt', 'sbyt'], ['state', 'state'], ['service', 'service'], ['dir', 'dir'],
];

/**
 * Read a NetFlow CSV (optionally gzip'd) into a FlowTable. IPs may be integers or dotted quads; protocols names
 * or numbers; times µs numbers (NetShare) or date-time strings (UTC). Malformed rows throw an InputError naming
 * the file and line, or are skipped and counted with `skipBadRows`.
 */
export async function readFlowCsv(
  file: string,
  opts: ReadFlowCsvOptions = {},
): Promise<{ table: FlowTable; schema: FlowCsvSchema; stats: ReadFlowCsvStats }> {
  const out = new FlowTableBuilder(file, opts);
  const unitMul = opts.timeUnit === 's' ? 1e6 : opts.timeUnit === 'ms' ? 1e3 : 1;
  let plan: Plan | undefined;
  const intern = new Map<string, string>();
  const protoCache = new Map<string, number>();
  let lastProto = -1;
  let lastProtoBytes: Buffer | null = null;
  let starts = new Int32Array(0);
  let ends = new Int32Array(0);

  let lenient = false;
  const fail = (what: string, field: FlowField, s: number, e: number, buf: Buffer): never => {
    const col = plan!.headerLine ? `column ${plan!.idx[field] + 1} (${field})` : field;
    throw new BadRow(expected(what, col, buf.toString('utf8', s, e)));
  };
  const ip = (buf: Buffer, field: FlowField, bit: 1 | 2): number => {
    const i = plan!.idx[field];
    const s = starts[i]!, e = ends[i]!;
    let v = parseIpv4Bytes(buf, s, e);
    if (v < 0) {
      v = parseUint(buf, s, e);
      if (v > 0xffffffff) v = -1;
    }
    if (v >= 0) return out.real(v);
    // a name where an address belongs (CIDDS: 10162_65, EXT_SERVER, ATTACKER1): a stable pseudo-address in 240/4
    const name = buf.toString('utf8', s, e).trim();
    if (isAddressToken(name)) return out.token(name, bit);
    if (name.includes(':')) return fail('an IPv4 address (IPv6 flow records are not supported in flow CSVs)', field, s, e, buf);
    return fail('an IPv4 address (dotted quad or integer) or an address token (letters, digits, _ and -)', field, s, e, buf);
  };
  const port = (buf: Buffer, field: FlowField): number => {
    const i = plan!.idx[field];
    let [s, e] = trimRange(buf, starts[i]!, ends[i]!);
    // Argus leaves ports of portless protocols blank and writes ICMP type/code in hex (0x0303)
    if (s === e && lenient) return 0;
    let v: number;
    if (e - s > 2 && buf[s] === 48 && (buf[s + 1] === 120 || buf[s + 1] === 88)) {
      const t = buf.toString('latin1', s + 2, e);
      v = /^[0-9a-fA-F]{1,4}$/.test(t) ? parseInt(t, 16) : -1;
    } else v = parseUint(buf, s, e);
    if (v < 0 && plan!.schema === 'cidds') {
      // CIDDS writes ICMP type.code in the port column (e.g. "3.3"): keep the type
      const f = parseNumber(buf, s, e);
      if (f >= 0) v = Math.trunc(f);
    }
    if (v < 0 || v > 65535) fail('a port 0..65535', field, s, e, buf);
    return v;
  };
  const byte = (buf: Buffer, field: FlowField, what: string): number => {
    const i = plan!.idx[field];
    const [s, e] = trimRange(buf, starts[i]!, ends[i]!);
    if (s === e && lenient) return 0;
    const v = parseUint(buf, s, e);
    if (v < 0 || v > 255) fail(what, field, s, e, buf);
    return v;
  };
  const num = (buf: Buffer, field: FlowField, count: boolean): number => {
    const i = plan!.idx[field];
    const s = starts[i]!, e = ends[i]!;
    const v = count ? parseCount(buf, s, e) : parseNumber(buf, s, e);
    if (!(v >= 0) || v === Infinity) fail('a non-negative number', field, s, e, buf);
    return v;
  };
  const time = (buf: Buffer, field: FlowField): number => {
    const i = plan!.idx[field];
    const s = starts[i]!, e = ends[i]!;
    let p = s;
    while (p < e && buf[p] === 32) p++;
    let v: number;
    if (e - p >= 19 && (buf[p + 4] === 45 || buf[p + 4] === 47)) v = parseDateTimeUs(buf, s, e);
    else v = parseNumber(buf, s, e) * unitMul;
    if (!Number.isFinite(v)) fail('a time (µs number or YYYY-MM-DD HH:MM:SS, YYYY/MM/DD HH:MM:SS)', field, s, e, buf);
    return v;
  };
  // labels repeat a handful of values: compare bytes with the last value seen per field before decoding a string
  const lastBytes: Record<string, Buffer> = {};
  const lastStr: Record<string, string> = {};
  const str = (buf: Buffer, field: FlowField): string => {
    const i = plan!.idx[field];
    const s = starts[i]!, e = ends[i]!;
    // a quoted field (splitFields stripped its quotes) holding a doubled quote: that quote, once (RFC 4180)
    if (s > 0 && buf[s - 1] === 34 && hasDoubledQuote(buf, s, e)) return buf.toString('utf8', s, e).replaceAll('""', '"').trim();
    const lb = lastBytes[field];
    if (lb && lb.length === e - s && buf.compare(lb, 0, lb.length, s, e) === 0) return lastStr[field]!;
    const raw = buf.toString('utf8', s, e);
    let v = intern.get(raw);
    if (v === undefined) {
      v = raw.trim();
      intern.set(raw, v);
    }
    lastBytes[field] = Buffer.from(buf.subarray(s, e));
    lastStr[field] = v;
    return v;
  };

  const onLine = (buf: Buffer, s: number, e: number, line: number): boolean | void => {
    if (!plan) {
      const header = buf.toString('utf8', s, e).replace(/^\uFEFF/, '');
      const cells: string[] = [];
      const hs = new Int32Array(4096);
      const he = new Int32Array(4096);
      const b = Buffer.from(header);
      const n = Math.min(splitFields(b, 0, b.length, hs, he), 4096);
      for (let k = 0; k < n; k++) cells.push(b.toString('utf8', hs[k]!, he[k]!));
      plan = makePlan(file, cells, opts);
      lenient = plan.schema === 'argus';
      // columns no field reads are named once, so a misspelt or unexpected column is visible rather than silently dropped
      const used = new Set(Object.values(plan.idx).filter((i) => i >= 0));
      const unread = plan.headerLine ? cells.map((c, i) => (used.has(i) ? '' : c.trim())).filter((c) => c !== '') : [];
      if (unread.length > 0) out.warnings.push(`${file}: columns not read (no field of the ${plan.schema} schema): ${unread.join(', ')}`);
      out.keep(OPTIONAL_COLUMNS.filter(([f]) => plan!.idx[f] >= 0).map(([, c]) => c));
      starts = new Int32Array(Math.max(plan.nCols, 1) + 1);
      ends = new Int32Array(starts.length);
      if (plan.headerLine) return;
    }
    if (out.full) return false;
    const P = plan;
    const n = splitFields(buf, s, e, starts, ends);
    const r = out.row;
    try {
      if (n !== P.nCols) throw new BadRow(`expected ${P.nCols} fields${P.headerLine ? ' (as the header)' : ''} but found ${n}`);
      const ix = P.idx;
      r.srcIp = ip(buf, 'srcip', 1);
      r.dstIp = ip(buf, 'dstip', 2);
      r.srcPort = port(buf, 'srcport');
      r.dstPort = port(buf, 'dstport');
      {
        const i = ix.proto;
        const ps = starts[i]!, pe = ends[i]!;
        let v = parseUint(buf, ps, pe);
        if (v < 0 && lastProtoBytes && lastProtoBytes.length === pe - ps && buf.compare(lastProtoBytes, 0, lastProtoBytes.length, ps, pe) === 0) v = lastProto;
        if (v < 0) {
          const key = buf.toString('latin1', ps, pe);
          const c = protoCache.get(key);
          if (c !== undefined) v = c;
          else {
            v = protoNumber(key);
            if (v >= 0) protoCache.set(key, v);
          }
        }
        if (v < 0 || v > 255) fail('a protocol name (TCP, UDP, ICMP, ...) or number 0..255', 'proto', ps, pe, buf);
        if (v !== lastProto) {
          lastProto = v;
          lastProtoBytes = Buffer.from(buf.subarray(ps, pe));
        }
        r.proto = v;
      }
      r.td = ix.td >= 0 ? num(buf, 'td', false) : 0;
      if (ix.ts >= 0) r.ts = time(buf, 'ts');
      else {
        const te = time(buf, 'te');
        // te is whole µs; keep ts whole µs too so ts + td reproduces te exactly
        r.ts = te - Math.round(r.td * 1e6);
      }
      r.pkt = ix.pkt >= 0 ? num(buf, 'pkt', true) : 0;
      r.byt = ix.byt >= 0 ? num(buf, 'byt', true) : 0;
      if (ix.flags >= 0) {
        r.tcpFlags = parseFlags(buf, starts[ix.flags]!, ends[ix.flags]!);
        if (r.tcpFlags < 0) fail('TCP flags (.AP.SF or 0..255)', 'flags', starts[ix.flags]!, ends[ix.flags]!, buf);
      }
      if (ix.tos >= 0) r.tos = byte(buf, 'tos', 'a TOS byte 0..255');
      if (ix.dtos >= 0) r.dtos = byte(buf, 'dtos', 'a TOS byte 0..255');
      if (ix.rpkt >= 0) r.rpkt = num(buf, 'rpkt', true);
      if (ix.rbyt >= 0) r.rbyt = num(buf, 'rbyt', true);
      if (ix.sbyt >= 0) r.sbyt = num(buf, 'sbyt', true);
      if (ix.label >= 0) r.label = str(buf, 'label');
      if (ix.type >= 0) r.type = str(buf, 'type');
      if (ix.state >= 0) r.state = str(buf, 'state');
      if (ix.service >= 0) r.service = str(buf, 'service');
      if (ix.dir >= 0) r.dir = str(buf, 'dir');
    } catch (err) {
      if (!(err instanceof BadRow)) throw err;
      return out.badRow(line, err.message, () => `${file}:${line}: ${err.message} (use skipBadRows / --skip-bad-rows to skip such rows)`);
    }
    out.push();
  };
  await forEachLine(file, onLine, out.progress);
  if (!plan) throw new InputError(`${file}: empty file (no CSV header)`, file, { line: 1 });
  const { table, stats } = out.finish();
  return { table, schema: (plan as Plan).schema, stats };
}

export interface WriteFlowCsvOptions {
  /** Output schema (default netshare). `custom` writes canonical fields under the names in `columns`. */
  schema?: FlowCsvSchema;
  columns?: Record<string, string>;
}

/** Whether buf[s, e) holds two quotes in a row. */
function hasDoubledQuote(buf: Buffer, s: number, e: number): boolean {
  for (let k = s; k + 1 < e; k++) if (buf[k] === 34 && buf[k + 1] === 34) return true;
  return false;
}

function num2s(x: number): string {
  return String(x);
}

/**
 * Write a FlowTable as CSV in the given schema, atomically (temp file + rename; `.gz` names are gzip'd).
 * NetShare schema: integer IPs, protocol names, µs `ts`. UGR16: `te` = ts + td as a date-time string.
 */
export async function writeFlowCsv(file: string, table: FlowTable, opts: WriteFlowCsvOptions = {}): Promise<{ rows: number }> {
  return writeFlowCsvParts(file, [table], opts);
}

/**
 * writeFlowCsv of the concatenation of `parts` (tables with the same columns), one part in memory at a time: the same
 * bytes as writeFlowCsv of the concatenated table. The parts may be produced as they are written (an async iterable).
 */
export async function writeFlowCsvParts(file: string, parts: Iterable<FlowTable> | AsyncIterable<FlowTable>, opts: WriteFlowCsvOptions = {}): Promise<{ rows: number }> {
  const schema = opts.schema ?? 'netshare';
  let rows = 0;
  let header: string | undefined;
  await writeTextAtomic(file, async (write) => {
    for await (const table of parts) {
      const cols = csvColumns(table, schema, opts);
      const head = `${cols.map((c) => csvQuote(c[0])).join(',')}\n`;
      if (header === undefined) {
        header = head;
        await write(head);
      } else if (head !== header) throw new InternalError(`writeFlowCsvParts: a part's columns (${head.trim()}) differ from the first part's (${header.trim()})`);
      const n = table.length;
      const BATCH = 8192;
      for (let b = 0; b < n; b += BATCH) {
        const lines: string[] = [];
        const stop = Math.min(n, b + BATCH);
        for (let i = b; i < stop; i++) {
          let line = '';
          for (let c = 0; c < cols.length; c++) {
            const v = cols[c]![1](i);
            line += (c ? ',' : '') + v;
          }
          lines.push(line);
        }
        await write(`${lines.join('\n')}\n`);
      }
      rows += n;
    }
    if (header === undefined) throw new InternalError('writeFlowCsvParts: no parts to write');
  });
  return { rows };
}

type CsvCol = [string, (i: number) => string];

/** A CSV field: quoted (inner quotes doubled) when it holds a quote, a comma or a newline. */
const csvQuote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * The CSV columns of `table` in `schema`: names and per-row formatters, the formatters of text that may need quoting
 * (labels, states, address tokens' names) quoting it; numbers, times and dotted quads never do.
 */
function csvColumns(table: FlowTable, schema: FlowCsvSchema, opts: WriteFlowCsvOptions): CsvCol[] {
  type Col = CsvCol;
  let cols: Col[];
  // a text column's values quoted as needed, each distinct value once (labels and states take a handful)
  const q = (texts: readonly string[] | undefined): ((i: number) => string) | undefined => {
    if (!texts) return undefined;
    const memo = new Map<string, string>();
    return (i) => {
      const v = texts[i]!;
      let out = memo.get(v);
      if (out === undefined) {
        out = csvQuote(v);
        if (memo.size < 65_536) memo.set(v, out);
      }
      return out;
    };
  };
  const lbl = q(table.label);
  const typ = q(table.type);
  const fl = table.tcpFlags;
  const tos = table.tos;
  const tokens = table.addressTokens;
  const tokenText = tokens ? new Map([...tokens].map(([a, name]) => [a, csvQuote(name)])) : undefined;
  // an address token of the input is written back as its name, whatever the schema's address notation
  const intIp = (a: number): string => (tokenText?.get(a) ?? num2s(a));
  const quadIp = (a: number): string => (tokenText?.get(a) ?? ipv4ToString(a));
  const extras: Col[] = [];
  for (const k of ['rpkt', 'rbyt', 'sbyt', 'dtos'] as const) {
    const c = table[k];
    if (c) extras.push([k, (i) => num2s(c[i]!)]);
  }
  for (const k of ['state', 'service', 'dir'] as const) {
    const c = q(table[k]);
    if (c) extras.push([k, c]);
  }
  if (schema === 'netshare' || schema === 'custom') {
    cols = [
      ['srcip', (i) => intIp(table.srcIp[i]!)],
      ['dstip', (i) => intIp(table.dstIp[i]!)],
      ['srcport', (i) => num2s(table.srcPort[i]!)],
      ['dstport', (i) => num2s(table.dstPort[i]!)],
      ['proto', (i) => protoName(table.proto[i]!)],
      ['ts', (i) => num2s(table.ts[i]!)],
      ['td', (i) => num2s(table.td[i]!)],
      ['pkt', (i) => num2s(table.pkt[i]!)],
      ['byt', (i) => num2s(table.byt[i]!)],
    ];
    if (schema === 'custom' && fl) cols.push(['flags', (i) => num2s(fl[i]!)]);
    if (schema === 'custom' && tos) cols.push(['tos', (i) => num2s(tos[i]!)]);
    cols.push(...extras);
    if (lbl) cols.push(['label', lbl]);
    if (typ) cols.push(['type', typ]);
    if (schema === 'custom') {
      const m = opts.columns ?? {};
      cols = cols.map(([name, f]) => [m[name] ?? name, f]);
    }
  } else if (schema === 'ugr16') {
    cols = [
      ['te', (i) => formatDateTimeUs(table.ts[i]! + Math.round(table.td[i]! * 1e6))],
      ['td', (i) => num2s(table.td[i]!)],
      ['sa', (i) => quadIp(table.srcIp[i]!)],
      ['da', (i) => quadIp(table.dstIp[i]!)],
      ['sp', (i) => num2s(table.srcPort[i]!)],
      ['dp', (i) => num2s(table.dstPort[i]!)],
      ['pr', (i) => protoName(table.proto[i]!)],
      ['flg', (i) => formatFlags(fl ? fl[i]! : 0)],
      ['fwd', () => '0'],
      ['stos', (i) => num2s(tos ? tos[i]! : 0)],
      ['pkt', (i) => num2s(table.pkt[i]!)],
      ['byt', (i) => num2s(table.byt[i]!)],
      ['label', (i) => (typ ? typ(i) : lbl ? lbl(i) : 'background')],
    ];
  } else if (schema === 'argus') {
    const st = q(table.state);
    const dr = q(table.dir);
    const dt = table.dtos;
    const sb = table.sbyt;
    cols = [
      ['StartTime', (i) => formatDateTimeUs(table.ts[i]!).replace(/^(\d{4})-(\d\d)-/, '$1/$2/')],
      ['Dur', (i) => num2s(table.td[i]!)],
      ['Proto', (i) => protoName(table.proto[i]!).toLowerCase()],
      ['SrcAddr', (i) => quadIp(table.srcIp[i]!)],
      ['Sport', (i) => num2s(table.srcPort[i]!)],
      ['Dir', (i) => (dr ? dr(i) : '->')],
      ['DstAddr', (i) => quadIp(table.dstIp[i]!)],
      ['Dport', (i) => num2s(table.dstPort[i]!)],
      ['State', (i) => (st ? st(i) : '')],
      ['sTos', (i) => num2s(tos ? tos[i]! : 0)],
      ['dTos', (i) => num2s(dt ? dt[i]! : 0)],
      ['TotPkts', (i) => num2s(table.pkt[i]!)],
      ['TotBytes', (i) => num2s(table.byt[i]!)],
      ['SrcBytes', (i) => num2s(sb ? sb[i]! : table.byt[i]!)],
      ['Label', (i) => (lbl ? lbl(i) : typ ? typ(i) : '')],
    ];
  } else {
    cols = [
      ['Date first seen', (i) => formatDateTimeUs(table.ts[i]!)],
      ['Duration', (i) => num2s(table.td[i]!)],
      ['Proto', (i) => protoName(table.proto[i]!)],
      ['Src IP Addr', (i) => quadIp(table.srcIp[i]!)],
      ['Src Pt', (i) => num2s(table.srcPort[i]!)],
      ['Dst IP Addr', (i) => quadIp(table.dstIp[i]!)],
      ['Dst Pt', (i) => num2s(table.dstPort[i]!)],
      ['Packets', (i) => num2s(table.pkt[i]!)],
      ['Bytes', (i) => num2s(table.byt[i]!)],
      ['Flows', () => '1'],
      ['Flags', (i) => formatFlags(fl ? fl[i]! : 0)],
      ['Tos', (i) => num2s(tos ? tos[i]! : 0)],
      ['class', (i) => (lbl ? lbl(i) : 'normal')],
      ['attackType', (i) => (typ ? typ(i) : '---')],
      ['attackID', () => '---'],
      ['attackDescription', () => '---'],
    ];
  }
  return cols;
}

/** Numeric fields the CSV reader parses (exported for the column-mapping docs). */
export const NUMERIC_FLOW_FIELDS: readonly FlowField[] = [...NUMERIC_FIELDS];
