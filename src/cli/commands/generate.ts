// `netshare generate`: from a trained workdir, generate, postprocess (best checkpoint per chunk) and evaluate.
import type { Argv, CommandModule } from 'yargs';
import { pipelineOptions, runCommandHandler, type PipelineArgs } from './run.js';

export const generateCommand: CommandModule<object, PipelineArgs> = {
  command: 'generate',
  describe: 'Generate a synthetic trace from a workdir trained by `netshare train` (writes --out and the report)',
  builder: (y: Argv) => pipelineOptions(y, 'generate') as unknown as Argv<PipelineArgs>,
  handler: (args) => runCommandHandler(args, 'generate'),
};
