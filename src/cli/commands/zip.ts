import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OutputClosedError, SluiceError, UsageError } from '../../errors.js';
import { CrcCache, planZip, type ZipEntryInput, type ZipPlan, zipDirectory } from '../../zip/index.js';
import type { Command, CommandIo } from '../command.js';

const usage = `Usage: sluice zip DIR... -o FILE|- [options]

Writes a store-only ZIP archive of the directories: the same bytes every time for the same files
(timestamps come from the files), ZIP64 when needed, UTF-8 names, Unix modes, empty folders.
Each DIR goes in as a folder of its own name (as zip -r does); with --flat, its contents go at the
top of the archive. CRC-32s are remembered in a cache (keyed by device, inode, size and mtime), so
zipping files again does not read them twice; those not cached are computed while the archive is
written, each file's ahead of its turn.

Options:
  -o, --output FILE   where to write the archive; "-" writes to stdout. FILE appears only when
                      complete (it is written to FILE.partial-PID and renamed)
      --flat          put each DIR's contents at the top instead of in a folder named after it
      --comment TEXT  the archive comment
      --crc-cache FILE   the CRC cache file (default: $XDG_CACHE_HOME/sluice/crc32-v1.txt)
      --no-crc-cache  compute every CRC afresh and remember none
  -q, --quiet         no progress bar and no summary on stderr
  -h, --help          this help

A progress bar is drawn on stderr (when it is a terminal) for archives over 64 MiB.

Examples:
  sluice zip "Moby Dick" -o moby-dick.zip
  sluice zip books/a books/b -o - | ssh host 'cat > books.zip'
`;

/** Archives at least this large get a progress bar. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;
/** Redraw the bar at most this often. */
const PROGRESS_INTERVAL_MS = 200;

export const zipCommand: Command = {
  name: 'zip',
  summary: 'write a store-only ZIP of directories (exact, deterministic, ZIP64)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new UsageError(`${(error as Error).message}; see sluice zip --help`);
    }
    const { dirs, output, flat, comment, cachePath, useCache, quiet } = parsed;
    const cache = useCache ? await CrcCache.open(cachePath) : false;
    const entries: ZipEntryInput[] = [];
    let plan: ZipPlan;
    let progress: Progress;
    const started = performance.now();
    try {
      for (const dir of dirs) {
        const prefix = flat ? '' : path.basename(path.resolve(dir));
        // CRCs deferred: computed on the CRC threads while the archive is written (each file's
        // ahead of its turn), and stored in the cache then
        entries.push(
          ...(await zipDirectory(dir, { crcCache: cache, deferCrcs: true, ...(prefix ? { prefix } : {}) })),
        );
      }
      plan = planZip(entries, comment === undefined ? {} : { comment });
      progress = new Progress(io, plan.size, !quiet && io.interactive && plan.size >= PROGRESS_MIN_BYTES);
      if (output === '-') await writeToStream(plan, io.stdout, progress);
      else await writeToFile(plan, output, progress);
    } finally {
      if (cache) await cache.close();
    }
    progress.done();
    if (!quiet) {
      const seconds = (performance.now() - started) / 1000;
      const target = output === '-' ? 'stdout' : output;
      io.stderr.write(
        `sluice zip: ${target}: ${entries.length} entries, ${formatBytes(plan.size)} in ${seconds.toFixed(2)} s (${formatBytes(plan.size / Math.max(seconds, 1e-3))}/s)\n`,
      );
    }
    return 0;
  },
};

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      flat: { type: 'boolean' },
      comment: { type: 'string' },
      'crc-cache': { type: 'string' },
      'no-crc-cache': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  if (positionals.length === 0) throw new UsageError('no DIR given; see sluice zip --help');
  if (values.output === undefined)
    throw new UsageError('no output: give -o FILE, or -o - for stdout; see sluice zip --help');
  if (values['no-crc-cache'] === true && values['crc-cache'] !== undefined) {
    throw new UsageError('--crc-cache and --no-crc-cache exclude each other');
  }
  return {
    dirs: positionals,
    output: values.output,
    flat: values.flat === true,
    comment: values.comment,
    cachePath: values['crc-cache'],
    useCache: values['no-crc-cache'] !== true,
    quiet: values.quiet === true,
  };
}

/**
 * Writes to a temporary file next to `file` and renames it into place once complete, so `file`
 * never holds a partial archive; on failure the temporary file is removed.
 */
async function writeToFile(plan: ZipPlan, file: string, progress: Progress): Promise<void> {
  const temporary = `${file}.partial-${process.pid}`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    let position = 0;
    for await (const chunk of plan.stream()) {
      // the chunk may be a reader window: fully written before the next is pulled
      for (let written = 0; written < chunk.length; ) {
        written += (await handle.write(chunk, written, chunk.length - written, position + written))
          .bytesWritten;
      }
      position += chunk.length;
      progress.update(position);
    }
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Each chunk's write callback comes before the next pull: Node keeps the buffer, it does not copy it. */
async function writeToStream(
  plan: ZipPlan,
  stream: NodeJS.WritableStream,
  progress: Progress,
): Promise<void> {
  if ((stream as { isTTY?: boolean }).isTTY === true) {
    throw new UsageError('refusing to write a ZIP archive to a terminal; redirect stdout or use -o FILE');
  }
  // a reader that goes away (EPIPE: `| head`, unzip refusing a pipe) ends the stream as an error
  let failure: Error | undefined;
  const onError = (error: Error): void => {
    failure = error;
  };
  stream.on('error', onError);
  try {
    let position = 0;
    for await (const chunk of plan.stream()) {
      await new Promise<void>((resolve, reject) => {
        stream.write(chunk, (error) => (error ? reject(error) : failure ? reject(failure) : resolve()));
      });
      position += chunk.length;
      progress.update(position);
    }
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EPIPE') {
      throw new OutputClosedError();
    }
    throw error;
  } finally {
    stream.off('error', onError);
  }
}

class Progress {
  readonly #io: CommandIo;
  readonly #total: number;
  readonly #enabled: boolean;
  readonly #started = performance.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(io: CommandIo, total: number, enabled: boolean) {
    this.#io = io;
    this.#total = total;
    this.#enabled = enabled;
  }

  update(done: number): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < PROGRESS_INTERVAL_MS && done < this.#total) return;
    this.#lastDraw = now;
    this.#drawn = true;
    const width = 30;
    const fraction = this.#total === 0 ? 1 : done / this.#total;
    const filled = Math.round(fraction * width);
    const rate = done / Math.max((now - this.#started) / 1000, 1e-3);
    const bar = `${'='.repeat(filled)}${filled < width ? '>' : ''}`.padEnd(width);
    this.#io.stderr.write(
      `\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(this.#total)} ${formatBytes(rate)}/s  `,
    );
  }

  done(): void {
    if (this.#drawn) this.#io.stderr.write('\n');
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
