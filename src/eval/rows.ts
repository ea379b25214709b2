// Validation of the columns the evaluation reads (finite times and sizes), whichever table kind. Generic row helpers
// (takeRows, concatTables, sortByTime, …) are io's: src/io/rows.ts.
import { InputError } from '../errors.js';
import type { Table } from '../io/table.js';

/** Check the columns the metrics read: same kind, finite times and sizes; throws InputError naming the side and row. */
export function validateTable(t: Table, side: string): void {
  if (t.length === 0) throw new InputError(`${side} trace has no records`, side);
  const check = (name: string, col: ArrayLike<number> | undefined): void => {
    if (col === undefined) throw new InputError(`${side} trace lacks column ${name}`, side);
    if (col.length < t.length) throw new InputError(`${side} trace column ${name} has ${col.length} rows, expected ${t.length}`, side);
    for (let i = 0; i < t.length; i++) {
      const v = col[i]!;
      if (!Number.isFinite(v)) throw new InputError(`${side} trace: ${name} is not a finite number at record ${i + 1} (${v})`, side, { line: i + 1 });
    }
  };
  if (t.kind === 'packets') {
    check('time', t.time);
    check('pktLen', t.pktLen);
  } else {
    check('ts', t.ts);
    check('td', t.td);
    check('pkt', t.pkt);
    check('byt', t.byt);
  }
  for (const c of ['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto'] as const) check(c, t[c]);
}
