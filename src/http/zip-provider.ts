/**
 * How the server gets a ZIP plan for a book directory: `planZip(await zipDirectory(dir))` of
 * sluice/zip with one persistent CRC cache and deferred CRCs (a plan is made from the directory
 * listing alone: a cold book's first byte goes out while the CRCs of its later files are computed,
 * and a HEAD reads no file), entries whose real path leaves the library root dropped (zipDirectory
 * follows symlinks to files), and concurrent requests for the same book sharing one plan for a
 * moment (5000 clients asking for the same book at once build it once, and share its CRC work).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { CrcCache, planZip, type ZipEntryInput, zipDirectory } from '../zip/index.js';
import type { ZipPlanLike } from './send.js';

export type ZipProvider = (bookDir: string, signal?: AbortSignal) => Promise<ZipPlanLike>;

export interface DefaultZipProvider {
  provider: ZipProvider;
  close(): Promise<void>;
}

/**
 * sluice/zip's provider for books under `realRoot`. `crcCachePath`: where CRCs persist (default:
 * sluice/zip's default location); `false` computes them on every plan.
 */
export function defaultZipProvider(realRoot: string, crcCachePath?: string | false): DefaultZipProvider {
  let cache: Promise<CrcCache> | undefined;
  const openCache = (): Promise<CrcCache | false> => {
    if (crcCachePath === false) return Promise.resolve(false);
    cache ??= CrcCache.open(crcCachePath);
    return cache;
  };
  return {
    async provider(bookDir, signal) {
      const crcCache = await openCache();
      const options: { crcCache: CrcCache | false; prefix: string; deferCrcs: true; signal?: AbortSignal } = {
        crcCache,
        deferCrcs: true,
        // the archive unpacks into a folder named like the book
        prefix: path.basename(bookDir),
      };
      if (signal !== undefined) options.signal = signal;
      const entries = await zipDirectory(bookDir, options);
      return planZip(await insideRoot(realRoot, entries));
    },
    async close() {
      if (cache !== undefined) await (await cache).close();
    },
  };
}

/** Drops entries whose source is a symlink leading outside `realRoot`. */
async function insideRoot(realRoot: string, entries: ZipEntryInput[]): Promise<ZipEntryInput[]> {
  const prefix = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep;
  const kept: ZipEntryInput[] = [];
  for (const entry of entries) {
    if (entry.source === undefined) {
      kept.push(entry);
      continue;
    }
    const real = await realpath(entry.source).catch(() => undefined);
    if (real?.startsWith(prefix)) kept.push(entry);
  }
  return kept;
}

/** Memoizes plans per directory for `ttlMs` (a plan is a few hundred bytes per entry), at most `maxPlans`. */
export function memoizeZipProvider(provider: ZipProvider, ttlMs = 2000, maxPlans = 256): ZipProvider {
  const plans = new Map<string, { plan: Promise<ZipPlanLike>; expires: number }>();
  return (bookDir) => {
    const now = Date.now();
    const cached = plans.get(bookDir);
    if (cached !== undefined && cached.expires > now) return cached.plan;
    if (plans.size >= maxPlans) {
      for (const [key, value] of plans) if (value.expires <= now) plans.delete(key);
      if (plans.size >= maxPlans) plans.clear();
    }
    // not tied to one request's signal: the plan is shared
    const plan = provider(bookDir);
    plans.set(bookDir, { plan, expires: now + ttlMs });
    plan.catch(() => plans.delete(bookDir));
    return plan;
  };
}
