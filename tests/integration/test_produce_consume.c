/*
 * test_produce_consume.c - end-to-end produce and consume through an
 * in-process broker with librdkafka.
 *
 * One broker (rill_test_broker_start, port 0, temp dir) serves the whole
 * suite; every test uses its own topic. What is checked, in each case by
 * reading back what was produced and comparing record by record:
 *
 * - keyed records across 8 partitions with acks=0, acks=1 and acks=all:
 *   every delivery report succeeds; each key lands in the partition
 *   librdkafka's default partitioner picks (CRC-32 of the key modulo 8); for
 *   each key the consumed values are in produced order; with acks=1/all the
 *   (partition, offset) a delivery report named holds exactly that record;
 * - consuming from the beginning, from the end (only records produced after
 *   the assignment reached the end are seen), and from a timestamp
 *   (rd_kafka_offsets_for_times returns the first offset whose timestamp is
 *   >= T, even inside a multi-record batch);
 * - headers (including duplicates and null header values), null keys, null
 *   values (tombstones), ~900 KB values, and the four producer compression
 *   codecs (gzip, snappy, lz4, zstd);
 * - message.timestamp.type=LogAppendTime: the produce response and the
 *   fetched records carry the broker's append time, not the client's;
 * - a record over max.message.bytes is refused with MESSAGE_TOO_LARGE and
 *   leaves nothing behind.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill_test.h"
#include "rill_test_kafka.h"

#define DEADLINE_MS 60000

static char *g_dir;
static rill_broker_t *g_broker;
static const char *g_bootstrap;
static rd_kafka_t *g_admin; /* a producer handle used for admin and metadata calls */

static int
suite_init(void)
{
        g_dir = rill_test_tmpdir("rill-it-pc");
        g_broker = rill_test_broker_start(g_dir, NULL);
        if (!g_broker)
                return -1;
        g_bootstrap = rill_broker_bootstrap(g_broker);
        g_admin = rill_test_producer_new(g_bootstrap, NULL);
        return g_admin ? 0 : -1;
}

static int
suite_cleanup(void)
{
        rill_test_client_destroy(g_admin);
        g_admin = NULL;
        rill_broker_destroy(g_broker);
        g_broker = NULL;
        rill_test_rmdir(g_dir);
        free(g_dir);
        g_dir = NULL;
        return 0;
}

static int64_t
wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Consumes exactly @p want records of @p topic's @p partitions partitions
 * (the consumer must have enable.partition.eof=true): reads until @p want
 * records arrived and every partition is at its end, so that surplus records
 * are caught too. */
static bool
consume_exact(rd_kafka_t *c, const char *topic, int partitions, rill_test_recs_t *got, int want)
{
        bool ok = rill_test_consume_to_eof_n(c, got, partitions, want, DEADLINE_MS);
        if (!ok)
                fprintf(stderr, "%s: %d of %d records, and not every partition at its end, "
                                "before the deadline\n",
                        topic, got->cnt, want);
        if (got->cnt != want)
                fprintf(stderr, "%s: consumed %d records, want exactly %d\n", topic, got->cnt,
                        want);
        return ok && got->cnt == want;
}

/* ---- keyed produce with acks=0/1/all ---- */

#define KEYED_PARTITIONS 8
#define KEYED_KEYS 16
#define KEYED_PER_KEY 50

