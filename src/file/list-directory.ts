/**
 * How `scanTree`'s walk lists a directory on the main thread without ever blocking it for long.
 *
 * A small directory is listed right here: ~11 us for a kernel-sized directory of ~18 entries, where
 * the threadpool round trip costs ~15 us of this thread plus the pool thread's CPU (in the `scan`
 * experiment, 4,045 directories: ~45 ms in all synchronously, ~150 ms of CPU through the pool,
 * competing with the readers for 2 cores). A large one goes to the threadpool, so that a directory
 * of a million entries never blocks the event loop (~0.6 us per entry).
 *
 * - With the native addon: `listDirectory` (`native/list-directory.c`) lists up to
 *   `SYNC_LIST_ENTRIES` entries in one call and gives up past them, so the time it blocks is
 *   bounded by what it reads, and no `stat` is needed to decide.
 * - Without it: the directory's size (`statSync`; ext4 takes ~30 bytes per entry) decides between
 *   `readdirSync` and the threadpool, one more syscall and Stats object per directory.
 */
import fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { direntTypeOf } from './dirent-type.js';
import { listDirectory as listNative } from './native.js';

/**
 * A directory's entries but `.` and `..`, in name order: `names[i]` is of type `types[i]` (a
 * `DirentType`; 0 when the file system said nothing and readdir could not tell).
 *
 * Name order is the order of the names' UTF-8 bytes, which is their code point order (the addon
 * sorts bytes with qsort; without it they are sorted by code point in JavaScript). It differs from
 * JavaScript's `<` (UTF-16 code units) only between characters above U+FFFF and U+E000-U+FFFF.
 */
export interface DirectoryListing {
  readonly names: string[];
  readonly types: Uint8Array;
}

/** Directories of at most this many entries are listed on the calling thread (natively). */
export const SYNC_LIST_ENTRIES = 2048;

/** Without the addon: directories up to this size (bytes, as `stat` reports it) are listed synchronously. */
const SYNC_LIST_BYTES = 64 * 1024;

/** Filled by each native call and copied before the next (one thread, no await in between). */
const nativeTypes = new Uint8Array(SYNC_LIST_ENTRIES);

/** Lists `path` in name order; rejects with an fs-shaped error (`code`, `syscall`, `path`). */
export function listDirectory(path: string): Promise<DirectoryListing> {
  if (listNative !== undefined) {
    const listed = listNative(path, nativeTypes);
    if (typeof listed === 'string') {
      const names = listed.split('/');
      names.pop(); // after the last '/'
      return Promise.resolve({ names, types: nativeTypes.slice(0, names.length) });
    }
    if (typeof listed === 'number') return Promise.reject(listingError(path, listed));
    // null: more than SYNC_LIST_ENTRIES entries, listed on the threadpool below
  } else if (smallBySize(path)) {
    try {
      return Promise.resolve(fromDirents(fs.readdirSync(path, { withFileTypes: true })));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    fs.readdir(path, { withFileTypes: true }, (error, entries) =>
      error ? reject(error) : resolve(fromDirents(entries)),
    );
  });
}

/** readdir's entries as a listing: sorted by code point, as the addon sorts them by byte. */
function fromDirents(entries: fs.Dirent[]): DirectoryListing {
  entries.sort((a, b) => compareCodePoints(a.name, b.name));
  const names: string[] = new Array(entries.length);
  const types = new Uint8Array(entries.length);
  for (let index = 0; index < entries.length; index++) {
    names[index] = entries[index]!.name;
    types[index] = direntTypeOf(entries[index]!);
  }
  return { names, types };
}

/**
 * Code point order, as UTF-8 byte order is: UTF-16 code units compare the same way except that a
 * surrogate (0xD800-0xDFFF, half of a character above U+FFFF) must come after 0xE000-0xFFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** The error `readdirSync` would throw for errno `-negativeErrno`. */
function listingError(path: string, negativeErrno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(negativeErrno);
  const error: NodeJS.ErrnoException = new Error(`${code}: cannot list the directory, scandir '${path}'`);
  error.code = code;
  error.errno = negativeErrno;
  error.syscall = 'scandir';
  error.path = path;
  return error;
}

function smallBySize(path: string): boolean {
  try {
    return fs.statSync(path).size <= SYNC_LIST_BYTES;
  } catch {
    return false; // listed on the threadpool, which reports the error
  }
}
