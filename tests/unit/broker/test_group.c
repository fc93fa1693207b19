/*
 * test_group.c - unit tests of the group coordinator's state machine
 * (broker/group.c) and of its __consumer_offsets record schemas
 * (broker/group_records.c), driven directly without a broker: decoded
 * requests and explicit times in, results through the ops callbacks out.
 *
 * Every waiter records how many times it was completed, and the tests check
 * that each parked request is answered exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "rill_alloc.h"
#include "rill_test.h"

/* ---- harness ---- */

typedef struct waiter {
        int calls;
        int16_t err;
        int32_t generation;
        char member_id[256];
        char leader[256];
        char protocol[64];
        bool protocol_null;
        int member_cnt;
        char members[8][256];
        char member_meta[8][64];
        uint8_t assign[256];
        int32_t assign_len;
} waiter_t;

typedef struct stored_rec {
        uint8_t *key;
        size_t key_len;
        uint8_t *val;   /* NULL = tombstone */
        size_t val_len;
} stored_rec_t;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct harness {
        rill__gc_t *gc;
        int16_t persist_err;    /* injected append error */
        int persist_calls;
        int recs;
        int tombstones;
        stored_rec_t log[512];
        int log_cnt;
        int dropped;
} harness_t;

static void
on_join(void *opaque, void *w_, const rill__gc_join_res_t *r)
{
        waiter_t *w = w_;
        (void)opaque;
        w->calls++;
        w->err = r->err;
        w->generation = r->generation;
        snprintf(w->member_id, sizeof(w->member_id), "%s", r->member_id ? r->member_id : "");
        snprintf(w->leader, sizeof(w->leader), "%s", r->leader ? r->leader : "");
        w->protocol_null = r->protocol == NULL;
        snprintf(w->protocol, sizeof(w->protocol), "%s", r->protocol ? r->protocol : "");
        w->member_cnt = r->member_cnt;
        for (int i = 0; i < r->member_cnt && i < 8; i++) {
                snprintf(w->members[i], sizeof(w->members[i]), "%s", r->members[i].member_id);
                snprintf(w->member_meta[i], sizeof(w->member_meta[i]), "%.*s",
                         (int)r->members[i].meta_len, (const char *)r->members[i].meta);
        }
}

static void
on_sync(void *opaque, void *w_, const rill__gc_sync_res_t *r)
{
        waiter_t *w = w_;
        (void)opaque;
        w->calls++;
        w->err = r->err;
        w->assign_len = r->assignment_len;
        if (r->assignment_len > 0)
                memcpy(w->assign, r->assignment, (size_t)r->assignment_len);
}

static int16_t
on_persist(void *opaque, const char *group_id, const rill__grec_t *recs, int n, int64_t now)
{
        harness_t *h = opaque;
        (void)group_id;
        h->persist_calls++;
        if (h->persist_err)
                return h->persist_err;
        for (int i = 0; i < n; i++) {
                rill__wbuf_t k, v;
                stored_rec_t *s;
                h->recs++;
                if (recs[i].tombstone)
                        h->tombstones++;
                if (h->log_cnt == (int)ARRAY_LEN(h->log))
                        continue;
                s = &h->log[h->log_cnt++];
                rill__wb_init(&k, 64);
                rill__wb_init(&v, 64);
                rill__grec_encode_key(&k, &recs[i]);
                rill__grec_encode_value(&v, &recs[i], now);
                s->key = k.buf;
                s->key_len = k.len;
                if (recs[i].tombstone) {
                        rill__wb_free(&v);
                        s->val = NULL;
                } else {
                        s->val = v.buf;
                        s->val_len = v.len;
                }
        }
        return KERR_NONE;
}

static harness_t H;

static rill__gc_conf_t
default_conf(void)
{
        rill__gc_conf_t c;
        memset(&c, 0, sizeof(c));
        c.initial_rebalance_delay_ms = 0;
        c.min_session_timeout_ms = 1000;
        c.max_session_timeout_ms = 600000;
        c.max_size = 1000;
        c.offsets_retention_ms = 7LL * 24 * 3600 * 1000;
        return c;
}

static void
harness_init(const rill__gc_conf_t *conf)
{
        rill__gc_ops_t ops;
        memset(&H, 0, sizeof(H));
        memset(&ops, 0, sizeof(ops));
        ops.opaque = &H;
        ops.join_done = on_join;
        ops.sync_done = on_sync;
        ops.persist = on_persist;
        H.gc = rill__gc_new(conf, &ops);
}

static void
drop_cb(void *w, void *arg)
{
        (void)w;
        (void)arg;
        H.dropped++;
}

static void
harness_fini(void)
{
        rill__gc_drop_waiters(H.gc, drop_cb, NULL);
        rill__gc_destroy(H.gc);
        H.gc = NULL;
        for (int i = 0; i < H.log_cnt; i++) {
                rill__free(H.log[i].key);
                rill__free(H.log[i].val);
        }
        H.log_cnt = 0;
}

static rill__str_t
S(const char *s)
{
        rill__str_t r = {s, s ? (int32_t)strlen(s) : -1};
        return r;
}

/* A consumer-protocol join with up to 3 protocols "name:meta". */
static void
join_full(const char *group, const char *member_id, const char *instance, const char *ptype,
          const char *const *protos, int32_t session_ms, int32_t rebalance_ms, bool require_known,
          waiter_t *w, int64_t now)
{
        rill__gc_proto_in_t p[4];
        char names[4][64];
        rill__gc_join_req_t req;
        int n = 0;
        memset(&req, 0, sizeof(req));
        for (; protos && protos[n] && n < 4; n++) {
                const char *colon = strchr(protos[n], ':');
                size_t nl = colon ? (size_t)(colon - protos[n]) : strlen(protos[n]);
                memcpy(names[n], protos[n], nl);
                names[n][nl] = '\0';
                p[n].name = S(names[n]);
                p[n].meta = S(colon ? colon + 1 : "");
        }
        req.group_id = S(group);
        req.session_timeout_ms = session_ms;
        req.rebalance_timeout_ms = rebalance_ms;
        req.member_id = S(member_id ? member_id : "");
        req.instance_id = S(instance);
        req.protocol_type = S(ptype);
        req.protos = p;
        req.proto_cnt = n;
        req.client_id = S("client");
        req.client_host = "/127.0.0.1";
        req.require_known_member_id = require_known;
        memset(w, 0, sizeof(*w));
        rill__gc_join(H.gc, &req, w, now);
}

static const char *const RANGE[] = {"range:m", NULL};

static void
join(const char *group, const char *member_id, waiter_t *w, int64_t now)
{
        join_full(group, member_id, NULL, "consumer", RANGE, 10000, 30000, false, w, now);
}

