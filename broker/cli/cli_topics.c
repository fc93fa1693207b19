/*
 * cli_topics.c - `rill topics`, the counterpart of kafka-topics.sh.
 *
 * One action per call: --create, --list, --describe, --alter or --delete,
 * with Kafka's flags and, where a user could read or parse them, Kafka's
 * outputs ("Created topic T.", the tab-separated --describe lines). The
 * work is done with librdkafka's admin API (CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs) plus Metadata, so the command runs
 * against any Kafka-protocol cluster.
 *
 * --topic accepts a regular expression for --list, --describe, --alter and
 * --delete, as Kafka's does; it is matched against the topic names in the
 * cluster metadata (a name matching itself exactly always counts).
 *
 * Design notes:
 * - Topic names are checked locally before anything is sent (Kafka's legal
 *   characters and length), so a typo gets an immediate, precise message.
 * - When --partitions or --replication-factor is omitted, CreateTopics is
 *   sent with -1 (the broker's default; needs CreateTopics v4). If the
 *   broker is older, the broker's num.partitions / default.replication.factor
 *   are read with DescribeConfigs and sent explicitly.
 * - librdkafka 2.0 does not expose topic ids, so --describe prints no
 *   TopicId field (as Kafka before 2.8 did).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rill_alloc.h"

static const cli_opt_def_t topics_opts[] = {
        CLI_OPTS_CONNECTION,
        CLI_OPT_TIMEOUT,
        {"--create", CLI_FLAG, NULL, "Create a new topic."},
        {"--list", CLI_FLAG, NULL, "List all topics (or those matching --topic)."},
        {"--describe", CLI_FLAG, NULL,
         "Describe topics: partition count, replication factor, non-default configs, then "
         "leader, replicas and in-sync replicas of each partition."},
        {"--alter", CLI_FLAG, NULL, "Increase the number of partitions of a topic."},
        {"--delete", CLI_FLAG, NULL, "Delete a topic (or every topic matching --topic)."},
        {"--topic", CLI_VALUE, "TOPIC",
         "The topic to create, alter, describe or delete. A regular expression is accepted "
         "except with --create."},
        {"--partitions", CLI_VALUE, "N",
         "Number of partitions for --create (default: the broker's num.partitions) or the new "
         "count for --alter."},
        {"--replication-factor", CLI_VALUE, "R",
         "Replication factor for --create (default: the broker's default.replication.factor)."},
        {"--replica-assignment", CLI_VALUE, "LIST",
         "Manual replica assignment for --create: brokers of one partition separated by ':', "
         "partitions separated by ',' (e.g. 1:2,2:3)."},
        {"--config", CLI_MULTI, "KEY=VALUE",
         "A topic configuration for --create (repeatable), e.g. cleanup.policy=compact."},
        {"--if-not-exists", CLI_FLAG, NULL, "With --create: succeed if the topic exists."},
        {"--if-exists", CLI_FLAG, NULL,
         "With --alter, --describe or --delete: succeed if no topic matches."},
        {"--exclude-internal", CLI_FLAG, NULL,
         "Leave internal topics (names starting with '__') out of --list and --describe."},
        {"--under-replicated-partitions", CLI_FLAG, NULL,
         "With --describe: only partitions whose ISR is smaller than the replica set."},
        {"--unavailable-partitions", CLI_FLAG, NULL,
         "With --describe: only partitions without a leader."},
        {"--topics-with-overrides", CLI_FLAG, NULL,
         "With --describe: only topics that have per-topic configuration overrides."},
        {NULL, 0, NULL, NULL},
};

/* Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
static bool
topics_name_valid(const char *prog, const char *name)
{
        size_t len = strlen(name);

        if (len == 0) {
                rill__cli_err(prog, "Topic name is illegal, it can't be empty");
                return false;
        }
        if (!strcmp(name, ".") || !strcmp(name, "..")) {
                rill__cli_err(prog, "Topic name cannot be \".\" or \"..\"");
                return false;
        }
        if (len > 249) {
                rill__cli_err(prog, "Topic name is illegal, it can't be longer than 249 "
                              "characters, topic name: %.40s...", name);
                return false;
        }
        for (size_t i = 0; i < len; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
                        rill__cli_err(prog, "Topic name \"%s\" is illegal, it contains a "
                                      "character other than ASCII alphanumerics, '.', '_' "
                                      "and '-'", name);
                        return false;
                }
        }
        return true;
}

static bool
topics_is_internal(const char *name)
{
        return !strncmp(name, "__", 2);
}

static int
topics_cmp_name(const void *a, const void *b)
{
        const struct rd_kafka_metadata_topic *ta = *(const struct rd_kafka_metadata_topic *const *)a;
        const struct rd_kafka_metadata_topic *tb = *(const struct rd_kafka_metadata_topic *const *)b;

        return strcmp(ta->topic, tb->topic);
}

static int
topics_cmp_part(const void *a, const void *b)
{
        const struct rd_kafka_metadata_partition *pa = a, *pb = b;

        return (pa->id > pb->id) - (pa->id < pb->id);
}

/* Selects the topics of @p md matching @p pattern (all when NULL), sorted by
 * name; returns the count, *out is an array of pointers into md (free with
 * rill__free). */
