import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { xorshift32 } from '../../src/internal/xorshift.js';
import type { WalOptions } from '../../src/log/index.js';

/** A fresh directory under the OS temp dir; remove it with `removeDir`. */
export function tempDir(prefix = 'sluice-log-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Returns a maker of fresh directories that are all removed when the calling test file ends. */
export function tempDirsRemovedAfter(): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) removeDir(dir);
  });
  return () => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };
}

/** Small segments and batches, so that a few records cross segment and batch boundaries. */
export const smallWal: WalOptions = { segmentSize: 16 * 1024, maxBatchBytes: 4096, maxBytesInFlight: 8192 };

export const codeOf =
  (code: string) =>
  (error: unknown): boolean =>
    error instanceof SluiceError && error.code === code;

/**
 * The known contents of record `lsn` in the crash and recovery tests: length 0..299 and bytes both
 * derived from the LSN, so a record can be checked without remembering what was written.
 */
export function expectedRecord(lsn: number): Buffer {
  const next = xorshift32((lsn * 2654435761) >>> 0 || 1);
  const length = next() % 300;
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = next() & 0xff;
  return bytes;
}
