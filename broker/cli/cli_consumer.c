/*
 * cli_consumer.c - `rill console-consumer`, the counterpart of
 * kafka-console-consumer.sh.
 *
 * Prints the records of --topic (or of every topic matching --include) to
 * standard output, one per line, formatted like Kafka's
 * DefaultMessageFormatter: optional "CreateTime:<ms>", "Partition:<p>",
 * "Offset:<o>", headers and key, each followed by key.separator, then the
 * value and line.separator. The course's
 *
 *     kafka-console-consumer --bootstrap-server localhost:9092 --topic t \
 *         --from-beginning --property print.key=true --property print.timestamp=true
 *
 * works with `rill console-consumer` in place of the script name.
 *
 * Group semantics follow Kafka's:
 * - without --group nothing is committed and every run starts where
 *   --from-beginning says. Kafka's tool joins a throw-away group for this;
 *   rill assigns every partition of --topic directly instead (its client
 *   still carries a throw-away group.id "console-consumer-<n>" with
 *   enable.auto.commit=false), which prints the same records, starts
 *   without a group rebalance and needs no group coordinator. Partitions
 *   added while it runs are not picked up (use --group for that);
 * - with --group G it commits what it printed (auto-commit, plus a final
 *   synchronous commit), so a second run with the same group continues
 *   where the first stopped and `rill groups --describe` shows lag 0;
 * - --partition P [--offset O|earliest|latest] assigns one partition
 *   directly (no group membership; commits only with --group).
 *
 * It stops after --max-messages records, after --timeout-ms without a
 * record, or on Ctrl+C/SIGTERM, and then prints "Processed a total of N
 * messages" on stderr, as Kafka does. Exit status is 0 for those three
 * endings (and when the reader of a pipe goes away, as with `| head`), 1
 * when the cluster cannot be reached, a fatal consumer error occurs, or
 * standard output cannot be written. Closing the consumer
 * (leaving the group, final commit) has its own deadline, so the tool never
 * hangs on a dead cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "rill_alloc.h"
#include "rill_util.h"

#define CONSUMER_MAX_REPORTED_ERRORS 10

static const cli_opt_def_t consumer_opts[] = {
        CLI_OPTS_CONNECTION,
        {"--topic", CLI_VALUE, "TOPIC", "The topic to consume from."},
        {"--include", CLI_VALUE, "REGEX",
         "Consume every topic whose name matches this regular expression (instead of --topic)."},
        {"--whitelist", CLI_VALUE, "REGEX", "Deprecated alias of --include."},
        {"--from-beginning", CLI_FLAG, NULL,
         "Start with the earliest record when there is no committed offset (the default is to "
         "print only records produced from now on)."},
        {"--group", CLI_VALUE, "GROUP",
         "Consumer group id; offsets are committed. Without it a temporary group is used and "
         "nothing is committed."},
        {"--partition", CLI_VALUE, "P", "Consume only this partition (assigned directly)."},
        {"--offset", CLI_VALUE, "OFFSET",
         "With --partition: start at this offset, or 'earliest' or 'latest' (default latest)."},
        {"--max-messages", CLI_VALUE, "N", "Stop after N records."},
        {"--timeout-ms", CLI_VALUE, "MS", "Stop when no record arrives for MS milliseconds."},
        {"--property", CLI_MULTI, "KEY=VALUE",
         "Formatter property (repeatable): print.key, print.value (true), print.timestamp, "
         "print.partition, print.offset, print.headers, key.separator (tab), line.separator "
         "(newline), headers.separator (,), headers.key.separator (:), null.literal (null), "
         "key.deserializer / value.deserializer (Kafka class names: StringDeserializer, "
         "LongDeserializer, IntegerDeserializer, ShortDeserializer, DoubleDeserializer)."},
        {"--formatter-config", CLI_VALUE, "FILE", "Formatter properties file (same keys)."},
        {"--consumer-property", CLI_MULTI, "KEY=VALUE",
         "A consumer configuration property (repeatable)."},
        {"--consumer.config", CLI_VALUE, "FILE", "Consumer properties file."},
        {"--isolation-level", CLI_VALUE, "LEVEL",
         "read_committed or read_uncommitted (default)."},
        {"--skip-message-on-error", CLI_FLAG, NULL, "Accepted for compatibility (no effect)."},
        {"--connect-timeout-ms", CLI_VALUE, "MS",
         "How long to wait for the cluster at start-up (default 10000)."},
        {NULL, 0, NULL, NULL},
};

/* DefaultMessageFormatter settings. Strings are owned (unescaped copies). */
/* How a key or value is turned into text: Kafka's deserializer classes. */
typedef enum consumer_deser {
        DESER_STRING = 0,   /* StringDeserializer / ByteArrayDeserializer: bytes as they are */
        DESER_LONG,         /* LongDeserializer: 8-byte big-endian signed */
        DESER_INTEGER,      /* IntegerDeserializer: 4-byte big-endian signed */
        DESER_SHORT,        /* ShortDeserializer: 2-byte big-endian signed */
        DESER_DOUBLE        /* DoubleDeserializer: 8-byte big-endian IEEE 754 */
} consumer_deser_t;