static int
topics_select(const struct rd_kafka_metadata *md, const char *pattern, bool exclude_internal,
              const struct rd_kafka_metadata_topic ***out)
{
        const struct rd_kafka_metadata_topic **sel;
        int n = 0;

        sel = rill__calloc((size_t)md->topic_cnt + 1, sizeof(*sel));
        for (int i = 0; i < md->topic_cnt; i++) {
                const struct rd_kafka_metadata_topic *t = &md->topics[i];

                if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                        continue;
                if (exclude_internal && topics_is_internal(t->topic))
                        continue;
                if (pattern && !rill__cli_topic_matches(pattern, t->topic))
                        continue;
                sel[n++] = t;
        }
        qsort(sel, (size_t)n, sizeof(*sel), topics_cmp_name);
        *out = sel;
        return n;
}

/* Sends DescribeConfigs for @p n resources of @p type named @p names and
 * returns the result event (NULL after printing an error). */
static rd_kafka_event_t *
topics_describe_configs(cli_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                        const char *const *names, int n)
{
        rd_kafka_ConfigResource_t **res = rill__calloc((size_t)n + 1, sizeof(*res));
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;

        for (int i = 0; i < n; i++)
                res[i] = rd_kafka_ConfigResource_new(type, names[i]);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        rd_kafka_DescribeConfigs(rk, res, (size_t)n, opts, q);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_ConfigResource_destroy_array(res, (size_t)n);
        rill__free(res);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        if (ev && rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "DescribeConfigs failed: %s",
                              rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        return ev;
}

/* Reads the broker defaults for partitions and replication factor (used
 * when the broker does not take -1 in CreateTopics). */
static void
topics_broker_defaults(cli_ctx_t *ctx, rd_kafka_t *rk, int *partitions, int *rf)
{
        const struct rd_kafka_metadata *md = NULL;
        const rd_kafka_ConfigResource_t **res;
        rd_kafka_event_t *ev;
        char id[32];
        const char *names[1] = {id};
        size_t nres;

        *partitions = 1; /* Kafka's defaults, if the broker will not say. */
        *rf = 1;
        if (rill__cli_metadata(ctx, rk, false, &md) != 0)
                return;
        snprintf(id, sizeof(id), "%d", md->broker_cnt > 0 ? md->brokers[0].id : 0);
        rd_kafka_metadata_destroy(md);
        ev = topics_describe_configs(ctx, rk, RD_KAFKA_RESOURCE_BROKER, names, 1);
        if (!ev)
                return;
        res = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &nres);
        for (size_t i = 0; i < nres; i++) {
                const rd_kafka_ConfigEntry_t **ents;
                size_t nents;

                ents = rd_kafka_ConfigResource_configs(res[i], &nents);
                for (size_t j = 0; j < nents; j++) {
                        const char *k = rd_kafka_ConfigEntry_name(ents[j]);
                        const char *v = rd_kafka_ConfigEntry_value(ents[j]);

                        if (!v)
                                continue;
                        if (!strcmp(k, "num.partitions") && atoi(v) > 0)
                                *partitions = atoi(v);
                        else if (!strcmp(k, "default.replication.factor") && atoi(v) > 0)
                                *rf = atoi(v);
                }
        }
        rd_kafka_event_destroy(ev);
}

/* Parses Kafka's --replica-assignment "1:2,2:3" into @p nt; returns the
 * partition count or -1 after printing. */
