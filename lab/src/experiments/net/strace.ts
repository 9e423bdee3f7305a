/**
 * Counting a child process's write syscalls with `strace -f -c -e trace=write,writev,sendmsg`
 * (ptrace: it slows the process down, so opsPerS and latency come from a separate, untraced run).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const childEntry = fileURLToPath(new URL('../../harness/child-entry.js', import.meta.url));

let straceWorks: boolean | undefined;

/** Whether strace exists and may trace here (containers often forbid ptrace). */
export function straceAvailable(): boolean {
  if (straceWorks === undefined) {
    try {
      execFileSync('strace', ['-f', '-c', '-o', '/dev/null', '-e', 'trace=write', 'true'], {
        stdio: 'ignore',
      });
      straceWorks = true;
    } catch {
      straceWorks = false;
    }
  }
  return straceWorks;
}

/** Write syscalls in `strace -c` output, by name (write, writev, sendmsg). */
export function parseStraceCounts(summary: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of summary.split('\n')) {
    // % time     seconds  usecs/call     calls    errors syscall
    const match =
      /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(write|writev|sendmsg|sendto|pwrite64)\s*$/.exec(line);
    if (match) counts[match[2]!] = Number(match[1]);
  }
  return counts;
}

/**
 * Runs `exportName(args)` of `moduleUrl` under strace, like runInChild; returns its metrics plus
 * `writeSyscalls` (write + writev + sendmsg calls of the whole process, all threads).
 */
export function runTraced(
  moduleUrl: URL,
  exportName: string,
  args: unknown,
): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-strace-'));
  const output = path.join(dir, 'strace.txt');
  return new Promise((resolve, reject) => {
    const child = spawn(
      'strace',
      [
        '-f',
        '-c',
        '-e',
        'trace=write,writev,sendmsg',
        '-o',
        output,
        process.execPath,
        childEntry,
        String(moduleUrl),
        exportName,
        JSON.stringify(args),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk.slice(-4000);
    });
    child.on('close', (code) => {
      try {
        const line = stdout.split('\n').find((candidate) => candidate.startsWith('SLUICE_LAB_RESULT '));
        if (code !== 0 || line === undefined)
          throw new Error(`traced ${exportName} failed (${code}): ${stderr}`);
        const metrics = JSON.parse(line.slice('SLUICE_LAB_RESULT '.length)) as Record<string, number>;
        const counts = parseStraceCounts(readFileSync(output, 'utf8'));
        // The result line itself is one write.
        const writeSyscalls = (counts.write ?? 0) + (counts.writev ?? 0) + (counts.sendmsg ?? 0) - 1;
        resolve({ ...metrics, writeSyscalls });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
