/*
 * test_protocol.c - the broker's wire protocol, byte by byte.
 *
 * An in-process broker (rill_test_broker_start) is driven over raw TCP with
 * hand-built frames, and every response is decoded completely - each field
 * of the version asked for, and no trailing bytes - so a field added or
 * missing in any version fails here, before a client would mis-parse it.
 *
 * Covered: ApiVersions v0-v3 (v3 with the flexible request header and a
 * response header without tags) and an unsupported version; Metadata v0-v8
 * (auto-creation, all topics, allow_auto_topic_creation=false); Produce
 * v3-v7 with acks 1/-1/0 (acks=0 must produce no response at all) and the
 * per-partition errors; Fetch v4-v11 including long-poll wake-up by a
 * produce on another connection and expiry at max_wait_ms, and
 * OFFSET_OUT_OF_RANGE; ListOffsets v0-v5; malformed input (negative and
 * oversized frame sizes, truncated bodies, unknown API keys, garbage, a
 * batch with a bad CRC), each followed by a check that the broker still
 * serves a new connection.
 *
 * The codec used to build and decode frames is the broker's own (broker/
 * codec.h); it is tested separately in test_codec.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batch.h"
#include "broker_test_util.h"
#include "codec.h"
#include "kerr.h"
#include "rill_alloc.h"
#include "rill_test.h"
#include "rill_util.h"

static char *g_dir;
static rill_broker_t *g_broker;

static int
tc_connect(void)
{
        return tc_connect_port(rill_broker_port(g_broker));
}

/* A new connection is served (ApiVersions v0 answers). */
static bool
broker_serves(void)
{
        int fd = tc_connect();
        resp_t rs;
        bool ok;
        if (fd < 0)
                return false;
        ok = tc_call(fd, KAPI_API_VERSIONS, 0, false, false, NULL, &rs) &&
             rill__rb_i16(&rs.r) == KERR_NONE;
        resp_free(&rs);
        close(fd);
        return ok;
}

/* ---- fixture ---- */

static int
suite_init(void)
{
        static const char *const ovr[] = {"socket.request.max.bytes=16777216", NULL};
        g_dir = rill_test_tmpdir("rill-proto");
        g_broker = rill_test_broker_start(g_dir, ovr);
        return g_broker ? 0 : 1;
}

static int
suite_cleanup(void)
{
        rill_broker_destroy(g_broker);
        rill_test_rmdir(g_dir);
        free(g_dir);
        return 0;
}

/* ---- request builders ---- */

static void
make_batch(rill__batch_builder_t *bb, int n, const char *prefix)
{
        int64_t ts = rill__now_ms();
        rill__batch_builder_init(bb, 0, ts);
        for (int i = 0; i < n; i++) {
                char k[32], v[64];
                snprintf(k, sizeof(k), "%s-k%d", prefix, i);
                snprintf(v, sizeof(v), "%s-value-%d", prefix, i);
                rill__batch_builder_add(bb, i, ts + i, k, (int32_t)strlen(k), v, (int32_t)strlen(v),
                                        NULL, 0, 0);
        }
        rill__batch_builder_finish(bb);
}

static void
build_produce(rill__wbuf_t *w, int16_t acks, const char *topic, int32_t part, const void *batch,
              size_t blen)
{
        rill__wb_cstr(w, NULL, false);  /* transactional_id */
        rill__wb_i16(w, acks);
        rill__wb_i32(w, 5000);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, part);
        rill__wb_bytes(w, batch, (int32_t)blen, false);
}

typedef struct produce_res {
        int16_t err;
        int64_t base;
        int64_t append_time;
        int64_t log_start;
} produce_res_t;

static bool
decode_produce(resp_t *rs, int16_t v, const char *topic, int32_t part, produce_res_t *pr)
{
        rill__rbuf_t *r = &rs->r;
        rill__str_t name;
        if (rill__rb_array(r, false) != 1)
                return false;
        name = rill__rb_str(r, false);
        if (!rill__str_eq(name, topic) || rill__rb_array(r, false) != 1 ||
            rill__rb_i32(r) != part)
                return false;
        pr->err = rill__rb_i16(r);
        pr->base = rill__rb_i64(r);
        pr->append_time = rill__rb_i64(r);
        pr->log_start = v >= 5 ? rill__rb_i64(r) : -2;
        (void)rill__rb_i32(r); /* throttle */
        return !r->err;
}

