/*
 * cli_configs.c - `rill configs`, the counterpart of kafka-configs.sh for
 * topic and broker configurations.
 *
 *   rill configs --bootstrap-server H:P --entity-type topics --entity-name T --describe [--all]
 *   rill configs --bootstrap-server H:P --topic T --alter --add-config k=v,k2=[a,b]
 *   rill configs --bootstrap-server H:P --topic T --alter --delete-config k
 *   rill configs --bootstrap-server H:P --entity-type brokers --entity-name 1 --describe
 *
 * --describe prints Kafka's layout: "Dynamic configs for topic T are:" (or
 * "All configs ..." with --all) followed by one indented
 * "name=value sensitive=... synonyms={SOURCE:name=value, ...}" per entry.
 *
 * --alter: librdkafka 2.0 has only the non-incremental AlterConfigs, which
 * replaces the whole set of dynamic configs of a resource. So the command
 * reads the current dynamic configs with DescribeConfigs, applies
 * --add-config and --delete-config to that set, and sends the result. Two
 * concurrent alters of the same topic can therefore lose one another's
 * change (the same holds for Kafka's tool on old brokers); run them one at
 * a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rill_alloc.h"

static const cli_opt_def_t configs_opts[] = {
        CLI_OPTS_CONNECTION,
        CLI_OPT_TIMEOUT,
        {"--describe", CLI_FLAG, NULL, "Show the configs of the entity."},
        {"--alter", CLI_FLAG, NULL, "Change the configs of the entity."},
        {"--entity-type", CLI_VALUE, "TYPE", "topics or brokers."},
        {"--entity-name", CLI_VALUE, "NAME", "Topic name or broker id."},
        {"--entity-default", CLI_FLAG, NULL, "With brokers: the cluster-wide default."},
        {"--topic", CLI_VALUE, "TOPIC", "Shorthand for --entity-type topics --entity-name TOPIC."},
        {"--broker", CLI_VALUE, "ID", "Shorthand for --entity-type brokers --entity-name ID."},
        {"--all", CLI_FLAG, NULL, "With --describe: every config, not only the dynamic ones."},
        {"--add-config", CLI_MULTI, "K=V,...",
         "With --alter: configs to set, comma separated; a list value goes in brackets "
         "(k=[a,b])."},
        {"--delete-config", CLI_MULTI, "K,...", "With --alter: configs to remove, comma separated."},
        {NULL, 0, NULL, NULL},
};

/* A growable list of name=value pairs (owned strings). */
typedef struct cfg_kvs {
        char **k, **v;
        int n, cap;
} cfg_kvs_t;

static void
cfg_set(cfg_kvs_t *l, const char *k, size_t klen, const char *v, size_t vlen)
{
        for (int i = 0; i < l->n; i++) {
                if (strlen(l->k[i]) == klen && !strncmp(l->k[i], k, klen)) {
                        rill__free(l->v[i]);
                        l->v[i] = rill__strndup(v, vlen);
                        return;
                }
        }
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->k = rill__realloc(l->k, sizeof(char *) * (size_t)l->cap);
                l->v = rill__realloc(l->v, sizeof(char *) * (size_t)l->cap);
        }
        l->k[l->n] = rill__strndup(k, klen);
        l->v[l->n] = rill__strndup(v, vlen);
        l->n++;
}

static bool
cfg_del(cfg_kvs_t *l, const char *k)
{
        for (int i = 0; i < l->n; i++) {
                if (!strcmp(l->k[i], k)) {
                        rill__free(l->k[i]);
                        rill__free(l->v[i]);
                        l->k[i] = l->k[l->n - 1];
                        l->v[i] = l->v[l->n - 1];
                        l->n--;
                        return true;
                }
        }
        return false;
}

static void
cfg_free(cfg_kvs_t *l)
{
        for (int i = 0; i < l->n; i++) {
                rill__free(l->k[i]);
                rill__free(l->v[i]);
        }
        rill__free(l->k);
        rill__free(l->v);
}

/* Parses Kafka's --add-config syntax "k1=v1,k2=[a,b],k3=v3" into @p l. */
static int
cfg_parse_add(cli_ctx_t *ctx, const char *spec, cfg_kvs_t *l)
{
        const char *p = spec;

        while (*p) {
                const char *eq = strchr(p, '='), *vs, *ve, *next;

                if (!eq || eq == p) {
                        rill__cli_usage_err(ctx->prog, "--add-config expects k=v[,k=v...], got "
                                            "'%s'", spec);
                        return -1;
                }
                vs = eq + 1;
                if (*vs == '[') {
                        ve = strchr(vs, ']');
                        if (!ve) {
                                rill__cli_usage_err(ctx->prog, "unclosed '[' in --add-config "
                                                    "'%s'", spec);
                                return -1;
                        }
                        next = ve + 1;
                        vs++;
                        if (*next && *next != ',') {
                                rill__cli_usage_err(ctx->prog, "expected ',' after ']' in "
                                                    "--add-config '%s'", spec);
                                return -1;
                        }
                } else {
                        ve = vs + strcspn(vs, ",");
                        next = ve;
                }
                cfg_set(l, p, (size_t)(eq - p), vs, (size_t)(ve - vs));
                p = *next == ',' ? next + 1 : next;
        }
        return 0;
}

