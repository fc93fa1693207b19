/*
 * test_log.c - the partition log: append/read across segment rolls, reads at
 * arbitrary offsets, high-watermark bound, KIP-74, reopen, crash recovery
 * (torn and corrupt tails, broken indexes), retention, DeleteRecords,
 * truncation, compaction, offset-for-time, write-error handling, and a
 * log-start-offset checkpoint left above the recovered end. Compaction and
 * fsyncs on background threads: test_cleaner.c.
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

#include <zlib.h>

#include "batch.h"
#include "broker_test_util.h"
#include "log.h"
#include "rill_alloc.h"
#include "rill_test.h"
#include "rill_util.h"

/* ---- helpers ------------------------------------------------------------ */

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

/* Path of the last .log segment (malloc'd). */
static char *
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
        return best < 0 ? NULL : bt_seg_file(dir, best, ".log");
}

static int64_t
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

/* ---- tests -------------------------------------------------------------- */

static void
test_append_read_basic(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__wbuf_t out;
        int64_t first, next;

        rill__log_conf_defaults(&c);
        log = bt_open_log(dir, &c);
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

/* Hundreds of index entries in the active segment (buffered, then
 * written): lookups see both written and pending ones, at any time. */
static void
test_many_index_entries(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        char *ipath, *tpath;
        int64_t isize;

        rill__log_conf_defaults(&c);
        c.index_interval_bytes = 60;
        log = bt_open_log(dir, &c);
        ipath = bt_seg_file(dir, 0, ".index");
        tpath = bt_seg_file(dir, 0, ".timeindex");
        for (int i = 0; i < 700; i++) {
                append_n(log, 1 + i % 2, 1000 + i, i);
                if (i == 100 || i == 333 || i == 699) {
                        check_read_all(log);
                        for (int64_t t = 995; t <= 1000 + i + 1; t += 3) {
                                int64_t off, fts, bi = t < 1000 ? 0 : t - 1000;
                                CU_ASSERT_EQUAL(rill__log_offset_for_time(log, t, &off, &fts), RILL_OK);
                                if (bi > i) {
                                        CU_ASSERT_EQUAL(off, -1);
                                } else {
                                        CU_ASSERT_EQUAL(off, bi + bi / 2);
                                        CU_ASSERT_EQUAL(fts, 1000 + bi);
                                }
                        }
                }
        }
        check_read_all(log);
        isize = file_size(ipath);
        CU_ASSERT(isize > 0 && isize % 8 == 0);
        rill__log_close(log);
        CU_ASSERT(file_size(ipath) > isize); /* the rest was written at close */
        CU_ASSERT(file_size(ipath) >= 600 * 8);
        CU_ASSERT(file_size(tpath) >= 600 * 12);
        log = bt_open_log(dir, &c);
        check_read_all(log);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        check_read_all(log);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 1050);
        rill__log_close(log);
        free(ipath);
        free(tpath);
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

        rill__log_conf_defaults(&c);
        c.segment_bytes = 1500;
        c.index_interval_bytes = 200;
        log = bt_open_log(dir, &c);
        for (int i = 0; i < 400; i++)
                CU_ASSERT_EQUAL(append_n(log, 1 + i % 4, 5000 + i, i), rill__log_end_offset(log) - (1 + i % 4));
        CU_ASSERT(bt_count_files(dir, ".log") > 20);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), bt_count_files(dir, ".index"));
        /* A full offset index rolls the segment too (segment.index.bytes). */
        {
                char *d2 = rill_test_tmpdir("rill-log");
                rill__log_conf_t c2 = c;
                rill__log_t *l2;
                c2.segment_bytes = 1 << 30;
                c2.index_interval_bytes = 50;
                c2.segment_index_bytes = 40;
                l2 = bt_open_log(d2, &c2);
                for (int i = 0; i < 100; i++)
                        append_n(l2, 3, i, i);
                CU_ASSERT(bt_count_files(d2, ".log") >= 5);
                check_read_all(l2);
                rill__log_close(l2);
                rill_test_rmdir(d2);
                free(d2);
        }
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), bt_count_files(dir, ".timeindex"));
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 700), rill__log_end_offset(log));
        CU_ASSERT_EQUAL(read_sequential(log, 0), rill__log_end_offset(log));
        rill__log_max_timestamp(log, &ts, &off);
        CU_ASSERT_EQUAL(ts, 5399);
        CU_ASSERT_EQUAL(off, rill__log_end_offset(log) - 1);
        {
                int64_t end = rill__log_end_offset(log), size = rill__log_size_bytes(log);
                rill__log_close(log);
                log = bt_open_log(dir, &c);
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

        rill__log_conf_defaults(&c);
        log = bt_open_log(dir, &c);
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

        rill__log_conf_defaults(&c);
        c.max_message_bytes = 2000;
        log = bt_open_log(dir, &c);
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

        rill__log_conf_defaults(&c);
        c.log_append_time = true;
        log = bt_open_log(dir, &c);
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

/* Appends 20 batches of 3 records; fills @p bounds[i] with the file
 * position after batch i (single segment). */
static void
fill_20(rill__log_t *log, const char *dir, int64_t bounds[21])
{
        char *path;
        bounds[0] = 0;
        for (int i = 0; i < 20; i++) {
                append_n(log, 3, 1000 + i, i);
                bounds[i + 1] = rill__log_size_bytes(log);
        }
        path = last_segment(dir, NULL);
        CU_ASSERT_EQUAL(file_size(path), bounds[20]);
        free(path);
}

static void
chop_and_check(bool crash, int64_t chop)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t bounds[21], keep;
        char *path;
        int whole = 0;

        rill__log_conf_defaults(&c);
        c.index_interval_bytes = 100;
        log = bt_open_log(dir, &c);
        fill_20(log, dir, bounds);
        if (crash)
                rill__log_abandon(log);
        else
                rill__log_close(log);
        path = last_segment(dir, NULL);
        keep = bounds[20] - chop;
        CU_ASSERT_EQUAL_FATAL(truncate(path, (off_t)keep), 0);
        while (whole < 20 && bounds[whole + 1] <= keep)
                whole++;
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), whole * 3);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), bounds[whole]);
        CU_ASSERT_EQUAL(file_size(path), bounds[whole]);
        check_read_all(log);
        CU_ASSERT_EQUAL(append_n(log, 2, 5000, 99), whole * 3);
        CU_ASSERT_EQUAL(read_sequential(log, 300), whole * 3 + 2);
        rill__log_abandon(log);
        /* And once more, unclean, with the new tail. */
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), whole * 3 + 2);
        rill__log_close(log);
        free(path);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_recovery_truncated_tail(void)
{
        int64_t chops[] = {1, 11, 12, 60, 61, 62, 100, 150, 400};
        for (size_t i = 0; i < sizeof(chops) / sizeof(chops[0]); i++) {
                chop_and_check(true, chops[i]);
                chop_and_check(false, chops[i]);
        }
}