static void
sync_req(const char *group, int32_t gen, const char *member_id, const char *const *assigns,
         waiter_t *w, int64_t now)
{
        rill__gc_assign_in_t a[8];
        rill__gc_sync_req_t req;
        int n = 0;
        memset(&req, 0, sizeof(req));
        for (; assigns && assigns[n] && n < 8; n += 2) {
                a[n / 2].member_id = S(assigns[n]);
                a[n / 2].assignment = S(assigns[n + 1]);
        }
        req.group_id = S(group);
        req.generation = gen;
        req.member_id = S(member_id);
        req.instance_id = RILL__STR_NULL;
        req.protocol_type = RILL__STR_NULL;
        req.protocol_name = RILL__STR_NULL;
        req.assigns = a;
        req.assign_cnt = n / 2;
        memset(w, 0, sizeof(*w));
        rill__gc_sync(H.gc, &req, w, now);
}

static int16_t
hb(const char *group, int32_t gen, const char *member_id, int64_t now)
{
        return rill__gc_heartbeat(H.gc, S(group), gen, S(member_id), RILL__STR_NULL, now);
}

static int16_t
leave(const char *group, const char *member_id, int64_t now)
{
        rill__gc_leave_in_t in = {S(member_id), RILL__STR_NULL};
        int16_t err = 0, top;
        top = rill__gc_leave(H.gc, S(group), &in, 1, &err, now);
        return top ? top : err;
}

static rill__group_t *
grp(const char *id)
{
        return rill__gc_group_find(H.gc, S(id));
}

static int16_t
commit1(const char *group, int32_t gen, const char *member_id, const char *topic, int32_t part,
        int64_t offset, const char *md, int64_t now)
{
        rill__gc_commit_in_t p;
        rill__gc_commit_req_t req;
        memset(&p, 0, sizeof(p));
        memset(&req, 0, sizeof(req));
        p.topic = S(topic);
        p.partition = part;
        p.offset = offset;
        p.leader_epoch = -1;
        p.metadata = S(md);
        p.commit_ts = -1;
        req.group_id = S(group);
        req.generation = gen;
        req.member_id = S(member_id ? member_id : "");
        req.instance_id = RILL__STR_NULL;
        req.retention_ms = -1;
        req.parts = &p;
        req.part_cnt = 1;
        rill__gc_commit(H.gc, &req, now);
        return p.err;
}

static int64_t
committed(const char *group, const char *topic, int32_t part)
{
        rill__group_t *g = grp(group);
        const rill__goffset_t *o = g ? rill__gc_offset_find(g, S(topic), part) : NULL;
        return o ? o->offset : -1;
}

/* Joins a 1-member group "g" (member A, generation 1) and syncs it. */
static void
stable_one(char *a_id, size_t a_size, int64_t now)
{
        waiter_t w, s;
        const char *asg[3];
        join("g", "", &w, now);
        CU_ASSERT_EQUAL_FATAL(w.calls, 1);
        CU_ASSERT_EQUAL_FATAL(w.err, KERR_NONE);
        snprintf(a_id, a_size, "%s", w.member_id);
        asg[0] = a_id;
        asg[1] = "A0";
        asg[2] = NULL;
        sync_req("g", w.generation, a_id, asg, &s, now);
        CU_ASSERT_EQUAL_FATAL(s.calls, 1);
        CU_ASSERT_EQUAL_FATAL(s.err, KERR_NONE);
}

/* ---- tests ---- */

static void
test_java_hash(void)
{
        static const char poly[] = "polygenelubricants";
        CU_ASSERT_EQUAL(rill__java_string_hash("", 0), 0);
        CU_ASSERT_EQUAL(rill__java_string_hash("a", 1), 97);
        CU_ASSERT_EQUAL(rill__java_string_hash("hello", 5), 99162322);
        /* "polygenelubricants".hashCode() == Integer.MIN_VALUE; Kafka's
         * Utils.abs maps it to 0. */
        CU_ASSERT_EQUAL(rill__java_string_hash(poly, sizeof(poly) - 1), INT32_MIN);
        CU_ASSERT_EQUAL(rill__gc_partition_for(S(poly), 50), 0);
        /* U+00E9 is one UTF-16 unit; U+1F600 is a surrogate pair. */
        CU_ASSERT_EQUAL(rill__java_string_hash("\xc3\xa9", 2), 233);
        CU_ASSERT_EQUAL(rill__java_string_hash("\xf0\x9f\x98\x80", 4), 0xd83d * 31 + 0xde00);
        /* A malformed byte counts as U+FFFD. */
        CU_ASSERT_EQUAL(rill__java_string_hash("\xff", 1), 0xfffd);
        /* "hello" % 50: 99162322 % 50 == 22; a negative hash uses abs. */
        CU_ASSERT_EQUAL(rill__gc_partition_for(S("hello"), 50), 22);
        CU_ASSERT_EQUAL(rill__gc_partition_for(S("hello"), 4), 99162322 % 4);
        {
                /* "Aa" and "BB" collide in Java (2112). */
                CU_ASSERT_EQUAL(rill__java_string_hash("Aa", 2), rill__java_string_hash("BB", 2));
                CU_ASSERT_EQUAL(rill__java_string_hash("Aa", 2), 2112);
        }
        {
                /* A negative hash ("my-group" is -1906497762 in Java). */
                CU_ASSERT_EQUAL(rill__java_string_hash("my-group", 8), -1906497762);
                CU_ASSERT_EQUAL(rill__gc_partition_for(S("my-group"), 7), 1906497762 % 7);
                CU_ASSERT_EQUAL(rill__gc_partition_for(S("my-group"), 4), 2);
        }
}