static int
topics_set_assignment(cli_ctx_t *ctx, rd_kafka_NewTopic_t *nt, const char *spec)
{
        char *copy = rill__strdup(spec), *save1 = NULL, *part;
        int pcnt = 0, rf0 = -1;

        for (part = strtok_r(copy, ",", &save1); part; part = strtok_r(NULL, ",", &save1)) {
                int32_t brokers[64];
                int nb = 0;
                char *save2 = NULL, *b, errstr[256];

                for (b = strtok_r(part, ":", &save2); b; b = strtok_r(NULL, ":", &save2)) {
                        char *end;
                        long id = strtol(b, &end, 10);

                        if (end == b || *end != '\0' || id < 0 || id > INT32_MAX || nb >= 64) {
                                rill__cli_usage_err(ctx->prog, "invalid --replica-assignment "
                                                    "'%s'", spec);
                                goto fail;
                        }
                        brokers[nb++] = (int32_t)id;
                }
                if (nb == 0 || (rf0 >= 0 && nb != rf0)) {
                        rill__cli_usage_err(ctx->prog, "invalid --replica-assignment '%s': "
                                            "every partition needs the same number of replicas",
                                            spec);
                        goto fail;
                }
                rf0 = nb;
                if (rd_kafka_NewTopic_set_replica_assignment(nt, pcnt, brokers, (size_t)nb,
                                                             errstr, sizeof(errstr))) {
                        rill__cli_err(ctx->prog, "invalid --replica-assignment: %s", errstr);
                        goto fail;
                }
                pcnt++;
        }
        rill__free(copy);
        if (pcnt == 0) {
                rill__cli_usage_err(ctx->prog, "empty --replica-assignment");
                return -1;
        }
        return pcnt;
fail:
        rill__free(copy);
        return -1;
}

/* Sends one CreateTopics request; returns the topic's error code (and
 * message in @p msg), or RD_KAFKA_RESP_ERR__FAIL after printing when the
 * request itself failed. */
static rd_kafka_resp_err_t
topics_create_once(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *topic,
                   int partitions, int rf, char *msg, size_t msg_size)
{
        rd_kafka_NewTopic_t *nt;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tres;
        const char *const *cfgs;
        const char *assign = rill__cli_get(args, "--replica-assignment");
        char errstr[512];
        int ncfg;
        size_t n;
        rd_kafka_resp_err_t err;

        nt = rd_kafka_NewTopic_new(topic, assign ? -1 : partitions, assign ? -1 : rf, errstr,
                                   sizeof(errstr));
        if (!nt) {
                rill__cli_err(ctx->prog, "%s", errstr);
                return RD_KAFKA_RESP_ERR__FAIL;
        }
        if (assign && topics_set_assignment(ctx, nt, assign) < 0) {
                rd_kafka_NewTopic_destroy(nt);
                return RD_KAFKA_RESP_ERR__FAIL;
        }
        ncfg = rill__cli_get_all(args, "--config", &cfgs);
        for (int i = 0; i < ncfg; i++) {
                char key[256];
                const char *val;

                if (rill__cli_split_kv(cfgs[i], key, sizeof(key), &val) != 0) {
                        rill__cli_usage_err(ctx->prog, "--config expects key=value, got '%s'",
                                            cfgs[i]);
                        rd_kafka_NewTopic_destroy(nt);
                        return RD_KAFKA_RESP_ERR__FAIL;
                }
                rd_kafka_NewTopic_set_config(nt, key, val);
        }
        q = rd_kafka_queue_new(rk);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_AdminOptions_destroy(opts);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_queue_destroy(q);
        if (!ev)
                return RD_KAFKA_RESP_ERR__FAIL;
        err = rd_kafka_event_error(ev);
        if (err) {
                snprintf(msg, msg_size, "%s", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return err;
        }
        tres = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        err = n > 0 ? rd_kafka_topic_result_error(tres[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (err)
                snprintf(msg, msg_size, "%s",
                         n > 0 && rd_kafka_topic_result_error_string(tres[0])
                                 ? rd_kafka_topic_result_error_string(tres[0])
                                 : rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
        return err;
}

static int
topics_create(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *topic,
              int partitions, int rf)
{
        char msg[512] = "";
        rd_kafka_resp_err_t err;

        err = topics_create_once(ctx, rk, args, topic, partitions, rf, msg, sizeof(msg));
        if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
            ((err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
              err == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR) &&
             (partitions < 0 || rf < 0))) {
                /* The broker does not take -1 ("use your default"): ask it
                 * for its defaults and send them explicitly. */
                int dp, drf;

                topics_broker_defaults(ctx, rk, &dp, &drf);
                msg[0] = '\0';
                err = topics_create_once(ctx, rk, args, topic, partitions < 0 ? dp : partitions,
                                         rf < 0 ? drf : rf, msg, sizeof(msg));
        }
        if (err == RD_KAFKA_RESP_ERR__FAIL)
                return CLI_EXIT_FAIL;
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                if (rill__cli_has(args, "--if-not-exists"))
                        return CLI_EXIT_OK;
                rill__cli_err(ctx->prog, "Topic '%s' already exists.", topic);
                return CLI_EXIT_FAIL;
        }
        if (err) {
                rill__cli_err(ctx->prog, "cannot create topic '%s': %s", topic,
                              msg[0] ? msg : rd_kafka_err2str(err));
                return CLI_EXIT_FAIL;
        }
        printf("Created topic %s.\n", topic);
        return CLI_EXIT_OK;
}

static int
topics_list(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args)
{
        const struct rd_kafka_metadata *md;
        const struct rd_kafka_metadata_topic **sel;
        int n;

        if (rill__cli_metadata(ctx, rk, true, &md) != 0)
                return CLI_EXIT_FAIL;
        n = topics_select(md, rill__cli_get(args, "--topic"), rill__cli_has(args, "--exclude-internal"),
                          &sel);
        for (int i = 0; i < n; i++)
                printf("%s\n", sel[i]->topic);
        rill__free(sel);
        rd_kafka_metadata_destroy(md);
        return CLI_EXIT_OK;
}

/* Appends "a,b,c" of @p ids to @p buf. */
static void
topics_join_ids(char *buf, size_t size, const int32_t *ids, int n)
{
        size_t off = 0;

        buf[0] = '\0';
        for (int i = 0; i < n && off < size; i++)
                off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "",
                                        (int)ids[i]);
}

/* Finds the DescribeConfigs resource of topic @p name in @p ev. */
static const rd_kafka_ConfigResource_t *
topics_find_res(rd_kafka_event_t *ev, const char *name)
{
        const rd_kafka_ConfigResource_t **res;
        size_t n;

        if (!ev)
                return NULL;
        res = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                        &n);
        for (size_t i = 0; i < n; i++)
                if (!strcmp(rd_kafka_ConfigResource_name(res[i]), name))
                        return res[i];
        return NULL;
}

