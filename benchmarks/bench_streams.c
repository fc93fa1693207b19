/*
 * bench_streams.c - bench-streams: throughput, CPU cost and latency of librill
 * topologies end to end through rilld, compared with the same topologies in
 * the test driver and with hand-written librdkafka loops.
 *
 * Scenarios (each with its own topics, 4 partitions):
 *   pass       stateless pass-through: map_values (upper-case) + filter (drops
 *              every tenth line); the output has 90% of the input;
 *   wordcount  lines of 5 words from a 1000-word vocabulary, split, grouped by
 *              word (repartition topic), counted in a RocksDB store with a
 *              changelog.
 *
 * Implementations per scenario:
 *   rill       a rill_app_t (num.stream.threads as given, at-least-once,
 *              commit.interval.ms as given, default 1000) against rilld, with
 *              the defaults (for wordcount: the record cache on; the run ends
 *              when every word reached its final count);
 *   rill-nocache  word count with the record cache off: one output update,
 *              one changelog record and one store write per word;
 *   loop       the best hand-written librdkafka consume-transform-produce
 *              loop we know: one thread, batches from the consumer queue, the
 *              transform inline, offsets stored per batch and committed after a
 *              flush at the same interval (the same at-least-once discipline);
 *              for wordcount it keeps the counts in an in-memory hash map (no
 *              repartition topic, no changelog) and emits every update;
 *   driver     the topology in the test driver (no broker, no Kafka client;
 *              word count without the cache).
 *
 * The processor under test (rill app or loop) runs in a process of its own
 * (this program re-executed with --role processor), so that its CPU time is
 * read apart from the load generator and the output reader, which run in this
 * process; rilld runs in a third process and is not counted.
 *
 * Phases: (1) throughput: --records input records, either produced as fast as
 * possible while the processor runs or, with --preload, produced before the
 * processor starts (a backlog); the clock runs from the first produce (or the
 * processor's "ready") to the last expected output record; (2) latency:
 * --latency-records records at --rate records/s; the latency of an output
 * record is the time it is read minus its timestamp (operators keep the
 * input's timestamp, and the input timestamp is the produce time), p50 and p99
 * over every output record.
 *
 * rilld is spawned from build/bin with a temporary log directory and killed
 * at the end. The benchmark prints figures and never asserts timings; it
 * exits non-zero only if a run fails (missing output, a client error, a
 * processor that fails or does not stop).
 */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <librdkafka/rdkafka.h>
#include <rill/rill.h>

#include "bench_proc.h"
#include "rill_util.h"

#ifndef RILL_SOURCE_DIR
#define RILL_SOURCE_DIR "."
#endif

#define PARTS 4
#define MAX_REPEAT 9
#define VOCAB 1000
#define WORDS_PER_LINE 5

typedef struct opts {
        long records;
        long latency_records;
        long rate;
        const char *threads;
        const char *scenario;
        const char *rilld;
        const char *commit_ms;
        bool preload;
        int repeat;
        struct {
                char *arg;  /* "key=value" as given */
                char *k, *v;
        } props[16];
        int nprops;
} opts_t;

static char bootstrap[64];
static int run_seq;

/* ---- helpers ---- */

static pid_t
spawn_rilld(const char *bin, const char *dir, int port)
{
        char listeners[128], logdirs[4300], conf[4200];
        pid_t pid;
        snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d", port);
        snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", dir);
        snprintf(conf, sizeof(conf), "%s/config/server.properties", RILL_SOURCE_DIR);
        pid = fork();
        if (pid == 0) {
                char logpath[4300];
                snprintf(logpath, sizeof(logpath), "%s/rilld.log", dir);
                if (!freopen(logpath, "w", stderr))
                        _exit(126);
                execl(bin, bin, conf, "--override", listeners, "--override", logdirs, "--override",
                      "group.initial.rebalance.delay.ms=0", "--override",
                      "offsets.topic.num.partitions=4", (char *)NULL);
                _exit(127);
        }
        /* Up to 30 s: on a loaded machine rilld's start (log recovery,
         * __consumer_offsets) can take several seconds. */
        for (int i = 0; pid > 0 && i < 1500; i++) {
                if (port_open(port))
                        return pid;
                usleep(20000);
        }
        return -1;
}

static rd_kafka_t *
client(rd_kafka_type_t type, const char *group)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
        if (type == RD_KAFKA_PRODUCER) {
                rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
                rd_kafka_conf_set(c, "queue.buffering.max.messages", "2000000", err, sizeof(err));
                rd_kafka_conf_set(c, "partitioner", "murmur2_random", err, sizeof(err));
        } else {
                rd_kafka_conf_set(c, "group.id", group, err, sizeof(err));
                rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
                rd_kafka_conf_set(c, "enable.auto.offset.store", "false", err, sizeof(err));
                rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err));
                rd_kafka_conf_set(c, "partition.assignment.strategy", "range", err, sizeof(err));
        }
        return rd_kafka_new(type, c, err, sizeof(err));
}

