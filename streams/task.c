/*
 * task.c - a task: one partition of one sub-topology, and the operators.
 *
 * A task owns an instance of every node of its sub-topology (scratch buffers,
 * processor state), the stores of the sub-topology for its partition, its
 * stream time and its punctuation schedules. It runs on exactly one thread at
 * a time (a task thread in the runtime, the caller's thread in the test
 * driver), so nothing here locks.
 *
 * Records flow depth-first: a node processes a record and forwards it to each
 * child before returning, as in Kafka Streams. Stream records carry a value;
 * table records are changes that also carry the previous value
 * (old_value), which is how filters, value mappers and table aggregations
 * retract an old row. Scratch buffers are per (task, node): a node is never
 * re-entered while it is forwarding, because the graph has no cycles.
 *
 * Table group_by writes two records per change into its repartition topic:
 * the old row with a "subtract" flag byte and the new row with an "add" flag
 * byte in front of the serialized value; the aggregation on the other side
 * applies the subtractor or adder.
 */
#include "streams_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CHANGE_ADD 0x01
#define CHANGE_SUBTRACT 0x02

static void process_node(rill__task_t *t, const rill__node_t *n, const rill_record_t *r);

void
rill__task_fail(rill__task_t *t, rill_err_t err, const char *fmt, ...)
{
        va_list ap;
        if (t->err != RILL_OK)
                return;
        t->err = err;
        va_start(ap, fmt);
        vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
        va_end(ap);
        RILL_LOG_E(RILL__LOGC, "task %s: %s", t->id, t->errmsg);
}

static void
forward(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        for (int i = 0; i < n->nchildren && t->err == RILL_OK; i++)
                process_node(t, n->children[i], r);
}

/* A record like @p in with another key, value and old value. */
static rill_record_t
derive(const rill_record_t *in, rill_bytes_t key, rill_bytes_t value, rill_bytes_t old)
{
        rill_record_t r = *in;
        r.key = key;
        r.value = value;
        r.old_value = old;
        r.owned = false;
        return r;
}

static rill_bytes_t
null_bytes(void)
{
        return rill_bytes(NULL, 0);
}

/* Copies @p v into @p buf and returns a view of the copy (null stays null). */
static rill_bytes_t
keep(rill_buf_t *buf, rill_bytes_t v)
{
        if (!v.data)
                return v;
        rill__buf_reset(buf);
        rill_buf_append(buf, v.data, v.len);
        return rill__buf_bytes(buf);
}

/* ---- outputs ---- */

static void
emit_forward(rill_out_t *out, rill_bytes_t key, rill_bytes_t value)
{
        rill__task_t *t = out->emit_opaque;
        const rill__node_t *n = out->emit_opaque2;
        rill_record_t r = derive(out->in, key, value, null_bytes());
        forward(t, n, &r);
}

/* Collects a value (and key) into two buffers; a second emit is rejected by
 * single mode. emit_opaque: value buffer; emit_opaque2: key buffer or NULL. */
static void
emit_collect(rill_out_t *out, rill_bytes_t key, rill_bytes_t value)
{
        rill_buf_t *vb = out->emit_opaque;
        rill_buf_t *kb = out->emit_opaque2;
        rill__buf_reset(vb);
        if (value.data)
                rill_buf_append(vb, value.data, value.len);
        out->null_value = !value.data;
        if (kb) {
                rill__buf_reset(kb);
                if (key.data)
                        rill_buf_append(kb, key.data, key.len);
                out->null_key = !key.data;
        }
}

typedef struct collected {
        bool has;
        rill_bytes_t key;
        rill_bytes_t value;
} collected_t;

/* Runs a single-result callback and returns its result (views into bufs). */
static collected_t
collect(const rill_record_t *in, rill__out_mode_t mode, rill_buf_t *vbuf, rill_buf_t *kbuf,
        void (*call)(rill_out_t *out, const rill_record_t *in, void *a, void *b), void *a, void *b)
{
        rill_out_t out = {0};
        collected_t c = {0};
        out.mode = mode;
        out.single = true;
        out.in = in;
        out.emit = emit_collect;
        out.emit_opaque = vbuf;
        out.emit_opaque2 = kbuf;
        call(&out, in, a, b);
        if (out.count == 0)
                return c;
        c.has = true;
        c.value = out.null_value ? null_bytes() : rill__buf_bytes(vbuf);
        if (kbuf)
                c.key = out.null_key ? null_bytes() : rill__buf_bytes(kbuf);
        return c;
}

