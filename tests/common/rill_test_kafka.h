/*
 * rill_test_kafka.h - librdkafka helpers for the integration and fault tests.
 *
 * The tests drive the broker with a real client (librdkafka) exactly as a user
 * would. These helpers keep that short and honest:
 *
 * - Records are kept in a growable rill_test_recs_t. A record produced with
 *   rill_test_produce() carries a pointer to its rill_test_rec_t as the
 *   message opaque; the delivery-report callback installed by
 *   rill_test_producer_new() fills in dr_done, dr_err, partition and offset.
 *   The array must therefore not grow (no rill_test_rec_add()) while records
 *   of it are in flight.
 * - Consumed records are copied into a rill_test_recs_t too (key, value,
 *   headers, timestamp, partition, offset), so assertions can compare what
 *   was produced with what came back.
 * - Every wait has a deadline; nothing sleeps as synchronisation.
 * - rilld processes spawned for a test are remembered and SIGKILLed at exit
 *   (atexit and fatal signals) if the test did not stop them, so a failing
 *   assertion never leaves a daemon behind.
 *
 * Threading: the helpers are meant for a single test thread; the pid registry
 * is the only process-wide state and is touched from the test thread only
 * (and read from the exit/signal handlers).
 */
#ifndef RILL_TEST_KAFKA_H
#define RILL_TEST_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

/** One record, produced or consumed. Keys and values are owned copies;
 *  NULL means a null key / null value (tombstone). */
typedef struct rill_test_rec {
        void *key;
        size_t key_len;
        void *value;
        size_t value_len;
        /** Produce: 0 lets the client stamp the time. Consumed: the record's. */
        int64_t timestamp;
        /** Produce: RD_KAFKA_PARTITION_UA (partitioner) or a fixed partition.
         *  After the delivery report / when consumed: the actual partition. */
        int32_t partition;
        /** After the delivery report / when consumed: the offset (-1 unknown). */
        int64_t offset;
        /** Owned headers (produce: sent with the record; consumed: a copy). */
        rd_kafka_headers_t *headers;
        /** Delivery report received, and its error. */
        bool dr_done;
        rd_kafka_resp_err_t dr_err;
        /** Free for the test's own bookkeeping (e.g. a sequence number). */
        int64_t user;
        /** Consumed: the timestamp's type (create or log-append time). */
        rd_kafka_timestamp_type_t tstype;
        /** From the delivery report: the record's timestamp and its type
         *  (the broker's append time for LogAppendTime topics). */
        int64_t dr_timestamp;
        rd_kafka_timestamp_type_t dr_tstype;
} rill_test_rec_t;

typedef struct rill_test_recs {
        rill_test_rec_t *v;
        int cnt;
        int cap;
        /** Consumer errors other than partition EOF seen while consuming. */
        int errors;
        char last_error[256];
} rill_test_recs_t;

/** Appends a record (copies @p key and @p value; NULL stays NULL) with
 *  partition RD_KAFKA_PARTITION_UA and returns it. The pointer is valid until
 *  the next add. */
rill_test_rec_t *rill_test_rec_add(rill_test_recs_t *recs, const void *key, size_t key_len,
                                   const void *value, size_t value_len);
/** rill_test_rec_add() with NUL-terminated strings (either may be NULL). */
rill_test_rec_t *rill_test_rec_add_str(rill_test_recs_t *recs, const char *key, const char *value);
/** Frees every record and resets @p recs to empty. */
void rill_test_recs_free(rill_test_recs_t *recs);

/**
 * Creates a producer for @p bootstrap with extra "key=value" settings from
 * the NULL-terminated @p kv (may be NULL). Installs the delivery-report
 * callback that fills rill_test_rec_t. Returns NULL (after printing why) on
 * failure.
 */
rd_kafka_t *rill_test_producer_new(const char *bootstrap, const char *const *kv);
/** Creates a consumer (no group.id unless given in @p kv; auto commit off,
 *  auto.offset.reset=earliest unless overridden). */
rd_kafka_t *rill_test_consumer_new(const char *bootstrap, const char *const *kv);
/** Destroys a client handle (consumer: closes it first). NULL is a no-op. */
void rill_test_client_destroy(rd_kafka_t *rk);

/**
 * Produces @p r to @p topic (its key, value, timestamp, partition and
 * headers; the headers are copied, @p r keeps its own), retrying while the
 * local queue is full. @returns the produce error (not the delivery result).
 */
rd_kafka_resp_err_t rill_test_produce(rd_kafka_t *p, const char *topic, rill_test_rec_t *r);
/**
 * Produces every record of @p recs with index in [from, to), then waits up to
 * @p timeout_ms for all their delivery reports. @returns the number of those
 * records whose delivery report arrived without error.
 */
int rill_test_produce_range(rd_kafka_t *p, const char *topic, rill_test_recs_t *recs, int from,
                            int to, int timeout_ms);
/** rill_test_produce_range() over all of @p recs. */
int rill_test_produce_all(rd_kafka_t *p, const char *topic, rill_test_recs_t *recs,
                          int timeout_ms);
/** Polls @p p until every record in @p recs has its delivery report or the
 *  deadline passes. @returns true if all arrived. */
bool rill_test_wait_delivered(rd_kafka_t *p, rill_test_recs_t *recs, int timeout_ms);

/** Assigns partitions [0, @p partition_cnt) of @p topic at @p offset (e.g.
 *  RD_KAFKA_OFFSET_BEGINNING). */
