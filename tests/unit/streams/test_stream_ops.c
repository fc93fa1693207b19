/*
 * test_stream_ops.c - every stream operator through the test driver,
 * including multi-partition inputs, repartitioning and grouping.
 */
#include <ctype.h>
#include <stdlib.h>

#include "streams_int.h"
#include "streams_test_util.h"

static bool
starts_with_a(const rill_record_t *r, void *opaque)
{
        rill_bytes_t v = rill_record_value(r);
        return v.data && v.len > 0 && ((const char *)v.data)[0] == 'a';
}

static void
test_filter_and_filter_not(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_stream_to(rill_stream_filter(s, starts_with_a, NULL), "yes", NULL, NULL);
        rill_stream_to(rill_stream_filter_not(s, starts_with_a, NULL), "no", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k1", "apple", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k2", "banana", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k3", "avocado", 3), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "yes"), 2);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "no"), 1);
        CU_ASSERT_TRUE(st_expect_str(td, "yes", "k1", "apple"));
        CU_ASSERT_TRUE(st_expect_str(td, "yes", "k3", "avocado"));
        CU_ASSERT_TRUE(st_expect_str(td, "no", "k2", "banana"));
        CU_ASSERT_PTR_NULL(rill_test_driver_read(td, "yes"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
upper_value(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        char buf[64];
        size_t n = v.len < sizeof(buf) ? v.len : sizeof(buf);
        for (size_t i = 0; i < n; i++)
                buf[i] = (char)toupper(((const char *)v.data)[i]);
        rill_out_value(out, rill_bytes(buf, n));
}

static void
swap_kv(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_kv(out, rill_record_value(in), rill_record_key(in));
}

static void
value_as_key(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_key(out, rill_record_value(in));
}

static void
test_map_map_values_select_key(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_stream_to(rill_stream_map_values(s, upper_value, NULL), "upper", NULL, NULL);
        rill_stream_to(rill_stream_map(s, swap_kv, NULL), "swapped", NULL, NULL);
        rill_stream_to(rill_stream_select_key(s, value_as_key, NULL), "rekeyed", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "hello", 10), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "upper", "k", "HELLO"));
        CU_ASSERT_TRUE(st_expect_str(td, "swapped", "hello", "k"));
        CU_ASSERT_TRUE(st_expect_str(td, "rekeyed", "hello", "hello"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

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
word_pairs(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        /* Two records per input: (key, value) and (value, key). */
        rill_out_kv(out, rill_record_key(in), rill_record_value(in));
        rill_out_kv(out, rill_record_value(in), rill_record_key(in));
}

static void
test_flat_map_and_flat_map_values(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_stream_to(rill_stream_flat_map_values(s, split_words, NULL), "words", NULL, NULL);
        rill_stream_to(rill_stream_flat_map(s, word_pairs, NULL), "pairs", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "  the quick  fox ", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "words"), 3);
        CU_ASSERT_TRUE(st_expect_str(td, "words", "k", "the"));
        CU_ASSERT_TRUE(st_expect_str(td, "words", "k", "quick"));
        CU_ASSERT_TRUE(st_expect_str(td, "words", "k", "fox"));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "pairs"), 4);
        CU_ASSERT_TRUE(st_expect_str(td, "pairs", "k", "  the quick  fox "));
        CU_ASSERT_TRUE(st_expect_str(td, "pairs", "  the quick  fox ", "k"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
double_output(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        CU_ASSERT_EQUAL(rill_out_value(out, rill_record_value(in)), RILL_OK);
        /* A single-result operator refuses a second output. */
        CU_ASSERT_EQUAL(rill_out_value(out, rill_record_value(in)), RILL_ERR_STATE);
        /* map_values keeps the key: rill_out_kv is refused. */
        CU_ASSERT_EQUAL(rill_out_kv(out, rill_record_key(in), rill_record_value(in)),
                        RILL_ERR_STATE);
}

static void
drop_all(const rill_record_t *in, rill_out_t *out, void *opaque)
{
}

static void
test_single_result_rules(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", NULL, NULL);
        rill_stream_to(rill_stream_map_values(s, double_output, NULL), "out", NULL, NULL);
        rill_stream_to(rill_stream_map(s, drop_all, NULL), "none", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "v", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 1);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "none"), 0);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static int peeked, foreached;

static void
count_peek(const rill_record_t *r, void *opaque)
{
        (*(int *)opaque)++;
}

static void
test_peek_foreach(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", NULL, NULL);
        rill_stream_t *p = rill_stream_peek(s, count_peek, &peeked);
        rill_stream_foreach(p, count_peek, &foreached);
        rill_stream_to(p, "out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        peeked = foreached = 0;
        for (int i = 0; i < 5; i++)
                CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "v", i), RILL_OK);
        CU_ASSERT_EQUAL(peeked, 5);
        CU_ASSERT_EQUAL(foreached, 5);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 5);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static bool
is_b(const rill_record_t *r, void *opaque)
{
        rill_bytes_t v = rill_record_value(r);
        return v.data && v.len > 0 && ((const char *)v.data)[0] == 'b';
}

static void
test_split_branches(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", NULL, NULL);
        rill_branched_t *br = rill_stream_split(s, "fruit-");
        rill_stream_t *a = rill_branched_branch(br, starts_with_a, NULL, "a");
        rill_stream_t *bb = rill_branched_branch(br, is_b, NULL, "b");
        rill_stream_t *other = rill_branched_default(br, NULL);
        rill_stream_to(a, "a", NULL, NULL);
        rill_stream_to(bb, "b", NULL, NULL);
        rill_stream_to(other, "other", NULL, NULL);
        rill_topology_t *t = st_build(b);
        char *desc = rill_topology_describe(t);
        CU_ASSERT_PTR_NOT_NULL(strstr(desc, "fruit-a"));
        CU_ASSERT_PTR_NOT_NULL(strstr(desc, "fruit-default"));
        rill_free(desc);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "1", "apple", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "2", "banana", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "3", "cherry", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "4", "avocado", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "a"), 2);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "b"), 1);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "other"), 1);
        CU_ASSERT_TRUE(st_expect_str(td, "other", "3", "cherry"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_merge_and_multi_topic_source(void)
{
        const char *topics[] = {"t2", "t3"};
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s1 = rill_builder_stream(b, "t1", NULL, NULL);
        rill_stream_t *s23 = rill_builder_stream_topics(b, topics, 2, NULL, NULL);
        rill_stream_to(rill_stream_merge(s1, s23), "out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "t1", "a", "1", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "t3", "c", "3", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "t2", "b", "2", 1), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "out", "a", "1"));
        CU_ASSERT_TRUE(st_expect_str(td, "out", "c", "3"));
        CU_ASSERT_TRUE(st_expect_str(td, "out", "b", "2"));
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "nope", "b", "2", 1), RILL_ERR_NOT_FOUND);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static const char *
topic_by_value(const rill_record_t *r, void *opaque)
{
        return starts_with_a(r, NULL) ? "dyn-a" : "dyn-other";
}

static void
test_to_dynamic_and_headers(void)
{
        rill_header_t hdr = {"trace", "xyz", 3};
        rill_bytes_t hv;
        rill_builder_t *b = rill_builder_new();
        rill_stream_to_dynamic(rill_builder_stream(b, "in", NULL, NULL), topic_by_value, NULL, NULL,
                               NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_headers(td, "in", -1, rill_bytes("k", 1),
                                                      rill_bytes("abc", 3), 77, &hdr, 1),
                        RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "zzz", 78), RILL_OK);
        rill_record_t *r = rill_test_driver_read(td, "dyn-a");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(rill_record_timestamp(r), 77);
        CU_ASSERT_EQUAL(rill_record_header_count(r), 1);
        CU_ASSERT_EQUAL(rill_record_header_get(r, "trace", &hv), RILL_OK);
        CU_ASSERT_TRUE(rill_bytes_eq_str(hv, "xyz"));
        CU_ASSERT_STRING_EQUAL(rill_record_topic(r), "dyn-a");
        rill_record_destroy(r);
        CU_ASSERT_TRUE(st_expect_str(td, "dyn-other", "k", "zzz"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

/* Word count over a 4-partition input: words are re-keyed, repartitioned
 * and counted per partition; each word's count lives in exactly one task. */
static void
test_group_by_count_multi_partition(void)
{
        static const char *lines[] = {"a b c", "b c d", "c d e", "a a a", "e"};
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "lines", rill_serde_string(), rill_serde_string());
        rill_stream_t *w = rill_stream_flat_map_values(s, split_words, NULL);
        rill_grouped_t *g = rill_stream_group_by(w, value_as_key, NULL, "words", NULL);
        rill_table_t *c = rill_grouped_count(g, rill_materialized(b, "counts"));
        rill_stream_to(rill_table_to_stream(c), "counts-out", NULL, rill_serde_int64());
        CU_ASSERT_STRING_EQUAL(rill_table_store_name(c), "counts");
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_create_topic(td, "lines", 4), RILL_OK);
        for (int i = 0; i < 5; i++) {
                char key[8];
                snprintf(key, sizeof(key), "%d", i);
                CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "lines", key, lines[i], i), RILL_OK);
        }
        CU_ASSERT_EQUAL(rill_test_driver_create_topic(td, "x", 2), RILL_ERR_STATE);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "a"), 4);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "b"), 2);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "c"), 3);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "d"), 2);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "e"), 2);
        CU_ASSERT_EQUAL(st_store_i64(td, "counts", "zz"), -1);
        /* 13 words went through the 4-partition repartition topic. The
         * store is cached (the default) and the driver flushes after each
         * piped line, so the three updates of "a" from "a a a" merge into
         * one: 11 updates reach the output and the changelog. */
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-words-repartition"), 13);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "counts-out"), 11);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "test-driver-counts-changelog"), 11);
        /* Each word lives in the partition murmur2 chooses, and only there. */
        for (int p = 0; p < 4; p++) {
                rill_kv_store_t *st = rill_test_driver_store(td, "counts", p);
                rill_kv_iter_t *it;
                rill_bytes_t k, v;
                CU_ASSERT_PTR_NOT_NULL_FATAL(st);
                it = rill_kv_store_all(st);
                while (rill_kv_iter_next(it, &k, &v)) {
                        int32_t want = (int32_t)(((uint32_t)rill__murmur2(k.data, k.len) &
                                                  0x7fffffffu) % 4u);
                        CU_ASSERT_EQUAL(want, p);
                }
                rill_kv_iter_destroy(it);
        }
        CU_ASSERT_PTR_NULL(rill_test_driver_store(td, "counts", 4));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
