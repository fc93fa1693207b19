/*
 * rill/testdriver.h - running a topology synchronously, without a broker.
 *
 * The test driver runs a topology in the calling thread through the same
 * operator, serde and store code as a rill_app_t. Topics may have several
 * partitions: a record piped without a partition is placed by key with
 * Kafka's default partitioner (murmur2), and each (sub-topology, partition)
 * is a task of its own with its own stores, exactly as in the runtime.
 * Records written to repartition topics are read back by the consuming
 * sub-topology before rill_test_driver_pipe() returns. Time is mocked: stream
 * time comes from the piped timestamps, wall-clock time only moves with
 * rill_test_driver_advance_wall_clock().
 *
 *     rill_test_driver_t *td = rill_test_driver_new(topo, NULL, err, sizeof(err));
 *     rill_test_driver_create_topic(td, "input", 4);
 *     rill_test_driver_pipe_str(td, "input", "k", "hello world", 1000);
 *     rill_record_t *r = rill_test_driver_read(td, "output");
 *     ...
 *     rill_record_destroy(r);
 *     rill_test_driver_destroy(td);
 *
 * A driver is not thread-safe: use it from one thread.
 */
#ifndef RILL_TESTDRIVER_H
#define RILL_TESTDRIVER_H

#include <rill/common.h>
#include <rill/conf.h>
#include <rill/error.h>
#include <rill/record.h>
#include <rill/store.h>
#include <rill/topology.h>

RILL_BEGIN_DECLS

typedef struct rill_test_driver_s rill_test_driver_t;

/**
 * @brief Creates a driver for @p topo.
 * @param conf borrowed, may be NULL. Used keys: "application.id" (default
 *        "test-driver"), "state.dir" (default: a fresh temporary directory,
 *        removed by rill_test_driver_destroy()),
 *        "default.deserialization.exception.handler", "default.dsl.store",
 *        "statestore.cache.max.bytes", and "commit.interval.ms": when set,
 *        record caches are flushed as the mocked wall clock passes each
 *        interval; otherwise after every piped record, like Kafka's
 *        TopologyTestDriver.
 * @returns a driver owned by the caller, or NULL with a message.
 *          @p topo must outlive the driver.
 */
RILL_API rill_test_driver_t *rill_test_driver_new(const rill_topology_t *topo,
                                                  const rill_conf_t *conf, char *errstr,
                                                  size_t errstr_size);

/** @brief Closes every task (processors' close, stores) and frees @p td. NULL is a no-op. */
RILL_API void rill_test_driver_destroy(rill_test_driver_t *td);

/**
 * @brief Declares @p topic with @p partitions partitions (topics not
 *        declared have one). Only before the first record is piped.
 * @returns RILL_OK, RILL_ERR_INVALID_ARG, or RILL_ERR_STATE after the first pipe.
 */
RILL_API rill_err_t rill_test_driver_create_topic(rill_test_driver_t *td, const char *topic,
                                                  int32_t partitions);

/**
 * @brief Pipes one record (wire form) into @p topic and processes it and
 *        everything it causes, synchronously.
 * @param partition the partition, or -1 to place it by key (murmur2; a null
 *        key goes to partition 0).
 * @returns RILL_OK; RILL_ERR_TOPOLOGY when co-partitioned topics have
 *          different partition counts (checked at the first pipe);
 *          RILL_ERR_SERDE when deserialization failed under the "fail"
 *          handler; or the error a processor or store raised. The message is
 *          available from rill_test_driver_last_error().
 */
RILL_API rill_err_t rill_test_driver_pipe(rill_test_driver_t *td, const char *topic,
                                          int32_t partition, rill_bytes_t key, rill_bytes_t value,
                                          int64_t timestamp);

/** @brief rill_test_driver_pipe() with headers (@p nheaders entries). */
RILL_API rill_err_t rill_test_driver_pipe_headers(rill_test_driver_t *td, const char *topic,
                                                  int32_t partition, rill_bytes_t key,
                                                  rill_bytes_t value, int64_t timestamp,
                                                  const rill_header_t *headers, size_t nheaders);

/** @brief Pipes a string key (NULL: null key) and string value (NULL: null), partition by key. */
RILL_API rill_err_t rill_test_driver_pipe_str(rill_test_driver_t *td, const char *topic,
                                              const char *key, const char *value,
                                              int64_t timestamp);

/**
 * @brief Moves the mocked wall clock forward by @p ms and runs the
 *        wall-clock punctuators that are due. @returns as rill_test_driver_pipe().
 */
RILL_API rill_err_t rill_test_driver_advance_wall_clock(rill_test_driver_t *td, int64_t ms);

/**
 * @brief Takes the oldest unread record written to @p topic (any partition,
 *        in production order).
 * @returns a record owned by the caller (rill_record_destroy()), whose key
 *          and value are in wire form and whose partition and offset are set;
 *          or NULL when there is none.
 */
RILL_API rill_record_t *rill_test_driver_read(rill_test_driver_t *td, const char *topic);

/** @brief The number of unread records in @p topic. */
RILL_API size_t rill_test_driver_queue_size(const rill_test_driver_t *td, const char *topic);

/**
 * @brief The instance of store @p store in partition @p partition's task
 *        (NULL when that task has no such store or has not run). Borrowed:
 *        valid until the driver is destroyed; use from the driver's thread.
 */
RILL_API rill_kv_store_t *rill_test_driver_store(rill_test_driver_t *td, const char *store,
                                                 int32_t partition);

/**
 * @brief Looks @p key up in store @p store across all partitions.
 * @returns RILL_OK with a copy in *value (free with rill_free()), or
 *          RILL_ERR_NOT_FOUND.
 */
RILL_API rill_err_t rill_test_driver_store_get(rill_test_driver_t *td, const char *store,
                                               rill_bytes_t key, void **value, size_t *value_len);

/** @brief The message of the last failed call (empty if none). Valid until the next call. */
RILL_API const char *rill_test_driver_last_error(const rill_test_driver_t *td);

/** @brief Records skipped by the deserialization handler so far. */
RILL_API uint64_t rill_test_driver_skipped(const rill_test_driver_t *td);

RILL_END_DECLS

#endif /* RILL_TESTDRIVER_H */
