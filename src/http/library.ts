/**
 * The library: each sub-directory of the root is a book (downloadable as `/<book>.zip`), each file
 * inside is downloadable directly (`/<book>/<file>`), and files directly in the root too.
 * Hidden names (leading dot) and symlinks are left out of listings.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface LibraryFile {
  /** Path relative to the book (or the root for loose files), `/`-separated. */
  name: string;
  size: number;
  mtimeMs: number;
}

export interface Book {
  name: string;
  files: LibraryFile[];
  /** Sum of the file sizes. */
  bytes: number;
}

export interface Library {
  books: Book[];
  /** Files directly in the root. */
  files: LibraryFile[];
}

/** Bound on how many entries one listing walks, so a huge tree cannot stall the index page. */
export const MAX_LISTED_ENTRIES = 100_000;

export async function scanLibrary(root: string): Promise<Library> {
  const books: Book[] = [];
  const files: LibraryFile[] = [];
  const budget = { left: MAX_LISTED_ENTRIES };
  const entries = await readdir(root, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || budget.left-- <= 0) continue;
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) {
      const bookFiles = await walk(full, '', budget);
      books.push({
        name: entry.name,
        files: bookFiles,
        bytes: bookFiles.reduce((sum, file) => sum + file.size, 0),
      });
    } else if (entry.isFile()) {
      const stats = await lstat(full);
      files.push({ name: entry.name, size: stats.size, mtimeMs: stats.mtimeMs });
    }
  }
  return { books, files };
}

async function walk(dir: string, prefix: string, budget: { left: number }): Promise<LibraryFile[]> {
  const found: LibraryFile[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || budget.left-- <= 0) continue;
    const full = path.join(dir, entry.name);
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      found.push(...(await walk(full, name, budget)));
    } else if (entry.isFile()) {
      const stats = await lstat(full);
      found.push({ name, size: stats.size, mtimeMs: stats.mtimeMs });
    }
  }
  return found;
}

/** `/a b/c.mp3` -> `/a%20b/c.mp3`: each segment percent-encoded, slashes kept. */
export function hrefOf(...segments: string[]): string {
  return `/${segments
    .flatMap((segment) => segment.split('/'))
    .map((segment) => encodeURIComponent(segment))
    .join('/')}`;
}
