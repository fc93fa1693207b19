/*
 * config.h - broker (server.properties) and topic-level configuration (internal).
 *
 * struct rill_broker_conf_s is the parsed server.properties, with Kafka's key
 * names and defaults. Values are validated when set: an invalid value fails
 * with a message naming the key; an unknown key is kept and logged as a
 * warning (so a Kafka file loads unchanged).
 *
 * Topic-level configs (cleanup.policy, retention.ms, segment.bytes, ...) map
 * onto rill__log_conf_t. Their broker-level defaults come from the log.*
 * server keys (log.retention.hours -> retention.ms, log.segment.bytes ->
 * segment.bytes, log.cleanup.policy -> cleanup.policy, ...).
 */
#ifndef RILL_BROKER_CONFIG_H
#define RILL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <rill/broker.h>

#include "log.h"

typedef struct rill__listener {
        char *name;          /**< "PLAINTEXT" */
        char *host;          /**< bind host ("" = all interfaces) */
        int port;            /**< 0 = pick a free port */
} rill__listener_t;

struct rill_broker_conf_s {
        int32_t node_id;                    /**< node.id / broker.id (default 1) */
        char *listeners;                    /**< raw "PLAINTEXT://:9092" */
        rill__listener_t listener;          /**< first parsed listener */
        char *advertised_listeners;         /**< raw, may be NULL */
        rill__listener_t advertised;        /**< parsed (host may be empty => resolved at start) */
        char *log_dirs;                     /**< log.dirs / log.dir (first dir is used) */
        char *cluster_id;                   /**< generated if unset; persisted in meta.properties */
        int32_t num_partitions;             /**< 1 */
        int16_t default_replication_factor; /**< 1 */
        int32_t min_insync_replicas;        /**< 1 */
        bool auto_create_topics_enable;     /**< true */
        bool delete_topic_enable;           /**< true */
        int32_t message_max_bytes;          /**< 1048588 */
        int32_t socket_request_max_bytes;   /**< 104857600 */
        int32_t offsets_topic_num_partitions;      /**< 50 */
        int16_t offsets_topic_replication_factor;  /**< 3 in Kafka; clamped to cluster size */
        int64_t offsets_retention_minutes;         /**< 10080 */
        int32_t group_initial_rebalance_delay_ms;  /**< 3000 */
        int32_t group_min_session_timeout_ms;      /**< 6000 */
        int32_t group_max_session_timeout_ms;      /**< 1800000 */
        int32_t group_max_size;                    /**< INT32_MAX */
        int64_t log_retention_check_interval_ms;   /**< 300000 */
        int64_t log_cleaner_backoff_ms;            /**< 15000 */
        bool log_cleaner_enable;                   /**< true */
        int32_t num_network_threads;               /**< accepted, informational */
        int32_t num_io_threads;                    /**< accepted, informational */
        int64_t connections_max_idle_ms;           /**< 600000 */
        int32_t queued_max_requests;               /**< 500 */
        int64_t replica_lag_time_max_ms;           /**< 30000 */
        rill__log_conf_t log;                      /**< topic-level defaults from log.* keys */
        /** Every key/value as set (including unknown keys), in order, for
         *  DescribeConfigs on the broker resource and rill_broker_conf_get. */
        struct rill__kv {
                char *key;
                char *value;
        } *kv;
        int kv_cnt;
        int kv_cap;
};

typedef struct rill__kv rill__kv_t;

/** Parses "PLAINTEXT://host:port" (first entry of a comma list). */
rill_err_t rill__listener_parse(const char *s, rill__listener_t *out, char *errstr, size_t errstr_size);
void rill__listener_clear(rill__listener_t *l);

/* ---- topic-level configuration ---- */

/** Describes one topic-level config key (for DescribeConfigs / validation). */
typedef struct rill__topic_conf_key {
        const char *name;          /**< e.g. "retention.ms" */
        const char *server_key;    /**< the broker-level default's key, e.g. "log.retention.ms" */
} rill__topic_conf_key_t;

/** The table of supported topic-level keys and its length. */
const rill__topic_conf_key_t *rill__topic_conf_keys(int *count);

/**
 * Sets topic-level @p key to @p value in @p c.
 * @returns RILL_OK, RILL_ERR_NOT_FOUND (unknown key) or RILL_ERR_CONFIG
 *          (invalid value; message in errstr).
 */
rill_err_t rill__topic_conf_set(rill__log_conf_t *c, const char *key, const char *value,
                                char *errstr, size_t errstr_size);
/** Writes topic-level @p key's current value from @p c as a string. */
rill_err_t rill__topic_conf_get(const rill__log_conf_t *c, const char *key, char *buf, size_t size);

/* ---- introspection (added for DescribeConfigs) ---- */

/** Name of the @p i-th known server key (0-based), NULL past the end. Sets
 *  *ignored (when non-NULL) for keys that are accepted but have no effect. */
const char *rill__broker_conf_key_at(int i, bool *ignored);

/**
 * Effective value of server key @p key (known or set) as text in @p buf.
 * *is_null (optional) is set for keys without a value (e.g. an unset
 * advertised.listeners); *is_set (optional) tells whether the key was set
 * explicitly (server.properties or rill_broker_conf_set).
 * @returns RILL_OK or RILL_ERR_NOT_FOUND (unknown and never set).
 */
rill_err_t rill__broker_conf_value(const struct rill_broker_conf_s *c, const char *key, char *buf,
                                   size_t size, bool *is_null, bool *is_set);

/** The value @p key was explicitly set to, or NULL. */
const char *rill__broker_conf_kv_get(const struct rill_broker_conf_s *c, const char *key);

/** The topic-level key table entry for @p key, or NULL if not a topic key. */
const rill__topic_conf_key_t *rill__topic_conf_key_find(const char *key);

#endif /* RILL_BROKER_CONFIG_H */
