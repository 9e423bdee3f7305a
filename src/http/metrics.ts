/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): connections, requests,
 * bytes sent, the buffer budget, open files, event-loop lag, RSS and open fds.
 */
import { readdirSync } from 'node:fs';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { BufferPool } from '../buffers/index.js';
import { openFileCount } from './file-windows.js';
import type { HotWindows } from './hot-windows.js';

export class ServerMetrics {
  connectionsOpen = 0;
  connectionsTotal = 0;
  connectionsRejected = 0;
  transfersActive = 0;
  transfersAborted = 0;
  /** Full garbage collections run because the server went idle after a burst (idle-memory.ts). */
  idleCollections = 0;
  bytesSent = 0;
  readonly requests = new Map<number, number>();
  #lag: IntervalHistogram;

  constructor() {
    // 20 ms resolution is plenty for a lag gauge and costs nothing measurable
    this.#lag = monitorEventLoopDelay({ resolution: 20 });
    this.#lag.enable();
  }

  countRequest(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1);
  }

  stop(): void {
    this.#lag.disable();
  }

  /** Event-loop delay in ms since the last reset: p99 and max. */
  lagMs(): { p99: number; max: number } {
    const count = this.#lag.count;
    if (count === 0) return { p99: 0, max: 0 };
    return { p99: this.#lag.percentile(99) / 1e6, max: this.#lag.max / 1e6 };
  }

  render(pool: BufferPool, hot?: HotWindows): string {
    const stats = pool.stats();
    const lag = this.lagMs();
    this.#lag.reset();
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number | string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    };
    metric('sluice_http_connections_open', 'gauge', 'Client connections open now.', this.connectionsOpen);
    metric('sluice_http_connections_total', 'counter', 'Client connections accepted.', this.connectionsTotal);
    metric(
      'sluice_http_connections_rejected_total',
      'counter',
      'Connections answered 503 because the connection cap was reached.',
      this.connectionsRejected,
    );
    lines.push(
      '# HELP sluice_http_requests_total Requests answered, by status.',
      '# TYPE sluice_http_requests_total counter',
    );
    for (const [status, count] of [...this.requests].sort((a, b) => a[0] - b[0])) {
      lines.push(`sluice_http_requests_total{status="${status}"} ${count}`);
    }
    metric('sluice_http_transfers_active', 'gauge', 'Downloads sending a body now.', this.transfersActive);
    metric(
      'sluice_http_transfers_aborted_total',
      'counter',
      'Downloads the client left before the last byte.',
      this.transfersAborted,
    );
    metric('sluice_http_sent_bytes_total', 'counter', 'Body bytes handed to the kernel.', this.bytesSent);
    metric(
      'sluice_buffer_budget_bytes',
      'gauge',
      'The buffer budget: window size times max windows.',
      stats.slabSize * stats.maxSlabs,
    );
    metric(
      'sluice_buffer_in_use_bytes',
      'gauge',
      'Window bytes held by transfers now.',
      stats.slabSize * stats.inUse,
    );
    metric(
      'sluice_buffer_peak_in_use_bytes',
      'gauge',
      'Most window bytes ever held at once.',
      stats.slabSize * stats.peakInUse,
    );
    metric(
      'sluice_buffer_allocated_bytes',
      'gauge',
      'Window bytes allocated (in use and free).',
      stats.slabSize * stats.allocated,
    );
    metric(
      'sluice_buffer_waiting',
      'gauge',
      'Transfers waiting for a window (budget exhausted).',
      stats.waiting,
    );
    metric('sluice_open_files', 'gauge', 'Files held open by transfers.', openFileCount());
    if (hot !== undefined) {
      const cache = hot.stats();
      metric('sluice_file_cache_bytes', 'gauge', 'Hot file windows kept in memory.', cache.bytes);
      metric('sluice_file_cache_hits_total', 'counter', 'Windows sent from the hot-file cache.', cache.hits);
      metric(
        'sluice_file_cache_misses_total',
        'counter',
        'Windows of admitted hot files that had to be read.',
        cache.misses,
      );
    }
    metric(
      'sluice_event_loop_lag_p99_seconds',
      'gauge',
      'Event-loop delay p99 since the last scrape.',
      lag.p99 / 1000,
    );
    metric(
      'sluice_event_loop_lag_max_seconds',
      'gauge',
      'Event-loop delay max since the last scrape.',
      lag.max / 1000,
    );
    metric(
      'sluice_idle_collections_total',
      'counter',
      'Garbage collections run when the server went idle after a burst.',
      this.idleCollections,
    );
    const memory = process.memoryUsage();
    metric('process_resident_memory_bytes', 'gauge', 'Resident set size.', memory.rss);
    // the usual Node exporter names: with RSS they tell V8 heap growth from native memory
    metric('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap committed.', memory.heapTotal);
    metric(
      'nodejs_heap_size_used_bytes',
      'gauge',
      'V8 heap in use (garbage not yet collected included).',
      memory.heapUsed,
    );
    metric(
      'nodejs_external_memory_bytes',
      'gauge',
      'Memory outside the V8 heap held by JS objects (Buffers included).',
      memory.external,
    );
    const fds = openFdCount();
    if (fds !== undefined) metric('process_open_fds', 'gauge', 'Open file descriptors.', fds);
    return `${lines.join('\n')}\n`;
  }
}

/** Open descriptors of this process from /proc (Linux); undefined elsewhere. */
export function openFdCount(): number | undefined {
  try {
    // minus one: the directory handle readdir itself holds while listing
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}
