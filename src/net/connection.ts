/**
 * `FramedConnection`: length-prefixed frames over one stream socket, with write coalescing
 * (sluice/write's `BatchWriter` over the socket, flushing at the end of the turn) and request
 * multiplexing by 32-bit ids.
 *
 * Either side may `send` one-way frames (received as `'frame'` events) and `request` (answered by
 * the other side's `onRequest` handler). Replies may come in any order. Bounds, each with its
 * behaviour when full:
 *  - `maxInFlight` requests awaiting a reply; callers beyond it wait in arrival order (their
 *    timeout and signal apply while they wait);
 *  - `maxFrameSize` bytes per frame (envelope included), both ways; a received frame over it closes
 *    the connection (`SLUICE_ERR_FRAME_TOO_LARGE`), a sent one throws before anything is queued;
 *  - `maxBufferedBytes` queued for writing; `send` past it throws `SLUICE_ERR_WRITE_BUFFER_FULL`
 *    (`send` returns false past `highWaterMark` first: wait for `'drain'`);
 *  - `maxHandlersInFlight` requests being handled at once (never more: decoding stops mid-chunk);
 *    past it, and while replies wait for the socket to drain, the connection stops reading, so a
 *    peer that never reads cannot grow our memory.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  AbortError,
  ConnectError,
  ConnectionClosedError,
  FrameMalformedError,
  FrameTooLargeError,
  InvalidArgumentError,
  RemoteError,
  RequestTimeoutError,
  type SluiceError,
  WriteBufferFullError,
} from '../errors.js';
import { Fifo } from '../internal/fifo.js';
import { BatchWriter, type FlushScheduling } from '../write/batch-writer.js';
import { createStreamSink } from '../write/stream-sink.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder, readU32 } from './codec.js';
import {
  decodeReason,
  ENVELOPE_BYTES,
  encodeReason,
  HEADER_BYTES,
  KIND_ERROR,
  KIND_GOAWAY,
  KIND_MESSAGE,
  KIND_REPLY,
  KIND_REQUEST,
} from './envelope.js';
import { PendingTable } from './pending-table.js';

/** What may be sent: bytes, or a string (sent as UTF-8). */
export type FrameBody = Uint8Array | string;

/** Answers a request; a thrown error (or rejection) reaches the requester as `RemoteError`. */
export type RequestHandler = (
  frame: Buffer,
  connection: FramedConnection,
) => FrameBody | undefined | Promise<FrameBody | undefined>;

export interface ConnectionOptions {
  /** Largest frame payload, 5-byte envelope included. Default 4 MiB. */
  maxFrameSize?: number;
  /** Requests awaiting a reply at once; more wait. Default 1024. */
  maxInFlight?: number;
  /** Incoming requests handled at once before the connection stops reading. Default 1024. */
  maxHandlersInFlight?: number;
  /** Flush a batch early once it holds this many bytes. Default 64 KiB. */
  flushBytes?: number;
  /** `send` returns false past this many bytes waiting to be written. Default 1 MiB. */
  highWaterMark?: number;
  /** `send` throws past this many bytes waiting to be written. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** When a batch is flushed: end of this turn (`'tick'`, default) or after I/O (`'immediate'`). */
  scheduling?: FlushScheduling;
  /** TCP_NODELAY; default true (coalescing is done here, Nagle would only add delay). */
  noDelay?: boolean;
  /** After `close()` ends our side, destroy the socket if the peer has not ended its own within this many ms. Default 5000. */
  closeTimeout?: number;
  onRequest?: RequestHandler;
}

export interface ConnectOptions extends ConnectionOptions {
  port?: number;
  host?: string;
  /** A Unix socket path instead of host and port. */
  path?: string;
  /** Give up connecting after this many ms. */
  connectTimeout?: number;
  signal?: AbortSignal;
}

export interface RequestOptions {
  /** Reject with `SLUICE_ERR_REQUEST_TIMEOUT` after this many ms (time spent waiting for a slot counts). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface ConnectionStats {
  framesSent: number;
  framesReceived: number;
  requests: number;
  /** Replies whose request had already timed out or been aborted (ignored). */
  lateReplies: number;
  /** Write batches handed to the socket (one write/writev syscall each when the socket is ready). */
  writeBatches: number;
  bytesWritten: number;
}

