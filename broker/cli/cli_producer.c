/*
 * cli_producer.c - `rill console-producer`, the counterpart of
 * kafka-console-producer.sh.
 *
 * Reads standard input line by line and sends each line as one record to
 * --topic. With --property parse.key=true a line is "key<sep>value" (the
 * separator is key.separator, a tab by default); with parse.headers=true it
 * starts with "h1:v1,h2:v2<tab>". The properties and their defaults are
 * those of Kafka's LineMessageReader, so the course's
 *
 *     kafka-console-producer.sh --bootstrap-server localhost:9092 \
 *         --topic t --property parse.key=true --property key.separator=,
 *
 * works with `rill console-producer` in place of the script name.
 *
 * Delivery: records are produced asynchronously (librdkafka batches them)
 * unless --sync; at end of input (or Ctrl+C) the producer is flushed with a
 * deadline of message.timeout.ms plus a margin. Every failure is reported
 * on stderr (the first few individually, then a count), and the exit status
 * is 1 if any record was not delivered, so a script can trust status 0 to
 * mean "everything I typed is in the topic". A malformed line (no key
 * separator with parse.key=true) stops reading, like Kafka, but what was
 * already sent is still flushed: nothing accepted is lost.
 *
 * Two CLI defaults differ from librdkafka's (--producer-property overrides
 * both): message.timeout.ms is 30 s (not 300 s) so that a dead cluster turns
 * into an error promptly, and partitioner is murmur2_random, the Java
 * client's, so a keyed record lands in the same partition as with Kafka's
 * own console producer and with librill's producers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "rill_alloc.h"
#include "rill_util.h"

#define PRODUCER_MAX_REPORTED_ERRORS 10

static const cli_opt_def_t producer_opts[] = {
        CLI_OPTS_CONNECTION,
        {"--broker-list", CLI_VALUE, "HOST:PORT", "Deprecated alias of --bootstrap-server."},
        {"--topic", CLI_VALUE, "TOPIC", "The topic to produce to (required)."},
        {"--property", CLI_MULTI, "KEY=VALUE",
         "Line reader property (repeatable): parse.key (false), key.separator (tab), "
         "ignore.error (false), parse.headers (false), headers.delimiter (tab), "
         "headers.separator (,), headers.key.separator (:), null.marker (none)."},
        {"--reader-property", CLI_MULTI, "KEY=VALUE", "Alias of --property."},
        {"--producer-property", CLI_MULTI, "KEY=VALUE",
         "A producer configuration property (repeatable), e.g. acks=all or linger.ms=5."},
        {"--producer.config", CLI_VALUE, "FILE", "Producer properties file."},
        {"--request-required-acks", CLI_VALUE, "ACKS",
         "Acknowledgements the leader must receive: 0, 1 or -1/all (default all)."},
        {"--compression-codec", CLI_OPTVALUE, "CODEC",
         "Compress batches: none, gzip (the default when no codec is named), snappy, lz4, "
         "zstd."},
        {"--sync", CLI_FLAG, NULL, "Wait for each record to be acknowledged before the next."},
        {"--batch-size", CLI_VALUE, "N", "Records per batch (batch.num.messages)."},
        {"--timeout", CLI_VALUE, "MS",
         "How long a record may wait for a batch to fill (linger.ms, as in Kafka)."},
        {"--request-timeout-ms", CLI_VALUE, "MS", "The broker's ack timeout (request.timeout.ms)."},
        {"--message-send-max-retries", CLI_VALUE, "N", "Retries of a failed send."},
        {"--retry-backoff-ms", CLI_VALUE, "MS", "Wait before a retry."},
        {"--connect-timeout-ms", CLI_VALUE, "MS",
         "How long to wait for the cluster at start-up (default 10000)."},
        {NULL, 0, NULL, NULL},
};

/* Line-reader settings (Kafka's LineMessageReader properties). */
typedef struct producer_reader {
        bool parse_key;
        bool parse_headers;
        bool ignore_error;
        const char *key_sep;
        const char *hdr_delim;
        const char *hdr_sep;
        const char *hdr_key_sep;
        const char *null_marker; /* NULL: no marker. */
} producer_reader_t;

/* Delivery accounting, updated by the delivery report callback (which runs
 * on this thread, inside rd_kafka_poll/flush). */
typedef struct producer_state {
        cli_ctx_t *ctx;
        long long delivered;
        long long failed;
        long long reported;
} producer_state_t;

