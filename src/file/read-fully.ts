import fs from 'node:fs';

/**
 * Reads `length` bytes of `fd` at file offset `position` into `target` at `offset`, looping over
 * short reads. Returns how many it got: less than `length` only when the file ended first (each
 * caller decides what that means: a file that shrank, or the end of a window). OS errors throw.
 * Used by every synchronous reader (the `sync` strategy, the read worker, the scan workers).
 */
export function readFullySync(
  fd: number,
  target: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  let filled = 0;
  while (filled < length) {
    const bytes = fs.readSync(fd, target, offset + filled, length - filled, position + filled);
    if (bytes === 0) break;
    filled += bytes;
  }
  return filled;
}
