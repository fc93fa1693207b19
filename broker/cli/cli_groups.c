/*
 * cli_groups.c - `rill groups`, the counterpart of kafka-consumer-groups.sh.
 *
 * Actions:
 *   --list [--state]                      group names (and states)
 *   --describe --group G | --all-groups   offsets and lag per partition (the
 *        default), or --members [--verbose], or --state
 *   --delete --group G                    DeleteGroups
 *   --reset-offsets --group G (--topic T | --all-topics) --to-earliest |
 *        --to-latest | --to-offset N | --shift-by N | --to-current,
 *        with --dry-run (the default) or --execute
 *
 * How --describe finds its numbers, using only what every Kafka-protocol
 * broker has (librdkafka 2.0's legacy group calls and plain consumer calls):
 * - members and their assignments come from rd_kafka_list_groups()
 *   (ListGroups + DescribeGroups); for "consumer" groups the assignment
 *   bytes are decoded (consumer protocol: version, [topic [partition]],
 *   user data) with strict bounds checks, since they come off the wire;
 * - committed offsets come from rd_kafka_committed() on a consumer that has
 *   the group's group.id but never subscribes (so it never joins or
 *   disturbs the group), asked for every partition of every non-internal
 *   topic plus the assigned ones; partitions with neither a commit nor an
 *   owner are left out, as in Kafka's output;
 * - the log-end offset of each row comes from
 *   rd_kafka_query_watermark_offsets(), and LAG = LOG-END-OFFSET minus
 *   CURRENT-OFFSET ("-" when nothing is committed).
 * The table has Kafka's columns and column order so that habits (and
 * scripts using awk on it) carry over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rill_alloc.h"
#include "rill_util.h"

static const cli_opt_def_t groups_opts[] = {
        CLI_OPTS_CONNECTION,
        CLI_OPT_TIMEOUT,
        {"--list", CLI_FLAG, NULL, "List all consumer groups."},
        {"--describe", CLI_FLAG, NULL,
         "Describe groups: per partition the committed offset, log-end offset, lag and owner."},
        {"--delete", CLI_FLAG, NULL, "Delete groups (they must have no active members)."},
        {"--reset-offsets", CLI_FLAG, NULL,
         "Change the committed offsets of an inactive group (shows the plan unless --execute)."},
        {"--group", CLI_MULTI, "GROUP", "The consumer group (repeatable)."},
        {"--all-groups", CLI_FLAG, NULL, "Apply --describe or --delete to every group."},
        {"--members", CLI_FLAG, NULL, "With --describe: list the members instead of offsets."},
        {"--offsets", CLI_FLAG, NULL, "With --describe: offsets and lag (the default)."},
        {"--state", CLI_FLAG, NULL,
         "With --describe: coordinator, assignor, state and member count; with --list: add the "
         "state column."},
        {"--verbose", CLI_FLAG, NULL, "With --describe --members: show each member's partitions."},
        {"--topic", CLI_MULTI, "TOPIC[:P,...]",
         "With --reset-offsets: the topic (optionally only some partitions), repeatable."},
        {"--all-topics", CLI_FLAG, NULL,
         "With --reset-offsets: every topic the group has offsets for."},
        {"--to-earliest", CLI_FLAG, NULL, "Reset to the earliest offset."},
        {"--to-latest", CLI_FLAG, NULL, "Reset to the log-end offset."},
        {"--to-current", CLI_FLAG, NULL, "Reset to the current committed offset."},
        {"--to-offset", CLI_VALUE, "N", "Reset to offset N (clamped to the log's range)."},
        {"--shift-by", CLI_VALUE, "N", "Move the committed offset by N (may be negative)."},
        {"--dry-run", CLI_FLAG, NULL, "Only show the new offsets (the default)."},
        {"--execute", CLI_FLAG, NULL, "Commit the new offsets."},
        {NULL, 0, NULL, NULL},
};

/* ---- consumer protocol decoding ------------------------------------------ */

typedef struct grp_reader {
        const unsigned char *p;
        size_t left;
        bool bad;
} grp_reader_t;

static int32_t
grp_i32(grp_reader_t *r)
{
        int32_t v;

        if (r->bad || r->left < 4) {
                r->bad = true;
                return 0;
        }
        v = (int32_t)(((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
                      ((uint32_t)r->p[2] << 8) | (uint32_t)r->p[3]);
        r->p += 4;
        r->left -= 4;
        return v;
}

static int16_t
grp_i16(grp_reader_t *r)
{
        int16_t v;

        if (r->bad || r->left < 2) {
                r->bad = true;
                return 0;
        }
        v = (int16_t)(((uint16_t)r->p[0] << 8) | (uint16_t)r->p[1]);
        r->p += 2;
        r->left -= 2;
        return v;
}

/* A member's assigned partition. */
typedef struct grp_tp {
        char *topic;
        int32_t partition;
        int member; /* Index into the group's members; -1 for none. */
} grp_tp_t;

typedef struct grp_tps {
        grp_tp_t *v;
        int n, cap;
} grp_tps_t;

static void
grp_tps_add(grp_tps_t *l, const char *topic, size_t tlen, int32_t partition, int member)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 16;
                l->v = rill__realloc(l->v, sizeof(*l->v) * (size_t)l->cap);
        }
        l->v[l->n].topic = rill__strndup(topic, tlen);
        l->v[l->n].partition = partition;
        l->v[l->n].member = member;
        l->n++;
}

