// models/ holds the preset step graphs exactly as the compiler emits them (regenerate: npx vite-node scripts/emit-models.ts).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitPresetModels } from '../../src/model/emit.js';
import { createSession } from '../../src/runtime/session.js';

const root = join(import.meta.dirname, '..', '..');

describe('models/', () => {
  const fresh = emitPresetModels();
  it('the committed preset graphs equal a fresh emission byte for byte', () => {
    expect([...fresh.keys()].sort()).toEqual([
      'models/netflow/d_step.onnx', 'models/netflow/g_step.onnx', 'models/netflow/generator.onnx', 'models/netflow/iteration.onnx',
      'models/pcap/d_step.onnx', 'models/pcap/g_step.onnx', 'models/pcap/generator.onnx', 'models/pcap/iteration.onnx',
    ]);
    for (const [rel, bytes] of fresh) {
      const path = join(root, rel);
      expect(existsSync(path), `${rel} missing: run npx vite-node scripts/emit-models.ts`).toBe(true);
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes)), `${rel} differs from a fresh emission: run npx vite-node scripts/emit-models.ts`).toBe(true);
      expect(bytes.length).toBeLessThan(2 * 1024 * 1024);
    }
  });
  it('onnxruntime loads the netflow step graphs', async () => {
    for (const f of ['d_step', 'generator']) {
      const s = await createSession(readFileSync(join(root, `models/netflow/${f}.onnx`)), { intraOpThreads: 1 });
      expect(s.inputNames.length).toBeGreaterThan(4);
      await s.release();
    }
  });
});
