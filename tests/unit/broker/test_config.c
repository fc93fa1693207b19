/*
 * test_config.c - unit tests of broker/config.c: server.properties keys and
 * defaults, validation errors, unknown keys, .properties file parsing,
 * listener parsing, retention precedence and the topic-level key table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rill/log.h>

#include "config.h"
#include "rill_test.h"

static char err[512];

/* Log capture: counts warnings mentioning a word. */
static int warn_count;
static char warn_last[512];

static void
capture_sink(rill_log_level_t level, const char *component, const char *msg, void *opaque)
{
        if (level == RILL_LOG_WARN) {
                warn_count++;
                snprintf(warn_last, sizeof(warn_last), "%s", msg);
        }
}

static void
expect_get(const rill_broker_conf_t *c, const char *key, const char *want)
{
        char buf[256];
        rill_err_t e = rill_broker_conf_get(c, key, buf, sizeof(buf));
        CU_ASSERT_EQUAL(e, RILL_OK);
        if (e == RILL_OK && strcmp(buf, want)) {
                fprintf(stderr, "\n  %s = \"%s\", expected \"%s\"\n", key, buf, want);
                CU_FAIL("unexpected value");
        }
}

static rill_err_t
set(rill_broker_conf_t *c, const char *k, const char *v)
{
        err[0] = '\0';
        return rill_broker_conf_set(c, k, v, err, sizeof(err));
}

static void
test_defaults(void)
{
        rill_broker_conf_t *c = rill_broker_conf_new();
        CU_ASSERT_EQUAL(c->node_id, 1);
        CU_ASSERT_STRING_EQUAL(c->listeners, "PLAINTEXT://:9092");
        CU_ASSERT_STRING_EQUAL(c->listener.name, "PLAINTEXT");
        CU_ASSERT_STRING_EQUAL(c->listener.host, "");
        CU_ASSERT_EQUAL(c->listener.port, 9092);
        CU_ASSERT_PTR_NULL(c->advertised_listeners);
        CU_ASSERT_EQUAL(c->advertised.port, 9092);
        CU_ASSERT_STRING_EQUAL(c->log_dirs, "/tmp/kafka-logs");
        CU_ASSERT_PTR_NULL(c->cluster_id);
        CU_ASSERT_EQUAL(c->num_partitions, 1);
        CU_ASSERT_EQUAL(c->default_replication_factor, 1);
        CU_ASSERT_EQUAL(c->min_insync_replicas, 1);
        CU_ASSERT_TRUE(c->auto_create_topics_enable);
        CU_ASSERT_TRUE(c->delete_topic_enable);
        CU_ASSERT_EQUAL(c->message_max_bytes, 1048588);
        CU_ASSERT_EQUAL(c->socket_request_max_bytes, 104857600);
        CU_ASSERT_EQUAL(c->offsets_topic_num_partitions, 50);
        CU_ASSERT_EQUAL(c->offsets_topic_replication_factor, 3);
        CU_ASSERT_EQUAL(c->offsets_retention_minutes, 10080);
        CU_ASSERT_EQUAL(c->group_initial_rebalance_delay_ms, 3000);
        CU_ASSERT_EQUAL(c->group_min_session_timeout_ms, 6000);
        CU_ASSERT_EQUAL(c->group_max_session_timeout_ms, 1800000);
        CU_ASSERT_EQUAL(c->group_max_size, INT32_MAX);
        CU_ASSERT_EQUAL(c->log_retention_check_interval_ms, 300000);
        CU_ASSERT_EQUAL(c->log_cleaner_backoff_ms, 15000);
        CU_ASSERT_TRUE(c->log_cleaner_enable);
        CU_ASSERT_EQUAL(c->num_network_threads, 3);
        CU_ASSERT_EQUAL(c->num_io_threads, 8);
        CU_ASSERT_EQUAL(c->connections_max_idle_ms, 600000);
        CU_ASSERT_EQUAL(c->queued_max_requests, 500);
        CU_ASSERT_EQUAL(c->replica_lag_time_max_ms, 30000);
        CU_ASSERT_EQUAL(c->kv_cnt, 0);

        /* Topic-level defaults. */
        CU_ASSERT_EQUAL(c->log.segment_bytes, 1073741824);
        CU_ASSERT_EQUAL(c->log.segment_ms, 604800000);
        CU_ASSERT_EQUAL(c->log.retention_ms, 604800000);
        CU_ASSERT_EQUAL(c->log.retention_bytes, -1);
        CU_ASSERT_EQUAL(c->log.cleanup_policy, RILL__CLEANUP_DELETE);
        CU_ASSERT_EQUAL(c->log.delete_retention_ms, 86400000);
        CU_ASSERT_EQUAL(c->log.min_compaction_lag_ms, 0);
        CU_ASSERT_EQUAL(c->log.max_compaction_lag_ms, INT64_MAX);
        CU_ASSERT_DOUBLE_EQUAL(c->log.min_cleanable_dirty_ratio, 0.5, 1e-12);
        CU_ASSERT_EQUAL(c->log.flush_messages, INT64_MAX);
        CU_ASSERT_EQUAL(c->log.flush_ms, INT64_MAX);
        CU_ASSERT_EQUAL(c->log.index_interval_bytes, 4096);
        CU_ASSERT_EQUAL(c->log.max_message_bytes, 1048588);
        CU_ASSERT_FALSE(c->log.log_append_time);
        CU_ASSERT_EQUAL(c->log.segment_index_bytes, 10485760);
        CU_ASSERT_EQUAL(c->log.min_insync_replicas, 1);
        CU_ASSERT_EQUAL(c->log.compression_type, RILL__COMPRESSION_PRODUCER);

        /* Effective values through conf_get. */
        expect_get(c, "log.retention.hours", "168");
        expect_get(c, "log.retention.ms", "604800000");
        expect_get(c, "log.dirs", "/tmp/kafka-logs");
        expect_get(c, "listeners", "PLAINTEXT://:9092");
        expect_get(c, "log.cleanup.policy", "delete");
        expect_get(c, "log.cleaner.min.cleanable.ratio", "0.5");
        expect_get(c, "log.flush.interval.ms", "9223372036854775807");
        expect_get(c, "compression.type", "producer");
        expect_get(c, "log.message.timestamp.type", "CreateTime");
        expect_get(c, "auto.create.topics.enable", "true");
        expect_get(c, "advertised.listeners", "");
        char buf[64];
        CU_ASSERT_EQUAL(rill_broker_conf_get(c, "no.such.key", buf, sizeof(buf)),
                        RILL_ERR_NOT_FOUND);

        rill__log_conf_t d;
        rill__log_conf_defaults(&d);
        CU_ASSERT_EQUAL(memcmp(&d, &c->log, sizeof(d)), 0);
        rill_broker_conf_destroy(c);
        rill_broker_conf_destroy(NULL);
}