interface Pending {
  id: number;
  resolve: (reply: Buffer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Waiter extends Pending {
  frame: FrameBody;
}

/**
 * Bodies this large or larger are queued by reference (an iovec of their own) instead of copied:
 * below it a copy costs less than an iovec, above it the copy is what costs. 1 KiB as measured for
 * the Coalescer this replaced (docs/net.md).
 */
const COPY_LIMIT = 1024;
/** How long a side that sent a goaway waits for the peer to close before destroying the socket. */
const GOAWAY_GRACE_MS = 1000;

/** The error's own `code` (sluice's, Node's or the application's) when it has a plain one. */
function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  }
  return 'ERROR';
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError(name, 'an integer >= 1', value);
  return value;
}

export class FramedConnection extends EventEmitter {
  readonly socket: net.Socket;
  readonly maxFrameSize: number;
  readonly maxInFlight: number;
  readonly #maxHandlersInFlight: number;
  readonly #maxBufferedBytes: number;
  readonly #onRequest: RequestHandler | undefined;
  readonly #closeTimeout: number;
  readonly #decoder: FrameDecoder;
  readonly #writer: BatchWriter;
  /** The 9-byte header of the frame being sent; the writer copies it. */
  readonly #header = Buffer.allocUnsafe(HEADER_BYTES);
  #writerClosing: Promise<void> | undefined;
  readonly #pending = new PendingTable<Pending>();
  readonly #waiting = new Fifo<Waiter>();
  #handlersInFlight = 0;
  #readPaused = false;
  #closing = false;
  #closed = false;
  #closeError: ConnectionClosedError | undefined;
  #closedPromise: Promise<void>;
  #framesSent = 0;
  #framesReceived = 0;
  #requests = 0;
  #lateReplies = 0;