static void
producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        producer_state_t *st = m->_private; /* RD_KAFKA_V_OPAQUE of the record. */

        (void)rk;
        (void)opaque;
        if (!st)
                return;
        if (!m->err) {
                st->delivered++;
                return;
        }
        st->failed++;
        if (st->reported < PRODUCER_MAX_REPORTED_ERRORS) {
                rill__cli_err(st->ctx->prog, "delivery to %s failed: %s",
                              rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                st->reported++;
                if (st->reported == PRODUCER_MAX_REPORTED_ERRORS)
                        rill__cli_err(st->ctx->prog, "further delivery errors are counted, "
                                      "not shown");
        }
}

static bool
producer_bool(const char *v)
{
        return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

/* Unescapes "\t", "\n", "\\" in separator properties given on a command
 * line (Kafka's property values are Java strings; users type
 * key.separator=\t meaning a tab). Returns a new string. */
static char *
producer_unescape(const char *s)
{
        char *out = rill__malloc(strlen(s) + 1), *o = out;

        while (*s) {
                if (s[0] == '\\' && s[1]) {
                        switch (s[1]) {
                        case 't': *o++ = '\t'; s += 2; continue;
                        case 'n': *o++ = '\n'; s += 2; continue;
                        case 'r': *o++ = '\r'; s += 2; continue;
                        case '\\': *o++ = '\\'; s += 2; continue;
                        default: break;
                        }
                }
                *o++ = *s++;
        }
        *o = '\0';
        return out;
}

/* Parses --property values into @p rd; strings it allocates go into
 * @p owned (freed by the caller). Returns 0 or -1 after printing. */
static int
producer_reader_init(cli_ctx_t *ctx, const cli_args_t *args, producer_reader_t *rd,
                     char **owned, int *nowned)
{
        static const char *const which[] = {"--property", "--reader-property"};

        memset(rd, 0, sizeof(*rd));
        rd->key_sep = "\t";
        rd->hdr_delim = "\t";
        rd->hdr_sep = ",";
        rd->hdr_key_sep = ":";
        for (int w = 0; w < 2; w++) {
                const char *const *props;
                int n = rill__cli_get_all(args, which[w], &props);

                for (int i = 0; i < n; i++) {
                        char key[128];
                        const char *v;
                        char *uv;

                        if (rill__cli_split_kv(props[i], key, sizeof(key), &v) != 0) {
                                rill__cli_usage_err(ctx->prog, "%s expects key=value, got '%s'",
                                                    which[w], props[i]);
                                return -1;
                        }
                        if (!strcmp(key, "parse.key")) {
                                rd->parse_key = producer_bool(v);
                                continue;
                        }
                        if (!strcmp(key, "parse.headers")) {
                                rd->parse_headers = producer_bool(v);
                                continue;
                        }
                        if (!strcmp(key, "ignore.error")) {
                                rd->ignore_error = producer_bool(v);
                                continue;
                        }
                        uv = producer_unescape(v);
                        owned[(*nowned)++] = uv;
                        if (!strcmp(key, "key.separator"))
                                rd->key_sep = uv;
                        else if (!strcmp(key, "headers.delimiter"))
                                rd->hdr_delim = uv;
                        else if (!strcmp(key, "headers.separator"))
                                rd->hdr_sep = uv;
                        else if (!strcmp(key, "headers.key.separator"))
                                rd->hdr_key_sep = uv;
                        else if (!strcmp(key, "null.marker"))
                                rd->null_marker = uv;
                        else
                                fprintf(stderr, "%s: warning: ignoring unknown property '%s'\n",
                                        ctx->prog, key);
                }
        }
        if (!*rd->key_sep || !*rd->hdr_delim || !*rd->hdr_sep || !*rd->hdr_key_sep) {
                rill__cli_usage_err(ctx->prog, "separators cannot be empty");
                return -1;
        }
        return 0;
}

/* One parsed line: pointers into the line buffer (lengths; NULL = null). */
typedef struct producer_rec {
        const char *key;
        size_t key_len;
        const char *value;
        size_t value_len;
        rd_kafka_headers_t *hdrs;
} producer_rec_t;

static const char *
producer_find(const char *s, size_t len, const char *sep)
{
        return memmem(s, len, sep, strlen(sep));
}

static bool
producer_is_null(const producer_reader_t *rd, const char *s, size_t len)
{
        return rd->null_marker && strlen(rd->null_marker) == len &&
               !memcmp(s, rd->null_marker, len);
}

/* Parses the headers part "k:v,k2:v2" into rec->hdrs. */
static int
producer_parse_headers(cli_ctx_t *ctx, const producer_reader_t *rd, const char *s, size_t len,
                       long long lineno, producer_rec_t *rec)
{
        const char *end = s + len;

        rec->hdrs = rd_kafka_headers_new(4);
        while (s < end) {
                const char *pe = producer_find(s, (size_t)(end - s), rd->hdr_sep);
                const char *ks;
                size_t plen;

                if (!pe)
                        pe = end;
                plen = (size_t)(pe - s);
                ks = producer_find(s, plen, rd->hdr_key_sep);
                if (!ks) {
                        rill__cli_err(ctx->prog, "No header key separator found in pair "
                                      "'%.*s' on line number %lld", (int)plen, s, lineno);
                        return -1;
                }
                {
                        const char *v = ks + strlen(rd->hdr_key_sep);
                        size_t vlen = (size_t)(pe - v);

                        if (producer_is_null(rd, v, vlen))
                                rd_kafka_header_add(rec->hdrs, s, (ssize_t)(ks - s), NULL, 0);
                        else
                                rd_kafka_header_add(rec->hdrs, s, (ssize_t)(ks - s), v,
                                                    (ssize_t)vlen);
                }
                s = pe == end ? end : pe + strlen(rd->hdr_sep);
        }
        return 0;
}

/* Splits one input line into a record. Returns 0, or -1 after printing a
 * message naming the line. */
static int
producer_parse_line(cli_ctx_t *ctx, const producer_reader_t *rd, const char *line, size_t len,
                    long long lineno, producer_rec_t *rec)
{
        memset(rec, 0, sizeof(*rec));
        if (rd->parse_headers) {
                const char *d = producer_find(line, len, rd->hdr_delim);

                if (!d) {
                        if (!rd->ignore_error) {
                                rill__cli_err(ctx->prog, "No headers delimiter found on line "
                                              "number %lld: '%.*s'", lineno, (int)len, line);
                                return -1;
                        }
                } else {
                        if (producer_parse_headers(ctx, rd, line, (size_t)(d - line), lineno,
                                                   rec) != 0)
                                return -1;
                        len -= (size_t)(d - line) + strlen(rd->hdr_delim);
                        line = d + strlen(rd->hdr_delim);
                }
        }
        if (rd->parse_key) {
                const char *sep = producer_find(line, len, rd->key_sep);

                if (!sep) {
                        if (!rd->ignore_error) {
                                rill__cli_err(ctx->prog, "No key separator found on line number "
                                              "%lld: '%.*s'", lineno, (int)len, line);
                                return -1;
                        }
                        /* ignore.error: the whole line is the value. */
                } else {
                        rec->key = line;
                        rec->key_len = (size_t)(sep - line);
                        len -= rec->key_len + strlen(rd->key_sep);
                        line = sep + strlen(rd->key_sep);
                        if (producer_is_null(rd, rec->key, rec->key_len))
                                rec->key = NULL;
                }
        }
        rec->value = line;
        rec->value_len = len;
        if (producer_is_null(rd, line, len))
                rec->value = NULL;
        return 0;
}

/* Produces one record, waiting while librdkafka's queue is full. Returns 0,
 * or -1 if it was refused (after printing). */
static int
producer_send(cli_ctx_t *ctx, rd_kafka_t *rk, const char *topic, producer_rec_t *rec,
              producer_state_t *st, long long lineno)
{
        for (;;) {
                rd_kafka_resp_err_t err;

                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(rec->key, rec->key ? rec->key_len : 0),
                        RD_KAFKA_V_VALUE((void *)(uintptr_t)rec->value,
                                         rec->value ? rec->value_len : 0),
                        RD_KAFKA_V_HEADERS(rec->hdrs), RD_KAFKA_V_OPAQUE(st), RD_KAFKA_V_END);
                if (!err) {
                        rec->hdrs = NULL; /* Owned by librdkafka now. */
                        return 0;
                }
                if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !rill__cli_stopping()) {
                        rd_kafka_poll(rk, 100);
                        continue;
                }
                rill__cli_err(ctx->prog, "cannot send line %lld: %s", lineno,
                              rd_kafka_err2str(err));
                st->failed++;
                return -1;
        }
}

