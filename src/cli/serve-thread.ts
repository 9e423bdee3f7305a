/**
 * The thread `sluice serve` runs its download server on: a worker thread, so that its heap can be
 * given the young generation that suits a server (`resourceLimits`, set by `commands/serve.ts`;
 * the sizes and why are in `runtime-memory.ts`) without V8 flags on the command line. The main
 * thread only prints and forwards SIGTERM/SIGINT.
 *
 * Messages: in `workerData`, the server's options; to the main thread, `listening` (or
 * `listen-failed` with the OS error code) and `log` lines; from it, `close` with the grace period.
 * The thread ends once its server is closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDownloadServer, type DownloadServer } from '../http/server.js';
import { compactingGc } from './runtime-memory.js';

export interface ServeThreadData {
  root: string;
  port: number;
  host: string;
  windowSize: number;
  bufferBudget: number;
  maxConnections: number;
  fileCacheBytes: number;
  crcCachePath: string | false | undefined;
}

export type ServeThreadMessage =
  | { type: 'listening'; url: string; root: string }
  /** The server could not start: a `SluiceError` (`SLUICE_ERR_*` code) or the OS error of `listen`. */
  | { type: 'failed'; code: string | undefined; message: string }
  | { type: 'log'; text: string };

export type ServeThreadCommand = { type: 'close'; graceMs: number };

const port = parentPort!;
const data = workerData as ServeThreadData;
const post = (message: ServeThreadMessage): void => port.postMessage(message);

let server: DownloadServer | undefined;
try {
  server = createDownloadServer({
    root: data.root,
    windowSize: data.windowSize,
    bufferBudget: data.bufferBudget,
    maxConnections: data.maxConnections,
    fileCacheBytes: data.fileCacheBytes,
    crcCachePath: data.crcCachePath,
    gc: compactingGc(),
    onError: (error) => post({ type: 'log', text: error instanceof Error ? error.message : String(error) }),
  });
  const url = await server.listen(data.port, data.host);
  post({ type: 'listening', url, root: server.root });
  const running = server;
  port.on('message', (command: ServeThreadCommand) => {
    if (command.type !== 'close') return;
    running.close({ graceMs: command.graceMs }).finally(() => port.close());
  });
} catch (error) {
  await server?.close({ graceMs: 0 });
  const { code, message } = error as { code?: unknown; message?: unknown };
  post({ type: 'failed', code: typeof code === 'string' ? code : undefined, message: String(message) });
  port.close();
}
