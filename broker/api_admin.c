/*
 * api_admin.c - admin APIs: CreateTopics (0-4), DeleteTopics (0-1),
 * DeleteRecords (0-1), DescribeConfigs (0-2), AlterConfigs (0-1) and
 * CreatePartitions (0-1).
 *
 * Design. Every handler runs its body twice over the same request bytes
 * (run_two_pass()): a dry pass that only decodes, checks that the whole
 * body is well formed and gathers what is needed before acting (flags such
 * as validate_only that Kafka places after the per-topic arrays, the list
 * of names for duplicate detection), then the real pass that acts and
 * encodes the response. So a truncated or malformed request changes nothing
 * (the connection is closed), and a well-formed one is handled with all of
 * its flags known. Decoding always goes through the `flex` flag of the codec
 * so that flexible versions can be added by raising the advertised maximum
 * and filling in the fields they add; none is advertised yet.
 *
 * Topics are created, deleted, grown and reconfigured through the topic
 * registry of broker_int.h; this file only validates requests the way Kafka
 * does (names, counts, assignments, config keys and values) so that clients
 * get Kafka's error codes with helpful messages, and encodes the results.
 *
 * Threading: loop thread only, like every handler.
 */
#include "api_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define COMPONENT "admin"

/* Refuse partition counts that would make one request create an unbounded
 * number of logs (Kafka has no such limit, but a single node serving a
 * million partitions from one request is never what a user meant). */
#define ADMIN_MAX_PARTITIONS 10000

/* Kafka's ConfigResource.Type and DescribeConfigs ConfigSource values. */
#define RES_TOPIC 2
#define RES_BROKER 4
#define SRC_DYNAMIC_TOPIC_CONFIG 1
#define SRC_STATIC_BROKER_CONFIG 4
#define SRC_DEFAULT_CONFIG 5

/* What the dry pass learns for the real pass. */
typedef struct admin_ctx {
        bool validate_only;
        bool include_synonyms;
        rill__str_t *names;     /* sorted topic names (duplicate detection) */
        int name_cnt;
        int name_cap;
} admin_ctx_t;

typedef void(admin_body_fn)(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx,
                            bool act);

static void
ctx_add_name(admin_ctx_t *ctx, rill__str_t s)
{
        if (ctx->name_cnt == ctx->name_cap) {
                ctx->name_cap = ctx->name_cap ? ctx->name_cap * 2 : 16;
                ctx->names = rill__realloc(ctx->names, (size_t)ctx->name_cap * sizeof(*ctx->names));
        }
        ctx->names[ctx->name_cnt++] = s;
}

static int
str_cmp(rill__str_t a, rill__str_t b)
{
        int32_t al = a.len < 0 ? 0 : a.len, bl = b.len < 0 ? 0 : b.len;
        int c = memcmp(a.ptr ? a.ptr : "", b.ptr ? b.ptr : "", (size_t)RILL__MIN(al, bl));
        if (c)
                return c;
        return al < bl ? -1 : al > bl;
}

static int
str_qcmp(const void *a, const void *b)
{
        return str_cmp(*(const rill__str_t *)a, *(const rill__str_t *)b);
}

static void
ctx_sort_names(admin_ctx_t *ctx)
{
        if (ctx->name_cnt > 1)
                qsort(ctx->names, (size_t)ctx->name_cnt, sizeof(*ctx->names), str_qcmp);
}

