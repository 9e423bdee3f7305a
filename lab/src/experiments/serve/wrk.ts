/**
 * The keep-alive throughput rung of the `serve` experiment: `wrk` (the issue's own measurement: 2 MiB
 * file, 50 connections, 5 s), each connection requesting the file again as soon as the last body
 * arrived. wrk is a C client on one thread, so it leaves the server most of the second core.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const WRK = '/usr/bin/wrk';

export function wrkInstalled(): boolean {
  return existsSync(WRK);
}

export interface WrkResult {
  requests: number;
  seconds: number;
  maxLatencyMs: number;
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };

/** Parses wrk's summary ("N requests in Xs", "Latency avg stdev max", socket errors, non-2xx). */
export function parseWrk(output: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(output);
  if (done === null) throw new Error(`wrk printed no summary:\n${output}`);
  const seconds = (Number(done[2]) * UNIT_MS[done[3]!]!) / 1000;
  const latency = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/.exec(output);
  const maxLatencyMs = latency === null ? Number.NaN : Number(latency[1]) * UNIT_MS[latency[2]!]!;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors =
    (socket === null ? 0 : socket.slice(1).reduce((sum, value) => sum + Number(value), 0)) +
    (non2xx === null ? 0 : Number(non2xx[1]));
  return { requests: Number(done[1]), seconds, maxLatencyMs, errors };
}

export function runWrk(port: number, path: string, connections: number, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile(
      WRK,
      ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', `http://127.0.0.1:${port}${path}`],
      { timeout: (seconds + 60) * 1000 },
      (error, stdout) => {
        if (error) reject(error);
        else {
          try {
            resolve(parseWrk(stdout));
          } catch (parseError) {
            reject(parseError);
          }
        }
      },
    );
  });
}