  /** Connects over TCP (or a Unix socket with `path`). Fails with `SLUICE_ERR_CONNECT`. */
  static connect(options: ConnectOptions): Promise<FramedConnection> {
    const address = options.path ?? `${options.host ?? 'localhost'}:${options.port}`;
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(new AbortError(`connecting to ${address}`, signal.reason));
        return;
      }
      const socket =
        options.path === undefined
          ? net.connect({ port: options.port ?? 0, host: options.host ?? 'localhost' })
          : net.connect({ path: options.path });
      let timer: NodeJS.Timeout | undefined;
      const settle = (error: Error | undefined): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('connect', onConnect);
        if (error === undefined) resolve(new FramedConnection(socket, options));
        else {
          socket.destroy();
          reject(error);
        }
      };
      const onConnect = (): void => settle(undefined);
      const onError = (error: Error): void => settle(new ConnectError(address, error));
      const onAbort = (): void => settle(new AbortError(`connecting to ${address}`, signal?.reason));
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.connectTimeout !== undefined) {
        timer = setTimeout(
          () => settle(new ConnectError(address, new Error(`timed out after ${options.connectTimeout} ms`))),
          options.connectTimeout,
        );
      }
    });
  }

  /** Takes over a connected stream socket. */
  constructor(socket: net.Socket, options: ConnectionOptions = {}) {
    super();
    this.socket = socket;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (this.maxFrameSize < ENVELOPE_BYTES) {
      throw new InvalidArgumentError(
        'maxFrameSize',
        `>= ${ENVELOPE_BYTES} (the envelope)`,
        this.maxFrameSize,
      );
    }
    this.maxInFlight = positiveInteger('maxInFlight', options.maxInFlight, 1024);
    this.#maxHandlersInFlight = positiveInteger('maxHandlersInFlight', options.maxHandlersInFlight, 1024);
    const highWaterMark = positiveInteger('highWaterMark', options.highWaterMark, 1024 * 1024);
    this.#maxBufferedBytes = positiveInteger('maxBufferedBytes', options.maxBufferedBytes, 64 * 1024 * 1024);
    this.#onRequest = options.onRequest;
    this.#closeTimeout = positiveInteger('closeTimeout', options.closeTimeout, 5000);
    this.#decoder = new FrameDecoder(() => {}, {
      maxFrameSize: this.maxFrameSize,
      onFrameRange: this.#handlePayload,
    });
    // The connection checks maxBufferedBytes before it queues a frame (header and body go in
    // together or not at all); the writer's own bound sits one frame above it, so it never splits one.
    this.#writer = new BatchWriter(createStreamSink(socket, { autoClose: true }), {
      flushBytes: positiveInteger('flushBytes', options.flushBytes, 64 * 1024),
      highWaterMark,
      maxBufferedBytes: Math.max(highWaterMark, this.#maxBufferedBytes + HEADER_BYTES + this.maxFrameSize),
      scheduling: options.scheduling ?? 'tick',
      referenceBytes: COPY_LIMIT,
      onDrain: this.#handleWriterDrain,
      onError: (error) => this.destroy(new ConnectionClosedError(error.message, error)),
      debug: false,
    });
    if (options.noDelay !== false && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#finish(undefined);
        resolve();
      });
    });
    socket.on('data', this.#handleData);
    socket.on('error', (error: Error) => this.#finish(new ConnectionClosedError(error.message, error)));
    socket.on('end', () => {
      if (!this.#closing) this.#closing = true;
      // The peer will send no more; finish our side once it has had everything we queued.
      this.#endWriter();
    });
  }

  /** Requests awaiting a reply. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Requests waiting for an in-flight slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the connection closed; undefined while open or after a clean close. */
  get closeError(): ConnectionClosedError | undefined {
    return this.#closeError;
  }

  get stats(): ConnectionStats {
    const writerStats = this.#writer.stats;
    return {
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      requests: this.#requests,
      lateReplies: this.#lateReplies,
      writeBatches: writerStats.writeCalls,
      bytesWritten: writerStats.writtenBytes,
    };
  }

  /**
   * Queues a one-way frame; it leaves with everything else sent this turn. Returns false once
   * `highWaterMark` bytes wait to be written: wait for `'drain'` before sending more.
   */
  send(frame: FrameBody): boolean {
    this.#assertOpen();
    return this.#writeFrame(KIND_MESSAGE, 0, frame);
  }

  /** Sends `frame` as a request and resolves with the peer's reply. */
  request(frame: FrameBody, options?: RequestOptions): Promise<Buffer> {
    const signal = options?.signal;
    const timeout = options?.timeout;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout >= 0)) {
      return Promise.reject(new InvalidArgumentError('timeout', 'a number of ms >= 0', timeout));
    }
    if (this.#closing || this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(new AbortError('request', signal.reason));
    const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    if (size + ENVELOPE_BYTES > this.maxFrameSize) {
      return Promise.reject(new FrameTooLargeError(size + ENVELOPE_BYTES, this.maxFrameSize));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const entry: Waiter = { id: 0, resolve, reject, timer: undefined, signal, onAbort: undefined, frame };
      if (timeout !== undefined) {
        entry.timer = setTimeout(
          () => this.#cancel(entry, new RequestTimeoutError(entry.id, timeout)),
          timeout,
        );
      }
      if (signal !== undefined) {
        entry.onAbort = () => this.#cancel(entry, new AbortError(`request ${entry.id}`, signal.reason));
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      if (this.#pending.size < this.maxInFlight && this.#waiting.length === 0) this.#start(entry);
      else this.#waiting.push(entry);
    });
  }

  /**
   * Stops new requests, waits for those pending to settle, flushes and ends the socket; resolves
   * once it is closed (the socket is destroyed if the peer has not ended its side `closeTimeout`
   * ms later).
   */
  async close(): Promise<void> {
    if (!this.#closed && !this.#closing) {
      this.#closing = true;
      if (this.#pending.size > 0 || this.#waiting.length > 0) {
        await new Promise<void>((resolve) => {
          this.#whenIdle = resolve;
        });
      }
      this.#endWriter();
      // A peer that never ends its side must not keep close() waiting forever.
      setTimeout(() => this.socket.destroy(), this.#closeTimeout).unref();
    }
    await this.#closedPromise;
  }

  /** Closes at once: pending requests reject with `SLUICE_ERR_CONNECTION_CLOSED`. */
  destroy(error?: Error): void {
    this.#finish(
      error === undefined
        ? new ConnectionClosedError('destroyed by this side')
        : error instanceof ConnectionClosedError
          ? error
          : new ConnectionClosedError(error.message, error),
    );
    this.socket.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #whenIdle: (() => void) | undefined;

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): ConnectionClosedError {
    return this.#closeError ?? new ConnectionClosedError(this.#closed ? 'closed' : 'closing');
  }

  /**
   * Writes out what is queued, then ends the socket (the writer's sink owns it); once. A failure
   * here is the connection's (the socket's 'error' or the writer's onError reports it).
   */
  #endWriter(): void {
    this.#writerClosing ??= this.#writer.close().catch(() => {});
  }

  #writeFrame(kind: number, id: number, frame: FrameBody): boolean {
    const isString = typeof frame === 'string';
    const bodyLength = isString ? Buffer.byteLength(frame) : frame.length;
    const payloadLength = ENVELOPE_BYTES + bodyLength;
    if (payloadLength > this.maxFrameSize) throw new FrameTooLargeError(payloadLength, this.maxFrameSize);
    const writer = this.#writer;
    if (writer.closed) throw this.#closedError();
    const queued = writer.bufferedBytes;
    if (queued + HEADER_BYTES + bodyLength > this.#maxBufferedBytes && kind !== KIND_GOAWAY) {
      const peer = `${this.socket.remoteAddress ?? 'peer'}:${this.socket.remotePort ?? '?'}`;
      throw new WriteBufferFullError(
        `connection to ${peer}`,
        HEADER_BYTES + bodyLength,
        queued,
        this.#maxBufferedBytes,
      );
    }
    this.#framesSent++;
    // Header and body are copied into the writer's slab side by side (a string joins its rope and
    // is encoded there once per batch); a body of COPY_LIMIT bytes or more is queued by reference.
    const header = this.#header;
    header[0] = payloadLength >>> 24;
    header[1] = payloadLength >>> 16;
    header[2] = payloadLength >>> 8;
    header[3] = payloadLength;
    header[4] = kind;
    header[5] = id >>> 24;
    header[6] = id >>> 16;
    header[7] = id >>> 8;
    header[8] = id;
    const belowHighWater = writer.write(header);
    return bodyLength === 0 ? belowHighWater : writer.write(frame);
  }

  #start(entry: Waiter): void {
    this.#pending.add(entry);
    this.#requests++;
    try {
      this.#writeFrame(KIND_REQUEST, entry.id, entry.frame);
    } catch (error) {
      this.#settle(entry);
      entry.reject(error as Error);
      return;
    }
    entry.frame = '';
  }

  /** Removes a request (pending or waiting) and frees its id and slot; false if already settled. */
  #settle(entry: Pending): boolean {
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
    if (this.#pending.delete(entry)) {
      if (this.#waiting.length > 0 || this.#whenIdle !== undefined) this.#admitWaiters();
      return true;
    }
    return this.#waiting.remove(entry as Waiter);
  }

  #cancel(entry: Pending, error: Error): void {
    if (this.#settle(entry)) entry.reject(error);
  }

  #admitWaiters(): void {
    while (this.#pending.size < this.maxInFlight && this.#waiting.length > 0 && !this.#closed) {
      this.#start(this.#waiting.shift()!);
    }
    if (this.#whenIdle && this.#pending.size === 0 && this.#waiting.length === 0) {
      const resolve = this.#whenIdle;
      this.#whenIdle = undefined;
      resolve();
    }
  }

  /**
   * With `'tick'` scheduling, the frames sent while a read is decoded (the replies of synchronous
   * handlers, sends from `'frame'` listeners) leave as soon as the read is handled, corked into one
   * write: the same batch the end of the turn would write, without the tick hop before it. Replies
   * of async handlers and requests sent from promise continuations still leave at the end of the turn.
   */
  readonly #handleData = (chunk: Buffer): void => {
    const writer = this.#writer;
    if (writer.scheduling === 'tick') {
      writer.cork();
      try {
        this.#decode(chunk);
      } finally {
        writer.uncork();
      }
    } else this.#decode(chunk);
    this.#updateReading();
  };

  /** Feeds the decoder (`undefined`: resumes it); an oversized prefix is a protocol error. */
  #decode(chunk: Buffer | undefined): void {
    try {
      if (chunk === undefined) this.#decoder.resume();
      else this.#decoder.push(chunk);
    } catch (error) {
      if (error instanceof FrameTooLargeError) this.#protocolError(error);
      else throw error;
    }
  }

  /** A frame's payload is `source[start, end)`: the envelope is read in place, the body is one view. */
  readonly #handlePayload = (source: Buffer, start: number, end: number): void => {
    if (this.#closed) return;
    this.#framesReceived++;
    if (end - start < ENVELOPE_BYTES) {
      this.#protocolError(
        new FrameMalformedError(
          `${end - start}-byte payload is shorter than the ${ENVELOPE_BYTES}-byte envelope`,
        ),
      );
      return;
    }
    const kind = source[start]!;
    const id = readU32(source, start + 1);
    const body = source.subarray(start + ENVELOPE_BYTES, end);
    switch (kind) {
      case KIND_MESSAGE:
        this.emit('frame', body);
        return;
      case KIND_REQUEST:
        this.#handleRequest(id, body);
        return;
      case KIND_REPLY:
      case KIND_ERROR: {
        const entry = this.#pending.get(id);
        if (entry === undefined) {
          this.#lateReplies++;
          return;
        }
        this.#settle(entry);
        if (kind === KIND_REPLY) entry.resolve(body);
        else {
          const { code, message } = decodeReason(body);
          entry.reject(new RemoteError(code, message));
        }
        return;
      }
      case KIND_GOAWAY: {
        const { code, message } = decodeReason(body);
        this.destroy(new ConnectionClosedError(`the peer closed it: ${message} [${code}]`));
        return;
      }
      default:
        this.#protocolError(new FrameMalformedError(`unknown kind ${kind} (id ${id})`));
    }
  };

  #handleRequest(id: number, body: Buffer): void {
    const handler = this.#onRequest;
    if (handler === undefined) {
      this.#reply(id, undefined, new Error('this side has no request handler'));
      return;
    }
    let result: ReturnType<RequestHandler>;
    try {
      result = handler(body, this);
    } catch (error) {
      this.#reply(id, undefined, error);
      return;
    }
    if (result instanceof Promise) {
      // Past the bound, no further frame is decoded (not even from this chunk) until one settles.
      if (++this.#handlersInFlight >= this.#maxHandlersInFlight) this.#decoder.pause();
      result.then(
        (reply) => {
          this.#handlersInFlight--;
          this.#reply(id, reply, undefined);
          this.#updateReading();
        },
        (error: unknown) => {
          this.#handlersInFlight--;
          this.#reply(id, undefined, error);
          this.#updateReading();
        },
      );
      return;
    }
    this.#reply(id, result, undefined);
  }

  #reply(id: number, reply: FrameBody | undefined, error: unknown): void {
    if (this.#closed) return;
    try {
      if (error === undefined) {
        this.#writeFrame(KIND_REPLY, id, reply ?? '');
      } else {
        const code = codeOf(error);
        this.#writeFrame(
          KIND_ERROR,
          id,
          encodeReason(code, error instanceof Error ? error.message : String(error)),
        );
      }
    } catch (writeError) {
      // The connection is ending (the peer ended its side): nobody can read this reply.
      if (writeError instanceof ConnectionClosedError) return;
      // A reply over maxFrameSize: tell the requester instead of leaving it waiting.
      if (writeError instanceof FrameTooLargeError) {
        this.#writeFrame(KIND_ERROR, id, encodeReason(writeError.code, writeError.message));
      } else if (writeError instanceof WriteBufferFullError) {
        this.destroy(writeError);
      } else throw writeError;
    }
  }

  #updateReading(): void {
    if (this.#closed) return;
    const handlersFull = this.#handlersInFlight >= this.#maxHandlersInFlight;
    if (!handlersFull && this.#decoder.paused) this.#decode(undefined);
    const shouldPause = handlersFull || this.#writer.needsDrain;
    if (shouldPause && !this.#readPaused) {
      this.#readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.#readPaused) {
      this.#readPaused = false;
      this.socket.resume();
    }
  }

  readonly #handleWriterDrain = (): void => {
    this.#updateReading();
    this.emit('drain');
  };

  /** A protocol violation by the peer: tell it why (goaway), stop reading, close. */
  #protocolError(error: SluiceError): void {
    if (this.#closed) return;
    this.#decoder.stop();
    try {
      this.#writeFrame(KIND_GOAWAY, 0, encodeReason(error.code, error.message));
    } catch {
      // The goaway is a courtesy; the close below is what matters.
    }
    this.#endWriter(); // the goaway, then the end of our side
    this.#finish(new ConnectionClosedError(`protocol error: ${error.message}`, error));
    setTimeout(() => this.socket.destroy(), GOAWAY_GRACE_MS).unref();
  }

  /** Rejects everything pending and waiting with the reason; emits 'close' once. */
  #finish(error: ConnectionClosedError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#closeError = error;
    this.#decoder.stop();
    this.#endWriter(); // on a broken socket its write fails at once and the slabs are released
    const reason = error ?? new ConnectionClosedError('the peer closed it');
    const pending = [...this.#pending.drain(), ...this.#waiting.drain()];
    for (const entry of pending) {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
      entry.reject(reason);
    }
    if (this.#whenIdle) {
      const resolve = this.#whenIdle;
      this.#whenIdle = undefined;
      resolve();
    }
    this.emit('close', error);
  }
}
