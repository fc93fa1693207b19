/*
 * test_groups.c - consumer groups end to end: librdkafka 2.0.2's high-level
 * consumer against the in-process broker's group coordinator.
 *
 * - rebalance: a group of up to three consumers on an 8-partition topic
 *   grows (1, 2, 3 members) and shrinks (a member leaves, another is killed
 *   without leaving and expires by session timeout) while a producer writes
 *   keyed records. Every record must be consumed (duplicates are allowed
 *   only around rebalances and are counted); at every sampled instant no
 *   partition is assigned to two consumers, and after each rebalance every
 *   partition is assigned to exactly one live member.
 * - restart: committed offsets survive rill_broker_restart(); a new consumer
 *   in the group resumes exactly after them (first record per partition at
 *   the committed offset, nothing below it, nothing missing).
 * - admin: rd_kafka_list_groups() (ListGroups v0 + DescribeGroups v0) shows
 *   a stable group with its members and assignments; the Admin API's
 *   ListConsumerGroups (ListGroups v4, flexible, with a state filter),
 *   DescribeConsumerGroups (DescribeGroups v4), ListConsumerGroupOffsets
 *   (OffsetFetch v7, flexible) and DeleteGroups (NON_EMPTY_GROUP while
 *   members remain, then deleted, then GROUP_ID_NOT_FOUND).
 *
 * Sessions are short (session.timeout.ms 6000, heartbeats every 500 ms;
 * the broker's group.min.session.timeout.ms is lowered) so that a killed
 * member expires within seconds. Every wait has a deadline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill_test.h"
#include "rill_test_kafka.h"

#define DEADLINE_MS 60000
#define NPART 8

static char *g_dir;
static rill_broker_t *g_broker;
static char g_bootstrap[300];
static rd_kafka_t *g_prod;

static int
suite_init(void)
{
        static const char *const overrides[] = {"group.min.session.timeout.ms=1000", NULL};
        g_dir = rill_test_tmpdir("rill-it-groups");
        g_broker = rill_test_broker_start(g_dir, overrides);
        if (!g_broker)
                return -1;
        snprintf(g_bootstrap, sizeof(g_bootstrap), "%s", rill_broker_bootstrap(g_broker));
        g_prod = rill_test_producer_new(g_bootstrap, NULL);
        return g_prod ? 0 : -1;
}

static int
suite_cleanup(void)
{
        rill_test_client_destroy(g_prod);
        g_prod = NULL;
        rill_broker_destroy(g_broker);
        g_broker = NULL;
        rill_test_rmdir(g_dir);
        free(g_dir);
        g_dir = NULL;
        return 0;
}

/* ---- group consumers ---- */

typedef struct member {
        rd_kafka_t *rk;
        int id;
        bool assigned[NPART];
        int rebalances;
        int errors;
} member_t;

typedef struct tracker {
        int n;                  /* records produced so far */
        int cap;
        int *seen;              /* times each record index was consumed */
        int dups;
        int overlaps;           /* sampled instants with a partition owned twice */
        int foreign;            /* records consumed from a partition not assigned */
        char topic[64];
} tracker_t;

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
        member_t *m = opaque;
        m->rebalances++;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++)
                        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < NPART)
                                m->assigned[parts->elems[i].partition] = true;
                rd_kafka_assign(rk, parts);
        } else {
                memset(m->assigned, 0, sizeof(m->assigned));
                rd_kafka_assign(rk, NULL);
        }
}

static rd_kafka_t *
group_consumer_new(const char *group, member_t *m, const char *const *extra)
{
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const char *kv[] = {"bootstrap.servers", g_bootstrap,
                            "group.id", group,
                            "session.timeout.ms", "6000",
                            "heartbeat.interval.ms", "500",
                            "auto.offset.reset", "earliest",
                            "enable.auto.commit", "true",
                            "auto.commit.interval.ms", "200",
                            "log.connection.close", "false",
                            "topic.metadata.refresh.interval.ms", "2000",
                            NULL};
        rd_kafka_t *rk;
        for (int i = 0; kv[i]; i += 2) {
                if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof(err)) !=
                    RD_KAFKA_CONF_OK) {
                        fprintf(stderr, "conf %s: %s\n", kv[i], err);
                        rd_kafka_conf_destroy(conf);
                        return NULL;
                }
        }
        for (int i = 0; extra && extra[i]; i += 2) {
                if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, sizeof(err)) !=
                    RD_KAFKA_CONF_OK) {
                        fprintf(stderr, "conf %s: %s\n", extra[i], err);
                        rd_kafka_conf_destroy(conf);
                        return NULL;
                }
        }
        if (m) {
                rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
                rd_kafka_conf_set_opaque(conf, m);
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "consumer: %s\n", err);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

