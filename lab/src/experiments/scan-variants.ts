/**
 * The `scan` cases, each run in a child process by `scan.ts`: search a tree (or one large file)
 * for an absent needle with N readers, the way each variant's user would write it.
 *
 * - `sync`: what ripgrep -jN does with read(2): one reader walks and reads with `readdirSync`,
 *   `openSync`, `readSync` into one reused 64 KiB buffer; N > 1 readers are N worker threads, each
 *   reading its share of the files (the walk, done first on the main thread, included in the time).
 * - `fs-promises`: an async walk (`fs.promises.readdir`) feeding N concurrent loops of
 *   `fs.promises.readFile` (for the large file: N `FileHandle.read` loops over ranges).
 * - `sluice`: `scanTree(root, visit, { concurrency: N })`, the visitor searching `file.contents`
 *   synchronously when a worker read the file whole, else each window of its reader (for the large
 *   file: `scanFile`, its parts dealt to one worker thread per core).
 */
import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type ScanWorkerVisitor, scanFile, scanTree } from 'sluice/file';
import { NeedleSearch } from './scan-search.js';
import { type RangeJob, searchFileSync, searchRangeSync } from './scan-sync.js';

export type Input = 'tree' | 'large';

export interface ScanCaseArgs {
  variant: string;
  input: Input;
  readers: number;
  /** The tree's root or the large file. */
  target: string;
  needle: string;
}

export interface ScanCaseResult {
  ms: number;
  userMs: number;
  sysMs: number;
  files: number;
  bytes: number;
  matches: number;
}

interface Tally {
  files: number;
  bytes: number;
  matches: number;
}

const SYNC_WORKER = new URL('./scan-sync-worker.js', import.meta.url);
const RANGE_WINDOW = 256 * 1024;

function walkSync(root: string, onFile: (file: string) => void): void {
  const stack = [root];
  while (stack.length > 0) {
    const directory = stack.pop()!;
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = directory + path.sep + entry.name;
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) onFile(full);
    }
  }
}

function runWorker(data: unknown): Promise<Tally> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SYNC_WORKER, { workerData: data });
    worker.once('message', (tally: Tally) => resolve(tally));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`scan worker exited with code ${code}`));
    });
  });
}

function add(into: Tally, from: Tally): void {
  into.files += from.files;
  into.bytes += from.bytes;
  into.matches += from.matches;
}

/** [start, end] inclusive per reader, each extended by needle - 1 bytes so no seam hides a match. */
function ranges(size: number, readers: number, needleLength: number): Array<[number, number]> {
  const share = Math.ceil(size / readers);
  const result: Array<[number, number]> = [];
  for (let start = 0; start < size; start += share) {
    result.push([start, Math.min(size - 1, start + share - 1 + needleLength - 1)]);
  }
  return result;
}

async function syncTree(args: ScanCaseArgs): Promise<Tally> {
  const tally: Tally = { files: 0, bytes: 0, matches: 0 };
  const search = new NeedleSearch(args.needle);
  const buffer = Buffer.allocUnsafeSlow(64 * 1024);
  if (args.readers === 1) {
    walkSync(args.target, (file) => {
      tally.bytes += searchFileSync(file, buffer, search);
      tally.files++;
    });
    tally.matches = search.matches;
    return tally;
  }
  const shares: string[][] = Array.from({ length: args.readers }, () => []);
  let next = 0;
  walkSync(args.target, (file) => {
    shares[next]!.push(file);
    next = (next + 1) % args.readers;
  });
  const tallies = await Promise.all(
    shares.map((files) => runWorker({ kind: 'files', files, needle: args.needle })),
  );
  for (const each of tallies) add(tally, each);
  return tally;
}

async function syncLarge(args: ScanCaseArgs): Promise<Tally> {
  const size = fs.statSync(args.target).size;
  const jobs: RangeJob[] = ranges(size, args.readers, args.needle.length).map(([start, end]) => ({
    file: args.target,
    start,
    end,
    needle: args.needle,
  }));
  if (args.readers === 1) return searchRangeSync(jobs[0]!);
  const tally: Tally = { files: 1, bytes: 0, matches: 0 };
  for (const each of await Promise.all(jobs.map((job) => runWorker({ kind: 'range', job })))) {
    tally.bytes += each.bytes;
    tally.matches += each.matches;
  }
  return tally;
}

async function* walkAsync(directory: string): AsyncGenerator<string> {
  for (const entry of await fs.promises.readdir(directory, { withFileTypes: true })) {
    const full = directory + path.sep + entry.name;
    if (entry.isDirectory()) yield* walkAsync(full);
    else if (entry.isFile()) yield full;
  }
}