/* Produces @p n records to topic/part with Produce v@p v; returns the error. */
static int16_t
produce(int fd, int16_t v, int16_t acks, const char *topic, int32_t part, int n,
        produce_res_t *pr)
{
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        produce_res_t tmp;
        int16_t err = -100;
        if (!pr)
                pr = &tmp;
        make_batch(&bb, n, topic);
        rill__wb_init(&w, 256);
        build_produce(&w, acks, topic, part, bb.buf.buf, bb.buf.len);
        if (tc_call(fd, KAPI_PRODUCE, v, false, false, &w, &rs) &&
            decode_produce(&rs, v, topic, part, pr)) {
                err = pr->err;
                ASSERT_DECODED(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        return err;
}

static void
build_fetch(rill__wbuf_t *w, int16_t v, int32_t max_wait, int32_t min_bytes, const char *topic,
            int32_t part, int64_t offset, int32_t pmax)
{
        rill__wb_i32(w, -1);          /* replica_id */
        rill__wb_i32(w, max_wait);
        rill__wb_i32(w, min_bytes);
        rill__wb_i32(w, 10 * 1024 * 1024);  /* max_bytes (v3+) */
        rill__wb_i8(w, 1);            /* isolation_level: read_committed */
        if (v >= 7) {
                rill__wb_i32(w, 0);   /* session_id */
                rill__wb_i32(w, -1);  /* session_epoch */
        }
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, part);
        if (v >= 9)
                rill__wb_i32(w, -1);  /* current_leader_epoch */
        rill__wb_i64(w, offset);
        if (v >= 5)
                rill__wb_i64(w, -1);  /* log_start_offset */
        rill__wb_i32(w, pmax);
        if (v >= 7)
                rill__wb_array(w, 0, false); /* forgotten topics */
        if (v >= 11)
                rill__wb_cstr(w, "", false); /* rack_id */
}

typedef struct fetch_res {
        int16_t top_err;
        int16_t err;
        int64_t hw, lso, log_start;
        int32_t aborted;
        int32_t preferred;
        rill__str_t records;
} fetch_res_t;

static bool
decode_fetch(resp_t *rs, int16_t v, const char *topic, int32_t part, fetch_res_t *fr)
{
        rill__rbuf_t *r = &rs->r;
        memset(fr, 0, sizeof(*fr));
        (void)rill__rb_i32(r); /* throttle */
        if (v >= 7) {
                fr->top_err = rill__rb_i16(r);
                if (rill__rb_i32(r) != 0) /* session_id */
                        return false;
        }
        if (rill__rb_array(r, false) != 1)
                return false;
        if (!rill__str_eq(rill__rb_str(r, false), topic) || rill__rb_array(r, false) != 1 ||
            rill__rb_i32(r) != part)
                return false;
        fr->err = rill__rb_i16(r);
        fr->hw = rill__rb_i64(r);
        fr->lso = rill__rb_i64(r);
        fr->log_start = v >= 5 ? rill__rb_i64(r) : -2;
        fr->aborted = rill__rb_array(r, false);
        for (int32_t i = 0; i < fr->aborted; i++) {
                (void)rill__rb_i64(r);
                (void)rill__rb_i64(r);
        }
        fr->preferred = v >= 11 ? rill__rb_i32(r) : -2;
        fr->records = rill__rb_bytes(r, false);
        return !r->err;
}

/* Validates the batches of a fetch response and counts their records. */
static int
count_records(rill__str_t recs, int64_t *first_offset)
{
        const uint8_t *p = (const uint8_t *)recs.ptr;
        size_t left = recs.len > 0 ? (size_t)recs.len : 0;
        int n = 0;
        *first_offset = -1;
        while (left >= RILL__BATCH_HDR_SIZE) {
                rill__batch_hdr_t h;
                size_t sz = rill__batch_size(p);
                if (sz > left || rill__batch_validate(p, left, NULL, 0) != RILL_OK)
                        return -1;
                rill__batch_hdr_parse(p, &h);
                if (*first_offset < 0)
                        *first_offset = h.base_offset;
                n += h.records_count;
                p += sz;
                left -= sz;
        }
        return left == 0 ? n : -1;
}

static void
build_list_offsets(rill__wbuf_t *w, int16_t v, const char *topic, int32_t part, int64_t ts)
{
        rill__wb_i32(w, -1);          /* replica_id */
        if (v >= 2)
                rill__wb_i8(w, 0);    /* isolation_level */
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, part);
        if (v >= 4)
                rill__wb_i32(w, -1);  /* current_leader_epoch */
        rill__wb_i64(w, ts);
        if (v == 0)
                rill__wb_i32(w, 1);   /* max_num_offsets */
}

/* ListOffsets for one partition; returns the offset (-1 none), -100 on a
 * protocol failure; *err gets the partition error. */
static int64_t
list_offset(int fd, int16_t v, const char *topic, int32_t part, int64_t ts, int16_t *err,
            int64_t *found_ts)
{
        rill__wbuf_t w;
        resp_t rs;
        int64_t off = -100;
        rill__wb_init(&w, 128);
        build_list_offsets(&w, v, topic, part, ts);
        if (tc_call(fd, KAPI_LIST_OFFSETS, v, false, false, &w, &rs)) {
                rill__rbuf_t *r = &rs.r;
                if (v >= 2)
                        (void)rill__rb_i32(r);
                if (rill__rb_array(r, false) == 1 && rill__str_eq(rill__rb_str(r, false), topic) &&
                    rill__rb_array(r, false) == 1 && rill__rb_i32(r) == part) {
                        *err = rill__rb_i16(r);
                        if (v == 0) {
                                int32_t n = rill__rb_array(r, false);
                                off = -1;
                                for (int32_t i = 0; i < n; i++)
                                        off = rill__rb_i64(r);
                                if (found_ts)
                                        *found_ts = -1;
                        } else {
                                int64_t t = rill__rb_i64(r);
                                if (found_ts)
                                        *found_ts = t;
                                off = rill__rb_i64(r);
                                if (v >= 4)
                                        (void)rill__rb_i32(r); /* leader_epoch */
                        }
                        if (r->err)
                                off = -100;
                        ASSERT_DECODED(&rs);
                }
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return off;
}

/* Creates a topic through Metadata auto-creation. */
static bool
ensure_topic(int fd, const char *topic)
{
        return bt_partition_count(fd, topic, true) > 0;
}

/* ---- ApiVersions ---- */

typedef struct api_range {
        int16_t key, min, max;
} api_range_t;

static void
check_api_list(rill__rbuf_t *r, bool flex)
{
        int32_t n = rill__rb_array(r, flex);
        bool produce = false, fetch = false, meta = false, lo = false, av = false;
        int16_t prev = -1;
        CU_ASSERT(n >= 5);
        for (int32_t i = 0; i < n && !r->err; i++) {
                int16_t k = rill__rb_i16(r), mn = rill__rb_i16(r), mx = rill__rb_i16(r);
                rill__rb_tags(r, flex);
                CU_ASSERT(k > prev); /* sorted, no duplicates */
                prev = k;
                CU_ASSERT(mn >= 0 && mn <= mx);
                if (k == KAPI_PRODUCE)
                        produce = mn == 3 && mx == 7;
                if (k == KAPI_FETCH)
                        fetch = mn == 4 && mx == 11;
                if (k == KAPI_METADATA)
                        meta = mn == 0 && mx == 8;
                if (k == KAPI_LIST_OFFSETS)
                        lo = mn == 0 && mx == 5;
                if (k == KAPI_API_VERSIONS)
                        av = mn == 0 && mx == 3;
        }
        CU_ASSERT(produce);
        CU_ASSERT(fetch);
        CU_ASSERT(meta);
        CU_ASSERT(lo);
        CU_ASSERT(av);
}

static void
test_api_versions(void)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        for (int16_t v = 0; v <= 3; v++) {
                rill__wbuf_t w;
                resp_t rs;
                bool flex = v >= 3;
                rill__wb_init(&w, 64);
                if (flex) {
                        rill__wb_cstr(&w, "rill-test", true);
                        rill__wb_cstr(&w, "1.0", true);
                        rill__wb_tags(&w, true);
                }
                /* The ApiVersions response header never has tags. */
                CU_ASSERT_FATAL(tc_call(fd, KAPI_API_VERSIONS, v, flex, false, &w, &rs));
                CU_ASSERT_EQUAL(rill__rb_i16(&rs.r), KERR_NONE);
                check_api_list(&rs.r, flex);
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0); /* throttle */
                rill__rb_tags(&rs.r, flex);
                ASSERT_DECODED(&rs);
                resp_free(&rs);
                rill__wb_free(&w);
        }
        close(fd);
}

