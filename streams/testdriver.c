/*
 * testdriver.c - runs a topology synchronously in the caller's thread.
 *
 * The driver is a task environment (rill__task_env_t) like the runtime: tasks,
 * operators and stores are the production code. What differs is the outside:
 * topics are in-memory logs, "sending" appends to them, and a record sent to
 * a topic that the topology itself reads (a repartition topic, or a user
 * topic used as both sink and source) is queued and processed before
 * rill_test_driver_pipe() returns, in FIFO order. Wall-clock time is a
 * counter moved by rill_test_driver_advance_wall_clock().
 *
 * Partition counts are fixed at the first pipe: declared topics keep their
 * count, others have one partition, and internal topics get the counts the
 * runtime would compute (rill__topo_partitions()). Every task
 * (sub-topology x partition) is created and initialized then, so wall-clock
 * punctuators of every task run.
 */
#include "streams_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct td_topic {
        char *name;
        int32_t partitions;
        rill_record_t **recs;
        size_t n;
        size_t cap;
        size_t read;
        int64_t *next_offset;
} td_topic_t;

typedef struct td_pending {
        int topic;
        size_t idx;
} td_pending_t;

struct rill_test_driver_s {
        const rill_topology_t *topo;
        char *app_id;
        char *state_root;
        char *state_dir;
        bool own_state;
        rill__task_env_t env;
        td_topic_t *topics;
        int ntopics;
        bool started;
        int32_t *sub_parts;
        int32_t *repart_parts;
        rill__task_t ***tasks;
        td_pending_t *pending;
        size_t npending;
        size_t pending_cap;
        size_t pending_head;
        int64_t wall;
        int64_t commit_interval;         /* > 0: commit on the mocked clock */
        int64_t next_commit;
        char errmsg[512];
};

static td_topic_t *
topic_get(rill_test_driver_t *td, const char *name, bool create)
{
        for (int i = 0; i < td->ntopics; i++)
                if (!strcmp(td->topics[i].name, name))
                        return &td->topics[i];
        if (!create)
                return NULL;
        td->topics = rill__realloc(td->topics, sizeof(td_topic_t) * (size_t)(td->ntopics + 1));
        memset(&td->topics[td->ntopics], 0, sizeof(td_topic_t));
        td->topics[td->ntopics].name = rill__strdup(name);
        td->topics[td->ntopics].partitions = 1;
        return &td->topics[td->ntopics++];
}

static int
consuming_sub(const rill_test_driver_t *td, const char *topic)
{
        for (int s = 0; s < td->topo->nsubs; s++) {
                const rill__sub_def_t *sd = &td->topo->subs[s];
                for (int i = 0; i < sd->nsources; i++)
                        if (rill__source_matches(td->topo, td->topo->nodes[sd->sources[i]],
                                                 td->app_id, topic))
                                return s;
        }
        return -1;
}

static int64_t
td_wall_clock(void *opaque)
{
        return ((rill_test_driver_t *)opaque)->wall;
}

static int32_t
partitions_of_internal(rill_test_driver_t *td, const char *topic)
{
        for (int r = 0; r < td->topo->nreparts; r++) {
                char *name = rill__repart_topic(td->app_id, &td->topo->reparts[r]);
                bool eq = !strcmp(name, topic);
                rill__free(name);
                if (eq)
                        return td->repart_parts[r];
        }
        for (int s = 0; s < td->topo->nstores; s++) {
                char *name = rill__changelog_topic(td->app_id, &td->topo->stores[s]);
                bool eq = !strcmp(name, topic);
                rill__free(name);
                if (eq && td->topo->stores[s].sub >= 0)
                        return td->sub_parts[td->topo->stores[s].sub];
        }
        return 0;
}

