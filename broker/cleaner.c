/*
 * cleaner.c - the broker's background storage threads: the log cleaner
 * (compaction) and the flusher (deferred fsyncs). See server.h.
 *
 * Why: a compaction pass rewrites whole segments (up to log.segment.bytes,
 * 1 GiB by default) and the fsync of a rolled segment can flush as much
 * dirty data; on the event-loop thread either stalls every client of the
 * broker for as long. Kafka runs them on log cleaner threads; so do we, with
 * one cleaner thread and one flusher thread per broker.
 *
 * The protocol keeps the logs single-threaded from the loop's point of
 * view (log.c's header comment has the log side of it):
 *
 * - Compaction. On the ~50 ms tick (rill__cleaner_tick), the loop thread
 *   first collects a finished job, if any, and commits it
 *   (rill__log_compact_commit: renames, in-memory segment list, checkpoint)
 *   or, when its log was closed or deleted meanwhile, frees it. When no job
 *   is in flight it then walks the partitions of compacted topics round
 *   robin (at most PLAN_BUDGET per tick) and plans a job for the first log
 *   that needs one (rill__log_compact_plan: cheap, in memory). The job goes
 *   to the cleaner thread, which builds it (reads closed segments through
 *   its own descriptors, writes and fsyncs the .cleaned files) and leaves
 *   it in a one-slot mailbox for the next tick. A full round that finds
 *   nothing to do pauses the scans for log.cleaner.backoff.ms. One job at a
 *   time: a pass never competes with another for the disk.
 *
 * - Flushing. Every log of the broker gets rill__cleaner_syncer as its
 *   syncer: roll(), retention and compaction hand it sync tasks (the fsync
 *   of a rolled segment, directory fsyncs, checkpoint writes), which the
 *   flusher thread runs in FIFO order, so the tasks of a log run in the
 *   order they were made. The flusher is separate from the cleaner so that
 *   a segment's fsync never waits behind a long compaction pass.
 *
 * Shutdown. rill__cleaner_cancel (called by rill_broker_stop/kill before
 * the loop thread is stopped) raises an atomic flag that the build checks
 * between batches, so the cleaner leaves its pass within one batch.
 * rill__cleaner_destroy then joins the cleaner, frees any job still held
 * (removing its .cleaned files), and stops the flusher: on a clean stop it
 * first runs every queued task, on a kill it drops them (as a crash
 * would). Only then are the logs closed. Topic deletion needs nothing from
 * here: the log marks its shared state dead, the build notices between
 * batches and stops, and the tick frees the job.
 *
 * Threading: rill__cleaner_new/destroy run on the broker owner's thread
 * while the loop thread is not running; rill__cleaner_syncer and
 * rill__cleaner_tick on the loop thread; rill__cleaner_cancel,
 * rill__cleaner_cancelled, rill__cleaner_stats and
 * rill__cleaner_set_test_hook on any thread. The mailboxes, the queue and
 * the hook are guarded by one mutex; the counters are atomics; the round
 * robin cursor is the loop thread's alone.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

/* Partitions looked at per tick while searching for a log to compact. */
#define PLAN_BUDGET 1024

typedef struct sync_node {
        rill__log_sync_t *task;
        struct sync_node *next;
} sync_node_t;

struct rill__cleaner {
        rill_broker_t *b;
        bool compaction;
        int64_t backoff_ms;
        pthread_mutex_t mu;

        /* Cleaner thread (only when compaction). */
        pthread_t clean_thr;
        bool clean_started;
        pthread_cond_t clean_cv;
        rill__compact_job_t *todo;  /* (mu) handed to the cleaner */
        rill__compact_job_t *done;  /* (mu) built, waiting for the loop */
        bool clean_stop;            /* (mu) */
        atomic_bool cancel;
        void (*hook)(void *opaque); /* (mu) test hook, called between batches */
        void *hook_opaque;          /* (mu) */

        /* Flusher thread. */
        pthread_t sync_thr;
        bool sync_started;
        pthread_cond_t sync_cv;
        sync_node_t *q_head, *q_tail; /* (mu) */
        bool sync_stop;               /* (mu) */
        bool sync_drain;              /* (mu) run what is queued before stopping */

        /* Loop thread only. */
        bool inflight;          /* a job is with the cleaner (todo or done) */
        int64_t next_scan_ms;   /* monotonic */
        int cur_topic, cur_part;
        int64_t round_left;     /* partitions left to visit in this round */
        bool round_found;

        atomic_llong passes, committed, discarded, syncs;
};

/* ---- cleaner thread ---- */

typedef struct go_ctx {
        rill__cleaner_t *c;
        void (*hook)(void *opaque);
        void *hook_opaque;
} go_ctx_t;

static bool
clean_go_on(void *opaque)
{
        go_ctx_t *g = opaque;
        if (g->hook)
                g->hook(g->hook_opaque);
        return !atomic_load(&g->c->cancel);
}

