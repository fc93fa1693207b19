/*
 * rill_test_kafka.c - librdkafka helpers for the integration and fault tests.
 * See rill_test_kafka.h for the contract.
 *
 * Design: records carry their own delivery state (the message opaque points
 * at the rill_test_rec_t), so a test can produce a set, wait for every
 * delivery report and then compare, record by record, what the broker
 * acknowledged with what a consumer reads back. Spawned daemons are tied to
 * the test process twice over: PR_SET_PDEATHSIG kills them if the test dies
 * (crash, abort, ctest timeout), and an atexit handler kills any the test
 * forgot on a normal exit.
 */
#include "rill_test_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "rill_test.h"

/* ---- records ---- */

static void *
dup_bytes(const void *p, size_t n)
{
        void *d;
        if (!p)
                return NULL;
        d = malloc(n ? n : 1);
        if (!d)
                abort();
        if (n)
                memcpy(d, p, n);
        return d;
}

rill_test_rec_t *
rill_test_rec_add(rill_test_recs_t *recs, const void *key, size_t key_len, const void *value,
                  size_t value_len)
{
        rill_test_rec_t *r;
        if (recs->cnt == recs->cap) {
                int cap = recs->cap ? recs->cap * 2 : 64;
                rill_test_rec_t *v = realloc(recs->v, (size_t)cap * sizeof(*v));
                if (!v)
                        abort();
                recs->v = v;
                recs->cap = cap;
        }
        r = &recs->v[recs->cnt++];
        memset(r, 0, sizeof(*r));
        r->key = dup_bytes(key, key_len);
        r->key_len = key ? key_len : 0;
        r->value = dup_bytes(value, value_len);
        r->value_len = value ? value_len : 0;
        r->partition = RD_KAFKA_PARTITION_UA;
        r->offset = -1;
        return r;
}

rill_test_rec_t *
rill_test_rec_add_str(rill_test_recs_t *recs, const char *key, const char *value)
{
        return rill_test_rec_add(recs, key, key ? strlen(key) : 0, value,
                                 value ? strlen(value) : 0);
}

void
rill_test_recs_free(rill_test_recs_t *recs)
{
        for (int i = 0; i < recs->cnt; i++) {
                free(recs->v[i].key);
                free(recs->v[i].value);
                if (recs->v[i].headers)
                        rd_kafka_headers_destroy(recs->v[i].headers);
        }
        free(recs->v);
        memset(recs, 0, sizeof(*recs));
}

bool
rill_test_rec_header(const rill_test_rec_t *r, const char *name, const void **value, size_t *size)
{
        if (!r->headers)
                return false;
        return rd_kafka_header_get_last(r->headers, name, value, size) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static bool
same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
        if (!a || !b)
                return !a && !b;
        return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool
rill_test_rec_same_kv(const rill_test_rec_t *a, const rill_test_rec_t *b)
{
        return same_bytes(a->key, a->key_len, b->key, b->key_len) &&
               same_bytes(a->value, a->value_len, b->value, b->value_len);
}

const rill_test_rec_t *
rill_test_rec_find(const rill_test_recs_t *recs, int32_t partition, int64_t offset)
{
        for (int i = 0; i < recs->cnt; i++)
                if (recs->v[i].partition == partition && recs->v[i].offset == offset)
                        return &recs->v[i];
        return NULL;
}

static size_t
render(char *buf, size_t size, const void *p, size_t len)
{
        const unsigned char *s = p;
        size_t n = 0;
        if (!p)
                return (size_t)snprintf(buf, size, "(null)");
        for (size_t i = 0; i < len && i < 40 && n + 5 < size; i++)
                n += (size_t)snprintf(buf + n, size - n, (s[i] >= 32 && s[i] < 127) ? "%c" : "\\x%02x",
                                      s[i]);
        if (len > 40 && n + 16 < size)
                n += (size_t)snprintf(buf + n, size - n, "...(%zu bytes)", len);
        return n;
}

const char *
rill_test_rec_str(const rill_test_rec_t *r, char *buf, size_t size)
{
        size_t n;
        if (size < 16)
                return "";
        n = (size_t)snprintf(buf, size, "key=");
        n += render(buf + n, size - n, r->key, r->key_len);
        if (n + 8 < size) {
                n += (size_t)snprintf(buf + n, size - n, " value=");
                render(buf + n, size - n, r->value, r->value_len);
        }
        return buf;
}

/* ---- clients ---- */

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        rill_test_rec_t *r = m->_private;
        (void)rk;
        (void)opaque;
        if (!r)
                return;
        r->dr_done = true;
        r->dr_err = m->err;
        r->partition = m->partition;
        r->offset = m->offset;
        r->dr_timestamp = rd_kafka_message_timestamp(m, &r->dr_tstype);
}

