/**
 * Moves windows from a source to an HTTP response, one at a time: a window is written, and the next
 * is pulled only when the write callback says the socket has handed the bytes to the kernel
 * (`res.write` keeps a reference to the buffer, it does not copy). That is the backpressure, and it
 * is what makes reusing pooled windows safe.
 *
 * Per window it costs one promise and the write's callback: no AbortController or EventTarget
 * listener per transfer or per window (Node's EventTarget allocates a listener record and validates
 * options on every add/remove; at 5000 clients that churn is what the young generation fills with).
 */
import type { ServerResponse } from 'node:http';

export interface Pullable {
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
  /**
   * True when the window `next()` last returned is not lent: it stays valid and unchanged after the
   * next pull (a cached copy). Such a window is written without waiting for the socket to take it,
   * unless the response's buffer is full (then its callback is awaited, as backpressure).
   */
  readonly lastStable?: boolean;
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
  const flush = new FlushWait(res);
  const onAbort = (): void => {
    res.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (flush.gone) return { bytes, aborted: true };
      const window = await source.next();
      if (window === null) break;
      if (flush.gone) return { bytes, aborted: true };
      if (source.lastStable === true ? !(await flush.writeStable(window)) : !(await flush.write(window))) {
        return { bytes, aborted: true };
      }
      bytes += window.length;
      onBytes?.(window.length);
    }
    // every byte is with the kernel; a client that closes right after reading them is not an abort
    await flush.end();
    return { bytes, aborted: false };
  } finally {
    flush.detach();
    signal?.removeEventListener('abort', onAbort);
    await source.close();
  }
}

/**
 * One response's writes, each awaited until the socket took it or the response closed first.
 * Invariant: at most one write or end is awaited at a time (`#settle` is its resolver).
 */
class FlushWait {
  readonly #res: ServerResponse;
  #closedEarly = false;
  #settle: ((flushed: boolean) => void) | undefined;
  readonly #onClose = (): void => {
    // 'close' after 'finish' is the normal end of a response, not a client leaving
    if (this.#res.writableFinished) return;
    this.#closedEarly = true;
    this.#resolve(false);
  };
  readonly #onWritten = (error?: Error | null): void => {
    this.#resolve(error == null);
  };
  readonly #onFinished = (): void => {
    this.#resolve(true);
  };

  constructor(res: ServerResponse) {
    this.#res = res;
    res.once('close', this.#onClose);
  }

  /** The response closed (or was destroyed) before it finished: the client left. */
  get gone(): boolean {
    return this.#closedEarly || this.#res.destroyed;
  }

  /** Resolves true when the socket has taken `window`, false when the response closed first. */
  write(window: Buffer): Promise<boolean> {
    return new Promise((resolve) => {
      this.#settle = resolve;
      this.#res.write(window, this.#onWritten);
    });
  }

  /**
   * Writes a window that stays valid: resolves at once while the response buffers below its
   * high-water mark, else when the socket has taken it (false when the response closed first).
   */
  writeStable(window: Buffer): Promise<boolean> | boolean {
    let waiting = false;
    // its own callback: a write not waited for must never settle a later write's promise
    const below = this.#res.write(window, (error) => {
      if (waiting) this.#resolve(error == null);
    });
    if (below) return true;
    // callbacks of `write` never run synchronously: this is set before it can come
    waiting = true;
    return new Promise<boolean>((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Ends the response; resolves true on 'finish', false when it closed first (`end(cb)` alone may never call back). */
  end(): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#settle = resolve;
      this.#res.end(this.#onFinished);
    });
  }

  detach(): void {
    this.#res.removeListener('close', this.#onClose);
  }

  #resolve(flushed: boolean): void {
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.(flushed);
  }
}
