/*
 * test_log.c - the partition log: append/read across segment rolls, reads at
 * arbitrary offsets, high-watermark bound, KIP-74, reopen, crash recovery
 * (torn and corrupt tails, broken indexes), retention, DeleteRecords,
 * truncation, compaction, offset-for-time and write-error handling.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "log.h"
#include "rill_alloc.h"
#include "rill_test.h"
#include "rill_util.h"

/* ---- helpers ------------------------------------------------------------ */

static void
conf_init(rill__log_conf_t *c)
{
        memset(c, 0, sizeof(*c));
        c->segment_bytes = 1073741824;
        c->segment_ms = 604800000;
        c->retention_ms = 604800000;
        c->retention_bytes = -1;
        c->cleanup_policy = RILL__CLEANUP_DELETE;
        c->delete_retention_ms = 86400000;
        c->min_compaction_lag_ms = 0;
        c->max_compaction_lag_ms = INT64_MAX;
        c->min_cleanable_dirty_ratio = 0.5;
        c->flush_messages = INT64_MAX;
        c->flush_ms = INT64_MAX;
        c->index_interval_bytes = 4096;
        c->max_message_bytes = 1048588;
        c->log_append_time = false;
        c->segment_index_bytes = 10485760;
}

/* Builds a batch of @p n records with values "v<tag>-<i>" and key
 * "k<i % nkeys>" (null values when @p tombstone), timestamp @p ts. */
static void
make_batch(rill__wbuf_t *out, int n, int64_t ts, int tag, int nkeys, bool tombstone)
{
        rill__batch_builder_t b;
        rill__batch_builder_init(&b, 0, ts);
        for (int i = 0; i < n; i++) {
                char k[32], v[64];
                int kl = snprintf(k, sizeof(k), "k%d", nkeys ? i % nkeys : i);
                int vl = snprintf(v, sizeof(v), "v%d-%d", tag, i);
                rill__batch_builder_add(&b, i, ts, k, kl, tombstone ? NULL : v, vl, NULL, 0, 0);
        }
        rill__batch_builder_finish(&b);
        rill__wb_reset(out);
        rill__wb_raw(out, b.buf.buf, b.buf.len);
        rill__batch_builder_destroy(&b);
}

/* Appends one batch of @p n records; returns the first offset. */
static int64_t
append_n(rill__log_t *log, int n, int64_t ts, int tag)
{
        rill__wbuf_t w;
        int64_t first = -1, at;
        char err[256] = "";
        rill__wb_init(&w, 256);
        make_batch(&w, n, ts, tag, 0, false);
        CU_ASSERT_EQUAL(rill__log_append(log, w.buf, w.len, 5, &first, &at, err, sizeof(err)), RILL_OK);
        if (err[0])
                fprintf(stderr, "append: %s\n", err);
        rill__wb_free(&w);
        return first;
}

/* Walks the batches in @p buf: checks each is valid and counts records.
 * Returns the number of batches; *first / *next receive the first base
 * offset and one past the last offset. */
static int
check_batches(const uint8_t *buf, size_t len, int64_t *first, int64_t *next)
{
        size_t pos = 0;
        int nb = 0;
        *first = -1;
        *next = -1;
        while (pos < len) {
                rill__batch_hdr_t h;
                CU_ASSERT_EQUAL_FATAL(rill__batch_validate(buf + pos, len - pos, NULL, 0), RILL_OK);
                rill__batch_hdr_parse(buf + pos, &h);
                if (*first < 0)
                        *first = h.base_offset;
                CU_ASSERT(*next < 0 || h.base_offset >= *next);
                *next = h.base_offset + h.last_offset_delta + 1;
                pos += rill__batch_size(buf + pos);
                nb++;
        }
        return nb;
}

static int
count_files(const char *dir, const char *suffix)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        size_t m = strlen(suffix);
        if (!d)
                return -1;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l >= m && strcmp(de->d_name + l - m, suffix) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

static char *
seg_file(const char *dir, int64_t base, const char *ext)
{
        return rill__asprintf("%s/%020lld%s", dir, (long long)base, ext);
}

