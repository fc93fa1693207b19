/*
 * cli_client.c - librdkafka clients for the `rill` tool: configuration,
 * properties files, connection checks with deadlines, admin helpers,
 * signals.
 *
 * Design:
 * - Configuration is layered like Kafka's tools: built-in defaults of the
 *   sub-command, then --command-config (or --producer.config /
 *   --consumer.config) files, then "k=v" options, later ones winning.
 *   Property names are librdkafka's, which accepts most Java client names
 *   (acks, security.protocol, sasl.mechanism, ...). A name librdkafka does
 *   not know is a warning, as in Kafka ("supplied but isn't a known
 *   config"), so a Java client.properties file still works; an invalid value
 *   is an error.
 * - librdkafka's own log lines are swallowed unless --debug: a CLI prints
 *   one clear line, not a stream of reconnect warnings. The error callback
 *   keeps the latest transport error so that a failure can say *why* (for
 *   example "Connection refused").
 * - Every wait has a deadline (ctx->timeout_ms). The connection check asks
 *   for metadata in slices of at most one second and gives up early when
 *   librdkafka reports every bootstrap broker down, so a wrong port fails
 *   in about a second and an unresponsive host after the timeout.
 */
#include "cli.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill_alloc.h"
#include "rill_util.h"

/* The only process-wide variable: set by the SIGINT/SIGTERM handler. A
 * signal handler can reach nothing else. */
static volatile sig_atomic_t cli_stop_flag;

static void
cli_on_signal(int sig)
{
        (void)sig;
        cli_stop_flag = 1;
}

void
rill__cli_install_signals(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = cli_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* No SA_RESTART: a blocking read returns EINTR. */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        /* A closed stdout pipe (rill ... | head) must end the tool with an
         * error from write(), not kill it silently mid-flush. */
        signal(SIGPIPE, SIG_IGN);
}

bool
rill__cli_stopping(void)
{
        return cli_stop_flag != 0;
}

void
rill__cli_ctx_init(cli_ctx_t *ctx, const char *prog)
{
        memset(ctx, 0, sizeof(*ctx));
        ctx->prog = prog;
        ctx->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
        pthread_mutex_init(&ctx->lock, NULL);
}

void
rill__cli_ctx_destroy(cli_ctx_t *ctx)
{
        pthread_mutex_destroy(&ctx->lock);
}

/* librdkafka log callback: runs on librdkafka's threads. */
static void
cli_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        cli_ctx_t *ctx = rd_kafka_opaque(rk);

        if (ctx && ctx->verbose)
                fprintf(stderr, "%s: rdkafka %d %s: %s\n", ctx->prog, level, fac, buf);
}

/* librdkafka error callback: remembers the latest problem for messages. */
static void
cli_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        cli_ctx_t *ctx = opaque;

        (void)rk;
        if (!ctx)
                return;
        if (ctx->verbose)
                fprintf(stderr, "%s: rdkafka error: %s: %s\n", ctx->prog,
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        pthread_mutex_lock(&ctx->lock);
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                ctx->all_brokers_down = true;
        else
                snprintf(ctx->last_error, sizeof(ctx->last_error), "%s", reason);
        pthread_mutex_unlock(&ctx->lock);
}

const char *
rill__cli_last_error(cli_ctx_t *ctx, const char *fallback, char *buf, size_t buf_size)
{
        pthread_mutex_lock(&ctx->lock);
        snprintf(buf, buf_size, "%s", ctx->last_error[0] ? ctx->last_error : fallback);
        pthread_mutex_unlock(&ctx->lock);
        return buf;
}

int
rill__cli_split_kv(const char *kv, char *key, size_t key_size, const char **value)
{
        const char *eq = strchr(kv, '=');
        size_t klen;

        if (!eq)
                return -1;
        klen = (size_t)(eq - kv);
        while (klen > 0 && (kv[klen - 1] == ' ' || kv[klen - 1] == '\t'))
                klen--;
        if (klen == 0 || klen >= key_size)
                return -1;
        memcpy(key, kv, klen);
        key[klen] = '\0';
        *value = eq + 1;
        return 0;
}

