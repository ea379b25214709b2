// Test runner configuration: tests live in tests/ mirroring src/ and native/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // under CI=true a missing oracle (../shared data, tshark, Chromium, the build) fails the run instead of skipping
    // and every temporary file of the run goes under one directory, removed at the end (tests/tmpdir.ts)
    globalSetup: ['tests/oracles.ts', 'tests/tmpdir.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The machine has 2 cores; onnxruntime and the addon already use threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
