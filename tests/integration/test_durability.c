/*
 * test_durability.c - acknowledged writes survive kill -9; a torn or corrupt
 * log tail is repaired on restart.
 *
 * Every test runs a real `rilld` process (rill_test_rilld_spawn_at on a free,
 * fixed port and a fresh directory) so that SIGKILL is a real process crash.
 *
 * kill -9: a producer with acks=all and no retries sends keyed records; once
 * a good part of them is acknowledged, and while more are still queued and
 * in flight, rilld is SIGKILLed. The records whose delivery report succeeded
 * are the acknowledged set. rilld restarts on the same directory and port and
 * a consumer reads every partition from the beginning: every acknowledged
 * record must be at exactly the (partition, offset) its delivery report
 * named, nothing may appear twice (there were no retries), and per key the
 * values must be in produced order. Unacknowledged records may or may not be
 * there. This runs twice: with log.flush.interval.messages=1 (fsync per
 * message) and with the defaults (no fsync: the page cache survives a process
 * crash, so nothing acknowledged may be lost either). Each run ends with a
 * SIGTERM stop, which must exit 0, and a restart whose log mentions no
 * recovery, truncation or corruption at any level (a clean shutdown needs
 * none) and that still serves the same data. A third run uses 4 KB
 * segments so that recovery and reads cross many segment files. After each
 * recovery, acknowledged records spread over the log are also fetched one by
 * one by offset (through the rebuilt indexes).
 *
 * Torn tail: rilld is SIGKILLed after 20 single-record batches, then the
 * partition's segment file is damaged the way a crash mid-write leaves it:
 * garbage appended, the last batch cut short, or a copy of the last batch
 * with a bad CRC appended. On restart the broker must come up, the log end
 * offset must be right after the last whole valid batch, every record before
 * it must read back intact, and produce + consume must continue from there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rill_test.h"
#include "rill_test_kafka.h"

#define DEADLINE_MS 60000

/* A fresh base directory with data/ inside; the rilld log lives beside it. */
typedef struct env {
        char base[2048];
        char data[4096];
        char log[4096];
        char bootstrap[64];
        int port;
        pid_t pid;
} env_t;

static void
env_init(env_t *e, const char *name)
{
        char *base = rill_test_tmpdir(name);
        memset(e, 0, sizeof(*e));
        snprintf(e->base, sizeof(e->base), "%s", base);
        /* Removed by the suite cleanup even if a fatal assertion ends the test. */
        rill_test_defer_rmdir(base);
        snprintf(e->data, sizeof(e->data), "%s/data", e->base);
        snprintf(e->log, sizeof(e->log), "%s/rilld.log", e->base);
        CU_ASSERT_FATAL(mkdir(e->data, 0755) == 0);
        e->port = rill_test_free_port();
        CU_ASSERT_FATAL(e->port > 0);
        snprintf(e->bootstrap, sizeof(e->bootstrap), "127.0.0.1:%d", e->port);
}

static void
env_dump_log(const env_t *e)
{
        char *s = rill_test_read_file(e->log);
        if (s) {
                size_t n = strlen(s);
                fprintf(stderr, "---- rilld log (%s), last 4000 bytes ----\n%s\n----\n", e->log,
                        n > 4000 ? s + n - 4000 : s);
                free(s);
        }
}

static bool
env_start(env_t *e, const char *const *overrides)
{
        e->pid = rill_test_rilld_spawn_at(e->data, e->port, overrides, e->log);
        if (e->pid <= 0)
                env_dump_log(e);
        return e->pid > 0;
}

static int
env_stop(env_t *e, int sig)
{
        int st = rill_test_rilld_stop_tracked(e->pid, sig);
        e->pid = 0;
        return st;
}

/* Stops rilld with SIGTERM; a clean stop exits 0 (under a sanitizer build
 * this also catches leaks and errors at shutdown). */
static bool
env_stop_clean(env_t *e, const char *what)
{
        int st = env_stop(e, SIGTERM);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!ok) {
                fprintf(stderr, "%s: rilld did not exit 0 on SIGTERM (status 0x%x)\n", what, st);
                env_dump_log(e);
        }
        return ok;
}

static void
env_done(env_t *e)
{
        if (e->pid > 0)
                env_stop(e, SIGKILL);
}

static int
suite_cleanup(void)
{
        rill_test_cleanup_all();
        return 0;
}

/* ---- kill -9 with acks=all ---- */

