/*
 * streams_it_util.h - shared pieces of the streams integration tests
 * (header-only): the word-count topology, a line generator with its
 * independently computed counts, producing lines, and reading the latest
 * count per word from the output topic.
 */
#ifndef STREAMS_IT_UTIL_H
#define STREAMS_IT_UTIL_H

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rill/rill.h>

#include "rill_test.h"

#define IT_NWORDS 40

static const char *const it_vocab[IT_NWORDS] = {
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
        "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
        "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "one", "two", "three", "four",
        "five", "six", "seven", "eight", "nine", "ten", "red", "green", "blue", "black"};

typedef struct it_counts {
        int64_t n[IT_NWORDS];
} it_counts_t;

static inline void
it_split(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        const unsigned char *p = v.data, *end = p + v.len;
        char word[128];
        while (p && p < end) {
                size_t n = 0;
                while (p < end && !isalnum(*p))
                        p++;
                while (p < end && isalnum(*p)) {
                        if (n < sizeof(word))
                                word[n++] = (char)tolower(*p);
                        p++;
                }
                if (n)
                        rill_out_value(out, rill_bytes(word, n));
        }
}

static inline void
it_word_key(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_key(out, rill_record_value(in));
}

/* The word-count topology of examples/wordcount.c (its store optionally
 * with the record cache). */
static inline rill_topology_t *
it_wordcount_topology_ex(bool cached)
{
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_stream_t *lines = rill_builder_stream(b, "streams-plaintext-input", rill_serde_string(),
                                                   rill_serde_string());
        rill_table_t *counts = rill_grouped_count(
                rill_stream_group_by(rill_stream_flat_map_values(lines, it_split, NULL), it_word_key,
                                     NULL, "words", NULL),
                rill_materialized_with_caching(rill_materialized(b, "counts-store"), cached));
        rill_stream_to(rill_table_to_stream(counts),
                       cached ? "streams-wordcount-output-cached" : "streams-wordcount-output",
                       rill_serde_string(), rill_serde_int64());
        rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
        rill_builder_destroy(b);
        if (!t)
                fprintf(stderr, "topology: %s\n", err);
        return t;
}

static inline rill_topology_t *
it_wordcount_topology(void)
{
        return it_wordcount_topology_ex(false);
}

/* Line i of the input (deterministic); adds its words to @p c. */
static inline void
it_line(int i, char *buf, size_t size, it_counts_t *c)
{
        unsigned s = (unsigned)i * 2654435761u + 12345u;
        int nw = 1 + (int)(s % 7);
        size_t len = 0;
        buf[0] = '\0';
        for (int w = 0; w < nw; w++) {
                int idx;
                s = s * 1103515245u + 12345u;
                idx = (int)((s >> 8) % IT_NWORDS);
                c->n[idx]++;
                len += (size_t)snprintf(buf + len, size - len, "%s%s", w ? " " : "",
                                        (s & 0x10000) ? it_vocab[idx] : it_vocab[idx]);
                if (w == 0 && (s & 0x20000)) /* some capitals: counted lower-case */
                        buf[len - strlen(it_vocab[idx])] =
                                (char)toupper((unsigned char)buf[len - strlen(it_vocab[idx])]);
        }
}

static inline rd_kafka_t *
it_producer(const char *bootstrap)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *p;
        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
        p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
        if (!p)
                fprintf(stderr, "producer: %s\n", err);
        return p;
}

/* Produces lines [from, to) keyed by their number; returns true once all
 * are acknowledged. */
static inline bool
it_produce_lines(const char *bootstrap, int from, int to, it_counts_t *c)
{
        rd_kafka_t *p = it_producer(bootstrap);
        bool ok;
        if (!p)
                return false;
        for (int i = from; i < to; i++) {
                char line[256], key[16];
                int kl = snprintf(key, sizeof(key), "%d", i);
                it_line(i, line, sizeof(line), c);
                while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("streams-plaintext-input"),
                                         RD_KAFKA_V_KEY(key, (size_t)kl),
                                         RD_KAFKA_V_VALUE(line, strlen(line)),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(p, 10);
        }
        ok = rd_kafka_flush(p, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_destroy(p);
        return ok;
}

/* A consumer that reads the whole output topic (4 partitions) from the start. */
typedef struct it_reader {
        rd_kafka_t *c;
        it_counts_t latest;
        int64_t records;
        int64_t bad;
} it_reader_t;

static inline bool
it_reader_open_topic(it_reader_t *r, const char *bootstrap, const char *topic, int partitions)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(partitions);
        memset(r, 0, sizeof(*r));
        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(c, "group.id", "it-reader", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
        r->c = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
        if (!r->c)
                return false;
        for (int i = 0; i < partitions; i++)
                rd_kafka_topic_partition_list_add(tp, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(r->c, tp);
        rd_kafka_topic_partition_list_destroy(tp);
        return true;
}

static inline bool
it_reader_open(it_reader_t *r, const char *bootstrap, int partitions)
{
        return it_reader_open_topic(r, bootstrap, "streams-wordcount-output", partitions);
}

/* Reads what is available; keeps the latest count per word. */
static inline void
it_reader_poll(it_reader_t *r)
{
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(r->c, 20))) {
                if (!m->err) {
                        int64_t v;
                        int idx = -1;
                        for (int i = 0; i < IT_NWORDS; i++)
                                if (m->key_len == strlen(it_vocab[i]) &&
                                    !memcmp(m->key, it_vocab[i], m->key_len))
                                        idx = i;
                        if (idx < 0 || rill_bytes_i64(rill_bytes(m->payload, m->len), &v) != RILL_OK)
                                r->bad++;
                        else
                                r->latest.n[idx] = v;
                        r->records++;
                }
                rd_kafka_message_destroy(m);
        }
}

