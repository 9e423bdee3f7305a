#!/usr/bin/env node
/**
 * Builds sluice's optional native addon (native/*.c -> build/sluice-native.node) with the
 * system C compiler and the headers of the Node running this script: no node-gyp, no download.
 * Run by `npm install` / `npm ci` (the `install` script). It never fails the install: without a
 * compiler (or off Linux) it says so and sluice uses its pure JavaScript fallback.
 *   node scripts/build-native.mjs [--quiet]
 *   node scripts/build-native.mjs --probe   exit 0 if it could build here (a compiler and the
 *                                           headers are there), else 1 with the reason; builds nothing
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const sources = ['sluice-native.c', 'crc32-fold.c', 'read-files.c', 'list-directory.c'].map((name) =>
  path.join(root, 'native', name),
);
const output = path.join(root, 'build', 'sluice-native.node');
const quiet = process.argv.includes('--quiet');
const probe = process.argv.includes('--probe');

/** Builds nothing (and removes an earlier build): the reason is printed; an install never fails here. */
function skip(reason) {
  if (probe) {
    console.log(reason);
    process.exit(1);
  }
  fs.rmSync(output, { force: true });
  console.log(
    `sluice: optional native addon not built (${reason}); readAll reads with fs.read and sluice/zip checksums with its JavaScript paths instead`,
  );
  process.exit(0);
}

if (process.platform !== 'linux') skip(`${process.platform}: MADV_POPULATE_WRITE is Linux only`);
if (process.env.SLUICE_SKIP_NATIVE === '1') skip('SLUICE_SKIP_NATIVE=1');
// Node's headers: under npm's --nodedir if given, next to the running node (<prefix>/include/node:
// official builds ship them), or where distributions put them. Node-API only: a stable ABI.
const candidates = [
  ...(process.env.npm_config_nodedir ? [path.join(process.env.npm_config_nodedir, 'include', 'node')] : []),
  path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
  '/usr/include/nodejs/src',
  '/usr/local/include/node',
];
const include = candidates.find((directory) => fs.existsSync(path.join(directory, 'node_api.h')));
if (include === undefined) skip(`no node_api.h in ${candidates.join(', ')}`);
const cc = process.env.CC || 'cc';
if (probe) {
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error !== undefined || version.status !== 0) skip(`${cc} --version failed`);
  console.log(`${cc} with ${include}`);
  process.exit(0);
}
fs.mkdirSync(path.dirname(output), { recursive: true });
const temporary = `${output}.${process.pid}.tmp`;
const compiled = spawnSync(
  cc,
  ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-I', include, ...sources, '-o', temporary],
  { encoding: 'utf8' },
);
if (compiled.error !== undefined) skip(`${cc}: ${compiled.error.message}`);
if (compiled.status !== 0) {
  fs.rmSync(temporary, { force: true });
  skip(`${cc} exited with ${compiled.status}: ${compiled.stderr.trim().split('\n').slice(0, 3).join(' ')}`);
}
// Loaded once in a separate process before it is put in place: a bad build must never be loaded by sluice.
const check = spawnSync(
  process.execPath,
  [
    '-e',
    `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(temporary)});
     const fs = require('node:fs'); const fd = fs.openSync(process.execPath, 'r'); const b = Buffer.alloc(4096);
     // the CRC-32 check value of the ASCII digits 1 to 9 (the CRC catalogue's "check" for CRC-32/ISO-HDLC)
     if (m.exports.crc32 !== undefined && m.exports.crc32(Buffer.from('123456789'), 0) !== 0xcbf43926) process.exit(2);
     m.exports.readPopulated(fd, b, 0, 4096, 0).then((n) => {
       if (n !== 4096 || !b.equals(fs.readFileSync(process.execPath).subarray(0, 4096))) process.exit(1);
     });`,
  ],
  { encoding: 'utf8' },
);
if (check.status !== 0) {
  fs.rmSync(temporary, { force: true });
  skip(`the built addon does not load: ${check.stderr.trim().split('\n')[0]}`);
}
fs.renameSync(temporary, output);
if (!quiet)
  console.log(
    `sluice: built ${path.relative(root, output)} (populated reads for readAll, CRC-32 for sluice/zip, batch reads and directory listings for scanTree)`,
  );
