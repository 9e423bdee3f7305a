import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { InvalidArgumentError } from '../errors.js';

export interface LagMonitorOptions {
  /** Sampling period of the delay timer in ms (default 10; Node's minimum is 1). */
  resolutionMs?: number;
}

/** Event-loop delay over the samples since start (or the last `reset()`), in milliseconds. */
export interface LagSnapshot {
  samples: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LagMonitor extends Disposable {
  snapshot(): LagSnapshot;
  reset(): void;
  stop(): void;
}

const NS_PER_MS = 1e6;

/**
 * Measures event-loop lag with `perf_hooks.monitorEventLoopDelay` (a libuv timer whose delays are
 * recorded in a histogram off the JavaScript heap, so measuring costs next to nothing):
 *
 * ```ts
 * using lag = monitorLag();
 * await work();
 * console.log(lag.snapshot().maxMs);
 * ```
 *
 * Note that the histogram records the delay of its timer, so a loop blocked for 50 ms shows as
 * about 50 ms, not as 50 delayed 1 ms ticks.
 */
export function monitorLag(options: LagMonitorOptions = {}): LagMonitor {
  const resolution = options.resolutionMs ?? 10;
  if (!Number.isSafeInteger(resolution) || resolution < 1) {
    throw new InvalidArgumentError('resolutionMs', 'an integer >= 1', resolution);
  }
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution });
  histogram.enable();
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    histogram.disable();
  };
  return {
    snapshot(): LagSnapshot {
      const samples = histogram.count;
      if (samples === 0) return { samples, minMs: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
      return {
        samples,
        minMs: histogram.min / NS_PER_MS,
        meanMs: histogram.mean / NS_PER_MS,
        p50Ms: histogram.percentile(50) / NS_PER_MS,
        p99Ms: histogram.percentile(99) / NS_PER_MS,
        maxMs: histogram.max / NS_PER_MS,
      };
    },
    reset(): void {
      histogram.reset();
    },
    stop,
    [Symbol.dispose]: stop,
  };
}