static rd_kafka_conf_t *
conf_new(const char *bootstrap, const char *const *defaults, const char *const *kv)
{
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK)
                goto fail;
        for (int pass = 0; pass < 2; pass++) {
                const char *const *list = pass == 0 ? defaults : kv;
                for (int i = 0; list && list[i]; i++) {
                        char key[256];
                        const char *eq = strchr(list[i], '=');
                        if (!eq || (size_t)(eq - list[i]) >= sizeof(key)) {
                                snprintf(err, sizeof(err), "bad setting \"%s\"", list[i]);
                                goto fail;
                        }
                        memcpy(key, list[i], (size_t)(eq - list[i]));
                        key[eq - list[i]] = '\0';
                        if (rd_kafka_conf_set(conf, key, eq + 1, err, sizeof(err)) !=
                            RD_KAFKA_CONF_OK)
                                goto fail;
                }
        }
        return conf;
fail:
        fprintf(stderr, "rill_test_kafka: client config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
}

rd_kafka_t *
rill_test_producer_new(const char *bootstrap, const char *const *kv)
{
        static const char *const defaults[] = {"log.connection.close=false", NULL};
        char err[512];
        rd_kafka_conf_t *conf = conf_new(bootstrap, defaults, kv);
        rd_kafka_t *rk;
        if (!conf)
                return NULL;
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "rill_test_kafka: producer: %s\n", err);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

rd_kafka_t *
rill_test_consumer_new(const char *bootstrap, const char *const *kv)
{
        static int seq;
        char group[128], group_kv[160], err[512];
        const char *defaults[] = {"log.connection.close=false", "enable.auto.commit=false",
                                  "auto.offset.reset=earliest", group_kv, NULL};
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;

        /* librdkafka needs a group.id for assign() and consumer_poll(); a
         * unique one keeps independent consumers independent. */
        snprintf(group, sizeof(group), "rill-test-%d-%d", (int)getpid(), ++seq);
        snprintf(group_kv, sizeof(group_kv), "group.id=%s", group);
        conf = conf_new(bootstrap, defaults, kv);
        if (!conf)
                return NULL;
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "rill_test_kafka: consumer: %s\n", err);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

void
rill_test_client_destroy(rd_kafka_t *rk)
{
        if (!rk)
                return;
        if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER)
                rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/* ---- producing ---- */

rd_kafka_resp_err_t
rill_test_produce(rd_kafka_t *p, const char *topic, rill_test_rec_t *r)
{
        int64_t deadline = rill_test_now_ms() + 30000;
        rd_kafka_resp_err_t err;

        r->dr_done = false;
        r->dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (;;) {
                rd_kafka_headers_t *h = r->headers ? rd_kafka_headers_copy(r->headers) : NULL;
                err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_PARTITION(r->partition),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_KEY(r->key, r->key_len),
                                        RD_KAFKA_V_VALUE(r->value, r->value_len),
                                        RD_KAFKA_V_TIMESTAMP(r->timestamp),
                                        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(r),
                                        RD_KAFKA_V_END);
                if (err && h)
                        rd_kafka_headers_destroy(h); /* ownership passes only on success */
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || rill_test_now_ms() > deadline)
                        break;
                rd_kafka_poll(p, 10);
        }
        if (err)
                fprintf(stderr, "rill_test_kafka: produce to %s: %s\n", topic,
                        rd_kafka_err2str(err));
        return err;
}

bool
rill_test_wait_delivered(rd_kafka_t *p, rill_test_recs_t *recs, int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        int i = 0;
        for (;;) {
                while (i < recs->cnt && recs->v[i].dr_done)
                        i++;
                if (i == recs->cnt)
                        return true;
                if (rill_test_now_ms() > deadline)
                        return false;
                rd_kafka_poll(p, 50);
        }
}

