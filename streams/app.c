/*
 * app.c - the streams runtime: one consumer, task threads, one producer.
 *
 * Threads.
 *  - The app thread owns the consumer. It polls the consumer queue (which,
 *    once partitions are assigned, only carries events and rebalances),
 *    serves the producer's delivery reports, commits every
 *    commit.interval.ms, and reacts to failed task threads.
 *  - num.stream.threads task threads. The partitions of an assigned task are
 *    forwarded (rd_kafka_queue_forward) to the queue of the thread that owns
 *    the task, so librdkafka splits the assignment into per-partition queues
 *    served by the task threads. A thread restores its new tasks from their
 *    changelogs before it reads its queue, then processes records in batches.
 *
 * Co-partitioning. librdkafka has no pluggable assignor, so the group uses
 * the "range" assignor: for topics with equal partition counts, every member
 * gets the same partition numbers of every topic, so partition p of all
 * co-partitioned topics lands on one instance and forms one task (s, p).
 * The runtime checks the counts at start (rill__topo_partitions()).
 *
 * Pausing. Anything that must see the tasks still (commits, rebalances,
 * closing) first parks every task thread at a batch boundary (pause_threads),
 * then works on the tasks from the app thread, then resumes them. Task lists
 * change only while threads are parked.
 *
 * At-least-once. A commit parks the threads, flushes the producer (waiting
 * for every output and changelog record produced so far to be acknowledged),
 * and only then commits the consumed offsets and writes the tasks'
 * checkpoint files (the acknowledged changelog offsets). If the flush does
 * not finish (a broker is down), the commit is postponed and retried: the
 * producer retries for ever by default (message.timeout.ms=0), and the app
 * logs what it waits for. A delivery that fails for good stops the instance
 * in state ERROR without committing.
 *
 * Rebalances (eager). A revocation commits and suspends the tasks (their
 * partitions are no longer forwarded; records still queued for them are
 * dropped); the next assignment resumes those it gives back, with stores
 * open and processors initialized, and closes the rest. If the commit did
 * not complete, every task is closed instead.
 *
 * Restore. A task's logged stores are replayed from their changelog
 * partitions, from the checkpointed offset when a checkpoint file exists
 * (otherwise the persistent store directory is wiped and replayed from the
 * beginning), up to the high watermark, with progress logged.
 *
 * Standby replicas (num.standby.replicas > 0): a standby thread with a
 * consumer of its own keeps copies of other instances' persistent stores up
 * to date from their changelogs (see "standby replicas" below).
 *
 * Internal topics are created at start when missing (CreateTopics through
 * an admin client configured with the "admin." properties; changelogs with
 * cleanup.policy=compact). Clusters without the admin API (librdkafka's mock
 * cluster) must have them created beforehand: existing topics are only
 * checked.
 */
#include "streams_int.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH RILL__ORDER_MAX

typedef struct toff {
        char *topic;
        int32_t partition;
        int64_t next;       /* next offset to consume (commit position) */
        bool dirty;
} toff_t;

typedef struct atask {
        rill__task_t *task;
        int sub;
        int32_t partition;
        int thread;
        atomic_bool ready;   /* restored and initialized */
        atomic_bool suspended; /* revoked; resumed if the next assignment has it */
        toff_t *offs;        /* consumed source partitions */
        int noffs;
        toff_t *ckpt;        /* changelog offsets from the checkpoint file */
        int nckpt;
        bool had_ckpt;
} atask_t;

typedef struct sthread {
        rill_app_t *app;
        int idx;
        pthread_t tid;
        bool started;
        rd_kafka_queue_t *queue;
        atask_t **tasks;
        int ntasks;
        rd_kafka_t *restore;
        atomic_bool exit;
        atomic_bool failed;
        bool alive;          /* under app->lock */
        rill_err_t err;
        char errmsg[512];
        atask_t *last;       /* cache for the message -> task lookup */
        const void *last_rkt;
} sthread_t;

typedef struct dr_off {
        char *topic;
        int32_t partition;
        _Atomic int64_t acked; /* last acknowledged offset */
} dr_off_t;

struct rill_app_s {
        const rill_topology_t *topo;
        rill_conf_t *conf;
        char *app_id;
        char *state_dir;
        int nthreads;
        int64_t commit_interval;
        /* rill.flush.timeout.ms; rill_app_close() may lower it while the
         * app thread reads it. */
        atomic_int_fast64_t flush_timeout;
        rd_kafka_t *consumer;
        rd_kafka_t *producer;
        rd_kafka_t *admin;   /* metadata and CreateTopics ("admin." properties) */
        rill__task_env_t env;
        int32_t *sub_parts;
        int32_t *repart_parts;

        pthread_t main_tid;
        bool main_started;
        sthread_t *threads;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        atomic_bool pause;
        int parked;
        int alive;

        pthread_rwlock_t tasks_lock;
        atask_t **tasks;
        int ntasks;

        pthread_mutex_t dr_lock;
        dr_off_t **dr;          /* changelog partitions (stable pointers) */
        int ndr;
        rill_err_t dr_err;
        char dr_errmsg[512];

        atomic_bool stop;
        atomic_bool commit_now;
        atomic_int state;
        rill_state_cb *state_cb;
        void *state_opaque;
        rill_error_cb *error_cb;
        void *error_opaque;
        bool replace_thread_default;

        pthread_mutex_t err_lock;
        rill_err_t last_err;
        char last_errmsg[1024];

        atomic_uint_fast64_t processed;
        int64_t last_commit;
        int64_t last_flush_warn;
        rill_err_t close_result;
        bool closed;
        bool assigned;       /* an assignment is in force (app thread only) */
        atomic_int_fast64_t last_client_err;
        atomic_uint_fast64_t restored; /* changelog records replayed by restores */

        /* Standby replicas (num.standby.replicas > 0). sb_lock guards the
         * standby tasks and the standby consumer's assignment, and is held
         * while active tasks are created, so a store is never open as both.
         * Lock order: sb_lock, then tasks_lock. */
        int standbys;
        pthread_t sb_tid;
        bool sb_started;
        pthread_mutex_t sb_lock;
        struct sbtask **sb;
        int nsb;
        rd_kafka_t *sb_consumer;
        rd_kafka_queue_t *sb_queue;
        atomic_bool sb_refresh;        /* the assignment changed: look again */
};

static const char *const state_names[] = {"CREATED",          "REBALANCING",   "RUNNING",
                                          "PENDING_SHUTDOWN", "NOT_RUNNING",   "PENDING_ERROR",
                                          "ERROR"};

const char *
rill_app_state_name(rill_app_state_t s)
{
        return (unsigned)s < RILL__ARRAY_SIZE(state_names) ? state_names[s] : "UNKNOWN";
}

static void
set_state(rill_app_t *app, rill_app_state_t s)
{
        rill_app_state_t old = (rill_app_state_t)atomic_exchange(&app->state, (int)s);
        if (old == s)
                return;
        RILL_LOG_I(RILL__LOGC, "%s: state %s -> %s", app->app_id, rill_app_state_name(old),
                   rill_app_state_name(s));
        if (app->state_cb)
                app->state_cb(app, s, old, app->state_opaque);
}

static void
set_error(rill_app_t *app, rill_err_t err, const char *msg)
{
        pthread_mutex_lock(&app->err_lock);
        app->last_err = err;
        snprintf(app->last_errmsg, sizeof(app->last_errmsg), "%s", msg);
        pthread_mutex_unlock(&app->err_lock);
}

/* ---- librdkafka configuration ---- */

static rd_kafka_conf_t *
kconf_new(rill_app_t *app, const char *prefix, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        const rill_conf_t *c = app->conf;
        char kerr[256];

        if (rd_kafka_conf_set(kc, "bootstrap.servers", rill__conf_str(c, "bootstrap.servers"), kerr,
                              sizeof(kerr)) != RD_KAFKA_CONF_OK)
                goto fail;
        /* kafka.* first, then the client's own prefix, so the latter wins. */
        for (int pass = 0; pass < 2; pass++) {
                const char *pfx = pass == 0 ? "kafka." : prefix;
                size_t pl = strlen(pfx);
                for (size_t i = 0; i < c->n; i++) {
                        if (strncmp(c->e[i].key, pfx, pl))
                                continue;
                        if (rd_kafka_conf_set(kc, c->e[i].key + pl, c->e[i].value, kerr,
                                              sizeof(kerr)) != RD_KAFKA_CONF_OK)
                                goto fail;
                }
        }
        return kc;
fail:
        rill__errf(errstr, errstr_size, "librdkafka configuration: %s", kerr);
        rd_kafka_conf_destroy(kc);
        return NULL;
}

static bool
kset(rd_kafka_conf_t *kc, const char *k, const char *v, const rill_conf_t *c, const char *prefix)
{
        char key[256];
        char kerr[256];
        /* Rill's defaults never override what the user passed through. */
        snprintf(key, sizeof(key), "%s%s", prefix, k);
        if (rill__conf_str(c, key))
                return true;
        snprintf(key, sizeof(key), "kafka.%s", k);
        if (rill__conf_str(c, key))
                return true;
        return rd_kafka_conf_set(kc, k, v, kerr, sizeof(kerr)) == RD_KAFKA_CONF_OK;
}

static void
k_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        /* Connection failures ("FAIL", "ERROR") also reach the error
         * callback, which reports them once; keep the client's own lines for
         * debugging. */
        if (!strcmp(fac, "FAIL") || !strcmp(fac, "ERROR"))
                RILL_LOG_D("kafka", "%s: %s", fac, buf);
        else if (level <= 4)
                RILL_LOG_W("kafka", "%s: %s", fac, buf);
        else
                RILL_LOG_D("kafka", "%s: %s", fac, buf);
}

static void
k_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        rill_app_t *app = opaque;
        int64_t now = rill__mono_ms(), last = atomic_load(&app->last_client_err);
        /* Transport errors come in bursts (every connection, every client):
         * report at most one per 5 seconds. */
        if (err == RD_KAFKA_RESP_ERR__TRANSPORT && now - last < 5000)
                return;
        atomic_store(&app->last_client_err, now);
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                RILL_LOG_W(RILL__LOGC, "%s: cannot reach any broker of %s (retrying): %s",
                           app->app_id, rill__conf_str(app->conf, "bootstrap.servers"), reason);
        else
                RILL_LOG_W(RILL__LOGC, "%s: client error (retrying): %s: %s", app->app_id,
                           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/*
 * Creates a librdkafka client of @p type named "<application.id>-<what>":
 * the kafka.* and @p prefix properties, then Rill's @p defaults where the
 * user set nothing, then the @p forced settings the runtime relies on
 * (NULL-terminated key, value lists). @p setup installs extra callbacks.
 */
static rd_kafka_t *
client_new(rill_app_t *app, rd_kafka_type_t type, const char *prefix, const char *what,
           const char *const *defaults, const char *const *forced,
           void (*setup)(rd_kafka_conf_t *kc), char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *kc = kconf_new(app, prefix, errstr, errstr_size);
        char kerr[256], cid[300];
        rd_kafka_t *rk;

        if (!kc)
                return NULL;
        snprintf(cid, sizeof(cid), "%s-%s", app->app_id, what);
        kset(kc, "client.id", cid, app->conf, prefix);
        for (int i = 0; defaults && defaults[i]; i += 2) {
                if (!kset(kc, defaults[i], defaults[i + 1], app->conf, prefix)) {
                        rill__errf(errstr, errstr_size, "cannot configure the %s (%s=%s)", what,
                                   defaults[i], defaults[i + 1]);
                        rd_kafka_conf_destroy(kc);
                        return NULL;
                }
        }
        for (int i = 0; forced && forced[i]; i += 2) {
                if (rd_kafka_conf_set(kc, forced[i], forced[i + 1], kerr, sizeof(kerr)) !=
                    RD_KAFKA_CONF_OK) {
                        rill__errf(errstr, errstr_size, "cannot configure the %s: %s", what, kerr);
                        rd_kafka_conf_destroy(kc);
                        return NULL;
                }
        }
        rd_kafka_conf_set_opaque(kc, app);
        rd_kafka_conf_set_error_cb(kc, k_error_cb);
        rd_kafka_conf_set_log_cb(kc, k_log_cb);
        if (setup)
                setup(kc);
        rk = rd_kafka_new(type, kc, kerr, sizeof(kerr));
        if (!rk) {
                rill__errf(errstr, errstr_size, "cannot create the %s: %s", what, kerr);
                rd_kafka_conf_destroy(kc);
        }
        return rk;
}

/* Delivery reports: remember acknowledged changelog offsets; latch failures.
 * A changelog record carries its partition's dr_off_t as the message opaque,
 * so a successful report costs no lock and no lookup; others carry NULL. */
static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        rill_app_t *app = opaque;
        dr_off_t *slot = m->_private;

        if (m->err) {
                pthread_mutex_lock(&app->dr_lock);
                if (app->dr_err == RILL_OK) {
                        app->dr_err = RILL_ERR_KAFKA;
                        snprintf(app->dr_errmsg, sizeof(app->dr_errmsg),
                                 "delivery to %s[%d] failed: %s", rd_kafka_topic_name(m->rkt),
                                 (int)m->partition, rd_kafka_err2str(m->err));
                }
                pthread_mutex_unlock(&app->dr_lock);
        } else if (slot) {
                int64_t cur = atomic_load(&slot->acked);
                while (m->offset > cur &&
                       !atomic_compare_exchange_weak(&slot->acked, &cur, m->offset))
                        ;
        }
}

