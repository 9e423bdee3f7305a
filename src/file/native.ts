/**
 * The optional native addon (`native/sluice-native.c`, built at install by
 * `scripts/build-native.mjs` when a C compiler and Node's headers are present): `readPopulated`,
 * a positional read on the threadpool that has the kernel map the destination's pages in one call
 * before reading, instead of one page fault per 4 KiB during the copy. `readAll` uses it for fresh
 * buffers, and the threadpool readers for a slab's first read; without it (not built, not Linux,
 * or `SLUICE_NATIVE=0`), both use `fs.read`.
 */
import { createRequire } from 'node:module';

/**
 * Resolves with the bytes read (less than `length` only at end of file). Rejects with an error
 * shaped like `fs.read`'s (`code`, negative `errno`, `syscall: 'read'`), which callers turn into
 * sluice errors with `fromOsError` as they do fs's. Its argument errors (a RangeError with code
 * `SLUICE_NATIVE_ARGUMENT`) are sluice bugs, never users' input: callers validate first.
 */
export type ReadPopulated = (
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
) => Promise<number>;

function load(): ReadPopulated | undefined {
  if (process.env.SLUICE_NATIVE === '0' || process.platform !== 'linux') return undefined;
  try {
    // dist/src/file/native.js -> build/ at the package root
    const addon = createRequire(import.meta.url)('../../../build/sluice-native.node') as {
      readPopulated?: unknown;
    };
    return typeof addon.readPopulated === 'function' ? (addon.readPopulated as ReadPopulated) : undefined;
  } catch {
    return undefined; // not built: correct without it, only slower
  }
}

/** The addon's populated read, when built and enabled. */
export const readPopulated: ReadPopulated | undefined = load();
