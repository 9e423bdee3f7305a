/**
 * `sendFile` and `sendZip`: one representation with known size and strong ETag, answered for
 * GET and HEAD with Range, If-Range, If-None-Match / 304, If-Match / 412, Last-Modified, and
 * Content-Disposition; the body flows window by window from the connection budget's pool.
 *
 * Both work on any `node:http` request/response pair (plain servers, Express, Fastify's raw
 * objects) and never throw for client behaviour: the result says what was answered.
 */
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BufferPool } from '../buffers/index.js';
import {
  FileNotFoundError,
  FilePermissionError,
  FileReadError,
  NotAFileError,
  ResponseStartedError,
  SluiceError,
} from '../errors.js';
import { defaultBufferBudget } from './budget.js';
import { evaluatePreconditions, ifRangeAllows } from './conditional.js';
import { contentDisposition } from './content-disposition.js';
import { openFileWindows } from './file-windows.js';
import { fileKeyOf, type HotWindows } from './hot-windows.js';
import { contentTypeOf } from './mime.js';
import { type Pullable, pullableFrom, pump } from './pump.js';
import { type ByteRange, contentRange, parseRange } from './range.js';

export interface SendOptions {
  /** The connection budget windows come from (default: a process-wide 32 MiB pool of 1 MiB windows). */
  pool?: BufferPool | undefined;
  /** Offer the body as a download under this name (`Content-Disposition: attachment`). */
  filename?: string | undefined;
  /** `inline` to let the browser display it; default `attachment` when `filename` is set. */
  disposition?: 'attachment' | 'inline' | undefined;
  /** Default: from the file name extension (zip: application/zip). */
  contentType?: string | undefined;
  /** `Cache-Control` value; none by default. */
  cacheControl?: string | undefined;
  /** Aborting stops the transfer, closes its files and returns its window. */
  signal?: AbortSignal | undefined;
  /** Called with the size of each window the socket has taken (for metrics). */
  onBytes?: ((bytes: number) => void) | undefined;
  /**
   * sendFile: keep the windows of files requested again in this cache and send them from memory
   * (`createDownloadServer` has one: `fileCacheBytes`). Default: none.
   */
  hotWindows?: HotWindows | undefined;
}

export interface SendResult {
  /** The status answered (200, 206, 304, 404, 412, 416, ...). */
  status: number;
  /** Body bytes the socket took. */
  bytes: number;
  /** The client went away (or `signal` aborted) before the last byte. */
  aborted: boolean;
  /** Set when the status is an error caused by the file (not found, permission) or a failure mid-body. */
  error?: SluiceError | Error;
}

/** What sendEntity needs to know about a representation. */
export interface Entity {
  size: number;
  etag: string;
  lastModified?: Date | undefined;
  contentType: string;
  rangeable: boolean;
  /** The bytes `start..end` (inclusive), opened when they are due. */
  open(range: ByteRange, pool: BufferPool, signal: AbortSignal | undefined): Pullable;
}

/**
 * Sends the regular file at `path` (already resolved and checked by the caller: sendFile does not
 * guard against traversal; `createDownloadServer` does).
 */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  options: SendOptions = {},
): Promise<SendResult> {
  if (res.headersSent) throw new ResponseStartedError(`sendFile(${path})`);
  if (!allowMethod(req, res)) return { status: 405, bytes: 0, aborted: false };
  let entity: Entity;
  try {
    const stats = await stat(path);
    if (!stats.isFile()) throw new NotAFileError(path, stats.isDirectory() ? 'directory' : 'special file');
    entity = {
      size: stats.size,
      // strong: bytes change only when size, mtime or inode do (same inputs as nginx's size-mtime)
      etag: `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}-${stats.ino.toString(16)}"`,
      lastModified: stats.mtime,
      contentType: options.contentType ?? contentTypeOf(path),
      rangeable: true,
      open: (range, pool, signal) => {
        const cache = options.hotWindows;
        const fileKey = cache === undefined ? '' : fileKeyOf(stats);
        const hot = cache?.admit(fileKey, stats.size) === true ? { cache, fileKey } : undefined;
        return openFileWindows(path, {
          start: range.start,
          end: range.end,
          expectedSize: stats.size,
          pool,
          signal,
          hot,
        });
      },
    };
  } catch (error) {
    const wrapped =
      error instanceof SluiceError
        ? error
        : (wrapOpenError(path, error as NodeJS.ErrnoException) as SluiceError);
    const status =
      wrapped.code === 'SLUICE_ERR_FILE_PERMISSION'
        ? 403
        : wrapped.code === 'SLUICE_ERR_FILE_READ'
          ? 500
          : 404;
    sendStatus(res, status);
    return { status, bytes: 0, aborted: false, error: wrapped };
  }
  return sendEntity(req, res, entity, options);
}

/** The part of `ZipPlan` (sluice/zip) that sendZip uses. */
export interface ZipPlanLike {
  readonly size: number;
  readonly etag: string;
  readonly rangeable: boolean;
  readonly entries: readonly { mtime: Date | number }[];
  stream(options?: {
    start?: number;
    end?: number;
    signal?: AbortSignal;
    pool?: BufferPool;
  }): AsyncIterable<Buffer>;
}

