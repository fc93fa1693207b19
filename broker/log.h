/*
 * log.h - a partition's on-disk log (internal).
 *
 * One rill__log_t is one partition directory (e.g. <log.dir>/orders-3/) holding
 * Kafka-layout segments: <20-digit base offset>.log with sparse .index
 * (relative offset i32 + position i32, one entry per index.interval.bytes) and
 * .timeindex (timestamp i64 + relative offset i32). Batches are appended as
 * received (RecordBatch v2, validated, BaseOffset and PartitionLeaderEpoch
 * patched). A clean shutdown writes a marker file; without it, open() scans
 * the segments after the recovery point, truncates a torn or corrupt tail and
 * rebuilds indexes, logging what it did.
 *
 * Threading: a log is not thread-safe; each broker touches its logs only from
 * its event-loop thread. Two kinds of background work may run elsewhere, on
 * objects that log.c hands out and that stay valid when the log goes away:
 * sync tasks (rill__log_sync_t: the fsync of a rolled segment, of the
 * directory, checkpoint writes; see rill__log_set_syncer) and compaction jobs
 * (rill__compact_job_t: plan on the log's thread, build anywhere, commit on
 * the log's thread). log.c's header comment describes the protocol.
 */
#ifndef RILL_BROKER_LOG_H
#define RILL_BROKER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rill/error.h>

#include "codec.h"

#define RILL__CLEANUP_DELETE 0x1
#define RILL__CLEANUP_COMPACT 0x2

/** Per-log settings (Kafka topic-level config; defaults from server config). */
typedef struct rill__log_conf {
        int64_t segment_bytes;          /**< segment.bytes (1073741824) */
        int64_t segment_ms;             /**< segment.ms (604800000) */
        int64_t retention_ms;           /**< retention.ms (604800000; -1 = forever) */
        int64_t retention_bytes;        /**< retention.bytes (-1 = unlimited) */
        int cleanup_policy;             /**< RILL__CLEANUP_* bits (delete) */
        int64_t delete_retention_ms;    /**< delete.retention.ms (86400000) */
        int64_t min_compaction_lag_ms;  /**< min.compaction.lag.ms (0) */
        int64_t max_compaction_lag_ms;  /**< max.compaction.lag.ms (INT64_MAX) */
        double min_cleanable_dirty_ratio; /**< min.cleanable.dirty.ratio (0.5) */
        int64_t flush_messages;         /**< flush.messages (INT64_MAX = never by count) */
        int64_t flush_ms;               /**< flush.ms (INT64_MAX = never by time) */
        int32_t index_interval_bytes;   /**< index.interval.bytes (4096) */
        int32_t max_message_bytes;      /**< max.message.bytes (1048588) */
        bool log_append_time;           /**< message.timestamp.type=LogAppendTime */
        int32_t segment_index_bytes;    /**< segment.index.bytes (10485760) */
        /* Added by config.c (topic keys that are not storage settings but
         * belong to a topic's config): */
        int32_t min_insync_replicas;    /**< min.insync.replicas (1; from the server key) */
        int32_t compression_type;       /**< compression.type: RILL__COMPRESSION_* (producer) */
        bool unclean_leader_election_enable; /**< accepted, no effect (false) */
} rill__log_conf_t;

/** compression.type values: "producer" keeps the producer's codec; the others
 *  are the RecordBatch attribute codec numbers. Stored and reported; the
 *  broker currently always keeps the producer's compression. */
#define RILL__COMPRESSION_PRODUCER (-1)
#define RILL__COMPRESSION_NONE 0
#define RILL__COMPRESSION_GZIP 1
#define RILL__COMPRESSION_SNAPPY 2
#define RILL__COMPRESSION_LZ4 3
#define RILL__COMPRESSION_ZSTD 4

/** Fills @p c with Kafka's topic-level defaults. */
void rill__log_conf_defaults(rill__log_conf_t *c);

typedef struct rill__log rill__log_t;

/**
 * Opens (creating if needed) the log in directory @p dir and recovers it.
 * @p conf is copied. @returns RILL_OK, RILL_ERR_IO or RILL_ERR_CORRUPT (only
 * when recovery cannot make the log consistent).
 */
rill_err_t rill__log_open(const char *dir, const rill__log_conf_t *conf, rill__log_t **out,
                          char *errstr, size_t errstr_size);
