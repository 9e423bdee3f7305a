import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquireLabLock } from '../src/harness/lock.js';

test('lab runs take turns in arrival order; tickets of dead processes are dropped', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-lab-queue-'));
  const previous = process.env.SLUICE_LAB_LOCK_DIR;
  process.env.SLUICE_LAB_LOCK_DIR = dir;
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => {
    holder.kill();
    if (previous === undefined) delete process.env.SLUICE_LAB_LOCK_DIR;
    else process.env.SLUICE_LAB_LOCK_DIR = previous;
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(path.join(dir, `${'1'.padStart(15, '0')}-2147483646`), ''); // a process that is gone
  writeFileSync(path.join(dir, `${'2'.padStart(15, '0')}-${holder.pid}`), ''); // an earlier run, alive
  const messages: string[] = [];
  let acquired = false;
  const waiting = acquireLabLock((message) => messages.push(message)).then((release) => {
    acquired = true;
    return release;
  });
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(acquired, false, 'the earlier live run goes first');
  assert.match(messages[0] ?? '', new RegExp(`pid ${holder.pid}`));
  assert.equal(readdirSync(dir).length, 2, "the dead process's ticket was removed");
  holder.kill();
  const release = await waiting;
  assert.equal(acquired, true);
  release();
  assert.deepEqual(readdirSync(dir), []);
});
