import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One lab run at a time on this machine, served in arrival order: measurements taken while another
 * experiment loads the two cores are not worth quoting, and a plain lock let a long run's
 * successors starve each other (whoever polled first won). Each run drops a ticket
 * `<ms since epoch>-<pid>` into a queue directory; the run whose ticket is the oldest among live
 * processes measures. Tickets of processes that are gone are removed by whoever sees them.
 * `SLUICE_LAB_LOCK=0` disables it; `SLUICE_LAB_LOCK_DIR` moves the queue (tests).
 */
export async function acquireLabLock(progress: (message: string) => void): Promise<() => void> {
  if (process.env.SLUICE_LAB_LOCK === '0') return () => {};
  const dir = process.env.SLUICE_LAB_LOCK_DIR ?? path.join(os.tmpdir(), 'sluice-lab.queue');
  mkdirSync(dir, { recursive: true });
  const ticket = `${String(Date.now()).padStart(15, '0')}-${process.pid}`;
  writeFileSync(path.join(dir, ticket), '');
  const release = (): void => rmSync(path.join(dir, ticket), { force: true });
  process.once('exit', release);
  let toldAbout: string | undefined;
  for (;;) {
    const ahead = liveTickets(dir).filter((other) => other < ticket);
    if (ahead.length === 0) break;
    if (toldAbout !== ahead[0]) {
      toldAbout = ahead[0];
      progress(
        `waiting for ${ahead.length} lab run(s) ahead of this one (pid ${pidOf(ahead[0]!)}, queue ${dir})`,
      );
    }
    await sleep(250);
  }
  return () => {
    process.off('exit', release);
    release();
  };
}

/** The queue's tickets whose process still exists, oldest first; the others are removed. */
function liveTickets(dir: string): string[] {
  const live: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const pid = pidOf(name);
    if (pid !== undefined && alive(pid)) live.push(name);
    else rmSync(path.join(dir, name), { force: true });
  }
  return live;
}

function pidOf(ticket: string): number | undefined {
  const pid = Number(ticket.split('-')[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