static void
keyed_roundtrip(const char *acks)
{
        char topic[64], acks_kv[32], buf[256];
        const char *pkv[] = {acks_kv, "linger.ms=5", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        int last_seq[KEYED_KEYS], seen[KEYED_KEYS][KEYED_PER_KEY];
        int64_t last_off[KEYED_PARTITIONS];
        const int total = KEYED_KEYS * KEYED_PER_KEY;
        bool acked = strcmp(acks, "0") != 0;
        rd_kafka_t *p, *c;
        int ok, bad_part = 0, bad_order = 0, bad_val = 0, bad_dr = 0, dups = 0, missing = 0;

        snprintf(topic, sizeof(topic), "keyed-acks-%s", acks);
        snprintf(acks_kv, sizeof(acks_kv), "acks=%s", acks);
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, KEYED_PARTITIONS, NULL,
                                               DEADLINE_MS) == RD_KAFKA_RESP_ERR_NO_ERROR);

        /* Interleave the keys so that every batch mixes them. */
        for (int s = 0; s < KEYED_PER_KEY; s++) {
                for (int k = 0; k < KEYED_KEYS; k++) {
                        char key[32], val[64];
                        snprintf(key, sizeof(key), "key-%02d", k);
                        snprintf(val, sizeof(val), "%s:%d", key, s);
                        rill_test_rec_add_str(&sent, key, val)->user = s;
                }
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        ok = rill_test_produce_all(p, topic, &sent, DEADLINE_MS);
        CU_ASSERT_EQUAL(ok, total);
        rd_kafka_flush(p, 10000);

        for (int i = 0; i < sent.cnt; i++) {
                const rill_test_rec_t *r = &sent.v[i];
                int32_t want = rill_test_key_partition(r->key, r->key_len, KEYED_PARTITIONS);
                if (r->partition != want)
                        bad_part++;
                if (acked && r->offset < 0)
                        bad_dr++;
        }
        CU_ASSERT_EQUAL(bad_part, 0); /* delivery reports name the partitioner's choice */
        CU_ASSERT_EQUAL(bad_dr, 0);   /* acks>=1: every delivery report carries an offset */

        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, KEYED_PARTITIONS,
                                             RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, KEYED_PARTITIONS, &got, total));
        CU_ASSERT_EQUAL(got.cnt, total);
        CU_ASSERT_EQUAL(got.errors, 0);

        memset(seen, 0, sizeof(seen));
        for (int k = 0; k < KEYED_KEYS; k++)
                last_seq[k] = -1;
        for (int i = 0; i < KEYED_PARTITIONS; i++)
                last_off[i] = -1;
        for (int i = 0; i < got.cnt; i++) {
                const rill_test_rec_t *r = &got.v[i];
                int k = -1, s = -1;
                char key[32] = "";
                if (r->key && r->key_len < sizeof(key))
                        memcpy(key, r->key, r->key_len), key[r->key_len] = '\0';
                if (sscanf(key, "key-%d", &k) != 1 || k < 0 || k >= KEYED_KEYS || !r->value ||
                    r->value_len >= sizeof(buf)) {
                        bad_val++;
                        continue;
                }
                memcpy(buf, r->value, r->value_len);
                buf[r->value_len] = '\0';
                if (strncmp(buf, key, strlen(key)) != 0 ||
                    sscanf(buf + strlen(key), ":%d", &s) != 1 || s < 0 || s >= KEYED_PER_KEY) {
                        bad_val++;
                        continue;
                }
                if (r->partition != rill_test_key_partition(r->key, r->key_len, KEYED_PARTITIONS))
                        bad_part++;
                if (r->partition >= 0 && r->partition < KEYED_PARTITIONS) {
                        if (r->offset <= last_off[r->partition])
                                bad_order++;
                        last_off[r->partition] = r->offset;
                }
                if (s <= last_seq[k])
                        bad_order++;
                last_seq[k] = s;
                if (seen[k][s]++)
                        dups++;
        }
        for (int k = 0; k < KEYED_KEYS; k++)
                for (int s = 0; s < KEYED_PER_KEY; s++)
                        missing += !seen[k][s];
        if (bad_part || bad_order || bad_val || dups || missing)
                fprintf(stderr,
                        "%s: %d in wrong partition, %d out of order, %d malformed, %d duplicated, "
                        "%d missing\n",
                        topic, bad_part, bad_order, bad_val, dups, missing);
        CU_ASSERT_EQUAL(bad_part, 0);
        CU_ASSERT_EQUAL(bad_order, 0);
        CU_ASSERT_EQUAL(bad_val, 0);
        CU_ASSERT_EQUAL(dups, 0);
        CU_ASSERT_EQUAL(missing, 0);

        if (acked) {
                /* The broker's acknowledged offsets are where the records are. */
                int mismatched = 0;
                for (int i = 0; i < sent.cnt; i++) {
                        const rill_test_rec_t *r = rill_test_rec_find(&got, sent.v[i].partition,
                                                                      sent.v[i].offset);
                        if (!r || !rill_test_rec_same_kv(r, &sent.v[i])) {
                                if (!mismatched++)
                                        fprintf(stderr, "%s: acknowledged [%d]@%" PRId64
                                                        " (%s) not found there\n",
                                                topic, (int)sent.v[i].partition, sent.v[i].offset,
                                                rill_test_rec_str(&sent.v[i], buf, sizeof(buf)));
                        }
                }
                CU_ASSERT_EQUAL(mismatched, 0);
        }

        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

