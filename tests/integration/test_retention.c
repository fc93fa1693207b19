/*
 * test_retention.c - the log start moves as Kafka says it must: DeleteRecords,
 * compaction, and retention by time and by size, driven through librdkafka
 * against an in-process broker.
 *
 * The broker runs with log.retention.check.interval.ms=200 and
 * log.cleaner.backoff.ms=200 so that retention and the cleaner act within
 * a second; the tests poll (reading the topic or its watermarks, paced, with
 * a deadline) until the expected state is reached, then check it exactly.
 *
 * Segment sizes are made deterministic by producing one record per batch
 * (wait for each delivery report) with values larger than segment.bytes:
 * Kafka never splits a batch and rolls when a batch does not fit, so every
 * batch gets its own segment and retention boundaries are exact.
 *
 * - DeleteRecords: the returned and queried low watermark is the requested
 *   offset; a consumer from the beginning (or from a deleted offset, with
 *   auto.offset.reset=earliest) starts there; deleting past the high
 *   watermark fails with OFFSET_OUT_OF_RANGE; deleting to the end empties
 *   the partition and new records still get the next offsets; the new log
 *   start survives a clean restart and a crash of the broker.
 * - Compaction (cleanup.policy=compact, tiny segments, min.cleanable.dirty.
 *   ratio=0.01, delete.retention.ms=2000): eventually only the last value of
 *   each key remains, at its original offset; tombstoned keys vanish entirely
 *   once delete.retention.ms has passed; unique keys are untouched.
 * - retention.ms: segments whose records are older than retention.ms go,
 *   the segments with current records stay: the low watermark lands exactly
 *   on the first current record.
 * - retention.bytes: the oldest segments go until one more deletion would
 *   bring the partition below retention.bytes.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rill_test.h"
#include "rill_test_kafka.h"

#define DEADLINE_MS 60000

static char *g_dir;
static rill_broker_t *g_broker;
static const char *g_bootstrap;
static rd_kafka_t *g_admin;

static int
suite_init(void)
{
        static const char *const overrides[] = {"log.retention.check.interval.ms=200",
                                                "log.cleaner.backoff.ms=200", NULL};
        g_dir = rill_test_tmpdir("rill-it-ret");
        g_broker = rill_test_broker_start(g_dir, overrides);
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

/* Produces records [from, to) of @p recs one batch each. */
static int
produce_one_by_one(rd_kafka_t *p, const char *topic, rill_test_recs_t *recs, int from, int to)
{
        int ok = 0;
        for (int i = from; i < to; i++)
                ok += rill_test_produce_range(p, topic, recs, i, i + 1, DEADLINE_MS);
        return ok;
}

static int64_t
low_watermark(const char *topic)
{
        int64_t lo = -1, hi = -1;
        if (rill_test_watermarks(g_admin, topic, 0, &lo, &hi) != 0)
                return -1;
        return lo;
}

static int64_t
high_watermark(const char *topic)
{
        int64_t lo = -1, hi = -1;
        if (rill_test_watermarks(g_admin, topic, 0, &lo, &hi) != 0)
                return -1;
        return hi;
}

/* ---- DeleteRecords ---- */

/* Deletes records of @p topic partition 0 before @p offset; returns the
 * partition result's error and sets *low to the returned low watermark. */
