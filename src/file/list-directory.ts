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
import { DirentType, listDirectory as listNative } from './native.js';

/** What the walk needs to know of an entry (an `fs.Dirent` is one). */
export interface DirectoryEntry {
  readonly name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}

/** Directories of at most this many entries are listed on the calling thread (natively). */
export const SYNC_LIST_ENTRIES = 2048;

/** Without the addon: directories up to this size (bytes, as `stat` reports it) are listed synchronously. */
const SYNC_LIST_BYTES = 64 * 1024;

/** One entry as the addon listed it: its name and `d_type`. */
class ListedEntry implements DirectoryEntry {
  readonly name: string;
  readonly #type: number;

  constructor(name: string, type: number) {
    this.name = name;
    this.#type = type;
  }

  isFile(): boolean {
    return this.#type === DirentType.FILE;
  }
  isDirectory(): boolean {
    return this.#type === DirentType.DIRECTORY;
  }
  isSymbolicLink(): boolean {
    return this.#type === DirentType.SYMBOLIC_LINK;
  }
  isFIFO(): boolean {
    return this.#type === DirentType.FIFO;
  }
  isSocket(): boolean {
    return this.#type === DirentType.SOCKET;
  }
  isCharacterDevice(): boolean {
    return this.#type === DirentType.CHARACTER_DEVICE;
  }
  isBlockDevice(): boolean {
    return this.#type === DirentType.BLOCK_DEVICE;
  }
}

/** Filled by each native call and read before the next (one thread, no await in between). */
const types = new Uint8Array(SYNC_LIST_ENTRIES);

/** Lists `path`, in no particular order; rejects with an fs-shaped error (`code`, `syscall`, `path`). */
export function listDirectory(path: string): Promise<DirectoryEntry[]> {
  if (listNative !== undefined) {
    const listed = listNative(path, types);
    if (typeof listed === 'string') return Promise.resolve(toEntries(listed));
    if (typeof listed === 'number') return Promise.reject(listingError(path, listed));
    // null: more than SYNC_LIST_ENTRIES entries, listed on the threadpool below
  } else if (smallBySize(path)) {
    try {
      return Promise.resolve(fs.readdirSync(path, { withFileTypes: true }));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    fs.readdir(path, { withFileTypes: true }, (error, entries) => (error ? reject(error) : resolve(entries)));
  });
}

/** The names string (each name followed by '/') and `types`, as entries. */
function toEntries(names: string): ListedEntry[] {
  const split = names.split('/');
  const entries: ListedEntry[] = new Array(split.length - 1);
  for (let index = 0; index < entries.length; index++)
    entries[index] = new ListedEntry(split[index]!, types[index]!);
  return entries;
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