/* The delivery-report slot of a changelog partition, created on first use. */
static dr_off_t *
dr_slot(rill_app_t *app, const char *topic, int32_t partition, bool create)
{
        dr_off_t *r = NULL;
        pthread_mutex_lock(&app->dr_lock);
        for (int i = 0; i < app->ndr && !r; i++)
                if (app->dr[i]->partition == partition && !strcmp(app->dr[i]->topic, topic))
                        r = app->dr[i];
        if (!r && create) {
                r = rill__calloc(1, sizeof(*r));
                r->topic = rill__strdup(topic);
                r->partition = partition;
                atomic_init(&r->acked, -1);
                app->dr = rill__realloc(app->dr, sizeof(*app->dr) * (size_t)(app->ndr + 1));
                app->dr[app->ndr++] = r;
        }
        pthread_mutex_unlock(&app->dr_lock);
        return r;
}

static int64_t
dr_acked(rill_app_t *app, const char *topic, int32_t partition)
{
        dr_off_t *slot = dr_slot(app, topic, partition, false);
        return slot ? atomic_load(&slot->acked) : -1;
}

/* ---- task environment ---- */

/* Topic handles a task sends to: producev() by handle skips librdkafka's
 * per-call topic lookup under the client's write lock. */
#define RKT_CACHE 8
typedef struct rkt_cache {
        int n, next;
        char *name[RKT_CACHE];
        rd_kafka_topic_t *rkt[RKT_CACHE];
} rkt_cache_t;

static rd_kafka_topic_t *
task_rkt(rill_app_t *app, rill__task_t *task, const char *topic)
{
        rkt_cache_t *c = task->send_cache;
        rd_kafka_topic_t *rkt;
        int i;

        if (!c)
                c = task->send_cache = RILL__NEW(rkt_cache_t);
        for (i = 0; i < c->n; i++)
                if (!strcmp(c->name[i], topic))
                        return c->rkt[i];
        rkt = rd_kafka_topic_new(app->producer, topic, NULL);
        if (!rkt)
                return NULL;
        if (c->n < RKT_CACHE) {
                i = c->n++;
        } else {
                /* Many dynamic topics: replace round robin. Records in flight
                 * hold their own references to the handle. */
                i = c->next;
                c->next = (c->next + 1) % RKT_CACHE;
                rill__free(c->name[i]);
                rd_kafka_topic_destroy(c->rkt[i]);
        }
        c->name[i] = rill__strdup(topic);
        c->rkt[i] = rkt;
        return rkt;
}

static void
task_send_cache_free(rill__task_t *task)
{
        rkt_cache_t *c = task->send_cache;
        if (!c)
                return;
        for (int i = 0; i < c->n; i++) {
                rill__free(c->name[i]);
                rd_kafka_topic_destroy(c->rkt[i]);
        }
        rill__free(c);
        task->send_cache = NULL;
}

static rill_err_t
app_send(void *opaque, rill__task_t *task, const char *topic, int32_t partition, rill_bytes_t key,
         rill_bytes_t value, int64_t timestamp, const rill_record_t *headers_from, char *errstr,
         size_t errstr_size)
{
        rill_app_t *app = opaque;
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_resp_err_t err;
        size_t nh = headers_from ? rill_record_header_count(headers_from) : 0;
        dr_off_t *slot = NULL;
        rd_kafka_topic_t *rkt = task_rkt(app, task, topic);

        if (!rkt) {
                rill__errf(errstr, errstr_size, "topic \"%s\": %s", topic,
                           rd_kafka_err2str(rd_kafka_last_error()));
                return RILL_ERR_KAFKA;
        }

        /* Only changelog records are sent to a fixed partition: their
         * acknowledged offsets feed the checkpoints. */
        if (partition >= 0) {
                if (task->send_topic != topic) {
                        task->send_slot = dr_slot(app, topic, partition, true);
                        task->send_topic = topic;
                }
                slot = task->send_slot;
        }
        for (;;) {
                if (nh) {
                        hdrs = rd_kafka_headers_new(nh);
                        for (size_t i = 0; i < nh; i++) {
                                rill_header_t h;
                                if (rill_record_header_at(headers_from, i, &h) == RILL_OK)
                                        rd_kafka_header_add(hdrs, h.name, -1, h.value,
                                                            h.value ? (ssize_t)h.len : 0);
                        }
                }
                err = rd_kafka_producev(
                        app->producer, RD_KAFKA_V_RKT(rkt),
                        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(key.data, key.len), RD_KAFKA_V_VALUE((void *)value.data, value.len),
                        RD_KAFKA_V_TIMESTAMP(timestamp > 0 ? timestamp : 0),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                        return RILL_OK;
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                hdrs = NULL;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        rill__errf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
                        return RILL_ERR_KAFKA;
                }
                /* Back-pressure: the producer queue is full; wait for acks. */
                if (atomic_load(&app->stop)) {
                        rill__errf(errstr, errstr_size, "shutting down with a full producer queue");
                        return RILL_ERR_SHUTDOWN;
                }
                rd_kafka_poll(app->producer, 10);
        }
}

static int64_t
app_wall_clock(void *opaque)
{
        return rill__now_ms();
}

/* ---- metadata and internal topics ---- */

typedef struct mdview {
        const rd_kafka_metadata_t *md;
        const rill_topology_t *topo;
} mdview_t;

static int32_t
md_partitions(void *opaque, const char *topic)
{
        mdview_t *v = opaque;
        int32_t best = 0;
        for (int i = 0; i < v->md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &v->md->topics[i];
                if (t->err)
                        continue;
                if (!strcmp(t->topic, topic))
                        return t->partition_cnt;
        }
        /* A pattern: the largest matching topic. */
        for (int n = 0; n < v->topo->nnodes; n++) {
                const rill__node_t *node = v->topo->nodes[n];
                if (!node->pattern || strcmp(node->pattern, topic))
                        continue;
                for (int i = 0; i < v->md->topic_cnt; i++)
                        if (!v->md->topics[i].err &&
                            rill__source_matches(v->topo, node, "", v->md->topics[i].topic))
                                best = RILL__MAX(best, v->md->topics[i].partition_cnt);
        }
        return best;
}

static rill_err_t
fetch_metadata(rill_app_t *app, const rd_kafka_metadata_t **md, int timeout_ms, char *errstr,
               size_t errstr_size)
{
        int64_t deadline = rill__mono_ms() + timeout_ms;
        rd_kafka_resp_err_t err;
        do {
                err = rd_kafka_metadata(app->admin, 1, NULL, md, 5000);
                if (!err)
                        return RILL_OK;
        } while (rill__mono_ms() < deadline && !atomic_load(&app->stop));
        rill__errf(errstr, errstr_size, "cannot read cluster metadata from %s: %s",
                   rill__conf_str(app->conf, "bootstrap.servers"), rd_kafka_err2str(err));
        return RILL_ERR_KAFKA;
}

typedef struct want_topic {
        char *name;
        int32_t partitions;
        bool compact;
} want_topic_t;

static rill_err_t
create_topics(rill_app_t *app, want_topic_t *w, int nw, char *errstr, size_t errstr_size)
{
        rd_kafka_NewTopic_t **nt = rill__calloc((size_t)nw, sizeof(*nt));
        rd_kafka_queue_t *q = rd_kafka_queue_new(app->admin);
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(app->admin,
                                                                  RD_KAFKA_ADMIN_OP_CREATETOPICS);
        int rf = (int)rill__conf_int(app->conf, "replication.factor");
        rill_err_t result = RILL_OK;
        rd_kafka_event_t *ev;
        char kerr[256];

        rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, kerr, sizeof(kerr));
        rd_kafka_AdminOptions_set_request_timeout(opts, 15000, kerr, sizeof(kerr));
        for (int i = 0; i < nw; i++) {
                nt[i] = rd_kafka_NewTopic_new(w[i].name, w[i].partitions, rf, kerr, sizeof(kerr));
                if (w[i].compact)
                        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact");
                RILL_LOG_I(RILL__LOGC, "%s: creating internal topic %s (%d partitions%s)",
                           app->app_id, w[i].name, (int)w[i].partitions,
                           w[i].compact ? ", compacted" : "");
        }
        rd_kafka_CreateTopics(app->admin, nt, (size_t)nw, opts, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev) {
                rill__errf(errstr, errstr_size, "timed out creating internal topics");
                result = RILL_ERR_TIMEOUT;
        } else if (rd_kafka_event_error(ev)) {
                rill__errf(errstr, errstr_size, "%s", rd_kafka_event_error_string(ev));
                result = RILL_ERR_KAFKA;
        } else {
                size_t n;
                const rd_kafka_topic_result_t **res =
                        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
                for (size_t i = 0; i < n; i++) {
                        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
                        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                                rill__errf(errstr, errstr_size, "%s: %s",
                                           rd_kafka_topic_result_name(res[i]),
                                           rd_kafka_topic_result_error_string(res[i])
                                                   ? rd_kafka_topic_result_error_string(res[i])
                                                   : rd_kafka_err2str(e));
                                result = RILL_ERR_KAFKA;
                        }
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        for (int i = 0; i < nw; i++)
                rd_kafka_NewTopic_destroy(nt[i]);
        rill__free(nt);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        return result;
}

/*
 * Computes partition counts and makes sure every internal topic exists with
 * the right count (creating the missing ones).
 */
