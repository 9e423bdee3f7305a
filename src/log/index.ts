/**
 * sluice/log: a durable write-ahead log with group commit on a dedicated writer thread.
 * See docs/log.md.
 */

export {
  WalClosedError,
  WalCorruptError,
  WalFailedError,
  WalLsnUnavailableError,
  WalNoSpaceError,
  WalRecordTooLargeError,
  WalTornTailError,
} from '../errors.js';
export { Wal, type WalOptions, type WalRecord, type WalStats } from './wal.js';
