// The version of the model code a trained checkpoint depends on, for stage and job fingerprints.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../native/addon.js';
import { InternalError } from '../errors.js';

let cached: string | undefined;

/**
 * Hash of the preset step graphs in models/ (tests/model/models.test.ts keeps them equal to what the compiler emits),
 * so any change to the networks, losses, gradient rules or optimizer changes it and retrains instead of reusing
 * checkpoints made by other code.
 */
export function graphCodeVersion(): string {
  if (cached) return cached;
  const dir = join(projectRoot(), 'models');
  const h = createHash('sha256');
  let files = 0;
  for (const preset of readdirSync(dir).sort()) {
    for (const f of readdirSync(join(dir, preset)).sort()) {
      if (!f.endsWith('.onnx')) continue;
      h.update(`${preset}/${f}\0`);
      h.update(readFileSync(join(dir, preset, f)));
      files++;
    }
  }
  if (files === 0) throw new InternalError(`no step graphs in ${dir}: the package is incomplete (run npx vite-node scripts/emit-models.ts)`);
  cached = h.digest('hex').slice(0, 16);
  return cached;
}

/** The netshare package version (package.json), which workers compare with their driver's. */
export function netshareVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
