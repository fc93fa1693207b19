/*
 * test_streams_mock.c - the word-count topology against librdkafka's mock
 * cluster, an independent Kafka-protocol implementation (no admin API, so
 * the internal topics are created beforehand, as a user would on such a
 * cluster). Checks the counts against an independent computation, then
 * closes the instance, starts a new one with an empty state directory
 * (forcing a restore from the changelog), adds input and checks again.
 */
#include "streams_it_util.h"

#include <librdkafka/rdkafka_mock.h>

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static const char *bootstrap;

static int
setup(void)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
        mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
        if (!mock_rk)
                return 1;
        mock = rd_kafka_mock_cluster_new(mock_rk, 1);
        if (!mock)
                return 1;
        bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
        if (rd_kafka_mock_topic_create(mock, "streams-plaintext-input", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "streams-wordcount-output", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "it-mock-words-repartition", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "it-mock-counts-store-changelog", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "streams-wordcount-output-cached", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "it-mock-cached-words-repartition", 4, 1) ||
            rd_kafka_mock_topic_create(mock, "it-mock-cached-counts-store-changelog", 4, 1))
                return 1;
        if (rd_kafka_mock_topic_create(mock, "pat-alpha", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "pat-beta", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "pat-out", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "nopat-gamma", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "punct-in", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "punct-out", 2, 1) ||
            rd_kafka_mock_topic_create(mock, "it-punct-seen-changelog", 2, 1))
                return 1;
        for (int i = 0; i < 3; i++) {
                char in[64], out[64];
                snprintf(in, sizeof(in), "numbers-%d", i);
                snprintf(out, sizeof(out), "numbers-out-%d", i);
                if (rd_kafka_mock_topic_create(mock, in, 1, 1) ||
                    rd_kafka_mock_topic_create(mock, out, 1, 1))
                        return 1;
        }
        return 0;
}

static int
teardown(void)
{
        if (mock)
                rd_kafka_mock_cluster_destroy(mock);
        if (mock_rk)
                rd_kafka_destroy(mock_rk);
        return 0;
}

static void
test_wordcount_and_restore(void)
{
        rill_topology_t *topo = it_wordcount_topology();
        char *dir1 = rill_test_tmpdir("rill-it-mock"), *dir2 = rill_test_tmpdir("rill-it-mock2");
        it_counts_t want = {{0}};
        it_reader_t rd;
        rill_app_t *app;
        void *v = NULL;
        size_t vlen = 0;
        int64_t n = -1;

        CU_ASSERT_PTR_NOT_NULL_FATAL(topo);
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 0, 300, &want));
        app = it_app_start(topo, bootstrap, "it-mock", dir1, "2");
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       60000));
        it_counts_print("first run", &rd.latest, &want);
        CU_ASSERT_EQUAL(rd.bad, 0);
        CU_ASSERT_EQUAL(rill_app_state(app), RILL_APP_RUNNING);
        /* Interactive query by key. */
        CU_ASSERT_EQUAL(rill_app_store_get(app, "counts-store", rill_bytes("alpha", 5), &v, &vlen),
                        RILL_OK);
        CU_ASSERT_EQUAL(rill_bytes_i64(rill_bytes(v, vlen), &n), RILL_OK);
        CU_ASSERT_EQUAL(n, want.n[0]);
        rill_free(v);
        CU_ASSERT_EQUAL(rill_app_close(app, 30000), RILL_OK);
        CU_ASSERT_EQUAL(rill_app_state(app), RILL_APP_NOT_RUNNING);
        rill_app_destroy(app);

        /* A new instance with no local state restores from the changelog. */
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 300, 400, &want));
        app = it_app_start(topo, bootstrap, "it-mock", dir2, "1");
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       60000));
        it_counts_print("after restore", &rd.latest, &want);
        /* The new instance replayed the changelog into its empty stores. */
        CU_ASSERT_TRUE(rill_app_records_restored(app) > 0);
        CU_ASSERT_EQUAL(rill_app_close(app, 30000), RILL_OK);
        rill_app_destroy(app);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        rill_test_rmdir(dir1);
        rill_test_rmdir(dir2);
        free(dir1);
        free(dir2);
}

/* The same word count with the record cache: updates are merged between
 * commits, and the final counts are still exact. */
