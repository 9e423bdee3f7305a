/**
 * The measuring side of `coalesce` (runs in its own process): one connection, `inFlight` requests
 * of 64 bytes kept outstanding (each caller sends its next request when its reply comes), for a
 * fixed number of operations.
 *
 *  - `write-per-message`: each request is its own `socket.write` (the pattern seed 004 found in a
 *    database driver: at least one syscall per query).
 *  - `sluice`: `FramedConnection.request`, coalesced.
 *
 * Besides opsPerS and p99Us it reports `jsWritesPerOp`: calls into the socket's write path
 * (`_write` + `_writev`), each one write or writev syscall when the socket is writable.
 */
import net from 'node:net';
import { createHistogram, performance } from 'node:perf_hooks';
import { FramedConnection } from 'sluice/net';
import { encodeNaive, NaiveFrameParser } from './naive-frames.js';

export interface CoalesceArgs {
  variant: 'write-per-message' | 'sluice';
  port: number;
  inFlight: number;
  /** Measured operations. */
  ops: number;
  /** Unmeasured operations first. */
  warmup: number;
  /** sluice/net flush scheduling (default 'tick'). */
  scheduling?: 'tick' | 'immediate';
}

/** Milliseconds as a double: unlike `hrtime.bigint()` it allocates nothing per call. */
const now = (): number => performance.now();

function countWrites(socket: net.Socket): { calls: number } {
  const counts = { calls: 0 };
  const target = socket as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const write = target._write.bind(socket);
  const writev = target._writev.bind(socket);
  target._write = (...args) => {
    counts.calls++;
    write(...args);
  };
  target._writev = (...args) => {
    counts.calls++;
    writev(...args);
  };
  return counts;
}

async function naiveClient(
  port: number,
): Promise<{ request: (body: Buffer) => Promise<void>; socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const pending = new Map<number, () => void>();
  let nextId = 1;
  const parser = new NaiveFrameParser((kind, id) => {
    if (kind !== 2) return;
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.();
  });
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
  return {
    socket,
    request: (body) =>
      new Promise<void>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.write(encodeNaive(1, id, body));
      }),
  };
}

export async function coalesceClient(args: CoalesceArgs): Promise<Record<string, number>> {
  const body = Buffer.alloc(64, 0x42);
  let request: (body: Buffer) => Promise<unknown>;
  let socket: net.Socket;
  let close: () => void;
  if (args.variant === 'sluice') {
    const connection = await FramedConnection.connect({
      port: args.port,
      host: '127.0.0.1',
      maxInFlight: 4096,
      scheduling: args.scheduling ?? 'tick',
    });
    request = (frame) => connection.request(frame);
    socket = connection.socket;
    close = () => connection.destroy();
  } else {
    const client = await naiveClient(args.port);
    request = client.request;
    socket = client.socket;
    close = () => client.socket.destroy();
  }
  const histogram = createHistogram();
  const total = args.warmup + args.ops;
  let issued = 0;
  let completed = 0;
  let measuredStart = 0;
  let writesAtStart = 0;
  const writes = countWrites(socket);
  const worker = async (): Promise<void> => {
    while (issued < total) {
      const index = issued++;
      if (index === args.warmup) {
        measuredStart = now();
        writesAtStart = writes.calls;
      }
      const sent = now();
      await request(body);
      if (index >= args.warmup) histogram.record(Math.max(1, Math.round((now() - sent) * 1e6)));
      completed++;
    }
  };
  await Promise.all(Array.from({ length: args.inFlight }, worker));
  const seconds = (now() - measuredStart) / 1e3;
  const measuredWrites = writes.calls - writesAtStart;
  close();
  return {
    opsPerS: args.ops / seconds,
    p99Us: histogram.percentile(99) / 1000,
    jsWritesPerOp: measuredWrites / args.ops,
    ops: completed,
  };
}
