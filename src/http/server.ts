/**
 * `createDownloadServer({ root })`: the audiobook download server that `sluice serve` runs.
 *
 *   /                 HTML index: books, sizes, links
 *   /api/books        the same as JSON
 *   /metrics          Prometheus text
 *   /<book>.zip       the book directory as an on-the-fly store-only ZIP (Range, If-Range, ETag)
 *   /<book>/<file>    any file of the library, directly (and /<file> for files in the root)
 *
 * Limits: `maxConnections` (over it: 503 and close), `headersTimeoutMs` (slow headers: 408),
 * `requestTimeoutMs`, `idleTimeoutMs` (no progress either way: connection closed, window returned),
 * `maxHeaderSize` (431), one buffer budget for all connections. `close()` is graceful.
 */
import { realpathSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { BufferPool } from '../buffers/index.js';
import { InvalidArgumentError, LibraryRootError, SluiceError, UnsafePathError } from '../errors.js';
import { createBufferBudget } from './budget.js';
import { HotWindows } from './hot-windows.js';
import { exposedGc, IdleReclaim } from './idle-memory.js';
import { hrefOf, type Library, scanLibrary } from './library.js';
import { ServerMetrics } from './metrics.js';
import { renderIndexPage } from './page.js';
import { requestSegments, resolveInside } from './paths.js';
import { type SendResult, sendFile, sendStatus, sendZip } from './send.js';
import { defaultZipProvider, memoizeZipProvider, type ZipProvider } from './zip-provider.js';

export interface DownloadServerOptions {
  /** The library directory. */
  root: string;
  /** Index page title. Default "Audiobooks". */
  title?: string | undefined;
  /** Bytes per window. Default 1 MiB. */
  windowSize?: number | undefined;
  /** Bytes of windows in flight, all connections together. Default 32 MiB. */
  bufferBudget?: number | undefined;
  /**
   * Bytes of hot files' windows kept in memory and sent from there (`hot-windows.ts`: files
   * requested twice or more, at most half this size). Default 16 MiB; 0: none.
   */
  fileCacheBytes?: number | undefined;
  /** Connections at once; one more is answered 503 and closed. Default 10000. */
  maxConnections?: number | undefined;
  /** Time for a client to send its request headers (Node `headersTimeout`). Default 10 s. */
  headersTimeoutMs?: number | undefined;
  /** Time for a client to send its whole request (Node `requestTimeout`). Default 30 s. */
  requestTimeoutMs?: number | undefined;
  /** A connection with no progress in either direction this long is closed. Default 120 s. */
  idleTimeoutMs?: number | undefined;
  /** Keep-alive between requests. Default 5 s. */
  keepAliveTimeoutMs?: number | undefined;
  /** Larger request headers get 431. Default 16 KiB. */
  maxHeaderSize?: number | undefined;
  /** How `/<book>.zip` is built; default sluice/zip; `false` disables the route (404). */
  zip?: ZipProvider | false | undefined;
  /** Where sluice/zip keeps CRCs between runs (default: its default location); `false`: none. */
  crcCachePath?: string | false | undefined;
  /** Called with unexpected errors (a file failing mid-body, ...); default: none. */
  onError?: ((error: unknown) => void) | undefined;
  /**
   * How to run a full garbage collection when the server goes idle after a burst, so its memory
   * returns toward where it started (see `idle-memory.ts`). Default: `globalThis.gc` when the
   * process runs with `--expose-gc` (`sluice serve` does), else none; `false`: never collect.
   */
  gc?: (() => unknown) | false | undefined;
}

export interface DownloadServer {
  readonly httpServer: http.Server;
  readonly pool: BufferPool;
  readonly metrics: ServerMetrics;
  /** The real path served. */
  readonly root: string;
  /** `http://host:port/` once listening. */
  readonly url: string | undefined;
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, lets downloads finish for `graceMs` (default 10 s), then cuts the rest. */
  close(options?: { graceMs?: number }): Promise<void>;
}

const LIBRARY_TTL_MS = 1000;
const LISTEN_BACKLOG = 4096;
const DEFAULT_FILE_CACHE_BYTES = 16 * 1024 * 1024;

export function createDownloadServer(options: DownloadServerOptions): DownloadServer {
  const root = realRoot(options.root);
  const pool = createBufferBudget({ windowSize: options.windowSize, bufferBudget: options.bufferBudget });
  const metrics = new ServerMetrics();
  const fileCacheBytes = options.fileCacheBytes ?? DEFAULT_FILE_CACHE_BYTES;
  if (!Number.isSafeInteger(fileCacheBytes) || fileCacheBytes < 0) {
    throw new InvalidArgumentError('fileCacheBytes', 'an integer >= 0', fileCacheBytes);
  }
  const hotWindows = new HotWindows(fileCacheBytes);
  const gc = options.gc === false ? undefined : (options.gc ?? exposedGc());
  const reclaim = new IdleReclaim(
    pool,
    gc === undefined
      ? undefined
      : () => {
          gc();
          metrics.idleCollections++;
        },
  );
  const maxConnections = options.maxConnections ?? 10_000;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const title = options.title ?? 'Audiobooks';
  const transfers = new Set<Promise<unknown>>();
  const onError = options.onError ?? (() => {});

  const ownZip = options.zip === undefined ? defaultZipProvider(root, options.crcCachePath) : undefined;
  const zipSource = options.zip === false ? undefined : (options.zip ?? ownZip?.provider);
  const zipProvider = zipSource === undefined ? undefined : memoizeZipProvider(zipSource);

  let library: { value: Promise<Library>; expires: number } | undefined;
  const currentLibrary = (): Promise<Library> => {
    const now = Date.now();
    if (library === undefined || library.expires <= now) {
      const value = scanLibrary(root);
      library = { value, expires: now + LIBRARY_TTL_MS };
      value.catch(() => {
        library = undefined;
      });
    }
    return library.value;
  };

  const httpServer = http.createServer({
    maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
    headersTimeout,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
    // how often Node checks the two timeouts above
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
  });
  httpServer.setTimeout(options.idleTimeoutMs ?? 120_000);

  // The connection cap: wrap http's own connection listener, so a connection over the cap gets a
  // 503 written on the raw socket and is never parsed.
  const [httpConnectionListener] = httpServer.listeners('connection') as ((socket: Socket) => void)[];
  httpServer.removeAllListeners('connection');
  httpServer.on('connection', (socket: Socket) => {
    if (metrics.connectionsOpen >= maxConnections) {
      metrics.connectionsRejected++;
      socket.on('error', () => {});
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\n503 Service Unavailable\n',
      );
      return;
    }
    metrics.connectionsOpen++;
    metrics.connectionsTotal++;
    socket.once('close', () => {
      metrics.connectionsOpen--;
    });
    httpConnectionListener?.call(httpServer, socket);
  });

  // Idle after a burst: the budget's free windows and the burst's garbage go back to the OS, so
  // RSS returns toward where it started (idle-memory.ts).
  const track = (response: Promise<SendResult>): Promise<SendResult> => {
    metrics.transfersActive++;
    transfers.add(response);
    reclaim.busy();
    return response.finally(() => {
      metrics.transfersActive--;
      transfers.delete(response);
      if (metrics.transfersActive === 0) reclaim.idle();
    });
  };
  const onBytes = (bytes: number): void => {
    metrics.bytesSent += bytes;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.once('close', () => metrics.countRequest(res.statusCode));
    let segments: string[];
    try {
      segments = requestSegments(req.url ?? '/');
    } catch (error) {
      if (error instanceof UnsafePathError) {
        sendStatus(res, error.status);
        return;
      }
      throw error;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendStatus(res, 405);
      return;
    }
    if (segments.length === 0) {
      const provider = await zipProvider;
      sendText(
        req,
        res,
        'text/html; charset=utf-8',
        renderIndexPage(await currentLibrary(), { title, zip: provider !== undefined }),
      );
      return;
    }
    if (segments.length === 2 && segments[0] === 'api' && segments[1] === 'books') {
      const provider = await zipProvider;
      sendText(
        req,
        res,
        'application/json; charset=utf-8',
        `${JSON.stringify(apiBooks(await currentLibrary(), provider !== undefined), null, 2)}\n`,
      );
      return;
    }
    if (segments.length === 1 && segments[0] === 'metrics') {
      sendText(req, res, 'text/plain; version=0.0.4; charset=utf-8', metrics.render(pool, hotWindows));
      return;
    }
    let target: string;
    try {
      target = await resolveInside(root, segments);
    } catch (error) {
      if (error instanceof UnsafePathError) {
        sendStatus(res, error.status);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      const last = segments[segments.length - 1]!;
      if (
        (code === 'ENOENT' || code === 'ENOTDIR') &&
        segments.length === 1 &&
        last.endsWith('.zip') &&
        zipProvider !== undefined
      ) {
        await serveZip(req, res, last.slice(0, -'.zip'.length));
        return;
      }
      sendStatus(res, code === 'EACCES' ? 403 : 404);
      return;
    }
    const result = await track(
      sendFile(req, res, target, {
        pool,
        onBytes,
        filename: path.basename(target),
        disposition: 'attachment',
        hotWindows,
      }),
    );
    finish(result);
  };

  const serveZip = async (req: IncomingMessage, res: ServerResponse, book: string): Promise<void> => {
    if (book === '') {
      sendStatus(res, 404);
      return;
    }
    let bookDir: string;
    try {
      bookDir = await resolveInside(root, [book]);
      if (!(await stat(bookDir)).isDirectory())
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (error) {
      sendStatus(res, error instanceof UnsafePathError ? error.status : 404);
      return;
    }
    const provider = zipProvider!;
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    res.once('close', onClose);
    let plan: Awaited<ReturnType<ZipProvider>>;
    try {
      plan = await provider(bookDir, abort.signal);
    } catch (error) {
      onError(error);
      if (!res.headersSent && !res.destroyed) sendStatus(res, 500);
      return;
    } finally {
      res.removeListener('close', onClose);
    }
    const result = await track(sendZip(req, res, plan, { filename: `${book}.zip`, pool, onBytes }));
    finish(result);
  };

  const finish = (result: SendResult): void => {
    if (result.aborted) metrics.transfersAborted++;
    if (result.error !== undefined && result.status >= 500) onError(result.error);
    else if (result.error !== undefined && result.aborted) onError(result.error);
  };

  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      onError(error);
      if (!res.headersSent) sendStatus(res, 500);
      else res.destroy();
    });
  });
  httpServer.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // Node's defaults (400, 408 for header timeouts, 431 for oversized headers), answered once
    if (socket.writable && !socket.destroyed) {
      const status =
        error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const reason =
        status === 431
          ? 'Request Header Fields Too Large'
          : status === 408
            ? 'Request Timeout'
            : 'Bad Request';
      const body = `${status} ${reason}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  });

  let url: string | undefined;
  let closing: Promise<void> | undefined;
  return {
    httpServer,
    pool,
    metrics,
    root,
    get url() {
      return url;
    },
    listen(port = 8080, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        // a burst of thousands of connects: a deeper accept queue than Node's 511 (the kernel caps
        // it at net.core.somaxconn)
        httpServer.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          httpServer.removeListener('error', reject);
          const address = httpServer.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${shown}:${address.port}/`;
          resolve(url);
        });
      });
    },
    close({ graceMs = 10_000 } = {}) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        if (transfers.size > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            Promise.allSettled([...transfers]),
            new Promise((resolve) => {
              timer = setTimeout(resolve, graceMs);
            }),
          ]);
          clearTimeout(timer);
        }
        httpServer.closeAllConnections();
        await closed;
        // transfers cut above release their windows as their responses close
        await Promise.allSettled([...transfers]);
        reclaim.close();
        hotWindows.clear();
        pool.close();
        metrics.stop();
        await ownZip?.close();
      })();
      return closing;
    },
  };
}

function realRoot(root: string): string {
  try {
    const real = realpathSync(root);
    if (!statSync(real).isDirectory()) throw new LibraryRootError(root, 'not a directory');
    return real;
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new LibraryRootError(
      root,
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(error),
      error,
    );
  }
}

function sendText(req: IncomingMessage, res: ServerResponse, contentType: string, body: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : body);
}

function apiBooks(library: Library, zip: boolean): unknown {
  return {
    books: library.books.map((book) => ({
      name: book.name,
      bytes: book.bytes,
      zip: zip ? hrefOf(`${book.name}.zip`) : null,
      files: book.files.map((file) => ({
        name: file.name,
        size: file.size,
        mtime: new Date(file.mtimeMs).toISOString(),
        href: hrefOf(book.name, file.name),
      })),
    })),
    files: library.files.map((file) => ({
      name: file.name,
      size: file.size,
      mtime: new Date(file.mtimeMs).toISOString(),
      href: hrefOf(file.name),
    })),
  };
}