static void
call_mapper(rill_out_t *out, const rill_record_t *in, void *a, void *b)
{
        const rill__node_t *n = a;
        n->mapper(in, out, n->opaque);
}

static void
call_init(rill_out_t *out, const rill_record_t *in, void *a, void *b)
{
        const rill__node_t *n = a;
        n->init(out, n->opaque);
}

typedef struct aggcall {
        rill_aggregator_fn *fn;
        rill_bytes_t agg;
} aggcall_t;

static void
call_agg(rill_out_t *out, const rill_record_t *in, void *a, void *b)
{
        const rill__node_t *n = a;
        aggcall_t *ac = b;
        ac->fn(in, ac->agg, out, n->opaque);
}

/* ---- node implementations ---- */

static void
do_map(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill_out_t out = {0};
        out.mode = n->out_mode;
        out.single = n->single;
        out.in = r;
        out.emit = emit_forward;
        out.emit_opaque = t;
        out.emit_opaque2 = (void *)n;
        n->mapper(r, &out, n->opaque);
}

static void
do_split(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        for (int i = 0; i < n->nchildren; i++) {
                const rill__node_t *arm = n->children[i];
                if (!arm->pred || arm->pred(r, arm->opaque)) {
                        forward(t, arm, r);
                        return;
                }
        }
}

static void
send_record(rill__task_t *t, const rill__node_t *n, const char *topic, rill_bytes_t key,
            rill_bytes_t value, const rill_record_t *r)
{
        char err[256];
        rill_err_t e = t->env->send(t->env->opaque, t, topic, -1, key, value, r->timestamp, r, err,
                                    sizeof(err));
        if (e != RILL_OK)
                rill__task_fail(t, e, "sink %s: sending to %s failed: %s", n->name, topic, err);
}

static void
do_sink(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        const char *topic = t->sink_topics[n->id];
        rill_bytes_t k, v;
        char err[256];

        if (!topic) {
                topic = n->extractor(r, n->opaque);
                if (!topic || !*topic) {
                        rill__task_fail(t, RILL_ERR_INVALID_ARG,
                                        "sink %s: the topic extractor returned no topic", n->name);
                        return;
                }
        }
        if (rill__serde_convert(n->kserde, true, r->key, &in->b[0], &k, err, sizeof(err)) != RILL_OK ||
            rill__serde_convert(n->vserde, true, r->value, &in->b[1], &v, err, sizeof(err)) != RILL_OK) {
                rill__task_fail(t, RILL_ERR_SERDE, "sink %s: %s", n->name, err);
                return;
        }
        send_record(t, n, topic, k, v, r);
}

static void
rekey_send(rill__task_t *t, const rill__node_t *n, const rill_record_t *r, rill_bytes_t row,
           uint8_t flag)
{
        rill__node_inst_t *in = &t->inst[n->id];
        rill_record_t rowrec = derive(r, r->key, row, null_bytes());
        collected_t c = collect(&rowrec, RILL__OUT_KV, &in->b[0], &in->b[1], call_mapper, (void *)n,
                                NULL);
        rill_bytes_t k, v;
        char err[256];

        if (!c.has || !c.key.data)
                return; /* selector dropped the row, or null key */
        if (rill__serde_convert(n->kserde, true, c.key, &in->b[2], &k, err, sizeof(err)) != RILL_OK ||
            rill__serde_convert(n->vserde, true, c.value, &in->b[3], &v, err, sizeof(err)) != RILL_OK) {
                rill__task_fail(t, RILL_ERR_SERDE, "table group_by %s: %s", n->name, err);
                return;
        }
        /* b[2] may hold k; build flag+value in a fresh buffer of the task. */
        rill__buf_reset(&t->vscratch);
        rill_buf_append(&t->vscratch, &flag, 1);
        if (v.data)
                rill_buf_append(&t->vscratch, v.data, v.len);
        send_record(t, n, t->sink_topics[n->id], k, rill__buf_bytes(&t->vscratch), r);
}

static void
do_table_rekey(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        if (r->old_value.data)
                rekey_send(t, n, r, r->old_value, CHANGE_SUBTRACT);
        if (r->value.data && t->err == RILL_OK)
                rekey_send(t, n, r, r->value, CHANGE_ADD);
}

