/*
 * test_admin.c - librdkafka's Admin API against the in-process broker.
 *
 * Drives every admin call a librdkafka 2.0.2 application can make to a
 * broker: CreateTopics (with configs, validate_only, bad names, existing
 * topics, too large a replication factor), CreatePartitions, DescribeConfigs
 * (topic and broker resources, config sources and synonyms), AlterConfigs,
 * DeleteRecords (checked with the watermarks) and DeleteTopics (checked with
 * metadata). librdkafka picks the highest version both sides support, so
 * this exercises the versions the broker advertises as a real client does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "rill_test.h"
#include "rill_test_kafka.h"

#define TIMEOUT_MS 30000

static char *g_dir;
static rill_broker_t *g_broker;
static rd_kafka_t *g_rk;
static rd_kafka_queue_t *g_q;

static int
suite_init(void)
{
        static const char *const overrides[] = {"log.retention.hours=72", NULL};
        g_dir = rill_test_tmpdir("rill-it-admin");
        g_broker = rill_test_broker_start(g_dir, overrides);
        if (!g_broker)
                return 1;
        g_rk = rill_test_producer_new(rill_broker_bootstrap(g_broker), NULL);
        if (!g_rk)
                return 1;
        g_q = rd_kafka_queue_new(g_rk);
        return 0;
}

static int
suite_cleanup(void)
{
        if (g_q)
                rd_kafka_queue_destroy(g_q);
        rill_test_client_destroy(g_rk);
        rill_broker_destroy(g_broker);
        rill_test_rmdir(g_dir);
        free(g_dir);
        return 0;
}

/* Waits for the admin result event of @p type; NULL on timeout. */
static rd_kafka_event_t *
wait_result(rd_kafka_event_type_t type)
{
        int64_t deadline = rill_test_now_ms() + TIMEOUT_MS;
        while (rill_test_now_ms() < deadline) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(g_q, 200);
                if (!ev)
                        continue;
                if (rd_kafka_event_type(ev) == type)
                        return ev;
                rd_kafka_event_destroy(ev);
        }
        return NULL;
}

static rd_kafka_AdminOptions_t *
options(rd_kafka_admin_op_t op, bool validate_only)
{
        char err[256];
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(g_rk, op);
        rd_kafka_AdminOptions_set_request_timeout(o, TIMEOUT_MS, err, sizeof(err));
        if (validate_only)
                CU_ASSERT_EQUAL(rd_kafka_AdminOptions_set_validate_only(o, 1, err, sizeof(err)),
                                RD_KAFKA_RESP_ERR_NO_ERROR);
        return o;
}

