/*
 * batch.h - RecordBatch v2 (magic 2): validation, iteration, building (internal).
 *
 * Layout (61-byte header, big-endian):
 *   0 BaseOffset i64 | 8 Length i32 | 12 PartitionLeaderEpoch i32 | 16 Magic i8
 *   17 CRC u32 | 21 Attributes i16 | 23 LastOffsetDelta i32 | 27 BaseTimestamp i64
 *   35 MaxTimestamp i64 | 43 ProducerId i64 | 51 ProducerEpoch i16
 *   53 BaseSequence i32 | 57 RecordsCount i32 | 61 Records...
 * The CRC-32C covers bytes 21..end. BaseOffset and PartitionLeaderEpoch are
 * outside it, so the broker stores batches as received and patches only those.
 *
 * Not thread-safe per object; the functions themselves have no shared state.
 */
#ifndef RILL_BROKER_BATCH_H
#define RILL_BROKER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rill/error.h>

#include "codec.h"

#define RILL__BATCH_HDR_SIZE 61
#define RILL__BATCH_OFF_BASE_OFFSET 0
#define RILL__BATCH_OFF_LENGTH 8
#define RILL__BATCH_OFF_LEADER_EPOCH 12
#define RILL__BATCH_OFF_MAGIC 16
#define RILL__BATCH_OFF_CRC 17
#define RILL__BATCH_OFF_ATTRS 21
#define RILL__BATCH_OFF_LAST_DELTA 23
#define RILL__BATCH_OFF_BASE_TS 27
#define RILL__BATCH_OFF_MAX_TS 35
#define RILL__BATCH_OFF_PID 43
#define RILL__BATCH_OFF_PEPOCH 51
#define RILL__BATCH_OFF_BASE_SEQ 53
#define RILL__BATCH_OFF_COUNT 57

#define RILL__BATCH_ATTR_COMPRESSION_MASK 0x07
#define RILL__BATCH_ATTR_LOG_APPEND_TIME 0x08
#define RILL__BATCH_ATTR_TRANSACTIONAL 0x10
#define RILL__BATCH_ATTR_CONTROL 0x20
#define RILL__BATCH_ATTR_DELETE_HORIZON 0x40

/** Upper bound on the decompressed records of one batch: a larger
 *  (possibly malicious) batch makes rill__record_iter_init() fail with
 *  RILL_ERR_TOO_LARGE instead of exhausting memory. */
#define RILL__BATCH_MAX_DECOMPRESSED ((size_t)64 << 20)

enum { RILL__COMP_NONE = 0, RILL__COMP_GZIP = 1, RILL__COMP_SNAPPY = 2,
       RILL__COMP_LZ4 = 3, RILL__COMP_ZSTD = 4 };

/** Decoded batch header (a view; no ownership). */
typedef struct rill__batch_hdr {
        int64_t base_offset;
        int32_t length;          /**< bytes after the Length field */
        int32_t leader_epoch;
        int8_t magic;
        uint32_t crc;
        int16_t attributes;
        int32_t last_offset_delta;
        int64_t base_timestamp;
        int64_t max_timestamp;
        int64_t producer_id;
        int16_t producer_epoch;
        int32_t base_sequence;
        int32_t records_count;
} rill__batch_hdr_t;

/** CRC-32C (Castagnoli) of @p len bytes, continuing from @p crc (start with 0). */
uint32_t rill__crc32c(uint32_t crc, const void *data, size_t len);

/** The portable (table-driven) CRC-32C, same contract as rill__crc32c();
 *  exposed so that tests cover it on CPUs where the SSE4.2 path is used. */
uint32_t rill__crc32c_sw(uint32_t crc, const void *data, size_t len);

/** Decodes the header at @p p (at least RILL__BATCH_HDR_SIZE bytes). */
void rill__batch_hdr_parse(const uint8_t *p, rill__batch_hdr_t *h);

/** Total size of the batch at @p p: 12 + Length. */
static inline size_t rill__batch_size(const uint8_t *p) {
        return 12 + (size_t)(int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH);
}

/**
 * Validates one batch at @p p with @p avail bytes available: size fits,
 * Length >= 49, magic == 2, CRC-32C matches, LastOffsetDelta >= 0,
 * RecordsCount >= 0. Does not decompress.
 * @returns RILL_OK, RILL_ERR_CORRUPT (bad CRC/fields) or RILL_ERR_PROTOCOL
 *          (truncated / wrong magic); writes a reason into errstr.
 */
rill_err_t rill__batch_validate(const uint8_t *p, size_t avail, char *errstr, size_t errstr_size);

/** One decoded record (views into the batch or its decompressed buffer). */
typedef struct rill__record {
        int64_t offset;      /**< base_offset + offset delta */
        int64_t timestamp;   /**< base_timestamp + delta (or MaxTimestamp for LogAppendTime) */
        int8_t attributes;
        const uint8_t *key;
        int32_t key_len;     /**< -1 = null key */
        const uint8_t *value;
        int32_t value_len;   /**< -1 = null value (tombstone) */
        int32_t header_count;
        const uint8_t *headers;  /**< raw encoded headers section */
        size_t headers_len;
} rill__record_t;

/** Iterator over the records of one batch; decompresses when needed. */
typedef struct rill__record_iter {
        rill__batch_hdr_t hdr;
        const uint8_t *p, *end;
        uint8_t *decomp;       /**< owned decompressed buffer, if any */
        int32_t remaining;
        int err;               /**< non-zero after a decode error */
} rill__record_iter_t;

/** Starts iterating the (validated) batch at @p batch of @p size bytes.
 *  @returns RILL_OK, RILL_ERR_CORRUPT, RILL_ERR_UNSUPPORTED (unknown codec) or
 *  RILL_ERR_TOO_LARGE (decompressed size above RILL__BATCH_MAX_DECOMPRESSED). */
rill_err_t rill__record_iter_init(rill__record_iter_t *it, const uint8_t *batch, size_t size);
/** @returns 1 and fills @p rec, 0 at the end, -1 on a decode error. */
int rill__record_iter_next(rill__record_iter_t *it, rill__record_t *rec);
void rill__record_iter_destroy(rill__record_iter_t *it);

/** Builds an uncompressed RecordBatch v2 (used for internal topics, tests, compaction). */
typedef struct rill__batch_builder {
        rill__wbuf_t buf;
        int64_t base_offset;
        int64_t base_timestamp;
        int64_t max_timestamp;
        int32_t count;
        int64_t last_offset_delta;
        int16_t attributes;
        int64_t producer_id;
        int16_t producer_epoch;
        int32_t base_sequence;
} rill__batch_builder_t;

void rill__batch_builder_init(rill__batch_builder_t *b, int64_t base_offset, int64_t base_timestamp);
/** Appends a record; offset_delta is the record's offset minus base_offset
 *  (pass b->count for consecutive offsets). key/value NULL => null. */
void rill__batch_builder_add(rill__batch_builder_t *b, int64_t offset_delta, int64_t timestamp,
                             const void *key, int32_t key_len,
                             const void *value, int32_t value_len,
                             const uint8_t *headers, size_t headers_len, int32_t header_count);
/** Finalises header and CRC. The bytes are in b->buf.buf[0..b->buf.len). */
void rill__batch_builder_finish(rill__batch_builder_t *b);
void rill__batch_builder_destroy(rill__batch_builder_t *b);

#endif /* RILL_BROKER_BATCH_H */