static rill_bytes_t
store_get_copy(rill__task_t *t, rill_kv_store_t *s, rill_bytes_t key, rill_buf_t *buf)
{
        rill_bytes_t v;
        if (rill_kv_store_get(s, key, &v) != RILL_OK)
                return null_bytes();
        return keep(buf, v);
}

static void
store_write(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t value)
{
        if (value.data)
                rill_kv_store_put(s, key, value);
        else
                rill_kv_store_delete(s, key);
}

static void
forward_change(rill__task_t *t, const rill__node_t *n, const rill_record_t *r, rill_bytes_t key,
               rill_bytes_t newv, rill_bytes_t oldv)
{
        rill_record_t c = derive(r, key, newv, oldv);
        if (t->err == RILL_OK)
                forward(t, n, &c);
}

/* Writes a table update to the node's store (if any) and forwards the
 * change; with a record cache the update waits in the cache instead. */
static void
emit_update(rill__task_t *t, const rill__node_t *n, rill_kv_store_t *s, const rill_record_t *r,
            rill_bytes_t newv, rill_bytes_t oldv)
{
        if (s && s->cache) {
                rill_bytes_t first_old = oldv, cached;
                /* The old value to forward is the one before the first
                 * cached update: keep it if the key is already cached. */
                if (rill__cache_get(s->cache, r->key, &cached) != RILL_DECLINED)
                        first_old = rill_bytes(NULL, 0);
                if (rill__cache_put(s->cache, r->key, newv, first_old, r->timestamp))
                        rill__task_flush_caches(t);
                return;
        }
        if (s)
                store_write(s, r->key, newv);
        forward_change(t, n, r, r->key, newv, oldv);
}

typedef struct flush_ctx {
        rill__task_t *task;
        rill_kv_store_t *store;
} flush_ctx_t;

static void
flush_entry(void *opaque, rill_bytes_t key, rill_bytes_t value, rill_bytes_t old, int64_t ts)
{
        flush_ctx_t *fc = opaque;
        rill__task_t *t = fc->task;
        int64_t saved = t->cur_ts;
        rill_record_t r;

        if (t->err != RILL_OK)
                return;
        memset(&r, 0, sizeof(r));
        r.key = key;
        r.timestamp = ts;
        r.partition = t->partition;
        r.offset = -1;
        t->cur_ts = ts;
        store_write(fc->store, key, value);
        forward_change(t, fc->store->cache_node, &r, key, value, old);
        t->cur_ts = saved;
}

void
rill__task_flush_caches(rill__task_t *t)
{
        for (int i = 0; i < t->topo->nstores; i++) {
                rill_kv_store_t *s = t->stores[i];
                flush_ctx_t fc = {t, s};
                if (s && rill__cache_dirty(s->cache))
                        rill__cache_flush(s->cache, flush_entry, &fc);
        }
}

bool
rill__task_cache_dirty(const rill__task_t *t)
{
        for (int i = 0; i < t->topo->nstores; i++)
                if (t->stores[i] && rill__cache_dirty(t->stores[i]->cache))
                        return true;
        return false;
}

static void
do_stream_agg(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        rill_kv_store_t *s = t->stores[n->store];
        rill_bytes_t old, newv;
        uint8_t cnt[8];

        if (!r->key.data || !r->value.data) {
                t->dropped++;
                return;
        }
        old = store_get_copy(t, s, r->key, &in->b[0]);
        switch (n->agg_kind) {
        case RILL__AGG_COUNT: {
                int64_t c = 0;
                if (old.data && rill_bytes_i64(old, &c) != RILL_OK)
                        c = 0;
                rill_i64_encode(c + 1, cnt);
                newv = rill_bytes(cnt, 8);
                break;
        }
        case RILL__AGG_REDUCE: {
                aggcall_t ac = {n->agg, old};
                collected_t c;
                if (!old.data) {
                        newv = r->value;
                        break;
                }
                c = collect(r, RILL__OUT_VALUE, &in->b[1], NULL, call_agg, (void *)n, &ac);
                newv = c.has ? c.value : null_bytes();
                break;
        }
        default: {
                aggcall_t ac = {n->agg, old};
                collected_t c;
                if (!old.data) {
                        c = collect(r, RILL__OUT_VALUE, &in->b[2], NULL, call_init, (void *)n, NULL);
                        ac.agg = c.has ? c.value : null_bytes();
                }
                c = collect(r, RILL__OUT_VALUE, &in->b[1], NULL, call_agg, (void *)n, &ac);
                newv = c.has ? c.value : null_bytes();
                break;
        }
        }
        emit_update(t, n, s, r, newv, old);
}

