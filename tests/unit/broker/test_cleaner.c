/*
 * test_cleaner.c - compaction and segment fsyncs off the event loop
 * (broker/log.c background work, broker/cleaner.c).
 *
 * Log level (no broker): a compaction job is planned on the test thread,
 * built on a second thread and committed on the test thread, as the broker
 * does. A go_on() hook holds the build in the middle of a pass (once a
 * .cleaned file exists), so the interleavings are exact, not timed:
 *   - the background result is byte for byte the synchronous one;
 *   - appends (with rolls) and reads while the pass is held see every
 *     record, and the commit then compacts exactly the planned part;
 *   - retention deleting planned segments during the pass drops their
 *     results (no resurrected segment, no .cleaned file left), the rest is
 *     committed; a truncation during the pass discards the whole result;
 *   - cancelling, closing or deleting the log during the pass stops the
 *     build; nothing is left behind (after the next open), a deleted log's
 *     directory is not re-created;
 *   - deferred roll fsyncs: one sync task per roll, the recovery point moves
 *     when a task runs, a crash with tasks pending makes the next open
 *     validate (and repair) the closed segments above the recovery point -
 *     which, without deferral, it does not do - flush.messages=1 keeps the
 *     roll synchronous, a clean close with tasks pending is complete on its
 *     own, a truncation makes pending tasks stale, and the last close of a
 *     deleted segment (freeing its blocks) is left to a task.
 * Broker level (raw protocol, so that a ThreadSanitizer build sees only
 * instrumented threads): the cleaner thread compacts, a topic deleted
 * while its pass is held is dropped cleanly, and rill_broker_stop during a
 * held pass cancels it, leaves no .cleaned file and the data intact.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "broker_test_util.h"
#include "kerr.h"
#include "log.h"
#include "rill_alloc.h"
#include "rill_test.h"
#include "rill_util.h"
#include "server.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

/* ---- helpers ------------------------------------------------------------ */

static void
conf_init(rill__log_conf_t *c)
{
        rill__log_conf_defaults(c);
        c->cleanup_policy = RILL__CLEANUP_COMPACT;
        c->segment_bytes = 1200;
        c->index_interval_bytes = 100;
        c->min_cleanable_dirty_ratio = 0.01;
        c->min_compaction_lag_ms = 0;
        c->max_compaction_lag_ms = INT64_MAX;
        c->retention_ms = -1;
        c->retention_bytes = -1;
        c->flush_messages = INT64_MAX;
        c->flush_ms = INT64_MAX;
}

/* The log holds exactly: below @p cut at most one record per key, the
 * latest one written below cut (offset o has key o % nkeys); from cut to
 * the end every record. Returns false (after failing asserts) otherwise. */
static void
check_compacted_below(rill__log_t *log, int64_t first, int64_t cut, int nkeys)
{
        bt_rec_t *v;
        int n = bt_read_records(log, &v);
        int64_t above = 0;
        int *seen = calloc((size_t)nkeys, sizeof(int));
        for (int i = 0; i < n; i++) {
                if (v[i].off >= cut) {
                        above++;
                        continue;
                }
                CU_ASSERT(v[i].off >= first);
                seen[v[i].key]++;
                /* No later record of this key below cut. */
                CU_ASSERT(v[i].off + nkeys >= cut);
        }
        for (int k = 0; k < nkeys; k++)
                CU_ASSERT(seen[k] <= 1);
        CU_ASSERT_EQUAL(above, rill__log_end_offset(log) - cut);
        free(seen);
        free(v);
}

static bool
seg_exists(const char *dir, int64_t base)
{
        char *p = bt_seg_file(dir, base, ".log");
        bool r = access(p, F_OK) == 0;
        free(p);
        return r;
}

static int64_t
read_num_file(const char *dir, const char *name)
{
        char *p = rill__asprintf("%s/%s", dir, name);
        FILE *f = fopen(p, "r");
        long long v = -1;
        free(p);
        if (!f)
                return -1;
        if (fscanf(f, "%lld", &v) != 1)
                v = -1;
        fclose(f);
        return v;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t cap = 0, n = 0;
        *len = 0;
        if (!f)
                return NULL;
        for (;;) {
                size_t got;
                if (n == cap) {
                        cap = cap ? cap * 2 : 4096;
                        buf = realloc(buf, cap);
                }
                got = fread(buf + n, 1, cap - n, f);
                if (got == 0)
                        break;
                n += got;
        }
        fclose(f);
        *len = n;
        return buf;
}

