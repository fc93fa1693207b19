/*
 * rill/conf.h - string key/value configuration for Rill applications.
 *
 * A rill_conf_t holds Kafka Streams' configuration names ("application.id",
 * "bootstrap.servers", "num.stream.threads", "commit.interval.ms",
 * "state.dir", "replication.factor", "processing.guarantee",
 * "default.deserialization.exception.handler", ...). Properties for the
 * underlying librdkafka clients pass through with a prefix:
 *
 *     "consumer.<prop>"  only the consumers (main and restore consumers)
 *     "producer.<prop>"  only the producer
 *     "admin.<prop>"     only the admin client used to create internal topics
 *     "kafka.<prop>"     every librdkafka client
 *
 * The set of keys is documented in docs/streams-guide.md. Values are checked
 * by rill_conf_set() where Rill knows the key; prefixed properties are checked
 * by librdkafka when the application starts.
 */
#ifndef RILL_CONF_H
#define RILL_CONF_H

#include <rill/common.h>
#include <rill/error.h>

RILL_BEGIN_DECLS

typedef struct rill_conf_s rill_conf_t;

/**
 * @brief Creates an empty configuration (every key at its default).
 * @returns a new object owned by the caller; free it with
 *          rill_conf_destroy() unless it is handed to a function that takes
 *          it. Never NULL. Thread-safe.
 */
RILL_API rill_conf_t *rill_conf_new(void);

/**
 * @brief Sets @p key to @p value (both copied).
 *
 * Known keys are validated (numbers parse, enumerations match); keys with a
 * client prefix ("consumer.", "producer.", "admin.", "kafka.") are stored as
 * given. Unknown unprefixed keys are rejected, so a typo is noticed.
 * @returns RILL_OK, or RILL_ERR_CONFIG with a message in @p errstr; @p conf is
 *          unchanged on error.
 * Not thread-safe for the same @p conf.
 */
RILL_API rill_err_t rill_conf_set(rill_conf_t *conf, const char *key, const char *value,
                                  char *errstr, size_t errstr_size);

/**
 * @brief Copies the effective value of @p key (its default when unset) into
 *        @p buf.
 * @returns RILL_OK, RILL_ERR_NOT_FOUND for an unknown key that was never set,
 *          or RILL_ERR_TOO_LARGE when @p buf is too small (it then holds a
 *          truncated, NUL-terminated value). Thread-safe for concurrent
 *          readers; not with a concurrent rill_conf_set().
 */
RILL_API rill_err_t rill_conf_get(const rill_conf_t *conf, const char *key, char *buf,
                                  size_t buf_size);

/** @brief Returns a deep copy of @p conf, owned by the caller. Never NULL. */
RILL_API rill_conf_t *rill_conf_dup(const rill_conf_t *conf);

/** @brief Frees @p conf. NULL is a no-op. */
RILL_API void rill_conf_destroy(rill_conf_t *conf);

RILL_END_DECLS

#endif /* RILL_CONF_H */
