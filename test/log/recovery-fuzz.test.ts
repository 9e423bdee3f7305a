import assert from 'node:assert/strict';
import {
  closeSync,
  cpSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../src/errors.js';
import { Wal, type WalOptions } from '../../src/log/index.js';
import { expectedRecord, removeDir, tempDir } from './helpers.js';

const options: WalOptions = { segmentSize: 8 * 1024, maxBatchBytes: 2048, maxBytesInFlight: 4096 };
const RECORDS = 120;
let pristine: string;
const dirs: string[] = [];

before(async () => {
  pristine = tempDir();
  dirs.push(pristine);
  const wal = await Wal.open(pristine, options);
  for (let lsn = 1; lsn <= RECORDS; lsn++) await wal.append(expectedRecord(lsn));
  await wal.close();
});
after(() => {
  for (const dir of dirs) removeDir(dir);
});

test('fuzz: a damaged log opens with an intact gapless prefix, or fails with a coded error', async () => {
  const segments = readdirSync(pristine)
    .filter((name) => name.endsWith('.wal'))
    .sort();
  await fc.assert(
    fc.asyncProperty(
      fc.nat(segments.length - 1),
      fc.option(fc.nat(), { nil: undefined }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }),
      async (segmentIndex, truncateAt, flips) => {
        const dir = tempDir();
        dirs.push(dir);
        cpSync(pristine, dir, { recursive: true });
        const file = path.join(dir, segments[segmentIndex]!);
        const size = statSync(file).size;
        const fd = openSync(file, 'r+');
        if (truncateAt !== undefined) ftruncateSync(fd, truncateAt % (size + 1));
        const damagedSize = statSync(file).size;
        for (const [position, bit] of flips) {
          if (damagedSize === 0) break;
          const offset = position % damagedSize;
          const byte = Buffer.alloc(1);
          readSync(fd, byte, 0, 1, offset);
          byte[0]! ^= 1 << bit;
          writeSync(fd, byte, 0, 1, offset);
        }
        closeSync(fd);
        let wal: Wal;
        try {
          wal = await Wal.open(dir, options);
        } catch (error) {
          assert.ok(error instanceof SluiceError, `not a coded error: ${String(error)}`);
          assert.match(error.code, /^SLUICE_ERR_WAL_(CORRUPT|TORN_TAIL)$/);
          removeDir(dir);
          return;
        }
        try {
          let expected = 1;
          for await (const record of wal.replay()) {
            assert.equal(record.lsn, expected);
            assert.deepEqual(record.data, expectedRecord(record.lsn));
            expected++;
          }
          assert.equal(wal.durableLsn, expected - 1);
          // the log takes appends again after recovery
          assert.equal(await wal.append(expectedRecord(expected)), expected);
        } finally {
          await wal.close();
          removeDir(dir);
        }
      },
    ),
    { numRuns: 40 },
  );
});
