/*
 * test_group_api.c - the group APIs on the wire, byte by byte.
 *
 * An in-process broker (rill_test_broker_start) is driven over raw TCP with
 * hand-built frames for every version the coordinator advertises, and each
 * response is decoded completely - every field of that version and no
 * trailing bytes - so a field missing or extra in any version fails here
 * before a client would mis-parse it:
 *
 *   FindCoordinator 0-2, JoinGroup 0-5 (with the KIP-394 MEMBER_ID_REQUIRED
 *   round from v4), SyncGroup 0-3, Heartbeat 0-3, LeaveGroup 0-3 (batch
 *   leave in v3), OffsetCommit 0-7, OffsetFetch 0-7 (6-7 flexible),
 *   DescribeGroups 0-4, ListGroups 0-4 (3-4 flexible, state filter in v4),
 *   DeleteGroups 0-1.
 *
 * Also: a JoinGroup parked on one connection completed by a request on
 * another; a follower's SyncGroup parked until the leader's; a parked
 * JoinGroup whose connection closes; static membership (v5); committed
 * offsets after rill_broker_restart(); offsets of a deleted topic gone (also
 * after a restart); and a malformed request closing the connection while the
 * broker keeps serving others.
 *
 * Frames are built and decoded with the broker's codec (broker/codec.h).
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

#include "codec.h"
#include "kerr.h"
#include "rill_alloc.h"
#include "rill_test.h"

static char *g_dir;
static rill_broker_t *g_broker;
static int32_t g_corr = 1;

/* ---- a raw client ---- */

static int
tc_connect(void)
{
        struct sockaddr_in sa;
        struct timeval tv = {20, 0};
        int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)rill_broker_port(g_broker));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static bool
send_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                p += w;
                n -= (size_t)w;
        }
        return true;
}

static bool
recv_all(int fd, uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t r = recv(fd, p, n, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return false;
                p += r;
                n -= (size_t)r;
        }
        return true;
}

/* Sends a request (header v1, or v2 for a flexible version); returns its
 * correlation id or -1. */
static int32_t
tc_send(int fd, int16_t key, int16_t ver, bool flex, const rill__wbuf_t *body)
{
        rill__wbuf_t f;
        size_t off;
        bool ok;
        int32_t corr = g_corr++;
        rill__wb_init(&f, 64 + (body ? body->len : 0));
        off = rill__wb_reserve_i32(&f);
        rill__wb_i16(&f, key);
        rill__wb_i16(&f, ver);
        rill__wb_i32(&f, corr);
        rill__wb_cstr(&f, "grp-test", false);
        if (flex)
                rill__wb_tags(&f, true);
        if (body)
                rill__wb_raw(&f, body->buf, body->len);
        rill__wb_patch_i32(&f, off, (int32_t)(f.len - 4));
        ok = send_all(fd, f.buf, f.len);
        rill__wb_free(&f);
        return ok ? corr : -1;
}

typedef struct resp {
        uint8_t *buf;
        rill__rbuf_t r;
} resp_t;

/* Reads one response for @p corr; positions rs->r after the header. */
static bool
tc_recv(int fd, int32_t corr, bool flex, resp_t *rs)
{
        uint8_t szb[4];
        int32_t size;
        memset(rs, 0, sizeof(*rs));
        if (!recv_all(fd, szb, 4))
                return false;
        size = (int32_t)rill__be32(szb);
        if (size < 4 || size > 64 * 1024 * 1024)
                return false;
        rs->buf = rill__malloc((size_t)size);
        if (!recv_all(fd, rs->buf, (size_t)size))
                return false;
        rill__rb_init(&rs->r, rs->buf, (size_t)size);
        if (rill__rb_i32(&rs->r) != corr)
                return false;
        rill__rb_tags(&rs->r, flex);
        return !rs->r.err;
}

static void
resp_free(resp_t *rs)
{
        rill__free(rs->buf);
        rs->buf = NULL;
}

static bool
tc_call(int fd, int16_t key, int16_t ver, bool flex, const rill__wbuf_t *body, resp_t *rs)
{
        int32_t corr = tc_send(fd, key, ver, flex, body);
        return corr >= 0 && tc_recv(fd, corr, flex, rs);
}

/* The response was decoded completely: no error, no trailing bytes. */
#define ASSERT_DONE(rs)                                                        \
        do {                                                                   \
                CU_ASSERT_EQUAL((rs)->r.err, 0);                               \
                CU_ASSERT_EQUAL(rill__rb_remaining(&(rs)->r), 0);              \
        } while (0)

/* True if the connection was closed by the broker (EOF within 20 s). */
static bool
closed_by_peer(int fd)
{
        uint8_t b[64];
        for (;;) {
                ssize_t r = recv(fd, b, sizeof(b), 0);
                if (r == 0)
                        return true;
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return errno == ECONNRESET;
        }
}

static int
suite_init(void)
{
        static const char *const overrides[] = {"group.min.session.timeout.ms=1000", NULL};
        g_dir = rill_test_tmpdir("rill-grp-api");
        g_broker = rill_test_broker_start(g_dir, overrides);
        return g_broker ? 0 : -1;
}

static int
suite_cleanup(void)
{
        rill_broker_destroy(g_broker);
        g_broker = NULL;
        rill_test_rmdir(g_dir);
        free(g_dir);
        g_dir = NULL;
        return 0;
}

/* Creates @p topic with CreateTopics v0. */
static bool
create_topic(const char *topic, int32_t parts)
{
        rill__wbuf_t w;
        resp_t rs;
        bool ok = false;
        int fd = tc_connect();
        if (fd < 0)
                return false;
        rill__wb_init(&w, 64);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_i32(&w, parts);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false); /* assignments */
        rill__wb_array(&w, 0, false); /* configs */
        rill__wb_i32(&w, 10000);
        if (tc_call(fd, 19, 0, false, &w, &rs)) {
                int16_t err;
                ok = rill__rb_array(&rs.r, false) == 1 && rill__str_eq(rill__rb_str(&rs.r, false), topic);
                err = rill__rb_i16(&rs.r);
                ok = ok && (err == KERR_NONE || err == KERR_TOPIC_ALREADY_EXISTS);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        close(fd);
        return ok;
}

/* ---- FindCoordinator ---- */

