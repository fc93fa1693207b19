/*
 * rill/processor.h - the Processor API: user processors inside a topology.
 *
 * A processor is added with rill_stream_process() (topology.h). Each task
 * (sub-topology x partition) gets its own instance: init() runs on the task
 * thread when the task starts (after its stores are restored), process() for
 * every record, close() when the task stops. From the context a processor
 * forwards records to its children, reads and writes the stores it declared,
 * and schedules punctuators.
 *
 * Punctuation follows Kafka Streams:
 *  - RILL_PUNCTUATE_STREAM_TIME schedules are aligned to 0 and fire when the
 *    task's stream time (the largest record timestamp seen) reaches the
 *    scheduled time; they only advance with new records.
 *  - RILL_PUNCTUATE_WALL_CLOCK_TIME schedules first fire at now + interval.
 *  - After missed intervals a punctuator fires once, with the current time,
 *    and the next time is the next aligned multiple after it.
 *
 * Every function here must be called from the task thread that is running
 * the callback, with the context it received (a context is not thread-safe
 * and must not be kept after the task is closed).
 */
#ifndef RILL_PROCESSOR_H
#define RILL_PROCESSOR_H

#include <rill/common.h>
#include <rill/error.h>
#include <rill/record.h>
#include <rill/store.h>

RILL_BEGIN_DECLS

/** The per-task context of a processor (opaque, owned by the task). */
typedef struct rill_ctx_s rill_ctx_t;

typedef enum rill_punctuation_type {
        RILL_PUNCTUATE_STREAM_TIME = 0,
        RILL_PUNCTUATE_WALL_CLOCK_TIME = 1
} rill_punctuation_type_t;

/**
 * A processor's callbacks. init may be NULL (state stays NULL) and close may
 * be NULL; process is required.
 */
typedef struct rill_processor_ops {
        /**
         * Called once per task before the first record. @p opaque is the
         * pointer given to rill_stream_process() (shared by every task);
         * set *state to per-task state. Return non-RILL_OK (after
         * rill_ctx_fail()) to fail the task.
         */
        rill_err_t (*init)(rill_ctx_t *ctx, void *opaque, void **state);
        /** Called for every input record. */
        void (*process)(rill_ctx_t *ctx, const rill_record_t *record, void *state);
        /** Called when the task closes; frees @p state. */
        void (*close)(rill_ctx_t *ctx, void *state);
} rill_processor_ops_t;

/** A punctuator: @p timestamp is stream time or wall-clock time (ms). */
typedef void(rill_punctuator_fn)(rill_ctx_t *ctx, int64_t timestamp, void *opaque);

/**
 * @brief Forwards a record to every child of the processor.
 * @param timestamp the new record's timestamp; pass
 *        rill_record_timestamp() of the input to keep it.
 * The headers of the record being processed (none inside a punctuator) are
 * carried over. Key and value are consumed before the call returns.
 * @returns RILL_OK, or the first error a child latched on the task.
 */
RILL_API rill_err_t rill_ctx_forward(rill_ctx_t *ctx, rill_bytes_t key, rill_bytes_t value,
                                     int64_t timestamp);

/**
 * @brief As rill_ctx_forward(), to the child named @p child only (NULL: all
 *        children), with explicit @p headers (@p nheaders entries; NULL and 0
 *        carry over the current record's headers).
 * @returns RILL_OK, RILL_ERR_NOT_FOUND when no child has that name, or a
 *          child's error.
 */
RILL_API rill_err_t rill_ctx_forward_ex(rill_ctx_t *ctx, const char *child, rill_bytes_t key,
                                        rill_bytes_t value, int64_t timestamp,
                                        const rill_header_t *headers, size_t nheaders);

/**
 * @brief The store named @p name of this task, or NULL when the processor
 *        did not declare it. Borrowed: valid until the task closes.
 */
RILL_API rill_kv_store_t *rill_ctx_store(rill_ctx_t *ctx, const char *name);

/**
 * @brief Schedules @p fn every @p interval_ms (> 0) in @p type time.
 * @returns a positive schedule id (for rill_ctx_cancel()), or -1 when
 *          @p interval_ms is not positive.
 */
RILL_API int64_t rill_ctx_schedule(rill_ctx_t *ctx, int64_t interval_ms,
                                   rill_punctuation_type_t type, rill_punctuator_fn *fn,
                                   void *opaque);

/** @brief Cancels schedule @p id. @returns RILL_OK or RILL_ERR_NOT_FOUND. */
RILL_API rill_err_t rill_ctx_cancel(rill_ctx_t *ctx, int64_t id);

/** @brief The task's stream time (largest timestamp seen; INT64_MIN before any). */
RILL_API int64_t rill_ctx_stream_time(const rill_ctx_t *ctx);
/** @brief The wall-clock time in ms (the test driver's mocked clock under it). */
RILL_API int64_t rill_ctx_wall_clock(const rill_ctx_t *ctx);
/** @brief The task id, "<sub-topology>_<partition>" (e.g. "0_3"). */
RILL_API const char *rill_ctx_task_id(const rill_ctx_t *ctx);
/** @brief The partition number of the task. */
RILL_API int32_t rill_ctx_partition(const rill_ctx_t *ctx);
/** @brief The application id ("application.id"). */
RILL_API const char *rill_ctx_application_id(const rill_ctx_t *ctx);
/** @brief Asks for a commit as soon as possible (after the current record). */
RILL_API void rill_ctx_request_commit(rill_ctx_t *ctx);

/**
 * @brief Fails the task with @p msg: the record is not committed, and the
 *        application's uncaught-error policy decides what happens (replace
 *        the thread or shut down). In the test driver the call piping the
 *        record returns the error.
 */
RILL_API void rill_ctx_fail(rill_ctx_t *ctx, rill_err_t err, const char *msg);

RILL_END_DECLS

#endif /* RILL_PROCESSOR_H */