typedef struct consumer_fmt {
        bool key, value, timestamp, partition, offset, headers;
        char *key_sep, *line_sep, *hdr_sep, *hdr_key_sep, *null_lit;
        consumer_deser_t key_deser, value_deser;
} consumer_fmt_t;

/* Parses a deserializer class name, with or without Kafka's package
 * ("org.apache.kafka.common.serialization.LongDeserializer" or
 * "LongDeserializer"). Returns -1 for an unknown class. */
static int
consumer_deser_parse(const char *v, consumer_deser_t *out)
{
        static const struct {
                const char *name;
                consumer_deser_t d;
        } tab[] = {
                {"StringDeserializer", DESER_STRING}, {"ByteArrayDeserializer", DESER_STRING},
                {"BytesDeserializer", DESER_STRING},  {"LongDeserializer", DESER_LONG},
                {"IntegerDeserializer", DESER_INTEGER}, {"ShortDeserializer", DESER_SHORT},
                {"DoubleDeserializer", DESER_DOUBLE},
        };
        const char *dot = strrchr(v, '.');
        const char *cls = dot ? dot + 1 : v;

        if (dot && strncmp(v, "org.apache.kafka.common.serialization.",
                           strlen("org.apache.kafka.common.serialization.")) != 0)
                return -1;
        for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
                if (!strcmp(cls, tab[i].name)) {
                        *out = tab[i].d;
                        return 0;
                }
        }
        return -1;
}

/* Writes @p len bytes at @p p as text according to @p d. Data of the wrong
 * size for a numeric deserializer is shown as <N bytes: hex>, never as a
 * wrong number. */
static void
consumer_write_deser(FILE *out, consumer_deser_t d, const unsigned char *p, size_t len)
{
        size_t want = d == DESER_LONG || d == DESER_DOUBLE ? 8 : d == DESER_INTEGER ? 4
                      : d == DESER_SHORT ? 2 : 0;
        uint64_t u = 0;

        if (d == DESER_STRING) {
                fwrite(p, 1, len, out);
                return;
        }
        if (len != want) {
                fprintf(out, "<%zu bytes:", len);
                for (size_t i = 0; i < len && i < 32; i++)
                        fprintf(out, " %02x", p[i]);
                fputs(len > 32 ? " ...>" : ">", out);
                return;
        }
        for (size_t i = 0; i < len; i++)
                u = (u << 8) | p[i];
        if (d == DESER_LONG) {
                fprintf(out, "%lld", (long long)(int64_t)u);
        } else if (d == DESER_INTEGER) {
                fprintf(out, "%d", (int)(int32_t)(uint32_t)u);
        } else if (d == DESER_SHORT) {
                fprintf(out, "%d", (int)(int16_t)(uint16_t)u);
        } else {
                double x;
                memcpy(&x, &u, sizeof(x));
                fprintf(out, "%.17g", x);
        }
}

