import type { Command } from '../command.js';
import { echo } from './echo.js';
import { serveCommand } from './serve.js';
import { zipCommand } from './zip.js';

/** Every subcommand, in the order `sluice --help` lists them. */
export const commands: readonly Command[] = [serveCommand, zipCommand, echo];
