// Shared by the end-to-end benchmarks: the header and `n` records of a (gzip'd) CSV (the first, or after `skip`), into a new file.
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** The header and `n` records of a (gzip'd) CSV: the first ones, or those after the first `skip`. */
export async function sliceCsv(file: string, n: number, out: string, skip = 0): Promise<void> {
  const rl = createInterface({ input: file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file) });
  const w = createWriteStream(out);
  let lines = 0;
  for await (const line of rl) {
    if (lines === 0 || lines > skip) w.write(`${line}\n`);
    if (++lines > skip + n) break;
  }
  rl.close();
  await new Promise((r) => w.end(r));
}
