import { readFileSync } from 'node:fs';
import { SluiceError } from '../errors.js';
import type { CommandIo } from './command.js';
import { commands } from './commands/index.js';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function helpText(): string {
  const width = Math.max('--version'.length, ...commands.map((command) => command.name.length));
  const lines = [
    'sluice: async I/O for Node.js as fast as sync I/O, with flat memory',
    '',
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Options:',
    `  ${'--help'.padEnd(width)}  show this help, or a command's help with sluice <command> --help`,
    `  ${'--version'.padEnd(width)}  print the version`,
    '',
    'Errors carry stable codes (SLUICE_ERR_*); see docs/errors.md.',
  ];
  return `${lines.join('\n')}\n`;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? commands.find((command) => command.name === rest[0]) : undefined;
    io.stdout.write(topic ? topic.usage : helpText());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${packageJson.version}\n`);
    return 0;
  }
  const command = commands.find((candidate) => candidate.name === first);
  if (command === undefined) {
    io.stderr.write(`sluice: unknown command "${first}"\n\n${helpText()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof SluiceError) {
      io.stderr.write(`sluice ${command.name}: ${error.message} [${error.code}]\n`);
      return error.code === 'SLUICE_ERR_USAGE' ? 2 : 1;
    }
    throw error;
  }
}