static rd_kafka_resp_err_t
delete_records(const char *topic, int64_t offset, int64_t *low)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_DeleteRecords_t *dr;
        rd_kafka_queue_t *q = rd_kafka_queue_new(g_admin);
        rd_kafka_event_t *ev;
        rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__TIMED_OUT;

        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = offset;
        dr = rd_kafka_DeleteRecords_new(l);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_DeleteRecords(g_admin, &dr, 1, NULL, q);
        rd_kafka_DeleteRecords_destroy(dr);
        *low = -1;
        ev = rd_kafka_queue_poll(q, DEADLINE_MS);
        if (ev) {
                const rd_kafka_DeleteRecords_result_t *r = rd_kafka_event_DeleteRecords_result(ev);
                const rd_kafka_topic_partition_list_t *offs =
                        r ? rd_kafka_DeleteRecords_result_offsets(r) : NULL;
                if (offs && offs->cnt == 1) {
                        res = offs->elems[0].err;
                        *low = offs->elems[0].offset;
                } else {
                        res = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev)
                                                       : RD_KAFKA_RESP_ERR__BAD_MSG;
                }
                if (res)
                        fprintf(stderr, "DeleteRecords(%s, %" PRId64 "): %s (%s)\n", topic, offset,
                                rd_kafka_err2str(res), rd_kafka_event_error_string(ev)
                                                               ? rd_kafka_event_error_string(ev)
                                                               : "");
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_queue_destroy(q);
        return res;
}

static void
test_delete_records(void)
{
        const char *topic = "delete-records";
        const char *pkv[] = {"acks=all", "linger.ms=5", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0}, more = {0};
        int64_t low = -1;
        rd_kafka_t *p, *c;
        rd_kafka_topic_partition_list_t *l;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        for (int i = 0; i < 100; i++) {
                char v[32];
                snprintf(v, sizeof(v), "rec-%d", i);
                rill_test_rec_add_str(&sent, NULL, v)->partition = 0;
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == 100);

        CU_ASSERT_EQUAL(delete_records(topic, 40, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
        CU_ASSERT_EQUAL(low, 40);
        CU_ASSERT_EQUAL(low_watermark(topic), 40);
        CU_ASSERT_EQUAL(high_watermark(topic), 100);

        /* From the beginning: starts at the new low watermark. */
        CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, 60);
        for (int i = 0; i < got.cnt && i < 60; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, 40 + i);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[40 + i]));
        }
        rill_test_recs_free(&got);

        /* From a deleted offset: out of range, reset to earliest = 40. */
        c = rill_test_consumer_new(g_bootstrap, ckv);
        CU_ASSERT_FATAL(c != NULL);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 10;
        CU_ASSERT_FATAL(rd_kafka_assign(c, l) == 0);
        rd_kafka_topic_partition_list_destroy(l);
        CU_ASSERT(rill_test_consume(c, &got, 1, DEADLINE_MS));
        CU_ASSERT_FATAL(got.cnt >= 1);
        CU_ASSERT_EQUAL(got.v[0].offset, 40);
        rill_test_client_destroy(c);
        rill_test_recs_free(&got);

        /* Past the high watermark: refused, nothing changes. */
        CU_ASSERT_EQUAL(delete_records(topic, 150, &low), RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
        CU_ASSERT_EQUAL(low_watermark(topic), 40);

        /* To the end (-1 = high watermark): the partition is empty. */
        CU_ASSERT_EQUAL(delete_records(topic, RD_KAFKA_OFFSET_END, &low), 0);
        CU_ASSERT_EQUAL(low, 100);
        CU_ASSERT_EQUAL(low_watermark(topic), 100);
        CU_ASSERT_EQUAL(high_watermark(topic), 100);
        CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, 0);
        rill_test_recs_free(&got);

        /* New records continue the offsets. */
        rill_test_rec_add_str(&more, NULL, "after-delete")->partition = 0;
        CU_ASSERT_EQUAL(rill_test_produce_all(p, topic, &more, DEADLINE_MS), 1);
        CU_ASSERT_EQUAL(more.v[0].offset, 100);
        CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, 1);
        if (got.cnt == 1) {
                CU_ASSERT_EQUAL(got.v[0].offset, 100);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[0], &more.v[0]));
        }

        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
        rill_test_recs_free(&more);
}

/* The log start offset set by DeleteRecords is durable: it survives a
 * clean restart and a crash (rill_broker_kill) of the broker. */