static void
test_set_types(void)
{
        rill_broker_conf_t *c = rill_broker_conf_new();
        CU_ASSERT_EQUAL(set(c, "node.id", "7"), RILL_OK);
        CU_ASSERT_EQUAL(c->node_id, 7);
        CU_ASSERT_EQUAL(set(c, "broker.id", "9"), RILL_OK);
        CU_ASSERT_EQUAL(c->node_id, 9);
        expect_get(c, "node.id", "9");
        CU_ASSERT_EQUAL(set(c, "num.partitions", " 12 "), RILL_OK);
        CU_ASSERT_EQUAL(c->num_partitions, 12);
        CU_ASSERT_EQUAL(set(c, "default.replication.factor", "3"), RILL_OK);
        CU_ASSERT_EQUAL(c->default_replication_factor, 3);
        CU_ASSERT_EQUAL(set(c, "auto.create.topics.enable", "FALSE"), RILL_OK);
        CU_ASSERT_FALSE(c->auto_create_topics_enable);
        expect_get(c, "auto.create.topics.enable", "false");
        CU_ASSERT_EQUAL(set(c, "delete.topic.enable", "false"), RILL_OK);
        CU_ASSERT_FALSE(c->delete_topic_enable);
        CU_ASSERT_EQUAL(set(c, "min.insync.replicas", "2"), RILL_OK);
        CU_ASSERT_EQUAL(c->min_insync_replicas, 2);
        CU_ASSERT_EQUAL(c->log.min_insync_replicas, 2);
        CU_ASSERT_EQUAL(set(c, "message.max.bytes", "2000000"), RILL_OK);
        CU_ASSERT_EQUAL(c->message_max_bytes, 2000000);
        CU_ASSERT_EQUAL(c->log.max_message_bytes, 2000000);
        CU_ASSERT_EQUAL(set(c, "offsets.retention.minutes", "60"), RILL_OK);
        CU_ASSERT_EQUAL(c->offsets_retention_minutes, 60);
        CU_ASSERT_EQUAL(set(c, "log.segment.bytes", "1048576"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.segment_bytes, 1048576);
        CU_ASSERT_EQUAL(set(c, "log.retention.bytes", "5000000000"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.retention_bytes, 5000000000LL);
        CU_ASSERT_EQUAL(set(c, "log.cleanup.policy", "compact"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.cleanup_policy, RILL__CLEANUP_COMPACT);
        CU_ASSERT_EQUAL(set(c, "log.cleanup.policy", "delete, compact"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.cleanup_policy, RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE);
        expect_get(c, "log.cleanup.policy", "compact,delete");
        CU_ASSERT_EQUAL(set(c, "log.cleaner.min.cleanable.ratio", "0.25"), RILL_OK);
        CU_ASSERT_DOUBLE_EQUAL(c->log.min_cleanable_dirty_ratio, 0.25, 1e-12);
        expect_get(c, "log.cleaner.min.cleanable.ratio", "0.25");
        CU_ASSERT_EQUAL(set(c, "log.message.timestamp.type", "LogAppendTime"), RILL_OK);
        CU_ASSERT_TRUE(c->log.log_append_time);
        CU_ASSERT_EQUAL(set(c, "compression.type", "zstd"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.compression_type, RILL__COMPRESSION_ZSTD);
        CU_ASSERT_EQUAL(set(c, "log.flush.interval.messages", "1"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.flush_messages, 1);
        CU_ASSERT_EQUAL(set(c, "log.index.interval.bytes", "0"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.index_interval_bytes, 0);
        CU_ASSERT_EQUAL(set(c, "log.cleaner.delete.retention.ms", "1000"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.delete_retention_ms, 1000);
        CU_ASSERT_EQUAL(set(c, "cluster.id", "MkU3OEVBNTcwNTJENDM2Qk"), RILL_OK);
        CU_ASSERT_STRING_EQUAL(c->cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
        CU_ASSERT_EQUAL(set(c, "group.initial.rebalance.delay.ms", "0"), RILL_OK);
        CU_ASSERT_EQUAL(c->group_initial_rebalance_delay_ms, 0);
        CU_ASSERT_EQUAL(set(c, "connections.max.idle.ms", "-1"), RILL_OK);
        CU_ASSERT_EQUAL(c->connections_max_idle_ms, -1);

        /* Accepted-but-ignored keys (KRaft samples). */
        CU_ASSERT_EQUAL(set(c, "process.roles", "broker,controller"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "controller.quorum.voters", "1@localhost:9093"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "listener.security.protocol.map",
                            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "transaction.state.log.min.isr", "1"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "transaction.state.log.min.isr", "0"), RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(set(c, "socket.send.buffer.bytes", "102400"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "unclean.leader.election.enable", "true"), RILL_OK);
        expect_get(c, "transaction.state.log.min.isr", "1");
        expect_get(c, "socket.receive.buffer.bytes", "102400");

        /* Every set key is kept, in order, once. */
        CU_ASSERT_STRING_EQUAL(c->kv[0].key, "node.id");
        CU_ASSERT_STRING_EQUAL(c->kv[0].value, "7");
        CU_ASSERT_PTR_NOT_NULL(rill__broker_conf_kv_get(c, "num.partitions"));
        CU_ASSERT_STRING_EQUAL(rill__broker_conf_kv_get(c, "log.cleanup.policy"), "delete, compact");
        int n = 0;
        for (int i = 0; i < c->kv_cnt; i++)
                n += !strcmp(c->kv[i].key, "log.cleanup.policy");
        CU_ASSERT_EQUAL(n, 1);

        /* dup is deep and equal. */
        rill_broker_conf_t *d = rill_broker_conf_dup(c);
        CU_ASSERT_EQUAL(d->kv_cnt, c->kv_cnt);
        CU_ASSERT_PTR_NOT_EQUAL(d->kv, c->kv);
        CU_ASSERT_PTR_NOT_EQUAL(d->cluster_id, c->cluster_id);
        CU_ASSERT_STRING_EQUAL(d->cluster_id, c->cluster_id);
        CU_ASSERT_STRING_EQUAL(d->listener.name, c->listener.name);
        CU_ASSERT_EQUAL(d->num_partitions, 12);
        CU_ASSERT_EQUAL(set(d, "num.partitions", "3"), RILL_OK);
        CU_ASSERT_EQUAL(c->num_partitions, 12);
        rill_broker_conf_destroy(c);
        expect_get(d, "cluster.id", "MkU3OEVBNTcwNTJENDM2Qk");
        rill_broker_conf_destroy(d);
}

struct bad_case {
        const char *key;
        const char *value;
        const char *expect; /* substring of the message */
};

static void
test_invalid_values(void)
{
        static const struct bad_case cases[] = {
                {"num.partitions", "0", "integer >= 1"},
                {"num.partitions", "abc", "integer"},
                {"num.partitions", "12abc", "integer"},
                {"num.partitions", "", "integer"},
                {"num.partitions", "99999999999", "integer"},
                {"node.id", "-1", "integer"},
                {"default.replication.factor", "40000", "integer"},
                {"min.insync.replicas", "0", "integer"},
                {"auto.create.topics.enable", "yes", "true or false"},
                {"log.cleanup.policy", "remove", "compact"},
                {"log.cleanup.policy", "delete,", "compact"},
                {"log.segment.bytes", "10", ">= 14"},
                {"log.segment.bytes", "4294967296", "integer"},
                {"log.cleaner.min.cleanable.ratio", "1.5", "number in [0, 1]"},
                {"log.cleaner.min.cleanable.ratio", "half", "number"},
                {"log.message.timestamp.type", "Now", "CreateTime or LogAppendTime"},
                {"compression.type", "brotli", "zstd"},
                {"listeners", "localhost:9092", "NAME://host:port"},
                {"listeners", "PLAINTEXT://:70000", "port"},
                {"listeners", "PLAINTEXT://host:", "port"},
                {"listeners", "PLAINTEXT://host:12x", "port"},
                {"listeners", "PLAINTEXT://:1,PLAINTEXT://:2", "twice"},
                {"listeners", "PLAIN TEXT://:1", "name"},
                {"listeners", "PLAINTEXT://[::1:9092", "IPv6"},
                {"listeners", "PLAINTEXT://a b:9092", "host"},
                {"advertised.listeners", "", "NAME://host:port"},
                {"log.dirs", "  ", "non-empty"},
                {"log.retention.hours", "1h", "integer"},
                {"log.roll.hours", "0", ">= 1"},
                {"group.max.size", "0", ">= 1"},
                {"socket.request.max.bytes", "0", ">= 1"},
                {"queued.max.requests", "0", ">= 1"},
                {"log.flush.interval.messages", "0", ">= 1"},
        };
        rill_broker_conf_t *c = rill_broker_conf_new();
        rill_broker_conf_t *ref = rill_broker_conf_new();
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                rill_err_t e = set(c, cases[i].key, cases[i].value);
                CU_ASSERT_EQUAL(e, RILL_ERR_CONFIG);
                if (e != RILL_ERR_CONFIG || !strstr(err, cases[i].key) ||
                    !strstr(err, cases[i].value) || !strstr(err, cases[i].expect)) {
                        fprintf(stderr, "\n  %s=%s -> %d \"%s\"\n", cases[i].key, cases[i].value,
                                e, err);
                        CU_FAIL("message must name the key, the value and what is expected");
                }
        }
        /* Nothing changed. */
        CU_ASSERT_EQUAL(c->kv_cnt, 0);
        CU_ASSERT_EQUAL(c->num_partitions, 1);
        CU_ASSERT_STRING_EQUAL(c->listeners, ref->listeners);
        CU_ASSERT_EQUAL(memcmp(&c->log, &ref->log, sizeof(c->log)), 0);
        CU_ASSERT_EQUAL(c->node_id, 1);
        /* A failed set after a good one keeps the good value. */
        CU_ASSERT_EQUAL(set(c, "num.partitions", "4"), RILL_OK);
        CU_ASSERT_EQUAL(set(c, "num.partitions", "-4"), RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(c->num_partitions, 4);
        CU_ASSERT_STRING_EQUAL(rill__broker_conf_kv_get(c, "num.partitions"), "4");
        CU_ASSERT_EQUAL(set(c, "", "x"), RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill_broker_conf_set(c, "num.partitions", NULL, err, sizeof(err)),
                        RILL_ERR_CONFIG);
        rill_broker_conf_destroy(c);
        rill_broker_conf_destroy(ref);
}

static void
test_unknown_keys(void)
{
        rill_broker_conf_t *c = rill_broker_conf_new();
        char buf[64];
        warn_count = 0;
        rill_log_set_sink(capture_sink, NULL);
        CU_ASSERT_EQUAL(set(c, "some.future.key", "42"), RILL_OK);
        CU_ASSERT_EQUAL(warn_count, 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(warn_last, "some.future.key"));
        CU_ASSERT_EQUAL(set(c, "some.future.key", "43"), RILL_OK);
        CU_ASSERT_EQUAL(warn_count, 1); /* warned once */
        CU_ASSERT_EQUAL(rill_broker_conf_get(c, "some.future.key", buf, sizeof(buf)), RILL_OK);
        CU_ASSERT_STRING_EQUAL(buf, "43");
        CU_ASSERT_EQUAL(c->kv_cnt, 1);

        /* zookeeper.connect is accepted with a warning that it is ignored. */
        CU_ASSERT_EQUAL(set(c, "zookeeper.connect", "localhost:2181"), RILL_OK);
        CU_ASSERT_EQUAL(warn_count, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(warn_last, "zookeeper.connect"));
        CU_ASSERT_PTR_NOT_NULL(strstr(warn_last, "ignored"));

        /* Known keys do not warn. */
        CU_ASSERT_EQUAL(set(c, "num.partitions", "3"), RILL_OK);
        CU_ASSERT_EQUAL(warn_count, 2);
        rill_log_set_sink(NULL, NULL);
        rill_broker_conf_destroy(c);
}

static void
test_listeners(void)
{
        rill__listener_t l;
        CU_ASSERT_EQUAL(rill__listener_parse("PLAINTEXT://:9092", &l, err, sizeof(err)), RILL_OK);
        CU_ASSERT_STRING_EQUAL(l.name, "PLAINTEXT");
        CU_ASSERT_STRING_EQUAL(l.host, "");
        CU_ASSERT_EQUAL(l.port, 9092);
        rill__listener_clear(&l);
        CU_ASSERT_EQUAL(rill__listener_parse("PLAINTEXT://0.0.0.0:0", &l, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_STRING_EQUAL(l.host, "0.0.0.0");
        CU_ASSERT_EQUAL(l.port, 0);
        rill__listener_clear(&l);
        CU_ASSERT_EQUAL(rill__listener_parse("PLAINTEXT://[::1]:65535", &l, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_STRING_EQUAL(l.host, "::1");
        CU_ASSERT_EQUAL(l.port, 65535);
        rill__listener_clear(&l);
        CU_ASSERT_EQUAL(rill__listener_parse("INTERNAL://broker-1.example.com:19092, "
                                             "EXTERNAL://localhost:9092",
                                             &l, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_STRING_EQUAL(l.name, "INTERNAL");
        CU_ASSERT_STRING_EQUAL(l.host, "broker-1.example.com");
        CU_ASSERT_EQUAL(l.port, 19092);
        rill__listener_clear(&l);
        CU_ASSERT_EQUAL(rill__listener_parse("PLAINTEXT://:9092,bad", &l, err, sizeof(err)),
                        RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill__listener_parse("", &l, err, sizeof(err)), RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill__listener_parse("PLAINTEXT://:65536", &l, err, sizeof(err)),
                        RILL_ERR_CONFIG);
        rill__listener_clear(&l);

        /* KRaft combined mode: the broker serves the non-controller listener;
         * advertised.listeners is matched by name. */
        rill_broker_conf_t *c = rill_broker_conf_new();
        CU_ASSERT_EQUAL(set(c, "listeners", "CONTROLLER://:9093,PLAINTEXT://127.0.0.1:19092"),
                        RILL_OK);
        CU_ASSERT_STRING_EQUAL(c->listener.name, "CONTROLLER"); /* no controller names yet */
        CU_ASSERT_EQUAL(set(c, "controller.listener.names", "CONTROLLER"), RILL_OK);
        CU_ASSERT_STRING_EQUAL(c->listener.name, "PLAINTEXT");
        CU_ASSERT_STRING_EQUAL(c->listener.host, "127.0.0.1");
        CU_ASSERT_EQUAL(c->listener.port, 19092);
        /* Without advertised.listeners, the advertised listener is the listener. */
        CU_ASSERT_STRING_EQUAL(c->advertised.host, "127.0.0.1");
        CU_ASSERT_EQUAL(c->advertised.port, 19092);
        CU_ASSERT_EQUAL(set(c, "advertised.listeners",
                            "CONTROLLER://ctl:9093,PLAINTEXT://kafka.example:29092"),
                        RILL_OK);
        CU_ASSERT_STRING_EQUAL(c->advertised.name, "PLAINTEXT");
        CU_ASSERT_STRING_EQUAL(c->advertised.host, "kafka.example");
        CU_ASSERT_EQUAL(c->advertised.port, 29092);
        expect_get(c, "advertised.listeners",
                   "CONTROLLER://ctl:9093,PLAINTEXT://kafka.example:29092");
        /* A bad listeners value leaves both listeners untouched. */
        CU_ASSERT_EQUAL(set(c, "listeners", "PLAINTEXT://:x"), RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(c->listener.port, 19092);
        CU_ASSERT_EQUAL(c->advertised.port, 29092);
        rill_broker_conf_destroy(c);
}

static void
test_retention_precedence(void)
{
        rill_broker_conf_t *c = rill_broker_conf_new();
        CU_ASSERT_EQUAL(set(c, "log.retention.hours", "1"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.retention_ms, 3600000);
        expect_get(c, "log.retention.ms", "3600000");
        CU_ASSERT_EQUAL(set(c, "log.retention.ms", "1234"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.retention_ms, 1234);
        /* Minutes is less precise than ms: ms still wins whatever the order. */
        CU_ASSERT_EQUAL(set(c, "log.retention.minutes", "2"), RILL_OK);
        CU_ASSERT_EQUAL(c->log.retention_ms, 1234);
        expect_get(c, "log.retention.hours", "1");
        expect_get(c, "log.retention.minutes", "2");

        rill_broker_conf_t *d = rill_broker_conf_new();
        CU_ASSERT_EQUAL(set(d, "log.retention.minutes", "2"), RILL_OK);
        CU_ASSERT_EQUAL(set(d, "log.retention.hours", "5"), RILL_OK);
        CU_ASSERT_EQUAL(d->log.retention_ms, 120000);
        CU_ASSERT_EQUAL(set(d, "log.retention.hours", "-1"), RILL_OK);
        CU_ASSERT_EQUAL(d->log.retention_ms, 120000);
        CU_ASSERT_EQUAL(set(d, "log.retention.minutes", "-1"), RILL_OK);
        CU_ASSERT_EQUAL(d->log.retention_ms, -1); /* negative: keep forever */

        /* Segment roll: log.roll.ms beats log.roll.hours. */
        CU_ASSERT_EQUAL(set(d, "log.roll.ms", "60000"), RILL_OK);
        CU_ASSERT_EQUAL(set(d, "log.roll.hours", "2"), RILL_OK);
        CU_ASSERT_EQUAL(d->log.segment_ms, 60000);
        rill_broker_conf_t *e = rill_broker_conf_new();
        CU_ASSERT_EQUAL(set(e, "log.roll.hours", "2"), RILL_OK);
        CU_ASSERT_EQUAL(e->log.segment_ms, 7200000);

        /* log.dirs beats log.dir. */
        CU_ASSERT_EQUAL(set(e, "log.dir", "/var/a"), RILL_OK);
        CU_ASSERT_STRING_EQUAL(e->log_dirs, "/var/a");
        CU_ASSERT_EQUAL(set(e, "log.dirs", "/var/b,/var/c"), RILL_OK);
        CU_ASSERT_STRING_EQUAL(e->log_dirs, "/var/b,/var/c");
        CU_ASSERT_EQUAL(set(e, "log.dir", "/var/d"), RILL_OK);
        CU_ASSERT_STRING_EQUAL(e->log_dirs, "/var/b,/var/c");
        rill_broker_conf_destroy(c);
        rill_broker_conf_destroy(d);
        rill_broker_conf_destroy(e);
}

static char *
write_file(const char *dir, const char *name, const char *text)
{
        char *path = malloc(strlen(dir) + strlen(name) + 2);
        FILE *fp;
        sprintf(path, "%s/%s", dir, name);
        fp = fopen(path, "wb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
        fputs(text, fp);
        fclose(fp);
        return path;
}

static void
test_load_file(void)
{
        char *dir = rill_test_tmpdir("rill-test-config");
        char *p = write_file(dir, "ok.properties",
                             "# A comment\n"
                             "   ! another comment \\\n"
                             "\n"
                             "node.id=3\n"
                             "  num.partitions : 6  \n"
                             "log.dirs /data/rill\n"
                             "listeners=PLAINTEXT://127.0.0.1:19092,\\\n"
                             "          CONTROLLER://:19093\r\n"
                             "controller.listener.names=CONTROLLER\r\n"
                             "log.retention.hours\t=\t24\n"
                             "weird\\=key=a\\tb\\u0041\\\\\n"
                             "cluster.id = abc \\ \n"
                             "process.roles=broker,controller\n"
                             "log.cleanup.policy=compact,\\\n"
                             "   delete");
        rill_broker_conf_t *c = rill_broker_conf_new();
        rill_err_t e = rill_broker_conf_load_file(c, p, err, sizeof(err));
        if (e)
                fprintf(stderr, "\n  %s\n", err);
        CU_ASSERT_EQUAL(e, RILL_OK);
        CU_ASSERT_EQUAL(c->node_id, 3);
        CU_ASSERT_EQUAL(c->num_partitions, 6);
        CU_ASSERT_STRING_EQUAL(c->log_dirs, "/data/rill");
        CU_ASSERT_STRING_EQUAL(c->listeners, "PLAINTEXT://127.0.0.1:19092,CONTROLLER://:19093");
        CU_ASSERT_STRING_EQUAL(c->listener.name, "PLAINTEXT");
        CU_ASSERT_EQUAL(c->listener.port, 19092);
        CU_ASSERT_EQUAL(c->log.retention_ms, 24 * 3600000LL);
        CU_ASSERT_STRING_EQUAL(rill__broker_conf_kv_get(c, "weird=key"), "a\tbA\\");
        CU_ASSERT_STRING_EQUAL(c->cluster_id, "abc  "); /* escaped trailing space kept */
        CU_ASSERT_EQUAL(c->log.cleanup_policy, RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE);
        CU_ASSERT_PTR_NULL(rill__broker_conf_kv_get(c, "!"));
        CU_ASSERT_PTR_NULL(rill__broker_conf_kv_get(c, "another"));
        free(p);

        /* An invalid value: file:line, key; the configuration is unchanged. */
        p = write_file(dir, "bad.properties",
                       "num.partitions=2\n"
                       "# comment\n"
                       "log.segment.bytes=1048576\n"
                       "listeners=PLAINTEXT://:9092,\\\n"
                       "  OTHER://:9093\n"
                       "auto.create.topics.enable=maybe\n"
                       "node.id=4\n");
        e = rill_broker_conf_load_file(c, p, err, sizeof(err));
        CU_ASSERT_EQUAL(e, RILL_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.properties:6:"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "auto.create.topics.enable"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "maybe"));
        CU_ASSERT_EQUAL(c->num_partitions, 6);
        CU_ASSERT_EQUAL(c->log.segment_bytes, 1073741824);
        CU_ASSERT_EQUAL(c->node_id, 3);
        CU_ASSERT_STRING_EQUAL(c->listener.name, "PLAINTEXT");
        CU_ASSERT_EQUAL(c->listener.port, 19092);
        free(p);

        /* A line without a key. */
        p = write_file(dir, "nokey.properties", "num.partitions=2\n\n=5\n");
        e = rill_broker_conf_load_file(c, p, err, sizeof(err));
        CU_ASSERT_EQUAL(e, RILL_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "nokey.properties:3:"));
        free(p);

        /* Missing file. */
        e = rill_broker_conf_load_file(c, "/nonexistent/dir/server.properties", err, sizeof(err));
        CU_ASSERT_EQUAL(e, RILL_ERR_IO);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dir/server.properties"));
        rill_broker_conf_destroy(c);

        /* The shipped sample loads. */
        c = rill_broker_conf_new();
        e = rill_broker_conf_load_file(c, RILL_SOURCE_DIR "/config/server.properties", err,
                                       sizeof(err));
        if (e)
                fprintf(stderr, "\n  %s\n", err);
        CU_ASSERT_EQUAL(e, RILL_OK);
        CU_ASSERT_EQUAL(c->node_id, 1);
        CU_ASSERT_STRING_EQUAL(c->log_dirs, "/tmp/rill-logs");
        CU_ASSERT_EQUAL(c->offsets_topic_replication_factor, 1);
        CU_ASSERT_EQUAL(c->listener.port, 9092);
        CU_ASSERT_EQUAL(c->group_initial_rebalance_delay_ms, 0);
        rill_broker_conf_destroy(c);

        /* A Kafka 3.x KRaft sample loads unchanged. */
        p = write_file(dir, "kraft.properties",
                       "process.roles=broker,controller\n"
                       "node.id=1\n"
                       "controller.quorum.voters=1@localhost:9093\n"
                       "listeners=PLAINTEXT://:9092,CONTROLLER://:9093\n"
                       "inter.broker.listener.name=PLAINTEXT\n"
                       "advertised.listeners=PLAINTEXT://localhost:9092\n"
                       "controller.listener.names=CONTROLLER\n"
                       "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                       "SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL\n"
                       "num.network.threads=3\n"
                       "num.io.threads=8\n"
                       "socket.send.buffer.bytes=102400\n"
                       "socket.receive.buffer.bytes=102400\n"
                       "socket.request.max.bytes=104857600\n"
                       "log.dirs=/tmp/kraft-combined-logs\n"
                       "num.partitions=1\n"
                       "num.recovery.threads.per.data.dir=1\n"
                       "offsets.topic.replication.factor=1\n"
                       "transaction.state.log.replication.factor=1\n"
                       "transaction.state.log.min.isr=1\n"
                       "log.retention.hours=168\n"
                       "log.segment.bytes=1073741824\n"
                       "log.retention.check.interval.ms=300000\n");
        c = rill_broker_conf_new();
        e = rill_broker_conf_load_file(c, p, err, sizeof(err));
        if (e)
                fprintf(stderr, "\n  %s\n", err);
        CU_ASSERT_EQUAL(e, RILL_OK);
        CU_ASSERT_STRING_EQUAL(c->listener.name, "PLAINTEXT");
        CU_ASSERT_STRING_EQUAL(c->advertised.host, "localhost");
        rill_broker_conf_destroy(c);
        free(p);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_topic_conf(void)
{
        rill__log_conf_t c, before;
        char buf[64];
        int n;
        const rill__topic_conf_key_t *keys = rill__topic_conf_keys(&n);
        rill__log_conf_defaults(&c);

        CU_ASSERT_TRUE(n >= 18);
        /* Every key reads back and maps to a known server key. */
        rill_broker_conf_t *bc = rill_broker_conf_new();
        for (int i = 0; i < n; i++) {
                char sv[64];
                CU_ASSERT_EQUAL(rill__topic_conf_get(&c, keys[i].name, buf, sizeof(buf)), RILL_OK);
                CU_ASSERT_EQUAL(rill__topic_conf_set(&c, keys[i].name, buf, err, sizeof(err)),
                                RILL_OK);
                CU_ASSERT_EQUAL(rill__broker_conf_value(bc, keys[i].server_key, sv, sizeof(sv),
                                                        NULL, NULL),
                                RILL_OK);
                CU_ASSERT_PTR_EQUAL(rill__topic_conf_key_find(keys[i].name), &keys[i]);
        }
        rill_broker_conf_destroy(bc);

        struct {
                const char *key, *value, *readback;
        } good[] = {
                {"cleanup.policy", "compact", "compact"},
                {"cleanup.policy", "compact,delete", "compact,delete"},
                {"retention.ms", "-1", "-1"},
                {"retention.bytes", "1048576", "1048576"},
                {"segment.bytes", "16384", "16384"},
                {"segment.ms", "60000", "60000"},
                {"delete.retention.ms", "0", "0"},
                {"min.compaction.lag.ms", "100", "100"},
                {"max.compaction.lag.ms", "200000", "200000"},
                {"min.cleanable.dirty.ratio", "0.01", "0.01"},
                {"flush.messages", "1", "1"},
                {"flush.ms", "1000", "1000"},
                {"index.interval.bytes", "128", "128"},
                {"max.message.bytes", "5242880", "5242880"},
                {"message.timestamp.type", "LogAppendTime", "LogAppendTime"},
                {"segment.index.bytes", "4096", "4096"},
                {"min.insync.replicas", "2", "2"},
                {"compression.type", "lz4", "lz4"},
                {"compression.type", "uncompressed", "uncompressed"},
                {"unclean.leader.election.enable", "true", "true"},
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                rill_err_t e = rill__topic_conf_set(&c, good[i].key, good[i].value, err,
                                                    sizeof(err));
                CU_ASSERT_EQUAL(e, RILL_OK);
                CU_ASSERT_EQUAL(rill__topic_conf_get(&c, good[i].key, buf, sizeof(buf)), RILL_OK);
                if (strcmp(buf, good[i].readback)) {
                        fprintf(stderr, "\n  %s: \"%s\" != \"%s\"\n", good[i].key, buf,
                                good[i].readback);
                        CU_FAIL("topic config did not read back");
                }
        }
        CU_ASSERT_EQUAL(c.segment_bytes, 16384);
        CU_ASSERT_EQUAL(c.retention_ms, -1);
        CU_ASSERT_TRUE(c.log_append_time);
        CU_ASSERT_EQUAL(c.min_insync_replicas, 2);
        CU_ASSERT_EQUAL(c.compression_type, RILL__COMPRESSION_NONE);
        CU_ASSERT_EQUAL(c.cleanup_policy, RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE);

        struct bad_case bad[] = {
                {"cleanup.policy", "none", "delete"},
                {"retention.ms", "-2", "integer"},
                {"segment.bytes", "13", ">= 14"},
                {"segment.ms", "0", ">= 1"},
                {"delete.retention.ms", "-1", ">= 0"},
                {"max.compaction.lag.ms", "0", ">= 1"},
                {"min.cleanable.dirty.ratio", "2", "[0, 1]"},
                {"flush.messages", "0", ">= 1"},
                {"index.interval.bytes", "x", "integer"},
                {"max.message.bytes", "-5", "integer"},
                {"message.timestamp.type", "createtime", "CreateTime"},
                {"segment.index.bytes", "3", ">= 4"},
                {"min.insync.replicas", "0", ">= 1"},
                {"compression.type", "lzma", "zstd"},
                {"unclean.leader.election.enable", "1", "true or false"},
        };
        before = c;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                rill_err_t e = rill__topic_conf_set(&c, bad[i].key, bad[i].value, err, sizeof(err));
                CU_ASSERT_EQUAL(e, RILL_ERR_CONFIG);
                if (!strstr(err, bad[i].key) || !strstr(err, bad[i].value) ||
                    !strstr(err, bad[i].expect)) {
                        fprintf(stderr, "\n  %s=%s: \"%s\"\n", bad[i].key, bad[i].value, err);
                        CU_FAIL("message must name key, value and expectation");
                }
        }
        CU_ASSERT_EQUAL(memcmp(&before, &c, sizeof(c)), 0);
        CU_ASSERT_EQUAL(rill__topic_conf_set(&c, "log.retention.ms", "1", err, sizeof(err)),
                        RILL_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(rill__topic_conf_get(&c, "nope", buf, sizeof(buf)), RILL_ERR_NOT_FOUND);
        CU_ASSERT_PTR_NULL(rill__topic_conf_key_find("nope"));
}

static void
test_broker_introspection(void)
{
        rill_broker_conf_t *c = rill_broker_conf_new();
        char buf[128];
        bool is_null, is_set, ignored;
        int n = 0;
        bool saw_zk = false;
        for (const char *k; (k = rill__broker_conf_key_at(n, &ignored)); n++) {
                CU_ASSERT_EQUAL(rill__broker_conf_value(c, k, buf, sizeof(buf), &is_null, &is_set),
                                RILL_OK);
                CU_ASSERT_FALSE(is_set);
                if (!strcmp(k, "zookeeper.connect")) {
                        saw_zk = true;
                        CU_ASSERT_TRUE(ignored);
                        CU_ASSERT_TRUE(is_null);
                }
                if (!strcmp(k, "num.partitions"))
                        CU_ASSERT_FALSE(ignored);
        }
        CU_ASSERT_TRUE(saw_zk);
        CU_ASSERT_TRUE(n > 50);
        CU_ASSERT_PTR_NULL(rill__broker_conf_key_at(-1, NULL));
        CU_ASSERT_EQUAL(set(c, "num.partitions", "5"), RILL_OK);
        CU_ASSERT_EQUAL(rill__broker_conf_value(c, "num.partitions", buf, sizeof(buf), &is_null,
                                                &is_set),
                        RILL_OK);
        CU_ASSERT_TRUE(is_set);
        CU_ASSERT_FALSE(is_null);
        CU_ASSERT_STRING_EQUAL(buf, "5");
        CU_ASSERT_EQUAL(rill__broker_conf_value(c, "advertised.listeners", buf, sizeof(buf),
                                                &is_null, &is_set),
                        RILL_OK);
        CU_ASSERT_TRUE(is_null);
        rill_broker_conf_destroy(c);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"config",
                 NULL,
                 NULL,
                 {{"defaults", test_defaults},
                  {"set every type", test_set_types},
                  {"invalid values", test_invalid_values},
                  {"unknown keys", test_unknown_keys},
                  {"listeners", test_listeners},
                  {"retention precedence", test_retention_precedence},
                  {"load file", test_load_file},
                  {"topic config", test_topic_conf},
                  {"broker introspection", test_broker_introspection},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
