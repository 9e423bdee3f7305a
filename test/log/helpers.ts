import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../../src/errors.js';

/** A fresh directory under the OS temp dir; remove it with `removeDir`. */
export function tempDir(prefix = 'sluice-log-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const codeOf =
  (code: string) =>
  (error: unknown): boolean =>
    error instanceof SluiceError && error.code === code;

/**
 * The known contents of record `lsn` in the crash and recovery tests: length 0..299 and bytes both
 * derived from the LSN, so a record can be checked without remembering what was written.
 */
export function expectedRecord(lsn: number): Buffer {
  let state = (lsn * 2654435761) >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const length = next() % 300;
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = next() & 0xff;
  return bytes;
}
