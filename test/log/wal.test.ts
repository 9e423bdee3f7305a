import assert from 'node:assert/strict';
import {
  closeSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, type WalOptions } from '../../src/log/index.js';
import { kTestHooks } from '../../src/log/wal.js';
import { codeOf, expectedRecord, removeDir, smallWal, tempDirsRemovedAfter } from './helpers.js';

const freshDir = tempDirsRemovedAfter();
const small = smallWal;

async function collect(wal: Wal, fromLsn?: number): Promise<[number, Buffer][]> {
  const records: [number, Buffer][] = [];
  for await (const record of wal.replay(fromLsn)) records.push([record.lsn, record.data]);
  return records;
}

function segmentsOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort();
}

test('append resolves with consecutive LSNs once durable; replay and reopen give the records back', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, small);
  assert.equal(wal.durableLsn, 0);
  assert.equal(await wal.append(Buffer.from('first')), 1);
  assert.equal(wal.durableLsn, 1, 'durableLsn is up to date when append resolves');
  assert.equal(
    await wal.append(['two', new Uint8Array([3]), Buffer.alloc(0)]),
    4,
    'an array resolves with its last LSN',
  );
  const many = await Promise.all(
    Array.from({ length: 500 }, (_, index) => wal.append(expectedRecord(index + 5))),
  );
  assert.deepEqual(
    many,
    Array.from({ length: 500 }, (_, index) => index + 5),
  );
  assert.ok(wal.stats.batches < 500, `group commit: ${wal.stats.batches} batches for 500 concurrent appends`);
  const records = await collect(wal);
  assert.equal(records.length, 504);
  assert.deepEqual(records[0], [1, Buffer.from('first')]);
  assert.deepEqual(records[3], [4, Buffer.alloc(0)]);
  assert.deepEqual(await collect(wal, 500), records.slice(499));
  assert.ok(segmentsOf(dir).length > 3, 'records rolled over into several segments');
  await wal.close();
  const reopened = await Wal.open(dir, small);
  assert.equal(reopened.durableLsn, 504);
  assert.equal(reopened.stats.recovered.records, 504);
  assert.equal(reopened.stats.recovered.tornBytes, 0);
  assert.deepEqual(await collect(reopened), records);
  assert.equal(await reopened.append('after reopen'), 505);
  await reopened.close();
});

test('appends wait when maxBytesInFlight is reached, and all complete in order', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, { ...small, maxBytesInFlight: 4096 });
  let maxInFlight = 0;
  const done: number[] = [];
  const appends = Array.from({ length: 300 }, (_, index) =>
    wal.append(Buffer.alloc(200, index)).then((lsn) => {
      done.push(lsn);
      maxInFlight = Math.max(maxInFlight, wal.stats.bytesInFlight);
    }),
  );
  maxInFlight = Math.max(maxInFlight, wal.stats.bytesInFlight);
  assert.ok(wal.stats.bytesInFlight <= 4096);
  await Promise.all(appends);
  assert.ok(maxInFlight <= 4096, `bytes in flight peaked at ${maxInFlight}`);
  assert.deepEqual(
    done,
    Array.from({ length: 300 }, (_, index) => index + 1),
    'acknowledged in LSN order',
  );
  await wal.close();
});

test('the polling fallback (no Atomics.waitAsync) acknowledges the same way', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, {
    ...small,
    [kTestHooks]: { pollForAcknowledgements: true },
  } as WalOptions);
  const lsns = await Promise.all(Array.from({ length: 50 }, (_, index) => wal.append(`record ${index}`)));
  assert.deepEqual(
    lsns,
    Array.from({ length: 50 }, (_, index) => index + 1),
  );
  await wal.close();
});