rd_kafka_resp_err_t rill_test_assign_all(rd_kafka_t *c, const char *topic, int partition_cnt,
                                         int64_t offset);

/**
 * Polls @p c, copying every consumed record into @p out, until @p out holds
 * at least @p want records or @p timeout_ms passes. Partition-EOF events are
 * ignored; other errors are counted in out->errors (and the last one kept in
 * out->last_error). @returns true if @p want was reached.
 */
bool rill_test_consume(rd_kafka_t *c, rill_test_recs_t *out, int want, int timeout_ms);

/**
 * Polls @p c (which must have enable.partition.eof=true) copying records into
 * @p out until a partition-EOF event has been seen for each of partitions
 * [0, @p partition_cnt) (after whatever records preceded it), or the
 * deadline. @returns true if every partition reached its end.
 */
bool rill_test_consume_to_eof(rd_kafka_t *c, rill_test_recs_t *out, int partition_cnt,
                              int timeout_ms);

/**
 * Like rill_test_consume_to_eof(), but also requires @p out to hold at least
 * @p want records: ends when both hold (each partition's latest event is its
 * EOF and enough records arrived) or at the deadline. Use it when records
 * may still be on their way to the broker (acks=0). @returns true if both
 * held in time.
 */
bool rill_test_consume_to_eof_n(rd_kafka_t *c, rill_test_recs_t *out, int partition_cnt, int want,
                                int timeout_ms);

/**
 * Reads all of @p topic (partitions [0, @p partition_cnt)) from the beginning
 * with a fresh consumer, up to each partition's end. @returns true on
 * success (every partition reached EOF before the deadline).
 */
bool rill_test_read_topic(const char *bootstrap, const char *topic, int partition_cnt,
                          rill_test_recs_t *out, int timeout_ms);

/**
 * Creates @p topic with @p partitions partitions and replication factor 1
 * through the Admin API, with topic configs from the NULL-terminated
 * "key=value" list @p configs, and waits until its metadata lists every
 * partition with a leader. @returns the topic's error (printed on failure).
 */
rd_kafka_resp_err_t rill_test_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                                           const char *const *configs, int timeout_ms);

/** Waits until metadata of @p topic shows @p partitions partitions, each with
 *  a leader. @returns true on success. */
bool rill_test_wait_topic(rd_kafka_t *rk, const char *topic, int partitions, int timeout_ms);

/** rd_kafka_query_watermark_offsets() with a 10 s timeout; prints errors. */
rd_kafka_resp_err_t rill_test_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
                                         int64_t *low, int64_t *high);

/** The partition librdkafka's default partitioner (consistent_random) picks
 *  for a non-null key: CRC-32 of the key modulo @p partition_cnt. */
int32_t rill_test_key_partition(const void *key, size_t key_len, int32_t partition_cnt);

/** Finds header @p name in @p r (last occurrence); returns true and sets
 *  *value / *size (value NULL for a null header value). */
bool rill_test_rec_header(const rill_test_rec_t *r, const char *name, const void **value,
                          size_t *size);

/** True if @p a and @p b have the same key and value (bytes and nullness). */
bool rill_test_rec_same_kv(const rill_test_rec_t *a, const rill_test_rec_t *b);
/** The record of @p recs at (@p partition, @p offset), or NULL. */
const rill_test_rec_t *rill_test_rec_find(const rill_test_recs_t *recs, int32_t partition,
                                          int64_t offset);
/** A printable, truncated rendering of @p r's key and value (static buffer
 *  of the caller: @p buf of @p size bytes) for failure messages. */
const char *rill_test_rec_str(const rill_test_rec_t *r, char *buf, size_t size);

/* ---- rilld processes ---- */

/**
 * Spawns RILL_BIN_DIR/rilld with config/server.properties, log.dirs = @p dir,
 * listening on 127.0.0.1:@p port (a fixed port, so that a restart keeps the
 * address), the same test defaults as rill_test_rilld_spawn() and the extra
 * "key=value" @p overrides. The daemon's stderr goes to @p log_path (appended;
 * NULL keeps the test's stderr). It is killed if the test process dies first
 * (PR_SET_PDEATHSIG) and registered for SIGKILL at exit. Waits up to 30 s for
 * the port to accept connections. @returns the pid, or -1.
 */
pid_t rill_test_rilld_spawn_at(const char *dir, int port, const char *const *overrides,
                               const char *log_path);

/** Registers @p pid to be SIGKILLed at exit (or on a fatal signal). */
void rill_test_pid_track(pid_t pid);
/** Removes @p pid from the registry (after the test stopped it). */
void rill_test_pid_untrack(pid_t pid);
/** rill_test_rilld_stop() plus rill_test_pid_untrack(). */
int rill_test_rilld_stop_tracked(pid_t pid, int sig);

/** SIGKILLs and reaps every tracked pid now. */
void rill_test_pid_kill_all(void);

/** Remembers @p path (taking ownership of the malloc'd string) to be removed
 *  by rill_test_cleanup_all() - so that a test that stops at a fatal
 *  assertion still leaves no temp directory behind. */
void rill_test_defer_rmdir(char *path);
/** Kills every tracked rilld and removes every deferred directory. Call it
 *  from a suite's cleanup function; it also runs at exit. */
void rill_test_cleanup_all(void);

/** Reads the whole file at @p path into a malloc'd NUL-terminated string
 *  (NULL if it cannot be read). */
char *rill_test_read_file(const char *path);

#endif /* RILL_TEST_KAFKA_H */
