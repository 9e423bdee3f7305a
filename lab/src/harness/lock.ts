import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One lab run at a time on this machine: measurements taken while another experiment loads the two
 * cores are not worth quoting. A directory lock (mkdir is atomic) holding the owner's pid; a lock
 * whose owner is gone is taken over. `SLUICE_LAB_LOCK=0` disables it.
 */
export async function acquireLabLock(progress: (message: string) => void): Promise<() => void> {
  if (process.env.SLUICE_LAB_LOCK === '0') return () => {};
  const dir = path.join(os.tmpdir(), 'sluice-lab.lock');
  let told = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'pid'), String(process.pid));
      const release = (): void => rmSync(dir, { recursive: true, force: true });
      process.once('exit', release);
      return () => {
        process.off('exit', release);
        release();
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(dir);
    if (owner !== undefined && !alive(owner)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (!told) {
      progress(`waiting for another lab run to finish (pid ${owner ?? '?'}, lock ${dir})`);
      told = true;
    }
    await sleep(500);
  }
}

function readOwner(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