static bool
consumer_bool(const char *v)
{
        return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

/* Unescapes \t \n \r \\ (users type key.separator=\t for a tab). */
static char *
consumer_unescape(const char *s)
{
        char *out = rill__malloc(strlen(s) + 1), *o = out;

        while (*s) {
                if (s[0] == '\\' && s[1]) {
                        char c = s[1] == 't' ? '\t' : s[1] == 'n' ? '\n' : s[1] == 'r' ? '\r'
                                 : s[1] == '\\' ? '\\' : 0;

                        if (c) {
                                *o++ = c;
                                s += 2;
                                continue;
                        }
                }
                *o++ = *s++;
        }
        *o = '\0';
        return out;
}

static void
consumer_set_str(char **slot, const char *v)
{
        rill__free(*slot);
        *slot = consumer_unescape(v);
}

static int
consumer_fmt_prop(cli_ctx_t *ctx, consumer_fmt_t *f, const char *key, const char *v)
{
        if (!strcmp(key, "print.key"))
                f->key = consumer_bool(v);
        else if (!strcmp(key, "print.value"))
                f->value = consumer_bool(v);
        else if (!strcmp(key, "print.timestamp"))
                f->timestamp = consumer_bool(v);
        else if (!strcmp(key, "print.partition"))
                f->partition = consumer_bool(v);
        else if (!strcmp(key, "print.offset"))
                f->offset = consumer_bool(v);
        else if (!strcmp(key, "print.headers"))
                f->headers = consumer_bool(v);
        else if (!strcmp(key, "key.separator"))
                consumer_set_str(&f->key_sep, v);
        else if (!strcmp(key, "line.separator"))
                consumer_set_str(&f->line_sep, v);
        else if (!strcmp(key, "headers.separator"))
                consumer_set_str(&f->hdr_sep, v);
        else if (!strcmp(key, "headers.key.separator"))
                consumer_set_str(&f->hdr_key_sep, v);
        else if (!strcmp(key, "null.literal"))
                consumer_set_str(&f->null_lit, v);
        else if (!strcmp(key, "key.deserializer") || !strcmp(key, "value.deserializer")) {
                if (consumer_deser_parse(v, key[0] == 'k' ? &f->key_deser : &f->value_deser)) {
                        fprintf(stderr, "%s: unknown %s '%s' (use StringDeserializer, "
                                "ByteArrayDeserializer, LongDeserializer, IntegerDeserializer, "
                                "ShortDeserializer or DoubleDeserializer)\n", ctx->prog, key, v);
                        return -1;
                }
        } else
                fprintf(stderr, "%s: warning: ignoring unknown property '%s'\n", ctx->prog, key);
        return 0;
}

/* Reads a formatter properties file ("k=v" lines, '#' comments). */
static int
consumer_fmt_file(cli_ctx_t *ctx, consumer_fmt_t *f, const char *path)
{
        FILE *fp = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        if (!fp) {
                rill__cli_err(ctx->prog, "cannot read '%s': %s", path, strerror(errno));
                return -1;
        }
        while ((n = getline(&line, &cap, fp)) >= 0) {
                char key[128];
                const char *v;
                char *s = line;

                while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                        s[--n] = '\0';
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == '#' || *s == '!' || *s == '\0')
                        continue;
                if (rill__cli_split_kv(s, key, sizeof(key), &v) != 0) {
                        rill__cli_err(ctx->prog, "%s: expected key=value, got '%s'", path, s);
                        free(line);
                        fclose(fp);
                        return -1;
                }
                if (consumer_fmt_prop(ctx, f, key, v) != 0) {
                        free(line);
                        fclose(fp);
                        return -1;
                }
        }
        free(line); /* getline() allocates with malloc. */
        fclose(fp);
        return 0;
}

