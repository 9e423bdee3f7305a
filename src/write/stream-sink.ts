import process from 'node:process';
import type { Writable } from 'node:stream';
import type { AsyncWriteSink } from './sink.js';

export interface StreamSinkOptions {
  /** Names the target in messages; default `socket HOST:PORT` for sockets, `stream` otherwise. */
  target?: string;
  /** End the stream in `close()` and wait for it to finish. Default false: the caller owns it. */
  autoClose?: boolean;
}

/**
 * A socket (or any `Writable`) written through its own vectored path: the batch's chunks are
 * written between `cork()` and `uncork()`, so the stream hands them to `_writev` together (for a
 * `net.Socket`, one `writev` syscall through libuv). The callback runs when the stream reports the
 * last chunk written (for a socket: handed to the kernel). The core waits for it before the next
 * batch, which is stricter than waiting for `'drain'`: the stream's own buffer holds one batch at most.
 *
 * The sink listens for the stream's `'error'` while it is open, so that a reset peer is reported
 * through the writer (as `SLUICE_ERR_WRITE_PEER_CLOSED`) instead of as an unhandled `'error'`.
 */
export function createStreamSink(stream: Writable, options: StreamSinkOptions = {}): AsyncWriteSink {
  const target = options.target ?? describeStream(stream);
  let streamError: Error | undefined;
  const onError = (error: Error): void => {
    streamError ??= error;
  };
  stream.on('error', onError);
  // At most one write is in flight (the core's guarantee): its callback and size live here, so a
  // batch allocates no closure.
  let pendingCallback: ((error: Error | null, bytesWritten: number) => void) | undefined;
  let pendingBytes = 0;
  const onLastWritten = (error?: Error | null): void => {
    const callback = pendingCallback!;
    pendingCallback = undefined;
    // a destroyed stream reports ERR_STREAM_DESTROYED; the error that destroyed it says more
    if (error) callback(streamError ?? error, 0);
    else callback(null, pendingBytes);
  };
  const write = (
    chunks: readonly Buffer[],
    callback: (error: Error | null, bytesWritten: number) => void,
  ): void => {
    if (stream.destroyed || stream.writableEnded) {
      const error =
        streamError ?? closedError(stream.destroyed ? 'ERR_STREAM_DESTROYED' : 'ERR_STREAM_WRITE_AFTER_END');
      process.nextTick(callback, error, 0);
      return;
    }
    const last = chunks.length - 1;
    if (last === 0) {
      pendingBytes = chunks[0]!.length;
      pendingCallback = callback;
      stream.write(chunks[0], onLastWritten);
      return;
    }
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    pendingBytes = total;
    pendingCallback = callback;
    stream.cork();
    for (let index = 0; index < last; index++) stream.write(chunks[index]);
    stream.write(chunks[last], onLastWritten);
    stream.uncork();
  };
  return {
    kind: 'async',
    target,
    writev: (chunks, callback) => {
      if (!stream.writableNeedDrain || stream.destroyed) {
        write(chunks, callback);
        return;
      }
      // someone else filled the stream's buffer (other writers share the socket): honour 'drain'
      const resume = (): void => {
        stream.off('drain', resume);
        stream.off('close', resume);
        write(chunks, callback);
      };
      stream.on('drain', resume);
      stream.on('close', resume);
    },
    close: async () => {
      try {
        if (options.autoClose === true && !stream.destroyed && !stream.writableEnded) {
          await new Promise<void>((resolve, reject) => {
            stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
          });
        }
      } finally {
        stream.off('error', onError);
      }
    },
  };
}

function closedError(code: string): Error {
  return Object.assign(new Error(`the stream is closed (${code})`), { code });
}

function describeStream(stream: Writable): string {
  const socket = stream as Writable & { remoteAddress?: string; remotePort?: number };
  if (typeof socket.remoteAddress === 'string') return `socket ${socket.remoteAddress}:${socket.remotePort}`;
  if ('remoteAddress' in socket) return 'socket (not connected)';
  return 'stream';
}