#define K9_TOPIC "durable"
#define K9_PARTITIONS 4
#define K9_KEYS 40
#define K9_RECORDS 60000
#define K9_KILL_AFTER 8000
#define K9_WINDOW 4000

/* Parses "k<key>:<seq>" values. */
static bool
parse_kv(const rill_test_rec_t *r, int *key, int *seq)
{
        char buf[64];
        if (!r->value || r->value_len >= sizeof(buf))
                return false;
        memcpy(buf, r->value, r->value_len);
        buf[r->value_len] = '\0';
        return sscanf(buf, "k%d:%d", key, seq) == 2 && *key >= 0 && *key < K9_KEYS && *seq >= 0 &&
               *seq < K9_RECORDS;
}

/* Checks @p got (all of the topic) against the producer's records @p sent. */
static void
check_acknowledged(const char *what, const rill_test_recs_t *sent, const rill_test_recs_t *got)
{
        unsigned char *seen = calloc(K9_RECORDS, 1);
        int last_seq[K9_KEYS];
        int acked = 0, lost = 0, moved = 0, dups = 0, disorder = 0, malformed = 0;
        char buf[200];

        /* at[p][offset]: the consumed record at that position (offsets are
         * dense from 0 unless the broker lost or skipped some). */
        const rill_test_rec_t **at[K9_PARTITIONS];
        int64_t at_cnt[K9_PARTITIONS];

        CU_ASSERT_FATAL(seen != NULL);
        for (int p = 0; p < K9_PARTITIONS; p++) {
                at_cnt[p] = 0;
                for (int i = 0; i < got->cnt; i++)
                        if (got->v[i].partition == p && got->v[i].offset + 1 > at_cnt[p])
                                at_cnt[p] = got->v[i].offset + 1;
                at[p] = calloc((size_t)at_cnt[p] + 1, sizeof(*at[p]));
                CU_ASSERT_FATAL(at[p] != NULL);
        }
        for (int i = 0; i < got->cnt; i++) {
                const rill_test_rec_t *g = &got->v[i];
                if (g->partition >= 0 && g->partition < K9_PARTITIONS && g->offset >= 0)
                        at[g->partition][g->offset] = g;
        }
        for (int k = 0; k < K9_KEYS; k++)
                last_seq[k] = -1;
        for (int i = 0; i < got->cnt; i++) {
                int k, s;
                if (!parse_kv(&got->v[i], &k, &s)) {
                        malformed++;
                        continue;
                }
                if (seen[s]++)
                        dups++;
                if (s <= last_seq[k])
                        disorder++;
                last_seq[k] = s;
        }
        for (int i = 0; i < sent->cnt; i++) {
                const rill_test_rec_t *r = &sent->v[i], *g;
                if (!r->dr_done || r->dr_err)
                        continue;
                acked++;
                g = NULL;
                if (r->partition >= 0 && r->partition < K9_PARTITIONS && r->offset >= 0 &&
                    r->offset < at_cnt[r->partition])
                        g = at[r->partition][r->offset];
                if (!seen[r->user]) {
                        if (!lost++)
                                fprintf(stderr, "%s: acknowledged record [%d]@%" PRId64
                                                " (%s) is gone\n",
                                        what, (int)r->partition, r->offset,
                                        rill_test_rec_str(r, buf, sizeof(buf)));
                } else if (!g || !rill_test_rec_same_kv(g, r)) {
                        if (!moved++)
                                fprintf(stderr, "%s: acknowledged record (%s) is not at [%d]@%" PRId64
                                                "\n",
                                        what, rill_test_rec_str(r, buf, sizeof(buf)),
                                        (int)r->partition, r->offset);
                }
        }
        fprintf(stderr,
                "%s: %d acknowledged, %d read back; %d lost, %d moved, %d duplicated, "
                "%d out of order, %d malformed\n",
                what, acked, got->cnt, lost, moved, dups, disorder, malformed);
        CU_ASSERT(acked >= K9_KILL_AFTER);
        CU_ASSERT(got->cnt >= acked);
        CU_ASSERT_EQUAL(lost, 0);
        CU_ASSERT_EQUAL(moved, 0);
        CU_ASSERT_EQUAL(dups, 0);
        CU_ASSERT_EQUAL(disorder, 0);
        CU_ASSERT_EQUAL(malformed, 0);
        for (int p = 0; p < K9_PARTITIONS; p++)
                free(at[p]);
        free(seen);
}