/* Formats the non-default configs of @p res ("k=v,k2=v2"); returns the
 * number of per-topic overrides in *overrides. Caller frees the string. */
static char *
topics_format_configs(const rd_kafka_ConfigResource_t *res, int *overrides)
{
        const rd_kafka_ConfigEntry_t **ents;
        size_t nents, len = 0, cap = 64;
        char *out = rill__malloc(cap);

        out[0] = '\0';
        *overrides = 0;
        if (!res || rd_kafka_ConfigResource_error(res))
                return out;
        ents = rd_kafka_ConfigResource_configs(res, &nents);
        for (size_t i = 0; i < nents; i++) {
                const rd_kafka_ConfigEntry_t *e = ents[i];
                const char *v = rd_kafka_ConfigEntry_value(e);
                rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(e);
                size_t need;

                if (rd_kafka_ConfigEntry_is_default(e) == 1 ||
                    src == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
                        continue;
                if (src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
                        (*overrides)++;
                if (rd_kafka_ConfigEntry_is_sensitive(e) == 1 || !v)
                        v = rd_kafka_ConfigEntry_is_sensitive(e) == 1 ? "(sensitive)" : "null";
                need = len + strlen(rd_kafka_ConfigEntry_name(e)) + strlen(v) + 3;
                if (need > cap) {
                        cap = need * 2;
                        out = rill__realloc(out, cap);
                }
                len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", len ? "," : "",
                                        rd_kafka_ConfigEntry_name(e), v);
        }
        return out;
}

static int
topics_describe(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args)
{
        const struct rd_kafka_metadata *md;
        const struct rd_kafka_metadata_topic **sel;
        const char *pattern = rill__cli_get(args, "--topic");
        bool under = rill__cli_has(args, "--under-replicated-partitions");
        bool unavail = rill__cli_has(args, "--unavailable-partitions");
        bool overrides_only = rill__cli_has(args, "--topics-with-overrides");
        rd_kafka_event_t *cfg_ev = NULL;
        const char **names;
        int n;

        if (rill__cli_metadata(ctx, rk, true, &md) != 0)
                return CLI_EXIT_FAIL;
        n = topics_select(md, pattern, rill__cli_has(args, "--exclude-internal"), &sel);
        if (n == 0 && pattern) {
                rill__free(sel);
                rd_kafka_metadata_destroy(md);
                if (rill__cli_has(args, "--if-exists"))
                        return CLI_EXIT_OK;
                rill__cli_err(ctx->prog, "Topic '%s' does not exist as expected", pattern);
                return CLI_EXIT_FAIL;
        }
        if (n > 0 && !under && !unavail) {
                names = rill__calloc((size_t)n, sizeof(*names));
                for (int i = 0; i < n; i++)
                        names[i] = sel[i]->topic;
                cfg_ev = topics_describe_configs(ctx, rk, RD_KAFKA_RESOURCE_TOPIC, names, n);
                rill__free(names);
                if (!cfg_ev)
                        fprintf(stderr, "%s: warning: configs are not shown\n", ctx->prog);
        }
        for (int i = 0; i < n; i++) {
                const struct rd_kafka_metadata_topic *t = sel[i];
                struct rd_kafka_metadata_partition *parts;
                int rf;

                /* Kafka reports the replica count of the first partition. */
                parts = rill__calloc((size_t)t->partition_cnt + 1, sizeof(*parts));
                memcpy(parts, t->partitions, sizeof(*parts) * (size_t)t->partition_cnt);
                qsort(parts, (size_t)t->partition_cnt, sizeof(*parts), topics_cmp_part);
                rf = t->partition_cnt > 0 ? parts[0].replica_cnt : 0;

                if (!under && !unavail) {
                        int overrides;
                        char *cfgs = topics_format_configs(topics_find_res(cfg_ev, t->topic),
                                                           &overrides);

                        if (!overrides_only || overrides > 0)
                                printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\t"
                                       "Configs: %s\n",
                                       t->topic, t->partition_cnt, rf, cfgs);
                        rill__free(cfgs);
                        if (overrides_only) {
                                rill__free(parts);
                                continue;
                        }
                }
                for (int p = 0; p < t->partition_cnt; p++) {
                        const struct rd_kafka_metadata_partition *pt = &parts[p];
                        char leader[16], replicas[512], isr[512];

                        if (under && pt->isr_cnt >= pt->replica_cnt)
                                continue;
                        if (unavail && pt->leader >= 0)
                                continue;
                        if (pt->leader >= 0)
                                snprintf(leader, sizeof(leader), "%d", (int)pt->leader);
                        else
                                snprintf(leader, sizeof(leader), "none");
                        topics_join_ids(replicas, sizeof(replicas), pt->replicas, pt->replica_cnt);
                        topics_join_ids(isr, sizeof(isr), pt->isrs, pt->isr_cnt);
                        printf("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\n",
                               t->topic, (int)pt->id, leader, replicas, isr);
                }
                rill__free(parts);
        }
        if (cfg_ev)
                rd_kafka_event_destroy(cfg_ev);
        rill__free(sel);
        rd_kafka_metadata_destroy(md);
        return CLI_EXIT_OK;
}

