/*
 * rill_log.c - leveled logging with a replaceable sink.
 *
 * The level is read from RILL_LOG_LEVEL on first use. The default sink writes
 * one line per message to stderr with a UTC timestamp; a whole line is written
 * with a single fprintf so lines from different threads do not interleave.
 */
#include "rill_log_int.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int log_level = -1;
static rill_log_sink_fn *log_sink;
static void *log_sink_opaque;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

int
rill_log_level_parse(const char *s, rill_log_level_t *out)
{
        static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
        for (int i = 0; i < 5; i++) {
                if (!strcasecmp(s, names[i]) ||
                    (i == 1 && !strcasecmp(s, "warning"))) {
                        *out = (rill_log_level_t)i;
                        return 0;
                }
        }
        return -1;
}

static int
level_get(void)
{
        int l = atomic_load_explicit(&log_level, memory_order_relaxed);
        if (l < 0) {
                rill_log_level_t parsed = RILL_LOG_INFO;
                const char *env = getenv("RILL_LOG_LEVEL");
                if (env)
                        rill_log_level_parse(env, &parsed);
                l = (int)parsed;
                atomic_store(&log_level, l);
        }
        return l;
}

void
rill_log_set_level(rill_log_level_t level)
{
        atomic_store(&log_level, (int)level);
}

rill_log_level_t
rill_log_get_level(void)
{
        return (rill_log_level_t)level_get();
}

void
rill_log_set_sink(rill_log_sink_fn *sink, void *opaque)
{
        log_sink = sink;
        log_sink_opaque = opaque;
}

int
rill__log_enabled(rill_log_level_t level)
{
        return (int)level <= level_get();
}

void
rill__log(rill_log_level_t level, const char *component, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (log_sink) {
                log_sink(level, component, msg, log_sink_opaque);
                return;
        }

        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] %s\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000,
                level_names[(int)level < 5 ? (int)level : 4], component, msg);
}
