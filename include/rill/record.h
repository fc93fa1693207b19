/*
 * rill/record.h - records, byte views and the output handle of callbacks.
 *
 * Data model. Keys and values travel through a topology in the in-memory form
 * that their serde produces (see serde.h). For every built-in serde that form
 * is the wire form itself: a string is its UTF-8 bytes (not NUL-terminated),
 * an int64 is 8 big-endian bytes, a JSON value is its text. So a pass-through
 * topology never converts or copies a record. rill_bytes_t is a borrowed view
 * of such bytes; a NULL data pointer means "null" (no key, or a tombstone
 * value), which is different from an empty byte string.
 *
 * Lifetimes. A callback receives borrowed records and views that are valid
 * only for the duration of the call. Output is written through a rill_out_t:
 * rill_out_*() forwards the record downstream at once (depth-first, like
 * Kafka Streams' forward), so the bytes passed to it only need to live until
 * it returns — a stack buffer is fine.
 *
 * Thread-safety. Records and outputs belong to the task thread that is
 * running the callback; never keep them or pass them to another thread.
 */
#ifndef RILL_RECORD_H
#define RILL_RECORD_H

#include <stdbool.h>

#include <rill/common.h>
#include <rill/error.h>

RILL_BEGIN_DECLS

/** A borrowed view of bytes. data == NULL means null; len is then 0. */
typedef struct rill_bytes {
        const void *data;
        size_t len;
} rill_bytes_t;

/** One record header (name is NUL-terminated; value may be NULL). */
typedef struct rill_header {
        const char *name;
        const void *value;
        size_t len;
} rill_header_t;

/** A record: key, value, timestamp, headers and its origin (opaque). */
typedef struct rill_record_s rill_record_t;

/** Where callbacks write their results (opaque; see rill_out_*()). */
typedef struct rill_out_s rill_out_t;

/** @brief A view of @p len bytes at @p data (no copy). */
static inline rill_bytes_t
rill_bytes(const void *data, size_t len)
{
        rill_bytes_t b = {data, data ? len : 0};
        return b;
}

/** @brief The key of @p r (data NULL when the record has no key). */
RILL_API rill_bytes_t rill_record_key(const rill_record_t *r);
/** @brief The value of @p r (data NULL for a tombstone). */
RILL_API rill_bytes_t rill_record_value(const rill_record_t *r);
/** @brief The event timestamp of @p r in milliseconds since the epoch. */
RILL_API int64_t rill_record_timestamp(const rill_record_t *r);
/**
 * @brief The topic @p r was read from, or NULL when the record was produced
 *        inside the topology (e.g. by a punctuator). Valid while @p r is.
 */
RILL_API const char *rill_record_topic(const rill_record_t *r);
/** @brief The source partition of @p r, or -1 when unknown. */
RILL_API int32_t rill_record_partition(const rill_record_t *r);
/** @brief The source offset of @p r, or -1 when unknown. */
RILL_API int64_t rill_record_offset(const rill_record_t *r);
/** @brief The number of headers of @p r. */
RILL_API size_t rill_record_header_count(const rill_record_t *r);
/**
 * @brief Reads header number @p idx (0-based, in wire order) into @p out.
 * @returns RILL_OK or RILL_ERR_NOT_FOUND when @p idx is out of range. The
 *          strings are borrowed from @p r.
 */
RILL_API rill_err_t rill_record_header_at(const rill_record_t *r, size_t idx, rill_header_t *out);
/**
 * @brief Finds the last header named @p name.
 * @returns RILL_OK (and *value filled, borrowed from @p r) or RILL_ERR_NOT_FOUND.
 */
RILL_API rill_err_t rill_record_header_get(const rill_record_t *r, const char *name,
                                           rill_bytes_t *value);
/**
 * @brief For a table update: the previous value of the key (data NULL when
 *        there was none). For stream records it is always null.
 */
RILL_API rill_bytes_t rill_record_old_value(const rill_record_t *r);

/**
 * @brief Frees a record that the caller owns (one returned by
 *        rill_test_driver_read()). Records passed to callbacks are borrowed
 *        and must never be destroyed. NULL is a no-op.
 */
RILL_API void rill_record_destroy(rill_record_t *r);

/**
 * @brief Outputs a new key and value (map, flat_map, table group_by
 *        selectors). The record keeps the input's timestamp and headers.
 *        Key and value are copied or consumed before the call returns.
 * @returns RILL_OK, or RILL_ERR_STATE when the callback kind takes no key
 *          (the record is then dropped and a warning logged once).
 */
RILL_API rill_err_t rill_out_kv(rill_out_t *out, rill_bytes_t key, rill_bytes_t value);
/**
 * @brief Outputs a new value and keeps the input key (map_values,
 *        flat_map_values, reducers, aggregators, initializers).
 * @returns RILL_OK, or RILL_ERR_STATE when a single-result callback (map,
 *          map_values, reducer, ...) outputs twice (the extra value is
 *          dropped).
 */
RILL_API rill_err_t rill_out_value(rill_out_t *out, rill_bytes_t value);
/**
 * @brief Outputs a new key and keeps the input value (select_key,
 *        group_by key selectors).
 * @returns RILL_OK or RILL_ERR_STATE as for rill_out_value().
 */
RILL_API rill_err_t rill_out_key(rill_out_t *out, rill_bytes_t key);

/* Typed helpers over the built-in serdes' in-memory forms. */

/** @brief Outputs a NUL-terminated string value (without the NUL). */
RILL_API rill_err_t rill_out_value_str(rill_out_t *out, const char *s);
/** @brief Outputs an int64 value as 8 big-endian bytes (rill_serde_int64). */
RILL_API rill_err_t rill_out_value_i64(rill_out_t *out, int64_t v);
/** @brief Outputs a string key and a string value. */
RILL_API rill_err_t rill_out_kv_str(rill_out_t *out, const char *key, const char *value);

/** @brief Encodes @p v as 8 big-endian bytes into @p buf. */
RILL_API void rill_i64_encode(int64_t v, uint8_t buf[8]);
/** @brief Encodes @p v as 4 big-endian bytes into @p buf. */
RILL_API void rill_i32_encode(int32_t v, uint8_t buf[4]);
/** @brief Encodes @p v as 8 big-endian IEEE-754 bytes into @p buf. */
RILL_API void rill_double_encode(double v, uint8_t buf[8]);
/**
 * @brief Decodes an int64 (8 big-endian bytes).
 * @returns RILL_OK, or RILL_ERR_SERDE when @p b is null or not 8 bytes long
 *          (*out is then left unchanged).
 */
RILL_API rill_err_t rill_bytes_i64(rill_bytes_t b, int64_t *out);
/** @brief Decodes an int32 (4 big-endian bytes); errors as rill_bytes_i64(). */
RILL_API rill_err_t rill_bytes_i32(rill_bytes_t b, int32_t *out);
/** @brief Decodes a double (8 big-endian bytes); errors as rill_bytes_i64(). */
RILL_API rill_err_t rill_bytes_double(rill_bytes_t b, double *out);
/** @brief True when @p b equals the NUL-terminated string @p s. */
RILL_API bool rill_bytes_eq_str(rill_bytes_t b, const char *s);

/**
 * @brief Frees memory that a Rill function documents as "free with
 *        rill_free()" (store values copied out, descriptions). NULL is a
 *        no-op. Thread-safe.
 */
RILL_API void rill_free(void *p);

RILL_END_DECLS

#endif /* RILL_RECORD_H */
