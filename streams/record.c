/*
 * record.c - record accessors, callback outputs, byte helpers.
 *
 * A record seen by callbacks is a struct on the task thread's stack whose
 * views point into the consumed message or into upstream operators' buffers;
 * nothing is copied. Headers come either as an array (test driver, owned
 * records) or as librdkafka's header list (runtime), read lazily.
 *
 * An output (rill_out_t) resolves the callback's result to a full key and
 * value (keeping the input's key or value as the operator's mode says) and
 * hands it to the operator's emit function, which forwards it downstream or
 * copies it into an aggregate buffer.
 */
#include "streams_int.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

rill_bytes_t
rill_record_key(const rill_record_t *r)
{
        return r->key;
}

rill_bytes_t
rill_record_value(const rill_record_t *r)
{
        return r->value;
}

rill_bytes_t
rill_record_old_value(const rill_record_t *r)
{
        return r->old_value;
}

int64_t
rill_record_timestamp(const rill_record_t *r)
{
        return r->timestamp;
}

const char *
rill_record_topic(const rill_record_t *r)
{
        return r->topic;
}

int32_t
rill_record_partition(const rill_record_t *r)
{
        return r->partition;
}

int64_t
rill_record_offset(const rill_record_t *r)
{
        return r->offset;
}

size_t
rill_record_header_count(const rill_record_t *r)
{
        if (r->rk_headers)
                return rd_kafka_header_cnt((const rd_kafka_headers_t *)r->rk_headers);
        return r->nheaders;
}

