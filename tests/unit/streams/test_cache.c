/*
 * test_cache.c - the record cache of DSL stores: updates of a key between
 * commits are merged into one store write, one changelog record and one
 * downstream change; the budget forces early flushes; retractions through a
 * cached grouped table stay exact.
 */
#include "streams_test_util.h"

static void
split_words(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        const char *p = v.data, *end = p + v.len;
        while (p < end) {
                const char *w;
                while (p < end && *p == ' ')
                        p++;
                w = p;
                while (p < end && *p != ' ')
                        p++;
                if (p > w)
                        rill_out_value(out, rill_bytes(w, (size_t)(p - w)));
        }
}

static void
word_key(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_key(out, rill_record_value(in));
}

/* Word count; @p caching: 1 on, 0 off, -1 the store's default (no
 * rill_materialized_with_caching() call). */
static rill_topology_t *
wordcount_topology(int caching)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_materialized_t *m = rill_materialized(b, "counts");
        rill_table_t *c;
        if (caching >= 0)
                m = rill_materialized_with_caching(m, caching == 1);
        c = rill_grouped_count(rill_stream_group_by(rill_stream_flat_map_values(s, split_words, NULL),
                                                    word_key, NULL, "words", NULL),
                               m);
        rill_stream_to(rill_table_to_stream(c), "out", NULL, rill_serde_int64());
        return st_build(b);
}

static rill_topology_t *
cached_wordcount(void)
{
        return wordcount_topology(1);
}

static rill_test_driver_t *
driver_ex(const rill_topology_t *t, const char *commit_ms, const char *cache_bytes)
{
        char err[256];
        rill_conf_t *c = rill_conf_new();
        rill_test_driver_t *td;
        if (commit_ms)
                rill_conf_set(c, "commit.interval.ms", commit_ms, NULL, 0);
        if (cache_bytes)
                rill_conf_set(c, "statestore.cache.max.bytes", cache_bytes, NULL, 0);
        rill_conf_set(c, "default.dsl.store", "in_memory", NULL, 0);
        td = rill_test_driver_new(t, c, err, sizeof(err));
        rill_conf_destroy(c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(td);
        return td;
}

static rill_test_driver_t *
driver(const rill_topology_t *t, const char *commit_ms)
{
        return driver_ex(t, commit_ms, NULL);
}

/* Without commit.interval.ms the driver commits after each record: the
 * updates made by one record are still merged. */
static void
test_merge_within_a_record(void)
{
        rill_topology_t *t = cached_wordcount();
        rill_test_driver_t *td = driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "a a a b", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 2);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "a", 3));
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "b", 1));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-counts-changelog"), 2);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "a", 2), RILL_OK);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "a", 4));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

/* With commit.interval.ms the updates wait for the (mocked) commit. */
static void
test_flush_on_commit(void)
{
        rill_topology_t *t = cached_wordcount();
        rill_test_driver_t *td = driver(t, "1000");
        rill_kv_store_t *st;
        rill_bytes_t v;
        int64_t n = 0;
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "x y", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "x x", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 0);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-counts-changelog"), 0);
        /* The task sees its cached value; interactive queries see the store. */
        st = rill_test_driver_store(td, "counts", 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        CU_ASSERT_EQUAL(rill_kv_store_get(st, rill_bytes("x", 1), &v), RILL_OK);
        CU_ASSERT_EQUAL(rill_bytes_i64(v, &n), RILL_OK);
        CU_ASSERT_EQUAL(n, 3);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "x"), -1);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 999), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 0);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 2);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "x", 3));
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "y", 1));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-counts-changelog"), 2);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "x"), 3);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

/* More distinct keys than the budget holds: the cache flushes early. */
/* DSL stores are cached by default (as in Kafka Streams);
 * statestore.cache.max.bytes=0 turns every cache off. */
static void
test_default_on_and_zero_budget_off(void)
{
        rill_topology_t *t = wordcount_topology(-1);
        rill_test_driver_t *td = driver_ex(t, "1000", NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "x x x", 0), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 0);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 1000), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 1);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "x", 3));
        rill_test_driver_destroy(td);

        td = driver_ex(t, "1000", "0");
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "x x x", 0), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 3);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "x", 1));
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "x", 2));
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "x", 3));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_budget_forces_flush(void)
{
        rill_topology_t *t = cached_wordcount();
        rill_test_driver_t *td = driver_ex(t, "100000", "1");
        char line[64];
        for (int i = 0; i < 3000; i++) {
                snprintf(line, sizeof(line), "word%05d", i);
                CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", line, i), RILL_OK);
        }
        /* A budget of 1 byte is raised to the minimum, 64 KiB: 3000 entries
         * do not fit. */
        size_t early = rill_test_driver_queue_size(td, "out");
        if (!(early > 0 && early < 3000))
                fprintf(stderr, "early flushes: %zu records\n", early);
        CU_ASSERT_TRUE(early > 0 && early < 3000);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 100000), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 3000);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
by_region(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_kv(out, rill_record_value(in), rill_record_key(in));
}

/* A cached table source and a cached grouped-table count: several moves
 * between commits still retract exactly. */
static void
test_cached_table_retractions(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_table_t *users = rill_builder_table(
                b, "users", rill_serde_string(), rill_serde_string(),
                rill_materialized_with_caching(rill_materialized(b, "users"), true));
        rill_table_t *counts = rill_grouped_table_count(
                rill_table_group_by(users, by_region, NULL, "by-region", NULL, NULL),
                rill_materialized_with_caching(rill_materialized(b, "regions"), true));
        rill_stream_to(rill_table_to_stream(counts), "region-out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = driver(t, "1000");
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "ann", "eu", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", "eu", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 1000), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "regions", "eu"), 2);
        /* ann moves twice and bob once before the next commit. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "ann", "us", 3), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "ann", "asia", 4), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", "us", 5), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 1000), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "regions", "eu"), 0);
        CU_ASSERT_EQUAL(st_store_i64(td, "regions", "us"), 1);
        CU_ASSERT_EQUAL(st_store_i64(td, "regions", "asia"), 1);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"record cache", NULL, NULL,
                 {{"merge within a record", test_merge_within_a_record},
                  {"flush on commit", test_flush_on_commit},
                  {"budget forces a flush", test_budget_forces_flush},
                  {"on by default, off with a zero budget", test_default_on_and_zero_budget_off},
                  {"cached table retractions", test_cached_table_retractions},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
