/* readFiles: small files read whole into one buffer, without JavaScript between them. See read-files.c. */
#ifndef SLUICE_READ_FILES_H
#define SLUICE_READ_FILES_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Doubles per file in the outcome array: kind, then per kind (see below), size, mtimeMs, dev, ino, mode. */
#define READ_FILES_SLOTS 7

/* Outcome kinds (slot 0), with slot 1:
   WHOLE: its bytes are at buffer[slot 1 .. slot 1 + size);
   NOT_A_FILE: not a regular file (mode in slot 6);
   TOO_BIG: larger than the whole buffer, not read;
   FAILED: slot 1 the errno, slot 2 the call (READ_FILES_OPEN, _FSTAT, _READ), no stats;
   SHRANK: ended after slot 1 bytes, before the size fstat saw. */
#define READ_FILES_WHOLE 0
#define READ_FILES_NOT_A_FILE 1
#define READ_FILES_TOO_BIG 2
#define READ_FILES_FAILED 3
#define READ_FILES_SHRANK 4
#define READ_FILES_OPEN 0
#define READ_FILES_FSTAT 1
#define READ_FILES_READ 2

/* The directory of the file read last, held open (O_PATH) so that the next file in it is opened by
   name: fd -1 when none. One per readFiles call; close_directory() before returning. */
struct read_files_directory {
  int fd;
  size_t length;
  char path[PATH_MAX + 1];
};

/* Where to open `path` (of `length` bytes, no NUL inside) from: sets *directory to the cached
   directory's descriptor (opening it when the path's directory differs) and returns the name within
   it; or sets *directory to AT_FDCWD and returns the whole path (no directory part, a trailing
   slash, or a directory that could not be opened: open(2) then reports what it would). */
const char *open_directory(struct read_files_directory *cache, const char *path, size_t length,
                           int *directory);
void close_directory(struct read_files_directory *cache);

/* Reads the file `name` (relative to the directory descriptor `directory`, or AT_FDCWD) whole into
   buffer[*used ...] and advances *used, its outcome in slots[0 .. READ_FILES_SLOTS). Returns 0 when
   the file was handled (any outcome), 1 when it is a regular file that fits in `capacity` but not
   in what is left (nothing read, slots untouched but the stats). */
int read_file_into(int directory, const char *name, uint8_t *buffer, size_t capacity, size_t *used,
                   double *slots);
#endif
