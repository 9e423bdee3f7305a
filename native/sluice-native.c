/*
 * sluice's optional native addon. Two things Node does not offer:
 * - `readPopulated` (below): a positional read on libuv's threadpool that first has the kernel
 *   populate the destination's pages in one call (madvise MADV_POPULATE_WRITE, Linux 5.14+), then
 *   reads into them;
 * - `crc32Read` and `crc32`: CRC-32 by carry-less multiplication (crc32-fold.c), of a file range
 *   read on the threadpool through a cache-sized window, or of a buffer;
 * - `readFiles`: many small files read whole into one buffer on the calling (worker) thread, with no
 *   JavaScript between them (read-files.c).
 *
 * Why: reading a 636 MiB cached file into a fresh buffer (`readAll`, `fs.readFile`) spends more
 * time in page faults than in copying. The copy faults on each 4 KiB page it writes to: about
 * 163,000 faults, each taken inside the kernel's copy routine. Populating a whole 8 MiB range per
 * call does the same work without those faults. Measured here (2-core VM), 636 MiB read in 8 MiB
 * chunks by 2 threads: 107-118 ms with faults, 58-61 ms populated. Node offers no madvise.
 *
 * Invariants: the read loops over short reads until `length` bytes or end of file, and retries
 * EINTR; the buffer is kept referenced until the read completes (the GC cannot free it under the
 * thread); populating changes no byte of the buffer (it only maps pages), and its
 * failure (an old kernel: EINVAL) costs only the faults it would have saved.
 *
 * Used by `readAll` for its chunks and by the threadpool readers for a slab's first read. Built by
 * scripts/build-native.mjs at install, when a C compiler and Node's headers are there; without it,
 * both use `fs.read` (src/file/native.ts).
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <errno.h>
#include "crc32-fold.h"
#include "list-directory.h"
#include "read-files.h"
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer; /* keeps the destination alive while the thread writes into it */
  int fd;
  uint8_t *target;
  size_t length;
  int64_t position;
  size_t filled;
  int error; /* errno of a failed read; 0 when none */
} read_job;

static size_t page_size;

/* On the threadpool: populate the whole pages of the destination, then read until full or EOF. */
static void execute(napi_env env, void *data) {
  (void)env;
  read_job *job = data;
  uintptr_t first = ((uintptr_t)job->target + page_size - 1) & ~(uintptr_t)(page_size - 1);
  uintptr_t last = ((uintptr_t)job->target + job->length) & ~(uintptr_t)(page_size - 1);
  if (last > first) (void)madvise((void *)first, last - first, MADV_POPULATE_WRITE);
  while (job->filled < job->length) {
    ssize_t bytes = pread(job->fd, job->target + job->filled, job->length - job->filled,
                          (off_t)(job->position + (int64_t)job->filled));
    if (bytes < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      return;
    }
    if (bytes == 0) return;
    job->filled += (size_t)bytes;
  }
}

/* The errno's symbolic name (EIO...): glibc knows them all; elsewhere, those a read can return. */
static const char *errno_name(int error) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  return strerrorname_np(error);
#else
  switch (error) {
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EISDIR: return "EISDIR";
    case ENOMEM: return "ENOMEM";
    case ENXIO: return "ENXIO";
    case EOVERFLOW: return "EOVERFLOW";
    case ESPIPE: return "ESPIPE";
    default: return NULL;
  }
#endif
}

/* An Error like Node's fs errors: `code` (EIO...), `errno` (negative), `syscall`. */
static napi_value os_error(napi_env env, int error) {
  const char *name = errno_name(error);
  char message[200];
  snprintf(message, sizeof message, "%s: %s, read", name != NULL ? name : "EUNKNOWN", strerror(error));
  napi_value code, text, result, number, syscall;
  napi_create_string_utf8(env, name != NULL ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &result);
  napi_create_int32(env, -error, &number);
  napi_set_named_property(env, result, "errno", number);
  napi_create_string_utf8(env, "read", NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, result, "syscall", syscall);
  return result;
}

/* Back on the JS thread, for any job: rejects its promise and returns 1 when the work was cancelled
   (`what` names the call) or a read failed (`error`, an errno); else returns 0. */
static int reject_failed(napi_env env, napi_status status, int error, napi_deferred deferred, const char *what) {
  if (status != napi_ok) {
    char message[100];
    snprintf(message, sizeof message, "%s: the read was cancelled", what);
    napi_value text, cancelled;
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &cancelled);
    napi_reject_deferred(env, deferred, cancelled);
    return 1;
  }
  if (error != 0) {
    napi_reject_deferred(env, deferred, os_error(env, error));
    return 1;
  }
  return 0;
}

