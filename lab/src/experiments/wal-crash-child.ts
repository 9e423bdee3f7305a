/**
 * `sluice-lab wal --crash N`: the child that is killed. Appends records whose contents follow from
 * their LSN (recordFor) from 4 concurrent appenders and prints each acknowledged LSN on a line.
 * argv: <dir>
 */
import { Wal } from 'sluice/log';
import { CRASH_OPTIONS, recordFor } from './wal-crash.js';

const dir = process.argv[2]!;
const wal = await Wal.open(dir, CRASH_OPTIONS);
let nextLsn = wal.stats.nextLsn;
process.stdout.write('ready\n');
async function appender(): Promise<void> {
  for (;;) {
    const lsn = nextLsn++;
    const acknowledged = await wal.append(recordFor(lsn));
    if (acknowledged !== lsn) {
      process.stderr.write(`record ${lsn} was acknowledged as ${acknowledged}\n`);
      process.exit(3);
    }
    process.stdout.write(`${lsn}\n`);
  }
}
await Promise.all([appender(), appender(), appender(), appender()]);
