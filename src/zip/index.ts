/**
 * sluice/zip: store-only ZIP archives planned exactly before any I/O (length, ETag), streamed from
 * any byte range, ZIP64 exactly when needed. See docs/zip.md.
 */
export { CrcCache, type CrcCacheStats } from './crc-cache.js';
export { crc32, crc32Implementation, crc32OfZeros } from './crc32.js';
export { DeferredCrc } from './deferred-crc.js';
export { type ZipDirectoryOptions, zipDirectory } from './directory.js';
export type { ZipEntryInput } from './entries.js';
export type { FileVersion } from './file-version.js';
export { planZip, type ZipPlan, type ZipPlanOptions, type ZipStreamOptions } from './plan.js';