static rill_err_t
prepare_topics(rill_app_t *app, char *errstr, size_t errstr_size)
{
        const rill_topology_t *t = app->topo;
        const rd_kafka_metadata_t *md = NULL;
        want_topic_t *w = rill__calloc((size_t)(t->nreparts + t->nstores + 1), sizeof(*w));
        want_topic_t *missing = rill__calloc((size_t)(t->nreparts + t->nstores + 1), sizeof(*w));
        int nw = 0, nmissing = 0;
        rill_err_t e;
        mdview_t view;

        e = fetch_metadata(app, &md, (int)rill__conf_int(app->conf, "rill.startup.timeout.ms"),
                           errstr, errstr_size);
        if (e != RILL_OK)
                goto out;
        view.md = md;
        view.topo = t;
        e = rill__topo_partitions(t, app->app_id, md_partitions, &view, app->sub_parts,
                                  app->repart_parts, errstr, errstr_size);
        if (e != RILL_OK)
                goto out;
        for (int r = 0; r < t->nreparts; r++) {
                w[nw].name = rill__repart_topic(app->app_id, &t->reparts[r]);
                w[nw].partitions = app->repart_parts[r];
                nw++;
        }
        for (int s = 0; s < t->nstores; s++) {
                if (!t->stores[s].logging || t->stores[s].sub < 0)
                        continue;
                w[nw].name = rill__changelog_topic(app->app_id, &t->stores[s]);
                w[nw].partitions = app->sub_parts[t->stores[s].sub];
                w[nw].compact = true;
                nw++;
        }
        for (int i = 0; i < nw; i++) {
                int32_t have = md_partitions(&view, w[i].name);
                if (have == 0) {
                        missing[nmissing++] = w[i];
                } else if (have != w[i].partitions) {
                        rill__errf(errstr, errstr_size,
                                   "internal topic %s has %d partitions but the topology needs %d "
                                   "(delete it, or reset the application)",
                                   w[i].name, (int)have, (int)w[i].partitions);
                        e = RILL_ERR_TOPOLOGY;
                        goto out;
                }
        }
        if (nmissing) {
                char cerr[512];
                e = create_topics(app, missing, nmissing, cerr, sizeof(cerr));
                if (e != RILL_OK) {
                        rill__errf(errstr, errstr_size,
                                   "cannot create internal topic %s (%d partitions%s): %s; a "
                                   "cluster without the admin API needs the internal topics "
                                   "created beforehand",
                                   missing[0].name, (int)missing[0].partitions,
                                   missing[0].compact ? ", cleanup.policy=compact" : "", cerr);
                        goto out;
                }
                /* Wait until the new topics show up in metadata. */
                for (int tries = 0; tries < 100; tries++) {
                        int ok = 0;
                        rd_kafka_metadata_destroy(md);
                        md = NULL;
                        if (rd_kafka_metadata(app->admin, 1, NULL, &md, 5000))
                                continue;
                        view.md = md;
                        for (int i = 0; i < nmissing; i++)
                                ok += md_partitions(&view, missing[i].name) == missing[i].partitions;
                        if (ok == nmissing)
                                break;
                        usleep(100 * 1000);
                }
        }
out:
        for (int i = 0; i < nw; i++)
                rill__free(w[i].name);
        rill__free(w);
        rill__free(missing);
        if (md)
                rd_kafka_metadata_destroy(md);
        return e;
}

/* ---- checkpoints ---- */

static char *
ckpt_path(rill_app_t *app, const char *task_id)
{
        return rill__asprintf("%s/%s/.checkpoint", app->state_dir, task_id);
}

/* Reads a task's checkpoint file into *@p offs (appended). Returns false
 * when there is none. */
static bool
ckpt_read(rill_app_t *app, const char *task_id, toff_t **offs, int *n)
{
        char *path = ckpt_path(app, task_id);
        FILE *f = fopen(path, "r");
        char line[1024];
        rill__free(path);
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char topic[800];
                int part;
                long long off;
                if (sscanf(line, "%799s %d %lld", topic, &part, &off) != 3)
                        continue;
                *offs = rill__realloc(*offs, sizeof(toff_t) * (size_t)(*n + 1));
                (*offs)[*n].topic = rill__strdup(topic);
                (*offs)[*n].partition = part;
                (*offs)[*n].next = off;
                (*offs)[*n].dirty = false;
                (*n)++;
        }
        fclose(f);
        return true;
}

static void
ckpt_load(rill_app_t *app, atask_t *at, const char *task_id)
{
        at->had_ckpt = ckpt_read(app, task_id, &at->ckpt, &at->nckpt);
}

/* Writes a checkpoint file atomically (temporary file, fsync, rename): one
 * "topic partition next-offset" line per entry. The stores must have been
 * flushed first. */
static void
ckpt_file_write(rill_app_t *app, const rill__task_t *t, const toff_t *offs, int n)
{
        char *path = ckpt_path(app, t->id);
        char *tmp = rill__asprintf("%s.tmp", path);
        FILE *f;
        bool ok;

        rill__mkdirs(t->dir, 0755);
        f = fopen(tmp, "w");
        if (!f) {
                RILL_LOG_W(RILL__LOGC, "task %s: cannot write checkpoint %s: %s", t->id, tmp,
                           strerror(errno));
                goto out;
        }
        for (int i = 0; i < n; i++)
                fprintf(f, "%s %d %lld\n", offs[i].topic, (int)offs[i].partition,
                        (long long)offs[i].next);
        /* A checkpoint that did not reach the disk whole (a full disk) must
         * not replace the previous one: the restore then replays more, which
         * is safe. */
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok &= fclose(f) == 0;
        if (!ok) {
                RILL_LOG_W(RILL__LOGC, "task %s: cannot write checkpoint %s: %s (keeping the "
                                       "previous one)",
                           t->id, tmp, strerror(errno));
                unlink(tmp);
        } else if (rename(tmp, path) != 0) {
                RILL_LOG_W(RILL__LOGC, "task %s: cannot rename checkpoint: %s", t->id, strerror(errno));
        }
out:
        rill__free(tmp);
        rill__free(path);
}

static int64_t
ckpt_offset(const atask_t *at, const char *topic, int32_t partition)
{
        for (int i = 0; i < at->nckpt; i++)
                if (at->ckpt[i].partition == partition && !strcmp(at->ckpt[i].topic, topic))
                        return at->ckpt[i].next;
        return -1;
}

static void
ckpt_set(atask_t *at, const char *topic, int32_t partition, int64_t next)
{
        int i;
        for (i = 0; i < at->nckpt; i++)
                if (at->ckpt[i].partition == partition && !strcmp(at->ckpt[i].topic, topic))
                        break;
        if (i == at->nckpt) {
                at->ckpt = rill__realloc(at->ckpt, sizeof(toff_t) * (size_t)(at->nckpt + 1));
                at->ckpt[i].topic = rill__strdup(topic);
                at->ckpt[i].partition = partition;
                at->nckpt++;
        }
        at->ckpt[i].next = next;
}

/* How many changelog records of the task's persistent stores were
 * acknowledged since its last checkpoint. */
static int64_t
ckpt_delta(rill_app_t *app, atask_t *at)
{
        rill__task_t *t = at->task;
        int64_t delta = 0;
        for (int s = 0; s < app->topo->nstores; s++) {
                rill_kv_store_t *st = t->stores[s];
                int64_t acked, prev;
                if (!st || !st->changelog || st->ops != &rill__rocksdb_store_ops)
                        continue;
                acked = dr_acked(app, st->changelog, t->partition);
                prev = ckpt_offset(at, st->changelog, t->partition);
                if (acked + 1 > prev)
                        delta += acked + 1 - RILL__MAX(prev, 0);
        }
        return delta;
}

/* Writes the checkpoint of a restored task: for each logged store, the
 * offset after the last acknowledged changelog record. The stores must have
 * been flushed first. */
static void
ckpt_write(rill_app_t *app, atask_t *at)
{
        rill__task_t *t = at->task;
        bool any = false;

        if (!at->ready)
                return;
        for (int s = 0; s < app->topo->nstores; s++)
                any |= t->stores[s] && t->stores[s]->changelog &&
                       t->stores[s]->ops == &rill__rocksdb_store_ops;
        if (!any)
                return;
        for (int s = 0; s < app->topo->nstores; s++) {
                rill_kv_store_t *st = t->stores[s];
                int64_t acked, prev;
                if (!st || !st->changelog)
                        continue;
                acked = dr_acked(app, st->changelog, t->partition);
                prev = ckpt_offset(at, st->changelog, t->partition);
                /* Nothing written since restore: keep the restored position. */
                ckpt_set(at, st->changelog, t->partition, RILL__MAX(acked + 1, prev));
        }
        ckpt_file_write(app, t, at->ckpt, at->nckpt);
}

/* ---- task threads ---- */

static void
thread_fail(sthread_t *th, rill_err_t err, const char *msg)
{
        atomic_store(&th->failed, true);
        th->err = err;
        snprintf(th->errmsg, sizeof(th->errmsg), "%s", msg);
        RILL_LOG_E(RILL__LOGC, "%s: stream thread %d failed: %s", th->app->app_id, th->idx, msg);
}

static rill_err_t
restore_store(sthread_t *th, atask_t *at, rill_kv_store_t *st, char *errstr, size_t errstr_size)
{
        rill_app_t *app = th->app;
        rill__task_t *t = at->task;
        int64_t lo = 0, hi = 0, start, n = 0, t0 = rill__mono_ms(), last_log = t0;
        rd_kafka_topic_partition_list_t *tp;
        rd_kafka_resp_err_t kerr;
        rill_err_t e = RILL_OK;

        if (!th->restore) {
                static const char *const defaults[] = {"enable.auto.commit", "false",
                                                       "enable.partition.eof", "true",
                                                       "fetch.wait.max.ms", "50", NULL};
                char group[300];
                /* A group id without a subscription: assign-only, never joins. */
                snprintf(group, sizeof(group), "%s-restore-consumer", app->app_id);
                const char *const forced[] = {"group.id", group, NULL};
                th->restore = client_new(app, RD_KAFKA_CONSUMER, "consumer.", "restore-consumer",
                                         defaults, forced, NULL, errstr, errstr_size);
                if (!th->restore)
                        return RILL_ERR_KAFKA;
        }
        for (;;) {
                kerr = rd_kafka_query_watermark_offsets(th->restore, st->changelog, t->partition, &lo,
                                                        &hi, 5000);
                if (!kerr)
                        break;
                if (atomic_load(&app->stop))
                        return RILL_ERR_SHUTDOWN;
                RILL_LOG_W(RILL__LOGC, "task %s: cannot read the end offsets of %s[%d] (retrying): %s",
                           t->id, st->changelog, (int)t->partition, rd_kafka_err2str(kerr));
        }
        start = ckpt_offset(at, st->changelog, t->partition);
        if (start < lo || start > hi || st->ops != &rill__rocksdb_store_ops)
                start = lo;
        if (start >= hi) {
                RILL_LOG_I(RILL__LOGC, "task %s: store %s is up to date (changelog %s[%d] at %lld)",
                           t->id, st->name, st->changelog, (int)t->partition, (long long)hi);
                goto done;
        }
        RILL_LOG_I(RILL__LOGC, "task %s: restoring store %s from %s[%d], offsets %lld..%lld", t->id,
                   st->name, st->changelog, (int)t->partition, (long long)start, (long long)hi);
        tp = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tp, st->changelog, t->partition)->offset = start;
        rd_kafka_assign(th->restore, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        for (bool finished = false; !finished;) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(th->restore, 200);
                if (atomic_load(&app->stop)) {
                        if (m)
                                rd_kafka_message_destroy(m);
                        e = RILL_ERR_SHUTDOWN;
                        break;
                }
                if (rill__mono_ms() - last_log > 2000) {
                        last_log = rill__mono_ms();
                        RILL_LOG_I(RILL__LOGC, "task %s: restoring %s: %lld records so far", t->id,
                                   st->name, (long long)n);
                }
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        finished = m->offset >= hi;
                } else if (m->err) {
                        RILL_LOG_W(RILL__LOGC, "task %s: restore of %s: %s (retrying)", t->id,
                                   st->name, rd_kafka_message_errstr(m));
                } else {
                        e = rill__store_restore_put(st, rill_bytes(m->key, m->key_len),
                                                    rill_bytes(m->payload, m->len), errstr,
                                                    errstr_size);
                        n++;
                        atomic_fetch_add(&app->restored, 1);
                        finished = m->offset + 1 >= hi;
                }
                rd_kafka_message_destroy(m);
                if (e != RILL_OK)
                        break;
        }
        rd_kafka_assign(th->restore, NULL);
        if (e != RILL_OK)
                return e;
        RILL_LOG_I(RILL__LOGC, "task %s: restored store %s: %lld records in %lld ms", t->id,
                   st->name, (long long)n, (long long)(rill__mono_ms() - t0));
done:
        /* Remember the restored position for the next checkpoint. */
        ckpt_set(at, st->changelog, t->partition, hi);
        return RILL_OK;
}

static rill_err_t
restore_task(sthread_t *th, atask_t *at)
{
        char err[512];
        rill__task_t *t = at->task;
        for (int s = 0; s < th->app->topo->nstores; s++) {
                rill_kv_store_t *st = t->stores[s];
                rill_err_t e;
                if (!st || !st->changelog)
                        continue;
                e = restore_store(th, at, st, err, sizeof(err));
                if (e == RILL_ERR_SHUTDOWN)
                        return e;
                if (e != RILL_OK) {
                        char msg[700];
                        snprintf(msg, sizeof(msg), "task %s: restoring store %s failed: %s", t->id,
                                 st->name, err);
                        thread_fail(th, e, msg);
                        return e;
                }
        }
        if (rill__task_init(t) != RILL_OK) {
                thread_fail(th, t->err, t->errmsg);
                return t->err;
        }
        at->ready = true;
        return RILL_OK;
}