/* Checks that the topic exists (the metadata request lets the broker
 * auto-create it when it is configured to). Returns 0 or -1 after
 * printing. */
static int
producer_check_topic(cli_ctx_t *ctx, rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int rc = 0;

        err = rd_kafka_metadata(rk, 0, rkt, &md, ctx->timeout_ms);
        if (err) {
                rill__cli_err(ctx->prog, "cannot fetch metadata for topic '%s': %s", topic,
                              rd_kafka_err2str(err));
                rc = -1;
        } else if (md->topic_cnt > 0 &&
                   (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION ||
                    md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)) {
                if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                        rill__cli_err(ctx->prog, "topic '%s' does not exist (create it with "
                                      "'rill topics --create --topic %s')", topic, topic);
                else
                        rill__cli_err(ctx->prog, "topic '%s': %s", topic,
                                      rd_kafka_err2str(md->topics[0].err));
                rc = -1;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return rc;
}

/* Reads the effective message.timeout.ms of @p rk. */
static long long
producer_msg_timeout(rd_kafka_t *rk)
{
        char buf[64];
        size_t sz = sizeof(buf);

        if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.timeout.ms", buf, &sz) ==
            RD_KAFKA_CONF_OK)
                return atoll(buf);
        return 30000;
}

/* Waits for every outstanding record; returns the number still not
 * delivered (counted as failures) at the deadline. */