static void
do_to_table(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        rill_kv_store_t *s = t->stores[n->store];
        rill_bytes_t old;
        if (!r->key.data) {
                t->dropped++;
                return;
        }
        old = store_get_copy(t, s, r->key, &in->b[0]);
        emit_update(t, n, s, r, r->value, old);
}

static bool
table_keep(const rill__node_t *n, const rill_record_t *r, rill_bytes_t v)
{
        rill_record_t row;
        if (!v.data)
                return false;
        row = derive(r, r->key, v, null_bytes());
        return n->pred(&row, n->opaque) != n->negate;
}

static void
do_table_filter(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill_bytes_t newv = table_keep(n, r, r->value) ? r->value : null_bytes();
        rill_bytes_t oldv = table_keep(n, r, r->old_value) ? r->old_value : null_bytes();
        if (!newv.data && !oldv.data)
                return;
        emit_update(t, n, n->store >= 0 ? t->stores[n->store] : NULL, r, newv, oldv);
}

static rill_bytes_t
table_map(const rill__node_t *n, const rill_record_t *r, rill_bytes_t v, rill_buf_t *buf)
{
        rill_record_t row;
        collected_t c;
        if (!v.data)
                return null_bytes();
        row = derive(r, r->key, v, null_bytes());
        c = collect(&row, RILL__OUT_VALUE, buf, NULL, call_mapper, (void *)n, NULL);
        return c.has ? c.value : null_bytes();
}

static void
do_table_map_values(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        rill_bytes_t newv = table_map(n, r, r->value, &in->b[0]);
        rill_bytes_t oldv = table_map(n, r, r->old_value, &in->b[1]);
        emit_update(t, n, n->store >= 0 ? t->stores[n->store] : NULL, r, newv, oldv);
}

static void
do_table_agg(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        rill_kv_store_t *s = t->stores[n->store];
        const uint8_t *p = r->value.data;
        rill_bytes_t old, newv, v;
        rill_record_t row;
        uint8_t flag, cnt[8];
        char err[256];

        if (!r->key.data || !p || r->value.len < 1) {
                t->dropped++;
                return;
        }
        flag = p[0];
        if (rill__serde_convert(n->vserde, false, rill_bytes(p + 1, r->value.len - 1), &in->b[3], &v,
                                err, sizeof(err)) != RILL_OK) {
                rill__task_fail(t, RILL_ERR_SERDE, "%s: %s", n->name, err);
                return;
        }
        row = derive(r, r->key, v, null_bytes());
        old = store_get_copy(t, s, r->key, &in->b[0]);
        if (flag == CHANGE_SUBTRACT && !old.data)
                return; /* nothing to retract */
        switch (n->agg_kind) {
        case RILL__AGG_COUNT: {
                int64_t c = 0;
                if (old.data && rill_bytes_i64(old, &c) != RILL_OK)
                        c = 0;
                rill_i64_encode(flag == CHANGE_SUBTRACT ? c - 1 : c + 1, cnt);
                newv = rill_bytes(cnt, 8);
                break;
        }
        case RILL__AGG_REDUCE:
        case RILL__AGG_AGGREGATE: {
                aggcall_t ac = {flag == CHANGE_SUBTRACT ? n->sub_agg : n->agg, old};
                collected_t c;
                if (flag == CHANGE_ADD && !old.data) {
                        if (n->agg_kind == RILL__AGG_REDUCE) {
                                newv = v;
                                break;
                        }
                        c = collect(&row, RILL__OUT_VALUE, &in->b[2], NULL, call_init, (void *)n,
                                    NULL);
                        ac.agg = c.has ? c.value : null_bytes();
                }
                c = collect(&row, RILL__OUT_VALUE, &in->b[1], NULL, call_agg, (void *)n, &ac);
                newv = c.has ? c.value : null_bytes();
                break;
        }
        default:
                return;
        }
        emit_update(t, n, s, r, newv, old);
}