static void
test_recovery_corrupt_tail(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t bounds[21];
        char *path;
        int fd;
        uint8_t b;

        rill__log_conf_defaults(&c);
        c.index_interval_bytes = 100;
        log = bt_open_log(dir, &c);
        fill_20(log, dir, bounds);
        rill__log_abandon(log);
        path = last_segment(dir, NULL);
        /* Flip one byte inside batch 15's records. */
        fd = open(path, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(pread(fd, &b, 1, bounds[15] + 70), 1);
        b ^= 0x10;
        CU_ASSERT_EQUAL(pwrite(fd, &b, 1, bounds[15] + 70), 1);
        close(fd);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 45);
        CU_ASSERT_EQUAL(file_size(path), bounds[15]);
        check_read_all(log);
        rill__log_close(log);

        /* A BaseOffset going backwards in the last batch (outside the CRC). */
        log = bt_open_log(dir, &c);
        rill__log_abandon(log);
        fd = open(path, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        {
                uint8_t zero[8] = {0};
                CU_ASSERT_EQUAL(pwrite(fd, zero, 8, bounds[14]), 8);
        }
        close(fd);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 42);
        check_read_all(log);
        rill__log_close(log);
        free(path);
        rill_test_rmdir(dir);
        free(dir);
}

static void
write_bytes(const char *path, const void *data, size_t n, int flags)
{
        int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(write(fd, data, n), (ssize_t)n);
        close(fd);
}

/* Builds a multi-segment log with timestamps 10000 + 10 * batch. */
static rill__log_t *
multi_segment_log(const char *dir, rill__log_conf_t *c, int nbatches)
{
        rill__log_t *log;
        rill__log_conf_defaults(c);
        c->segment_bytes = 1500;
        c->index_interval_bytes = 150;
        log = bt_open_log(dir, c);
        for (int i = 0; i < nbatches; i++)
                append_n(log, 2, 10000 + 10 * i, i);
        return log;
}

static void
check_times(rill__log_t *log, int nbatches)
{
        for (int64_t t = 9990; t <= 10000 + 10 * nbatches + 5; t += 3) {
                int64_t off, fts, i = t <= 10000 ? 0 : (t - 10000 + 9) / 10;
                CU_ASSERT_EQUAL_FATAL(rill__log_offset_for_time(log, t, &off, &fts), RILL_OK);
                if (i >= nbatches) {
                        CU_ASSERT_EQUAL(off, -1);
                } else {
                        CU_ASSERT_EQUAL(off, RILL__MAX(2 * i, rill__log_start_offset(log)));
                        CU_ASSERT_EQUAL(fts, 10000 + 10 * i);
                }
        }
}