static bool
create_topic(const char *name, int partitions)
{
        rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL);
        char err[256];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, 1, err, sizeof(err));
        rd_kafka_queue_t *q = rd_kafka_queue_new(p);
        rd_kafka_event_t *ev;
        bool ok = false;
        rd_kafka_CreateTopics(p, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (ev && !rd_kafka_event_error(ev)) {
                size_t n;
                const rd_kafka_topic_result_t **res =
                        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
                ok = n == 1 && !rd_kafka_topic_result_error(res[0]);
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(p);
        return ok;
}

/* Line i of the input: for pass, "line <i> ..." padded to ~100 bytes; for
 * wordcount, 5 words of the vocabulary. */
static int
make_line(bool words, long i, char *buf, size_t size)
{
        if (!words)
                return snprintf(buf, size, "line %ld the quick brown fox jumps over the lazy dog "
                                           "and keeps running through the field %08ld",
                                i, i * 7919);
        int n = 0;
        unsigned s = (unsigned)i * 2654435761u + 7u;
        for (int w = 0; w < WORDS_PER_LINE; w++) {
                s = s * 1103515245u + 12345u;
                n += snprintf(buf + n, size - (size_t)n, "%sw%03u", w ? " " : "", (s >> 8) % VOCAB);
        }
        return n;
}

/* Adds the words of lines [from, to) to @p counts (VOCAB entries). */
static void
add_word_counts(long from, long to, int64_t *counts)
{
        for (long i = from; i < to; i++) {
                unsigned s = (unsigned)i * 2654435761u + 7u;
                for (int w = 0; w < WORDS_PER_LINE; w++) {
                        s = s * 1103515245u + 12345u;
                        counts[(s >> 8) % VOCAB]++;
                }
        }
}

static long
expected_outputs(bool words, long n)
{
        if (words)
                return n * WORDS_PER_LINE;
        return n - (n + 9) / 10; /* lines with i % 10 == 0 are dropped */
}

/* ---- topologies ---- */

static bool
keep_line(const rill_record_t *r, void *opaque)
{
        int64_t i = 0;
        rill_bytes_t k = rill_record_key(r);
        /* key = decimal line number */
        for (size_t j = 0; k.data && j < k.len; j++)
                i = i * 10 + (((const char *)k.data)[j] - '0');
        return i % 10 != 0;
}

static void
upper(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        char buf[512];
        size_t n = v.len < sizeof(buf) ? v.len : sizeof(buf);
        for (size_t i = 0; i < n; i++) {
                char c = ((const char *)v.data)[i];
                buf[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
        }
        rill_out_value(out, rill_bytes(buf, n));
}

static void
split(const rill_record_t *in, rill_out_t *out, void *opaque)
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

static rill_topology_t *
topology(bool words, bool cached, const char *in, const char *out)
{
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *s = rill_builder_stream(b, in, rill_serde_string(), rill_serde_string());
        if (words) {
                rill_table_t *c = rill_grouped_count(
                        rill_stream_group_by(rill_stream_flat_map_values(s, split, NULL), word_key,
                                             NULL, "words", NULL),
                        rill_materialized_with_caching(rill_materialized(b, "counts"), cached));
                rill_stream_to(rill_table_to_stream(c), out, NULL, rill_serde_int64());
        } else {
                rill_stream_to(rill_stream_filter(rill_stream_map_values(s, upper, NULL), keep_line,
                                                  NULL),
                               out, NULL, NULL);
        }
        rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
        rill_builder_destroy(b);
        if (!t)
                fprintf(stderr, "topology: %s\n", err);
        return t;
}

/* ---- the hand-written loop ---- */

typedef struct loop_arg {
        bool words;
        int64_t commit_ms;
        char in[64], out[64], group[64];
        atomic_bool stop;
        atomic_bool joined;
        bool failed;
} loop_arg_t;

typedef struct wc_entry {
        char word[16];
        int64_t count;
        bool used;
} wc_entry_t;

/* Transforms one input record of the loop and produces its outputs. */
static void
loop_record(loop_arg_t *a, rd_kafka_t *pr, wc_entry_t *map, const rd_kafka_message_t *m)
{
        int64_t ts = rd_kafka_message_timestamp(m, NULL);

        if (!a->words) {
                char buf[512];
                size_t n = m->len < sizeof(buf) ? m->len : sizeof(buf);
                long i = 0;
                for (size_t j = 0; j < m->key_len; j++)
                        i = i * 10 + (((const char *)m->key)[j] - '0');
                if (i % 10 == 0)
                        return;
                for (size_t j = 0; j < n; j++) {
                        char ch = ((const char *)m->payload)[j];
                        buf[j] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
                }
                while (rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(a->out), RD_KAFKA_V_KEY(m->key, m->key_len),
                                         RD_KAFKA_V_VALUE(buf, n), RD_KAFKA_V_TIMESTAMP(ts),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(pr, 10);
                return;
        }
        for (const char *q = m->payload, *end = q + m->len; q < end;) {
                const char *w;
                uint8_t be[8];
                size_t wl;
                unsigned h = 2166136261u;
                wc_entry_t *e;
                while (q < end && *q == ' ')
                        q++;
                w = q;
                while (q < end && *q != ' ')
                        q++;
                wl = (size_t)(q - w);
                if (!wl || wl >= sizeof(e->word))
                        continue;
                for (size_t j = 0; j < wl; j++)
                        h = (h ^ (unsigned char)w[j]) * 16777619u;
                for (e = &map[h % (4 * VOCAB)];; e = e + 1 < map + 4 * VOCAB ? e + 1 : map) {
                        if (!e->used) {
                                memcpy(e->word, w, wl);
                                e->word[wl] = '\0';
                                e->used = true;
                                break;
                        }
                        if (strlen(e->word) == wl && !memcmp(e->word, w, wl))
                                break;
                }
                e->count++;
                rill_i64_encode(e->count, be);
                while (rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(a->out), RD_KAFKA_V_KEY(w, wl),
                                         RD_KAFKA_V_VALUE(be, 8), RD_KAFKA_V_TIMESTAMP(ts),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(pr, 10);
        }
}

/* The hand-written loop: batches from the consumer queue, the transform
 * inline, offsets stored once per batch and committed after a flush. */
static void *
loop_main(void *p)
{
        loop_arg_t *a = p;
        rd_kafka_t *c = client(RD_KAFKA_CONSUMER, a->group);
        rd_kafka_t *pr = client(RD_KAFKA_PRODUCER, NULL);
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_queue_t *q;
        wc_entry_t *map = calloc(4 * VOCAB, sizeof(wc_entry_t));
        int64_t last_commit = rill__mono_ms();
        rd_kafka_message_t *msgs[1024];

        /* Learn the output topic's partitions first (see drive()). */
        {
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(pr, a->out, NULL);
                const struct rd_kafka_metadata *md;
                if (rd_kafka_metadata(pr, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                        rd_kafka_metadata_destroy(md);
                rd_kafka_topic_destroy(rkt);
        }
        rd_kafka_topic_partition_list_add(sub, a->in, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(c, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        q = rd_kafka_queue_get_consumer(c);
        while (!atomic_load(&a->stop)) {
                int64_t next[PARTS];
                /* Wait for the first record only, then take what is queued
                 * (a batch call would wait for a full batch). */
                ssize_t n = 0;
                if ((msgs[0] = rd_kafka_consume_queue(q, 50))) {
                        ssize_t more = rd_kafka_consume_batch_queue(q, 0, msgs + 1, 1023);
                        n = 1 + (more > 0 ? more : 0);
                }
                rd_kafka_topic_partition_list_t *asg = NULL;

                if (!atomic_load(&a->joined) && rd_kafka_assignment(c, &asg) == 0) {
                        if (asg->cnt > 0)
                                atomic_store(&a->joined, true);
                        rd_kafka_topic_partition_list_destroy(asg);
                }
                for (int i = 0; i < PARTS; i++)
                        next[i] = -1;
                for (ssize_t i = 0; i < n; i++) {
                        rd_kafka_message_t *m = msgs[i];
                        if (!m->err) {
                                loop_record(a, pr, map, m);
                                if (m->partition >= 0 && m->partition < PARTS)
                                        next[m->partition] = m->offset + 1;
                        }
                        rd_kafka_message_destroy(m);
                }
                if (n > 0) {
                        rd_kafka_topic_partition_list_t *o = rd_kafka_topic_partition_list_new(PARTS);
                        for (int i = 0; i < PARTS; i++)
                                if (next[i] >= 0)
                                        rd_kafka_topic_partition_list_add(o, a->in, i)->offset = next[i];
                        rd_kafka_offsets_store(c, o);
                        rd_kafka_topic_partition_list_destroy(o);
                }
                rd_kafka_poll(pr, 0);
                if (rill__mono_ms() - last_commit > a->commit_ms) {
                        /* At-least-once: outputs acknowledged before offsets commit. */
                        if (rd_kafka_flush(pr, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                                rd_kafka_commit(c, NULL, 0);
                        last_commit = rill__mono_ms();
                }
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_flush(pr, 10000);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_destroy(pr);
        free(map);
        return NULL;
}

/* ---- load and measurement ---- */

typedef struct result {
        double seconds;
        double cpu;         /* the processor's CPU seconds (rill app, loop, driver) */
        double harness_cpu; /* load generator + output reader (this process) */
        long outputs;
        double p50, p99;
        bool ok;
} result_t;

static int
cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Produces input line @p i (key: its decimal number; timestamp: now). */
static void
produce_line(rd_kafka_t *p, bool words, const char *in, long i)
{
        char line[256], key[24];
        int kl = snprintf(key, sizeof(key), "%ld", i);
        int ll = make_line(words, i, line, sizeof(line));
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_KEY(key, (size_t)kl),
                                 RD_KAFKA_V_VALUE(line, (size_t)ll),
                                 RD_KAFKA_V_TIMESTAMP(rill__now_ms()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 5);
}

/* Produces lines [from, from+n) and waits until all are acknowledged. */
static bool
produce_only(bool words, const char *in, long from, long n)
{
        rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL);
        bool ok;
        for (long i = 0; i < n; i++)
                produce_line(p, words, in, from + i);
        ok = rd_kafka_flush(p, 120000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_destroy(p);
        return ok;
}

/* Produces lines [from, from+n) (paced at @p rate per second if > 0) and
 * reads the output until @p want records arrived; fills latencies. */
static bool
drive(bool words, const char *in, rd_kafka_t *reader, long from, long n, long rate, long want,
      const int64_t *final_counts, int64_t *latest, int64_t *lat, long *nlat, double *seconds)
{
        /* With final_counts (cached word count: the number of updates is not
         * known) the run ends when every word reached its final count;
         * latest[] (kept by the caller across phases) is the last count seen. */
        long words_done = 0;
        for (int i = 0; final_counts && i < VOCAB; i++)
                words_done += latest[i] == final_counts[i];
        rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, in, NULL);
        const struct rd_kafka_metadata *md;
        /* Learn the input topic's partitions before the clock starts: a new
         * librdkafka producer whose bootstrap connection comes up before its
         * first produce creates the topic skips the topic's metadata request
         * and waits for its 1 s topic scan, which showed as ~1 s of latency
         * for the first records of a phase. */
        if (rd_kafka_metadata(p, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        int64_t t0 = rill__mono_us(), deadline;
        long got = 0, sent = 0;

        while (final_counts ? words_done < VOCAB : got < want) {
                /* Produce in slices so that reading goes on meanwhile. */
                long target = n;
                if (rate > 0)
                        target = RILL__MIN(n, (long)((rill__mono_us() - t0) * rate / 1000000) + 1);
                for (long k = 0; sent < target && k < 5000; k++, sent++)
                        produce_line(p, words, in, from + sent);
                rd_kafka_poll(p, 0);
                for (int k = 0; k < 10000; k++) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, sent < n ? 0 : 20);
                        if (!m)
                                break;
                        if (!m->err) {
                                if (lat && *nlat < want)
                                        lat[(*nlat)++] = rill__now_ms() -
                                                         rd_kafka_message_timestamp(m, NULL);
                                got++;
                                if (final_counts && m->key_len == 4 && m->len == 8) {
                                        char num[4] = {((const char *)m->key)[1],
                                                       ((const char *)m->key)[2],
                                                       ((const char *)m->key)[3], 0};
                                        int idx = atoi(num);
                                        int64_t v;
                                        rill_bytes_i64(rill_bytes(m->payload, 8), &v);
                                        if (idx >= 0 && idx < VOCAB) {
                                                bool was = latest[idx] == final_counts[idx];
                                                latest[idx] = v;
                                                words_done += (latest[idx] == final_counts[idx]) - was;
                                        }
                                }
                        }
                        rd_kafka_message_destroy(m);
                }
                deadline = t0 + (int64_t)(120 + want / 2000) * 1000000;
                if (rill__mono_us() > deadline) {
                        fprintf(stderr, "  timed out: %ld of %ld output records\n", got, want);
                        break;
                }
        }
        *seconds = (double)(rill__mono_us() - t0) / 1e6;
        rd_kafka_flush(p, 10000);
        rd_kafka_destroy(p);
        return final_counts ? words_done == VOCAB : got >= want;
}

static rd_kafka_t *
reader_for(const char *out)
{
        rd_kafka_t *c = client(RD_KAFKA_CONSUMER, "bench-reader");
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(PARTS);
        for (int i = 0; i < PARTS; i++)
                rd_kafka_topic_partition_list_add(tp, out, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        return c;
}

/* ---- the processor process ---- */

typedef struct popts {
        const char *impl; /* rill, rill-nocache, loop */
        bool words;
        const char *in, *out, *id, *state_dir;
} popts_t;

static atomic_bool proc_stop;

static void
on_term(int sig)
{
        (void)sig;
        atomic_store(&proc_stop, true);
}

/* Waits for SIGTERM/SIGINT (or @p failed to turn true), up to 100 ms per
 * call. */
static void
await_stop_tick(void)
{
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL); /* interrupted by the signal */
}

/* The processor under test, in a process of its own so that its CPU time is
 * measured apart from the load generator and the output reader. Writes
 * "ready\n" to stdout once it owns partitions, runs until SIGTERM, closes
 * cleanly. Returns the exit status. */
static int
processor_main(const popts_t *p, const opts_t *o)
{
        struct sigaction sa;
        char err[512];

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        if (strncmp(p->impl, "rill", 4) == 0) {
                rill_topology_t *topo = topology(p->words, !strcmp(p->impl, "rill"), p->in,
                                                 p->out);
                rill_conf_t *c = rill_conf_new();
                rill_app_t *app;
                int rc = 0;

                rill_conf_set(c, "application.id", p->id, err, sizeof(err));
                rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
                rill_conf_set(c, "state.dir", p->state_dir, err, sizeof(err));
                rill_conf_set(c, "num.stream.threads", o->threads, err, sizeof(err));
                rill_conf_set(c, "commit.interval.ms", o->commit_ms, err, sizeof(err));
                for (int i = 0; i < o->nprops; i++)
                        if (rill_conf_set(c, o->props[i].k, o->props[i].v, err, sizeof(err)) !=
                            RILL_OK) {
                                fprintf(stderr, "  --set %s: %s\n", o->props[i].k, err);
                                return 2;
                        }
                app = topo ? rill_app_new(topo, c, err, sizeof(err)) : NULL;
                if (!app || rill_app_start(app, err, sizeof(err)) != RILL_OK) {
                        fprintf(stderr, "  app: %s\n", err);
                        return 1;
                }
                for (int i = 0; i < 600 && !atomic_load(&proc_stop) &&
                                !(rill_app_state(app) == RILL_APP_RUNNING &&
                                  rill_app_task_count(app) > 0);
                     i++)
                        await_stop_tick();
                printf("ready\n");
                fflush(stdout);
                while (!atomic_load(&proc_stop)) {
                        if (rill_app_state(app) == RILL_APP_ERROR) {
                                rill_app_last_error(app, err, sizeof(err));
                                fprintf(stderr, "  app failed: %s\n", err);
                                rc = 1;
                                break;
                        }
                        await_stop_tick();
                }
                rill_app_close(app, 30000);
                rill_app_destroy(app);
                rill_topology_destroy(topo);
                rill__rmtree(p->state_dir);
                return rc;
        } else {
                loop_arg_t *la = calloc(1, sizeof(*la));
                pthread_t lt;

                la->words = p->words;
                la->commit_ms = atol(o->commit_ms);
                snprintf(la->in, sizeof(la->in), "%s", p->in);
                snprintf(la->out, sizeof(la->out), "%s", p->out);
                snprintf(la->group, sizeof(la->group), "%s", p->id);
                pthread_create(&lt, NULL, loop_main, la);
                for (int i = 0; i < 600 && !atomic_load(&la->joined) && !atomic_load(&proc_stop);
                     i++)
                        await_stop_tick();
                printf("ready\n");
                fflush(stdout);
                while (!atomic_load(&proc_stop))
                        await_stop_tick();
                atomic_store(&la->stop, true);
                pthread_join(lt, NULL);
                free(la);
                return 0;
        }
}

/* Starts the processor process; returns its pid (its stdout is *@p rfd). */
static pid_t
spawn_processor(const char *impl, bool words, const char *in, const char *out, const char *id,
                const char *state_dir, const opts_t *o, int *rfd)
{
        char self[4200];
        int pfd[2];
        pid_t pid;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n <= 0 || pipe(pfd) != 0)
                return -1;
        self[n] = '\0';
        pid = fork();
        if (pid == 0) {
                char *argv[64];
                int a = 0;
                dup2(pfd[1], 1);
                close(pfd[0]);
                close(pfd[1]);
                argv[a++] = self;
                argv[a++] = "--role";
                argv[a++] = "processor";
                argv[a++] = (char *)impl;
                argv[a++] = (char *)(words ? "wordcount" : "pass");
                argv[a++] = bootstrap;
                argv[a++] = (char *)in;
                argv[a++] = (char *)out;
                argv[a++] = (char *)id;
                argv[a++] = (char *)state_dir;
                argv[a++] = "--threads";
                argv[a++] = (char *)o->threads;
                argv[a++] = "--commit-interval-ms";
                argv[a++] = (char *)o->commit_ms;
                for (int i = 0; i < o->nprops && a < 60; i++) {
                        argv[a++] = "--set";
                        argv[a++] = o->props[i].arg;
                }
                argv[a] = NULL;
                execv(self, argv);
                _exit(127);
        }
        close(pfd[1]);
        if (pid < 0) {
                close(pfd[0]);
                return -1;
        }
        *rfd = pfd[0];
        return pid;
}

/* Waits up to 60 s for the processor's "ready" line. */
static bool
await_ready(int rfd)
{
        char buf[16];
        size_t got = 0;
        struct pollfd pf = {rfd, POLLIN, 0};

        while (got < 6) {
                ssize_t n;
                if (poll(&pf, 1, 60000) <= 0)
                        return false;
                n = read(rfd, buf + got, sizeof(buf) - 1 - got);
                if (n <= 0)
                        return false; /* the processor exited */
                got += (size_t)n;
        }
        return memcmp(buf, "ready\n", 6) == 0;
}

/* Stops the processor (SIGTERM, then SIGKILL after 60 s); true if it exited
 * with status 0. */
static bool
stop_processor(pid_t pid)
{
        int st = 0;
        kill(pid, SIGTERM);
        for (int i = 0; i < 6000; i++) {
                pid_t w = waitpid(pid, &st, WNOHANG);
                if (w == pid)
                        return WIFEXITED(st) && WEXITSTATUS(st) == 0;
                usleep(10000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fprintf(stderr, "  the processor did not stop within 60 s\n");
        return false;
}

static result_t
run_broker(bool words, const char *impl, const opts_t *o)
{
        result_t r = {0};
        char in[64], out[64], dir[4200], id[64];
        bool cached = !strcmp(impl, "rill") && words;
        rd_kafka_t *reader;
        int64_t *lat;
        long nlat = 0;
        double secs;
        cpu_sample_t c0, c1;
        int rfd = -1;
        pid_t pid;
        const char *base = getenv("TMPDIR");
        int64_t *finals = NULL, *latest = NULL;

        run_seq++;
        snprintf(in, sizeof(in), "bench-in-%d", run_seq);
        snprintf(out, sizeof(out), "bench-out-%d", run_seq);
        snprintf(id, sizeof(id), "bench-app-%d", run_seq);
        snprintf(dir, sizeof(dir), "%s/bench-streams-state-%d-%d", base && *base ? base : "/tmp",
                 (int)getpid(), run_seq);
        if (!create_topic(in, PARTS) || !create_topic(out, PARTS)) {
                fprintf(stderr, "  cannot create topics\n");
                return r;
        }
        if (cached) {
                finals = calloc(VOCAB, sizeof(int64_t));
                latest = calloc(VOCAB, sizeof(int64_t));
                add_word_counts(0, o->records, finals);
        }
        reader = reader_for(out);
        if (o->preload) {
                /* The whole input is in the topic before the processor starts:
                 * the processor works through a backlog, as in a catch-up. */
                if (!produce_only(words, in, 0, o->records)) {
                        fprintf(stderr, "  cannot preload the input\n");
                        goto out;
                }
        }
        pid = spawn_processor(impl, words, in, out, id, dir, o, &rfd);
        if (pid < 0 || !await_ready(rfd)) {
                fprintf(stderr, "  the processor did not start\n");
                if (pid > 0)
                        stop_processor(pid);
                goto out;
        }

        /* Throughput. */
        cpu_sample(pid, &c0);
        r.ok = drive(words, in, reader, 0, o->preload ? 0 : o->records, 0,
                     expected_outputs(words, o->records), finals, latest, NULL, &nlat, &secs);
        cpu_sample(pid, &c1);
        r.seconds = secs;
        r.cpu = cpu_delta(&c0, &c1);
        r.harness_cpu = c1.self_s - c0.self_s;
        r.outputs = expected_outputs(words, o->records);

        /* Latency at a fixed rate. */
        if (r.ok && o->latency_records > 0) {
                long want = expected_outputs(words, o->records + o->latency_records) - r.outputs;
                lat = calloc((size_t)want + 1, sizeof(int64_t));
                nlat = 0;
                if (finals)
                        add_word_counts(o->records, o->records + o->latency_records, finals);
                r.ok = drive(words, in, reader, o->records, o->latency_records, o->rate, want,
                             finals, latest, lat, &nlat, &secs);
                if (nlat > 0) {
                        qsort(lat, (size_t)nlat, sizeof(int64_t), cmp_i64);
                        r.p50 = (double)lat[nlat / 2];
                        r.p99 = (double)lat[(nlat * 99) / 100];
                }
                free(lat);
        }
        if (!stop_processor(pid)) {
                fprintf(stderr, "  the processor failed\n");
                r.ok = false;
        }
        close(rfd);
out:
        free(finals);
        free(latest);
        rd_kafka_consumer_close(reader);
        rd_kafka_destroy(reader);
        return r;
}

static result_t
run_driver(bool words, const opts_t *o)
{
        result_t r = {0};
        char err[512], line[256], key[24];
        rill_topology_t *topo = topology(words, false, "in", "out");
        rill_conf_t *c = rill_conf_new();
        rill_test_driver_t *td;
        double cpu0;
        int64_t t0;

        rill_conf_set(c, "application.id", "bench-driver", err, sizeof(err));
        td = rill_test_driver_new(topo, c, err, sizeof(err));
        rill_conf_destroy(c);
        rill_test_driver_create_topic(td, "in", PARTS);
        cpu0 = self_cpu_s();
        t0 = rill__mono_us();
        r.ok = true;
        for (long i = 0; i < o->records; i++) {
                int kl = snprintf(key, sizeof(key), "%ld", i);
                int ll = make_line(words, i, line, sizeof(line));
                if (rill_test_driver_pipe(td, "in", -1, rill_bytes(key, (size_t)kl),
                                          rill_bytes(line, (size_t)ll), i) != RILL_OK)
                        r.ok = false;
                /* Drain the output as a test would. */
                if ((i & 1023) == 0) {
                        rill_record_t *rec;
                        while ((rec = rill_test_driver_read(td, "out")))
                                rill_record_destroy(rec), r.outputs++;
                }
        }
        {
                rill_record_t *rec;
                while ((rec = rill_test_driver_read(td, "out")))
                        rill_record_destroy(rec), r.outputs++;
        }
        r.seconds = (double)(rill__mono_us() - t0) / 1e6;
        r.cpu = self_cpu_s() - cpu0;
        r.ok = r.ok && r.outputs == expected_outputs(words, o->records);
        rill_test_driver_destroy(td);
        rill_topology_destroy(topo);
        return r;
}

static int
cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Median of one field over the successful runs. */
static double
median_field(const result_t *runs, int n, size_t off)
{
        double v[MAX_REPEAT];
        int k = 0;
        for (int i = 0; i < n; i++)
                if (runs[i].ok)
                        v[k++] = *(const double *)((const char *)&runs[i] + off);
        if (!k)
                return 0;
        qsort(v, (size_t)k, sizeof(double), cmp_double);
        return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* Field-wise medians of @p n runs (ok only if every run was). */
static result_t
result_median(const result_t *runs, int n)
{
        result_t m = {0};
        m.ok = true;
        for (int i = 0; i < n; i++)
                m.ok = m.ok && runs[i].ok;
        m.seconds = median_field(runs, n, offsetof(result_t, seconds));
        m.cpu = median_field(runs, n, offsetof(result_t, cpu));
        m.harness_cpu = median_field(runs, n, offsetof(result_t, harness_cpu));
        m.p50 = median_field(runs, n, offsetof(result_t, p50));
        m.p99 = median_field(runs, n, offsetof(result_t, p99));
        return m;
}

static void
print_row(const char *scenario, const char *impl, const result_t *r, long records)
{
        if (!r->ok) {
                printf("| %-9s | %-12s | FAILED |\n", scenario, impl);
                return;
        }
        printf("| %-9s | %-12s | %10.0f | %8.2f | %8.2f | %10.0f | %8.2f | ", scenario, impl,
               (double)records / r->seconds, r->seconds, r->cpu * 1e6 / (double)records,
               r->cpu > 0 ? (double)records / r->cpu : 0.0, r->harness_cpu * 1e6 / (double)records);
        if (r->p99 > 0 || r->p50 > 0)
                printf("%6.0f | %6.0f |\n", r->p50, r->p99);
        else
                printf("%6s | %6s |\n", "-", "-");
}

static void
usage(void)
{
        fprintf(stderr,
                "usage: bench-streams [--records N] [--latency-records N] [--rate R]\n"
                "                     [--threads N] [--scenario all|pass|wordcount] [--rilld PATH]\n"
                "                     [--commit-interval-ms MS] [--preload] [--impl LIST]\n"
                "                     [--repeat N]\n"
                "                     [--set KEY=VALUE]...\n"
                "  --preload     produce the throughput phase's input before the processor\n"
                "                starts (a backlog) instead of while it runs\n"
                "  --impl LIST   comma-separated subset of rill,rill-nocache,loop,driver\n"
                "  --repeat N    N alternating runs of each (at most 9), then their medians\n"
                "  --set K=V     a rill_conf_t property for the rill app (repeatable; librdkafka\n"
                "                properties with the consumer./producer. prefixes)\n");
        exit(2);
}

static bool
impl_on(const char *list, const char *impl)
{
        size_t n = strlen(impl);
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (l == n && !strncmp(p, impl, n))
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

int
main(int argc, char **argv)
{
        opts_t o = {.records = 200000, .latency_records = 20000, .rate = 2000, .threads = "2",
                    .scenario = "all", .commit_ms = "1000", .repeat = 1};
        const char *impls = "rill,rill-nocache,loop,driver";
        char rilld[4200], dir[4200];
        const char *base = getenv("TMPDIR");
        int port, failures = 0, first = 1;
        popts_t po = {0};
        bool processor = false;
        pid_t pid;

        if (argc >= 10 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "processor")) {
                /* bench-streams --role processor IMPL SCENARIO BOOTSTRAP IN OUT ID STATEDIR ... */
                processor = true;
                po.impl = argv[3];
                po.words = !strcmp(argv[4], "wordcount");
                snprintf(bootstrap, sizeof(bootstrap), "%s", argv[5]);
                po.in = argv[6];
                po.out = argv[7];
                po.id = argv[8];
                po.state_dir = argv[9];
                first = 10;
        }
        for (int i = first; i < argc; i++) {
                if (!strcmp(argv[i], "--preload")) {
                        o.preload = true;
                        continue;
                }
                if (i + 1 >= argc)
                        usage();
                if (!strcmp(argv[i], "--records"))
                        o.records = atol(argv[++i]);
                else if (!strcmp(argv[i], "--latency-records"))
                        o.latency_records = atol(argv[++i]);
                else if (!strcmp(argv[i], "--rate"))
                        o.rate = atol(argv[++i]);
                else if (!strcmp(argv[i], "--threads"))
                        o.threads = argv[++i];
                else if (!strcmp(argv[i], "--scenario"))
                        o.scenario = argv[++i];
                else if (!strcmp(argv[i], "--rilld"))
                        o.rilld = argv[++i];
                else if (!strcmp(argv[i], "--commit-interval-ms"))
                        o.commit_ms = argv[++i];
                else if (!strcmp(argv[i], "--impl"))
                        impls = argv[++i];
                else if (!strcmp(argv[i], "--repeat"))
                        o.repeat = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--set")) {
                        char *eq = strchr(argv[++i], '=');
                        if (!eq || o.nprops == 16)
                                usage();
                        o.props[o.nprops].arg = argv[i];
                        o.props[o.nprops].k = strndup(argv[i], (size_t)(eq - argv[i]));
                        o.props[o.nprops].v = eq + 1;
                        o.nprops++;
                } else
                        usage();
        }
        if (o.records < 10 || o.rate < 1 || o.repeat < 1 || o.repeat > MAX_REPEAT)
                usage();
        rill_log_set_level(RILL_LOG_WARN);
        if (processor) {
                int rc = processor_main(&po, &o);
                for (int i = 0; i < o.nprops; i++)
                        free(o.props[i].k);
                return rc;
        }
        if (o.rilld) {
                snprintf(rilld, sizeof(rilld), "%s", o.rilld);
        } else {
                /* build/bin/rilld next to this program. */
                ssize_t n = readlink("/proc/self/exe", rilld, sizeof(rilld) - 8);
                if (n <= 0)
                        return 1;
                rilld[n] = '\0';
                snprintf(strrchr(rilld, '/') + 1, 8, "rilld");
        }
        snprintf(dir, sizeof(dir), "%s/bench-streams-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir))
                return 1;
        port = free_port();
        pid = spawn_rilld(rilld, dir, port);
        if (pid < 0) {
                char log[4300], line[512];
                FILE *f;
                fprintf(stderr, "cannot start %s (is it built?)\n", rilld);
                snprintf(log, sizeof(log), "%s/rilld.log", dir);
                if ((f = fopen(log, "r"))) {
                        while (fgets(line, sizeof(line), f))
                                fprintf(stderr, "  rilld: %s", line);
                        fclose(f);
                }
                rill__rmtree(dir);
                return 1;
        }
        snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", port);
        printf("bench-streams: %ld records per throughput run (%s), %ld at %ld/s for latency, "
               "%s stream threads, commit.interval.ms %s, %d partitions, rilld %s\n",
               o.records, o.preload ? "preloaded backlog" : "produced while processing",
               o.latency_records, o.rate, o.threads, o.commit_ms, PARTS, bootstrap);
        for (int i = 0; i < o.nprops; i++)
                printf("  --set %s\n", o.props[i].arg);
        printf("\n| scenario  | impl         |  records/s |  seconds | CPU s/M  | rec/s/core | harn s/M | "
               "p50 ms | p99 ms |\n");
        printf("|-----------|--------------|-----------:|---------:|---------:|-----------:|---------:|"
               "-------:|-------:|\n");
        for (int w = 0; w < 2; w++) {
                const char *name = w ? "wordcount" : "pass";
                static const char *const order[] = {"rill", "rill-nocache", "loop", "driver"};
                result_t runs[4][MAX_REPEAT];
                if (strcmp(o.scenario, "all") && strcmp(o.scenario, name))
                        continue;
                /* Alternate the implementations run by run, so that changes
                 * in the machine's load hit them alike. */
                for (int rep = 0; rep < o.repeat; rep++) {
                        for (int k = 0; k < 4; k++) {
                                const char *impl = order[k];
                                result_t r;
                                if (!impl_on(impls, impl) ||
                                    (!w && !strcmp(impl, "rill-nocache")))
                                        continue;
                                if (!strcmp(impl, "driver"))
                                        r = run_driver(w, &o);
                                else
                                        r = run_broker(w, impl, &o);
                                runs[k][rep] = r;
                                if (o.repeat > 1)
                                        printf("  run %d: ", rep + 1);
                                print_row(name, w && !strcmp(impl, "loop") ? "loop+map" : impl,
                                          &r, o.records);
                                failures += !r.ok;
                                fflush(stdout);
                        }
                }
                if (o.repeat < 2)
                        continue;
                printf("\nmedians of %d runs:\n", o.repeat);
                for (int k = 0; k < 4; k++) {
                        const char *impl = order[k];
                        result_t m;
                        if (!impl_on(impls, impl) || (!w && !strcmp(impl, "rill-nocache")))
                                continue;
                        m = result_median(runs[k], o.repeat);
                        print_row(name, w && !strcmp(impl, "loop") ? "loop+map" : impl, &m,
                                  o.records);
                }
                printf("\n");
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        rill__rmtree(dir);
        for (int i = 0; i < o.nprops; i++)
                free(o.props[i].k);
        printf("\nCPU s/M: CPU seconds of the processor alone (the rill app or the loop, each in "
               "a process of its own; for the driver this process) per million input records;\n"
               "rec/s/core: input records per CPU second of the processor; harn s/M: the load "
               "generator and output reader (this process); rilld is not counted.\n");
        return failures ? 1 : 0;
}
