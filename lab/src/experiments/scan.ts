/**
 * `scan` (seed 003): ripgrep's test, searching a Linux checkout for a string that is absent with
 * 1..32 threads, reproduced in Node: a generated kernel-shaped tree (~70,000 files, ~1 GiB) and one
 * large file, searched by each variant with 1, 2, 4, 8, 16 and 32 readers, every case in a fresh
 * process.
 */
import { ensureFile, warmPageCache, warmTree } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, ExperimentResult, Metrics, Row } from '../harness/types.js';
import { SEED_FILE_BYTES } from './fileread.js';
import { ensureTree, NEEDLE, type TreeSpec } from './scan-tree.js';
import type { Input, ScanCaseArgs } from './scan-variants.js';

const VARIANTS = ['sync', 'fs-promises', 'sluice', 'sluice-main'] as const;
const READERS = [1, 2, 4, 8, 16, 32] as const;
const QUICK_READERS = [1, 4] as const;

const TREE: TreeSpec = { files: 70_000, bytes: 2 ** 30 };
const QUICK_TREE: TreeSpec = { files: 2_000, bytes: 32 * 2 ** 20 };
const QUICK_LARGE_BYTES = 64 * 1024 * 1024;

const variantsModule = new URL('./scan-variants.js', import.meta.url);

export const scan: Experiment = {
  name: 'scan',
  seed: '003_f88e171b64c17b88.txt',
  title: 'search a kernel-shaped tree and a large file for an absent string, 1-32 readers',
  description:
    "The seed's ripgrep test: search a Linux checkout for `zqzqzqzqzq` (absent) with -j1..-j32; read(2) " +
    'scaled from 665 ms to 93 ms at 16 threads, memory maps got slower with threads (731 ms to 1279 ms), ' +
    'while for one 9.3 GB file mmap won. Here: a generated tree shaped like the kernel (about 70,000 files, ' +
    'log-normal sizes, 1 GiB, in the page cache) and one 636 MiB file, searched with Buffer.indexOf (matches ' +
    'across window seams counted) by `sync` (readSync; N readers = N worker threads, as ripgrep -jN), ' +
    '`fs-promises` (N concurrent readFile loops over an async walk), `sluice` (scanTree with concurrency N and ' +
    'the search as a ScanWorkerVisitor: each file searched on the worker thread that read it) and ' +
    '`sluice-main` (scanTree with the search on the main thread, synchronous over `file.contents`); for the ' +
    'large file `sluice` is scanFile (its parts dealt to worker threads, at most one per core, the search where the ' +
    'part was read). Each case runs in a fresh process.',
  variants: VARIANTS,
  baseline: 'sync',
  metrics: ['ms', 'userMs', 'sysMs'],
  headline: { metric: 'ms', higherIsBetter: false },
  async run(context): Promise<ExperimentResult> {
    const treeSpec = context.quick ? QUICK_TREE : TREE;
    const largeBytes = context.quick ? QUICK_LARGE_BYTES : SEED_FILE_BYTES;
    const readers = context.quick ? QUICK_READERS : READERS;
    const { root, manifest } = ensureTree(treeSpec, context.progress);
    context.progress(`making the ${largeBytes}-byte file (once)`);
    // the fileread experiment's file: made once, shared
    const large = ensureFile(`fileread-${largeBytes}.bin`, largeBytes);
    const makeCase = (variant: string, input: Input, count: number): Case => ({
      variant,
      dims: { input, readers: count },
      run: async (): Promise<Metrics> => {
        const args: ScanCaseArgs = {
          variant,
          input,
          readers: count,
          target: input === 'tree' ? root : large,
          needle: NEEDLE,
        };
        // the input back in the page cache if the host took it (data.ts)
        if (input === 'tree') warmTree(root);
        else warmPageCache(large);
        const metrics = await runInChild(variantsModule, 'runCase', args, { timeoutMs: 300_000 });
        if (metrics.matches !== 0)
          throw new Error(`${variant} found ${metrics.matches} matches of an absent needle`);
        if (input === 'tree' && (metrics.files !== manifest.files || metrics.bytes !== manifest.totalBytes)) {
          throw new Error(
            `${variant} with ${count} readers saw ${metrics.files} files / ${metrics.bytes} bytes, ` +
              `not ${manifest.files} / ${manifest.totalBytes}`,
          );
        }
        if (input === 'large' && (metrics.bytes ?? 0) < largeBytes) {
          throw new Error(`${variant} with ${count} readers read ${metrics.bytes} bytes of ${largeBytes}`);
        }
        return { ms: metrics.ms!, userMs: metrics.userMs!, sysMs: metrics.sysMs! };
      },
    });
    const cases: Case[] = [];
    for (const input of ['tree', 'large'] as const) {
      for (const count of readers) {
        for (const variant of VARIANTS) {
          // one file: no walk, no visits; both sluice rows would be the same openReader ranges
          if (variant === 'sluice-main' && input === 'large') continue;
          if (selected(context, variant)) cases.push(makeCase(variant, input, count));
        }
      }
    }
    const rows = await measureInterleaved(cases, context);
    return {
      experiment: 'scan',
      params: {
        needle: NEEDLE,
        tree: { root, ...manifest },
        largeFile: { path: large, bytes: largeBytes },
        readers: [...readers],
        runs: context.runs,
      },
      env: {} as ExperimentResult['env'],
      rows,
      notes: [...acceptanceNotes(rows), ...NOTES],
    };
  },
};