/* Path of the last .log segment (malloc'd). */
static __attribute__((unused)) char *
last_segment(const char *dir, int64_t *base_out)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        long long best = -1;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                long long b;
                char ext[16];
                if (sscanf(de->d_name, "%20lld%15s", &b, ext) == 2 && strcmp(ext, ".log") == 0 &&
                    b > best)
                        best = b;
        }
        closedir(d);
        if (base_out)
                *base_out = best;
        return best < 0 ? NULL : seg_file(dir, best, ".log");
}

static __attribute__((unused)) int64_t
file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Reads every offset from start to end and checks that the returned data
 * starts with the batch containing it. */
static void
check_read_all(rill__log_t *log)
{
        int64_t start = rill__log_start_offset(log), end = rill__log_end_offset(log);
        rill__wbuf_t out;
        rill__wb_init(&out, 1024);
        for (int64_t o = start; o < end; o++) {
                int64_t first, next;
                rill__wb_reset(&out);
                CU_ASSERT_EQUAL_FATAL(rill__log_read(log, o, end, 1, &out), RILL_OK);
                CU_ASSERT_FATAL(out.len > 0);
                CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 1);
                CU_ASSERT(first <= o && o < next);
        }
        rill__wb_reset(&out);
        CU_ASSERT_EQUAL(rill__log_read(log, end, end, 1000, &out), RILL_OK);
        CU_ASSERT_EQUAL(out.len, 0u);
        CU_ASSERT_EQUAL(rill__log_read(log, end + 1, end, 1000, &out), RILL_ERR_OFFSET_OUT_OF_RANGE);
        if (start > 0)
                CU_ASSERT_EQUAL(rill__log_read(log, start - 1, end, 1000, &out),
                                RILL_ERR_OFFSET_OUT_OF_RANGE);
        rill__wb_free(&out);
}

/* Reads the whole log sequentially with @p max_bytes per read; returns the
 * number of records seen and checks offsets are contiguous from start. */
static int64_t
read_sequential(rill__log_t *log, int32_t max_bytes)
{
        int64_t o = rill__log_start_offset(log), end = rill__log_end_offset(log), recs = 0;
        rill__wbuf_t out;
        rill__wb_init(&out, 1024);
        while (o < end) {
                size_t pos = 0;
                rill__wb_reset(&out);
                CU_ASSERT_EQUAL_FATAL(rill__log_read(log, o, end, max_bytes, &out), RILL_OK);
                CU_ASSERT_FATAL(out.len > 0);
                while (pos < out.len) {
                        rill__record_iter_t it;
                        rill__record_t r;
                        CU_ASSERT_EQUAL_FATAL(rill__batch_validate(out.buf + pos, out.len - pos, NULL, 0),
                                              RILL_OK);
                        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, out.buf + pos, out.len - pos),
                                              RILL_OK);
                        while (rill__record_iter_next(&it, &r) == 1) {
                                if (r.offset >= o) {
                                        CU_ASSERT_EQUAL(r.offset, o);
                                        o = r.offset + 1;
                                        recs++;
                                }
                        }
                        rill__record_iter_destroy(&it);
                        pos += rill__batch_size(out.buf + pos);
                }
        }
        rill__wb_free(&out);
        return recs;
}