static void
test_api_versions_unsupported(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        resp_t rs;
        CU_ASSERT_FATAL(fd >= 0);
        /* A v99 request from a future client: header v2, unknown body. */
        rill__wb_init(&w, 64);
        rill__wb_cstr(&w, "future", true);
        rill__wb_tags(&w, true);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_API_VERSIONS, 99, true, false, &w, &rs));
        CU_ASSERT_EQUAL(rill__rb_i16(&rs.r), KERR_UNSUPPORTED_VERSION);
        check_api_list(&rs.r, false); /* v0 layout */
        ASSERT_DECODED(&rs);
        resp_free(&rs);
        rill__wb_free(&w);
        /* The connection stays usable: the client retries with a lower version. */
        CU_ASSERT(tc_call(fd, KAPI_API_VERSIONS, 2, false, false, NULL, &rs));
        CU_ASSERT_EQUAL(rill__rb_i16(&rs.r), KERR_NONE);
        resp_free(&rs);
        close(fd);
}

/* ---- Metadata ---- */

typedef struct md_topic {
        int16_t err;
        char name[128];
        int32_t partitions;
        int32_t leader;
        bool internal;
} md_topic_t;

/* Decodes a Metadata response of version @p v; returns the topic count or -1. */
static int
decode_metadata(resp_t *rs, int16_t v, md_topic_t *out, int max)
{
        rill__rbuf_t *r = &rs->r;
        int32_t nb, nt;
        if (v >= 3)
                CU_ASSERT_EQUAL(rill__rb_i32(r), 0);
        nb = rill__rb_array(r, false);
        CU_ASSERT_EQUAL(nb, 1);
        for (int32_t i = 0; i < nb; i++) {
                rill__str_t host;
                CU_ASSERT_EQUAL(rill__rb_i32(r), rill_broker_node_id(g_broker));
                host = rill__rb_str(r, false);
                CU_ASSERT(host.len > 0);
                CU_ASSERT_EQUAL(rill__rb_i32(r), rill_broker_port(g_broker));
                if (v >= 1)
                        CU_ASSERT(rill__rb_str(r, false).len == -1); /* rack */
        }
        if (v >= 2)
                CU_ASSERT(rill__rb_str(r, false).len > 0); /* cluster_id */
        if (v >= 1)
                CU_ASSERT_EQUAL(rill__rb_i32(r), rill_broker_node_id(g_broker));
        nt = rill__rb_array(r, false);
        for (int32_t i = 0; i < nt && !r->err; i++) {
                md_topic_t tmp, *t = i < max ? &out[i] : &tmp;
                rill__str_t name;
                int32_t np;
                memset(t, 0, sizeof(*t));
                t->err = rill__rb_i16(r);
                name = rill__rb_str(r, false);
                snprintf(t->name, sizeof(t->name), "%.*s", name.len > 0 ? name.len : 0,
                         name.len > 0 ? name.ptr : "");
                if (v >= 1)
                        t->internal = rill__rb_bool(r);
                np = rill__rb_array(r, false);
                t->partitions = np;
                for (int32_t j = 0; j < np && !r->err; j++) {
                        int32_t nr, ni;
                        CU_ASSERT_EQUAL(rill__rb_i16(r), KERR_NONE);
                        CU_ASSERT_EQUAL(rill__rb_i32(r), j);
                        t->leader = rill__rb_i32(r);
                        if (v >= 7)
                                CU_ASSERT(rill__rb_i32(r) >= 0); /* leader_epoch */
                        nr = rill__rb_array(r, false);
                        for (int32_t k = 0; k < nr; k++)
                                (void)rill__rb_i32(r);
                        ni = rill__rb_array(r, false);
                        for (int32_t k = 0; k < ni; k++)
                                (void)rill__rb_i32(r);
                        CU_ASSERT_EQUAL(nr, 1);
                        CU_ASSERT_EQUAL(ni, 1);
                        if (v >= 5)
                                CU_ASSERT_EQUAL(rill__rb_array(r, false), 0);
                }
                if (v >= 8)
                        CU_ASSERT_EQUAL(rill__rb_i32(r), INT32_MIN);
        }
        if (v >= 8)
                CU_ASSERT_EQUAL(rill__rb_i32(r), INT32_MIN);
        return r->err ? -1 : nt;
}