static void
do_processor(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        rill__node_inst_t *in = &t->inst[n->id];
        const rill_record_t *saved = in->ctx.current;
        in->ctx.current = r;
        n->ops.process(&in->ctx, r, in->ctx.state);
        in->ctx.current = saved;
}

static void
process_node(rill__task_t *t, const rill__node_t *n, const rill_record_t *r)
{
        if (t->err != RILL_OK)
                return;
        switch (n->kind) {
        case RILL__N_SOURCE:
        case RILL__N_BRANCH:
        case RILL__N_MERGE:
                forward(t, n, r);
                break;
        case RILL__N_FILTER:
                if (n->pred(r, n->opaque) != n->negate)
                        forward(t, n, r);
                break;
        case RILL__N_MAP:
                do_map(t, n, r);
                break;
        case RILL__N_PEEK:
                n->action(r, n->opaque);
                forward(t, n, r);
                break;
        case RILL__N_SPLIT:
                do_split(t, n, r);
                break;
        case RILL__N_SINK:
                do_sink(t, n, r);
                break;
        case RILL__N_STREAM_AGG:
                do_stream_agg(t, n, r);
                break;
        case RILL__N_TO_TABLE:
                do_to_table(t, n, r);
                break;
        case RILL__N_TABLE_FILTER:
                do_table_filter(t, n, r);
                break;
        case RILL__N_TABLE_MAP_VALUES:
                do_table_map_values(t, n, r);
                break;
        case RILL__N_TABLE_TO_STREAM: {
                rill_record_t s = derive(r, r->key, r->value, null_bytes());
                forward(t, n, &s);
                break;
        }
        case RILL__N_TABLE_REKEY:
                do_table_rekey(t, n, r);
                break;
        case RILL__N_TABLE_AGG:
                do_table_agg(t, n, r);
                break;
        case RILL__N_PROCESSOR:
                do_processor(t, n, r);
                break;
        }
}

/* ---- task lifecycle ---- */

rill__task_t *
rill__task_new(const rill_topology_t *topo, int sub, int32_t partition,
               const rill__task_env_t *env, char *errstr, size_t errstr_size)
{
        rill__task_t *t = RILL__NEW(rill__task_t);
        const rill__sub_def_t *sd = &topo->subs[sub];

        t->topo = topo;
        t->env = env;
        t->sub = sub;
        t->partition = partition;
        snprintf(t->id, sizeof(t->id), "%d_%d", sub, (int)partition);
        t->dir = rill__asprintf("%s/%s", env->state_dir, t->id);
        t->inst = rill__calloc((size_t)topo->nnodes, sizeof(rill__node_inst_t));
        t->stores = rill__calloc((size_t)(topo->nstores ? topo->nstores : 1), sizeof(rill_kv_store_t *));
        t->sink_topics = rill__calloc((size_t)topo->nnodes, sizeof(char *));
        t->stream_time = INT64_MIN;
        t->next_punct_id = 1;

        for (int i = 0; i < sd->nnodes; i++) {
                const rill__node_t *n = topo->nodes[sd->nodes[i]];
                if ((n->kind == RILL__N_SINK || n->kind == RILL__N_TABLE_REKEY) && n->topic)
                        t->sink_topics[n->id] = n->internal ? rill__repart_topic(env->app_id,
                                                                  &topo->reparts[n->repart])
                                                            : rill__strdup(n->topic);
                if (n->kind == RILL__N_SOURCE && !n->pattern) {
                        for (int k = 0; k < n->ntopics; k++) {
                                t->sources = rill__realloc(t->sources, sizeof(*t->sources) *
                                                                               (size_t)(t->nsources + 1));
                                t->sources[t->nsources].topic =
                                        n->internal ? rill__repart_topic(env->app_id,
                                                                         &topo->reparts[n->repart])
                                                    : rill__strdup(n->topics[k]);
                                t->sources[t->nsources].node = n;
                                t->nsources++;
                        }
                }
        }
        for (int i = 0; i < sd->nstores; i++) {
                int idx = sd->stores[i];
                t->stores[idx] = rill__store_open(t, idx, errstr, errstr_size);
                if (!t->stores[idx]) {
                        rill__task_destroy(t);
                        return NULL;
                }
        }
        /* DSL stores: the node that forwards their updates, and the record
         * cache when the store asks for one. */
        for (int i = 0; i < sd->nnodes; i++) {
                const rill__node_t *n = topo->nodes[sd->nodes[i]];
                rill_kv_store_t *st = n->store >= 0 ? t->stores[n->store] : NULL;
                if (!st || n->kind == RILL__N_PROCESSOR)
                        continue;
                st->cache_node = n;
                /* A budget of 0 (statestore.cache.max.bytes=0) turns caching off. */
                if (topo->stores[n->store].caching && env->cache_budget > 0 && !st->cache)
                        st->cache = rill__cache_new(env->cache_budget);
        }
        return t;
}

