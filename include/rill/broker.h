/*
 * rill/broker.h - the embeddable Kafka-protocol broker.
 *
 * A rill_broker_t is one broker node: a network event-loop thread that speaks
 * the Kafka wire protocol on a loopback or network listener, with its logs
 * under log.dirs. There is no global state: a process may run several brokers
 * (each on its own port and data directory). `rilld` is a thin main around
 * this API; tests and users' own integration tests start brokers in-process:
 *
 *     char err[256];
 *     rill_broker_conf_t *conf = rill_broker_conf_new();
 *     rill_broker_conf_set(conf, "listeners", "PLAINTEXT://127.0.0.1:0", err, sizeof(err));
 *     rill_broker_conf_set(conf, "log.dirs", "/tmp/mytest-logs", err, sizeof(err));
 *     rill_broker_t *b = rill_broker_new(conf, err, sizeof(err));   // takes conf
 *     if (!b || rill_broker_start(b, err, sizeof(err)) != RILL_OK) ...
 *     printf("bootstrap.servers=%s\n", rill_broker_bootstrap(b));
 *     ...
 *     rill_broker_destroy(b);   // stops it cleanly
 *
 * A listener port of 0 binds a free port; rill_broker_port() tells which.
 */
#ifndef RILL_BROKER_H
#define RILL_BROKER_H

#include <rill/common.h>
#include <rill/error.h>

RILL_BEGIN_DECLS

typedef struct rill_broker_conf_s rill_broker_conf_t;
typedef struct rill_broker_s rill_broker_t;

/**
 * @brief Creates a broker configuration holding Kafka's defaults.
 * @returns a new object owned by the caller (free with
 *          rill_broker_conf_destroy() unless handed to rill_broker_new()).
 *          Never NULL. Thread-safe (no shared state).
 */
RILL_API rill_broker_conf_t *rill_broker_conf_new(void);

/**
 * @brief Sets one server.properties key (Kafka's names, e.g. "log.dirs",
 *        "listeners", "num.partitions", "log.retention.hours").
 *
 * Unknown keys are accepted with a warning in the log (as Kafka does), so a
 * Kafka server.properties works unchanged.
 * @returns RILL_OK, or RILL_ERR_CONFIG with a message naming the key when the
 *          value is invalid. The configuration is unchanged on error.
 * Not thread-safe for the same @p conf.
 */
RILL_API rill_err_t rill_broker_conf_set(rill_broker_conf_t *conf, const char *key,
                                         const char *value, char *errstr, size_t errstr_size);

/**
 * @brief Loads a server.properties file (key=value lines, '#' and '!'
 *        comments, backslash line continuation) into @p conf.
 * @returns RILL_OK, RILL_ERR_IO if the file cannot be read, or RILL_ERR_CONFIG
 *          naming the file, line and key of the first invalid value.
 * Not thread-safe for the same @p conf.
 */
RILL_API rill_err_t rill_broker_conf_load_file(rill_broker_conf_t *conf, const char *path,
                                               char *errstr, size_t errstr_size);

/**
 * @brief Reads back a setting as a string into @p buf (the effective value,
 *        including defaults). @returns RILL_OK or RILL_ERR_NOT_FOUND.
 */
RILL_API rill_err_t rill_broker_conf_get(const rill_broker_conf_t *conf, const char *key,
                                         char *buf, size_t buf_size);

/** @brief Returns a deep copy of @p conf (owned by the caller). */
RILL_API rill_broker_conf_t *rill_broker_conf_dup(const rill_broker_conf_t *conf);

/** @brief Frees @p conf. NULL is a no-op. */
RILL_API void rill_broker_conf_destroy(rill_broker_conf_t *conf);

/**
 * @brief Creates a broker from @p conf without starting it.
 *
 * Checks the configuration as a whole (listeners parse, log.dirs set, ...).
 * @returns a broker owned by the caller, or NULL with a message in @p errstr.
 *          Takes ownership of @p conf on success only; on failure the caller
 *          still owns @p conf.
 */
RILL_API rill_broker_t *rill_broker_new(rill_broker_conf_t *conf, char *errstr,
                                        size_t errstr_size);

/**
 * @brief Opens and recovers the logs, binds the listener and starts the
 *        event-loop thread. Returns once the broker accepts connections.
 * @returns RILL_OK; RILL_ERR_IO (bind failed, data directory unusable),
 *          RILL_ERR_STATE (already running), RILL_ERR_CORRUPT.
 * Thread-safe with respect to the broker's own thread; do not call
 * start/stop/destroy concurrently on the same broker.
 */
RILL_API rill_err_t rill_broker_start(rill_broker_t *b, char *errstr, size_t errstr_size);

/**
 * @brief Stops the broker cleanly: stops accepting, closes connections,
 *        flushes every log and writes clean-shutdown markers. The broker can
 *        be started again (same data, same port if it was fixed or already
 *        chosen). @returns RILL_OK or RILL_ERR_STATE if not running.
 */
RILL_API rill_err_t rill_broker_stop(rill_broker_t *b);

/**
 * @brief Stops the broker as if the process had crashed: connections are cut
 *        and logs are closed without flushing or clean-shutdown markers, so
 *        the next start runs crash recovery. For fault-injection tests.
 *        (Data already written to the OS page cache is not lost, just as
 *        with kill -9; only power loss loses unflushed data.)
 */
RILL_API rill_err_t rill_broker_kill(rill_broker_t *b);

/** @brief rill_broker_stop() (if running) then rill_broker_start(). */
RILL_API rill_err_t rill_broker_restart(rill_broker_t *b, char *errstr, size_t errstr_size);

/** @brief The TCP port the broker's listener is bound to (0 if never started). Thread-safe. */
RILL_API int rill_broker_port(const rill_broker_t *b);

/**
 * @brief "host:port" suitable for bootstrap.servers (the advertised listener).
 *        The string is owned by the broker and valid until it is destroyed or
 *        restarted on another port. Thread-safe.
 */
RILL_API const char *rill_broker_bootstrap(const rill_broker_t *b);

/** @brief The broker's node.id. Thread-safe. */
RILL_API int32_t rill_broker_node_id(const rill_broker_t *b);

/** @brief Stops (if running) and frees the broker. NULL is a no-op. */
RILL_API void rill_broker_destroy(rill_broker_t *b);

RILL_END_DECLS

#endif /* RILL_BROKER_H */
