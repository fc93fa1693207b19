/*
 * rill/streams.h - running a topology: the application instance.
 *
 * A rill_app_t runs a topology against a Kafka-protocol cluster (rilld,
 * Apache Kafka, Redpanda). Instances started with the same "application.id"
 * form one consumer group and share the partitions: a task (sub-topology x
 * partition) runs on exactly one instance. Each instance has one consumer
 * whose assignment is split into per-partition queues served by
 * "num.stream.threads" task threads, one producer, and per-task stores under
 * "state.dir". Co-partitioned input topics land on the same instance because
 * the group uses the "range" assignor, which gives the same partition numbers
 * of equally partitioned topics to the same member.
 *
 * Delivery is at-least-once: input offsets are committed only after the
 * output and changelog records they caused are acknowledged.
 *
 *     rill_app_t *app = rill_app_new(topo, conf, err, sizeof(err));
 *     rill_app_start(app, err, sizeof(err));
 *     ...
 *     rill_app_close(app, 30000);     // commit, flush, checkpoint
 *     rill_app_destroy(app);
 */
#ifndef RILL_STREAMS_H
#define RILL_STREAMS_H

#include <rill/common.h>
#include <rill/conf.h>
#include <rill/error.h>
#include <rill/topology.h>

RILL_BEGIN_DECLS

typedef struct rill_app_s rill_app_t;

/** Application states (Kafka Streams' KafkaStreams.State). */
typedef enum rill_app_state {
        RILL_APP_CREATED = 0,
        RILL_APP_REBALANCING = 1,   /**< Partitions are being (re)assigned or restored. */
        RILL_APP_RUNNING = 2,
        RILL_APP_PENDING_SHUTDOWN = 3,
        RILL_APP_NOT_RUNNING = 4,   /**< Closed cleanly. */
        RILL_APP_PENDING_ERROR = 5,
        RILL_APP_ERROR = 6          /**< Stopped after an error (see rill_app_last_error()). */
} rill_app_state_t;

/** @brief "CREATED", "RUNNING", ... Never NULL. Thread-safe. */
RILL_API const char *rill_app_state_name(rill_app_state_t s);

/** Called on every state change, from a Rill thread; must not block long
 *  nor call rill_app_close()/destroy. */
typedef void(rill_state_cb)(rill_app_t *app, rill_app_state_t new_state,
                            rill_app_state_t old_state, void *opaque);

/** What to do after a task thread failed (Kafka Streams' uncaught exception handler). */
typedef enum rill_error_action {
        RILL_REPLACE_THREAD = 0,     /**< Restart the thread's tasks from their last commit. */
        RILL_SHUTDOWN_CLIENT = 1     /**< Stop this instance (state ERROR). */
} rill_error_action_t;

/** Decides what to do after @p err in thread @p thread_index. */
typedef rill_error_action_t(rill_error_cb)(rill_app_t *app, int thread_index, rill_err_t err,
                                           const char *msg, void *opaque);

/**
 * @brief Creates an application instance for @p topo.
 *
 * Checks the configuration ("application.id" and "bootstrap.servers" are
 * required) and creates the Kafka clients, without contacting the cluster.
 * @returns an application owned by the caller, or NULL with a message in
 *          @p errstr. Takes ownership of @p conf on success only. @p topo is
 *          borrowed and must outlive the application.
 * Thread-safe.
 */
RILL_API rill_app_t *rill_app_new(const rill_topology_t *topo, rill_conf_t *conf, char *errstr,
                                  size_t errstr_size);

/** @brief Installs a state-change callback. Call before rill_app_start(). */
RILL_API void rill_app_set_state_cb(rill_app_t *app, rill_state_cb *cb, void *opaque);

/**
 * @brief Installs the uncaught-error handler. Without one, the policy is the
 *        configuration's "rill.uncaught.error.policy" (replace_thread or
 *        shutdown_client; default shutdown_client). Call before start.
 */
RILL_API void rill_app_set_error_cb(rill_app_t *app, rill_error_cb *cb, void *opaque);

/**
 * @brief Starts the instance: creates missing internal topics, checks the
 *        partition counts of co-partitioned topics, subscribes and starts
 *        the threads. Returns once the threads run (processing starts after
 *        the first assignment and restore).
 * @returns RILL_OK; RILL_ERR_STATE (already started); RILL_ERR_TOPOLOGY (a
 *          source topic is missing or co-partitioned topics differ);
 *          RILL_ERR_KAFKA (cluster unreachable within "rill.startup.timeout.ms").
 * Not thread-safe with close/destroy on the same app.
 */
RILL_API rill_err_t rill_app_start(rill_app_t *app, char *errstr, size_t errstr_size);

/**
 * @brief Stops the instance gracefully: finishes the current records,
 *        flushes the producer, commits offsets, checkpoints and closes the
 *        stores, and leaves the group. Waits at most @p timeout_ms (<0: no
 *        limit) for that.
 * @returns RILL_OK, or RILL_ERR_TIMEOUT when the flush did not finish in
 *          time (offsets of unacknowledged output are then not committed).
 * Safe from any thread except Rill's own callbacks; idempotent.
 */
RILL_API rill_err_t rill_app_close(rill_app_t *app, int timeout_ms);

/** @brief Closes (if needed) and frees @p app. NULL is a no-op. */
RILL_API void rill_app_destroy(rill_app_t *app);

/** @brief The current state. Thread-safe. */
RILL_API rill_app_state_t rill_app_state(const rill_app_t *app);

/**
 * @brief The last error that stopped a thread or the app (RILL_OK if none),
 *        its message copied into @p errstr. Thread-safe.
 */
RILL_API rill_err_t rill_app_last_error(rill_app_t *app, char *errstr, size_t errstr_size);

/**
 * @brief Interactive query: looks @p key up in the local instances of store
 *        @p store (every local partition).
 * @returns RILL_OK with a copy in *value (free with rill_free()),
 *          RILL_ERR_NOT_FOUND (absent, or the key's partition is on another
 *          instance or still restoring), or RILL_ERR_STORE.
 * Thread-safe.
 */
RILL_API rill_err_t rill_app_store_get(rill_app_t *app, const char *store, rill_bytes_t key,
                                       void **value, size_t *value_len);

/**
 * @brief Records processed so far by this instance (all tasks). Thread-safe.
 */
RILL_API uint64_t rill_app_records_processed(const rill_app_t *app);

/**
 * @brief The number of tasks currently assigned to this instance (restoring
 *        or running). Thread-safe.
 */
RILL_API int rill_app_task_count(rill_app_t *app);

/**
 * @brief Changelog records this instance has replayed into its stores while
 *        restoring tasks (not counting standby replicas) since it started.
 *        A task that restarts from a local checkpoint, or that had an
 *        up-to-date standby here, replays only what was written after it.
 *        Thread-safe.
 */
RILL_API uint64_t rill_app_records_restored(const rill_app_t *app);

/**
 * @brief The number of standby tasks this instance keeps
 *        ("num.standby.replicas" > 0): warm copies of the persistent stores of
 *        tasks that run on other instances. Thread-safe.
 */
RILL_API int rill_app_standby_task_count(rill_app_t *app);

RILL_END_DECLS

#endif /* RILL_STREAMS_H */
