/**
 * File types by their `d_type` number (`<dirent.h>`): what the native `listDirectory` reports, what
 * `scanTree`'s walk classifies entries by, and the one table of their names in messages. No addon
 * here: sluice/file's error mapping (also loaded by its read worker threads) uses it.
 */

/** `d_type` values (`<dirent.h>`), as the addon's `listDirectory` reports them. */
export const DirentType = {
  FIFO: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 4,
  BLOCK_DEVICE: 6,
  FILE: 8,
  SYMBOLIC_LINK: 10,
  SOCKET: 12,
} as const;

/** What both `fs.Dirent` and `fs.Stats` can say of a file's type. */
export interface TypePredicates {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}

/** The `DirentType` of a Dirent or Stats (0 when none of its predicates holds). */
export function direntTypeOf(entry: TypePredicates): number {
  if (entry.isFile()) return DirentType.FILE;
  if (entry.isDirectory()) return DirentType.DIRECTORY;
  if (entry.isSymbolicLink()) return DirentType.SYMBOLIC_LINK;
  if (entry.isFIFO()) return DirentType.FIFO;
  if (entry.isSocket()) return DirentType.SOCKET;
  if (entry.isCharacterDevice()) return DirentType.CHARACTER_DEVICE;
  if (entry.isBlockDevice()) return DirentType.BLOCK_DEVICE;
  return 0;
}

/** What a non-regular file of `DirentType` `type` is called in `SLUICE_ERR_NOT_A_FILE` messages. */
export function kindOfType(type: number): string {
  switch (type) {
    case DirentType.DIRECTORY:
      return 'directory';
    case DirentType.FIFO:
      return 'FIFO';
    case DirentType.SOCKET:
      return 'socket';
    case DirentType.CHARACTER_DEVICE:
      return 'character device';
    case DirentType.BLOCK_DEVICE:
      return 'block device';
    default:
      return 'special file';
  }
}
