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
 * its event-loop thread.
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

/** fsync()s the active segment and indexes. */
rill_err_t rill__log_flush(rill__log_t *log);
/** Periodic work for flush.ms: flushes if due. */
void rill__log_tick(rill__log_t *log, int64_t now_ms);

#endif /* RILL_BROKER_LOG_H */