/* Back on the JS thread: settle the promise, let go of the buffer. */
static void complete(napi_env env, napi_status status, void *data) {
  read_job *job = data;
  if (!reject_failed(env, status, job->error, job->deferred, "readPopulated")) {
    napi_value filled;
    napi_create_double(env, (double)job->filled, &filled);
    napi_resolve_deferred(env, job->deferred, filled);
  }
  napi_delete_reference(env, job->buffer);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value range_error(napi_env env, const char *message) {
  napi_throw_range_error(env, "SLUICE_NATIVE_ARGUMENT", message);
  return NULL;
}

static int is_safe_index(double value) {
  return value >= 0 && value <= 9007199254740991.0 && value == (double)(int64_t)value;
}

/* A typed array of `want`'s type: its data and element count; 0 when `value` is anything else. */
static int get_typed_array(napi_env env, napi_value value, napi_typedarray_type want, void **data,
                           size_t *elements) {
  bool typed = false;
  napi_typedarray_type type;
  return napi_is_typedarray(env, value, &typed) == napi_ok && typed &&
         napi_get_typedarray_info(env, value, &type, elements, data, NULL, NULL) == napi_ok && type == want;
}

/* A file descriptor (an int32 >= 0); 0 when `value` is anything else. */
static int get_fd(napi_env env, napi_value value, int32_t *fd) {
  return napi_get_value_int32(env, value, fd) == napi_ok && *fd >= 0;
}

/* Queues `job` on the threadpool (`execute` there, then `complete` here) behind a new promise;
   NULL with an Error thrown when it cannot. `name` names the call (async hooks, errors). */
static napi_value queue_job(napi_env env, const char *name, napi_async_execute_callback execute,
                            napi_async_complete_callback complete_job, void *job, napi_async_work *work,
                            napi_deferred *deferred) {
  napi_value promise, resource_name;
  char message[100];
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) == napi_ok &&
      napi_create_promise(env, deferred, &promise) == napi_ok &&
      napi_create_async_work(env, NULL, resource_name, execute, complete_job, job, work) == napi_ok &&
      napi_queue_async_work(env, *work) == napi_ok)
    return promise;
  /* not reached in practice; the job may leak here, never a wrong byte */
  snprintf(message, sizeof message, "%s: cannot queue the read", name);
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* readPopulated(fd, buffer: Uint8Array, offset, length, position): Promise<bytes read> */
static napi_value read_populated(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return range_error(env, "readPopulated(fd, buffer, offset, length, position) takes 5 arguments");
  int32_t fd;
  double offset, length, position;
  size_t elements;
  void *data;
  if (!get_fd(env, argv[0], &fd)) return range_error(env, "fd must be >= 0");
  if (!get_typed_array(env, argv[1], napi_uint8_array, &data, &elements))
    return range_error(env, "buffer must be a Uint8Array");
  if (napi_get_value_double(env, argv[2], &offset) != napi_ok || !is_safe_index(offset) ||
      napi_get_value_double(env, argv[3], &length) != napi_ok || !is_safe_index(length) ||
      napi_get_value_double(env, argv[4], &position) != napi_ok || !is_safe_index(position))
    return range_error(env, "offset, length and position must be integers >= 0");
  if (offset + length > (double)elements) return range_error(env, "offset + length exceeds the buffer");
  read_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "readPopulated: out of memory");
    return NULL;
  }
  job->fd = fd;
  job->target = (uint8_t *)data + (size_t)offset;
  job->length = (size_t)length;
  job->position = (int64_t)position;
  if (napi_create_reference(env, argv[1], 1, &job->buffer) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "readPopulated: cannot hold the buffer");
    return NULL;
  }
  return queue_job(env, "sluice.readPopulated", execute, complete, job, &job->work, &job->deferred);
}

/* ---- CRC-32 of a file range: crc32Read ---------------------------------------------------- */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int64_t position;
  uint64_t length;
  uint32_t crc;
  uint64_t bytes; /* read and checksummed so far */
  int error;      /* errno of a failed read; 0 when none */
} crc_job;

/* Small enough to stay in the core's L2 between the copy and the checksum (the bytes are read from
   memory once); one per threadpool thread that ever ran a crc32Read, kept for the thread's life. */
#define CRC_WINDOW_BYTES (256 * 1024)
static _Thread_local uint8_t *crc_window;