static void
test_find_coordinator(void)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        for (int16_t v = 0; v <= 2; v++) {
                for (int8_t kt = 0; kt <= (v >= 1 ? 2 : 0); kt++) {
                        rill__wbuf_t w;
                        resp_t rs;
                        int16_t err;
                        rill__str_t msg = RILL__STR_NULL, host;
                        int32_t node, port;
                        rill__wb_init(&w, 32);
                        rill__wb_cstr(&w, "fc-group", false);
                        if (v >= 1)
                                rill__wb_i8(&w, kt);
                        CU_ASSERT_FATAL(tc_call(fd, KAPI_FIND_COORDINATOR, v, false, &w, &rs));
                        if (v >= 1)
                                CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                        err = rill__rb_i16(&rs.r);
                        if (v >= 1)
                                msg = rill__rb_str(&rs.r, false);
                        node = rill__rb_i32(&rs.r);
                        host = rill__rb_str(&rs.r, false);
                        port = rill__rb_i32(&rs.r);
                        ASSERT_DONE(&rs);
                        if (kt == 0) {
                                CU_ASSERT_EQUAL(err, KERR_NONE);
                                CU_ASSERT_EQUAL(msg.len, -1);
                                CU_ASSERT_EQUAL(node, rill_broker_node_id(g_broker));
                                CU_ASSERT(rill__str_eq(host, "127.0.0.1"));
                                CU_ASSERT_EQUAL(port, rill_broker_port(g_broker));
                        } else {
                                /* Transactions (1) are not there yet; 2 is unknown. */
                                CU_ASSERT_EQUAL(err, kt == 1 ? KERR_COORDINATOR_NOT_AVAILABLE
                                                             : KERR_INVALID_REQUEST);
                                CU_ASSERT(msg.len > 0);
                                CU_ASSERT_EQUAL(node, -1);
                                CU_ASSERT_EQUAL(port, -1);
                        }
                        resp_free(&rs);
                        rill__wb_free(&w);
                }
        }
        close(fd);
}

/* ---- JoinGroup / SyncGroup / Heartbeat / LeaveGroup ---- */

typedef struct join_res {
        int16_t err;
        int32_t generation;
        char protocol[64];
        char leader[256];
        char member_id[256];
        int members;
        char member0[256];
        char instance0[64];
        bool instance0_null;
        char meta0[64];
} join_res_t;

static void
copy_str(char *dst, size_t size, rill__str_t s)
{
        snprintf(dst, size, "%.*s", s.len > 0 ? (int)s.len : 0, s.len > 0 ? s.ptr : "");
}

static void
build_join(rill__wbuf_t *w, int16_t v, const char *group, const char *member, const char *instance,
           const char *meta)
{
        rill__wb_cstr(w, group, false);
        rill__wb_i32(w, 10000);                 /* session_timeout_ms */
        if (v >= 1)
                rill__wb_i32(w, 20000);         /* rebalance_timeout_ms */
        rill__wb_cstr(w, member, false);
        if (v >= 5)
                rill__wb_cstr(w, instance, false);
        rill__wb_cstr(w, "consumer", false);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, "range", false);
        rill__wb_bytes(w, meta, (int32_t)strlen(meta), false);
}

static bool
decode_join(resp_t *rs, int16_t v, join_res_t *jr)
{
        rill__rbuf_t *r = &rs->r;
        memset(jr, 0, sizeof(*jr));
        if (v >= 2 && rill__rb_i32(r) != 0)
                return false;
        jr->err = rill__rb_i16(r);
        jr->generation = rill__rb_i32(r);
        copy_str(jr->protocol, sizeof(jr->protocol), rill__rb_str(r, false));
        copy_str(jr->leader, sizeof(jr->leader), rill__rb_str(r, false));
        copy_str(jr->member_id, sizeof(jr->member_id), rill__rb_str(r, false));
        jr->members = rill__rb_array(r, false);
        for (int32_t i = 0; i < jr->members; i++) {
                rill__str_t id = rill__rb_str(r, false), inst = RILL__STR_NULL, meta;
                if (v >= 5)
                        inst = rill__rb_str(r, false);
                meta = rill__rb_bytes(r, false);
                if (i == 0) {
                        copy_str(jr->member0, sizeof(jr->member0), id);
                        copy_str(jr->instance0, sizeof(jr->instance0), inst);
                        jr->instance0_null = inst.len < 0;
                        copy_str(jr->meta0, sizeof(jr->meta0), meta);
                }
        }
        return !r->err;
}

static int32_t
send_join(int fd, int16_t v, const char *group, const char *member, const char *instance,
          const char *meta)
{
        rill__wbuf_t w;
        int32_t corr;
        rill__wb_init(&w, 128);
        build_join(&w, v, group, member, instance, meta);
        corr = tc_send(fd, KAPI_JOIN_GROUP, v, false, &w);
        rill__wb_free(&w);
        return corr;
}

static bool
recv_join(int fd, int32_t corr, int16_t v, join_res_t *jr)
{
        resp_t rs;
        bool ok = tc_recv(fd, corr, false, &rs) && decode_join(&rs, v, jr);
        if (ok)
                ASSERT_DONE(&rs);
        resp_free(&rs);
        return ok;
}

static bool
join(int fd, int16_t v, const char *group, const char *member, const char *instance,
     const char *meta, join_res_t *jr)
{
        int32_t corr = send_join(fd, v, group, member, instance, meta);
        return corr >= 0 && recv_join(fd, corr, v, jr);
}

static int32_t
send_sync(int fd, int16_t v, const char *group, int32_t gen, const char *member,
          const char *instance, const char *const *assigns)
{
        rill__wbuf_t w;
        int32_t corr, n = 0;
        while (assigns && assigns[n * 2])
                n++;
        rill__wb_init(&w, 128);
        rill__wb_cstr(&w, group, false);
        rill__wb_i32(&w, gen);
        rill__wb_cstr(&w, member, false);
        if (v >= 3)
                rill__wb_cstr(&w, instance, false);
        rill__wb_array(&w, n, false);
        for (int32_t i = 0; i < n; i++) {
                rill__wb_cstr(&w, assigns[2 * i], false);
                rill__wb_bytes(&w, assigns[2 * i + 1], (int32_t)strlen(assigns[2 * i + 1]), false);
        }
        corr = tc_send(fd, KAPI_SYNC_GROUP, v, false, &w);
        rill__wb_free(&w);
        return corr;
}

