import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDownloadServer, type DownloadServer } from '../../src/http/server.js';
import { planZip, zipDirectory } from '../../src/zip/index.js';
import { patternBytes, request, tempDir, writeFiles } from './helpers.js';

const OLD = Date.UTC(2018, 6, 1) / 1000; // old enough for the CRC cache (not racily clean)
const FILES = {
  'Book/01.mp3': patternBytes(300_000, 1),
  'Book/02.mp3': patternBytes(200_001, 2),
  'Book/03.mp3': patternBytes(70_000, 3),
};
const temp = tempDir();
const library = path.join(temp.dir, 'library');
const cacheFile = path.join(temp.dir, 'crc.txt');
let reference: Buffer;

before(async () => {
  await writeFiles(library, FILES);
  for (const name of Object.keys(FILES)) await utimes(path.join(library, name), OLD, OLD);
  const chunks: Buffer[] = [];
  const plan = planZip(await zipDirectory(path.join(library, 'Book'), { crcCache: false, prefix: 'Book' }));
  for await (const chunk of plan.stream()) chunks.push(Buffer.from(chunk));
  reference = Buffer.concat(chunks);
});

after(() => temp.remove());

/** CRC records in the cache file (0 when it was never written). */
function cachedCrcs(): number {
  return existsSync(cacheFile) ? readFileSync(cacheFile, 'latin1').split('\n').filter(Boolean).length : 0;
}

async function withServer(run: (base: string, server: DownloadServer) => Promise<void>): Promise<void> {
  const server = createDownloadServer({ root: library, crcCachePath: cacheFile, windowSize: 16 * 1024 });
  const base = await server.listen(0, '127.0.0.1');
  try {
    await run(base, server);
  } finally {
    await server.close({ graceMs: 100 });
  }
}

test('a cold book: HEAD reads no file; ranges compute the CRCs they need; cold and warm ETags match', async () => {
  let coldEtag = '';
  await withServer(async (base) => {
    const head = await request(`${base}Book.zip`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), reference.length);
    coldEtag = head.headers.etag ?? '';
    assert.match(coldEtag, /^"sz-/);
    assert.equal(cachedCrcs(), 0, 'no CRC computed for a HEAD');
    // bytes inside 02.mp3's data: no header in the range, no CRC needed
    const inside = await request(`${base}Book.zip`, { headers: { range: 'bytes=350000-400000' } });
    assert.equal(inside.status, 206);
    assert.ok(inside.body.equals(reference.subarray(350_000, 400_001)));
    assert.equal(cachedCrcs(), 0, 'no CRC computed for a range of file data');
    // the central directory: every CRC, computed now and cached
    const tail = await request(`${base}Book.zip`, { headers: { range: 'bytes=-300' } });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(reference.subarray(reference.length - 300)));
    assert.equal(cachedCrcs(), 3);
  });
  await withServer(async (base) => {
    const head = await request(`${base}Book.zip`, { method: 'HEAD' });
    assert.equal(head.headers.etag, coldEtag, 'the same ETag once every CRC is cached');
    // a download resumed across the two: If-Range with the cold ETag still gets the range
    const resumed = await request(`${base}Book.zip`, {
      headers: { range: 'bytes=1000-', 'if-range': coldEtag },
    });
    assert.equal(resumed.status, 206);
    assert.ok(resumed.body.equals(reference.subarray(1000)));
    const whole = await request(`${base}Book.zip`);
    assert.ok(whole.body.equals(reference));
  });
});