/* True if @p s occurs more than once among the (sorted) collected names. */
static bool
ctx_name_dup(const admin_ctx_t *ctx, rill__str_t s)
{
        int lo = 0, hi = ctx->name_cnt;
        while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (str_cmp(ctx->names[mid], s) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo + 1 < ctx->name_cnt && !str_cmp(ctx->names[lo], s) &&
               !str_cmp(ctx->names[lo + 1], s);
}

static rill__hres_t
run_two_pass(rill__req_t *req, rill__wbuf_t *resp, admin_body_fn *fn)
{
        admin_ctx_t ctx;
        rill__rbuf_t r = req->body;
        rill__wbuf_t scratch;

        memset(&ctx, 0, sizeof(ctx));
        rill__wb_init(&scratch, 256);
        fn(req, &r, &scratch, &ctx, false);
        rill__wb_free(&scratch);
        if (r.err) {
                RILL_LOG_W(COMPONENT, "malformed %s v%d request (api key %d); closing the connection",
                           req->api_key == KAPI_CREATE_TOPICS      ? "CreateTopics"
                           : req->api_key == KAPI_DELETE_TOPICS    ? "DeleteTopics"
                           : req->api_key == KAPI_DELETE_RECORDS   ? "DeleteRecords"
                           : req->api_key == KAPI_DESCRIBE_CONFIGS ? "DescribeConfigs"
                           : req->api_key == KAPI_ALTER_CONFIGS    ? "AlterConfigs"
                                                                   : "CreatePartitions",
                           req->api_version, req->api_key);
                rill__free(ctx.names);
                return RILL__H_CLOSE;
        }
        ctx_sort_names(&ctx);
        r = req->body;
        fn(req, &r, resp, &ctx, true);
        rill__free(ctx.names);
        return RILL__H_RESPOND;
}

/* ---- shared validation ---- */

/* Kafka's topic name rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
static bool
topic_name_ok(rill__str_t n, char *msg, size_t size)
{
        if (n.len <= 0) {
                rill__errf(msg, size, "Topic name is illegal, it can't be empty");
                return false;
        }
        if ((n.len == 1 && n.ptr[0] == '.') || (n.len == 2 && n.ptr[0] == '.' && n.ptr[1] == '.')) {
                rill__errf(msg, size, "Topic name cannot be \".\" or \"..\"");
                return false;
        }
        if (n.len > 249) {
                rill__errf(msg, size,
                           "Topic name is illegal, it can't be longer than 249 characters "
                           "(it has %d)",
                           (int)n.len);
                return false;
        }
        for (int32_t i = 0; i < n.len; i++) {
                char c = n.ptr[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-')) {
                        rill__errf(msg, size,
                                   "Topic name \"%.*s\" is illegal, it contains a character other "
                                   "than ASCII alphanumerics, '.', '_' and '-'",
                                   (int)n.len, n.ptr);
                        return false;
                }
        }
        return true;
}

/* Kafka refuses topics whose names differ only by '.' versus '_' (they
 * collide in metric names). Returns the colliding topic or NULL. */
static const rill__topic_t *
topic_collision(rill_broker_t *b, rill__str_t n)
{
        rill__topic_t *t;
        for (int i = 0; (t = rill__topic_at(b, i)); i++) {
                size_t tl = strlen(t->name);
                bool same = true, equal = true;
                if (tl != (size_t)n.len)
                        continue;
                for (size_t k = 0; k < tl; k++) {
                        char a = t->name[k] == '.' ? '_' : t->name[k];
                        char c = n.ptr[k] == '.' ? '_' : n.ptr[k];
                        if (a != c) {
                                same = false;
                                break;
                        }
                        if (t->name[k] != n.ptr[k])
                                equal = false;
                }
                if (same && !equal)
                        return t;
        }
        return NULL;
}

/* Reads the length of a request array (a null array counts as empty) and
 * writes it as the length of the response array that answers it entry by
 * entry. */
static int32_t
echo_array(rill__rbuf_t *r, rill__wbuf_t *w, bool flex)
{
        int32_t n = rill__rb_array(r, flex);
        if (n < 0)
                n = 0;
        rill__wb_array(w, n, flex);
        return n;
}

/* The number of brokers that can hold replicas. A single node for now; the
 * replication work replaces this with the registered brokers. */
static int
cluster_size(rill_broker_t *b)
{
        (void)b;
        return 1;
}

/* Decodes a configs array (name, nullable value) into newly allocated kv
 * pairs when @p out is non-NULL. Values that are null stay NULL. */
static int
decode_configs(rill__rbuf_t *r, bool flex, rill__kv_t **out)
{
        int n = rill__rb_array(r, flex);
        if (n < 0)
                n = 0;
        if (out)
                *out = n ? rill__calloc((size_t)n, sizeof(rill__kv_t)) : NULL;
        for (int i = 0; i < n && !r->err; i++) {
                rill__str_t k = rill__rb_str(r, flex);
                rill__str_t v = rill__rb_str(r, flex);
                rill__rb_tags(r, flex);
                if (out && !r->err) {
                        (*out)[i].key = rill__str_dup(k.len < 0 ? (rill__str_t){"", 0} : k);
                        (*out)[i].value = rill__str_dup(v);
                }
        }
        return n;
}

static void
free_configs(rill__kv_t *kv, int n)
{
        for (int i = 0; kv && i < n; i++) {
                rill__free(kv[i].key);
                rill__free(kv[i].value);
        }
        rill__free(kv);
}

/* Checks topic-level overrides the way Kafka does: known keys, non-null,
 * valid values (applied to a scratch copy of @p base). */
static int16_t
check_topic_configs(const rill__log_conf_t *base, const rill__kv_t *kv, int n, char *msg,
                    size_t size)
{
        rill__log_conf_t tmp = *base;
        for (int i = 0; i < n; i++) {
                char e[256];
                rill_err_t err;
                if (!rill__topic_conf_key_find(kv[i].key)) {
                        rill__errf(msg, size, "Unknown topic config name: %s", kv[i].key);
                        return KERR_INVALID_CONFIG;
                }
                if (!kv[i].value) {
                        rill__errf(msg, size, "Null value not supported for topic configs: %s",
                                   kv[i].key);
                        return KERR_INVALID_CONFIG;
                }
                err = rill__topic_conf_set(&tmp, kv[i].key, kv[i].value, e, sizeof(e));
                if (err != RILL_OK) {
                        rill__errf(msg, size, "%s", e);
                        return KERR_INVALID_CONFIG;
                }
        }
        return KERR_NONE;
}

/* ---- CreateTopics ---- */

static void
create_topics(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        const struct rill_broker_conf_s *conf = rill__broker_conf(b);
        int16_t ver = req->api_version;
        bool flex = req->flex;
        int32_t n;

        if (ver >= 2)
                rill__wb_i32(w, 0); /* throttle_time_ms */
        n = echo_array(r, w, flex);
        for (int32_t i = 0; i < n && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, flex);
                int32_t np = rill__rb_i32(r);
                int16_t rf = rill__rb_i16(r);
                int32_t na = rill__rb_array(r, flex), nc;
                int16_t ec = KERR_NONE;
                char msg[512] = "";
                char amsg[256] = "";
                bool assign_bad = false;
                uint8_t *seen = NULL;
                rill__kv_t *configs = NULL;

                if (na < 0)
                        na = 0;
                if (act && na > 0)
                        seen = rill__calloc((size_t)na, 1);
                for (int32_t a = 0; a < na && !r->err; a++) {
                        int32_t pidx = rill__rb_i32(r);
                        int32_t nb = rill__rb_array(r, flex);
                        if (nb < 0)
                                nb = 0;
                        if (nb == 0 && !assign_bad) {
                                assign_bad = true;
                                snprintf(amsg, sizeof(amsg), "Partition %" PRId32 " has no replicas",
                                         pidx);
                        }
                        if (nb > 1 && !assign_bad) {
                                assign_bad = true;
                                snprintf(amsg, sizeof(amsg),
                                         "Partition %" PRId32 " has %" PRId32
                                         " replicas but only %d broker(s) are registered",
                                         pidx, nb, cluster_size(b));
                        }
                        for (int32_t k = 0; k < nb && !r->err; k++) {
                                int32_t id = rill__rb_i32(r);
                                if (id != conf->node_id && !assign_bad) {
                                        assign_bad = true;
                                        snprintf(amsg, sizeof(amsg),
                                                 "Unknown broker %" PRId32
                                                 " in the assignment of partition %" PRId32,
                                                 id, pidx);
                                }
                        }
                        rill__rb_tags(r, flex);
                        if (pidx < 0 || pidx >= na || (seen && seen[pidx])) {
                                if (!assign_bad) {
                                        assign_bad = true;
                                        snprintf(amsg, sizeof(amsg),
                                                 "Partition indexes in the assignment must be "
                                                 "0..%" PRId32 " without repeats (got %" PRId32 ")",
                                                 na - 1, pidx);
                                }
                        } else if (seen) {
                                seen[pidx] = 1;
                        }
                }
                rill__free(seen);
                nc = decode_configs(r, flex, act ? &configs : NULL);
                rill__rb_tags(r, flex);
                if (!act) {
                        ctx_add_name(ctx, name);
                        continue;
                }

                if (ctx_name_dup(ctx, name)) {
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg),
                                 "Create topics request contains multiple entries for topic %.*s",
                                 (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "");
                } else if (!topic_name_ok(name, msg, sizeof(msg))) {
                        ec = KERR_INVALID_TOPIC_EXCEPTION;
                } else if (na > 0) {
                        if (np != -1 || rf != -1) {
                                ec = KERR_INVALID_REQUEST;
                                snprintf(msg, sizeof(msg),
                                         "Both numPartitions or replicationFactor and "
                                         "replicasAssignments were set. Both cannot be used at "
                                         "the same time.");
                        } else if (assign_bad) {
                                ec = KERR_INVALID_REPLICA_ASSIGNMENT;
                                snprintf(msg, sizeof(msg), "%s", amsg);
                        } else {
                                np = na;
                                rf = 1;
                        }
                } else {
                        /* -1 asks for the broker default. KIP-464 gates this on v4
                         * in clients, but Kafka brokers accept it on every
                         * version and KafkaJS (which stops at v3) relies on it. */
                        if (np == -1)
                                np = conf->num_partitions;
                        if (rf == -1)
                                rf = conf->default_replication_factor;
                        if (np <= 0) {
                                ec = KERR_INVALID_PARTITIONS;
                                snprintf(msg, sizeof(msg),
                                         "Number of partitions was set to an invalid non-positive "
                                         "value (%" PRId32 ").",
                                         np);
                        } else if (np > ADMIN_MAX_PARTITIONS) {
                                ec = KERR_INVALID_PARTITIONS;
                                snprintf(msg, sizeof(msg),
                                         "Number of partitions %" PRId32
                                         " exceeds this broker's limit of %d per topic.",
                                         np, ADMIN_MAX_PARTITIONS);
                        } else if (rf <= 0) {
                                ec = KERR_INVALID_REPLICATION_FACTOR;
                                snprintf(msg, sizeof(msg),
                                         "Replication factor was set to an invalid non-positive "
                                         "value (%d).",
                                         rf);
                        } else if (rf > cluster_size(b)) {
                                ec = KERR_INVALID_REPLICATION_FACTOR;
                                snprintf(msg, sizeof(msg),
                                         "Unable to replicate the partition %d time(s): The target "
                                         "replication factor of %d cannot be reached because only "
                                         "%d broker(s) are registered.",
                                         rf, rf, cluster_size(b));
                        }
                }
                if (!ec)
                        ec = check_topic_configs(&conf->log, configs, nc, msg, sizeof(msg));
                if (!ec && rill__topic_find(b, name.ptr, (size_t)name.len)) {
                        ec = KERR_TOPIC_ALREADY_EXISTS;
                        snprintf(msg, sizeof(msg), "Topic '%.*s' already exists.", (int)name.len,
                                 name.ptr);
                }
                if (!ec) {
                        const rill__topic_t *c = topic_collision(b, name);
                        if (c) {
                                ec = KERR_INVALID_TOPIC_EXCEPTION;
                                snprintf(msg, sizeof(msg),
                                         "Topic '%.*s' collides with existing topic: %s",
                                         (int)name.len, name.ptr, c->name);
                        }
                }
                if (!ec) {
                        char *cname = rill__str_dup(name);
                        ec = rill__topic_create(b, cname, np, rf, configs, nc, false,
                                                ctx->validate_only, NULL, msg, sizeof(msg));
                        if (ec == KERR_NONE && !ctx->validate_only)
                                RILL_LOG_I(COMPONENT,
                                           "created topic %s with %" PRId32
                                           " partition(s), replication factor %d",
                                           cname, np, rf);
                        rill__free(cname);
                }
                free_configs(configs, nc);
                if (ec)
                        RILL_LOG_D(COMPONENT, "CreateTopics %.*s: error %d: %s",
                                   (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "", ec, msg);

                rill__wb_rstr(w, name, flex);
                rill__wb_i16(w, ec);
                if (ver >= 1)
                        rill__wb_cstr(w, ec ? msg : NULL, flex);
                rill__wb_tags(w, flex);
        }
        rill__rb_i32(r); /* timeout_ms: creation is synchronous */
        if (ver >= 1) {
                bool vo = rill__rb_bool(r);
                if (!act)
                        ctx->validate_only = vo;
        }
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_create_topics(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, create_topics);
}

