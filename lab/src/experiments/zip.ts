/**
 * `zip` (seed 000): the audiobook site's workload, a store-only ZIP of 24 files x 25 MiB built on the
 * fly, sent to a counting sink; archiver, client-zip and yazl against sluice with a cold CRC cache
 * (as the download server does it: planned from the listing, each file's CRC computed on the CRC
 * threads while the file before it streams, so the files are read twice but the two reads overlap)
 * and a warm one (planned from the cache, the files read once), and the bare reading of the files
 * as the limit. Each run is a fresh process; the files are in the page cache. (The HTTP part, N slow
 * clients downloading zips, is measured by the download server's experiment.)
 */
import { mkdirSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { CrcCache, crc32Implementation, zipDirectory } from 'sluice/zip';
import { dataDir, ensureFile, warmTree } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, ExperimentResult, Metrics } from '../harness/types.js';
import type { ZipCaseArgs } from './zip-variants.js';

const VARIANTS = ['archiver', 'client-zip', 'yazl', 'sluice-cold', 'sluice-warm', 'raw-read'] as const;

/** The seed's audiobook: 24 MP3 files of 25 MiB. */
const FILES = 24;
const FILE_BYTES = 25 * 1024 * 1024;
const QUICK_FILES = 4;
const QUICK_FILE_BYTES = 2 * 1024 * 1024;
/** A fixed, old mtime: deterministic archives, and files old enough for the CRC cache to keep. */
const MTIME_SECONDS = Date.UTC(2019, 9, 1) / 1000;

const variantsModule = new URL('./zip-variants.js', import.meta.url);

/** The audiobook directory in the lab's data dir (made once, reused by every run). */
function audiobook(files: number, fileBytes: number): string {
  const name = `zip-audiobook-${files}x${fileBytes}`;
  mkdirSync(path.join(dataDir(), name), { recursive: true });
  for (let index = 1; index <= files; index++) {
    const file = ensureFile(path.join(name, `track-${String(index).padStart(2, '0')}.mp3`), fileBytes, index);
    utimesSync(file, MTIME_SECONDS, MTIME_SECONDS);
  }
  return path.join(dataDir(), name);
}

export const zip: Experiment = {
  name: 'zip',
  seed: '000_21847fc642026380.txt',
  title: 'store-only ZIP of an audiobook (24 x 25 MiB) to a counting sink',
  description:
    "The seed's audiobook site builds store-only ZIPs of MP3 files on the fly. This builds one of 24 files " +
    'x 25 MiB (page-cached) with archiver, client-zip, yazl and sluice, each run in a fresh process, into a ' +
    'sink that takes every chunk at once: sluice-cold has no CRC cached and does what the download server does, ' +
    'from the directory listing to the last byte: plans from the listing (deferred CRCs) and computes each ' +
    "file's CRC-32 on CRC threads (started in the run) while the file before it streams, so it reads the files " +
    'twice, the two reads overlapping; sluice-warm plans from the CRC cache and reads them once; raw-read is ' +
    'the bare readSync of the same bytes, the limit.',
  variants: VARIANTS,
  baseline: 'archiver',
  metrics: ['mbPerS', 'cpuMs', 'peakRssMb'],
  headline: { metric: 'mbPerS', higherIsBetter: true },
  async run(context): Promise<ExperimentResult> {
    const files = context.quick ? QUICK_FILES : FILES;
    const fileBytes = context.quick ? QUICK_FILE_BYTES : FILE_BYTES;
    context.progress(`making the audiobook (${files} x ${fileBytes} bytes, once)`);
    const dir = audiobook(files, fileBytes);
    const cacheDir = path.join(dataDir(), `zip-crc-cache-${process.pid}`);
    mkdirSync(cacheDir, { recursive: true });
    const warmCache = path.join(cacheDir, 'warm.txt');
    const coldCache = path.join(cacheDir, 'cold.txt');
    // fill the warm cache once, here
    const cache = await CrcCache.open(warmCache);
    await zipDirectory(dir, { crcCache: cache });
    const cached = cache.stats().entries;
    await cache.close();
    if (cached !== files) throw new Error(`the warm CRC cache holds ${cached} CRCs, not ${files}`);
    const sizes = new Map<string, number>();
    const makeCase = (variant: string): Case => ({
      variant,
      run: async (): Promise<Metrics> => {
        if (variant === 'sluice-cold') rmSync(coldCache, { force: true });
        warmTree(dir); // the files back in the page cache if the host took them (data.ts)
        const args: ZipCaseArgs = {
          variant,
          dir,
          cacheFile: variant === 'sluice-warm' ? warmCache : coldCache,
        };
        const metrics = await runInChild(variantsModule, 'runCase', args, { timeoutMs: 300_000 });
        if (variant !== 'raw-read') {
          // every archiver writes the same 24 entries: archive lengths differ only by their headers
          sizes.set(variant, metrics.bytes ?? 0);
          if ((metrics.bytes ?? 0) < files * fileBytes)
            throw new Error(`${variant} wrote only ${metrics.bytes} bytes`);
        } else if (metrics.bytes !== files * fileBytes) {
          throw new Error(`raw-read read ${metrics.bytes} bytes, not ${files * fileBytes}`);
        }
        return { mbPerS: metrics.mbPerS!, cpuMs: metrics.cpuMs!, peakRssMb: metrics.peakRssMb! };
      },
    });
    try {
      const rows = await measureInterleaved(
        VARIANTS.filter((variant) => selected(context, variant)).map(makeCase),
        context,
      );
      const notes = [
        'mbPerS: archive bytes (raw-read: file bytes) per second of wall time from the first file opened to the ' +
          'last byte in the sink; cpuMs: user + system CPU of the process (all threads) over the same span; ' +
          "peakRssMb: the child process's peak RSS (getrusage), Node itself included.",
        `archive sizes: ${[...sizes].map(([variant, bytes]) => `${variant} ${bytes}`).join(', ')} bytes ` +
          "(archiver, client-zip and yazl write data descriptors; sluice does not: a local header goes out once its file's CRC is known).",
        'The files are in the page cache; with a cold disk every variant is bound by the disk instead.',
        `sluice's CRC-32: ${crc32Implementation}; ` +
          (crc32Implementation.startsWith('sluice-native')
            ? "sluice-cold checksums its files on libuv's threadpool through sluice's native addon."
            : 'sluice-cold checksums its files on worker threads (the native addon is not built here).'),
      ];
      return {
        experiment: 'zip',
        params: { files, fileBytes, dir, runs: context.runs },
        env: {} as ExperimentResult['env'],
        rows,
        notes,
      };
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  },
};