static void
test_metadata_versions(void)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        for (int16_t v = 0; v <= 8; v++) {
                char topic[64];
                rill__wbuf_t w;
                resp_t rs;
                md_topic_t t[4];
                snprintf(topic, sizeof(topic), "md-v%d", v);
                rill__wb_init(&w, 64);
                rill__wb_array(&w, 1, false);
                rill__wb_cstr(&w, topic, false);
                if (v >= 4)
                        rill__wb_bool(&w, true);
                if (v >= 8) {
                        rill__wb_bool(&w, false);
                        rill__wb_bool(&w, false);
                }
                CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, v, false, false, &w, &rs));
                CU_ASSERT_EQUAL(decode_metadata(&rs, v, t, 4), 1);
                ASSERT_DECODED(&rs);
                CU_ASSERT_EQUAL(t[0].err, KERR_NONE); /* auto-created */
                CU_ASSERT_STRING_EQUAL(t[0].name, topic);
                CU_ASSERT_EQUAL(t[0].partitions, 1);
                CU_ASSERT_EQUAL(t[0].leader, rill_broker_node_id(g_broker));
                CU_ASSERT(!t[0].internal);
                resp_free(&rs);
                rill__wb_free(&w);
        }
        close(fd);
}

static void
test_metadata_all_and_no_autocreate(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        resp_t rs;
        md_topic_t t[64];
        int n;
        bool seen = false;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "md-all"));

        /* v1: null topics = all topics. */
        rill__wb_init(&w, 64);
        rill__wb_array(&w, -1, false);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 1, false, false, &w, &rs));
        n = decode_metadata(&rs, 1, t, 64);
        ASSERT_DECODED(&rs);
        CU_ASSERT(n >= 1);
        for (int i = 0; i < n && i < 64; i++)
                seen |= !strcmp(t[i].name, "md-all");
        CU_ASSERT(seen);
        resp_free(&rs);

        /* v1: an empty array = no topics. */
        rill__wb_reset(&w);
        rill__wb_array(&w, 0, false);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 1, false, false, &w, &rs));
        CU_ASSERT_EQUAL(decode_metadata(&rs, 1, t, 64), 0);
        ASSERT_DECODED(&rs);
        resp_free(&rs);

        /* v4 with allow_auto_topic_creation=false: unknown stays unknown. */
        rill__wb_reset(&w);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, "md-not-created", false);
        rill__wb_bool(&w, false);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 4, false, false, &w, &rs));
        CU_ASSERT_EQUAL(decode_metadata(&rs, 4, t, 64), 1);
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(t[0].err, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        CU_ASSERT_EQUAL(t[0].partitions, 0);
        resp_free(&rs);

        /* An invalid name is refused, not created. */
        rill__wb_reset(&w);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, "bad/name", false);
        rill__wb_bool(&w, true);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 4, false, false, &w, &rs));
        CU_ASSERT_EQUAL(decode_metadata(&rs, 4, t, 64), 1);
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(t[0].err, KERR_INVALID_TOPIC_EXCEPTION);
        resp_free(&rs);

        /* So is a name with a NUL byte (not truncated into a valid one). */
        rill__wb_reset(&w);
        rill__wb_array(&w, 1, false);
        rill__wb_str(&w, "md\0x", 4, false);
        rill__wb_bool(&w, true);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 4, false, false, &w, &rs));
        CU_ASSERT_EQUAL(decode_metadata(&rs, 4, t, 64), 1);
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(t[0].err, KERR_INVALID_TOPIC_EXCEPTION);
        resp_free(&rs);
        /* ... and "md" was not created in its place. */
        rill__wb_reset(&w);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, "md", false);
        rill__wb_bool(&w, false);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_METADATA, 4, false, false, &w, &rs));
        CU_ASSERT_EQUAL(decode_metadata(&rs, 4, t, 64), 1);
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(t[0].err, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        resp_free(&rs);
        rill__wb_free(&w);
        close(fd);
}

/* ---- Produce ---- */

static void
test_produce_versions(void)
{
        int fd = tc_connect();
        int64_t expect = 0;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "prod"));
        for (int16_t v = 3; v <= 7; v++) {
                for (int a = 0; a < 2; a++) {
                        produce_res_t pr;
                        int16_t acks = a == 0 ? 1 : -1;
                        CU_ASSERT_EQUAL(produce(fd, v, acks, "prod", 0, 3, &pr), KERR_NONE);
                        CU_ASSERT_EQUAL(pr.base, expect);
                        CU_ASSERT_EQUAL(pr.append_time, -1); /* CreateTime topic */
                        if (v >= 5)
                                CU_ASSERT_EQUAL(pr.log_start, 0);
                        expect += 3;
                }
        }
        {
                int16_t err;
                CU_ASSERT_EQUAL(list_offset(fd, 1, "prod", 0, -1, &err, NULL), expect);
                CU_ASSERT_EQUAL(err, KERR_NONE);
        }
        close(fd);
}

static void
test_produce_errors(void)
{
        int fd = tc_connect();
        produce_res_t pr;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "prod-err"));
        /* Unknown topic (Produce never creates topics). */
        CU_ASSERT_EQUAL(produce(fd, 7, 1, "prod-nope", 0, 1, &pr), KERR_UNKNOWN_TOPIC_OR_PARTITION);
        CU_ASSERT_EQUAL(pr.base, -1);
        /* Unknown partition. */
        CU_ASSERT_EQUAL(produce(fd, 7, 1, "prod-err", 5, 1, &pr), KERR_UNKNOWN_TOPIC_OR_PARTITION);
        /* acks other than -1, 0, 1. */
        CU_ASSERT_EQUAL(produce(fd, 7, 2, "prod-err", 0, 1, &pr), KERR_INVALID_REQUIRED_ACKS);
        /* Nothing was appended by the failures. */
        {
                int16_t err;
                CU_ASSERT_EQUAL(list_offset(fd, 1, "prod-err", 0, -1, &err, NULL), 0);
        }
        /* The connection is still fine. */
        CU_ASSERT_EQUAL(produce(fd, 7, 1, "prod-err", 0, 2, &pr), KERR_NONE);
        CU_ASSERT_EQUAL(pr.base, 0);
        close(fd);
}