static void
test_member_id_required_flow(void)
{
        waiter_t w1, w2, s;
        const char *asg[3];
        rill__gc_conf_t c = default_conf();
        harness_init(&c);
        join_full("g", "", NULL, "consumer", RANGE, 10000, 30000, true, &w1, 1000);
        CU_ASSERT_EQUAL(w1.calls, 1);
        CU_ASSERT_EQUAL(w1.err, KERR_MEMBER_ID_REQUIRED);
        CU_ASSERT(strncmp(w1.member_id, "client-", 7) == 0);
        CU_ASSERT_EQUAL(strlen(w1.member_id), 7 + 36);
        CU_ASSERT_PTR_NOT_NULL_FATAL(grp("g"));
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 0);
        CU_ASSERT_EQUAL(grp("g")->pending_cnt, 1);

        join_full("g", w1.member_id, NULL, "consumer", RANGE, 10000, 30000, true, &w2, 1001);
        CU_ASSERT_EQUAL(w2.calls, 1);
        CU_ASSERT_EQUAL(w2.err, KERR_NONE);
        CU_ASSERT_EQUAL(w2.generation, 1);
        CU_ASSERT_STRING_EQUAL(w2.member_id, w1.member_id);
        CU_ASSERT_STRING_EQUAL(w2.leader, w1.member_id);
        CU_ASSERT_STRING_EQUAL(w2.protocol, "range");
        CU_ASSERT_EQUAL(w2.member_cnt, 1);
        CU_ASSERT_STRING_EQUAL(w2.member_meta[0], "m");
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_COMPLETING);
        CU_ASSERT_EQUAL(grp("g")->pending_cnt, 0);

        asg[0] = w1.member_id;
        asg[1] = "ASSIGN";
        asg[2] = NULL;
        sync_req("g", 1, w1.member_id, asg, &s, 1002);
        CU_ASSERT_EQUAL(s.calls, 1);
        CU_ASSERT_EQUAL(s.err, KERR_NONE);
        CU_ASSERT_EQUAL(s.assign_len, 6);
        CU_ASSERT(memcmp(s.assign, "ASSIGN", 6) == 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        /* The assignment was persisted as group metadata. */
        CU_ASSERT(H.recs >= 1);
        harness_fini();
}

static void
test_join_three_members_and_sync(void)
{
        waiter_t a, b, c, a2, sa, sb, sc;
        char aid[256], bid[256], cid[256];
        const char *asg[7];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);

        join("g", "", &a, 0);
        CU_ASSERT_EQUAL_FATAL(a.err, KERR_NONE);
        CU_ASSERT_EQUAL(a.generation, 1);
        snprintf(aid, sizeof(aid), "%s", a.member_id);

        /* B joins: rebalance; B waits for A to rejoin. */
        join("g", "", &b, 10);
        CU_ASSERT_EQUAL(b.calls, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        CU_ASSERT_EQUAL(hb("g", 1, aid, 11), KERR_REBALANCE_IN_PROGRESS);
        /* C joins too before A rejoins. */
        join("g", "", &c, 12);
        CU_ASSERT_EQUAL(c.calls, 0);
        join("g", aid, &a2, 20);
        CU_ASSERT_EQUAL(a2.calls, 1);
        CU_ASSERT_EQUAL(b.calls, 1);
        CU_ASSERT_EQUAL(c.calls, 1);
        CU_ASSERT_EQUAL(a2.generation, 2);
        CU_ASSERT_EQUAL(b.generation, 2);
        CU_ASSERT_EQUAL(c.generation, 2);
        /* The first joiner stays leader and alone gets the member list. */
        CU_ASSERT_STRING_EQUAL(a2.leader, aid);
        CU_ASSERT_STRING_EQUAL(b.leader, aid);
        CU_ASSERT_EQUAL(a2.member_cnt, 3);
        CU_ASSERT_EQUAL(b.member_cnt, 0);
        CU_ASSERT_EQUAL(c.member_cnt, 0);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        snprintf(cid, sizeof(cid), "%s", c.member_id);
        CU_ASSERT(strcmp(aid, bid) != 0 && strcmp(bid, cid) != 0);

        /* Followers park until the leader's assignment arrives. */
        sync_req("g", 2, bid, NULL, &sb, 30);
        CU_ASSERT_EQUAL(sb.calls, 0);
        sync_req("g", 2, cid, NULL, &sc, 31);
        CU_ASSERT_EQUAL(sc.calls, 0);
        CU_ASSERT_EQUAL(hb("g", 2, bid, 32), KERR_NONE);
        asg[0] = aid;
        asg[1] = "pa";
        asg[2] = bid;
        asg[3] = "pb";
        asg[4] = NULL; /* C gets nothing: an empty assignment */
        sync_req("g", 2, aid, asg, &sa, 40);
        CU_ASSERT_EQUAL(sa.calls, 1);
        CU_ASSERT_EQUAL(sb.calls, 1);
        CU_ASSERT_EQUAL(sc.calls, 1);
        CU_ASSERT_EQUAL(sa.err, KERR_NONE);
        CU_ASSERT_EQUAL(sb.err, KERR_NONE);
        CU_ASSERT_EQUAL(sc.err, KERR_NONE);
        CU_ASSERT(sa.assign_len == 2 && memcmp(sa.assign, "pa", 2) == 0);
        CU_ASSERT(sb.assign_len == 2 && memcmp(sb.assign, "pb", 2) == 0);
        CU_ASSERT_EQUAL(sc.assign_len, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        /* A SyncGroup in Stable returns the stored assignment. */
        sync_req("g", 2, bid, NULL, &sb, 50);
        CU_ASSERT(sb.calls == 1 && sb.err == KERR_NONE && sb.assign_len == 2);
        /* A follower rejoining with unchanged metadata in Stable gets the
         * current generation without a rebalance. */
        join("g", cid, &c, 60);
        CU_ASSERT_EQUAL(c.calls, 1);
        CU_ASSERT_EQUAL(c.generation, 2);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        harness_fini();
}

static void
test_leader_rejoin_and_leader_change(void)
{
        waiter_t a, b, a2, b2, s;
        char aid[256], bid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 10);
        join("g", aid, &a2, 11);
        CU_ASSERT_EQUAL_FATAL(b.calls, 1);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        sync_req("g", 2, aid, NULL, &s, 12);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        /* The leader rejoining in Stable forces a rebalance (so it can
         * react to topic metadata changes). */
        join("g", aid, &a, 20);
        CU_ASSERT_EQUAL(a.calls, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        /* The leader leaves while preparing: B becomes leader once it
         * rejoins; A's parked join is answered. */
        CU_ASSERT_EQUAL(leave("g", aid, 21), KERR_NONE);
        CU_ASSERT_EQUAL(a.calls, 1);
        CU_ASSERT_EQUAL(a.err, KERR_UNKNOWN_MEMBER_ID);
        join("g", bid, &b2, 22);
        CU_ASSERT_EQUAL(b2.calls, 1);
        CU_ASSERT_EQUAL(b2.generation, 3);
        CU_ASSERT_STRING_EQUAL(b2.leader, bid);
        CU_ASSERT_EQUAL(b2.member_cnt, 1);
        harness_fini();
}

static void
test_protocol_selection(void)
{
        static const char *const a_p[] = {"range:ra", "roundrobin:rra", NULL};
        static const char *const b_p[] = {"roundrobin:rrb", "range:rb", NULL};
        static const char *const c_p[] = {"roundrobin:rrc", NULL};
        static const char *const d_p[] = {"sticky:x", NULL};
        waiter_t a, b, c, d, a2, b2;
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        /* A alone: its first choice. */
        join_full("g", "", NULL, "consumer", a_p, 10000, 30000, false, &a, 0);
        CU_ASSERT_STRING_EQUAL(a.protocol, "range");
        /* With B and C (C supports only roundrobin): roundrobin, and the
         * leader sees each member's metadata for it. */
        join_full("g", "", NULL, "consumer", b_p, 10000, 30000, false, &b, 1);
        join_full("g", "", NULL, "consumer", c_p, 10000, 30000, false, &c, 2);
        join_full("g", a.member_id, NULL, "consumer", a_p, 10000, 30000, false, &a2, 3);
        CU_ASSERT_EQUAL_FATAL(a2.calls, 1);
        CU_ASSERT_STRING_EQUAL(a2.protocol, "roundrobin");
        CU_ASSERT_STRING_EQUAL(b.protocol, "roundrobin");
        CU_ASSERT_EQUAL_FATAL(a2.member_cnt, 3);
        CU_ASSERT_STRING_EQUAL(a2.member_meta[0], "rra");
        CU_ASSERT_STRING_EQUAL(a2.member_meta[1], "rrb");
        CU_ASSERT_STRING_EQUAL(a2.member_meta[2], "rrc");
        /* A member with no common protocol, or another protocol type, is refused. */
        join_full("g", "", NULL, "consumer", d_p, 10000, 30000, false, &d, 4);
        CU_ASSERT_EQUAL(d.calls, 1);
        CU_ASSERT_EQUAL(d.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
        join_full("g", "", NULL, "connect", c_p, 10000, 30000, false, &d, 5);
        CU_ASSERT_EQUAL(d.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 3);
        /* Empty protocol lists are refused outright. */
        join_full("h", "", NULL, "consumer", NULL, 10000, 30000, false, &d, 6);
        CU_ASSERT_EQUAL(d.err, KERR_INCONSISTENT_GROUP_PROTOCOL);
        CU_ASSERT_PTR_NULL(grp("h"));
        harness_fini();

        /* Majority vote: B and C prefer range, A roundrobin. */
        harness_init(&conf);
        {
                static const char *const x[] = {"roundrobin:1", "range:1", NULL};
                static const char *const y[] = {"range:2", "roundrobin:2", NULL};
                join_full("v", "", NULL, "consumer", x, 10000, 30000, false, &a, 0);
                join_full("v", "", NULL, "consumer", y, 10000, 30000, false, &b, 1);
                join_full("v", "", NULL, "consumer", y, 10000, 30000, false, &c, 2);
                join_full("v", a.member_id, NULL, "consumer", x, 10000, 30000, false, &a2, 3);
                CU_ASSERT_STRING_EQUAL(a2.protocol, "range");
                CU_ASSERT_STRING_EQUAL(grp("v")->protocol, "range");
                (void)b2;
        }
        harness_fini();
}

static void
test_heartbeat_expiry_rebalance(void)
{
        waiter_t b, a2, s;
        char aid[256], bid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 100);
        join("g", aid, &a2, 100);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        sync_req("g", 2, aid, NULL, &s, 100);
        sync_req("g", 2, bid, NULL, &s, 100);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        /* A heartbeats, B goes silent: B's 10 s session ends at 10100. */
        CU_ASSERT_EQUAL(hb("g", 2, aid, 5000), KERR_NONE);
        rill__gc_tick(H.gc, 10099, false);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 2);
        CU_ASSERT_EQUAL(hb("g", 2, aid, 10000), KERR_NONE);
        rill__gc_tick(H.gc, 10100, false);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 1);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        CU_ASSERT_EQUAL(hb("g", 2, bid, 10101), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(hb("g", 2, aid, 10102), KERR_REBALANCE_IN_PROGRESS);
        join("g", aid, &a2, 10103);
        CU_ASSERT_EQUAL(a2.calls, 1);
        CU_ASSERT_EQUAL(a2.generation, 3);
        CU_ASSERT_EQUAL(a2.member_cnt, 1);
        /* The last member's session expiring empties the group. */
        rill__gc_tick(H.gc, 10103 + 10000, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(grp("g"));
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_EMPTY);
        CU_ASSERT_EQUAL(grp("g")->generation, 4);
        harness_fini();
}

