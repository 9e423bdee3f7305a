import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where experiments keep their generated inputs (big files, trees): shared by every run and every
 * checkout on the machine so the 636 MiB file is written once. `SLUICE_LAB_DATA` overrides.
 */
export function dataDir(): string {
  const dir = process.env.SLUICE_LAB_DATA ?? path.join(os.tmpdir(), 'sluice-lab-data');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A deterministic pseudo-random (incompressible, like MP3 data) block from a 32-bit seed,
 * xorshift32 (Marsaglia 2003).
 */
export function randomBlock(size: number, seed: number): Buffer {
  const block = Buffer.allocUnsafe(size + ((4 - (size % 4)) % 4));
  const next = xorshift32(seed >>> 0 || 0x9e3779b9);
  for (let offset = 0; offset < block.length; offset += 4) block.writeUInt32LE(next(), offset);
  return block.subarray(0, size);
}

/**
 * xorshift32 (Marsaglia 2003): the generator behind every piece of lab data (the library has its
 * own for its sample data; the lab sees only the library's public exports). `state`: a non-zero uint32.
 */
export function xorshift32(state: number): () => number {
  let current = state >>> 0;
  return () => {
    current ^= current << 13;
    current >>>= 0;
    current ^= current >>> 17;
    current ^= current << 5;
    current >>>= 0;
    return current;
  };
}

/**
 * Makes (once) a file of exactly `size` deterministic bytes named `name` in the data dir, and
 * returns its path. An existing file of the right size is reused.
 */
export function ensureFile(name: string, size: number, seed = 1): string {
  const file = path.join(dataDir(), name);
  try {
    if (statSync(file).size === size) return file;
  } catch {
    // not there yet
  }
  const chunkSize = 1 << 20;
  const block = randomBlock(chunkSize, seed);
  const fd = openSync(file, 'w');
  try {
    for (let offset = 0, index = 0; offset < size; offset += chunkSize, index++) {
      // rotate the block per chunk so no two MiB are equal
      const rotation = (index * 4099) % chunkSize;
      const length = Math.min(chunkSize, size - offset);
      const head = block.subarray(rotation, Math.min(chunkSize, rotation + length));
      writeSync(fd, head, 0, head.length, offset);
      if (head.length < length) writeSync(fd, block, 0, length - head.length, offset + head.length);
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/**
 * Reads the whole file once so later reads come from the page cache. The experiments that say
 * "page-cached" call it (or `warmTree`) again right before every case, outside the measured span:
 * the VMs here give cached pages back to the host within minutes (DAMON reclaim: `fincore` showed
 * 192 of the 636 MiB file resident half an hour after it was read), and a case that reads half its
 * input from disk measures the disk, differently for each variant.
 */
export function warmPageCache(file: string, buffer: Buffer = Buffer.allocUnsafe(1 << 20)): void {
  const fd = openSync(file, 'r');
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0) {
      // reading is the point
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * `warmPageCache` for every regular file under `root` (and its directories, by listing them);
 * anything else (links, FIFOs, sockets) is left alone. `onFile` sees each file read (for tests).
 */
export function warmTree(root: string, onFile?: (file: string) => void): void {
  const buffer = Buffer.allocUnsafe(1 << 20);
  const folders = [root];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const child = path.join(folder, entry.name);
      if (entry.isDirectory()) folders.push(child);
      else if (entry.isFile()) {
        warmPageCache(child, buffer);
        onFile?.(child);
      }
    }
  }
}