static rill_err_t
td_send(void *opaque, rill__task_t *task, const char *topic, int32_t partition, rill_bytes_t key,
        rill_bytes_t value, int64_t timestamp, const rill_record_t *headers_from, char *errstr,
        size_t errstr_size)
{
        rill_test_driver_t *td = opaque;
        td_topic_t *tp = topic_get(td, topic, false);
        rill_record_t r, *c;

        if (!tp) {
                int32_t n = partitions_of_internal(td, topic);
                tp = topic_get(td, topic, true);
                if (n > 0)
                        tp->partitions = n;
        }
        if (!tp->next_offset)
                tp->next_offset = rill__calloc((size_t)tp->partitions, sizeof(int64_t));
        if (partition < 0)
                partition = rill__partition_for_key(key, tp->partitions);
        if (partition >= tp->partitions) {
                rill__errf(errstr, errstr_size, "partition %d of %s does not exist", (int)partition,
                           topic);
                return RILL_ERR_INVALID_ARG;
        }
        memset(&r, 0, sizeof(r));
        if (headers_from) {
                r = *headers_from;
                r.old_value = rill_bytes(NULL, 0);
        }
        r.key = key;
        r.value = value;
        r.timestamp = timestamp;
        r.partition = partition;
        r.offset = tp->next_offset[partition]++;
        c = rill__record_copy(&r, topic);
        if (tp->n == tp->cap) {
                tp->cap = tp->cap ? tp->cap * 2 : 64;
                tp->recs = rill__realloc(tp->recs, sizeof(*tp->recs) * tp->cap);
        }
        tp->recs[tp->n] = c;
        if (consuming_sub(td, topic) >= 0) {
                if (td->npending == td->pending_cap) {
                        td->pending_cap = td->pending_cap ? td->pending_cap * 2 : 64;
                        td->pending = rill__realloc(td->pending,
                                                    sizeof(*td->pending) * td->pending_cap);
                }
                td->pending[td->npending].topic = (int)(tp - td->topics);
                td->pending[td->npending].idx = tp->n;
                td->npending++;
        }
        tp->n++;
        return RILL_OK;
}

rill_test_driver_t *
rill_test_driver_new(const rill_topology_t *topo, const rill_conf_t *conf, char *errstr,
                     size_t errstr_size)
{
        rill_test_driver_t *td;
        const char *v;

        if (!topo) {
                rill__errf(errstr, errstr_size, "rill_test_driver_new: NULL topology");
                return NULL;
        }
        td = RILL__NEW(rill_test_driver_t);
        td->topo = topo;
        v = conf ? rill__conf_str(conf, "application.id") : NULL;
        td->app_id = rill__strdup(v ? v : "test-driver");
        v = conf ? rill__conf_str(conf, "state.dir") : NULL;
        if (conf && v && strcmp(v, rill__conf_str(NULL, "state.dir"))) {
                td->state_root = rill__strdup(v);
        } else {
                const char *base = getenv("TMPDIR");
                char *tmpl = rill__asprintf("%s/rill-test-driver-XXXXXX", base && *base ? base : "/tmp");
                if (!mkdtemp(tmpl)) {
                        rill__errf(errstr, errstr_size, "cannot create a temporary state directory");
                        rill__free(tmpl);
                        rill__free(td->app_id);
                        rill__free(td);
                        return NULL;
                }
                td->state_root = tmpl;
                td->own_state = true;
        }
        td->state_dir = rill__asprintf("%s/%s", td->state_root, td->app_id);
        td->env.app_id = td->app_id;
        td->env.state_dir = td->state_dir;
        v = rill__conf_str(conf, "default.dsl.store");
        td->env.default_store = v && !strcmp(v, "in_memory") ? RILL_STORE_IN_MEMORY
                                                             : RILL_STORE_ROCKSDB;
        v = rill__conf_str(conf, "default.deserialization.exception.handler");
        td->env.deser_continue = v && (!strcmp(v, "log_and_continue") ||
                                       !strcmp(v, "LogAndContinueExceptionHandler"));
        td->env.cache_budget =
                rill__cache_budget(rill__conf_int(conf, "statestore.cache.max.bytes"), 4);
        /* Like Kafka's TopologyTestDriver the driver commits (flushes the
         * record caches) after every record, unless commit.interval.ms is
         * set: then commits follow the mocked wall clock. */
        if (conf && rill__conf_is_set(conf, "commit.interval.ms"))
                td->commit_interval = RILL__MAX(1, rill__conf_int(conf, "commit.interval.ms"));
        td->env.send = td_send;
        td->env.wall_clock = td_wall_clock;
        td->env.opaque = td;
        td->wall = rill__now_ms();
        td->next_commit = td->wall + td->commit_interval;
        return td;
}

