import { BufferPool } from '../buffers/index.js';

/**
 * Readers opened without a `pool` take windows from a shared pool per window size. Each is bounded
 * to DEFAULT_POOL_BYTES: past it, readers wait their turn (first come, first served) for a window.
 */
export const DEFAULT_POOL_BYTES = 256 * 1024 * 1024;

const pools = new Map<number, BufferPool>();

export function defaultPool(windowSize: number): BufferPool {
  let pool = pools.get(windowSize);
  if (pool === undefined || pool.closed) {
    pool = new BufferPool({
      slabSize: windowSize,
      maxSlabs: Math.max(4, Math.floor(DEFAULT_POOL_BYTES / windowSize)),
      name: `sluice/file ${windowSize}`,
    });
    pools.set(windowSize, pool);
  }
  return pool;
}

/** The shared pools, for stats and leak checks. */
export function defaultPools(): BufferPool[] {
  return [...pools.values()];
}