/* ---- DeleteTopics ---- */

static void
delete_topics(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        bool flex = req->flex;
        int32_t n;

        if (req->api_version >= 1)
                rill__wb_i32(w, 0); /* throttle_time_ms */
        n = echo_array(r, w, flex);
        for (int32_t i = 0; i < n && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, flex);
                int16_t ec = KERR_NONE;
                char msg[256] = "";
                if (!act)
                        continue;
                if (!rill__broker_conf(b)->delete_topic_enable) {
                        /* Kafka answers INVALID_REQUEST before v3 (TOPIC_DELETION_DISABLED after). */
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg), "topic deletion is disabled");
                } else if (name.len <= 0 || !rill__topic_find(b, name.ptr, (size_t)name.len)) {
                        ec = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                } else {
                        char *cname = rill__str_dup(name);
                        ec = rill__topic_delete(b, cname, msg, sizeof(msg));
                        if (ec == KERR_NONE)
                                RILL_LOG_I(COMPONENT, "deleted topic %s", cname);
                        rill__free(cname);
                }
                if (ec)
                        RILL_LOG_D(COMPONENT, "DeleteTopics %.*s: error %d %s",
                                   (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "", ec, msg);
                rill__wb_rstr(w, name, flex);
                rill__wb_i16(w, ec);
                rill__wb_tags(w, flex);
        }
        rill__rb_i32(r); /* timeout_ms */
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_delete_topics(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, delete_topics);
}