static void
test_produce_acks0(void)
{
        int fd = tc_connect();
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        uint8_t *buf;
        size_t len = 0;
        int16_t err;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "acks0"));
        make_batch(&bb, 4, "acks0");
        rill__wb_init(&w, 256);
        build_produce(&w, 0, "acks0", 0, bb.buf.buf, bb.buf.len);
        CU_ASSERT_FATAL(tc_send(fd, KAPI_PRODUCE, 7, 7001, false, &w));
        CU_ASSERT_FATAL(tc_send(fd, KAPI_API_VERSIONS, 0, 7002, false, NULL));
        /* The first response on the connection must be the ApiVersions one. */
        buf = tc_recv(fd, &len);
        CU_ASSERT_FATAL(buf != NULL);
        CU_ASSERT_EQUAL((int32_t)rill__be32(buf), 7002);
        free(buf);
        /* ... and the acks=0 records were appended. */
        CU_ASSERT_EQUAL(list_offset(fd, 1, "acks0", 0, -1, &err, NULL), 4);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        close(fd);

        /* A failing acks=0 produce closes the connection (the client has
         * no other way to learn about it), as Kafka does. */
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        make_batch(&bb, 1, "x");
        rill__wb_init(&w, 256);
        build_produce(&w, 0, "acks0-unknown-topic", 0, bb.buf.buf, bb.buf.len);
        CU_ASSERT_FATAL(tc_send(fd, KAPI_PRODUCE, 7, 7003, false, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        CU_ASSERT(broker_serves());
}

static void
test_produce_bad_crc(void)
{
        int fd = tc_connect();
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        produce_res_t pr;
        int16_t err;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "badcrc"));
        make_batch(&bb, 2, "badcrc");
        bb.buf.buf[bb.buf.len - 1] ^= 0x5a; /* flip bits inside the CRC-covered part */
        rill__wb_init(&w, 256);
        build_produce(&w, 1, "badcrc", 0, bb.buf.buf, bb.buf.len);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_PRODUCE, 7, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_produce(&rs, 7, "badcrc", 0, &pr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(pr.err, KERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(pr.base, -1);
        resp_free(&rs);
        CU_ASSERT_EQUAL(list_offset(fd, 1, "badcrc", 0, -1, &err, NULL), 0);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        close(fd);
        CU_ASSERT(broker_serves());
}

/* ---- Fetch ---- */

static void
test_fetch_versions(void)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "fetch"));
        CU_ASSERT_EQUAL_FATAL(produce(fd, 7, 1, "fetch", 0, 5, NULL), KERR_NONE);
        CU_ASSERT_EQUAL_FATAL(produce(fd, 7, 1, "fetch", 0, 3, NULL), KERR_NONE);
        for (int16_t v = 4; v <= 11; v++) {
                rill__wbuf_t w;
                resp_t rs;
                fetch_res_t fr;
                int64_t first;
                rill__wb_init(&w, 128);
                build_fetch(&w, v, 0, 1, "fetch", 0, 0, 1024 * 1024);
                CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, v, false, false, &w, &rs));
                CU_ASSERT_FATAL(decode_fetch(&rs, v, "fetch", 0, &fr));
                ASSERT_DECODED(&rs);
                CU_ASSERT_EQUAL(fr.top_err, KERR_NONE);
                CU_ASSERT_EQUAL(fr.err, KERR_NONE);
                CU_ASSERT_EQUAL(fr.hw, 8);
                CU_ASSERT_EQUAL(fr.lso, 8);
                if (v >= 5)
                        CU_ASSERT_EQUAL(fr.log_start, 0);
                CU_ASSERT_EQUAL(fr.aborted, 0);
                if (v >= 11)
                        CU_ASSERT_EQUAL(fr.preferred, -1);
                CU_ASSERT_EQUAL(count_records(fr.records, &first), 8);
                CU_ASSERT_EQUAL(first, 0);
                resp_free(&rs);

                /* From the middle: the batch holding offset 6 (base 5). */
                rill__wb_reset(&w);
                build_fetch(&w, v, 0, 1, "fetch", 0, 6, 1024 * 1024);
                CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, v, false, false, &w, &rs));
                CU_ASSERT_FATAL(decode_fetch(&rs, v, "fetch", 0, &fr));
                ASSERT_DECODED(&rs);
                CU_ASSERT_EQUAL(count_records(fr.records, &first), 3);
                CU_ASSERT_EQUAL(first, 5);
                resp_free(&rs);
                rill__wb_free(&w);
        }
        close(fd);
}

static void
test_fetch_errors(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        resp_t rs;
        fetch_res_t fr;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "fetch-err"));
        CU_ASSERT_EQUAL_FATAL(produce(fd, 7, 1, "fetch-err", 0, 2, NULL), KERR_NONE);

        rill__wb_init(&w, 128);
        build_fetch(&w, 11, 5000, 1, "fetch-err", 0, 10, 1024 * 1024);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 11, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_fetch(&rs, 11, "fetch-err", 0, &fr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(fr.err, KERR_OFFSET_OUT_OF_RANGE);
        CU_ASSERT_EQUAL(fr.records.len, 0);
        resp_free(&rs);

        rill__wb_reset(&w);
        build_fetch(&w, 11, 5000, 1, "fetch-nope", 0, 0, 1024 * 1024);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 11, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_fetch(&rs, 11, "fetch-nope", 0, &fr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(fr.err, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        resp_free(&rs);

        /* An incremental fetch session is refused (we create none). */
        rill__wb_reset(&w);
        rill__wb_i32(&w, -1);
        rill__wb_i32(&w, 0);
        rill__wb_i32(&w, 1);
        rill__wb_i32(&w, 1024);
        rill__wb_i8(&w, 0);
        rill__wb_i32(&w, 1234); /* session_id */
        rill__wb_i32(&w, 1);    /* session_epoch */
        rill__wb_array(&w, 0, false);
        rill__wb_array(&w, 0, false);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 7, false, false, &w, &rs));
        (void)rill__rb_i32(&rs.r);
        CU_ASSERT_EQUAL(rill__rb_i16(&rs.r), 70); /* FETCH_SESSION_ID_NOT_FOUND */
        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
        CU_ASSERT_EQUAL(rill__rb_array(&rs.r, false), 0);
        ASSERT_DECODED(&rs);
        resp_free(&rs);
        rill__wb_free(&w);
        close(fd);
}

