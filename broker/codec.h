/*
 * codec.h - Kafka wire-format primitives (internal).
 *
 * Readers never fail loudly: a read past the end latches r->err and returns
 * zero/empty, so a handler decodes a whole request and checks r->err once
 * (the sticky-error habit of sqlite3_str). Writers grow their buffer through
 * the allocator shim (which aborts on OOM), so they cannot fail.
 *
 * Every variable-length type takes a `flex` flag: false selects the classic
 * encoding (int16/int32 length prefixes), true the compact encoding of
 * KIP-482 (unsigned varint length+1) used by flexible API versions. Tagged
 * fields are read and skipped with rill__rb_tags(), written (empty) with
 * rill__wb_tags(). That keeps every API's codec version-parameterised, so a
 * flexible version can be added per API without a rewrite.
 *
 * Not thread-safe: one buffer belongs to one thread at a time.
 */
#ifndef RILL_BROKER_CODEC_H
#define RILL_BROKER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A borrowed string or byte range. len < 0 means null. */
typedef struct rill__str {
        const char *ptr;
        int32_t len;
} rill__str_t;

#define RILL__STR_NULL ((rill__str_t){NULL, -1})
/** True if @p s equals the NUL-terminated @p c. */
bool rill__str_eq(rill__str_t s, const char *c);
/** Copies @p s into a new NUL-terminated string (NULL for a null string). */
char *rill__str_dup(rill__str_t s);

typedef struct rill__rbuf {
        const uint8_t *p;   /**< next byte to read */
        const uint8_t *end; /**< one past the last byte */
        int err;            /**< non-zero once a read ran past the end or was invalid */
} rill__rbuf_t;

void rill__rb_init(rill__rbuf_t *r, const void *data, size_t len);
static inline size_t rill__rb_remaining(const rill__rbuf_t *r) {
        return r->err ? 0 : (size_t)(r->end - r->p);
}
int8_t rill__rb_i8(rill__rbuf_t *r);
int16_t rill__rb_i16(rill__rbuf_t *r);
int32_t rill__rb_i32(rill__rbuf_t *r);
int64_t rill__rb_i64(rill__rbuf_t *r);
uint32_t rill__rb_u32(rill__rbuf_t *r);
bool rill__rb_bool(rill__rbuf_t *r);
uint64_t rill__rb_uvarint(rill__rbuf_t *r);
int64_t rill__rb_varint(rill__rbuf_t *r);  /**< zigzag-encoded */
/** string: classic int16 length (-1 null) or compact uvarint length+1 (0 null). */
rill__str_t rill__rb_str(rill__rbuf_t *r, bool flex);
/** bytes: classic int32 length (-1 null) or compact uvarint length+1 (0 null). */
rill__str_t rill__rb_bytes(rill__rbuf_t *r, bool flex);
/** array length: classic int32 (-1 null) or compact uvarint n+1 (0 null). Returns -1 for null.
 *  A length that cannot fit in the remaining bytes (at least 1 byte per element) latches err. */
int32_t rill__rb_array(rill__rbuf_t *r, bool flex);
/** An array of strings (each as rill__rb_str): *n receives its length (-1 for null) and the
 *  result a new array of *n strings borrowed from @p r's data (NULL when *n <= 0; free it with
 *  rill__free). Entries left unread by a read error are {NULL, 0}. */
rill__str_t *rill__rb_str_array(rill__rbuf_t *r, bool flex, int32_t *n);
/** UUID (16 bytes). */
void rill__rb_uuid(rill__rbuf_t *r, uint8_t out[16]);
/** Skips a tagged-field section when @p flex; no-op otherwise. */
void rill__rb_tags(rill__rbuf_t *r, bool flex);
/** Returns a pointer to the next @p n bytes and advances, or NULL (and err) if short. */
const uint8_t *rill__rb_raw(rill__rbuf_t *r, size_t n);

typedef struct rill__wbuf {
        uint8_t *buf;
        size_t len;
        size_t cap;
} rill__wbuf_t;

void rill__wb_init(rill__wbuf_t *w, size_t initial_cap);
void rill__wb_free(rill__wbuf_t *w);
void rill__wb_reset(rill__wbuf_t *w);
/** Ensures room for @p n more bytes; returns a pointer to them (len is advanced). */
uint8_t *rill__wb_extend(rill__wbuf_t *w, size_t n);
void rill__wb_raw(rill__wbuf_t *w, const void *p, size_t n);
void rill__wb_i8(rill__wbuf_t *w, int8_t v);
void rill__wb_i16(rill__wbuf_t *w, int16_t v);
void rill__wb_i32(rill__wbuf_t *w, int32_t v);
void rill__wb_i64(rill__wbuf_t *w, int64_t v);
void rill__wb_u32(rill__wbuf_t *w, uint32_t v);
void rill__wb_bool(rill__wbuf_t *w, bool v);
void rill__wb_uvarint(rill__wbuf_t *w, uint64_t v);
void rill__wb_varint(rill__wbuf_t *w, int64_t v);
/** Writes a string of @p len bytes (ptr NULL => null string). */
void rill__wb_str(rill__wbuf_t *w, const char *s, int32_t len, bool flex);
/** NUL-terminated (or NULL => null) string. */
void rill__wb_cstr(rill__wbuf_t *w, const char *s, bool flex);
void rill__wb_rstr(rill__wbuf_t *w, rill__str_t s, bool flex);
void rill__wb_bytes(rill__wbuf_t *w, const void *p, int32_t len, bool flex);
/** Array length (-1 => null array). */
void rill__wb_array(rill__wbuf_t *w, int32_t n, bool flex);
void rill__wb_uuid(rill__wbuf_t *w, const uint8_t uuid[16]);
/** Writes an empty tagged-field section when @p flex. */
void rill__wb_tags(rill__wbuf_t *w, bool flex);
/** Reserves 4 bytes for an int32 to fill in later; returns its offset. */
size_t rill__wb_reserve_i32(rill__wbuf_t *w);
void rill__wb_patch_i32(rill__wbuf_t *w, size_t off, int32_t v);

/** Big-endian helpers on raw memory. */
static inline uint16_t rill__be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rill__be32(const uint8_t *p) {
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rill__be64(const uint8_t *p) {
        return ((uint64_t)rill__be32(p) << 32) | rill__be32(p + 4);
}
static inline void rill__put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void rill__put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void rill__put_be64(uint8_t *p, uint64_t v) {
        rill__put_be32(p, (uint32_t)(v >> 32)); rill__put_be32(p + 4, (uint32_t)v);
}

/** Varint decoding on raw memory (record format). Return bytes consumed, 0 on error. */
size_t rill__uvarint_dec(const uint8_t *p, size_t n, uint64_t *out);
size_t rill__varint_dec(const uint8_t *p, size_t n, int64_t *out);
/** Encode into @p p (at least 10 bytes); return bytes written. */
size_t rill__uvarint_enc(uint8_t *p, uint64_t v);
size_t rill__varint_enc(uint8_t *p, int64_t v);

#endif /* RILL_BROKER_CODEC_H */