/* Receives a SyncGroup response: returns the error, the assignment in @p out. */
static int16_t
recv_sync(int fd, int32_t corr, int16_t v, char *out, size_t size)
{
        resp_t rs;
        int16_t err = -100;
        if (tc_recv(fd, corr, false, &rs)) {
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                err = rill__rb_i16(&rs.r);
                copy_str(out, size, rill__rb_bytes(&rs.r, false));
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        return err;
}

static int16_t
heartbeat(int fd, int16_t v, const char *group, int32_t gen, const char *member,
          const char *instance)
{
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        rill__wb_init(&w, 64);
        rill__wb_cstr(&w, group, false);
        rill__wb_i32(&w, gen);
        rill__wb_cstr(&w, member, false);
        if (v >= 3)
                rill__wb_cstr(&w, instance, false);
        if (tc_call(fd, KAPI_HEARTBEAT, v, false, &w, &rs)) {
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                err = rill__rb_i16(&rs.r);
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return err;
}

/* LeaveGroup of one member; for v3 also checks the per-member echo. */
static int16_t
leave(int fd, int16_t v, const char *group, const char *member, const char *instance)
{
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        rill__wb_init(&w, 64);
        rill__wb_cstr(&w, group, false);
        if (v <= 2) {
                rill__wb_cstr(&w, member, false);
        } else {
                rill__wb_array(&w, 1, false);
                rill__wb_cstr(&w, member, false);
                rill__wb_cstr(&w, instance, false);
        }
        if (tc_call(fd, KAPI_LEAVE_GROUP, v, false, &w, &rs)) {
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                err = rill__rb_i16(&rs.r);
                if (v >= 3) {
                        CU_ASSERT_EQUAL(err, KERR_NONE);
                        CU_ASSERT_EQUAL(rill__rb_array(&rs.r, false), 1);
                        CU_ASSERT(rill__str_eq(rill__rb_str(&rs.r, false), member));
                        CU_ASSERT(rill__str_eq(rill__rb_str(&rs.r, false), instance));
                        err = rill__rb_i16(&rs.r);
                }
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return err;
}

static void
test_join_sync_heartbeat_leave_versions(void)
{
        int fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        for (int16_t v = 0; v <= 5; v++) {
                char group[32], assign[64];
                int16_t sv = v > 3 ? 3 : v;
                join_res_t jr;
                const char *asg[3];
                snprintf(group, sizeof(group), "jg-v%d", v);
                CU_ASSERT_FATAL(join(fd, v, group, "", NULL, "META", &jr));
                if (v >= 4) {
                        /* KIP-394: first a member id, then the real join. */
                        char id[256];
                        CU_ASSERT_EQUAL(jr.err, KERR_MEMBER_ID_REQUIRED);
                        CU_ASSERT(strncmp(jr.member_id, "grp-test-", 9) == 0);
                        CU_ASSERT_EQUAL(jr.generation, -1);
                        CU_ASSERT_EQUAL(jr.members, 0);
                        snprintf(id, sizeof(id), "%s", jr.member_id);
                        CU_ASSERT_FATAL(join(fd, v, group, id, NULL, "META", &jr));
                        CU_ASSERT_STRING_EQUAL(jr.member_id, id);
                }
                CU_ASSERT_EQUAL(jr.err, KERR_NONE);
                CU_ASSERT_EQUAL(jr.generation, 1);
                CU_ASSERT_STRING_EQUAL(jr.protocol, "range");
                CU_ASSERT_STRING_EQUAL(jr.leader, jr.member_id);
                CU_ASSERT_EQUAL(jr.members, 1);
                CU_ASSERT_STRING_EQUAL(jr.member0, jr.member_id);
                CU_ASSERT_STRING_EQUAL(jr.meta0, "META");
                if (v >= 5)
                        CU_ASSERT(jr.instance0_null);

                asg[0] = jr.member_id;
                asg[1] = "ASSIGNED";
                asg[2] = NULL;
                CU_ASSERT_EQUAL(recv_sync(fd, send_sync(fd, sv, group, 1, jr.member_id, NULL, asg),
                                          sv, assign, sizeof(assign)),
                                KERR_NONE);
                CU_ASSERT_STRING_EQUAL(assign, "ASSIGNED");
                CU_ASSERT_EQUAL(heartbeat(fd, sv, group, 1, jr.member_id, NULL), KERR_NONE);
                CU_ASSERT_EQUAL(heartbeat(fd, sv, group, 2, jr.member_id, NULL),
                                KERR_ILLEGAL_GENERATION);
                CU_ASSERT_EQUAL(heartbeat(fd, sv, group, 1, "nobody", NULL), KERR_UNKNOWN_MEMBER_ID);
                CU_ASSERT_EQUAL(leave(fd, sv, group, jr.member_id, NULL), KERR_NONE);
                CU_ASSERT_EQUAL(heartbeat(fd, sv, group, 1, jr.member_id, NULL),
                                KERR_UNKNOWN_MEMBER_ID);
                CU_ASSERT_EQUAL(leave(fd, sv, group, jr.member_id, NULL), KERR_UNKNOWN_MEMBER_ID);
        }
        /* Errors come back in the version's layout too. */
        {
                join_res_t jr;
                CU_ASSERT_FATAL(join(fd, 2, "", "", NULL, "m", &jr));
                CU_ASSERT_EQUAL(jr.err, KERR_INVALID_GROUP_ID);
                CU_ASSERT_FATAL(join(fd, 5, "jg-x", "not-a-member", NULL, "m", &jr));
                CU_ASSERT_EQUAL(jr.err, KERR_UNKNOWN_MEMBER_ID);
                CU_ASSERT_STRING_EQUAL(jr.member_id, "not-a-member");
        }
        close(fd);
}

static void
test_parked_join_and_sync(void)
{
        static const char *group = "parked";
        int a = tc_connect(), b = tc_connect();
        join_res_t ja, jb, ja2;
        int32_t corr_b, corr_sb, corr_a;
        char assign[64], aid[256], bid[256];
        const char *asg[5];

        CU_ASSERT_FATAL(a >= 0 && b >= 0);
        CU_ASSERT_FATAL(join(a, 3, group, "", NULL, "A", &ja));
        CU_ASSERT_EQUAL_FATAL(ja.err, KERR_NONE);
        snprintf(aid, sizeof(aid), "%s", ja.member_id);
        asg[0] = aid;
        asg[1] = "a0";
        asg[2] = NULL;
        CU_ASSERT_EQUAL(recv_sync(a, send_sync(a, 2, group, 1, aid, NULL, asg), 2, assign,
                                  sizeof(assign)),
                        KERR_NONE);
        /* B's join parks: A learns of the rebalance through its heartbeat. */
        corr_b = send_join(b, 3, group, "", NULL, "B");
        CU_ASSERT_FATAL(corr_b >= 0);
        CU_ASSERT(RILL_WAIT_UNTIL(heartbeat(a, 3, group, 1, aid, NULL) ==
                                          KERR_REBALANCE_IN_PROGRESS,
                                  20000));
        /* A rejoins: both joins complete, A (first joiner) leads with both members. */
        CU_ASSERT_FATAL(join(a, 3, group, aid, NULL, "A", &ja2));
        CU_ASSERT_FATAL(recv_join(b, corr_b, 3, &jb));
        CU_ASSERT_EQUAL(ja2.err, KERR_NONE);
        CU_ASSERT_EQUAL(jb.err, KERR_NONE);
        CU_ASSERT_EQUAL(ja2.generation, 2);
        CU_ASSERT_EQUAL(jb.generation, 2);
        CU_ASSERT_STRING_EQUAL(jb.leader, aid);
        CU_ASSERT_EQUAL(ja2.members, 2);
        CU_ASSERT_EQUAL(jb.members, 0);
        snprintf(bid, sizeof(bid), "%s", jb.member_id);
        /* B's SyncGroup parks until A's assignment arrives. */
        corr_sb = send_sync(b, 3, group, 2, bid, NULL, NULL);
        CU_ASSERT_EQUAL(heartbeat(a, 3, group, 2, aid, NULL), KERR_NONE);
        asg[0] = aid;
        asg[1] = "for-a";
        asg[2] = bid;
        asg[3] = "for-b";
        asg[4] = NULL;
        corr_a = send_sync(a, 3, group, 2, aid, NULL, asg);
        CU_ASSERT_EQUAL(recv_sync(a, corr_a, 3, assign, sizeof(assign)), KERR_NONE);
        CU_ASSERT_STRING_EQUAL(assign, "for-a");
        CU_ASSERT_EQUAL(recv_sync(b, corr_sb, 3, assign, sizeof(assign)), KERR_NONE);
        CU_ASSERT_STRING_EQUAL(assign, "for-b");

        /* A third member parks its join and then disconnects: completing
         * the rebalance answers a dead connection harmlessly. */
        {
                int c = tc_connect();
                join_res_t ja3, jb3;
                int32_t cb;
                CU_ASSERT_FATAL(c >= 0);
                CU_ASSERT(send_join(c, 3, group, "", NULL, "C") >= 0);
                CU_ASSERT(RILL_WAIT_UNTIL(heartbeat(a, 3, group, 2, aid, NULL) ==
                                                  KERR_REBALANCE_IN_PROGRESS,
                                          20000));
                close(c);
                cb = send_join(b, 3, group, bid, NULL, "B");
                CU_ASSERT_FATAL(join(a, 3, group, aid, NULL, "A", &ja3));
                CU_ASSERT_FATAL(recv_join(b, cb, 3, &jb3));
                CU_ASSERT_EQUAL(ja3.generation, 3);
                CU_ASSERT_EQUAL(ja3.members, 3);
                CU_ASSERT_EQUAL(jb3.generation, 3);
        }
        CU_ASSERT_EQUAL(leave(a, 3, group, aid, NULL), KERR_NONE);
        CU_ASSERT_EQUAL(leave(b, 3, group, bid, NULL), KERR_NONE);
        close(a);
        close(b);
}

static void
test_static_membership_v5(void)
{
        static const char *group = "static5";
        int fd = tc_connect();
        join_res_t j1, j2;
        char assign[64];
        const char *asg[3];
        CU_ASSERT_FATAL(fd >= 0);
        /* A static member needs no MEMBER_ID_REQUIRED round. */
        CU_ASSERT_FATAL(join(fd, 5, group, "", "inst-1", "S", &j1));
        CU_ASSERT_EQUAL_FATAL(j1.err, KERR_NONE);
        CU_ASSERT(strncmp(j1.member_id, "inst-1-", 7) == 0);
        CU_ASSERT_EQUAL(j1.members, 1);
        CU_ASSERT_FALSE(j1.instance0_null);
        CU_ASSERT_STRING_EQUAL(j1.instance0, "inst-1");
        asg[0] = j1.member_id;
        asg[1] = "mine";
        asg[2] = NULL;
        CU_ASSERT_EQUAL(recv_sync(fd, send_sync(fd, 3, group, 1, j1.member_id, "inst-1", asg), 3,
                                  assign, sizeof(assign)),
                        KERR_NONE);
        /* The instance restarts: same generation, a new member id, no rebalance. */
        CU_ASSERT_FATAL(join(fd, 5, group, "", "inst-1", "S", &j2));
        CU_ASSERT_EQUAL(j2.err, KERR_NONE);
        CU_ASSERT_EQUAL(j2.generation, 1);
        CU_ASSERT(strcmp(j2.member_id, j1.member_id) != 0);
        CU_ASSERT_EQUAL(heartbeat(fd, 3, group, 1, j1.member_id, "inst-1"), KERR_FENCED_INSTANCE_ID);
        CU_ASSERT_EQUAL(heartbeat(fd, 3, group, 1, j2.member_id, "inst-1"), KERR_NONE);
        CU_ASSERT_EQUAL(recv_sync(fd, send_sync(fd, 3, group, 1, j2.member_id, "inst-1", NULL), 3,
                                  assign, sizeof(assign)),
                        KERR_NONE);
        CU_ASSERT_STRING_EQUAL(assign, "mine");
        /* Batch leave by instance id alone (v3). */
        CU_ASSERT_EQUAL(leave(fd, 3, group, "", "inst-1"), KERR_NONE);
        CU_ASSERT_EQUAL(heartbeat(fd, 3, group, 1, j2.member_id, "inst-1"), KERR_UNKNOWN_MEMBER_ID);
        close(fd);
}

/* ---- OffsetCommit / OffsetFetch ---- */

/* Commits offsets base+0.. to partitions 0..n-1 of @p topic; returns the
 * per-partition errors in @p errs. */
static bool
commit(int fd, int16_t v, const char *group, int32_t gen, const char *member, const char *topic,
       int n, int64_t base, const char *md, int16_t *errs)
{
        rill__wbuf_t w;
        resp_t rs;
        bool ok = false;
        rill__wb_init(&w, 128);
        rill__wb_cstr(&w, group, false);
        if (v >= 1) {
                rill__wb_i32(&w, gen);
                rill__wb_cstr(&w, member, false);
        }
        if (v >= 7)
                rill__wb_cstr(&w, NULL, false); /* group_instance_id */
        if (v >= 2 && v <= 4)
                rill__wb_i64(&w, -1);           /* retention_time_ms */
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, n, false);
        for (int i = 0; i < n; i++) {
                rill__wb_i32(&w, i);
                rill__wb_i64(&w, base + i);
                if (v >= 6)
                        rill__wb_i32(&w, 7);    /* committed_leader_epoch */
                if (v == 1)
                        rill__wb_i64(&w, -1);   /* commit_timestamp */
                rill__wb_cstr(&w, md, false);
        }
        if (tc_call(fd, KAPI_OFFSET_COMMIT, v, false, &w, &rs)) {
                if (v >= 3)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                ok = rill__rb_array(&rs.r, false) == 1 &&
                     rill__str_eq(rill__rb_str(&rs.r, false), topic) &&
                     rill__rb_array(&rs.r, false) == n;
                for (int i = 0; ok && i < n; i++) {
                        ok = rill__rb_i32(&rs.r) == i;
                        errs[i] = rill__rb_i16(&rs.r);
                }
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return ok;
}

typedef struct fetched {
        int32_t partition;
        int64_t offset;
        int32_t epoch;
        char md[32];
        int16_t err;
} fetched_t;

/* OffsetFetch of partitions 0..n-1 of @p topic (n < 0: all topics, v2+).
 * Fills @p out (up to 8) and returns the partition count, or -1. */
static int
fetch_offsets(int fd, int16_t v, const char *group, const char *topic, int n, fetched_t *out,
              int16_t *top)
{
        bool flex = v >= 6;
        rill__wbuf_t w;
        resp_t rs;
        int got = -1;
        rill__wb_init(&w, 64);
        rill__wb_cstr(&w, group, flex);
        if (n < 0) {
                rill__wb_array(&w, -1, flex);
        } else {
                rill__wb_array(&w, 1, flex);
                rill__wb_cstr(&w, topic, flex);
                rill__wb_array(&w, n, flex);
                for (int i = 0; i < n; i++)
                        rill__wb_i32(&w, i);
                rill__wb_tags(&w, flex);
        }
        if (v >= 7)
                rill__wb_bool(&w, true);        /* require_stable */
        rill__wb_tags(&w, flex);
        *top = KERR_NONE;
        if (tc_call(fd, KAPI_OFFSET_FETCH, v, flex, &w, &rs)) {
                int32_t tn;
                if (v >= 3)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                tn = rill__rb_array(&rs.r, flex);
                got = 0;
                for (int32_t t = 0; t < tn; t++) {
                        int32_t pn;
                        rill__str_t name = rill__rb_str(&rs.r, flex);
                        CU_ASSERT(rill__str_eq(name, topic));
                        pn = rill__rb_array(&rs.r, flex);
                        for (int32_t i = 0; i < pn; i++) {
                                fetched_t f;
                                memset(&f, 0, sizeof(f));
                                f.partition = rill__rb_i32(&rs.r);
                                f.offset = rill__rb_i64(&rs.r);
                                f.epoch = v >= 5 ? rill__rb_i32(&rs.r) : -2;
                                copy_str(f.md, sizeof(f.md), rill__rb_str(&rs.r, flex));
                                f.err = rill__rb_i16(&rs.r);
                                rill__rb_tags(&rs.r, flex);
                                if (got < 8)
                                        out[got] = f;
                                got++;
                        }
                        rill__rb_tags(&rs.r, flex);
                }
                if (v >= 2)
                        *top = rill__rb_i16(&rs.r);
                rill__rb_tags(&rs.r, flex);
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return got;
}

static void
test_offset_commit_fetch_versions(void)
{
        int fd = tc_connect();
        int16_t errs[3], top;
        fetched_t f[8];
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(create_topic("oc-topic", 3));
        for (int16_t v = 0; v <= 7; v++) {
                char group[32], md[16];
                snprintf(group, sizeof(group), "oc-v%d", v);
                snprintf(md, sizeof(md), "md%d", v);
                /* Simple commits (no group membership). */
                CU_ASSERT_FATAL(commit(fd, v, group, -1, "", "oc-topic", 2, 100 * v, md, errs));
                CU_ASSERT_EQUAL(errs[0], KERR_NONE);
                CU_ASSERT_EQUAL(errs[1], KERR_NONE);
                /* Unknown topics and partitions are refused per partition. */
                CU_ASSERT_FATAL(commit(fd, v, group, -1, "", "oc-nope", 1, 1, "", errs));
                CU_ASSERT_EQUAL(errs[0], KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_FATAL(commit(fd, v, group, -1, "", "oc-topic", 3, 5, "", errs));
                CU_ASSERT(errs[0] == KERR_NONE && errs[1] == KERR_NONE && errs[2] == KERR_NONE);
        }
        /* Restore partitions 0-1 and leave partition 2 as committed above (5+2). */
        for (int16_t v = 0; v <= 7; v++) {
                char group[32];
                snprintf(group, sizeof(group), "oc-v%d", v);
                CU_ASSERT_FATAL(commit(fd, v, group, -1, "", "oc-topic", 2, 100 * v, "again",
                                       errs));
        }
        for (int16_t fv = 0; fv <= 7; fv++) {
                for (int16_t cv = 0; cv <= 7; cv += 7) {
                        char group[32];
                        int n;
                        snprintf(group, sizeof(group), "oc-v%d", cv);
                        n = fetch_offsets(fd, fv, group, "oc-topic", 3, f, &top);
                        CU_ASSERT_EQUAL_FATAL(n, 3);
                        CU_ASSERT_EQUAL(top, KERR_NONE);
                        for (int i = 0; i < 3; i++) {
                                CU_ASSERT_EQUAL(f[i].partition, i);
                                CU_ASSERT_EQUAL(f[i].err, KERR_NONE);
                                CU_ASSERT_EQUAL(f[i].offset, i < 2 ? 100 * cv + i : 7);
                                CU_ASSERT_STRING_EQUAL(f[i].md, i < 2 ? "again" : "");
                                if (fv >= 5)
                                        CU_ASSERT_EQUAL(f[i].epoch, cv >= 6 ? 7 : -1);
                        }
                }
                /* An unknown group: -1 and no error. */
                CU_ASSERT_EQUAL_FATAL(fetch_offsets(fd, fv, "oc-none", "oc-topic", 2, f, &top), 2);
                CU_ASSERT_EQUAL(f[0].offset, -1);
                CU_ASSERT_EQUAL(f[1].offset, -1);
                CU_ASSERT_EQUAL(f[0].err, KERR_NONE);
                /* v2+: a null topic list means every committed offset. */
                if (fv >= 2) {
                        CU_ASSERT_EQUAL(fetch_offsets(fd, fv, "oc-v6", "oc-topic", -1, f, &top), 3);
                        CU_ASSERT_EQUAL(top, KERR_NONE);
                }
        }
        /* Member commits: generation and member id are checked. */
        {
                join_res_t jr;
                char assign[64];
                CU_ASSERT_FATAL(join(fd, 3, "oc-member", "", NULL, "m", &jr));
                CU_ASSERT_EQUAL(recv_sync(fd, send_sync(fd, 3, "oc-member", 1, jr.member_id, NULL,
                                                        NULL),
                                          3, assign, sizeof(assign)),
                                KERR_NONE);
                CU_ASSERT_FATAL(commit(fd, 7, "oc-member", 1, jr.member_id, "oc-topic", 1, 42, "",
                                       errs));
                CU_ASSERT_EQUAL(errs[0], KERR_NONE);
                CU_ASSERT_FATAL(commit(fd, 7, "oc-member", 5, jr.member_id, "oc-topic", 1, 43, "",
                                       errs));
                CU_ASSERT_EQUAL(errs[0], KERR_ILLEGAL_GENERATION);
                CU_ASSERT_FATAL(commit(fd, 2, "oc-member", -1, "", "oc-topic", 1, 44, "", errs));
                CU_ASSERT_EQUAL(errs[0], KERR_UNKNOWN_MEMBER_ID);
                CU_ASSERT_EQUAL(fetch_offsets(fd, 7, "oc-member", "oc-topic", 1, f, &top), 1);
                CU_ASSERT_EQUAL(f[0].offset, 42);
                CU_ASSERT_EQUAL(leave(fd, 1, "oc-member", jr.member_id, NULL), KERR_NONE);
        }

        /* Committed offsets survive a restart. */
        {
                char err[256];
                close(fd);
                CU_ASSERT_EQUAL_FATAL(rill_broker_restart(g_broker, err, sizeof(err)), RILL_OK);
                fd = tc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT_EQUAL_FATAL(fetch_offsets(fd, 7, "oc-v7", "oc-topic", 3, f, &top), 3);
                CU_ASSERT_EQUAL(f[0].offset, 700);
                CU_ASSERT_EQUAL(f[1].offset, 701);
                CU_ASSERT_EQUAL(f[2].offset, 7);
                CU_ASSERT_EQUAL(f[1].epoch, 7);
                CU_ASSERT_STRING_EQUAL(f[1].md, "again");
                CU_ASSERT_EQUAL_FATAL(fetch_offsets(fd, 5, "oc-member", "oc-topic", 1, f, &top), 1);
                CU_ASSERT_EQUAL(f[0].offset, 42);
        }
        close(fd);
}

/* ---- DescribeGroups / ListGroups / DeleteGroups ---- */

typedef struct described {
        int16_t err;
        char state[32];
        char ptype[32];
        char proto[32];
        int members;
        char client_host[64];
        char meta[32];
        char assign[32];
        bool instance_null;
        int32_t ops;
} described_t;

static int
describe(int fd, int16_t v, const char *const *groups, int n, bool ops, described_t *out)
{
        rill__wbuf_t w;
        resp_t rs;
        int got = -1;
        rill__wb_init(&w, 64);
        rill__wb_array(&w, n, false);
        for (int i = 0; i < n; i++)
                rill__wb_cstr(&w, groups[i], false);
        if (v >= 3)
                rill__wb_bool(&w, ops);
        if (tc_call(fd, KAPI_DESCRIBE_GROUPS, v, false, &w, &rs)) {
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                got = rill__rb_array(&rs.r, false);
                for (int i = 0; i < got && i < n; i++) {
                        described_t *d = &out[i];
                        int32_t mn;
                        memset(d, 0, sizeof(*d));
                        d->err = rill__rb_i16(&rs.r);
                        CU_ASSERT(rill__str_eq(rill__rb_str(&rs.r, false), groups[i]));
                        copy_str(d->state, sizeof(d->state), rill__rb_str(&rs.r, false));
                        copy_str(d->ptype, sizeof(d->ptype), rill__rb_str(&rs.r, false));
                        copy_str(d->proto, sizeof(d->proto), rill__rb_str(&rs.r, false));
                        mn = rill__rb_array(&rs.r, false);
                        d->members = mn;
                        for (int32_t m = 0; m < mn; m++) {
                                rill__str_t inst = RILL__STR_NULL, host, meta, asg;
                                (void)rill__rb_str(&rs.r, false);
                                if (v >= 4)
                                        inst = rill__rb_str(&rs.r, false);
                                CU_ASSERT(rill__str_eq(rill__rb_str(&rs.r, false), "grp-test"));
                                host = rill__rb_str(&rs.r, false);
                                meta = rill__rb_bytes(&rs.r, false);
                                asg = rill__rb_bytes(&rs.r, false);
                                if (m == 0) {
                                        d->instance_null = inst.len < 0;
                                        copy_str(d->client_host, sizeof(d->client_host), host);
                                        copy_str(d->meta, sizeof(d->meta), meta);
                                        copy_str(d->assign, sizeof(d->assign), asg);
                                }
                        }
                        d->ops = v >= 3 ? rill__rb_i32(&rs.r) : 0;
                }
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return got;
}

typedef struct listed {
        char id[64];
        char ptype[32];
        char state[32];
} listed_t;

#define MAX_LISTED 128

/* ListGroups; returns the count (fills up to MAX_LISTED) or -1. */
static int
list_groups(int fd, int16_t v, const char *state_filter, listed_t *out)
{
        bool flex = v >= 3;
        rill__wbuf_t w;
        resp_t rs;
        int got = -1;
        rill__wb_init(&w, 32);
        if (v >= 4) {
                rill__wb_array(&w, state_filter ? 1 : 0, flex);
                if (state_filter)
                        rill__wb_cstr(&w, state_filter, flex);
        }
        rill__wb_tags(&w, flex);
        if (tc_call(fd, KAPI_LIST_GROUPS, v, flex, &w, &rs)) {
                if (v >= 1)
                        CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                CU_ASSERT_EQUAL(rill__rb_i16(&rs.r), KERR_NONE);
                got = rill__rb_array(&rs.r, flex);
                for (int i = 0; i < got; i++) {
                        listed_t l;
                        memset(&l, 0, sizeof(l));
                        copy_str(l.id, sizeof(l.id), rill__rb_str(&rs.r, flex));
                        copy_str(l.ptype, sizeof(l.ptype), rill__rb_str(&rs.r, flex));
                        if (v >= 4)
                                copy_str(l.state, sizeof(l.state), rill__rb_str(&rs.r, flex));
                        rill__rb_tags(&rs.r, flex);
                        if (i < MAX_LISTED)
                                out[i] = l;
                }
                rill__rb_tags(&rs.r, flex);
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return got;
}

static const listed_t *
find_listed(const listed_t *l, int n, const char *id)
{
        for (int i = 0; i < n && i < MAX_LISTED; i++)
                if (strcmp(l[i].id, id) == 0)
                        return &l[i];
        return NULL;
}

static int16_t
delete_group(int fd, int16_t v, const char *group)
{
        rill__wbuf_t w;
        resp_t rs;
        int16_t err = -100;
        rill__wb_init(&w, 32);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, group, false);
        if (tc_call(fd, KAPI_DELETE_GROUPS, v, false, &w, &rs)) {
                CU_ASSERT_EQUAL(rill__rb_i32(&rs.r), 0);
                CU_ASSERT_EQUAL(rill__rb_array(&rs.r, false), 1);
                CU_ASSERT(rill__str_eq(rill__rb_str(&rs.r, false), group));
                err = rill__rb_i16(&rs.r);
                ASSERT_DONE(&rs);
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return err;
}

static void
test_describe_list_delete_versions(void)
{
        static const char *const groups[] = {"dl-live", "dl-none"};
        int fd = tc_connect();
        join_res_t jr;
        char assign[64];
        const char *asg[3];
        described_t d[2];
        listed_t l[MAX_LISTED];
        int16_t errs[1];
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(create_topic("dl-topic", 1));
        CU_ASSERT_FATAL(join(fd, 5, "dl-live", "", "dl-inst", "MD", &jr));
        asg[0] = jr.member_id;
        asg[1] = "AS";
        asg[2] = NULL;
        CU_ASSERT_EQUAL(recv_sync(fd, send_sync(fd, 3, "dl-live", 1, jr.member_id, "dl-inst", asg),
                                  3, assign, sizeof(assign)),
                        KERR_NONE);
        CU_ASSERT_FATAL(commit(fd, 2, "dl-empty", -1, "", "dl-topic", 1, 3, "", errs));

        for (int16_t v = 0; v <= 4; v++) {
                CU_ASSERT_EQUAL_FATAL(describe(fd, v, groups, 2, v % 2 == 1, d), 2);
                CU_ASSERT_EQUAL(d[0].err, KERR_NONE);
                CU_ASSERT_STRING_EQUAL(d[0].state, "Stable");
                CU_ASSERT_STRING_EQUAL(d[0].ptype, "consumer");
                CU_ASSERT_STRING_EQUAL(d[0].proto, "range");
                CU_ASSERT_EQUAL(d[0].members, 1);
                CU_ASSERT_STRING_EQUAL(d[0].client_host, "/127.0.0.1");
                CU_ASSERT_STRING_EQUAL(d[0].meta, "MD");
                CU_ASSERT_STRING_EQUAL(d[0].assign, "AS");
                if (v >= 4)
                        CU_ASSERT_FALSE(d[0].instance_null);
                if (v >= 3)
                        CU_ASSERT_EQUAL(d[0].ops, v % 2 == 1 ? 328 : INT32_MIN);
                /* A group that does not exist is reported Dead, without error. */
                CU_ASSERT_EQUAL(d[1].err, KERR_NONE);
                CU_ASSERT_STRING_EQUAL(d[1].state, "Dead");
                CU_ASSERT_EQUAL(d[1].members, 0);
        }
        for (int16_t v = 0; v <= 4; v++) {
                const listed_t *x;
                int n = list_groups(fd, v, NULL, l);
                CU_ASSERT_FATAL(n >= 2);
                x = find_listed(l, n, "dl-live");
                CU_ASSERT_PTR_NOT_NULL_FATAL(x);
                CU_ASSERT_STRING_EQUAL(x->ptype, "consumer");
                if (v >= 4)
                        CU_ASSERT_STRING_EQUAL(x->state, "Stable");
                x = find_listed(l, n, "dl-empty");
                CU_ASSERT_PTR_NOT_NULL_FATAL(x);
                CU_ASSERT_STRING_EQUAL(x->ptype, "");
                if (v >= 4)
                        CU_ASSERT_STRING_EQUAL(x->state, "Empty");
        }
        /* v4 state filter (case-insensitive, as Kafka). */
        {
                int n = list_groups(fd, 4, "empty", l);
                CU_ASSERT(n >= 1);
                CU_ASSERT_PTR_NOT_NULL(find_listed(l, n, "dl-empty"));
                CU_ASSERT_PTR_NULL(find_listed(l, n, "dl-live"));
                for (int i = 0; i < n && i < MAX_LISTED; i++)
                        CU_ASSERT_STRING_EQUAL(l[i].state, "Empty");
        }
        for (int16_t v = 0; v <= 1; v++) {
                char g[32];
                snprintf(g, sizeof(g), "dl-del-%d", v);
                CU_ASSERT_FATAL(commit(fd, 2, g, -1, "", "dl-topic", 1, 3, "", errs));
                CU_ASSERT_EQUAL(delete_group(fd, v, "dl-live"), KERR_NON_EMPTY_GROUP);
                CU_ASSERT_EQUAL(delete_group(fd, v, "dl-never"), KERR_GROUP_ID_NOT_FOUND);
                CU_ASSERT_EQUAL(delete_group(fd, v, g), KERR_NONE);
                CU_ASSERT_EQUAL(delete_group(fd, v, g), KERR_GROUP_ID_NOT_FOUND);
                {
                        fetched_t f[8];
                        int16_t top;
                        CU_ASSERT_EQUAL(fetch_offsets(fd, 1, g, "dl-topic", 1, f, &top), 1);
                        CU_ASSERT_EQUAL(f[0].offset, -1);
                }
        }
        CU_ASSERT_EQUAL(leave(fd, 3, "dl-live", jr.member_id, "dl-inst"), KERR_NONE);
        CU_ASSERT_EQUAL(delete_group(fd, 1, "dl-live"), KERR_NONE);
        close(fd);
}

/* ---- offsets of a deleted topic ---- */

static bool
delete_topic(int fd, const char *topic)
{
        rill__wbuf_t w;
        resp_t rs;
        bool ok = false;
        rill__wb_init(&w, 32);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_i32(&w, 10000);
        if (tc_call(fd, 20, 0, false, &w, &rs))
                ok = rill__rb_array(&rs.r, false) == 1 &&
                     rill__str_eq(rill__rb_str(&rs.r, false), topic) &&
                     rill__rb_i16(&rs.r) == KERR_NONE;
        resp_free(&rs);
        rill__wb_free(&w);
        return ok;
}

static void
test_deleted_topic_offsets(void)
{
        int fd = tc_connect();
        int16_t errs[2], top;
        fetched_t f[8];
        char err[256];
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_FATAL(create_topic("td-gone", 2));
        CU_ASSERT_FATAL(create_topic("td-kept", 1));
        CU_ASSERT_FATAL(commit(fd, 2, "td-group", -1, "", "td-gone", 2, 10, "", errs));
        CU_ASSERT(errs[0] == KERR_NONE && errs[1] == KERR_NONE);
        CU_ASSERT_FATAL(commit(fd, 2, "td-group", -1, "", "td-kept", 1, 20, "", errs));
        CU_ASSERT_EQUAL(fetch_offsets(fd, 1, "td-group", "td-gone", 2, f, &top), 2);
        CU_ASSERT_EQUAL(f[1].offset, 11);
        CU_ASSERT_FATAL(delete_topic(fd, "td-gone"));
        CU_ASSERT_EQUAL(fetch_offsets(fd, 1, "td-group", "td-gone", 2, f, &top), 2);
        CU_ASSERT_EQUAL(f[0].offset, -1);
        CU_ASSERT_EQUAL(f[1].offset, -1);
        /* The other topic's offsets stay, and the tombstones were persisted:
         * the deleted topic's offsets do not come back after a restart. */
        close(fd);
        CU_ASSERT_EQUAL_FATAL(rill_broker_restart(g_broker, err, sizeof(err)), RILL_OK);
        fd = tc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(fetch_offsets(fd, 1, "td-group", "td-gone", 2, f, &top), 2);
        CU_ASSERT_EQUAL(f[0].offset, -1);
        CU_ASSERT_EQUAL(f[1].offset, -1);
        CU_ASSERT_EQUAL(fetch_offsets(fd, 1, "td-group", "td-kept", 1, f, &top), 1);
        CU_ASSERT_EQUAL(f[0].offset, 20);
        close(fd);
}

/* ---- malformed input ---- */

static void
test_malformed_requests_close(void)
{
        /* Truncated bodies of each API: the connection is closed, the
         * broker keeps serving others. */
        static const int16_t keys[] = {KAPI_FIND_COORDINATOR, KAPI_JOIN_GROUP, KAPI_SYNC_GROUP,
                                       KAPI_HEARTBEAT, KAPI_LEAVE_GROUP, KAPI_OFFSET_COMMIT,
                                       KAPI_OFFSET_FETCH, KAPI_DESCRIBE_GROUPS, KAPI_DELETE_GROUPS};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                rill__wbuf_t w;
                int fd = tc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                rill__wb_init(&w, 16);
                rill__wb_i16(&w, 200); /* a string length with nothing after it */
                CU_ASSERT(tc_send(fd, keys[i], 1, false, &w) >= 0);
                CU_ASSERT(closed_by_peer(fd));
                close(fd);
                rill__wb_free(&w);
        }
        /* An array count far larger than the frame. */
        {
                rill__wbuf_t w;
                int fd = tc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                rill__wb_init(&w, 16);
                rill__wb_cstr(&w, "g", false);
                rill__wb_i32(&w, 6000);
                rill__wb_i32(&w, 6000);
                rill__wb_cstr(&w, "", false);
                rill__wb_cstr(&w, "consumer", false);
                rill__wb_i32(&w, 0x7fffffff);
                CU_ASSERT(tc_send(fd, KAPI_JOIN_GROUP, 1, false, &w) >= 0);
                CU_ASSERT(closed_by_peer(fd));
                close(fd);
                rill__wb_free(&w);
        }
        {
                join_res_t jr;
                int fd = tc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT_FATAL(join(fd, 3, "after-garbage", "", NULL, "m", &jr));
                CU_ASSERT_EQUAL(jr.err, KERR_NONE);
                close(fd);
        }
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"group_api", suite_init, suite_cleanup, {
                        {"find_coordinator", test_find_coordinator},
                        {"join_sync_heartbeat_leave_versions",
                         test_join_sync_heartbeat_leave_versions},
                        {"parked_join_and_sync", test_parked_join_and_sync},
                        {"static_membership_v5", test_static_membership_v5},
                        {"offset_commit_fetch_versions", test_offset_commit_fetch_versions},
                        {"describe_list_delete_versions", test_describe_list_delete_versions},
                        {"deleted_topic_offsets", test_deleted_topic_offsets},
                        {"malformed_requests_close", test_malformed_requests_close},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