test('bad arguments and a closed log are coded errors', async () => {
  const dir = freshDir();
  await assert.rejects(Wal.open(dir, { segmentSize: 10 }), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(
    Wal.open(dir, { recovery: 'lenient' as 'absolute' }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  writeFileSync(path.join(dir, 'a-file'), 'x');
  await assert.rejects(Wal.open(path.join(dir, 'a-file'), small), (error: unknown) => {
    assert.ok(codeOf('SLUICE_ERR_WAL_FAILED')(error));
    assert.match(String((error as { syscallCode?: string }).syscallCode), /EEXIST|ENOTDIR/);
    return true;
  });
  const wal = await Wal.open(dir, small);
  await assert.rejects(wal.append([]), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(wal.append(42 as unknown as string), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(wal.append(Buffer.alloc(4096)), codeOf('SLUICE_ERR_WAL_RECORD_TOO_LARGE'));
  assert.equal(await wal.append(Buffer.alloc(4096 - 16)), 1, 'the largest record fits');
  await assert.rejects(collect(wal, 0), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  const pending = wal.append('in flight while closing');
  const closing = wal.close();
  await assert.rejects(wal.append('late'), codeOf('SLUICE_ERR_WAL_CLOSED'));
  assert.equal(await pending, 2, 'close drains what was accepted');
  await closing;
  await wal.close();
  await assert.rejects(wal.append('x'), codeOf('SLUICE_ERR_WAL_CLOSED'));
  await assert.rejects(collect(wal), codeOf('SLUICE_ERR_WAL_CLOSED'));
  await assert.rejects(wal.truncateBefore(1), codeOf('SLUICE_ERR_WAL_CLOSED'));
});

test('truncateBefore drops whole old segments only; replay before them is a coded error', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, small);
  for (let lsn = 1; lsn <= 400; lsn++) await wal.append(expectedRecord(lsn));
  const before = segmentsOf(dir);
  const firstLsns = before.map((name) => Number(name.slice(0, 20)));
  const keepFrom = firstLsns[2]! + 1;
  assert.equal(await wal.truncateBefore(keepFrom), 2);
  assert.deepEqual(segmentsOf(dir), before.slice(2));
  await assert.rejects(collect(wal, 1), codeOf('SLUICE_ERR_WAL_LSN_UNAVAILABLE'));
  const rest = await collect(wal);
  assert.equal(rest[0]![0], firstLsns[2]);
  for (const [lsn, data] of rest) assert.deepEqual(data, expectedRecord(lsn));
  assert.equal(await wal.truncateBefore(1_000_000), before.length - 3, 'the newest segment always stays');
  assert.equal(segmentsOf(dir).length, 1);
  await wal.close();
  const reopened = await Wal.open(dir, small);
  assert.equal(reopened.durableLsn, 400);
  await reopened.close();
});

async function logWith(dir: string, count: number, options: WalOptions = small): Promise<void> {
  const wal = await Wal.open(dir, options);
  for (let lsn = 1; lsn <= count; lsn++) await wal.append(expectedRecord(lsn));
  await wal.close();
}

/** [segment path, offset of the record with `lsn`] by walking the framing. */
function locate(dir: string, lsn: number): [string, number] {
  for (const name of segmentsOf(dir).reverse()) {
    const first = Number(name.slice(0, 20));
    if (first > lsn) continue;
    const file = path.join(dir, name);
    const bytes = readFileSync(file);
    let offset = 32;
    for (let current = first; current < lsn; current++)
      offset += 16 + Math.ceil(bytes.readUInt32LE(offset + 4) / 8) * 8;
    return [file, offset];
  }
  throw new Error(`no segment holds ${lsn}`);
}

function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  byte[0] = readFileSync(file)[offset]! ^ 0x40;
  writeSync(fd, byte, 0, 1, offset);
  closeSync(fd);
}

test('a torn tail is cut off by default and refused in absolute mode', async () => {
  const dir = freshDir();
  await logWith(dir, 30, { ...small, preallocate: false });
  const [file, offset] = locate(dir, 30);
  // the last record half written: cut inside its payload
  const fd = openSync(file, 'r+');
  ftruncateSync(fd, offset + 20);
  closeSync(fd);
  await assert.rejects(Wal.open(dir, { ...small, recovery: 'absolute' }), (error: unknown) => {
    assert.ok(codeOf('SLUICE_ERR_WAL_TORN_TAIL')(error));
    assert.equal((error as { offset: number }).offset, offset);
    return true;
  });
  const wal = await Wal.open(dir, small);
  assert.equal(wal.durableLsn, 29);
  assert.ok(wal.stats.recovered.tornBytes > 0);
  // the torn bytes are gone from the file (the writer may already be zero-filling past the cut)
  const afterCut = readFileSync(file).subarray(offset, offset + 20);
  assert.ok(
    afterCut.every((byte) => byte === 0),
    'the torn bytes are gone from the file',
  );
  assert.equal(await wal.append(expectedRecord(30)), 30, 'appends continue after the cut');
  const records = await collect(wal);
  assert.equal(records.length, 30);
  for (const [lsn, data] of records) assert.deepEqual(data, expectedRecord(lsn));
  await wal.close();
  const again = await Wal.open(dir, { ...small, recovery: 'absolute' });
  assert.equal(again.durableLsn, 30, 'after the cut the log is clean even for absolute mode');
  await again.close();
});

test('a damaged record at the tail of a preallocated segment is torn; data beyond a batch reach is corruption', async () => {
  const dir = freshDir();
  await logWith(dir, 10);
  const [file, offset] = locate(dir, 10);
  flipByte(file, offset + 20);
  const wal = await Wal.open(dir, small);
  assert.equal(wal.durableLsn, 9, 'the damaged last record is treated as torn');
  await wal.close();

  const other = freshDir();
  await logWith(other, 10);
  const [otherFile, otherOffset] = locate(other, 5);
  flipByte(otherFile, otherOffset + 20);
  // records 6..10 are intact but within maxBatchBytes (4096) of the damage: could be one torn batch.
  // Put a stray byte far beyond that reach:
  const fd = openSync(otherFile, 'r+');
  writeSync(fd, Buffer.from([1]), 0, 1, otherOffset + 4096 + 64);
  closeSync(fd);
  await assert.rejects(Wal.open(other, small), (error: unknown) => {
    assert.ok(codeOf('SLUICE_ERR_WAL_CORRUPT')(error), String(error));
    assert.equal((error as { offset: number }).offset, otherOffset);
    assert.match(String(error), /record checksum mismatch/);
    return true;
  });
});

test('damage in an older segment, a bad header or a missing segment is corruption, never skipped', async () => {
  const dir = freshDir();
  await logWith(dir, 300);
  const names = segmentsOf(dir);
  assert.ok(names.length >= 3);
  const [file, offset] = locate(dir, 2);
  assert.equal(path.basename(file), names[0]);
  flipByte(file, offset + 17);
  await assert.rejects(Wal.open(dir, small), (error: unknown) => {
    assert.ok(codeOf('SLUICE_ERR_WAL_CORRUPT')(error));
    assert.equal((error as { segment: string }).segment, names[0]);
    assert.equal((error as { offset: number }).offset, offset);
    return true;
  });
  flipByte(file, offset + 17);
  flipByte(path.join(dir, names[1]!), 3);
  await assert.rejects(Wal.open(dir, small), /bad magic/);
  flipByte(path.join(dir, names[1]!), 3);
  removeDir(path.join(dir, names[1]!));
  await assert.rejects(Wal.open(dir, small), (error: unknown) => {
    assert.ok(codeOf('SLUICE_ERR_WAL_CORRUPT')(error));
    assert.match(String(error), /previous segment ends before/);
    return true;
  });
});

test('a stray file and a leftover preallocation do not disturb recovery', async () => {
  const dir = freshDir();
  await logWith(dir, 5);
  writeFileSync(path.join(dir, 'next.wal.tmp'), Buffer.alloc(100, 7));
  writeFileSync(path.join(dir, 'README'), 'not a segment');
  const wal = await Wal.open(dir, small);
  assert.equal(wal.durableLsn, 5);
  await wal.close();
});