/* ---- DeleteRecords ---- */

static void
delete_records(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        bool flex = req->flex;
        int32_t nt;

        rill__wb_i32(w, 0); /* throttle_time_ms */
        nt = echo_array(r, w, flex);
        for (int32_t i = 0; i < nt && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, flex);
                int32_t np = rill__rb_array(r, flex);
                rill__topic_t *t = act && name.len > 0 ? rill__topic_find(b, name.ptr, (size_t)name.len)
                                                       : NULL;
                if (np < 0)
                        np = 0;
                rill__wb_rstr(w, name, flex);
                rill__wb_array(w, np, flex);
                for (int32_t k = 0; k < np && !r->err; k++) {
                        int32_t pidx = rill__rb_i32(r);
                        int64_t off = rill__rb_i64(r);
                        int64_t low = -1;
                        int16_t ec = KERR_NONE;
                        rill__partition_t *p;
                        rill__rb_tags(r, flex);
                        if (!act)
                                continue;
                        p = t ? rill__partition_find(b, name, pidx) : NULL;
                        if (!p) {
                                ec = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        } else if (t->internal) {
                                ec = KERR_INVALID_TOPIC_EXCEPTION;
                        } else {
                                int64_t hw = p->high_watermark;
                                if (off == -1)
                                        off = hw;
                                if (off < 0 || off > hw) {
                                        ec = KERR_OFFSET_OUT_OF_RANGE;
                                } else if (off > rill__log_start_offset(p->log)) {
                                        rill_err_t err = rill__log_delete_records(p->log, off);
                                        if (err == RILL_ERR_OFFSET_OUT_OF_RANGE)
                                                ec = KERR_OFFSET_OUT_OF_RANGE;
                                        else if (err != RILL_OK)
                                                ec = KERR_KAFKA_STORAGE_ERROR;
                                }
                                if (!ec)
                                        low = rill__log_start_offset(p->log);
                        }
                        rill__wb_i32(w, pidx);
                        rill__wb_i64(w, low);
                        rill__wb_i16(w, ec);
                        rill__wb_tags(w, flex);
                }
                rill__rb_tags(r, flex);
                rill__wb_tags(w, flex);
        }
        rill__rb_i32(r); /* timeout_ms */
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_delete_records(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, delete_records);
}