/* Sends DescribeConfigs for one resource; returns the event (NULL after
 * printing) and *resp the resource inside it. */
static rd_kafka_event_t *
cfg_describe(cli_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
             const rd_kafka_ConfigResource_t **resp)
{
        rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
        rd_kafka_AdminOptions_t *opts =
                rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_ConfigResource_t **rs;
        size_t n;

        rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        if (!ev)
                return NULL;
        if (rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "cannot describe configs: %s",
                              rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        rs = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &n);
        if (n < 1 || rd_kafka_ConfigResource_error(rs[0])) {
                rd_kafka_resp_err_t err = n ? rd_kafka_ConfigResource_error(rs[0])
                                            : RD_KAFKA_RESP_ERR__FAIL;
                const char *es = n ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;

                if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                        rill__cli_err(ctx->prog, "Topic '%s' does not exist", name);
                else
                        rill__cli_err(ctx->prog, "cannot describe configs of '%s': %s", name,
                                      es && *es ? es : rd_kafka_err2str(err));
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        *resp = rs[0];
        return ev;
}

static bool
cfg_is_dynamic(rd_kafka_ConfigSource_t src)
{
        return src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
               src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG ||
               src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG;
}

static void
cfg_print_entry(const rd_kafka_ConfigEntry_t *e)
{
        const rd_kafka_ConfigEntry_t **syn;
        size_t nsyn;
        bool sensitive = rd_kafka_ConfigEntry_is_sensitive(e) == 1;
        const char *v = rd_kafka_ConfigEntry_value(e);

        printf("  %s=%s sensitive=%s synonyms={", rd_kafka_ConfigEntry_name(e),
               sensitive ? "null" : (v ? v : "null"), sensitive ? "true" : "false");
        syn = rd_kafka_ConfigEntry_synonyms(e, &nsyn);
        for (size_t i = 0; i < nsyn; i++) {
                const char *sv = rd_kafka_ConfigEntry_value(syn[i]);

                printf("%s%s:%s=%s", i ? ", " : "",
                       rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(syn[i])),
                       rd_kafka_ConfigEntry_name(syn[i]), sensitive ? "null" : (sv ? sv : "null"));
        }
        printf("}\n");
}

static int
cfg_do_describe(cli_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                const char *label, bool all)
{
        const rd_kafka_ConfigResource_t *res;
        const rd_kafka_ConfigEntry_t **ents;
        rd_kafka_event_t *ev = cfg_describe(ctx, rk, type, name, &res);
        size_t n;

        if (!ev)
                return CLI_EXIT_FAIL;
        printf("%s configs for %s are:\n", all ? "All" : "Dynamic", label);
        ents = rd_kafka_ConfigResource_configs(res, &n);
        for (size_t i = 0; i < n; i++)
                if (all || cfg_is_dynamic(rd_kafka_ConfigEntry_source(ents[i])))
                        cfg_print_entry(ents[i]);
        rd_kafka_event_destroy(ev);
        return CLI_EXIT_OK;
}

static int
cfg_do_alter(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args,
             rd_kafka_ResourceType_t type, const char *name, const char *label)
{
        const rd_kafka_ConfigResource_t *cur;
        const rd_kafka_ConfigEntry_t **ents;
        const char *const *adds, *const *dels;
        int nadd = rill__cli_get_all(args, "--add-config", &adds);
        int ndel = rill__cli_get_all(args, "--delete-config", &dels);
        rd_kafka_event_t *ev;
        rd_kafka_ConfigResource_t *res;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        const rd_kafka_ConfigResource_t **rs;
        cfg_kvs_t set = {0}, add = {0};
        size_t n;
        int rc = CLI_EXIT_FAIL;

        if (nadd + ndel == 0) {
                rill__cli_usage_err(ctx->prog, "--alter needs --add-config or --delete-config");
                return CLI_EXIT_FAIL;
        }
        for (int i = 0; i < nadd; i++)
                if (cfg_parse_add(ctx, adds[i], &add) != 0)
                        goto out;
        ev = cfg_describe(ctx, rk, type, name, &cur);
        if (!ev)
                goto out;
        ents = rd_kafka_ConfigResource_configs(cur, &n);
        for (size_t i = 0; i < n; i++) {
                const char *v = rd_kafka_ConfigEntry_value(ents[i]);

                if (cfg_is_dynamic(rd_kafka_ConfigEntry_source(ents[i])) && v)
                        cfg_set(&set, rd_kafka_ConfigEntry_name(ents[i]),
                                strlen(rd_kafka_ConfigEntry_name(ents[i])), v, strlen(v));
        }
        rd_kafka_event_destroy(ev);
        for (int i = 0; i < ndel; i++) {
                char *copy = rill__strdup(dels[i]), *save = NULL, *k;
                bool okdel = true;

                for (k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
                        if (!cfg_del(&set, k)) {
                                rill__cli_err(ctx->prog, "Invalid config(s): %s (not set on %s)",
                                              k, label);
                                okdel = false;
                                break;
                        }
                }
                rill__free(copy);
                if (!okdel)
                        goto out;
        }
        for (int i = 0; i < add.n; i++)
                cfg_set(&set, add.k[i], strlen(add.k[i]), add.v[i], strlen(add.v[i]));

        res = rd_kafka_ConfigResource_new(type, name);
        for (int i = 0; i < set.n; i++)
                rd_kafka_ConfigResource_set_config(res, set.k[i], set.v[i]);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
        q = rd_kafka_queue_new(rk);
        rd_kafka_AlterConfigs(rk, &res, 1, opts, q);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        if (!ev)
                goto out;
        if (rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "cannot alter configs: %s", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                goto out;
        }
        rs = rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
        if (n < 1 || rd_kafka_ConfigResource_error(rs[0])) {
                rd_kafka_resp_err_t err = n ? rd_kafka_ConfigResource_error(rs[0])
                                            : RD_KAFKA_RESP_ERR__FAIL;
                const char *es = n ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;

                rill__cli_err(ctx->prog, "cannot alter configs of %s: %s", label,
                              es && *es ? es : rd_kafka_err2str(err));
                rd_kafka_event_destroy(ev);
                goto out;
        }
        rd_kafka_event_destroy(ev);
        printf("Completed updating config for %s.\n", label);
        rc = CLI_EXIT_OK;
out:
        cfg_free(&set);
        cfg_free(&add);
        return rc;
}