static void
test_delete_records_survives_restart(void)
{
        const char *topic = "delete-records-restart";
        const char *pkv[] = {"acks=all", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        int64_t low = -1;
        char err[256];
        rd_kafka_t *p;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, NULL, DEADLINE_MS) == 0);
        for (int i = 0; i < 50; i++) {
                char v[32];
                snprintf(v, sizeof(v), "r-%d", i);
                rill_test_rec_add_str(&sent, NULL, v)->partition = 0;
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(rill_test_produce_all(p, topic, &sent, DEADLINE_MS) == 50);
        rill_test_client_destroy(p);
        CU_ASSERT_EQUAL(delete_records(topic, 30, &low), 0);
        CU_ASSERT_EQUAL(low, 30);

        for (int round = 0; round < 2; round++) {
                if (round == 0) {
                        CU_ASSERT_FATAL(rill_broker_restart(g_broker, err, sizeof(err)) == RILL_OK);
                } else {
                        CU_ASSERT_FATAL(rill_broker_kill(g_broker) == RILL_OK);
                        CU_ASSERT_FATAL(rill_broker_start(g_broker, err, sizeof(err)) == RILL_OK);
                }
                /* Same port after a restart, so the bootstrap string stays valid. */
                CU_ASSERT_STRING_EQUAL(rill_broker_bootstrap(g_broker), g_bootstrap);
                CU_ASSERT_EQUAL(low_watermark(topic), 30);
                CU_ASSERT_EQUAL(high_watermark(topic), 50);
                CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
                CU_ASSERT_EQUAL(got.cnt, 20);
                if (got.cnt > 0)
                        CU_ASSERT_EQUAL(got.v[0].offset, 30);
                rill_test_recs_free(&got);
        }
        rill_test_recs_free(&sent);
}

/* ---- compaction ---- */

#define CMP_KEYS 5
#define CMP_ROUNDS 40
#define CMP_TOMBSTONED 2 /* key-0 and key-1 get a tombstone */
#define CMP_FILLERS 8

typedef struct cmp_state {
        int last_round[CMP_KEYS]; /* value records seen per key: last round */
        int values[CMP_KEYS];     /* value records seen per key */
        int tombstones[CMP_KEYS];
        int fillers;
        int other;
        bool ordered;
} cmp_state_t;

static void
cmp_scan(const rill_test_recs_t *got, cmp_state_t *st)
{
        int64_t last_off = -1;
        memset(st, 0, sizeof(*st));
        st->ordered = true;
        for (int k = 0; k < CMP_KEYS; k++)
                st->last_round[k] = -1;
        for (int i = 0; i < got->cnt; i++) {
                const rill_test_rec_t *r = &got->v[i];
                char key[64] = "", val[64] = "";
                int k, round;
                if (r->offset <= last_off)
                        st->ordered = false;
                last_off = r->offset;
                if (r->key && r->key_len < sizeof(key))
                        memcpy(key, r->key, r->key_len);
                if (r->value && r->value_len < sizeof(val))
                        memcpy(val, r->value, r->value_len);
                if (sscanf(key, "key-%d", &k) == 1 && k >= 0 && k < CMP_KEYS) {
                        if (!r->value)
                                st->tombstones[k]++;
                        else if (sscanf(val, "round-%d", &round) == 1) {
                                st->values[k]++;
                                st->last_round[k] = round;
                        } else
                                st->other++;
                } else if (strncmp(key, "filler-", 7) == 0) {
                        st->fillers++;
                } else {
                        st->other++;
                }
        }
}

/* Phase 1: only the last value of each live key is left. */
static bool
cmp_values_compacted(const cmp_state_t *st)
{
        for (int k = 0; k < CMP_KEYS; k++) {
                if (k < CMP_TOMBSTONED ? st->values[k] != 0 : st->values[k] != 1)
                        return false;
        }
        return true;
}

/* Phase 2: the tombstones are gone too. */
static bool
cmp_tombstones_gone(const cmp_state_t *st)
{
        for (int k = 0; k < CMP_KEYS; k++)
                if (st->tombstones[k])
                        return false;
        return true;
}