rill_err_t
rill_test_driver_create_topic(rill_test_driver_t *td, const char *topic, int32_t partitions)
{
        td_topic_t *tp;
        if (td->started) {
                rill__errf(td->errmsg, sizeof(td->errmsg),
                           "topics must be declared before the first record is piped");
                return RILL_ERR_STATE;
        }
        if (!topic || !*topic || partitions < 1) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "invalid topic or partition count");
                return RILL_ERR_INVALID_ARG;
        }
        tp = topic_get(td, topic, true);
        tp->partitions = partitions;
        return RILL_OK;
}

static int32_t
td_ext_partitions(void *opaque, const char *topic)
{
        rill_test_driver_t *td = opaque;
        td_topic_t *tp = topic_get(td, topic, false);
        if (tp)
                return tp->partitions;
        /* A pattern: the largest declared topic that matches, else 1. */
        for (int s = 0; s < td->topo->nsubs; s++) {
                const rill__sub_def_t *sd = &td->topo->subs[s];
                for (int i = 0; i < sd->nsources; i++) {
                        const rill__node_t *n = td->topo->nodes[sd->sources[i]];
                        int32_t best = 0;
                        if (!n->pattern || strcmp(n->pattern, topic))
                                continue;
                        for (int k = 0; k < td->ntopics; k++)
                                if (rill__source_matches(td->topo, n, td->app_id, td->topics[k].name))
                                        best = RILL__MAX(best, td->topics[k].partitions);
                        return best ? best : 1;
                }
        }
        return 1;
}

static rill_err_t
start(rill_test_driver_t *td)
{
        const rill_topology_t *t = td->topo;
        char err[512];
        rill_err_t e;

        td->started = true;
        td->sub_parts = rill__calloc((size_t)(t->nsubs + 1), sizeof(int32_t));
        td->repart_parts = rill__calloc((size_t)(t->nreparts + 1), sizeof(int32_t));
        td->env.sub_parts = td->sub_parts;
        td->env.repart_parts = td->repart_parts;
        e = rill__topo_partitions(t, td->app_id, td_ext_partitions, td, td->sub_parts,
                                  td->repart_parts, err, sizeof(err));
        td->tasks = rill__calloc((size_t)(t->nsubs + 1), sizeof(rill__task_t **));
        if (e != RILL_OK) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", err);
                return e;
        }
        for (int s = 0; s < t->nsubs; s++) {
                td->tasks[s] = rill__calloc((size_t)(td->sub_parts[s] + 1), sizeof(rill__task_t *));
                for (int32_t p = 0; p < td->sub_parts[s]; p++) {
                        rill__task_t *task = rill__task_new(t, s, p, &td->env, err, sizeof(err));
                        if (!task) {
                                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", err);
                                return RILL_ERR_STORE;
                        }
                        td->tasks[s][p] = task;
                        if (rill__task_init(task) != RILL_OK) {
                                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", task->errmsg);
                                return task->err;
                        }
                }
        }
        return RILL_OK;
}

static rill_err_t
run_one(rill_test_driver_t *td, const char *topic, const rill_record_t *r)
{
        int s = consuming_sub(td, topic);
        rill__task_t *task;
        rill_err_t e;

        if (s < 0 || r->partition >= td->sub_parts[s]) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "no task reads %s[%d]", topic,
                           (int)r->partition);
                return RILL_ERR_NOT_FOUND;
        }
        task = td->tasks[s][r->partition];
        e = rill__task_process(task, topic, r->partition, r->offset, r->key, r->value, r->timestamp,
                               r->headers, r->nheaders, NULL);
        if (e != RILL_OK) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", task->errmsg);
                /* A failed task stays failed in the runtime; the driver lets
                 * the test go on after reporting the error once. */
                task->err = RILL_OK;
                task->errmsg[0] = '\0';
        }
        return e;
}

static rill_err_t drain(rill_test_driver_t *td);

