/**
 * One version of a file: device, inode, size and mtime in ns, as `fs.stat(path, { bigint: true })`
 * gives them. A deferred CRC is the CRC of one version; every read of the file for the archive
 * checks that it still reads that version, so a CRC never goes out with bytes of another one.
 *
 * A write changes the mtime (to the kernel's current time), so any write after a version was seen
 * makes a different version, except a write within the same timestamp tick as the one that made
 * it: such a file is "racily clean" (as git calls it) and its bytes are checked by CRC instead.
 */
import type { BigIntStats } from 'node:fs';
import { ZipSourceChangedError } from '../errors.js';

export interface FileVersion {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}

/** What a non-bigint `fs.Stats` (e.g. a managed reader's `stats`) says of a file's version. */
export interface NumericFileStats {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export function versionOf(stats: BigIntStats): FileVersion {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs };
}

const NS_PER_S = 1_000_000_000n;

/**
 * The mtime as the `mtimeMs` of a non-bigint `fs.Stats` of the same version: Node computes it as
 * `sec * 1e3 + nsec / 1e6` (lib/internal/fs/utils.js, msFromTimeSpec), so the same computation
 * here gives the same double, and two versions compare equal only when their ns are within the
 * double's resolution (~0.25 us for today's dates).
 */
export function mtimeMsOf(mtimeNs: bigint): number {
  let seconds = mtimeNs / NS_PER_S;
  if (mtimeNs < 0n && seconds * NS_PER_S !== mtimeNs) seconds -= 1n; // timespec: nsec in [0, 1e9)
  const nanoseconds = mtimeNs - seconds * NS_PER_S;
  return Number(seconds) * 1e3 + Number(nanoseconds) / 1e6;
}

/** Throws `SLUICE_ERR_ZIP_SOURCE_CHANGED` when `actual` is not `expected`, naming what differs. */
export function checkVersion(path: string, expected: FileVersion, actual: FileVersion): void {
  if (actual.size !== expected.size) {
    throw new ZipSourceChangedError(path, 'size', Number(expected.size), Number(actual.size));
  }
  if (actual.mtimeNs !== expected.mtimeNs) {
    throw new ZipSourceChangedError(
      path,
      'mtime (ms)',
      mtimeMsOf(expected.mtimeNs),
      mtimeMsOf(actual.mtimeNs),
    );
  }
  checkSameFile(path, expected, { ino: Number(actual.ino), dev: Number(actual.dev) });
}

/** The same check against a non-bigint `fs.Stats` (mtime to the resolution of its `mtimeMs`). */
export function checkStats(path: string, expected: FileVersion, actual: NumericFileStats): void {
  if (actual.size !== Number(expected.size)) {
    throw new ZipSourceChangedError(path, 'size', Number(expected.size), actual.size);
  }
  const mtimeMs = mtimeMsOf(expected.mtimeNs);
  if (actual.mtimeMs !== mtimeMs)
    throw new ZipSourceChangedError(path, 'mtime (ms)', mtimeMs, actual.mtimeMs);
  checkSameFile(path, expected, actual);
}

function checkSameFile(path: string, expected: FileVersion, actual: { ino: number; dev: number }): void {
  // a file replaced by another (a rename over it) of the same size and mtime
  if (actual.ino !== Number(expected.ino)) {
    throw new ZipSourceChangedError(path, 'inode', Number(expected.ino), actual.ino);
  }
  if (actual.dev !== Number(expected.dev)) {
    throw new ZipSourceChangedError(path, 'device', Number(expected.dev), actual.dev);
  }
}
