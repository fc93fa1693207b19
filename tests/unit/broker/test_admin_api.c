/*
 * test_admin_api.c - the admin APIs (broker/api_admin.c) over the wire.
 *
 * Starts an in-process broker and talks to it with raw Kafka request frames
 * over TCP, for every (API, version) the admin module advertises:
 * CreateTopics 0-4, DeleteTopics 0-1, DeleteRecords 0-1, DescribeConfigs
 * 0-2, AlterConfigs 0-1, CreatePartitions 0-1. Every response is decoded
 * completely (no trailing bytes), and effects are checked through other
 * APIs (Metadata v1 for partition counts, ListOffsets v1 for the log start
 * offset, DescribeConfigs for configs). Malformed bodies must close the
 * connection without disturbing the broker.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "batch.h"
#include "codec.h"
#include "config.h"
#include "kerr.h"
#include "rill_test.h"

static rill_broker_t *g_b;
static char *g_dir;
static int g_port;
static int32_t g_node;
static int32_t g_corr = 1;

/* ---- wire helpers ---- */

static int
kconnect(void)
{
        struct sockaddr_in a;
        struct timeval tv = {20, 0};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)g_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

/* Starts a request frame (size placeholder + header v1). */
static void
req_begin(rill__wbuf_t *w, int16_t key, int16_t ver)
{
        rill__wb_init(w, 256);
        rill__wb_reserve_i32(w);
        rill__wb_i16(w, key);
        rill__wb_i16(w, ver);
        rill__wb_i32(w, g_corr++);
        rill__wb_cstr(w, "rill-admin-test", false);
}

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k <= 0)
                        return false;
                p += k;
                n -= (size_t)k;
        }
        return true;
}

static bool
read_all(int fd, uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k <= 0)
                        return false;
                p += k;
                n -= (size_t)k;
        }
        return true;
}

/* Sends the frame in @p w on @p fd and reads its response; returns the
 * response body (after the correlation id; caller frees) in *r, or NULL if
 * the connection was closed. Frees @p w. */
static uint8_t *
exchange(int fd, rill__wbuf_t *w, rill__rbuf_t *r)
{
        uint8_t hdr[4], *buf;
        int32_t corr = (int32_t)rill__be32(w->buf + 8), len;
        rill__wb_patch_i32(w, 0, (int32_t)(w->len - 4));
        if (!write_all(fd, w->buf, w->len)) {
                rill__wb_free(w);
                return NULL;
        }
        rill__wb_free(w);
        if (!read_all(fd, hdr, 4))
                return NULL;
        len = (int32_t)rill__be32(hdr);
        CU_ASSERT_FATAL(len >= 4 && len < 64 * 1024 * 1024);
        buf = malloc((size_t)len);
        if (!read_all(fd, buf, (size_t)len)) {
                free(buf);
                return NULL;
        }
        CU_ASSERT_EQUAL((int32_t)rill__be32(buf), corr);
        rill__rb_init(r, buf + 4, (size_t)len - 4);
        return buf;
}

/* One request on a fresh connection. */
static uint8_t *
call(rill__wbuf_t *w, rill__rbuf_t *r)
{
        int fd = kconnect();
        uint8_t *buf;
        CU_ASSERT_FATAL(fd >= 0);
        buf = exchange(fd, w, r);
        close(fd);
        CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
        return buf;
}

static void
expect_end(rill__rbuf_t *r)
{
        CU_ASSERT_FALSE(r->err);
        CU_ASSERT_EQUAL(rill__rb_remaining(r), 0);
}

static void
cpy(char *dst, size_t size, rill__str_t s)
{
        size_t n = s.len < 0 ? 0 : (size_t)s.len;
        if (n >= size)
                n = size - 1;
        if (n)
                memcpy(dst, s.ptr, n);
        dst[n] = '\0';
}

/* ---- Metadata v1, ListOffsets v1 and Produce v3 (effects) ---- */

/* Partition count of @p topic per Metadata v1 (all topics), -1 if absent. */
static int
partitions_of(const char *topic)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int found = -1;
        int32_t n;

        req_begin(&w, KAPI_METADATA, 1);
        rill__wb_array(&w, -1, false);
        buf = call(&w, &r);
        n = rill__rb_array(&r, false);
        for (int32_t i = 0; i < n && !r.err; i++) {
                rill__rb_i32(&r);
                rill__rb_str(&r, false);
                rill__rb_i32(&r);
                rill__rb_str(&r, false);
        }
        rill__rb_i32(&r); /* controller */
        n = rill__rb_array(&r, false);
        for (int32_t i = 0; i < n && !r.err; i++) {
                int16_t err = rill__rb_i16(&r);
                rill__str_t name = rill__rb_str(&r, false);
                int32_t np;
                rill__rb_bool(&r);
                np = rill__rb_array(&r, false);
                for (int32_t k = 0; k < np && !r.err; k++) {
                        int32_t nr;
                        rill__rb_i16(&r);
                        rill__rb_i32(&r);
                        rill__rb_i32(&r);
                        nr = rill__rb_array(&r, false);
                        for (int32_t j = 0; j < nr; j++)
                                rill__rb_i32(&r);
                        nr = rill__rb_array(&r, false);
                        for (int32_t j = 0; j < nr; j++)
                                rill__rb_i32(&r);
                }
                if (err == 0 && rill__str_eq(name, topic))
                        found = np;
        }
        expect_end(&r);
        free(buf);
        return found;
}

