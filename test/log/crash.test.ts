import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecordDecoder } from '../../src/log/decoder.js';
import { Wal } from '../../src/log/index.js';
import { readSegmentHeader, recover } from '../../src/log/recovery.js';
import { CHILD_OPTIONS } from './fixtures/crash-options.js';
import { expectedRecord, removeDir, tempDir } from './helpers.js';

const TRIALS = Number(process.env.SLUICE_CRASH_TRIALS ?? 200);
const LANES = 4;
const child = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) removeDir(dir);
});

async function collect(wal: Wal): Promise<[number, Buffer][]> {
  const records: [number, Buffer][] = [];
  for await (const record of wal.replay()) records.push([record.lsn, record.data]);
  return records;
}

/** Recovery (checks every record, cuts a torn tail), then every record read back. */
async function readAll(dir: string): Promise<[number, Buffer][]> {
  const recovered = await recover(dir, 'truncate-tail');
  const records: [number, Buffer][] = [];
  for (const segment of recovered.segments) {
    const header = await readSegmentHeader(segment);
    const decoder = new RecordDecoder({
      offset: 32,
      expectedLsn: segment.firstLsn,
      fileSize: Number.MAX_SAFE_INTEGER,
      maxPayloadBytes: header.maxBatchBytes - 16,
    });
    const bytes = await readFile(segment.path);
    for (const record of decoder.push(bytes.subarray(32))) records.push([record.lsn, record.payload]);
  }
  assert.equal(records.length === 0 ? recovered.nextLsn : records.at(-1)![0] + 1, recovered.nextLsn);
  return records;
}

/** Runs the child until a random moment after it opened the log, SIGKILLs it; returns acked LSNs. */
function runAndKill(dir: string, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, dir, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acknowledged: number[] = [];
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    process_.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ready')) timer = setTimeout(() => process_.kill('SIGKILL'), killAfterMs);
        else acknowledged.push(Number(line));
      }
    });
    process_.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => process_.kill('SIGKILL'), 10_000);
    process_.on('error', reject);
    process_.on('close', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL')
        reject(new Error(`child ended with code ${code} instead of being killed: ${stderr}`));
      else resolve(acknowledged);
    });
  });
}

async function lane(
  trials: number,
  seed: number,
): Promise<{ acknowledged: number; survivedUnacked: number }> {
  const dir = tempDir('sluice-crash-');
  dirs.push(dir);
  let highestAcknowledged = 0;
  let survivedUnacked = 0;
  let state = seed;
  for (let trial = 0; trial < trials; trial++) {
    state = (state * 1103515245 + 12345) >>> 0;
    const acknowledged = await runAndKill(dir, state % 60);
    for (const lsn of acknowledged) highestAcknowledged = Math.max(highestAcknowledged, lsn);
    // Most trials check with recovery alone (what Wal.open runs before starting its writer thread);
    // every tenth opens the log for real and trims old segments.
    const full = trial % 10 === 9;
    const wal = full ? await Wal.open(dir, CHILD_OPTIONS) : undefined;
    const records = wal === undefined ? await readAll(dir) : await collect(wal);
    let expected: number | undefined;
    for (const [lsn, data] of records) {
      if (expected !== undefined)
        assert.equal(lsn, expected, `trial ${trial}: records are a gapless sequence`);
      assert.deepEqual(data, expectedRecord(lsn), `trial ${trial}: record ${lsn} is intact`);
      expected = lsn + 1;
    }
    const last = records.at(-1)?.[0] ?? 0;
    assert.ok(
      last >= highestAcknowledged,
      `trial ${trial}: record ${highestAcknowledged} was acknowledged but the log ends at ${last}`,
    );
    survivedUnacked += last - acknowledged.reduce((max, lsn) => Math.max(max, lsn), 0);
    if (wal !== undefined) {
      assert.equal(wal.durableLsn, last);
      // keep the directory small: everything before the newest records is verified already
      await wal.truncateBefore(Math.max(1, last - 50));
      await wal.close();
    }
  }
  return { acknowledged: highestAcknowledged, survivedUnacked };
}

test(`crash: ${TRIALS} SIGKILLs at random moments lose no acknowledged record`, {
  timeout: 120_000,
}, async () => {
  const perLane = Math.ceil(TRIALS / LANES);
  const results = await Promise.all(Array.from({ length: LANES }, (_, index) => lane(perLane, index + 1)));
  for (const result of results) assert.ok(result.acknowledged > 0, 'the children got records acknowledged');
});
