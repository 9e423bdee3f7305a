import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xorshift32 } from '../../src/internal/xorshift.js';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'sluice-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic bytes (xorshift32) so failures reproduce. */
export function patternBytes(size: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  const next = xorshift32(seed >>> 0 || 1);
  for (let i = 0; i < size; i++) bytes[i] = next() & 0xff;
  return bytes;
}

export function writeFile(dir: string, name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** The open file descriptors of this process, from /proc/self/fd. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Runs `script` (`node -e`) as the unprivileged user nobody and returns its trimmed stdout, or
 * `undefined` when this machine cannot start such a child (then `why` says so). Root reads any file
 * whatever its mode: permission errors can only be seen from an unprivileged process.
 */
export function runAsNobody(script: string): { output: string } | { why: string } {
  try {
    const output = execFileSync(process.execPath, ['-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
    });
    return { output: output.trim() };
  } catch (error) {
    return { why: `cannot run a child as nobody here: ${(error as Error).message.split('\n')[0]}` };
  }
}
