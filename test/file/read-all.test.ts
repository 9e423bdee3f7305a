import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { readAll } from '../../src/file/index.js';
import { openFds, patternBytes, tempDir, writeFile } from '../helpers/files.js';

const code = (expected: string) => (error: unknown) =>
  error instanceof SluiceError && error.code === expected;
let dir: string;
let cleanup: () => void;
before(() => {
  ({ dir, cleanup } = tempDir());
});
after(() => cleanup());

test('readAll returns the exact bytes for small, chunk-sized and multi-chunk files', async () => {
  for (const size of [0, 1, 4095, 256 * 1024, 8 * 1024 * 1024, 8 * 1024 * 1024 + 1, 20 * 1024 * 1024 + 17]) {
    const bytes = patternBytes(size, size + 1);
    const file = writeFile(dir, `f-${size}.bin`, bytes);
    const result = await readAll(file);
    assert.equal(result.length, size);
    assert.ok(result.equals(bytes), `size ${size}`);
  }
});

test('readAll reads files that report size 0 (procfs) to their end', async () => {
  const expected = await readFile('/proc/self/status', 'utf8');
  const result = (await readAll('/proc/self/status')).toString('utf8');
  assert.match(result, /^Name:/);
  assert.equal(result.split('\n')[0], expected.split('\n')[0]);
});

test('readAll: coded errors and no fd left open', async () => {
  const fds = openFds();
  await assert.rejects(readAll(path.join(dir, 'missing')), code('SLUICE_ERR_FILE_NOT_FOUND'));
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  await assert.rejects(readAll(path.join(dir, 'sub')), code('SLUICE_ERR_NOT_A_FILE'));
  await assert.rejects(readAll(''), code('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(
    readAll(path.join(dir, 'f-1.bin'), { signal: AbortSignal.abort() }),
    code('SLUICE_ERR_ABORTED'),
  );
  assert.equal(openFds(), fds);
});