/* Earliest offset (log start) of a partition per ListOffsets v1. */
static int64_t
log_start_of(const char *topic, int32_t partition)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int64_t off = -99;

        req_begin(&w, KAPI_LIST_OFFSETS, 1);
        rill__wb_i32(&w, -1);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, partition);
        rill__wb_i64(&w, -2);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        rill__rb_str(&r, false);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), partition);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), 0);
        rill__rb_i64(&r);
        off = rill__rb_i64(&r);
        expect_end(&r);
        free(buf);
        return off;
}

/* Produces @p n records to a partition with Produce v3, acks=-1. */
static void
produce(const char *topic, int32_t partition, int n)
{
        rill__batch_builder_t bb;
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;

        rill__batch_builder_init(&bb, 0, 1700000000000LL);
        for (int i = 0; i < n; i++) {
                char v[32];
                int vl = snprintf(v, sizeof(v), "value-%d", i);
                rill__batch_builder_add(&bb, bb.count, 1700000000000LL + i, NULL, -1, v, vl, NULL,
                                        0, 0);
        }
        rill__batch_builder_finish(&bb);
        req_begin(&w, KAPI_PRODUCE, 3);
        rill__wb_cstr(&w, NULL, false);
        rill__wb_i16(&w, -1);
        rill__wb_i32(&w, 10000);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, partition);
        rill__wb_bytes(&w, bb.buf.buf, (int32_t)bb.buf.len, false);
        rill__batch_builder_destroy(&bb);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        rill__rb_str(&r, false);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), partition);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), 0);
        rill__rb_i64(&r);
        rill__rb_i64(&r);
        rill__rb_i32(&r);
        expect_end(&r);
        free(buf);
}

/* ---- CreateTopics ---- */

typedef struct assign {
        int32_t pidx;
        int nids;
        int32_t ids[3];
} assign_t;

typedef struct ct_topic {
        const char *name;
        int32_t np;
        int16_t rf;
        int nassign;
        const assign_t *assign;
        const char *const *configs; /* key, value pairs; NULL-terminated (value may be "(null)") */
} ct_topic_t;

typedef struct topic_res {
        char name[300];
        int16_t err;
        bool has_msg;
        char msg[512];
} topic_res_t;

static topic_res_t g_res[16];

/* Sends CreateTopics v@p ver; decodes the results into g_res; returns the count. */
static int
create_topics(int16_t ver, const ct_topic_t *t, int n, bool validate_only)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int32_t cnt;

        req_begin(&w, KAPI_CREATE_TOPICS, ver);
        rill__wb_array(&w, n, false);
        for (int i = 0; i < n; i++) {
                int nc = 0;
                rill__wb_cstr(&w, t[i].name, false);
                rill__wb_i32(&w, t[i].np);
                rill__wb_i16(&w, t[i].rf);
                rill__wb_array(&w, t[i].nassign, false);
                for (int a = 0; a < t[i].nassign; a++) {
                        rill__wb_i32(&w, t[i].assign[a].pidx);
                        rill__wb_array(&w, t[i].assign[a].nids, false);
                        for (int k = 0; k < t[i].assign[a].nids; k++)
                                rill__wb_i32(&w, t[i].assign[a].ids[k]);
                }
                while (t[i].configs && t[i].configs[nc * 2])
                        nc++;
                rill__wb_array(&w, nc, false);
                for (int k = 0; k < nc; k++) {
                        const char *v = t[i].configs[k * 2 + 1];
                        rill__wb_cstr(&w, t[i].configs[k * 2], false);
                        rill__wb_cstr(&w, strcmp(v, "(null)") ? v : NULL, false);
                }
        }
        rill__wb_i32(&w, 30000);
        if (ver >= 1)
                rill__wb_bool(&w, validate_only);
        buf = call(&w, &r);
        if (ver >= 2)
                CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        cnt = rill__rb_array(&r, false);
        CU_ASSERT_EQUAL(cnt, n);
        for (int32_t i = 0; i < cnt && i < 16; i++) {
                cpy(g_res[i].name, sizeof(g_res[i].name), rill__rb_str(&r, false));
                g_res[i].err = rill__rb_i16(&r);
                g_res[i].has_msg = false;
                g_res[i].msg[0] = '\0';
                if (ver >= 1) {
                        rill__str_t m = rill__rb_str(&r, false);
                        g_res[i].has_msg = m.len >= 0;
                        cpy(g_res[i].msg, sizeof(g_res[i].msg), m);
                }
                /* Results come back in request order. */
                CU_ASSERT_STRING_EQUAL(g_res[i].name, t[i].name);
        }
        expect_end(&r);
        free(buf);
        return cnt;
}

static int16_t
create1(int16_t ver, const char *name, int32_t np, int16_t rf)
{
        ct_topic_t t = {name, np, rf, 0, NULL, NULL};
        create_topics(ver, &t, 1, false);
        if (g_res[0].err && ver >= 1)
                CU_ASSERT_TRUE(g_res[0].has_msg && g_res[0].msg[0]);
        if (!g_res[0].err && ver >= 1)
                CU_ASSERT_FALSE(g_res[0].has_msg);
        return g_res[0].err;
}

static void
test_create_topics_versions(void)
{
        for (int16_t v = 0; v <= 4; v++) {
                char name[32];
                snprintf(name, sizeof(name), "ct-v%d", v);
                CU_ASSERT_EQUAL(partitions_of(name), -1);
                CU_ASSERT_EQUAL(create1(v, name, 3, 1), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 3);
                CU_ASSERT_EQUAL(create1(v, name, 3, 1), KERR_TOPIC_ALREADY_EXISTS);
                if (v == 0)
                        CU_ASSERT_FALSE(g_res[0].has_msg);
        }
}