/* ---- CreatePartitions ---- */

static void
create_partitions(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        const struct rill_broker_conf_s *conf = rill__broker_conf(b);
        bool flex = req->flex;
        int32_t n;

        rill__wb_i32(w, 0); /* throttle_time_ms */
        n = echo_array(r, w, flex);
        for (int32_t i = 0; i < n && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, flex);
                int32_t count = rill__rb_i32(r);
                int32_t na = rill__rb_array(r, flex); /* -1: null, no assignment */
                bool assign_bad = false;
                char amsg[256] = "", msg[512] = "";
                int16_t ec = KERR_NONE;
                rill__topic_t *t;

                for (int32_t a = 0; a < na && !r->err; a++) {
                        int32_t nb = rill__rb_array(r, flex);
                        if (nb != 1 && !assign_bad) {
                                assign_bad = true;
                                snprintf(amsg, sizeof(amsg),
                                         "Assignment %" PRId32 " lists %" PRId32
                                         " replicas; this cluster has %d broker(s)",
                                         a, nb < 0 ? 0 : nb, cluster_size(b));
                        }
                        for (int32_t k = 0; k < nb && !r->err; k++) {
                                int32_t id = rill__rb_i32(r);
                                if (id != conf->node_id && !assign_bad) {
                                        assign_bad = true;
                                        snprintf(amsg, sizeof(amsg),
                                                 "Unknown broker %" PRId32 " in assignment %" PRId32,
                                                 id, a);
                                }
                        }
                        rill__rb_tags(r, flex);
                }
                rill__rb_tags(r, flex);
                if (!act) {
                        ctx_add_name(ctx, name);
                        continue;
                }

                t = name.len > 0 ? rill__topic_find(b, name.ptr, (size_t)name.len) : NULL;
                if (ctx_name_dup(ctx, name)) {
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg), "Duplicate topic in request.");
                } else if (!t) {
                        ec = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        snprintf(msg, sizeof(msg), "The topic '%.*s' does not exist.",
                                 (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "");
                } else if (count < t->partition_cnt) {
                        ec = KERR_INVALID_PARTITIONS;
                        snprintf(msg, sizeof(msg),
                                 "Topic currently has %" PRId32
                                 " partitions, which is higher than the requested %" PRId32 ".",
                                 t->partition_cnt, count);
                } else if (count == t->partition_cnt) {
                        ec = KERR_INVALID_PARTITIONS;
                        snprintf(msg, sizeof(msg), "Topic already has %" PRId32 " partitions.",
                                 count);
                } else if (count > ADMIN_MAX_PARTITIONS) {
                        ec = KERR_INVALID_PARTITIONS;
                        snprintf(msg, sizeof(msg),
                                 "Number of partitions %" PRId32
                                 " exceeds this broker's limit of %d per topic.",
                                 count, ADMIN_MAX_PARTITIONS);
                } else if (na >= 0 && na != count - t->partition_cnt) {
                        ec = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof(msg),
                                 "Increasing the number of partitions by %" PRId32
                                 " but %" PRId32 " assignments provided.",
                                 count - t->partition_cnt, na);
                } else if (na >= 0 && assign_bad) {
                        ec = KERR_INVALID_REPLICA_ASSIGNMENT;
                        snprintf(msg, sizeof(msg), "%s", amsg);
                } else {
                        ec = rill__topic_add_partitions(b, t, count, ctx->validate_only, msg,
                                                        sizeof(msg));
                        if (ec == KERR_NONE && !ctx->validate_only)
                                RILL_LOG_I(COMPONENT, "topic %s now has %" PRId32 " partitions",
                                           t->name, count);
                }
                rill__wb_rstr(w, name, flex);
                rill__wb_i16(w, ec);
                rill__wb_cstr(w, ec ? msg : NULL, flex);
                rill__wb_tags(w, flex);
        }
        rill__rb_i32(r); /* timeout_ms */
        {
                bool vo = rill__rb_bool(r);
                if (!act)
                        ctx->validate_only = vo;
        }
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_create_partitions(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, create_partitions);
}

