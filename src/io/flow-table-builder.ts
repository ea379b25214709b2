// What every flow reader shares (NetFlow CSV, Zeek conn.log, nfdump): growable columns, address tokens, bad rows, the FlowTable.
import { InputError } from '../errors.js';
import { AddressTokenMap } from './address-tokens.js';
import { Grow } from './csv-lines.js';
import type { FlowTable } from './table.js';

/** A malformed row, thrown by a reader's field parsers and caught by its line handler (then `badRow`). */
export class BadRow extends Error {}

/** The options every flow reader takes. */
export interface FlowReadOptions {
  /** Skip malformed rows (counted in stats.skipped) instead of throwing an InputError. */
  skipBadRows?: boolean;
  /** Read at most this many records. */
  limit?: number;
  onProgress?: (bytesRead: number, totalBytes: number, rows: number) => void;
}

/** What every flow reader reports besides its table. */
export interface FlowReadStats {
  rows: number;
  skipped: number;
  seconds: number;
  /** First few skipped rows (line + reason) when skipBadRows is on. */
  badRows: { line: number; reason: string }[];
  warnings: string[];
}

/** FlowTable columns a format may or may not have; the reader names the ones its file has. */
export type OptionalFlowColumn = 'tcpFlags' | 'tos' | 'label' | 'type' | 'dtos' | 'rpkt' | 'rbyt' | 'sbyt' | 'state' | 'service' | 'dir';

/** One record as the reader parses it; pushed as a whole so that a bad row never leaves the columns unaligned. */
export interface FlowRow {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  proto: number;
  ts: number;
  td: number;
  pkt: number;
  byt: number;
  tcpFlags: number;
  tos: number;
  dtos: number;
  rpkt: number;
  rbyt: number;
  sbyt: number;
  label: string;
  type: string;
  state: string;
  service: string;
  dir: string;
}

/** How a reader words its notices; the defaults are the NetFlow CSV reader's. */
export interface FlowNotices {
  /** Rows naming hosts by tokens (`moved`: tokens moved off real addresses of the file). */
  tokens?: (t: { rows: number; total: number; size: number; examples: string[]; moved: number }) => string;
  /** Rows skipped with skipBadRows (`first`: the first one). */
  skipped?: (skipped: number, first: { line: number; reason: string } | undefined) => string;
}

const MAX_BAD_ROWS = 20;

/**
 * Collects a flow file's records into a FlowTable: the reader parses a record into `row` and calls `push()`, or hands
 * a malformed one to `badRow()`; `finish()` settles the address tokens and returns the table with the stats.
 */
export class FlowTableBuilder {
  readonly row: FlowRow = {
    srcIp: 0, dstIp: 0, srcPort: 0, dstPort: 0, proto: 0, ts: 0, td: 0, pkt: 0, byt: 0,
    tcpFlags: 0, tos: 0, dtos: 0, rpkt: 0, rbyt: 0, sbyt: 0,
    label: '', type: '', state: '', service: '', dir: '',
  };
  /** Records pushed so far. */
  rows = 0;
  skipped = 0;
  readonly badRows: { line: number; reason: string }[] = [];
  /** Notices of the read; a reader may add its own before `finish()` adds the token and skipped-row ones. */
  readonly warnings: string[] = [];
  readonly tokens = new AddressTokenMap();
  /** The reader's onProgress with the record count filled in, for forEachLine. */
  readonly progress: ((bytesRead: number, totalBytes: number) => void) | undefined;

  private readonly t0 = performance.now();
  private readonly srcIp = new Grow(Uint32Array);
  private readonly dstIp = new Grow(Uint32Array);
  private readonly srcPort = new Grow(Uint16Array);
  private readonly dstPort = new Grow(Uint16Array);
  private readonly proto = new Grow(Uint8Array);
  private readonly ts = new Grow(Float64Array);
  private readonly td = new Grow(Float64Array);
  private readonly pkt = new Grow(Float64Array);
  private readonly byt = new Grow(Float64Array);
  private tcpFlags: Grow<Uint8Array> | undefined;
  private tos: Grow<Uint8Array> | undefined;
  private dtos: Grow<Uint8Array> | undefined;
  private rpkt: Grow<Float64Array> | undefined;
  private rbyt: Grow<Float64Array> | undefined;
  private sbyt: Grow<Float64Array> | undefined;
  private label: string[] | undefined;
  private type: string[] | undefined;
  private state: string[] | undefined;
  private service: string[] | undefined;
  private dir: string[] | undefined;
  /** Per record: bit 0 = srcip is a token, bit 1 = dstip (for AddressTokenMap.finish). */
  private readonly tokenBits = new Grow(Uint8Array);
  private rowTokens = 0;

  constructor(
    private readonly file: string,
    private readonly opts: FlowReadOptions = {},
    columns: readonly OptionalFlowColumn[] = [],
  ) {
    const onProgress = opts.onProgress;
    this.progress = onProgress ? (b, t) => onProgress(b, t, this.rows) : undefined;
    this.keep(columns);
  }

