import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Metrics } from './types.js';

const childEntry = fileURLToPath(new URL('./child-entry.js', import.meta.url));

export interface ChildOptions {
  /** Extra `node` flags, e.g. `['--expose-gc']`. */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** The child is killed (and the run fails) after this long. */
  timeoutMs?: number;
}

/**
 * Runs `exportName(args)` from `moduleUrl` in a fresh Node process and returns its metrics, plus
 * the process's own `processUserMs`, `processSysMs` and `peakRssMb` (getrusage of the child).
 */
export function runInChild(
  moduleUrl: string | URL,
  exportName: string,
  args: unknown,
  options: ChildOptions = {},
): Promise<Metrics> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(options.execArgv ?? []), childEntry, String(moduleUrl), exportName, JSON.stringify(args ?? {})],
      { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('SLUICE_LAB_RESULT '));
      if (code === 0 && line !== undefined) {
        resolve(JSON.parse(line.slice('SLUICE_LAB_RESULT '.length)) as Metrics);
        return;
      }
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
      reject(new Error(`${exportName} in a child process failed (${how}): ${stderr.trim().slice(-2000)}`));
    });
  });
}
