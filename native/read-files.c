/*
 * readFiles: many small files read whole, one after the other, into one buffer, with no JavaScript
 * between them: for each path open, fstat, read exactly its size, close. sluice/file's scanTree uses
 * it on its worker threads (where blocking is the point), then visits the files from the buffer.
 *
 * Why: reading a 70,000-file tree through fs.openSync / readSync / closeSync costs about as much in
 * JavaScript and binding overhead per file as in the kernel. Measured here (2-core VM, the lab's
 * kernel-like tree, page-cached): the same open/read/close loop in C takes 256 ms on one thread
 * where `readFileSync` takes ~520 ms.
 *
 * Files are opened relative to their directory (`open_directory`): consecutive paths in a batch
 * mostly share one (the walk is depth first), and the kernel then walks one component per file
 * instead of the whole path. Measured here (2-core VM, the lab's tree, open + fstat + close of
 * 70,000 files): 297 ms against 351 ms by whole path. A folder renamed or replaced while a call
 * runs: a run of consecutive paths in it is opened in the folder the first of them found (as a
 * walk holding a directory descriptor does).
 *
 * Invariants: every file opened is closed before the next file is opened, whatever happens, and the
 * folder held open is closed before the call returns (at most two descriptors at any time);
 * a file's bytes are written only inside [used, used + size) of the buffer, after the bytes of the
 * files before it; a file is read up to the size fstat saw when it was opened (bytes appended later
 * are not read; one that ends earlier is reported as shrunk); opened with O_NONBLOCK, so an entry
 * replaced by a FIFO since the listing cannot block the thread (it is not a regular file).
 */
#define _GNU_SOURCE
#include "read-files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void close_directory(struct read_files_directory *cache) {
  if (cache->fd >= 0) close(cache->fd);
  cache->fd = -1;
  cache->length = 0;
}

const char *open_directory(struct read_files_directory *cache, const char *path, size_t length,
                           int *directory) {
  const char *slash = memrchr(path, '/', length);
  /* no directory part, or a trailing slash: the whole path, as open(2) would take it */
  if (slash == NULL || slash == path + length - 1) {
    *directory = AT_FDCWD;
    return path;
  }
  /* "/name": the directory is "/" */
  size_t directory_length = slash == path ? 1 : (size_t)(slash - path);
  if (cache->fd < 0 || cache->length != directory_length ||
      memcmp(cache->path, path, directory_length) != 0) {
    close_directory(cache);
    memcpy(cache->path, path, directory_length);
    cache->path[directory_length] = '\0';
    cache->fd = open(cache->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cache->fd < 0) {
      /* a missing or unsearchable directory: open(2) on the whole path reports what it would */
      *directory = AT_FDCWD;
      return path;
    }
    cache->length = directory_length;
  }
  *directory = cache->fd;
  return slash + 1;
}

static void put_stats(double *slots, const struct stat *st) {
  slots[2] = (double)st->st_size;
  slots[3] = (double)st->st_mtim.tv_sec * 1e3 + (double)st->st_mtim.tv_nsec / 1e6;
  slots[4] = (double)st->st_dev;
  slots[5] = (double)st->st_ino;
  slots[6] = (double)st->st_mode;
}

static void failed(double *slots, int error, int syscall) {
  slots[0] = READ_FILES_FAILED;
  slots[1] = error;
  slots[2] = syscall;
}

int read_file_into(int directory, const char *name, uint8_t *buffer, size_t capacity, size_t *used,
                   double *slots) {
  int fd = openat(directory, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    failed(slots, errno, READ_FILES_OPEN);
    return 0;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    failed(slots, errno, READ_FILES_FSTAT);
    close(fd);
    return 0;
  }
  put_stats(slots, &st);
  if (!S_ISREG(st.st_mode)) {
    slots[0] = READ_FILES_NOT_A_FILE;
    close(fd);
    return 0;
  }
  size_t size = (size_t)st.st_size;
  if (size > capacity) {
    slots[0] = READ_FILES_TOO_BIG;
    close(fd);
    return 0;
  }
  if (size > capacity - *used) {
    close(fd);
    return 1;
  }
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buffer + *used + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed(slots, errno, READ_FILES_READ);
      close(fd);
      return 0;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got < size) {
    slots[0] = READ_FILES_SHRANK;
    slots[1] = (double)got;
    return 0;
  }
  slots[0] = READ_FILES_WHOLE;
  slots[1] = (double)*used;
  *used += size;
  return 0;
}
