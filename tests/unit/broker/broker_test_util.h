/*
 * broker_test_util.h - helpers shared by the broker unit tests (header-only).
 *
 * Two groups, each used by more than one test executable:
 *   - the partition log (test_log.c, test_cleaner.c): opening a log,
 *     appending keyed records whose value names their offset, reading the
 *     whole log back with every batch checked, and looking at its files;
 *   - one-request helpers over raw_client.h (test_broker.c, test_cleaner.c,
 *     test_protocol.c): Produce, ListOffsets, Metadata, CreateTopics and
 *     DeleteTopics with a single topic, which return the topic's error code
 *     (or offset, or partition count) and a value no answer can carry when
 *     the exchange itself fails.
 *
 * Static inline, like raw_client.h, so that each test takes what it uses.
 * Failures are reported through CUnit asserts; nothing here is thread-safe
 * beyond what raw_client.h is (one request at a time per executable).
 */
#ifndef RILL_TEST_BROKER_TEST_UTIL_H
#define RILL_TEST_BROKER_TEST_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "codec.h"
#include "kerr.h"
#include "log.h"
#include "raw_client.h"
#include "rill_alloc.h"
#include "rill_test.h"
#include "rill_util.h"

/* ---- partition log ------------------------------------------------------ */

/* Opens the log in @p dir, failing the test (fatally) if it cannot. */
static inline rill__log_t *
bt_open_log(const char *dir, const rill__log_conf_t *c)
{
        rill__log_t *log = NULL;
        char err[256] = "";
        rill_err_t e = rill__log_open(dir, c, &log, err, sizeof(err));
        if (e != RILL_OK)
                fprintf(stderr, "open %s: %s (%s)\n", dir, rill_err2name(e), err);
        CU_ASSERT_EQUAL_FATAL(e, RILL_OK);
        return log;
}

/* Appends one batch of @p n records with leader epoch 1: record seq = first
 * + i has key "k<seq % nkeys>" (a null key when @p null_key_every divides
 * seq) and value "v<seq>" (null for tombstones), timestamp @p ts. Asserts
 * that the batch lands at offset @p first. */
static inline void
bt_append_keyed(rill__log_t *log, int64_t first, int n, int nkeys, int64_t ts, bool tombstone,
                int null_key_every)
{
        rill__batch_builder_t b;
        int64_t f = -1, at;
        char err[256] = "";
        rill__batch_builder_init(&b, 0, ts);
        for (int i = 0; i < n; i++) {
                char k[32], v[32];
                int64_t seq = first + i;
                int kl = snprintf(k, sizeof(k), "k%lld", (long long)(seq % nkeys));
                int vl = snprintf(v, sizeof(v), "v%lld", (long long)seq);
                bool nk = null_key_every && seq % null_key_every == 0;
                rill__batch_builder_add(&b, i, ts, nk ? NULL : k, kl, tombstone ? NULL : v, vl,
                                        NULL, 0, 0);
        }
        rill__batch_builder_finish(&b);
        CU_ASSERT_EQUAL(rill__log_append(log, b.buf.buf, b.buf.len, 1, &f, &at, err, sizeof(err)),
                        RILL_OK);
        if (err[0])
                fprintf(stderr, "append: %s\n", err);
        CU_ASSERT_EQUAL(f, first);
        rill__batch_builder_destroy(&b);
}

/* Path of segment file <base><ext> in @p dir (free with rill__free). */
static inline char *
bt_seg_file(const char *dir, int64_t base, const char *ext)
{
        return rill__asprintf("%s/%020lld%s", dir, (long long)base, ext);
}

/* Number of entries of @p dir whose name ends in @p suffix, -1 when @p dir
 * cannot be opened. */
static inline int
bt_count_files(const char *dir, const char *suffix)
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

/* One record as bt_read_records() found it. */
typedef struct bt_rec {
        int64_t off;
        int key;      /* n of key "k<n>"; -1: null key */
        bool tomb;
} bt_rec_t;