int
rill_test_produce_range(rd_kafka_t *p, const char *topic, rill_test_recs_t *recs, int from, int to,
                        int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        int ok = 0, pending;
        for (int i = from; i < to; i++) {
                if (rill_test_produce(p, topic, &recs->v[i]) != RD_KAFKA_RESP_ERR_NO_ERROR)
                        recs->v[i].dr_done = true, recs->v[i].dr_err = RD_KAFKA_RESP_ERR__FAIL;
                rd_kafka_poll(p, 0);
        }
        do {
                pending = 0;
                for (int i = from; i < to; i++)
                        pending += !recs->v[i].dr_done;
                if (pending)
                        rd_kafka_poll(p, 50);
        } while (pending && rill_test_now_ms() < deadline);
        for (int i = from; i < to; i++) {
                if (recs->v[i].dr_done && !recs->v[i].dr_err)
                        ok++;
                else if (recs->v[i].dr_done)
                        fprintf(stderr, "rill_test_kafka: delivery of record %d to %s failed: %s\n",
                                i, topic, rd_kafka_err2str(recs->v[i].dr_err));
        }
        if (pending)
                fprintf(stderr, "rill_test_kafka: %d delivery reports missing after %d ms\n",
                        pending, timeout_ms);
        return ok;
}

int
rill_test_produce_all(rd_kafka_t *p, const char *topic, rill_test_recs_t *recs, int timeout_ms)
{
        return rill_test_produce_range(p, topic, recs, 0, recs->cnt, timeout_ms);
}

/* ---- consuming ---- */

rd_kafka_resp_err_t
rill_test_assign_all(rd_kafka_t *c, const char *topic, int partition_cnt, int64_t offset)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partition_cnt);
        rd_kafka_resp_err_t err;
        for (int i = 0; i < partition_cnt; i++)
                rd_kafka_topic_partition_list_add(l, topic, i)->offset = offset;
        err = rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
                fprintf(stderr, "rill_test_kafka: assign %s: %s\n", topic, rd_kafka_err2str(err));
        return err;
}

static void
copy_msg(rill_test_recs_t *out, rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;
        rill_test_rec_t *r = rill_test_rec_add(out, m->key, m->key_len, m->payload, m->len);
        r->partition = m->partition;
        r->offset = m->offset;
        r->timestamp = rd_kafka_message_timestamp(m, &r->tstype);
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h)
                r->headers = rd_kafka_headers_copy(h);
}

static void
note_error(rill_test_recs_t *out, rd_kafka_message_t *m)
{
        out->errors++;
        snprintf(out->last_error, sizeof(out->last_error), "%s [%d] @%lld: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
                 (long long)m->offset, rd_kafka_message_errstr(m));
        fprintf(stderr, "rill_test_kafka: consumer error: %s\n", out->last_error);
}

bool
rill_test_consume(rd_kafka_t *c, rill_test_recs_t *out, int want, int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        while (out->cnt < want && rill_test_now_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                if (!m->err)
                        copy_msg(out, m);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        note_error(out, m);
                rd_kafka_message_destroy(m);
        }
        return out->cnt >= want;
}

bool
rill_test_consume_to_eof(rd_kafka_t *c, rill_test_recs_t *out, int partition_cnt, int timeout_ms)
{
        return rill_test_consume_to_eof_n(c, out, partition_cnt, 0, timeout_ms);
}

bool
rill_test_consume_to_eof_n(rd_kafka_t *c, rill_test_recs_t *out, int partition_cnt, int want,
                           int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        bool *eof = calloc((size_t)partition_cnt, sizeof(*eof));
        int eof_cnt = 0;
        bool done;
        if (!eof)
                abort();
        while (!(eof_cnt == partition_cnt && out->cnt >= want) && rill_test_now_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                if (m->partition >= 0 && m->partition < partition_cnt) {
                        if (!m->err) {
                                copy_msg(out, m);
                                if (eof[m->partition]) {
                                        /* More arrived after the end: not done yet. */
                                        eof[m->partition] = false;
                                        eof_cnt--;
                                }
                        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (!eof[m->partition]) {
                                        eof[m->partition] = true;
                                        eof_cnt++;
                                }
                        } else {
                                note_error(out, m);
                        }
                } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        note_error(out, m);
                }
                rd_kafka_message_destroy(m);
        }
        done = eof_cnt == partition_cnt && out->cnt >= want;
        free(eof);
        return done;
}

bool
rill_test_read_topic(const char *bootstrap, const char *topic, int partition_cnt,
                     rill_test_recs_t *out, int timeout_ms)
{
        static const char *const kv[] = {"enable.partition.eof=true", NULL};
        rd_kafka_t *c = rill_test_consumer_new(bootstrap, kv);
        bool ok;
        if (!c)
                return false;
        ok = rill_test_assign_all(c, topic, partition_cnt, RD_KAFKA_OFFSET_BEGINNING) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR &&
             rill_test_consume_to_eof(c, out, partition_cnt, timeout_ms);
        rill_test_client_destroy(c);
        return ok;
}