static void
test_leave_rebalance(void)
{
        waiter_t b, a2, s;
        char aid[256], bid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 1);
        join("g", aid, &a2, 2);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        sync_req("g", 2, aid, NULL, &s, 3);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        CU_ASSERT_EQUAL(leave("g", bid, 4), KERR_NONE);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        CU_ASSERT_EQUAL(leave("g", bid, 5), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(leave("nope", bid, 5), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(leave("", bid, 5), KERR_INVALID_GROUP_ID);
        join("g", aid, &a2, 6);
        CU_ASSERT_EQUAL(a2.generation, 3);
        CU_ASSERT_EQUAL(a2.member_cnt, 1);
        /* The last member leaving: Empty, next generation, persisted. */
        H.recs = 0;
        CU_ASSERT_EQUAL(leave("g", aid, 7), KERR_NONE);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_EMPTY);
        CU_ASSERT_EQUAL(grp("g")->generation, 4);
        CU_ASSERT_EQUAL(H.recs, 1);
        harness_fini();
}

static void
test_illegal_generation_unknown_member(void)
{
        waiter_t w, s;
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        CU_ASSERT_EQUAL(hb("g", 0, aid, 1), KERR_ILLEGAL_GENERATION);
        CU_ASSERT_EQUAL(hb("g", 2, aid, 1), KERR_ILLEGAL_GENERATION);
        CU_ASSERT_EQUAL(hb("g", 1, aid, 1), KERR_NONE);
        CU_ASSERT_EQUAL(hb("g", 1, "bogus", 1), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(hb("nogroup", 1, aid, 1), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(hb("", 1, aid, 1), KERR_INVALID_GROUP_ID);
        sync_req("g", 7, aid, NULL, &s, 2);
        CU_ASSERT_EQUAL(s.err, KERR_ILLEGAL_GENERATION);
        sync_req("g", 1, "bogus", NULL, &s, 2);
        CU_ASSERT_EQUAL(s.err, KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(commit1("g", 0, aid, "t", 0, 5, "", 3), KERR_ILLEGAL_GENERATION);
        CU_ASSERT_EQUAL(commit1("g", 1, "bogus", "t", 0, 5, "", 3), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(committed("g", "t", 0), -1);
        /* Joining with an unknown member id. */
        join("g", "bogus", &w, 4);
        CU_ASSERT_EQUAL(w.err, KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_STRING_EQUAL(w.member_id, "bogus");
        join("nogroup", "bogus", &w, 4);
        CU_ASSERT_EQUAL(w.err, KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_PTR_NULL(grp("nogroup"));
        /* Session timeout bounds. */
        join_full("g", "", NULL, "consumer", RANGE, 999, 30000, false, &w, 5);
        CU_ASSERT_EQUAL(w.err, KERR_INVALID_SESSION_TIMEOUT);
        join_full("g", "", NULL, "consumer", RANGE, 600001, 30000, false, &w, 5);
        CU_ASSERT_EQUAL(w.err, KERR_INVALID_SESSION_TIMEOUT);
        join("", "", &w, 5);
        CU_ASSERT_EQUAL(w.err, KERR_INVALID_GROUP_ID);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        harness_fini();
}

static void
test_static_member_rejoin(void)
{
        static const char *const p1[] = {"range:m", NULL};
        static const char *const p2[] = {"range:changed", NULL};
        waiter_t a, b, a2, s, sa, sb, r;
        char aid[256], bid[256];
        const char *asg[5];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        /* A is static ("inst-a"): no MEMBER_ID_REQUIRED round even on v4+. */
        join_full("g", "", "inst-a", "consumer", p1, 10000, 30000, true, &a, 0);
        CU_ASSERT_EQUAL_FATAL(a.err, KERR_NONE);
        CU_ASSERT(strncmp(a.member_id, "inst-a-", 7) == 0);
        snprintf(aid, sizeof(aid), "%s", a.member_id);
        join("g", "", &b, 1);
        join_full("g", aid, "inst-a", "consumer", p1, 10000, 30000, true, &a2, 2);
        CU_ASSERT_EQUAL_FATAL(b.calls, 1);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        asg[0] = aid;
        asg[1] = "AA";
        asg[2] = bid;
        asg[3] = "BB";
        asg[4] = NULL;
        sync_req("g", 2, aid, asg, &sa, 3);
        sync_req("g", 2, bid, NULL, &sb, 3);
        CU_ASSERT_EQUAL_FATAL(grp("g")->state, RILL__GS_STABLE);

        /* A restarts: joins with no member id and the same instance id and
         * metadata. It gets a new member id at the same generation, with no
         * rebalance, and the old leader id (so it runs no assignment). */
        join_full("g", "", "inst-a", "consumer", p1, 10000, 30000, true, &r, 10);
        CU_ASSERT_EQUAL(r.calls, 1);
        CU_ASSERT_EQUAL(r.err, KERR_NONE);
        CU_ASSERT_EQUAL(r.generation, 2);
        CU_ASSERT(strcmp(r.member_id, aid) != 0);
        CU_ASSERT_STRING_EQUAL(r.leader, aid);
        CU_ASSERT_EQUAL(r.member_cnt, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 2);
        /* The old member id is fenced, the new one works and keeps A's assignment. */
        CU_ASSERT_EQUAL(rill__gc_heartbeat(H.gc, S("g"), 2, S(aid), S("inst-a"), 11),
                        KERR_FENCED_INSTANCE_ID);
        CU_ASSERT_EQUAL(rill__gc_heartbeat(H.gc, S("g"), 2, S(r.member_id), S("inst-a"), 11),
                        KERR_NONE);
        CU_ASSERT_EQUAL(rill__gc_heartbeat(H.gc, S("g"), 2, S(r.member_id), S("inst-x"), 11),
                        KERR_UNKNOWN_MEMBER_ID);
        sync_req("g", 2, r.member_id, NULL, &s, 12);
        CU_ASSERT(s.err == KERR_NONE && s.assign_len == 2 && memcmp(s.assign, "AA", 2) == 0);
        {
                /* Joining with the stale member id and the instance id: fenced. */
                waiter_t f;
                join_full("g", aid, "inst-a", "consumer", p1, 10000, 30000, true, &f, 13);
                CU_ASSERT_EQUAL(f.err, KERR_FENCED_INSTANCE_ID);
        }
        /* With changed metadata the replacement triggers a rebalance. */
        join_full("g", "", "inst-a", "consumer", p2, 10000, 30000, true, &r, 20);
        CU_ASSERT_EQUAL(r.calls, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        join("g", bid, &b, 21);
        CU_ASSERT_EQUAL(r.calls, 1);
        CU_ASSERT_EQUAL(b.calls, 1);
        CU_ASSERT_EQUAL(r.generation, 3);
        /* Static members are removed by LeaveGroup with the instance id only. */
        {
                rill__gc_leave_in_t in = {S(""), S("inst-a")};
                int16_t err = -1;
                CU_ASSERT_EQUAL(rill__gc_leave(H.gc, S("g"), &in, 1, &err, 22), KERR_NONE);
                CU_ASSERT_EQUAL(err, KERR_NONE);
                CU_ASSERT_EQUAL(grp("g")->member_cnt, 1);
                CU_ASSERT_EQUAL(rill__gc_leave(H.gc, S("g"), &in, 1, &err, 23), KERR_NONE);
                CU_ASSERT_EQUAL(err, KERR_UNKNOWN_MEMBER_ID);
        }
        harness_fini();
}

static void
test_rebalance_timeout_kicks_members(void)
{
        waiter_t b, c, a2, s;
        char aid[256], bid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 1);
        join("g", aid, &a2, 2);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        sync_req("g", 2, aid, NULL, &s, 3);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        /* C joins at 1000: the rebalance waits up to 30 s for A and B. */
        join("g", "", &c, 1000);
        join("g", aid, &a2, 1001);
        CU_ASSERT_EQUAL(c.calls, 0);
        CU_ASSERT_EQUAL(a2.calls, 0);
        /* B keeps heartbeating (so its session lives) but never rejoins. */
        for (int64_t t = 2000; t < 31000; t += 3000)
                CU_ASSERT_EQUAL(hb("g", 2, bid, t), KERR_REBALANCE_IN_PROGRESS);
        rill__gc_tick(H.gc, 30999, false);
        CU_ASSERT_EQUAL(c.calls, 0);
        rill__gc_tick(H.gc, 31000, false);
        CU_ASSERT_EQUAL(c.calls, 1);
        CU_ASSERT_EQUAL(a2.calls, 1);
        CU_ASSERT_EQUAL(a2.generation, 3);
        CU_ASSERT_EQUAL(a2.member_cnt, 2);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 2);
        CU_ASSERT_EQUAL(hb("g", 3, bid, 31001), KERR_UNKNOWN_MEMBER_ID);
        harness_fini();
}

static void
test_sync_deadline_removes_silent_members(void)
{
        waiter_t b, a2, sa;
        char aid[256], bid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 1);
        join("g", aid, &a2, 2);
        snprintf(bid, sizeof(bid), "%s", b.member_id);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_COMPLETING);
        /* Only the leader syncs; B never does within the rebalance timeout
         * (30 s), though it heartbeats. */
        sync_req("g", 2, aid, NULL, &sa, 3);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        for (int64_t t = 5000; t < 30002; t += 5000) {
                CU_ASSERT_EQUAL(hb("g", 2, bid, t), KERR_NONE);
                CU_ASSERT_EQUAL(hb("g", 2, aid, t), KERR_NONE);
        }
        rill__gc_tick(H.gc, 30001, false);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_STABLE);
        rill__gc_tick(H.gc, 30002, false);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 1);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        harness_fini();
}

static void
test_initial_rebalance_delay(void)
{
        waiter_t a, b, c;
        rill__gc_conf_t conf = default_conf();
        conf.initial_rebalance_delay_ms = 3000;
        harness_init(&conf);
        /* Rebalance timeout 10 s: delay 3 s, extended while members arrive,
         * never beyond the rebalance timeout. */
        join_full("g", "", NULL, "consumer", RANGE, 10000, 10000, false, &a, 0);
        CU_ASSERT_EQUAL(a.calls, 0);
        join("g", "", &b, 1000);
        rill__gc_tick(H.gc, 2999, false);
        CU_ASSERT_EQUAL(a.calls, 0);
        rill__gc_tick(H.gc, 3000, false);          /* extended to 6000 */
        CU_ASSERT_EQUAL(a.calls, 0);
        join("g", "", &c, 5000);
        rill__gc_tick(H.gc, 5999, false);
        CU_ASSERT_EQUAL(a.calls, 0);
        rill__gc_tick(H.gc, 6000, false);          /* extended to 9000 (cap 10 s) */
        CU_ASSERT_EQUAL(a.calls, 0);
        rill__gc_tick(H.gc, 9000, false);
        CU_ASSERT_EQUAL(a.calls, 1);
        CU_ASSERT_EQUAL(b.calls, 1);
        CU_ASSERT_EQUAL(c.calls, 1);
        CU_ASSERT_EQUAL(a.generation, 1);
        CU_ASSERT_EQUAL(a.member_cnt, 3);
        harness_fini();
}

static void
test_pending_member_expiry(void)
{
        waiter_t a, b, a2;
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        /* B asks for a member id (v4) but never comes back: the pending id
         * holds the rebalance until it expires (B's session timeout). */
        join_full("g", "", NULL, "consumer", RANGE, 10000, 30000, true, &b, 100);
        CU_ASSERT_EQUAL(b.err, KERR_MEMBER_ID_REQUIRED);
        /* Another new member triggers a rebalance; A rejoins. */
        join("g", "", &a, 200);
        join("g", aid, &a2, 300);
        CU_ASSERT_EQUAL(a2.calls, 0);
        rill__gc_tick(H.gc, 10099, false);
        CU_ASSERT_EQUAL(a2.calls, 0);
        rill__gc_tick(H.gc, 10100, false);
        CU_ASSERT_EQUAL(a2.calls, 1);
        CU_ASSERT_EQUAL(a2.member_cnt, 2);
        CU_ASSERT_EQUAL(grp("g")->pending_cnt, 0);
        harness_fini();
}

static void
test_waiters_answered_once(void)
{
        waiter_t b, b_dup, a2, sb;
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        join("g", "", &b, 1);
        CU_ASSERT_EQUAL(b.calls, 0);
        /* B's client retries its JoinGroup: the older request is answered. */
        {
                char bid[256];
                snprintf(bid, sizeof(bid), "%s", grp("g")->members->next->member_id);
                join("g", bid, &b_dup, 2);
                CU_ASSERT_EQUAL(b.calls, 1);
                CU_ASSERT_EQUAL(b.err, KERR_REBALANCE_IN_PROGRESS);
                CU_ASSERT_EQUAL(b_dup.calls, 0);
                join("g", aid, &a2, 3);
                CU_ASSERT_EQUAL(b_dup.calls, 1);
                CU_ASSERT_EQUAL(b.calls, 1);
                /* B parks in SyncGroup; a new join resets the rebalance and
                 * answers it with REBALANCE_IN_PROGRESS. */
                sync_req("g", 2, bid, NULL, &sb, 4);
                CU_ASSERT_EQUAL(sb.calls, 0);
                join("g", "", &b, 5);
                CU_ASSERT_EQUAL(sb.calls, 1);
                CU_ASSERT_EQUAL(sb.err, KERR_REBALANCE_IN_PROGRESS);
        }
        /* B and A are parked again (new member waits); shutdown hands
         * every parked waiter back exactly once. */
        {
                char bid[256];
                waiter_t a3;
                snprintf(bid, sizeof(bid), "%s", grp("g")->members->next->member_id);
                join("g", bid, &b_dup, 6);
                (void)a3;
        }
        rill__gc_drop_waiters(H.gc, drop_cb, NULL);
        CU_ASSERT_EQUAL(H.dropped, 2); /* the new member and B; A never rejoined */
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 0);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_EMPTY);
        harness_fini();
}

