/*
 * test_librdkafka_basic.c - a real client against the in-process broker.
 *
 * The smallest end-to-end check that librdkafka 2.0.2 works with the broker
 * unchanged: it negotiates ApiVersions, reads Metadata (auto-creating a
 * topic), produces with acks=all and consumes from the beginning with a
 * plain assign() (no consumer group, so only the core data-plane APIs are
 * involved), comparing every key, value and header that comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "rill_test.h"

#define N_MSGS 500

static char *g_dir;
static rill_broker_t *g_broker;

static int
suite_init(void)
{
        g_dir = rill_test_tmpdir("rill-it-lrk");
        g_broker = rill_test_broker_start(g_dir, NULL);
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

static int g_delivered, g_failed;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        if (m->err)
                g_failed++;
        else
                g_delivered++;
}

static rd_kafka_t *
make_client(rd_kafka_type_t type, const char *const *kv)
{
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        if (rd_kafka_conf_set(conf, "bootstrap.servers", rill_broker_bootstrap(g_broker), err,
                              sizeof(err)) != RD_KAFKA_CONF_OK)
                goto fail;
        for (int i = 0; kv && kv[i]; i += 2)
                if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
                        goto fail;
        if (type == RD_KAFKA_PRODUCER)
                rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rk = rd_kafka_new(type, conf, err, sizeof(err));
        if (!rk)
                goto fail;
        return rk;
fail:
        fprintf(stderr, "client: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
}

static void
test_metadata(void)
{
        const char *kv[] = {"allow.auto.create.topics", "true", NULL};
        rd_kafka_t *rk = make_client(RD_KAFKA_PRODUCER, kv);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t err;
        bool found = false;

        CU_ASSERT_FATAL(rk != NULL);
        rkt = rd_kafka_topic_new(rk, "lrk-meta", NULL);
        err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        CU_ASSERT_EQUAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        if (md) {
                CU_ASSERT_EQUAL(md->broker_cnt, 1);
                CU_ASSERT_EQUAL(md->brokers[0].id, rill_broker_node_id(g_broker));
                CU_ASSERT_EQUAL(md->brokers[0].port, rill_broker_port(g_broker));
                for (int i = 0; i < md->topic_cnt; i++) {
                        if (strcmp(md->topics[i].topic, "lrk-meta"))
                                continue;
                        found = true;
                        CU_ASSERT_EQUAL(md->topics[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
                        CU_ASSERT_EQUAL(md->topics[i].partition_cnt, 1);
                }
                rd_kafka_metadata_destroy(md);
        }
        CU_ASSERT(found);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
}

static void
test_produce_consume(void)
{
        const char *pkv[] = {"acks", "all", "linger.ms", "5", NULL};
        const char *ckv[] = {"group.id", "lrk-basic", "enable.auto.commit", "false",
                             "auto.offset.reset", "earliest", NULL};
        rd_kafka_t *p, *c;
        rd_kafka_topic_partition_list_t *tpl;
        int got = 0, bad = 0;
        int64_t next_offset = 0, deadline;

        p = make_client(RD_KAFKA_PRODUCER, pkv);
        CU_ASSERT_FATAL(p != NULL);
        g_delivered = g_failed = 0;
        for (int i = 0; i < N_MSGS; i++) {
                char key[32], val[64];
                rd_kafka_resp_err_t err;
                snprintf(key, sizeof(key), "k%d", i);
                snprintf(val, sizeof(val), "value-%d", i);
                err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC("lrk-data"), RD_KAFKA_V_PARTITION(0),
                                        RD_KAFKA_V_KEY(key, strlen(key)),
                                        RD_KAFKA_V_VALUE(val, strlen(val)),
                                        RD_KAFKA_V_HEADER("h", "hv", 2),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                CU_ASSERT_EQUAL_FATAL(err, RD_KAFKA_RESP_ERR_NO_ERROR);
                rd_kafka_poll(p, 0);
        }
        CU_ASSERT_EQUAL(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_EQUAL(g_delivered, N_MSGS);
        CU_ASSERT_EQUAL(g_failed, 0);
        rd_kafka_destroy(p);

        c = make_client(RD_KAFKA_CONSUMER, ckv);
        CU_ASSERT_FATAL(c != NULL);
        tpl = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tpl, "lrk-data", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        CU_ASSERT_EQUAL_FATAL(rd_kafka_assign(c, tpl), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(tpl);
        deadline = rill_test_now_ms() + 30000;
        while (got < N_MSGS && rill_test_now_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
                char key[32], val[64];
                rd_kafka_headers_t *hdrs = NULL;
                const void *hv = NULL;
                size_t hlen = 0;
                if (!m)
                        continue;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
                                bad++;
                        }
                        rd_kafka_message_destroy(m);
                        continue;
                }
                snprintf(key, sizeof(key), "k%d", got);
                snprintf(val, sizeof(val), "value-%d", got);
                if (m->offset != next_offset || m->key_len != strlen(key) ||
                    memcmp(m->key, key, m->key_len) || m->len != strlen(val) ||
                    memcmp(m->payload, val, m->len))
                        bad++;
                if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                    rd_kafka_header_get_last(hdrs, "h", &hv, &hlen) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                    hlen != 2 || memcmp(hv, "hv", 2))
                        bad++;
                next_offset = m->offset + 1;
                got++;
                rd_kafka_message_destroy(m);
        }
        CU_ASSERT_EQUAL(got, N_MSGS);
        CU_ASSERT_EQUAL(bad, 0);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"librdkafka_basic", suite_init, suite_cleanup,
                 {{"metadata", test_metadata}, {"produce_consume", test_produce_consume}, {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