/* ---- DescribeConfigs ---- */

typedef struct synonym {
        const char *name;
        char value[1024];
        bool null;
        int8_t source;
} synonym_t;

/* Keys whose values must not be shown (a Kafka file may carry secrets that
 * Rill keeps as unknown keys). */
static bool
key_sensitive(const char *k)
{
        return strstr(k, "password") || strstr(k, "secret") || strstr(k, "jaas.config");
}

static void
write_config(rill__wbuf_t *w, int16_t ver, bool flex, const char *name, const char *value,
             bool read_only, int8_t source, bool sensitive, const synonym_t *syn, int syn_cnt)
{
        rill__wb_cstr(w, name, flex);
        rill__wb_cstr(w, sensitive ? NULL : value, flex);
        rill__wb_bool(w, read_only);
        if (ver == 0)
                rill__wb_bool(w, source == SRC_DEFAULT_CONFIG); /* is_default */
        else
                rill__wb_i8(w, source);
        rill__wb_bool(w, sensitive);
        if (ver >= 1) {
                rill__wb_array(w, syn_cnt, flex);
                for (int i = 0; i < syn_cnt; i++) {
                        rill__wb_cstr(w, syn[i].name, flex);
                        rill__wb_cstr(w, sensitive || syn[i].null ? NULL : syn[i].value, flex);
                        rill__wb_i8(w, syn[i].source);
                        rill__wb_tags(w, flex);
                }
        }
        rill__wb_tags(w, flex);
}

/* True if the requested key list (NULL = all) contains @p key. */
static bool
key_wanted(const rill__str_t *keys, int n, const char *key)
{
        if (!keys)
                return true;
        for (int i = 0; i < n; i++)
                if (rill__str_eq(keys[i], key))
                        return true;
        return false;
}

/* The server keys that supply a topic key's default, most precise first. */
static int
topic_server_synonyms(const rill__topic_conf_key_t *k, const char **out)
{
        if (!strcmp(k->name, "retention.ms")) {
                out[0] = "log.retention.ms";
                out[1] = "log.retention.minutes";
                out[2] = "log.retention.hours";
                return 3;
        }
        if (!strcmp(k->name, "segment.ms")) {
                out[0] = "log.roll.ms";
                out[1] = "log.roll.hours";
                return 2;
        }
        out[0] = k->server_key;
        return 1;
}

static int
describe_topic(rill_broker_t *b, const rill__topic_t *t, const rill__str_t *keys, int nkeys,
               bool synonyms, int16_t ver, bool flex, rill__wbuf_t *w,
               const struct rill_broker_conf_s *defaults)
{
        const struct rill_broker_conf_s *conf = rill__broker_conf(b);
        const rill__topic_conf_key_t *tk;
        int cnt = 0, nk;

        tk = rill__topic_conf_keys(&nk);
        for (int i = 0; i < nk; i++) {
                const char *sk[3], *ov = NULL;
                synonym_t syn[5];
                int ns = 0, nsk = topic_server_synonyms(&tk[i], sk);
                int8_t source = SRC_DEFAULT_CONFIG;
                char value[128];

                if (!key_wanted(keys, nkeys, tk[i].name))
                        continue;
                for (int k = 0; k < t->override_cnt; k++)
                        if (!strcmp(t->overrides[k].key, tk[i].name))
                                ov = t->overrides[k].value;
                rill__topic_conf_get(&t->conf, tk[i].name, value, sizeof(value));
                if (ov) {
                        source = SRC_DYNAMIC_TOPIC_CONFIG;
                        syn[ns].name = tk[i].name;
                        snprintf(syn[ns].value, sizeof(syn[ns].value), "%s", value);
                        syn[ns].null = false;
                        syn[ns++].source = SRC_DYNAMIC_TOPIC_CONFIG;
                }
                for (int k = 0; k < nsk; k++) {
                        const char *v = rill__broker_conf_kv_get(conf, sk[k]);
                        if (!v)
                                continue;
                        if (source == SRC_DEFAULT_CONFIG)
                                source = SRC_STATIC_BROKER_CONFIG;
                        syn[ns].name = sk[k];
                        snprintf(syn[ns].value, sizeof(syn[ns].value), "%s", v);
                        syn[ns].null = false;
                        syn[ns++].source = SRC_STATIC_BROKER_CONFIG;
                }
                if (defaults) {
                        bool null = false;
                        syn[ns].name = sk[nsk - 1];
                        rill__broker_conf_value(defaults, sk[nsk - 1], syn[ns].value,
                                                sizeof(syn[ns].value), &null, NULL);
                        syn[ns].null = null;
                        syn[ns++].source = SRC_DEFAULT_CONFIG;
                }
                write_config(w, ver, flex, tk[i].name, value, false, source, false, syn,
                             synonyms ? ns : 0);
                cnt++;
        }
        return cnt;
}