int
rill__cli_conf_set(cli_ctx_t *ctx, rd_kafka_conf_t *conf, const char *key, const char *value)
{
        char errstr[512];
        rd_kafka_conf_res_t r;

        r = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));
        if (r == RD_KAFKA_CONF_OK)
                return 0;
        if (r == RD_KAFKA_CONF_UNKNOWN) {
                /* Kafka warns and goes on; Java-only names (key.serializer,
                 * sasl.jaas.config, ...) land here. */
                fprintf(stderr, "%s: warning: ignoring unknown client property '%s'\n",
                        ctx->prog, key);
                return 0;
        }
        rill__cli_err(ctx->prog, "invalid client property %s=%s: %s", key, value, errstr);
        return -1;
}

/* Trims ASCII whitespace at both ends in place; returns the new start. */
static char *
cli_trim(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t' || *s == '\f')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n' ||
                         e[-1] == '\f'))
                *--e = '\0';
        return s;
}

int
rill__cli_conf_load_file(cli_ctx_t *ctx, rd_kafka_conf_t *conf, const char *path)
{
        FILE *f = fopen(path, "r");
        char *line = NULL, *logical = NULL;
        size_t cap = 0, llen = 0;
        ssize_t n;
        int lineno = 0, start_line = 0, rc = 0;

        if (!f) {
                rill__cli_err(ctx->prog, "cannot read properties file '%s': %s", path,
                              strerror(errno));
                return -1;
        }
        while ((n = getline(&line, &cap, f)) >= 0) {
                char *s, *k, *v, *sep;
                bool cont;

                lineno++;
                s = cli_trim(line);
                if (!logical) {
                        if (*s == '#' || *s == '!' || *s == '\0')
                                continue;
                        start_line = lineno;
                }
                /* A line ending in an odd number of backslashes continues. */
                {
                        size_t sl = strlen(s), bs = 0;

                        while (bs < sl && s[sl - 1 - bs] == '\\')
                                bs++;
                        cont = (bs % 2) == 1;
                        if (cont)
                                s[sl - 1] = '\0';
                }
                logical = rill__realloc(logical, llen + strlen(s) + 1);
                memcpy(logical + llen, s, strlen(s) + 1);
                llen += strlen(s);
                if (cont)
                        continue;

                k = logical;
                sep = k + strcspn(k, "=: \t");
                if (*sep == '\0') {
                        v = sep; /* "key" alone: empty value, as in Java. */
                } else {
                        char c = *sep;

                        *sep = '\0';
                        v = sep + 1;
                        if (c == ' ' || c == '\t') {
                                v = cli_trim(v);
                                if (*v == '=' || *v == ':')
                                        v++;
                        }
                        v = cli_trim(v);
                }
                if (*k == '\0') {
                        rill__cli_err(ctx->prog, "%s:%d: missing property name", path,
                                      start_line);
                        rc = -1;
                        break;
                }
                if (rill__cli_conf_set(ctx, conf, k, v) != 0) {
                        fprintf(stderr, "%s: (in %s, line %d)\n", ctx->prog, path, start_line);
                        rc = -1;
                        break;
                }
                rill__free(logical);
                logical = NULL;
                llen = 0;
        }
        if (rc == 0 && ferror(f)) {
                rill__cli_err(ctx->prog, "error reading '%s': %s", path, strerror(errno));
                rc = -1;
        }
        rill__free(logical);
        free(line); /* getline() allocates with malloc. */
        fclose(f);
        return rc;
}

/* Applies "k=v" strings to @p conf. */
static int
cli_conf_apply_kvs(cli_ctx_t *ctx, rd_kafka_conf_t *conf, const char *const *kvs, int n)
{
        for (int i = 0; i < n; i++) {
                char key[256];
                const char *val;

                if (rill__cli_split_kv(kvs[i], key, sizeof(key), &val) != 0) {
                        rill__cli_usage_err(ctx->prog, "expected key=value, got '%s'", kvs[i]);
                        return -1;
                }
                if (rill__cli_conf_set(ctx, conf, key, val) != 0)
                        return -1;
        }
        return 0;
}

rd_kafka_conf_t *
rill__cli_conf_new(cli_ctx_t *ctx, const char *client_id, const char *const *defaults,
                   int ndefaults, const char *const *files, int nfiles,
                   const char *const *props, int nprops)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set_opaque(conf, ctx);
        rd_kafka_conf_set_log_cb(conf, cli_log_cb);
        rd_kafka_conf_set_error_cb(conf, cli_error_cb);
        if (rill__cli_conf_set(ctx, conf, "bootstrap.servers", ctx->bootstrap) ||
            rill__cli_conf_set(ctx, conf, "client.id", client_id))
                goto fail;
        if (cli_conf_apply_kvs(ctx, conf, defaults, ndefaults) != 0)
                goto fail;
        for (int i = 0; i < nfiles; i++)
                if (rill__cli_conf_load_file(ctx, conf, files[i]) != 0)
                        goto fail;
        if (cli_conf_apply_kvs(ctx, conf, props, nprops) != 0)
                goto fail;
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

