/** A `sluice` subcommand. Each lives in `src/cli/commands/<name>.ts` and is listed in `commands/index.ts`. */
export interface Command {
  name: string;
  /** One line for `sluice --help`. */
  summary: string;
  /** The full text of `sluice <name> --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[], io: CommandIo): Promise<number>;
}

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** True when stderr is a terminal (progress bars redraw in place only then). */
  interactive: boolean;
}