static int
describe_broker(rill_broker_t *b, const rill__str_t *keys, int nkeys, bool synonyms, int16_t ver,
                bool flex, rill__wbuf_t *w, const struct rill_broker_conf_s *defaults)
{
        const struct rill_broker_conf_s *conf = rill__broker_conf(b);
        const char *key;
        int cnt = 0;

        for (int i = 0; (key = rill__broker_conf_key_at(i, NULL)); i++) {
                char value[1024];
                bool null = false, set = false;
                synonym_t syn[2];
                int ns = 0;
                if (!key_wanted(keys, nkeys, key))
                        continue;
                rill__broker_conf_value(conf, key, value, sizeof(value), &null, &set);
                if (set) {
                        syn[ns].name = key;
                        snprintf(syn[ns].value, sizeof(syn[ns].value), "%s", value);
                        syn[ns].null = null;
                        syn[ns++].source = SRC_STATIC_BROKER_CONFIG;
                }
                if (defaults) {
                        bool dnull = false;
                        syn[ns].name = key;
                        rill__broker_conf_value(defaults, key, syn[ns].value,
                                                sizeof(syn[ns].value), &dnull, NULL);
                        syn[ns].null = dnull;
                        syn[ns++].source = SRC_DEFAULT_CONFIG;
                }
                write_config(w, ver, flex, key, null ? NULL : value, true,
                             set ? SRC_STATIC_BROKER_CONFIG : SRC_DEFAULT_CONFIG,
                             key_sensitive(key), syn, synonyms ? ns : 0);
                cnt++;
        }
        /* Unknown keys from server.properties, as set. */
        for (int i = 0; i < conf->kv_cnt; i++) {
                const char *k = conf->kv[i].key;
                bool known = false;
                synonym_t syn[1];
                for (int j = 0; (key = rill__broker_conf_key_at(j, NULL)); j++)
                        if (!strcmp(key, k)) {
                                known = true;
                                break;
                        }
                if (known || !key_wanted(keys, nkeys, k))
                        continue;
                syn[0].name = k;
                snprintf(syn[0].value, sizeof(syn[0].value), "%s", conf->kv[i].value);
                syn[0].null = false;
                syn[0].source = SRC_STATIC_BROKER_CONFIG;
                write_config(w, ver, flex, k, conf->kv[i].value, true, SRC_STATIC_BROKER_CONFIG,
                             key_sensitive(k), syn, synonyms ? 1 : 0);
                cnt++;
        }
        return cnt;
}

static void
describe_configs(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        int16_t ver = req->api_version;
        bool flex = req->flex;
        rill_broker_conf_t *defaults = NULL;
        rill__wbuf_t cfg;
        int32_t n;

        if (act && ctx->include_synonyms && ver >= 1)
                defaults = rill_broker_conf_new();
        rill__wb_init(&cfg, 1024);
        rill__wb_i32(w, 0); /* throttle_time_ms */
        n = echo_array(r, w, flex);
        for (int32_t i = 0; i < n && !r->err; i++) {
                int8_t type = rill__rb_i8(r);
                rill__str_t name = rill__rb_str(r, flex);
                int32_t nk = rill__rb_array(r, flex);
                rill__str_t *keys = NULL;
                int16_t ec = KERR_NONE;
                char msg[256] = "";
                int cnt = 0;

                if (act && nk >= 0)
                        keys = rill__calloc((size_t)nk + 1, sizeof(*keys));
                for (int32_t k = 0; k < nk && !r->err; k++) {
                        rill__str_t key = rill__rb_str(r, flex);
                        if (keys)
                                keys[k] = key;
                }
                rill__rb_tags(r, flex);
                if (!act)
                        continue;

                rill__wb_reset(&cfg);
                if (type == RES_TOPIC) {
                        const rill__topic_t *t =
                                name.len > 0 ? rill__topic_find(b, name.ptr, (size_t)name.len) : NULL;
                        if (!t) {
                                ec = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                                snprintf(msg, sizeof(msg), "Topic '%.*s' does not exist.",
                                         (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "");
                        } else {
                                cnt = describe_topic(b, t, keys, nk, ctx->include_synonyms, ver,
                                                     flex, &cfg, defaults);
                        }
                } else if (type == RES_BROKER) {
                        char idbuf[16];
                        snprintf(idbuf, sizeof(idbuf), "%" PRId32, rill_broker_node_id(b));
                        if (name.len > 0 && !rill__str_eq(name, idbuf)) {
                                ec = KERR_INVALID_REQUEST;
                                snprintf(msg, sizeof(msg),
                                         "Unexpected broker id, expected %s or empty string, but "
                                         "received %.*s",
                                         idbuf, (int)name.len, name.ptr);
                        } else if (name.len > 0) {
                                cnt = describe_broker(b, keys, nk, ctx->include_synonyms, ver, flex,
                                                      &cfg, defaults);
                        }
                        /* An empty name asks for cluster-wide dynamic defaults: none. */
                } else {
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg), "Unsupported resource type %d", type);
                }
                rill__free(keys);

                rill__wb_i16(w, ec);
                rill__wb_cstr(w, ec ? msg : NULL, flex);
                rill__wb_i8(w, type);
                rill__wb_rstr(w, name, flex);
                rill__wb_array(w, cnt, flex);
                rill__wb_raw(w, cfg.buf, cfg.len);
                rill__wb_tags(w, flex);
        }
        if (ver >= 1) {
                bool syn = rill__rb_bool(r);
                if (!act)
                        ctx->include_synonyms = syn;
        }
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
        rill__wb_free(&cfg);
        rill_broker_conf_destroy(defaults);
}