static void
test_create_validate_only(void)
{
        for (int16_t v = 1; v <= 4; v++) {
                char name[32];
                ct_topic_t t = {name, 2, 1, 0, NULL, NULL};
                snprintf(name, sizeof(name), "vo-v%d", v);
                create_topics(v, &t, 1, true);
                CU_ASSERT_EQUAL(g_res[0].err, KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), -1);
                /* Validation still reports errors. */
                t.np = 0;
                create_topics(v, &t, 1, true);
                CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_PARTITIONS);
        }
}

static void
test_create_bad_names(void)
{
        char long_name[260];
        memset(long_name, 'x', 250);
        long_name[250] = '\0';
        const char *bad[] = {"", ".", "..", "a b", "bad/name", "caf\xc3\xa9", long_name, "a:b"};
        ct_topic_t t[9];
        int n = (int)(sizeof(bad) / sizeof(bad[0]));
        for (int i = 0; i < n; i++)
                t[i] = (ct_topic_t){bad[i], 1, 1, 0, NULL, NULL};
        t[n] = (ct_topic_t){"good.name_-9", 1, 1, 0, NULL, NULL};
        for (int16_t v = 0; v <= 4; v += 2) {
                create_topics(v, t, n + (v == 0), false);
                for (int i = 0; i < n; i++) {
                        CU_ASSERT_EQUAL(g_res[i].err, KERR_INVALID_TOPIC_EXCEPTION);
                        if (v >= 1)
                                CU_ASSERT_PTR_NOT_NULL(strstr(g_res[i].msg, "opic name"));
                }
        }
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_TOPIC_EXCEPTION);
        CU_ASSERT_EQUAL(partitions_of("good.name_-9"), 1);
        /* 249 characters is fine. */
        long_name[249] = '\0';
        CU_ASSERT_EQUAL(create1(3, long_name, 1, 1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of(long_name), 1);
}

