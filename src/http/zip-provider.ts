/**
 * How the server gets a ZIP plan for a book directory. By default from sluice/zip
 * (`planZip(await zipDirectory(dir))`), with concurrent requests for the same book sharing one
 * plan for a moment (5000 clients asking for the same book at once build it once).
 */
import type { ZipPlanLike } from './send.js';

export type ZipProvider = (bookDir: string, signal?: AbortSignal) => Promise<ZipPlanLike>;

interface ZipModule {
  planZip(entries: readonly unknown[]): ZipPlanLike;
  zipDirectory(dir: string, options?: { signal?: AbortSignal }): Promise<unknown[]>;
}

/** sluice/zip's provider, or undefined when the module is not part of this build. */
export async function loadDefaultZipProvider(): Promise<ZipProvider | undefined> {
  // a computed specifier: the zip module is optional at build time
  const specifier = '../zip/index.js';
  let zip: Partial<ZipModule>;
  try {
    zip = (await import(specifier)) as Partial<ZipModule>;
  } catch {
    return undefined;
  }
  const { planZip, zipDirectory } = zip;
  if (typeof planZip !== 'function' || typeof zipDirectory !== 'function') return undefined;
  return async (bookDir, signal) => {
    const entries = await zipDirectory(bookDir, signal === undefined ? {} : { signal });
    return planZip(entries);
  };
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