static int
cmp_names(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* The sorted names of the files in @p dir with suffix @p suffix. */
static int
list_files(const char *dir, const char *suffix, char names[][64], int max)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        size_t m = strlen(suffix);
        if (!d)
                return 0;
        while ((de = readdir(d)) && n < max) {
                size_t l = strlen(de->d_name);
                if (l >= m && strcmp(de->d_name + l - m, suffix) == 0 && l < 64)
                        memcpy(names[n++], de->d_name, l + 1);
        }
        closedir(d);
        qsort(names, (size_t)n, 64, cmp_names);
        return n;
}

/* Every segment and index file of @p a equals its namesake in @p b. */
static void
check_same_files(const char *a, const char *b)
{
        static const char *const exts[3] = {".log", ".index", ".timeindex"};
        for (int e = 0; e < 3; e++) {
                char na[128][64], nb[128][64];
                int ca = list_files(a, exts[e], na, 128), cb = list_files(b, exts[e], nb, 128);
                CU_ASSERT_EQUAL(ca, cb);
                for (int i = 0; i < ca && i < cb; i++) {
                        char *pa = rill__asprintf("%s/%s", a, na[i]), *pb = rill__asprintf("%s/%s", b, nb[i]);
                        size_t la, lb;
                        uint8_t *ba = slurp(pa, &la), *bb = slurp(pb, &lb);
                        CU_ASSERT_STRING_EQUAL(na[i], nb[i]);
                        CU_ASSERT(la == lb && (la == 0 || memcmp(ba, bb, la) == 0));
                        free(ba);
                        free(bb);
                        free(pa);
                        free(pb);
                }
        }
}

/* ---- holding a build in the middle of a pass ---------------------------- */

typedef struct holder {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char dir[512];   /* hold once a .log.cleaned exists here ("" = at once) */
        bool armed;      /* hold at most once */
        bool held;       /* the build is waiting */
        bool released;
        bool cancel;     /* go_on answers false after the release */
        int calls;
} holder_t;

static void
holder_init(holder_t *h, const char *dir, bool armed)
{
        memset(h, 0, sizeof(*h));
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
        snprintf(h->dir, sizeof(h->dir), "%s", dir ? dir : "");
        h->armed = armed;
}

static void
holder_destroy(holder_t *h)
{
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
}

static struct timespec
deadline_in(int ms)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        return ts;
}

/* The go_on() of a build (and the cleaner's test hook): holds the build,
 * once, until holder_release(); the wait has a 60 s deadline so that a
 * failing test cannot hang. */
static bool
holder_go_on(void *opaque)
{
        holder_t *h = opaque;
        bool r;
        pthread_mutex_lock(&h->mu);
        h->calls++;
        if (h->armed && (!h->dir[0] || bt_count_files(h->dir, ".log.cleaned") > 0)) {
                struct timespec dl = deadline_in(60000);
                h->armed = false;
                h->held = true;
                pthread_cond_broadcast(&h->cv);
                while (!h->released)
                        if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
                                break;
                h->held = false;
        }
        r = !h->cancel;
        pthread_mutex_unlock(&h->mu);
        return r;
}

static void
holder_hook(void *opaque)
{
        (void)holder_go_on(opaque);
}

/* Waits (60 s deadline) until the build is held; returns true if it is. */
static bool
holder_wait_held(holder_t *h)
{
        struct timespec dl = deadline_in(60000);
        bool r;
        pthread_mutex_lock(&h->mu);
        while (!h->held)
                if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
                        break;
        r = h->held;
        pthread_mutex_unlock(&h->mu);
        return r;
}

static void
holder_release(holder_t *h, bool cancel)
{
        pthread_mutex_lock(&h->mu);
        h->released = true;
        h->cancel = cancel;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
}

typedef struct builder {
        pthread_t thr;
        rill__compact_job_t *job;
        holder_t *h;
        rill_err_t err;
} builder_t;

static void *
builder_main(void *arg)
{
        builder_t *bd = arg;
        bd->err = rill__compact_job_build(bd->job, bd->h ? holder_go_on : NULL, bd->h);
        return NULL;
}