/** Sends a planned ZIP archive (`planZip(...)` of sluice/zip) as `filename`. */
export async function sendZip(
  req: IncomingMessage,
  res: ServerResponse,
  plan: ZipPlanLike,
  options: SendOptions & { filename: string },
): Promise<SendResult> {
  if (res.headersSent) throw new ResponseStartedError(`sendZip(${options.filename})`);
  if (!allowMethod(req, res)) return { status: 405, bytes: 0, aborted: false };
  let newest = 0;
  for (const entry of plan.entries) {
    const time = typeof entry.mtime === 'number' ? entry.mtime : entry.mtime.getTime();
    if (time > newest) newest = time;
  }
  const entity: Entity = {
    size: plan.size,
    etag: plan.etag,
    lastModified: newest > 0 ? new Date(newest) : undefined,
    contentType: options.contentType ?? 'application/zip',
    rangeable: plan.rangeable,
    open: (range, pool, signal) => {
      const streamOptions: { start: number; end: number; pool: BufferPool; signal?: AbortSignal } = {
        start: range.start,
        end: range.end,
        pool,
      };
      if (signal !== undefined) streamOptions.signal = signal;
      return pullableFrom(plan.stream(streamOptions));
    },
  };
  return sendEntity(req, res, entity, { ...options, disposition: options.disposition ?? 'attachment' });
}

export async function sendEntity(
  req: IncomingMessage,
  res: ServerResponse,
  entity: Entity,
  options: SendOptions,
): Promise<SendResult> {
  const method = req.method ?? 'GET';
  const validators = { etag: entity.etag, lastModified: entity.lastModified };
  res.setHeader('ETag', entity.etag);
  if (entity.lastModified !== undefined) res.setHeader('Last-Modified', entity.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', entity.rangeable ? 'bytes' : 'none');
  if (options.cacheControl !== undefined) res.setHeader('Cache-Control', options.cacheControl);

  const outcome = evaluatePreconditions(method, req.headers, validators);
  if (outcome === 'not-modified') {
    res.statusCode = 304;
    res.end();
    return { status: 304, bytes: 0, aborted: false };
  }
  if (outcome === 'failed') {
    sendStatus(res, 412);
    return { status: 412, bytes: 0, aborted: false };
  }

  let range: ByteRange = { start: 0, end: entity.size - 1 };
  let status = 200;
  const rangeHeader = req.headers.range;
  if (entity.rangeable && rangeHeader !== undefined && ifRangeAllows(req.headers, validators)) {
    const parsed = parseRange(rangeHeader, entity.size);
    if (parsed.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', contentRange(undefined, entity.size));
      sendStatus(res, 416);
      return { status: 416, bytes: 0, aborted: false };
    }
    if (parsed.kind === 'partial') {
      range = parsed.range;
      status = 206;
      res.setHeader('Content-Range', contentRange(range, entity.size));
    }
  }

  res.statusCode = status;
  res.setHeader('Content-Type', entity.contentType);
  res.setHeader('Content-Length', String(range.end - range.start + 1));
  if (options.filename !== undefined) {
    res.setHeader('Content-Disposition', contentDisposition(options.filename, options.disposition));
  }
  if (method === 'HEAD' || range.end < range.start) {
    res.end();
    return { status, bytes: 0, aborted: false };
  }
  const pool = options.pool ?? defaultBufferBudget();
  // the client leaving (or `signal`) also cancels a wait for a window in the budget's queue
  const gone = new AbortController();
  // 'close' also follows a complete response: only an early one is a client leaving
  const onGone = (): void => {
    if (!res.writableFinished || options.signal?.aborted === true) gone.abort(options.signal?.reason);
  };
  res.once('close', onGone);
  options.signal?.addEventListener('abort', onGone, { once: true });
  const source = entity.open(range, pool, gone.signal);
  try {
    const result = await pump(source, res, options.onBytes, options.signal);
    return { status, ...result };
  } catch (error) {
    if (gone.signal.aborted) return { status, bytes: 0, aborted: true };
    // headers (and maybe bytes) are out: the only honest signal left is a cut connection
    res.destroy(error as Error);
    return { status, bytes: 0, aborted: true, error: error as Error };
  } finally {
    res.removeListener('close', onGone);
    options.signal?.removeEventListener('abort', onGone);
  }
}

function allowMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.setHeader('Allow', 'GET, HEAD');
  sendStatus(res, 405);
  return false;
}

/** A short plain-text answer: `404 Not Found`. */
export function sendStatus(res: ServerResponse, status: number, detail?: string): void {
  const body = `${status} ${statusText(status)}${detail === undefined ? '' : `: ${detail}`}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.removeHeader('Content-Disposition');
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

function wrapOpenError(path: string, error: NodeJS.ErrnoException): SluiceError {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return new FileNotFoundError(path, error);
  if (error.code === 'EACCES' || error.code === 'EPERM') return new FilePermissionError(path, error);
  return new FileReadError(path, error);
}