rill_err_t
rill__task_init(rill__task_t *t)
{
        const rill__sub_def_t *sd = &t->topo->subs[t->sub];
        for (int i = 0; i < sd->nnodes && t->err == RILL_OK; i++) {
                const rill__node_t *n = t->topo->nodes[sd->nodes[i]];
                rill__node_inst_t *in = &t->inst[n->id];
                if (n->kind != RILL__N_PROCESSOR)
                        continue;
                in->ctx.task = t;
                in->ctx.node = n;
                in->inited = true;
                if (n->ops.init) {
                        rill_err_t e = n->ops.init(&in->ctx, n->opaque, &in->ctx.state);
                        if (e != RILL_OK)
                                rill__task_fail(t, e, "processor %s: init failed", n->name);
                }
        }
        t->inited = true;
        return t->err;
}

static void
punctuate(rill__task_t *t, rill_punctuation_type_t type, int64_t now)
{
        if (now == INT64_MIN)
                return;
        for (int i = 0; i < t->npuncts && t->err == RILL_OK; i++) {
                rill__punct_t *p = &t->puncts[i];
                int64_t saved = t->cur_ts;
                if (p->cancelled || p->type != type || now < p->next)
                        continue;
                /* Fire once, then skip to the next aligned time after now. */
                p->next = p->next + ((now - p->next) / p->interval + 1) * p->interval;
                t->cur_ts = now;
                p->fn(p->ctx, now, p->opaque);
                t->cur_ts = saved;
                p = &t->puncts[i]; /* the callback may have grown the array */
        }
}

rill_err_t
rill__task_process(rill__task_t *t, const char *topic, int32_t partition, int64_t offset,
                   rill_bytes_t key, rill_bytes_t value, int64_t timestamp,
                   const rill_header_t *headers, size_t nheaders, void *rk_headers)
{
        const rill__node_t *src = NULL;
        rill_record_t r;
        rill_bytes_t k, v;
        char err[256];

        if (t->err != RILL_OK)
                return t->err;
        for (int i = 0; i < t->nsources; i++) {
                if (!strcmp(t->sources[i].topic, topic)) {
                        src = t->sources[i].node;
                        break;
                }
        }
        if (!src) {
                const rill__sub_def_t *sd = &t->topo->subs[t->sub];
                for (int i = 0; i < sd->nsources && !src; i++) {
                        const rill__node_t *n = t->topo->nodes[sd->sources[i]];
                        if (n->pattern && rill__source_matches(t->topo, n, t->env->app_id, topic))
                                src = n;
                }
        }
        if (!src) {
                rill__task_fail(t, RILL_ERR_NOT_FOUND, "no source reads topic %s", topic);
                return t->err;
        }
        if (rill__serde_convert(src->kserde, false, key, &t->kscratch, &k, err, sizeof(err)) != RILL_OK ||
            rill__serde_convert(src->vserde, false, value, &t->vscratch, &v, err, sizeof(err)) != RILL_OK) {
                if (t->env->deser_continue) {
                        t->skipped++;
                        RILL_LOG_W(RILL__LOGC,
                                   "task %s: skipping record %s[%d]@%lld that failed "
                                   "deserialization: %s",
                                   t->id, topic, (int)partition, (long long)offset, err);
                        return RILL_OK;
                }
                rill__task_fail(t, RILL_ERR_SERDE,
                                "record %s[%d]@%lld failed deserialization: %s (set "
                                "default.deserialization.exception.handler=log_and_continue to "
                                "skip such records)",
                                topic, (int)partition, (long long)offset, err);
                return t->err;
        }
        memset(&r, 0, sizeof(r));
        r.key = k;
        r.value = v;
        r.timestamp = timestamp;
        r.topic = topic;
        r.partition = partition;
        r.offset = offset;
        r.headers = headers;
        r.nheaders = nheaders;
        r.rk_headers = rk_headers;
        if (timestamp > t->stream_time)
                t->stream_time = timestamp;
        t->cur_ts = timestamp;
        process_node(t, src, &r);
        t->processed++;
        if (t->err == RILL_OK)
                punctuate(t, RILL_PUNCTUATE_STREAM_TIME, t->stream_time);
        return t->err;
}

