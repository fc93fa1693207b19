/*
 * store.c - the public key-value store object: a backend (RocksDB or
 * in-memory, behind rill__store_ops_t) plus changelog logging.
 *
 * Every put and delete made through the public API is applied to the backend
 * and then sent to the store's changelog partition (the task's partition)
 * through the task environment, serialized with the store's serdes and
 * stamped with the timestamp of the record being processed. Restoring writes
 * to the backend only.
 */
#include "streams_int.h"

#include <string.h>

rill_kv_store_t *
rill__store_open(rill__task_t *task, int idx, char *errstr, size_t errstr_size)
{
        const rill__store_def_t *def = &task->topo->stores[idx];
        rill_store_type_t type = def->type == RILL_STORE_DEFAULT ? task->env->default_store
                                                                 : def->type;
        rill_kv_store_t *s = RILL__NEW(rill_kv_store_t);

        s->name = rill__strdup(def->name);
        s->task = task;
        s->def = def;
        if (type == RILL_STORE_IN_MEMORY) {
                s->ops = &rill__mem_store_ops;
                s->impl = rill__mem_store_open();
        } else {
                char *path = rill__asprintf("%s/%s", task->dir, def->name);
                s->ops = &rill__rocksdb_store_ops;
                s->impl = rill__rocksdb_store_open(path, errstr, errstr_size);
                rill__free(path);
                if (!s->impl) {
                        rill__free(s->name);
                        rill__free(s);
                        return NULL;
                }
        }
        if (def->logging)
                s->changelog = rill__changelog_topic(task->env->app_id, def);
        return s;
}

void
rill__store_close(rill_kv_store_t *s)
{
        if (!s)
                return;
        rill__cache_free(s->cache);
        s->ops->close(s->impl);
        rill__buf_free(&s->kbuf);
        rill__buf_free(&s->vbuf);
        rill__free(s->changelog);
        rill__free(s->name);
        rill__free(s);
}

const char *
rill_kv_store_name(const rill_kv_store_t *s)
{
        return s->name;
}

rill_err_t
rill_kv_store_get(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t *value)
{
        char err[256];
        rill_err_t r;
        if (!key.data)
                return RILL_ERR_NOT_FOUND;
        if (s->cache && (r = rill__cache_get(s->cache, key, value)) != RILL_DECLINED)
                return r;
        r = s->ops->get(s->impl, key, value, err, sizeof(err));
        if (r != RILL_OK && r != RILL_ERR_NOT_FOUND)
                RILL_LOG_E(RILL__LOGC, "store %s: %s", s->name, err);
        return r;
}

static rill_err_t
log_change(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t value)
{
        char err[256];
        rill_bytes_t k, v;
        rill__task_t *t = s->task;
        rill_err_t r;

        if (!s->changelog)
                return RILL_OK;
        r = rill__serde_convert(s->def->kserde, true, key, &s->kbuf, &k, err, sizeof(err));
        if (r == RILL_OK)
                r = rill__serde_convert(s->def->vserde, true, value, &s->vbuf, &v, err,
                                        sizeof(err));
        if (r == RILL_OK)
                r = t->env->send(t->env->opaque, t, s->changelog, t->partition, k, v, t->cur_ts,
                                 NULL, err, sizeof(err));
        if (r != RILL_OK)
                rill__task_fail(t, r, "store %s: changelog write failed: %s", s->name, err);
        return r;
}

rill_err_t
rill_kv_store_put(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t value)
{
        char err[256];
        rill_err_t r;

        if (!key.data)
                return RILL_ERR_INVALID_ARG;
        if (!value.data)
                return rill_kv_store_delete(s, key);
        r = s->ops->put(s->impl, key, value, err, sizeof(err));
        if (r != RILL_OK) {
                rill__task_fail(s->task, r, "store %s: %s", s->name, err);
                return r;
        }
        return log_change(s, key, value);
}

rill_err_t
rill_kv_store_delete(rill_kv_store_t *s, rill_bytes_t key)
{
        char err[256];
        rill_err_t r;

        if (!key.data)
                return RILL_ERR_INVALID_ARG;
        r = s->ops->del(s->impl, key, err, sizeof(err));
        if (r != RILL_OK) {
                rill__task_fail(s->task, r, "store %s: %s", s->name, err);
                return r;
        }
        return log_change(s, key, rill_bytes(NULL, 0));
}

rill_err_t
rill__store_restore_put(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t wire_value,
                        char *errstr, size_t errstr_size)
{
        rill_bytes_t k, v;
        rill_err_t r;

        if (!key.data)
                return RILL_OK;
        r = rill__serde_convert(s->def->kserde, false, key, &s->kbuf, &k, errstr, errstr_size);
        if (r != RILL_OK)
                return r;
        if (!wire_value.data)
                return s->ops->del(s->impl, k, errstr, errstr_size);
        r = rill__serde_convert(s->def->vserde, false, wire_value, &s->vbuf, &v, errstr,
                                errstr_size);
        if (r != RILL_OK)
                return r;
        return s->ops->put(s->impl, k, v, errstr, errstr_size);
}

rill_err_t
rill__store_get_copy(rill_kv_store_t *s, rill_bytes_t key, void **value, size_t *len)
{
        return s->ops->get_copy(s->impl, key, value, len);
}

rill_kv_iter_t *
rill_kv_store_range(rill_kv_store_t *s, rill_bytes_t from, rill_bytes_t to)
{
        rill_kv_iter_t *it = RILL__NEW(rill_kv_iter_t);
        it->ops = s->ops;
        it->it = s->ops->iter_new(s->impl, from, to);
        return it;
}

rill_kv_iter_t *
rill_kv_store_all(rill_kv_store_t *s)
{
        return rill_kv_store_range(s, rill_bytes(NULL, 0), rill_bytes(NULL, 0));
}

bool
rill_kv_iter_next(rill_kv_iter_t *it, rill_bytes_t *key, rill_bytes_t *value)
{
        return it->ops->iter_next(it->it, key, value);
}

void
rill_kv_iter_destroy(rill_kv_iter_t *it)
{
        if (!it)
                return;
        it->ops->iter_free(it->it);
        rill__free(it);
}

uint64_t
rill_kv_store_approx_count(rill_kv_store_t *s)
{
        return s->ops->count(s->impl);
}
