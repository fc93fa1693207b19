/*
 * rill_tsan.c - makes C11 threads visible to ThreadSanitizer (TSan builds
 * only; an empty unit otherwise).
 *
 * librdkafka (Debian's 2.0.2 build) runs its threads and locks through the
 * C11 <threads.h> API: thrd_create, mtx_lock, cnd_wait and so on. glibc
 * implements them on top of its internal pthread functions, which neither
 * gcc's nor clang's TSan runtime (gcc 12, clang 14) intercept. TSan then
 * sees neither librdkafka's threads nor its locks: its threads run without
 * TSan thread state (gcc 12's runtime crashed in an allocation inside
 * getaddrinfo on a broker thread), and everything handed between threads
 * through librdkafka's queues looks unsynchronized.
 *
 * Under TSan, this file defines the C11 functions librdkafka imports as thin
 * wrappers over the pthread functions, which TSan does intercept. The
 * program's own definitions come first in dynamic symbol lookup, so
 * librdkafka binds to these. The types are layout-compatible in glibc
 * (thrd_t is a pthread_t, mtx_t a pthread_mutex_t, cnd_t a pthread_cond_t,
 * once_flag a pthread_once_t), and glibc's own implementation is the same
 * mapping, so behaviour is unchanged. The top-level CMakeLists.txt makes
 * the linker keep this object (-u thrd_create) when RILL_TSAN is on.
 *
 * The memory accesses TSan records for initializing and destroying these
 * mutexes and condition variables are ignored: librdkafka publishes its
 * objects through its own atomics and through locks it takes from
 * uninstrumented code (tests/tsan.supp ignores librdkafka's direct
 * interceptor calls), so TSan would report the first lock of a mutex on
 * one thread as racing with its initialization on another. Only the
 * library that owns these objects touches them; the lock and wait
 * operations themselves keep their synchronization semantics.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RILL__TSAN_SHIM 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define RILL__TSAN_SHIM 1
#endif

#ifdef RILL__TSAN_SHIM

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");
_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

/* librill is built with hidden visibility; librdkafka must see these. */
#define SHIM __attribute__((visibility("default")))

/* TSan's runtime interface (sanitizer/tsan_interface.h is not installed
 * with every compiler). */
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);

/* glibc's mapping of pthread error numbers to C11 results. */
static int
c11_result(int err)
{
        switch (err) {
        case 0:
                return thrd_success;
        case ENOMEM:
                return thrd_nomem;
        case EBUSY:
                return thrd_busy;
        case ETIMEDOUT:
                return thrd_timedout;
        default:
                return thrd_error;
        }
}

typedef struct c11_start {
        thrd_start_t func;
        void *arg;
} c11_start_t;

static void *
c11_trampoline(void *p)
{
        c11_start_t s = *(c11_start_t *)p;
        free(p);
        return (void *)(intptr_t)s.func(s.arg);
}

/* Plain malloc, not rill__malloc: thrd_create reports thrd_nomem rather
 * than aborting. */
SHIM int
thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
        c11_start_t *s = malloc(sizeof(*s));
        int err;
        if (!s)
                return thrd_nomem;
        s->func = func;
        s->arg = arg;
        err = pthread_create((pthread_t *)thr, NULL, c11_trampoline, s);
        if (err)
                free(s);
        return c11_result(err);
}

SHIM int
thrd_join(thrd_t thr, int *res)
{
        void *ret = NULL;
        int err = pthread_join((pthread_t)thr, &ret);
        if (!err && res)
                *res = (int)(intptr_t)ret;
        return c11_result(err);
}

SHIM int
mtx_init(mtx_t *m, int type)
{
        pthread_mutexattr_t attr;
        int err;
        pthread_mutexattr_init(&attr);
        if (type & mtx_recursive)
                pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        __tsan_ignore_thread_begin();
        err = pthread_mutex_init((pthread_mutex_t *)m, &attr);
        __tsan_ignore_thread_end();
        pthread_mutexattr_destroy(&attr);
        return c11_result(err);
}

SHIM int
mtx_lock(mtx_t *m)
{
        return c11_result(pthread_mutex_lock((pthread_mutex_t *)m));
}

SHIM int
mtx_trylock(mtx_t *m)
{
        return c11_result(pthread_mutex_trylock((pthread_mutex_t *)m));
}

SHIM int
mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
        return c11_result(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

SHIM int
mtx_unlock(mtx_t *m)
{
        return c11_result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

SHIM void
mtx_destroy(mtx_t *m)
{
        __tsan_ignore_thread_begin();
        pthread_mutex_destroy((pthread_mutex_t *)m);
        __tsan_ignore_thread_end();
}

SHIM int
cnd_init(cnd_t *c)
{
        int err;
        __tsan_ignore_thread_begin();
        err = pthread_cond_init((pthread_cond_t *)c, NULL);
        __tsan_ignore_thread_end();
        return c11_result(err);
}

SHIM int
cnd_signal(cnd_t *c)
{
        return c11_result(pthread_cond_signal((pthread_cond_t *)c));
}

SHIM int
cnd_broadcast(cnd_t *c)
{
        return c11_result(pthread_cond_broadcast((pthread_cond_t *)c));
}

SHIM int
cnd_wait(cnd_t *c, mtx_t *m)
{
        return c11_result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

SHIM int
cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
        return c11_result(
                pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

SHIM void
cnd_destroy(cnd_t *c)
{
        __tsan_ignore_thread_begin();
        pthread_cond_destroy((pthread_cond_t *)c);
        __tsan_ignore_thread_end();
}

SHIM void
call_once(once_flag *flag, void (*func)(void))
{
        pthread_once((pthread_once_t *)flag, func);
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int rill__tsan_shim_unused_t;

#endif /* RILL__TSAN_SHIM */
