// Environment facts for `netshare info` and the workdir manifest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeBinding, projectRoot } from '../native/addon.js';

export interface EnvironmentInfo {
  netshare: string;
  node: string;
  libpcap: string;
  onnxruntime: string;
  executionProviders: string[];
}

export async function environmentInfo(): Promise<EnvironmentInfo> {
  const root = projectRoot();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const ortPkg = JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as {
    version: string;
  };
  const { ort } = await import('../runtime/session.js');
  const backends = ort.listSupportedBackends().map((b) => `${b.name}${b.bundled ? '' : ' (needs provider libraries)'}`);
  return {
    netshare: pkg.version,
    node: process.version,
    libpcap: nativeBinding().libpcapVersion(),
    onnxruntime: ortPkg.version,
    executionProviders: backends,
  };
}