static void
builder_start(builder_t *bd, rill__compact_job_t *job, holder_t *h)
{
        bd->job = job;
        bd->h = h;
        bd->err = RILL_ERR__END;
        CU_ASSERT_FATAL(pthread_create(&bd->thr, NULL, builder_main, bd) == 0);
}

static rill_err_t
builder_join(builder_t *bd)
{
        pthread_join(bd->thr, NULL);
        return bd->err;
}

/* 100 batches of 5 records over 20 keys, an hour old: ~20 closed segments. */
static int64_t
fill(rill__log_t *log, int64_t now, int nkeys)
{
        int64_t seq = 0;
        for (int b = 0; b < 100; b++, seq += 5)
                bt_append_keyed(log, seq, 5, nkeys, now - HOUR_MS, false, 0);
        return seq;
}

/* ---- log-level tests ---------------------------------------------------- */

static void
test_background_equals_sync(void)
{
        char *da = rill_test_tmpdir("rill-clean"), *db = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *la, *lb;
        rill__compact_job_t *job;
        builder_t bd;
        int64_t now = rill__now_ms(), seq = 0;

        conf_init(&c);
        la = bt_open_log(da, &c);
        lb = bt_open_log(db, &c);
        for (int b = 0; b < 100; b++, seq += 5) {
                bt_append_keyed(la, seq, 5, 20, now - HOUR_MS, false, 0);
                bt_append_keyed(lb, seq, 5, 20, now - HOUR_MS, false, 0);
        }
        /* Round 1: plain duplicates. Round 2: tombstones kept (young). Round
         * 3: two days later, tombstones dropped. */
        for (int round = 0; round < 3; round++) {
                int64_t t = round == 2 ? now + 2 * DAY_MS : now;
                if (round == 1) {
                        bt_append_keyed(la, seq, 5, 20, now - HOUR_MS, true, 0);
                        bt_append_keyed(lb, seq, 5, 20, now - HOUR_MS, true, 0);
                        seq += 5;
                }
                if (round >= 1) {
                        for (int b = 0; b < 40; b++, seq += 5) {
                                bt_append_keyed(la, seq, 5, 1000, now - HOUR_MS, false, 0);
                                bt_append_keyed(lb, seq, 5, 1000, now - HOUR_MS, false, 0);
                        }
                }
                CU_ASSERT_EQUAL(rill__log_compact(la, t), RILL_OK);
                CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(lb, t, &job), RILL_OK);
                builder_start(&bd, job, NULL);
                CU_ASSERT_EQUAL(builder_join(&bd), RILL_OK);
                CU_ASSERT_PTR_EQUAL(rill__compact_job_log(job), lb);
                CU_ASSERT_EQUAL(rill__log_compact_commit(lb, job), RILL_OK);

                CU_ASSERT_EQUAL(rill__log_start_offset(la), rill__log_start_offset(lb));
                CU_ASSERT_EQUAL(rill__log_end_offset(la), rill__log_end_offset(lb));
                CU_ASSERT_EQUAL(rill__log_size_bytes(la), rill__log_size_bytes(lb));
                CU_ASSERT_EQUAL(read_num_file(da, "cleaner-offset-checkpoint"),
                                read_num_file(db, "cleaner-offset-checkpoint"));
                CU_ASSERT(read_num_file(db, "cleaner-offset-checkpoint") > 0);
                check_same_files(da, db);
                CU_ASSERT_EQUAL(bt_count_files(db, ".cleaned"), 0);
        }
        /* The compaction really happened (the comparison is not vacuous):
         * of the first 500 records (20 keys) one per key is left, of the
         * tombstones none. */
        {
                bt_rec_t *v;
                int n = bt_read_records(lb, &v), first500 = 0, tombs = 0;
                for (int i = 0; i < n; i++) {
                        first500 += v[i].off < 500;
                        tombs += v[i].tomb;
                }
                CU_ASSERT(first500 <= 20);
                CU_ASSERT_EQUAL(tombs, 0);
                CU_ASSERT(n < seq);
                free(v);
        }
        rill__log_close(la);
        rill__log_close(lb);
        check_same_files(da, db);
        rill_test_rmdir(da);
        rill_test_rmdir(db);
        free(da);
        free(db);
}

