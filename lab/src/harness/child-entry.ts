/**
 * Entry of a measurement child process: `node child-entry.js <module URL> <export> <JSON args>`.
 * Imports the module, awaits `export(args)` (it returns metrics), adds the process's own CPU and
 * peak RSS from the OS, and prints one line `SLUICE_LAB_RESULT <json>` on stdout.
 */
import { pathToFileURL } from 'node:url';

const [moduleUrl, exportName, argsJson] = process.argv.slice(2);
if (moduleUrl === undefined || exportName === undefined) {
  process.stderr.write('usage: child-entry <module URL> <export> [JSON args]\n');
  process.exit(2);
}
const module = (await import(
  moduleUrl.startsWith('file:') ? moduleUrl : pathToFileURL(moduleUrl).href
)) as Record<string, unknown>;
const task = module[exportName];
if (typeof task !== 'function') throw new Error(`${moduleUrl} has no exported function ${exportName}`);
const metrics = (await task(argsJson === undefined ? {} : JSON.parse(argsJson))) as Record<string, number>;
const usage = process.resourceUsage();
const result = {
  ...metrics,
  processUserMs: usage.userCPUTime / 1000,
  processSysMs: usage.systemCPUTime / 1000,
  // maxRSS is in KiB (getrusage ru_maxrss)
  peakRssMb: Math.round((usage.maxRSS / 1024) * 10) / 10,
};
process.stdout.write(`SLUICE_LAB_RESULT ${JSON.stringify(result)}\n`);
