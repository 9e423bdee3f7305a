import type { Command } from '../command.js';
import { zipCommand } from './zip.js';

/** Every subcommand, in the order `sluice --help` lists them. */
export const commands: readonly Command[] = [zipCommand];
