/**
 * How `sluice serve`, an application that owns its process, tunes V8 for a download server. A
 * library must not do this to its host (docs/http.md shows library users how to opt in).
 *
 * Measured with the lab's 5000 slow book-ZIP clients (the `serve` experiment's heaviest rung), RSS
 * of the server process from /proc, MB above its RSS at start (one run each, loaded machine):
 *
 * | young generation | idle collection | peak | 1 s after | 8 s after |
 * | --- | --- | --- | --- | --- |
 * | V8 default (up to 32 MiB) | none (V8 never collects an idle process) | +80 | +65 | +65 |
 * | V8 default | compacting, 0.5 s after the last transfer | +104 | +43 | +12 |
 * | 8 MiB (semi-spaces of 4 MiB) | compacting, 0.5 s after the last transfer | +65 | +17 | +10 |
 *
 * CPU time of the server was the same within the runs' spread (4.8-5.4 s): a smaller young
 * generation means more scavenges, but a download server's objects either die within a request or
 * live for a whole connection, and the scavenges stay short.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** The server thread's young generation (`resourceLimits.maxYoungGenerationSizeMb`): 3 x a 4 MiB semi-space. */
export const SERVER_YOUNG_GENERATION_MB = 12;

/**
 * A full collection that also compacts the old generation. A plain full collection frees the
 * objects but keeps pages that still hold a few live ones (a burst of connections leaves them
 * scattered over many pages): measured on a fragmented 290 MiB old space, plain: 290 MiB kept;
 * compacting: 23 MiB. `--compact-on-every-full-gc` is set only around the call.
 */
export function compactingGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  // a fresh context sees the flag: its global `gc` collects this isolate's heap
  const gc = vm.runInNewContext('gc') as () => void;
  return () => {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}