static void *
clean_main(void *arg)
{
        rill__cleaner_t *c = arg;
        char name[16];
        snprintf(name, sizeof(name), "rill-clean-%u", (unsigned)rill__broker_conf(c->b)->node_id % 10000u);
        pthread_setname_np(pthread_self(), name);
        pthread_mutex_lock(&c->mu);
        for (;;) {
                rill__compact_job_t *job;
                go_ctx_t g;
                while (!c->todo && !c->clean_stop)
                        pthread_cond_wait(&c->clean_cv, &c->mu);
                if (c->clean_stop)
                        break;
                job = c->todo;
                c->todo = NULL;
                g.c = c;
                g.hook = c->hook;
                g.hook_opaque = c->hook_opaque;
                pthread_mutex_unlock(&c->mu);
                rill__compact_job_build(job, clean_go_on, &g);
                pthread_mutex_lock(&c->mu);
                c->done = job;
        }
        pthread_mutex_unlock(&c->mu);
        return NULL;
}

/* ---- flusher thread ---- */

static void *
sync_main(void *arg)
{
        rill__cleaner_t *c = arg;
        char name[16];
        snprintf(name, sizeof(name), "rill-sync-%u", (unsigned)rill__broker_conf(c->b)->node_id % 10000u);
        pthread_setname_np(pthread_self(), name);
        pthread_mutex_lock(&c->mu);
        for (;;) {
                sync_node_t *n;
                while (!c->q_head && !c->sync_stop)
                        pthread_cond_wait(&c->sync_cv, &c->mu);
                if (c->sync_stop && (!c->sync_drain || !c->q_head))
                        break;
                n = c->q_head;
                c->q_head = n->next;
                if (!c->q_head)
                        c->q_tail = NULL;
                pthread_mutex_unlock(&c->mu);
                rill__log_sync_run(n->task);
                rill__free(n);
                atomic_fetch_add(&c->syncs, 1);
                pthread_mutex_lock(&c->mu);
        }
        pthread_mutex_unlock(&c->mu);
        return NULL;
}

void
rill__cleaner_syncer(void *opaque, rill__log_sync_t *task)
{
        rill__cleaner_t *c = opaque;
        sync_node_t *n = RILL__NEW(sync_node_t);
        n->task = task;
        pthread_mutex_lock(&c->mu);
        if (c->q_tail)
                c->q_tail->next = n;
        else
                c->q_head = n;
        c->q_tail = n;
        pthread_cond_signal(&c->sync_cv);
        pthread_mutex_unlock(&c->mu);
}

/* ---- lifecycle ---- */

rill__cleaner_t *
rill__cleaner_new(rill_broker_t *b, bool compaction, int64_t backoff_ms, char *errstr,
                  size_t errstr_size)
{
        rill__cleaner_t *c = RILL__NEW(rill__cleaner_t);
        int e;
        c->b = b;
        c->compaction = compaction;
        c->backoff_ms = backoff_ms > 0 ? backoff_ms : 0;
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->clean_cv, NULL);
        pthread_cond_init(&c->sync_cv, NULL);
        atomic_init(&c->cancel, false);
        atomic_init(&c->passes, 0);
        atomic_init(&c->committed, 0);
        atomic_init(&c->discarded, 0);
        atomic_init(&c->syncs, 0);
        c->next_scan_ms = rill__mono_ms();
        if ((e = pthread_create(&c->sync_thr, NULL, sync_main, c)) != 0) {
                rill__errf(errstr, errstr_size, "cannot start the flusher thread: %s", strerror(e));
                rill__cleaner_destroy(c, false);
                return NULL;
        }
        c->sync_started = true;
        if (compaction) {
                if ((e = pthread_create(&c->clean_thr, NULL, clean_main, c)) != 0) {
                        rill__errf(errstr, errstr_size, "cannot start the log cleaner thread: %s",
                                   strerror(e));
                        rill__cleaner_destroy(c, false);
                        return NULL;
                }
                c->clean_started = true;
        }
        return c;
}

void
rill__cleaner_cancel(rill__cleaner_t *c)
{
        if (c)
                atomic_store(&c->cancel, true);
}

bool
rill__cleaner_cancelled(const rill__cleaner_t *c)
{
        return atomic_load(&c->cancel);
}