static void
test_create_counts(void)
{
        CU_ASSERT_EQUAL(create1(3, "cnt-a", 0, 1), KERR_INVALID_PARTITIONS);
        CU_ASSERT_EQUAL(create1(3, "cnt-a", -5, 1), KERR_INVALID_PARTITIONS);
        CU_ASSERT_EQUAL(create1(3, "cnt-a", 1, 0), KERR_INVALID_REPLICATION_FACTOR);
        CU_ASSERT_EQUAL(create1(3, "cnt-a", 1, -2), KERR_INVALID_REPLICATION_FACTOR);
        CU_ASSERT_EQUAL(create1(3, "cnt-a", 1, 2), KERR_INVALID_REPLICATION_FACTOR);
        CU_ASSERT_PTR_NOT_NULL(strstr(g_res[0].msg, "broker"));
        CU_ASSERT_EQUAL(create1(4, "cnt-a", 1000000000, 1), KERR_INVALID_PARTITIONS);
        CU_ASSERT_EQUAL(partitions_of("cnt-a"), -1);
        /* -1 means the broker defaults (num.partitions=2 in this broker), on
         * every version as Kafka brokers do (KafkaJS sends it with v3). */
        CU_ASSERT_EQUAL(create1(4, "cnt-a", -1, -1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of("cnt-a"), 2);
        CU_ASSERT_EQUAL(create1(4, "cnt-b", 5, -1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of("cnt-b"), 5);
        CU_ASSERT_EQUAL(create1(3, "cnt-c", -1, 1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of("cnt-c"), 2);
        CU_ASSERT_EQUAL(create1(0, "cnt-d", 3, -1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of("cnt-d"), 3);
}

static void
test_create_assignments(void)
{
        assign_t ok[2] = {{0, 1, {g_node}}, {1, 1, {g_node}}};
        assign_t other[1] = {{0, 1, {g_node + 99}}};
        assign_t two[1] = {{0, 2, {g_node, g_node + 1}}};
        assign_t gap[2] = {{0, 1, {g_node}}, {2, 1, {g_node}}};
        assign_t none[1] = {{0, 0, {0}}};
        ct_topic_t t = {"asg-ok", -1, -1, 2, ok, NULL};

        for (int16_t v = 0; v <= 4; v += 4) {
                char name[32];
                snprintf(name, sizeof(name), "asg-ok-%d", v);
                t = (ct_topic_t){name, -1, -1, 2, ok, NULL};
                create_topics(v, &t, 1, false);
                CU_ASSERT_EQUAL(g_res[0].err, KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 2);
        }
        t = (ct_topic_t){"asg-bad", -1, -1, 1, other, NULL};
        create_topics(4, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REPLICA_ASSIGNMENT);
        t.assign = two;
        create_topics(4, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REPLICA_ASSIGNMENT);
        t.assign = none;
        create_topics(4, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REPLICA_ASSIGNMENT);
        t.assign = gap;
        t.nassign = 2;
        create_topics(4, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REPLICA_ASSIGNMENT);
        /* Counts and an assignment together are refused. */
        t = (ct_topic_t){"asg-bad", 2, 1, 2, ok, NULL};
        create_topics(3, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REQUEST);
        CU_ASSERT_EQUAL(partitions_of("asg-bad"), -1);
}

/* ---- DescribeConfigs ---- */

typedef struct cfg {
        char name[128];
        char value[256];
        bool value_null;
        bool read_only;
        bool is_default;
        int8_t source;
        bool sensitive;
        int syn_cnt;
        char syn_name[6][64];
        char syn_value[6][64];
        int8_t syn_src[6];
} cfg_t;

typedef struct dres {
        int16_t err;
        bool has_msg;
        int8_t type;
        char name[300];
        int cnt;
        cfg_t cfg[128];
} dres_t;

static dres_t g_dres[3];

/* DescribeConfigs v@p ver for one or more resources "type:name"; @p keys is
 * NULL (all) or a NULL-terminated list applied to every resource. */
static int
describe(int16_t ver, const int8_t *types, const char *const *names, int n,
         const char *const *keys, bool synonyms)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int32_t cnt;

        req_begin(&w, KAPI_DESCRIBE_CONFIGS, ver);
        rill__wb_array(&w, n, false);
        for (int i = 0; i < n; i++) {
                int nk = 0;
                rill__wb_i8(&w, types[i]);
                rill__wb_cstr(&w, names[i], false);
                while (keys && keys[nk])
                        nk++;
                rill__wb_array(&w, keys ? nk : -1, false);
                for (int k = 0; k < nk; k++)
                        rill__wb_cstr(&w, keys[k], false);
        }
        if (ver >= 1)
                rill__wb_bool(&w, synonyms);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        cnt = rill__rb_array(&r, false);
        CU_ASSERT_EQUAL(cnt, n);
        for (int32_t i = 0; i < cnt && i < 3 && !r.err; i++) {
                dres_t *d = &g_dres[i];
                int32_t nc;
                d->err = rill__rb_i16(&r);
                d->has_msg = rill__rb_str(&r, false).len >= 0;
                d->type = rill__rb_i8(&r);
                cpy(d->name, sizeof(d->name), rill__rb_str(&r, false));
                nc = rill__rb_array(&r, false);
                CU_ASSERT_FATAL(nc >= 0 && nc <= 128);
                d->cnt = nc;
                for (int32_t k = 0; k < nc && !r.err; k++) {
                        cfg_t *c = &d->cfg[k];
                        rill__str_t v;
                        cpy(c->name, sizeof(c->name), rill__rb_str(&r, false));
                        v = rill__rb_str(&r, false);
                        c->value_null = v.len < 0;
                        cpy(c->value, sizeof(c->value), v);
                        c->read_only = rill__rb_bool(&r);
                        c->is_default = false;
                        c->source = -1;
                        if (ver == 0)
                                c->is_default = rill__rb_bool(&r);
                        else
                                c->source = rill__rb_i8(&r);
                        c->sensitive = rill__rb_bool(&r);
                        c->syn_cnt = 0;
                        if (ver >= 1) {
                                int32_t ns = rill__rb_array(&r, false);
                                c->syn_cnt = ns;
                                for (int32_t s = 0; s < ns && !r.err; s++) {
                                        char tmp[64];
                                        cpy(s < 6 ? c->syn_name[s] : tmp, 64, rill__rb_str(&r, false));
                                        cpy(s < 6 ? c->syn_value[s] : tmp, 64, rill__rb_str(&r, false));
                                        int8_t src = rill__rb_i8(&r);
                                        if (s < 6)
                                                c->syn_src[s] = src;
                                }
                        }
                }
        }
        expect_end(&r);
        free(buf);
        return cnt;
}

static const cfg_t *
find_cfg(const dres_t *d, const char *name)
{
        for (int i = 0; i < d->cnt; i++)
                if (!strcmp(d->cfg[i].name, name))
                        return &d->cfg[i];
        return NULL;
}

static const int8_t TOPIC = 2, BROKER = 4;

static void
test_create_configs(void)
{
        static const char *const good[] = {"cleanup.policy", "compact", "retention.ms", "3600000",
                                           NULL};
        static const char *const bad_value[] = {"retention.ms", "soon", NULL};
        static const char *const unknown[] = {"no.such.config", "1", NULL};
        static const char *const null_value[] = {"retention.ms", "(null)", NULL};
        ct_topic_t t = {"cfg-good", 1, 1, 0, NULL, good};
        const cfg_t *c;

        create_topics(2, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_NONE);
        describe(1, &TOPIC, (const char *const[]){"cfg-good"}, 1, NULL, false);
        CU_ASSERT_EQUAL(g_dres[0].err, 0);
        c = find_cfg(&g_dres[0], "cleanup.policy");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_STRING_EQUAL(c->value, "compact");
        CU_ASSERT_EQUAL(c->source, 1);
        c = find_cfg(&g_dres[0], "retention.ms");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_STRING_EQUAL(c->value, "3600000");

        t = (ct_topic_t){"cfg-bad", 1, 1, 0, NULL, bad_value};
        create_topics(2, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(g_res[0].msg, "retention.ms"));
        CU_ASSERT_PTR_NOT_NULL(strstr(g_res[0].msg, "soon"));
        t.configs = unknown;
        create_topics(2, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(g_res[0].msg, "no.such.config"));
        t.configs = null_value;
        create_topics(2, &t, 1, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_CONFIG);
        CU_ASSERT_EQUAL(partitions_of("cfg-bad"), -1);
}

static void
test_create_duplicates_and_collisions(void)
{
        ct_topic_t t[3] = {{"dup-a", 1, 1, 0, NULL, NULL},
                           {"dup-b", 1, 1, 0, NULL, NULL},
                           {"dup-a", 2, 1, 0, NULL, NULL}};
        create_topics(3, t, 3, false);
        CU_ASSERT_EQUAL(g_res[0].err, KERR_INVALID_REQUEST);
        CU_ASSERT_EQUAL(g_res[1].err, KERR_NONE);
        CU_ASSERT_EQUAL(g_res[2].err, KERR_INVALID_REQUEST);
        CU_ASSERT_EQUAL(partitions_of("dup-a"), -1);
        CU_ASSERT_EQUAL(partitions_of("dup-b"), 1);

        CU_ASSERT_EQUAL(create1(3, "col.x", 1, 1), KERR_NONE);
        CU_ASSERT_EQUAL(create1(3, "col_x", 1, 1), KERR_INVALID_TOPIC_EXCEPTION);
        CU_ASSERT_PTR_NOT_NULL(strstr(g_res[0].msg, "col.x"));
        CU_ASSERT_EQUAL(partitions_of("col_x"), -1);
}

/* ---- DeleteTopics ---- */

static int
delete_topics(int16_t ver, const char *const *names, int n, int16_t *errs)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int32_t cnt;
        req_begin(&w, KAPI_DELETE_TOPICS, ver);
        rill__wb_array(&w, n, false);
        for (int i = 0; i < n; i++)
                rill__wb_cstr(&w, names[i], false);
        rill__wb_i32(&w, 30000);
        buf = call(&w, &r);
        if (ver >= 1)
                CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        cnt = rill__rb_array(&r, false);
        CU_ASSERT_EQUAL(cnt, n);
        for (int32_t i = 0; i < cnt && !r.err; i++) {
                CU_ASSERT_TRUE(rill__str_eq(rill__rb_str(&r, false), names[i]));
                errs[i] = rill__rb_i16(&r);
        }
        expect_end(&r);
        free(buf);
        return cnt;
}

static void
test_delete_topics(void)
{
        for (int16_t v = 0; v <= 1; v++) {
                char name[32];
                int16_t errs[2];
                snprintf(name, sizeof(name), "del-v%d", v);
                CU_ASSERT_EQUAL(create1(3, name, 2, 1), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 2);
                delete_topics(v, (const char *const[]){name, "del-never-existed"}, 2, errs);
                CU_ASSERT_EQUAL(errs[0], KERR_NONE);
                CU_ASSERT_EQUAL(errs[1], KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_EQUAL(partitions_of(name), -1);
                delete_topics(v, (const char *const[]){name}, 1, errs);
                CU_ASSERT_EQUAL(errs[0], KERR_UNKNOWN_TOPIC_OR_PARTITION);
                /* The name can be reused. */
                CU_ASSERT_EQUAL(create1(3, name, 1, 1), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 1);
        }
}

/* ---- CreatePartitions ---- */

static int16_t
create_partitions(int16_t ver, const char *name, int32_t count, int nassign, int32_t broker,
                  bool validate_only, bool *has_msg)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int16_t err;
        req_begin(&w, KAPI_CREATE_PARTITIONS, ver);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, name, false);
        rill__wb_i32(&w, count);
        rill__wb_array(&w, nassign, false);
        for (int i = 0; i < nassign; i++) {
                rill__wb_array(&w, 1, false);
                rill__wb_i32(&w, broker);
        }
        rill__wb_i32(&w, 30000);
        rill__wb_bool(&w, validate_only);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        CU_ASSERT_TRUE(rill__str_eq(rill__rb_str(&r, false), name));
        err = rill__rb_i16(&r);
        *has_msg = rill__rb_str(&r, false).len >= 0;
        expect_end(&r);
        free(buf);
        CU_ASSERT_EQUAL(*has_msg, err != 0);
        return err;
}

static void
test_create_partitions(void)
{
        bool m;
        for (int16_t v = 0; v <= 1; v++) {
                char name[32];
                snprintf(name, sizeof(name), "cp-v%d", v);
                CU_ASSERT_EQUAL(create1(3, name, 2, 1), KERR_NONE);
                CU_ASSERT_EQUAL(create_partitions(v, name, 4, -1, 0, false, &m), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 4);
                CU_ASSERT_EQUAL(create_partitions(v, name, 6, -1, 0, true, &m), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 4);
                CU_ASSERT_EQUAL(create_partitions(v, name, 4, -1, 0, false, &m),
                                KERR_INVALID_PARTITIONS);
                CU_ASSERT_EQUAL(create_partitions(v, name, 3, -1, 0, false, &m),
                                KERR_INVALID_PARTITIONS);
                CU_ASSERT_EQUAL(create_partitions(v, name, 5, 2, g_node, false, &m),
                                KERR_INVALID_REPLICA_ASSIGNMENT);
                CU_ASSERT_EQUAL(create_partitions(v, name, 5, 1, g_node + 7, false, &m),
                                KERR_INVALID_REPLICA_ASSIGNMENT);
                CU_ASSERT_EQUAL(partitions_of(name), 4);
                CU_ASSERT_EQUAL(create_partitions(v, name, 5, 1, g_node, false, &m), KERR_NONE);
                CU_ASSERT_EQUAL(partitions_of(name), 5);
                CU_ASSERT_EQUAL(create_partitions(v, "cp-missing", 5, -1, 0, false, &m),
                                KERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
}

/* ---- DescribeConfigs / AlterConfigs ---- */

static void
test_describe_configs(void)
{
        int nk;
        const cfg_t *c;
        rill__topic_conf_keys(&nk);
        CU_ASSERT_EQUAL(create1(3, "dc", 1, 1), KERR_NONE);
        for (int16_t v = 0; v <= 2; v++) {
                describe(v, &TOPIC, (const char *const[]){"dc"}, 1, NULL, v >= 1);
                CU_ASSERT_EQUAL(g_dres[0].err, KERR_NONE);
                CU_ASSERT_FALSE(g_dres[0].has_msg);
                CU_ASSERT_EQUAL(g_dres[0].type, TOPIC);
                CU_ASSERT_STRING_EQUAL(g_dres[0].name, "dc");
                CU_ASSERT_EQUAL(g_dres[0].cnt, nk);
                for (int i = 0; i < g_dres[0].cnt; i++) {
                        CU_ASSERT_FALSE(g_dres[0].cfg[i].read_only);
                        CU_ASSERT_FALSE(g_dres[0].cfg[i].sensitive);
                        CU_ASSERT_FALSE(g_dres[0].cfg[i].value_null);
                }
                /* A pure default. */
                c = find_cfg(&g_dres[0], "segment.bytes");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "1073741824");
                if (v == 0) {
                        CU_ASSERT_TRUE(c->is_default);
                } else {
                        CU_ASSERT_EQUAL(c->source, 5);
                }
                /* From the server's log.retention.hours=48. */
                c = find_cfg(&g_dres[0], "retention.ms");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "172800000");
                if (v >= 1) {
                        CU_ASSERT_EQUAL(c->source, 4);
                        CU_ASSERT_EQUAL(c->syn_cnt, 2);
                        CU_ASSERT_STRING_EQUAL(c->syn_name[0], "log.retention.hours");
                        CU_ASSERT_STRING_EQUAL(c->syn_value[0], "48");
                        CU_ASSERT_EQUAL(c->syn_src[0], 4);
                        CU_ASSERT_STRING_EQUAL(c->syn_name[1], "log.retention.hours");
                        CU_ASSERT_STRING_EQUAL(c->syn_value[1], "168");
                        CU_ASSERT_EQUAL(c->syn_src[1], 5);
                }
        }
        /* Without synonyms (v1): empty synonym arrays. */
        describe(1, &TOPIC, (const char *const[]){"dc"}, 1, NULL, false);
        for (int i = 0; i < g_dres[0].cnt; i++)
                CU_ASSERT_EQUAL(g_dres[0].cfg[i].syn_cnt, 0);

        /* A key filter; unknown keys are left out. */
        describe(2, &TOPIC, (const char *const[]){"dc"}, 1,
                 (const char *const[]){"cleanup.policy", "no.such.key", NULL}, false);
        CU_ASSERT_EQUAL(g_dres[0].cnt, 1);
        CU_ASSERT_STRING_EQUAL(g_dres[0].cfg[0].name, "cleanup.policy");
        CU_ASSERT_STRING_EQUAL(g_dres[0].cfg[0].value, "delete");

        /* Broker resource, unknown topic, wrong broker id and a bad type in one request. */
        char id[16], other[16];
        snprintf(id, sizeof(id), "%d", g_node);
        snprintf(other, sizeof(other), "%d", g_node + 1);
        for (int16_t v = 0; v <= 2; v++) {
                const int8_t types[3] = {BROKER, TOPIC, BROKER};
                describe(v, types, (const char *const[]){id, "dc-missing", other}, 3, NULL, true);
                CU_ASSERT_EQUAL(g_dres[0].err, KERR_NONE);
                CU_ASSERT_EQUAL(g_dres[0].type, BROKER);
                CU_ASSERT_TRUE(g_dres[0].cnt > 40);
                c = find_cfg(&g_dres[0], "num.partitions");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "2");
                CU_ASSERT_TRUE(c->read_only);
                if (v >= 1) {
                        CU_ASSERT_EQUAL(c->source, 4);
                        CU_ASSERT_EQUAL(c->syn_cnt, 2);
                } else {
                        CU_ASSERT_FALSE(c->is_default);
                }
                c = find_cfg(&g_dres[0], "delete.topic.enable");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "true");
                if (v >= 1)
                        CU_ASSERT_EQUAL(c->source, 5);
                c = find_cfg(&g_dres[0], "zookeeper.connect");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_TRUE(c->value_null);
                /* An unknown key from the configuration is listed; a secret is hidden. */
                c = find_cfg(&g_dres[0], "ssl.truststore.password");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_TRUE(c->value_null);
                CU_ASSERT_TRUE(c->sensitive);
                for (int s = 0; v >= 1 && s < c->syn_cnt && s < 6; s++)
                        CU_ASSERT_STRING_EQUAL(c->syn_value[s], "");
                CU_ASSERT_EQUAL(g_dres[1].err, KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_TRUE(g_dres[1].has_msg);
                CU_ASSERT_EQUAL(g_dres[1].cnt, 0);
                CU_ASSERT_EQUAL(g_dres[2].err, KERR_INVALID_REQUEST);
                CU_ASSERT_EQUAL(g_dres[2].cnt, 0);
        }
        const int8_t bad_type = 3;
        describe(2, &bad_type, (const char *const[]){"dc"}, 1, NULL, false);
        CU_ASSERT_EQUAL(g_dres[0].err, KERR_INVALID_REQUEST);
}

