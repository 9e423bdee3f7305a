import {
  FileNotFoundError,
  FilePermissionError,
  FileReadError,
  NotAFileError,
  SluiceError,
} from '../errors.js';
import { direntTypeOf, kindOfType, type TypePredicates } from './dirent-type.js';

/** Turns an OS error from opening or reading `path` into the sluice error users match on. */
export function fromOsError(path: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FileNotFoundError(path, error);
    case 'EACCES':
    case 'EPERM':
      return new FilePermissionError(path, error);
    case 'EISDIR':
      return new NotAFileError(path, 'directory');
    default:
      return new FileReadError(path, error);
  }
}

/** The kind of a non-regular file, for `SLUICE_ERR_NOT_A_FILE` messages. */
export function kindOf(stats: TypePredicates): string {
  return kindOfType(direntTypeOf(stats));
}
