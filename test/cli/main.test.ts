import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

test('sluice --help lists the commands and options', async () => {
  const { stdout } = await run(process.execPath, [bin, '--help']);
  assert.match(stdout, /Usage: sluice <command>/);
  assert.match(stdout, /--version/);
});

test('sluice --version prints the package version', async () => {
  const { stdout } = await run(process.execPath, [bin, '--version']);
  assert.equal(stdout.trim(), version);
});

test('an unknown command exits 2 with help on stderr', async () => {
  await assert.rejects(
    run(process.execPath, [bin, 'frobnicate']),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /unknown command "frobnicate"/);
      return true;
    },
  );
});