static int64_t
cli_mono_ms(void)
{
        return rill__mono_ms();
}

rd_kafka_t *
rill__cli_client_new(cli_ctx_t *ctx, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
        char errstr[512], why[512];
        rd_kafka_t *rk;
        int64_t deadline;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        bool down;

        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                rill__cli_err(ctx->prog, "cannot create client: %s", errstr);
                return NULL;
        }
        deadline = cli_mono_ms() + ctx->timeout_ms;
        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                int64_t left = deadline - cli_mono_ms();

                if (left <= 0)
                        break;
                err = rd_kafka_metadata(rk, 0, NULL, &md, (int)RILL__MIN(left, 1000));
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        rd_kafka_metadata_destroy(md);
                        return rk;
                }
                /* Serve the error callback so that last_error and
                 * all_brokers_down are up to date. */
                rd_kafka_poll(rk, 0);
                pthread_mutex_lock(&ctx->lock);
                down = ctx->all_brokers_down;
                pthread_mutex_unlock(&ctx->lock);
                if (down)
                        break;
                if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT)
                        break;
                if (rill__cli_stopping())
                        break;
        }
        pthread_mutex_lock(&ctx->lock);
        down = ctx->all_brokers_down;
        pthread_mutex_unlock(&ctx->lock);
        if (down)
                rill__cli_err(ctx->prog, "cannot connect to %s: %s", ctx->bootstrap,
                              rill__cli_last_error(ctx, "all brokers are down", why,
                                                   sizeof(why)));
        else if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT)
                rill__cli_err(ctx->prog, "no answer from %s within %d ms%s%s", ctx->bootstrap,
                              ctx->timeout_ms,
                              rill__cli_last_error(ctx, "", why, sizeof(why))[0] ? ": " : "",
                              why);
        else
                rill__cli_err(ctx->prog, "cannot connect to %s: %s", ctx->bootstrap,
                              rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return NULL;
}

int
rill__cli_metadata(cli_ctx_t *ctx, rd_kafka_t *rk, bool all_topics,
                   const struct rd_kafka_metadata **mdp)
{
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(rk, all_topics ? 1 : 0, NULL, mdp, ctx->timeout_ms);
        if (err) {
                char why[512];

                rill__cli_err(ctx->prog, "cannot fetch metadata from %s: %s%s%s", ctx->bootstrap,
                              rd_kafka_err2str(err),
                              err == RD_KAFKA_RESP_ERR__TIMED_OUT ? ": " : "",
                              err == RD_KAFKA_RESP_ERR__TIMED_OUT
                                      ? rill__cli_last_error(ctx, "no answer", why, sizeof(why))
                                      : "");
                return -1;
        }
        return 0;
}

rd_kafka_AdminOptions_t *
rill__cli_admin_options(cli_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
        char errstr[256];

        rd_kafka_AdminOptions_set_request_timeout(o, ctx->timeout_ms, errstr, sizeof(errstr));
        if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
            op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
                rd_kafka_AdminOptions_set_operation_timeout(o, ctx->timeout_ms, errstr,
                                                            sizeof(errstr));
        return o;
}

rd_kafka_event_t *
rill__cli_admin_wait(cli_ctx_t *ctx, rd_kafka_queue_t *q)
{
        /* The request timeout bounds the answer; add slack for the
         * operation timeout and local queueing. */
        int64_t deadline = cli_mono_ms() + 2LL * ctx->timeout_ms + 2000;

        while (cli_mono_ms() < deadline) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 200);

                if (ev)
                        return ev;
                if (rill__cli_stopping()) {
                        rill__cli_err(ctx->prog, "interrupted");
                        return NULL;
                }
        }
        rill__cli_err(ctx->prog, "no answer from %s within %d ms", ctx->bootstrap,
                      ctx->timeout_ms);
        return NULL;
}

bool
rill__cli_topic_matches(const char *pattern, const char *name)
{
        regex_t re;
        char *anchored;
        bool ok;

        if (!strcmp(pattern, name))
                return true;
        anchored = rill__asprintf("^(%s)$", pattern);
        if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
                rill__free(anchored);
                return false;
        }
        ok = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        rill__free(anchored);
        return ok;
}
