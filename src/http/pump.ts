/**
 * Moves windows from a source to an HTTP response, one at a time: a window is written, and the next
 * is pulled only when the write callback says the socket has handed the bytes to the kernel
 * (`res.write` keeps a reference to the buffer, it does not copy). That is the backpressure, and it
 * is what makes reusing pooled windows safe.
 */
import type { ServerResponse } from 'node:http';
import { AbortError } from '../errors.js';

export interface Pullable {
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

/** Adapts an async iterable (e.g. `ZipPlan.stream()`) whose buffers are valid until the next pull. */
export function pullableFrom(iterable: AsyncIterable<Buffer>): Pullable {
  const iterator = iterable[Symbol.asyncIterator]();
  let done = false;
  return {
    async next() {
      if (done) return null;
      const result = await iterator.next();
      if (result.done === true) {
        done = true;
        return null;
      }
      return result.value;
    },
    async close() {
      if (done) return;
      done = true;
      await iterator.return?.();
    },
  };
}

export interface PumpResult {
  bytes: number;
  /** The client went away (or the signal aborted) before the last byte. */
  aborted: boolean;
}

/**
 * Writes every window of `source` to `res` and ends it. Resolves when done or when the response
 * closed early (the source is closed either way, at once: its file and window are given back);
 * rejects only with a source error (the caller destroys the response).
 */
export async function pump(
  source: Pullable,
  res: ServerResponse,
  onBytes?: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<PumpResult> {
  let bytes = 0;
  const gone = new AbortController();
  // 'close' after 'finish' is the normal end of a response, not a client leaving
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort(new AbortError('the download'));
  };
  res.once('close', onClose);
  const onAbort = (): void => {
    res.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (gone.signal.aborted || res.destroyed) return { bytes, aborted: true };
      const window = await source.next();
      if (window === null) break;
      if (gone.signal.aborted || res.destroyed) return { bytes, aborted: true };
      const flushed = await writeFlushed(res, window, gone.signal);
      if (!flushed) return { bytes, aborted: true };
      bytes += window.length;
      onBytes?.(window.length);
    }
    // every byte is with the kernel; a client that closes right after reading them is not an abort
    await endFlushed(res, gone.signal);
    return { bytes, aborted: false };
  } finally {
    res.removeListener('close', onClose);
    signal?.removeEventListener('abort', onAbort);
    await source.close();
  }
}

/** Resolves true when the socket has taken `window`, false when the response closed first. */
function writeFlushed(res: ServerResponse, window: Buffer, gone: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onGone = (): void => resolve(false);
    gone.addEventListener('abort', onGone, { once: true });
    res.write(window, (error) => {
      gone.removeEventListener('abort', onGone);
      resolve(error == null);
    });
  });
}

/** Ends the response; resolves true on 'finish', false when it closed first (`end(cb)` alone may never call back). */
function endFlushed(res: ServerResponse, gone: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (gone.aborted) {
      resolve(false);
      return;
    }
    const onGone = (): void => resolve(false);
    gone.addEventListener('abort', onGone, { once: true });
    res.end(() => {
      gone.removeEventListener('abort', onGone);
      resolve(true);
    });
  });
}
