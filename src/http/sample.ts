/**
 * A small deterministic sample library, so `npx sluice serve` shows something at once: three books
 * of a few MP3-named files (pseudo-random bytes, like compressed audio), two with non-ASCII names.
 * Same bytes and mtimes on every machine, so ETags and ZIPs are stable across restarts.
 */
import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { xorshift32 } from '../internal/xorshift.js';

interface SampleBook {
  name: string;
  chapters: readonly string[];
}

const BOOKS: readonly SampleBook[] = [
  {
    name: 'Alice in Wonderland',
    chapters: ['01 Down the Rabbit-Hole.mp3', '02 The Pool of Tears.mp3', '03 A Caucus-Race.mp3'],
  },
  {
    name: 'Les Misérables',
    chapters: ['01 Fantine.mp3', '02 Cosette.mp3', '03 Marius.mp3', '04 L’idylle rue Plumet.mp3'],
  },
  { name: 'Война и мир', chapters: ['01 Том первый.mp3', '02 Том второй.mp3'] },
];
/** 2020-01-01T00:00:00Z: fixed mtimes keep ETags and archive bytes identical everywhere. */
const SAMPLE_MTIME = new Date(Date.UTC(2020, 0, 1));
/** Bump when the sample changes, so an old copy in the cache is not reused. */
const SAMPLE_VERSION = 1;

export interface SampleFile {
  book: string;
  name: string;
  size: number;
  seed: number;
}

export function sampleFiles(): SampleFile[] {
  const files: SampleFile[] = [];
  let seed = 1;
  for (const book of BOOKS) {
    for (const name of book.chapters) {
      // 192 KiB .. 1.3 MiB, varied so sizes differ between files
      const size = 192 * 1024 + ((seed * 389_371) % (1120 * 1024));
      files.push({ book: book.name, name, size, seed: seed++ });
    }
  }
  return files;
}

/** Where the sample goes by default: the user's cache dir, else the temp dir. */
export function defaultSampleDir(): string {
  const cache =
    process.env.XDG_CACHE_HOME ?? (os.homedir() ? path.join(os.homedir(), '.cache') : os.tmpdir());
  return path.join(cache, 'sluice', `sample-library-v${SAMPLE_VERSION}`);
}

/** Makes the sample library in `dir` (default `defaultSampleDir()`) unless it is already complete. */
export async function ensureSampleLibrary(dir = defaultSampleDir()): Promise<string> {
  const files = sampleFiles();
  if (await complete(dir, files)) return dir;
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const file of files) {
    const bookDir = path.join(staging, file.book);
    await mkdir(bookDir, { recursive: true });
    const target = path.join(bookDir, file.name);
    const handle = await open(target, 'w');
    try {
      await handle.write(pseudoRandomBytes(file.size, file.seed));
    } finally {
      await handle.close();
    }
    await utimes(target, SAMPLE_MTIME, SAMPLE_MTIME);
  }
  for (const book of BOOKS) await utimes(path.join(staging, book.name), SAMPLE_MTIME, SAMPLE_MTIME);
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  await rename(staging, dir);
  return dir;
}

async function complete(dir: string, files: readonly SampleFile[]): Promise<boolean> {
  try {
    for (const file of files) {
      if ((await stat(path.join(dir, file.book, file.name))).size !== file.size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** xorshift32 (Marsaglia 2003): incompressible like MP3 data, identical on every machine. */
function pseudoRandomBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(Math.ceil(size / 4) * 4);
  const next = xorshift32((seed * 0x9e3779b9) >>> 0 || 1);
  for (let offset = 0; offset < bytes.length; offset += 4) bytes.writeUInt32LE(next(), offset);
  return bytes.subarray(0, size);
}