static void
test_appends_reads_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__compact_job_t *job;
        builder_t bd;
        holder_t h;
        int64_t now = rill__now_ms(), seq, cut, end0;
        bt_rec_t *v;
        int n;

        conf_init(&c);
        log = bt_open_log(dir, &c);
        seq = fill(log, now, 20);
        end0 = rill__log_end_offset(log);
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        /* One job per log at a time. */
        {
                rill__compact_job_t *j2 = NULL;
                CU_ASSERT_EQUAL(rill__log_compact_plan(log, now, &j2), RILL_DECLINED);
                CU_ASSERT_PTR_NULL(j2);
                CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_DECLINED);
        }
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        /* The pass is in the middle: a rewritten segment exists. */
        CU_ASSERT(bt_count_files(dir, ".log.cleaned") >= 1);

        /* The loop thread goes on: appends (with rolls), reads. */
        cut = -1;
        {
                /* The planned part ends where the active segment began. */
                DIR *d = opendir(dir);
                struct dirent *de;
                while ((de = readdir(d))) {
                        long long b;
                        char ext[16];
                        if (sscanf(de->d_name, "%20lld%15s", &b, ext) == 2 && !strcmp(ext, ".log") &&
                            b > cut)
                                cut = b;
                }
                closedir(d);
        }
        for (int b = 0; b < 60; b++, seq += 5) {
                bt_append_keyed(log, seq, 5, 20, now - HOUR_MS, false, 0);
                if (b % 10 == 0) {
                        n = bt_read_records(log, &v);
                        CU_ASSERT_EQUAL(n, seq + 5); /* nothing compacted yet */
                        free(v);
                }
        }
        CU_ASSERT(rill__log_end_offset(log) > end0);
        n = bt_read_records(log, &v);
        CU_ASSERT_EQUAL(n, seq);
        free(v);

        holder_release(&h, false);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_compact_commit(log, job), RILL_OK);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), seq);
        /* Below the planned end: one record per key; after it: everything. */
        check_compacted_below(log, 0, cut, 20);
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        check_compacted_below(log, 0, cut, 20);
        /* The next pass takes the rest. */
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_OK);
        rill__log_close(log);
        holder_destroy(&h);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_retention_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__compact_job_t *job;
        builder_t bd;
        holder_t h;
        int64_t now = rill__now_ms(), seq = 0, old_end;
        int deleted;

        conf_init(&c);
        c.cleanup_policy = RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE;
        log = bt_open_log(dir, &c);
        /* 30 old batches (10 days), then 70 recent ones. */
        for (int b = 0; b < 100; b++, seq += 5)
                bt_append_keyed(log, seq, 5, 20, b < 30 ? now - 10 * DAY_MS : now - HOUR_MS, false, 0);
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        /* The first segment is being rewritten right now... */
        {
                char *p = bt_seg_file(dir, 0, ".log.cleaned");
                CU_ASSERT(access(p, F_OK) == 0);
                free(p);
        }
        /* ...when retention deletes it and the other old ones. */
        c.retention_ms = 5 * DAY_MS;
        rill__log_set_conf(log, &c);
        deleted = rill__log_retention(log, now);
        CU_ASSERT(deleted >= 2);
        CU_ASSERT_FALSE(seg_exists(dir, 0));
        old_end = rill__log_start_offset(log);
        CU_ASSERT(old_end > 0 && old_end <= 150);

        holder_release(&h, false);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_compact_commit(log, job), RILL_OK);
        /* The deleted segments' results were dropped, not resurrected. */
        CU_ASSERT_FALSE(seg_exists(dir, 0));
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), old_end);
        {
                bt_rec_t *v;
                int n = bt_read_records(log, &v);
                CU_ASSERT(n > 0 && v[0].off >= old_end);
                /* The surviving planned segments were compacted. */
                CU_ASSERT(n < (int)(seq - old_end));
                free(v);
        }
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), old_end);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), seq);
        CU_ASSERT_FALSE(seg_exists(dir, 0));
        rill__log_close(log);
        holder_destroy(&h);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_truncate_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__compact_job_t *job;
        builder_t bd;
        holder_t h;
        int64_t now = rill__now_ms();
        bt_rec_t *v;
        int n;

        conf_init(&c);
        log = bt_open_log(dir, &c);
        fill(log, now, 20);
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        CU_ASSERT_EQUAL(rill__log_truncate(log, 300), RILL_OK);
        holder_release(&h, false);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_OK);
        /* The whole result is void. */
        CU_ASSERT_EQUAL(rill__log_compact_commit(log, job), RILL_DECLINED);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 300);
        n = bt_read_records(log, &v);
        CU_ASSERT_EQUAL(n, 300);
        free(v);
        /* And the log can be compacted again. */
        bt_append_keyed(log, 300, 5, 20, now - HOUR_MS, false, 0);
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_OK);
        n = bt_read_records(log, &v);
        CU_ASSERT(n < 300);
        free(v);
        rill__log_close(log);
        holder_destroy(&h);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_cancel_close_delete_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__compact_job_t *job;
        builder_t bd;
        holder_t h;
        int64_t now = rill__now_ms(), seq;
        bt_rec_t *v;
        int n;

        conf_init(&c);
        log = bt_open_log(dir, &c);
        seq = fill(log, now, 20);

        /* Cancelled: nothing changes, nothing is left. */
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        holder_release(&h, true);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_ERR_SHUTDOWN);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        CU_ASSERT_EQUAL(rill__log_compact_commit(log, job), RILL_ERR_SHUTDOWN);
        n = bt_read_records(log, &v);
        CU_ASSERT_EQUAL(n, seq);
        free(v);
        holder_destroy(&h);

        /* Closed during the pass: the build stops by itself; the next open
         * finds the data intact and no leftovers. */
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        rill__log_close(log);
        holder_release(&h, false);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_ERR_SHUTDOWN);
        CU_ASSERT_PTR_NULL(rill__compact_job_log(job));
        rill__compact_job_free(job);
        holder_destroy(&h);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        n = bt_read_records(log, &v);
        CU_ASSERT_EQUAL(n, seq);
        free(v);

        /* Deleted during the pass: the directory stays gone. */
        CU_ASSERT_EQUAL_FATAL(rill__log_compact_plan(log, now, &job), RILL_OK);
        holder_init(&h, dir, true);
        builder_start(&bd, job, &h);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        CU_ASSERT_EQUAL(rill__log_delete(log), RILL_OK);
        CU_ASSERT(access(dir, F_OK) != 0);
        holder_release(&h, false);
        CU_ASSERT_EQUAL(builder_join(&bd), RILL_ERR_SHUTDOWN);
        CU_ASSERT_PTR_NULL(rill__compact_job_log(job));
        rill__compact_job_free(job);
        CU_ASSERT(access(dir, F_OK) != 0);
        holder_destroy(&h);
        free(dir);
}

