import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../../errors.js';
import { ensureSampleLibrary } from '../../http/sample.js';
import type { Command } from '../command.js';
import { SERVER_YOUNG_GENERATION_MB } from '../runtime-memory.js';
import type { ServeThreadCommand, ServeThreadData, ServeThreadMessage } from '../serve-thread.js';

const usage = `Usage: sluice serve [DIR] [options]

Serves a library of audiobooks over HTTP: every sub-folder of DIR as an on-the-fly ZIP
(/<folder>.zip), every file directly, an index page (/), /api/books (JSON) and /metrics
(Prometheus). Range, If-Range and ETags make downloads resumable; memory stays flat however
many clients download.

Without DIR, a small sample library is generated (in ~/.cache/sluice) and served.

Options:
  --port N              port to listen on (default 8080; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)
  --max-connections N   connections at once; more get 503 (default 10000)
  --budget MIB          buffer budget of all downloads together, in MiB (default 32)
  --window KIB          window (read and write unit) per connection, in KiB (default 1024)
  --file-cache MIB      memory for the windows of hot files, sent from there instead of read
                        again (files requested twice or more, up to half of it; default 16; 0: off)
  --crc-cache FILE|off  where ZIP CRC-32s persist between runs (default: ~/.cache/sluice;
                        off: compute them for every new plan)
  --help                show this help

SIGTERM or SIGINT (Ctrl-C) stops accepting, lets running downloads finish (up to 10 s) and exits.

Memory: the server runs on a thread with a small young generation (8 MiB), and when no download
has run for 0.5 s it gives memory back (idle buffers freed, a compacting garbage collection), so
RSS after a burst of clients returns close to where it started. /metrics shows both.

Examples:
  npx sluice serve                         # the sample library at http://127.0.0.1:8080/
  npx sluice serve ~/audiobooks --host 0.0.0.0 --port 8000
  curl -O -J http://127.0.0.1:8080/Les%20Mis%C3%A9rables.zip
`;

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}; got ${JSON.stringify(value)}`);
  }
  return parsed;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve a library of audiobooks (ZIP per folder, Range, flat memory)',
  usage,
  async run(argv, io) {
    let parsed: ReturnType<
      typeof parseArgs<{
        options: {
          port: { type: 'string' };
          host: { type: 'string' };
          'max-connections': { type: 'string' };
          budget: { type: 'string' };
          window: { type: 'string' };
          'crc-cache': { type: 'string' };
          'file-cache': { type: 'string' };
        };
        allowPositionals: true;
      }>
    >;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          port: { type: 'string' },
          host: { type: 'string' },
          'max-connections': { type: 'string' },
          budget: { type: 'string' },
          window: { type: 'string' },
          'crc-cache': { type: 'string' },
          'file-cache': { type: 'string' },
        },
      });
    } catch (error) {
      throw new UsageError(`${(error as Error).message}\n\n${usage}`);
    }
    const { values, positionals } = parsed;
    if (positionals.length > 1) throw new UsageError(`sluice serve takes one DIR; got ${positionals.length}`);
    const port = integer('port', values.port, 8080, 0);
    if (port > 65535) throw new UsageError(`--port must be <= 65535; got ${port}`);
    const host = values.host ?? '127.0.0.1';
    const maxConnections = integer('max-connections', values['max-connections'], 10_000, 1);
    const windowSize = integer('window', values.window, 1024, 1) * 1024;
    const bufferBudget = integer('budget', values.budget, 32, 1) * 1024 * 1024;
    const fileCacheBytes = integer('file-cache', values['file-cache'], 16, 0) * 1024 * 1024;
    const crcCache = values['crc-cache'];
    let root = positionals[0];
    if (root === undefined) {
      root = await ensureSampleLibrary();
      io.stderr.write(`sluice serve: no DIR given; serving the sample library in ${root}\n`);
    }
    const data: ServeThreadData = {
      root,
      port,
      host,
      windowSize,
      bufferBudget,
      maxConnections,
      fileCacheBytes,
      crcCachePath: crcCache === undefined ? undefined : crcCache === 'off' ? false : crcCache,
    };
    // The server runs on its own thread, whose heap gets a young generation sized for a server
    // (runtime-memory.ts): the same code a library user runs, with the memory settings of an app.
    const thread = new Worker(new URL('../serve-thread.js', import.meta.url), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: SERVER_YOUNG_GENERATION_MB },
    });
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
      io.stderr.write(`sluice serve: ${signal}: finishing downloads, then exiting\n`);
      const command: ServeThreadCommand = { type: 'close', graceMs: 10_000 };
      thread.postMessage(command);
    };
    let failure: Extract<ServeThreadMessage, { type: 'failed' }> | undefined;
    thread.on('message', (message: ServeThreadMessage) => {
      if (message.type === 'listening') {
        io.stdout.write(`sluice serve: serving ${message.root} at ${message.url}\n`);
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      } else if (message.type === 'log') {
        io.stderr.write(`sluice serve: ${message.text}\n`);
      } else {
        failure = message;
      }
    });
    try {
      await once(thread, 'exit');
    } finally {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
    }
    if (failure === undefined) return 0;
    const { code } = failure;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why =
        code === 'EADDRINUSE' ? 'is in use' : code === 'EACCES' ? 'needs privileges' : 'is not available';
      io.stderr.write(
        `sluice serve: ${host}:${port} ${why} (${code}); pick another with --port (0: any free port)\n`,
      );
      return 1;
    }
    if (code?.startsWith('SLUICE_ERR_') === true) {
      io.stderr.write(`sluice serve: ${failure.message} [${code}]\n`);
      return 1;
    }
    throw new Error(
      `the server could not start: ${failure.message}${code === undefined ? '' : ` (${code})`}`,
    );
  },
};
