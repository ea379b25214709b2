// The list of `netshare` commands; each lives in its own file exporting a yargs CommandModule.
import type { CommandModule } from 'yargs';
import { infoCommand } from './info.js';
import { convertCommand } from './convert.js';
import { evalCommand } from './eval.js';
import { preprocessCommand } from './preprocess.js';
import { runCommand } from './run.js';
import { trainCommand } from './train.js';
import { generateCommand } from './generate.js';
import { dashboardCommand, workerCommand } from './worker.js';

// Each command file adds itself here (one import + one entry).
export const commands: CommandModule<object, never>[] = [infoCommand as CommandModule<object, never>, convertCommand as CommandModule<object, never>, evalCommand as CommandModule<object, never>, preprocessCommand as CommandModule<object, never>, runCommand as CommandModule<object, never>, trainCommand as CommandModule<object, never>, generateCommand as CommandModule<object, never>, workerCommand as CommandModule<object, never>, dashboardCommand as CommandModule<object, never>];