static void
grp_tps_free(grp_tps_t *l)
{
        for (int i = 0; i < l->n; i++)
                rill__free(l->v[i].topic);
        rill__free(l->v);
        memset(l, 0, sizeof(*l));
}

/* Decodes a consumer-protocol assignment into @p out (tagged with
 * @p member). Returns the number of partitions, or -1 if the bytes are
 * malformed (then nothing is added). */
static int
grp_decode_assignment(const void *buf, int size, int member, grp_tps_t *out)
{
        grp_reader_t r = {buf, size > 0 ? (size_t)size : 0, false};
        grp_tps_t tmp = {0};
        int32_t ntopics;
        int total = 0;

        if (!buf || size <= 0)
                return 0;
        (void)grp_i16(&r); /* Version: all versions start alike. */
        ntopics = grp_i32(&r);
        if (r.bad || ntopics < 0 || (size_t)ntopics > r.left / 6)
                return -1;
        for (int32_t t = 0; t < ntopics; t++) {
                int16_t tlen = grp_i16(&r);
                const char *tname;
                int32_t nparts;

                if (r.bad || tlen < 0 || (size_t)tlen > r.left)
                        goto bad;
                tname = (const char *)r.p;
                r.p += tlen;
                r.left -= (size_t)tlen;
                nparts = grp_i32(&r);
                if (r.bad || nparts < 0 || (size_t)nparts > r.left / 4)
                        goto bad;
                for (int32_t i = 0; i < nparts; i++) {
                        int32_t p = grp_i32(&r);

                        grp_tps_add(&tmp, tname, (size_t)tlen, p, member);
                        total++;
                }
        }
        for (int i = 0; i < tmp.n; i++)
                grp_tps_add(out, tmp.v[i].topic, strlen(tmp.v[i].topic), tmp.v[i].partition,
                            member);
        grp_tps_free(&tmp);
        return total;
bad:
        grp_tps_free(&tmp);
        return -1;
}

/* ---- helpers --------------------------------------------------------------- */

/* Finds group @p name in a list_groups() answer. */
static const struct rd_kafka_group_info *
grp_find(const struct rd_kafka_group_list *gl, const char *name)
{
        for (int i = 0; gl && i < gl->group_cnt; i++)
                if (!strcmp(gl->groups[i].group, name))
                        return &gl->groups[i];
        return NULL;
}

/* Describes one group (or all with @p name NULL) with list_groups(),
 * printing on failure. */
