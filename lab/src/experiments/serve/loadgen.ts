/**
 * The load generator of the `serve` experiment (run in its own process by runInChild): N clients on
 * raw TCP sockets, each `GET path` with `Connection: close`, counting body bytes. Fast clients read
 * as fast as they can; slow clients read at `bytesPerSecond` (pausing the socket, so the server
 * sees a slow reader); a fraction abort midway (destroy after half the body). Connects are ramped
 * (at most `connectBurst` pending at once) so no variant is judged by its listen backlog.
 */
import net from 'node:net';

export interface LoadArgs {
  port: number;
  path: string;
  clients: number;
  /** 0 = as fast as possible. */
  bytesPerSecond: number;
  /** 0..1: the share of clients that abort midway. */
  abortFraction: number;
  timeoutMs: number;
  connectBurst?: number;
  /** For bodies of unknown length: an aborting client stops after this many bytes. Default 1 MiB. */
  abortAfterBytes?: number;
}

export async function load(args: LoadArgs): Promise<Record<string, number>> {
  const started = performance.now();
  const burst = args.connectBurst ?? 256;
  let pending = 0;
  let next = 0;
  let errors = 0;
  let completed = 0;
  let aborted = 0;
  let bytes = 0;
  let maxRequestMs = 0;
  const abortEvery = args.abortFraction > 0 ? Math.round(1 / args.abortFraction) : 0;

  await new Promise<void>((resolveAll) => {
    let finished = 0;
    const done = (): void => {
      finished++;
      if (finished === args.clients) resolveAll();
      else launch();
    };
    const launch = (): void => {
      while (pending < burst && next < args.clients) {
        const index = next++;
        pending++;
        client(index, () => {
          pending--;
        }).then(done, done);
      }
    };
    const client = (index: number, connected: () => void): Promise<void> =>
      new Promise<void>((resolve) => {
        const begin = performance.now();
        const aborts = abortEvery > 0 && index % abortEvery === abortEvery - 1;
        const socket = net.connect(args.port, '127.0.0.1');
        let head = Buffer.alloc(0);
        let bodyExpected = -1;
        let body = 0;
        let settled = false;
        let wasConnected = false;
        let untilClose = false;
        let bodyComplete = false;
        let tail = '';
        // an aborting client of an unsized (chunked) body stops after this many bytes
        const abortAfter = args.abortAfterBytes ?? 1024 * 1024;
        const timer = setTimeout(() => finish('error'), args.timeoutMs);
        const finish = (how: 'ok' | 'error' | 'aborted'): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (!wasConnected) connected();
          if (how === 'ok') completed++;
          else if (how === 'aborted') aborted++;
          else errors++;
          bytes += body;
          const ms = performance.now() - begin;
          if (how !== 'aborted' && ms > maxRequestMs) maxRequestMs = ms;
          socket.destroy();
          resolve();
        };
        socket.on('connect', () => {
          wasConnected = true;
          connected();
          socket.write(`GET ${args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        });
        socket.on('data', (chunk: Buffer) => {
          if (bodyExpected < 0) {
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf('\r\n\r\n');
            if (end === -1) return;
            const text = head.subarray(0, end).toString('latin1');
            const status = Number(text.slice(9, 12));
            const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
            const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text);
            if (status !== 200 || (length === null && !chunked)) {
              finish('error');
              return;
            }
            // chunked (archiver's ZIPs): read until the server closes; the count includes the chunk framing
            bodyExpected = length === null ? Number.POSITIVE_INFINITY : Number(length[1]);
            untilClose = length === null;
            body = head.length - end - 4;
            head = Buffer.alloc(0);
          } else {
            body += chunk.length;
          }
          if (untilClose) tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 16))).slice(-16);
          if (aborts && body >= (untilClose ? abortAfter : bodyExpected / 2)) {
            finish('aborted');
            return;
          }
          if (body >= bodyExpected) {
            finish(body === bodyExpected ? 'ok' : 'error');
            return;
          }
          if (args.bytesPerSecond > 0) {
            const dueMs = (body / args.bytesPerSecond) * 1000;
            const elapsed = performance.now() - begin;
            if (dueMs > elapsed + 5) {
              socket.pause();
              setTimeout(() => socket.resume(), dueMs - elapsed);
            }
          }
        });
        socket.on('error', () => finish('error'));
        socket.on('end', () => {
          if (untilClose && /\r\n0\r\n\r\n$/.test(tail)) bodyComplete = true;
        });
        socket.on('close', () =>
          finish((bodyExpected >= 0 && body === bodyExpected) || bodyComplete ? 'ok' : 'error'),
        );
      });
    launch();
  });
  const wallMs = performance.now() - started;
  return {
    maxRequestMs,
    errors,
    completed,
    aborted,
    bytes,
    wallMs,
    mbPerS: bytes / 1e6 / (wallMs / 1000),
  };
}