static int
topics_delete(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *pattern)
{
        const struct rd_kafka_metadata *md;
        const struct rd_kafka_metadata_topic **sel;
        rd_kafka_DeleteTopic_t **dels;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tres;
        size_t nres;
        int n, rc = CLI_EXIT_OK;

        if (rill__cli_metadata(ctx, rk, true, &md) != 0)
                return CLI_EXIT_FAIL;
        n = topics_select(md, pattern, false, &sel);
        for (int i = 0; i < n; i++) {
                if (topics_is_internal(sel[i]->topic) && strcmp(sel[i]->topic, pattern) != 0) {
                        /* A pattern never deletes internal topics. */
                        memmove(&sel[i], &sel[i + 1], sizeof(*sel) * (size_t)(n - i - 1));
                        n--;
                        i--;
                }
        }
        if (n == 0) {
                rill__free(sel);
                rd_kafka_metadata_destroy(md);
                if (rill__cli_has(args, "--if-exists"))
                        return CLI_EXIT_OK;
                rill__cli_err(ctx->prog, "Topic '%s' does not exist as expected", pattern);
                return CLI_EXIT_FAIL;
        }
        dels = rill__calloc((size_t)n, sizeof(*dels));
        for (int i = 0; i < n; i++)
                dels[i] = rd_kafka_DeleteTopic_new(sel[i]->topic);
        q = rd_kafka_queue_new(rk);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
        rd_kafka_DeleteTopics(rk, dels, (size_t)n, opts, q);
        rd_kafka_DeleteTopic_destroy_array(dels, (size_t)n);
        rill__free(dels);
        rd_kafka_AdminOptions_destroy(opts);
        rill__free(sel);
        rd_kafka_metadata_destroy(md);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_queue_destroy(q);
        if (!ev)
                return CLI_EXIT_FAIL;
        if (rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "cannot delete topics: %s", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return CLI_EXIT_FAIL;
        }
        tres = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &nres);
        for (size_t i = 0; i < nres; i++) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tres[i]);
                const char *es = rd_kafka_topic_result_error_string(tres[i]);

                if (!err)
                        continue;
                rill__cli_err(ctx->prog, "cannot delete topic '%s': %s",
                              rd_kafka_topic_result_name(tres[i]), es ? es : rd_kafka_err2str(err));
                rc = CLI_EXIT_FAIL;
        }
        rd_kafka_event_destroy(ev);
        return rc;
}

