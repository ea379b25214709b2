// Loads the compiled C++ addon (build/Release/netshare_native.node) once, with a clear error when it is missing.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetShareError } from '../errors.js';

/** Raw binding surface; typed wrappers live beside this file. */
export interface NativeBinding {
  libpcapVersion(): string;
  [name: string]: unknown;
}

let cached: NativeBinding | undefined;

/** Project root: the folder holding package.json, found from this file (src/ or dist/src/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new NetShareError('cannot locate the netshare project root (package.json + binding.gyp)');
}

export function nativeBinding(): NativeBinding {
  if (cached) return cached;
  const root = projectRoot();
  const candidates = [
    process.env.NETSHARE_NATIVE_ADDON,
    join(root, 'build', 'Release', 'netshare_native.node'),
    join(root, 'build', 'Debug', 'netshare_native.node'),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new NetShareError(
      `the native addon is not built (looked for ${candidates.join(', ')}); run \`npm run build:native\` (needs libpcap-dev)`,
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(found) as NativeBinding;
  return cached;
}