static void
test_keyed_acks0(void)
{
        keyed_roundtrip("0");
}

static void
test_keyed_acks1(void)
{
        keyed_roundtrip("1");
}

static void
test_keyed_acks_all(void)
{
        keyed_roundtrip("all");
}

/* ---- from the end ---- */

static void
test_consume_from_end(void)
{
        const char *topic = "from-end";
        const char *pkv[] = {"acks=all", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t old = {0}, fresh = {0}, got = {0};
        rd_kafka_t *p, *c;
        int bad = 0;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 3, NULL, DEADLINE_MS) == 0);
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        for (int i = 0; i < 30; i++) {
                char v[32];
                snprintf(v, sizeof(v), "old-%d", i);
                rill_test_rec_add_str(&old, NULL, v)->partition = i % 3;
        }
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &old, DEADLINE_MS) == 30);

        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, 3, RD_KAFKA_OFFSET_END) == 0);
        /* Partition EOF on all three means the end offsets are resolved and the
         * consumer is positioned there: nothing old may be delivered. */
        CU_ASSERT_FATAL(rill_test_consume_to_eof(c, &got, 3, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, 0);

        for (int i = 0; i < 30; i++) {
                char v[32];
                snprintf(v, sizeof(v), "new-%d", i);
                rill_test_rec_add_str(&fresh, NULL, v)->partition = i % 3;
        }
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &fresh, DEADLINE_MS) == 30);
        CU_ASSERT(consume_exact(c, topic, 3, &got, 30));
        CU_ASSERT_EQUAL(got.cnt, 30);
        for (int i = 0; i < got.cnt; i++) {
                const rill_test_rec_t *r = rill_test_rec_find(&fresh, got.v[i].partition,
                                                              got.v[i].offset);
                if (!r || !rill_test_rec_same_kv(r, &got.v[i]))
                        bad++;
                /* The old records occupy offsets 0..9 of each partition. */
                if (got.v[i].offset < 10)
                        bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);

        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&old);
        rill_test_recs_free(&fresh);
        rill_test_recs_free(&got);
}

/* ---- from a timestamp ---- */

#define TS_RECORDS 20

static int64_t
offset_for_time(const char *topic, int64_t ts)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t err;
        int64_t off;
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = ts;
        err = rd_kafka_offsets_for_times(g_admin, l, 10000);
        off = l->elems[0].offset;
        if (err || l->elems[0].err) {
                fprintf(stderr, "offsets_for_times(%s, %" PRId64 "): %s / %s\n", topic, ts,
                        rd_kafka_err2str(err), rd_kafka_err2str(l->elems[0].err));
                off = -1000; /* distinguishable from every legitimate answer */
        }
        rd_kafka_topic_partition_list_destroy(l);
        return off;
}