static int16_t
alter(int16_t ver, int8_t type, const char *name, const char *const *kv, bool validate_only)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int16_t err;
        int nc = 0;
        bool has_msg;
        while (kv && kv[nc * 2])
                nc++;
        req_begin(&w, KAPI_ALTER_CONFIGS, ver);
        rill__wb_array(&w, 1, false);
        rill__wb_i8(&w, type);
        rill__wb_cstr(&w, name, false);
        rill__wb_array(&w, nc, false);
        for (int i = 0; i < nc; i++) {
                rill__wb_cstr(&w, kv[i * 2], false);
                rill__wb_cstr(&w, kv[i * 2 + 1], false);
        }
        rill__wb_bool(&w, validate_only);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        err = rill__rb_i16(&r);
        has_msg = rill__rb_str(&r, false).len >= 0;
        CU_ASSERT_EQUAL(has_msg, err != 0);
        CU_ASSERT_EQUAL(rill__rb_i8(&r), type);
        CU_ASSERT_TRUE(rill__str_eq(rill__rb_str(&r, false), name));
        expect_end(&r);
        free(buf);
        return err;
}

static const cfg_t *
describe_one(const char *topic, const char *key)
{
        describe(1, &TOPIC, (const char *const[]){topic}, 1, (const char *const[]){key, NULL},
                 false);
        CU_ASSERT_EQUAL(g_dres[0].err, 0);
        return g_dres[0].cnt == 1 ? &g_dres[0].cfg[0] : NULL;
}

