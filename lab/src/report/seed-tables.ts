/**
 * Each seed's own published figures, transcribed from /work/shared/seeds/ (the files are quoted,
 * not edited: units and labels as the authors wrote them). The report shows them beside ours.
 * Where a seed published only a plot (an image we do not have) or prose, the table holds the
 * figures its text states, and `note` says so.
 */
export interface SeedTable {
  caption: string;
  columns: string[];
  rows: string[][];
  note?: string;
}

const SEED_000 = '000_21847fc642026380.txt';

const serveColumns = ['version', 'peak RSS', 'RSS afterwards', 'max. request time', 'CPU time'];

/** Experiment name -> its seed's tables. */
export const SEED_TABLES: Readonly<Record<string, { seed: string; tables: SeedTable[] }>> = {
  fileread: {
    seed: SEED_000,
    tables: [
      {
        caption: 'Count the bytes of a 636 MB CentOS image in the page cache (Rust 1.39, release build)',
        columns: ['version', 'time', 'user', 'sys'],
        rows: [
          ['std::fs, 64 KiB buffer', '80-100 ms (100,143 µs; real 0.102 s)', '0.004 s', '0.093 s'],
          ['std::fs, 16 KiB buffer', '95-120 ms', '', ''],
          ['tokio 0.2 async File', '535-620 ms (628,086 µs; real 0.637 s)', '0.283 s', '0.400 s'],
          ['tokio 0.1.22', 'as fast as sync', '4-16 ms', '85-120 ms'],
        ],
        note: 'Async was 6.5 times as slow as sync: tokio 0.2 read through a 16 KiB buffer on a blocking pool.',
      },
    ],
  },
  serve: {
    seed: SEED_000,
    tables: [
      {
        caption: 'Hyper serving the 636 MB file: 10 clients, siege -c 10 -d 5 -r 10',
        columns: ['version', 'peak RSS', 'RSS afterwards', 'siege walltime', 'CPU time'],
        rows: [
          ['Sync in Channel', '8.6 MB', '5.4 MB', '1:16 min', '1:05 min'],
          ['Async, codec::FramedRead', '26.2 MB', '7.1 MB', '3:40 min', '3:28 min'],
          ['Async, own Stream', '24.6 MB', '7.5 MB', '4:13 min', '4:01 min'],
        ],
      },
      {
        caption: '20 simultaneous requests (ApacheBench), 636 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '17 MB', '6.7 MB', '0:09 min', '0:13 min'],
          ['Async, codec::FramedRead', '24 MB', '8.6 MB', '0:25 min', '0:32 min'],
          ['Async, own Stream', '27 MB', '7.3 MB', '0:30 min', '0:43 min'],
        ],
      },
      {
        caption: '100 simultaneous requests, 636 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '71 MB', '10 MB', '0:51 min', '1:04 min'],
          ['Async, codec::FramedRead', '27 MB', '10 MB', '1:52 min', '2:49 min'],
          ['Async, own Stream', '28 MB', '10 MB', '1:56 min', '3:27 min'],
        ],
      },
      {
        caption: '250 simultaneous requests, 636 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '162 MB', '13 MB', '2:16 min', '2:59 min'],
          ['Async, codec::FramedRead', '74 MB', '17 MB', '4:05 min', '6:51 min'],
          ['Async, own Stream', '29 MB', '14 MB', '4:24 min', '8:28 min'],
        ],
      },
      {
        caption: '1000 simultaneous requests, 636 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '573 MB', '24 MB', '10:29 min', '13:00 min'],
          ['Async, codec::FramedRead', '62 MB', '46 MB', '17:03 min', '32:55 min'],
          ['Async, own Stream', '49 MB', '38 MB', '16:18 min', '35:00 min'],
        ],
      },
      {
        caption: '5000 simultaneous requests, 636 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '1661 MB', '201 MB', '47:39 min', '61:56 min'],
          ['Async, codec::FramedRead', '250 MB', '199 MB', '94:48 min', '196:47 min'],
          ['Async, own Stream', '163 MB', '162 MB', '86:02 min', '196:01 min'],
        ],
      },
      {
        caption: '5000 simultaneous requests, 2 MB file',
        columns: serveColumns,
        rows: [
          ['Sync in channel', '174 MB', '37 MB', '0:15 min', '0:12 min'],
          ['Async, codec::FramedRead', '180 MB', '136 MB', '0:19 min', '0:37 min'],
          ['Async, own Stream', '153 MB', '150 MB', '0:18 min', '0:38 min'],
        ],
      },
    ],
  },
  zip: {
    seed: SEED_000,
    tables: [
      {
        caption: 'On-the-fly store-only ZIP of MP3 files for an audiobook site',
        columns: ['what the seed reports'],
        rows: [['a Node app doing it leaked so much memory that it was restarted regularly']],
        note: 'The seed gives no ZIP figures: the goal, not a measurement.',
      },
    ],
  },
  rtt: {
    seed: '001_33a7b56e148cda49.txt',
    tables: [
      {
        caption: '64-byte ping-pong RTT, localhost (AMD Ryzen 5800X, Linux 5.4)',
        columns: ['runtime', 'figure stated'],
        rows: [
          ['Rust std, back-to-back (inf rate)', '~5 µs'],
          ['Tokio, from 100 msg/s', 'floor ~18 µs, TCP = UDP'],
          ['Tokio vs async_std / std', '+8 µs on localhost, +10 µs over 100GbE'],
          ['background tasks', '10 to 1000 CPU-bound tasks: Tokio adversely impacted'],
        ],
        note: 'The seed publishes its RTT-against-rate curves as images; these are the figures its text states.',
      },
    ],
  },
  wal: {
    seed: '002_880724598da95172.txt',
    tables: [
      {
        caption: 'WAL write + fdatasync latency in a Tokio runtime, no load vs stress (AMD EPYC 7543, NVMe)',
        columns: ['case', 'what the seed reports'],
        rows: [
          ['fs_write (sync I/O on the runtime)', 'latency up somewhat under stress, still relatively good'],
          [
            'fs_write_async (tokio::fs)',
            'substantial increase in mean latency and in its variance under stress',
          ],
          ['fs_write_thread (sync I/O, dedicated thread)', 'unaffected: the fix'],
        ],
        note: 'The seed publishes a violin plot (an image); under high load write_all + fdatasync took several ms.',
      },
    ],
  },
  offload: {
    seed: '002_880724598da95172.txt',
    tables: [
      {
        caption: 'RocksDB write of 100 keys (256 B keys, 1024 B values): direct vs spawn_blocking',
        columns: ['case', 'relative time'],
        rows: [
          ['rocksdb_write_sync', '1.00'],
          ['rocksdb_write_async (spawn_blocking)', '1.46 (46% slower)'],
        ],
      },
    ],
  },
  scan: {
    seed: '003_f88e171b64c17b88.txt',
    tables: [
      {
        caption: 'ripgrep: rg zqzqzqzqzq on a Linux kernel checkout, without memory maps (--no-mmap)',
        columns: ['-j', 'real', 'user', 'sys'],
        rows: [
          ['1', '0.665 s', '0.320 s', '0.333 s'],
          ['2', '0.380 s', '0.375 s', '0.358 s'],
          ['3', '0.266 s', '0.356 s', '0.407 s'],
          ['4', '0.209 s', '0.369 s', '0.414 s'],
          ['8', '0.129 s', '0.470 s', '0.451 s'],
          ['16', '0.093 s', '0.624 s', '0.608 s'],
          ['32', '0.150 s', '1.355 s', '0.588 s'],
        ],
      },
      {
        caption: 'The same with memory maps (--mmap)',
        columns: ['-j', 'real', 'user', 'sys'],
        rows: [
          ['1', '0.731 s', '0.345 s', '0.374 s'],
          ['2', '0.611 s', '0.477 s', '0.640 s'],
          ['3', '0.692 s', '0.519 s', '1.139 s'],
          ['4', '0.773 s', '0.676 s', '1.449 s'],
          ['8', '0.921 s', '0.966 s', '2.183 s'],
          ['16', '1.207 s', '1.234 s', '2.738 s'],
          ['32', '1.279 s', '1.435 s', '2.938 s'],
        ],
      },
      {
        caption: 'One 9.3 GB file (OpenSubtitles2016.raw.en)',
        columns: ['mode', 'real', 'user', 'sys'],
        rows: [
          ['--no-mmap', '2.029 s', '0.604 s', '1.423 s'],
          ['--mmap', '1.205 s', '0.826 s', '0.376 s'],
        ],
      },
    ],
  },
  write: {
    seed: '003_f88e171b64c17b88.txt',
    tables: [
      {
        caption: "Writes with an explicit commit (the seed's proposed write API)",
        columns: ['what the seed proposes'],
        rows: [
          ['a writable slice wrapper: no blocking write while it is held'],
          ['an explicit, configurable commit to the device; no commit on drop (errors must surface)'],
        ],
        note: 'The seeds give no write figures: the design, not a measurement.',
      },
    ],
  },
  coalesce: {
    seed: '004_39cf82e85db97a88.txt',
    tables: [
      {
        caption: 'scylla-rust-driver vs cassandra-cpp under latte, loopback',
        columns: ['finding', 'what the seed reports'],
        rows: [
          ['syscalls', 'at least 1 syscall per query without buffering'],
          ['CPU', 'about twice the CPU time of cassandra-cpp'],
          [
            'fix',
            'BufReader / BufWriter on the connection router: sendmsg nearly vanishes from the flamegraph',
          ],
        ],
        note: 'The throughput figures are in the seed as images; these are the figures its text states.',
      },
    ],
  },
  tasks: {
    seed: '004_39cf82e85db97a88.txt',
    tables: [
      {
        caption: 'FuturesUnordered under Tokio cooperative scheduling',
        columns: ['finding', 'what the seed reports'],
        rows: [
          ['pitfall', 'execution time quadratic in the number of futures once the budget forces "pending"'],
          ['fix (futures 0.3.19)', 'at most 32 futures polled per poll, then control goes back'],
        ],
      },
    ],
  },
};