static void
test_max_group_size(void)
{
        waiter_t a, b;
        rill__gc_conf_t conf = default_conf();
        conf.max_size = 1;
        harness_init(&conf);
        join("g", "", &a, 0);
        CU_ASSERT_EQUAL(a.err, KERR_NONE);
        join("g", "", &b, 1);
        CU_ASSERT_EQUAL(b.err, KERR_GROUP_MAX_SIZE_REACHED);
        CU_ASSERT_EQUAL(grp("g")->member_cnt, 1);
        harness_fini();
}

static void
test_commit_fetch(void)
{
        waiter_t b;
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        /* Simple commits (generation -1, no member) create the group. */
        CU_ASSERT_EQUAL(commit1("simple", -1, NULL, "t", 0, 42, "md", 5), KERR_NONE);
        CU_ASSERT_EQUAL(committed("simple", "t", 0), 42);
        CU_ASSERT_EQUAL(commit1("simple", -1, NULL, "t", 0, 43, NULL, 6), KERR_NONE);
        CU_ASSERT_EQUAL(committed("simple", "t", 0), 43);
        CU_ASSERT_STRING_EQUAL(rill__gc_offset_find(grp("simple"), S("t"), 0)->metadata, "");
        CU_ASSERT_EQUAL(rill__gc_offset_find(grp("simple"), S("t"), 0)->commit_ts, 6);
        CU_ASSERT_PTR_NULL(rill__gc_offset_find(grp("simple"), S("t"), 1));
        CU_ASSERT_PTR_NULL(rill__gc_offset_find(grp("simple"), S("u"), 0));
        CU_ASSERT_EQUAL(grp("simple")->state, RILL__GS_EMPTY);
        /* A commit with a generation to a missing group: ILLEGAL_GENERATION. */
        CU_ASSERT_EQUAL(commit1("missing", 3, "m", "t", 0, 1, "", 5), KERR_ILLEGAL_GENERATION);
        CU_ASSERT_PTR_NULL(grp("missing"));

        /* Group-managed commits. */
        stable_one(aid, sizeof(aid), 10);
        for (int p = 7; p >= 0; p--)
                CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", p, 100 + p, "", 11), KERR_NONE);
        for (int p = 0; p < 8; p++)
                CU_ASSERT_EQUAL(committed("g", "orders", p), 100 + p);
        CU_ASSERT_EQUAL(grp("g")->offset_cnt, 8);
        /* Simple commits to a group with members are refused. */
        CU_ASSERT_EQUAL(commit1("g", -1, NULL, "orders", 0, 1, "", 12), KERR_UNKNOWN_MEMBER_ID);
        CU_ASSERT_EQUAL(committed("g", "orders", 0), 100);
        /* Metadata above offset.metadata.max.bytes. */
        {
                char *big = malloc(RILL__GC_MAX_METADATA + 2);
                memset(big, 'x', RILL__GC_MAX_METADATA + 1);
                big[RILL__GC_MAX_METADATA + 1] = '\0';
                CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", 0, 1, big, 13),
                                KERR_OFFSET_METADATA_TOO_LARGE);
                free(big);
        }
        /* An append failure is reported and nothing changes. */
        H.persist_err = KERR_NOT_COORDINATOR;
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", 0, 999, "", 14), KERR_NOT_COORDINATOR);
        CU_ASSERT_EQUAL(committed("g", "orders", 0), 100);
        H.persist_err = KERR_NONE;
        /* During CompletingRebalance: REBALANCE_IN_PROGRESS. During
         * PreparingRebalance the current generation may still commit. */
        join("g", "", &b, 20);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_PREPARING);
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", 0, 150, "", 21), KERR_NONE);
        CU_ASSERT_EQUAL(committed("g", "orders", 0), 150);
        {
                waiter_t a2;
                join("g", aid, &a2, 22);
        }
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_COMPLETING);
        CU_ASSERT_EQUAL(commit1("g", 2, aid, "orders", 0, 160, "", 23), KERR_REBALANCE_IN_PROGRESS);
        CU_ASSERT_EQUAL(committed("g", "orders", 0), 150);
        /* Offsets of a deleted topic are tombstoned and forgotten. */
        H.tombstones = 0;
        rill__gc_topic_deleted(H.gc, "orders", 30);
        CU_ASSERT_EQUAL(H.tombstones, 8);
        CU_ASSERT_EQUAL(committed("g", "orders", 3), -1);
        CU_ASSERT_EQUAL(grp("g")->offset_cnt, 0);
        CU_ASSERT_EQUAL(committed("simple", "t", 0), 43);
        harness_fini();
}

