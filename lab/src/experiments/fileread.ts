/**
 * `fileread` (seed 000): count the bytes of a 636 MiB file in the page cache, the seed's program,
 * with every way a Node user would read it; and a `touch` pass that CRCs every byte, where reading
 * can overlap with computing. Each run is a fresh process.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFile, warmPageCache } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, ExperimentResult, Metrics } from '../harness/types.js';
import type { CaseArgs, Pass } from './fileread-variants.js';

/** The seed's file: CentOS-7-x86_64-Minimal-1503-01.iso, 666894336 bytes. */
export const SEED_FILE_BYTES = 666_894_336;
const QUICK_FILE_BYTES = 64 * 1024 * 1024;

const COUNT_VARIANTS = [
  'readSync-64k',
  'readSync-16k',
  'fs.read-64k',
  'filehandle-16k',
  'filehandle-64k',
  'createReadStream',
  'readFile',
  'readFileSync',
  'sluice',
  'sluice-threadpool',
  'sluice-worker',
  'sluice-readAll',
  'sluice-readAll-js',
] as const;

/** The touch pass compares the strategies that matter: sync read-then-CRC against sluice's. */
const TOUCH_VARIANTS = [
  'readSync-64k',
  'createReadStream',
  'sluice',
  'sluice-threadpool',
  'sluice-worker',
] as const;

const variantsModule = new URL('./fileread-variants.js', import.meta.url);

/** Whether sluice's optional native addon was built (`build/sluice-native.node` at its package root). */
function nativeAddonBuilt(): boolean {
  const entry = fileURLToPath(import.meta.resolve('sluice/file')); // <root>/dist/src/file/index.js
  return existsSync(path.join(entry, '..', '..', '..', '..', 'build', 'sluice-native.node'));
}

export const fileread: Experiment = {
  name: 'fileread',
  seed: '000_21847fc642026380.txt',
  title: 'read a 636 MiB cached file: sync vs async',
  description:
    'Counts the bytes of a 666,894,336-byte file in the page cache (the seed measured 80-100 ms sync vs ' +
    '535-620 ms async in tokio), with each way a Node user reads a file, each run in a fresh process; then a ' +
    '`touch` pass that CRC-32s every byte, where an async reader can overlap reading with computing.',
  variants: COUNT_VARIANTS,
  baseline: 'readSync-64k',
  metrics: ['ms', 'mbPerS', 'userMs', 'sysMs', 'peakRssMb', 'maxLagMs'],
  headline: { metric: 'mbPerS', higherIsBetter: true },
  async run(context): Promise<ExperimentResult> {
    const fileBytes = context.quick ? QUICK_FILE_BYTES : SEED_FILE_BYTES;
    context.progress(`making the ${fileBytes}-byte file (once)`);
    const file = ensureFile(`fileread-${fileBytes}.bin`, fileBytes);
    const crcs = new Map<string, number>();
    const notes: string[] = [];
    const makeCase = (variant: string, pass: Pass): Case => ({
      variant,
      dims: { pass },
      run: async (): Promise<Metrics> => {
        const args: CaseArgs = { variant, pass, file };
        warmPageCache(file); // back in the page cache if the host took it (data.ts)
        // readAll without sluice's native addon (SLUICE_NATIVE=0): what it does where none was built
        const env = variant === 'sluice-readAll-js' ? { ...process.env, SLUICE_NATIVE: '0' } : process.env;
        const metrics = await runInChild(variantsModule, 'runCase', args, { timeoutMs: 120_000, env });
        if (metrics.bytes !== fileBytes)
          throw new Error(`${variant} read ${metrics.bytes} bytes, not ${fileBytes}`);
        if (pass === 'touch') {
          const previous = crcs.get('touch');
          if (previous !== undefined && previous !== metrics.crc) {
            throw new Error(
              `${variant} computed CRC ${metrics.crc}, others ${previous}: it read wrong bytes`,
            );
          }
          crcs.set('touch', metrics.crc ?? 0);
        }
        const { ms, mbPerS, userMs, sysMs, maxLagMs, peakRssMb } = metrics;
        return {
          ms: ms!,
          mbPerS: mbPerS!,
          userMs: userMs!,
          sysMs: sysMs!,
          maxLagMs: maxLagMs!,
          peakRssMb: peakRssMb!,
        };
      },
    });
    const cases = [
      ...COUNT_VARIANTS.filter((variant) => selected(context, variant)).map((variant) =>
        makeCase(variant, 'count'),
      ),
      ...TOUCH_VARIANTS.filter((variant) => selected(context, variant)).map((variant) =>
        makeCase(variant, 'touch'),
      ),
    ];
    const rows = await measureInterleaved(cases, context);
    notes.push(
      'userMs/sysMs are the CPU time of the whole process (all threads) during the read; peakRssMb is the ' +
        "child process's peak RSS (getrusage), Node itself included.",
      'maxLagMs: the longest stretch a 1 ms timer on the main thread could not run during the read.',
      `sluice-readAll: readAll, its 8 MiB reads through sluice's native addon (${nativeAddonBuilt() ? 'built here' : 'NOT built here: the same as sluice-readAll-js'}), which maps each chunk's fresh pages in one madvise call; sluice-readAll-js: readAll with SLUICE_NATIVE=0 (fs.read into the fresh buffer).`,
    );
    return {
      experiment: 'fileread',
      params: { fileBytes, file, runs: context.runs },
      env: {} as ExperimentResult['env'],
      rows,
      notes,
    };
  },
};
