/*
 * store_mem.c - the in-memory key-value store: an ordered skip list.
 *
 * Keys are ordered bytewise (memcmp, then shorter first). A skip list gives
 * ordered iteration from any key (range queries) with O(log n) updates and no
 * rebalancing. Node levels come from a per-store xorshift generator, so there
 * is no shared state.
 *
 * Concurrency: only the owning task thread modifies the map; it takes the
 * write lock around each modification. Interactive queries from other threads
 * take the read lock (get_copy). The owner's own reads and iterations need no
 * lock because nobody else writes.
 */
#include "streams_int.h"

#include <string.h>

#define MAXLVL 24

typedef struct snode {
        uint8_t *val;
        size_t vlen;
        size_t klen;
        int level;
        struct snode *next[]; /* followed by the key bytes */
} snode_t;

typedef struct memstore {
        snode_t *head;
        int level;
        uint64_t count;
        uint64_t rng;
        pthread_rwlock_t lock;
} memstore_t;

typedef struct memiter {
        snode_t *cur;
        rill_bytes_t to;
        uint8_t *tobuf;
} memiter_t;

static uint8_t *
nkey(snode_t *n)
{
        return (uint8_t *)&n->next[n->level];
}

static int
keycmp(const void *a, size_t al, const void *b, size_t bl)
{
        int c = memcmp(a, b, al < bl ? al : bl);
        if (c)
                return c;
        return al < bl ? -1 : al > bl ? 1 : 0;
}

static snode_t *
node_new(int level, rill_bytes_t key)
{
        snode_t *n = rill__calloc(1, sizeof(snode_t) + (size_t)level * sizeof(snode_t *) + key.len);
        n->level = level;
        n->klen = key.len;
        if (key.len)
                memcpy(nkey(n), key.data, key.len);
        return n;
}

void *
rill__mem_store_open(void)
{
        memstore_t *m = RILL__NEW(memstore_t);
        m->head = node_new(MAXLVL, rill_bytes("", 0));
        m->level = 1;
        m->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
        pthread_rwlock_init(&m->lock, NULL);
        return m;
}

static int
random_level(memstore_t *m)
{
        int l = 1;
        m->rng ^= m->rng << 13;
        m->rng ^= m->rng >> 7;
        m->rng ^= m->rng << 17;
        for (uint64_t r = m->rng; (r & 3) == 0 && l < MAXLVL; r >>= 2)
                l++;
        return l;
}

/* Fills update[] with the last node before key at each level; returns the
 * first node >= key at level 0. */
static snode_t *
find_ge(memstore_t *m, const void *key, size_t klen, snode_t **update)
{
        snode_t *x = m->head;
        for (int i = m->level - 1; i >= 0; i--) {
                while (x->next[i] && keycmp(nkey(x->next[i]), x->next[i]->klen, key, klen) < 0)
                        x = x->next[i];
                if (update)
                        update[i] = x;
        }
        return x->next[0];
}

static rill_err_t
mem_get(void *impl, rill_bytes_t key, rill_bytes_t *value, char *errstr, size_t errstr_size)
{
        memstore_t *m = impl;
        snode_t *n = find_ge(m, key.data, key.len, NULL);
        if (!n || keycmp(nkey(n), n->klen, key.data, key.len) != 0)
                return RILL_ERR_NOT_FOUND;
        *value = rill_bytes(n->val ? (const void *)n->val : (const void *)"", n->vlen);
        return RILL_OK;
}

static rill_err_t
mem_get_copy(void *impl, rill_bytes_t key, void **value, size_t *len)
{
        memstore_t *m = impl;
        rill_err_t err = RILL_ERR_NOT_FOUND;
        snode_t *n;
        pthread_rwlock_rdlock(&m->lock);
        n = find_ge(m, key.data, key.len, NULL);
        if (n && keycmp(nkey(n), n->klen, key.data, key.len) == 0) {
                *value = rill__malloc(n->vlen + 1);
                if (n->vlen)
                        memcpy(*value, n->val, n->vlen);
                ((char *)*value)[n->vlen] = '\0';
                *len = n->vlen;
                err = RILL_OK;
        }
        pthread_rwlock_unlock(&m->lock);
        return err;
}

