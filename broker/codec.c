/*
 * codec.c - Kafka wire-format primitives. See codec.h.
 */
#include "codec.h"

#include <string.h>

#include "rill_alloc.h"

bool
rill__str_eq(rill__str_t s, const char *c)
{
        size_t n;
        if (s.len < 0 || !c)
                return s.len < 0 && !c;
        n = strlen(c);
        return (size_t)s.len == n && memcmp(s.ptr, c, n) == 0;
}

char *
rill__str_dup(rill__str_t s)
{
        if (s.len < 0)
                return NULL;
        return rill__strndup(s.ptr, (size_t)s.len);
}

void
rill__rb_init(rill__rbuf_t *r, const void *data, size_t len)
{
        r->p = data;
        r->end = r->p + len;
        r->err = 0;
}

const uint8_t *
rill__rb_raw(rill__rbuf_t *r, size_t n)
{
        const uint8_t *p;
        if (r->err || (size_t)(r->end - r->p) < n) {
                r->err = 1;
                return NULL;
        }
        p = r->p;
        r->p += n;
        return p;
}

int8_t
rill__rb_i8(rill__rbuf_t *r)
{
        const uint8_t *p = rill__rb_raw(r, 1);
        return p ? (int8_t)p[0] : 0;
}

int16_t
rill__rb_i16(rill__rbuf_t *r)
{
        const uint8_t *p = rill__rb_raw(r, 2);
        return p ? (int16_t)rill__be16(p) : 0;
}

int32_t
rill__rb_i32(rill__rbuf_t *r)
{
        const uint8_t *p = rill__rb_raw(r, 4);
        return p ? (int32_t)rill__be32(p) : 0;
}

uint32_t
rill__rb_u32(rill__rbuf_t *r)
{
        const uint8_t *p = rill__rb_raw(r, 4);
        return p ? rill__be32(p) : 0;
}

int64_t
rill__rb_i64(rill__rbuf_t *r)
{
        const uint8_t *p = rill__rb_raw(r, 8);
        return p ? (int64_t)rill__be64(p) : 0;
}

bool
rill__rb_bool(rill__rbuf_t *r)
{
        return rill__rb_i8(r) != 0;
}

size_t
rill__uvarint_dec(const uint8_t *p, size_t n, uint64_t *out)
{
        uint64_t v = 0;
        for (size_t i = 0; i < n && i < 10; i++) {
                v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        *out = v;
                        return i + 1;
                }
        }
        return 0;
}

size_t
rill__varint_dec(const uint8_t *p, size_t n, int64_t *out)
{
        uint64_t u;
        size_t r = rill__uvarint_dec(p, n, &u);
        if (r)
                *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return r;
}