static inline void
it_reader_close(it_reader_t *r)
{
        if (r->c) {
                rd_kafka_consumer_close(r->c);
                rd_kafka_destroy(r->c);
        }
}

static inline bool
it_counts_equal(const it_counts_t *a, const it_counts_t *b)
{
        return !memcmp(a->n, b->n, sizeof(a->n));
}

/* True when every word's count in @p got is at least @p want. */
static inline bool
it_counts_at_least(const it_counts_t *got, const it_counts_t *want)
{
        for (int i = 0; i < IT_NWORDS; i++)
                if (got->n[i] < want->n[i])
                        return false;
        return true;
}

static inline void
it_counts_print(const char *what, const it_counts_t *got, const it_counts_t *want)
{
        for (int i = 0; i < IT_NWORDS; i++)
                if (got->n[i] != want->n[i])
                        fprintf(stderr, "%s: %s = %lld, expected %lld\n", what, it_vocab[i],
                                (long long)got->n[i], (long long)want->n[i]);
}

/* Starts an app for @p topo with extra settings @p kv (key, value, ...,
 * NULL; may be NULL); NULL on failure. */
static inline rill_app_t *
it_app_start_ex(const rill_topology_t *topo, const char *bootstrap, const char *app_id,
                const char *state_dir, const char *threads, const char *const *kv)
{
        char err[512];
        rill_conf_t *c = rill_conf_new();
        rill_app_t *app;
        for (int i = 0; kv && kv[i]; i += 2)
                if (rill_conf_set(c, kv[i], kv[i + 1], err, sizeof(err))) {
                        fprintf(stderr, "conf: %s\n", err);
                        rill_conf_destroy(c);
                        return NULL;
                }
        if (rill_conf_set(c, "application.id", app_id, err, sizeof(err)) ||
            rill_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
            rill_conf_set(c, "state.dir", state_dir, err, sizeof(err)) ||
            rill_conf_set(c, "num.stream.threads", threads, err, sizeof(err)) ||
            rill_conf_set(c, "commit.interval.ms", "200", err, sizeof(err)) ||
            rill_conf_set(c, "consumer.session.timeout.ms", "6000", err, sizeof(err)) ||
            rill_conf_set(c, "consumer.heartbeat.interval.ms", "500", err, sizeof(err))) {
                fprintf(stderr, "conf: %s\n", err);
                rill_conf_destroy(c);
                return NULL;
        }
        app = rill_app_new(topo, c, err, sizeof(err));
        if (!app) {
                fprintf(stderr, "app: %s\n", err);
                rill_conf_destroy(c);
                return NULL;
        }
        if (rill_app_start(app, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "start: %s\n", err);
                rill_app_destroy(app);
                return NULL;
        }
        return app;
}

/* Starts an app for @p topo; NULL on failure. */
static inline rill_app_t *
it_app_start(const rill_topology_t *topo, const char *bootstrap, const char *app_id,
             const char *state_dir, const char *threads)
{
        return it_app_start_ex(topo, bootstrap, app_id, state_dir, threads, NULL);
}

/* Creates @p topic with @p partitions through the admin API. */
static inline bool
it_create_topic(const char *bootstrap, const char *topic, int partitions)
{
        char err[256];
        rd_kafka_t *p = it_producer(bootstrap);
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        bool ok = false;
        if (!p)
                return false;
        nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
        q = rd_kafka_queue_new(p);
        rd_kafka_CreateTopics(p, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (ev && !rd_kafka_event_error(ev)) {
                size_t n;
                const rd_kafka_topic_result_t **res =
                        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
                ok = n == 1 && !rd_kafka_topic_result_error(res[0]);
                if (!ok)
                        fprintf(stderr, "create %s: %s\n", topic,
                                rd_kafka_err2str(rd_kafka_topic_result_error(res[0])));
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(p);
        return ok;
}

#endif /* STREAMS_IT_UTIL_H */