static rill_err_t
mem_put(void *impl, rill_bytes_t key, rill_bytes_t value, char *errstr, size_t errstr_size)
{
        memstore_t *m = impl;
        snode_t *update[MAXLVL];
        snode_t *n;
        uint8_t *nv = rill__malloc(value.len ? value.len : 1);

        if (value.len)
                memcpy(nv, value.data, value.len);
        pthread_rwlock_wrlock(&m->lock);
        n = find_ge(m, key.data, key.len, update);
        if (n && keycmp(nkey(n), n->klen, key.data, key.len) == 0) {
                rill__free(n->val);
                n->val = nv;
                n->vlen = value.len;
        } else {
                int lvl = random_level(m);
                if (lvl > m->level) {
                        for (int i = m->level; i < lvl; i++)
                                update[i] = m->head;
                        m->level = lvl;
                }
                n = node_new(lvl, key);
                n->val = nv;
                n->vlen = value.len;
                for (int i = 0; i < lvl; i++) {
                        n->next[i] = update[i]->next[i];
                        update[i]->next[i] = n;
                }
                m->count++;
        }
        pthread_rwlock_unlock(&m->lock);
        return RILL_OK;
}

static rill_err_t
mem_del(void *impl, rill_bytes_t key, char *errstr, size_t errstr_size)
{
        memstore_t *m = impl;
        snode_t *update[MAXLVL];
        snode_t *n;

        pthread_rwlock_wrlock(&m->lock);
        n = find_ge(m, key.data, key.len, update);
        if (n && keycmp(nkey(n), n->klen, key.data, key.len) == 0) {
                for (int i = 0; i < m->level; i++)
                        if (update[i]->next[i] == n)
                                update[i]->next[i] = n->next[i];
                while (m->level > 1 && !m->head->next[m->level - 1])
                        m->level--;
                m->count--;
                rill__free(n->val);
                rill__free(n);
        }
        pthread_rwlock_unlock(&m->lock);
        return RILL_OK;
}

static void *
mem_iter_new(void *impl, rill_bytes_t from, rill_bytes_t to)
{
        memstore_t *m = impl;
        memiter_t *it = RILL__NEW(memiter_t);
        it->cur = from.data ? find_ge(m, from.data, from.len, NULL) : m->head->next[0];
        if (to.data) {
                it->tobuf = rill__malloc(to.len ? to.len : 1);
                memcpy(it->tobuf, to.data, to.len);
                it->to = rill_bytes(it->tobuf, to.len);
        }
        return it;
}

static bool
mem_iter_next(void *p, rill_bytes_t *key, rill_bytes_t *value)
{
        memiter_t *it = p;
        snode_t *n = it->cur;
        if (!n)
                return false;
        if (it->to.data && keycmp(nkey(n), n->klen, it->to.data, it->to.len) > 0) {
                it->cur = NULL;
                return false;
        }
        *key = rill_bytes(n->klen ? (const void *)nkey(n) : (const void *)"", n->klen);
        *value = rill_bytes(n->val ? (const void *)n->val : (const void *)"", n->vlen);
        it->cur = n->next[0];
        return true;
}

static void
mem_iter_free(void *p)
{
        memiter_t *it = p;
        if (!it)
                return;
        rill__free(it->tobuf);
        rill__free(it);
}

static uint64_t
mem_count(void *impl)
{
        return ((memstore_t *)impl)->count;
}

static rill_err_t
mem_flush(void *impl, char *errstr, size_t errstr_size)
{
        return RILL_OK;
}

static void
mem_close(void *impl)
{
        memstore_t *m = impl;
        snode_t *n = m->head;
        while (n) {
                snode_t *next = n->next[0];
                rill__free(n->val);
                rill__free(n);
                n = next;
        }
        pthread_rwlock_destroy(&m->lock);
        rill__free(m);
}

const rill__store_ops_t rill__mem_store_ops = {
        mem_get, mem_put, mem_del, mem_get_copy, mem_iter_new, mem_iter_next, mem_iter_free,
        mem_count, mem_flush, mem_close,
};