static atask_t *
find_task(sthread_t *th, const rd_kafka_message_t *m, const char *topic)
{
        const rill_topology_t *topo = th->app->topo;
        if (th->last && th->last_rkt == m->rkt && th->last->partition == m->partition)
                return th->last;
        for (int i = 0; i < th->ntasks; i++) {
                atask_t *at = th->tasks[i];
                const rill__sub_def_t *sd = &topo->subs[at->sub];
                if (at->partition != m->partition)
                        continue;
                for (int k = 0; k < sd->nsources; k++) {
                        if (rill__source_matches(topo, topo->nodes[sd->sources[k]], th->app->app_id,
                                                 topic)) {
                                th->last = at;
                                th->last_rkt = m->rkt;
                                return at;
                        }
                }
        }
        return NULL;
}

static void
note_offset(atask_t *at, const char *topic, int32_t partition, int64_t next)
{
        for (int i = 0; i < at->noffs; i++) {
                if (at->offs[i].partition == partition && !strcmp(at->offs[i].topic, topic)) {
                        at->offs[i].next = next;
                        at->offs[i].dirty = true;
                        return;
                }
        }
        at->offs = rill__realloc(at->offs, sizeof(toff_t) * (size_t)(at->noffs + 1));
        at->offs[at->noffs].topic = rill__strdup(topic);
        at->offs[at->noffs].partition = partition;
        at->offs[at->noffs].next = next;
        at->offs[at->noffs].dirty = true;
        at->noffs++;
}

static void
handle_message(sthread_t *th, rd_kafka_message_t *m)
{
        rill_app_t *app = th->app;
        const char *topic;
        atask_t *at;
        rill_err_t e;
        int64_t ts;

        if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        RILL_LOG_W(RILL__LOGC, "%s: consumer: %s", app->app_id,
                                   rd_kafka_message_errstr(m));
                return;
        }
        topic = rd_kafka_topic_name(m->rkt);
        at = find_task(th, m, topic);
        if (!at || !at->ready || atomic_load(&at->suspended))
                return; /* revoked meanwhile: the new owner reprocesses it */
        for (int i = 0; i < at->noffs; i++)
                if (at->offs[i].partition == m->partition && !strcmp(at->offs[i].topic, topic) &&
                    m->offset < at->offs[i].next)
                        return; /* already processed (stale fetch) */
        ts = rd_kafka_message_timestamp(m, NULL);
        {
                rd_kafka_headers_t *hdrs = NULL;
                if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
                        hdrs = NULL;
                e = rill__task_process(at->task, topic, m->partition, m->offset,
                                       rill_bytes(m->key, m->key_len),
                                       rill_bytes(m->payload, m->len), ts < 0 ? 0 : ts, NULL, 0,
                                       hdrs);
        }
        if (e != RILL_OK) {
                thread_fail(th, e, at->task->errmsg);
                return;
        }
        note_offset(at, topic, m->partition, m->offset + 1);
        if (at->task->commit_requested) {
                at->task->commit_requested = false;
                atomic_store(&app->commit_now, true);
        }
        atomic_fetch_add(&app->processed, 1);
}

/* Orders a batch from the thread's queue by head timestamp across
 * partitions (rill__order_by_head_ts()). */
static void
order_batch(rd_kafka_message_t **msgs, ssize_t n)
{
        const void *part[BATCH];
        int32_t pnum[BATCH];
        int64_t ts[BATCH];

        if (n < 2)
                return;
        for (ssize_t i = 0; i < n; i++) {
                part[i] = msgs[i]->rkt;
                pnum[i] = msgs[i]->partition;
                ts[i] = msgs[i]->err ? INT64_MIN : rd_kafka_message_timestamp(msgs[i], NULL);
        }
        rill__order_by_head_ts((void **)msgs, part, pnum, ts, (int)n);
}

static void
park(sthread_t *th)
{
        rill_app_t *app = th->app;
        pthread_mutex_lock(&app->lock);
        app->parked++;
        pthread_cond_broadcast(&app->cond);
        while (atomic_load(&app->pause) && !th->exit)
                pthread_cond_wait(&app->cond, &app->lock);
        app->parked--;
        pthread_mutex_unlock(&app->lock);
}

static void *
thread_main(void *arg)
{
        sthread_t *th = arg;
        rill_app_t *app = th->app;
        rd_kafka_message_t *msgs[BATCH];

        while (!th->exit && !th->failed) {
                int64_t next_wall = INT64_MAX, now;
                int timeout = 100;
                ssize_t n;
                bool restoring = false;

                if (atomic_load(&app->pause)) {
                        /* A commit, rebalance or close follows: write out the
                         * record caches first, on this thread. */
                        for (int i = 0; i < th->ntasks && !th->failed; i++) {
                                rill__task_t *t = th->tasks[i]->task;
                                if (!th->tasks[i]->ready)
                                        continue;
                                rill__task_flush_caches(t);
                                if (t->err != RILL_OK)
                                        thread_fail(th, t->err, t->errmsg);
                        }
                        if (th->failed)
                                break;
                        park(th);
                        continue;
                }
                for (int i = 0; i < th->ntasks && !th->failed; i++) {
                        if (th->tasks[i]->ready)
                                continue;
                        restoring = true;
                        if (restore_task(th, th->tasks[i]) != RILL_OK)
                                break;
                        if (atomic_load(&app->pause))
                                break;
                }
                if (th->failed)
                        break;
                if (restoring)
                        continue;
                now = rill__now_ms();
                for (int i = 0; i < th->ntasks; i++) {
                        rill__task_t *t = th->tasks[i]->task;
                        if (atomic_load(&th->tasks[i]->suspended))
                                continue;
                        if (rill__task_next_wall(t) <= now &&
                            rill__task_punctuate_wall(t, now) != RILL_OK) {
                                thread_fail(th, t->err, t->errmsg);
                                break;
                        }
                        next_wall = RILL__MIN(next_wall, rill__task_next_wall(t));
                }
                if (th->failed)
                        break;
                if (next_wall != INT64_MAX)
                        timeout = (int)RILL__MAX(0, RILL__MIN(100, next_wall - now));
                /* Wait for the first record only, then take what is queued:
                 * a batch call would wait for a full batch. */
                msgs[0] = rd_kafka_consume_queue(th->queue, timeout);
                n = 0;
                if (msgs[0]) {
                        ssize_t more = rd_kafka_consume_batch_queue(th->queue, 0, msgs + 1, BATCH - 1);
                        n = 1 + (more > 0 ? more : 0);
                        order_batch(msgs, n);
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (!th->failed)
                                handle_message(th, msgs[i]);
                        rd_kafka_message_destroy(msgs[i]);
                }
        }
        pthread_mutex_lock(&app->lock);
        th->alive = false;
        app->alive--;
        pthread_cond_broadcast(&app->cond);
        pthread_mutex_unlock(&app->lock);
        return NULL;
}

/* Parks every live task thread. Returns false if they did not all park
 * within @p timeout_ms (they are then resumed). */
static bool
pause_threads(rill_app_t *app, int64_t timeout_ms)
{
        int64_t deadline = rill__mono_ms() + timeout_ms;
        bool ok = true;
        atomic_store(&app->pause, true);
        for (int i = 0; i < app->nthreads; i++)
                if (app->threads[i].queue)
                        rd_kafka_queue_yield(app->threads[i].queue);
        pthread_mutex_lock(&app->lock);
        while (app->parked < app->alive) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 50 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&app->cond, &app->lock, &ts);
                if (rill__mono_ms() > deadline) {
                        ok = false;
                        break;
                }
        }
        pthread_mutex_unlock(&app->lock);
        if (!ok) {
                atomic_store(&app->pause, false);
                pthread_mutex_lock(&app->lock);
                pthread_cond_broadcast(&app->cond);
                pthread_mutex_unlock(&app->lock);
        }
        return ok;
}

static void
resume_threads(rill_app_t *app)
{
        pthread_mutex_lock(&app->lock);
        atomic_store(&app->pause, false);
        pthread_cond_broadcast(&app->cond);
        pthread_mutex_unlock(&app->lock);
}

static rill_err_t
start_thread(rill_app_t *app, int i)
{
        sthread_t *th = &app->threads[i];
        th->app = app;
        th->idx = i;
        atomic_store(&th->exit, false);
        atomic_store(&th->failed, false);
        if (!th->queue)
                th->queue = rd_kafka_queue_new(app->consumer);
        pthread_mutex_lock(&app->lock);
        th->alive = true;
        app->alive++;
        pthread_mutex_unlock(&app->lock);
        if (pthread_create(&th->tid, NULL, thread_main, th) != 0) {
                pthread_mutex_lock(&app->lock);
                app->alive--;
                th->alive = false;
                pthread_mutex_unlock(&app->lock);
                return RILL_ERR_STATE;
        }
        th->started = true;
        return RILL_OK;
}

/* ---- commits ---- */

/* Store flushes and checkpoints cost an fsync each: a periodic commit
 * writes a task's checkpoint only when this many changelog records were
 * acknowledged since the last one (as Kafka Streams does); closing, revoking
 * and restarting always write it. A crash replays at most about this many
 * changelog records more per task. */
#define CKPT_DELTA 10000

/* With threads parked: flush, then commit offsets and write checkpoints.
 * Returns RILL_AGAIN when the flush did not finish in time. */
static rill_err_t
commit_parked(rill_app_t *app, int64_t flush_timeout, bool force_ckpt)
{
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t kerr;
        int n = 0;

        kerr = rd_kafka_flush(app->producer, (int)flush_timeout);
        if (kerr == RD_KAFKA_RESP_ERR__TIMED_OUT) {
                int64_t now = rill__mono_ms();
                if (now - app->last_flush_warn > 5000) {
                        app->last_flush_warn = now;
                        RILL_LOG_W(RILL__LOGC,
                                   "%s: commit postponed: %d records still wait for the broker's "
                                   "acknowledgement (is the cluster reachable?)",
                                   app->app_id, rd_kafka_outq_len(app->producer));
                }
                return RILL_AGAIN;
        }
        pthread_mutex_lock(&app->dr_lock);
        if (app->dr_err != RILL_OK) {
                rill_err_t e = app->dr_err;
                char msg[512];
                snprintf(msg, sizeof(msg), "%s", app->dr_errmsg);
                pthread_mutex_unlock(&app->dr_lock);
                set_error(app, e, msg);
                return e;
        }
        pthread_mutex_unlock(&app->dr_lock);

        offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < app->ntasks; i++) {
                atask_t *at = app->tasks[i];
                /* A task of a failed thread may hold cached updates that were
                 * never written: its offsets must not be committed. */
                if (rill__task_cache_dirty(at->task))
                        continue;
                for (int k = 0; k < at->noffs; k++) {
                        if (!at->offs[k].dirty)
                                continue;
                        rd_kafka_topic_partition_list_add(offs, at->offs[k].topic,
                                                          at->offs[k].partition)
                                ->offset = at->offs[k].next;
                        n++;
                }
        }
        if (n) {
                kerr = rd_kafka_commit(app->consumer, offs, 0);
                if (kerr) {
                        RILL_LOG_W(RILL__LOGC, "%s: offset commit failed (will retry): %s",
                                   app->app_id, rd_kafka_err2str(kerr));
                } else {
                        for (int i = 0; i < app->ntasks; i++)
                                for (int k = 0; k < app->tasks[i]->noffs; k++)
                                        app->tasks[i]->offs[k].dirty = false;
                }
        }
        rd_kafka_topic_partition_list_destroy(offs);
        for (int i = 0; i < app->ntasks; i++) {
                if (!force_ckpt && ckpt_delta(app, app->tasks[i]) < CKPT_DELTA)
                        continue;
                rill__task_flush(app->tasks[i]->task);
                ckpt_write(app, app->tasks[i]);
        }
        app->last_commit = rill__mono_ms();
        return kerr ? RILL_ERR_KAFKA : RILL_OK;
}