static void
test_wordcount_cached(void)
{
        rill_topology_t *topo = it_wordcount_topology_ex(true);
        char *dir = rill_test_tmpdir("rill-it-mock-cached");
        it_counts_t want = {{0}}, base = {{0}};
        it_reader_t rd;
        rill_app_t *app;

        CU_ASSERT_PTR_NOT_NULL_FATAL(topo);
        /* The input topic already holds the lines of the first test. */
        for (int i = 0; i < 400; i++) {
                char line[256];
                it_line(i, line, sizeof(line), &base);
        }
        want = base;
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 400, 500, &want));
        app = it_app_start(topo, bootstrap, "it-mock-cached", dir, "2");
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_TRUE_FATAL(
                it_reader_open_topic(&rd, bootstrap, "streams-wordcount-output-cached", 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       60000));
        it_counts_print("cached", &rd.latest, &want);
        /* Fewer output records than word occurrences: updates were merged. */
        int64_t words = 0;
        for (int i = 0; i < IT_NWORDS; i++)
                words += want.n[i];
        CU_ASSERT_TRUE(rd.records < words);
        CU_ASSERT_EQUAL(rill_app_close(app, 30000), RILL_OK);
        rill_app_destroy(app);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_missing_internal_topic_is_reported(void)
{
        char err[512];
        rill_topology_t *topo = it_wordcount_topology();
        char *dir = rill_test_tmpdir("rill-it-mock3");
        rill_conf_t *c = rill_conf_new();
        rill_app_t *app;
        rill_conf_set(c, "application.id", "it-mock-other", err, sizeof(err));
        rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rill_conf_set(c, "state.dir", dir, err, sizeof(err));
        app = rill_app_new(topo, c, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        /* The mock cluster has no CreateTopics: the start fails with a clear
         * message naming the topic to create. */
        CU_ASSERT_NOT_EQUAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "it-mock-other-words-repartition"));
        rill_app_destroy(app);
        rill_topology_destroy(topo);
        rill_test_rmdir(dir);
        free(dir);
}

static void
plus_one(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        int64_t v = 0;
        rill_bytes_i64(rill_record_value(in), &v);
        rill_out_value_i64(out, v + 1);
}

/* numbers-<i> (int64 values) -> +1 -> numbers-out-<i>; the input holds 1,
 * a malformed value, then 2. */
