// Zeek conn.log as flow records: the TSV log (#separator/#fields/#types headers) and the JSON-lines variant, read and written.
//
// A conn.log record is bidirectional: one connection, originator (id.orig_h:id.orig_p) to responder. It stays one
// flow record keyed by the originator's 5-tuple (srcip = id.orig_h, as NetShare keys a NetFlow record by its
// source); pkt/byt are the originator → responder counts (orig_pkts, orig_ip_bytes — IP-level bytes as NetFlow counts
// them — or orig_bytes, the payload, when the log has no *_ip_bytes) and the responder's direction rides along as
// rpkt/rbyt (resp_pkts, resp_ip_bytes or resp_bytes), with conn_state and service as string columns. The writer
// writes the same fields back under the same names (a uid per record is made up: the model has no connection ids).
import { InputError, expected } from '../errors.js';
import { writeTextAtomic } from './atomic.js';
import { isAddressToken } from './address-tokens.js';
import { forEachLine, parseDateTimeUs } from './csv-lines.js';
import { BadRow, FlowTableBuilder, type FlowReadOptions, type FlowReadStats } from './flow-table-builder.js';
import { protoName, protoNumber } from './protocols.js';
import { ipv4ToString, parseIpv4, type FlowTable } from './table.js';

/** Which conn.log: TSV or JSON lines, and which byte counters (`ip`: *_ip_bytes; `payload`: orig_bytes/resp_bytes). */
export interface ZeekVariant {
  json: boolean;
  bytes: 'ip' | 'payload';
}

export type ReadZeekOptions = FlowReadOptions;

export interface ReadZeekResult {
  table: FlowTable;
  variant: ZeekVariant;
  stats: FlowReadStats;
}

/** Seconds since the epoch as text ("1300000000.123456") → µs, exact to the µs (no float rounding of the fraction). */
function secondsToUs(s: string, what: string): number {
  const t = s.trim();
  const m = /^(\d+)(?:\.(\d*))?$/.exec(t);
  if (!m) {
    if (/^\d{4}-\d\d-\d\dT/.test(t)) {
      const b = Buffer.from(t);
      const v = parseDateTimeUs(b, 0, b.length);
      if (Number.isFinite(v)) return v;
    }
    throw new BadRow(expected('seconds since the epoch (1300000000.123456) or an ISO time', what, s));
  }
  const frac = (m[2] ?? '').padEnd(6, '0');
  return Number(m[1]) * 1e6 + Math.round(Number(`${frac.slice(0, 6)}.${frac.slice(6) || '0'}`));
}

/** µs → "1300000000.123456". */
function usToSeconds(us: number): string {
  const r = Math.round(us);
  const s = Math.floor(r / 1e6);
  return `${s}.${String(r - s * 1e6).padStart(6, '0')}`;
}

/** Zeek's transport names; anything else it calls unknown_transport (NetShare's 255, "Other"). */
function zeekProto(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'unknown_transport') return 255;
  return protoNumber(t);
}
function zeekProtoName(p: number): string {
  if (p === 6 || p === 17 || p === 1) return protoName(p).toLowerCase();
  if (p === 58) return 'icmp';
  return 'unknown_transport';
}

/** Sniff: a Zeek TSV log starts with `#separator`; a JSON log's first line is an object with `id.orig_h`. */
export function zeekKind(firstLine: string): 'zeek-conn' | 'zeek-json' | null {
  if (firstLine.startsWith('#separator')) return 'zeek-conn';
  const t = firstLine.trim();
  if (t.startsWith('{') && t.includes('"id.orig_h"')) return 'zeek-json';
  return null;
}