/* Creates one topic; returns its per-topic error (message into errmsg). */
static rd_kafka_resp_err_t
create_topic(const char *name, int partitions, int rf, const char *const *configs,
             bool validate_only, char *errmsg, size_t errmsg_size)
{
        char err[256];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, rf, err, sizeof(err));
        rd_kafka_AdminOptions_t *o = options(RD_KAFKA_ADMIN_OP_CREATETOPICS, validate_only);
        rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__FAIL;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tr;
        size_t n = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(nt);
        for (int i = 0; configs && configs[i]; i += 2)
                CU_ASSERT_EQUAL(rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]),
                                RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_CreateTopics(g_rk, &nt, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_CREATETOPICS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_EQUAL(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR);
        tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        CU_ASSERT_EQUAL(n, 1);
        if (n == 1) {
                CU_ASSERT_STRING_EQUAL(rd_kafka_topic_result_name(tr[0]), name);
                res = rd_kafka_topic_result_error(tr[0]);
                if (errmsg)
                        snprintf(errmsg, errmsg_size, "%s",
                                 rd_kafka_topic_result_error_string(tr[0])
                                         ? rd_kafka_topic_result_error_string(tr[0])
                                         : "");
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_NewTopic_destroy(nt);
        return res;
}

/* Partition count of @p topic per metadata, -1 if it does not exist. */
static int
partition_count(const char *topic)
{
        const struct rd_kafka_metadata *md = NULL;
        int n = -1;
        if (rd_kafka_metadata(g_rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return -2;
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                        n = md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return n;
}

static void
test_create_topics(void)
{
        static const char *const cfg[] = {"cleanup.policy", "compact", "segment.bytes", "1048576",
                                          NULL};
        static const char *const bad_cfg[] = {"retention.ms", "forever", NULL};
        char msg[512];

        CU_ASSERT_EQUAL(create_topic("adm-a", 3, 1, cfg, false, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_TRUE(rill_test_wait_topic(g_rk, "adm-a", 3, 10000));
        CU_ASSERT_EQUAL(create_topic("adm-a", 3, 1, NULL, false, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
        CU_ASSERT_EQUAL(create_topic("adm-vo", 2, 1, NULL, true, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_EQUAL(partition_count("adm-vo"), -1);
        CU_ASSERT_EQUAL(create_topic("bad name!", 1, 1, NULL, false, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "illegal"));
        CU_ASSERT_EQUAL(create_topic("adm-rf", 1, 3, NULL, false, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR);
        CU_ASSERT_EQUAL(create_topic("adm-cfg", 1, 1, bad_cfg, false, msg, sizeof(msg)),
                        RD_KAFKA_RESP_ERR_INVALID_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "retention.ms"));
        CU_ASSERT_EQUAL(partition_count("adm-cfg"), -1);
}

static void
test_create_partitions(void)
{
        char err[256];
        rd_kafka_NewPartitions_t *np;
        rd_kafka_AdminOptions_t *o;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tr;
        size_t n = 0;

        CU_ASSERT_EQUAL(create_topic("adm-cp", 1, 1, NULL, false, NULL, 0),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
        np = rd_kafka_NewPartitions_new("adm-cp", 4, err, sizeof(err));
        o = options(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, false);
        rd_kafka_CreatePartitions(g_rk, &np, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        tr = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev),
                                                     &n);
        CU_ASSERT_EQUAL_FATAL(n, 1);
        CU_ASSERT_EQUAL(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_event_destroy(ev);
        rd_kafka_NewPartitions_destroy(np);
        CU_ASSERT_TRUE(rill_test_wait_topic(g_rk, "adm-cp", 4, 10000));

        /* Shrinking is refused. */
        np = rd_kafka_NewPartitions_new("adm-cp", 2, err, sizeof(err));
        rd_kafka_CreatePartitions(g_rk, &np, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        tr = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev),
                                                     &n);
        CU_ASSERT_EQUAL_FATAL(n, 1);
        CU_ASSERT_EQUAL(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
        rd_kafka_event_destroy(ev);
        rd_kafka_NewPartitions_destroy(np);
        rd_kafka_AdminOptions_destroy(o);
        CU_ASSERT_EQUAL(partition_count("adm-cp"), 4);
}

/* Describes one resource; returns the event (caller destroys) and the resource. */
static rd_kafka_event_t *
describe(rd_kafka_ResourceType_t type, const char *name, const rd_kafka_ConfigResource_t **res)
{
        rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(type, name);
        rd_kafka_AdminOptions_t *o = options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, false);
        rd_kafka_event_t *ev;
        size_t n = 0;
        const rd_kafka_ConfigResource_t **rs;

        rd_kafka_DescribeConfigs(g_rk, &cr, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        rs = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &n);
        CU_ASSERT_EQUAL_FATAL(n, 1);
        *res = rs[0];
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_ConfigResource_destroy(cr);
        return ev;
}

static const rd_kafka_ConfigEntry_t *
entry(const rd_kafka_ConfigResource_t *res, const char *name)
{
        size_t n = 0;
        const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(res, &n);
        for (size_t i = 0; i < n; i++)
                if (!strcmp(rd_kafka_ConfigEntry_name(es[i]), name))
                        return es[i];
        return NULL;
}

static void
test_describe_configs(void)
{
        const rd_kafka_ConfigResource_t *res;
        const rd_kafka_ConfigEntry_t *e;
        rd_kafka_event_t *ev;
        char id[16];

        ev = describe(RD_KAFKA_RESOURCE_TOPIC, "adm-a", &res);
        CU_ASSERT_EQUAL(rd_kafka_ConfigResource_error(res), RD_KAFKA_RESP_ERR_NO_ERROR);
        e = entry(res, "cleanup.policy");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "compact");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
        CU_ASSERT_FALSE(rd_kafka_ConfigEntry_is_default(e));
        e = entry(res, "segment.bytes");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "1048576");
        e = entry(res, "retention.ms");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "259200000");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
        e = entry(res, "max.message.bytes");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "1048588");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
        CU_ASSERT_FALSE(rd_kafka_ConfigEntry_is_read_only(e));
        rd_kafka_event_destroy(ev);

        ev = describe(RD_KAFKA_RESOURCE_TOPIC, "adm-missing", &res);
        CU_ASSERT_EQUAL(rd_kafka_ConfigResource_error(res), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        rd_kafka_event_destroy(ev);

        snprintf(id, sizeof(id), "%d", rill_broker_node_id(g_broker));
        ev = describe(RD_KAFKA_RESOURCE_BROKER, id, &res);
        CU_ASSERT_EQUAL(rd_kafka_ConfigResource_error(res), RD_KAFKA_RESP_ERR_NO_ERROR);
        e = entry(res, "log.retention.hours");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "72");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
        CU_ASSERT_TRUE(rd_kafka_ConfigEntry_is_read_only(e));
        e = entry(res, "num.partitions");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "1");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
        rd_kafka_event_destroy(ev);
}

static rd_kafka_resp_err_t
alter(const char *topic, const char *const *kv, bool validate_only)
{
        rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        rd_kafka_AdminOptions_t *o = options(RD_KAFKA_ADMIN_OP_ALTERCONFIGS, validate_only);
        rd_kafka_event_t *ev;
        const rd_kafka_ConfigResource_t **rs;
        size_t n = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;

        for (int i = 0; kv && kv[i]; i += 2)
                rd_kafka_ConfigResource_set_config(cr, kv[i], kv[i + 1]);
        rd_kafka_AlterConfigs(g_rk, &cr, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        rs = rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
        CU_ASSERT_EQUAL(n, 1);
        if (n == 1)
                err = rd_kafka_ConfigResource_error(rs[0]);
        rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_ConfigResource_destroy(cr);
        return err;
}

static void
test_alter_configs(void)
{
        static const char *const set1[] = {"retention.ms", "60000", "cleanup.policy", "delete",
                                           NULL};
        static const char *const bad[] = {"min.cleanable.dirty.ratio", "7", NULL};
        const rd_kafka_ConfigResource_t *res;
        const rd_kafka_ConfigEntry_t *e;
        rd_kafka_event_t *ev;

        CU_ASSERT_EQUAL(alter("adm-a", set1, true), RD_KAFKA_RESP_ERR_NO_ERROR);
        ev = describe(RD_KAFKA_RESOURCE_TOPIC, "adm-a", &res);
        e = entry(res, "retention.ms");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "259200000");
        rd_kafka_event_destroy(ev);

        CU_ASSERT_EQUAL(alter("adm-a", set1, false), RD_KAFKA_RESP_ERR_NO_ERROR);
        ev = describe(RD_KAFKA_RESOURCE_TOPIC, "adm-a", &res);
        e = entry(res, "retention.ms");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "60000");
        CU_ASSERT_EQUAL(rd_kafka_ConfigEntry_source(e), RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
        e = entry(res, "cleanup.policy");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "delete");
        /* Not listed in the AlterConfigs: back to the default. */
        e = entry(res, "segment.bytes");
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(rd_kafka_ConfigEntry_value(e), "1073741824");
        rd_kafka_event_destroy(ev);

        CU_ASSERT_EQUAL(alter("adm-a", bad, false), RD_KAFKA_RESP_ERR_INVALID_CONFIG);
        CU_ASSERT_EQUAL(alter("adm-missing", set1, false), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
}

static void
test_delete_records(void)
{
        rill_test_recs_t recs = {0};
        rd_kafka_topic_partition_list_t *tp;
        rd_kafka_DeleteRecords_t *dr;
        rd_kafka_AdminOptions_t *o;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_partition_list_t *offs;
        int64_t low = -1, high = -1;

        CU_ASSERT_EQUAL(create_topic("adm-dr", 1, 1, NULL, false, NULL, 0),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_TRUE(rill_test_wait_topic(g_rk, "adm-dr", 1, 10000));
        for (int i = 0; i < 20; i++) {
                char v[16];
                snprintf(v, sizeof(v), "v%d", i);
                rill_test_rec_add_str(&recs, NULL, v)->partition = 0;
        }
        CU_ASSERT_EQUAL(rill_test_produce_all(g_rk, "adm-dr", &recs, TIMEOUT_MS), 20);
        rill_test_recs_free(&recs);

        tp = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(tp, "adm-dr", 0)->offset = 7;
        rd_kafka_topic_partition_list_add(tp, "adm-dr", 5)->offset = 1;
        dr = rd_kafka_DeleteRecords_new(tp);
        rd_kafka_topic_partition_list_destroy(tp);
        o = options(RD_KAFKA_ADMIN_OP_DELETERECORDS, false);
        rd_kafka_DeleteRecords(g_rk, &dr, 1, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_DELETERECORDS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        offs = rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
        CU_ASSERT_PTR_NOT_NULL_FATAL(offs);
        CU_ASSERT_EQUAL_FATAL(offs->cnt, 2);
        for (int i = 0; i < offs->cnt; i++) {
                if (offs->elems[i].partition == 0) {
                        CU_ASSERT_EQUAL(offs->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
                        CU_ASSERT_EQUAL(offs->elems[i].offset, 7);
                } else {
                        /* librdkafka knows the partition count from metadata
                         * and fails this one itself. */
                        CU_ASSERT_TRUE(offs->elems[i].err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                                       offs->elems[i].err ==
                                               RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
                }
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_DeleteRecords_destroy(dr);
        rd_kafka_AdminOptions_destroy(o);
        CU_ASSERT_EQUAL(rill_test_watermarks(g_rk, "adm-dr", 0, &low, &high),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_EQUAL(low, 7);
        CU_ASSERT_EQUAL(high, 20);
}

static void
test_delete_topics(void)
{
        rd_kafka_DeleteTopic_t *dt[2];
        rd_kafka_AdminOptions_t *o = options(RD_KAFKA_ADMIN_OP_DELETETOPICS, false);
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tr;
        size_t n = 0;

        CU_ASSERT_EQUAL(partition_count("adm-cp"), 4);
        dt[0] = rd_kafka_DeleteTopic_new("adm-cp");
        dt[1] = rd_kafka_DeleteTopic_new("adm-never");
        rd_kafka_DeleteTopics(g_rk, dt, 2, o, g_q);
        ev = wait_result(RD_KAFKA_EVENT_DELETETOPICS_RESULT);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        tr = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        CU_ASSERT_EQUAL_FATAL(n, 2);
        for (size_t i = 0; i < n; i++) {
                if (!strcmp(rd_kafka_topic_result_name(tr[i]), "adm-cp")) {
                        CU_ASSERT_EQUAL(rd_kafka_topic_result_error(tr[i]),
                                        RD_KAFKA_RESP_ERR_NO_ERROR);
                } else {
                        CU_ASSERT_EQUAL(rd_kafka_topic_result_error(tr[i]),
                                        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
                }
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(dt, 2);
        rd_kafka_AdminOptions_destroy(o);
        CU_ASSERT_EQUAL(partition_count("adm-cp"), -1);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"librdkafka admin",
                 suite_init,
                 suite_cleanup,
                 {{"CreateTopics", test_create_topics},
                  {"CreatePartitions", test_create_partitions},
                  {"DescribeConfigs", test_describe_configs},
                  {"AlterConfigs", test_alter_configs},
                  {"DeleteRecords", test_delete_records},
                  {"DeleteTopics", test_delete_topics},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