/* ---- deferred fsyncs ------------------------------------------------------ */

typedef struct taskq {
        rill__log_sync_t *t[256];
        int n;
} taskq_t;

static void
taskq_syncer(void *opaque, rill__log_sync_t *task)
{
        taskq_t *q = opaque;
        CU_ASSERT_FATAL(q->n < 256);
        q->t[q->n++] = task;
}

/* Runs (or drops) the first @p k queued tasks, in order. */
static void
taskq_run(taskq_t *q, int k, bool drop)
{
        CU_ASSERT_FATAL(k <= q->n);
        for (int i = 0; i < k; i++) {
                if (drop)
                        rill__log_sync_drop(q->t[i]);
                else
                        rill__log_sync_run(q->t[i]);
        }
        memmove(q->t, q->t + k, (size_t)(q->n - k) * sizeof(q->t[0]));
        q->n -= k;
}

/* Bases of the segments of @p dir, sorted. */
static int
seg_bases(const char *dir, int64_t *out, int max)
{
        char names[128][64];
        int n = list_files(dir, ".log", names, 128);
        for (int i = 0; i < n && i < max; i++)
                out[i] = atoll(names[i]);
        return n < max ? n : max;
}

/* Flips a byte in the value of the last record of the last batch of
 * segment @p base (the CRC no longer matches; the structure does). */
static void
corrupt_last_batch(const char *dir, int64_t base)
{
        char *p = bt_seg_file(dir, base, ".log");
        int fd = open(p, O_RDWR);
        struct stat st;
        uint8_t b;
        CU_ASSERT_FATAL(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 10);
        CU_ASSERT_FATAL(pread(fd, &b, 1, st.st_size - 2) == 1);
        b ^= 0x5a;
        CU_ASSERT_FATAL(pwrite(fd, &b, 1, st.st_size - 2) == 1);
        close(fd);
        free(p);
}

