/** Running Debian's `sockperf ping-pong` client and reading its summary. */
import { execFile, execFileSync } from 'node:child_process';

export function sockperfInstalled(): boolean {
  try {
    execFileSync('sockperf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface SockperfArgs {
  port: number;
  tcp: boolean;
  /** Messages per second; 0 = back-to-back (`--mps=max`). */
  rate: number;
  seconds: number;
}

/**
 * `sockperf ping-pong -m 64 --full-rtt`: p50/p99 round-trip times from its own percentile report,
 * achieved rate from "[Valid Duration] RunTime=..; ReceivedMessages=..". sockperf excludes its own
 * warm-up stage.
 */
export function runSockperfClient(args: SockperfArgs): Promise<Record<string, number>> {
  const argv = [
    'ping-pong',
    '-i',
    '127.0.0.1',
    '-p',
    String(args.port),
    '-m',
    '64',
    '-t',
    String(Math.max(1, Math.round(args.seconds))),
    `--mps=${args.rate === 0 ? 'max' : args.rate}`,
    '--full-rtt',
    ...(args.tcp ? ['--tcp'] : []),
  ];
  return new Promise((resolve, reject) => {
    execFile('sockperf', argv, { timeout: (args.seconds + 20) * 1000 }, (error, stdout) => {
      if (error) {
        reject(new Error(`sockperf ${argv.join(' ')} failed: ${error.message}`));
        return;
      }
      const value = (pattern: RegExp): number => {
        const match = pattern.exec(stdout);
        if (match === null) throw new Error(`sockperf output lacks ${pattern}: ${stdout.slice(-1500)}`);
        return Number(match[1]);
      };
      try {
        const runTime = value(/\[Valid Duration\] RunTime=([\d.]+) sec/);
        const received = value(/\[Valid Duration\].*ReceivedMessages=(\d+)/);
        resolve({
          p50Us: value(/percentile 50\.000 =\s+([\d.]+)/),
          p99Us: value(/percentile 99\.000 =\s+([\d.]+)/),
          achievedRate: received / runTime,
          samples: received,
        });
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}