static int
grp_list_groups(cli_ctx_t *ctx, rd_kafka_t *rk, const char *name,
                const struct rd_kafka_group_list **glp)
{
        rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, name, glp, ctx->timeout_ms);

        if (err == RD_KAFKA_RESP_ERR__PARTIAL) {
                fprintf(stderr, "%s: warning: not every broker answered; the list may be "
                        "incomplete\n", ctx->prog);
                return 0;
        }
        if (err) {
                rill__cli_err(ctx->prog, "cannot list groups: %s", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

static bool
grp_exists(const struct rd_kafka_group_info *gi)
{
        return gi && gi->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
               !(gi->state && !strcmp(gi->state, "Dead"));
}

static const char *
grp_str(const char *s)
{
        return s && *s ? s : "-";
}

static int
grp_cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- --list ------------------------------------------------------------------- */

static int
grp_list(cli_ctx_t *ctx, rd_kafka_t *rk, bool with_state)
{
        const struct rd_kafka_group_list *gl = NULL;
        const char **names;
        int n = 0, w = 15;

        if (grp_list_groups(ctx, rk, NULL, &gl) != 0)
                return CLI_EXIT_FAIL;
        names = rill__calloc((size_t)gl->group_cnt + 1, sizeof(*names));
        for (int i = 0; i < gl->group_cnt; i++) {
                names[n++] = gl->groups[i].group;
                if ((int)strlen(gl->groups[i].group) > w)
                        w = (int)strlen(gl->groups[i].group);
        }
        qsort(names, (size_t)n, sizeof(*names), grp_cmp_str);
        if (with_state)
                printf("%-*s %s\n", w, "GROUP", "STATE");
        for (int i = 0; i < n; i++) {
                if (with_state)
                        printf("%-*s %s\n", w, names[i], grp_str(grp_find(gl, names[i])->state));
                else
                        printf("%s\n", names[i]);
        }
        rill__free(names);
        rd_kafka_group_list_destroy(gl);
        return CLI_EXIT_OK;
}

/* ---- offsets: committed and log end ---------------------------------------- */

/* A consumer with group.id @p group that never subscribes: reads (and,
 * for --reset-offsets, commits) the group's offsets. */
static rd_kafka_t *
grp_offsets_client(cli_ctx_t *ctx, const char *group, const char *cfgfile)
{
        char *defaults[2];
        rd_kafka_conf_t *conf;

        defaults[0] = rill__asprintf("group.id=%s", group);
        defaults[1] = rill__strdup("enable.auto.commit=false");
        conf = rill__cli_conf_new(ctx, "rill-groups", (const char *const *)defaults, 2,
                                  cfgfile ? &cfgfile : NULL, cfgfile ? 1 : 0, NULL, 0);
        rill__free(defaults[0]);
        rill__free(defaults[1]);
        if (!conf)
                return NULL;
        return rill__cli_client_new(ctx, RD_KAFKA_CONSUMER, conf);
}

/* One output row of the offsets table. */
typedef struct grp_row {
        const char *topic;
        int32_t partition;
        int64_t committed; /* < 0: none. */
        int64_t lo, leo;   /* < 0: unknown. */
        int member;
} grp_row_t;

static int
grp_cmp_row(const void *a, const void *b)
{
        const grp_row_t *ra = a, *rb = b;
        int c = strcmp(ra->topic, rb->topic);

        if (c)
                return c;
        return (ra->partition > rb->partition) - (ra->partition < rb->partition);
}

/* Collects rows for @p group: assigned partitions (from @p assigned) plus
 * partitions with a committed offset among every non-internal topic (or
 * only the partitions in @p only, when non-NULL). Returns the row count and
 * *rowsp (free with rill__free; topics point into *listp, which the caller
 * destroys), or -1 after printing. */
static int
grp_collect(cli_ctx_t *ctx, rd_kafka_t *c, const grp_tps_t *assigned,
            rd_kafka_topic_partition_list_t *only, bool keep_all,
            rd_kafka_topic_partition_list_t **listp, grp_row_t **rowsp)
{
        rd_kafka_topic_partition_list_t *l;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        grp_row_t *rows;
        int n = 0;

        if (only) {
                l = rd_kafka_topic_partition_list_copy(only);
        } else {
                l = rd_kafka_topic_partition_list_new(16);
                if (rill__cli_metadata(ctx, c, true, &md) != 0) {
                        rd_kafka_topic_partition_list_destroy(l);
                        return -1;
                }
                for (int i = 0; i < md->topic_cnt; i++) {
                        const struct rd_kafka_metadata_topic *t = &md->topics[i];

                        if (t->err || !strncmp(t->topic, "__", 2))
                                continue;
                        for (int p = 0; p < t->partition_cnt; p++)
                                rd_kafka_topic_partition_list_add(l, t->topic,
                                                                  t->partitions[p].id);
                }
                rd_kafka_metadata_destroy(md);
        }
        for (int i = 0; assigned && i < assigned->n; i++)
                if (!rd_kafka_topic_partition_list_find(l, assigned->v[i].topic,
                                                        assigned->v[i].partition))
                        rd_kafka_topic_partition_list_add(l, assigned->v[i].topic,
                                                          assigned->v[i].partition);
        if (l->cnt > 0) {
                err = rd_kafka_committed(c, l, ctx->timeout_ms);
                if (err) {
                        rill__cli_err(ctx->prog, "cannot fetch committed offsets: %s",
                                      rd_kafka_err2str(err));
                        rd_kafka_topic_partition_list_destroy(l);
                        return -1;
                }
        }
        rows = rill__calloc((size_t)l->cnt + 1, sizeof(*rows));
        for (int i = 0; i < l->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &l->elems[i];
                int member = -1;
                bool has_commit = tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0;

                for (int j = 0; assigned && j < assigned->n; j++)
                        if (assigned->v[j].partition == tp->partition &&
                            !strcmp(assigned->v[j].topic, tp->topic))
                                member = assigned->v[j].member;
                if (!has_commit && member < 0 && !keep_all)
                        continue;
                rows[n].topic = tp->topic;
                rows[n].partition = tp->partition;
                rows[n].committed = has_commit ? tp->offset : -1;
                rows[n].lo = rows[n].leo = -1;
                rows[n].member = member;
                if (rd_kafka_query_watermark_offsets(c, tp->topic, tp->partition, &rows[n].lo,
                                                     &rows[n].leo, ctx->timeout_ms) != 0)
                        rows[n].lo = rows[n].leo = -1;
                n++;
        }
        qsort(rows, (size_t)n, sizeof(*rows), grp_cmp_row);
        *listp = l;
        *rowsp = rows;
        return n;
}

static void
grp_fmt_i64(char *buf, size_t size, int64_t v)
{
        if (v < 0)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%lld", (long long)v);
}

/* ---- --describe ------------------------------------------------------------- */

static int
grp_describe_offsets(cli_ctx_t *ctx, const struct rd_kafka_group_info *gi, const char *cfgfile)
{
        grp_tps_t assigned = {0};
        rd_kafka_topic_partition_list_t *l = NULL;
        grp_row_t *rows = NULL;
        rd_kafka_t *c;
        int n, wg, wt = 15, wc = 15, wh = 15;
        bool consumer = gi->protocol_type && !strcmp(gi->protocol_type, "consumer");
        bool *member_has_rows;

        for (int m = 0; consumer && m < gi->member_cnt; m++)
                if (grp_decode_assignment(gi->members[m].member_assignment,
                                          gi->members[m].member_assignment_size, m,
                                          &assigned) < 0)
                        fprintf(stderr, "%s: warning: member %s has a malformed assignment\n",
                                ctx->prog, gi->members[m].member_id);
        c = grp_offsets_client(ctx, gi->group, cfgfile);
        if (!c) {
                grp_tps_free(&assigned);
                return CLI_EXIT_FAIL;
        }
        n = grp_collect(ctx, c, &assigned, NULL, false, &l, &rows);
        rd_kafka_destroy(c);
        if (n < 0) {
                grp_tps_free(&assigned);
                return CLI_EXIT_FAIL;
        }
        wg = RILL__MAX(15, (int)strlen(gi->group));
        for (int i = 0; i < n; i++)
                wt = RILL__MAX(wt, (int)strlen(rows[i].topic));
        for (int m = 0; m < gi->member_cnt; m++) {
                wc = RILL__MAX(wc, (int)strlen(grp_str(gi->members[m].member_id)));
                wh = RILL__MAX(wh, (int)strlen(grp_str(gi->members[m].client_host)));
        }
        printf("\n");
        if (gi->member_cnt == 0)
                printf("Consumer group '%s' has no active members.\n\n", gi->group);
        printf("%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", wg, "GROUP", wt, "TOPIC",
               "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", wc, "CONSUMER-ID", wh,
               "HOST", "CLIENT-ID");
        member_has_rows = rill__calloc((size_t)gi->member_cnt + 1, sizeof(bool));
        for (int i = 0; i < n; i++) {
                const grp_row_t *r = &rows[i];
                const struct rd_kafka_group_member_info *mi =
                        r->member >= 0 ? &gi->members[r->member] : NULL;
                char cur[24], leo[24], lag[24];

                grp_fmt_i64(cur, sizeof(cur), r->committed);
                grp_fmt_i64(leo, sizeof(leo), r->leo);
                grp_fmt_i64(lag, sizeof(lag),
                            r->committed >= 0 && r->leo >= 0
                                    ? RILL__MAX(0, r->leo - r->committed)
                                    : -1);
                if (mi)
                        member_has_rows[r->member] = true;
                printf("%-*s %-*s %-10d %-15s %-15s %-15s %-*s %-*s %s\n", wg, gi->group, wt,
                       r->topic, (int)r->partition, cur, leo, lag, wc,
                       mi ? grp_str(mi->member_id) : "-", wh, mi ? grp_str(mi->client_host) : "-",
                       mi ? grp_str(mi->client_id) : "-");
        }
        /* Members without partitions get a row of their own, as in Kafka. */
        for (int m = 0; m < gi->member_cnt; m++) {
                const struct rd_kafka_group_member_info *mi = &gi->members[m];

                if (member_has_rows[m])
                        continue;
                printf("%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", wg, gi->group, wt, "-",
                       "-", "-", "-", "-", wc, grp_str(mi->member_id), wh,
                       grp_str(mi->client_host), grp_str(mi->client_id));
        }
        rill__free(member_has_rows);
        rill__free(rows);
        rd_kafka_topic_partition_list_destroy(l);
        grp_tps_free(&assigned);
        return CLI_EXIT_OK;
}

static int
grp_describe_members(const struct rd_kafka_group_info *gi, bool verbose)
{
        int wg = RILL__MAX(15, (int)strlen(gi->group)), wc = 15, wh = 15, wid = 15;
        bool consumer = gi->protocol_type && !strcmp(gi->protocol_type, "consumer");

        for (int m = 0; m < gi->member_cnt; m++) {
                wc = RILL__MAX(wc, (int)strlen(grp_str(gi->members[m].member_id)));
                wh = RILL__MAX(wh, (int)strlen(grp_str(gi->members[m].client_host)));
                wid = RILL__MAX(wid, (int)strlen(grp_str(gi->members[m].client_id)));
        }
        printf("\n");
        if (gi->member_cnt == 0) {
                printf("Consumer group '%s' has no active members.\n", gi->group);
                return CLI_EXIT_OK;
        }
        printf("%-*s %-*s %-*s %-*s %-12s%s\n", wg, "GROUP", wc, "CONSUMER-ID", wh, "HOST", wid,
               "CLIENT-ID", "#PARTITIONS", verbose ? " ASSIGNMENT" : "");
        for (int m = 0; m < gi->member_cnt; m++) {
                const struct rd_kafka_group_member_info *mi = &gi->members[m];
                grp_tps_t tps = {0};
                int np = consumer ? grp_decode_assignment(mi->member_assignment,
                                                          mi->member_assignment_size, m, &tps)
                                  : 0;

                printf("%-*s %-*s %-*s %-*s %-12d", wg, gi->group, wc, grp_str(mi->member_id), wh,
                       grp_str(mi->client_host), wid, grp_str(mi->client_id), np < 0 ? 0 : np);
                if (verbose) {
                        /* Kafka's form: topic(p1,p2),topic2(p3). */
                        printf(" ");
                        if (tps.n == 0)
                                printf("-");
                        for (int i = 0; i < tps.n; i++) {
                                bool first_of_topic =
                                        i == 0 || strcmp(tps.v[i - 1].topic, tps.v[i].topic);
                                bool last_of_topic = i == tps.n - 1 ||
                                                     strcmp(tps.v[i + 1].topic, tps.v[i].topic);

                                if (first_of_topic)
                                        printf("%s%s(", i ? "," : "", tps.v[i].topic);
                                printf("%s%d", first_of_topic ? "" : ",", (int)tps.v[i].partition);
                                if (last_of_topic)
                                        printf(")");
                        }
                }
                printf("\n");
                grp_tps_free(&tps);
        }
        return CLI_EXIT_OK;
}

static int
grp_describe_state(const struct rd_kafka_group_info *gi)
{
        char coord[300];
        int wg = RILL__MAX(15, (int)strlen(gi->group)), wco;

        snprintf(coord, sizeof(coord), "%s:%d  (%d)", grp_str(gi->broker.host),
                 gi->broker.port, (int)gi->broker.id);
        wco = RILL__MAX(25, (int)strlen(coord));
        printf("\n%-*s %-*s %-20s %-20s %s\n", wg, "GROUP", wco, "COORDINATOR (ID)",
               "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
        printf("%-*s %-*s %-20s %-20s %d\n", wg, gi->group, wco, coord, grp_str(gi->protocol),
               grp_str(gi->state), gi->member_cnt);
        return CLI_EXIT_OK;
}

static int
grp_describe(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *cfgfile)
{
        const struct rd_kafka_group_list *all = NULL;
        const char *const *groups;
        const char **names = NULL;
        int n, rc = CLI_EXIT_OK;

        if (rill__cli_has(args, "--all-groups")) {
                if (grp_list_groups(ctx, rk, NULL, &all) != 0)
                        return CLI_EXIT_FAIL;
                n = all->group_cnt;
                names = rill__calloc((size_t)n + 1, sizeof(*names));
                for (int i = 0; i < n; i++)
                        names[i] = all->groups[i].group;
                qsort(names, (size_t)n, sizeof(*names), grp_cmp_str);
                groups = names;
        } else {
                n = rill__cli_get_all(args, "--group", &groups);
        }
        for (int i = 0; i < n; i++) {
                const struct rd_kafka_group_list *gl = NULL;
                const struct rd_kafka_group_info *gi;

                if (grp_list_groups(ctx, rk, groups[i], &gl) != 0) {
                        rc = CLI_EXIT_FAIL;
                        continue;
                }
                gi = grp_find(gl, groups[i]);
                if (!grp_exists(gi)) {
                        if (gi && gi->err)
                                rill__cli_err(ctx->prog, "cannot describe group '%s': %s",
                                              groups[i], rd_kafka_err2str(gi->err));
                        else
                                rill__cli_err(ctx->prog, "Consumer group '%s' does not exist.",
                                              groups[i]);
                        rc = CLI_EXIT_FAIL;
                } else if (rill__cli_has(args, "--members")) {
                        grp_describe_members(gi, rill__cli_has(args, "--verbose"));
                } else if (rill__cli_has(args, "--state")) {
                        grp_describe_state(gi);
                } else if (grp_describe_offsets(ctx, gi, cfgfile) != CLI_EXIT_OK) {
                        rc = CLI_EXIT_FAIL;
                }
                rd_kafka_group_list_destroy(gl);
        }
        rill__free(names);
        if (all)
                rd_kafka_group_list_destroy(all);
        return rc;
}

/* ---- --delete ---------------------------------------------------------------- */

static int
grp_delete(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args)
{
        const struct rd_kafka_group_list *all = NULL;
        const char *const *groups;
        const char **names = NULL;
        rd_kafka_DeleteGroup_t **dels;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const rd_kafka_group_result_t **res;
        size_t nres;
        int n, rc = CLI_EXIT_OK, ok = 0;

        if (rill__cli_has(args, "--all-groups")) {
                if (grp_list_groups(ctx, rk, NULL, &all) != 0)
                        return CLI_EXIT_FAIL;
                n = all->group_cnt;
                names = rill__calloc((size_t)n + 1, sizeof(*names));
                for (int i = 0; i < n; i++)
                        names[i] = all->groups[i].group;
                groups = names;
        } else {
                n = rill__cli_get_all(args, "--group", &groups);
        }
        if (n == 0) {
                rill__free(names);
                if (all)
                        rd_kafka_group_list_destroy(all);
                printf("No consumer groups to delete.\n");
                return CLI_EXIT_OK;
        }
        dels = rill__calloc((size_t)n, sizeof(*dels));
        for (int i = 0; i < n; i++)
                dels[i] = rd_kafka_DeleteGroup_new(groups[i]);
        q = rd_kafka_queue_new(rk);
        opts = rill__cli_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
        rd_kafka_DeleteGroups(rk, dels, (size_t)n, opts, q);
        rd_kafka_DeleteGroup_destroy_array(dels, (size_t)n);
        rill__free(dels);
        rd_kafka_AdminOptions_destroy(opts);
        ev = rill__cli_admin_wait(ctx, q);
        rd_kafka_queue_destroy(q);
        if (!ev) {
                rc = CLI_EXIT_FAIL;
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                rill__cli_err(ctx->prog, "cannot delete groups: %s", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                rc = CLI_EXIT_FAIL;
                goto out;
        }
        res = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &nres);
        for (size_t i = 0; i < nres; i++) {
                const rd_kafka_error_t *e = rd_kafka_group_result_error(res[i]);

                if (!e) {
                        ok++;
                        continue;
                }
                if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
                        rill__cli_err(ctx->prog, "Consumer group '%s' does not exist.",
                                      rd_kafka_group_result_name(res[i]));
                else
                        rill__cli_err(ctx->prog, "Group '%s' could not be deleted due to: %s",
                                      rd_kafka_group_result_name(res[i]),
                                      rd_kafka_error_string(e));
                rc = CLI_EXIT_FAIL;
        }
        if (ok > 0) {
                printf("Deletion of requested consumer groups (");
                for (size_t i = 0, k = 0; i < nres; i++) {
                        if (rd_kafka_group_result_error(res[i]))
                                continue;
                        printf("%s'%s'", k++ ? ", " : "", rd_kafka_group_result_name(res[i]));
                }
                printf(") was successful.\n");
        }
        rd_kafka_event_destroy(ev);
out:
        rill__free(names);
        if (all)
                rd_kafka_group_list_destroy(all);
        return rc;
}

/* ---- --reset-offsets ------------------------------------------------------- */

/* Parses "--topic T" or "--topic T:0,2" into @p l (all partitions of T from
 * metadata for the first form). Returns 0 or -1 after printing. */
static int
grp_reset_topics(cli_ctx_t *ctx, rd_kafka_t *c, const cli_args_t *args,
                 rd_kafka_topic_partition_list_t *l)
{
        const char *const *topics;
        int n = rill__cli_get_all(args, "--topic", &topics);
        const struct rd_kafka_metadata *md = NULL;
        int rc = 0;

        if (rill__cli_metadata(ctx, c, true, &md) != 0)
                return -1;
        for (int i = 0; i < n && rc == 0; i++) {
                char *spec = rill__strdup(topics[i]);
                char *colon = strchr(spec, ':');
                const struct rd_kafka_metadata_topic *t = NULL;

                if (colon)
                        *colon = '\0';
                for (int j = 0; j < md->topic_cnt; j++)
                        if (!strcmp(md->topics[j].topic, spec) && !md->topics[j].err)
                                t = &md->topics[j];
                if (!t) {
                        rill__cli_err(ctx->prog, "Topic '%s' does not exist", spec);
                        rc = -1;
                } else if (!colon) {
                        for (int p = 0; p < t->partition_cnt; p++)
                                rd_kafka_topic_partition_list_add(l, spec, t->partitions[p].id);
                } else {
                        char *save = NULL, *tok;

                        for (tok = strtok_r(colon + 1, ",", &save); tok && rc == 0;
                             tok = strtok_r(NULL, ",", &save)) {
                                char *end;
                                long p = strtol(tok, &end, 10);

                                if (end == tok || *end || p < 0 || p >= t->partition_cnt) {
                                        rill__cli_usage_err(ctx->prog, "invalid partition '%s' "
                                                            "for topic '%s'", tok, spec);
                                        rc = -1;
                                } else {
                                        rd_kafka_topic_partition_list_add(l, spec, (int32_t)p);
                                }
                        }
                }
                rill__free(spec);
        }
        rd_kafka_metadata_destroy(md);
        return rc;
}

static int
grp_reset(cli_ctx_t *ctx, rd_kafka_t *rk, const cli_args_t *args, const char *cfgfile)
{
        static const char *const scenarios[] = {"--to-earliest", "--to-latest", "--to-current",
                                                "--to-offset", "--shift-by"};
        const char *const *groups;
        const char *scenario = NULL;
        const struct rd_kafka_group_list *gl = NULL;
        const struct rd_kafka_group_info *gi;
        rd_kafka_topic_partition_list_t *only = NULL, *l = NULL, *commit = NULL;
        grp_row_t *rows = NULL;
        long long target = 0;
        rd_kafka_t *c = NULL;
        int nscen = 0, n, rc = CLI_EXIT_FAIL, wg, wt = 15;
        bool execute = rill__cli_has(args, "--execute");

        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
                if (rill__cli_has(args, scenarios[i])) {
                        scenario = scenarios[i];
                        nscen++;
                }
        if (rill__cli_get_all(args, "--group", &groups) != 1) {
                rill__cli_usage_err(ctx->prog, "--reset-offsets needs exactly one --group");
                return CLI_EXIT_FAIL;
        }
        if (nscen != 1) {
                rill__cli_usage_err(ctx->prog, "--reset-offsets needs one of --to-earliest, "
                                    "--to-latest, --to-current, --to-offset or --shift-by");
                return CLI_EXIT_FAIL;
        }
        if (rill__cli_has(args, "--topic") == rill__cli_has(args, "--all-topics")) {
                rill__cli_usage_err(ctx->prog, "--reset-offsets needs --topic or --all-topics");
                return CLI_EXIT_FAIL;
        }
        if (execute && rill__cli_has(args, "--dry-run")) {
                rill__cli_usage_err(ctx->prog, "--dry-run and --execute exclude each other");
                return CLI_EXIT_FAIL;
        }
        if ((!strcmp(scenario, "--to-offset") &&
             rill__cli_get_int(ctx->prog, args, "--to-offset", 0, 0, INT64_MAX, &target)) ||
            (!strcmp(scenario, "--shift-by") &&
             rill__cli_get_int(ctx->prog, args, "--shift-by", 0, INT64_MIN / 2, INT64_MAX / 2,
                               &target)))
                return CLI_EXIT_FAIL;

        /* Kafka only resets an inactive group: a live member would commit
         * over the new offsets. */
        if (grp_list_groups(ctx, rk, groups[0], &gl) != 0)
                return CLI_EXIT_FAIL;
        gi = grp_find(gl, groups[0]);
        if (grp_exists(gi) && gi->state && strcmp(gi->state, "Empty") != 0) {
                rill__cli_err(ctx->prog, "Assignments can only be reset if the group '%s' is "
                              "inactive, but the current state is %s.", groups[0], gi->state);
                goto out;
        }
        c = grp_offsets_client(ctx, groups[0], cfgfile);
        if (!c)
                goto out;
        if (rill__cli_has(args, "--topic")) {
                only = rd_kafka_topic_partition_list_new(8);
                if (grp_reset_topics(ctx, c, args, only) != 0)
                        goto out;
        }
        n = grp_collect(ctx, c, NULL, only, only != NULL, &l, &rows);
        if (n < 0)
                goto out;
        commit = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        wg = RILL__MAX(15, (int)strlen(groups[0]));
        for (int i = 0; i < n; i++)
                wt = RILL__MAX(wt, (int)strlen(rows[i].topic));
        printf("\n%-*s %-*s %-10s %s\n", wg, "GROUP", wt, "TOPIC", "PARTITION", "NEW-OFFSET");
        for (int i = 0; i < n; i++) {
                grp_row_t *r = &rows[i];
                int64_t lo = r->lo < 0 ? 0 : r->lo, hi = r->leo < 0 ? lo : r->leo, off;

                if (!strcmp(scenario, "--to-earliest"))
                        off = lo;
                else if (!strcmp(scenario, "--to-latest"))
                        off = hi;
                else if (!strcmp(scenario, "--to-current"))
                        off = r->committed >= 0 ? r->committed : hi;
                else if (!strcmp(scenario, "--to-offset"))
                        off = target;
                else
                        off = (r->committed >= 0 ? r->committed : hi) + target;
                off = RILL__MAX(lo, off);
                if (off > hi)
                        off = hi;
                printf("%-*s %-*s %-10d %lld\n", wg, groups[0], wt, r->topic, (int)r->partition,
                       (long long)off);
                rd_kafka_topic_partition_list_add(commit, r->topic, r->partition)->offset = off;
        }
        if (execute && commit->cnt > 0) {
                rd_kafka_resp_err_t err = rd_kafka_commit(c, commit, 0);

                if (!err) {
                        for (int i = 0; i < commit->cnt; i++)
                                if (commit->elems[i].err) {
                                        err = commit->elems[i].err;
                                        break;
                                }
                }
                if (err) {
                        rill__cli_err(ctx->prog, "cannot commit the new offsets: %s",
                                      rd_kafka_err2str(err));
                        goto out;
                }
        } else if (!execute) {
                fprintf(stderr, "%s: dry run: nothing was changed (add --execute to commit)\n",
                        ctx->prog);
        }
        rc = CLI_EXIT_OK;
out:
        if (commit)
                rd_kafka_topic_partition_list_destroy(commit);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (only)
                rd_kafka_topic_partition_list_destroy(only);
        rill__free(rows);
        if (c)
                rd_kafka_destroy(c);
        if (gl)
                rd_kafka_group_list_destroy(gl);
        return rc;
}

int
rill__cli_groups(int argc, char **argv)
{
        static const char *const actions[] = {"--list", "--describe", "--delete",
                                              "--reset-offsets"};
        cli_ctx_t ctx;
        cli_args_t args;
        const char *action = NULL, *cfgfile;
        long long timeout;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        int rc = CLI_EXIT_FAIL, nactions = 0;

        rill__cli_ctx_init(&ctx, "rill groups");
        switch (rill__cli_parse(ctx.prog,
                                "rill groups --bootstrap-server HOST:PORT "
                                "(--list|--describe|--delete|--reset-offsets) [options]",
                                "List, describe (offsets and lag), delete consumer groups and "
                                "reset their offsets (kafka-consumer-groups.sh).",
                                groups_opts, argc, argv, &args)) {
        case CLI_PARSE_HELP:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_OK;
        case CLI_PARSE_ERROR:
                rill__cli_ctx_destroy(&ctx);
                return CLI_EXIT_FAIL;
        case CLI_PARSE_OK:
                break;
        }
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
                if (rill__cli_has(&args, actions[i])) {
                        action = actions[i];
                        nactions++;
                }
        ctx.bootstrap = rill__cli_get(&args, "--bootstrap-server");
        ctx.verbose = rill__cli_has(&args, "--debug");
        if (nactions != 1) {
                rill__cli_usage_err(ctx.prog, "exactly one of --list, --describe, --delete or "
                                    "--reset-offsets is required");
                goto out;
        }
        if (!ctx.bootstrap) {
                rill__cli_usage_err(ctx.prog, "missing required option --bootstrap-server");
                goto out;
        }
        if ((!strcmp(action, "--describe") || !strcmp(action, "--delete")) &&
            rill__cli_has(&args, "--group") == rill__cli_has(&args, "--all-groups")) {
                rill__cli_usage_err(ctx.prog, "%s needs --group G or --all-groups", action);
                goto out;
        }
        if (rill__cli_has(&args, "--members") + rill__cli_has(&args, "--state") +
                    rill__cli_has(&args, "--offsets") > 1 &&
            strcmp(action, "--list") != 0) {
                rill__cli_usage_err(ctx.prog, "--members, --offsets and --state exclude each "
                                    "other");
                goto out;
        }
        if (rill__cli_get_int(ctx.prog, &args, "--timeout", CLI_DEFAULT_TIMEOUT_MS, 1,
                              3600 * 1000, &timeout))
                goto out;
        ctx.timeout_ms = (int)timeout;
        cfgfile = rill__cli_get(&args, "--command-config");
        conf = rill__cli_conf_new(&ctx, "rill-groups", NULL, 0, cfgfile ? &cfgfile : NULL,
                                  cfgfile ? 1 : 0, NULL, 0);
        if (!conf)
                goto out;
        rk = rill__cli_client_new(&ctx, RD_KAFKA_PRODUCER, conf);
        if (!rk)
                goto out;
        if (!strcmp(action, "--list"))
                rc = grp_list(&ctx, rk, rill__cli_has(&args, "--state"));
        else if (!strcmp(action, "--describe"))
                rc = grp_describe(&ctx, rk, &args, cfgfile);
        else if (!strcmp(action, "--delete"))
                rc = grp_delete(&ctx, rk, &args);
        else
                rc = grp_reset(&ctx, rk, &args, cfgfile);
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