static int
producer_flush(rd_kafka_t *rk, long long timeout_ms)
{
        int64_t deadline = rill__mono_ms() + timeout_ms;
        int left;

        while ((left = rd_kafka_outq_len(rk)) > 0 && rill__mono_ms() < deadline)
                rd_kafka_flush(rk, 200);
        rd_kafka_poll(rk, 0);
        left = rd_kafka_outq_len(rk);
        if (left > 0) {
                rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(rk, 0);
        }
        return left;
}

/* Builds the "k=v" list derived from Kafka's dedicated flags. */
static int
producer_flag_props(cli_ctx_t *ctx, const cli_args_t *args, char **out, int *n)
{
        static const struct {
                const char *flag;
                const char *prop;
        } map[] = {
                {"--request-required-acks", "acks"},
                {"--batch-size", "batch.num.messages"},
                {"--timeout", "linger.ms"},
                {"--request-timeout-ms", "request.timeout.ms"},
                {"--message-send-max-retries", "message.send.max.retries"},
                {"--retry-backoff-ms", "retry.backoff.ms"},
        };
        const char *codec = rill__cli_get(args, "--compression-codec");

        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                const char *v = rill__cli_get(args, map[i].flag);

                if (v)
                        out[(*n)++] = rill__asprintf("%s=%s", map[i].prop, v);
        }
        if (codec) {
                if (!*codec)
                        codec = "gzip";
                if (strcmp(codec, "none") && strcmp(codec, "gzip") && strcmp(codec, "snappy") &&
                    strcmp(codec, "lz4") && strcmp(codec, "zstd")) {
                        rill__cli_usage_err(ctx->prog, "unknown compression codec '%s'", codec);
                        return -1;
                }
                out[(*n)++] = rill__asprintf("compression.codec=%s", codec);
        }
        return 0;
}

