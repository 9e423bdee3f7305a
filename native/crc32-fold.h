/* CRC-32 (ISO-HDLC: ZIP, gzip, PNG; zlib's crc32) by carry-less multiplication. See crc32-fold.c. */
#ifndef SLUICE_CRC32_FOLD_H
#define SLUICE_CRC32_FOLD_H
#include <stddef.h>
#include <stdint.h>

/* Prepares the tables and picks the widest code the CPU runs (AVX-512 only if `allow_avx512`);
   returns 0 when none fits (not x86-64, or no PCLMULQDQ): then crc32_fold must not be called. */
int crc32_fold_init(int allow_avx512);

/* Which code crc32_fold runs: "avx512-vpclmulqdq", "sse-pclmulqdq", or NULL before a successful init. */
const char *crc32_fold_kind(void);

/* zlib's crc32(previous, data, length): the CRC of the bytes following those whose CRC is `previous`
   (0 to start). */
uint32_t crc32_fold(uint32_t previous, const uint8_t *data, size_t length);
#endif