static int
consumer_fmt_init(cli_ctx_t *ctx, const cli_args_t *args, consumer_fmt_t *f)
{
        const char *const *props;
        const char *file = rill__cli_get(args, "--formatter-config");
        int n;

        memset(f, 0, sizeof(*f));
        f->value = true;
        f->key_sep = rill__strdup("\t");
        f->line_sep = rill__strdup("\n");
        f->hdr_sep = rill__strdup(",");
        f->hdr_key_sep = rill__strdup(":");
        f->null_lit = rill__strdup("null");
        if (file && consumer_fmt_file(ctx, f, file) != 0)
                return -1;
        n = rill__cli_get_all(args, "--property", &props);
        for (int i = 0; i < n; i++) {
                char key[128];
                const char *v;

                if (rill__cli_split_kv(props[i], key, sizeof(key), &v) != 0) {
                        rill__cli_usage_err(ctx->prog, "--property expects key=value, got '%s'",
                                            props[i]);
                        return -1;
                }
                if (consumer_fmt_prop(ctx, f, key, v) != 0)
                        return -1;
        }
        return 0;
}

static void
consumer_fmt_free(consumer_fmt_t *f)
{
        rill__free(f->key_sep);
        rill__free(f->line_sep);
        rill__free(f->hdr_sep);
        rill__free(f->hdr_key_sep);
        rill__free(f->null_lit);
}

/* Writes the field separator after a column: key.separator when more
 * columns follow, line.separator when this was the last one. */
static void
consumer_sep(FILE *out, const consumer_fmt_t *f, bool more)
{
        fputs(more ? f->key_sep : f->line_sep, out);
}

static void
consumer_print(FILE *out, const consumer_fmt_t *f, const rd_kafka_message_t *m)
{
        if (f->timestamp) {
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(m, &tt);

                if (tt == RD_KAFKA_TIMESTAMP_CREATE_TIME)
                        fprintf(out, "CreateTime:%lld", (long long)ts);
                else if (tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
                        fprintf(out, "LogAppendTime:%lld", (long long)ts);
                else
                        fputs("NO_TIMESTAMP", out);
                consumer_sep(out, f, f->partition || f->offset || f->headers || f->key ||
                                             f->value);
        }
        if (f->partition) {
                fprintf(out, "Partition:%d", (int)m->partition);
                consumer_sep(out, f, f->offset || f->headers || f->key || f->value);
        }
        if (f->offset) {
                fprintf(out, "Offset:%lld", (long long)m->offset);
                consumer_sep(out, f, f->headers || f->key || f->value);
        }
        if (f->headers) {
                rd_kafka_headers_t *hdrs = NULL;
                size_t cnt = 0;

                if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
                        cnt = rd_kafka_header_cnt(hdrs);
                if (cnt == 0)
                        fputs("NO_HEADERS", out);
                for (size_t i = 0; i < cnt; i++) {
                        const char *name;
                        const void *val;
                        size_t vlen;

                        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen))
                                break;
                        if (i)
                                fputs(f->hdr_sep, out);
                        fputs(name, out);
                        fputs(f->hdr_key_sep, out);
                        if (val)
                                fwrite(val, 1, vlen, out);
                        else
                                fputs(f->null_lit, out);
                }
                consumer_sep(out, f, f->key || f->value);
        }
        if (f->key) {
                if (m->key)
                        consumer_write_deser(out, f->key_deser, m->key, m->key_len);
                else
                        fputs(f->null_lit, out);
                consumer_sep(out, f, f->value);
        }
        if (f->value) {
                if (m->payload)
                        consumer_write_deser(out, f->value_deser, m->payload, m->len);
                else
                        fputs(f->null_lit, out);
                fputs(f->line_sep, out);
        }
}