static void
test_recovery_indexes_and_garbage(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t end, size;
        char *p;
        uint8_t junk[1000];
        int nlog;

        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t)(i * 7 + 3);
        log = multi_segment_log(dir, &c, 150);
        end = rill__log_end_offset(log);
        size = rill__log_size_bytes(log);
        nlog = bt_count_files(dir, ".log");
        CU_ASSERT(nlog > 5);
        rill__log_close(log);

        /* Deleted, garbage, odd-sized and lying index files. */
        p = bt_seg_file(dir, 0, ".index");
        unlink(p);
        free(p);
        p = bt_seg_file(dir, 0, ".timeindex");
        write_bytes(p, junk, 24, O_TRUNC);
        free(p);
        {
                /* Second segment: an index entry that points into the
                 * middle of a batch. */
                DIR *d = opendir(dir);
                struct dirent *de;
                long long second = -1, b;
                char ext[16];
                while ((de = readdir(d)))
                        if (sscanf(de->d_name, "%20lld%15s", &b, ext) == 2 && !strcmp(ext, ".log") &&
                            b > 0 && (second < 0 || b < second))
                                second = b;
                closedir(d);
                CU_ASSERT_FATAL(second > 0);
                p = bt_seg_file(dir, second, ".index");
                {
                        uint8_t e[8];
                        rill__put_be32(e, 1);
                        rill__put_be32(e + 4, 30);
                        write_bytes(p, e, 8, O_APPEND);
                }
                free(p);
                p = bt_seg_file(dir, second, ".timeindex");
                write_bytes(p, junk, 5, O_APPEND);
                free(p);
        }
        /* Leftovers of an interrupted compaction / checkpoint. */
        p = bt_seg_file(dir, 0, ".log.cleaned");
        write_bytes(p, junk, sizeof(junk), O_TRUNC);
        free(p);
        p = bt_seg_file(dir, 0, ".index.cleaned");
        write_bytes(p, junk, 16, O_TRUNC);
        free(p);

        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), size);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".index"), nlog);
        p = bt_seg_file(dir, 0, ".index");
        CU_ASSERT(file_size(p) > 0 && file_size(p) % 8 == 0);
        free(p);
        check_read_all(log);
        check_times(log, 150);
        rill__log_close(log);

        /* An index whose last entry is fine but whose middle lies: reads
         * notice and scan instead. */
        p = bt_seg_file(dir, 0, ".index");
        {
                int fd = open(p, O_RDWR);
                uint8_t e[8];
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT_FATAL(file_size(p) >= 24);
                rill__put_be32(e, 1);
                rill__put_be32(e + 4, 30);
                CU_ASSERT_EQUAL(pwrite(fd, e, 8, 0), 8);
                /* Entry 1 claims offset 3 lives where entry 2's batch is. */
                CU_ASSERT_EQUAL(pread(fd, e, 8, 16), 8);
                CU_ASSERT((int32_t)rill__be32(e) > 3);
                rill__put_be32(e, 3);
                CU_ASSERT_EQUAL(pwrite(fd, e, 8, 8), 8);
                close(fd);
        }
        free(p);
        p = bt_seg_file(dir, 0, ".timeindex");
        {
                /* "Everything up to offset 25 is older than 1": a lie. */
                int fd = open(p, O_RDWR);
                uint8_t e[12];
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT_FATAL(file_size(p) >= 24);
                rill__put_be64(e, 1);
                rill__put_be32(e + 8, 25);
                CU_ASSERT_EQUAL(pwrite(fd, e, 12, 0), 12);
                close(fd);
        }
        free(p);
        log = bt_open_log(dir, &c);
        check_read_all(log);
        check_times(log, 150);
        rill__log_close(log);

        /* Garbage appended to the last segment, then a crash. */
        log = bt_open_log(dir, &c);
        rill__log_abandon(log);
        p = last_segment(dir, NULL);
        write_bytes(p, junk, sizeof(junk), O_APPEND);
        free(p);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), size);
        check_read_all(log);
        rill__log_close(log);

        /* A new last segment that is pure garbage (and one that is empty). */
        p = bt_seg_file(dir, end, ".log");
        write_bytes(p, junk, sizeof(junk), O_TRUNC);
        free(p);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), size);
        check_read_all(log);
        CU_ASSERT_EQUAL(append_n(log, 1, 20000, 0), end);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end + 1);
        check_read_all(log);
        rill__log_delete(log);
        CU_ASSERT_EQUAL(access(dir, F_OK), -1);
        free(dir);

        /* A directory holding only an empty or garbage first segment. */
        dir = rill_test_tmpdir("rill-log");
        p = bt_seg_file(dir, 0, ".log");
        write_bytes(p, junk, 0, O_TRUNC);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        CU_ASSERT_EQUAL(append_n(log, 2, 1, 0), 0);
        rill__log_close(log);
        write_bytes(p, junk, sizeof(junk), O_TRUNC);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), 0);
        rill__log_close(log);
        free(p);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_offset_for_time(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log = multi_segment_log(dir, &c, 200);
        int64_t off, fts;
        rill__wbuf_t w;

        CU_ASSERT(bt_count_files(dir, ".log") > 5);
        check_times(log, 200);
        CU_ASSERT_EQUAL(rill__log_offset_for_time(log, -2, &off, &fts), RILL_OK);
        CU_ASSERT_EQUAL(off, 0);
        CU_ASSERT_EQUAL(rill__log_offset_for_time(log, -1, &off, &fts), RILL_OK);
        CU_ASSERT_EQUAL(off, 400);
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        check_times(log, 200);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        check_times(log, 200);

        /* Records with distinct timestamps inside one batch. */
        {
                rill__batch_builder_t b;
                int64_t first, at;
                rill__batch_builder_init(&b, 0, 50000);
                for (int i = 0; i < 5; i++)
                        rill__batch_builder_add(&b, i, 50000 + 100 * i, "k", 1, "v", 1, NULL, 0, 0);
                rill__batch_builder_finish(&b);
                rill__wb_init(&w, 0);
                rill__wb_raw(&w, b.buf.buf, b.buf.len);
                CU_ASSERT_EQUAL(rill__log_append(log, w.buf, w.len, 0, &first, &at, NULL, 0), RILL_OK);
                CU_ASSERT_EQUAL(first, 400);
                CU_ASSERT_EQUAL(rill__log_offset_for_time(log, 50250, &off, &fts), RILL_OK);
                CU_ASSERT_EQUAL(off, 403);
                CU_ASSERT_EQUAL(fts, 50300);
                CU_ASSERT_EQUAL(rill__log_offset_for_time(log, 50401, &off, &fts), RILL_OK);
                CU_ASSERT_EQUAL(off, -1);
                rill__batch_builder_destroy(&b);
                rill__wb_free(&w);
        }
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_truncate(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log = multi_segment_log(dir, &c, 200); /* offsets 0..399, 2 per batch */
        int64_t targets[] = {401, 400, 399, 351, 300, 257, 101, 3};
        int64_t expect[] = {400, 400, 398, 350, 300, 256, 100, 2};
        int nseg0 = bt_count_files(dir, ".log");

        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
                int64_t ts, off;
                CU_ASSERT_EQUAL(rill__log_truncate(log, targets[i]), RILL_OK);
                CU_ASSERT_EQUAL(rill__log_end_offset(log), expect[i]);
                check_read_all(log);
                rill__log_max_timestamp(log, &ts, &off);
                CU_ASSERT_EQUAL(ts, 10000 + 10 * (expect[i] / 2 - 1));
                CU_ASSERT_EQUAL(off, expect[i] - 1);
                check_times(log, (int)(expect[i] / 2));
                if (i % 2) {
                        rill__log_close(log);
                } else {
                        rill__log_abandon(log);
                }
                log = bt_open_log(dir, &c);
                CU_ASSERT_EQUAL(rill__log_end_offset(log), expect[i]);
                check_read_all(log);
                check_times(log, (int)(expect[i] / 2));
        }
        CU_ASSERT(bt_count_files(dir, ".log") < nseg0);
        /* Appends continue from the truncation point, in new segments. */
        for (int i = 0; i < 50; i++)
                CU_ASSERT_EQUAL(append_n(log, 2, 10000 + 10 * (i + 1), i), 2 + 2 * i);
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 400), 102);
        /* Truncating everything. */
        CU_ASSERT_EQUAL(rill__log_truncate(log, 0), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 0);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), 1);
        CU_ASSERT_EQUAL(append_n(log, 2, 1, 0), 0);
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 2);
        CU_ASSERT_EQUAL(rill__log_truncate(log, -1), RILL_ERR_INVALID_ARG);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_delete_records(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log = multi_segment_log(dir, &c, 200);
        rill__wbuf_t out;
        int nseg = bt_count_files(dir, ".log");
        int64_t first, next;

        rill__wb_init(&out, 0);
        CU_ASSERT_EQUAL(rill__log_delete_records(log, 401), RILL_ERR_OFFSET_OUT_OF_RANGE);
        CU_ASSERT_EQUAL(rill__log_delete_records(log, 0), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 0);
        CU_ASSERT_EQUAL(rill__log_delete_records(log, 101), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 101);
        CU_ASSERT(bt_count_files(dir, ".log") < nseg);
        CU_ASSERT_EQUAL(rill__log_read(log, 100, 400, 1000, &out), RILL_ERR_OFFSET_OUT_OF_RANGE);
        CU_ASSERT_EQUAL(rill__log_read(log, 101, 400, 1, &out), RILL_OK);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 1);
        CU_ASSERT_EQUAL(first, 100);
        check_read_all(log);
        /* Going backwards is a no-op. */
        CU_ASSERT_EQUAL(rill__log_delete_records(log, 50), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 101);
        /* Persisted across clean and unclean reopen. */
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 101);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 101);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 400);
        /* Up to the end: everything is gone but the offsets go on. */
        CU_ASSERT_EQUAL(rill__log_delete_records(log, 400), RILL_OK);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 400);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), 1);
        rill__wb_reset(&out);
        CU_ASSERT_EQUAL(rill__log_read(log, 400, 400, 1000, &out), RILL_OK);
        CU_ASSERT_EQUAL(out.len, 0u);
        CU_ASSERT_EQUAL(rill__log_read(log, 399, 400, 1000, &out), RILL_ERR_OFFSET_OUT_OF_RANGE);
        CU_ASSERT_EQUAL(append_n(log, 2, 1, 0), 400);
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 400);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 402);
        rill__log_close(log);
        rill__wb_free(&out);
        rill_test_rmdir(dir);
        free(dir);
}

