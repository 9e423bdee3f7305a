/**
 * Paired round trips: one client process pings several client/server pairs in turn, one ping
 * each, so every pair sees the same machine state and the same placement of the client. `rtt`
 * starts new processes for every run, and on a 2-vCPU VM where they land moves a 5-run median by
 * 15% or more; here that noise is common to all pairs and drops out of their ratios.
 *
 *   node lab/dist/src/experiments/net/paired-bench.js [rate] [samples] [pairs]
 *
 * `rate`: msg/s over all pairs together, paced as in `rtt` (0 = back-to-back; default 1000).
 * `samples`: measured pings per pair (default 2000), after 2000 unmeasured rounds.
 * `pairs`: a comma list of CLIENT>SERVER (default `naive>naive,sluice>sluice`):
 *   - `naive>naive`: a net.Socket writes 64 bytes to the plain echo (rtt's `net-naive` row);
 *   - `sluice>sluice`: FramedConnection.request to createFrameServer (rtt's `sluice` row);
 *   - `raw>sluice`: a net.Socket writes a pre-encoded request frame (the same 64 bytes) to the
 *     sluice server: the server's share of the difference;
 *   - `raw>flip`: the same frames to `flip-frame`, a bare echo that only flips the kind byte;
 *   - `sluice>flip`: FramedConnection.request to `flip-frame`: the client's share.
 * Prints each pair's p50 and p99 in microseconds and its p50 ratio to the first pair. The order of
 * the pairs in the rotation matters a little (what ran just before): run both orders.
 * docs/net.md quotes its output.
 */
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { now, waitUntil } from './pacing.js';
import { type ServerProcess, startNodeServer } from './process.js';
import { framedPinger, type Pinger, socketPinger } from './rtt-client.js';

const MESSAGE_BYTES = 64;

/** Each pair: which client, against which server kind of servers.js. */
export const PAIRS = {
  'naive>naive': { client: 'naive', server: 'naive-tcp' },
  'sluice>sluice': { client: 'sluice', server: 'sluice-frame' },
  'raw>sluice': { client: 'raw', server: 'sluice-frame' },
  'raw>flip': { client: 'raw', server: 'flip-frame' },
  'sluice>flip': { client: 'sluice', server: 'flip-frame' },
} as const;

export type PairName = keyof typeof PAIRS;

export interface PairedOptions {
  /** Messages per second over all pairs together; 0 = back-to-back. */
  rate: number;
  /** Measured pings per pair. */
  samples: number;
  pairs: readonly string[];
  /** Unmeasured rounds first (every pair once per round). Default 2000. */
  warmup?: number;
}

export interface PairedResult {
  pair: PairName;
  p50Us: number;
  p99Us: number;
  samples: number;
}

/** A sluice request frame (u32 length, kind 1, id 1) around the 64-byte message. */
function requestFrame(): Buffer {
  const frame = Buffer.alloc(4 + 5 + MESSAGE_BYTES, 0x5a);
  frame.writeUInt32BE(5 + MESSAGE_BYTES, 0);
  frame[4] = 1;
  frame.writeUInt32BE(1, 5);
  return frame;
}

function checkPairs(pairs: readonly string[]): PairName[] {
  if (pairs.length === 0) throw new Error('paired-bench: no pairs given');
  for (const pair of pairs) {
    if (!Object.hasOwn(PAIRS, pair)) {
      throw new Error(`paired-bench: unknown pair "${pair}" (one of ${Object.keys(PAIRS).join(', ')})`);
    }
  }
  if (new Set(pairs).size !== pairs.length) throw new Error('paired-bench: a pair is listed twice');
  return pairs as PairName[];
}

export async function pairedPing(options: PairedOptions): Promise<PairedResult[]> {
  const pairs = checkPairs(options.pairs);
  if (!(Number.isFinite(options.rate) && options.rate >= 0)) {
    throw new Error(`paired-bench: rate must be a number >= 0; got ${options.rate}`);
  }
  if (!(Number.isSafeInteger(options.samples) && options.samples >= 1)) {
    throw new Error(`paired-bench: samples must be an integer >= 1; got ${options.samples}`);
  }
  const servers = new Map<string, ServerProcess>();
  const pingers: Pinger[] = [];
  try {
    for (const pair of pairs) {
      const { server } = PAIRS[pair];
      if (!servers.has(server)) servers.set(server, await startNodeServer(server));
    }
    const pings: (() => Promise<unknown>)[] = [];
    for (const pair of pairs) {
      const { client, server } = PAIRS[pair];
      const { port } = servers.get(server)!;
      const pinger =
        client === 'sluice'
          ? await framedPinger(port, 'tick')
          : await socketPinger(port, client === 'raw' ? requestFrame() : Buffer.alloc(MESSAGE_BYTES, 0x5a));
      pingers.push(pinger);
      pings.push(pinger.ping);
    }
    const warmup = options.warmup ?? 2000;
    for (let round = 0; round < warmup; round++) for (const ping of pings) await ping();
    const histograms = pairs.map(() => createHistogram());
    const interval = options.rate === 0 ? 0n : BigInt(Math.round(1e9 / options.rate));
    let due = now();
    for (let index = 0; index < pairs.length * options.samples; index++) {
      const which = index % pairs.length;
      if (interval > 0n) await waitUntil(due);
      const sent = now();
      await pings[which]!();
      const received = now();
      histograms[which]!.record(Number(received - sent) || 1);
      // Closed loop, as in rtt: a late ping never makes the next ones leave in a burst.
      due = due + interval > received ? due + interval : received;
    }
    return pairs.map((pair, index) => ({
      pair,
      p50Us: histograms[index]!.percentile(50) / 1000,
      p99Us: histograms[index]!.percentile(99) / 1000,
      samples: histograms[index]!.count,
    }));
  } finally {
    for (const pinger of pingers) pinger.close();
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
}

async function main(): Promise<void> {
  const [rateText = '1000', samplesText = '2000', pairsText = 'naive>naive,sluice>sluice'] =
    process.argv.slice(2);
  const results = await pairedPing({
    rate: Number(rateText),
    samples: Number(samplesText),
    pairs: pairsText.split(','),
  });
  const first = results[0]!.p50Us;
  for (const result of results) {
    process.stdout.write(
      `${result.pair.padEnd(14)} p50 ${result.p50Us.toFixed(1).padStart(7)} us  p99 ${result.p99Us
        .toFixed(1)
        .padStart(7)} us  ${(result.p50Us / first).toFixed(2)}x\n`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