/* Reads the whole log, written by bt_append_keyed(): checks that every batch
 * is valid and has leader epoch 1, that offsets strictly increase and that
 * each value names its offset (compaction preserves offsets). Returns the
 * number of records; the records (malloc'd, free with free()) in *out. */
static inline int
bt_read_records(rill__log_t *log, bt_rec_t **out)
{
        int64_t o = rill__log_start_offset(log), end = rill__log_end_offset(log);
        rill__wbuf_t buf;
        int n = 0, cap = 256;
        bt_rec_t *v = malloc(sizeof(*v) * (size_t)cap);
        rill__wb_init(&buf, 0);
        while (o < end) {
                size_t pos = 0;
                rill__wb_reset(&buf);
                CU_ASSERT_EQUAL_FATAL(rill__log_read(log, o, end, 4000, &buf), RILL_OK);
                if (buf.len == 0)
                        break;
                while (pos < buf.len) {
                        rill__record_iter_t it;
                        rill__record_t r;
                        rill__batch_hdr_t h;
                        CU_ASSERT_EQUAL_FATAL(rill__batch_validate(buf.buf + pos, buf.len - pos, NULL, 0),
                                              RILL_OK);
                        rill__batch_hdr_parse(buf.buf + pos, &h);
                        CU_ASSERT_EQUAL(h.leader_epoch, 1);
                        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, buf.buf + pos, buf.len - pos),
                                              RILL_OK);
                        while (rill__record_iter_next(&it, &r) == 1) {
                                char v2[32];
                                int vl = snprintf(v2, sizeof(v2), "v%lld", (long long)r.offset);
                                if (r.offset < o)
                                        continue;
                                CU_ASSERT(n == 0 || r.offset > v[n - 1].off);
                                if (n == cap) {
                                        cap *= 2;
                                        v = realloc(v, sizeof(*v) * (size_t)cap);
                                }
                                v[n].off = r.offset;
                                v[n].tomb = r.value_len < 0;
                                v[n].key = r.key_len < 0 ? -1 : atoi((const char *)r.key + 1);
                                if (r.value_len >= 0)
                                        CU_ASSERT(r.value_len == vl && memcmp(r.value, v2, (size_t)vl) == 0);
                                n++;
                        }
                        rill__record_iter_destroy(&it);
                        o = h.base_offset + h.last_offset_delta + 1;
                        pos += rill__batch_size(buf.buf + pos);
                }
        }
        rill__wb_free(&buf);
        *out = v;
        return n;
}

/* ---- one-request protocol helpers --------------------------------------- */

/* Produce v7 (acks=1) of one batch of @p n records, each with @p key and
 * @p value, to @p topic / @p part. Returns the partition's error code (the
 * base offset in *base when @p base), -100 on a protocol failure. */
static inline int16_t
bt_produce(int fd, const char *topic, int32_t part, int n, const char *key, const char *value,
           int64_t *base)
{
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        int64_t ts = rill__now_ms();
        rill__batch_builder_init(&bb, 0, ts);
        for (int i = 0; i < n; i++)
                rill__batch_builder_add(&bb, i, ts, key, (int32_t)strlen(key), value,
                                        (int32_t)strlen(value), NULL, 0, 0);
        rill__batch_builder_finish(&bb);
        rill__wb_init(&w, 256);
        rill__wb_cstr(&w, NULL, false);
        rill__wb_i16(&w, 1);
        rill__wb_i32(&w, 5000);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, part);
        rill__wb_bytes(&w, bb.buf.buf, (int32_t)bb.buf.len, false);
        if (tc_call(fd, KAPI_PRODUCE, 7, false, false, &w, &rs)) {
                rill__rbuf_t *r = &rs.r;
                if (rill__rb_array(r, false) == 1 && rill__str_eq(rill__rb_str(r, false), topic) &&
                    rill__rb_array(r, false) == 1 && rill__rb_i32(r) == part) {
                        err = rill__rb_i16(r);
                        if (base)
                                *base = rill__rb_i64(r);
                }
        }
        resp_free(&rs);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        return err;
}