/* A log-start-offset checkpoint above what recovery kept (a torn tail cut
 * the log back) is clamped and rewritten, so that records appended from
 * then on are not hidden at the next open. */
static void
test_stale_start_checkpoint(void)
{
        char *dir = rill_test_tmpdir("rill-log"), *path;
        rill__log_conf_t c;
        rill__log_t *log;
        FILE *f;

        rill__log_conf_defaults(&c);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(append_n(log, 10, 1, 0), 0);
        rill__log_close(log);
        path = rill__asprintf("%s/log-start-offset", dir);
        f = fopen(path, "w");
        CU_ASSERT_FATAL(f != NULL);
        fprintf(f, "100\n");
        fclose(f);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 10);
        CU_ASSERT_EQUAL(append_n(log, 5, 1, 1), 10);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 10);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 15);
        check_read_all(log);
        rill__log_close(log);
        free(path);
        rill_test_rmdir(dir);
        free(dir);
}

/*
 * A segment trusted through the clean-shutdown marker, with two on-disk
 * defects (fuzz finding): a corrupt LastOffsetDelta in one batch (a
 * CRC-covered field) and an .index whose keys stop increasing. The open
 * must see the broken index, rebuild it with a CRC walk that truncates at
 * the corrupt batch (keeping every batch before it), and a batch appended
 * afterwards must be readable, also after a reopen. With @p corrupt_batch
 * false only the index is broken: nothing may be lost.
 */
static void
trusted_corrupt_check(bool corrupt_batch)
{
        char *dir = rill_test_tmpdir("rill-log"), *path, *ipath;
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t bounds[21], keep_off = corrupt_batch ? 15 : 60, first, next;
        uint8_t e[8];
        rill__wbuf_t out;
        int fd;

        rill__log_conf_defaults(&c);
        c.index_interval_bytes = 100;
        log = bt_open_log(dir, &c);
        fill_20(log, dir, bounds);
        rill__log_close(log);
        path = bt_seg_file(dir, 0, ".log");
        ipath = bt_seg_file(dir, 0, ".index");
        CU_ASSERT_FATAL(file_size(ipath) >= 3 * 8);
        if (corrupt_batch) {
                /* Batch 5 claims offsets 15..1015 (LastOffsetDelta 1000). */
                uint8_t d[4];
                rill__put_be32(d, 1000);
                fd = open(path, O_RDWR);
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT_EQUAL(pwrite(fd, d, 4, bounds[5] + RILL__BATCH_OFF_LAST_DELTA), 4);
                close(fd);
        }
        /* The second index entry gets a key above the third one's. */
        fd = open(ipath, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        rill__put_be32(e, 0x0010000e);
        CU_ASSERT_EQUAL(pwrite(fd, e, 4, 8), 4);
        close(fd);

        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), keep_off);
        CU_ASSERT_EQUAL(file_size(path), corrupt_batch ? bounds[5] : bounds[20]);
        check_read_all(log);
        CU_ASSERT_EQUAL(append_n(log, 3, 5000, 77), keep_off);
        rill__wb_init(&out, 1024);
        CU_ASSERT_EQUAL(rill__log_read(log, keep_off, keep_off + 3, 1 << 20, &out), RILL_OK);
        CU_ASSERT_FATAL(out.len > 0);
        CU_ASSERT_EQUAL(check_batches(out.buf, out.len, &first, &next), 1);
        CU_ASSERT_EQUAL(first, keep_off);
        CU_ASSERT_EQUAL(next, keep_off + 3);
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 300), keep_off + 3);
        rill__log_close(log);

        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), keep_off + 3);
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 300), keep_off + 3);
        rill__log_close(log);
        rill__wb_free(&out);
        free(ipath);
        free(path);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_trusted_segment_corrupt_header_and_index(void)
{
        trusted_corrupt_check(true);
        trusted_corrupt_check(false);
}

