import { stat } from 'node:fs/promises';
import { openReader } from '../file/index.js';

export interface Window {
  /** File offset of `bytes[0]`. */
  offset: number;
  /** Valid until the next iteration step (a managed reader window). */
  bytes: Buffer;
}

/**
 * Reads `path` from `start` to the size it has now, in managed-reader windows. The log's one read
 * path (recovery and replay). The range is fixed at the current size on purpose: the newest segment
 * grows while it is replayed, and the records past that size are not durable yet at the start.
 */
export async function* readWindows(path: string, start: number): AsyncGenerator<Window> {
  const { size } = await stat(path);
  if (start >= size) return;
  const reader = await openReader(path, { start, end: size - 1 });
  try {
    let offset = start;
    for (let window = await reader.next(); window !== null; window = await reader.next()) {
      yield { offset, bytes: window };
      offset += window.length;
    }
  } finally {
    await reader.close();
  }
}
