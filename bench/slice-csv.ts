// Shared by the end-to-end benchmarks: the header and the first `n` records of a (gzip'd) CSV, into a new file.
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** The header and the first `n` records of a (gzip'd) CSV. */
export async function sliceCsv(file: string, n: number, out: string): Promise<void> {
  const rl = createInterface({ input: file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file) });
  const w = createWriteStream(out);
  let lines = 0;
  for await (const line of rl) {
    w.write(`${line}\n`);
    if (++lines > n) break;
  }
  rl.close();
  await new Promise((r) => w.end(r));
}
