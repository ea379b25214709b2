// `netshare train`: preprocess and train (chunk 0, then the fine-tuned chunks in parallel) into a workdir.
import type { Argv, CommandModule } from 'yargs';
import { pipelineOptions, runCommandHandler, type PipelineArgs } from './run.js';

export const trainCommand: CommandModule<object, PipelineArgs> = {
  command: 'train',
  describe: 'Preprocess a trace and train the per-chunk models into a workdir (resumable; then `netshare generate`)',
  builder: (y: Argv) => pipelineOptions(y, 'train') as unknown as Argv<PipelineArgs>,
  handler: (args) => runCommandHandler(args, 'train'),
};
