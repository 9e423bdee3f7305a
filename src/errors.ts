/**
 * The one registry of sluice errors.
 *
 * Every error sluice throws or rejects with is an instance of `SluiceError` with a stable `code`
 * (`SLUICE_ERR_*`). Codes are documented in `docs/errors.md`; `test/errors.test.ts` fails when a code
 * is missing there or documented but gone. A retired code is never reused.
 *
 * Messages say what was wrong and with which value; an OS error that caused ours is kept as `cause`
 * (its `code`, e.g. `ENOENT`, is copied to `syscallCode`), as in undici `lib/core/errors.js`.
 *
 * Sections follow the modules; add a module's errors under its heading.
 */

export class SluiceError extends Error {
  readonly code: string;
  /** The OS error code (`ENOENT`, `EACCES`, ...) when an OS error caused this one. */
  readonly syscallCode: string | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.syscallCode = syscallCodeOf(options?.cause);
  }
}

function syscallCodeOf(cause: unknown): string | undefined {
  if (typeof cause === 'object' && cause !== null && 'code' in cause) {
    const { code } = cause as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// General: arguments and options

/** An option or argument has the wrong type or is out of its range. */
export class InvalidArgumentError extends SluiceError {
  constructor(name: string, expected: string, actual: unknown) {
    super('SLUICE_ERR_INVALID_ARGUMENT', `${name} must be ${expected}; got ${describe(actual)}`);
  }
}

/** An operation was cancelled through its `AbortSignal`. */
export class AbortError extends SluiceError {
  constructor(what: string, reason?: unknown) {
    super('SLUICE_ERR_ABORTED', `${what} was aborted`, reason === undefined ? undefined : { cause: reason });
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/buffers

/** A window (pooled slab) was released twice (detected under `SLUICE_DEBUG=1`). */
export class DoubleReleaseError extends SluiceError {
  constructor(poolName: string, slabIndex: number) {
    super('SLUICE_ERR_DOUBLE_RELEASE', `buffer ${slabIndex} of pool "${poolName}" was released twice`);
  }
}

/** A buffer that was not acquired from this pool was released to it. */
export class ForeignBufferError extends SluiceError {
  constructor(poolName: string) {
    super('SLUICE_ERR_FOREIGN_BUFFER', `a buffer not acquired from pool "${poolName}" was released to it`);
  }
}

/** A window was read after it was released (detected under `SLUICE_DEBUG=1` by its poison pattern). */
export class UseAfterReleaseError extends SluiceError {
  constructor(what: string) {
    super('SLUICE_ERR_USE_AFTER_RELEASE', `${what} was used after it was released`);
  }
}

/** The pool was closed; acquiring from it, or waiting on it, fails with this error. */
export class PoolClosedError extends SluiceError {
  constructor(poolName: string) {
    super('SLUICE_ERR_POOL_CLOSED', `pool "${poolName}" is closed`);
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/file

/** The path does not exist. */
export class FileNotFoundError extends SluiceError {
  constructor(path: string, cause?: unknown) {
    super('SLUICE_ERR_FILE_NOT_FOUND', `no such file: ${path}`, { cause });
  }
}

/** The path is a directory (or another non-regular file) where a regular file was expected. */
export class NotAFileError extends SluiceError {
  constructor(path: string, kind: string) {
    super('SLUICE_ERR_NOT_A_FILE', `not a regular file (${kind}): ${path}`);
  }
}

/** Opening or reading the file was refused by the OS (EACCES / EPERM). */
export class FilePermissionError extends SluiceError {
  constructor(path: string, cause?: unknown) {
    super('SLUICE_ERR_FILE_PERMISSION', `permission denied: ${path}`, { cause });
  }
}

/** The file got shorter than its size when opened, while it was being read. */
export class FileShrankError extends SluiceError {
  constructor(path: string, expectedSize: number, offset: number) {
    super(
      'SLUICE_ERR_FILE_SHRANK',
      `file shrank while being read: ${path} had ${expectedSize} bytes when opened, end of file found at ${offset}`,
    );
  }
}

/** The file got longer than its size when opened, while it was being read. */
export class FileGrewError extends SluiceError {
  constructor(path: string, expectedSize: number) {
    super(
      'SLUICE_ERR_FILE_GREW',
      `file grew while being read: ${path} had ${expectedSize} bytes when opened and has more now`,
    );
  }
}

/** `start`/`end` ask for bytes outside the file. */
export class RangeOutsideFileError extends SluiceError {
  constructor(path: string, start: number, end: number, size: number) {
    super(
      'SLUICE_ERR_RANGE_OUTSIDE_FILE',
      `byte range ${start}-${end} (end inclusive) is outside ${path}, which has ${size} bytes`,
    );
  }
}

/** The reader was used after `close()`. */
export class ReaderClosedError extends SluiceError {
  constructor(path: string) {
    super('SLUICE_ERR_READER_CLOSED', `reader for ${path} is closed`);
  }
}

/** `next()` was called while another `next()` of the same reader was still pending. */
export class ConcurrentNextError extends SluiceError {
  constructor(path: string) {
    super(
      'SLUICE_ERR_CONCURRENT_NEXT',
      `next() called on the reader for ${path} while the previous next() is still pending`,
    );
  }
}

/** Any other OS error while opening or reading a file. */
export class FileReadError extends SluiceError {
  constructor(path: string, cause: unknown) {
    super('SLUICE_ERR_FILE_READ', `cannot read ${path}: ${messageOf(cause)}`, { cause });
  }
}

/** The read worker thread failed or exited unexpectedly. */
export class ReadWorkerError extends SluiceError {
  constructor(detail: string, cause?: unknown) {
    super('SLUICE_ERR_READ_WORKER', `read worker failed: ${detail}`, { cause });
  }
}

/** `scanTree` was given a root that is not a directory. */
export class NotADirectoryError extends SluiceError {
  constructor(path: string, kind: string) {
    super('SLUICE_ERR_NOT_A_DIRECTORY', `not a directory (${kind}): ${path}`);
  }
}

/** Following a symbolic link led back to a directory already being scanned (or the link loops on itself). */
export class SymlinkLoopError extends SluiceError {
  constructor(path: string, target?: string) {
    super(
      'SLUICE_ERR_SYMLINK_LOOP',
      target === undefined
        ? `symbolic link loop: ${path}`
        : `symbolic link loop: ${path} leads back to ${target}, already scanned`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/zip

// ---------------------------------------------------------------------------------------------
// sluice/write

// ---------------------------------------------------------------------------------------------
// sluice/http

// ---------------------------------------------------------------------------------------------
// sluice/log

// ---------------------------------------------------------------------------------------------
// sluice/net

// ---------------------------------------------------------------------------------------------
// sluice/tasks

// ---------------------------------------------------------------------------------------------
// CLI

/** The command line could not be understood. */
export class UsageError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_USAGE', message);
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

/** A short, safe rendering of a value for messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `an object (${value.constructor?.name ?? 'Object'})`;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