const NOTES = [
  'ms is the wall time of the search in the child (walk included); userMs/sysMs are the CPU time of the ' +
    'whole process, every thread (worker threads, libuv threadpool) included.',
  'sync with N > 1 readers walks the tree first on the main thread, then N worker threads search their ' +
    "shares (round-robin) with readSync: ripgrep -jN's model in Node; worker start-up is counted.",
  "Every case must find 0 matches and see exactly the tree's files and bytes, or the run fails.",
  'sluice-main keeps the search on the main thread (the bytes read by worker threads, handed over in shared ' +
    'slabs): the search cannot use a second core there, which is what the sluice row (visits on the worker ' +
    'threads) is for; it has no large-file rows (scanFile visits on worker threads only).',
];

/** The issue's acceptance, stated from this run's medians: sluice at its best vs sync -j1 and fs-promises' best. */
export function acceptanceNotes(rows: readonly Row[]): string[] {
  const notes: string[] = [];
  for (const input of ['tree', 'large']) {
    const of = (variant: string): Row[] =>
      rows.filter((row) => row.variant === variant && row.dims.input === input && row.skipped === undefined);
    const best = (variant: string): Row | undefined =>
      of(variant).reduce<Row | undefined>(
        (winner, row) =>
          winner === undefined ||
          (row.median.ms ?? Number.POSITIVE_INFINITY) < (winner.median.ms ?? Number.POSITIVE_INFINITY)
            ? row
            : winner,
        undefined,
      );
    const sluice = best('sluice');
    const syncSingle = of('sync').find((row) => row.dims.readers === 1);
    const promises = best('fs-promises');
    const syncBest = best('sync');
    if (sluice?.median.ms === undefined) continue;
    const speedup = (other: Row | undefined): string =>
      other?.median.ms === undefined ? 'n/a' : `${(other.median.ms / sluice.median.ms!).toFixed(2)}x`;
    notes.push(
      `${input}: sluice at its best (${sluice.dims.readers} readers, ${sluice.median.ms} ms) is ` +
        `${speedup(syncSingle)} sync with 1 reader (target >= 1.5x), ${speedup(promises)} fs-promises at its best ` +
        `(${promises?.dims.readers} readers; target >= 1.0x), ${speedup(syncBest)} sync at its best ` +
        `(${syncBest?.dims.readers} readers).`,
    );
  }
  return notes;
}