/* Parses --offset: a number, "earliest" or "latest". */
static int
consumer_parse_offset(cli_ctx_t *ctx, const char *v, int64_t *out)
{
        char *end;
        long long n;

        if (!strcmp(v, "earliest")) {
                *out = RD_KAFKA_OFFSET_BEGINNING;
                return 0;
        }
        if (!strcmp(v, "latest")) {
                *out = RD_KAFKA_OFFSET_END;
                return 0;
        }
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < 0) {
                rill__cli_usage_err(ctx->prog, "invalid --offset '%s': expected a non-negative "
                                    "number, 'earliest' or 'latest'", v);
                return -1;
        }
        *out = n;
        return 0;
}

/* Waits until @p topic exists (warning once if it does not yet), then
 * fills *tlp with all its partitions at @p offset. Returns 1 when done, 0
 * when stopped (Ctrl+C or @p idle_ms without the topic), -1 after printing
 * an error. */
static int
consumer_wait_topic(cli_ctx_t *ctx, rd_kafka_t *rk, const char *topic, long long idle_ms,
                    int64_t offset, rd_kafka_topic_partition_list_t **tlp)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int64_t start = rill__mono_ms();
        bool warned = false;
        int rc = 0;

        *tlp = NULL;
        while (!rill__cli_stopping()) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, ctx->timeout_ms);

                if (err) {
                        rill__cli_err(ctx->prog, "cannot fetch metadata for topic '%s': %s",
                                      topic, rd_kafka_err2str(err));
                        rc = -1;
                        break;
                }
                if (md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0) {
                        const struct rd_kafka_metadata_topic *t = &md->topics[0];

                        *tlp = rd_kafka_topic_partition_list_new(t->partition_cnt);
                        for (int i = 0; i < t->partition_cnt; i++)
                                rd_kafka_topic_partition_list_add(*tlp, topic,
                                                                  t->partitions[i].id)
                                        ->offset = offset;
                        rd_kafka_metadata_destroy(md);
                        rc = 1;
                        break;
                }
                if (md->topic_cnt == 1 && md->topics[0].err &&
                    md->topics[0].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
                    md->topics[0].err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
                        rill__cli_err(ctx->prog, "topic '%s': %s", topic,
                                      rd_kafka_err2str(md->topics[0].err));
                        rd_kafka_metadata_destroy(md);
                        rc = -1;
                        break;
                }
                rd_kafka_metadata_destroy(md);
                if (!warned)
                        fprintf(stderr, "%s: warning: topic '%s' does not exist (yet); waiting "
                                "for it (Ctrl+C to stop)\n", ctx->prog, topic);
                warned = true;
                if (idle_ms >= 0 && rill__mono_ms() - start >= idle_ms)
                        break;
                /* Pace the metadata polling; Ctrl+C interrupts the wait. */
                for (int i = 0; i < 5 && !rill__cli_stopping(); i++) {
                        struct timespec ts = {0, 100 * 1000 * 1000};

                        nanosleep(&ts, NULL);
                }
        }
        rd_kafka_topic_destroy(rkt);
        return rc;
}

