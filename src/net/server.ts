/**
 * `createFrameServer(handler)`: a TCP server whose every connection is a `FramedConnection` that
 * answers requests with `handler`. Replies go through the same coalescing as `send`: all replies
 * produced while handling one read leave in one writev.
 *
 * A connection that breaks the protocol (oversized or malformed frame) gets a goaway frame naming
 * the error code and is closed; the server emits `'protocolError'` and every other connection
 * carries on.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  type ConnectionClosedError,
  FrameMalformedError,
  FrameTooLargeError,
  InvalidArgumentError,
} from '../errors.js';
import { type ConnectionOptions, FramedConnection, type RequestHandler } from './connection.js';

export interface FrameServerOptions extends Omit<ConnectionOptions, 'onRequest'> {
  /** Connections open at once; more are refused (closed at once). Default 10000. */
  maxConnections?: number;
}

export class FrameServer extends EventEmitter {
  readonly server: net.Server;
  readonly #connections = new Set<FramedConnection>();

  constructor(handler: RequestHandler, options: FrameServerOptions = {}) {
    super();
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler);
    const { maxConnections = 10_000, ...connectionOptions } = options;
    this.server = net.createServer({ noDelay: options.noDelay !== false }, (socket) => {
      const connection = new FramedConnection(socket, { ...connectionOptions, onRequest: handler });
      this.#connections.add(connection);
      connection.once('close', (error: ConnectionClosedError | undefined) => {
        this.#connections.delete(connection);
        const cause = error?.cause;
        if (cause instanceof FrameTooLargeError || cause instanceof FrameMalformedError) {
          this.emit('protocolError', cause, connection);
        }
      });
      this.emit('connection', connection);
    });
    this.server.maxConnections = maxConnections;
  }

  /** Open connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  /** Stops accepting, closes every connection gracefully, resolves when all are closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.#connections].map((connection) => connection.close()));
    await closed;
  }
}

export function createFrameServer(handler: RequestHandler, options: FrameServerOptions = {}): FrameServer {
  return new FrameServer(handler, options);
}