static void
test_delete_groups(void)
{
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 0);
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "t", 0, 5, "", 1), KERR_NONE);
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("g"), 2), KERR_NON_EMPTY_GROUP);
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("nope"), 2), KERR_GROUP_ID_NOT_FOUND);
        CU_ASSERT_EQUAL(leave("g", aid, 3), KERR_NONE);
        CU_ASSERT_EQUAL(grp("g")->state, RILL__GS_EMPTY);
        /* A failed append leaves the group in place. */
        H.persist_err = KERR_COORDINATOR_NOT_AVAILABLE;
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("g"), 4), KERR_COORDINATOR_NOT_AVAILABLE);
        CU_ASSERT_PTR_NOT_NULL(grp("g"));
        H.persist_err = KERR_NONE;
        H.tombstones = 0;
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("g"), 5), KERR_NONE);
        CU_ASSERT_EQUAL(H.tombstones, 2); /* one offset + the group */
        CU_ASSERT_PTR_NULL(grp("g"));
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("g"), 6), KERR_GROUP_ID_NOT_FOUND);
        CU_ASSERT_EQUAL(rill__gc_group_count(H.gc), 0);
        harness_fini();
}

static void
test_offsets_expiry(void)
{
        char aid[256];
        rill__gc_conf_t conf = default_conf();
        conf.offsets_retention_ms = 1000000;
        harness_init(&conf);
        CU_ASSERT_EQUAL(commit1("simple", -1, NULL, "t", 0, 1, "", 100), KERR_NONE);
        {
                waiter_t w, s;
                join_full("g", "", NULL, "consumer", RANGE, 600000, 30000, false, &w, 100);
                snprintf(aid, sizeof(aid), "%s", w.member_id);
                sync_req("g", 1, aid, NULL, &s, 100);
                CU_ASSERT_EQUAL(s.err, KERR_NONE);
        }
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "t", 0, 1, "", 100), KERR_NONE);
        CU_ASSERT_EQUAL(hb("g", 1, aid, 500000), KERR_NONE);
        /* Before retention: nothing expires; a group with members never
         * loses offsets to retention. */
        rill__gc_tick(H.gc, 1000099, true);
        CU_ASSERT_EQUAL(committed("simple", "t", 0), 1);
        CU_ASSERT_EQUAL(hb("g", 1, aid, 1000099), KERR_NONE);
        rill__gc_tick(H.gc, 1000100, true);
        CU_ASSERT_PTR_NULL(grp("simple"));
        CU_ASSERT_EQUAL(committed("g", "t", 0), 1);
        harness_fini();
}

