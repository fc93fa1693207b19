/*
 * test_topology.c - the builder: latched errors reported once at build,
 * failed handles passed through, stable generated names, sub-topologies,
 * co-partitioning checks.
 */
#include "streams_int.h"
#include "streams_test_util.h"

static void
ident(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_value(out, rill_record_value(in));
}

static void
key_of_value(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_key(out, rill_record_value(in));
}

static void
test_errors_are_latched(void)
{
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "bad topic!", NULL, NULL);
        /* Operators on the failed handle return failed handles, not NULL. */
        rill_stream_t *m = rill_stream_map_values(s, ident, NULL);
        CU_ASSERT_PTR_NOT_NULL(m);
        rill_stream_to(m, "out", NULL, NULL);
        /* A second error does not replace the first. */
        rill_stream_filter(rill_builder_stream(b, "ok", NULL, NULL), NULL, NULL);
        CU_ASSERT_EQUAL(rill_builder_error(b, err, sizeof(err)), RILL_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NULL(rill_builder_build(b, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad topic!"));
        CU_ASSERT_PTR_NULL(rill_stream_map_values(NULL, ident, NULL));
        rill_builder_destroy(b);
}

static void
nop_process(rill_ctx_t *ctx, const rill_record_t *r, void *state)
{
}

static void
test_duplicate_names_and_sources(void)
{
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_builder_stream(b, "t", NULL, NULL);
        rill_builder_stream(b, "t", NULL, NULL);
        CU_ASSERT_PTR_NULL(rill_builder_build(b, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "already read"));
        rill_builder_destroy(b);

        b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "t", NULL, NULL);
        rill_grouped_count(rill_stream_group_by_key(s, NULL), rill_materialized(b, "c"));
        rill_grouped_count(rill_stream_group_by_key(s, NULL), rill_materialized(b, "c"));
        CU_ASSERT_PTR_NULL(rill_builder_build(b, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"c\" already exists"));
        rill_builder_destroy(b);

        b = rill_builder_new();
        const char *stores[] = {"missing", NULL};
        static const rill_processor_ops_t ops = {NULL, nop_process, NULL};
        rill_stream_process(rill_builder_stream(b, "t", NULL, NULL), &ops, NULL, NULL, stores);
        CU_ASSERT_PTR_NULL(rill_builder_build(b, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing"));
        rill_builder_destroy(b);
}

static rill_topology_t *
counting(bool with_filter)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "events", NULL, NULL);
        if (with_filter)
                s = rill_stream_map_values(s, ident, NULL);
        rill_grouped_count(rill_stream_group_by(s, key_of_value, NULL, NULL, NULL), NULL);
        return st_build(b);
}

static void
test_generated_names_are_stable(void)
{
        rill_topology_t *a = counting(false), *b = counting(true);
        CU_ASSERT_EQUAL_FATAL(a->nstores, 1);
        CU_ASSERT_EQUAL_FATAL(b->nstores, 1);
        CU_ASSERT_STRING_EQUAL(a->stores[0].name, "count-events-0");
        CU_ASSERT_STRING_EQUAL(a->stores[0].name, b->stores[0].name);
        CU_ASSERT_STRING_EQUAL(a->reparts[0].name, "group-by-events-0");
        CU_ASSERT_STRING_EQUAL(a->reparts[0].name, b->reparts[0].name);
        /* Two sub-topologies: before and after the repartition topic. */
        CU_ASSERT_EQUAL(a->nsubs, 2);
        CU_ASSERT_EQUAL(a->reparts[0].from_sub, 0);
        CU_ASSERT_EQUAL(a->reparts[0].to_sub, 1);
        CU_ASSERT_EQUAL(a->stores[0].sub, 1);
        rill_topology_destroy(a);
        rill_topology_destroy(b);
}

static int32_t
fake_parts(void *opaque, const char *topic)
{
        if (!strcmp(topic, "left"))
                return 4;
        if (!strcmp(topic, "right"))
                return *(int32_t *)opaque;
        return 0;
}

static void
test_copartition_check(void)
{
        const char *topics[] = {"left", "right"};
        char err[512];
        int32_t right = 3, subp[4], repp[4];
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream_topics(b, topics, 2, NULL, NULL);
        rill_grouped_count(rill_stream_group_by_key(s, NULL), NULL);
        rill_topology_t *t = st_build(b);
        CU_ASSERT_EQUAL(rill__topo_partitions(t, "app", fake_parts, &right, subp, repp, err,
                                              sizeof(err)),
                        RILL_ERR_TOPOLOGY);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "different partition counts"));
        right = 4;
        CU_ASSERT_EQUAL(rill__topo_partitions(t, "app", fake_parts, &right, subp, repp, err,
                                              sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(subp[0], 4);
        right = 0;
        CU_ASSERT_EQUAL(rill__topo_partitions(t, "app", fake_parts, &right, subp, repp, err,
                                              sizeof(err)),
                        RILL_ERR_TOPOLOGY);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"right\" does not exist"));
        /* The driver reports it at the first pipe. */
        rill_test_driver_t *td = st_driver(t, NULL);
        rill_test_driver_create_topic(td, "left", 2);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "left", "k", "v", 1), RILL_ERR_TOPOLOGY);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_repartition_counts_follow_upstream(void)
{
        char err[512];
        int32_t right = 4, subp[4], repp[4];
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "left", NULL, NULL);
        rill_stream_t *r = rill_stream_repartition(rill_stream_select_key(s, key_of_value, NULL),
                                                   NULL, 0);
        rill_stream_t *r2 = rill_stream_repartition(r, "fixed", 7);
        rill_grouped_count(rill_stream_group_by_key(r2, NULL), NULL);
        rill_topology_t *t = st_build(b);
        CU_ASSERT_EQUAL(t->nsubs, 3);
        CU_ASSERT_EQUAL(rill__topo_partitions(t, "app", fake_parts, &right, subp, repp, err,
                                              sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(repp[0], 4);
        CU_ASSERT_EQUAL(repp[1], 7);
        CU_ASSERT_EQUAL(subp[2], 7);
        char *d = rill_topology_describe(t);
        CU_ASSERT_PTR_NOT_NULL(strstr(d, "Sub-topology: 2"));
        rill_free(d);
        rill_topology_destroy(t);
}

/* The runtime's record choice within a task: per-partition order kept,
 * lowest head timestamp first across partitions. */
static void
test_order_by_head_ts(void)
{
        static const char A[] = "a", B[] = "b";
        /* Arrival: a0(5) a1(1) b0(2) b1(9) a2(7) b2(3) */
        const char *names[] = {"a0", "a1", "b0", "b1", "a2", "b2"};
        const void *topic[] = {A, A, B, B, A, B};
        int32_t part[] = {0, 0, 0, 0, 0, 0};
        int64_t ts[] = {5, 1, 2, 9, 7, 3};
        void *items[6];
        for (int i = 0; i < 6; i++)
                items[i] = (void *)names[i];
        rill__order_by_head_ts(items, topic, part, ts, 6);
        /* heads: a0(5) vs b0(2) -> b0; a0(5) vs b1(9) -> a0; a1(1) -> a1;
         * a2(7) vs b1(9) -> a2; then b1, b2 (per-partition order kept). */
        const char *want[] = {"b0", "a0", "a1", "a2", "b1", "b2"};
        for (int i = 0; i < 6; i++)
                CU_ASSERT_STRING_EQUAL((const char *)items[i], want[i]);
        /* Same topic, different partitions are different lists. */
        const void *t2[] = {A, A};
        int32_t p2[] = {1, 0};
        int64_t ts2[] = {10, 4};
        void *it2[] = {(void *)"p1", (void *)"p0"};
        rill__order_by_head_ts(it2, t2, p2, ts2, 2);
        CU_ASSERT_STRING_EQUAL((const char *)it2[0], "p0");
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"topology builder", NULL, NULL,
                 {{"errors are latched", test_errors_are_latched},
                  {"duplicate names and sources", test_duplicate_names_and_sources},
                  {"generated names are stable", test_generated_names_are_stable},
                  {"co-partitioning check", test_copartition_check},
                  {"repartition counts", test_repartition_counts_follow_upstream},
                  {"record order by head timestamp", test_order_by_head_ts},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
