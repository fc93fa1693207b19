/*
 * test_table_ops.c - tables through the test driver: table sources, filter,
 * map_values, to_stream, and grouped-table aggregations whose updates
 * retract the old row (adder + subtractor), on multi-partition topics.
 */
#include "streams_test_util.h"

static bool
is_eu(const rill_record_t *r, void *opaque)
{
        return rill_bytes_eq_str(rill_record_value(r), "eu");
}

static void
test_table_filter_retracts(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_table_t *users = rill_builder_table(b, "users", rill_serde_string(), rill_serde_string(),
                                                 rill_materialized(b, "users-store"));
        rill_table_t *eu = rill_table_filter(users, is_eu, NULL, rill_materialized(b, "eu-users"));
        rill_stream_to(rill_table_to_stream(eu), "eu-out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "alice", "eu", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", "us", 2), RILL_OK);
        /* alice leaves the filter: a tombstone retracts her. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "alice", "us", 3), RILL_OK);
        /* bob was never in: deleting him emits nothing. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", NULL, 4), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "eu-out", "alice", "eu"));
        CU_ASSERT_TRUE(st_expect_str(td, "eu-out", "alice", NULL));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "eu-out"), 0);
        void *v;
        size_t len;
        CU_ASSERT_EQUAL(rill_test_driver_store_get(td, "eu-users", rill_bytes("alice", 5), &v, &len),
                        RILL_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(rill_test_driver_store_get(td, "users-store", rill_bytes("alice", 5), &v,
                                                   &len),
                        RILL_OK);
        CU_ASSERT_EQUAL(len, 2);
        rill_free(v);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
shout(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        char buf[64];
        rill_bytes_t v = rill_record_value(in);
        int n = snprintf(buf, sizeof(buf), "%.*s!", (int)v.len, (const char *)v.data);
        rill_out_value(out, rill_bytes(buf, (size_t)n));
}

static void
test_table_map_values(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_table_t *tb = rill_builder_table(b, "in", rill_serde_string(), rill_serde_string(), NULL);
        rill_stream_to(rill_table_to_stream(rill_table_map_values(tb, shout, NULL, NULL)), "out",
                       NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, "in_memory");
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "hi", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", NULL, 2), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", "hi!"));
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", NULL));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
by_region(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_kv(out, rill_record_value(in), rill_record_key(in));
}

/* Users per region, with users moving: each move retracts the old region. */
static void
test_grouped_table_count_retractions(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_table_t *users = rill_builder_table(b, "users", rill_serde_string(), rill_serde_string(),
                                                 NULL);
        rill_grouped_table_t *g = rill_table_group_by(users, by_region, NULL, "by-region", NULL,
                                                      NULL);
        rill_table_t *counts = rill_grouped_table_count(g, rill_materialized(b, "region-counts"));
        rill_stream_to(rill_table_to_stream(counts), "region-counts-out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_create_topic(td, "users", 3), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "alice", "eu", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", "us", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "carol", "eu", 3), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "eu"), 2);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "us"), 1);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "alice", "us", 4), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "eu"), 1);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "us"), 2);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "bob", NULL, 5), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "us"), 1);
        /* Re-sending the same row subtracts then adds: the count is unchanged. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "users", "carol", "eu", 6), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "region-counts", "eu"), 1);
        CU_ASSERT_TRUE(st_expect_i64(td, "region-counts-out", "eu", 1));
        CU_ASSERT_TRUE(st_expect_i64(td, "region-counts-out", "us", 1));
        CU_ASSERT_TRUE(st_expect_i64(td, "region-counts-out", "eu", 2));
        CU_ASSERT_TRUE(st_expect_i64(td, "region-counts-out", "eu", 1)); /* alice retracted */
        CU_ASSERT_TRUE(st_expect_i64(td, "region-counts-out", "us", 2)); /* alice added */
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
sum_add(const rill_record_t *r, rill_bytes_t agg, rill_out_t *out, void *opaque)
{
        int64_t a = 0, v = 0;
        rill_bytes_i64(agg, &a);
        rill_bytes_i64(rill_record_value(r), &v);
        rill_out_value_i64(out, a + v);
}