static rill_topology_t *
numbers_topology(int i)
{
        char in[64], out[64];
        snprintf(in, sizeof(in), "numbers-%d", i);
        snprintf(out, sizeof(out), "numbers-out-%d", i);
        rill_builder_t *b = rill_builder_new();
        rill_stream_to(rill_stream_map_values(rill_builder_stream(b, in, rill_serde_string(),
                                                                  rill_serde_int64()),
                                              plus_one, NULL),
                       out, NULL, NULL);
        rill_topology_t *t = rill_builder_build(b, NULL, 0);
        rill_builder_destroy(b);
        rd_kafka_t *p = it_producer(bootstrap);
        uint8_t v[8];
        rill_i64_encode(1, v);
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_VALUE(v, 8),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_VALUE("bad", 3),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rill_i64_encode(2, v);
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_VALUE(v, 8),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        CU_ASSERT_EQUAL(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(p);
        return t;
}

/* Reads every value of numbers-out-<i> so far (int64s) into @p vals. */
static int
read_numbers(int i, int64_t *vals, int max)
{
        char err[256], out[64];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
        rd_kafka_message_t *m;
        int n = 0;
        snprintf(out, sizeof(out), "numbers-out-%d", i);
        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(c, "group.id", "numbers-reader", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
        rd_kafka_topic_partition_list_add(tp, out, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        int64_t deadline = rill_test_now_ms() + 10000;
        while (rill_test_now_ms() < deadline) {
                bool eof;
                if (!(m = rd_kafka_consumer_poll(rk, 100)))
                        continue;
                eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
                if (!m->err && n < max)
                        rill_bytes_i64(rill_bytes(m->payload, m->len), &vals[n++]);
                rd_kafka_message_destroy(m);
                if (eof)
                        break;
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n;
}

static rill_app_t *
numbers_app(const rill_topology_t *t, int i, const char *handler, const char *dir)
{
        char err[512], id[64];
        rill_conf_t *c = rill_conf_new();
        rill_app_t *app;
        snprintf(id, sizeof(id), "it-numbers-%d", i);
        rill_conf_set(c, "application.id", id, err, sizeof(err));
        rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rill_conf_set(c, "state.dir", dir, err, sizeof(err));
        rill_conf_set(c, "commit.interval.ms", "100", err, sizeof(err));
        rill_conf_set(c, "default.deserialization.exception.handler", handler, err, sizeof(err));
        app = rill_app_new(t, c, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        return app;
}

static void
test_deserialization_log_and_continue(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-it-num");
        rill_topology_t *t = numbers_topology(0);
        rill_app_t *app = numbers_app(t, 0, "log_and_continue", dir);
        int64_t vals[8];
        int n = 0;
        CU_ASSERT_EQUAL_FATAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_records_processed(app) >= 2, 30000));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((n = read_numbers(0, vals, 8)) >= 2, 30000));
        CU_ASSERT_EQUAL(n, 2);
        CU_ASSERT_EQUAL(vals[0], 2);
        CU_ASSERT_EQUAL(vals[1], 3);
        CU_ASSERT_EQUAL(rill_app_state(app), RILL_APP_RUNNING);
        CU_ASSERT_EQUAL(rill_app_close(app, 10000), RILL_OK);
        rill_app_destroy(app);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_deserialization_fail_shuts_down(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-it-num");
        rill_topology_t *t = numbers_topology(1);
        rill_app_t *app = numbers_app(t, 1, "fail", dir);
        int64_t vals[8];
        CU_ASSERT_EQUAL_FATAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(app) == RILL_APP_ERROR, 30000));
        CU_ASSERT_EQUAL(rill_app_last_error(app, err, sizeof(err)), RILL_ERR_SERDE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "deserialization"));
        /* The record before the poison pill was processed and delivered. */
        CU_ASSERT_EQUAL(read_numbers(1, vals, 8), 1);
        CU_ASSERT_EQUAL(vals[0], 2);
        rill_app_destroy(app);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

static int replaced;

static rill_error_action_t
replace_twice(rill_app_t *app, int thread, rill_err_t err, const char *msg, void *opaque)
{
        CU_ASSERT_EQUAL(err, RILL_ERR_SERDE);
        return ++replaced <= 2 ? RILL_REPLACE_THREAD : RILL_SHUTDOWN_CLIENT;
}

static void
test_replace_thread_policy(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-it-num");
        rill_topology_t *t = numbers_topology(2);
        rill_app_t *app = numbers_app(t, 2, "fail", dir);
        int64_t vals[8];
        int n;
        replaced = 0;
        rill_app_set_error_cb(app, replace_twice, NULL);
        CU_ASSERT_EQUAL_FATAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        /* The poison pill fails each replacement thread again (as in Kafka
         * Streams); the callback gives up on the third failure. */
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(app) == RILL_APP_ERROR, 60000));
        CU_ASSERT_EQUAL(replaced, 3);
        n = read_numbers(2, vals, 8);
        /* The first record was committed before each replacement: it is
         * not processed again. */
        CU_ASSERT_EQUAL(n, 1);
        CU_ASSERT_EQUAL(vals[0], 2);
        rill_app_destroy(app);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