static bool
subscribe(rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t err;
        rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
                fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static bool
member_start(member_t *m, int id, const char *group, const char *topic)
{
        memset(m, 0, sizeof(*m));
        m->id = id;
        m->rk = group_consumer_new(group, m, NULL);
        return m->rk && subscribe(m->rk, topic);
}

/* Records the consumption of record "v<idx>". */
static void
track(tracker_t *t, member_t *m, const rd_kafka_message_t *msg)
{
        int idx;
        if (msg->partition < 0 || msg->partition >= NPART || !m->assigned[msg->partition])
                t->foreign++;
        if (!msg->payload || msg->len < 2 || ((const char *)msg->payload)[0] != 'v')
                return;
        idx = atoi((const char *)msg->payload + 1);
        if (idx < 0 || idx >= t->cap)
                return;
        if (t->seen[idx]++)
                t->dups++;
}

/* One poll round over the live members; samples the ownership invariant. */
static void
poll_round(member_t **ms, int n, tracker_t *t)
{
        int owners[NPART] = {0};
        for (int i = 0; i < n; i++) {
                rd_kafka_message_t *msg;
                if (!ms[i] || !ms[i]->rk)
                        continue;
                while ((msg = rd_kafka_consumer_poll(ms[i]->rk, 0)) != NULL) {
                        if (msg->err) {
                                if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        ms[i]->errors++;
                        } else {
                                track(t, ms[i], msg);
                        }
                        rd_kafka_message_destroy(msg);
                }
        }
        for (int i = 0; i < n; i++)
                for (int p = 0; ms[i] && ms[i]->rk && p < NPART; p++)
                        owners[p] += ms[i]->assigned[p];
        for (int p = 0; p < NPART; p++)
                if (owners[p] > 1) {
                        t->overlaps++;
                        break;
                }
        rill_test_sleep_ms(2);
}

/* True when every partition is owned by exactly one of the live members
 * and each live member owns at least one. */
static bool
settled(member_t **ms, int n)
{
        int owners[NPART] = {0};
        int live = 0;
        for (int i = 0; i < n; i++) {
                int own = 0;
                if (!ms[i] || !ms[i]->rk)
                        continue;
                live++;
                for (int p = 0; p < NPART; p++) {
                        owners[p] += ms[i]->assigned[p];
                        own += ms[i]->assigned[p];
                }
                if (own == 0)
                        return false;
        }
        for (int p = 0; p < NPART; p++)
                if (owners[p] != 1)
                        return false;
        return live > 0;
}

static bool
wait_settled(member_t **ms, int n, tracker_t *t, int timeout_ms)
{
        /* Settled for a few consecutive rounds: a rebalance that is about to
         * start (heartbeat not yet answered) is not mistaken for the end. */
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        int64_t stable_since = -1;
        while (rill_test_now_ms() < deadline) {
                poll_round(ms, n, t);
                if (settled(ms, n)) {
                        if (stable_since < 0)
                                stable_since = rill_test_now_ms();
                        else if (rill_test_now_ms() - stable_since >= 1500)
                                return true;
                } else {
                        stable_since = -1;
                }
        }
        return false;
}

static int
produce_batch(tracker_t *t, int count)
{
        rill_test_recs_t recs = {0};
        char key[32], val[32];
        int ok;
        for (int i = 0; i < count; i++) {
                snprintf(key, sizeof(key), "key-%d", (t->n + i) % 97);
                snprintf(val, sizeof(val), "v%d", t->n + i);
                rill_test_rec_add_str(&recs, key, val);
        }
        ok = rill_test_produce_all(g_prod, t->topic, &recs, DEADLINE_MS);
        rill_test_recs_free(&recs);
        t->n += count;
        return ok;
}

static int
missing(const tracker_t *t)
{
        int miss = 0;
        for (int i = 0; i < t->n; i++)
                miss += t->seen[i] == 0;
        return miss;
}

static void
test_rebalance_no_loss(void)
{
        const int per_phase = 500, phases = 5;
        static const char *topic = "grp-rebalance";
        static const char *group = "grp-rebalance-g";
        member_t a, b, c;
        member_t *ms[3] = {&a, NULL, NULL};
        tracker_t t;

        memset(&t, 0, sizeof(t));
        snprintf(t.topic, sizeof(t.topic), "%s", topic);
        t.cap = per_phase * phases;
        t.seen = calloc((size_t)t.cap, sizeof(int));
        CU_ASSERT_EQUAL_FATAL(rill_test_create_topic(g_prod, topic, NPART, NULL, DEADLINE_MS),
                              RD_KAFKA_RESP_ERR_NO_ERROR);

        /* One member. */
        CU_ASSERT_FATAL(member_start(&a, 0, group, topic));
        CU_ASSERT_FATAL(wait_settled(ms, 3, &t, DEADLINE_MS));
        CU_ASSERT_EQUAL(produce_batch(&t, per_phase), per_phase);
        /* Two, then three members while records keep coming. */
        CU_ASSERT_FATAL(member_start(&b, 1, group, topic));
        ms[1] = &b;
        CU_ASSERT_EQUAL(produce_batch(&t, per_phase), per_phase);
        CU_ASSERT(wait_settled(ms, 3, &t, DEADLINE_MS));
        CU_ASSERT_FATAL(member_start(&c, 2, group, topic));
        ms[2] = &c;
        CU_ASSERT_EQUAL(produce_batch(&t, per_phase), per_phase);
        CU_ASSERT(wait_settled(ms, 3, &t, DEADLINE_MS));
        {
                /* Three members: each got some partitions. */
                int own[3] = {0};
                for (int i = 0; i < 3; i++)
                        for (int p = 0; p < NPART; p++)
                                own[i] += ms[i]->assigned[p];
                CU_ASSERT(own[0] > 0 && own[1] > 0 && own[2] > 0);
                CU_ASSERT_EQUAL(own[0] + own[1] + own[2], NPART);
        }
        /* B leaves cleanly (LeaveGroup) while records keep coming. */
        rd_kafka_consumer_close(b.rk);
        rd_kafka_destroy(b.rk);
        b.rk = NULL;
        ms[1] = NULL;
        CU_ASSERT_EQUAL(produce_batch(&t, per_phase), per_phase);
        CU_ASSERT(wait_settled(ms, 3, &t, DEADLINE_MS));
        /* C stops polling and is destroyed without leaving: its session
         * (6 s) expires on the broker, A takes over everything. The
         * destroy flag keeps librdkafka from sending LeaveGroup. */
        rd_kafka_destroy_flags(c.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        c.rk = NULL;
        ms[2] = NULL;
        CU_ASSERT_EQUAL(produce_batch(&t, per_phase), per_phase);
        CU_ASSERT(wait_settled(ms, 3, &t, DEADLINE_MS));
        for (int p = 0; p < NPART; p++)
                CU_ASSERT(a.assigned[p]);

        /* Everything produced is consumed. */
        {
                int64_t deadline = rill_test_now_ms() + DEADLINE_MS;
                while (missing(&t) > 0 && rill_test_now_ms() < deadline)
                        poll_round(ms, 3, &t);
        }
        printf("\n    rebalance: %d records, %d missing, %d duplicates, %d/%d/%d rebalance "
               "callbacks\n", t.n, missing(&t), t.dups, a.rebalances, b.rebalances, c.rebalances);
        CU_ASSERT_EQUAL(missing(&t), 0);
        CU_ASSERT_EQUAL(t.overlaps, 0);
        CU_ASSERT_EQUAL(t.foreign, 0);
        CU_ASSERT_EQUAL(a.errors, 0);
        /* Duplicates only come from records re-read after a rebalance: far
         * fewer than were produced. */
        CU_ASSERT(t.dups < t.n / 2);
        rd_kafka_consumer_close(a.rk);
        rd_kafka_destroy(a.rk);
        free(t.seen);
}

/* ---- committed offsets across a broker restart ---- */

static void
test_commit_survives_restart(void)
{
        static const char *topic = "grp-restart";
        static const char *group = "grp-restart-g";
        static const char *const manual[] = {"enable.auto.commit", "false", NULL};
        const int total = 200, first = 120, parts = 4;
        rill_test_recs_t recs = {0}, got = {0};
        rd_kafka_topic_partition_list_t *pos, *committed;
        int64_t committed_at[4] = {0};
        int64_t sum = 0;
        rd_kafka_t *c;
        char err[512];

        CU_ASSERT_EQUAL_FATAL(rill_test_create_topic(g_prod, topic, parts, NULL, DEADLINE_MS),
                              RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int i = 0; i < total; i++) {
                char k[16], v[16];
                snprintf(k, sizeof(k), "k%d", i);
                snprintf(v, sizeof(v), "r%d", i);
                rill_test_rec_add_str(&recs, k, v);
        }
        CU_ASSERT_EQUAL_FATAL(rill_test_produce_all(g_prod, topic, &recs, DEADLINE_MS), total);

        /* Consume some, commit synchronously, leave. */
        c = group_consumer_new(group, NULL, manual);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_FATAL(subscribe(c, topic));
        CU_ASSERT_FATAL(rill_test_consume(c, &got, first, DEADLINE_MS));
        CU_ASSERT_EQUAL(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
        pos = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(pos, topic, p);
        CU_ASSERT_EQUAL(rd_kafka_committed(c, pos, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int p = 0; p < parts; p++) {
                int64_t off = pos->elems[p].offset;
                /* The committed offset is one past the last record consumed. */
                int64_t last = -1;
                for (int i = 0; i < got.cnt; i++)
                        if (got.v[i].partition == p && got.v[i].offset > last)
                                last = got.v[i].offset;
                if (last < 0) {
                        /* Nothing consumed there: nothing committed. */
                        CU_ASSERT_EQUAL(off, RD_KAFKA_OFFSET_INVALID);
                } else {
                        CU_ASSERT_EQUAL(off, last + 1);
                }
                if (off != (last < 0 ? RD_KAFKA_OFFSET_INVALID : last + 1))
                        fprintf(stderr, "partition %d: committed %" PRId64 ", last consumed %"
                                PRId64 "\n", p, off, last);
                committed_at[p] = off;
                sum += off < 0 ? 0 : off;
        }
        CU_ASSERT(sum >= first);
        rd_kafka_topic_partition_list_destroy(pos);
        rill_test_client_destroy(c);
        rill_test_recs_free(&got);

        /* Restart the broker: same port, same data. */
        CU_ASSERT_EQUAL_FATAL(rill_broker_restart(g_broker, err, sizeof(err)), RILL_OK);

        /* The committed offsets are still there... */
        c = group_consumer_new(group, NULL, manual);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        committed = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(committed, topic, p);
        {
                rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
                /* The first attempts may hit the reconnecting client. */
                RILL_WAIT_UNTIL((e = rd_kafka_committed(c, committed, 5000)) ==
                                        RD_KAFKA_RESP_ERR_NO_ERROR,
                                DEADLINE_MS);
                CU_ASSERT_EQUAL(e, RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        for (int p = 0; p < parts; p++)
                CU_ASSERT_EQUAL(committed->elems[p].offset, committed_at[p]);
        rd_kafka_topic_partition_list_destroy(committed);

        /* ...and a new member resumes exactly after them. */
        CU_ASSERT_FATAL(subscribe(c, topic));
        CU_ASSERT(rill_test_consume(c, &got, (int)(total - sum), DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, total - sum);
        for (int p = 0; p < parts; p++) {
                int64_t lowest = INT64_MAX;
                for (int i = 0; i < got.cnt; i++)
                        if (got.v[i].partition == p && got.v[i].offset < lowest)
                                lowest = got.v[i].offset;
                if (lowest != INT64_MAX)
                        CU_ASSERT_EQUAL(lowest, committed_at[p] < 0 ? 0 : committed_at[p]);
        }
        /* Nothing more arrives (no record below the committed offsets). */
        {
                rill_test_recs_t extra = {0};
                CU_ASSERT_FALSE(rill_test_consume(c, &extra, 1, 2000));
                CU_ASSERT_EQUAL(extra.cnt, 0);
                rill_test_recs_free(&extra);
        }
        rill_test_client_destroy(c);
        rill_test_recs_free(&got);
        rill_test_recs_free(&recs);
}

/* ---- ListGroups / DescribeGroups / OffsetFetch / DeleteGroups ---- */

static rd_kafka_event_t *
admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
        int64_t deadline = rill_test_now_ms() + DEADLINE_MS;
        while (rill_test_now_ms() < deadline) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 500);
                if (!ev)
                        continue;
                if (rd_kafka_event_type(ev) == type)
                        return ev;
                rd_kafka_event_destroy(ev);
        }
        return NULL;
}

static void
test_admin_list_describe_delete(void)
{
        static const char *topic = "grp-admin";
        static const char *group = "grp-admin-g";
        member_t a;
        member_t *ms[1] = {&a};
        tracker_t t;
        const struct rd_kafka_group_list *gl = NULL;
        rd_kafka_resp_err_t err;
        rd_kafka_queue_t *q = rd_kafka_queue_new(g_prod);
        rd_kafka_event_t *ev;

        memset(&t, 0, sizeof(t));
        snprintf(t.topic, sizeof(t.topic), "%s", topic);
        t.cap = 100;
        t.seen = calloc((size_t)t.cap, sizeof(int));
        CU_ASSERT_EQUAL_FATAL(rill_test_create_topic(g_prod, topic, NPART, NULL, DEADLINE_MS),
                              RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_FATAL(member_start(&a, 0, group, topic));
        CU_ASSERT_FATAL(wait_settled(ms, 1, &t, DEADLINE_MS));
        CU_ASSERT_EQUAL(produce_batch(&t, 50), 50);
        {
                int64_t deadline = rill_test_now_ms() + DEADLINE_MS;
                while (missing(&t) > 0 && rill_test_now_ms() < deadline)
                        poll_round(ms, 1, &t);
                CU_ASSERT_EQUAL(missing(&t), 0);
        }
        CU_ASSERT_EQUAL(rd_kafka_commit(a.rk, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);

        /* The legacy API: ListGroups v0 then DescribeGroups v0. */
        err = rd_kafka_list_groups(g_prod, group, &gl, 10000);
        CU_ASSERT_EQUAL_FATAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_EQUAL_FATAL(gl->group_cnt, 1);
        CU_ASSERT_STRING_EQUAL(gl->groups[0].group, group);
        CU_ASSERT_STRING_EQUAL(gl->groups[0].state, "Stable");
        CU_ASSERT_STRING_EQUAL(gl->groups[0].protocol_type, "consumer");
        CU_ASSERT_STRING_EQUAL(gl->groups[0].protocol, "range");
        CU_ASSERT_EQUAL(gl->groups[0].broker.id, rill_broker_node_id(g_broker));
        CU_ASSERT_EQUAL_FATAL(gl->groups[0].member_cnt, 1);
        CU_ASSERT(strncmp(gl->groups[0].members[0].member_id, "rdkafka-", 8) == 0);
        CU_ASSERT_STRING_EQUAL(gl->groups[0].members[0].client_host, "/127.0.0.1");
        CU_ASSERT(gl->groups[0].members[0].member_metadata_size > 0);
        CU_ASSERT(gl->groups[0].members[0].member_assignment_size > 0);
        rd_kafka_group_list_destroy(gl);
        /* All groups: the two earlier tests' groups are there too. */
        err = rd_kafka_list_groups(g_prod, NULL, &gl, 10000);
        CU_ASSERT_EQUAL_FATAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        {
                bool found = false;
                for (int i = 0; i < gl->group_cnt; i++)
                        found |= strcmp(gl->groups[i].group, group) == 0;
                CU_ASSERT(found);
        }
        rd_kafka_group_list_destroy(gl);

        /* Admin ListConsumerGroups with a state filter (ListGroups v4). */
        {
                rd_kafka_AdminOptions_t *o =
                        rd_kafka_AdminOptions_new(g_prod, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
                rd_kafka_consumer_group_state_t st[] = {RD_KAFKA_CONSUMER_GROUP_STATE_STABLE};
                const rd_kafka_ListConsumerGroups_result_t *res;
                const rd_kafka_ConsumerGroupListing_t **v;
                size_t n = 0;
                bool found = false;
                rd_kafka_error_t *e = rd_kafka_AdminOptions_set_match_consumer_group_states(o, st, 1);
                CU_ASSERT_PTR_NULL(e);
                if (e)
                        rd_kafka_error_destroy(e);
                rd_kafka_ListConsumerGroups(g_prod, o, q);
                rd_kafka_AdminOptions_destroy(o);
                ev = admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                CU_ASSERT_EQUAL(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR);
                res = rd_kafka_event_ListConsumerGroups_result(ev);
                v = rd_kafka_ListConsumerGroups_result_valid(res, &n);
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(rd_kafka_ConsumerGroupListing_group_id(v[i]), group) == 0) {
                                found = true;
                                CU_ASSERT_EQUAL(rd_kafka_ConsumerGroupListing_state(v[i]),
                                                RD_KAFKA_CONSUMER_GROUP_STATE_STABLE);
                                CU_ASSERT_FALSE(
                                        rd_kafka_ConsumerGroupListing_is_simple_consumer_group(v[i]));
                        } else {
                                /* Only Stable groups pass the filter. */
                                CU_ASSERT_EQUAL(rd_kafka_ConsumerGroupListing_state(v[i]),
                                                RD_KAFKA_CONSUMER_GROUP_STATE_STABLE);
                        }
                }
                CU_ASSERT(found);
                rd_kafka_event_destroy(ev);
        }
        /* Admin DescribeConsumerGroups (DescribeGroups v4). */
        {
                const char *groups[] = {group, "grp-no-such-group"};
                const rd_kafka_DescribeConsumerGroups_result_t *res;
                const rd_kafka_ConsumerGroupDescription_t **d;
                size_t n = 0;
                rd_kafka_DescribeConsumerGroups(g_prod, groups, 2, NULL, q);
                ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                res = rd_kafka_event_DescribeConsumerGroups_result(ev);
                d = rd_kafka_DescribeConsumerGroups_result_groups(res, &n);
                CU_ASSERT_EQUAL_FATAL(n, 2);
                for (size_t i = 0; i < n; i++) {
                        const char *id = rd_kafka_ConsumerGroupDescription_group_id(d[i]);
                        CU_ASSERT_PTR_NULL(rd_kafka_ConsumerGroupDescription_error(d[i]));
                        if (strcmp(id, group) == 0) {
                                const rd_kafka_MemberDescription_t *md;
                                const rd_kafka_topic_partition_list_t *asg;
                                CU_ASSERT_EQUAL(rd_kafka_ConsumerGroupDescription_state(d[i]),
                                                RD_KAFKA_CONSUMER_GROUP_STATE_STABLE);
                                CU_ASSERT_STRING_EQUAL(
                                        rd_kafka_ConsumerGroupDescription_partition_assignor(d[i]),
                                        "range");
                                CU_ASSERT_EQUAL_FATAL(
                                        rd_kafka_ConsumerGroupDescription_member_count(d[i]), 1);
                                md = rd_kafka_ConsumerGroupDescription_member(d[i], 0);
                                asg = rd_kafka_MemberAssignment_partitions(
                                        rd_kafka_MemberDescription_assignment(md));
                                CU_ASSERT_EQUAL(asg->cnt, NPART);
                                CU_ASSERT_EQUAL(rd_kafka_Node_id(
                                                        rd_kafka_ConsumerGroupDescription_coordinator(d[i])),
                                                rill_broker_node_id(g_broker));
                        } else {
                                CU_ASSERT_EQUAL(rd_kafka_ConsumerGroupDescription_state(d[i]),
                                                RD_KAFKA_CONSUMER_GROUP_STATE_DEAD);
                                CU_ASSERT_EQUAL(
                                        rd_kafka_ConsumerGroupDescription_member_count(d[i]), 0);
                        }
                }
                rd_kafka_event_destroy(ev);
        }
        /* Admin ListConsumerGroupOffsets (OffsetFetch v7): what was consumed. */
        {
                rd_kafka_ListConsumerGroupOffsets_t *req[1];
                rd_kafka_topic_partition_list_t *pl = rd_kafka_topic_partition_list_new(NPART);
                const rd_kafka_ListConsumerGroupOffsets_result_t *res;
                const rd_kafka_group_result_t **gr;
                const rd_kafka_topic_partition_list_t *got;
                size_t n = 0;
                int64_t total = 0, low, high;
                for (int p = 0; p < NPART; p++)
                        rd_kafka_topic_partition_list_add(pl, topic, p);
                req[0] = rd_kafka_ListConsumerGroupOffsets_new(group, pl);
                rd_kafka_topic_partition_list_destroy(pl);
                rd_kafka_ListConsumerGroupOffsets(g_prod, req, 1, NULL, q);
                rd_kafka_ListConsumerGroupOffsets_destroy(req[0]);
                ev = admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                res = rd_kafka_event_ListConsumerGroupOffsets_result(ev);
                gr = rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n);
                CU_ASSERT_EQUAL_FATAL(n, 1);
                CU_ASSERT_PTR_NULL(rd_kafka_group_result_error(gr[0]));
                got = rd_kafka_group_result_partitions(gr[0]);
                CU_ASSERT_EQUAL_FATAL(got->cnt, NPART);
                for (int i = 0; i < got->cnt; i++) {
                        CU_ASSERT_EQUAL(got->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
                        CU_ASSERT_EQUAL(rill_test_watermarks(g_prod, topic, got->elems[i].partition,
                                                             &low, &high),
                                        RD_KAFKA_RESP_ERR_NO_ERROR);
                        /* Everything was consumed and committed: at the end. */
                        if (high > 0)
                                CU_ASSERT_EQUAL(got->elems[i].offset, high);
                        total += high;
                }
                CU_ASSERT_EQUAL(total, 50);
                rd_kafka_event_destroy(ev);
        }
        /* DeleteGroups: refused while the member is there, then done. */
        {
                rd_kafka_DeleteGroup_t *dg[1];
                const rd_kafka_DeleteGroups_result_t *res;
                const rd_kafka_group_result_t **gr;
                size_t n = 0;
                int64_t deadline;
                dg[0] = rd_kafka_DeleteGroup_new(group);
                rd_kafka_DeleteGroups(g_prod, dg, 1, NULL, q);
                ev = admin_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                res = rd_kafka_event_DeleteGroups_result(ev);
                gr = rd_kafka_DeleteGroups_result_groups(res, &n);
                CU_ASSERT_EQUAL_FATAL(n, 1);
                CU_ASSERT_PTR_NOT_NULL_FATAL(rd_kafka_group_result_error(gr[0]));
                CU_ASSERT_EQUAL(rd_kafka_error_code(rd_kafka_group_result_error(gr[0])),
                                RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP);
                rd_kafka_event_destroy(ev);

                rd_kafka_consumer_close(a.rk);
                rd_kafka_destroy(a.rk);
                a.rk = NULL;
                /* The member's LeaveGroup empties the group; then it can go. */
                deadline = rill_test_now_ms() + DEADLINE_MS;
                err = RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP;
                while (err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP && rill_test_now_ms() < deadline) {
                        rd_kafka_DeleteGroups(g_prod, dg, 1, NULL, q);
                        ev = admin_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
                        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                        gr = rd_kafka_DeleteGroups_result_groups(
                                rd_kafka_event_DeleteGroups_result(ev), &n);
                        err = rd_kafka_group_result_error(gr[0])
                                      ? rd_kafka_error_code(rd_kafka_group_result_error(gr[0]))
                                      : RD_KAFKA_RESP_ERR_NO_ERROR;
                        rd_kafka_event_destroy(ev);
                        if (err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
                                rill_test_sleep_ms(100);
                }
                CU_ASSERT_EQUAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
                rd_kafka_DeleteGroups(g_prod, dg, 1, NULL, q);
                ev = admin_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
                gr = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev),
                                                         &n);
                CU_ASSERT_PTR_NOT_NULL(rd_kafka_group_result_error(gr[0]));
                if (rd_kafka_group_result_error(gr[0]))
                        CU_ASSERT_EQUAL(rd_kafka_error_code(rd_kafka_group_result_error(gr[0])),
                                        RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND);
                rd_kafka_event_destroy(ev);
                rd_kafka_DeleteGroup_destroy(dg[0]);
        }
        /* The deleted group's offsets are gone. */
        err = rd_kafka_list_groups(g_prod, group, &gl, 10000);
        CU_ASSERT_EQUAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        if (!err) {
                CU_ASSERT_EQUAL(gl->group_cnt, 0);
                rd_kafka_group_list_destroy(gl);
        }
        rd_kafka_queue_destroy(q);
        free(t.seen);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"groups", suite_init, suite_cleanup, {
                        {"rebalance_no_loss", test_rebalance_no_loss},
                        {"commit_survives_restart", test_commit_survives_restart},
                        {"admin_list_describe_delete", test_admin_list_describe_delete},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