/* On the threadpool: read `length` bytes (or to end of file) window by window, checksumming each. */
static void crc_execute(napi_env env, void *data) {
  (void)env;
  crc_job *job = data;
  if (crc_window == NULL && (crc_window = aligned_alloc(64, CRC_WINDOW_BYTES)) == NULL) {
    job->error = ENOMEM;
    return;
  }
  while (job->bytes < job->length) {
    uint64_t left = job->length - job->bytes;
    size_t want = left < CRC_WINDOW_BYTES ? (size_t)left : CRC_WINDOW_BYTES;
    ssize_t got = pread(job->fd, crc_window, want, (off_t)(job->position + (int64_t)job->bytes));
    if (got < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      return;
    }
    if (got == 0) return;
    job->crc = crc32_fold(job->crc, crc_window, (size_t)got);
    job->bytes += (uint64_t)got;
  }
}

static void crc_complete(napi_env env, napi_status status, void *data) {
  crc_job *job = data;
  if (!reject_failed(env, status, job->error, job->deferred, "crc32Read")) {
    napi_value result, crc, bytes;
    napi_create_object(env, &result);
    napi_create_uint32(env, job->crc, &crc);
    napi_create_double(env, (double)job->bytes, &bytes);
    napi_set_named_property(env, result, "crc", crc);
    napi_set_named_property(env, result, "bytes", bytes);
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* crc32Read(fd, position, length, previous): Promise<{ crc, bytes }>; bytes < length only at end of file. */
static napi_value crc32_read(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return range_error(env, "crc32Read(fd, position, length, previous) takes 4 arguments");
  int32_t fd;
  double position, length;
  uint32_t previous;
  if (!get_fd(env, argv[0], &fd)) return range_error(env, "fd must be >= 0");
  if (napi_get_value_double(env, argv[1], &position) != napi_ok || !is_safe_index(position) ||
      napi_get_value_double(env, argv[2], &length) != napi_ok || !is_safe_index(length))
    return range_error(env, "position and length must be integers >= 0");
  if (napi_get_value_uint32(env, argv[3], &previous) != napi_ok)
    return range_error(env, "previous must be a CRC-32 (an integer from 0 to 2^32 - 1)");
  crc_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "crc32Read: out of memory");
    return NULL;
  }
  job->fd = fd;
  job->position = (int64_t)position;
  job->length = (uint64_t)length;
  job->crc = previous;
  return queue_job(env, "sluice.crc32Read", crc_execute, crc_complete, job, &job->work, &job->deferred);
}

/* crc32(data: Uint8Array, previous): number, on the calling thread (zlib.crc32's contract). */
static napi_value crc32_sync(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  size_t elements;
  void *data;
  uint32_t previous;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2)
    return range_error(env, "crc32(data, previous) takes 2 arguments");
  if (!get_typed_array(env, argv[0], napi_uint8_array, &data, &elements))
    return range_error(env, "data must be a Uint8Array");
  if (napi_get_value_uint32(env, argv[1], &previous) != napi_ok)
    return range_error(env, "previous must be a CRC-32 (an integer from 0 to 2^32 - 1)");
  napi_value result;
  napi_create_uint32(env, crc32_fold(previous, data, elements), &result);
  return result;
}

/* ---- small files read whole: readFiles ------------------------------------------------------ */

/* A path read into a PATH_MAX + 1 buffer as `length` bytes that open() cannot take: the errno open()
   would give (ENAMETOOLONG for one too long for the kernel, ENOENT for a NUL inside, where the
   kernel would stop reading it), or 0. */
static int path_error(const char *path, size_t length) {
  if (length >= PATH_MAX) return ENAMETOOLONG;
  return strlen(path) != length ? ENOENT : 0;
}

/* readFiles(paths: string[], from, buffer: Uint8Array, outcomes: Float64Array): number of paths
   handled, from `from` on, on the calling thread (a worker's: it blocks). Outcomes: see read-files.h.
   Stops before a file that does not fit in what is left of the buffer, and after one too big for
   all of it. */