void
rill__cleaner_destroy(rill__cleaner_t *c, bool drain)
{
        sync_node_t *rest;
        if (!c)
                return;
        /* The cleaner first: a cancelled build returns within a batch. */
        atomic_store(&c->cancel, true);
        pthread_mutex_lock(&c->mu);
        c->clean_stop = true;
        pthread_cond_broadcast(&c->clean_cv);
        pthread_mutex_unlock(&c->mu);
        if (c->clean_started)
                pthread_join(c->clean_thr, NULL);
        rill__compact_job_free(c->todo);
        rill__compact_job_free(c->done);
        c->todo = c->done = NULL;

        /* Then the flusher: queued tasks run (clean stop) or go (kill). */
        pthread_mutex_lock(&c->mu);
        c->sync_stop = true;
        c->sync_drain = drain;
        pthread_cond_broadcast(&c->sync_cv);
        pthread_mutex_unlock(&c->mu);
        if (c->sync_started)
                pthread_join(c->sync_thr, NULL);
        rest = c->q_head;
        while (rest) {
                sync_node_t *n = rest;
                rest = n->next;
                if (drain)
                        rill__log_sync_run(n->task);
                else
                        rill__log_sync_drop(n->task);
                rill__free(n);
        }
        pthread_cond_destroy(&c->clean_cv);
        pthread_cond_destroy(&c->sync_cv);
        pthread_mutex_destroy(&c->mu);
        rill__free(c);
}

void
rill__cleaner_set_test_hook(rill__cleaner_t *c, void (*fn)(void *opaque), void *opaque)
{
        pthread_mutex_lock(&c->mu);
        c->hook = fn;
        c->hook_opaque = opaque;
        pthread_mutex_unlock(&c->mu);
}

void
rill__cleaner_stats(rill__cleaner_t *c, rill__cleaner_stats_t *out)
{
        out->passes = atomic_load(&c->passes);
        out->committed = atomic_load(&c->committed);
        out->discarded = atomic_load(&c->discarded);
        out->syncs = atomic_load(&c->syncs);
}

/* ---- loop side ---- */

/* Commits or frees a job the cleaner has finished. */
static void
finish_job(rill__cleaner_t *c, rill__compact_job_t *job)
{
        rill__log_t *log = rill__compact_job_log(job);
        rill_err_t err;
        if (!log) {
                /* Its topic was deleted (or the log closed) during the pass. */
                rill__compact_job_free(job);
                atomic_fetch_add(&c->discarded, 1);
                RILL_LOG_D("cleaner", "compaction pass dropped: its log is gone");
                return;
        }
        err = rill__log_compact_commit(log, job);
        if (err == RILL_OK) {
                atomic_fetch_add(&c->committed, 1);
        } else {
                atomic_fetch_add(&c->discarded, 1);
                if (err != RILL_DECLINED && err != RILL_ERR_SHUTDOWN)
                        RILL_LOG_W("cleaner", "%s: compaction failed: %s", rill__log_dir(log),
                                   rill_err2str(err));
        }
}

static int64_t
partition_total(const rill_broker_t *b)
{
        int64_t n = 0;
        for (int i = 0; i < b->topic_cnt; i++)
                n += b->topics[i]->partition_cnt;
        return n;
}

/* The next partition of the round robin, or NULL when there is none. */
static rill__partition_t *
next_partition(rill__cleaner_t *c)
{
        rill_broker_t *b = c->b;
        for (int tries = 0; tries <= b->topic_cnt; tries++) {
                rill__topic_t *t;
                if (c->cur_topic >= b->topic_cnt) {
                        c->cur_topic = 0;
                        c->cur_part = 0;
                }
                if (b->topic_cnt == 0)
                        return NULL;
                t = b->topics[c->cur_topic];
                if (c->cur_part < t->partition_cnt)
                        return t->partitions[c->cur_part++];
                c->cur_topic++;
                c->cur_part = 0;
        }
        return NULL;
}

void
rill__cleaner_tick(rill__cleaner_t *c, int64_t now_mono_ms)
{
        rill__compact_job_t *job;
        int64_t wall;

        if (!c || !c->compaction)
                return;
        if (c->inflight) {
                pthread_mutex_lock(&c->mu);
                job = c->done;
                c->done = NULL;
                pthread_mutex_unlock(&c->mu);
                if (!job)
                        return;
                c->inflight = false;
                finish_job(c, job);
        }
        if (now_mono_ms < c->next_scan_ms)
                return;
        if (c->round_left <= 0) {
                c->round_left = partition_total(c->b);
                c->round_found = false;
        }
        wall = rill__now_ms();
        for (int n = 0; n < PLAN_BUDGET && c->round_left > 0; n++) {
                rill__partition_t *p = next_partition(c);
                c->round_left--;
                if (!p)
                        break;
                if (!(p->topic->conf.cleanup_policy & RILL__CLEANUP_COMPACT) ||
                    rill__log_compact_plan(p->log, wall, &job) != RILL_OK)
                        continue;
                c->round_found = true;
                c->inflight = true;
                atomic_fetch_add(&c->passes, 1);
                pthread_mutex_lock(&c->mu);
                c->todo = job;
                pthread_cond_signal(&c->clean_cv);
                pthread_mutex_unlock(&c->mu);
                return;
        }
        if (c->round_left <= 0 || partition_total(c->b) == 0) {
                /* A whole round done: pause unless it found work. */
                c->round_left = 0;
                if (!c->round_found)
                        c->next_scan_ms = now_mono_ms + c->backoff_ms;
        }
}