static int
topics_alter(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *pattern,
             int partitions)
{
        const struct rd_kafka_metadata *md;
        const struct rd_kafka_metadata_topic **sel;
        rd_kafka_NewPartitions_t **nps;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_topic_result_t **tres;
        size_t nres;
        char errstr[256];
        int n, rc = CLI_EXIT_OK;

        if (rill__cli_metadata(ctx, rk, true, &md) != 0)
                return CLI_EXIT_FAIL;
        n = topics_select(md, pattern, false, &sel);
        if (n == 0) {
                rill__free(sel);
                rd_kafka_metadata_destroy(md);
                if (rill__cli_has(args, "--if-exists"))
                        return CLI_EXIT_OK;
                rill__cli_err(ctx->prog, "Topic '%s' does not exist as expected", pattern);
                return CLI_EXIT_FAIL;
        }
        for (int i = 0; i < n; i++) {
                if (sel[i]->partition_cnt >= partitions) {
                        rill__cli_err(ctx->prog, "The number of partitions for a topic can only "
                                      "be increased. Topic %s currently has %d partitions, %d "
                                      "would not be an increase.",
                                      sel[i]->topic, sel[i]->partition_cnt, partitions);
                        rill__free(sel);
                        rd_kafka_metadata_destroy(md);
                        return CLI_EXIT_FAIL;
                }
        }
        nps = rill__calloc((size_t)n, sizeof(*nps));
        for (int i = 0; i < n; i++)
                nps[i] = rd_kafka_NewPartitions_new(sel[i]->topic, (size_t)partitions, errstr,
                                                    sizeof(errstr));
        rill__free(sel);
        rd_kafka_metadata_destroy(md);
        q = rd_kafka_queue_new(rk);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
        rd_kafka_CreatePartitions(rk, nps, (size_t)n, opts, q);
        rd_kafka_NewPartitions_destroy_array(nps, (size_t)n);
        rill__free(nps);
        rd_kafka_AdminOptions_destroy(opts);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_queue_destroy(q);
        if (!ev)
                return CLI_EXIT_FAIL;
        if (rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "cannot add partitions: %s", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return CLI_EXIT_FAIL;
        }
        tres = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev),
                                                       &nres);
        for (size_t i = 0; i < nres; i++) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tres[i]);
                const char *es = rd_kafka_topic_result_error_string(tres[i]);

                if (!err)
                        continue;
                rill__cli_err(ctx->prog, "cannot add partitions to '%s': %s",
                              rd_kafka_topic_result_name(tres[i]), es ? es : rd_kafka_err2str(err));
                rc = CLI_EXIT_FAIL;
        }
        rd_kafka_event_destroy(ev);
        return rc;
}