static void
test_consume_from_timestamp(void)
{
        const char *topic = "from-timestamp";
        /* A large linger makes the client put all records in one batch, so the
         * broker must find the record inside the batch, not just the batch. */
        const char *pkv[] = {"acks=all", "linger.ms=200", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        int64_t t0 = (wall_ms() - 3600 * 1000) / 1000 * 1000;
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_t *p, *c;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        for (int i = 0; i < TS_RECORDS; i++) {
                char v[32];
                snprintf(v, sizeof(v), "ts-%d", i);
                rill_test_rec_t *r = rill_test_rec_add_str(&sent, "k", v);
                r->timestamp = t0 + (int64_t)i * 1000;
                r->partition = 0;
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == TS_RECORDS);
        for (int i = 0; i < TS_RECORDS; i++)
                CU_ASSERT_EQUAL(sent.v[i].offset, i);

        CU_ASSERT_EQUAL(offset_for_time(topic, t0 - 5000), 0);
        CU_ASSERT_EQUAL(offset_for_time(topic, t0), 0);
        CU_ASSERT_EQUAL(offset_for_time(topic, t0 + 7000), 7);
        CU_ASSERT_EQUAL(offset_for_time(topic, t0 + 7500), 8);
        CU_ASSERT_EQUAL(offset_for_time(topic, t0 + 19000), 19);
        /* No record that late: Kafka answers offset -1 (librdkafka: END). */
        CU_ASSERT_EQUAL(offset_for_time(topic, t0 + 19001), RD_KAFKA_OFFSET_END);

        /* Consuming from the returned offset starts at that record. */
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = offset_for_time(topic, t0 + 12500);
        CU_ASSERT_EQUAL(l->elems[0].offset, 13);
        CU_ASSERT_FATAL(rd_kafka_assign(c, l) == 0);
        rd_kafka_topic_partition_list_destroy(l);
        CU_ASSERT(consume_exact(c, topic, 1, &got, TS_RECORDS - 13));
        CU_ASSERT_EQUAL(got.cnt, TS_RECORDS - 13);
        for (int i = 0; i < got.cnt && i + 13 < TS_RECORDS; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, 13 + i);
                CU_ASSERT_EQUAL(got.v[i].timestamp, t0 + (int64_t)(13 + i) * 1000);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[13 + i]));
        }

        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- headers, null keys, null values ---- */

static void
test_headers_and_nulls(void)
{
        const char *topic = "headers-nulls";
        const char *pkv[] = {"acks=all", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        rill_test_rec_t *r;
        rd_kafka_t *p, *c;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        r = rill_test_rec_add_str(&sent, "with-headers", "v1");
        r->headers = rd_kafka_headers_new(5);
        rd_kafka_header_add(r->headers, "trace-id", -1, "abc-123", -1);
        rd_kafka_header_add(r->headers, "empty", -1, "", 0);
        rd_kafka_header_add(r->headers, "null-value", -1, NULL, 0);
        rd_kafka_header_add(r->headers, "dup", -1, "first", -1);
        rd_kafka_header_add(r->headers, "dup", -1, "second", -1);
        rd_kafka_header_add(r->headers, "binary", -1, "\x00\x01\xff\x7f", 4);
        rill_test_rec_add_str(&sent, NULL, "null-key");
        rill_test_rec_add_str(&sent, "tombstone", NULL);
        rill_test_rec_add_str(&sent, NULL, NULL);
        r = rill_test_rec_add_str(&sent, "plain", "no headers");
        for (int i = 0; i < sent.cnt; i++)
                sent.v[i].partition = 0;

        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == sent.cnt);
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, 1, RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, 1, &got, sent.cnt));
        CU_ASSERT_FATAL(got.cnt == sent.cnt);

        for (int i = 0; i < sent.cnt; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, i);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[i]));
                CU_ASSERT_EQUAL(got.v[i].key == NULL, sent.v[i].key == NULL);
                CU_ASSERT_EQUAL(got.v[i].value == NULL, sent.v[i].value == NULL);
        }
        /* Headers come back complete, in order, with null and binary values. */
        {
                const rd_kafka_headers_t *hs = sent.v[0].headers, *hg = got.v[0].headers;
                CU_ASSERT_FATAL(hg != NULL);
                CU_ASSERT_EQUAL(rd_kafka_header_cnt(hg), rd_kafka_header_cnt(hs));
                for (size_t i = 0; i < rd_kafka_header_cnt(hs); i++) {
                        const char *ns, *ng;
                        const void *vs, *vg;
                        size_t ss, sg;
                        CU_ASSERT_FATAL(rd_kafka_header_get_all(hs, i, &ns, &vs, &ss) == 0);
                        if (rd_kafka_header_get_all(hg, i, &ng, &vg, &sg) != 0) {
                                CU_FAIL("consumed header missing");
                                break;
                        }
                        CU_ASSERT_STRING_EQUAL(ng, ns);
                        CU_ASSERT_EQUAL(vg == NULL, vs == NULL);
                        CU_ASSERT_EQUAL(sg, ss);
                        if (vg && vs && sg == ss)
                                CU_ASSERT(memcmp(vg, vs, ss) == 0);
                }
        }
        for (int i = 1; i < got.cnt; i++)
                CU_ASSERT(got.v[i].headers == NULL || rd_kafka_header_cnt(got.v[i].headers) == 0);

        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- large values ---- */

