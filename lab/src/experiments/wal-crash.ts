/**
 * Crash trials for `sluice-lab wal --crash N`: a child appends records with known contents and
 * reports each acknowledgement; it is SIGKILLed at a random moment; the log is reopened and every
 * acknowledged record must be there, intact, followed by nothing but a clean prefix of the rest.
 * Successive trials reuse one directory, so recovery of each crash is itself crashed into.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal, type WalOptions } from 'sluice/log';
import { randomBlock } from '../harness/data.js';

export const CRASH_OPTIONS: WalOptions = {
  segmentSize: 64 * 1024,
  maxBatchBytes: 8192,
  maxBytesInFlight: 32 * 1024,
};

/** Contents of record `lsn`: 0..499 bytes, both derived from the LSN. */
export function recordFor(lsn: number): Buffer {
  return randomBlock(((lsn * 2654435761) >>> 0) % 500, lsn);
}

const child = fileURLToPath(new URL('./wal-crash-child.js', import.meta.url));

function runAndKill(dir: string, killAfterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let highest = 0;
    let buffered = '';
    let stderr = '';
    worker.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => worker.kill('SIGKILL'), killAfterMs);
        else highest = Math.max(highest, Number(line));
      }
    });
    worker.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => worker.kill('SIGKILL'), 30_000);
    worker.on('error', reject);
    worker.on('close', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL') resolve(highest);
      else reject(new Error(`crash child ended with code ${code}: ${stderr.trim()}`));
    });
  });
}

export interface CrashSummary {
  trials: number;
  acknowledged: number;
  lostRecords: number;
  corruptRecords: number;
  /** Records present after a crash that were never acknowledged (written, killed before the ack). */
  unacknowledgedSurvivors: number;
}

export async function crashTrials(
  baseDir: string,
  trials: number,
  progress: (message: string) => void,
): Promise<CrashSummary> {
  const dir = path.join(baseDir, `wal-crash-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const summary: CrashSummary = {
    trials: 0,
    acknowledged: 0,
    lostRecords: 0,
    corruptRecords: 0,
    unacknowledgedSurvivors: 0,
  };
  let highestAcknowledged = 0;
  let seed = 12345;
  try {
    for (let trial = 0; trial < trials; trial++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const acknowledged = await runAndKill(dir, seed % 100);
      highestAcknowledged = Math.max(highestAcknowledged, acknowledged);
      const wal = await Wal.open(dir, CRASH_OPTIONS);
      let last = 0;
      for await (const record of wal.replay()) {
        if (!record.data.equals(recordFor(record.lsn))) summary.corruptRecords++;
        last = record.lsn;
      }
      if (last < highestAcknowledged) summary.lostRecords += highestAcknowledged - last;
      summary.unacknowledgedSurvivors += Math.max(0, last - Math.max(acknowledged, highestAcknowledged));
      highestAcknowledged = Math.max(highestAcknowledged, last);
      await wal.truncateBefore(Math.max(1, last - 100));
      await wal.close();
      summary.trials++;
      summary.acknowledged = highestAcknowledged;
      if ((trial + 1) % 50 === 0)
        progress(`crash trials: ${trial + 1}/${trials}, lost so far ${summary.lostRecords}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return summary;
}