static rill__log_t *
open_log(const char *dir, const rill__log_conf_t *c)
{
        rill__log_t *log = NULL;
        char err[256] = "";
        rill_err_t e = rill__log_open(dir, c, &log, err, sizeof(err));
        if (e != RILL_OK)
                fprintf(stderr, "open %s: %s (%s)\n", dir, rill_err2name(e), err);
        CU_ASSERT_EQUAL_FATAL(e, RILL_OK);
        return log;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_append_read_basic(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__wbuf_t out;
        int64_t first, next;

        conf_init(&c);
        log = open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 0);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        CU_ASSERT_STRING_EQUAL(rill__log_dir(log), dir);
        for (int i = 0; i < 100; i++)
                CU_ASSERT_EQUAL(append_n(log, 3, 1000 + i, i), i * 3);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 300);
        CU_ASSERT(rill__log_size_bytes(log) > 0);
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 500), 300);

        /* One big read returns everything, stored as appended (epoch 5). */
        rill__wb_init(&out, 1024);
        CU_ASSERT_EQUAL(rill__log_read(log, 0, 300, 1 << 20, &out), RILL_OK);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 100);
        CU_ASSERT_EQUAL(first, 0);
        CU_ASSERT_EQUAL(next, 300);
        CU_ASSERT_EQUAL((int32_t)rill__be32(out.buf + RILL__BATCH_OFF_LEADER_EPOCH), 5);
        CU_ASSERT_EQUAL((int64_t)out.len, rill__log_size_bytes(log));
        rill__wb_free(&out);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_rolls_and_reopen(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t ts, off;

        conf_init(&c);
        c.segment_bytes = 1500;
        c.index_interval_bytes = 200;
        log = open_log(dir, &c);
        for (int i = 0; i < 400; i++)
                CU_ASSERT_EQUAL(append_n(log, 1 + i % 4, 5000 + i, i), rill__log_end_offset(log) - (1 + i % 4));
        CU_ASSERT(count_files(dir, ".log") > 20);
        CU_ASSERT_EQUAL(count_files(dir, ".log"), count_files(dir, ".index"));
        CU_ASSERT_EQUAL(count_files(dir, ".log"), count_files(dir, ".timeindex"));
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 700), rill__log_end_offset(log));
        CU_ASSERT_EQUAL(read_sequential(log, 0), rill__log_end_offset(log));
        rill__log_max_timestamp(log, &ts, &off);
        CU_ASSERT_EQUAL(ts, 5399);
        CU_ASSERT_EQUAL(off, rill__log_end_offset(log) - 1);
        {
                int64_t end = rill__log_end_offset(log), size = rill__log_size_bytes(log);
                rill__log_close(log);
                log = open_log(dir, &c);
                CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
                CU_ASSERT_EQUAL(rill__log_size_bytes(log), size);
                rill__log_max_timestamp(log, &ts, &off);
                CU_ASSERT_EQUAL(ts, 5399);
                CU_ASSERT_EQUAL(off, end - 1);
                check_read_all(log);
                /* Appending after reopen continues the offsets. */
                CU_ASSERT_EQUAL(append_n(log, 2, 6000, 0), end);
                CU_ASSERT_EQUAL(rill__log_end_offset(log), end + 2);
                CU_ASSERT_EQUAL(read_sequential(log, 1000), end + 2);
        }
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_max_offset_and_kip74(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__wbuf_t out;
        int64_t first, next;

        conf_init(&c);
        log = open_log(dir, &c);
        for (int i = 0; i < 10; i++)
                append_n(log, 10, 1000, i); /* batches [0,10) [10,20) ... */
        rill__wb_init(&out, 1024);
        /* High watermark 50: nothing at or beyond it. */
        CU_ASSERT_EQUAL(rill__log_read(log, 0, 50, 1 << 20, &out), RILL_OK);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 5);
        CU_ASSERT_EQUAL(next, 50);
        /* A high watermark inside a batch excludes that batch. */
        rill__wb_reset(&out);
        CU_ASSERT_EQUAL(rill__log_read(log, 0, 55, 1 << 20, &out), RILL_OK);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 5);
        /* Reading at the high watermark returns nothing. */
        rill__wb_reset(&out);
        CU_ASSERT_EQUAL(rill__log_read(log, 50, 50, 1 << 20, &out), RILL_OK);
        CU_ASSERT_EQUAL(out.len, 0u);
        /* max_bytes smaller than one batch: still exactly one whole batch. */
        rill__wb_reset(&out);
        CU_ASSERT_EQUAL(rill__log_read(log, 23, 100, 10, &out), RILL_OK);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 1);
        CU_ASSERT_EQUAL(first, 20);
        CU_ASSERT_EQUAL(next, 30);
        /* max_bytes of 1.5 batches: one batch. */
        {
                size_t bs = out.len;
                rill__wb_reset(&out);
                CU_ASSERT_EQUAL(rill__log_read(log, 0, 100, (int32_t)(bs * 3 / 2), &out), RILL_OK);
                CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 1);
                rill__wb_reset(&out);
                CU_ASSERT_EQUAL(rill__log_read(log, 0, 100, (int32_t)(bs * 3), &out), RILL_OK);
                CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 3);
        }
        /* Existing content of the output buffer is preserved (appended to). */
        rill__wb_reset(&out);
        rill__wb_raw(&out, "XYZ", 3);
        CU_ASSERT_EQUAL(rill__log_read(log, 95, 100, 1, &out), RILL_OK);
        CU_ASSERT(out.len > 3 && memcmp(out.buf, "XYZ", 3) == 0);
        CU_ASSERT_EQUAL(check_batches(out.buf + 3, out.len - 3, &first, &next), 1);
        CU_ASSERT_EQUAL(first, 90);
        rill__wb_free(&out);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_append_validation(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__wbuf_t w;
        int64_t first = -1, at;
        char err[256];
        uint8_t *two;
        size_t one;

        conf_init(&c);
        c.max_message_bytes = 2000;
        log = open_log(dir, &c);
        rill__wb_init(&w, 256);
        make_batch(&w, 5, 100, 0, 0, false);
        one = w.len;
        /* Two batches where the second is corrupt: nothing is written. */
        two = malloc(2 * one);
        memcpy(two, w.buf, one);
        memcpy(two + one, w.buf, one);
        two[one + one - 3] ^= 0x40;
        CU_ASSERT_EQUAL(rill__log_append(log, two, 2 * one, 0, &first, &at, err, sizeof(err)),
                        RILL_ERR_CORRUPT);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), 0);
        /* Truncated second batch. */
        memcpy(two + one, w.buf, one);
        CU_ASSERT_EQUAL(rill__log_append(log, two, 2 * one - 1, 0, &first, &at, err, sizeof(err)),
                        RILL_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        /* Both valid: two batches, offsets 0..9. */
        CU_ASSERT_EQUAL(rill__log_append(log, two, 2 * one, 0, &first, &at, err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(first, 0);
        CU_ASSERT_EQUAL(at, -1);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 10);
        /* Too large. */
        make_batch(&w, 200, 100, 0, 0, false);
        CU_ASSERT(w.len > 2000);
        CU_ASSERT_EQUAL(rill__log_append(log, w.buf, w.len, 0, &first, &at, err, sizeof(err)),
                        RILL_ERR_TOO_LARGE);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 10);
        /* Empty input and garbage. */
        CU_ASSERT_NOT_EQUAL(rill__log_append(log, w.buf, 0, 0, &first, &at, err, sizeof(err)), RILL_OK);
        memset(w.buf, 0x5a, 100);
        CU_ASSERT_NOT_EQUAL(rill__log_append(log, w.buf, 100, 0, &first, &at, err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 10);
        free(two);
        rill__wb_free(&w);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_log_append_time(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__wbuf_t w, out;
        int64_t first = -1, at = -1, before = rill__now_ms();
        rill__record_iter_t it;
        rill__record_t r;

        conf_init(&c);
        c.log_append_time = true;
        log = open_log(dir, &c);
        rill__wb_init(&w, 256);
        rill__wb_init(&out, 256);
        make_batch(&w, 3, 12345, 0, 0, false);
        CU_ASSERT_EQUAL(rill__log_append(log, w.buf, w.len, 0, &first, &at, NULL, 0), RILL_OK);
        CU_ASSERT(at >= before && at <= rill__now_ms());
        CU_ASSERT_EQUAL(rill__log_read(log, 0, 3, 1000, &out), RILL_OK);
        CU_ASSERT_EQUAL_FATAL(rill__batch_validate(out.buf, out.len, NULL, 0), RILL_OK);
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, out.buf, out.len), RILL_OK);
        CU_ASSERT(it.hdr.attributes & RILL__BATCH_ATTR_LOG_APPEND_TIME);
        CU_ASSERT_EQUAL(it.hdr.max_timestamp, at);
        while (rill__record_iter_next(&it, &r) == 1)
                CU_ASSERT_EQUAL(r.timestamp, at);
        rill__record_iter_destroy(&it);
        rill__wb_free(&w);
        rill__wb_free(&out);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"log", NULL, NULL, {
                        {"append_read_basic", test_append_read_basic},
                        {"rolls_and_reopen", test_rolls_and_reopen},
                        {"max_offset_and_kip74", test_max_offset_and_kip74},
                        {"append_validation", test_append_validation},
                        {"log_append_time", test_log_append_time},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