int
rill__cli_producer(int argc, char **argv)
{
        static const char *const defaults[] = {"message.timeout.ms=30000",
                                               "partitioner=murmur2_random"};
        cli_ctx_t ctx;
        cli_args_t args;
        producer_reader_t rd;
        producer_state_t st;
        const char *topic;
        const char *files[2];
        char *owned[64], *flagprops[16];
        const char **props = NULL;
        const char *const *pprops;
        int nowned = 0, nflag = 0, nfiles = 0, nprops = 0, npp;
        long long timeout, lineno = 0;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk = NULL;
        char *line = NULL;
        size_t cap = 0;
        bool bad_input = false, read_error = false, prompt;
        int rc = CLI_EXIT_FAIL;

        rill__cli_ctx_init(&ctx, "rill console-producer");
        memset(&st, 0, sizeof(st));
        st.ctx = &ctx;
        switch (rill__cli_parse(ctx.prog,
                                "rill console-producer --bootstrap-server HOST:PORT --topic TOPIC "
                                "[options] < lines",
                                "Reads standard input and sends each line as one record "
                                "(kafka-console-producer.sh). Ends at end of input or Ctrl+C, "
                                "after every record is acknowledged.",
                                producer_opts, argc, argv, &args)) {
        case CLI_PARSE_HELP:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_OK;
        case CLI_PARSE_ERROR:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_FAIL;
        case CLI_PARSE_OK:
                break;
        }
        ctx.bootstrap = rill__cli_get(&args, "--bootstrap-server");
        if (!ctx.bootstrap)
                ctx.bootstrap = rill__cli_get(&args, "--broker-list");
        ctx.verbose = rill__cli_has(&args, "--debug");
        topic = rill__cli_get(&args, "--topic");
        if (!ctx.bootstrap) {
                rill__cli_usage_err(ctx.prog, "missing required option --bootstrap-server");
                goto out;
        }
        if (!topic) {
                rill__cli_usage_err(ctx.prog, "missing required option --topic");
                goto out;
        }
        if (rill__cli_get_int(ctx.prog, &args, "--connect-timeout-ms", CLI_DEFAULT_TIMEOUT_MS, 1,
                              3600 * 1000, &timeout))
                goto out;
        ctx.timeout_ms = (int)timeout;
        if (rill__cli_get_all(&args, "--property", &pprops) +
                    rill__cli_get_all(&args, "--reader-property", &pprops) >
            (int)(sizeof(owned) / sizeof(owned[0]))) {
                rill__cli_usage_err(ctx.prog, "too many --property options");
                goto out;
        }
        if (producer_reader_init(&ctx, &args, &rd, owned, &nowned) != 0)
                goto out;
        if (producer_flag_props(&ctx, &args, flagprops, &nflag) != 0)
                goto out;

        if (rill__cli_get(&args, "--command-config"))
                files[nfiles++] = rill__cli_get(&args, "--command-config");
        if (rill__cli_get(&args, "--producer.config"))
                files[nfiles++] = rill__cli_get(&args, "--producer.config");
        npp = rill__cli_get_all(&args, "--producer-property", &pprops);
        props = rill__calloc((size_t)(nflag + npp) + 1, sizeof(*props));
        for (int i = 0; i < nflag; i++)
                props[nprops++] = flagprops[i];
        for (int i = 0; i < npp; i++)
                props[nprops++] = pprops[i];
        conf = rill__cli_conf_new(&ctx, "rill-console-producer", defaults, 2, files, nfiles,
                                  props, nprops);
        if (!conf)
                goto out;
        rd_kafka_conf_set_dr_msg_cb(conf, producer_dr_cb);
        rk = rill__cli_client_new(&ctx, RD_KAFKA_PRODUCER, conf);
        if (!rk)
                goto out;
        if (producer_check_topic(&ctx, rk, topic) != 0)
                goto out;

        prompt = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
        for (;;) {
                ssize_t n;
                producer_rec_t rec;

                if (prompt) {
                        fputs(">", stderr);
                        fflush(stderr);
                }
                errno = 0;
                n = getline(&line, &cap, stdin);
                if (n < 0) {
                        if (errno && errno != EINTR) {
                                rill__cli_err(ctx.prog, "error reading standard input: %s",
                                              strerror(errno));
                                read_error = true;
                        }
                        break;
                }
                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        n--;
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (producer_parse_line(&ctx, &rd, line, (size_t)n, lineno, &rec) != 0) {
                        if (rec.hdrs)
                                rd_kafka_headers_destroy(rec.hdrs);
                        bad_input = true;
                        break;
                }
                producer_send(&ctx, rk, topic, &rec, &st, lineno);
                if (rec.hdrs)
                        rd_kafka_headers_destroy(rec.hdrs);
                if (rill__cli_has(&args, "--sync"))
                        rd_kafka_flush(rk, (int)RILL__MIN(producer_msg_timeout(rk) + 5000,
                                                          INT32_MAX));
                rd_kafka_poll(rk, 0);
                if (rill__cli_stopping())
                        break;
        }
        if (prompt)
                fputc('\n', stderr);
        {
                int left = producer_flush(rk, producer_msg_timeout(rk) + 5000);

                if (left > 0)
                        rill__cli_err(ctx.prog, "%d record(s) were not acknowledged in time",
                                      left);
                if (st.failed > 0)
                        rill__cli_err(ctx.prog, "%lld of %lld record(s) were not delivered",
                                      st.failed, st.failed + st.delivered);
                rc = (st.failed == 0 && left == 0 && !bad_input && !read_error) ? CLI_EXIT_OK
                                                                              : CLI_EXIT_FAIL;
        }
out:
        if (rk)
                rd_kafka_destroy(rk);
        free(line); /* getline() allocates with malloc. */
        for (int i = 0; i < nowned; i++)
                rill__free(owned[i]);
        for (int i = 0; i < nflag; i++)
                rill__free(flagprops[i]);
        rill__free(props);
        rill__cli_args_free(&args);
        rill__cli_ctx_destroy(&ctx);
        return rc;
}
