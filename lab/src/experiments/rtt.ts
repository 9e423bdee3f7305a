/**
 * `rtt` (seed 001): 64-byte ping-pong round trips, TCP (nodelay) and UDP, over a rate sweep and
 * under background load, between two processes on loopback.
 *
 * Rows: `net-naive` (plain `net`/`dgram` client and echo server), `sluice` (FramedConnection
 * requests against `createFrameServer` over TCP; over UDP a connected `dgram` client against
 * sluice's UDP echo server, since sluice/net has no datagram transport of its own) and `sockperf`
 * (Debian's C tool: its server and its own ping-pong client). Extra `sockperf` rows with
 * `server: 'sluice echo'` run sockperf's client against `sluice echo --sockperf`.
 *
 * Grid: default = the rate sweep {100, 1k, 10k, back-to-back} x {TCP, UDP} without load, load
 * {10, 100, 1000} x {timer, cpu} at 1k msg/s over TCP, and open loop at 1k and 10k msg/s over TCP.
 * `--full` = rates {1, 10, 100, 1k, 10k, 100k, back-to-back} for everything, loads 0/10/100/1000
 * of both kinds at every rate over both protocols, open loop at every paced rate. `--quick` =
 * back-to-back over TCP and UDP, 100 timer tasks and open loop at 1k msg/s over TCP, few samples.
 * Narrow any grid with `--proto=tcp --rates=1000,max --loads=0 --load-kinds=none --loops=closed`.
 *
 * Run length: each run measures `rate x seconds` samples (default 1 s), at least `minSamples`
 * (default 200) and at most `maxSamples` (default 20000; back-to-back: 20000), and never longer
 * than `maxSeconds` (default 3 s; `--full` 30 s, so 1 msg/s gives 30 samples). Warm-up: the first
 * 10% of pings (at least 20, at most 2000) are not measured.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { environment } from '../harness/env.js';
import type { Case } from '../harness/measure.js';
import { measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, RunContext } from '../harness/types.js';
import type { LoadKind } from './net/load.js';
import { type ServerProcess, schedulingFlag, startNodeServer, startSockperfServer } from './net/process.js';
import type { PingArgs } from './net/rtt-client.js';
import { runSockperfClient, sockperfInstalled } from './net/sockperf.js';

const clientModule = new URL('./net/rtt-client.js', import.meta.url);

type Proto = 'tcp' | 'udp';
type Loop = 'closed' | 'open';

interface Plan {
  proto: Proto;
  rate: number;
  loop: Loop;
  loadKind: LoadKind;
  load: number;
}

interface Sizing {
  seconds: number;
  minSamples: number;
  maxSamples: number;
  maxSeconds: number;
}

function sizing(context: RunContext): Sizing {
  if (context.quick) return { seconds: 0.1, minSamples: 50, maxSamples: 1000, maxSeconds: 1 };
  if (context.full) return { seconds: 2, minSamples: 200, maxSamples: 100_000, maxSeconds: 30 };
  return { seconds: 1, minSamples: 200, maxSamples: 20_000, maxSeconds: 3 };
}

export function sampleCount(rate: number, size: Sizing): number {
  if (rate === 0) return size.maxSamples;
  const wanted = Math.max(size.minSamples, Math.round(rate * size.seconds));
  return Math.max(1, Math.min(wanted, size.maxSamples, Math.floor(rate * size.maxSeconds)));
}

function plans(context: RunContext): Plan[] {
  const list: Plan[] = [];
  const add = (proto: Proto, rate: number, loop: Loop, loadKind: LoadKind, load: number): void => {
    list.push({ proto, rate, loop, loadKind, load });
  };
  if (context.quick) {
    for (const proto of ['tcp', 'udp'] as const) add(proto, 0, 'closed', 'none', 0);
    add('tcp', 1000, 'closed', 'timer', 100);
    add('tcp', 1000, 'open', 'none', 0);
  } else {
    const rates = context.full ? [1, 10, 100, 1000, 10_000, 100_000, 0] : [100, 1000, 10_000, 0];
    for (const proto of ['tcp', 'udp'] as const)
      for (const rate of rates) add(proto, rate, 'closed', 'none', 0);
    const loadProtos: Proto[] = context.full ? ['tcp', 'udp'] : ['tcp'];
    const loadRates = context.full ? rates : [1000];
    for (const proto of loadProtos) {
      for (const rate of loadRates) {
        for (const loadKind of ['timer', 'cpu'] as const) {
          for (const load of [10, 100, 1000]) add(proto, rate, 'closed', loadKind, load);
        }
      }
    }
    const openRates = context.full ? rates.filter((rate) => rate > 0) : [1000, 10_000];
    for (const proto of loadProtos) for (const rate of openRates) add(proto, rate, 'open', 'none', 0);
  }
  return list.filter((plan) => matchesFilters(plan, context.flags));
}

/**
 * Narrowing the grid from the command line: `--proto=tcp`, `--rates=1000,max`, `--loads=0,1000`,
 * `--load-kinds=none,timer`, `--loops=closed`.
 */
function matchesFilters(plan: Plan, flags: RunContext['flags']): boolean {
  const list = (name: string): string[] | undefined =>
    typeof flags[name] === 'string' ? (flags[name] as string).split(',') : undefined;
  const check = (name: string, value: string): boolean => list(name)?.includes(value) ?? true;
  return (
    check('proto', plan.proto) &&
    check('rates', String(rateLabel(plan.rate))) &&
    check('loads', String(plan.load)) &&
    check('load-kinds', plan.loadKind) &&
    check('loops', plan.loop)
  );
}