static napi_value read_files(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return range_error(env, "readFiles(paths, from, buffer, outcomes) takes 4 arguments");
  bool is_array = false;
  uint32_t length;
  double from;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &length) != napi_ok)
    return range_error(env, "paths must be an array of strings");
  if (napi_get_value_double(env, argv[1], &from) != napi_ok || !is_safe_index(from) || from > length)
    return range_error(env, "from must be an index into paths");
  size_t capacity, slot_count;
  void *buffer, *slots;
  if (!get_typed_array(env, argv[2], napi_uint8_array, &buffer, &capacity))
    return range_error(env, "buffer must be a Uint8Array");
  if (!get_typed_array(env, argv[3], napi_float64_array, &slots, &slot_count))
    return range_error(env, "outcomes must be a Float64Array");
  size_t first = (size_t)from;
  size_t count = length - first;
  if (count > slot_count / READ_FILES_SLOTS) count = slot_count / READ_FILES_SLOTS;
  size_t used = 0, handled = 0;
  char path[PATH_MAX + 1];
  struct read_files_directory directory = {.fd = -1, .length = 0};
  for (; handled < count; handled++) {
    napi_value element;
    size_t path_length;
    double *outcome = (double *)slots + handled * READ_FILES_SLOTS;
    if (napi_get_element(env, argv[0], (uint32_t)(first + handled), &element) != napi_ok ||
        napi_get_value_string_utf8(env, element, path, sizeof path, &path_length) != napi_ok) {
      close_directory(&directory);
      return range_error(env, "paths must be an array of strings");
    }
    int unopenable = path_error(path, path_length);
    if (unopenable != 0) {
      outcome[0] = READ_FILES_FAILED;
      outcome[1] = unopenable;
      outcome[2] = READ_FILES_OPEN;
      continue;
    }
    int at;
    const char *name = open_directory(&directory, path, path_length, &at);
    if (read_file_into(at, name, buffer, capacity, &used, outcome) != 0) break;
    /* the caller reads a file too big for the buffer through the same buffer, after the visits of
       the files before it: nothing after it may be in the buffer yet */
    if (outcome[0] == READ_FILES_TOO_BIG) {
      handled++;
      break;
    }
  }
  close_directory(&directory);
  napi_value result;
  napi_create_uint32(env, (uint32_t)handled, &result);
  return result;
}

/* listDirectory(path, types: Uint8Array): the names of `path`'s entries but "." and "..", in byte
   order, each followed by '/', as one string, their d_type values in types[0 ..]; null when
   there are more than types.length (nothing listed); a negative errno when a call failed. On the
   calling thread: it stops at entry types.length + 1 (getdents64 hands them over 32 KiB at a
   time), so the time it blocks is bounded whatever the directory's size. See list-directory.c. */
static napi_value list_directory_sync(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2)
    return range_error(env, "listDirectory(path, types) takes 2 arguments");
  char path[PATH_MAX + 1];
  size_t path_length;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok)
    return range_error(env, "path must be a string");
  size_t capacity;
  void *types;
  if (!get_typed_array(env, argv[1], napi_uint8_array, &types, &capacity))
    return range_error(env, "types must be a Uint8Array");
  napi_value result;
  int unopenable = path_error(path, path_length);
  if (unopenable != 0) {
    napi_create_int32(env, -unopenable, &result);
    return result;
  }
  char *names;
  size_t names_length, count;
  int outcome = list_directory(path, types, capacity, &names, &names_length, &count);
  if (outcome == LIST_DIRECTORY_OVER) napi_get_null(env, &result);
  else if (outcome != 0) napi_create_int32(env, -outcome, &result);
  else if (napi_create_string_utf8(env, names, names_length, &result) != napi_ok) {
    free(names);
    napi_throw_error(env, NULL, "listDirectory: cannot make the names' string");
    return NULL;
  }
  free(names);
  return result;
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value function;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function) == napi_ok &&
         napi_set_named_property(env, exports, name, function) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  long size = sysconf(_SC_PAGESIZE);
  page_size = size > 0 ? (size_t)size : 4096;
  if (!export_function(env, exports, "readPopulated", read_populated) ||
      !export_function(env, exports, "readFiles", read_files) ||
      !export_function(env, exports, "listDirectory", list_directory_sync))
    return NULL;
  /* the CRC functions only where the carry-less multiply is there: else sluice keeps its JavaScript
     path. SLUICE_NATIVE_CRC=sse keeps to the SSE code on AVX-512 machines (the tests check both). */
  const char *crc_mode = getenv("SLUICE_NATIVE_CRC");
  if (crc32_fold_init(crc_mode == NULL || strcmp(crc_mode, "sse") != 0)) {
    napi_value kind;
    if (!export_function(env, exports, "crc32Read", crc32_read) || !export_function(env, exports, "crc32", crc32_sync) ||
        napi_create_string_utf8(env, crc32_fold_kind(), NAPI_AUTO_LENGTH, &kind) != napi_ok ||
        napi_set_named_property(env, exports, "crc32Kind", kind) != napi_ok)
      return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