static void
test_retention_time(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t now = rill__now_ms(), day = 86400000, old = now - 10 * day;
        int nseg;

        rill__log_conf_defaults(&c);
        c.segment_bytes = 1000;
        c.retention_ms = 7 * day;
        log = bt_open_log(dir, &c);
        for (int i = 0; i < 60; i++)
                append_n(log, 3, old + i, i);
        for (int i = 0; i < 60; i++)
                append_n(log, 3, now + i, i);
        nseg = bt_count_files(dir, ".log");
        /* Not yet expired: nothing happens. */
        CU_ASSERT_EQUAL(rill__log_retention(log, old + 1000), 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), nseg);
        CU_ASSERT(rill__log_retention(log, now) > 0);
        CU_ASSERT(bt_count_files(dir, ".log") < nseg);
        CU_ASSERT(rill__log_start_offset(log) > 0);
        CU_ASSERT(rill__log_start_offset(log) <= 180); /* every new record stays */
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 360);
        check_read_all(log);
        /* The retention-only policy does nothing for compact-only logs. */
        c.cleanup_policy = RILL__CLEANUP_COMPACT;
        rill__log_set_conf(log, &c);
        CU_ASSERT_EQUAL(rill__log_retention(log, now + 30 * day), 0);
        CU_ASSERT_EQUAL(rill__log_conf(log)->cleanup_policy, RILL__CLEANUP_COMPACT);
        /* Everything expired: the active segment is rolled, all goes. */
        c.cleanup_policy = RILL__CLEANUP_DELETE;
        rill__log_set_conf(log, &c);
        CU_ASSERT(rill__log_retention(log, now + 30 * day) > 0);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 360);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 360);
        CU_ASSERT_EQUAL(rill__log_size_bytes(log), 0);
        CU_ASSERT_EQUAL(append_n(log, 1, now, 0), 360);
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_start_offset(log), 360);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 361);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_retention_size_and_segment_ms(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t now = rill__now_ms(), total = 0;
        int nseg;
        DIR *d;
        struct dirent *de;

        rill__log_conf_defaults(&c);
        c.segment_bytes = 1000;
        c.retention_bytes = 3000;
        c.retention_ms = -1;
        log = bt_open_log(dir, &c);
        for (int i = 0; i < 200; i++)
                append_n(log, 3, now, i);
        CU_ASSERT(rill__log_size_bytes(log) > 10000);
        CU_ASSERT(rill__log_retention(log, now) > 0);
        CU_ASSERT(rill__log_size_bytes(log) >= 3000 - 1000);
        d = opendir(dir);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l > 4 && !strcmp(de->d_name + l - 4, ".log")) {
                        char *p = rill__asprintf("%s/%s", dir, de->d_name);
                        total += file_size(p);
                        rill__free(p);
                }
        }
        closedir(d);
        CU_ASSERT_EQUAL(total, rill__log_size_bytes(log));
        check_read_all(log);
        CU_ASSERT_EQUAL(read_sequential(log, 5000), 600 - rill__log_start_offset(log));

        /* segment.ms: an old, non-empty active segment is rolled. */
        c.retention_bytes = -1;
        c.segment_ms = 1000;
        rill__log_set_conf(log, &c);
        nseg = bt_count_files(dir, ".log");
        CU_ASSERT_EQUAL(rill__log_retention(log, now + 500), 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), nseg);
        CU_ASSERT_EQUAL(rill__log_retention(log, now + 5000), 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), nseg + 1);
        /* ... and on append, by the incoming timestamps. */
        append_n(log, 1, now + 10, 0);
        append_n(log, 1, now + 20, 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), nseg + 1);
        append_n(log, 1, now + 5000, 0);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".log"), nseg + 2);
        check_read_all(log);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

/* Random damage to the last segment after a crash: open never fails, the
 * log keeps a valid prefix, every remaining record reads back in order. */
static void
test_recovery_fuzz(void)
{
        uint32_t seed = 777;
        for (int iter = 0; iter < 40; iter++) {
                char *dir = rill_test_tmpdir("rill-log");
                rill__log_conf_t c;
                rill__log_t *log;
                int64_t end, base, size;
                char *path;
                int fd, mode;

                rill__log_conf_defaults(&c);
                c.segment_bytes = 3000;
                c.index_interval_bytes = 100;
                log = bt_open_log(dir, &c);
                for (int i = 0; i < 60; i++)
                        append_n(log, 1 + i % 3, i, i);
                end = rill__log_end_offset(log);
                rill__log_abandon(log);
                path = last_segment(dir, &base);
                size = file_size(path);
                seed = seed * 1103515245u + 12345u;
                mode = (int)((seed >> 16) % 3);
                fd = open(path, O_RDWR);
                CU_ASSERT_FATAL(fd >= 0);
                if (mode == 0) {
                        /* Torn write. */
                        CU_ASSERT_EQUAL(ftruncate(fd, (off_t)((seed >> 4) % (uint32_t)(size + 1))), 0);
                } else if (mode == 1) {
                        /* Bit rot. */
                        for (int f = 0; f < 3; f++) {
                                uint8_t b;
                                off_t at;
                                seed = seed * 1103515245u + 12345u;
                                at = (off_t)((seed >> 3) % (uint32_t)(size ? size : 1));
                                if (pread(fd, &b, 1, at) == 1) {
                                        b ^= (uint8_t)(1u << (seed & 7));
                                        CU_ASSERT_EQUAL(pwrite(fd, &b, 1, at), 1);
                                }
                        }
                } else {
                        /* Garbage tail. */
                        uint8_t junk[300];
                        for (size_t i = 0; i < sizeof(junk); i++) {
                                seed = seed * 1103515245u + 12345u;
                                junk[i] = (uint8_t)(seed >> 24);
                        }
                        CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk), (off_t)size), (ssize_t)sizeof(junk));
                }
                close(fd);
                log = bt_open_log(dir, &c);
                CU_ASSERT(rill__log_end_offset(log) <= end);
                CU_ASSERT(rill__log_end_offset(log) >= base);
                CU_ASSERT_EQUAL(read_sequential(log, 500), rill__log_end_offset(log));
                CU_ASSERT_EQUAL(append_n(log, 1, 0, 0), rill__log_end_offset(log) - 1);
                rill__log_close(log);
                free(path);
                rill_test_rmdir(dir);
                free(dir);
        }
}

