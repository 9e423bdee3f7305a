/** `SLUICE_DEBUG=1` turns on the checks that cost time: poisoning released windows, use-after-release traps. */
export function debugEnabled(): boolean {
  return process.env.SLUICE_DEBUG === '1';
}
