/*
 * store_rocksdb.c - the persistent key-value store: one RocksDB instance per
 * (task, store) under state.dir/<application.id>/<task>/<store>.
 *
 * RocksDB's C API returns malloc()ed error strings and values; they are
 * converted to rill_err_t and freed here, at the boundary. As in Kafka
 * Streams, the write-ahead log is off: the changelog topic is the log. A
 * commit flushes the memtables (flush) before the task's checkpoint is
 * written, so the checkpoint never claims more than the files hold; writes
 * after it that a crash loses are replayed from the changelog.
 * The per-instance memory is kept modest (one 8 MiB block cache and 16 MiB
 * memtables per store instance) because an instance may host many tasks.
 *
 * Concurrency: RocksDB is thread-safe; the last value returned by get is kept
 * per store and belongs to the owning task thread, while interactive
 * queries use get_copy, which allocates.
 */
#include "streams_int.h"

#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

typedef struct rdbstore {
        rocksdb_t *db;
        rocksdb_options_t *opts;
        rocksdb_readoptions_t *ropts;
        rocksdb_writeoptions_t *wopts;
        rocksdb_flushoptions_t *fopts;
        rocksdb_block_based_table_options_t *topts;
        rocksdb_cache_t *cache;
        char *last;
} rdbstore_t;

typedef struct rdbiter {
        rocksdb_iterator_t *it;
        rocksdb_readoptions_t *ropts;
        char *to;
        size_t tolen;
        bool has_to;
        bool started;
} rdbiter_t;

static rill_err_t
rdb_err(char *e, char *errstr, size_t errstr_size, const char *what)
{
        rill__errf(errstr, errstr_size, "rocksdb %s: %s", what, e);
        free(e);
        return RILL_ERR_STORE;
}

static void rdb_close(void *impl);

void *
rill__rocksdb_store_open(const char *path, char *errstr, size_t errstr_size)
{
        rdbstore_t *s = RILL__NEW(rdbstore_t);
        char *e = NULL;

        s->opts = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(s->opts, 1);
        rocksdb_options_set_write_buffer_size(s->opts, 16 << 20);
        rocksdb_options_set_max_write_buffer_number(s->opts, 3);
        /* Aggregations update the same keys over and over: update memtable
         * entries in place instead of stacking versions that every get must
         * skip. Needs single-writer memtables, which a task's store is. */
        rocksdb_options_set_allow_concurrent_memtable_write(s->opts, 0);
        rocksdb_options_set_inplace_update_support(s->opts, 1);
        s->topts = rocksdb_block_based_options_create();
        s->cache = rocksdb_cache_create_lru(8 << 20);
        rocksdb_block_based_options_set_block_cache(s->topts, s->cache);
        rocksdb_block_based_options_set_block_size(s->topts, 4096);
        rocksdb_options_set_block_based_table_factory(s->opts, s->topts);
        s->ropts = rocksdb_readoptions_create();
        s->wopts = rocksdb_writeoptions_create();
        rocksdb_writeoptions_disable_WAL(s->wopts, 1);
        s->fopts = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(s->fopts, 1);
        if (rill__mkdirs(path, 0755) != 0) {
                rill__errf(errstr, errstr_size, "cannot create store directory %s", path);
                rdb_close(s);
                return NULL;
        }
        s->db = rocksdb_open(s->opts, path, &e);
        if (e) {
                rdb_err(e, errstr, errstr_size, "open");
                rdb_close(s);
                return NULL;
        }
        return s;
}

static rill_err_t
rdb_get(void *impl, rill_bytes_t key, rill_bytes_t *value, char *errstr, size_t errstr_size)
{
        rdbstore_t *s = impl;
        char *e = NULL;
        size_t len = 0;
        char *v;

        free(s->last);
        s->last = NULL;
        v = rocksdb_get(s->db, s->ropts, key.data, key.len, &len, &e);
        if (e)
                return rdb_err(e, errstr, errstr_size, "get");
        if (!v)
                return RILL_ERR_NOT_FOUND;
        s->last = v;
        *value = rill_bytes(v, len);
        return RILL_OK;
}

static rill_err_t
rdb_get_copy(void *impl, rill_bytes_t key, void **value, size_t *len)
{
        rdbstore_t *s = impl;
        char *e = NULL;
        size_t n = 0;
        char *v = rocksdb_get(s->db, s->ropts, key.data, key.len, &n, &e);
        if (e) {
                free(e);
                return RILL_ERR_STORE;
        }
        if (!v)
                return RILL_ERR_NOT_FOUND;
        *value = rill__malloc(n + 1);
        memcpy(*value, v, n);
        ((char *)*value)[n] = '\0';
        *len = n;
        free(v);
        return RILL_OK;
}