static void
maybe_commit(rill_app_t *app, bool force)
{
        int64_t flush_timeout;
        rill_err_t e;
        if (!force && !atomic_load(&app->commit_now) &&
            rill__mono_ms() - app->last_commit < app->commit_interval)
                return;
        atomic_store(&app->commit_now, false);
        if (!pause_threads(app, 10000)) {
                RILL_LOG_W(RILL__LOGC, "%s: commit postponed: a stream thread is busy", app->app_id);
                return;
        }
        flush_timeout = atomic_load(&app->flush_timeout);
        e = commit_parked(app, RILL__MIN(flush_timeout, 2000), false);
        resume_threads(app);
        if (e != RILL_OK && e != RILL_AGAIN && e != RILL_ERR_KAFKA) {
                set_state(app, RILL_APP_PENDING_ERROR);
                atomic_store(&app->stop, true);
        } else if (e == RILL_ERR_KAFKA) {
                char msg[512];
                pthread_mutex_lock(&app->dr_lock);
                bool fatal = app->dr_err != RILL_OK;
                snprintf(msg, sizeof(msg), "%s", app->dr_errmsg);
                pthread_mutex_unlock(&app->dr_lock);
                if (fatal) {
                        set_error(app, RILL_ERR_KAFKA, msg);
                        set_state(app, RILL_APP_PENDING_ERROR);
                        atomic_store(&app->stop, true);
                }
        }
}

/* ---- assignment ---- */

static void
atask_free(atask_t *at)
{
        for (int i = 0; i < at->noffs; i++)
                rill__free(at->offs[i].topic);
        for (int i = 0; i < at->nckpt; i++)
                rill__free(at->ckpt[i].topic);
        rill__free(at->offs);
        rill__free(at->ckpt);
        rill__free(at);
}

static int
sub_of_topic(rill_app_t *app, const char *topic)
{
        const rill_topology_t *t = app->topo;
        for (int s = 0; s < t->nsubs; s++)
                for (int i = 0; i < t->subs[s].nsources; i++)
                        if (rill__source_matches(t, t->nodes[t->subs[s].sources[i]], app->app_id,
                                                 topic))
                                return s;
        return -1;
}

static void
remove_from_thread(sthread_t *th, atask_t *at)
{
        for (int i = 0; i < th->ntasks; i++) {
                if (th->tasks[i] == at) {
                        th->tasks[i] = th->tasks[--th->ntasks];
                        break;
                }
        }
        th->last = NULL;
        th->last_rkt = NULL;
}

/* Stops forwarding the partitions of @p at to its thread. */
static void
unforward_task(rill_app_t *app, atask_t *at)
{
        const rill__sub_def_t *sd = &app->topo->subs[at->sub];
        for (int k = 0; k < sd->nsources; k++) {
                const rill__node_t *n = app->topo->nodes[sd->sources[k]];
                for (int j = 0; j < at->noffs; j++) {
                        rd_kafka_queue_t *pq;
                        if (!rill__source_matches(app->topo, n, app->app_id, at->offs[j].topic))
                                continue;
                        pq = rd_kafka_queue_get_partition(app->consumer, at->offs[j].topic,
                                                          at->offs[j].partition);
                        if (pq) {
                                rd_kafka_queue_forward(pq, NULL);
                                rd_kafka_queue_destroy(pq);
                        }
                }
        }
}

/* With threads parked and tasks_lock held: closes app->tasks[@p i]
 * (checkpointing it when restored) and removes it from the lists. */
static void
close_task_at(rill_app_t *app, int i, bool checkpoint)
{
        atask_t *at = app->tasks[i];
        rill__task_flush(at->task);
        if (checkpoint)
                ckpt_write(app, at);
        unforward_task(app, at);
        remove_from_thread(&app->threads[at->thread], at);
        task_send_cache_free(at->task);
        rill__task_destroy(at->task);
        atask_free(at);
        app->tasks[i] = app->tasks[--app->ntasks];
}

/* With threads parked: closes every task (checkpointing restored ones). */
static void
close_all_tasks(rill_app_t *app, bool checkpoint)
{
        pthread_rwlock_wrlock(&app->tasks_lock);
        while (app->ntasks > 0)
                close_task_at(app, app->ntasks - 1, checkpoint);
        pthread_rwlock_unlock(&app->tasks_lock);
}

/* With threads parked, after a commit that completed: suspends the restored
 * tasks (their partitions are no longer forwarded, their records are
 * dropped) so that the next assignment can resume those it gives back
 * without reopening their stores, as Kafka Streams' eager protocol did.
 * Tasks still restoring are closed. */
static void
suspend_all_tasks(rill_app_t *app)
{
        pthread_rwlock_wrlock(&app->tasks_lock);
        for (int i = app->ntasks - 1; i >= 0; i--) {
                atask_t *at = app->tasks[i];
                if (!at->ready) {
                        close_task_at(app, i, true);
                        continue;
                }
                unforward_task(app, at);
                atomic_store(&at->suspended, true);
        }
        pthread_rwlock_unlock(&app->tasks_lock);
}

/* With threads parked, after an assignment: closes the suspended tasks it
 * did not give back. */
static void
close_suspended_tasks(rill_app_t *app)
{
        pthread_rwlock_wrlock(&app->tasks_lock);
        for (int i = app->ntasks - 1; i >= 0; i--) {
                if (!atomic_load(&app->tasks[i]->suspended))
                        continue;
                RILL_LOG_I(RILL__LOGC, "%s: task %s closed (assigned elsewhere)", app->app_id,
                           app->tasks[i]->task->id);
                close_task_at(app, i, true);
        }
        pthread_rwlock_unlock(&app->tasks_lock);
}

static void
on_revoke(rill_app_t *app, rd_kafka_topic_partition_list_t *parts)
{
        app->assigned = false;
        if (!atomic_load(&app->stop))
                set_state(app, RILL_APP_REBALANCING);
        while (!pause_threads(app, 5000))
                RILL_LOG_W(RILL__LOGC, "%s: waiting for stream threads to pause", app->app_id);
        if (commit_parked(app, atomic_load(&app->flush_timeout), true) != RILL_OK) {
                RILL_LOG_W(RILL__LOGC, "%s: revoking partitions with unacknowledged output; "
                                       "their records will be processed again",
                           app->app_id);
                /* The tasks restart from their last commit and checkpoint. */
                close_all_tasks(app, true);
        } else if (atomic_load(&app->stop)) {
                close_all_tasks(app, true);
        } else {
                suspend_all_tasks(app);
        }
        rd_kafka_assign(app->consumer, NULL);
        atomic_store(&app->sb_refresh, true);
        resume_threads(app);
}

/* With threads parked: creates the tasks of @p parts and forwards their
 * partition queues to the owning threads. */
static void
create_tasks(rill_app_t *app, rd_kafka_topic_partition_list_t *parts)
{
        char err[512];
        pthread_rwlock_wrlock(&app->tasks_lock);
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *p = &parts->elems[i];
                int s = sub_of_topic(app, p->topic);
                atask_t *at = NULL;
                rd_kafka_queue_t *pq;
                if (s < 0) {
                        RILL_LOG_W(RILL__LOGC, "%s: assigned %s[%d], which no source reads",
                                   app->app_id, p->topic, (int)p->partition);
                        continue;
                }
                for (int k = 0; k < app->ntasks; k++)
                        if (app->tasks[k]->sub == s && app->tasks[k]->partition == p->partition)
                                at = app->tasks[k];
                if (!at) {
                        char id[32], *dir;
                        int best = 0;
                        at = RILL__NEW(atask_t);
                        at->sub = s;
                        at->partition = p->partition;
                        snprintf(id, sizeof(id), "%d_%d", s, (int)p->partition);
                        ckpt_load(app, at, id);
                        if (!at->had_ckpt) {
                                /* No checkpoint: local state cannot be trusted. */
                                dir = rill__asprintf("%s/%s", app->state_dir, id);
                                rill__rmtree(dir);
                                rill__free(dir);
                        }
                        at->task = rill__task_new(app->topo, s, p->partition, &app->env, err,
                                                  sizeof(err));
                        if (!at->task) {
                                char msg[700];
                                snprintf(msg, sizeof(msg), "task %s: cannot open its stores: %s", id,
                                         err);
                                set_error(app, RILL_ERR_STORE, msg);
                                RILL_LOG_E(RILL__LOGC, "%s: %s", app->app_id, msg);
                                atask_free(at);
                                atomic_store(&app->stop, true);
                                continue;
                        }
                        for (int k = 1; k < app->nthreads; k++)
                                if (app->threads[k].ntasks < app->threads[best].ntasks)
                                        best = k;
                        at->thread = best;
                        {
                                sthread_t *th = &app->threads[best];
                                th->tasks = rill__realloc(th->tasks,
                                                          sizeof(atask_t *) * (size_t)(th->ntasks + 1));
                                th->tasks[th->ntasks++] = at;
                        }
                        app->tasks = rill__realloc(app->tasks,
                                                   sizeof(atask_t *) * (size_t)(app->ntasks + 1));
                        app->tasks[app->ntasks++] = at;
                        RILL_LOG_I(RILL__LOGC, "%s: task %s assigned to stream thread %d",
                                   app->app_id, id, best);
                }
                if (atomic_load(&at->suspended)) {
                        /* Given back: resume it where it stopped (its offsets
                         * were committed when it was suspended). */
                        atomic_store(&at->suspended, false);
                        RILL_LOG_I(RILL__LOGC, "%s: task %s resumed", app->app_id, at->task->id);
                }
                /* Remember the partition (for un-forwarding) without marking
                 * it consumed; a resumed task keeps its position. */
                {
                        bool known = false;
                        for (int k = 0; k < at->noffs; k++)
                                if (at->offs[k].partition == p->partition &&
                                    !strcmp(at->offs[k].topic, p->topic)) {
                                        known = true;
                                        at->offs[k].dirty = false;
                                }
                        if (!known) {
                                note_offset(at, p->topic, p->partition, -1);
                                at->offs[at->noffs - 1].dirty = false;
                        }
                }
                pq = rd_kafka_queue_get_partition(app->consumer, p->topic, p->partition);
                if (pq) {
                        rd_kafka_queue_forward(pq, app->threads[at->thread].queue);
                        rd_kafka_queue_destroy(pq);
                }
        }
        pthread_rwlock_unlock(&app->tasks_lock);
}

/* ---- standby replicas ---- */

/*
 * With num.standby.replicas = k > 0, an instance keeps warm copies of the
 * persistent (RocksDB) logged stores of tasks that run on other instances,
 * so that a task that fails over to it restores only the tail of its
 * changelogs. librdkafka has no pluggable assignor to place standbys, so each
 * instance chooses its own: after every rebalance it reads the group's
 * members and their assignments (DescribeGroups), orders the members by
 * member id, and shadows the tasks of the k members that follow it in that
 * order (fewer when the group is smaller). A standby task opens the task's
 * stores, applies its changelog partitions from the task's checkpoint (or
 * from the start) with a consumer of its own, and writes the task's
 * checkpoint after flushing the stores, in the format active tasks use.
 * When the task is assigned to this instance, its standby is closed (stores
 * flushed, checkpoint written) before the active task opens the same
 * stores, under sb_lock, so the two never hold a store at once.
 */

typedef struct sbtask {
        rill__task_t *task;
        int sub;
        int32_t partition;
        toff_t *pos;         /* per changelog partition: next offset to apply */
        int npos;
        int64_t applied;     /* records applied since the last checkpoint */
} sbtask_t;

typedef struct sbwant {
        int sub;
        int32_t partition;
} sbwant_t;

/* True when sub-topology @p s has a logged persistent store. */
static bool
sub_has_logged_rocksdb(const rill_app_t *app, int s)
{
        for (int i = 0; i < app->topo->nstores; i++) {
                const rill__store_def_t *d = &app->topo->stores[i];
                rill_store_type_t type = d->type == RILL_STORE_DEFAULT ? app->env.default_store
                                                                       : d->type;
                if (d->sub == s && d->logging && type == RILL_STORE_ROCKSDB)
                        return true;
        }
        return false;
}