int
rill__cli_configs(int argc, char **argv)
{
        cli_ctx_t ctx;
        cli_args_t args;
        const char *etype, *ename, *cfgfile;
        char label[512];
        long long timeout;
        rd_kafka_ResourceType_t type;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        int rc = CLI_EXIT_FAIL;

        rill__cli_ctx_init(&ctx, "rill configs");
        switch (rill__cli_parse(ctx.prog,
                                "rill configs --bootstrap-server HOST:PORT (--topic T | "
                                "--entity-type topics|brokers --entity-name NAME) "
                                "(--describe [--all] | --alter --add-config k=v "
                                "--delete-config k)",
                                "Describe and change topic and broker configurations "
                                "(kafka-configs.sh).",
                                configs_opts, argc, argv, &args)) {
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
        etype = rill__cli_get(&args, "--entity-type");
        ename = rill__cli_get(&args, "--entity-name");
        if (rill__cli_has(&args, "--topic")) {
                etype = "topics";
                ename = rill__cli_get(&args, "--topic");
        } else if (rill__cli_has(&args, "--broker")) {
                etype = "brokers";
                ename = rill__cli_get(&args, "--broker");
        }
        if (rill__cli_has(&args, "--entity-default") && !ename)
                ename = "";
        if (!ctx.bootstrap) {
                rill__cli_usage_err(ctx.prog, "missing required option --bootstrap-server");
                goto out;
        }
        if (rill__cli_has(&args, "--describe") == rill__cli_has(&args, "--alter")) {
                rill__cli_usage_err(ctx.prog, "exactly one of --describe or --alter is required");
                goto out;
        }
        if (!etype || !ename) {
                rill__cli_usage_err(ctx.prog, "name the entity: --topic T, --broker ID, or "
                                    "--entity-type TYPE --entity-name NAME");
                goto out;
        }
        if (!strcmp(etype, "topics") || !strcmp(etype, "topic")) {
                type = RD_KAFKA_RESOURCE_TOPIC;
                snprintf(label, sizeof(label), "topic %s", ename);
        } else if (!strcmp(etype, "brokers") || !strcmp(etype, "broker")) {
                type = RD_KAFKA_RESOURCE_BROKER;
                if (*ename)
                        snprintf(label, sizeof(label), "broker %s", ename);
                else
                        snprintf(label, sizeof(label), "the brokers' default");
        } else {
                rill__cli_usage_err(ctx.prog, "unsupported --entity-type '%s' (topics or "
                                    "brokers)", etype);
                goto out;
        }
        if (rill__cli_get_int(ctx.prog, &args, "--timeout", CLI_DEFAULT_TIMEOUT_MS, 1,
                              3600 * 1000, &timeout))
                goto out;
        ctx.timeout_ms = (int)timeout;
        cfgfile = rill__cli_get(&args, "--command-config");
        conf = rill__cli_conf_new(&ctx, "rill-configs", NULL, 0, cfgfile ? &cfgfile : NULL,
                                  cfgfile ? 1 : 0, NULL, 0);
        if (!conf)
                goto out;
        rk = rill__cli_client_new(&ctx, RD_KAFKA_PRODUCER, conf);
        if (!rk)
                goto out;
        if (rill__cli_has(&args, "--describe"))
                rc = cfg_do_describe(&ctx, rk, type, ename, label, rill__cli_has(&args, "--all"));
        else
                rc = cfg_do_alter(&ctx, rk, &args, type, ename, label);
        rd_kafka_destroy(rk);
out:
        if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
                rill__cli_err(ctx.prog, "cannot write output");
                rc = CLI_EXIT_FAIL;
        }
        rill__cli_args_free(&args);
        rill__cli_ctx_destroy(&ctx);
        return rc;
}