/* Reads single acknowledged records by their offset (assign at that offset,
 * consume one), spread over the whole acknowledged range: fetching from the
 * middle of a recovered log goes through its rebuilt indexes. */
static void
check_point_reads(const char *what, const char *bootstrap, const rill_test_recs_t *sent)
{
        const char *ckv[] = {"fetch.wait.max.ms=50", NULL};
        rd_kafka_t *c = rill_test_consumer_new(bootstrap, ckv);
        int acked_idx[64], n = 0, acked = 0, seen = 0, bad = 0;
        char buf[200];

        CU_ASSERT_FATAL(c != NULL);
        for (int i = 0; i < sent->cnt; i++)
                acked += sent->v[i].dr_done && !sent->v[i].dr_err;
        /* 64 acknowledged records evenly spread, the last one included. */
        for (int i = 0; i < sent->cnt && n < 64; i++) {
                if (!sent->v[i].dr_done || sent->v[i].dr_err)
                        continue;
                if (seen++ % (acked / 64 + 1) == 0 || seen == acked)
                        acked_idx[n++] = i;
        }
        CU_ASSERT(n >= 32);
        for (int k = 0; k < n; k++) {
                const rill_test_rec_t *r = &sent->v[acked_idx[k]];
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rill_test_recs_t one = {0};
                rd_kafka_topic_partition_list_add(l, K9_TOPIC, r->partition)->offset = r->offset;
                CU_ASSERT_FATAL(rd_kafka_assign(c, l) == 0);
                rd_kafka_topic_partition_list_destroy(l);
                if (!rill_test_consume(c, &one, 1, DEADLINE_MS) || one.v[0].offset != r->offset ||
                    !rill_test_rec_same_kv(&one.v[0], r)) {
                        if (!bad++)
                                fprintf(stderr, "%s: reading [%d]@%" PRId64 " (%s) gave %s at %" PRId64
                                                "\n",
                                        what, (int)r->partition, r->offset,
                                        rill_test_rec_str(r, buf, sizeof(buf)),
                                        one.cnt ? "another record" : "nothing",
                                        one.cnt ? one.v[0].offset : -1);
                }
                rill_test_recs_free(&one);
                rd_kafka_assign(c, NULL);
        }
        CU_ASSERT_EQUAL(bad, 0);
        rill_test_client_destroy(c);
}

/* True if @p log has a line (at any level) about recovery, truncation or
 * corruption: a restart after a clean shutdown needs none of that. */
static bool
log_mentions_recovery(const char *log, const char **line_out)
{
        static const char *const words[] = {"recover", "truncat", "corrupt", "torn", "unclean",
                                            "no clean-shutdown", NULL};
        for (const char *l = log; l && *l;) {
                const char *nl = strchr(l, '\n');
                size_t n = nl ? (size_t)(nl - l) : strlen(l);
                char line[1024];
                if (n >= sizeof(line))
                        n = sizeof(line) - 1;
                memcpy(line, l, n);
                line[n] = '\0';
                for (int i = 0; words[i]; i++) {
                        if (strcasestr(line, words[i])) {
                                *line_out = l;
                                return true;
                        }
                }
                l = nl ? nl + 1 : NULL;
        }
        return false;
}