rill_err_t
rill_record_header_at(const rill_record_t *r, size_t idx, rill_header_t *out)
{
        if (r->rk_headers) {
                const char *name;
                const void *val;
                size_t size;
                if (rd_kafka_header_get_all((const rd_kafka_headers_t *)r->rk_headers, idx, &name,
                                            &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
                        return RILL_ERR_NOT_FOUND;
                out->name = name;
                out->value = val;
                out->len = val ? size : 0;
                return RILL_OK;
        }
        if (idx >= r->nheaders)
                return RILL_ERR_NOT_FOUND;
        *out = r->headers[idx];
        return RILL_OK;
}

rill_err_t
rill_record_header_get(const rill_record_t *r, const char *name, rill_bytes_t *value)
{
        size_t n = rill_record_header_count(r);
        for (size_t i = n; i-- > 0;) {
                rill_header_t h;
                if (rill_record_header_at(r, i, &h) == RILL_OK && !strcmp(h.name, name)) {
                        *value = rill_bytes(h.value, h.len);
                        return RILL_OK;
                }
        }
        return RILL_ERR_NOT_FOUND;
}

rill_record_t *
rill__record_copy(const rill_record_t *r, const char *topic)
{
        size_t nh = rill_record_header_count(r);
        size_t sz = sizeof(rill_record_t) + nh * sizeof(rill_header_t) + r->key.len + r->value.len +
                    (topic ? strlen(topic) + 1 : 0);
        rill_header_t *hdrs;
        rill_record_t *c;
        char *p;

        for (size_t i = 0; i < nh; i++) {
                rill_header_t h;
                rill_record_header_at(r, i, &h);
                sz += strlen(h.name) + 1 + h.len;
        }
        c = rill__malloc(sz);
        hdrs = (rill_header_t *)(c + 1);
        p = (char *)(hdrs + nh);
        *c = *r;
        c->owned = true;
        c->rk_headers = NULL;
        c->old_value = rill_bytes(NULL, 0);
        if (r->key.data) {
                memcpy(p, r->key.data, r->key.len);
                c->key = rill_bytes(p, r->key.len);
                p += r->key.len;
        }
        if (r->value.data) {
                memcpy(p, r->value.data, r->value.len);
                c->value = rill_bytes(p, r->value.len);
                p += r->value.len;
        }
        if (topic) {
                strcpy(p, topic);
                c->topic = p;
                p += strlen(topic) + 1;
        } else {
                c->topic = NULL;
        }
        for (size_t i = 0; i < nh; i++) {
                rill_header_t h;
                rill_record_header_at(r, i, &h);
                strcpy(p, h.name);
                hdrs[i].name = p;
                p += strlen(h.name) + 1;
                if (h.value) {
                        memcpy(p, h.value, h.len);
                        hdrs[i].value = p;
                        p += h.len;
                } else {
                        hdrs[i].value = NULL;
                }
                hdrs[i].len = h.len;
        }
        c->headers = hdrs;
        c->nheaders = nh;
        return c;
}

void
rill_record_destroy(rill_record_t *r)
{
        if (r && r->owned)
                rill__free(r);
}

static rill_err_t
out_emit(rill_out_t *out, rill__out_mode_t mode, rill_bytes_t key, rill_bytes_t value)
{
        static const char *const names[] = {"rill_out_kv", "rill_out_value", "rill_out_key"};

        if (mode == RILL__OUT_KV && out->mode != RILL__OUT_KV) {
                if (!out->warned)
                        RILL_LOG_W(RILL__LOGC, "%s() used where the operator keeps the key; "
                                               "record dropped", names[mode]);
                out->warned = true;
                return RILL_ERR_STATE;
        }
        if (out->single && out->count > 0) {
                if (!out->warned)
                        RILL_LOG_W(RILL__LOGC, "%s(): a single-result callback output twice; "
                                               "extra output dropped", names[mode]);
                out->warned = true;
                return RILL_ERR_STATE;
        }
        if (mode == RILL__OUT_VALUE)
                key = out->in ? out->in->key : rill_bytes(NULL, 0);
        else if (mode == RILL__OUT_KEY)
                value = out->in ? out->in->value : rill_bytes(NULL, 0);
        out->count++;
        out->emit(out, key, value);
        return RILL_OK;
}

rill_err_t
rill_out_kv(rill_out_t *out, rill_bytes_t key, rill_bytes_t value)
{
        return out_emit(out, RILL__OUT_KV, key, value);
}

rill_err_t
rill_out_value(rill_out_t *out, rill_bytes_t value)
{
        return out_emit(out, RILL__OUT_VALUE, rill_bytes(NULL, 0), value);
}

rill_err_t
rill_out_key(rill_out_t *out, rill_bytes_t key)
{
        return out_emit(out, RILL__OUT_KEY, key, rill_bytes(NULL, 0));
}

rill_err_t
rill_out_value_str(rill_out_t *out, const char *s)
{
        return rill_out_value(out, rill_bytes(s, s ? strlen(s) : 0));
}

rill_err_t
rill_out_value_i64(rill_out_t *out, int64_t v)
{
        uint8_t buf[8];
        rill_i64_encode(v, buf);
        return rill_out_value(out, rill_bytes(buf, 8));
}

rill_err_t
rill_out_kv_str(rill_out_t *out, const char *key, const char *value)
{
        return rill_out_kv(out, rill_bytes(key, key ? strlen(key) : 0),
                           rill_bytes(value, value ? strlen(value) : 0));
}

void
rill_i64_encode(int64_t v, uint8_t buf[8])
{
        uint64_t u = (uint64_t)v;
        for (int i = 7; i >= 0; i--) {
                buf[i] = (uint8_t)(u & 0xff);
                u >>= 8;
        }
}

void
rill_i32_encode(int32_t v, uint8_t buf[4])
{
        uint32_t u = (uint32_t)v;
        for (int i = 3; i >= 0; i--) {
                buf[i] = (uint8_t)(u & 0xff);
                u >>= 8;
        }
}

void
rill_double_encode(double v, uint8_t buf[8])
{
        int64_t i;
        memcpy(&i, &v, 8);
        rill_i64_encode(i, buf);
}

rill_err_t
rill_bytes_i64(rill_bytes_t b, int64_t *out)
{
        const uint8_t *p = b.data;
        uint64_t u = 0;
        if (!p || b.len != 8)
                return RILL_ERR_SERDE;
        for (int i = 0; i < 8; i++)
                u = (u << 8) | p[i];
        *out = (int64_t)u;
        return RILL_OK;
}

rill_err_t
rill_bytes_i32(rill_bytes_t b, int32_t *out)
{
        const uint8_t *p = b.data;
        uint32_t u = 0;
        if (!p || b.len != 4)
                return RILL_ERR_SERDE;
        for (int i = 0; i < 4; i++)
                u = (u << 8) | p[i];
        *out = (int32_t)u;
        return RILL_OK;
}

rill_err_t
rill_bytes_double(rill_bytes_t b, double *out)
{
        int64_t i;
        if (rill_bytes_i64(b, &i) != RILL_OK)
                return RILL_ERR_SERDE;
        memcpy(out, &i, 8);
        return RILL_OK;
}

bool
rill_bytes_eq_str(rill_bytes_t b, const char *s)
{
        size_t n = strlen(s);
        return b.data && b.len == n && !memcmp(b.data, s, n);
}

void
rill_free(void *p)
{
        rill__free(p);
}