int
rill__cli_topics(int argc, char **argv)
{
        static const char *const actions[] = {"--create", "--list", "--describe", "--alter",
                                              "--delete"};
        cli_ctx_t ctx;
        cli_args_t args;
        const char *action = NULL, *topic, *cfgfile;
        long long partitions, rf, timeout;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        int rc = CLI_EXIT_FAIL, nactions = 0;

        rill__cli_ctx_init(&ctx, "rill topics");
        switch (rill__cli_parse(ctx.prog,
                                "rill topics --bootstrap-server HOST:PORT "
                                "(--create|--list|--describe|--alter|--delete) [options]",
                                "Create, list, describe, alter and delete topics "
                                "(kafka-topics.sh).",
                                topics_opts, argc, argv, &args)) {
        case CLI_PARSE_HELP:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_OK;
        case CLI_PARSE_ERROR:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_FAIL;
        case CLI_PARSE_OK:
                break;
        }
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
                if (rill__cli_has(&args, actions[i])) {
                        action = actions[i];
                        nactions++;
                }
        }
        topic = rill__cli_get(&args, "--topic");
        ctx.bootstrap = rill__cli_get(&args, "--bootstrap-server");
        ctx.verbose = rill__cli_has(&args, "--debug");
        if (nactions != 1) {
                rill__cli_usage_err(ctx.prog, "exactly one of --create, --list, --describe, "
                                    "--alter or --delete is required");
                goto out;
        }
        if (!ctx.bootstrap) {
                rill__cli_usage_err(ctx.prog, "missing required option --bootstrap-server");
                goto out;
        }
        if (!topic && (!strcmp(action, "--create") || !strcmp(action, "--alter") ||
                       !strcmp(action, "--delete"))) {
                rill__cli_usage_err(ctx.prog, "missing required option --topic for %s", action);
                goto out;
        }
        if (rill__cli_get_int(ctx.prog, &args, "--partitions", -1, 1, 1000000, &partitions) ||
            rill__cli_get_int(ctx.prog, &args, "--replication-factor", -1, 1, 32767, &rf) ||
            rill__cli_get_int(ctx.prog, &args, "--timeout", CLI_DEFAULT_TIMEOUT_MS, 1,
                              3600 * 1000, &timeout))
                goto out;
        ctx.timeout_ms = (int)timeout;
        if (!strcmp(action, "--alter")) {
                if (rill__cli_has(&args, "--config")) {
                        rill__cli_usage_err(ctx.prog, "--config cannot be used with --alter; "
                                            "use 'rill configs --alter --topic T --add-config "
                                            "k=v'");
                        goto out;
                }
                if (partitions < 0) {
                        rill__cli_usage_err(ctx.prog, "--alter needs --partitions N");
                        goto out;
                }
        } else if (strcmp(action, "--create") != 0 &&
                   (rill__cli_has(&args, "--partitions") ||
                    rill__cli_has(&args, "--replication-factor") ||
                    rill__cli_has(&args, "--config") ||
                    rill__cli_has(&args, "--replica-assignment"))) {
                rill__cli_usage_err(ctx.prog, "--partitions, --replication-factor, "
                                    "--replica-assignment and --config go with --create");
                goto out;
        }
        if (rill__cli_has(&args, "--replica-assignment") &&
            (rill__cli_has(&args, "--partitions") || rill__cli_has(&args, "--replication-factor"))) {
                rill__cli_usage_err(ctx.prog, "--replica-assignment replaces --partitions and "
                                    "--replication-factor");
                goto out;
        }
        if (!strcmp(action, "--create")) {
                if (!topics_name_valid(ctx.prog, topic))
                        goto out;
                if (strchr(topic, '.') || strchr(topic, '_'))
                        fprintf(stderr, "WARNING: Due to limitations in metric names, topics with "
                                "a period ('.') or underscore ('_') could collide. To avoid "
                                "issues it is best to use either, but not both.\n");
        }

        cfgfile = rill__cli_get(&args, "--command-config");
        conf = rill__cli_conf_new(&ctx, "rill-topics", NULL, 0, cfgfile ? &cfgfile : NULL,
                                  cfgfile ? 1 : 0, NULL, 0);
        if (!conf)
                goto out;
        rk = rill__cli_client_new(&ctx, RD_KAFKA_PRODUCER, conf);
        if (!rk)
                goto out;
        if (!strcmp(action, "--create"))
                rc = topics_create(&ctx, rk, &args, topic, (int)partitions, (int)rf);
        else if (!strcmp(action, "--list"))
                rc = topics_list(&ctx, rk, &args);
        else if (!strcmp(action, "--describe"))
                rc = topics_describe(&ctx, rk, &args);
        else if (!strcmp(action, "--delete"))
                rc = topics_delete(&ctx, rk, &args, topic);
        else
                rc = topics_alter(&ctx, rk, &args, topic, (int)partitions);
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