/* Reads the whole log batch by batch; returns the number of batches that
 * fail validation. */
static int
bad_batches(rill__log_t *log)
{
        int64_t o = rill__log_start_offset(log), end = rill__log_end_offset(log);
        rill__wbuf_t buf;
        int bad = 0;
        rill__wb_init(&buf, 0);
        while (o < end) {
                rill__batch_hdr_t h;
                rill__wb_reset(&buf);
                if (rill__log_read(log, o, end, 1, &buf) != RILL_OK || buf.len < RILL__BATCH_HDR_SIZE)
                        break;
                rill__batch_hdr_parse(buf.buf, &h);
                if (rill__batch_validate(buf.buf, buf.len, NULL, 0) != RILL_OK)
                        bad++;
                o = h.base_offset + h.last_offset_delta + 1;
        }
        rill__wb_free(&buf);
        return bad;
}

/* True while this process holds a descriptor of the removed file @p path. */
static bool
holds_deleted(const char *path)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        char want[1024], link[1100], target[1100];
        bool found = false;
        snprintf(want, sizeof(want), "%s (deleted)", path);
        if (!d)
                return false;
        while ((de = readdir(d)) && !found) {
                ssize_t n;
                snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
                n = readlink(link, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                found = strcmp(target, want) == 0;
        }
        closedir(d);
        return found;
}

