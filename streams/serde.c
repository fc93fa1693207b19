/*
 * serde.c - built-in and user serdes, growable buffers, Kafka's murmur2.
 *
 * The built-in serdes keep the wire form in memory (see rill/record.h), so
 * converting with them is a check that returns the input view unchanged; only
 * user serdes write into the caller's scratch buffer. Built-in serde objects
 * are immutable constants (not mutable global state) and ignore reference
 * counting.
 */
#include "streams_int.h"

#include <jansson.h>
#include <string.h>

void
rill_buf_append(rill_buf_t *b, const void *data, size_t len)
{
        if (b->len + len > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                while (cap < b->len + len)
                        cap *= 2;
                b->data = rill__realloc(b->data, cap);
                b->cap = cap;
        }
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
}

void
rill__buf_reset(rill_buf_t *b)
{
        b->len = 0;
}

void
rill__buf_free(rill_buf_t *b)
{
        rill__free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

rill_bytes_t
rill__buf_bytes(const rill_buf_t *b)
{
        static const uint8_t empty[1];
        rill_bytes_t r = {b->data ? (const void *)b->data : (const void *)empty, b->len};
        return r;
}

static rill_serde_t serde_bytes = {RILL__SERDE_BYTES, "bytes", NULL, NULL, NULL, NULL, 1};
static rill_serde_t serde_string = {RILL__SERDE_STRING, "string", NULL, NULL, NULL, NULL, 1};
static rill_serde_t serde_int32 = {RILL__SERDE_INT32, "int32", NULL, NULL, NULL, NULL, 1};
static rill_serde_t serde_int64 = {RILL__SERDE_INT64, "int64", NULL, NULL, NULL, NULL, 1};
static rill_serde_t serde_double = {RILL__SERDE_DOUBLE, "double", NULL, NULL, NULL, NULL, 1};
static rill_serde_t serde_json = {RILL__SERDE_JSON, "json", NULL, NULL, NULL, NULL, 1};

rill_serde_t *
rill_serde_bytes(void)
{
        return &serde_bytes;
}

rill_serde_t *
rill_serde_string(void)
{
        return &serde_string;
}

rill_serde_t *
rill_serde_int32(void)
{
        return &serde_int32;
}

rill_serde_t *
rill_serde_int64(void)
{
        return &serde_int64;
}

rill_serde_t *
rill_serde_double(void)
{
        return &serde_double;
}

rill_serde_t *
rill_serde_json(void)
{
        return &serde_json;
}

rill_serde_t *
rill_serde_new(const char *name, rill_serde_fn *serialize, rill_serde_fn *deserialize,
               void *opaque, void (*opaque_free)(void *opaque))
{
        rill_serde_t *s = RILL__NEW(rill_serde_t);
        s->kind = RILL__SERDE_USER;
        s->name = rill__strdup(name ? name : "user");
        s->ser = serialize;
        s->de = deserialize;
        s->opaque = opaque;
        s->opaque_free = opaque_free;
        atomic_init(&s->refcnt, 1);
        return s;
}

rill_serde_t *
rill__serde_ref(rill_serde_t *s)
{
        if (s && s->kind == RILL__SERDE_USER)
                atomic_fetch_add(&s->refcnt, 1);
        return s;
}

void
rill__serde_unref(rill_serde_t *s)
{
        if (!s || s->kind != RILL__SERDE_USER)
                return;
        if (atomic_fetch_sub(&s->refcnt, 1) != 1)
                return;
        if (s->opaque_free)
                s->opaque_free(s->opaque);
        rill__free((char *)s->name);
        rill__free(s);
}

void
rill_serde_destroy(rill_serde_t *s)
{
        rill__serde_unref(s);
}

const char *
rill_serde_name(const rill_serde_t *s)
{
        return s ? s->name : "bytes";
}

static rill_err_t
check_fixed(const rill_serde_t *s, rill_bytes_t in, size_t want, char *errstr, size_t errstr_size)
{
        if (in.len == want)
                return RILL_OK;
        rill__errf(errstr, errstr_size, "%s serde: expected %zu bytes, got %zu", s->name, want,
                   in.len);
        return RILL_ERR_SERDE;
}

rill_err_t
rill__serde_convert(const rill_serde_t *s, bool ser, rill_bytes_t in, rill_buf_t *scratch,
                    rill_bytes_t *out, char *errstr, size_t errstr_size)
{
        rill_err_t err;
        rill_serde_fn *fn;

        *out = in;
        if (!in.data || !s)
                return RILL_OK;
        switch (s->kind) {
        case RILL__SERDE_BYTES:
        case RILL__SERDE_STRING:
                return RILL_OK;
        case RILL__SERDE_INT32:
                return check_fixed(s, in, 4, errstr, errstr_size);
        case RILL__SERDE_INT64:
        case RILL__SERDE_DOUBLE:
                return check_fixed(s, in, 8, errstr, errstr_size);
        case RILL__SERDE_JSON: {
                json_error_t jerr;
                json_t *j;
                if (ser)
                        return RILL_OK;
                j = json_loadb(in.data, in.len, JSON_DECODE_ANY, &jerr);
                if (!j) {
                        rill__errf(errstr, errstr_size, "json serde: %s at position %d",
                                   jerr.text, jerr.position);
                        return RILL_ERR_SERDE;
                }
                json_decref(j);
                return RILL_OK;
        }
        case RILL__SERDE_USER:
                fn = ser ? s->ser : s->de;
                if (!fn)
                        return RILL_OK;
                rill__buf_reset(scratch);
                err = fn(in, scratch, s->opaque);
                if (err != RILL_OK) {
                        rill__errf(errstr, errstr_size, "%s serde: %s the %s failed: %s",
                                   s->name, ser ? "serializing" : "deserializing",
                                   "record", rill_err2str(err));
                        return err == RILL_OK ? RILL_ERR_SERDE : err;
                }
                *out = rill__buf_bytes(scratch);
                return RILL_OK;
        }
        return RILL_OK;
}

static rill_err_t
convert_copy(const rill_serde_t *s, bool ser, rill_bytes_t in, void **out, size_t *out_len,
             char *errstr, size_t errstr_size)
{
        rill_buf_t scratch = {0};
        rill_bytes_t r;
        rill_err_t err = rill__serde_convert(s, ser, in, &scratch, &r, errstr, errstr_size);

        *out = NULL;
        *out_len = 0;
        if (err == RILL_OK && r.data) {
                *out = rill__malloc(r.len + 1);
                memcpy(*out, r.data, r.len);
                ((char *)*out)[r.len] = '\0';
                *out_len = r.len;
        }
        rill__buf_free(&scratch);
        return err;
}

rill_err_t
rill_serde_serialize(const rill_serde_t *s, rill_bytes_t in, void **out, size_t *out_len,
                     char *errstr, size_t errstr_size)
{
        return convert_copy(s, true, in, out, out_len, errstr, errstr_size);
}

rill_err_t
rill_serde_deserialize(const rill_serde_t *s, rill_bytes_t in, void **out, size_t *out_len,
                       char *errstr, size_t errstr_size)
{
        return convert_copy(s, false, in, out, out_len, errstr, errstr_size);
}

int32_t
rill__murmur2(const void *data, size_t len)
{
        const uint8_t *d = data;
        const uint32_t m = 0x5bd1e995;
        const int r = 24;
        uint32_t h = 0x9747b28cu ^ (uint32_t)len;
        size_t n4 = len / 4;

        for (size_t i = 0; i < n4; i++) {
                const uint8_t *p = d + i * 4;
                uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                             ((uint32_t)p[3] << 24);
                k *= m;
                k ^= k >> r;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len % 4) {
        case 3:
                h ^= (uint32_t)d[(len & ~(size_t)3) + 2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)d[(len & ~(size_t)3) + 1] << 8;
                /* fall through */
        case 1:
                h ^= (uint32_t)d[len & ~(size_t)3];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int32_t)h;
}

int32_t
rill__partition_for_key(rill_bytes_t key, int32_t n)
{
        if (n <= 1 || !key.data)
                return 0;
        return (int32_t)(((uint32_t)rill__murmur2(key.data, key.len) & 0x7fffffffu) % (uint32_t)n);
}
