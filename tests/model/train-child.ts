// Child process for the kill test: trains the tiny config and hangs at a given iteration until killed.
import { trainChunk } from '../../src/model/index.js';
import { checkpointFiles } from '../../src/pipeline/checkpoints.js';
import { tinyConfig, tinyLayout, tinyTensors } from './synthetic.js';

const [dir, hangAt] = process.argv.slice(2);
await trainChunk({
  tensors: tinyTensors(200), layout: tinyLayout, config: { ...tinyConfig, checkpointEvery: 3 }, checkpoints: checkpointFiles(dir!), iterations: 7, seed: 9, threads: 1,
  onProgress: (p) => {
    process.stdout.write(`it ${p.iteration}\n`);
    if (p.iteration === Number(hangAt)) {
      process.stdout.write('hanging\n');
      // Block the event loop: only SIGKILL ends this process.
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  },
});