/** Read a Zeek conn.log (TSV or JSON lines, optionally gzip'd) into a FlowTable; see the file comment for the mapping. */
export async function readZeekConn(file: string, opts: ReadZeekOptions = {}): Promise<ReadZeekResult> {
  const out = new FlowTableBuilder(file, opts, ['rpkt', 'rbyt', 'state', 'service']);
  let json: boolean | undefined;
  let fields: string[] | undefined;
  let sep = '\t';
  let unset = '-';
  let idx: Record<string, number> = {};
  let bytes: 'ip' | 'payload' = 'ip';
  let headerLine = 0;
  const intern = new Map<string, string>();
  const keep = (s: string): string => {
    let v = intern.get(s);
    if (v === undefined) {
      v = s;
      intern.set(s, v);
    }
    return v;
  };
  const missing = (names: string[]): string[] => names.filter((n) => !(n in idx));

  const setFields = (names: string[], line: number): void => {
    fields = names;
    idx = Object.fromEntries(names.map((n, i) => [n, i]));
    const need = missing(['ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_pkts', 'resp_pkts']);
    if (!('orig_ip_bytes' in idx) && !('orig_bytes' in idx)) need.push('orig_ip_bytes (or orig_bytes)');
    if (need.length > 0) {
      throw new InputError(`${file}:${line}: ${expected(`a conn.log with the fields ${need.join(', ')}`, 'the #fields line', names.join(' '))}`, file, { line });
    }
    bytes = 'orig_ip_bytes' in idx ? 'ip' : 'payload';
    headerLine = line;
  };

  const ip = (v: string | undefined, what: string, bit: 1 | 2): number => {
    const t = (v ?? '').trim();
    const a = parseIpv4(t);
    if (a >= 0) return out.real(a);
    if (isAddressToken(t)) return out.token(t, bit);
    throw new BadRow(expected(t.includes(':') ? 'an IPv4 address (IPv6 connections are not supported yet)' : 'an IPv4 address', what, v ?? '(missing)'));
  };
  const count = (v: string | undefined, what: string, required: boolean): number => {
    const t = (v ?? '').trim();
    if (t === '' || t === unset) {
      if (required) throw new BadRow(expected('a count', what, v ?? '(missing)'));
      return 0;
    }
    const n = Number(t);
    if (!(n >= 0) || !Number.isFinite(n)) throw new BadRow(expected('a non-negative number', what, v));
    return n;
  };
  const port = (v: string | undefined, what: string): number => {
    const n = count(v, what, true);
    if (!Number.isInteger(n) || n > 65535) throw new BadRow(expected('a port 0..65535', what, v));
    return n;
  };
  /** One record from its field values (by name); throws BadRow. */
  const record = (get: (name: string) => string | undefined): void => {
    const t = get('ts');
    if (t === undefined || t === unset) throw new BadRow(expected('a time', 'ts', t ?? '(missing)'));
    const tsUs = secondsToUs(t, 'ts');
    const s = ip(get('id.orig_h'), 'id.orig_h', 1);
    const d = ip(get('id.resp_h'), 'id.resp_h', 2);
    const sp = port(get('id.orig_p'), 'id.orig_p');
    const dp = port(get('id.resp_p'), 'id.resp_p');
    const pr = zeekProto(get('proto') ?? '');
    if (pr < 0) throw new BadRow(expected('a transport (tcp, udp, icmp, unknown_transport)', 'proto', get('proto') ?? '(missing)'));
    const dur = count(get('duration'), 'duration', false);
    const op = count(get('orig_pkts'), 'orig_pkts', true);
    const rp = count(get('resp_pkts'), 'resp_pkts', true);
    const ob = count(get(bytes === 'ip' ? 'orig_ip_bytes' : 'orig_bytes'), bytes === 'ip' ? 'orig_ip_bytes' : 'orig_bytes', false);
    const rb = count(get(bytes === 'ip' ? 'resp_ip_bytes' : 'resp_bytes'), bytes === 'ip' ? 'resp_ip_bytes' : 'resp_bytes', false);
    const r = out.row;
    r.srcIp = s;
    r.dstIp = d;
    r.srcPort = sp;
    r.dstPort = dp;
    r.proto = pr;
    r.ts = tsUs;
    r.td = dur;
    r.pkt = op;
    r.byt = ob;
    r.rpkt = rp;
    r.rbyt = rb;
    r.state = keep((get('conn_state') ?? unset).trim());
    r.service = keep((get('service') ?? unset).trim());
    out.push();
  };

  const onLine = (buf: Buffer, s: number, e: number, line: number): boolean | void => {
    const text = buf.toString('utf8', s, e);
    if (json === undefined) {
      const k = zeekKind(text.replace(/^\uFEFF/, ''));
      if (!k) throw new InputError(`${file}:1: ${expected('a Zeek conn.log (#separator header, or JSON lines with id.orig_h)', 'the first line', text.slice(0, 80))}`, file, { line: 1 });
      json = k === 'zeek-json';
    }
    if (!json && text.startsWith('#')) {
      const [key, ...rest] = text.split(text.startsWith('#separator') ? ' ' : sep);
      const val = rest.join(sep);
      if (key === '#separator') sep = val.trim().replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      else if (key === '#unset_field') unset = val;
      else if (key === '#fields') setFields(rest, line);
      return;
    }
    if (out.full) return false;
    try {
      if (json) {
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(text) as Record<string, unknown>;
        } catch (err) {
          throw new BadRow(`not a JSON object (${(err as Error).message})`);
        }
        if (!o || typeof o !== 'object' || Array.isArray(o)) throw new BadRow('not a JSON object');
        if (!fields) {
          // the first record decides which byte counters the log has (Zeek's JSON omits unset fields, never counters)
          setFields([...Object.keys(o), ...['orig_pkts', 'resp_pkts', 'duration'].filter((k) => !(k in o))], line);
        }
        record((n) => {
          const v = o[n];
          return v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v);
        });
      } else {
        if (!fields) throw new InputError(`${file}:${line}: a record before the #fields header line`, file, { line });
        const cells = text.split(sep);
        if (cells.length !== fields.length) throw new BadRow(`expected ${fields.length} fields (as #fields on line ${headerLine}) but found ${cells.length}`);
        record((n) => {
          const i = idx[n];
          return i === undefined ? undefined : cells[i];
        });
      }
    } catch (err) {
      if (!(err instanceof BadRow)) throw err;
      return out.badRow(line, err.message, () => `${file}:${line}: ${err.message} (use --skip-bad-rows to skip such rows)`);
    }
  };
  await forEachLine(file, onLine, out.progress);
  if (json === undefined) throw new InputError(`${file}: empty file`, file, { line: 1 });
  if (!json && !fields) throw new InputError(`${file}: no #fields header line`, file, { line: 1 });
  const { table, stats } = out.finish({
    tokens: (t) => `${t.rows} of ${t.total} records name a host by a token (${t.examples.join(', ')}): pseudo-addresses in 240.0.0.0/4`,
  });
  return { table, variant: { json: Boolean(json), bytes }, stats };
}

