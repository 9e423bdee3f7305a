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

/** An archive entry name is unsafe or malformed (APPNOTE 4.4.17: relative, '/'-separated, no drive). */
export class ZipEntryNameError extends SluiceError {
  constructor(name: string, reason: string) {
    super('SLUICE_ERR_ZIP_ENTRY_NAME', `bad archive entry name ${describe(name)}: ${reason}`);
  }
}

/** Two entries of one archive have the same name (a file and a folder of the same path included). */
export class ZipDuplicateNameError extends SluiceError {
  constructor(name: string) {
    super('SLUICE_ERR_ZIP_DUPLICATE_NAME', `archive entry name ${describe(name)} appears more than once`);
  }
}

/** A source file changed (size or mtime) between planning the archive and streaming its bytes. */
export class ZipSourceChangedError extends SluiceError {
  constructor(path: string, what: string, planned: number, actual: number) {
    super(
      'SLUICE_ERR_ZIP_SOURCE_CHANGED',
      `${path} changed since the archive was planned: ${what} was ${planned}, is ${actual} now`,
    );
  }
}

/** A byte range outside the archive was asked of `ZipPlan.stream()`. */
export class ZipRangeError extends SluiceError {
  constructor(start: number, end: number, size: number) {
    super(
      'SLUICE_ERR_ZIP_RANGE',
      `byte range ${start}-${end} (end inclusive) is not inside the archive, which has ${size} bytes`,
    );
  }
}

/** A byte range was asked of a streaming plan (an entry without a known CRC-32 or size). */
export class ZipNotRangeableError extends SluiceError {
  constructor(entryName: string) {
    super(
      'SLUICE_ERR_ZIP_NOT_RANGEABLE',
      `this archive streams with data descriptors (entry ${describe(entryName)} has no known CRC-32 or size), so it can only be streamed whole`,
    );
  }
}