/* True once the consumer has at least one partition assigned. */
static bool
consumer_has_assignment(rd_kafka_t *rk)
{
        rd_kafka_topic_partition_list_t *l = NULL;
        bool yes;

        if (rd_kafka_assignment(rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
                return false;
        yes = l->cnt > 0;
        rd_kafka_topic_partition_list_destroy(l);
        return yes;
}

/* True if the consumer commits (enable.auto.commit, as set by the user or
 * defaulted): then the final commit makes what was printed durable. */
static bool
consumer_auto_commit(rd_kafka_t *rk)
{
        char buf[16];
        size_t sz = sizeof(buf);

        if (rd_kafka_conf_get(rd_kafka_conf(rk), "enable.auto.commit", buf, &sz) !=
            RD_KAFKA_CONF_OK)
                return true;
        return !strcmp(buf, "true");
}

/* Closes the consumer (leave group, final commit) with a deadline, then
 * destroys it. */
static void
consumer_close(cli_ctx_t *ctx, rd_kafka_t *rk)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
        int64_t deadline = rill__mono_ms() + ctx->timeout_ms;
        bool closed = false;

        if (error) {
                rd_kafka_error_destroy(error);
        } else {
                while (rill__mono_ms() < deadline) {
                        rd_kafka_event_t *ev;

                        if (rd_kafka_consumer_closed(rk)) {
                                closed = true;
                                break;
                        }
                        ev = rd_kafka_queue_poll(q, 100);
                        if (!ev)
                                continue;
                        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                                /* Default handling of the revoke during close. */
                                rd_kafka_assign(rk, NULL);
                        }
                        rd_kafka_event_destroy(ev);
                }
        }
        rd_kafka_queue_destroy(q);
        if (!closed)
                rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        else
                rd_kafka_destroy(rk);
}

