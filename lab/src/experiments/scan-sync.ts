/** The synchronous readers of the `scan` experiment, used on the main thread and in workers. */
import fs from 'node:fs';
import { NeedleSearch } from './scan-search.js';

export interface RangeJob {
  file: string;
  start: number;
  /** Inclusive. */
  end: number;
  needle: string;
}

/** Searches one file with `readSync` into `buffer` (reused for every file); returns its bytes. */
export function searchFileSync(file: string, buffer: Buffer, search: NeedleSearch): number {
  const fd = fs.openSync(file, 'r');
  let total = 0;
  try {
    search.begin();
    for (let bytes = fs.readSync(fd, buffer, 0, buffer.length, null); bytes > 0; ) {
      search.feed(buffer.subarray(0, bytes));
      total += bytes;
      bytes = fs.readSync(fd, buffer, 0, buffer.length, null);
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** Searches bytes `start..end` of one file with positional `readSync`s of 256 KiB. */
export function searchRangeSync(job: RangeJob): { files: number; bytes: number; matches: number } {
  const search = new NeedleSearch(job.needle);
  const buffer = Buffer.allocUnsafeSlow(256 * 1024);
  const fd = fs.openSync(job.file, 'r');
  let bytes = 0;
  try {
    for (let position = job.start; position <= job.end; ) {
      const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, job.end - position + 1), position);
      if (read === 0) break;
      search.feed(buffer.subarray(0, read));
      position += read;
      bytes += read;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { files: 1, bytes, matches: search.matches };
}
