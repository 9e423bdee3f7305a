/* listDirectory: a small directory's entries in one call, on the calling thread. See list-directory.c. */
#ifndef SLUICE_LIST_DIRECTORY_H
#define SLUICE_LIST_DIRECTORY_H
#include <stddef.h>
#include <stdint.h>

/* What list_directory() returns besides 0 (listed): more entries than `capacity` (nothing listed). */
#define LIST_DIRECTORY_OVER -1

/* Lists `path`'s entries but "." and "..", in byte order of their names (a name before any longer
   one it begins): their names, each followed by '/' (which no name holds),
   into a buffer of *names_length bytes it allocates (*names; the caller frees it, also after a
   failure: NULL then), and their types (DT_REG, DT_DIR, DT_LNK... as d_type has them; never
   DT_UNKNOWN: resolved with fstatat, not following links) into types[0 .. *count). Returns 0, or
   LIST_DIRECTORY_OVER as soon as it finds more than `capacity` entries, or the errno of the call that
   failed (open, getdents64, fstatat, or ENOMEM). An entry removed between the listing and its fstatat is
   left out, as if listed after it went. */
int list_directory(const char *path, uint8_t *types, size_t capacity, char **names, size_t *names_length,
                   size_t *count);
#endif
