/*
 * test_processor.c - the Processor API through the test driver: per-task
 * init/process/close, stores declared on the builder, forwarding to all or
 * one named child, headers, failures, and both punctuation types with Kafka
 * Streams' rules (stream time aligned to 0; wall clock first at now+interval;
 * missed intervals fire once, with the current time).
 */
#include <stdlib.h>

#include "streams_test_util.h"

typedef struct proc_log {
        int inits;
        int closes;
        int64_t stream_punct[16];
        int nstream;
        int64_t wall_punct[16];
        int nwall;
        int64_t wall_start;
} proc_log_t;

static proc_log_t plog;

static void
on_stream_time(rill_ctx_t *ctx, int64_t ts, void *opaque)
{
        if (plog.nstream < 16)
                plog.stream_punct[plog.nstream++] = ts;
}

static void
on_wall(rill_ctx_t *ctx, int64_t ts, void *opaque)
{
        if (plog.nwall < 16)
                plog.wall_punct[plog.nwall++] = ts - plog.wall_start;
        rill_ctx_forward_ex(ctx, "fresh", rill_bytes("tick", 4), rill_bytes("wall", 4), ts, NULL, 0);
}

static rill_err_t
p_init(rill_ctx_t *ctx, void *opaque, void **state)
{
        plog.inits++;
        CU_ASSERT_PTR_NOT_NULL(rill_ctx_store(ctx, "seen"));
        CU_ASSERT_PTR_NULL(rill_ctx_store(ctx, "undeclared"));
        CU_ASSERT_STRING_EQUAL(rill_ctx_application_id(ctx), "test-driver");
        CU_ASSERT_EQUAL(rill_ctx_stream_time(ctx), INT64_MIN);
        plog.wall_start = rill_ctx_wall_clock(ctx);
        CU_ASSERT_TRUE(rill_ctx_schedule(ctx, 10, RILL_PUNCTUATE_STREAM_TIME, on_stream_time, NULL) >
                       0);
        CU_ASSERT_TRUE(rill_ctx_schedule(ctx, 100, RILL_PUNCTUATE_WALL_CLOCK_TIME, on_wall, NULL) > 0);
        CU_ASSERT_EQUAL(rill_ctx_schedule(ctx, 0, RILL_PUNCTUATE_WALL_CLOCK_TIME, on_wall, NULL), -1);
        *state = strdup(rill_ctx_task_id(ctx));
        return RILL_OK;
}

static void
p_process(rill_ctx_t *ctx, const rill_record_t *r, void *state)
{
        rill_kv_store_t *seen = rill_ctx_store(ctx, "seen");
        rill_bytes_t v;
        rill_header_t dup = {"dup", "yes", 3};

        CU_ASSERT_STRING_EQUAL((char *)state, "0_0");
        if (rill_bytes_eq_str(rill_record_value(r), "fail")) {
                rill_ctx_fail(ctx, RILL_ERR_INVALID_ARG, "refusing this record");
                return;
        }
        if (rill_kv_store_get(seen, rill_record_key(r), &v) == RILL_OK) {
                CU_ASSERT_EQUAL(rill_ctx_forward_ex(ctx, "dups", rill_record_key(r),
                                                    rill_record_value(r), rill_record_timestamp(r),
                                                    &dup, 1),
                                RILL_OK);
                return;
        }
        CU_ASSERT_EQUAL(rill_kv_store_put(seen, rill_record_key(r), rill_bytes("1", 1)), RILL_OK);
        CU_ASSERT_EQUAL(rill_ctx_forward_ex(ctx, "fresh", rill_record_key(r), rill_record_value(r),
                                            rill_record_timestamp(r) + 1, NULL, 0),
                        RILL_OK);
        CU_ASSERT_EQUAL(rill_ctx_forward_ex(ctx, "nobody", rill_record_key(r), rill_record_value(r),
                                            0, NULL, 0),
                        RILL_ERR_NOT_FOUND);
}

static void
p_close(rill_ctx_t *ctx, void *state)
{
        plog.closes++;
        free(state);
}

static void
noop(const rill_record_t *r, void *opaque)
{
}