static void
test_alter_configs(void)
{
        const cfg_t *c;
        char id[16];
        snprintf(id, sizeof(id), "%d", g_node);
        for (int16_t v = 0; v <= 1; v++) {
                char name[32];
                snprintf(name, sizeof(name), "ac-v%d", v);
                CU_ASSERT_EQUAL(create1(3, name, 1, 1), KERR_NONE);
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"retention.ms", "1000",
                                                            "max.message.bytes", "2000000", NULL},
                                      false),
                                KERR_NONE);
                c = describe_one(name, "retention.ms");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "1000");
                CU_ASSERT_EQUAL(c->source, 1);
                c = describe_one(name, "max.message.bytes");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "2000000");

                /* validate_only changes nothing. */
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"retention.ms", "5", NULL}, true),
                                KERR_NONE);
                c = describe_one(name, "retention.ms");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "1000");

                /* Invalid values and unknown keys are refused, nothing changes. */
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"cleanup.policy", "compact",
                                                            "retention.ms", "abc", NULL},
                                      false),
                                KERR_INVALID_CONFIG);
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"bogus.key", "1", NULL}, false),
                                KERR_INVALID_CONFIG);
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"retention.ms", "1", "retention.ms",
                                                            "2", NULL},
                                      false),
                                KERR_INVALID_REQUEST);
                c = describe_one(name, "cleanup.policy");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "delete");

                /* Replace semantics: keys not listed revert to the default. */
                CU_ASSERT_EQUAL(alter(v, TOPIC, name,
                                      (const char *const[]){"cleanup.policy", "compact", NULL},
                                      false),
                                KERR_NONE);
                c = describe_one(name, "cleanup.policy");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "compact");
                c = describe_one(name, "retention.ms");
                CU_ASSERT_PTR_NOT_NULL_FATAL(c);
                CU_ASSERT_STRING_EQUAL(c->value, "172800000");
                CU_ASSERT_EQUAL(c->source, 4);

                CU_ASSERT_EQUAL(alter(v, TOPIC, "ac-missing",
                                      (const char *const[]){"retention.ms", "1", NULL}, false),
                                KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_EQUAL(alter(v, BROKER, id,
                                      (const char *const[]){"num.partitions", "3", NULL}, false),
                                KERR_INVALID_REQUEST);
                CU_ASSERT_EQUAL(alter(v, 3, "x", NULL, false), KERR_INVALID_REQUEST);
        }
}

