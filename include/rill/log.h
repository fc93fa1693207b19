/*
 * rill/log.h - logging with levels.
 *
 * Rill logs through one sink. The default sink writes
 * "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL [component] message" lines to stderr.
 * Applications may install their own sink. The level and sink are
 * process-wide settings of the logging facility (the only process-wide state
 * in Rill); every other object is independent.
 */
#ifndef RILL_LOG_H
#define RILL_LOG_H

#include <rill/common.h>

RILL_BEGIN_DECLS

typedef enum rill_log_level {
        RILL_LOG_ERROR = 0,
        RILL_LOG_WARN = 1,
        RILL_LOG_INFO = 2,
        RILL_LOG_DEBUG = 3,
        RILL_LOG_TRACE = 4
} rill_log_level_t;

/**
 * @brief A log sink. @p component names the subsystem ("broker", "log",
 *        "group", "streams", ...); @p msg is NUL-terminated and valid only for
 *        the duration of the call. Called from any Rill thread; must be
 *        thread-safe.
 */
typedef void (rill_log_sink_fn)(rill_log_level_t level, const char *component,
                                const char *msg, void *opaque);

/**
 * @brief Sets the maximum level that is emitted (default RILL_LOG_INFO, or the
 *        value of the RILL_LOG_LEVEL environment variable: error, warn, info,
 *        debug, trace). Thread-safe.
 */
RILL_API void rill_log_set_level(rill_log_level_t level);

/** @brief Returns the current maximum level. Thread-safe. */
RILL_API rill_log_level_t rill_log_get_level(void);

/**
 * @brief Installs @p sink (NULL restores the stderr sink). @p opaque is passed
 *        to every call. Not thread-safe with respect to concurrent logging:
 *        install the sink before starting brokers or applications.
 */
RILL_API void rill_log_set_sink(rill_log_sink_fn *sink, void *opaque);

/**
 * @brief Parses "error", "warn", "info", "debug" or "trace".
 * @returns 0 and sets @p out on success, -1 if @p s is not a level name.
 */
RILL_API int rill_log_level_parse(const char *s, rill_log_level_t *out);

RILL_END_DECLS

#endif /* RILL_LOG_H */