rill_err_t
rill__task_punctuate_wall(rill__task_t *t, int64_t now)
{
        if (t->err == RILL_OK)
                punctuate(t, RILL_PUNCTUATE_WALL_CLOCK_TIME, now);
        return t->err;
}

int64_t
rill__task_next_wall(const rill__task_t *t)
{
        int64_t next = INT64_MAX;
        for (int i = 0; i < t->npuncts; i++)
                if (!t->puncts[i].cancelled && t->puncts[i].type == RILL_PUNCTUATE_WALL_CLOCK_TIME &&
                    t->puncts[i].next < next)
                        next = t->puncts[i].next;
        return next;
}

rill_err_t
rill__task_flush(rill__task_t *t)
{
        for (int i = 0; i < t->topo->nstores; i++) {
                char err[256];
                rill_kv_store_t *s = t->stores[i];
                if (s && s->ops->flush(s->impl, err, sizeof(err)) != RILL_OK) {
                        rill__task_fail(t, RILL_ERR_STORE, "store %s: flush failed: %s", s->name, err);
                        return t->err;
                }
        }
        return RILL_OK;
}

void
rill__task_destroy(rill__task_t *t)
{
        if (!t)
                return;
        for (int i = 0; i < t->topo->nnodes; i++) {
                const rill__node_t *n = t->topo->nodes[i];
                rill__node_inst_t *in = &t->inst[i];
                if (n->kind == RILL__N_PROCESSOR && in->inited && n->ops.close)
                        n->ops.close(&in->ctx, in->ctx.state);
                for (int b = 0; b < 4; b++)
                        rill__buf_free(&in->b[b]);
                rill__free(t->sink_topics[i]);
        }
        for (int i = 0; i < t->topo->nstores; i++)
                rill__store_close(t->stores[i]);
        for (int i = 0; i < t->nsources; i++)
                rill__free(t->sources[i].topic);
        rill__buf_free(&t->kscratch);
        rill__buf_free(&t->vscratch);
        rill__free(t->sources);
        rill__free(t->sink_topics);
        rill__free(t->stores);
        rill__free(t->inst);
        rill__free(t->puncts);
        rill__free(t->dir);
        rill__free(t);
}

/* ---- processor context ---- */

static rill_err_t
ctx_forward(rill_ctx_t *ctx, const char *child, rill_bytes_t key, rill_bytes_t value,
            int64_t timestamp, const rill_header_t *headers, size_t nheaders)
{
        rill__task_t *t = ctx->task;
        const rill__node_t *n = ctx->node;
        rill_record_t r;
        int64_t saved = t->cur_ts;
        bool found = child == NULL;

        if (ctx->current) {
                r = derive(ctx->current, key, value, null_bytes());
        } else {
                memset(&r, 0, sizeof(r));
                r.key = key;
                r.value = value;
                r.partition = t->partition;
                r.offset = -1;
        }
        r.timestamp = timestamp;
        if (headers || nheaders) {
                r.headers = headers;
                r.nheaders = nheaders;
                r.rk_headers = NULL;
        }
        t->cur_ts = timestamp;
        for (int i = 0; i < n->nchildren && t->err == RILL_OK; i++) {
                if (child && strcmp(n->children[i]->name, child))
                        continue;
                found = true;
                process_node(t, n->children[i], &r);
        }
        t->cur_ts = saved;
        if (!found)
                return RILL_ERR_NOT_FOUND;
        return t->err;
}

rill_err_t
rill_ctx_forward(rill_ctx_t *ctx, rill_bytes_t key, rill_bytes_t value, int64_t timestamp)
{
        return ctx_forward(ctx, NULL, key, value, timestamp, NULL, 0);
}

rill_err_t
rill_ctx_forward_ex(rill_ctx_t *ctx, const char *child, rill_bytes_t key, rill_bytes_t value,
                    int64_t timestamp, const rill_header_t *headers, size_t nheaders)
{
        return ctx_forward(ctx, child, key, value, timestamp, headers, nheaders);
}