/* ---- admin and metadata ---- */

bool
rill_test_wait_topic(rd_kafka_t *rk, const char *topic, int partitions, int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        char last[256] = "no metadata yet";
        do {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
                bool ok = false;
                if (err) {
                        snprintf(last, sizeof(last), "metadata: %s", rd_kafka_err2str(err));
                } else {
                        snprintf(last, sizeof(last), "topic %s not listed", topic);
                        for (int i = 0; i < md->topic_cnt; i++) {
                                const struct rd_kafka_metadata_topic *t = &md->topics[i];
                                int good = 0;
                                if (strcmp(t->topic, topic) != 0)
                                        continue;
                                for (int j = 0; j < t->partition_cnt; j++)
                                        good += t->partitions[j].err == 0 &&
                                                t->partitions[j].leader >= 0;
                                ok = !t->err && t->partition_cnt == partitions &&
                                     good == partitions;
                                snprintf(last, sizeof(last),
                                         "topic %s: err %s, %d partitions (%d with a leader), "
                                         "want %d",
                                         topic, rd_kafka_err2str(t->err), t->partition_cnt, good,
                                         partitions);
                        }
                }
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (ok)
                        return true;
                rill_test_sleep_ms(50);
        } while (rill_test_now_ms() < deadline);
        fprintf(stderr, "rill_test_kafka: wait for topic %s: %s\n", topic, last);
        return false;
}

rd_kafka_resp_err_t
rill_test_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                       const char *const *configs, int timeout_ms)
{
        char err[512];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__TIMED_OUT;

        if (!nt) {
                fprintf(stderr, "rill_test_kafka: NewTopic %s: %s\n", topic, err);
                return RD_KAFKA_RESP_ERR__INVALID_ARG;
        }
        for (int i = 0; configs && configs[i]; i++) {
                char key[256];
                const char *eq = strchr(configs[i], '=');
                if (!eq || (size_t)(eq - configs[i]) >= sizeof(key)) {
                        rd_kafka_NewTopic_destroy(nt);
                        return RD_KAFKA_RESP_ERR__INVALID_ARG;
                }
                memcpy(key, configs[i], (size_t)(eq - configs[i]));
                key[eq - configs[i]] = '\0';
                rd_kafka_NewTopic_set_config(nt, key, eq + 1);
        }
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, timeout_ms);
        if (ev) {
                const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
                if (rd_kafka_event_error(ev)) {
                        res = rd_kafka_event_error(ev);
                        fprintf(stderr, "rill_test_kafka: CreateTopics %s: %s\n", topic,
                                rd_kafka_event_error_string(ev));
                } else if (r) {
                        size_t cnt;
                        const rd_kafka_topic_result_t **tr =
                                rd_kafka_CreateTopics_result_topics(r, &cnt);
                        res = cnt == 1 ? rd_kafka_topic_result_error(tr[0])
                                       : RD_KAFKA_RESP_ERR__BAD_MSG;
                        if (res)
                                fprintf(stderr, "rill_test_kafka: CreateTopics %s: %s (%s)\n",
                                        topic, rd_kafka_err2str(res),
                                        cnt == 1 && rd_kafka_topic_result_error_string(tr[0])
                                                ? rd_kafka_topic_result_error_string(tr[0])
                                                : "");
                }
                rd_kafka_event_destroy(ev);
        } else {
                fprintf(stderr, "rill_test_kafka: CreateTopics %s: no answer in %d ms\n", topic,
                        timeout_ms);
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy(nt);
        if (!res && !rill_test_wait_topic(rk, topic, partitions, timeout_ms))
                res = RD_KAFKA_RESP_ERR__TIMED_OUT;
        return res;
}

rd_kafka_resp_err_t
rill_test_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
                     int64_t *high)
{
        rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, 10000);
        if (err)
                fprintf(stderr, "rill_test_kafka: watermarks %s [%d]: %s\n", topic,
                        (int)partition, rd_kafka_err2str(err));
        return err;
}

int32_t
rill_test_key_partition(const void *key, size_t key_len, int32_t partition_cnt)
{
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, key, (uInt)key_len);
        return (int32_t)(crc % (uLong)partition_cnt);
}

/* ---- rilld processes ---- */

#define MAX_TRACKED 32

static pid_t tracked[MAX_TRACKED];
static char *deferred_dirs[MAX_TRACKED];
static bool atexit_installed;

static void
cleanup_at_exit(void)
{
        rill_test_cleanup_all();
}

static void
install_atexit(void)
{
        if (!atexit_installed) {
                atexit(cleanup_at_exit);
                atexit_installed = true;
        }
}

