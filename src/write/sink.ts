/**
 * The seam between the batching core (`BatchWriter`: chunk list, byte bounds, flush scheduling,
 * reserve/commit) and where bytes go. A sink knows one thing: how to hand a list of byte ranges to
 * the kernel in as few calls as it can. The core guarantees a sink that:
 *
 * - at most one `writev` / `writevSync` is in flight at a time, and the chunks passed to it are not
 *   modified or reused until its callback ran (or it returned);
 * - `chunks` is non-empty, no chunk is empty, and there are at most `IOV_MAX` (1024) of them;
 * - `close()` is called once, after the last write finished.
 *
 * The sink reports how many bytes were taken (a partial write is not an error: the core writes the
 * rest) and errors as they came from the OS or the stream (the core maps them to sluice codes and
 * counts the bytes not written). `sluice/log` and `sluice/net` plug their own targets in here.
 */
export type WriteSink = SyncWriteSink | AsyncWriteSink;

interface SinkBase {
  /** Names the target in messages: a path, `fd 7`, `socket 127.0.0.1:4000`. */
  readonly target: string;
  /** Makes written bytes durable (fdatasync for files). Absent: `sync()` is unsupported. */
  sync?(): Promise<void>;
  /** Releases the target if the sink owns it (closes the fd it opened, ends the socket). */
  close(): Promise<void>;
}

/** Writes on the calling thread: one blocking `writev` per batch (files; see docs/write.md). */
export interface SyncWriteSink extends SinkBase {
  readonly kind: 'sync';
  /** Writes a prefix of `chunks` and returns its length in bytes; throws the OS error. */
  writevSync(chunks: readonly Buffer[]): number;
}

/** Writes off the calling thread (libuv threadpool) or through a stream's own write queue. */
export interface AsyncWriteSink extends SinkBase {
  readonly kind: 'async';
  /** Writes a prefix of `chunks`; calls back once, never synchronously, with its length in bytes. */
  writev(chunks: readonly Buffer[], callback: (error: Error | null, bytesWritten: number) => void): void;
  /** For `flushSync()` (exit handlers), when the target can also be written on the calling thread. */
  writevSync?(chunks: readonly Buffer[]): number;
}
