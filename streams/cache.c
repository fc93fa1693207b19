/*
 * cache.c - the record cache of DSL stores (materialized with caching on).
 *
 * Aggregations and tables that update the same keys again and again write
 * every update to their store, to the changelog and downstream. With a
 * cache, updates stay in memory per key until the cache is flushed: on a
 * commit (the task thread flushes before it parks), when the cache exceeds
 * its byte budget, and when the task closes. A flush writes each key's
 * latest value to the store and the changelog once and forwards one change
 * (latest value, value as of the previous flush) downstream, so a hot key
 * costs one changelog and one output record per commit interval instead of
 * one per update (Kafka Streams' record cache).
 *
 * The cache belongs to the task thread. Interactive queries read the store
 * itself, so they see the state as of the last flush. Processor API stores
 * are never cached (processors forward what they like themselves).
 *
 * Layout: a chained hash table of entries (key, latest value, old value,
 * timestamp) plus a list in first-update order, which is the flush order.
 */
#include "streams_int.h"

#include <string.h>

typedef struct centry {
        struct centry *hnext;     /* hash chain */
        struct centry *lnext;     /* flush order */
        uint8_t *val;             /* latest value (NULL: delete) */
        size_t vlen;
        uint8_t *old;             /* value as of the last flush (NULL: none) */
        size_t olen;
        int64_t ts;
        size_t klen;
        uint8_t key[];
} centry_t;

struct rill__cache {
        centry_t **buckets;
        size_t nbuckets;
        size_t count;
        size_t bytes;
        size_t budget;
        centry_t *head;
        centry_t **tail;
};

size_t
rill__cache_budget(int64_t total, int shares)
{
        if (total <= 0)
                return 0;
        return (size_t)RILL__MAX(64 * 1024, total / RILL__MAX(shares, 1));
}

rill__cache_t *
rill__cache_new(size_t budget)
{
        rill__cache_t *c = RILL__NEW(rill__cache_t);
        c->nbuckets = 256;
        c->buckets = rill__calloc(c->nbuckets, sizeof(centry_t *));
        c->budget = budget;
        c->tail = &c->head;
        return c;
}

static size_t
bucket_of(const rill__cache_t *c, const void *key, size_t klen)
{
        return (size_t)((uint32_t)rill__murmur2(key, klen) & (uint32_t)(c->nbuckets - 1));
}

static centry_t *
find(const rill__cache_t *c, rill_bytes_t key)
{
        for (centry_t *e = c->buckets[bucket_of(c, key.data, key.len)]; e; e = e->hnext)
                if (e->klen == key.len && !memcmp(e->key, key.data, key.len))
                        return e;
        return NULL;
}

rill_err_t
rill__cache_get(const rill__cache_t *c, rill_bytes_t key, rill_bytes_t *value)
{
        centry_t *e = c ? find(c, key) : NULL;
        if (!e)
                return RILL_DECLINED;
        if (!e->val)
                return RILL_ERR_NOT_FOUND;
        *value = rill_bytes(e->vlen ? (const void *)e->val : (const void *)"", e->vlen);
        return RILL_OK;
}

static uint8_t *
dup_bytes(rill_bytes_t b, size_t *len)
{
        uint8_t *p;
        *len = 0;
        if (!b.data)
                return NULL;
        p = rill__malloc(b.len ? b.len : 1);
        memcpy(p, b.data, b.len);
        *len = b.len;
        return p;
}

static void
grow(rill__cache_t *c)
{
        size_t n = c->nbuckets * 2;
        centry_t **b = rill__calloc(n, sizeof(centry_t *));
        for (size_t i = 0; i < c->nbuckets; i++) {
                centry_t *e = c->buckets[i];
                while (e) {
                        centry_t *next = e->hnext;
                        size_t h = (size_t)((uint32_t)rill__murmur2(e->key, e->klen) &
                                            (uint32_t)(n - 1));
                        e->hnext = b[h];
                        b[h] = e;
                        e = next;
                }
        }
        rill__free(c->buckets);
        c->buckets = b;
        c->nbuckets = n;
}

bool
rill__cache_put(rill__cache_t *c, rill_bytes_t key, rill_bytes_t value, rill_bytes_t old,
                int64_t ts)
{
        centry_t *e = find(c, key);
        if (e) {
                c->bytes -= e->vlen;
                rill__free(e->val);
        } else {
                size_t h;
                if (c->count >= c->nbuckets)
                        grow(c);
                h = bucket_of(c, key.data, key.len);
                e = rill__calloc(1, sizeof(centry_t) + key.len);
                e->klen = key.len;
                memcpy(e->key, key.data, key.len);
                e->old = dup_bytes(old, &e->olen);
                e->hnext = c->buckets[h];
                c->buckets[h] = e;
                *c->tail = e;
                c->tail = &e->lnext;
                c->count++;
                c->bytes += sizeof(centry_t) + key.len + e->olen;
        }
        e->val = dup_bytes(value, &e->vlen);
        e->ts = ts;
        c->bytes += e->vlen;
        return c->bytes > c->budget;
}

bool
rill__cache_dirty(const rill__cache_t *c)
{
        return c && c->count > 0;
}

void
rill__cache_flush(rill__cache_t *c, void (*fn)(void *opaque, rill_bytes_t key, rill_bytes_t value,
                                                rill_bytes_t old, int64_t ts),
                  void *opaque)
{
        centry_t *e = c->head;
        /* Detach everything first: flushing forwards records downstream. */
        memset(c->buckets, 0, c->nbuckets * sizeof(centry_t *));
        c->head = NULL;
        c->tail = &c->head;
        c->count = 0;
        c->bytes = 0;
        while (e) {
                centry_t *next = e->lnext;
                if (fn)
                        fn(opaque, rill_bytes(e->key, e->klen),
                           e->val ? rill_bytes(e->vlen ? (const void *)e->val : "", e->vlen)
                                  : rill_bytes(NULL, 0),
                           e->old ? rill_bytes(e->olen ? (const void *)e->old : "", e->olen)
                                  : rill_bytes(NULL, 0),
                           e->ts);
                rill__free(e->val);
                rill__free(e->old);
                rill__free(e);
                e = next;
        }
}

void
rill__cache_free(rill__cache_t *c)
{
        if (!c)
                return;
        rill__cache_flush(c, NULL, NULL);
        rill__free(c->buckets);
        rill__free(c);
}
