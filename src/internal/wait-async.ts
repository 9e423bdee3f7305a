/**
 * `Atomics.waitAsync` (ES2024, in V8 since Node 16), typed here because the project's `lib` is ES2023
 * (Node 20 lacks other ES2024 library members, so the lib cannot be raised). The one cast below is
 * that missing declaration; `undefined` on a runtime without it, where callers poll instead.
 */
export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

export const waitAsync = (
  Atomics as unknown as {
    waitAsync?: {
      (typedArray: Int32Array, index: number, value: number): WaitAsyncResult;
      (typedArray: BigInt64Array, index: number, value: bigint): WaitAsyncResult;
    };
  }
).waitAsync;