rill_kv_store_t *
rill_ctx_store(rill_ctx_t *ctx, const char *name)
{
        const rill__node_t *n = ctx->node;
        for (int i = 0; i < n->nstores; i++)
                if (!strcmp(ctx->task->topo->stores[n->stores[i]].name, name))
                        return ctx->task->stores[n->stores[i]];
        return NULL;
}

int64_t
rill_ctx_schedule(rill_ctx_t *ctx, int64_t interval_ms, rill_punctuation_type_t type,
                  rill_punctuator_fn *fn, void *opaque)
{
        rill__task_t *t = ctx->task;
        rill__punct_t *p;
        if (interval_ms <= 0 || !fn)
                return -1;
        t->puncts = rill__realloc(t->puncts, sizeof(*t->puncts) * (size_t)(t->npuncts + 1));
        p = &t->puncts[t->npuncts++];
        memset(p, 0, sizeof(*p));
        p->id = t->next_punct_id++;
        p->interval = interval_ms;
        p->type = type;
        p->fn = fn;
        p->opaque = opaque;
        p->ctx = ctx;
        /* Stream time: aligned to 0, fires as soon as there is data.
         * Wall clock: first at now + interval. */
        p->next = type == RILL_PUNCTUATE_STREAM_TIME ? 0
                                                     : t->env->wall_clock(t->env->opaque) + interval_ms;
        return p->id;
}

rill_err_t
rill_ctx_cancel(rill_ctx_t *ctx, int64_t id)
{
        rill__task_t *t = ctx->task;
        for (int i = 0; i < t->npuncts; i++) {
                if (t->puncts[i].id == id && !t->puncts[i].cancelled) {
                        t->puncts[i].cancelled = true;
                        return RILL_OK;
                }
        }
        return RILL_ERR_NOT_FOUND;
}

int64_t
rill_ctx_stream_time(const rill_ctx_t *ctx)
{
        return ctx->task->stream_time;
}

int64_t
rill_ctx_wall_clock(const rill_ctx_t *ctx)
{
        return ctx->task->env->wall_clock(ctx->task->env->opaque);
}

const char *
rill_ctx_task_id(const rill_ctx_t *ctx)
{
        return ctx->task->id;
}

int32_t
rill_ctx_partition(const rill_ctx_t *ctx)
{
        return ctx->task->partition;
}

const char *
rill_ctx_application_id(const rill_ctx_t *ctx)
{
        return ctx->task->env->app_id;
}

void
rill_ctx_request_commit(rill_ctx_t *ctx)
{
        ctx->task->commit_requested = true;
}

void
rill_ctx_fail(rill_ctx_t *ctx, rill_err_t err, const char *msg)
{
        rill__task_fail(ctx->task, err == RILL_OK ? RILL_ERR_STATE : err, "processor %s: %s",
                        ctx->node->name, msg ? msg : "failed");
}

void
rill__order_by_head_ts(void **items, const void *const *topic, const int32_t *partition,
                       const int64_t *ts, int n)
{
        int head[RILL__ORDER_MAX], next[RILL__ORDER_MAX], last[RILL__ORDER_MAX];
        int idx[RILL__ORDER_MAX], np = 0;
        void *out[RILL__ORDER_MAX];

        if (n < 2 || n > RILL__ORDER_MAX)
                return;
        /* One list per partition, in arrival order. */
        for (int i = 0; i < n; i++) {
                int p;
                for (p = 0; p < np; p++)
                        if (topic[idx[p]] == topic[i] && partition[idx[p]] == partition[i])
                                break;
                next[i] = -1;
                if (p == np) {
                        idx[np] = head[np] = last[np] = i;
                        np++;
                } else {
                        next[last[p]] = i;
                        last[p] = i;
                }
        }
        if (np < 2)
                return;
        /* Merge: the lowest head timestamp first; ties go to the partition
         * seen first. */
        for (int k = 0; k < n; k++) {
                int best = -1;
                for (int p = 0; p < np; p++)
                        if (head[p] >= 0 && (best < 0 || ts[head[p]] < ts[head[best]]))
                                best = p;
                out[k] = items[head[best]];
                head[best] = next[head[best]];
        }
        memcpy(items, out, sizeof(void *) * (size_t)n);
}