void
rill_test_defer_rmdir(char *path)
{
        install_atexit();
        for (int i = 0; i < MAX_TRACKED; i++) {
                if (!deferred_dirs[i]) {
                        deferred_dirs[i] = path;
                        return;
                }
        }
        fprintf(stderr, "rill_test_kafka: too many deferred directories; removing %s now\n", path);
        rill_test_rmdir(path);
        free(path);
}

void
rill_test_cleanup_all(void)
{
        rill_test_pid_kill_all();
        for (int i = 0; i < MAX_TRACKED; i++) {
                if (deferred_dirs[i]) {
                        rill_test_rmdir(deferred_dirs[i]);
                        free(deferred_dirs[i]);
                        deferred_dirs[i] = NULL;
                }
        }
}

void
rill_test_pid_kill_all(void)
{
        for (int i = 0; i < MAX_TRACKED; i++) {
                if (tracked[i] > 0) {
                        kill(tracked[i], SIGKILL);
                        waitpid(tracked[i], NULL, 0);
                        tracked[i] = 0;
                }
        }
}

void
rill_test_pid_track(pid_t pid)
{
        install_atexit();
        for (int i = 0; i < MAX_TRACKED; i++) {
                if (tracked[i] <= 0) {
                        tracked[i] = pid;
                        return;
                }
        }
        fprintf(stderr, "rill_test_kafka: too many tracked pids\n");
}

void
rill_test_pid_untrack(pid_t pid)
{
        for (int i = 0; i < MAX_TRACKED; i++)
                if (tracked[i] == pid)
                        tracked[i] = 0;
}

int
rill_test_rilld_stop_tracked(pid_t pid, int sig)
{
        int st = rill_test_rilld_stop(pid, sig);
        rill_test_pid_untrack(pid);
        return st;
}

pid_t
rill_test_rilld_spawn_at(const char *dir, int port, const char *const *overrides,
                         const char *log_path)
{
        char listeners[96], advertised[96], logdirs[4200];
        const char *argv[80];
        int argc = 0;
        pid_t pid, parent = getpid();
        int64_t deadline;

        snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d", port);
        /* config/server.properties advertises 127.0.0.1:9092; a test broker
         * must advertise the port it really listens on. */
        snprintf(advertised, sizeof(advertised), "advertised.listeners=PLAINTEXT://127.0.0.1:%d",
                 port);
        snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", dir);
        argv[argc++] = RILL_BIN_DIR "/rilld";
        argv[argc++] = RILL_SOURCE_DIR "/config/server.properties";
        argv[argc++] = "--override";
        argv[argc++] = listeners;
        argv[argc++] = "--override";
        argv[argc++] = advertised;
        argv[argc++] = "--override";
        argv[argc++] = logdirs;
        argv[argc++] = "--override";
        argv[argc++] = "group.initial.rebalance.delay.ms=0";
        argv[argc++] = "--override";
        argv[argc++] = "offsets.topic.num.partitions=4";
        for (int i = 0; overrides && overrides[i] && argc < 76; i++) {
                argv[argc++] = "--override";
                argv[argc++] = overrides[i];
        }
        argv[argc] = NULL;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return -1;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(126);
                if (log_path) {
                        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dup2(fd, STDOUT_FILENO);
                                dup2(fd, STDERR_FILENO);
                        }
                }
                execv(argv[0], (char *const *)argv);
                perror("execv rilld");
                _exit(127);
        }
        rill_test_pid_track(pid);
        deadline = rill_test_now_ms() + 30000;
        while (rill_test_now_ms() < deadline) {
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid) {
                        rill_test_pid_untrack(pid);
                        fprintf(stderr,
                                "rill_test_kafka: rilld exited before listening on port %d "
                                "(status 0x%x)%s%s\n",
                                port, st, log_path ? "; its log: " : "",
                                log_path ? log_path : "");
                        return -1;
                }
                if (rill_test_port_open(port))
                        return pid;
                rill_test_sleep_ms(10);
        }
        fprintf(stderr, "rill_test_kafka: rilld not listening on port %d after 30 s\n", port);
        rill_test_rilld_stop_tracked(pid, SIGKILL);
        return -1;
}

char *
rill_test_read_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0, cap = 0, n;
        if (!f)
                return NULL;
        do {
                if (cap - len < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        buf = realloc(buf, cap + 1);
                        if (!buf)
                                abort();
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
        } while (n > 0);
        fclose(f);
        buf[len] = '\0';
        return buf;
}