static void
sum_sub(const rill_record_t *r, rill_bytes_t agg, rill_out_t *out, void *opaque)
{
        int64_t a = 0, v = 0;
        rill_bytes_i64(agg, &a);
        rill_bytes_i64(rill_record_value(r), &v);
        rill_out_value_i64(out, a - v);
}

static void
zero(rill_out_t *out, void *opaque)
{
        rill_out_value_i64(out, 0);
}

static void
owner_of_account(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        /* account "owner/n" -> key owner */
        rill_bytes_t k = rill_record_key(in);
        const char *slash = memchr(k.data, '/', k.len);
        size_t n = slash ? (size_t)(slash - (const char *)k.data) : k.len;
        rill_out_kv(out, rill_bytes(k.data, n), rill_record_value(in));
}

static rill_err_t
pipe_i64(rill_test_driver_t *td, const char *topic, const char *key, int64_t v, bool null, int64_t ts)
{
        uint8_t buf[8];
        rill_i64_encode(v, buf);
        return rill_test_driver_pipe(td, topic, -1, rill_bytes(key, strlen(key)),
                                     null ? rill_bytes(NULL, 0) : rill_bytes(buf, 8), ts);
}

static void
test_grouped_table_reduce_and_aggregate(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_table_t *acc = rill_builder_table(b, "accounts", rill_serde_string(), rill_serde_int64(),
                                               NULL);
        rill_grouped_table_t *g = rill_table_group_by(acc, owner_of_account, NULL, NULL, NULL, NULL);
        rill_grouped_table_reduce(g, sum_add, sum_sub, NULL, rill_materialized(b, "reduced"));
        rill_grouped_table_aggregate(
                g, zero, sum_add, sum_sub, NULL,
                rill_materialized_with_serdes(rill_materialized(b, "aggregated"), NULL,
                                              rill_serde_int64()));
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_create_topic(td, "accounts", 2), RILL_OK);
        CU_ASSERT_EQUAL(pipe_i64(td, "accounts", "ann/1", 10, false, 1), RILL_OK);
        CU_ASSERT_EQUAL(pipe_i64(td, "accounts", "ann/2", 5, false, 2), RILL_OK);
        CU_ASSERT_EQUAL(pipe_i64(td, "accounts", "ben/1", 7, false, 3), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "reduced", "ann"), 15);
        CU_ASSERT_EQUAL(st_store_i64(td, "aggregated", "ann"), 15);
        CU_ASSERT_EQUAL(st_store_i64(td, "reduced", "ben"), 7);
        /* An update retracts 10 and adds 3. */
        CU_ASSERT_EQUAL(pipe_i64(td, "accounts", "ann/1", 3, false, 4), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "reduced", "ann"), 8);
        CU_ASSERT_EQUAL(st_store_i64(td, "aggregated", "ann"), 8);
        /* A delete retracts. */
        CU_ASSERT_EQUAL(pipe_i64(td, "accounts", "ann/2", 0, true, 5), RILL_OK);
        CU_ASSERT_EQUAL(st_store_i64(td, "reduced", "ann"), 3);
        CU_ASSERT_EQUAL(st_store_i64(td, "aggregated", "ann"), 3);
        CU_ASSERT_EQUAL(st_store_i64(td, "aggregated", "ben"), 7);
        /* The generated repartition name is stable and derived from the source. */
        CU_ASSERT_TRUE(rill_test_driver_queue_size(
                               td, "test-driver-table-group-by-accounts-0-repartition") > 0);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"table operators", NULL, NULL,
                 {{"filter retracts rows", test_table_filter_retracts},
                  {"map_values", test_table_map_values},
                  {"group_by + count with retractions", test_grouped_table_count_retractions},
                  {"group_by + reduce/aggregate", test_grouped_table_reduce_and_aggregate},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