/* Records of @p topic (all partitions), only those with key @p key if not NULL. */
static int
count_topic_key(const char *topic, int partitions, const char *key)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(partitions);
        rd_kafka_message_t *m;
        int n = 0, eofs = 0;
        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(c, "group.id", "count-reader", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
        for (int p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(tp, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        int64_t deadline = rill_test_now_ms() + 10000;
        while (eofs < partitions && rill_test_now_ms() < deadline) {
                if (!(m = rd_kafka_consumer_poll(rk, 100)))
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        eofs++;
                else if (!m->err && (!key || (m->key_len == strlen(key) &&
                                              !memcmp(m->key, key, m->key_len))))
                        n++;
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n;
}

static int
count_topic(const char *topic, int partitions)
{
        return count_topic_key(topic, partitions, NULL);
}

/* A regex source subscribes to every matching topic (and only those). */
static void
test_pattern_source(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-it-pat");
        rill_builder_t *b = rill_builder_new();
        rill_stream_to(rill_builder_stream_pattern(b, "pat-(alpha|beta)", NULL, NULL), "pat-out",
                       NULL, NULL);
        rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
        rill_builder_destroy(b);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        rd_kafka_t *p = it_producer(bootstrap);
        const char *topics[] = {"pat-alpha", "pat-beta", "nopat-gamma"};
        for (int i = 0; i < 30; i++)
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topics[i % 3]), RD_KAFKA_V_KEY(&i, sizeof(i)),
                                  RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END);
        CU_ASSERT_EQUAL(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(p);
        rill_conf_t *c = rill_conf_new();
        rill_conf_set(c, "application.id", "it-pattern", err, sizeof(err));
        rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rill_conf_set(c, "state.dir", dir, err, sizeof(err));
        rill_conf_set(c, "commit.interval.ms", "100", err, sizeof(err));
        rill_app_t *app = rill_app_new(t, c, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_EQUAL_FATAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_records_processed(app) >= 20, 30000));
        CU_ASSERT_EQUAL(rill_app_close(app, 10000), RILL_OK);
        CU_ASSERT_EQUAL(rill_app_records_processed(app), 20);
        CU_ASSERT_EQUAL(count_topic("pat-out", 2), 20);
        rill_app_destroy(app);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

/* Processor API in the runtime: a store, a wall-clock punctuator that
 * reports how many records each task saw, and stream-time punctuation. */
static void
punct_wall(rill_ctx_t *ctx, int64_t now, void *opaque)
{
        rill_kv_store_t *st = rill_ctx_store(ctx, "seen");
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "%llu", (unsigned long long)rill_kv_store_approx_count(st));
        rill_ctx_forward(ctx, rill_bytes("wall", 4), rill_bytes(msg, (size_t)n), now);
}

static void
punct_stream(rill_ctx_t *ctx, int64_t ts, void *opaque)
{
        rill_ctx_forward(ctx, rill_bytes("stream", 6), rill_bytes("tick", 4), ts);
}

static rill_err_t
punct_init(rill_ctx_t *ctx, void *opaque, void **state)
{
        rill_ctx_schedule(ctx, 100, RILL_PUNCTUATE_WALL_CLOCK_TIME, punct_wall, NULL);
        rill_ctx_schedule(ctx, 1000, RILL_PUNCTUATE_STREAM_TIME, punct_stream, NULL);
        return RILL_OK;
}

static void
punct_process(rill_ctx_t *ctx, const rill_record_t *r, void *state)
{
        rill_kv_store_put(rill_ctx_store(ctx, "seen"), rill_record_key(r), rill_bytes("", 0));
}

static void
test_processor_punctuation_runtime(void)
{
        static const rill_processor_ops_t ops = {punct_init, punct_process, NULL};
        const char *stores[] = {"seen", NULL};
        char err[512];
        char *dir = rill_test_tmpdir("rill-it-punct");
        rill_builder_t *b = rill_builder_new();
        rill_builder_add_store(b, rill_materialized(b, "seen"));
        rill_stream_to(rill_stream_process(rill_builder_stream(b, "punct-in", NULL, NULL), &ops, NULL,
                                           "counter", stores),
                       "punct-out", NULL, NULL);
        rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
        rill_builder_destroy(b);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        rd_kafka_t *p = it_producer(bootstrap);
        for (int i = 0; i < 10; i++) {
                char k[8];
                int kl = snprintf(k, sizeof(k), "k%d", i);
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC("punct-in"), RD_KAFKA_V_KEY(k, (size_t)kl),
                                  RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_TIMESTAMP(1000 + i * 500),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
        CU_ASSERT_EQUAL(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(p);
        rill_conf_t *c = rill_conf_new();
        rill_conf_set(c, "application.id", "it-punct", err, sizeof(err));
        rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rill_conf_set(c, "state.dir", dir, err, sizeof(err));
        rill_app_t *app = rill_app_new(t, c, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_EQUAL_FATAL(rill_app_start(app, err, sizeof(err)), RILL_OK);
        /* Wall-clock punctuators run with no input at all, every 100 ms per
         * task; stream-time ones ran while the records arrived. */
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_records_processed(app) == 10 &&
                                               count_topic_key("punct-out", 2, "wall") >= 10,
                                       30000));
        /* Each task fired its stream-time punctuator at least at its first
         * record (schedules are aligned to 0). */
        CU_ASSERT_TRUE(count_topic_key("punct-out", 2, "stream") >= 2);
        void *v;
        size_t len;
        CU_ASSERT_EQUAL(rill_app_store_get(app, "seen", rill_bytes("k3", 2), &v, &len), RILL_OK);
        rill_free(v);
        CU_ASSERT_EQUAL(rill_app_close(app, 10000), RILL_OK);
        rill_app_destroy(app);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"streams on the librdkafka mock cluster", setup, teardown,
                 {{"wordcount, close, restore", test_wordcount_and_restore},
                  {"wordcount with the record cache", test_wordcount_cached},
                  {"missing internal topic", test_missing_internal_topic_is_reported},
                  {"deserialization: log_and_continue", test_deserialization_log_and_continue},
                  {"deserialization: fail shuts down", test_deserialization_fail_shuts_down},
                  {"uncaught errors: replace thread", test_replace_thread_policy},
                  {"pattern source", test_pattern_source},
                  {"processor punctuation in the runtime", test_processor_punctuation_runtime},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