/** Flushes, writes the clean-shutdown marker and frees the log. NULL is a no-op. */
void rill__log_close(rill__log_t *log);
/** Frees the log as a crash would leave it: closes its files without
 *  flushing and without writing the clean-shutdown marker, so the next open
 *  runs crash recovery (rill_broker_kill). NULL is a no-op. */
void rill__log_abandon(rill__log_t *log);
/** Closes the log and removes its directory (topic deletion). */
rill_err_t rill__log_delete(rill__log_t *log);
/** Replaces the log's settings (AlterConfigs). */
void rill__log_set_conf(rill__log_t *log, const rill__log_conf_t *conf);
const rill__log_conf_t *rill__log_conf(const rill__log_t *log);
const char *rill__log_dir(const rill__log_t *log);

int64_t rill__log_start_offset(const rill__log_t *log);  /**< first readable offset */
int64_t rill__log_end_offset(const rill__log_t *log);    /**< next offset to assign (LEO) */
/** Largest timestamp in the log and its offset (-1/-1 if empty). */
void rill__log_max_timestamp(const rill__log_t *log, int64_t *ts, int64_t *offset);
int64_t rill__log_size_bytes(const rill__log_t *log);

/**
 * Appends the record batches in @p data (one or more concatenated v2 batches,
 * as found in a Produce request). Validates every batch first (nothing is
 * written unless all are valid), assigns offsets by patching BaseOffset,
 * stamps PartitionLeaderEpoch = @p leader_epoch, and, for LogAppendTime logs,
 * sets MaxTimestamp = now and recomputes the CRC. @p data is modified in place.
 * Rolls segments by size/time and fsyncs per flush.messages / flush.ms.
 * Batches larger than max.message.bytes are refused.
 * @param first_offset out: offset assigned to the first record.
 * @param append_time  out: LogAppendTime used (-1 for CreateTime logs).
 * @returns RILL_OK, RILL_ERR_CORRUPT (CRC), RILL_ERR_PROTOCOL (malformed),
 *          RILL_ERR_TOO_LARGE, RILL_ERR_IO / RILL_ERR_NO_SPACE (write failed;
 *          the log is truncated back to its previous end).
 */
rill_err_t rill__log_append(rill__log_t *log, uint8_t *data, size_t len, int32_t leader_epoch,
                            int64_t *first_offset, int64_t *append_time,
                            char *errstr, size_t errstr_size);

/**
 * Reads whole batches starting at the batch that contains @p offset, up to
 * @p max_bytes (but always at least one whole batch if any exists below
 * @p max_offset, as Kafka does since KIP-74), appending the raw bytes to
 * @p out. Batches at or beyond @p max_offset (the high watermark) are not
 * returned. @returns RILL_OK (possibly 0 bytes at the end of the log),
 * RILL_ERR_OFFSET_OUT_OF_RANGE if offset < start or > end, RILL_ERR_IO.
 */
rill_err_t rill__log_read(rill__log_t *log, int64_t offset, int64_t max_offset, int32_t max_bytes,
                          rill__wbuf_t *out);

/** First offset whose batch MaxTimestamp >= @p ts (ListOffsets by time);
 *  sets *offset = -1 if none. Also sets *found_ts to that batch's timestamp. */
rill_err_t rill__log_offset_for_time(rill__log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts);

/** Advances the log start offset to @p offset (DeleteRecords); deletes whole
 *  segments below it. RILL_ERR_OFFSET_OUT_OF_RANGE if offset > end. */
rill_err_t rill__log_delete_records(rill__log_t *log, int64_t offset);

/** Truncates the log so that its end offset is @p offset (replication). */
rill_err_t rill__log_truncate(rill__log_t *log, int64_t offset);

/** Time- and size-based retention: deletes whole closed segments. Also rolls
 *  the active segment if segment.ms has elapsed. Returns the number deleted. */
int rill__log_retention(rill__log_t *log, int64_t now_ms);

/** Compacts closed segments when cleanup.policy has compact and the dirty
 *  ratio warrants it: keeps the last record per key, drops tombstones older
 *  than delete.retention.ms. Returns RILL_OK or RILL_DECLINED (nothing to do). */
rill_err_t rill__log_compact(rill__log_t *log, int64_t now_ms);

/* ---- background work (additions: cleaner and flusher threads) ---- */

/**
 * A unit of deferred durability work for one log: the fsync of a segment that
 * was rolled (then the recovery-point checkpoint), of the log's directory, or
 * the write of the compaction checkpoint. Created by log.c on the log's
 * thread and handed to the syncer; it owns its file descriptors and a
 * reference to state shared with the log, so it stays valid (and harmless)
 * after the log is closed or deleted.
 */