int
rill__cli_consumer(int argc, char **argv)
{
        cli_ctx_t ctx;
        cli_args_t args;
        consumer_fmt_t fmt;
        const char *topic, *include, *group;
        const char *files[2];
        const char *const *cprops;
        char groupbuf[64], *defaults[8];
        int ndefaults = 0, nfiles = 0, ncprops;
        long long timeout, max_messages, idle_ms, partition;
        int64_t start_offset = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk = NULL;
        long long count = 0, nerrors = 0;
        int64_t last_activity;
        bool warned_unknown = false, failed = false, assigned = false, warned_assign = false;
        int64_t start_ms = rill__mono_ms();
        int rc = CLI_EXIT_FAIL;

        rill__cli_ctx_init(&ctx, "rill console-consumer");
        memset(&fmt, 0, sizeof(fmt));
        switch (rill__cli_parse(ctx.prog,
                                "rill console-consumer --bootstrap-server HOST:PORT --topic TOPIC "
                                "[options]",
                                "Prints the records of a topic on standard output, one per line "
                                "(kafka-console-consumer.sh). Stops after --max-messages, after "
                                "--timeout-ms without records, or on Ctrl+C.",
                                consumer_opts, argc, argv, &args)) {
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
        ctx.verbose = rill__cli_has(&args, "--debug");
        topic = rill__cli_get(&args, "--topic");
        include = rill__cli_get(&args, "--include");
        if (!include)
                include = rill__cli_get(&args, "--whitelist");
        group = rill__cli_get(&args, "--group");
        if (!ctx.bootstrap) {
                rill__cli_usage_err(ctx.prog, "missing required option --bootstrap-server");
                goto out;
        }
        if (!topic == !include) {
                rill__cli_usage_err(ctx.prog, "exactly one of --topic or --include is required");
                goto out;
        }
        if (rill__cli_get_int(ctx.prog, &args, "--connect-timeout-ms", CLI_DEFAULT_TIMEOUT_MS, 1,
                              3600 * 1000, &timeout) ||
            rill__cli_get_int(ctx.prog, &args, "--max-messages", -1, 1, INT64_MAX,
                              &max_messages) ||
            rill__cli_get_int(ctx.prog, &args, "--timeout-ms", -1, 0, INT32_MAX, &idle_ms) ||
            rill__cli_get_int(ctx.prog, &args, "--partition", -1, 0, INT32_MAX, &partition))
                goto out;
        ctx.timeout_ms = (int)timeout;
        if (rill__cli_has(&args, "--partition") && !topic) {
                rill__cli_usage_err(ctx.prog, "The topic is required when partition is "
                                    "specified.");
                goto out;
        }
        if (rill__cli_has(&args, "--offset")) {
                if (!rill__cli_has(&args, "--partition")) {
                        rill__cli_usage_err(ctx.prog, "The partition is required when offset is "
                                            "specified.");
                        goto out;
                }
                if (rill__cli_has(&args, "--from-beginning")) {
                        rill__cli_usage_err(ctx.prog, "Options from-beginning and offset cannot "
                                            "be specified together.");
                        goto out;
                }
                if (consumer_parse_offset(&ctx, rill__cli_get(&args, "--offset"),
                                          &start_offset) != 0)
                        goto out;
        }
        if (rill__cli_has(&args, "--isolation-level")) {
                const char *lvl = rill__cli_get(&args, "--isolation-level");

                if (strcmp(lvl, "read_committed") && strcmp(lvl, "read_uncommitted")) {
                        rill__cli_usage_err(ctx.prog, "--isolation-level must be read_committed "
                                            "or read_uncommitted");
                        goto out;
                }
                defaults[ndefaults++] = rill__asprintf("isolation.level=%s", lvl);
        }
        if (consumer_fmt_init(&ctx, &args, &fmt) != 0)
                goto out;

        if (!group) {
                /* Kafka's tool: a random throw-away group, no commits. */
                snprintf(groupbuf, sizeof(groupbuf), "console-consumer-%d",
                         (int)((rill__now_ms() ^ ((int64_t)getpid() << 8)) % 100000));
                defaults[ndefaults++] = rill__asprintf("group.id=%s", groupbuf);
                defaults[ndefaults++] = rill__strdup("enable.auto.commit=false");
        } else {
                defaults[ndefaults++] = rill__asprintf("group.id=%s", group);
        }
        defaults[ndefaults++] = rill__asprintf("auto.offset.reset=%s",
                                               rill__cli_has(&args, "--from-beginning")
                                                       ? "earliest"
                                                       : "latest");
        if (rill__cli_get(&args, "--command-config"))
                files[nfiles++] = rill__cli_get(&args, "--command-config");
        if (rill__cli_get(&args, "--consumer.config"))
                files[nfiles++] = rill__cli_get(&args, "--consumer.config");
        ncprops = rill__cli_get_all(&args, "--consumer-property", &cprops);
        conf = rill__cli_conf_new(&ctx, "rill-console-consumer", (const char *const *)defaults,
                                  ndefaults, files, nfiles, cprops, ncprops);
        if (!conf)
                goto out;
        rk = rill__cli_client_new(&ctx, RD_KAFKA_CONSUMER, conf);
        if (!rk)
                goto out;
        rd_kafka_poll_set_consumer(rk);

        {
                rd_kafka_topic_partition_list_t *tl = NULL;
                rd_kafka_resp_err_t err;
                const char *what = "assign";

                if (rill__cli_has(&args, "--partition")) {
                        rd_kafka_topic_partition_t *tp;

                        tl = rd_kafka_topic_partition_list_new(1);
                        tp = rd_kafka_topic_partition_list_add(tl, topic, (int32_t)partition);
                        if (start_offset != RD_KAFKA_OFFSET_INVALID)
                                tp->offset = start_offset;
                        else if (rill__cli_has(&args, "--from-beginning"))
                                tp->offset = RD_KAFKA_OFFSET_BEGINNING;
                        else if (group)
                                tp->offset = RD_KAFKA_OFFSET_STORED;
                        else
                                tp->offset = RD_KAFKA_OFFSET_END;
                        err = rd_kafka_assign(rk, tl);
                } else if (!group && topic) {
                        /* No group: read every partition directly. */
                        int w = consumer_wait_topic(&ctx, rk, topic, idle_ms,
                                                    rill__cli_has(&args, "--from-beginning")
                                                            ? RD_KAFKA_OFFSET_BEGINNING
                                                            : RD_KAFKA_OFFSET_END,
                                                    &tl);

                        if (w < 0) {
                                failed = true;
                                goto close;
                        }
                        if (w == 0) /* Stopped or timed out while waiting. */
                                goto close;
                        err = rd_kafka_assign(rk, tl);
                } else {
                        char *pattern = include ? rill__asprintf("^%s", include) : NULL;

                        tl = rd_kafka_topic_partition_list_new(1);
                        rd_kafka_topic_partition_list_add(tl, pattern ? pattern : topic,
                                                          RD_KAFKA_PARTITION_UA);
                        err = rd_kafka_subscribe(rk, tl);
                        rill__free(pattern);
                        what = "subscribe";
                }
                if (tl)
                        rd_kafka_topic_partition_list_destroy(tl);
                if (err) {
                        rill__cli_err(ctx.prog, "cannot %s: %s", what, rd_kafka_err2str(err));
                        failed = true;
                        goto close;
                }
        }

        last_activity = rill__mono_ms();
        while (!rill__cli_stopping() && (max_messages < 0 || count < max_messages)) {
                rd_kafka_message_t *m;
                int wait = 100;

                if (idle_ms >= 0) {
                        int64_t left = last_activity + idle_ms - rill__mono_ms();

                        if (left <= 0)
                                break;
                        wait = (int)RILL__MIN(left, 100);
                }
                m = rd_kafka_consumer_poll(rk, wait);
                if (!assigned && !warned_assign && rill__mono_ms() - start_ms > 15000) {
                        fprintf(stderr, "%s: warning: no partitions assigned after 15 s; is the "
                                "group coordinator available? (still waiting, Ctrl+C to "
                                "stop)\n", ctx.prog);
                        warned_assign = true;
                }
                if (!assigned && consumer_has_assignment(rk)) {
                        /* The idle clock starts again once partitions are
                         * assigned: joining a group is not idleness. */
                        assigned = true;
                        last_activity = rill__mono_ms();
                }
                if (!m) {
                        fflush(stdout);
                        continue;
                }
                if (m->err) {
                        rd_kafka_resp_err_t err = m->err;

                        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                            err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                            err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
                                if (!warned_unknown)
                                        fprintf(stderr, "%s: warning: %s; waiting for it "
                                                "(Ctrl+C to stop)\n", ctx.prog,
                                                rd_kafka_message_errstr(m));
                                warned_unknown = true;
                        } else if (rd_kafka_fatal_error(rk, NULL, 0)) {
                                rill__cli_err(ctx.prog, "fatal consumer error: %s",
                                              rd_kafka_message_errstr(m));
                                failed = true;
                                rd_kafka_message_destroy(m);
                                break;
                        } else if (nerrors++ < CONSUMER_MAX_REPORTED_ERRORS) {
                                fprintf(stderr, "%s: warning: %s\n", ctx.prog,
                                        rd_kafka_message_errstr(m));
                        }
                        rd_kafka_message_destroy(m);
                        continue;
                }
                consumer_print(stdout, &fmt, m);
                rd_kafka_message_destroy(m);
                count++;
                last_activity = rill__mono_ms();
                if (ferror(stdout))
                        break;
        }
        /* A reader that went away (rill ... | head) is a normal end; any
         * other write error is a failure. */
        if ((ferror(stdout) || fflush(stdout) != 0) && errno != EPIPE) {
                rill__cli_err(ctx.prog, "cannot write output: %s", strerror(errno));
                failed = true;
        }
        if (group && count > 0 && consumer_auto_commit(rk)) {
                rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);

                if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                        rill__cli_err(ctx.prog, "cannot commit offsets of group '%s': %s", group,
                                      rd_kafka_err2str(err));
                        failed = true;
                }
        }
close:
        fprintf(stderr, "Processed a total of %lld messages\n", count);
        consumer_close(&ctx, rk);
        rk = NULL;
        /* Max messages, idle timeout and Ctrl+C are normal endings. */
        rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
        if (rk)
                rd_kafka_destroy(rk);
        for (int i = 0; i < ndefaults; i++)
                rill__free(defaults[i]);
        consumer_fmt_free(&fmt);
        rill__cli_args_free(&args);
        rill__cli_ctx_destroy(&ctx);
        return rc;
}