/* ListOffsets v1 of @p topic / @p part at @p which (-1 latest, -2
 * earliest, else a timestamp); -100 on a protocol failure or an error. */
static inline int64_t
bt_list_offset(int fd, const char *topic, int32_t part, int64_t which)
{
        rill__wbuf_t w;
        resp_t rs;
        int64_t off = -100;
        rill__wb_init(&w, 64);
        rill__wb_i32(&w, -1);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, part);
        rill__wb_i64(&w, which);
        if (tc_call(fd, KAPI_LIST_OFFSETS, 1, false, false, &w, &rs)) {
                rill__rbuf_t *r = &rs.r;
                if (rill__rb_array(r, false) == 1 && rill__str_eq(rill__rb_str(r, false), topic) &&
                    rill__rb_array(r, false) == 1 && rill__rb_i32(r) == part &&
                    rill__rb_i16(r) == KERR_NONE) {
                        (void)rill__rb_i64(r);
                        off = rill__rb_i64(r);
                }
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return off;
}

/* Metadata v4 of @p topic (auto-created when @p auto_create): its partition
 * count, -1 when unknown, on an error or a protocol failure. */
static inline int32_t
bt_partition_count(int fd, const char *topic, bool auto_create)
{
        rill__wbuf_t w;
        resp_t rs;
        int32_t cnt = -1;
        rill__wb_init(&w, 64);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_bool(&w, auto_create);
        if (tc_call(fd, KAPI_METADATA, 4, false, false, &w, &rs)) {
                rill__rbuf_t *r = &rs.r;
                int32_t nb;
                (void)rill__rb_i32(r);
                nb = rill__rb_array(r, false);
                for (int32_t i = 0; i < nb; i++) {
                        (void)rill__rb_i32(r);
                        (void)rill__rb_str(r, false);
                        (void)rill__rb_i32(r);
                        (void)rill__rb_str(r, false);
                }
                (void)rill__rb_str(r, false);
                (void)rill__rb_i32(r);
                if (rill__rb_array(r, false) == 1 && rill__rb_i16(r) == KERR_NONE) {
                        (void)rill__rb_str(r, false);
                        (void)rill__rb_bool(r);
                        cnt = rill__rb_array(r, false);
                }
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return cnt;
}

/* CreateTopics v0 of @p topic with @p parts partitions (replication 1) and,
 * when @p ckey is not NULL, the one config @p ckey = @p cval. Returns the
 * topic's error code, -100 on a protocol failure. */
static inline int16_t
bt_create_topic(int fd, const char *topic, int32_t parts, const char *ckey, const char *cval)
{
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        rill__wb_init(&w, 128);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_i32(&w, parts);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false); /* assignments */
        rill__wb_array(&w, ckey ? 1 : 0, false);
        if (ckey) {
                rill__wb_cstr(&w, ckey, false);
                rill__wb_cstr(&w, cval, false);
        }
        rill__wb_i32(&w, 5000);
        if (tc_call(fd, KAPI_CREATE_TOPICS, 0, false, false, &w, &rs)) {
                if (rill__rb_array(&rs.r, false) == 1 &&
                    rill__str_eq(rill__rb_str(&rs.r, false), topic))
                        err = rill__rb_i16(&rs.r);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return err;
}

/* DeleteTopics v0 of @p topic; its error code, -100 on a protocol failure. */
static inline int16_t
bt_delete_topic(int fd, const char *topic)
{
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        rill__wb_init(&w, 64);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_i32(&w, 5000);
        if (tc_call(fd, KAPI_DELETE_TOPICS, 0, false, false, &w, &rs)) {
                if (rill__rb_array(&rs.r, false) == 1 &&
                    rill__str_eq(rill__rb_str(&rs.r, false), topic))
                        err = rill__rb_i16(&rs.r);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return err;
}

#endif /* RILL_TEST_BROKER_TEST_UTIL_H */