const rateLabel = (rate: number): string | number => (rate === 0 ? 'max' : rate);

function dimsOf(plan: Plan): Record<string, string | number> {
  return {
    proto: plan.proto,
    rate: rateLabel(plan.rate),
    loop: plan.loop,
    load: plan.load,
    loadKind: plan.loadKind,
  };
}

async function withServer<T>(
  start: () => Promise<ServerProcess>,
  body: (port: number) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await body(server.port);
  } finally {
    await server.stop();
  }
}

function nodeServerKind(variant: 'net-naive' | 'sluice', proto: Proto): string {
  if (variant === 'net-naive') return proto === 'tcp' ? 'naive-tcp' : 'naive-udp';
  return proto === 'tcp' ? 'sluice-frame' : 'sluice-echo-udp';
}

export const rtt: Experiment = {
  name: 'rtt',
  seed: '001_33a7b56e148cda49.txt',
  title: '64-byte ping-pong RTT over loopback: rate sweep, TCP and UDP, background load',
  description:
    'Round-trip time of 64-byte messages between two processes, paced on an hrtime schedule (closed ' +
    'loop, plus an open-loop variant), with 0-1000 background tasks that wake every 1 ms or burn CPU. ' +
    'Percentiles come from perf_hooks.createHistogram; warm-up pings are excluded; the achieved rate ' +
    "is reported. sockperf (C) is the floor; its client also runs against sluice's echo server.",
  variants: ['net-naive', 'sluice', 'sockperf'],
  baseline: 'net-naive',
  metrics: ['p50Us', 'p99Us', 'achievedRate'],
  headline: { metric: 'p50Us', higherIsBetter: false },

  async run(context) {
    const size = sizing(context);
    const hasSockperf = sockperfInstalled();
    const scheduling = schedulingFlag(context.flags);
    const cases: Case[] = [];
    for (const plan of plans(context)) {
      const samples = sampleCount(plan.rate, size);
      const warmup = Math.min(2000, Math.max(20, Math.round(samples * 0.1)));
      for (const variant of ['net-naive', 'sluice'] as const) {
        if (!selected(context, variant)) continue;
        const args: Omit<PingArgs, 'port'> = {
          variant,
          ...plan,
          samples,
          warmup,
          jitWarmup: context.quick ? 300 : 3000,
          scheduling,
        };
        cases.push({
          variant,
          dims: dimsOf(plan),
          run: () =>
            withServer(
              () => startNodeServer(nodeServerKind(variant, plan.proto), scheduling),
              (port) =>
                runInChild(
                  clientModule,
                  'pingPong',
                  { ...args, port },
                  { timeoutMs: 120_000 + samples * 10 },
                ),
            ),
        });
      }
      // sockperf: no background load of ours and no open loop; only the load-free closed-loop cells.
      if (plan.load === 0 && plan.loop === 'closed' && selected(context, 'sockperf')) {
        const seconds = plan.rate === 0 ? size.seconds : Math.max(1, samples / plan.rate);
        const sockperfCase = (server: 'sockperf' | 'sluice echo'): Case => {
          const dims = server === 'sockperf' ? dimsOf(plan) : { ...dimsOf(plan), server };
          if (!hasSockperf)
            return { variant: 'sockperf', dims, run: async () => ({}), skipped: 'sockperf not installed' };
          const tcp = plan.proto === 'tcp';
          const start =
            server === 'sockperf'
              ? () => startSockperfServer(tcp)
              : () => startNodeServer(tcp ? 'sluice-echo-tcp' : 'sluice-echo-udp');
          return {
            variant: 'sockperf',
            dims,
            run: () =>
              withServer(start, async (port) => {
                await sleep(50);
                return runSockperfClient({ port, tcp, rate: plan.rate, seconds });
              }),
          };
        };
        cases.push(sockperfCase('sockperf'));
        if (plan.rate === 0 || plan.rate === 1000 || context.full) cases.push(sockperfCase('sluice echo'));
      }
    }
    const rows = await measureInterleaved(cases, context);
    const notes: string[] = [
      'Latencies are full round trips in microseconds (sockperf with --full-rtt). rate "max" = back-to-back.',
      'Background load runs in the client process; "timer" tasks wake every 1 ms (the seed\'s tasks), "cpu" ' +
        'tasks sort 100 numbers then yield with setImmediate. Node runs them all on the one event loop.',
      "sluice over UDP = a connected dgram client against sluice's UDP echo server (sluice/net has no datagram " +
        'transport); sluice over TCP = FramedConnection.request against createFrameServer (9 header bytes more).',
      "sockperf rows with server 'sluice echo' are sockperf's own ping-pong client against `sluice echo --sockperf`.",
    ];
    if (!hasSockperf)
      notes.push('sockperf is not installed (apt-get install sockperf): its rows are skipped.');
    return {
      experiment: 'rtt',
      params: {
        quick: context.quick,
        full: context.full,
        runs: context.runs,
        warmup: context.warmup,
        scheduling,
        ...size,
      },
      env: environment(),
      rows,
      notes,
    };
  },
};