static void
test_deferred_roll_fsync(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        taskq_t q;
        int64_t now = rill__now_ms(), bases[64], seq = 0, start1;
        int nb;

        memset(&q, 0, sizeof(q));
        conf_init(&c);
        c.cleanup_policy = RILL__CLEANUP_DELETE;
        log = bt_open_log(dir, &c);
        rill__log_set_syncer(log, taskq_syncer, &q);
        /* 30 batches of ~200 bytes in 1200-byte segments: a roll per 6. */
        for (int b = 0; b < 30; b++, seq += 10)
                bt_append_keyed(log, seq, 10, 1000, now, false, 0);
        nb = seg_bases(dir, bases, 64);
        CU_ASSERT_FATAL(nb >= 4);
        /* One task per roll; the recovery point was created at the first. */
        CU_ASSERT_EQUAL(q.n, nb - 1);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), 0);
        taskq_run(&q, 1, false);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), bases[1]);

        /* A deleted segment's last close (freeing its blocks) is a task too. */
        {
                char *p0 = bt_seg_file(dir, 0, ".log");
                int before = q.n;
                start1 = bases[1];
                CU_ASSERT_EQUAL(rill__log_delete_records(log, start1), RILL_OK);
                CU_ASSERT_FALSE(seg_exists(dir, 0));
                CU_ASSERT_EQUAL(q.n, before + 1);
                CU_ASSERT(holds_deleted(p0));
                /* Run it (out of order is fine for a release). */
                rill__log_sync_run(q.t[q.n - 1]);
                q.n--;
                CU_ASSERT_FALSE(holds_deleted(p0));
                free(p0);
        }

        /* A crash with the other tasks pending: the closed segments above
         * the recovery point are validated (and repaired) at the next open. */
        corrupt_last_batch(dir, bases[2]);
        rill__log_abandon(log);
        taskq_run(&q, q.n, true);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(bad_batches(log), 0);
        CU_ASSERT(rill__log_end_offset(log) == seq);   /* later segments kept */
        {
                bt_rec_t *v;
                int n = bt_read_records(log, &v);
                CU_ASSERT_EQUAL(n, seq - start1 - 10); /* the torn batch is gone */
                free(v);
        }
        /* Recovery made them durable: the recovery point moved up. */
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), bases[nb - 1]);

        /* A clean close with tasks pending does their work itself. */
        rill__log_set_syncer(log, taskq_syncer, &q);
        for (int b = 0; b < 8; b++, seq += 10)
                bt_append_keyed(log, seq, 10, 1000, now, false, 0);
        CU_ASSERT(q.n >= 1);
        rill__log_close(log);
        nb = seg_bases(dir, bases, 64);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), bases[nb - 1]);
        taskq_run(&q, q.n, false);   /* their log is gone: no effect */
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), bases[nb - 1]);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), seq);

        /* Truncation: a stale task never moves the recovery point back up. */
        rill__log_set_syncer(log, taskq_syncer, &q);
        for (int b = 0; b < 8; b++, seq += 10)
                bt_append_keyed(log, seq, 10, 1000, now, false, 0);
        CU_ASSERT_FATAL(q.n >= 1);
        CU_ASSERT_EQUAL(rill__log_truncate(log, start1 + 5), RILL_OK);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), start1);
        taskq_run(&q, q.n, false);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), start1);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), start1); /* from its batch on */
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_no_deferral_no_recovery_point(void)
{
        char *dir = rill_test_tmpdir("rill-clean");
        rill__log_conf_t c;
        rill__log_t *log;
        taskq_t q;
        int64_t now = rill__now_ms(), bases[64], seq = 0;
        int nb;

        memset(&q, 0, sizeof(q));
        conf_init(&c);
        c.cleanup_policy = RILL__CLEANUP_DELETE;
        /* flush.messages=1: every roll stays synchronous even with a syncer. */
        c.flush_messages = 1;
        log = bt_open_log(dir, &c);
        rill__log_set_syncer(log, taskq_syncer, &q);
        for (int b = 0; b < 30; b++, seq += 10)
                bt_append_keyed(log, seq, 10, 1000, now, false, 0);
        nb = seg_bases(dir, bases, 64);
        CU_ASSERT_FATAL(nb >= 4);
        CU_ASSERT_EQUAL(q.n, 0);
        CU_ASSERT_EQUAL(read_num_file(dir, "recovery-point-offset"), -1);
        /* Closed segments are then trusted after a crash (fsynced at roll),
         * so damage in one goes unnoticed by recovery - which is what the
         * recovery point exists to catch when fsyncs are deferred. */
        corrupt_last_batch(dir, bases[2]);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(bad_batches(log), 1);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

/* ---- broker level ------------------------------------------------------- */

static const char *const g_broker_overrides[] = {
        "log.segment.bytes=600", "log.cleaner.backoff.ms=20", "log.cleaner.min.cleanable.ratio=0.01",
        "log.retention.check.interval.ms=3600000", NULL};

/* CreateTopics: one partition, cleanup.policy=compact. */
static int16_t
create_compacted(int fd, const char *topic)
{
        return bt_create_topic(fd, topic, 1, "cleanup.policy", "compact");
}

/* Produces @p n records of key "same" (so that compaction keeps one). */
static void
produce_same_key(int fd, const char *topic, int n)
{
        for (int i = 0; i < n; i++) {
                char v[32];
                snprintf(v, sizeof(v), "value-%d", i);
                CU_ASSERT_EQUAL_FATAL(bt_produce(fd, topic, 0, 1, "same", v, NULL), KERR_NONE);
        }
}

static rill__cleaner_stats_t
stats_of(rill__cleaner_t *cl)
{
        rill__cleaner_stats_t s;
        rill__cleaner_stats(cl, &s);
        return s;
}

static void
test_broker_compacts_in_background(void)
{
        char *dir = rill_test_tmpdir("rill-clean-brk"), *pdir;
        rill_broker_t *b = rill_test_broker_start(dir, g_broker_overrides);
        rill__cleaner_t *cl;
        int fd;

        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        cl = b->cleaner;
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(create_compacted(fd, "bg"), KERR_NONE);
        produce_same_key(fd, "bg", 120);
        pdir = rill__asprintf("%s/bg-0", dir);
        /* The cleaner thread compacts; the flusher fsyncs the rolls. */
        CU_ASSERT(RILL_WAIT_UNTIL(stats_of(cl).committed >= 1 && bt_count_files(pdir, ".log") < 10, 30000));
        CU_ASSERT(stats_of(cl).syncs >= 1);
        CU_ASSERT(read_num_file(pdir, "recovery-point-offset") >= 0);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "bg", 0, -1), 120);
        close(fd);
        rill_broker_destroy(b);
        CU_ASSERT_EQUAL(bt_count_files(pdir, ".cleaned"), 0);
        free(pdir);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_broker_topic_deleted_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean-brk"), *pdir;
        rill_broker_t *b = rill_test_broker_start(dir, g_broker_overrides);
        rill__cleaner_t *cl;
        holder_t h;
        int fd;

        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        cl = b->cleaner;
        pdir = rill__asprintf("%s/doomed-0", dir);
        holder_init(&h, pdir, true);
        rill__cleaner_set_test_hook(cl, holder_hook, &h);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(create_compacted(fd, "doomed"), KERR_NONE);
        produce_same_key(fd, "doomed", 60);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        CU_ASSERT(bt_count_files(pdir, ".log.cleaned") >= 1);
        CU_ASSERT_EQUAL(bt_delete_topic(fd, "doomed"), KERR_NONE);
        CU_ASSERT(access(pdir, F_OK) != 0);
        holder_release(&h, false);
        CU_ASSERT(RILL_WAIT_UNTIL(stats_of(cl).discarded >= 1, 30000));
        CU_ASSERT(access(pdir, F_OK) != 0);
        rill__cleaner_set_test_hook(cl, NULL, NULL);
        /* Same name again: a fresh, empty topic that works. */
        CU_ASSERT_EQUAL(create_compacted(fd, "doomed"), KERR_NONE);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "doomed", 0, -1), 0);
        CU_ASSERT_EQUAL(bt_produce(fd, "doomed", 0, 1, "k", "v", NULL), KERR_NONE);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "doomed", 0, -1), 1);
        close(fd);
        rill_broker_destroy(b);
        holder_destroy(&h);
        free(pdir);
        rill_test_rmdir(dir);
        free(dir);
}