/* ---- compaction --------------------------------------------------------- */

/* After compaction: for each key at most one record below @p active_base,
 * and it is the latest of that key below active_base in @p truth. */
static void
check_compacted(rill__log_t *log, int nkeys, int64_t active_base, int64_t written, int null_every,
                bool expect_tombstones)
{
        bt_rec_t *v;
        int n = bt_read_records(log, &v);
        int *count = calloc((size_t)nkeys, sizeof(int));
        int nulls = 0;
        for (int i = 0; i < n; i++) {
                if (v[i].key < 0) {
                        nulls++;
                        continue;
                }
                if (v[i].off >= active_base)
                        continue;
                count[v[i].key]++;
                /* It must be the key's latest record below active_base. */
                for (int64_t o = v[i].off + nkeys; o < active_base; o += nkeys) {
                        if (!(null_every && o % null_every == 0))
                                CU_ASSERT_FATAL(o >= active_base);
                }
                if (v[i].tomb)
                        CU_ASSERT(expect_tombstones);
        }
        for (int k = 0; k < nkeys; k++)
                CU_ASSERT(count[k] <= 1);
        if (null_every) {
                int64_t expect = 0;
                for (int64_t o = 0; o < written; o++)
                        if (o % null_every == 0)
                                expect++;
                CU_ASSERT_EQUAL(nulls, expect);
        }
        free(count);
        free(v);
}

static int64_t
active_base_of(const char *dir)
{
        int64_t b;
        char *p = last_segment(dir, &b);
        free(p);
        return b;
}

static void
test_compaction(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t now = rill__now_ms(), hour = 3600000, seq = 0, size_before, end;
        int nkeys = 20;
        bt_rec_t *v;
        int n;

        rill__log_conf_defaults(&c);
        c.cleanup_policy = RILL__CLEANUP_COMPACT;
        c.segment_bytes = 1200;
        c.index_interval_bytes = 100;
        log = bt_open_log(dir, &c);
        for (int b = 0; b < 100; b++, seq += 5)
                bt_append_keyed(log, seq, 5, nkeys, now - hour, false, 13);
        end = rill__log_end_offset(log);
        size_before = rill__log_size_bytes(log);
        CU_ASSERT(bt_count_files(dir, ".log") > 5);
        /* Too recent for min.compaction.lag.ms. */
        c.min_compaction_lag_ms = 2 * hour;
        rill__log_set_conf(log, &c);
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_DECLINED);
        /* The delete policy alone never compacts. */
        c.min_compaction_lag_ms = 0;
        c.cleanup_policy = RILL__CLEANUP_DELETE;
        rill__log_set_conf(log, &c);
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_DECLINED);
        c.cleanup_policy = RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE;
        rill__log_set_conf(log, &c);

        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_OK);
        CU_ASSERT(rill__log_size_bytes(log) < size_before / 2);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        check_compacted(log, nkeys, active_base_of(dir), seq, 13, false);
        /* Nothing dirty now. */
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_DECLINED);
        CU_ASSERT_EQUAL(bt_count_files(dir, ".cleaned"), 0);

        /* Reads at every offset still work (gaps skip forward). */
        {
                rill__wbuf_t out;
                rill__wb_init(&out, 0);
                for (int64_t o = rill__log_start_offset(log); o < end; o++) {
                        int64_t f, nx;
                        rill__wb_reset(&out);
                        CU_ASSERT_EQUAL_FATAL(rill__log_read(log, o, end, 1, &out), RILL_OK);
                        CU_ASSERT_FATAL(out.len > 0);
                        check_batches(out.buf, out.len, &f, &nx);
                        CU_ASSERT(nx > o);
                }
                rill__wb_free(&out);
        }

        /* Reopen (clean, then after a crash): same content. */
        rill__log_close(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        check_compacted(log, nkeys, active_base_of(dir), seq, 13, false);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
        check_compacted(log, nkeys, active_base_of(dir), seq, 13, false);

        /* Tombstones for keys 0..4, then enough data to close their segment. */
        bt_append_keyed(log, seq, 5, nkeys, now - hour, true, 0);
        seq += 5;
        for (int b = 0; b < 40; b++, seq += 5)
                bt_append_keyed(log, seq, 5, 1000, now - hour, false, 0);
        c.min_cleanable_dirty_ratio = 0.01;
        rill__log_set_conf(log, &c);
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_OK);
        n = bt_read_records(log, &v);
        {
                int tombs = 0, old_vals = 0;
                for (int i = 0; i < n; i++) {
                        if (v[i].tomb)
                                tombs++;
                        else if (v[i].off < 500 && v[i].key >= 0 && v[i].key < 5)
                                old_vals++;
                }
                CU_ASSERT_EQUAL(tombs, 5);   /* kept: younger than delete.retention.ms */
                CU_ASSERT_EQUAL(old_vals, 0); /* but the values they delete are gone */
        }
        free(v);
        /* Two days later, with fresh dirty data, the tombstones go. */
        for (int b = 0; b < 40; b++, seq += 5)
                bt_append_keyed(log, seq, 5, 1000, now - hour, false, 0);
        CU_ASSERT_EQUAL(rill__log_compact(log, now + 2 * 24 * hour), RILL_OK);
        n = bt_read_records(log, &v);
        for (int i = 0; i < n; i++)
                CU_ASSERT(!v[i].tomb);
        free(v);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), seq);
        /* Appending after compaction continues the offsets. */
        bt_append_keyed(log, seq, 5, nkeys, now, false, 0);
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

