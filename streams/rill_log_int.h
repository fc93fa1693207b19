/*
 * rill_log_int.h - internal logging macros.
 *
 *   RILL_LOG_I("broker", "listening on %s", addr);
 *
 * The level check is a relaxed atomic load, so disabled levels cost one
 * compare. Thread-safe.
 */
#ifndef RILL_LOG_INT_H
#define RILL_LOG_INT_H

#include <rill/log.h>

int rill__log_enabled(rill_log_level_t level);
void rill__log(rill_log_level_t level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define RILL_LOG_(lvl, comp, ...)                                              \
        do {                                                                   \
                if (rill__log_enabled(lvl))                                    \
                        rill__log(lvl, comp, __VA_ARGS__);                     \
        } while (0)

#define RILL_LOG_E(comp, ...) RILL_LOG_(RILL_LOG_ERROR, comp, __VA_ARGS__)
#define RILL_LOG_W(comp, ...) RILL_LOG_(RILL_LOG_WARN, comp, __VA_ARGS__)
#define RILL_LOG_I(comp, ...) RILL_LOG_(RILL_LOG_INFO, comp, __VA_ARGS__)
#define RILL_LOG_D(comp, ...) RILL_LOG_(RILL_LOG_DEBUG, comp, __VA_ARGS__)
#define RILL_LOG_T(comp, ...) RILL_LOG_(RILL_LOG_TRACE, comp, __VA_ARGS__)

#endif /* RILL_LOG_INT_H */