async function promisesTree(args: ScanCaseArgs): Promise<Tally> {
  const tally: Tally = { files: 0, bytes: 0, matches: 0 };
  const files = walkAsync(args.target);
  await Promise.all(
    Array.from({ length: args.readers }, async () => {
      const search = new NeedleSearch(args.needle);
      // the N loops share one generator: each next() hands out the next path
      for (let step = await files.next(); step.done !== true; step = await files.next()) {
        const bytes = await fs.promises.readFile(step.value);
        search.begin();
        search.feed(bytes);
        tally.files++;
        tally.bytes += bytes.length;
      }
      tally.matches += search.matches;
    }),
  );
  return tally;
}

async function promisesLarge(args: ScanCaseArgs): Promise<Tally> {
  const size = (await fs.promises.stat(args.target)).size;
  const tally: Tally = { files: 1, bytes: 0, matches: 0 };
  await Promise.all(
    ranges(size, args.readers, args.needle.length).map(async ([start, end]) => {
      const handle = await fs.promises.open(args.target, 'r');
      const buffer = Buffer.allocUnsafeSlow(RANGE_WINDOW);
      const search = new NeedleSearch(args.needle);
      try {
        for (let position = start; position <= end; ) {
          const { bytesRead } = await handle.read(
            buffer,
            0,
            Math.min(RANGE_WINDOW, end - position + 1),
            position,
          );
          if (bytesRead === 0) break;
          search.feed(buffer.subarray(0, bytesRead));
          position += bytesRead;
          tally.bytes += bytesRead;
        }
      } finally {
        await handle.close();
      }
      tally.matches += search.matches;
    }),
  );
  return tally;
}

const WORKER_VISITOR = new URL('./scan-visit.js', import.meta.url);

/** The search on scanTree's worker threads: each file searched by the thread that read it. */
/** The worker-thread visitor searching for the needle, and the matches its results added up to. */
function countingVisitor(needle: string): { visitor: ScanWorkerVisitor; matches: () => number } {
  let matches = 0;
  const visitor = {
    module: WORKER_VISITOR,
    data: needle,
    onResult: (found: unknown) => {
      matches += found as number;
    },
  };
  return { visitor, matches: () => matches };
}

async function sluiceTree(args: ScanCaseArgs): Promise<Tally> {
  const { visitor, matches } = countingVisitor(args.needle);
  const summary = await scanTree(args.target, visitor, { concurrency: args.readers });
  if (summary.problems.length > 0) throw new Error(`scan problems: ${summary.problems[0]!.error.message}`);
  return { files: summary.files, bytes: summary.bytes, matches: matches() };
}

/** The search on the main thread, as scanTree's visitor: `contents` for small files, windows else. */
async function sluiceMainTree(args: ScanCaseArgs): Promise<Tally> {
  // one search state per visit in flight (visits interleave at each await), reused
  const idle: NeedleSearch[] = [];
  let matches = 0;
  const summary = await scanTree(
    args.target,
    (file) => {
      const search = idle.pop() ?? new NeedleSearch(args.needle);
      search.begin();
      // a small file, read whole by a worker thread: searched now, no promise
      if (file.contents !== undefined) {
        search.feed(file.contents);
        idle.push(search);
        return;
      }
      return (async () => {
        for await (const window of file.reader) search.feed(window);
        idle.push(search);
      })();
    },
    { concurrency: args.readers },
  );
  for (const search of idle) matches += search.matches;
  if (summary.problems.length > 0) throw new Error(`scan problems: ${summary.problems[0]!.error.message}`);
  return { files: summary.files, bytes: summary.bytes, matches };
}

async function sluiceLarge(args: ScanCaseArgs): Promise<Tally> {
  // scanFile: parts dealt to worker threads, the search where the part was read; N readers use at most
  // one thread per core (as scanTree's workers do), each part read from needle.length - 1 bytes
  // before its start so that a match across a boundary is counted once
  const { visitor, matches } = countingVisitor(args.needle);
  const summary = await scanFile(args.target, visitor, {
    workers: Math.min(args.readers, availableParallelism()),
    overlap: args.needle.length - 1,
  });
  return { files: 1, bytes: summary.size, matches: matches() };
}

const VARIANTS: Record<string, Record<Input, (args: ScanCaseArgs) => Promise<Tally>>> = {
  sync: { tree: syncTree, large: syncLarge },
  'fs-promises': { tree: promisesTree, large: promisesLarge },
  sluice: { tree: sluiceTree, large: sluiceLarge },
  'sluice-main': { tree: sluiceMainTree, large: sluiceLarge },
};

export async function runCase(args: ScanCaseArgs): Promise<ScanCaseResult> {
  const variant = VARIANTS[args.variant]?.[args.input];
  if (variant === undefined) throw new Error(`unknown scan variant ${args.variant} / ${args.input}`);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const tally = await variant(args);
  const ms = performance.now() - started;
  // process-wide: every thread's CPU (worker threads, libuv's threadpool) is counted
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, userMs: cpu.user / 1000, sysMs: cpu.system / 1000, ...tally };
}