static void *
stop_main(void *arg)
{
        rill_broker_stop(arg);
        return NULL;
}

static void
test_broker_stop_during_pass(void)
{
        char *dir = rill_test_tmpdir("rill-clean-brk"), *pdir;
        rill_broker_t *b = rill_test_broker_start(dir, g_broker_overrides);
        rill__cleaner_t *cl;
        pthread_t stopper;
        holder_t h;
        char err[256];
        int fd;

        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        cl = b->cleaner;
        pdir = rill__asprintf("%s/held-0", dir);
        holder_init(&h, pdir, true);
        rill__cleaner_set_test_hook(cl, holder_hook, &h);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(create_compacted(fd, "held"), KERR_NONE);
        produce_same_key(fd, "held", 80);
        CU_ASSERT_FATAL(holder_wait_held(&h));
        CU_ASSERT(bt_count_files(pdir, ".log.cleaned") >= 1);
        close(fd);
        /* Stop while the pass is held: the stop cancels it first... */
        CU_ASSERT_FATAL(pthread_create(&stopper, NULL, stop_main, b) == 0);
        CU_ASSERT(RILL_WAIT_UNTIL(rill__cleaner_cancelled(cl), 30000));
        /* ...and the pass ends at its next batch once let go. */
        holder_release(&h, false);
        pthread_join(stopper, NULL);
        CU_ASSERT_EQUAL(bt_count_files(pdir, ".cleaned"), 0);
        CU_ASSERT(access(dir, F_OK) == 0);

        /* Everything is there after a restart, and compaction resumes. */
        CU_ASSERT_EQUAL_FATAL(rill_broker_start(b, err, sizeof(err)), RILL_OK);
        cl = b->cleaner;
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "held", 0, -1), 80);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "held", 0, -2), 0);
        CU_ASSERT(RILL_WAIT_UNTIL(stats_of(cl).committed >= 1, 30000));
        close(fd);
        rill_broker_destroy(b);
        holder_destroy(&h);
        free(pdir);
        rill_test_rmdir(dir);
        free(dir);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"cleaner_log", NULL, NULL, {
                        {"background_equals_sync", test_background_equals_sync},
                        {"appends_reads_during_pass", test_appends_reads_during_pass},
                        {"retention_during_pass", test_retention_during_pass},
                        {"truncate_during_pass", test_truncate_during_pass},
                        {"cancel_close_delete_during_pass", test_cancel_close_delete_during_pass},
                        {"deferred_roll_fsync", test_deferred_roll_fsync},
                        {"no_deferral_no_recovery_point", test_no_deferral_no_recovery_point},
                        {NULL, NULL}}},
                {"cleaner_broker", NULL, NULL, {
                        {"compacts_in_background", test_broker_compacts_in_background},
                        {"topic_deleted_during_pass", test_broker_topic_deleted_during_pass},
                        {"stop_during_pass", test_broker_stop_during_pass},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