static void
test_fetch_max_bytes(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        resp_t rs;
        fetch_res_t fr;
        int64_t first;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "fetch-max"));
        for (int i = 0; i < 3; i++)
                CU_ASSERT_EQUAL_FATAL(produce(fd, 7, 1, "fetch-max", 0, 10, NULL), KERR_NONE);
        /* partition_max_bytes smaller than one batch: still one whole
         * batch (KIP-74), never a partial one. */
        rill__wb_init(&w, 128);
        build_fetch(&w, 11, 0, 1, "fetch-max", 0, 0, 10);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 11, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_fetch(&rs, 11, "fetch-max", 0, &fr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(fr.err, KERR_NONE);
        CU_ASSERT_EQUAL(count_records(fr.records, &first), 10);
        CU_ASSERT_EQUAL(first, 0);
        resp_free(&rs);
        rill__wb_free(&w);
        close(fd);
}

static void
test_fetch_long_poll_wakeup(void)
{
        int fc = tc_connect(), pc = tc_connect();
        rill__wbuf_t w;
        uint8_t *buf;
        size_t len = 0;
        resp_t rs;
        fetch_res_t fr;
        int64_t first;
        CU_ASSERT_FATAL(fc >= 0 && pc >= 0);
        CU_ASSERT_FATAL(ensure_topic(pc, "poll"));
        CU_ASSERT_EQUAL_FATAL(produce(pc, 7, 1, "poll", 0, 1, NULL), KERR_NONE);

        /* Fetch at the end of the log, waiting up to 30 s for one byte. */
        rill__wb_init(&w, 128);
        build_fetch(&w, 11, 30000, 1, "poll", 0, 1, 1024 * 1024);
        CU_ASSERT_FATAL(tc_send(fc, KAPI_FETCH, 11, 4242, false, &w));
        /* A produce on another connection wakes it with the new data (an
         * immediate empty answer would carry no records and fail below). */
        CU_ASSERT_EQUAL_FATAL(produce(pc, 7, 1, "poll", 0, 2, NULL), KERR_NONE);
        buf = tc_recv(fc, &len);
        CU_ASSERT_FATAL(buf != NULL);
        rs.buf = buf;
        rs.len = len;
        rill__rb_init(&rs.r, buf, len);
        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 4242);
        CU_ASSERT_FATAL(decode_fetch(&rs, 11, "poll", 0, &fr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(fr.err, KERR_NONE);
        CU_ASSERT_EQUAL(fr.hw, 3);
        CU_ASSERT_EQUAL(count_records(fr.records, &first), 2);
        CU_ASSERT_EQUAL(first, 1);
        resp_free(&rs);

        /* The muted connection serves requests again afterwards, in order. */
        CU_ASSERT(tc_call(fc, KAPI_API_VERSIONS, 0, false, false, NULL, &rs));
        resp_free(&rs);
        rill__wb_free(&w);
        close(fc);
        close(pc);
}

static void
test_fetch_long_poll_expiry(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        resp_t rs;
        fetch_res_t fr;
        int64_t t0, elapsed;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "poll-exp"));
        rill__wb_init(&w, 128);
        build_fetch(&w, 11, 300, 1, "poll-exp", 0, 0, 1024 * 1024);
        t0 = rill_test_now_ms();
        CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 11, false, false, &w, &rs));
        elapsed = rill_test_now_ms() - t0;
        CU_ASSERT_FATAL(decode_fetch(&rs, 11, "poll-exp", 0, &fr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(fr.err, KERR_NONE);
        CU_ASSERT_EQUAL(fr.records.len, 0);
        /* Not answered before max_wait_ms (a correctness bound, not speed). */
        CU_ASSERT(elapsed >= 300);
        resp_free(&rs);

        /* Order: a parked fetch followed by a pipelined request. */
        CU_ASSERT_FATAL(tc_send(fd, KAPI_FETCH, 11, 5001, false, &w));
        CU_ASSERT_FATAL(tc_send(fd, KAPI_API_VERSIONS, 0, 5002, false, NULL));
        {
                size_t len = 0;
                uint8_t *b1 = tc_recv(fd, &len), *b2;
                CU_ASSERT_FATAL(b1 != NULL);
                CU_ASSERT_EQUAL((int32_t)rill__be32(b1), 5001);
                b2 = tc_recv(fd, &len);
                CU_ASSERT_FATAL(b2 != NULL);
                CU_ASSERT_EQUAL((int32_t)rill__be32(b2), 5002);
                free(b1);
                free(b2);
        }
        rill__wb_free(&w);
        close(fd);
}

/* A client that disconnects while its fetch is parked does not upset the
 * broker. */
static void
test_fetch_parked_disconnect(void)
{
        int fd = tc_connect();
        rill__wbuf_t w;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "poll-dc"));
        rill__wb_init(&w, 128);
        build_fetch(&w, 11, 200, 1, "poll-dc", 0, 0, 1024 * 1024);
        CU_ASSERT_FATAL(tc_send(fd, KAPI_FETCH, 11, 1, false, &w));
        close(fd);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(produce(fd, 7, 1, "poll-dc", 0, 1, NULL), KERR_NONE);
        close(fd);
        CU_ASSERT(broker_serves());
        rill__wb_free(&w);
}

