import type { Command } from '../command.js';
import { echo } from './echo.js';

/** Every subcommand, in the order `sluice --help` lists them. */
export const commands: readonly Command[] = [echo];