concat(const rill_record_t *r, rill_bytes_t agg, rill_out_t *out, void *opaque)
{
        char buf[256];
        rill_bytes_t v = rill_record_value(r);
        int n = snprintf(buf, sizeof(buf), "%.*s+%.*s", (int)agg.len, (const char *)agg.data,
                         (int)v.len, (const char *)v.data);
        rill_out_value(out, rill_bytes(buf, (size_t)n));
}

static void
init_sum(rill_out_t *out, void *opaque)
{
        rill_out_value_i64(out, 100);
}

static void
add_len(const rill_record_t *r, rill_bytes_t agg, rill_out_t *out, void *opaque)
{
        int64_t cur = 0;
        CU_ASSERT_EQUAL(rill_bytes_i64(agg, &cur), RILL_OK);
        rill_out_value_i64(out, cur + (int64_t)rill_record_value(r).len);
}

static void
test_group_by_key_reduce_aggregate(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_grouped_t *g = rill_stream_group_by_key(s, NULL);
        rill_table_t *red = rill_grouped_reduce(g, concat, NULL, rill_materialized(b, "reduced"));
        rill_table_t *agg = rill_grouped_aggregate(
                g, init_sum, add_len, NULL,
                rill_materialized_with_serdes(rill_materialized(b, "lens"), NULL, rill_serde_int64()));
        rill_stream_to(rill_table_to_stream(red), "reduced-out", NULL, NULL);
        rill_stream_to(rill_table_to_stream(agg), "agg-out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        char *desc = rill_topology_describe(t);
        /* The key did not change: no repartition topic. */
        CU_ASSERT_PTR_NULL(strstr(desc, "repartition"));
        rill_free(desc);
        rill_test_driver_t *td = st_driver(t, "in_memory");
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "x", "a", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "y", "bb", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "x", "ccc", 3), RILL_OK);
        /* Null keys and null values are dropped by aggregations. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", NULL, "zzz", 4), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "x", NULL, 5), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "reduced-out", "x", "a"));
        CU_ASSERT_TRUE(st_expect_str(td, "reduced-out", "y", "bb"));
        CU_ASSERT_TRUE(st_expect_str(td, "reduced-out", "x", "a+ccc"));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "reduced-out"), 0);
        CU_ASSERT_TRUE(st_expect_i64(td, "agg-out", "x", 101));
        CU_ASSERT_TRUE(st_expect_i64(td, "agg-out", "y", 102));
        CU_ASSERT_TRUE(st_expect_i64(td, "agg-out", "x", 104));
        CU_ASSERT_EQUAL(st_store_i64(td, "lens", "x"), 104);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_repartition_explicit(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", NULL, NULL);
        rill_stream_t *r = rill_stream_repartition(rill_stream_select_key(s, value_as_key, NULL),
                                                   "by-value", 3);
        rill_stream_to(r, "out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "foobar", 5), RILL_OK);
        rill_record_t *rec = rill_test_driver_read(td, "test-driver-by-value-repartition");
        CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
        CU_ASSERT_EQUAL(rill_record_partition(rec),
                        (int32_t)(((uint32_t)-790332482 & 0x7fffffffu) % 3u));
        rill_record_destroy(rec);
        CU_ASSERT_TRUE(st_expect_str(td, "out", "foobar", "foobar"));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_to_table(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), rill_serde_string());
        rill_table_t *tb = rill_stream_to_table(s, rill_materialized(b, "latest"));
        rill_stream_to(rill_table_to_stream(tb), "out", NULL, NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        void *v;
        size_t len;
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "v1", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "v2", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_store_get(td, "latest", rill_bytes("k", 1), &v, &len),
                        RILL_OK);
        CU_ASSERT_EQUAL(len, 2);
        CU_ASSERT_EQUAL(memcmp(v, "v2", 2), 0);
        rill_free(v);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", NULL, 3), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_store_get(td, "latest", rill_bytes("k", 1), &v, &len),
                        RILL_ERR_NOT_FOUND);
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", "v1"));
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", "v2"));
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", NULL));
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_deserialization_handlers(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_to(rill_builder_stream(b, "in", rill_serde_string(), rill_serde_int64()), "out",
                       NULL, NULL);
        rill_topology_t *t = st_build(b);
        uint8_t eight[8];
        rill_i64_encode(42, eight);
        /* fail: the pipe reports the error; the next good record still works. */
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_pipe(td, "in", -1, rill_bytes("k", 1), rill_bytes("bad", 3),
                                              1),
                        RILL_ERR_SERDE);
        CU_ASSERT_PTR_NOT_NULL(strstr(rill_test_driver_last_error(td), "deserialization"));
        CU_ASSERT_EQUAL(rill_test_driver_pipe(td, "in", -1, rill_bytes("k", 1), rill_bytes(eight, 8),
                                              2),
                        RILL_OK);
        CU_ASSERT_TRUE(st_expect_i64(td, "out", "k", 42));
        rill_test_driver_destroy(td);
        /* log_and_continue: the bad record is skipped and counted. */
        rill_conf_t *c = rill_conf_new();
        char err[256];
        CU_ASSERT_EQUAL(rill_conf_set(c, "default.deserialization.exception.handler",
                                      "log_and_continue", err, sizeof(err)),
                        RILL_OK);
        td = rill_test_driver_new(t, c, err, sizeof(err));
        rill_conf_destroy(c);
        CU_ASSERT_EQUAL(rill_test_driver_pipe(td, "in", -1, rill_bytes("k", 1), rill_bytes("bad", 3),
                                              1),
                        RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_skipped(td), 1);
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "out"), 0);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