/* ---- ListOffsets ---- */

static void
test_list_offsets_versions(void)
{
        int fd = tc_connect();
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        produce_res_t pr;
        int64_t ts0 = 1000000, found;
        int16_t err;
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "lo"));
        /* Three batches with known timestamps: 1000000, 2000000, 3000000. */
        for (int i = 0; i < 3; i++) {
                rill__batch_builder_init(&bb, 0, ts0 * (i + 1));
                rill__batch_builder_add(&bb, 0, ts0 * (i + 1), "k", 1, "v", 1, NULL, 0, 0);
                rill__batch_builder_add(&bb, 1, ts0 * (i + 1), "k", 1, "v", 1, NULL, 0, 0);
                rill__batch_builder_finish(&bb);
                rill__wb_init(&w, 128);
                build_produce(&w, 1, "lo", 0, bb.buf.buf, bb.buf.len);
                CU_ASSERT_FATAL(tc_call(fd, KAPI_PRODUCE, 7, false, false, &w, &rs));
                CU_ASSERT_FATAL(decode_produce(&rs, 7, "lo", 0, &pr));
                CU_ASSERT_EQUAL(pr.err, KERR_NONE);
                resp_free(&rs);
                rill__wb_free(&w);
                rill__batch_builder_destroy(&bb);
        }
        for (int16_t v = 0; v <= 5; v++) {
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo", 0, -1, &err, NULL), 6);
                CU_ASSERT_EQUAL(err, KERR_NONE);
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo", 0, -2, &err, NULL), 0);
                CU_ASSERT_EQUAL(err, KERR_NONE);
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo", 0, 2 * ts0, &err, &found), 2);
                CU_ASSERT_EQUAL(err, KERR_NONE);
                if (v >= 1)
                        CU_ASSERT_EQUAL(found, 2 * ts0);
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo", 0, 2 * ts0 + 1, &err, NULL), 4);
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo", 0, 4 * ts0, &err, &found), -1);
                CU_ASSERT_EQUAL(err, KERR_NONE);
                CU_ASSERT_EQUAL(list_offset(fd, v, "lo-nope", 0, -1, &err, NULL), -1);
                CU_ASSERT_EQUAL(err, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
        close(fd);
}

/* ---- malformed input ---- */

static void
send_frame_expect_close(const void *p, size_t n)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send_raw(fd, p, n));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());
}

static void
test_malformed_sizes(void)
{
        uint8_t neg[4], big[4], small[8];
        rill__put_be32(neg, 0xfffffff0u);      /* negative */
        send_frame_expect_close(neg, sizeof(neg));
        rill__put_be32(big, 32 * 1024 * 1024); /* > socket.request.max.bytes (16 MiB) */
        send_frame_expect_close(big, sizeof(big));
        rill__put_be32(small, 4);              /* smaller than a request header */
        memset(small + 4, 0, 4);
        send_frame_expect_close(small, sizeof(small));
}

static void
test_malformed_bodies(void)
{
        rill__wbuf_t w;
        int fd;
        /* Truncated Metadata v1 body: claims 5 topics, carries none. */
        rill__wb_init(&w, 64);
        rill__wb_array(&w, 5, false);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_METADATA, 1, 1, false, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());

        /* Truncated Produce: the records length runs past the frame. */
        rill__wb_reset(&w);
        rill__wb_cstr(&w, NULL, false);
        rill__wb_i16(&w, 1);
        rill__wb_i32(&w, 1000);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, "prod", false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, 0);
        rill__wb_i32(&w, 5000); /* records length */
        rill__wb_raw(&w, "abc", 3);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_PRODUCE, 7, 1, false, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());

        /* Truncated Fetch and ListOffsets. */
        rill__wb_reset(&w);
        rill__wb_i32(&w, -1);
        rill__wb_i32(&w, 100);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_FETCH, 11, 1, false, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_LIST_OFFSETS, 5, 1, false, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());

        /* ApiVersions v3 with a body that is not compact strings. */
        rill__wb_reset(&w);
        rill__wb_uvarint(&w, 200); /* name length 199, absent */
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_API_VERSIONS, 3, 1, true, &w));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());
        rill__wb_free(&w);
}

static void
test_malformed_headers(void)
{
        uint8_t f[64];
        int fd;
        /* Unknown API key. */
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, 999, 0, 1, false, NULL));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());

        /* Unsupported version of a non-ApiVersions API (Produce v2 carries
         * MessageSet v1, which is not implemented): closed, as Kafka does. */
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_send(fd, KAPI_PRODUCE, 2, 1, false, NULL));
        CU_ASSERT(tc_closed_by_peer(fd));
        close(fd);
        CU_ASSERT(broker_serves());

        /* client_id length runs past the frame. */
        rill__put_be32(f, 12);
        rill__put_be16(f + 4, KAPI_METADATA);
        rill__put_be16(f + 6, 1);
        rill__put_be32(f + 8, 77);
        rill__put_be16(f + 12, 0x7fff);
        rill__put_be16(f + 14, 0);
        send_frame_expect_close(f, 16);

        /* Garbage: a plausible size followed by noise. */
        rill__put_be32(f, 40);
        for (int i = 4; i < 44; i++)
                f[i] = (uint8_t)(0xf3 ^ (i * 37));
        send_frame_expect_close(f, 44);

        /* Plain text (an HTTP request) instead of Kafka frames. */
        {
                const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
                send_frame_expect_close(http, strlen(http));
        }
}

/* A frame split across many writes, and many frames in one write, decode
 * the same. */
