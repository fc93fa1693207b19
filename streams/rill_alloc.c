/*
 * rill_alloc.c - allocator shim over jemalloc.
 *
 * Design: programs built with Rill link jemalloc (-ljemalloc, the unprefixed
 * build on Debian) ahead of libc, so malloc() here already is jemalloc's. The shim turns allocation failure into
 * a logged abort: a broker or stream thread cannot make progress without
 * memory, and a crash with a clear message beats a NULL dereference later.
 */
#include "rill_alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jemalloc's control interface, resolved weakly: present when the program
 * links jemalloc (rilld and everything built here do), NULL otherwise. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
                   size_t newlen) __attribute__((weak));

static void
oom(size_t n)
{
        fprintf(stderr, "rill: out of memory allocating %zu bytes\n", n);
        abort();
}

void *
rill__malloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom(n);
        return p;
}

void *
rill__calloc(size_t nmemb, size_t n)
{
        void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
        if (!p)
                oom(nmemb * n);
        return p;
}

void *
rill__realloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom(n);
        return q;
}

void
rill__free(void *p)
{
        free(p);
}

char *
rill__strdup(const char *s)
{
        size_t n = strlen(s);
        char *d = rill__malloc(n + 1);
        memcpy(d, s, n + 1);
        return d;
}

char *
rill__strndup(const char *s, size_t n)
{
        char *d = rill__malloc(n + 1);
        memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

char *
rill__asprintf(const char *fmt, ...)
{
        va_list ap;
        int n;
        char *s;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        s = rill__malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        return s;
}

size_t
rill__mem_allocated(void)
{
        size_t allocated = 0, sz = sizeof(allocated);
        uint64_t epoch = 1;
        size_t esz = sizeof(epoch);

        if (!mallctl)
                return 0;
        if (mallctl("epoch", &epoch, &esz, &epoch, esz) != 0)
                return 0;
        if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
                return 0;
        return allocated;
}