/* Under sb_lock: flushes a standby task's stores, writes its checkpoint
 * (when the flush worked) and closes it. */
static void
sb_close(rill_app_t *app, sbtask_t *sb)
{
        if (rill__task_flush(sb->task) == RILL_OK)
                ckpt_file_write(app, sb->task, sb->pos, sb->npos);
        else
                RILL_LOG_W(RILL__LOGC, "standby task %s: %s", sb->task->id, sb->task->errmsg);
        RILL_LOG_I(RILL__LOGC, "%s: standby task %s closed", app->app_id, sb->task->id);
        rill__task_destroy(sb->task);
        for (int i = 0; i < sb->npos; i++)
                rill__free(sb->pos[i].topic);
        rill__free(sb->pos);
        rill__free(sb);
}

/* Under sb_lock: points the standby consumer at every standby changelog
 * partition, at its next offset. */
static void
sb_assign(rill_app_t *app)
{
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(8);
        for (int i = 0; i < app->nsb; i++)
                for (int k = 0; k < app->sb[i]->npos; k++)
                        rd_kafka_topic_partition_list_add(tp, app->sb[i]->pos[k].topic,
                                                          app->sb[i]->pos[k].partition)
                                ->offset = app->sb[i]->pos[k].next;
        rd_kafka_assign(app->sb_consumer, tp->cnt ? tp : NULL);
        rd_kafka_topic_partition_list_destroy(tp);
}

/* Under sb_lock, before the tasks of @p parts become active here: closes
 * their standbys. */
static void
sb_release(rill_app_t *app, const rd_kafka_topic_partition_list_t *parts)
{
        bool changed = false;
        for (int i = 0; i < app->nsb;) {
                sbtask_t *sb = app->sb[i];
                bool hit = false;
                for (int k = 0; k < parts->cnt && !hit; k++)
                        hit = parts->elems[k].partition == sb->partition &&
                              sub_of_topic(app, parts->elems[k].topic) == sb->sub;
                if (!hit) {
                        i++;
                        continue;
                }
                sb_close(app, sb);
                app->sb[i] = app->sb[--app->nsb];
                changed = true;
        }
        if (changed)
                sb_assign(app);
}

/* Opens a standby task (under sb_lock); NULL when its stores cannot be
 * opened or its changelogs' offsets cannot be read now. */
