/*
 * rill_util.h - small internal helpers shared by the broker and librill.
 */
#ifndef RILL_UTIL_H
#define RILL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/** Wall-clock time in milliseconds since the epoch. Thread-safe. */
int64_t rill__now_ms(void);
/** Monotonic clock in milliseconds / microseconds. Thread-safe. */
int64_t rill__mono_ms(void);
int64_t rill__mono_us(void);

/** snprintf into errstr if errstr is non-NULL and errstr_size > 0. */
void rill__errf(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** Creates a directory and its parents (mkdir -p). Returns 0 or -1 (errno). */
int rill__mkdirs(const char *path, int mode);
/** Removes a directory tree (rm -rf). Returns 0 or -1 (errno). */
int rill__rmtree(const char *path);
/** fsync()s a directory so that entries created or renamed in it persist. */
int rill__fsync_dir(const char *path);

#define RILL__MIN(a, b) ((a) < (b) ? (a) : (b))
#define RILL__MAX(a, b) ((a) > (b) ? (a) : (b))
#define RILL__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* RILL_UTIL_H */