static void
cmp_print(const char *what, const rill_test_recs_t *got, const cmp_state_t *st)
{
        fprintf(stderr, "%s: %d records:", what, got->cnt);
        for (int k = 0; k < CMP_KEYS; k++)
                fprintf(stderr, " key-%d %d values (last round %d) %d tombstones;", k,
                        st->values[k], st->last_round[k], st->tombstones[k]);
        fprintf(stderr, " %d fillers, %d other\n", st->fillers, st->other);
}

static void
test_compaction(void)
{
        const char *topic = "compacted";
        const char *cfg[] = {"cleanup.policy=compact", "segment.bytes=1024",
                             "min.cleanable.dirty.ratio=0.01", "delete.retention.ms=2000", NULL};
        const char *pkv[] = {"acks=all", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        cmp_state_t st;
        char filler_val[1100];
        rd_kafka_t *p;
        int64_t deadline, hw;
        int fillers = 0, n;
        bool phase1 = false, phase2 = false;

        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, cfg, DEADLINE_MS) == 0);
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);

        /* Rounds of updates (one batch per round), then tombstones. */
        for (int r = 0; r < CMP_ROUNDS; r++) {
                for (int k = 0; k < CMP_KEYS; k++) {
                        char key[16], val[32];
                        snprintf(key, sizeof(key), "key-%d", k);
                        snprintf(val, sizeof(val), "round-%d", r);
                        rill_test_rec_add_str(&sent, key, val)->partition = 0;
                }
        }
        for (int k = 0; k < CMP_TOMBSTONED; k++) {
                char key[16];
                snprintf(key, sizeof(key), "key-%d", k);
                rill_test_rec_add_str(&sent, key, NULL)->partition = 0;
        }
        /* Unique keys with values larger than a segment: each rolls the log,
         * so the updates and tombstones end up in closed (cleanable)
         * segments. More are added while waiting, as live traffic would. */
        memset(filler_val, 'f', sizeof(filler_val));
        for (int i = 0; i < CMP_FILLERS + 200; i++) {
                char key[32];
                snprintf(key, sizeof(key), "filler-%d", i);
                rill_test_rec_add(&sent, key, strlen(key), filler_val, sizeof(filler_val))
                        ->partition = 0;
        }
        n = 0;
        for (int r = 0; r < CMP_ROUNDS; r++, n += CMP_KEYS)
                CU_ASSERT_FATAL(rill_test_produce_range(p, topic, &sent, n, n + CMP_KEYS,
                                                        DEADLINE_MS) == CMP_KEYS);
        CU_ASSERT_FATAL(rill_test_produce_range(p, topic, &sent, n, n + CMP_TOMBSTONED,
                                                DEADLINE_MS) == CMP_TOMBSTONED);
        n += CMP_TOMBSTONED;
        CU_ASSERT_FATAL(produce_one_by_one(p, topic, &sent, n, n + CMP_FILLERS) == CMP_FILLERS);
        fillers = CMP_FILLERS;

        deadline = rill_test_now_ms() + 90000;
        while (!phase2 && rill_test_now_ms() < deadline) {
                rill_test_recs_free(&got);
                if (!rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS))
                        continue;
                cmp_scan(&got, &st);
                if (!phase1 && cmp_values_compacted(&st)) {
                        phase1 = true;
                        cmp_print("compaction: values compacted", &got, &st);
                }
                if (phase1 && cmp_tombstones_gone(&st)) {
                        phase2 = true;
                        break;
                }
                /* Keep a little traffic going (a new closed segment now and
                 * then) so a cleaner that only runs on dirty data runs again
                 * after delete.retention.ms. */
                if (fillers < CMP_FILLERS + 200) {
                        CU_ASSERT_FATAL(produce_one_by_one(p, topic, &sent, n + fillers,
                                                           n + fillers + 1) == 1);
                        fillers++;
                }
                rill_test_sleep_ms(250); /* pacing the poll loop */
        }
        cmp_print("compaction: final", &got, &st);
        CU_ASSERT(phase1); /* old values of every key were compacted away */
        CU_ASSERT(phase2); /* tombstones were removed after delete.retention.ms */

        /* Exactly what must remain: last values at their original offsets,
         * no trace of the tombstoned keys, every filler once and in order. */
        CU_ASSERT(st.ordered);
        CU_ASSERT_EQUAL(st.other, 0);
        CU_ASSERT_EQUAL(st.fillers, fillers);
        for (int k = 0; k < CMP_KEYS; k++) {
                CU_ASSERT_EQUAL(st.tombstones[k], 0);
                if (k < CMP_TOMBSTONED) {
                        CU_ASSERT_EQUAL(st.values[k], 0);
                } else {
                        const rill_test_rec_t *want = &sent.v[(CMP_ROUNDS - 1) * CMP_KEYS + k];
                        const rill_test_rec_t *at =
                                rill_test_rec_find(&got, 0, want->offset);
                        CU_ASSERT_EQUAL(st.values[k], 1);
                        CU_ASSERT_EQUAL(st.last_round[k], CMP_ROUNDS - 1);
                        CU_ASSERT(at != NULL && rill_test_rec_same_kv(at, want));
                }
        }
        for (int i = 0; i < fillers; i++) {
                const rill_test_rec_t *want = &sent.v[n + i];
                const rill_test_rec_t *at = rill_test_rec_find(&got, 0, want->offset);
                CU_ASSERT(at != NULL && rill_test_rec_same_kv(at, want));
        }
        /* Compaction never moves the end of the log. */
        hw = high_watermark(topic);
        CU_ASSERT_EQUAL(hw, sent.v[n + fillers - 1].offset + 1);

        rill_test_client_destroy(p);
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- retention by time ---- */