static void
test_records_roundtrip(void)
{
        char aid[256];
        rill__gc_t *fresh;
        rill__gc_ops_t ops;
        rill__gc_conf_t conf = default_conf();
        harness_init(&conf);
        stable_one(aid, sizeof(aid), 1000);
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", 3, 77, "meta", 1001), KERR_NONE);
        CU_ASSERT_EQUAL(commit1("g", 1, aid, "orders", 4, 78, "", 1001), KERR_NONE);
        CU_ASSERT_EQUAL(commit1("s", -1, NULL, "x", 0, 5, "", 1002), KERR_NONE);
        CU_ASSERT_EQUAL(commit1("s", -1, NULL, "x", 0, 6, "", 1003), KERR_NONE);
        CU_ASSERT_EQUAL(commit1("gone", -1, NULL, "x", 0, 5, "", 1004), KERR_NONE);
        CU_ASSERT_EQUAL(rill__gc_delete_group(H.gc, S("gone"), 1005), KERR_NONE);
        {
                /* An explicit retention (OffsetCommit v2-4) is written as value v1. */
                rill__gc_commit_in_t p;
                rill__gc_commit_req_t req;
                memset(&p, 0, sizeof(p));
                memset(&req, 0, sizeof(req));
                p.topic = S("y");
                p.offset = 9;
                p.leader_epoch = -1;
                p.metadata = S("");
                p.commit_ts = -1;
                req.group_id = S("s");
                req.generation = -1;
                req.member_id = S("");
                req.instance_id = RILL__STR_NULL;
                req.retention_ms = 5000;
                req.parts = &p;
                req.part_cnt = 1;
                rill__gc_commit(H.gc, &req, 1006);
                CU_ASSERT_EQUAL(p.err, KERR_NONE);
        }
        /* Check one encoded offset record byte by byte (key v1, value v3). */
        {
                const stored_rec_t *r = NULL;
                static const uint8_t key[] = {0, 1, 0, 1, 'g', 0, 6, 'o', 'r', 'd', 'e', 'r', 's',
                                              0, 0, 0, 3};
                for (int i = 0; i < H.log_cnt; i++)
                        if (H.log[i].key_len == sizeof(key) &&
                            memcmp(H.log[i].key, key, sizeof(key)) == 0)
                                r = &H.log[i];
                CU_ASSERT_PTR_NOT_NULL_FATAL(r);
                CU_ASSERT_EQUAL_FATAL(r->val_len, 2 + 8 + 4 + 2 + 4 + 8);
                CU_ASSERT_EQUAL(r->val[1], 3);
                CU_ASSERT_EQUAL(r->val[9], 77);
                CU_ASSERT(memcmp(r->val + 10, "\xff\xff\xff\xff", 4) == 0);
                CU_ASSERT(memcmp(r->val + 14, "\x00\x04meta", 6) == 0);
        }

        /* Replay everything into a fresh coordinator. */
        memset(&ops, 0, sizeof(ops));
        ops.join_done = on_join;
        ops.sync_done = on_sync;
        fresh = rill__gc_new(&conf, &ops);
        for (int i = 0; i < H.log_cnt; i++)
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, H.log[i].key, (int32_t)H.log[i].key_len,
                                                  H.log[i].val,
                                                  H.log[i].val ? (int32_t)H.log[i].val_len : -1),
                                0);
        rill__gc_load_done(fresh, 2000);
        {
                rill__group_t *g = rill__gc_group_find(fresh, S("g"));
                const rill__goffset_t *o;
                CU_ASSERT_PTR_NOT_NULL_FATAL(g);
                CU_ASSERT_EQUAL(g->state, RILL__GS_EMPTY);
                CU_ASSERT_EQUAL(g->generation, 1);
                CU_ASSERT_STRING_EQUAL(g->protocol_type, "consumer");
                CU_ASSERT_EQUAL(g->member_cnt, 0);
                o = rill__gc_offset_find(g, S("orders"), 3);
                CU_ASSERT_PTR_NOT_NULL_FATAL(o);
                CU_ASSERT_EQUAL(o->offset, 77);
                CU_ASSERT_STRING_EQUAL(o->metadata, "meta");
                CU_ASSERT_EQUAL(o->commit_ts, 1001);
                CU_ASSERT_EQUAL(rill__gc_offset_find(g, S("orders"), 4)->offset, 78);
                g = rill__gc_group_find(fresh, S("s"));
                CU_ASSERT_PTR_NOT_NULL_FATAL(g);
                CU_ASSERT_EQUAL(rill__gc_offset_find(g, S("x"), 0)->offset, 6);
                CU_ASSERT_EQUAL(rill__gc_offset_find(g, S("y"), 0)->expire_ts, 1006 + 5000);
                CU_ASSERT_PTR_NULL(rill__gc_group_find(fresh, S("gone")));
                CU_ASSERT_EQUAL(rill__gc_group_count(fresh), 2);
        }
        /* A member rejoining the reloaded group gets the next generation. */
        {
                waiter_t w;
                rill__gc_t *save = H.gc;
                H.gc = fresh;
                join("g", "", &w, 3000);
                CU_ASSERT_EQUAL(w.err, KERR_NONE);
                CU_ASSERT_EQUAL(w.generation, 2);
                H.gc = save;
        }
        rill__gc_drop_waiters(fresh, drop_cb, NULL);
        rill__gc_destroy(fresh);

        /* Malformed and foreign records are refused or skipped. */
        fresh = rill__gc_new(&conf, &ops);
        {
                static const uint8_t bad_key[] = {0, 1, 0, 9, 'g'};
                static const uint8_t txn_key[] = {0, 5, 0, 1, 'x'};
                static const uint8_t ok_key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0};
                static const uint8_t short_val[] = {0, 3, 0, 0};
                static const uint8_t future_val[] = {0, 9, 1, 2, 3};
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, bad_key, sizeof(bad_key), NULL, -1), -1);
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, txn_key, sizeof(txn_key), NULL, -1), 1);
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, ok_key, sizeof(ok_key), short_val,
                                                  sizeof(short_val)), -1);
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, ok_key, sizeof(ok_key), future_val,
                                                  sizeof(future_val)), 1);
                CU_ASSERT_EQUAL(rill__grec_replay(fresh, NULL, 0, NULL, -1), -1);
                CU_ASSERT_EQUAL(rill__gc_group_count(fresh), 0);
        }
        rill__gc_destroy(fresh);
        harness_fini();
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"group_core", NULL, NULL, {
                        {"java_hash", test_java_hash},
                        {"member_id_required_flow", test_member_id_required_flow},
                        {"join_three_members_and_sync", test_join_three_members_and_sync},
                        {"leader_rejoin_and_leader_change", test_leader_rejoin_and_leader_change},
                        {"protocol_selection", test_protocol_selection},
                        {"heartbeat_expiry_rebalance", test_heartbeat_expiry_rebalance},
                        {"leave_rebalance", test_leave_rebalance},
                        {"illegal_generation_unknown_member", test_illegal_generation_unknown_member},
                        {"static_member_rejoin", test_static_member_rejoin},
                        {"rebalance_timeout_kicks_members", test_rebalance_timeout_kicks_members},
                        {"sync_deadline_removes_silent_members",
                         test_sync_deadline_removes_silent_members},
                        {"initial_rebalance_delay", test_initial_rebalance_delay},
                        {"pending_member_expiry", test_pending_member_expiry},
                        {"waiters_answered_once", test_waiters_answered_once},
                        {"max_group_size", test_max_group_size},
                        {"commit_fetch", test_commit_fetch},
                        {"delete_groups", test_delete_groups},
                        {"offsets_expiry", test_offsets_expiry},
                        {"records_roundtrip", test_records_roundtrip},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
