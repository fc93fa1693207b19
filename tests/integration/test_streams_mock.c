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
            rd_kafka_mock_topic_create(mock, "it-mock-counts-store-changelog", 4, 1))
                return 1;
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
        CU_ASSERT_EQUAL(rill_app_close(app, 30000), RILL_OK);
        rill_app_destroy(app);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        rill_test_rmdir(dir1);
        rill_test_rmdir(dir2);
        free(dir1);
        free(dir2);
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

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"streams on the librdkafka mock cluster", setup, teardown,
                 {{"wordcount, close, restore", test_wordcount_and_restore},
                  {"missing internal topic", test_missing_internal_topic_is_reported},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