static void
test_pattern_source(void)
{
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_stream_to(rill_builder_stream_pattern(b, "logs-[a-z]+", NULL, NULL), "all-logs", NULL,
                       NULL);
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, NULL);
        CU_ASSERT_EQUAL(rill_test_driver_create_topic(td, "logs-web", 2), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "logs-web", "k", "1", 1), RILL_OK);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "logs-db", "k", "2", 2), RILL_OK);
        /* Anchored: a longer name or another prefix does not match. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "logs-db2", "k", "3", 3), RILL_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "xlogs-db", "k", "4", 4), RILL_ERR_NOT_FOUND);
        CU_ASSERT_TRUE(st_expect_str(td, "all-logs", "k", "1"));
        CU_ASSERT_TRUE(st_expect_str(td, "all-logs", "k", "2"));
        CU_ASSERT_EQUAL(rill_test_driver_queue_size(td, "all-logs"), 0);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
        b = rill_builder_new();
        rill_builder_stream_pattern(b, "logs-(", NULL, NULL);
        CU_ASSERT_PTR_NULL(rill_builder_build(b, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid topic pattern"));
        rill_builder_destroy(b);
}

/* A user serde: the wire form is "<n>:<text>", the in-memory form is the text. */
static rill_err_t
framed_de(rill_bytes_t in, rill_buf_t *out, void *opaque)
{
        const char *p = in.data, *colon = memchr(p, ':', in.len);
        if (!colon)
                return RILL_ERR_SERDE;
        rill_buf_append(out, colon + 1, in.len - (size_t)(colon + 1 - p));
        return RILL_OK;
}