static uint8_t *
gzip_buf(const uint8_t *in, size_t in_len, size_t *out_len)
{
        z_stream zs;
        size_t cap = compressBound((uLong)in_len) + 64;
        uint8_t *out = malloc(cap);
        memset(&zs, 0, sizeof(zs));
        CU_ASSERT_FATAL(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)in_len;
        zs.next_out = out;
        zs.avail_out = (uInt)cap;
        CU_ASSERT_FATAL(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        *out_len = zs.total_out;
        deflateEnd(&zs);
        return out;
}

static void
test_compaction_compressed_and_headers(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        int64_t now = rill__now_ms(), f, at;
        uint8_t hdr[16], *p = hdr;
        size_t hlen;

        p += rill__varint_enc(p, 1);
        *p++ = 'h';
        p += rill__varint_enc(p, 2);
        *p++ = 'x';
        *p++ = 'y';
        hlen = (size_t)(p - hdr);
        rill__log_conf_defaults(&c);
        c.cleanup_policy = RILL__CLEANUP_COMPACT;
        c.segment_bytes = 600;
        log = bt_open_log(dir, &c);
        /* Gzip batches: keys a0..a9 twice per batch, with a header. */
        for (int b = 0; b < 10; b++) {
                rill__batch_builder_t bb;
                rill__wbuf_t w;
                uint8_t *comp;
                size_t clen;
                rill__batch_builder_init(&bb, 0, now - 1000);
                for (int i = 0; i < 20; i++) {
                        char k[8], val[32];
                        int kl = snprintf(k, sizeof(k), "a%d", i % 10);
                        int vl = snprintf(val, sizeof(val), "b%d-%d", b, i);
                        rill__batch_builder_add(&bb, i, now - 1000 + i, k, kl, val, vl, hdr, hlen, 1);
                }
                rill__batch_builder_finish(&bb);
                comp = gzip_buf(bb.buf.buf + RILL__BATCH_HDR_SIZE, bb.buf.len - RILL__BATCH_HDR_SIZE, &clen);
                rill__wb_init(&w, 0);
                rill__wb_raw(&w, bb.buf.buf, RILL__BATCH_HDR_SIZE);
                rill__wb_raw(&w, comp, clen);
                rill__put_be32(w.buf + RILL__BATCH_OFF_LENGTH, (uint32_t)(w.len - 12));
                w.buf[RILL__BATCH_OFF_ATTRS + 1] |= RILL__COMP_GZIP;
                rill__put_be32(w.buf + RILL__BATCH_OFF_CRC,
                               rill__crc32c(0, w.buf + RILL__BATCH_OFF_ATTRS, w.len - RILL__BATCH_OFF_ATTRS));
                CU_ASSERT_EQUAL(rill__log_append(log, w.buf, w.len, 0, &f, &at, NULL, 0), RILL_OK);
                CU_ASSERT_EQUAL(f, b * 20);
                free(comp);
                rill__wb_free(&w);
                rill__batch_builder_destroy(&bb);
        }
        CU_ASSERT(bt_count_files(dir, ".log") >= 3);
        CU_ASSERT_EQUAL(rill__log_compact(log, now), RILL_OK);
        {
                int64_t o = 0, end = rill__log_end_offset(log), abase = active_base_of(dir);
                int seen[10] = {0};
                rill__wbuf_t out;
                rill__wb_init(&out, 0);
                int nlog = bt_count_files(dir, ".log");
                int64_t first, next;
                /* Whole segments were superseded: the first stays (empty),
                 * so the start offset does not move; reads skip ahead. */
                CU_ASSERT_EQUAL(rill__log_start_offset(log), 0);
                CU_ASSERT_EQUAL(rill__log_read(log, 0, end, 1 << 20, &out), RILL_OK);
                CU_ASSERT(out.len > 0);
                check_batches(out.buf, out.len, &first, &next);
                CU_ASSERT(first > 0);
                CU_ASSERT_EQUAL(next, end);
                CU_ASSERT(nlog >= 2);
                {
                        char *p0 = bt_seg_file(dir, 0, ".log");
                        CU_ASSERT_EQUAL(file_size(p0), 0);
                        free(p0);
                }
                for (size_t pos = 0; pos < out.len; pos += rill__batch_size(out.buf + pos)) {
                        rill__record_iter_t it;
                        rill__record_t r;
                        CU_ASSERT_EQUAL_FATAL(rill__batch_validate(out.buf + pos, out.len - pos, NULL, 0), RILL_OK);
                        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, out.buf + pos, out.len - pos), RILL_OK);
                        while (rill__record_iter_next(&it, &r) == 1) {
                                char val[32];
                                int vl = snprintf(val, sizeof(val), "b%d-%d", (int)(r.offset / 20),
                                                  (int)(r.offset % 20));
                                CU_ASSERT(r.offset >= o);
                                o = r.offset + 1;
                                CU_ASSERT(r.value_len == vl && !memcmp(r.value, val, (size_t)vl));
                                CU_ASSERT_EQUAL(r.timestamp, now - 1000 + r.offset % 20);
                                CU_ASSERT_EQUAL(r.header_count, 1);
                                CU_ASSERT(r.headers_len == hlen && !memcmp(r.headers, hdr, hlen));
                                if (r.offset < abase)
                                        seen[r.key[1] - '0']++;
                        }
                        rill__record_iter_destroy(&it);
                }
                for (int k = 0; k < 10; k++)
                        CU_ASSERT(seen[k] <= 1);
                /* The same after reopening (clean, then unclean). */
                for (int round = 0; round < 2; round++) {
                        size_t len = out.len;
                        if (round == 0)
                                rill__log_close(log);
                        else
                                rill__log_abandon(log);
                        log = bt_open_log(dir, &c);
                        CU_ASSERT_EQUAL(rill__log_start_offset(log), 0);
                        CU_ASSERT_EQUAL(rill__log_end_offset(log), end);
                        rill__wb_reset(&out);
                        CU_ASSERT_EQUAL(rill__log_read(log, 0, end, 1 << 20, &out), RILL_OK);
                        CU_ASSERT_EQUAL(out.len, len);
                }
                rill__wb_free(&out);
        }
        rill__log_close(log);
        rill_test_rmdir(dir);
        free(dir);
}

