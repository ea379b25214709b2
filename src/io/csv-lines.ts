// Fast streaming CSV plumbing: gzip-transparent line iteration over Buffers, field splitting and hand-rolled number parsing.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';

/** Open a file for reading and fail with an InputError (not a raw ENOENT) when it cannot be read. */
export async function sniffBytes(file: string, n = 16): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new InputError(`cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file, undefined, {
      cause: err,
    });
  }
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Called once per non-empty line with the bytes `buf[start, end)` (no line terminator). Return `false` to stop.
 * `line` is 1-based. The Buffer is only valid during the call.
 */
export type LineHandler = (buf: Buffer, start: number, end: number, line: number) => boolean | void;

/**
 * Stream `file` (gzip detected by magic bytes) line by line without decoding it to strings. Progress reports
 * compressed bytes read. Resolves with the number of lines seen (including empty ones).
 */
export async function forEachLine(
  file: string,
  onLine: LineHandler,
  onProgress?: (bytesRead: number, totalBytes: number) => void,
): Promise<number> {
  const head = await sniffBytes(file, 2);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  let bytesRead = 0;
  let totalBytes = 0;
  try {
    totalBytes = (await import('node:fs')).statSync(file).size;
  } catch {
    /* size only feeds progress */
  }
  raw.on('data', (c: Buffer | string) => {
    bytesRead += c.length;
  });
  const stream = isGzip(head) ? raw.pipe(createGunzip()) : raw;
  const at = { line: 0 };
  try {
    return await splitLines(stream as AsyncIterable<Buffer>, onLine, at, onProgress ? () => onProgress(bytesRead, totalBytes) : undefined);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const e = err as NodeJS.ErrnoException;
    const line = at.line;
    if (e && (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR' || e.code === 'Z_NEED_DICT')) {
      throw new InputError(`${file}: corrupt gzip stream after ${line} lines (${e.message})`, file, { line: line + 1 }, {
        cause: err,
      });
    }
    if (e && typeof e.code === 'string' && e.code.startsWith('E')) {
      throw new InputError(`cannot read ${file}: ${e.code}`, file, undefined, { cause: err });
    }
    throw err;
  } finally {
    raw.destroy();
    if (stream !== raw) (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
  }
}

/** Lines of any byte stream (a child process's stdout), as forEachLine. Resolves with the number of lines seen. */
export async function forEachStreamLine(stream: AsyncIterable<Buffer>, onLine: LineHandler): Promise<number> {
  return splitLines(stream, onLine, { line: 0 });
}

/**
 * The line splitting of forEachLine and forEachStreamLine: `at.line` counts the lines seen (empty ones too) as it
 * goes, so a caller can name where a stream failed; `afterChunk` runs after each chunk's lines unless one stopped.
 */
async function splitLines(stream: AsyncIterable<Buffer>, onLine: LineHandler, at: { line: number }, afterChunk?: () => void): Promise<number> {
  let carry: Buffer | null = null;
  for await (const chunk0 of stream) {
    const chunk: Buffer = carry ? Buffer.concat([carry, chunk0]) : chunk0;
    carry = null;
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      at.line++;
      let end = nl;
      if (end > pos && chunk[end - 1] === 13) end--;
      if (end > pos && onLine(chunk, pos, end, at.line) === false) return at.line;
      pos = nl + 1;
    }
    if (pos < chunk.length) carry = Buffer.from(chunk.subarray(pos));
    afterChunk?.();
  }
  if (carry && carry.length > 0) {
    at.line++;
    let end = carry.length;
    if (carry[end - 1] === 13) end--;
    if (end > 0) onLine(carry, 0, end, at.line);
  }
  return at.line;
}

/**
 * Split `buf[start, end)` at commas into `starts`/`ends` (field byte ranges). Double-quoted fields are honoured
 * (the quotes are stripped; doubled quotes inside are left as-is here: the NetFlow reader's text fields undo them).
 * Returns the number of fields; fields beyond `starts.length` are counted but not recorded.
 */
export function splitFields(buf: Buffer, start: number, end: number, starts: Int32Array, ends: Int32Array, sep = 44): number {
  let n = 0;
  let p = start;
  const cap = starts.length;
  for (;;) {
    if (p < end && buf[p] === 34) {
      // quoted field
      let q = p + 1;
      for (;;) {
        const c = buf.indexOf(34, q);
        if (c < 0 || c >= end) {
          q = end;
          break;
        }
        if (c + 1 < end && buf[c + 1] === 34) {
          q = c + 2;
          continue;
        }
        q = c;
        break;
      }
      if (n < cap) {
        starts[n] = p + 1;
        ends[n] = q;
      }
      n++;
      const comma = q < end ? buf.indexOf(sep, q) : -1;
      if (comma < 0 || comma >= end) return n;
      p = comma + 1;
      continue;
    }
    let c = p;
    while (c < end && buf[c] !== sep) c++;
    if (n < cap) {
      starts[n] = p;
      ends[n] = c;
    }
    n++;
    if (c >= end) return n;
    p = c + 1;
  }
}

/** Trim ASCII spaces/tabs: returns [s, e]. */
export function trimRange(buf: Buffer, s: number, e: number): [number, number] {
  while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
  while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
  return [s, e];
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parse a decimal number from ASCII bytes, correctly rounded (Clinger's fast path: an exact integer mantissa
 * below 2^53 divided or multiplied by an exact power of ten; anything longer falls back to `Number`).
 * Returns NaN when the bytes are not a number. Leading/trailing spaces are ignored.
 */
export function parseNumber(buf: Buffer, s: number, e: number): number {
  while (s < e && buf[s] === 32) s++;
  while (e > s && buf[e - 1] === 32) e--;
  if (s >= e) return NaN;
  let p = s;
  let neg = false;
  if (buf[p] === 45) {
    neg = true;
    p++;
  } else if (buf[p] === 43) p++;
  let mant = 0;
  let digits = 0;
  let frac = 0;
  let sawDigit = false;
  let c = 0;
  while (p < e) {
    c = buf[p]!;
    if (c < 48 || c > 57) break;
    if (digits > 0 || c !== 48) digits++;
    mant = mant * 10 + (c - 48);
    sawDigit = true;
    p++;
  }
  if (p < e && buf[p] === 46) {
    p++;
    while (p < e) {
      c = buf[p]!;
      if (c < 48 || c > 57) break;
      if (digits > 0 || c !== 48) digits++;
      mant = mant * 10 + (c - 48);
      frac++;
      sawDigit = true;
      p++;
    }
  }
  if (!sawDigit) return NaN;
  if (p < e) {
    // exponent, or junk: let Number decide (rare path)
    const v = Number(buf.toString('latin1', s, e));
    return v;
  }
  if (digits > 15 || frac > 22) return Number(buf.toString('latin1', s, e));
  const v = frac === 0 ? mant : mant / POW10[frac]!;
  return neg ? -v : v;
}

/** Parse a non-negative decimal integer; -1 when not one (fractional part ".0…" accepted). */
export function parseUint(buf: Buffer, s: number, e: number): number {
  while (s < e && buf[s] === 32) s++;
  while (e > s && buf[e - 1] === 32) e--;
  if (s >= e) return -1;
  let v = 0;
  let p = s;
  for (; p < e; p++) {
    const c = buf[p]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  if (p === s) return -1;
  if (p < e) {
    if (buf[p] !== 46) return -1;
    for (p++; p < e; p++) if (buf[p] !== 48) return -1;
  }
  return v > Number.MAX_SAFE_INTEGER ? -1 : v;
}

/** Dotted-quad IPv4 from bytes to a host-order uint32; -1 when malformed. */
export function parseIpv4Bytes(buf: Buffer, s: number, e: number): number {
  while (s < e && buf[s] === 32) s++;
  while (e > s && buf[e - 1] === 32) e--;
  let v = 0;
  let part = 0;
  let nd = 0;
  let parts = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c === 46) {
      if (nd === 0 || part > 255) return -1;
      v = v * 256 + part;
      parts++;
      part = 0;
      nd = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++nd > 3) return -1;
    } else return -1;
  }
  if (parts !== 3 || nd === 0 || part > 255) return -1;
  return (v * 256 + part) >>> 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian civil date (Howard Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digitsAt(buf: Buffer, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[p + i]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * `YYYY-MM-DD[ T]HH:MM:SS[.frac]` or `YYYY/MM/DD HH:MM:SS[.frac]` (UTC; a trailing `Z` is accepted) to µs since the epoch; NaN when malformed.
 * Fractions are kept to the microsecond.
 */
export function parseDateTimeUs(buf: Buffer, s: number, e: number): number {
  while (s < e && buf[s] === 32) s++;
  while (e > s && buf[e - 1] === 32) e--;
  if (e > s && buf[e - 1] === 90) e--; // 'Z'
  if (e - s < 19) return NaN;
  // date separator '-' (ISO) or '/' (Argus), the same in both places
  const ds = buf[s + 4];
  if ((ds !== 45 && ds !== 47) || buf[s + 7] !== ds || buf[s + 13] !== 58 || buf[s + 16] !== 58) return NaN;
  const sep = buf[s + 10];
  if (sep !== 32 && sep !== 84) return NaN;
  const y = digitsAt(buf, s, 4);
  const mo = digitsAt(buf, s + 5, 2);
  const d = digitsAt(buf, s + 8, 2);
  const h = digitsAt(buf, s + 11, 2);
  const mi = digitsAt(buf, s + 14, 2);
  const sec = digitsAt(buf, s + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return NaN;
  let us = 0;
  let p = s + 19;
  if (p < e) {
    if (buf[p] !== 46) return NaN;
    p++;
    let scale = 100000;
    for (; p < e; p++) {
      const c = buf[p]! - 48;
      if (c < 0 || c > 9) return NaN;
      us += c * scale;
      scale = scale / 10;
    }
    us = Math.round(us);
  }
  const days = daysFromCivil(y, mo, d);
  return ((days * 24 + h) * 60 + mi) * 60e6 + sec * 1e6 + us;
}

/** The last whole second formatDateTimeUs printed (records come sorted by time: most share their neighbour's). */
let lastSecond = NaN;
let lastSecondText = '';

/** Format µs since epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), trailing fraction zeros trimmed. */
export function formatDateTimeUs(t: number): string {
  // whole µs first: a time a fraction of a µs before a second is that second (it printed as ".1" of the one before)
  const us = Math.round(t);
  const sec = Math.floor(us / 1e6);
  if (sec !== lastSecond) {
    const iso = new Date(sec * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    lastSecond = sec;
    lastSecondText = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  }
  const fracUs = us - sec * 1e6;
  if (!(fracUs > 0)) return lastSecondText;
  let frac = String(fracUs).padStart(6, '0');
  while (frac.charCodeAt(frac.length - 1) === 48) frac = frac.slice(0, -1);
  return `${lastSecondText}.${frac}`;
}

/** A growable typed-array column. */
export class Grow<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array> {
  data: T;
  length = 0;
  constructor(private readonly ctor: new (n: number) => T, initial = 1 << 16) {
    this.data = new ctor(initial);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new this.ctor(this.data.length * 2);
      (next as unknown as { set(a: T): void }).set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Trimmed copy (or view when exact). */
  done(): T {
    return (this.length === this.data.length ? this.data : this.data.slice(0, this.length)) as T;
  }
}
