/*
 * rill/serde.h - serializers and deserializers for keys and values.
 *
 * A serde converts between the bytes stored in a topic (wire form) and the
 * bytes a topology works with (in-memory form, see record.h). The built-in
 * serdes use the wire form in memory, so their "deserialization" is a
 * validation and costs no copy:
 *
 *     rill_serde_bytes()    any bytes
 *     rill_serde_string()   UTF-8 text (not validated, like Kafka's StringDeserializer)
 *     rill_serde_int32()    4 bytes, big-endian (Kafka's IntegerSerializer)
 *     rill_serde_int64()    8 bytes, big-endian (Kafka's LongSerializer)
 *     rill_serde_double()   8 bytes, big-endian IEEE-754 (DoubleSerializer)
 *     rill_serde_json()     JSON text (validated with jansson)
 *
 * A null key or value (a NULL pointer) passes through every serde unchanged.
 * A record whose key or value fails deserialization is handled by the
 * application's "default.deserialization.exception.handler" ("fail" or
 * "log_and_continue").
 *
 * Ownership: the built-in serdes are immutable constants; they are never
 * freed. A serde made with rill_serde_new() is reference counted: the
 * topology and stores that use it take their own reference, and the caller
 * drops its reference with rill_serde_destroy() whenever it likes.
 */
#ifndef RILL_SERDE_H
#define RILL_SERDE_H

#include <rill/common.h>
#include <rill/error.h>
#include <rill/record.h>

RILL_BEGIN_DECLS

typedef struct rill_serde_s rill_serde_t;
/** A growable output buffer handed to serde callbacks (opaque). */
typedef struct rill_buf_s rill_buf_t;

/**
 * @brief Appends @p len bytes to @p buf.
 * Never fails (aborts on out-of-memory, like every Rill allocation).
 */
RILL_API void rill_buf_append(rill_buf_t *buf, const void *data, size_t len);

/**
 * @brief A conversion step of a user serde: reads @p in (never null) and
 *        appends the result to @p out.
 * @returns RILL_OK, or RILL_ERR_SERDE when @p in is malformed.
 * Called concurrently from several task threads: must be thread-safe.
 */
typedef rill_err_t(rill_serde_fn)(rill_bytes_t in, rill_buf_t *out, void *opaque);

/** @brief The bytes serde (no conversion). Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_bytes(void);
/** @brief The UTF-8 string serde. Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_string(void);
/** @brief The big-endian int32 serde. Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_int32(void);
/** @brief The big-endian int64 serde. Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_int64(void);
/** @brief The big-endian double serde. Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_double(void);
/** @brief The JSON serde (text form, validated). Thread-safe; never NULL. */
RILL_API rill_serde_t *rill_serde_json(void);

/**
 * @brief Creates a user serde.
 * @param name        shown in logs and topology descriptions (copied).
 * @param serialize   in-memory form -> wire form; NULL keeps the bytes.
 * @param deserialize wire form -> in-memory form; NULL keeps the bytes.
 * @param opaque      passed to both callbacks.
 * @param opaque_free called with @p opaque when the last reference is
 *                    dropped (may be NULL).
 * @returns a serde with one reference owned by the caller. Never NULL.
 * Thread-safe.
 */
RILL_API rill_serde_t *rill_serde_new(const char *name, rill_serde_fn *serialize,
                                      rill_serde_fn *deserialize, void *opaque,
                                      void (*opaque_free)(void *opaque));

/**
 * @brief Drops the caller's reference to @p serde. Built-in serdes and NULL
 *        are no-ops. Thread-safe.
 */
RILL_API void rill_serde_destroy(rill_serde_t *serde);

/** @brief The serde's name ("string", "int64", ... or the user's). */
RILL_API const char *rill_serde_name(const rill_serde_t *serde);

/**
 * @brief Serializes @p in (in-memory form) with @p serde.
 * @returns RILL_OK and a wire-form copy in *out (free with rill_free(); NULL
 *          with *out_len 0 for a null input), or RILL_ERR_SERDE with a message.
 * Thread-safe.
 */
RILL_API rill_err_t rill_serde_serialize(const rill_serde_t *serde, rill_bytes_t in, void **out,
                                         size_t *out_len, char *errstr, size_t errstr_size);
/**
 * @brief Deserializes @p in (wire form) with @p serde; as
 *        rill_serde_serialize() otherwise.
 */
RILL_API rill_err_t rill_serde_deserialize(const rill_serde_t *serde, rill_bytes_t in,
                                           void **out, size_t *out_len, char *errstr,
                                           size_t errstr_size);

RILL_END_DECLS

#endif /* RILL_SERDE_H */