/* ---- write errors, flush ------------------------------------------------ */

#define CHILD_CHECK(cond)                                                      \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "child check failed at line %d: %s\n", \
                                __LINE__, #cond);                              \
                        _exit(1);                                              \
                }                                                              \
        } while (0)

static void
write_error_child(const char *dir)
{
        rill__log_conf_t c;
        rill__log_t *log = NULL;
        rill__wbuf_t w;
        struct rlimit rl, orig;
        int64_t first, at, size, end;
        char err[256];
        char *path;
        rill_err_t e;

        signal(SIGXFSZ, SIG_IGN);
        rill__log_conf_defaults(&c);
        CHILD_CHECK(rill__log_open(dir, &c, &log, err, sizeof(err)) == RILL_OK);
        rill__wb_init(&w, 0);
        for (int i = 0; i < 10; i++) {
                make_batch(&w, 3, 100, i, 0, false);
                CHILD_CHECK(rill__log_append(log, w.buf, w.len, 0, &first, &at, err, sizeof(err)) == RILL_OK);
        }
        end = rill__log_end_offset(log);
        size = rill__log_size_bytes(log);
        path = last_segment(dir, NULL);
        CHILD_CHECK(file_size(path) == size);

        CHILD_CHECK(getrlimit(RLIMIT_FSIZE, &orig) == 0);
        rl = orig;
        rl.rlim_cur = (rlim_t)size + 100; /* room for part of the next batch */
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        make_batch(&w, 50, 100, 0, 0, false);
        CHILD_CHECK(w.len > 200);
        e = rill__log_append(log, w.buf, w.len, 0, &first, &at, err, sizeof(err));
        CHILD_CHECK(e == RILL_ERR_NO_SPACE);
        CHILD_CHECK(rill__log_end_offset(log) == end);
        CHILD_CHECK(rill__log_size_bytes(log) == size);
        CHILD_CHECK(file_size(path) == size); /* the partial write was undone */
        /* Exactly at the limit. */
        rl.rlim_cur = (rlim_t)size;
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        make_batch(&w, 1, 100, 0, 0, false);
        CHILD_CHECK(rill__log_append(log, w.buf, w.len, 0, &first, &at, err, sizeof(err)) == RILL_ERR_NO_SPACE);
        CHILD_CHECK(file_size(path) == size);

        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &orig) == 0);
        make_batch(&w, 50, 100, 0, 0, false);
        CHILD_CHECK(rill__log_append(log, w.buf, w.len, 0, &first, &at, err, sizeof(err)) == RILL_OK);
        CHILD_CHECK(first == end);
        rill__log_abandon(log);
        CHILD_CHECK(rill__log_open(dir, &c, &log, err, sizeof(err)) == RILL_OK);
        CHILD_CHECK(rill__log_end_offset(log) == end + 50);
        rill__log_close(log);
        rill__wb_free(&w);
        free(path);
        _exit(0);
}

static void
test_write_errors(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        int status = -1;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0)
                write_error_child(dir);
        CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_flush_policy(void)
{
        char *dir = rill_test_tmpdir("rill-log");
        rill__log_conf_t c;
        rill__log_t *log;
        rill__log_conf_defaults(&c);
        c.flush_messages = 1;
        c.flush_ms = 0;
        log = bt_open_log(dir, &c);
        for (int i = 0; i < 5; i++)
                CU_ASSERT_EQUAL(append_n(log, 2, i, i), 2 * i);
        rill__log_tick(log, rill__now_ms() + 10);
        CU_ASSERT_EQUAL(rill__log_flush(log), RILL_OK);
        rill__log_abandon(log);
        log = bt_open_log(dir, &c);
        CU_ASSERT_EQUAL(rill__log_end_offset(log), 10);
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
                        {"many_index_entries", test_many_index_entries},
                        {"max_offset_and_kip74", test_max_offset_and_kip74},
                        {"append_validation", test_append_validation},
                        {"log_append_time", test_log_append_time},
                        {"recovery_truncated_tail", test_recovery_truncated_tail},
                        {"recovery_corrupt_tail", test_recovery_corrupt_tail},
                        {"recovery_indexes_and_garbage", test_recovery_indexes_and_garbage},
                        {"recovery_fuzz", test_recovery_fuzz},
                        {"offset_for_time", test_offset_for_time},
                        {"truncate", test_truncate},
                        {"delete_records", test_delete_records},
                        {"stale_start_checkpoint", test_stale_start_checkpoint},
                        {"trusted_segment_corrupt_header_and_index",
                         test_trusted_segment_corrupt_header_and_index},
                        {"retention_time", test_retention_time},
                        {"retention_size_and_segment_ms", test_retention_size_and_segment_ms},
                        {"compaction", test_compaction},
                        {"compaction_compressed_and_headers", test_compaction_compressed_and_headers},
                        {"write_errors", test_write_errors},
                        {"flush_policy", test_flush_policy},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