static void
kill9_run(const char *what, const char *const *overrides)
{
        const char *pkv[] = {"acks=all", "message.send.max.retries=0", "linger.ms=2",
                             "message.timeout.ms=30000", NULL};
        rill_test_recs_t sent = {0}, got = {0}, after = {0};
        env_t e;
        rd_kafka_t *admin, *p;
        int produced = 0, acked = 0, outstanding = 0, st;
        int64_t deadline;

        env_init(&e, "rill-it-kill9");
        CU_ASSERT_FATAL(env_start(&e, overrides));
        admin = rill_test_producer_new(e.bootstrap, NULL);
        CU_ASSERT_FATAL(admin != NULL);
        CU_ASSERT_FATAL(rill_test_create_topic(admin, K9_TOPIC, K9_PARTITIONS, NULL,
                                               DEADLINE_MS) == 0);
        rill_test_client_destroy(admin);

        for (int i = 0; i < K9_RECORDS; i++) {
                char key[16], val[32];
                snprintf(key, sizeof(key), "k%d", i % K9_KEYS);
                snprintf(val, sizeof(val), "k%d:%d", i % K9_KEYS, i);
                rill_test_rec_add_str(&sent, key, val)->user = i;
        }

        /* Produce in small steps, keeping at most K9_WINDOW records
         * unacknowledged; SIGKILL the broker as soon as enough is acknowledged
         * while later records are still queued or in flight. */
        p = rill_test_producer_new(e.bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        deadline = rill_test_now_ms() + 2 * DEADLINE_MS;
        while (rill_test_now_ms() < deadline) {
                if (outstanding < K9_WINDOW)
                        for (int j = 0; j < 200 && produced < K9_RECORDS; j++)
                                CU_ASSERT_FATAL(rill_test_produce(p, K9_TOPIC,
                                                                  &sent.v[produced++]) == 0);
                rd_kafka_poll(p, 1);
                acked = 0;
                outstanding = 0;
                for (int i = 0; i < produced; i++) {
                        acked += sent.v[i].dr_done && !sent.v[i].dr_err;
                        outstanding += !sent.v[i].dr_done;
                }
                if (acked >= K9_KILL_AFTER && outstanding > 0)
                        break;
        }
        fprintf(stderr, "%s: SIGKILL with %d produced, %d acknowledged, %d outstanding\n", what,
                produced, acked, outstanding);
        CU_ASSERT_FATAL(acked >= K9_KILL_AFTER);
        CU_ASSERT(outstanding > 0); /* the kill really happened mid-stream */
        st = env_stop(&e, SIGKILL);
        CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

        /* Whatever was not acknowledged by now stays unknown: purge it. */
        rd_kafka_purge(p, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        sent.cnt = produced;
        CU_ASSERT(rill_test_wait_delivered(p, &sent, DEADLINE_MS));
        rill_test_client_destroy(p);
        sent.cnt = K9_RECORDS;

        /* Same directory, same port. */
        CU_ASSERT_FATAL(env_start(&e, overrides));
        CU_ASSERT(rill_test_read_topic(e.bootstrap, K9_TOPIC, K9_PARTITIONS, &got, DEADLINE_MS));
        check_acknowledged(what, &sent, &got);
        check_point_reads(what, e.bootstrap, &sent);

        /* The recovered log takes new writes after its end. */
        {
                const char *pkv2[] = {"acks=all", NULL};
                rill_test_recs_t more = {0};
                rd_kafka_t *p2 = rill_test_producer_new(e.bootstrap, pkv2);
                CU_ASSERT_FATAL(p2 != NULL);
                for (int i = 0; i < 20; i++)
                        rill_test_rec_add_str(&more, NULL, "after-restart")->partition =
                                i % K9_PARTITIONS;
                CU_ASSERT_EQUAL(rill_test_produce_all(p2, K9_TOPIC, &more, DEADLINE_MS), 20);
                for (int i = 0; i < more.cnt; i++) {
                        int64_t max_off = -1;
                        for (int j = 0; j < got.cnt; j++)
                                if (got.v[j].partition == more.v[i].partition &&
                                    got.v[j].offset > max_off)
                                        max_off = got.v[j].offset;
                        CU_ASSERT(more.v[i].offset > max_off);
                }
                rill_test_client_destroy(p2);
                rill_test_recs_free(&more);
        }

        /* A clean stop exits 0; the restart after it needs no recovery. */
        CU_ASSERT(env_stop_clean(&e, what));
        CU_ASSERT_FATAL(truncate(e.log, 0) == 0);
        CU_ASSERT_FATAL(env_start(&e, overrides));
        CU_ASSERT(rill_test_read_topic(e.bootstrap, K9_TOPIC, K9_PARTITIONS, &after, DEADLINE_MS));
        CU_ASSERT_EQUAL(after.cnt, got.cnt + 20);
        {
                char *log = rill_test_read_file(e.log);
                const char *line = NULL;
                bool bad = log_mentions_recovery(log, &line);
                if (bad) {
                        const char *nl = strchr(line, '\n');
                        fprintf(stderr, "%s: restart after a clean stop logged: %.*s\n", what,
                                nl ? (int)(nl - line) : (int)strlen(line), line);
                }
                CU_ASSERT(!bad);
                free(log);
        }
        CU_ASSERT(env_stop_clean(&e, what));

        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
        rill_test_recs_free(&after);
        env_done(&e);
}

static void
test_kill9_flush_every_message(void)
{
        const char *ovr[] = {"log.flush.interval.messages=1", NULL};
        kill9_run("kill9 (flush every message)", ovr);
}

static void
test_kill9_defaults(void)
{
        kill9_run("kill9 (defaults)", NULL);
}

static void
test_kill9_small_segments(void)
{
        /* Many segments and index entries: recovery and the reads after it
         * cross segment boundaries. */
        const char *ovr[] = {"log.segment.bytes=4096", "log.index.interval.bytes=256", NULL};
        kill9_run("kill9 (4 KB segments)", ovr);
}

/* ---- torn tail ---- */

#define TORN_TOPIC "torn"
#define TORN_RECORDS 20

typedef enum { TORN_GARBAGE, TORN_TRUNCATED, TORN_BAD_CRC } torn_kind_t;

/* Finds the start of the last batch in a segment file's bytes. */
static long
last_batch_start(const unsigned char *b, long len)
{
        long pos = 0, last = -1;
        while (pos + 12 <= len) {
                int32_t blen = (int32_t)((uint32_t)b[pos + 8] << 24 | (uint32_t)b[pos + 9] << 16 |
                                         (uint32_t)b[pos + 10] << 8 | (uint32_t)b[pos + 11]);
                if (blen <= 0 || pos + 12 + blen > len)
                        break;
                last = pos;
                pos += 12 + blen;
        }
        return pos == len ? last : -1;
}

static void
torn_run(torn_kind_t kind)
{
        const char *pkv[] = {"acks=all", NULL};
        const char *ckv[] = {"enable.partition.eof=true", NULL};
        rill_test_recs_t sent = {0}, got = {0}, more = {0};
        char seg[4200];
        env_t e;
        rd_kafka_t *admin, *p;
        int64_t lo = -1, hi = -1, want_end;
        FILE *f;
        unsigned char *bytes;
        long len, last;

        env_init(&e, "rill-it-torn");
        CU_ASSERT_FATAL(env_start(&e, NULL));
        admin = rill_test_producer_new(e.bootstrap, NULL);
        CU_ASSERT_FATAL(admin != NULL);
        CU_ASSERT_FATAL(rill_test_create_topic(admin, TORN_TOPIC, 1, NULL, DEADLINE_MS) == 0);
        rill_test_client_destroy(admin);

        /* One record per batch: produce one, wait for its acknowledgement. */
        p = rill_test_producer_new(e.bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        for (int i = 0; i < TORN_RECORDS; i++) {
                char v[32];
                snprintf(v, sizeof(v), "torn-%d", i);
                rill_test_rec_add_str(&sent, "k", v)->partition = 0;
        }
        for (int i = 0; i < TORN_RECORDS; i++)
                CU_ASSERT_FATAL(rill_test_produce_range(p, TORN_TOPIC, &sent, i, i + 1,
                                                        DEADLINE_MS) == 1);
        rill_test_client_destroy(p);
        for (int i = 0; i < TORN_RECORDS; i++)
                CU_ASSERT_EQUAL(sent.v[i].offset, i);
        CU_ASSERT(env_stop(&e, SIGKILL) != 0);

        /* Damage the tail of the segment. */
        snprintf(seg, sizeof(seg), "%s/%s-0/00000000000000000000.log", e.data, TORN_TOPIC);
        f = fopen(seg, "rb");
        if (!f)
                fprintf(stderr, "torn: cannot open %s: %s\n", seg, strerror(errno));
        CU_ASSERT_FATAL(f != NULL);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        bytes = malloc((size_t)len + 1);
        CU_ASSERT_FATAL(bytes != NULL);
        CU_ASSERT_FATAL(fread(bytes, 1, (size_t)len, f) == (size_t)len);
        fclose(f);
        last = last_batch_start(bytes, len);
        /* The file is exactly the 20 batches, nothing more. */
        CU_ASSERT_FATAL(last > 0);

        switch (kind) {
        case TORN_GARBAGE: {
                unsigned char junk[37];
                memset(junk, 0xab, sizeof(junk));
                f = fopen(seg, "ab");
                CU_ASSERT_FATAL(f != NULL);
                CU_ASSERT_FATAL(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
                fclose(f);
                want_end = TORN_RECORDS;
                break;
        }
        case TORN_TRUNCATED:
                CU_ASSERT_FATAL(truncate(seg, len - 5) == 0);
                want_end = TORN_RECORDS - 1;
                break;
        case TORN_BAD_CRC:
        default: {
                /* A copy of the last batch as if it were the next one, with
                 * its last byte flipped: the CRC no longer matches. */
                long blen = len - last;
                unsigned char *copy = malloc((size_t)blen);
                CU_ASSERT_FATAL(copy != NULL);
                memcpy(copy, bytes + last, (size_t)blen);
                copy[7] = (unsigned char)TORN_RECORDS; /* baseOffset 20 */
                copy[blen - 1] ^= 0x5a;
                f = fopen(seg, "ab");
                CU_ASSERT_FATAL(f != NULL);
                CU_ASSERT_FATAL(fwrite(copy, 1, (size_t)blen, f) == (size_t)blen);
                fclose(f);
                free(copy);
                want_end = TORN_RECORDS;
                break;
        }
        }
        free(bytes);

        CU_ASSERT_FATAL(env_start(&e, NULL));
        admin = rill_test_producer_new(e.bootstrap, NULL);
        CU_ASSERT_FATAL(admin != NULL);
        CU_ASSERT(rill_test_watermarks(admin, TORN_TOPIC, 0, &lo, &hi) == 0);
        CU_ASSERT_EQUAL(lo, 0);
        CU_ASSERT_EQUAL(hi, want_end);
        if (hi != want_end)
                env_dump_log(&e);

        /* Everything before the damage reads back, nothing after it. */
        CU_ASSERT(rill_test_read_topic(e.bootstrap, TORN_TOPIC, 1, &got, DEADLINE_MS));
        CU_ASSERT_EQUAL(got.cnt, want_end);
        for (int i = 0; i < got.cnt && i < want_end; i++) {
                CU_ASSERT_EQUAL(got.v[i].offset, i);
                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[i]));
        }
        rill_test_recs_free(&got);

        /* Produce and consume carry on from the repaired end. */
        p = rill_test_producer_new(e.bootstrap, pkv);
        CU_ASSERT_FATAL(p != NULL);
        for (int i = 0; i < 5; i++)
                rill_test_rec_add_str(&more, "k", "after-repair")->partition = 0;
        CU_ASSERT_EQUAL(rill_test_produce_all(p, TORN_TOPIC, &more, DEADLINE_MS), 5);
        for (int i = 0; i < 5; i++)
                CU_ASSERT_EQUAL(more.v[i].offset, want_end + i);
        rill_test_client_destroy(p);
        {
                rd_kafka_t *c = rill_test_consumer_new(e.bootstrap, ckv);
                CU_ASSERT_FATAL(c != NULL);
                CU_ASSERT_FATAL(rill_test_assign_all(c, TORN_TOPIC, 1, RD_KAFKA_OFFSET_BEGINNING) ==
                                0);
                CU_ASSERT(rill_test_consume_to_eof_n(c, &got, 1, (int)want_end + 5, DEADLINE_MS));
                CU_ASSERT_EQUAL(got.cnt, want_end + 5);
                for (int i = 0; i < got.cnt; i++) {
                        CU_ASSERT_EQUAL(got.v[i].offset, i);
                        if (i < want_end) {
                                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &sent.v[i]));
                        } else if (i - want_end < 5) {
                                CU_ASSERT(rill_test_rec_same_kv(&got.v[i], &more.v[i - want_end]));
                        }
                }
                rill_test_client_destroy(c);
        }
        rill_test_client_destroy(admin);
        CU_ASSERT(env_stop_clean(&e, "torn"));
        rill_test_recs_free(&sent);
        rill_test_recs_free(&got);
        rill_test_recs_free(&more);
        env_done(&e);
}

static void
test_torn_tail_garbage(void)
{
        torn_run(TORN_GARBAGE);
}

static void
test_torn_tail_truncated(void)
{
        torn_run(TORN_TRUNCATED);
}

static void
test_torn_tail_bad_crc(void)
{
        torn_run(TORN_BAD_CRC);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"durability",
                 NULL,
                 suite_cleanup,
                 {{"kill9_flush_every_message", test_kill9_flush_every_message},
                  {"kill9_defaults", test_kill9_defaults},
                  {"kill9_small_segments", test_kill9_small_segments},
                  {"torn_tail_garbage", test_torn_tail_garbage},
                  {"torn_tail_truncated", test_torn_tail_truncated},
                  {"torn_tail_bad_crc", test_torn_tail_bad_crc},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}}};
        return rill_test_run(suites);
}