/** Write a FlowTable as a Zeek conn.log (TSV by default, JSON lines with `json`), atomically; `.gz` names are gzip'd. */
export async function writeZeekConn(file: string, table: FlowTable, variant: Partial<ZeekVariant> = {}): Promise<{ rows: number }> {
  const ipBytes = (variant.bytes ?? 'ip') === 'ip';
  const names = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'conn_state', 'orig_pkts', ipBytes ? 'orig_ip_bytes' : 'orig_bytes', 'resp_pkts', ipBytes ? 'resp_ip_bytes' : 'resp_bytes'];
  const types = ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'string', 'count', 'count', 'count', 'count'];
  const tok = table.addressTokens;
  const addr = (a: number): string => tok?.get(a) ?? ipv4ToString(a);
  const int = (x: number): number => Math.max(0, Math.round(x));
  const cells = (i: number): (string | number)[] => [
    usToSeconds(table.ts[i]!),
    `C${i.toString(36).padStart(17, '0')}`,
    addr(table.srcIp[i]!),
    table.srcPort[i]!,
    addr(table.dstIp[i]!),
    table.dstPort[i]!,
    zeekProtoName(table.proto[i]!),
    table.service?.[i] ?? '-',
    table.td[i]!,
    table.state?.[i] ?? '-',
    int(table.pkt[i]!),
    int(table.byt[i]!),
    int(table.rpkt?.[i] ?? 0),
    int(table.rbyt?.[i] ?? 0),
  ];
  const stamp = (): string => new Date().toISOString().replace('T', '-').replace(/:/g, '-').slice(0, 19);
  await writeTextAtomic(file, async (write) => {
    if (!variant.json) {
      await write(`#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t${stamp()}\n#fields\t${names.join('\t')}\n#types\t${types.join('\t')}\n`);
    }
    const BATCH = 4096;
    for (let b = 0; b < table.length; b += BATCH) {
      const lines: string[] = [];
      for (let i = b; i < Math.min(table.length, b + BATCH); i++) {
        const c = cells(i);
        if (variant.json) {
          const o: Record<string, unknown> = {};
          names.forEach((n, k) => {
            const v = c[k]!;
            if (v === '-' && (n === 'service' || n === 'conn_state')) return; // Zeek's JSON leaves unset fields out
            o[n] = n === 'ts' ? Number(v) : v;
          });
          // ts as a number loses nothing at µs precision for epochs before 2255 (float64 has ~0.24 µs there)
          lines.push(JSON.stringify(o));
        } else lines.push(c.join('\t'));
      }
      await write(`${lines.join('\n')}\n`);
    }
    if (!variant.json) await write(`#close\t${stamp()}\n`);
  });
  return { rows: table.length };
}