/* Flushes every task's record caches and processes what that produced. */
static rill_err_t
commit(rill_test_driver_t *td)
{
        rill_err_t first = RILL_OK, e;
        for (int s = 0; s < td->topo->nsubs; s++) {
                for (int32_t p = 0; p < td->sub_parts[s]; p++) {
                        rill__task_t *task = td->tasks[s][p];
                        if (!rill__task_cache_dirty(task))
                                continue;
                        rill__task_flush_caches(task);
                        if (task->err != RILL_OK) {
                                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", task->errmsg);
                                if (first == RILL_OK)
                                        first = task->err;
                                task->err = RILL_OK;
                        }
                        e = drain(td);
                        if (e != RILL_OK && first == RILL_OK)
                                first = e;
                }
        }
        return first;
}

static rill_err_t
drain(rill_test_driver_t *td)
{
        rill_err_t first = RILL_OK;
        while (td->pending_head < td->npending) {
                td_pending_t p = td->pending[td->pending_head++];
                td_topic_t *tp = &td->topics[p.topic];
                rill_err_t e = run_one(td, tp->name, tp->recs[p.idx]);
                if (e != RILL_OK && first == RILL_OK)
                        first = e;
        }
        td->npending = td->pending_head = 0;
        return first;
}

rill_err_t
rill_test_driver_pipe_headers(rill_test_driver_t *td, const char *topic, int32_t partition,
                              rill_bytes_t key, rill_bytes_t value, int64_t timestamp,
                              const rill_header_t *headers, size_t nheaders)
{
        td_topic_t *tp;
        rill_record_t r;
        rill_err_t e;

        td->errmsg[0] = '\0';
        if (!topic) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "NULL topic");
                return RILL_ERR_INVALID_ARG;
        }
        if (!td->started && (e = start(td)) != RILL_OK)
                return e;
        if (consuming_sub(td, topic) < 0) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "the topology does not read topic %s",
                           topic);
                return RILL_ERR_NOT_FOUND;
        }
        tp = topic_get(td, topic, true);
        if (partition < 0)
                partition = rill__partition_for_key(key, tp->partitions);
        if (partition >= tp->partitions) {
                rill__errf(td->errmsg, sizeof(td->errmsg), "topic %s has %d partitions", topic,
                           (int)tp->partitions);
                return RILL_ERR_INVALID_ARG;
        }
        if (!tp->next_offset)
                tp->next_offset = rill__calloc((size_t)tp->partitions, sizeof(int64_t));
        memset(&r, 0, sizeof(r));
        r.key = key;
        r.value = value;
        r.timestamp = timestamp;
        r.partition = partition;
        r.offset = tp->next_offset[partition]++;
        r.headers = headers;
        r.nheaders = nheaders;
        e = run_one(td, topic, &r);
        {
                rill_err_t e2 = drain(td);
                if (e == RILL_OK)
                        e = e2;
        }
        if (td->commit_interval == 0) {
                rill_err_t e3 = commit(td);
                if (e == RILL_OK)
                        e = e3;
        }
        return e;
}

rill_err_t
rill_test_driver_pipe(rill_test_driver_t *td, const char *topic, int32_t partition,
                      rill_bytes_t key, rill_bytes_t value, int64_t timestamp)
{
        return rill_test_driver_pipe_headers(td, topic, partition, key, value, timestamp, NULL, 0);
}

rill_err_t
rill_test_driver_pipe_str(rill_test_driver_t *td, const char *topic, const char *key,
                          const char *value, int64_t timestamp)
{
        return rill_test_driver_pipe(td, topic, -1, rill_bytes(key, key ? strlen(key) : 0),
                                     rill_bytes(value, value ? strlen(value) : 0), timestamp);
}

