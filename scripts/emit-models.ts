// Regenerates models/ from the compiler: `npx vite-node scripts/emit-models.ts` (or node dist/scripts/emit-models.js).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitPresetModels } from '../src/model/emit.js';

const here = dirname(fileURLToPath(import.meta.url));
// Works from scripts/ (vite-node) and from dist/scripts/ (compiled).
const root = resolve(here, here.includes(`${join('dist', 'scripts')}`) ? '../..' : '..');
for (const [rel, bytes] of emitPresetModels()) {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  console.log(`${rel}  ${bytes.length} bytes`);
}