static rill_err_t
rdb_put(void *impl, rill_bytes_t key, rill_bytes_t value, char *errstr, size_t errstr_size)
{
        rdbstore_t *s = impl;
        char *e = NULL;
        rocksdb_put(s->db, s->wopts, key.data, key.len, value.data ? value.data : "", value.len,
                    &e);
        return e ? rdb_err(e, errstr, errstr_size, "put") : RILL_OK;
}

static rill_err_t
rdb_del(void *impl, rill_bytes_t key, char *errstr, size_t errstr_size)
{
        rdbstore_t *s = impl;
        char *e = NULL;
        rocksdb_delete(s->db, s->wopts, key.data, key.len, &e);
        return e ? rdb_err(e, errstr, errstr_size, "delete") : RILL_OK;
}

static void *
rdb_iter_new(void *impl, rill_bytes_t from, rill_bytes_t to)
{
        rdbstore_t *s = impl;
        rdbiter_t *it = RILL__NEW(rdbiter_t);
        it->ropts = rocksdb_readoptions_create();
        it->it = rocksdb_create_iterator(s->db, it->ropts);
        if (from.data)
                rocksdb_iter_seek(it->it, from.data, from.len);
        else
                rocksdb_iter_seek_to_first(it->it);
        if (to.data) {
                it->to = rill__malloc(to.len ? to.len : 1);
                memcpy(it->to, to.data, to.len);
                it->tolen = to.len;
                it->has_to = true;
        }
        return it;
}

static bool
rdb_iter_next(void *p, rill_bytes_t *key, rill_bytes_t *value)
{
        rdbiter_t *it = p;
        const char *k, *v;
        size_t kl, vl;
        int c;

        if (it->started)
                rocksdb_iter_next(it->it);
        it->started = true;
        if (!rocksdb_iter_valid(it->it))
                return false;
        k = rocksdb_iter_key(it->it, &kl);
        if (it->has_to) {
                c = memcmp(k, it->to, kl < it->tolen ? kl : it->tolen);
                if (c > 0 || (c == 0 && kl > it->tolen))
                        return false;
        }
        v = rocksdb_iter_value(it->it, &vl);
        *key = rill_bytes(k, kl);
        *value = rill_bytes(v ? v : "", vl);
        return true;
}

static void
rdb_iter_free(void *p)
{
        rdbiter_t *it = p;
        if (!it)
                return;
        rocksdb_iter_destroy(it->it);
        rocksdb_readoptions_destroy(it->ropts);
        rill__free(it->to);
        rill__free(it);
}

static uint64_t
rdb_count(void *impl)
{
        rdbstore_t *s = impl;
        uint64_t n = 0;
        if (rocksdb_property_int(s->db, "rocksdb.estimate-num-keys", &n) != 0)
                return 0;
        return n;
}

static rill_err_t
rdb_flush(void *impl, char *errstr, size_t errstr_size)
{
        rdbstore_t *s = impl;
        char *e = NULL;
        rocksdb_flush(s->db, s->fopts, &e);
        return e ? rdb_err(e, errstr, errstr_size, "flush") : RILL_OK;
}

static void
rdb_close(void *impl)
{
        rdbstore_t *s = impl;
        free(s->last);
        if (s->db) {
                char *e = NULL;
                /* Without a write-ahead log, unflushed writes would be lost. */
                rocksdb_flush(s->db, s->fopts, &e);
                free(e);
                rocksdb_close(s->db);
        }
        if (s->ropts)
                rocksdb_readoptions_destroy(s->ropts);
        if (s->wopts)
                rocksdb_writeoptions_destroy(s->wopts);
        if (s->fopts)
                rocksdb_flushoptions_destroy(s->fopts);
        rocksdb_options_destroy(s->opts);
        rocksdb_block_based_options_destroy(s->topts);
        rocksdb_cache_destroy(s->cache);
        rill__free(s);
}

const rill__store_ops_t rill__rocksdb_store_ops = {
        rdb_get, rdb_put, rdb_del, rdb_get_copy, rdb_iter_new, rdb_iter_next, rdb_iter_free,
        rdb_count, rdb_flush, rdb_close,
};
