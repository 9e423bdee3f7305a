/**
 * One server of the `serve` experiment, in its own process:
 *   node server.js VARIANT ROOT
 * prints `READY <port>` and serves `GET /<name>` for files in ROOT until SIGTERM. VARIANT is
 * `thread-per-client` or `stream-pipe` (`sluice serve` and nginx are started by servers.ts).
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ZipArchive } from 'archiver';

const [variant, root] = process.argv.slice(2);
if (variant === undefined || root === undefined) throw new Error('usage: server.js VARIANT ROOT');
const BACKLOG = 4096;
const CHUNK = 64 * 1024;
const workerUrl = new URL('./thread-worker.js', import.meta.url);

function fileOf(url: string | undefined): { file: string; size: number } | undefined {
  const name = decodeURIComponent((url ?? '/').slice(1));
  if (name === '' || name.includes('/') || name.startsWith('.')) return undefined;
  const file = path.join(root!, name);
  try {
    return { file, size: statSync(file).size };
  } catch {
    return undefined;
  }
}

function threadPerClient(req: http.IncomingMessage, res: http.ServerResponse): void {
  const target = fileOf(req.url);
  if (target === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Length': target.size, 'Content-Type': 'application/octet-stream' });
  if (target.size === 0) {
    res.end();
    return;
  }
  const credits = new Int32Array(new SharedArrayBuffer(8));
  // the bounded channel: 4 chunks in flight (the seed's hyper channel buffers a few chunks too)
  credits[0] = 4;
  const worker = new Worker(workerUrl, {
    workerData: {
      file: target.file,
      start: 0,
      end: target.size - 1,
      credits: credits.buffer,
      chunkSize: CHUNK,
    },
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, stackSizeMb: 1 },
  });
  const stop = (): void => {
    Atomics.store(credits, 1, 1);
    Atomics.notify(credits, 0);
  };
  res.on('close', stop);
  worker.on('message', (message: ArrayBuffer | null) => {
    if (message === null) {
      res.end();
      return;
    }
    res.write(Buffer.from(message), () => {
      Atomics.add(credits, 0, 1);
      Atomics.notify(credits, 0);
    });
  });
  worker.on('error', () => res.destroy());
}

/**
 * `/<book>.zip` the way Node servers usually do it: archiver (store only) piped to the response,
 * chunked (archiver cannot know the length), no Range.
 */
function archiverZip(req: http.IncomingMessage, res: http.ServerResponse): void {
  const book = decodeURIComponent((req.url ?? '/').slice(1, -'.zip'.length));
  const dir = path.join(root!, book);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/zip' });
  const archive = new ZipArchive({ store: true });
  archive.on('error', () => res.destroy());
  res.on('close', () => archive.abort());
  archive.pipe(res);
  for (const name of names) archive.file(path.join(dir, name), { name: `${book}/${name}` });
  void archive.finalize();
}

function streamPipe(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url?.endsWith('.zip')) {
    archiverZip(req, res);
    return;
  }
  const target = fileOf(req.url);
  if (target === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Length': target.size, 'Content-Type': 'application/octet-stream' });
  const stream = createReadStream(target.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const handler =
  variant === 'thread-per-client' ? threadPerClient : variant === 'stream-pipe' ? streamPipe : undefined;
if (handler === undefined) throw new Error(`unknown variant ${variant} (sluice runs as \`sluice serve\`)`);
const server = http.createServer(handler);
const closeServer = (): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  closeServer().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