#define LARGE_SIZE (900 * 1024)

static void
test_large_values(void)
{
        const char *topic = "large-values";
        const char *pkv[] = {"acks=all", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        unsigned char *buf = malloc(LARGE_SIZE);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        rd_kafka_t *p, *c;

        CU_ASSERT_FATAL(buf != NULL);
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        /* Incompressible bytes, different for each record. */
        for (int n = 0; n < 3; n++) {
                char key[16];
                for (size_t i = 0; i < LARGE_SIZE; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        buf[i] = (unsigned char)x;
                }
                snprintf(key, sizeof(key), "big-%d", n);
                rill_test_rec_add(&sent, key, strlen(key), buf, LARGE_SIZE)->partition = 0;
        }
        free(buf);
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == sent.cnt);
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, 1, RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, 1, &got, sent.cnt));
        CU_ASSERT_FATAL(got.cnt == sent.cnt);
        for (int i = 0; i < sent.cnt; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, i);
                CU_ASSERT_EQUAL(got.v[i].value_len, LARGE_SIZE);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[i]));
        }
        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- LogAppendTime ---- */

static void
test_log_append_time(void)
{
        const char *topic = "log-append-time";
        const char *cfg[] = {"message.timestamp.type=LogAppendTime", NULL};
        const char *pkv[] = {"acks=all", "linger.ms=20", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        int64_t before, after, old = wall_ms() - 86400 * 1000;
        rd_kafka_t *p, *c;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, cfg, DEADLINE_MS) == 0);
        for (int i = 0; i < 10; i++) {
                char v[32];
                snprintf(v, sizeof(v), "lat-%d", i);
                rill_test_rec_t *r = rill_test_rec_add_str(&sent, "k", v);
                r->partition = 0;
                r->timestamp = old + i; /* ignored by a LogAppendTime topic */
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        before = wall_ms();
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == sent.cnt);
        after = wall_ms();
        /* The produce response carries the broker's append time. */
        for (int i = 0; i < sent.cnt; i++) {
                CU_ASSERT_EQUAL(sent.v[i].dr_tstype, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);
                CU_ASSERT(sent.v[i].dr_timestamp >= before && sent.v[i].dr_timestamp <= after);
        }
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, 1, RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, 1, &got, sent.cnt));
        CU_ASSERT_FATAL(got.cnt == sent.cnt);
        for (int i = 0; i < got.cnt; i++) {
                const rill_test_rec_t *s = rill_test_rec_find(&sent, 0, got.v[i].offset);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[i]));
                CU_ASSERT_EQUAL(got.v[i].tstype, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);
                CU_ASSERT(got.v[i].timestamp >= before && got.v[i].timestamp <= after);
                CU_ASSERT(s != NULL && s->dr_timestamp == got.v[i].timestamp);
        }
        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- a record larger than max.message.bytes ---- */