  /** Keep these optional columns too (call before the first push: a reader that learns them from a header). */
  keep(columns: readonly OptionalFlowColumn[]): void {
    for (const c of columns) {
      if (c === 'tcpFlags' || c === 'tos' || c === 'dtos') this[c] ??= new Grow(Uint8Array);
      else if (c === 'rpkt' || c === 'rbyt' || c === 'sbyt') this[c] ??= new Grow(Float64Array);
      else this[c] ??= [];
    }
  }

  /** Whether `limit` records are in. */
  get full(): boolean {
    return this.rows >= (this.opts.limit ?? Infinity);
  }

  /** A real address of the record (noted so that no token takes it). */
  real(a: number): number {
    this.tokens.noteReal(a);
    return a;
  }

  /** The pseudo-address of a host token in the record's srcip (`bit` 1) or dstip (`bit` 2). */
  token(name: string, bit: 1 | 2): number {
    this.rowTokens |= bit;
    return this.tokens.address(name);
  }

  /** Append `row` as a record (only the optional columns kept). */
  push(): void {
    const r = this.row;
    this.srcIp.push(r.srcIp);
    this.dstIp.push(r.dstIp);
    this.srcPort.push(r.srcPort);
    this.dstPort.push(r.dstPort);
    this.proto.push(r.proto);
    this.ts.push(r.ts);
    this.td.push(r.td);
    this.pkt.push(r.pkt);
    this.byt.push(r.byt);
    this.tcpFlags?.push(r.tcpFlags);
    this.tos?.push(r.tos);
    this.label?.push(r.label);
    this.type?.push(r.type);
    this.dtos?.push(r.dtos);
    this.rpkt?.push(r.rpkt);
    this.rbyt?.push(r.rbyt);
    this.sbyt?.push(r.sbyt);
    this.state?.push(r.state);
    this.service?.push(r.service);
    this.dir?.push(r.dir);
    this.tokenBits.push(this.rowTokens);
    if (this.rowTokens) this.tokens.rows++;
    this.rowTokens = 0;
    this.rows++;
  }

  /** A malformed record: skipped and counted with skipBadRows, else an InputError with `message` (built only then). */
  badRow(line: number, reason: string, message: () => string): void {
    this.rowTokens = 0;
    if (!this.opts.skipBadRows) throw new InputError(message(), this.file, { line });
    this.skipped++;
    if (this.badRows.length < MAX_BAD_ROWS) this.badRows.push({ line, reason });
  }

  /** The table and the stats; token hosts that took a real address of the file move now. */
  finish(notices: FlowNotices = {}): { table: FlowTable; stats: FlowReadStats } {
    const { rows, tokens, warnings } = this;
    const srcIp = this.srcIp.done();
    const dstIp = this.dstIp.done();
    if (tokens.size > 0) {
      const moved = tokens.finish(srcIp, dstIp, this.tokenBits.done());
      const word = notices.tokens ?? tokenNotice;
      warnings.push(word({ rows: tokens.rows, total: rows, size: tokens.size, examples: tokens.examples(), moved }));
    }
    if (this.skipped > 0) warnings.push((notices.skipped ?? skippedNotice)(this.skipped, this.badRows[0]));
    const table: FlowTable = {
      kind: 'flows',
      length: rows,
      srcIp,
      dstIp,
      srcPort: this.srcPort.done(),
      dstPort: this.dstPort.done(),
      proto: this.proto.done(),
      ts: this.ts.done(),
      td: this.td.done(),
      pkt: this.pkt.done(),
      byt: this.byt.done(),
      ...(this.tcpFlags ? { tcpFlags: this.tcpFlags.done() } : {}),
      ...(this.tos ? { tos: this.tos.done() } : {}),
      ...(this.label ? { label: this.label } : {}),
      ...(this.type ? { type: this.type } : {}),
      ...(this.dtos ? { dtos: this.dtos.done() } : {}),
      ...(this.rpkt ? { rpkt: this.rpkt.done() } : {}),
      ...(this.rbyt ? { rbyt: this.rbyt.done() } : {}),
      ...(this.sbyt ? { sbyt: this.sbyt.done() } : {}),
      ...(this.state ? { state: this.state } : {}),
      ...(this.service ? { service: this.service } : {}),
      ...(this.dir ? { dir: this.dir } : {}),
      ...(tokens.size > 0 ? { addressTokens: tokens.map() } : {}),
    };
    const stats = { rows, skipped: this.skipped, seconds: (performance.now() - this.t0) / 1000, badRows: this.badRows, warnings };
    return { table, stats };
  }
}

function tokenNotice(t: { rows: number; total: number; size: number; examples: string[]; moved: number }): string {
  return `${t.rows} of ${t.total} records name a host by a token instead of an address (${t.size} tokens, e.g. ${t.examples.join(', ')}): modelled as pseudo-addresses in 240.0.0.0/4 and written back as the tokens${t.moved ? ` (${t.moved} moved off real addresses of the file)` : ''}`;
}

function skippedNotice(skipped: number, first: { line: number; reason: string } | undefined): string {
  return `${skipped} malformed rows skipped (first at line ${first?.line})`;
}