static rill_err_t
framed_ser(rill_bytes_t in, rill_buf_t *out, void *opaque)
{
        char hdr[24];
        int n = snprintf(hdr, sizeof(hdr), "%zu:", in.len);
        rill_buf_append(out, hdr, (size_t)n);
        rill_buf_append(out, in.data, in.len);
        return RILL_OK;
}

static void
test_user_serde_end_to_end(void)
{
        rill_serde_t *framed = rill_serde_new("framed", framed_ser, framed_de, NULL, NULL);
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, "in", rill_serde_string(), framed);
        /* The operator sees the in-memory form; the sink writes the wire form. */
        rill_stream_to(rill_stream_map_values(s, upper_value, NULL), "out", NULL, NULL);
        /* A count store keyed by value with a user key serde: restore-safe
         * changelog records are in wire form. */
        rill_grouped_count(rill_stream_group_by(s, value_as_key, NULL, "by-text", framed),
                           rill_materialized(b, "texts"));
        rill_serde_destroy(framed); /* the topology keeps its own reference */
        rill_topology_t *t = st_build(b);
        rill_test_driver_t *td = st_driver(t, "in_memory");
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "5:hello", 1), RILL_OK);
        CU_ASSERT_TRUE(st_expect_str(td, "out", "k", "5:HELLO"));
        CU_ASSERT_EQUAL(st_store_i64(td, "texts", "hello"), 1);
        rill_record_t *r = rill_test_driver_read(td, "test-driver-texts-changelog");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_TRUE(rill_bytes_eq_str(rill_record_key(r), "5:hello"));
        rill_record_destroy(r);
        /* A value that the user serde rejects is a deserialization error. */
        CU_ASSERT_EQUAL(rill_test_driver_pipe_str(td, "in", "k", "no colon", 2), RILL_ERR_SERDE);
        rill_test_driver_destroy(td);
        rill_topology_destroy(t);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"stream operators", NULL, NULL,
                 {{"filter and filter_not", test_filter_and_filter_not},
                  {"map, map_values, select_key", test_map_map_values_select_key},
                  {"flat_map and flat_map_values", test_flat_map_and_flat_map_values},
                  {"single-result rules", test_single_result_rules},
                  {"peek and foreach", test_peek_foreach},
                  {"split into branches", test_split_branches},
                  {"merge and multi-topic source", test_merge_and_multi_topic_source},
                  {"to_dynamic and headers", test_to_dynamic_and_headers},
                  {"group_by + count, 4 partitions", test_group_by_count_multi_partition},
                  {"group_by_key + reduce/aggregate", test_group_by_key_reduce_aggregate},
                  {"explicit repartition", test_repartition_explicit},
                  {"to_table", test_to_table},
                  {"deserialization handlers", test_deserialization_handlers},
                  {"pattern source", test_pattern_source},
                  {"user serde end to end", test_user_serde_end_to_end},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
