/** Flags that take no value; every other `--flag value` is read as `--flag=value`. */
const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(['--quick', '--full', '--help', '-h']);

/**
 * Experiment-specific flags (`--crash 500`, `--clients 1000,5000`) are not declared to parseArgs,
 * which would read them as booleans followed by a stray word: join them with their value.
 */
export function joinFlagValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]!;
    const next = argv[index + 1];
    if (
      token.startsWith('--') &&
      !token.includes('=') &&
      !BOOLEAN_FLAGS.has(token) &&
      next !== undefined &&
      !next.startsWith('-')
    ) {
      joined.push(`${token}=${next}`);
      index++;
    } else {
      joined.push(token);
    }
  }
  return joined;
}
