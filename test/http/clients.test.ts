/**
 * Real download clients against a real server on loopback: curl (and its `-C -` resume after an
 * interrupted transfer), wget -c, aria2c with 4 connections per download. Every download must be
 * byte-identical to the file.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createDownloadServer, type DownloadServer } from '../../src/http/server.js';
import { eventually, patternBytes, tempDir, writeFiles } from './helpers.js';

const run = promisify(execFile);
const library = tempDir();
const downloads = tempDir('sluice-downloads-');
const content = patternBytes(12 * 1024 * 1024, 77);
const fileUrlPath = 'Le%20Petit%20Prince/01%20Chapitre%20premier.mp3';
let server: DownloadServer;
let base: string;

const has = (program: string): boolean => existsSync(`/usr/bin/${program}`);

before(async () => {
  await writeFiles(library.dir, { 'Le Petit Prince/01 Chapitre premier.mp3': content });
  server = createDownloadServer({ root: library.dir, zip: false });
  base = await server.listen(0, '127.0.0.1');
});

after(async () => {
  await server.close({ graceMs: 100 });
  library.remove();
  downloads.remove();
});

/** Starts `program` rate-limited, kills it once `file` has some bytes: an interrupted download. */
async function interrupted(program: string, args: string[], file: string): Promise<number> {
  const child = spawn(program, args, { stdio: 'ignore' });
  try {
    await eventually(
      () => existsSync(file) && statSync(file).size >= 1024 * 1024,
      10_000,
      `${program} started`,
    );
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  const size = statSync(file).size;
  assert.ok(size > 0 && size < content.length, `${program} was interrupted midway (${size} bytes)`);
  return size;
}

test('curl: full download, then an interrupted one resumed with -C -', { skip: !has('curl') }, async () => {
  const full = path.join(downloads.dir, 'curl-full.mp3');
  await run('curl', ['-sSf', '-o', full, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(full).equals(content));
  const partial = path.join(downloads.dir, 'curl-partial.mp3');
  await interrupted('curl', ['-sS', '--limit-rate', '2M', '-o', partial, `${base}${fileUrlPath}`], partial);
  await run('curl', ['-sSf', '-C', '-', '-o', partial, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(partial).equals(content), 'resumed curl download is byte-identical');
});

test('wget -c resumes an interrupted download', { skip: !has('wget') }, async () => {
  const partial = path.join(downloads.dir, 'wget.mp3');
  await interrupted('wget', ['-q', '--limit-rate=2m', '-O', partial, `${base}${fileUrlPath}`], partial);
  await run('wget', ['-q', '-c', '-O', partial, `${base}${fileUrlPath}`]);
  assert.ok(readFileSync(partial).equals(content), 'resumed wget download is byte-identical');
});

test('aria2c -x4 -s4: four ranged connections assemble the same bytes', {
  skip: !has('aria2c'),
}, async () => {
  await run('aria2c', [
    '-q',
    '-x4',
    '-s4',
    '--min-split-size=1M',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '-d',
    downloads.dir,
    '-o',
    'aria.mp3',
    `${base}${fileUrlPath}`,
  ]);
  assert.ok(readFileSync(path.join(downloads.dir, 'aria.mp3')).equals(content));
  assert.ok((server.metrics.requests.get(206) ?? 0) >= 3, 'aria2c used ranged requests');
});