size_t
rill__uvarint_enc(uint8_t *p, uint64_t v)
{
        size_t i = 0;
        while (v >= 0x80) {
                p[i++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        p[i++] = (uint8_t)v;
        return i;
}

size_t
rill__varint_enc(uint8_t *p, int64_t v)
{
        return rill__uvarint_enc(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

uint64_t
rill__rb_uvarint(rill__rbuf_t *r)
{
        uint64_t v = 0;
        size_t n;
        if (r->err)
                return 0;
        n = rill__uvarint_dec(r->p, (size_t)(r->end - r->p), &v);
        if (!n) {
                r->err = 1;
                return 0;
        }
        r->p += n;
        return v;
}

int64_t
rill__rb_varint(rill__rbuf_t *r)
{
        uint64_t u = rill__rb_uvarint(r);
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static rill__str_t
rb_lenbuf(rill__rbuf_t *r, int64_t len)
{
        rill__str_t s = RILL__STR_NULL;
        const uint8_t *p;
        if (r->err)
                return s;
        if (len < 0) {
                if (len != -1)
                        r->err = 1;
                return s;
        }
        if (len > INT32_MAX) {
                r->err = 1;
                return s;
        }
        p = rill__rb_raw(r, (size_t)len);
        if (!p)
                return s;
        s.ptr = (const char *)p;
        s.len = (int32_t)len;
        return s;
}

rill__str_t
rill__rb_str(rill__rbuf_t *r, bool flex)
{
        int64_t len = flex ? (int64_t)rill__rb_uvarint(r) - 1 : rill__rb_i16(r);
        return rb_lenbuf(r, len);
}

rill__str_t
rill__rb_bytes(rill__rbuf_t *r, bool flex)
{
        int64_t len = flex ? (int64_t)rill__rb_uvarint(r) - 1 : rill__rb_i32(r);
        return rb_lenbuf(r, len);
}

int32_t
rill__rb_array(rill__rbuf_t *r, bool flex)
{
        int64_t n = flex ? (int64_t)rill__rb_uvarint(r) - 1 : rill__rb_i32(r);
        if (r->err)
                return -1;
        if (n < -1 || n > (int64_t)(r->end - r->p)) {
                r->err = 1;
                return -1;
        }
        return (int32_t)n;
}

rill__str_t *
rill__rb_str_array(rill__rbuf_t *r, bool flex, int32_t *n)
{
        rill__str_t *v = NULL;
        *n = rill__rb_array(r, flex);
        if (*n > 0)
                v = rill__calloc((size_t)*n, sizeof(*v));
        for (int32_t i = 0; i < *n && !r->err; i++)
                v[i] = rill__rb_str(r, flex);
        return v;
}

void
rill__rb_uuid(rill__rbuf_t *r, uint8_t out[16])
{
        const uint8_t *p = rill__rb_raw(r, 16);
        if (p)
                memcpy(out, p, 16);
        else
                memset(out, 0, 16);
}

void
rill__rb_tags(rill__rbuf_t *r, bool flex)
{
        uint64_t n;
        if (!flex)
                return;
        n = rill__rb_uvarint(r);
        for (uint64_t i = 0; i < n && !r->err; i++) {
                uint64_t sz;
                (void)rill__rb_uvarint(r); /* tag */
                sz = rill__rb_uvarint(r);
                if (sz > (uint64_t)(r->end - r->p)) {
                        r->err = 1;
                        return;
                }
                r->p += sz;
        }
}

/* ---- writer ---- */

void
rill__wb_init(rill__wbuf_t *w, size_t initial_cap)
{
        w->cap = initial_cap ? initial_cap : 256;
        w->buf = rill__malloc(w->cap);
        w->len = 0;
}

void
rill__wb_free(rill__wbuf_t *w)
{
        rill__free(w->buf);
        w->buf = NULL;
        w->len = w->cap = 0;
}

void
rill__wb_reset(rill__wbuf_t *w)
{
        w->len = 0;
}

uint8_t *
rill__wb_extend(rill__wbuf_t *w, size_t n)
{
        uint8_t *p;
        if (w->len + n > w->cap) {
                size_t ncap = w->cap ? w->cap * 2 : 256;
                while (ncap < w->len + n)
                        ncap *= 2;
                w->buf = rill__realloc(w->buf, ncap);
                w->cap = ncap;
        }
        p = w->buf + w->len;
        w->len += n;
        return p;
}

void
rill__wb_raw(rill__wbuf_t *w, const void *p, size_t n)
{
        if (n)
                memcpy(rill__wb_extend(w, n), p, n);
}

void
rill__wb_i8(rill__wbuf_t *w, int8_t v)
{
        *rill__wb_extend(w, 1) = (uint8_t)v;
}

void
rill__wb_i16(rill__wbuf_t *w, int16_t v)
{
        rill__put_be16(rill__wb_extend(w, 2), (uint16_t)v);
}

void
rill__wb_i32(rill__wbuf_t *w, int32_t v)
{
        rill__put_be32(rill__wb_extend(w, 4), (uint32_t)v);
}

void
rill__wb_u32(rill__wbuf_t *w, uint32_t v)
{
        rill__put_be32(rill__wb_extend(w, 4), v);
}

void
rill__wb_i64(rill__wbuf_t *w, int64_t v)
{
        rill__put_be64(rill__wb_extend(w, 8), (uint64_t)v);
}

void
rill__wb_bool(rill__wbuf_t *w, bool v)
{
        rill__wb_i8(w, v ? 1 : 0);
}

void
rill__wb_uvarint(rill__wbuf_t *w, uint64_t v)
{
        uint8_t tmp[10];
        rill__wb_raw(w, tmp, rill__uvarint_enc(tmp, v));
}

void
rill__wb_varint(rill__wbuf_t *w, int64_t v)
{
        uint8_t tmp[10];
        rill__wb_raw(w, tmp, rill__varint_enc(tmp, v));
}

void
rill__wb_str(rill__wbuf_t *w, const char *s, int32_t len, bool flex)
{
        if (!s || len < 0) {
                if (flex)
                        rill__wb_uvarint(w, 0);
                else
                        rill__wb_i16(w, -1);
                return;
        }
        if (flex)
                rill__wb_uvarint(w, (uint64_t)len + 1);
        else
                rill__wb_i16(w, (int16_t)len);
        rill__wb_raw(w, s, (size_t)len);
}

void
rill__wb_cstr(rill__wbuf_t *w, const char *s, bool flex)
{
        rill__wb_str(w, s, s ? (int32_t)strlen(s) : -1, flex);
}

void
rill__wb_rstr(rill__wbuf_t *w, rill__str_t s, bool flex)
{
        rill__wb_str(w, s.ptr, s.len, flex);
}

void
rill__wb_bytes(rill__wbuf_t *w, const void *p, int32_t len, bool flex)
{
        if (!p || len < 0) {
                if (flex)
                        rill__wb_uvarint(w, 0);
                else
                        rill__wb_i32(w, -1);
                return;
        }
        if (flex)
                rill__wb_uvarint(w, (uint64_t)len + 1);
        else
                rill__wb_i32(w, len);
        rill__wb_raw(w, p, (size_t)len);
}

void
rill__wb_array(rill__wbuf_t *w, int32_t n, bool flex)
{
        if (flex)
                rill__wb_uvarint(w, n < 0 ? 0 : (uint64_t)n + 1);
        else
                rill__wb_i32(w, n);
}

void
rill__wb_uuid(rill__wbuf_t *w, const uint8_t uuid[16])
{
        rill__wb_raw(w, uuid, 16);
}

void
rill__wb_tags(rill__wbuf_t *w, bool flex)
{
        if (flex)
                rill__wb_uvarint(w, 0);
}

size_t
rill__wb_reserve_i32(rill__wbuf_t *w)
{
        size_t off = w->len;
        rill__wb_extend(w, 4);
        return off;
}

void
rill__wb_patch_i32(rill__wbuf_t *w, size_t off, int32_t v)
{
        rill__put_be32(w->buf + off, (uint32_t)v);
}