static void
test_too_large_refused(void)
{
        const char *topic = "too-large";
        /* The client would send up to 3 MB; the broker's limit is the default
         * max.message.bytes (1048588). */
        const char *pkv[] = {"acks=all", "message.max.bytes=3000000", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t big = {0}, small = {0}, got = {0};
        size_t n = 1536 * 1024;
        unsigned char *buf = malloc(n);
        uint64_t x = 88172645463325252ULL;
        rd_kafka_t *p, *c;

        CU_ASSERT_FATAL(buf != NULL);
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (unsigned char)x;
        }
        rill_test_rec_add(&big, "big", 3, buf, n)->partition = 0;
        free(buf);
        rill_test_rec_add_str(&small, "small", "fits")->partition = 0;
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_EQUAL(rill_test_produce_all(p, topic, &big, DEADLINE_MS), 0);
        CU_ASSERT(big.v[0].dr_done);
        CU_ASSERT_EQUAL(big.v[0].dr_err, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        /* Nothing of it was written: the next record gets offset 0. */
        CU_ASSERT_EQUAL(rill_test_produce_all(p, topic, &small, DEADLINE_MS), 1);
        CU_ASSERT_EQUAL(small.v[0].offset, 0);
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, 1, RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, 1, &got, 1));
        if (got.cnt == 1)
                CU_ASSERT(rill_test_rec_same_kv(&got.v[0], &small.v[0]));
        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&big);
        rill_test_recs_free(&small);
        rill_test_recs_free(&got);
}

/* ---- compression ---- */

#define COMP_PARTITIONS 4
#define COMP_RECORDS 2000

static void
compression_roundtrip(const char *codec)
{
        char topic[64], ct[64], buf[256];
        const char *pkv[] = {"acks=all", "linger.ms=20", ct, NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        rd_kafka_t *p, *c;
        int mismatched = 0;

        snprintf(topic, sizeof(topic), "compressed-%s", codec);
        snprintf(ct, sizeof(ct), "compression.type=%s", codec);
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, COMP_PARTITIONS, NULL,
                                               DEADLINE_MS) == 0);
        for (int i = 0; i < COMP_RECORDS; i++) {
                char key[32], val[200];
                snprintf(key, sizeof(key), "k%d", i % 37);
                /* Compressible: a repeated phrase around a unique number. */
                snprintf(val, sizeof(val),
                         "record %d of the %s test, record %d of the %s test, record %d", i,
                         codec, i, codec, i);
                rill_test_rec_add_str(&sent, key, val);
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_EQUAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS), COMP_RECORDS);

        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_FATAL(rill_test_assign_all(c, topic, COMP_PARTITIONS,
                                             RD_KAFKA_OFFSET_BEGINNING) == 0);
        CU_ASSERT(consume_exact(c, topic, COMP_PARTITIONS, &got, COMP_RECORDS));
        CU_ASSERT_EQUAL(got.cnt, COMP_RECORDS);
        CU_ASSERT_EQUAL(got.errors, 0);
        for (int i = 0; i < sent.cnt; i++) {
                const rill_test_rec_t *r =
                        rill_test_rec_find(&got, sent.v[i].partition, sent.v[i].offset);
                if (!r || !rill_test_rec_same_kv(r, &sent.v[i])) {
                        if (!mismatched++)
                                fprintf(stderr, "%s: [%d]@%" PRId64 " (%s) not read back\n", topic,
                                        (int)sent.v[i].partition, sent.v[i].offset,
                                        rill_test_rec_str(&sent.v[i], buf, sizeof(buf)));
                }
        }
        CU_ASSERT_EQUAL(mismatched, 0);
        rill_test_client_destroy(c);
        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

static void
test_compression_gzip(void)
{
        compression_roundtrip("gzip");
}

static void
test_compression_snappy(void)
{
        compression_roundtrip("snappy");
}

static void
test_compression_lz4(void)
{
        compression_roundtrip("lz4");
}

static void
test_compression_zstd(void)
{
        compression_roundtrip("zstd");
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"produce_consume",
                 suite_init,
                 suite_cleanup,
                 {{"keyed_acks0", test_keyed_acks0},
                  {"keyed_acks1", test_keyed_acks1},
                  {"keyed_acks_all", test_keyed_acks_all},
                  {"consume_from_end", test_consume_from_end},
                  {"consume_from_timestamp", test_consume_from_timestamp},
                  {"headers_and_nulls", test_headers_and_nulls},
                  {"large_values", test_large_values},
                  {"log_append_time", test_log_append_time},
                  {"too_large_refused", test_too_large_refused},
                  {"compression_gzip", test_compression_gzip},
                  {"compression_snappy", test_compression_snappy},
                  {"compression_lz4", test_compression_lz4},
                  {"compression_zstd", test_compression_zstd},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}}};
        return rill_test_run(suites);
}