rill_err_t
rill_test_driver_advance_wall_clock(rill_test_driver_t *td, int64_t ms)
{
        rill_err_t first = RILL_OK, e;
        td->errmsg[0] = '\0';
        if (!td->started && (e = start(td)) != RILL_OK)
                return e;
        td->wall += ms;
        if (td->commit_interval > 0 && td->wall >= td->next_commit) {
                td->next_commit = td->wall + td->commit_interval;
                e = commit(td);
                if (e != RILL_OK && first == RILL_OK)
                        first = e;
        }
        for (int s = 0; s < td->topo->nsubs; s++) {
                for (int32_t p = 0; p < td->sub_parts[s]; p++) {
                        rill__task_t *task = td->tasks[s][p];
                        e = rill__task_punctuate_wall(task, td->wall);
                        if (e != RILL_OK) {
                                rill__errf(td->errmsg, sizeof(td->errmsg), "%s", task->errmsg);
                                task->err = RILL_OK;
                                if (first == RILL_OK)
                                        first = e;
                        }
                        e = drain(td);
                        if (e != RILL_OK && first == RILL_OK)
                                first = e;
                }
        }
        return first;
}

rill_record_t *
rill_test_driver_read(rill_test_driver_t *td, const char *topic)
{
        td_topic_t *tp = topic ? topic_get(td, topic, false) : NULL;
        rill_record_t *r;
        if (!tp || tp->read >= tp->n)
                return NULL;
        r = tp->recs[tp->read];
        tp->recs[tp->read++] = NULL;
        return r;
}

size_t
rill_test_driver_queue_size(const rill_test_driver_t *td, const char *topic)
{
        for (int i = 0; topic && i < td->ntopics; i++)
                if (!strcmp(td->topics[i].name, topic))
                        return td->topics[i].n - td->topics[i].read;
        return 0;
}

rill_kv_store_t *
rill_test_driver_store(rill_test_driver_t *td, const char *store, int32_t partition)
{
        const rill_topology_t *t = td->topo;
        if (!td->started || !store)
                return NULL;
        for (int i = 0; i < t->nstores; i++) {
                int s = t->stores[i].sub;
                if (strcmp(t->stores[i].name, store) || s < 0)
                        continue;
                if (partition < 0 || partition >= td->sub_parts[s])
                        return NULL;
                return td->tasks[s][partition]->stores[i];
        }
        return NULL;
}

rill_err_t
rill_test_driver_store_get(rill_test_driver_t *td, const char *store, rill_bytes_t key,
                           void **value, size_t *value_len)
{
        const rill_topology_t *t = td->topo;
        if (!td->started || !store || !key.data)
                return RILL_ERR_NOT_FOUND;
        for (int i = 0; i < t->nstores; i++) {
                int s = t->stores[i].sub;
                if (strcmp(t->stores[i].name, store) || s < 0)
                        continue;
                for (int32_t p = 0; p < td->sub_parts[s]; p++)
                        if (rill__store_get_copy(td->tasks[s][p]->stores[i], key, value,
                                                 value_len) == RILL_OK)
                                return RILL_OK;
        }
        return RILL_ERR_NOT_FOUND;
}

const char *
rill_test_driver_last_error(const rill_test_driver_t *td)
{
        return td->errmsg;
}

uint64_t
rill_test_driver_skipped(const rill_test_driver_t *td)
{
        uint64_t n = 0;
        for (int s = 0; td->started && s < td->topo->nsubs; s++)
                for (int32_t p = 0; td->tasks[s] && p < td->sub_parts[s]; p++)
                        if (td->tasks[s][p])
                                n += td->tasks[s][p]->skipped;
        return n;
}

void
rill_test_driver_destroy(rill_test_driver_t *td)
{
        if (!td)
                return;
        for (int s = 0; td->tasks && s < td->topo->nsubs; s++) {
                for (int32_t p = 0; td->tasks[s] && p < td->sub_parts[s]; p++)
                        rill__task_destroy(td->tasks[s][p]);
                rill__free(td->tasks[s]);
        }
        for (int i = 0; i < td->ntopics; i++) {
                for (size_t k = 0; k < td->topics[i].n; k++)
                        rill_record_destroy(td->topics[i].recs[k]);
                rill__free(td->topics[i].recs);
                rill__free(td->topics[i].next_offset);
                rill__free(td->topics[i].name);
        }
        if (td->own_state)
                rill__rmtree(td->state_root);
        rill__free(td->topics);
        rill__free(td->tasks);
        rill__free(td->pending);
        rill__free(td->sub_parts);
        rill__free(td->repart_parts);
        rill__free(td->state_dir);
        rill__free(td->state_root);
        rill__free(td->app_id);
        rill__free(td);
}