static void
test_framing_split_and_pipelined(void)
{
        int fd = tc_connect();
        rill__wbuf_t f;
        CU_ASSERT_FATAL(fd >= 0);
        rill__wb_init(&f, 256);
        for (int i = 0; i < 20; i++) {
                size_t off = rill__wb_reserve_i32(&f);
                rill__wb_i16(&f, KAPI_API_VERSIONS);
                rill__wb_i16(&f, 1);
                rill__wb_i32(&f, 9000 + i);
                rill__wb_cstr(&f, "split", false);
                rill__wb_patch_i32(&f, off, (int32_t)(f.len - off - 4));
        }
        /* Byte by byte for the first frame, the rest in one go. */
        for (size_t i = 0; i < 19; i++)
                CU_ASSERT(tc_send_raw(fd, f.buf + i, 1));
        CU_ASSERT(tc_send_raw(fd, f.buf + 19, f.len - 19));
        for (int i = 0; i < 20; i++) {
                size_t len = 0;
                uint8_t *b = tc_recv(fd, &len);
                CU_ASSERT_FATAL(b != NULL);
                CU_ASSERT_EQUAL((int32_t)rill__be32(b), 9000 + i);
                free(b);
        }
        rill__wb_free(&f);
        close(fd);
}

/* A large produce (bigger than the broker's read buffer) arrives in pieces. */
static void
test_produce_large_frame(void)
{
        int fd = tc_connect();
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        produce_res_t pr;
        char *val = malloc(200000);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "large"));
        memset(val, 'x', 200000);
        rill__batch_builder_init(&bb, 0, rill__now_ms());
        for (int i = 0; i < 4; i++)
                rill__batch_builder_add(&bb, i, rill__now_ms(), "k", 1, val, 200000, NULL, 0, 0);
        rill__batch_builder_finish(&bb);
        rill__wb_init(&w, bb.buf.len + 128);
        build_produce(&w, 1, "large", 0, bb.buf.buf, bb.buf.len);
        /* 800 KB < message.max.bytes (1 MB) and socket.request.max.bytes. */
        CU_ASSERT_FATAL(tc_call(fd, KAPI_PRODUCE, 7, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_produce(&rs, 7, "large", 0, &pr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(pr.err, KERR_NONE);
        CU_ASSERT_EQUAL(pr.base, 0);
        resp_free(&rs);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        free(val);
        close(fd);
}

/* A 6 MB batch: read in growing pieces (the frame buffer follows the bytes
 * received), then refused by message.max.bytes (1 MB) per partition. */
static void
test_produce_too_large(void)
{
        int fd = tc_connect();
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        resp_t rs;
        produce_res_t pr;
        size_t vlen = 1500000;
        char *val = malloc(vlen);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(ensure_topic(fd, "too-large"));
        memset(val, 'y', vlen);
        rill__batch_builder_init(&bb, 0, rill__now_ms());
        for (int i = 0; i < 4; i++)
                rill__batch_builder_add(&bb, i, rill__now_ms(), "k", 1, val, (int32_t)vlen, NULL,
                                        0, 0);
        rill__batch_builder_finish(&bb);
        rill__wb_init(&w, bb.buf.len + 128);
        build_produce(&w, 1, "too-large", 0, bb.buf.buf, bb.buf.len);
        CU_ASSERT_FATAL(tc_call(fd, KAPI_PRODUCE, 7, false, false, &w, &rs));
        CU_ASSERT_FATAL(decode_produce(&rs, 7, "too-large", 0, &pr));
        ASSERT_DECODED(&rs);
        CU_ASSERT_EQUAL(pr.err, KERR_MESSAGE_TOO_LARGE);
        resp_free(&rs);
        /* The connection is still in sync. */
        CU_ASSERT_EQUAL(produce(fd, 7, 1, "too-large", 0, 1, &pr), KERR_NONE);
        CU_ASSERT_EQUAL(pr.base, 0);
        rill__wb_free(&w);
        rill__batch_builder_destroy(&bb);
        free(val);
        close(fd);
}

/* A peer that announces a large frame and goes away midway. */
static void
test_truncated_large_frame(void)
{
        int fd = tc_connect();
        uint8_t hdr[4], chunk[4096];
        CU_ASSERT_FATAL(fd >= 0);
        rill__put_be32(hdr, 15 * 1024 * 1024);
        CU_ASSERT(tc_send_raw(fd, hdr, 4));
        memset(chunk, 0, sizeof(chunk));
        for (int i = 0; i < 100; i++)
                CU_ASSERT(tc_send_raw(fd, chunk, sizeof(chunk)));
        close(fd);
        CU_ASSERT(broker_serves());
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"protocol", suite_init, suite_cleanup,
                 {{"api_versions", test_api_versions},
                  {"api_versions_unsupported", test_api_versions_unsupported},
                  {"metadata_versions", test_metadata_versions},
                  {"metadata_all_and_no_autocreate", test_metadata_all_and_no_autocreate},
                  {"produce_versions", test_produce_versions},
                  {"produce_errors", test_produce_errors},
                  {"produce_acks0", test_produce_acks0},
                  {"produce_bad_crc", test_produce_bad_crc},
                  {"produce_large_frame", test_produce_large_frame},
                  {"produce_too_large", test_produce_too_large},
                  {"truncated_large_frame", test_truncated_large_frame},
                  {"fetch_versions", test_fetch_versions},
                  {"fetch_errors", test_fetch_errors},
                  {"fetch_max_bytes", test_fetch_max_bytes},
                  {"fetch_long_poll_wakeup", test_fetch_long_poll_wakeup},
                  {"fetch_long_poll_expiry", test_fetch_long_poll_expiry},
                  {"fetch_parked_disconnect", test_fetch_parked_disconnect},
                  {"list_offsets_versions", test_list_offsets_versions},
                  {"malformed_sizes", test_malformed_sizes},
                  {"malformed_bodies", test_malformed_bodies},
                  {"malformed_headers", test_malformed_headers},
                  {"framing_split_and_pipelined", test_framing_split_and_pipelined},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