/** The persistent CRC cache cannot be opened or written. */
export class CrcCacheError extends SluiceError {
  constructor(path: string, cause: unknown) {
    super('SLUICE_ERR_CRC_CACHE', `CRC cache ${path} cannot be used: ${messageOf(cause)}`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/write

/** `write()`, `reserve()`, `flush()` or `sync()` on a `BatchWriter` after `close()` was called. */
export class WriterClosedError extends SluiceError {
  constructor(target: string, operation: string) {
    super('SLUICE_ERR_WRITER_CLOSED', `${operation}() on the writer for ${target} after close()`);
  }
}

/**
 * The writer holds its hard bound of buffered bytes (`maxBufferedBytes`) and the policy is `'wait'`:
 * nothing of the refused write was taken; wait with `await writer.ready()` or use `writeAsync()`.
 */
export class WriteBufferFullError extends SluiceError {
  readonly requestedBytes: number;
  readonly bufferedBytes: number;
  constructor(target: string, requestedBytes: number, bufferedBytes: number, maxBufferedBytes: number) {
    super(
      'SLUICE_ERR_WRITE_BUFFER_FULL',
      `writer for ${target} is full: ${bufferedBytes} bytes buffered + ${requestedBytes} requested exceeds ` +
        `maxBufferedBytes ${maxBufferedBytes}; await writer.ready() or use writeAsync()`,
    );
    this.requestedBytes = requestedBytes;
    this.bufferedBytes = bufferedBytes;
  }
}

/** `reserve()` / `commit()` used out of order: a second reserve, a commit without one, or too many bytes. */
export class ReservationError extends SluiceError {
  constructor(target: string, detail: string) {
    super('SLUICE_ERR_RESERVATION', `writer for ${target}: ${detail}`);
  }
}

/** `sync()` on a writer whose sink cannot make bytes durable (a socket or another stream). */
export class SyncUnsupportedError extends SluiceError {
  constructor(target: string) {
    super('SLUICE_ERR_SYNC_UNSUPPORTED', `sync() is not supported by the writer for ${target} (not a file)`);
  }
}

/** `flushSync()` on a writer that cannot write on the calling thread now (a socket, or a threadpool write running). */
export class FlushSyncUnavailableError extends SluiceError {
  constructor(target: string, reason: string) {
    super(
      'SLUICE_ERR_FLUSH_SYNC_UNAVAILABLE',
      `flushSync() on the writer for ${target} is not possible: ${reason}`,
    );
  }
}

/**
 * Bytes accepted by a `BatchWriter` could not be written. The writer is failed from then on.
 * `writtenBytes` reached the kernel (for a file: the file has them, in order); `unwrittenBytes` were
 * accepted but never written (they are discarded, and counted here so nothing is lost silently).
 */
export class WriteFailedError extends SluiceError {
  readonly writtenBytes: number;
  readonly unwrittenBytes: number;
  constructor(target: string, cause: unknown, writtenBytes: number, unwrittenBytes: number, detail?: string) {
    const code = WriteFailedError.codeFor(cause);
    super(
      code,
      `write to ${target} failed (${detail ?? messageOf(cause)}): ${writtenBytes} bytes written, ` +
        `${unwrittenBytes} bytes not written`,
      { cause },
    );
    this.writtenBytes = writtenBytes;
    this.unwrittenBytes = unwrittenBytes;
  }

  /** The sluice code for an OS or stream error code. */
  static codeFor(cause: unknown): string {
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
    switch (code) {
      case 'EPIPE':
      case 'ECONNRESET':
      case 'ENOTCONN':
      case 'ERR_STREAM_DESTROYED':
      case 'ERR_STREAM_WRITE_AFTER_END':
        return 'SLUICE_ERR_WRITE_PEER_CLOSED';
      case 'ENOSPC':
      case 'EDQUOT':
        return 'SLUICE_ERR_WRITE_NO_SPACE';
      case 'EBADF':
        return 'SLUICE_ERR_WRITE_BAD_FD';
      default:
        return 'SLUICE_ERR_WRITE_FAILED';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/http

/** A request path tries to leave the served root or is not a path sluice will map to a file. */
export class UnsafePathError extends SluiceError {
  /** The HTTP status the server answers with (400 for malformed paths, 403 for escapes). */
  readonly status: number;

  constructor(requestPath: string, reason: string, status = 400) {
    super('SLUICE_ERR_UNSAFE_PATH', `refusing request path ${describe(requestPath)}: ${reason}`);
    this.status = status;
  }
}

/** Every range of a `Range` header lies outside the representation (answered with 416). */
export class RangeNotSatisfiableError extends SluiceError {
  constructor(header: string, size: number) {
    super(
      'SLUICE_ERR_RANGE_NOT_SATISFIABLE',
      `range ${describe(header)} is not satisfiable for a representation of ${size} bytes`,
    );
  }
}

/** `sendFile` / `sendZip` was called on a response whose headers were already sent. */
export class ResponseStartedError extends SluiceError {
  constructor(what: string) {
    super('SLUICE_ERR_RESPONSE_STARTED', `${what}: the response headers were already sent`);
  }
}

/** The library root of a download server does not exist or is not a directory. */
export class LibraryRootError extends SluiceError {
  constructor(root: string, reason: string, cause?: unknown) {
    super('SLUICE_ERR_LIBRARY_ROOT', `cannot serve ${root}: ${reason}`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/log

/** A log was used after `close()` (or while it is closing). */
export class WalClosedError extends SluiceError {
  constructor(dir: string) {
    super('SLUICE_ERR_WAL_CLOSED', `write-ahead log ${dir} is closed`);
  }
}

/**
 * A write or fdatasync of the log failed (other than ENOSPC), or its writer thread died. The log is in
 * a failed state: every pending and later append rejects with this error. fsync is never retried.
 */
export class WalFailedError extends SluiceError {
  constructor(dir: string, detail: string, cause?: unknown) {
    super('SLUICE_ERR_WAL_FAILED', `write-ahead log ${dir} failed: ${detail}`, { cause });
  }
}

/** The disk was full (ENOSPC): the append was not made durable and was dropped; the log stays usable. */
export class WalNoSpaceError extends SluiceError {
  constructor(dir: string, lsn: number, cause?: unknown) {
    super(
      'SLUICE_ERR_WAL_NO_SPACE',
      `no space left on the device of write-ahead log ${dir}: record ${lsn} was not written`,
      { cause },
    );
  }
}

/** Recovery found a damaged record, header or LSN gap before the tail of the log. */
export class WalCorruptError extends SluiceError {
  readonly segment: string;
  readonly offset: number;
  constructor(segment: string, offset: number, reason: string) {
    super(
      'SLUICE_ERR_WAL_CORRUPT',
      `write-ahead log segment ${segment} is corrupt at offset ${offset}: ${reason}`,
    );
    this.segment = segment;
    this.offset = offset;
  }
}

/** Recovery in `absolute` mode found a torn (partially written) tail, which the default mode cuts off. */
export class WalTornTailError extends SluiceError {
  readonly segment: string;
  readonly offset: number;
  constructor(segment: string, offset: number, reason: string) {
    super(
      'SLUICE_ERR_WAL_TORN_TAIL',
      `write-ahead log segment ${segment} has a torn tail at offset ${offset} (${reason}); open it without recovery: 'absolute' to cut it off`,
    );
    this.segment = segment;
    this.offset = offset;
  }
}

/** A record is larger than the log accepts (`maxBatchBytes` minus the record header). */
export class WalRecordTooLargeError extends SluiceError {
  constructor(size: number, limit: number) {
    super(
      'SLUICE_ERR_WAL_RECORD_TOO_LARGE',
      `a record of ${size} bytes is larger than the limit of ${limit} bytes`,
    );
  }
}

/** `replay(fromLsn)` asked for records that `truncateBefore` already removed. */
export class WalLsnUnavailableError extends SluiceError {
  constructor(lsn: number, firstAvailable: number) {
    super(
      'SLUICE_ERR_WAL_LSN_UNAVAILABLE',
      `record ${lsn} is no longer in the log; the oldest record available is ${firstAvailable}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/net

/** A frame's length prefix (received) or a frame to send is larger than `maxFrameSize`. */
export class FrameTooLargeError extends SluiceError {
  constructor(length: number, maxFrameSize: number) {
    super('SLUICE_ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds maxFrameSize ${maxFrameSize}`);
  }
}

/** A received frame does not follow the sluice/net envelope (too short, unknown kind, ...). */
export class FrameMalformedError extends SluiceError {
  constructor(detail: string) {
    super('SLUICE_ERR_FRAME_MALFORMED', `malformed frame: ${detail}`);
  }
}

/** The connection closed (or was never open); pending and later requests fail with this. */
export class ConnectionClosedError extends SluiceError {
  constructor(reason: string, cause?: unknown) {
    super('SLUICE_ERR_CONNECTION_CLOSED', `connection closed: ${reason}`, { cause });
  }
}

/** Connecting failed (refused, unreachable, timed out). */
export class ConnectError extends SluiceError {
  constructor(address: string, cause?: unknown) {
    super('SLUICE_ERR_CONNECT', `cannot connect to ${address}: ${messageOf(cause)}`, { cause });
  }
}

/** No reply came within the request's `timeout`; its id is freed. */
export class RequestTimeoutError extends SluiceError {
  constructor(id: number, timeoutMs: number) {
    super('SLUICE_ERR_REQUEST_TIMEOUT', `request ${id} got no reply within ${timeoutMs} ms`);
  }
}

/** The peer's request handler failed; `remoteCode` is the code it reported. */
export class RemoteError extends SluiceError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super('SLUICE_ERR_REMOTE', `the peer's handler failed: ${message} [${remoteCode}]`);
    this.remoteCode = remoteCode;
  }
}

// ---------------------------------------------------------------------------------------------
// sluice/tasks

/** A queued task was dropped before it started: `clearQueue()` on its limiter. */
export class TaskCancelledError extends SluiceError {
  constructor(what: string, reason?: unknown) {
    super(
      'SLUICE_ERR_TASK_CANCELLED',
      `${what} was cancelled before it started`,
      reason === undefined ? undefined : { cause: reason },
    );
  }
}

/** `add()` on a TaskSet that was cancelled or that failed fast on a task's error. */
export class TaskSetClosedError extends SluiceError {
  constructor(why: string) {
    super('SLUICE_ERR_TASK_SET_CLOSED', `cannot add a task: the task set is closed (${why})`);
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

/** The reader of the command's output (a pipe) went away before the output was complete. */
export class OutputClosedError extends SluiceError {
  constructor() {
    super('SLUICE_ERR_OUTPUT_CLOSED', 'the output was closed by its reader before it was complete (EPIPE)');
  }
}

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