static rill_topology_t *
dedup_topology(void)
{
        static const rill_processor_ops_t ops = {p_init, p_process, p_close};
        const char *stores[] = {"seen", NULL};
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        CU_ASSERT_EQUAL(rill_builder_add_store(b, rill_materialized_with_type(
                                                          rill_materialized(b, "seen"),
                                                          RILL_STORE_IN_MEMORY)),
                        RILL_OK);
        rill_stream_t *p = rill_stream_process(s, &ops, NULL, "dedup", stores);
        rill_stream_to(rill_stream_named(rill_stream_peek(p, noop, NULL), "fresh"), "fresh", NULL,
                       NULL);
        rill_stream_to(rill_stream_named(rill_stream_peek(p, noop, NULL), "dups"), "dups", NULL,
                       NULL);
        return st_build(b);
}

static void
test_processor_stores_and_children(void)
{
        rill_topology_t *t = dedup_topology();
        rill_test_driver_t *td = st_driver(t, NULL);
        rill_bytes_t hv;
        memset(&plog, 0, sizeof(plog));
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "a", "1", 5), RILL_OK);
        CU_ASSERT_EQUAL(plog.inits, 1);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "b", "2", 8), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "a", "3", 10), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "fresh"), 2);
        rill_record_t *r = rill_test_driver_read(td, "fresh");
        CU_ASSERT_EQUAL(rill_record_timestamp(r), 6);
        rill_record_destroy(r);
        r = rill_test_driver_read(td, "dups");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_TRUE(rill_bytes_eq_str(rill_record_value(r), "3"));
        CU_ASSERT_EQUAL(rill_record_header_get(r, "dup", &hv), RILL_OK);
        CU_ASSERT_TRUE(rill_bytes_eq_str(hv, "yes"));
        rill_record_destroy(r);
        /* The store is logged: two puts -> two changelog records. */
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-seen-changelog"), 2);
        /* A failing record reports the processor's error. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "c", "fail", 11), RILL_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(rill_test_driver_last_error(td), "refusing"));
        rill_test_driver_destroy(td);
        CU_ASSERT_EQUAL(plog.closes, 1);
        rill_topology_destroy(t);
}

static void
test_punctuation_rules(void)
{
        rill_topology_t *t = dedup_topology();
        rill_test_driver_t *td = st_driver(t, NULL);
        memset(&plog, 0, sizeof(plog));
        /* Stream time: scheduled at 0, 10, 20, ...; fires when reached. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "a", "x", 5), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "b", "x", 8), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "c", "x", 10), RILL_OK);
        /* An out-of-order record does not move stream time back. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "d", "x", 3), RILL_OK);
        /* 20 and 30 were missed: fires once with 35, next at 40. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "e", "x", 35), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "f", "x", 39), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "g", "x", 40), RILL_OK);
        CU_ASSERT_EQUAL_FATAL(plog.nstream, 4);
        CU_ASSERT_EQUAL(plog.stream_punct[0], 5);
        CU_ASSERT_EQUAL(plog.stream_punct[1], 10);
        CU_ASSERT_EQUAL(plog.stream_punct[2], 35);
        CU_ASSERT_EQUAL(plog.stream_punct[3], 40);
        /* Wall clock: first at start+100; a long gap fires once. */
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 50), RILL_OK);
        CU_ASSERT_EQUAL(plog.nwall, 0);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 50), RILL_OK);
        CU_ASSERT_EQUAL(plog.nwall, 1);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 250), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 49), RILL_OK);
        CU_ASSERT_EQUAL_FATAL(plog.nwall, 2);
        CU_ASSERT_EQUAL(plog.wall_punct[0], 100);
        CU_ASSERT_EQUAL(plog.wall_punct[1], 350);
        CU_ASSERT_EQUAL(rill_test_driver_advance_wall_clock(td, 1), RILL_OK);
        CU_ASSERT_EQUAL(plog.nwall, 3);
        CU_ASSERT_EQUAL(plog.wall_punct[2], 400);
        /* Records forwarded by a punctuator flow to the named child. */
        size_t fresh = rill_test_driver_queue_size(td, "fresh");
        CU_ASSERT_EQUAL(fresh, 7 + 3);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"processor API", NULL, NULL,
                 {{"stores, named children, headers, failure", test_processor_stores_and_children},
                  {"punctuation rules", test_punctuation_rules},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
