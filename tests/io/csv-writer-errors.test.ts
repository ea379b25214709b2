// CSV writers under stream errors: an unwritable path or an abort with writes in flight is a NetShareError (or a
// quiet abort), never an unhandled 'error' event, and nothing is left at the destination.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetShareError } from '../../src/errors.js';
import { PacketsCsvWriter, writePacketsCsv } from '../../src/io/packets-csv.js';
import { writeFlowCsv } from '../../src/io/netflow-csv.js';
import { allocFlowTable, allocPacketTable } from '../../src/io/table.js';

function packets(n: number) {
  const t = allocPacketTable(n);
  for (let i = 0; i < n; i++) {
    t.time[i] = 1e15 + i;
    t.ipVersion[i] = 4;
    t.proto[i] = 6;
    t.ihl[i] = 20;
    t.pktLen[i] = 40;
  }
  return t;
}

describe('CSV writers on stream errors', () => {
  it('a folder that does not exist: NetShareError from the writer, no unhandled error', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ns-csvw-')), 'missing');
    for (const f of ['p.csv', 'p.csv.gz']) {
      await expect(writePacketsCsv(join(dir, f), packets(10))).rejects.toBeInstanceOf(NetShareError);
      await expect(writeFlowCsv(join(dir, f), allocFlowTable(3))).rejects.toBeInstanceOf(NetShareError);
    }
  });
  it('abort right after opening (the reader failed on its first bytes) leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ns-csvw-'));
    for (const f of ['a.csv', 'a.csv.gz']) {
      const w = new PacketsCsvWriter(join(dir, f));
      await w.abort();
      await w.abort();
      const w2 = new PacketsCsvWriter(join(dir, f));
      await w2.write(packets(50_000));
      await w2.abort();
    }
    await new Promise((r) => setTimeout(r, 50)); // late stream events would surface here as unhandled errors
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, 'a.csv'))).toBe(false);
  });
});