/* ---- DeleteRecords ---- */

static int16_t
delete_records(int16_t ver, const char *topic, int32_t partition, int64_t offset, int64_t *low)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t *buf;
        int16_t err;
        req_begin(&w, KAPI_DELETE_RECORDS, ver);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, partition);
        rill__wb_i64(&w, offset);
        rill__wb_i32(&w, 30000);
        buf = call(&w, &r);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        CU_ASSERT_TRUE(rill__str_eq(rill__rb_str(&r, false), topic));
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), 1);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), partition);
        *low = rill__rb_i64(&r);
        err = rill__rb_i16(&r);
        expect_end(&r);
        free(buf);
        return err;
}

static void
test_delete_records(void)
{
        int64_t low;
        for (int16_t v = 0; v <= 1; v++) {
                char name[32];
                snprintf(name, sizeof(name), "dr-v%d", v);
                CU_ASSERT_EQUAL(create1(3, name, 2, 1), KERR_NONE);
                produce(name, 1, 10);
                CU_ASSERT_EQUAL(log_start_of(name, 1), 0);
                CU_ASSERT_EQUAL(delete_records(v, name, 1, 4, &low), KERR_NONE);
                CU_ASSERT_EQUAL(low, 4);
                CU_ASSERT_EQUAL(log_start_of(name, 1), 4);
                /* Below the start: nothing to do, the start is reported. */
                CU_ASSERT_EQUAL(delete_records(v, name, 1, 2, &low), KERR_NONE);
                CU_ASSERT_EQUAL(low, 4);
                CU_ASSERT_EQUAL(delete_records(v, name, 1, 11, &low), KERR_OFFSET_OUT_OF_RANGE);
                CU_ASSERT_EQUAL(low, -1);
                CU_ASSERT_EQUAL(delete_records(v, name, 1, -7, &low), KERR_OFFSET_OUT_OF_RANGE);
                CU_ASSERT_EQUAL(log_start_of(name, 1), 4);
                /* -1: up to the high watermark. */
                CU_ASSERT_EQUAL(delete_records(v, name, 1, -1, &low), KERR_NONE);
                CU_ASSERT_EQUAL(low, 10);
                CU_ASSERT_EQUAL(log_start_of(name, 1), 10);
                /* An empty partition: -1 is offset 0. */
                CU_ASSERT_EQUAL(delete_records(v, name, 0, -1, &low), KERR_NONE);
                CU_ASSERT_EQUAL(low, 0);
                CU_ASSERT_EQUAL(delete_records(v, name, 7, 0, &low),
                                KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_EQUAL(delete_records(v, "dr-missing", 0, 0, &low),
                                KERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
}

/* delete.topic.enable=false: DeleteTopics v0-1 answer INVALID_REQUEST, as Kafka does. */
static void
test_delete_disabled(void)
{
        static const char *const overrides[] = {"delete.topic.enable=false", NULL};
        char *dir = rill_test_tmpdir("rill-test-admin-nodel");
        rill_broker_t *b = rill_test_broker_start(dir, overrides);
        int saved = g_port;
        int16_t errs[1];
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        g_port = rill_broker_port(b);
        CU_ASSERT_EQUAL(create1(3, "keep-me", 1, 1), KERR_NONE);
        for (int16_t v = 0; v <= 1; v++) {
                delete_topics(v, (const char *const[]){"keep-me"}, 1, errs);
                CU_ASSERT_EQUAL(errs[0], KERR_INVALID_REQUEST);
        }
        CU_ASSERT_EQUAL(partitions_of("keep-me"), 1);
        g_port = saved;
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

/* ---- malformed requests ---- */

/* Sends @p w and expects the broker to close the connection. */
static void
expect_closed(rill__wbuf_t *w)
{
        rill__rbuf_t r;
        int fd = kconnect();
        uint8_t *buf;
        CU_ASSERT_FATAL(fd >= 0);
        buf = exchange(fd, w, &r);
        CU_ASSERT_PTR_NULL(buf);
        free(buf);
        close(fd);
}

static void
test_malformed(void)
{
        rill__wbuf_t w;

        /* CreateTopics truncated inside the second topic. */
        req_begin(&w, KAPI_CREATE_TOPICS, 3);
        rill__wb_array(&w, 2, false);
        rill__wb_cstr(&w, "mal-a", false);
        rill__wb_i32(&w, 1);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false);
        rill__wb_array(&w, 0, false);
        rill__wb_cstr(&w, "mal-b", false);
        rill__wb_i32(&w, 1);
        expect_closed(&w);
        /* Nothing was created by the truncated request. */
        CU_ASSERT_EQUAL(partitions_of("mal-a"), -1);

        /* A huge array count. */
        for (int16_t key = 0; key < 6; key++) {
                static const int16_t keys[6] = {KAPI_CREATE_TOPICS,    KAPI_DELETE_TOPICS,
                                                KAPI_DELETE_RECORDS,   KAPI_DESCRIBE_CONFIGS,
                                                KAPI_ALTER_CONFIGS,    KAPI_CREATE_PARTITIONS};
                req_begin(&w, keys[key], 1);
                rill__wb_i32(&w, 0x7fffffff);
                rill__wb_cstr(&w, "x", false);
                expect_closed(&w);
                /* An empty body. */
                req_begin(&w, keys[key], 0);
                expect_closed(&w);
        }
        /* A string longer than the body, inside a nested array. */
        req_begin(&w, KAPI_DESCRIBE_CONFIGS, 1);
        rill__wb_array(&w, 1, false);
        rill__wb_i8(&w, 2);
        rill__wb_i16(&w, 3000);
        rill__wb_raw(&w, "dc", 2);
        expect_closed(&w);
        /* DeleteRecords with a huge partition count. */
        req_begin(&w, KAPI_DELETE_RECORDS, 0);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, "dr-v0", false);
        rill__wb_i32(&w, 1 << 30);
        expect_closed(&w);

        /* The broker still serves new connections. */
        CU_ASSERT_EQUAL(create1(3, "mal-after", 1, 1), KERR_NONE);
        CU_ASSERT_EQUAL(partitions_of("mal-after"), 1);
}

/* ---- fixture ---- */

static int
suite_init(void)
{
        static const char *const overrides[] = {"num.partitions=2", "log.retention.hours=48",
                                                "auto.create.topics.enable=false",
                                                "ssl.truststore.password=hunter2", NULL};
        g_dir = rill_test_tmpdir("rill-test-admin");
        g_b = rill_test_broker_start(g_dir, overrides);
        if (!g_b)
                return 1;
        g_port = rill_broker_port(g_b);
        g_node = rill_broker_node_id(g_b);
        return 0;
}

static int
suite_cleanup(void)
{
        rill_broker_destroy(g_b);
        rill_test_rmdir(g_dir);
        free(g_dir);
        return 0;
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"admin api",
                 suite_init,
                 suite_cleanup,
                 {{"CreateTopics v0-v4", test_create_topics_versions},
                  {"CreateTopics validate_only", test_create_validate_only},
                  {"CreateTopics bad names", test_create_bad_names},
                  {"CreateTopics counts and defaults", test_create_counts},
                  {"CreateTopics assignments", test_create_assignments},
                  {"CreateTopics configs", test_create_configs},
                  {"CreateTopics duplicates and collisions", test_create_duplicates_and_collisions},
                  {"DeleteTopics v0-v1", test_delete_topics},
                  {"DeleteTopics disabled", test_delete_disabled},
                  {"CreatePartitions v0-v1", test_create_partitions},
                  {"DescribeConfigs v0-v2", test_describe_configs},
                  {"AlterConfigs v0-v1", test_alter_configs},
                  {"DeleteRecords v0-v1", test_delete_records},
                  {"malformed requests", test_malformed},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
