import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { JobThread, type LeasableThread, ThreadLeases } from '../../src/internal/job-threads.js';

type Job = { echo?: number; exitWith?: number };
type Reply = { echo: number };
type EchoThread = JobThread<Job, Reply>;

const FIXTURE = new URL('./fixtures/echo-thread.js', import.meta.url);
const codeOf = (code: string) => (error: unknown) => error instanceof SluiceError && error.code === code;

function leases(max: number): ThreadLeases<EchoThread> {
  return new ThreadLeases<EchoThread>(
    'echo thread',
    () => max,
    (onFailed: (thread: LeasableThread) => void) =>
      new JobThread<Job, Reply>(FIXTURE, 'echo thread', onFailed),
  );
}

test('threads run one job at a time and are reused; a lease beyond the bound waits its turn', async () => {
  const pool = leases(1);
  const first = await pool.lease(undefined);
  assert.deepEqual(await first.run({ echo: 1 }), { echo: 1 });
  const order: string[] = [];
  const second = pool.lease(undefined).then((thread) => {
    order.push('second');
    return thread;
  });
  const third = pool.lease(undefined).then((thread) => {
    order.push('third');
    return thread;
  });
  assert.equal(pool.size, 1, 'never more threads than the bound');
  pool.giveBack(first);
  const leased = await second;
  assert.equal(leased, first, 'the same thread, reused');
  pool.giveBack(leased);
  pool.giveBack(await third);
  assert.deepEqual(order, ['second', 'third'], 'first come, first served');
  await pool.terminateIdle();
  assert.equal(pool.size, 0);
});

test('an abort while waiting rejects that lease only and removes it from the queue', async () => {
  const pool = leases(1);
  const held = await pool.lease(undefined);
  const controller = new AbortController();
  const aborted = pool.lease(controller.signal);
  const next = pool.lease(undefined);
  controller.abort(new Error('no longer needed'));
  await assert.rejects(aborted, codeOf('SLUICE_ERR_ABORTED'));
  await assert.rejects(pool.lease(AbortSignal.abort()), codeOf('SLUICE_ERR_ABORTED'));
  pool.giveBack(held);
  assert.equal(await next, held, 'the thread went to the waiter behind the aborted one');
  pool.giveBack(held);
  await pool.terminateIdle();
});

test('a thread that exits settles its job with an error and is never leased again', async () => {
  const pool = leases(1);
  const thread = await pool.lease(undefined);
  const waiter = pool.lease(undefined);
  const reply = await thread.run({ exitWith: 3 });
  assert.ok(reply instanceof Error && codeOf('SLUICE_ERR_READ_WORKER')(reply));
  assert.match(String((reply as Error).message), /exited with code 3/);
  assert.equal(thread.failed, true);
  pool.giveBack(thread);
  const replacement = await waiter;
  assert.notEqual(replacement, thread, 'the waiter gets a new thread in place of the failed one');
  assert.deepEqual(await replacement.run({ echo: 7 }), { echo: 7 });
  pool.giveBack(replacement);
  await pool.terminateIdle();
});

test('a thread started ahead is "starting" until it is online, then a ready idle one', async () => {
  const pool = leases(1);
  assert.equal(pool.starting, false, 'no thread yet');
  assert.equal(pool.readyIdle, false);
  pool.startUpTo(1);
  assert.equal(pool.starting, true, 'its module is not running yet');
  assert.equal(pool.readyIdle, false);
  const thread = await pool.lease(undefined);
  assert.deepEqual(await thread.run({ echo: 2 }), { echo: 2 }); // it ran its module: online
  assert.equal(thread.online, true);
  pool.giveBack(thread);
  assert.equal(pool.starting, false);
  assert.equal(pool.readyIdle, true, 'a job would run at once');
  await pool.terminateIdle();
  assert.equal(pool.readyIdle, false);
});
