/**
 * Real download clients against a real server on loopback: curl (and its `-C -` resume after an
 * interrupted transfer), wget -c, aria2c with 4 connections per download. Every download must be
 * byte-identical to the file.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createDownloadServer, type DownloadServer } from '../../src/http/server.js';
import { eventually, patternBytes, tempDir, writeFiles } from './helpers.js';

/** aria2c with four connections of ranged requests, writing `name` into the downloads dir. */
function aria2cArgs(name: string, url: string): string[] {
  return [
    '-q',
    '-x4',
    '-s4',
    '--min-split-size=1M',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '-d',
    downloads.dir,
    '-o',
    name,
    url,
  ];
}

const run = promisify(execFile);
const library = tempDir();
const downloads = tempDir('sluice-downloads-');
const content = patternBytes(12 * 1024 * 1024, 77);
const fileUrlPath = 'Le%20Petit%20Prince/01%20Chapitre%20premier.mp3';
const zipUrlPath = 'Les%20Mis%C3%A9rables.zip';
let fullZip: Buffer;
let server: DownloadServer;
let base: string;

const has = (program: string): boolean => existsSync(`/usr/bin/${program}`);

/** `unzip -t` says every entry's CRC matches. */
async function assertValidZip(file: string): Promise<void> {
  if (!has('unzip')) return;
  const { stdout } = await run('unzip', ['-t', file]);
  assert.match(stdout, /No errors detected/);
  assert.match(stdout, /Les Misérables\/Bonus\/04 Épilogue\.mp3\s+OK/);
}

before(async () => {
  await writeFiles(library.dir, {
    'Le Petit Prince/01 Chapitre premier.mp3': content,
    'Les Misérables/01 Fantine.mp3': patternBytes(3 * 1024 * 1024, 1),
    'Les Misérables/02 Cosette.mp3': patternBytes(4 * 1024 * 1024 + 17, 2),
    'Les Misérables/03 Marius.mp3': patternBytes(2 * 1024 * 1024 + 5, 3),
    'Les Misérables/Bonus/04 Épilogue.mp3': patternBytes(1024 * 1024 + 1, 4),
  });
  server = createDownloadServer({ root: library.dir, crcCachePath: false });
  base = await server.listen(0, '127.0.0.1');
  const response = await fetch(`${base}${zipUrlPath}`);
  assert.equal(response.status, 200);
  fullZip = Buffer.from(await response.arrayBuffer());
  assert.equal(Number(response.headers.get('content-length')), fullZip.length);
});

after(async () => {
  await server.close({ graceMs: 100 });
  library.remove();
  downloads.remove();
});

/**
 * Starts `program` rate-limited, kills it once `file` has some bytes: an interrupted download.
 * On loopback curl and wget may outrun their rate limit and finish (10 MB in 80 ms was seen) before
 * the kill: the file is then cut to half its length, as an interruption would have left it.
 */
async function interrupted(program: string, args: string[], file: string, length: number): Promise<number> {
  const child = spawn(program, args, { stdio: 'ignore' });
  // listened to from the start: a program that ends by itself before the kill is seen ending
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await eventually(
      () => existsSync(file) && statSync(file).size >= 1024 * 1024,
      10_000,
      `${program} started`,
    );
  } finally {
    child.kill('SIGKILL');
  }
  await exited;
  if (statSync(file).size >= length) truncateSync(file, Math.floor(length / 2));
  const size = statSync(file).size;
  assert.ok(size > 0 && size < length, `${program} was interrupted midway (${size} bytes)`);
  return size;
}

test('curl: full download, then an interrupted one resumed with -C -', { skip: !has('curl') }, async () => {
  const full = path.join(downloads.dir, 'curl-full.mp3');
  await run('curl', ['-sSf', '-o', full, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(full).equals(content));
  const partial = path.join(downloads.dir, 'curl-partial.mp3');
  await interrupted(
    'curl',
    ['-sS', '--limit-rate', '2M', '-o', partial, `${base}${fileUrlPath}`],
    partial,
    content.length,
  );
  await run('curl', ['-sSf', '-C', '-', '-o', partial, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(partial).equals(content), 'resumed curl download is byte-identical');
});

test('wget -c resumes an interrupted download', { skip: !has('wget') }, async () => {
  const partial = path.join(downloads.dir, 'wget.mp3');
  await interrupted(
    'wget',
    ['-q', '--limit-rate=2m', '-O', partial, `${base}${fileUrlPath}`],
    partial,
    content.length,
  );
  await run('wget', ['-q', '-c', '-O', partial, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(partial).equals(content), 'resumed wget download is byte-identical');
});

test('aria2c -x4 -s4: four ranged connections assemble the same bytes', {
  skip: !has('aria2c'),
}, async () => {
  await run('aria2c', aria2cArgs('aria.mp3', `${base}${fileUrlPath}`));
  assert.ok(readFileSync(path.join(downloads.dir, 'aria.mp3')).equals(content));
  assert.ok((server.metrics.requests.get(206) ?? 0) >= 3, 'aria2c used ranged requests');
});

test('book ZIP: curl full and resumed with -C -, byte-identical and valid under unzip -t', {
  skip: !has('curl'),
}, async () => {
  const full = path.join(downloads.dir, 'book-curl.zip');
  await run('curl', ['-sSf', '-o', full, `${base}${zipUrlPath}`]);
  assert.ok(readFileSync(full).equals(fullZip));
  await assertValidZip(full);
  const partial = path.join(downloads.dir, 'book-curl-partial.zip');
  await interrupted(
    'curl',
    ['-sS', '--limit-rate', '2M', '-o', partial, `${base}${zipUrlPath}`],
    partial,
    fullZip.length,
  );
  await run('curl', ['-sSf', '-C', '-', '-o', partial, `${base}${zipUrlPath}`]);
  assert.ok(readFileSync(partial).equals(fullZip), 'resumed ZIP is byte-identical');
  await assertValidZip(partial);
});

test('book ZIP: wget -c resumes, aria2c -x4 -s4 assembles, both byte-identical', async (t) => {
  if (has('wget')) {
    const partial = path.join(downloads.dir, 'book-wget.zip');
    await interrupted(
      'wget',
      ['-q', '--limit-rate=2m', '-O', partial, `${base}${zipUrlPath}`],
      partial,
      fullZip.length,
    );
    await run('wget', ['-q', '-c', '-O', partial, `${base}${zipUrlPath}`]);
    assert.ok(readFileSync(partial).equals(fullZip), 'wget -c ZIP is byte-identical');
    await assertValidZip(partial);
  } else t.diagnostic('wget not installed');
  if (has('aria2c')) {
    const before206 = server.metrics.requests.get(206) ?? 0;
    await run('aria2c', aria2cArgs('book-aria.zip', `${base}${zipUrlPath}`));
    const file = path.join(downloads.dir, 'book-aria.zip');
    assert.ok(readFileSync(file).equals(fullZip), 'aria2c ZIP is byte-identical');
    assert.ok((server.metrics.requests.get(206) ?? 0) - before206 >= 3, 'aria2c used ranged requests');
    await assertValidZip(file);
  } else t.diagnostic('aria2c not installed');
});