typedef struct rill__log_sync rill__log_sync_t;

/** Receives a sync task; must eventually call rill__log_sync_run() or
 *  rill__log_sync_drop() on it exactly once (tasks of one log in the order
 *  they were handed over). Called on the log's thread; must not block. */
typedef void(rill__log_syncer_fn)(void *opaque, rill__log_sync_t *task);

/**
 * Sets (or, with @p fn NULL, removes) the syncer of @p log. Without one, all
 * fsyncs run synchronously on the caller's thread. With one, a log with the
 * default flush policy (flush.messages and flush.ms unset) hands the fsync of
 * a rolled segment, the directory fsyncs after segment creation, retention and
 * compaction, and the compaction checkpoint to it; a log with a flush policy
 * keeps its roll synchronous, so flush.messages=1 still means "fsynced before
 * acknowledged". Closing the log cleanly fsyncs whatever the syncer has not
 * confirmed yet before writing the clean-shutdown marker.
 */
void rill__log_set_syncer(rill__log_t *log, rill__log_syncer_fn *fn, void *opaque);
/** Runs @p task (fsyncs, checkpoint writes; nothing when its log has been
 *  closed or deleted meanwhile, except closing descriptors) and frees it.
 *  Any thread; tasks of one log must run in order, one at a time. */
void rill__log_sync_run(rill__log_sync_t *task);
/** Frees @p task without doing its work (a simulated crash). Any thread. */
void rill__log_sync_drop(rill__log_sync_t *task);

/**
 * A compaction pass split in three steps so that the expensive middle one
 * can run on another thread:
 *   1. rill__log_compact_plan() - log's thread: decides whether compaction is
 *      due (same rules as rill__log_compact) and captures the closed segments
 *      to work on;
 *   2. rill__compact_job_build() - any thread, touches only the job: reads
 *      those segments through its own descriptors and writes the compacted
 *      <base>.log.cleaned files and their indexes, fsynced;
 *   3. rill__log_compact_commit() - log's thread: swaps the results in, or
 *      discards them (removing the .cleaned files) when the log changed in a
 *      way that makes them invalid (truncation, config no longer compact,
 *      failed or cancelled build). Segments deleted meanwhile from the front
 *      of the log (retention, DeleteRecords) just have their result dropped.
 * One job at a time per log: plan declines while one is outstanding.
 */
typedef struct rill__compact_job rill__compact_job_t;

/** Step 1. @returns RILL_OK and a job in *out, RILL_DECLINED (nothing to do,
 *  or a job of this log is outstanding) or RILL_ERR_IO. */
rill_err_t rill__log_compact_plan(rill__log_t *log, int64_t now_ms, rill__compact_job_t **out);
/**
 * Step 2. @p go_on (may be NULL) is called between batches; when it returns
 * false the build stops with RILL_ERR_SHUTDOWN. The build also stops when
 * the job's log is closed or deleted. Any thread; one thread per job.
 * @returns RILL_OK, RILL_ERR_SHUTDOWN, RILL_ERR_IO / RILL_ERR_NO_SPACE.
 */
rill_err_t rill__compact_job_build(rill__compact_job_t *job, bool (*go_on)(void *opaque),
                                   void *opaque);
/** The log a job belongs to, or NULL when that log has been closed or
 *  deleted since the plan. Log's thread only. */
rill__log_t *rill__compact_job_log(const rill__compact_job_t *job);
/** Step 3: swaps the job's results into @p log (the job's log) or discards
 *  them, and frees the job. @returns RILL_OK (committed), RILL_DECLINED
 *  (discarded because the log changed) or the build's error. */
rill_err_t rill__log_compact_commit(rill__log_t *log, rill__compact_job_t *job);
/** Frees a job without committing it, removing its .cleaned files (unless
 *  its log is closed or deleted: the next open removes leftovers). Any
 *  thread, but not while the job is being built. NULL is a no-op. */
void rill__compact_job_free(rill__compact_job_t *job);

/** fsync()s the active segment and indexes. */
rill_err_t rill__log_flush(rill__log_t *log);
/** Periodic work for flush.ms: flushes if due. */
void rill__log_tick(rill__log_t *log, int64_t now_ms);

#endif /* RILL_BROKER_LOG_H */