static sbtask_t *
sb_open(rill_app_t *app, int s, int32_t p)
{
        char id[32], err[512], *dir;
        sbtask_t *sb = RILL__NEW(sbtask_t);
        toff_t *ck = NULL;
        int nck = 0;

        snprintf(id, sizeof(id), "%d_%d", s, (int)p);
        sb->sub = s;
        sb->partition = p;
        if (!ckpt_read(app, id, &ck, &nck)) {
                /* No checkpoint: local state cannot be trusted. */
                dir = rill__asprintf("%s/%s", app->state_dir, id);
                rill__rmtree(dir);
                rill__free(dir);
        }
        sb->task = rill__task_new(app->topo, s, p, &app->env, err, sizeof(err));
        if (!sb->task) {
                RILL_LOG_W(RILL__LOGC, "%s: standby task %s: cannot open its stores: %s",
                           app->app_id, id, err);
                goto fail;
        }
        for (int i = 0; i < app->topo->nstores; i++) {
                rill_kv_store_t *st = sb->task->stores[i];
                int64_t next = -1, lo = 0, hi = 0;
                if (!st || !st->changelog || st->ops != &rill__rocksdb_store_ops)
                        continue;
                for (int k = 0; k < nck; k++)
                        if (ck[k].partition == p && !strcmp(ck[k].topic, st->changelog))
                                next = ck[k].next;
                if (rd_kafka_query_watermark_offsets(app->sb_consumer, st->changelog, p, &lo, &hi,
                                                     2000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        RILL_LOG_D(RILL__LOGC, "%s: standby task %s: no offsets for %s yet",
                                   app->app_id, id, st->changelog);
                        goto fail;
                }
                /* Unknown or outside the log: replay from the start (as an
                 * active restore does). */
                if (next < lo || next > hi)
                        next = lo;
                sb->pos = rill__realloc(sb->pos, sizeof(toff_t) * (size_t)(sb->npos + 1));
                sb->pos[sb->npos].topic = rill__strdup(st->changelog);
                sb->pos[sb->npos].partition = p;
                sb->pos[sb->npos].next = next;
                sb->pos[sb->npos].dirty = false;
                sb->npos++;
        }
        for (int k = 0; k < nck; k++)
                rill__free(ck[k].topic);
        rill__free(ck);
        RILL_LOG_I(RILL__LOGC, "%s: standby task %s opened", app->app_id, id);
        return sb;
fail:
        for (int k = 0; k < nck; k++)
                rill__free(ck[k].topic);
        rill__free(ck);
        rill__task_destroy(sb->task);
        for (int i = 0; i < sb->npos; i++)
                rill__free(sb->pos[i].topic);
        rill__free(sb->pos);
        rill__free(sb);
        return NULL;
}

static int
cmp_member(const void *a, const void *b)
{
        const rd_kafka_MemberDescription_t *x = *(const rd_kafka_MemberDescription_t *const *)a;
        const rd_kafka_MemberDescription_t *y = *(const rd_kafka_MemberDescription_t *const *)b;
        return strcmp(rd_kafka_MemberDescription_consumer_id(x),
                      rd_kafka_MemberDescription_consumer_id(y));
}

/* Reads the group and lists the tasks this instance should shadow. Returns
 * false when the group is not stable yet (or cannot be read). */
static bool
sb_wanted(rill_app_t *app, sbwant_t **want, int *nwant, char *why, size_t why_size)
{
        const char *groups[1] = {app->app_id};
        rd_kafka_queue_t *q = rd_kafka_queue_new(app->admin);
        rd_kafka_event_t *ev;
        char *me = rd_kafka_memberid(app->consumer);
        bool ok = false;

        *want = NULL;
        *nwant = 0;
        rill__errf(why, why_size, "the group is not stable");
        rd_kafka_DescribeConsumerGroups(app->admin, groups, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 10000);
        if (!ev)
                rill__errf(why, why_size, "DescribeGroups timed out");
        else if (rd_kafka_event_error(ev))
                rill__errf(why, why_size, "DescribeGroups: %s", rd_kafka_event_error_string(ev));
        if (ev && !rd_kafka_event_error(ev) && me && *me) {
                size_t ng = 0, nm;
                const rd_kafka_ConsumerGroupDescription_t **g =
                        rd_kafka_DescribeConsumerGroups_result_groups(
                                rd_kafka_event_DescribeConsumerGroups_result(ev), &ng);
                if (ng == 1 && !rd_kafka_ConsumerGroupDescription_error(g[0]) &&
                    rd_kafka_ConsumerGroupDescription_state(g[0]) ==
                            RD_KAFKA_CONSUMER_GROUP_STATE_STABLE &&
                    (nm = rd_kafka_ConsumerGroupDescription_member_count(g[0])) > 0) {
                        const rd_kafka_MemberDescription_t **m =
                                rill__calloc(nm, sizeof(*m));
                        size_t mine = nm;
                        for (size_t i = 0; i < nm; i++)
                                m[i] = rd_kafka_ConsumerGroupDescription_member(g[0], i);
                        qsort(m, nm, sizeof(*m), cmp_member);
                        for (size_t i = 0; i < nm; i++)
                                if (!strcmp(rd_kafka_MemberDescription_consumer_id(m[i]), me))
                                        mine = i;
                        ok = mine < nm;
                        for (size_t j = 1; ok && j <= (size_t)app->standbys && j < nm; j++) {
                                const rd_kafka_topic_partition_list_t *tp =
                                        rd_kafka_MemberAssignment_partitions(
                                                rd_kafka_MemberDescription_assignment(
                                                        m[(mine + j) % nm]));
                                for (int k = 0; tp && k < tp->cnt; k++) {
                                        int s = sub_of_topic(app, tp->elems[k].topic);
                                        bool dup = false;
                                        if (s < 0 || !sub_has_logged_rocksdb(app, s))
                                                continue;
                                        for (int w = 0; w < *nwant && !dup; w++)
                                                dup = (*want)[w].sub == s &&
                                                      (*want)[w].partition == tp->elems[k].partition;
                                        if (dup)
                                                continue;
                                        *want = rill__realloc(*want, sizeof(sbwant_t) *
                                                                             (size_t)(*nwant + 1));
                                        (*want)[*nwant].sub = s;
                                        (*want)[*nwant].partition = tp->elems[k].partition;
                                        (*nwant)++;
                                }
                        }
                        rill__free(m);
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        if (me)
                rd_kafka_mem_free(app->consumer, me);
        return ok;
}

/* Under sb_lock: makes the standby tasks match @p want, minus the tasks
 * active here. */
static void
sb_reconcile(rill_app_t *app, const sbwant_t *want, int nwant)
{
        bool changed = false;
        for (int i = 0; i < app->nsb;) {
                bool keep = false;
                for (int w = 0; w < nwant && !keep; w++)
                        keep = want[w].sub == app->sb[i]->sub &&
                               want[w].partition == app->sb[i]->partition;
                if (keep) {
                        i++;
                        continue;
                }
                sb_close(app, app->sb[i]);
                app->sb[i] = app->sb[--app->nsb];
                changed = true;
        }
        pthread_rwlock_rdlock(&app->tasks_lock);
        for (int w = 0; w < nwant; w++) {
                bool have = false;
                sbtask_t *sb;
                for (int i = 0; i < app->nsb && !have; i++)
                        have = app->sb[i]->sub == want[w].sub &&
                               app->sb[i]->partition == want[w].partition;
                for (int i = 0; i < app->ntasks && !have; i++)
                        have = app->tasks[i]->sub == want[w].sub &&
                               app->tasks[i]->partition == want[w].partition;
                if (have || !(sb = sb_open(app, want[w].sub, want[w].partition)))
                        continue;
                app->sb = rill__realloc(app->sb, sizeof(sbtask_t *) * (size_t)(app->nsb + 1));
                app->sb[app->nsb++] = sb;
                changed = true;
        }
        pthread_rwlock_unlock(&app->tasks_lock);
        if (changed)
                sb_assign(app);
}

/* Under sb_lock: applies one changelog record to its standby task. */
static void
sb_apply(rill_app_t *app, const rd_kafka_message_t *m)
{
        const char *topic = rd_kafka_topic_name(m->rkt);
        char err[512];
        for (int i = 0; i < app->nsb; i++) {
                sbtask_t *sb = app->sb[i];
                rill_kv_store_t *st = NULL;
                int k;
                if (sb->partition != m->partition)
                        continue;
                for (k = 0; k < sb->npos; k++)
                        if (!strcmp(sb->pos[k].topic, topic))
                                break;
                if (k == sb->npos || m->offset < sb->pos[k].next)
                        continue; /* not ours, or already applied */
                for (int s = 0; s < app->topo->nstores && !st; s++)
                        if (sb->task->stores[s] && sb->task->stores[s]->changelog &&
                            !strcmp(sb->task->stores[s]->changelog, topic))
                                st = sb->task->stores[s];
                if (!st)
                        return;
                if (rill__store_restore_put(st, rill_bytes(m->key, m->key_len),
                                            rill_bytes(m->payload, m->len), err,
                                            sizeof(err)) != RILL_OK) {
                        RILL_LOG_W(RILL__LOGC, "%s: standby task %s: %s (its standby stops)",
                                   app->app_id, sb->task->id, err);
                        /* Keep the checkpoint of what was applied. */
                        sb_close(app, sb);
                        app->sb[i] = app->sb[--app->nsb];
                        sb_assign(app);
                        return;
                }
                sb->pos[k].next = m->offset + 1;
                sb->pos[k].dirty = true;
                sb->applied++;
                return;
        }
}

/* Under sb_lock: flushes and checkpoints the standby tasks that applied
 * records since their last checkpoint. */
static void
sb_checkpoint(rill_app_t *app, bool all)
{
        for (int i = 0; i < app->nsb; i++) {
                sbtask_t *sb = app->sb[i];
                if (!sb->applied || (!all && sb->applied < CKPT_DELTA))
                        continue;
                if (rill__task_flush(sb->task) != RILL_OK) {
                        RILL_LOG_W(RILL__LOGC, "standby task %s: %s", sb->task->id,
                                   sb->task->errmsg);
                        continue;
                }
                ckpt_file_write(app, sb->task, sb->pos, sb->npos);
                sb->applied = 0;
        }
}

/* The standby thread: keeps the standby set current and applies changelog
 * records. */
static void *
sb_main(void *arg)
{
        rill_app_t *app = arg;
        int64_t next_check = 0, last_ckpt = rill__mono_ms(), failing_since = -1, last_warn = 0;
        rd_kafka_message_t *msgs[256];

        while (!atomic_load(&app->stop)) {
                int64_t now = rill__mono_ms();
                ssize_t n;
                if (atomic_exchange(&app->sb_refresh, false) || now >= next_check) {
                        sbwant_t *want;
                        int nwant;
                        char why[256];
                        if (sb_wanted(app, &want, &nwant, why, sizeof(why))) {
                                pthread_mutex_lock(&app->sb_lock);
                                sb_reconcile(app, want, nwant);
                                pthread_mutex_unlock(&app->sb_lock);
                                /* Members may leave without a rebalance here
                                 * yet: look again now and then. */
                                next_check = now + 10000;
                                failing_since = -1;
                        } else {
                                /* The group is rebalancing: look again soon.
                                 * Say so when it lasts (a cluster without
                                 * DescribeGroups never gets standbys). */
                                next_check = now + 500;
                                if (failing_since < 0)
                                        failing_since = now;
                                if (now - failing_since > 30000 && now - last_warn > 60000) {
                                        last_warn = now;
                                        RILL_LOG_W(RILL__LOGC,
                                                   "%s: standby replicas: cannot read the group's "
                                                   "assignment for %lld s (%s); retrying",
                                                   app->app_id,
                                                   (long long)((now - failing_since) / 1000), why);
                                }
                        }
                        rill__free(want);
                }
                n = rd_kafka_consume_batch_queue(app->sb_queue, 100, msgs, 256);
                pthread_mutex_lock(&app->sb_lock);
                for (ssize_t i = 0; i < n; i++) {
                        if (!msgs[i]->err)
                                sb_apply(app, msgs[i]);
                        rd_kafka_message_destroy(msgs[i]);
                }
                now = rill__mono_ms();
                sb_checkpoint(app, now - last_ckpt >= app->commit_interval);
                if (now - last_ckpt >= app->commit_interval)
                        last_ckpt = now;
                pthread_mutex_unlock(&app->sb_lock);
        }
        pthread_mutex_lock(&app->sb_lock);
        while (app->nsb > 0)
                sb_close(app, app->sb[--app->nsb]);
        rd_kafka_assign(app->sb_consumer, NULL);
        pthread_mutex_unlock(&app->sb_lock);
        return NULL;
}

/* Stops the standby thread (app->stop is set): its tasks are checkpointed
 * and closed. */
static void
sb_stop(rill_app_t *app)
{
        if (!app->sb_started)
                return;
        rd_kafka_queue_yield(app->sb_queue);
        pthread_join(app->sb_tid, NULL);
        app->sb_started = false;
}

static void
on_assign(rill_app_t *app, rd_kafka_topic_partition_list_t *parts)
{
        set_state(app, RILL_APP_REBALANCING);
        while (!pause_threads(app, 5000))
                RILL_LOG_W(RILL__LOGC, "%s: waiting for stream threads to pause", app->app_id);
        /* Standbys of the tasks that become active here close first. */
        pthread_mutex_lock(&app->sb_lock);
        if (app->nsb)
                sb_release(app, parts);
        create_tasks(app, parts);
        close_suspended_tasks(app);
        pthread_mutex_unlock(&app->sb_lock);
        rd_kafka_assign(app->consumer, parts);
        app->assigned = true;
        atomic_store(&app->sb_refresh, true);
        resume_threads(app);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
        rill_app_t *app = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                on_assign(app, parts);
        else
                on_revoke(app, parts);
}

/* ---- the app thread ---- */

/* Closes every task and recreates them at the committed offsets of their
 * partitions (a seek; the assignment and the group are unchanged): the tasks
 * restart from their last commit. */
static void
restart_tasks(rill_app_t *app)
{
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t kerr;
        rd_kafka_error_t *serr = NULL;

        while (!pause_threads(app, 5000))
                RILL_LOG_W(RILL__LOGC, "%s: waiting for stream threads to pause", app->app_id);
        commit_parked(app, atomic_load(&app->flush_timeout), true);
        pthread_mutex_lock(&app->sb_lock);
        close_all_tasks(app, true);
        kerr = rd_kafka_assignment(app->consumer, &parts);
        if (!kerr)
                kerr = rd_kafka_committed(app->consumer, parts, 10000);
        if (!kerr) {
                for (int i = 0; i < parts->cnt; i++)
                        if (parts->elems[i].offset < 0)
                                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                set_state(app, RILL_APP_REBALANCING);
                create_tasks(app, parts);
        }
        pthread_mutex_unlock(&app->sb_lock);
        if (!kerr)
                serr = rd_kafka_seek_partitions(app->consumer, parts, 10000);
        if (kerr || serr) {
                char msg[256];
                snprintf(msg, sizeof(msg), "cannot restart the tasks: %s",
                         serr ? rd_kafka_error_string(serr) : rd_kafka_err2str(kerr));
                set_error(app, RILL_ERR_KAFKA, msg);
                set_state(app, RILL_APP_PENDING_ERROR);
                atomic_store(&app->stop, true);
        }
        if (serr)
                rd_kafka_error_destroy(serr);
        resume_threads(app);
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
}

static void
handle_failed_threads(rill_app_t *app)
{
        for (int i = 0; i < app->nthreads; i++) {
                sthread_t *th = &app->threads[i];
                rill_error_action_t act;
                bool dead;
                if (!th->started || !atomic_load(&th->failed))
                        continue;
                pthread_mutex_lock(&app->lock);
                dead = !th->alive;
                pthread_mutex_unlock(&app->lock);
                if (!dead)
                        continue;
                pthread_join(th->tid, NULL);
                th->started = false;
                set_error(app, th->err, th->errmsg);
                act = app->error_cb ? app->error_cb(app, i, th->err, th->errmsg, app->error_opaque)
                                    : (app->replace_thread_default ? RILL_REPLACE_THREAD
                                                                   : RILL_SHUTDOWN_CLIENT);
                if (act == RILL_SHUTDOWN_CLIENT) {
                        RILL_LOG_E(RILL__LOGC, "%s: shutting down after: %s", app->app_id,
                                   th->errmsg);
                        set_state(app, RILL_APP_PENDING_ERROR);
                        atomic_store(&app->stop, true);
                        return;
                }
                /* Replace the thread: commit what was processed, close the
                 * tasks, and reassign the same partitions from their committed
                 * offsets (no group rebalance is needed). */
                RILL_LOG_W(RILL__LOGC, "%s: replacing stream thread %d after: %s", app->app_id, i,
                           th->errmsg);
                start_thread(app, i);
                restart_tasks(app);
        }
}

static void
update_running(rill_app_t *app)
{
        bool all_ready = true;
        if (atomic_load(&app->state) != RILL_APP_REBALANCING || !app->assigned)
                return;
        pthread_rwlock_rdlock(&app->tasks_lock);
        for (int i = 0; i < app->ntasks; i++)
                all_ready &= app->tasks[i]->ready;
        pthread_rwlock_unlock(&app->tasks_lock);
        if (all_ready)
                set_state(app, RILL_APP_RUNNING);
}

static void *
app_main(void *arg)
{
        rill_app_t *app = arg;
        bool error_exit;

        while (!atomic_load(&app->stop)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(app->consumer, 50);
                if (m) {
                        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                RILL_LOG_W(RILL__LOGC, "%s: consumer: %s", app->app_id,
                                           rd_kafka_message_errstr(m));
                        else if (!m->err)
                                RILL_LOG_W(RILL__LOGC,
                                           "%s: record of %s[%d] reached the main queue; it will "
                                           "be re-read after the next rebalance",
                                           app->app_id, rd_kafka_topic_name(m->rkt),
                                           (int)m->partition);
                        rd_kafka_message_destroy(m);
                }
                rd_kafka_poll(app->producer, 0);
                handle_failed_threads(app);
                if (atomic_load(&app->stop))
                        break;
                update_running(app);
                maybe_commit(app, false);
        }

        error_exit = atomic_load(&app->state) == RILL_APP_PENDING_ERROR;
        if (!error_exit)
                set_state(app, RILL_APP_PENDING_SHUTDOWN);
        /* Leaving the group revokes the partitions: on_revoke commits,
         * checkpoints and closes the tasks. */
        rd_kafka_consumer_close(app->consumer);
        if (app->ntasks) {
                if (pause_threads(app, 5000))
                        commit_parked(app, atomic_load(&app->flush_timeout), true);
                close_all_tasks(app, true);
        }
        for (int i = 0; i < app->nthreads; i++)
                app->threads[i].exit = true;
        resume_threads(app);
        for (int i = 0; i < app->nthreads; i++) {
                if (app->threads[i].started) {
                        rd_kafka_queue_yield(app->threads[i].queue);
                        pthread_join(app->threads[i].tid, NULL);
                        app->threads[i].started = false;
                }
        }
        sb_stop(app);
        if (rd_kafka_flush(app->producer, (int)atomic_load(&app->flush_timeout)) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
                RILL_LOG_W(RILL__LOGC, "%s: %d records were not acknowledged before close",
                           app->app_id, rd_kafka_outq_len(app->producer));
                app->close_result = RILL_ERR_TIMEOUT;
        }
        set_state(app, error_exit ? RILL_APP_ERROR : RILL_APP_NOT_RUNNING);
        return NULL;
}

/* ---- public API ---- */

static void
set_dr_cb(rd_kafka_conf_t *kc)
{
        rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
}

static void
set_rebalance_cb(rd_kafka_conf_t *kc)
{
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
}

rill_app_t *
rill_app_new(const rill_topology_t *topo, rill_conf_t *conf, char *errstr, size_t errstr_size)
{
        rill_app_t *app;
        const char *v;

        if (!topo || !conf) {
                rill__errf(errstr, errstr_size, "rill_app_new: NULL topology or configuration");
                return NULL;
        }
        if (!rill__conf_str(conf, "application.id") || !rill__conf_str(conf, "bootstrap.servers")) {
                rill__errf(errstr, errstr_size,
                           "application.id and bootstrap.servers must be configured");
                return NULL;
        }
        if (!strcmp(rill__conf_str(conf, "processing.guarantee"), "exactly_once_v2")) {
                rill__errf(errstr, errstr_size,
                           "processing.guarantee=exactly_once_v2 is not supported yet; use "
                           "at_least_once");
                return NULL;
        }
        app = RILL__NEW(rill_app_t);
        app->topo = topo;
        app->conf = conf;
        app->app_id = rill__strdup(rill__conf_str(conf, "application.id"));
        app->state_dir = rill__asprintf("%s/%s", rill__conf_str(conf, "state.dir"), app->app_id);
        app->nthreads = (int)rill__conf_int(conf, "num.stream.threads");
        app->commit_interval = rill__conf_int(conf, "commit.interval.ms");
        atomic_init(&app->flush_timeout, rill__conf_int(conf, "rill.flush.timeout.ms"));
        app->replace_thread_default =
                !strcmp(rill__conf_str(conf, "rill.uncaught.error.policy"), "replace_thread");
        pthread_mutex_init(&app->lock, NULL);
        pthread_cond_init(&app->cond, NULL);
        pthread_mutex_init(&app->dr_lock, NULL);
        pthread_mutex_init(&app->err_lock, NULL);
        pthread_rwlock_init(&app->tasks_lock, NULL);
        pthread_mutex_init(&app->sb_lock, NULL);
        app->standbys = (int)rill__conf_int(conf, "num.standby.replicas");
        atomic_init(&app->state, RILL_APP_CREATED);
        app->sub_parts = rill__calloc((size_t)(topo->nsubs + 1), sizeof(int32_t));
        app->repart_parts = rill__calloc((size_t)(topo->nreparts + 1), sizeof(int32_t));
        app->threads = rill__calloc((size_t)app->nthreads, sizeof(sthread_t));

        app->env.app_id = app->app_id;
        app->env.state_dir = app->state_dir;
        v = rill__conf_str(conf, "default.dsl.store");
        app->env.default_store = !strcmp(v, "in_memory") ? RILL_STORE_IN_MEMORY : RILL_STORE_ROCKSDB;
        v = rill__conf_str(conf, "default.deserialization.exception.handler");
        app->env.deser_continue = !strcmp(v, "log_and_continue") ||
                                  !strcmp(v, "LogAndContinueExceptionHandler");
        app->env.cache_budget = rill__cache_budget(rill__conf_int(conf, "statestore.cache.max.bytes"),
                                                   4 * app->nthreads);
        app->env.send = app_send;
        app->env.wall_clock = app_wall_clock;
        app->env.opaque = app;
        app->env.sub_parts = app->sub_parts;
        app->env.repart_parts = app->repart_parts;

        /* Rill's defaults (the user's prefixed properties win) and the
         * settings the runtime depends on (forced). */
        {
                static const char *const prod_defaults[] = {
                        "partitioner", "murmur2_random", "message.timeout.ms", "0", "acks", "all",
                        "linger.ms", "5", NULL};
                static const char *const cons_defaults[] = {
                        "auto.offset.reset", "earliest", "enable.auto.offset.store", "false", NULL};
                const char *const cons_forced[] = {
                        "group.id", app->app_id, "partition.assignment.strategy", "range",
                        "enable.auto.commit", "false", NULL};
                app->producer = client_new(app, RD_KAFKA_PRODUCER, "producer.", "producer",
                                           prod_defaults, NULL, set_dr_cb, errstr, errstr_size);
                if (!app->producer)
                        goto fail;
                /* The admin client is a producer handle that never produces. */
                app->admin = client_new(app, RD_KAFKA_PRODUCER, "admin.", "admin", NULL, NULL,
                                        NULL, errstr, errstr_size);
                if (!app->admin)
                        goto fail;
                app->consumer = client_new(app, RD_KAFKA_CONSUMER, "consumer.", "consumer",
                                           cons_defaults, cons_forced, set_rebalance_cb, errstr,
                                           errstr_size);
                if (!app->consumer)
                        goto fail;
        }
        rd_kafka_poll_set_consumer(app->consumer);
        return app;
fail:
        app->conf = NULL; /* the caller keeps conf on failure */
        rill_app_destroy(app);
        return NULL;
}

void
rill_app_set_state_cb(rill_app_t *app, rill_state_cb *cb, void *opaque)
{
        app->state_cb = cb;
        app->state_opaque = opaque;
}

void
rill_app_set_error_cb(rill_app_t *app, rill_error_cb *cb, void *opaque)
{
        app->error_cb = cb;
        app->error_opaque = opaque;
}

rill_err_t
rill_app_start(rill_app_t *app, char *errstr, size_t errstr_size)
{
        const rill_topology_t *t = app->topo;
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_resp_err_t kerr;
        rill_err_t e;

        if (atomic_load(&app->state) != RILL_APP_CREATED) {
                rill__errf(errstr, errstr_size, "the application was already started");
                return RILL_ERR_STATE;
        }
        if (rill__mkdirs(app->state_dir, 0755) != 0) {
                rill__errf(errstr, errstr_size, "cannot create state directory %s: %s",
                           app->state_dir, strerror(errno));
                return RILL_ERR_IO;
        }
        e = prepare_topics(app, errstr, errstr_size);
        if (e != RILL_OK)
                return e;
        set_state(app, RILL_APP_REBALANCING);
        for (int i = 0; i < app->nthreads; i++) {
                if (start_thread(app, i) != RILL_OK) {
                        rill__errf(errstr, errstr_size, "cannot start stream thread %d", i);
                        atomic_store(&app->stop, true);
                        return RILL_ERR_STATE;
                }
        }
        if (app->standbys > 0) {
                static const char *const sb_defaults[] = {"enable.auto.commit", "false",
                                                          "fetch.wait.max.ms", "100", NULL};
                char group[300];
                /* A group id without a subscription: assign-only, never joins. */
                snprintf(group, sizeof(group), "%s-standby-consumer", app->app_id);
                const char *const forced[] = {"group.id", group, NULL};
                app->sb_consumer = client_new(app, RD_KAFKA_CONSUMER, "consumer.",
                                              "standby-consumer", sb_defaults, forced, NULL,
                                              errstr, errstr_size);
                if (!app->sb_consumer) {
                        atomic_store(&app->stop, true);
                        return RILL_ERR_KAFKA;
                }
                app->sb_queue = rd_kafka_queue_get_consumer(app->sb_consumer);
                if (pthread_create(&app->sb_tid, NULL, sb_main, app) != 0) {
                        rill__errf(errstr, errstr_size, "cannot start the standby thread");
                        atomic_store(&app->stop, true);
                        return RILL_ERR_STATE;
                }
                app->sb_started = true;
        }
        sub = rd_kafka_topic_partition_list_new(8);
        for (int n = 0; n < t->nnodes; n++) {
                const rill__node_t *node = t->nodes[n];
                if (node->kind != RILL__N_SOURCE)
                        continue;
                if (node->pattern) {
                        char *re = rill__asprintf("^(%s)$", node->pattern);
                        rd_kafka_topic_partition_list_add(sub, re, RD_KAFKA_PARTITION_UA);
                        rill__free(re);
                        continue;
                }
                for (int k = 0; k < node->ntopics; k++) {
                        char *name = node->internal
                                             ? rill__repart_topic(app->app_id, &t->reparts[node->repart])
                                             : rill__strdup(node->topics[k]);
                        rd_kafka_topic_partition_list_add(sub, name, RD_KAFKA_PARTITION_UA);
                        rill__free(name);
                }
        }
        kerr = rd_kafka_subscribe(app->consumer, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (kerr) {
                rill__errf(errstr, errstr_size, "subscribe failed: %s", rd_kafka_err2str(kerr));
                atomic_store(&app->stop, true);
                return RILL_ERR_KAFKA;
        }
        app->last_commit = rill__mono_ms();
        if (pthread_create(&app->main_tid, NULL, app_main, app) != 0) {
                rill__errf(errstr, errstr_size, "cannot start the application thread");
                atomic_store(&app->stop, true);
                return RILL_ERR_STATE;
        }
        app->main_started = true;
        return RILL_OK;
}

rill_err_t
rill_app_close(rill_app_t *app, int timeout_ms)
{
        if (!app || app->closed)
                return app ? app->close_result : RILL_OK;
        if (timeout_ms >= 0) {
                int64_t t = atomic_load(&app->flush_timeout);
                atomic_store(&app->flush_timeout, RILL__MAX(1, RILL__MIN(t, timeout_ms)));
        }
        atomic_store(&app->stop, true);
        if (app->main_started) {
                pthread_join(app->main_tid, NULL);
                app->main_started = false;
        } else {
                /* Never started, or start failed: stop the threads it made. */
                for (int i = 0; i < app->nthreads; i++)
                        app->threads[i].exit = true;
                resume_threads(app);
                for (int i = 0; i < app->nthreads; i++) {
                        if (app->threads[i].started) {
                                rd_kafka_queue_yield(app->threads[i].queue);
                                pthread_join(app->threads[i].tid, NULL);
                                app->threads[i].started = false;
                        }
                }
                sb_stop(app);
                if (atomic_load(&app->state) != RILL_APP_CREATED)
                        set_state(app, RILL_APP_NOT_RUNNING);
        }
        app->closed = true;
        return app->close_result;
}

void
rill_app_destroy(rill_app_t *app)
{
        if (!app)
                return;
        rill_app_close(app, -1);
        for (int i = 0; i < app->nthreads; i++) {
                if (app->threads[i].queue)
                        rd_kafka_queue_destroy(app->threads[i].queue);
                if (app->threads[i].restore) {
                        rd_kafka_consumer_close(app->threads[i].restore);
                        rd_kafka_destroy(app->threads[i].restore);
                }
                rill__free(app->threads[i].tasks);
        }
        if (app->sb_queue)
                rd_kafka_queue_destroy(app->sb_queue);
        if (app->sb_consumer) {
                rd_kafka_consumer_close(app->sb_consumer);
                rd_kafka_destroy(app->sb_consumer);
        }
        rill__free(app->sb);
        if (app->consumer)
                rd_kafka_destroy(app->consumer);
        if (app->admin)
                rd_kafka_destroy(app->admin);
        if (app->producer) {
                if (rd_kafka_outq_len(app->producer) > 0)
                        rd_kafka_purge(app->producer, RD_KAFKA_PURGE_F_QUEUE |
                                                              RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_destroy(app->producer);
        }
        for (int i = 0; i < app->ndr; i++) {
                rill__free(app->dr[i]->topic);
                rill__free(app->dr[i]);
        }
        rill__free(app->dr);
        rill__free(app->tasks);
        rill__free(app->threads);
        rill__free(app->sub_parts);
        rill__free(app->repart_parts);
        rill__free(app->state_dir);
        rill__free(app->app_id);
        rill_conf_destroy(app->conf);
        pthread_mutex_destroy(&app->lock);
        pthread_cond_destroy(&app->cond);
        pthread_mutex_destroy(&app->dr_lock);
        pthread_mutex_destroy(&app->err_lock);
        pthread_rwlock_destroy(&app->tasks_lock);
        pthread_mutex_destroy(&app->sb_lock);
        rill__free(app);
}

rill_app_state_t
rill_app_state(const rill_app_t *app)
{
        return (rill_app_state_t)atomic_load(&((rill_app_t *)app)->state);
}

rill_err_t
rill_app_last_error(rill_app_t *app, char *errstr, size_t errstr_size)
{
        rill_err_t e;
        pthread_mutex_lock(&app->err_lock);
        e = app->last_err;
        if (e != RILL_OK)
                rill__errf(errstr, errstr_size, "%s", app->last_errmsg);
        pthread_mutex_unlock(&app->err_lock);
        return e;
}

rill_err_t
rill_app_store_get(rill_app_t *app, const char *store, rill_bytes_t key, void **value,
                   size_t *value_len)
{
        rill_err_t e = RILL_ERR_NOT_FOUND;
        int idx = -1;
        if (!store || !key.data)
                return RILL_ERR_NOT_FOUND;
        for (int s = 0; s < app->topo->nstores; s++)
                if (!strcmp(app->topo->stores[s].name, store))
                        idx = s;
        if (idx < 0)
                return RILL_ERR_NOT_FOUND;
        pthread_rwlock_rdlock(&app->tasks_lock);
        for (int i = 0; i < app->ntasks && e == RILL_ERR_NOT_FOUND; i++) {
                atask_t *at = app->tasks[i];
                if (!at->ready || !at->task->stores[idx])
                        continue;
                e = rill__store_get_copy(at->task->stores[idx], key, value, value_len);
        }
        pthread_rwlock_unlock(&app->tasks_lock);
        return e;
}

uint64_t
rill_app_records_processed(const rill_app_t *app)
{
        return atomic_load(&((rill_app_t *)app)->processed);
}

int
rill_app_task_count(rill_app_t *app)
{
        int n = 0;
        pthread_rwlock_rdlock(&app->tasks_lock);
        for (int i = 0; i < app->ntasks; i++)
                n += !atomic_load(&app->tasks[i]->suspended);
        pthread_rwlock_unlock(&app->tasks_lock);
        return n;
}

uint64_t
rill_app_records_restored(const rill_app_t *app)
{
        return atomic_load(&((rill_app_t *)app)->restored);
}

int
rill_app_standby_task_count(rill_app_t *app)
{
        int n;
        pthread_mutex_lock(&app->sb_lock);
        n = app->nsb;
        pthread_mutex_unlock(&app->sb_lock);
        return n;
}