static rill__hres_t
handle_describe_configs(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, describe_configs);
}

/* ---- AlterConfigs ---- */

static void
alter_configs(rill__req_t *req, rill__rbuf_t *r, rill__wbuf_t *w, admin_ctx_t *ctx, bool act)
{
        rill_broker_t *b = req->broker;
        bool flex = req->flex;
        int32_t n;

        rill__wb_i32(w, 0); /* throttle_time_ms */
        n = echo_array(r, w, flex);
        for (int32_t i = 0; i < n && !r->err; i++) {
                int8_t type = rill__rb_i8(r);
                rill__str_t name = rill__rb_str(r, flex);
                rill__kv_t *kv = NULL;
                int nc = decode_configs(r, flex, act ? &kv : NULL);
                int16_t ec = KERR_NONE;
                char msg[512] = "";

                rill__rb_tags(r, flex);
                if (!act)
                        continue;
                if (type == RES_TOPIC) {
                        rill__topic_t *t =
                                name.len > 0 ? rill__topic_find(b, name.ptr, (size_t)name.len) : NULL;
                        if (!t) {
                                ec = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                                snprintf(msg, sizeof(msg), "Topic '%.*s' does not exist.",
                                         (int)RILL__MAX(name.len, 0), name.ptr ? name.ptr : "");
                        } else {
                                for (int k = 0; k < nc && !ec; k++)
                                        for (int j = 0; j < k && !ec; j++)
                                                if (!strcmp(kv[j].key, kv[k].key)) {
                                                        ec = KERR_INVALID_REQUEST;
                                                        snprintf(msg, sizeof(msg),
                                                                 "Error due to duplicate config "
                                                                 "keys: %s",
                                                                 kv[k].key);
                                                }
                                if (!ec)
                                        ec = check_topic_configs(&rill__broker_conf(b)->log, kv, nc,
                                                                 msg, sizeof(msg));
                                if (!ec) {
                                        ec = rill__topic_set_configs(b, t, kv, nc,
                                                                     ctx->validate_only, msg,
                                                                     sizeof(msg));
                                        if (ec == KERR_NONE && !ctx->validate_only)
                                                RILL_LOG_I(COMPONENT,
                                                           "topic %s: configuration replaced "
                                                           "(%d override(s))",
                                                           t->name, nc);
                                }
                        }
                } else if (type == RES_BROKER) {
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg),
                                 "Broker configuration cannot be changed at run time: set it in "
                                 "server.properties and restart the broker");
                } else {
                        ec = KERR_INVALID_REQUEST;
                        snprintf(msg, sizeof(msg), "Unsupported resource type %d", type);
                }
                free_configs(kv, nc);
                rill__wb_i16(w, ec);
                rill__wb_cstr(w, ec ? msg : NULL, flex);
                rill__wb_i8(w, type);
                rill__wb_rstr(w, name, flex);
                rill__wb_tags(w, flex);
        }
        {
                bool vo = rill__rb_bool(r);
                if (!act)
                        ctx->validate_only = vo;
        }
        rill__rb_tags(r, flex);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_alter_configs(rill__req_t *req, rill__wbuf_t *resp)
{
        return run_two_pass(req, resp, alter_configs);
}

/* ---- the API table ---- */

const rill__api_desc_t rill__admin_apis[] = {
        {KAPI_CREATE_TOPICS, 0, 4, INT16_MAX, "CreateTopics", handle_create_topics},
        {KAPI_DELETE_TOPICS, 0, 1, INT16_MAX, "DeleteTopics", handle_delete_topics},
        {KAPI_DELETE_RECORDS, 0, 1, INT16_MAX, "DeleteRecords", handle_delete_records},
        {KAPI_DESCRIBE_CONFIGS, 0, 2, INT16_MAX, "DescribeConfigs", handle_describe_configs},
        {KAPI_ALTER_CONFIGS, 0, 1, INT16_MAX, "AlterConfigs", handle_alter_configs},
        {KAPI_CREATE_PARTITIONS, 0, 1, INT16_MAX, "CreatePartitions", handle_create_partitions},
};
const int rill__admin_api_cnt = (int)RILL__ARRAY_SIZE(rill__admin_apis);
