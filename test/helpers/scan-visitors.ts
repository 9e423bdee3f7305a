/**
 * Visitor modules for `scanTree`'s worker threads (`ScanWorkerVisitor`), used by scan.test.ts:
 * each export is one behaviour a test asks for.
 */
import { createHash } from 'node:crypto';
import type { WorkerScanFile } from '../../src/file/index.js';

/** The file's SHA-1 through `windows()`, how it came (whole or in windows), and its stats' size and inode. */
export function digest(file: WorkerScanFile): {
  sha1: string;
  whole: boolean;
  statSize: number;
  ino: number;
} {
  const hash = createHash('sha1');
  for (const window of file.windows()) hash.update(window);
  const whole = file.contents !== undefined;
  return { sha1: hash.digest('hex'), whole, statSize: file.stats.size, ino: file.stats.ino };
}

/** The same, awaited: a visit may return a promise. */
export async function digestLater(file: WorkerScanFile): Promise<string> {
  const { sha1 } = digest(file);
  await new Promise((resolve) => setTimeout(resolve, 1));
  return sha1;
}

/**
 * Reads the file's stats only after awaiting a timer (still during the visit): what a batch read
 * keeps for it must not have been overwritten meanwhile.
 */
export async function statsLater(file: WorkerScanFile): Promise<{ ino: number; size: number; mode: number }> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  const { ino, size, mode } = file.stats;
  return { ino, size, mode };
}

let previous: WorkerScanFile | undefined;

/**
 * Never looks at a file's stats during its visit; asks for the previous file's, whose visit has
 * ended (its descriptor closed): returns what that threw, or 'no error'.
 */
export function statsAfterVisit(file: WorkerScanFile): string | undefined {
  let outcome: string | undefined;
  if (previous !== undefined) {
    try {
      void previous.stats;
      outcome = 'no error';
    } catch (error) {
      outcome = (error as Error).message;
    }
  }
  previous = file;
  return outcome;
}

/** The file's path relative to the root: the walk order, as `onResult` sees it. */
export function relativePath(file: WorkerScanFile): string {
  return file.relativePath;
}

/** Returns nothing: no message per file. */
export function nothing(): undefined {
  return undefined;
}

/** Throws a coded error at the file named in `data`. */
export function throwAt(file: WorkerScanFile, name: string): void {
  if (file.relativePath.endsWith(name))
    throw Object.assign(new RangeError(`boom at ${name}`), { code: 'E_BOOM' });
}

/** Returns what structured clone cannot copy. */
export function unclonable(): unknown {
  return () => 1;
}

export const notAFunction = 42;

/** Kills its thread: an exception nobody catches, thrown while the visit is pending. */
export function crash(): Promise<never> {
  setTimeout(() => {
    throw new Error('the worker thread dies');
  }, 0);
  return new Promise(() => {});
}

/** For `scanFile`: which part, the SHA-1 of the bytes its visit saw, and whether they came whole. */
export function partDigest(file: WorkerScanFile): {
  part: WorkerScanFile['part'];
  sha1: string;
  bytes: number;
  whole: boolean;
  size: number;
} {
  const hash = createHash('sha1');
  let bytes = 0;
  for (const window of file.windows()) {
    hash.update(window);
    bytes += window.length;
  }
  return {
    part: file.part,
    sha1: hash.digest('hex'),
    bytes,
    whole: file.contents !== undefined,
    size: file.size,
  };
}

/**
 * Counts the matches of `needle` in the bytes a visit sees, matches across windows included, and
 * only those that end in the part's own bytes ([start, end)): with an overlap of needle.length - 1,
 * every match of the file is counted by exactly one part.
 */
export function countNeedle(file: WorkerScanFile, needle: string): number {
  const wanted = Buffer.from(needle);
  const start = file.part?.start ?? 0;
  let position = file.part?.from ?? 0;
  let carry = Buffer.alloc(0);
  let found = 0;
  for (const window of file.windows()) {
    const joined = Buffer.concat([carry, window]);
    const base = position - carry.length;
    for (let at = joined.indexOf(wanted); at !== -1; at = joined.indexOf(wanted, at + 1)) {
      const end = base + at + wanted.length;
      // a match wholly inside the carried tail was counted with the window before
      if (at + wanted.length > carry.length && end > start) found++;
    }
    position += window.length;
    carry = Buffer.from(joined.subarray(Math.max(0, joined.length - (wanted.length - 1))));
  }
  return found;
}