#define RT_OLD 10
#define RT_NEW 5

static void
test_retention_time(void)
{
        const char *topic = "retention-time";
        const char *cfg[] = {"segment.bytes=1024", "retention.ms=3600000", NULL};
        const char *pkv[] = {"acks=all", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        char val[1100];
        int64_t old_ts = wall_ms() - 2 * 3600 * 1000;
        rd_kafka_t *p;
        bool reached;

        memset(val, 'r', sizeof(val));
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, cfg, DEADLINE_MS) == 0);
        for (int i = 0; i < RT_OLD + RT_NEW; i++) {
                char key[16];
                rill_test_rec_t *r;
                snprintf(key, sizeof(key), "%s-%d", i < RT_OLD ? "old" : "new", i);
                r = rill_test_rec_add(&sent, key, strlen(key), val, sizeof(val));
                r->partition = 0;
                /* Two hours old, one second apart; the new ones are stamped now. */
                r->timestamp = i < RT_OLD ? old_ts + i * 1000 : 0;
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(produce_one_by_one(p, topic, &sent, 0, sent.cnt) == sent.cnt);
        rill_test_client_destroy(p);

        reached = RILL_WAIT_UNTIL(low_watermark(topic) >= RT_OLD, DEADLINE_MS);
        CU_ASSERT(reached);
        CU_ASSERT_EQUAL(low_watermark(topic), RT_OLD);
        CU_ASSERT_EQUAL(high_watermark(topic), RT_OLD + RT_NEW);
        CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, RT_NEW);
        for (int i = 0; i < got.cnt && i < RT_NEW; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, RT_OLD + i);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[RT_OLD + i]));
        }
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

/* ---- retention by size ---- */

#define RS_RECORDS 20
#define RS_RETENTION 5500

/* Sums the sizes of the partition's *.log segment files; counts the
 * non-empty ones (a freshly rolled, empty active segment does not hold a
 * batch) and reports the largest. */
