/*
 * rill_alloc.h - the allocator shim (internal).
 *
 * Every allocation in Rill goes through these functions. librill links
 * jemalloc, which replaces the process allocator, so the shim is thin: it adds
 * abort-on-out-of-memory (callers never see NULL, as in Redis's zmalloc) and
 * an optional failure-injection hook for tests.
 *
 * Thread-safe.
 */
#ifndef RILL_ALLOC_H
#define RILL_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *rill__malloc(size_t n);
void *rill__calloc(size_t nmemb, size_t n);
void *rill__realloc(void *p, size_t n);
void rill__free(void *p);
char *rill__strdup(const char *s);
char *rill__strndup(const char *s, size_t n);
/** Formats into a freshly allocated string (free with rill__free). */
char *rill__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Bytes currently allocated by the process, per jemalloc (0 if unknown). */
size_t rill__mem_allocated(void);

#define RILL__NEW(type) ((type *)rill__calloc(1, sizeof(type)))

#endif /* RILL_ALLOC_H */