static int64_t
segment_bytes_on_disk(const char *topic, int *files, int64_t *largest)
{
        char path[4200];
        DIR *d;
        struct dirent *de;
        int64_t total = 0;
        *files = 0;
        if (largest)
                *largest = 0;
        snprintf(path, sizeof(path), "%s/%s-0", g_dir, topic);
        d = opendir(path);
        if (!d)
                return -1;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                char f[4500];
                struct stat sb;
                if (n < 5 || strcmp(de->d_name + n - 4, ".log") != 0)
                        continue;
                snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
                if (stat(f, &sb) == 0 && sb.st_size > 0) {
                        total += sb.st_size;
                        (*files)++;
                        if (largest && sb.st_size > *largest)
                                *largest = sb.st_size;
                }
        }
        closedir(d);
        return total;
}

static void
test_retention_size(void)
{
        const char *topic = "retention-size";
        char rb[64];
        const char *cfg[] = {"segment.bytes=1024", rb, NULL};
        const char *pkv[] = {"acks=all", NULL};
        rill_test_recs_t sent = {0}, got = {0};
        char val[1100];
        rd_kafka_t *p;
        int64_t lo, bytes, seg;
        int files = 0;
        bool reached;

        snprintf(rb, sizeof(rb), "retention.bytes=%d", RS_RETENTION);
        memset(val, 's', sizeof(val));
        CU_ASSERT_FATAL(rill_test_create_topic(g_admin, topic, 1, cfg, DEADLINE_MS) == 0);
        for (int i = 0; i < RS_RECORDS; i++) {
                char key[16];
                snprintf(key, sizeof(key), "size-%02d", i);
                rill_test_rec_add(&sent, key, strlen(key), val, sizeof(val))->partition = 0;
        }
        p = rill_test_producer_new(g_bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_FATAL(produce_one_by_one(p, topic, &sent, 0, sent.cnt) == sent.cnt);
        rill_test_client_destroy(p);

        /* Every batch is the same size and has a segment of its own. */
        bytes = segment_bytes_on_disk(topic, &files, &seg);
        CU_ASSERT_FATAL(seg > 1024);

        /* Kafka deletes the oldest segments while what remains is still at
         * least retention.bytes: here ceil(RS_RETENTION / seg) segments stay. */
        {
                int keep = (int)((RS_RETENTION + seg - 1) / seg);
                reached = RILL_WAIT_UNTIL(low_watermark(topic) >= RS_RECORDS - keep, DEADLINE_MS);
                lo = low_watermark(topic);
                bytes = segment_bytes_on_disk(topic, &files, NULL);
                fprintf(stderr, "retention.bytes: segment %" PRId64 " bytes, keep %d; low watermark %" PRId64
                                ", %d segment files, %" PRId64 " bytes\n",
                        seg, keep, lo, files, bytes);
                CU_ASSERT(reached);
                CU_ASSERT_EQUAL(lo, RS_RECORDS - keep);
                CU_ASSERT(RILL_WAIT_UNTIL(segment_bytes_on_disk(topic, &files, NULL) <
                                                  RS_RETENTION + seg,
                                          DEADLINE_MS));
                bytes = segment_bytes_on_disk(topic, &files, NULL);
                CU_ASSERT(bytes >= RS_RETENTION);
                CU_ASSERT_EQUAL(files, keep);
        }
        CU_ASSERT_EQUAL(high_watermark(topic), RS_RECORDS);
        CU_ASSERT(rill_test_read_topic(g_bootstrap, topic, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, RS_RECORDS - lo);
        for (int i = 0; i < got.cnt; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, lo + i);
                if (lo + i < RS_RECORDS)
                        CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[lo + i]));
        }
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"retention",
                 suite_init,
                 suite_cleanup,
                 {{"delete_records", test_delete_records},
                  {"delete_records_survives_restart", test_delete_records_survives_restart},
                  {"compaction", test_compaction},
                  {"retention_time", test_retention_time},
                  {"retention_size", test_retention_size},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}}};
        return rill_test_run(suites);
}
