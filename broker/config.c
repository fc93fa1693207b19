/*
 * config.c - broker (server.properties) and topic-level configuration.
 *
 * Design. Both the server keys and the topic-level keys are described by
 * static tables: a key's name, value type, valid range and where its value
 * lives (an offset into struct rill_broker_conf_s or rill__log_conf_t). One
 * generic parser validates a value against its descriptor and one generic
 * formatter writes it back as text, so setting, reading back (conf_get,
 * DescribeConfigs) and validation cannot drift apart.
 *
 * A set is transactional: the value is parsed into a scratch copy first and
 * the configuration is only touched once it is known to be valid. Every set
 * key (unknown ones too) is recorded in conf->kv in first-set order; keys
 * whose effective value depends on several settings (log.retention.{hours,
 * minutes,ms}, log.roll.{hours,ms}, log.dirs/log.dir, listeners and
 * advertised.listeners) are recomputed from conf->kv after every set, with
 * Kafka's precedence (the most precise unit wins; log.dirs beats log.dir).
 *
 * The server's log.* keys are the defaults of the topic-level keys; they are
 * parsed with the topic key's validator so both levels accept exactly the
 * same values, and stored in conf->log, which is what a new topic starts from.
 *
 * conf_load_file reads the Java .properties subset Kafka users write (see
 * props_next()) into a copy of the configuration and swaps it in only when
 * the whole file is valid, so a bad file changes nothing.
 *
 * Thread-safety: none; a configuration belongs to one thread at a time.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define COMPONENT "config"

/* ---- value types ---- */

typedef enum ctype {
        CT_I16,
        CT_I32,
        CT_I64,
        CT_BOOL,
        CT_DOUBLE,
        CT_STR,         /* char * field (or kv only), non-empty unless CF_EMPTY_OK */
        CT_LISTENERS,   /* char * field holding a validated listener list */
        CT_POLICY,      /* int cleanup-policy bits */
        CT_TSTYPE,      /* bool log_append_time */
        CT_COMPRESSION, /* int32_t RILL__COMPRESSION_* */
} ctype_t;

#define CF_IGNORED 0x1  /* accepted and validated, but has no effect */
#define CF_EMPTY_OK 0x2 /* CT_STR: the empty string is a valid value */
#define CF_DERIVED 0x4  /* effective value recomputed from kv (see derive()) */
#define CF_WARN 0x8     /* log a warning that the key is ignored */

#define NOOFF ((size_t)-1)

typedef struct field {
        const char *name;
        ctype_t type;
        int64_t min;
        int64_t max;
        size_t off;        /* offset of the value, NOOFF if kept in kv only */
        const char *dflt;  /* default as text; NULL = no value */
        int flags;
        const char *topic; /* server log.* keys: the topic key they default */
} field_t;

#define CO(f) offsetof(struct rill_broker_conf_s, f)
#define LO(f) (offsetof(struct rill_broker_conf_s, log) + offsetof(rill__log_conf_t, f))
#define TO(f) offsetof(rill__log_conf_t, f)

/* ---- topic-level keys ---- */

static const field_t topic_fields[] = {
        {"cleanup.policy", CT_POLICY, 0, 0, TO(cleanup_policy), "delete", 0, NULL},
        {"compression.type", CT_COMPRESSION, 0, 0, TO(compression_type), "producer", 0, NULL},
        {"delete.retention.ms", CT_I64, 0, INT64_MAX, TO(delete_retention_ms), "86400000", 0, NULL},
        {"flush.messages", CT_I64, 1, INT64_MAX, TO(flush_messages), "9223372036854775807", 0, NULL},
        {"flush.ms", CT_I64, 0, INT64_MAX, TO(flush_ms), "9223372036854775807", 0, NULL},
        {"index.interval.bytes", CT_I32, 0, INT32_MAX, TO(index_interval_bytes), "4096", 0, NULL},
        {"max.compaction.lag.ms", CT_I64, 1, INT64_MAX, TO(max_compaction_lag_ms),
         "9223372036854775807", 0, NULL},
        {"max.message.bytes", CT_I32, 0, INT32_MAX, TO(max_message_bytes), "1048588", 0, NULL},
        {"message.timestamp.type", CT_TSTYPE, 0, 0, TO(log_append_time), "CreateTime", 0, NULL},
        {"min.cleanable.dirty.ratio", CT_DOUBLE, 0, 1, TO(min_cleanable_dirty_ratio), "0.5", 0,
         NULL},
        {"min.compaction.lag.ms", CT_I64, 0, INT64_MAX, TO(min_compaction_lag_ms), "0", 0, NULL},
        {"min.insync.replicas", CT_I32, 1, INT32_MAX, TO(min_insync_replicas), "1", 0, NULL},
        {"retention.bytes", CT_I64, INT64_MIN, INT64_MAX, TO(retention_bytes), "-1", 0, NULL},
        {"retention.ms", CT_I64, -1, INT64_MAX, TO(retention_ms), "604800000", 0, NULL},
        {"segment.bytes", CT_I64, 14, INT32_MAX, TO(segment_bytes), "1073741824", 0, NULL},
        {"segment.index.bytes", CT_I32, 4, INT32_MAX, TO(segment_index_bytes), "10485760", 0,
         NULL},
        {"segment.ms", CT_I64, 1, INT64_MAX, TO(segment_ms), "604800000", 0, NULL},
        {"unclean.leader.election.enable", CT_BOOL, 0, 0, TO(unclean_leader_election_enable),
         "false", CF_IGNORED, NULL},
};

/* The server key that provides each topic key's default, same order. */
static const rill__topic_conf_key_t topic_keys[] = {
        {"cleanup.policy", "log.cleanup.policy"},
        {"compression.type", "compression.type"},
        {"delete.retention.ms", "log.cleaner.delete.retention.ms"},
        {"flush.messages", "log.flush.interval.messages"},
        {"flush.ms", "log.flush.interval.ms"},
        {"index.interval.bytes", "log.index.interval.bytes"},
        {"max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"},
        {"max.message.bytes", "message.max.bytes"},
        {"message.timestamp.type", "log.message.timestamp.type"},
        {"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"},
        {"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"},
        {"min.insync.replicas", "min.insync.replicas"},
        {"retention.bytes", "log.retention.bytes"},
        {"retention.ms", "log.retention.ms"},
        {"segment.bytes", "log.segment.bytes"},
        {"segment.index.bytes", "log.index.size.max.bytes"},
        {"segment.ms", "log.roll.ms"},
        {"unclean.leader.election.enable", "unclean.leader.election.enable"},
};

_Static_assert(RILL__ARRAY_SIZE(topic_fields) == RILL__ARRAY_SIZE(topic_keys),
               "topic_fields and topic_keys must match");

/* ---- server keys ---- */

#define I32MAX INT32_MAX
#define I64MAX INT64_MAX

static const field_t server_fields[] = {
        {"node.id", CT_I32, 0, I32MAX, CO(node_id), "1", 0, NULL},
        {"broker.id", CT_I32, 0, I32MAX, CO(node_id), "1", 0, NULL},
        {"listeners", CT_LISTENERS, 0, 0, CO(listeners), "PLAINTEXT://:9092", CF_DERIVED, NULL},
        {"advertised.listeners", CT_LISTENERS, 0, 0, CO(advertised_listeners), NULL, CF_DERIVED,
         NULL},
        {"listener.security.protocol.map", CT_STR, 0, 0, NOOFF,
         "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", CF_IGNORED,
         NULL},
        {"log.dirs", CT_STR, 0, 0, CO(log_dirs), "/tmp/kafka-logs", CF_DERIVED, NULL},
        {"log.dir", CT_STR, 0, 0, NOOFF, "/tmp/kafka-logs", CF_DERIVED, NULL},
        {"cluster.id", CT_STR, 0, 0, CO(cluster_id), NULL, 0, NULL},
        {"num.partitions", CT_I32, 1, I32MAX, CO(num_partitions), "1", 0, NULL},
        {"default.replication.factor", CT_I16, 1, INT16_MAX, CO(default_replication_factor), "1",
         0, NULL},
        {"min.insync.replicas", CT_I32, 1, I32MAX, CO(min_insync_replicas), "1", 0,
         "min.insync.replicas"},
        {"auto.create.topics.enable", CT_BOOL, 0, 0, CO(auto_create_topics_enable), "true", 0,
         NULL},
        {"delete.topic.enable", CT_BOOL, 0, 0, CO(delete_topic_enable), "true", 0, NULL},
        {"message.max.bytes", CT_I32, 0, I32MAX, CO(message_max_bytes), "1048588", 0,
         "max.message.bytes"},
        {"socket.request.max.bytes", CT_I32, 1, I32MAX, CO(socket_request_max_bytes),
         "104857600", 0, NULL},
        {"offsets.topic.num.partitions", CT_I32, 1, I32MAX, CO(offsets_topic_num_partitions),
         "50", 0, NULL},
        {"offsets.topic.replication.factor", CT_I16, 1, INT16_MAX,
         CO(offsets_topic_replication_factor), "3", 0, NULL},
        {"offsets.retention.minutes", CT_I64, 1, I32MAX, CO(offsets_retention_minutes), "10080",
         0, NULL},
        {"transaction.state.log.replication.factor", CT_I16, 1, INT16_MAX, NOOFF, "3", CF_IGNORED,
         NULL},
        {"transaction.state.log.min.isr", CT_I32, 1, I32MAX, NOOFF, "2", CF_IGNORED, NULL},
        {"transaction.state.log.num.partitions", CT_I32, 1, I32MAX, NOOFF, "50", CF_IGNORED, NULL},
        {"transaction.state.log.segment.bytes", CT_I32, 1, I32MAX, NOOFF, "104857600", CF_IGNORED,
         NULL},
        {"group.initial.rebalance.delay.ms", CT_I32, 0, I32MAX,
         CO(group_initial_rebalance_delay_ms), "3000", 0, NULL},
        {"group.min.session.timeout.ms", CT_I32, 0, I32MAX, CO(group_min_session_timeout_ms),
         "6000", 0, NULL},
        {"group.max.session.timeout.ms", CT_I32, 0, I32MAX, CO(group_max_session_timeout_ms),
         "1800000", 0, NULL},
        {"group.max.size", CT_I32, 1, I32MAX, CO(group_max_size), "2147483647", 0, NULL},
        {"log.retention.hours", CT_I32, INT32_MIN, I32MAX, NOOFF, "168", CF_DERIVED, NULL},
        {"log.retention.minutes", CT_I32, INT32_MIN, I32MAX, NOOFF, NULL, CF_DERIVED, NULL},
        {"log.retention.ms", CT_I64, INT64_MIN, I64MAX, LO(retention_ms), NULL, CF_DERIVED,
         "retention.ms"},
        {"log.retention.bytes", CT_I64, INT64_MIN, I64MAX, LO(retention_bytes), "-1", 0,
         "retention.bytes"},
        {"log.segment.bytes", CT_I64, 14, I32MAX, LO(segment_bytes), "1073741824", 0,
         "segment.bytes"},
        {"log.roll.hours", CT_I32, 1, I32MAX, NOOFF, "168", CF_DERIVED, NULL},
        {"log.roll.ms", CT_I64, 1, I64MAX, LO(segment_ms), NULL, CF_DERIVED, "segment.ms"},
        {"log.retention.check.interval.ms", CT_I64, 1, I64MAX, CO(log_retention_check_interval_ms),
         "300000", 0, NULL},
        {"log.cleanup.policy", CT_POLICY, 0, 0, LO(cleanup_policy), "delete", 0, "cleanup.policy"},
        {"log.cleaner.enable", CT_BOOL, 0, 0, CO(log_cleaner_enable), "true", 0, NULL},
        {"log.cleaner.backoff.ms", CT_I64, 0, I64MAX, CO(log_cleaner_backoff_ms), "15000", 0, NULL},
        {"log.cleaner.delete.retention.ms", CT_I64, 0, I64MAX, LO(delete_retention_ms), "86400000",
         0, "delete.retention.ms"},
        {"log.cleaner.min.compaction.lag.ms", CT_I64, 0, I64MAX, LO(min_compaction_lag_ms), "0", 0,
         "min.compaction.lag.ms"},
        {"log.cleaner.max.compaction.lag.ms", CT_I64, 1, I64MAX, LO(max_compaction_lag_ms),
         "9223372036854775807", 0, "max.compaction.lag.ms"},
        {"log.cleaner.min.cleanable.ratio", CT_DOUBLE, 0, 1, LO(min_cleanable_dirty_ratio), "0.5",
         0, "min.cleanable.dirty.ratio"},
        {"log.flush.interval.messages", CT_I64, 1, I64MAX, LO(flush_messages),
         "9223372036854775807", 0, "flush.messages"},
        {"log.flush.interval.ms", CT_I64, 0, I64MAX, LO(flush_ms), "9223372036854775807", 0,
         "flush.ms"},
        {"log.flush.scheduler.interval.ms", CT_I64, 0, I64MAX, NOOFF, "9223372036854775807",
         CF_IGNORED, NULL},
        {"log.index.interval.bytes", CT_I32, 0, I32MAX, LO(index_interval_bytes), "4096", 0,
         "index.interval.bytes"},
        {"log.index.size.max.bytes", CT_I32, 4, I32MAX, LO(segment_index_bytes), "10485760", 0,
         "segment.index.bytes"},
        {"log.message.timestamp.type", CT_TSTYPE, 0, 0, LO(log_append_time), "CreateTime", 0,
         "message.timestamp.type"},
        {"compression.type", CT_COMPRESSION, 0, 0, LO(compression_type), "producer", 0,
         "compression.type"},
        {"unclean.leader.election.enable", CT_BOOL, 0, 0, LO(unclean_leader_election_enable),
         "false", CF_IGNORED, "unclean.leader.election.enable"},
        {"num.network.threads", CT_I32, 1, I32MAX, CO(num_network_threads), "3", 0, NULL},
        {"num.io.threads", CT_I32, 1, I32MAX, CO(num_io_threads), "8", 0, NULL},
        {"socket.send.buffer.bytes", CT_I32, -1, I32MAX, NOOFF, "102400", CF_IGNORED, NULL},
        {"socket.receive.buffer.bytes", CT_I32, -1, I32MAX, NOOFF, "102400", CF_IGNORED, NULL},
        {"num.recovery.threads.per.data.dir", CT_I32, 1, I32MAX, NOOFF, "1", CF_IGNORED, NULL},
        {"process.roles", CT_STR, 0, 0, NOOFF, NULL, CF_IGNORED | CF_EMPTY_OK, NULL},
        {"controller.quorum.voters", CT_STR, 0, 0, NOOFF, NULL, CF_IGNORED | CF_EMPTY_OK, NULL},
        {"controller.quorum.bootstrap.servers", CT_STR, 0, 0, NOOFF, NULL,
         CF_IGNORED | CF_EMPTY_OK, NULL},
        {"controller.listener.names", CT_STR, 0, 0, NOOFF, NULL, CF_IGNORED | CF_EMPTY_OK, NULL},
        {"inter.broker.listener.name", CT_STR, 0, 0, NOOFF, NULL, CF_IGNORED, NULL},
        {"connections.max.idle.ms", CT_I64, INT64_MIN, I64MAX, CO(connections_max_idle_ms),
         "600000", 0, NULL},
        {"queued.max.requests", CT_I32, 1, I32MAX, CO(queued_max_requests), "500", 0, NULL},
        {"replica.lag.time.max.ms", CT_I64, 0, I64MAX, CO(replica_lag_time_max_ms), "30000", 0,
         NULL},
        {"zookeeper.connect", CT_STR, 0, 0, NOOFF, NULL, CF_IGNORED | CF_WARN | CF_EMPTY_OK, NULL},
        {"zookeeper.connection.timeout.ms", CT_I32, 0, I32MAX, NOOFF, "18000",
         CF_IGNORED | CF_WARN, NULL},
};

static const field_t *
field_find(const field_t *tab, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(tab[i].name, name))
                        return &tab[i];
        return NULL;
}

/* ---- scalar parsing ---- */

static void
bad_value(char *errstr, size_t errstr_size, const char *key, const char *value,
          const char *expected)
{
        rill__errf(errstr, errstr_size, "invalid value \"%s\" for %s: expected %s", value, key,
                   expected);
}

/* Copies @p v without leading and trailing whitespace into @p buf. */
static const char *
trimmed(const char *v, char *buf, size_t size)
{
        size_t n;
        while (isspace((unsigned char)*v))
                v++;
        n = strlen(v);
        while (n > 0 && isspace((unsigned char)v[n - 1]))
                n--;
        if (n >= size)
                n = size - 1;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
}

static void
range_text(int64_t min, int64_t max, const char *what, char *buf, size_t size)
{
        if (min == INT64_MIN && max == INT64_MAX)
                snprintf(buf, size, "%s", what);
        else if (max == INT64_MAX || (max == INT32_MAX && min > INT32_MIN) ||
                 (max == INT16_MAX && min > INT16_MIN))
                snprintf(buf, size, "%s >= %" PRId64, what, min);
        else
                snprintf(buf, size, "%s in [%" PRId64 ", %" PRId64 "]", what, min, max);
}

static bool
parse_int(const char *v, int64_t *out)
{
        char buf[64], *end;
        long long x;
        trimmed(v, buf, sizeof(buf));
        if (strlen(v) >= sizeof(buf) || !buf[0])
                return false;
        if (!isdigit((unsigned char)buf[0]) && !((buf[0] == '-' || buf[0] == '+') &&
                                                  isdigit((unsigned char)buf[1])))
                return false;
        errno = 0;
        x = strtoll(buf, &end, 10);
        if (errno || *end)
                return false;
        *out = x;
        return true;
}

static bool
parse_bool(const char *v, bool *out)
{
        char buf[16];
        if (strlen(v) >= sizeof(buf))
                return false;
        trimmed(v, buf, sizeof(buf));
        if (!strcasecmp(buf, "true"))
                *out = true;
        else if (!strcasecmp(buf, "false"))
                *out = false;
        else
                return false;
        return true;
}

/* Parses a cleanup.policy list ("delete", "compact", "compact,delete", in
 * any order, with optional spaces); returns the bits or -1. */
static int
parse_policy(const char *v)
{
        int bits = 0;
        const char *p = v;
        for (;;) {
                const char *s, *e;
                while (isspace((unsigned char)*p))
                        p++;
                s = p;
                while (*p && *p != ',')
                        p++;
                e = p;
                while (e > s && isspace((unsigned char)e[-1]))
                        e--;
                if (e - s == 6 && !strncasecmp(s, "delete", 6))
                        bits |= RILL__CLEANUP_DELETE;
                else if (e - s == 7 && !strncasecmp(s, "compact", 7))
                        bits |= RILL__CLEANUP_COMPACT;
                else
                        return -1;
                if (!*p)
                        break;
                p++;
        }
        return bits;
}

static const char *const compression_names[] = {"uncompressed", "gzip", "snappy", "lz4", "zstd"};

static int
parse_compression(const char *v, bool *ok)
{
        char buf[32];
        *ok = true;
        if (strlen(v) < sizeof(buf)) {
                trimmed(v, buf, sizeof(buf));
                if (!strcasecmp(buf, "producer"))
                        return RILL__COMPRESSION_PRODUCER;
                for (int i = 0; i < (int)RILL__ARRAY_SIZE(compression_names); i++)
                        if (!strcasecmp(buf, compression_names[i]))
                                return i;
        }
        *ok = false;
        return 0;
}

/* ---- listeners ---- */

void
rill__listener_clear(rill__listener_t *l)
{
        if (!l)
                return;
        rill__free(l->name);
        rill__free(l->host);
        l->name = NULL;
        l->host = NULL;
        l->port = 0;
}

static void
listener_copy(rill__listener_t *dst, const rill__listener_t *src)
{
        dst->name = src->name ? rill__strdup(src->name) : NULL;
        dst->host = src->host ? rill__strdup(src->host) : NULL;
        dst->port = src->port;
}

static bool
host_char_ok(char c)
{
        return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* Parses one "NAME://host:port" entry of @p len bytes. */
static rill_err_t
listener_parse_one(const char *s, size_t len, rill__listener_t *out, char *errstr,
                   size_t errstr_size)
{
        const char *sep, *end = s + len, *h, *he, *pp;
        char host[256];
        long port = 0;
        size_t hl;

        while (s < end && isspace((unsigned char)*s))
                s++;
        while (end > s && isspace((unsigned char)end[-1]))
                end--;
        sep = NULL;
        for (const char *p = s; p + 3 <= end; p++)
                if (!memcmp(p, "://", 3)) {
                        sep = p;
                        break;
                }
        if (!sep || sep == s) {
                rill__errf(errstr, errstr_size, "listener \"%.*s\" is not of the form NAME://host:port",
                           (int)(end - s), s);
                return RILL_ERR_CONFIG;
        }
        for (const char *p = s; p < sep; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
                        rill__errf(errstr, errstr_size,
                                   "listener \"%.*s\": invalid listener name \"%.*s\"",
                                   (int)(end - s), s, (int)(sep - s), s);
                        return RILL_ERR_CONFIG;
                }
        h = sep + 3;
        if (h < end && *h == '[') {
                /* Bracketed IPv6 literal. */
                he = memchr(h, ']', (size_t)(end - h));
                if (!he || he == h + 1) {
                        rill__errf(errstr, errstr_size, "listener \"%.*s\": bad IPv6 host",
                                   (int)(end - s), s);
                        return RILL_ERR_CONFIG;
                }
                for (const char *p = h + 1; p < he; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '%' &&
                            !isalnum((unsigned char)*p)) {
                                rill__errf(errstr, errstr_size, "listener \"%.*s\": bad IPv6 host",
                                           (int)(end - s), s);
                                return RILL_ERR_CONFIG;
                        }
                hl = (size_t)(he - h - 1);
                memcpy(host, h + 1, RILL__MIN(hl, sizeof(host) - 1));
                pp = he + 1;
        } else {
                pp = h;
                while (pp < end && *pp != ':') {
                        if (!host_char_ok(*pp)) {
                                rill__errf(errstr, errstr_size,
                                           "listener \"%.*s\": invalid character in host",
                                           (int)(end - s), s);
                                return RILL_ERR_CONFIG;
                        }
                        pp++;
                }
                hl = (size_t)(pp - h);
                memcpy(host, h, RILL__MIN(hl, sizeof(host) - 1));
        }
        if (hl >= sizeof(host)) {
                rill__errf(errstr, errstr_size, "listener \"%.*s\": host name too long",
                           (int)(end - s), s);
                return RILL_ERR_CONFIG;
        }
        host[hl] = '\0';
        if (pp >= end || *pp != ':' || pp + 1 >= end) {
                rill__errf(errstr, errstr_size, "listener \"%.*s\": missing :port", (int)(end - s),
                           s);
                return RILL_ERR_CONFIG;
        }
        for (const char *p = pp + 1; p < end; p++) {
                if (!isdigit((unsigned char)*p) || port > 65535) {
                        port = -1;
                        break;
                }
                port = port * 10 + (*p - '0');
        }
        if (port < 0 || port > 65535) {
                rill__errf(errstr, errstr_size,
                           "listener \"%.*s\": port must be an integer in [0, 65535]",
                           (int)(end - s), s);
                return RILL_ERR_CONFIG;
        }
        out->name = rill__strndup(s, (size_t)(sep - s));
        out->host = rill__strdup(host);
        out->port = (int)port;
        return RILL_OK;
}

/* Parses every entry of the comma list @p s (which must be non-empty and
 * have unique names) and returns the one named @p want, else the first one
 * whose name is not in the comma list @p skip_names, else the first. */
static rill_err_t
listeners_pick(const char *s, const char *want, const char *skip_names, rill__listener_t *out,
               char *errstr, size_t errstr_size)
{
        rill__listener_t all[32];
        int n = 0, pick = -1;
        const char *p = s;
        rill_err_t err = RILL_OK;

        memset(out, 0, sizeof(*out));
        for (;;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (n == (int)RILL__ARRAY_SIZE(all)) {
                        rill__errf(errstr, errstr_size, "too many listeners in \"%s\"", s);
                        err = RILL_ERR_CONFIG;
                        goto done;
                }
                err = listener_parse_one(p, len, &all[n], errstr, errstr_size);
                if (err)
                        goto done;
                for (int i = 0; i < n; i++)
                        if (!strcmp(all[i].name, all[n].name)) {
                                rill__errf(errstr, errstr_size,
                                           "listener name %s appears twice in \"%s\"",
                                           all[n].name, s);
                                n++;
                                err = RILL_ERR_CONFIG;
                                goto done;
                        }
                n++;
                if (!e)
                        break;
                p = e + 1;
        }
        for (int i = 0; i < n && pick < 0; i++)
                if (want && !strcmp(all[i].name, want))
                        pick = i;
        for (int i = 0; i < n && pick < 0; i++) {
                bool skip = false;
                const char *q = skip_names;
                size_t nl = strlen(all[i].name);
                while (q && *q) {
                        const char *e = strchr(q, ',');
                        size_t len = e ? (size_t)(e - q) : strlen(q);
                        while (len && isspace((unsigned char)*q)) {
                                q++;
                                len--;
                        }
                        while (len && isspace((unsigned char)q[len - 1]))
                                len--;
                        if (len == nl && !memcmp(q, all[i].name, nl))
                                skip = true;
                        q = e ? e + 1 : NULL;
                }
                if (!skip)
                        pick = i;
        }
        if (pick < 0)
                pick = 0;
        *out = all[pick];
        all[pick].name = NULL;
        all[pick].host = NULL;
done:
        for (int i = 0; i < n; i++)
                rill__listener_clear(&all[i]);
        return err;
}

rill_err_t
rill__listener_parse(const char *s, rill__listener_t *out, char *errstr, size_t errstr_size)
{
        if (!s || !*s) {
                rill__errf(errstr, errstr_size, "empty listener list");
                return RILL_ERR_CONFIG;
        }
        return listeners_pick(s, NULL, NULL, out, errstr, errstr_size);
}

/* ---- generic field access ---- */

/* Validates @p value for field @p f (errors name @p key) and, if @p base is
 * non-NULL, stores it at base + f->off. Strings are stored newly allocated
 * (the previous one freed). */
static rill_err_t
field_set(void *base, const field_t *f, const char *key, const char *value, char *errstr,
          size_t errstr_size)
{
        char what[96];
        int64_t i = 0;
        bool b = false;
        void *dst = base && f->off != NOOFF ? (char *)base + f->off : NULL;

        switch (f->type) {
        case CT_I16:
        case CT_I32:
        case CT_I64:
                if (!parse_int(value, &i) || i < f->min || i > f->max) {
                        range_text(f->min, f->max, "an integer", what, sizeof(what));
                        bad_value(errstr, errstr_size, key, value, what);
                        return RILL_ERR_CONFIG;
                }
                if (!dst)
                        break;
                if (f->type == CT_I16)
                        *(int16_t *)dst = (int16_t)i;
                else if (f->type == CT_I32)
                        *(int32_t *)dst = (int32_t)i;
                else
                        *(int64_t *)dst = i;
                break;
        case CT_BOOL:
                if (!parse_bool(value, &b)) {
                        bad_value(errstr, errstr_size, key, value, "true or false");
                        return RILL_ERR_CONFIG;
                }
                if (dst)
                        *(bool *)dst = b;
                break;
        case CT_DOUBLE: {
                char buf[64], *end;
                double d;
                trimmed(value, buf, sizeof(buf));
                errno = 0;
                d = strlen(value) < sizeof(buf) && buf[0] ? strtod(buf, &end) : NAN;
                if (isnan(d) || errno || *end || d < (double)f->min || d > (double)f->max) {
                        snprintf(what, sizeof(what), "a number in [%" PRId64 ", %" PRId64 "]",
                                 f->min, f->max);
                        bad_value(errstr, errstr_size, key, value, what);
                        return RILL_ERR_CONFIG;
                }
                if (dst)
                        *(double *)dst = d;
                break;
        }
        case CT_STR: {
                char buf[8];
                if (!(f->flags & CF_EMPTY_OK) && !*trimmed(value, buf, sizeof(buf))) {
                        bad_value(errstr, errstr_size, key, value, "a non-empty string");
                        return RILL_ERR_CONFIG;
                }
                if (dst) {
                        rill__free(*(char **)dst);
                        *(char **)dst = rill__strdup(value);
                }
                break;
        }
        case CT_LISTENERS: {
                rill__listener_t l;
                char msg[256];
                if (listeners_pick(value, NULL, NULL, &l, msg, sizeof(msg)) != RILL_OK) {
                        rill__errf(errstr, errstr_size,
                                   "invalid value \"%s\" for %s: expected a comma-separated list "
                                   "of NAME://host:port (%s)",
                                   value, key, msg);
                        return RILL_ERR_CONFIG;
                }
                rill__listener_clear(&l);
                if (dst) {
                        rill__free(*(char **)dst);
                        *(char **)dst = rill__strdup(value);
                }
                break;
        }
        case CT_POLICY: {
                int bits = parse_policy(value);
                if (bits < 0) {
                        bad_value(errstr, errstr_size, key, value,
                                  "delete, compact or compact,delete");
                        return RILL_ERR_CONFIG;
                }
                if (dst)
                        *(int *)dst = bits;
                break;
        }
        case CT_TSTYPE: {
                char buf[32];
                if (strlen(value) >= sizeof(buf))
                        buf[0] = '\0';
                else
                        trimmed(value, buf, sizeof(buf));
                if (!strcmp(buf, "CreateTime"))
                        b = false;
                else if (!strcmp(buf, "LogAppendTime"))
                        b = true;
                else {
                        bad_value(errstr, errstr_size, key, value, "CreateTime or LogAppendTime");
                        return RILL_ERR_CONFIG;
                }
                if (dst)
                        *(bool *)dst = b;
                break;
        }
        case CT_COMPRESSION: {
                bool ok;
                int c = parse_compression(value, &ok);
                if (!ok) {
                        bad_value(errstr, errstr_size, key, value,
                                  "one of producer, uncompressed, gzip, snappy, lz4, zstd");
                        return RILL_ERR_CONFIG;
                }
                if (dst)
                        *(int32_t *)dst = c;
                break;
        }
        }
        return RILL_OK;
}

/* Formats the value stored at base + f->off. Returns false if the value is
 * null (string fields holding NULL). */
static bool
field_get(const void *base, const field_t *f, char *buf, size_t size)
{
        const void *src = (const char *)base + f->off;
        switch (f->type) {
        case CT_I16:
                snprintf(buf, size, "%d", *(const int16_t *)src);
                break;
        case CT_I32:
                snprintf(buf, size, "%" PRId32, *(const int32_t *)src);
                break;
        case CT_I64:
                snprintf(buf, size, "%" PRId64, *(const int64_t *)src);
                break;
        case CT_BOOL:
                snprintf(buf, size, "%s", *(const bool *)src ? "true" : "false");
                break;
        case CT_DOUBLE:
                snprintf(buf, size, "%.17g", *(const double *)src);
                /* Prefer the shortest text that reads back exactly (0.5, not 0.50000...). */
                for (int prec = 1; prec < 17; prec++) {
                        char tmp[64];
                        snprintf(tmp, sizeof(tmp), "%.*g", prec, *(const double *)src);
                        if (strtod(tmp, NULL) == *(const double *)src) {
                                snprintf(buf, size, "%s", tmp);
                                break;
                        }
                }
                break;
        case CT_STR:
        case CT_LISTENERS:
                if (!*(char *const *)src) {
                        if (size)
                                buf[0] = '\0';
                        return false;
                }
                snprintf(buf, size, "%s", *(char *const *)src);
                break;
        case CT_POLICY: {
                int bits = *(const int *)src;
                snprintf(buf, size, "%s",
                         bits == (RILL__CLEANUP_COMPACT | RILL__CLEANUP_DELETE) ? "compact,delete"
                         : bits == RILL__CLEANUP_COMPACT                          ? "compact"
                                                                                   : "delete");
                break;
        }
        case CT_TSTYPE:
                snprintf(buf, size, "%s", *(const bool *)src ? "LogAppendTime" : "CreateTime");
                break;
        case CT_COMPRESSION: {
                int32_t c = *(const int32_t *)src;
                snprintf(buf, size, "%s",
                         c >= 0 && c < (int)RILL__ARRAY_SIZE(compression_names)
                                 ? compression_names[c]
                                 : "producer");
                break;
        }
        }
        return true;
}

/* ---- topic-level configuration ---- */

void
rill__log_conf_defaults(rill__log_conf_t *c)
{
        memset(c, 0, sizeof(*c));
        c->segment_bytes = 1073741824;
        c->segment_ms = 604800000;
        c->retention_ms = 604800000;
        c->retention_bytes = -1;
        c->cleanup_policy = RILL__CLEANUP_DELETE;
        c->delete_retention_ms = 86400000;
        c->min_compaction_lag_ms = 0;
        c->max_compaction_lag_ms = INT64_MAX;
        c->min_cleanable_dirty_ratio = 0.5;
        c->flush_messages = INT64_MAX;
        c->flush_ms = INT64_MAX;
        c->index_interval_bytes = 4096;
        c->max_message_bytes = 1048588;
        c->log_append_time = false;
        c->segment_index_bytes = 10485760;
        c->min_insync_replicas = 1;
        c->compression_type = RILL__COMPRESSION_PRODUCER;
        c->unclean_leader_election_enable = false;
}

const rill__topic_conf_key_t *
rill__topic_conf_keys(int *count)
{
        if (count)
                *count = (int)RILL__ARRAY_SIZE(topic_keys);
        return topic_keys;
}

const rill__topic_conf_key_t *
rill__topic_conf_key_find(const char *key)
{
        for (size_t i = 0; key && i < RILL__ARRAY_SIZE(topic_keys); i++)
                if (!strcmp(topic_keys[i].name, key))
                        return &topic_keys[i];
        return NULL;
}

rill_err_t
rill__topic_conf_set(rill__log_conf_t *c, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
        const field_t *f = field_find(topic_fields, RILL__ARRAY_SIZE(topic_fields), key);
        rill__log_conf_t tmp;
        rill_err_t err;

        if (!f) {
                rill__errf(errstr, errstr_size, "unknown topic configuration key %s", key);
                return RILL_ERR_NOT_FOUND;
        }
        if (!value) {
                rill__errf(errstr, errstr_size, "null value for topic configuration %s", key);
                return RILL_ERR_CONFIG;
        }
        tmp = *c;
        err = field_set(&tmp, f, key, value, errstr, errstr_size);
        if (!err)
                *c = tmp;
        return err;
}

rill_err_t
rill__topic_conf_get(const rill__log_conf_t *c, const char *key, char *buf, size_t size)
{
        const field_t *f = field_find(topic_fields, RILL__ARRAY_SIZE(topic_fields), key);
        if (!f)
                return RILL_ERR_NOT_FOUND;
        field_get(c, f, buf, size);
        return RILL_OK;
}

/* ---- the broker configuration ---- */

static rill__kv_t *
kv_find(const struct rill_broker_conf_s *c, const char *key)
{
        for (int i = 0; i < c->kv_cnt; i++)
                if (!strcmp(c->kv[i].key, key))
                        return &c->kv[i];
        return NULL;
}

const char *
rill__broker_conf_kv_get(const struct rill_broker_conf_s *c, const char *key)
{
        rill__kv_t *kv = kv_find(c, key);
        return kv ? kv->value : NULL;
}

static void
kv_put(struct rill_broker_conf_s *c, const char *key, const char *value)
{
        rill__kv_t *kv = kv_find(c, key);
        if (kv) {
                rill__free(kv->value);
                kv->value = rill__strdup(value);
                return;
        }
        if (c->kv_cnt == c->kv_cap) {
                c->kv_cap = c->kv_cap ? c->kv_cap * 2 : 16;
                c->kv = rill__realloc(c->kv, (size_t)c->kv_cap * sizeof(*c->kv));
        }
        c->kv[c->kv_cnt].key = rill__strdup(key);
        c->kv[c->kv_cnt].value = rill__strdup(value);
        c->kv_cnt++;
}

/* Recomputes the settings that depend on several keys. Every input in kv
 * has been validated when it was set, so nothing here can fail. */
static void
derive(struct rill_broker_conf_s *c)
{
        const char *v;
        int64_t x;

        /* Retention: log.retention.ms > .minutes > .hours (Kafka); negative = forever. */
        if ((v = rill__broker_conf_kv_get(c, "log.retention.ms")) && parse_int(v, &x))
                c->log.retention_ms = x;
        else if ((v = rill__broker_conf_kv_get(c, "log.retention.minutes")) && parse_int(v, &x))
                c->log.retention_ms = x * 60000;
        else if ((v = rill__broker_conf_kv_get(c, "log.retention.hours")) && parse_int(v, &x))
                c->log.retention_ms = x * 3600000;
        else
                c->log.retention_ms = 168 * 3600000LL;
        if (c->log.retention_ms < 0)
                c->log.retention_ms = -1;

        /* Segment roll: log.roll.ms > log.roll.hours. */
        if ((v = rill__broker_conf_kv_get(c, "log.roll.ms")) && parse_int(v, &x))
                c->log.segment_ms = x;
        else if ((v = rill__broker_conf_kv_get(c, "log.roll.hours")) && parse_int(v, &x))
                c->log.segment_ms = x * 3600000;
        else
                c->log.segment_ms = 168 * 3600000LL;

        /* The topic defaults that share a server key. */
        c->log.max_message_bytes = c->message_max_bytes;
        c->log.min_insync_replicas = c->min_insync_replicas;

        /* log.dirs beats log.dir. */
        if (!(v = rill__broker_conf_kv_get(c, "log.dirs")) &&
            !(v = rill__broker_conf_kv_get(c, "log.dir")))
                v = "/tmp/kafka-logs";
        if (!c->log_dirs || strcmp(c->log_dirs, v)) {
                rill__free(c->log_dirs);
                c->log_dirs = rill__strdup(v);
        }

        /* The listener the broker serves on: the first that is not a
         * controller listener; the advertised one with the same name. */
        rill__listener_clear(&c->listener);
        rill__listener_clear(&c->advertised);
        listeners_pick(c->listeners, NULL, rill__broker_conf_kv_get(c, "controller.listener.names"),
                       &c->listener, NULL, 0);
        if (c->advertised_listeners)
                listeners_pick(c->advertised_listeners, c->listener.name, NULL, &c->advertised,
                               NULL, 0);
        else
                listener_copy(&c->advertised, &c->listener);
}

rill_broker_conf_t *
rill_broker_conf_new(void)
{
        rill_broker_conf_t *c = RILL__NEW(rill_broker_conf_t);
        rill__log_conf_defaults(&c->log);
        for (size_t i = 0; i < RILL__ARRAY_SIZE(server_fields); i++) {
                const field_t *f = &server_fields[i];
                if (f->off != NOOFF && f->dflt)
                        field_set(c, f, f->name, f->dflt, NULL, 0);
        }
        derive(c);
        return c;
}

void
rill_broker_conf_destroy(rill_broker_conf_t *c)
{
        if (!c)
                return;
        rill__free(c->listeners);
        rill__free(c->advertised_listeners);
        rill__free(c->log_dirs);
        rill__free(c->cluster_id);
        rill__listener_clear(&c->listener);
        rill__listener_clear(&c->advertised);
        for (int i = 0; i < c->kv_cnt; i++) {
                rill__free(c->kv[i].key);
                rill__free(c->kv[i].value);
        }
        rill__free(c->kv);
        rill__free(c);
}

rill_broker_conf_t *
rill_broker_conf_dup(const rill_broker_conf_t *src)
{
        rill_broker_conf_t *c = RILL__NEW(rill_broker_conf_t);
        *c = *src;
        c->listeners = src->listeners ? rill__strdup(src->listeners) : NULL;
        c->advertised_listeners =
                src->advertised_listeners ? rill__strdup(src->advertised_listeners) : NULL;
        c->log_dirs = src->log_dirs ? rill__strdup(src->log_dirs) : NULL;
        c->cluster_id = src->cluster_id ? rill__strdup(src->cluster_id) : NULL;
        listener_copy(&c->listener, &src->listener);
        listener_copy(&c->advertised, &src->advertised);
        c->kv = NULL;
        c->kv_cnt = 0;
        c->kv_cap = 0;
        for (int i = 0; i < src->kv_cnt; i++)
                kv_put(c, src->kv[i].key, src->kv[i].value);
        return c;
}

rill_err_t
rill_broker_conf_set(rill_broker_conf_t *c, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
        const field_t *f;
        rill_err_t err;

        if (!c || !key || !*key) {
                rill__errf(errstr, errstr_size, "configuration key must be a non-empty string");
                return RILL_ERR_CONFIG;
        }
        if (!value) {
                rill__errf(errstr, errstr_size, "null value for %s", key);
                return RILL_ERR_CONFIG;
        }
        f = field_find(server_fields, RILL__ARRAY_SIZE(server_fields), key);
        if (!f) {
                if (!kv_find(c, key))
                        RILL_LOG_W(COMPONENT, "unknown configuration key %s (ignored)", key);
                kv_put(c, key, value);
                return RILL_OK;
        }
        /* Validate first: on error nothing changes. */
        err = field_set(NULL, f, key, value, errstr, errstr_size);
        if (err)
                return err;
        if ((f->flags & CF_WARN) && !kv_find(c, key))
                RILL_LOG_W(COMPONENT, "%s is ignored: Rill runs without ZooKeeper", key);
        else if ((f->flags & CF_IGNORED) && !kv_find(c, key))
                RILL_LOG_D(COMPONENT, "%s is accepted but has no effect", key);
        if (f->off != NOOFF)
                field_set(c, f, key, value, NULL, 0);
        kv_put(c, key, value);
        derive(c);
        return RILL_OK;
}

const char *
rill__broker_conf_key_at(int i, bool *ignored)
{
        if (i < 0 || i >= (int)RILL__ARRAY_SIZE(server_fields))
                return NULL;
        if (ignored)
                *ignored = (server_fields[i].flags & CF_IGNORED) != 0;
        return server_fields[i].name;
}

rill_err_t
rill__broker_conf_value(const struct rill_broker_conf_s *c, const char *key, char *buf,
                        size_t size, bool *is_null, bool *is_set)
{
        const field_t *f = field_find(server_fields, RILL__ARRAY_SIZE(server_fields), key);
        const char *kv = rill__broker_conf_kv_get(c, key);
        bool null = false;

        if (is_set)
                *is_set = kv != NULL;
        if (!f && !kv)
                return RILL_ERR_NOT_FOUND;
        if (f && f->off != NOOFF) {
                null = !field_get(c, f, buf, size);
        } else if (kv) {
                snprintf(buf, size, "%s", kv);
        } else if (f->dflt) {
                snprintf(buf, size, "%s", f->dflt);
        } else {
                null = true;
                if (size)
                        buf[0] = '\0';
        }
        if (is_null)
                *is_null = null;
        return RILL_OK;
}

rill_err_t
rill_broker_conf_get(const rill_broker_conf_t *c, const char *key, char *buf, size_t buf_size)
{
        if (!c || !key)
                return RILL_ERR_NOT_FOUND;
        return rill__broker_conf_value(c, key, buf, buf_size, NULL, NULL);
}

/* ---- .properties files ---- */

typedef struct props {
        const char *p, *end;
        int line;       /* line number of the next physical line */
} props_t;

static void
sb_putc(char **s, size_t *len, size_t *cap, char ch)
{
        if (*len + 1 >= *cap) {
                *cap = *cap ? *cap * 2 : 128;
                *s = rill__realloc(*s, *cap);
        }
        (*s)[(*len)++] = ch;
        (*s)[*len] = '\0';
}

static void
sb_utf8(char **s, size_t *len, size_t *cap, unsigned cp)
{
        if (cp < 0x80) {
                sb_putc(s, len, cap, (char)cp);
        } else if (cp < 0x800) {
                sb_putc(s, len, cap, (char)(0xc0 | (cp >> 6)));
                sb_putc(s, len, cap, (char)(0x80 | (cp & 0x3f)));
        } else {
                sb_putc(s, len, cap, (char)(0xe0 | (cp >> 12)));
                sb_putc(s, len, cap, (char)(0x80 | ((cp >> 6) & 0x3f)));
                sb_putc(s, len, cap, (char)(0x80 | (cp & 0x3f)));
        }
}

/* Reads the next logical line (physical lines joined where a line ends in
 * an odd number of backslashes; leading whitespace of continuation lines
 * dropped), skipping blank and comment lines. Returns a newly allocated
 * raw line (escapes kept) or NULL at the end; *lineno is its first line. */
static char *
props_next(props_t *ps, int *lineno)
{
        while (ps->p < ps->end) {
                char *out = NULL;
                size_t len = 0, cap = 0;
                bool first = true;

                *lineno = ps->line;
                for (;;) {
                        const char *s = ps->p, *e = s;
                        size_t bs = 0, n;
                        while (e < ps->end && *e != '\n' && *e != '\r')
                                e++;
                        /* Consume the terminator (\n, \r or \r\n). */
                        if (e + 1 < ps->end && e[0] == '\r' && e[1] == '\n')
                                ps->p = e + 2;
                        else if (e < ps->end)
                                ps->p = e + 1;
                        else
                                ps->p = e;
                        ps->line++;
                        while (s < e && (*s == ' ' || *s == '\t' || *s == '\f'))
                                s++;
                        if (first && (s == e || *s == '#' || *s == '!'))
                                break; /* blank or comment line */
                        for (const char *q = e; q > s && q[-1] == '\\'; q--)
                                bs++;
                        n = (size_t)(e - s) - (bs % 2);
                        for (size_t i = 0; i < n; i++)
                                sb_putc(&out, &len, &cap, s[i]);
                        first = false;
                        if (bs % 2 == 0 || ps->p >= ps->end)
                                break;
                }
                if (!first) {
                        if (!out)
                                out = rill__strdup("");
                        return out;
                }
        }
        return NULL;
}

/* Unescapes @p s[0..n) (Java .properties escapes) into a new string. */
static char *
props_unescape(const char *s, size_t n)
{
        char *out = rill__strdup("");
        size_t len = 0, cap = 1;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (ch != '\\' || i + 1 >= n) {
                        sb_putc(&out, &len, &cap, ch);
                        continue;
                }
                ch = s[++i];
                switch (ch) {
                case 't':
                        sb_putc(&out, &len, &cap, '\t');
                        break;
                case 'n':
                        sb_putc(&out, &len, &cap, '\n');
                        break;
                case 'r':
                        sb_putc(&out, &len, &cap, '\r');
                        break;
                case 'f':
                        sb_putc(&out, &len, &cap, '\f');
                        break;
                case 'u': {
                        unsigned cp = 0;
                        size_t k;
                        for (k = 0; k < 4 && i + 1 + k < n && isxdigit((unsigned char)s[i + 1 + k]);
                             k++) {
                                char hx = s[i + 1 + k];
                                cp = cp * 16 + (unsigned)(isdigit((unsigned char)hx)
                                                                  ? hx - '0'
                                                                  : tolower((unsigned char)hx) - 'a' + 10);
                        }
                        if (k == 4) {
                                sb_utf8(&out, &len, &cap, cp);
                                i += 4;
                        } else {
                                sb_putc(&out, &len, &cap, 'u');
                        }
                        break;
                }
                default:
                        sb_putc(&out, &len, &cap, ch);
                }
        }
        return out;
}

/* Splits a logical line into key and value (both unescaped, value with
 * trailing whitespace trimmed). */
static void
props_split(const char *line, char **key, char **value)
{
        const char *p = line, *ks = line, *vs;
        size_t n = strlen(line);
        while (*p) {
                if (*p == '\\' && p[1]) {
                        p += 2;
                        continue;
                }
                if (*p == '=' || *p == ':' || *p == ' ' || *p == '\t' || *p == '\f')
                        break;
                p++;
        }
        *key = props_unescape(ks, (size_t)(p - ks));
        while (*p == ' ' || *p == '\t' || *p == '\f')
                p++;
        if (*p == '=' || *p == ':')
                p++;
        while (*p == ' ' || *p == '\t' || *p == '\f')
                p++;
        vs = p;
        n = strlen(vs);
        /* Trim trailing whitespace that is not escaped. */
        while (n > 0 && (vs[n - 1] == ' ' || vs[n - 1] == '\t' || vs[n - 1] == '\f')) {
                size_t bs = 0;
                for (size_t k = n - 1; k > 0 && vs[k - 1] == '\\'; k--)
                        bs++;
                if (bs % 2)
                        break;
                n--;
        }
        *value = props_unescape(vs, n);
}

static void
conf_swap(rill_broker_conf_t *a, rill_broker_conf_t *b)
{
        rill_broker_conf_t tmp = *a;
        *a = *b;
        *b = tmp;
}

rill_err_t
rill_broker_conf_load_file(rill_broker_conf_t *conf, const char *path, char *errstr,
                           size_t errstr_size)
{
        FILE *fp;
        char *data = NULL, *line;
        size_t len = 0, cap = 0, n;
        rill_broker_conf_t *tmp;
        props_t ps;
        int lineno = 0;
        rill_err_t err = RILL_OK;

        if (!conf || !path) {
                rill__errf(errstr, errstr_size, "no configuration file given");
                return RILL_ERR_IO;
        }
        fp = fopen(path, "rb");
        if (!fp) {
                rill__errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return RILL_ERR_IO;
        }
        for (;;) {
                if (len + 4096 > cap) {
                        cap = cap ? cap * 2 : 8192;
                        data = rill__realloc(data, cap);
                }
                n = fread(data + len, 1, cap - len, fp);
                len += n;
                if (n == 0)
                        break;
        }
        if (ferror(fp)) {
                rill__errf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
                fclose(fp);
                rill__free(data);
                return RILL_ERR_IO;
        }
        fclose(fp);

        tmp = rill_broker_conf_dup(conf);
        ps.p = data;
        ps.end = data + len;
        ps.line = 1;
        while ((line = props_next(&ps, &lineno))) {
                char *key, *value, msg[512];
                props_split(line, &key, &value);
                rill__free(line);
                if (!*key) {
                        rill__errf(errstr, errstr_size, "%s:%d: missing key before \"%s\"", path,
                                   lineno, value);
                        err = RILL_ERR_CONFIG;
                } else if (rill_broker_conf_set(tmp, key, value, msg, sizeof(msg)) != RILL_OK) {
                        rill__errf(errstr, errstr_size, "%s:%d: %s: %s", path, lineno, key, msg);
                        err = RILL_ERR_CONFIG;
                }
                rill__free(key);
                rill__free(value);
                if (err)
                        break;
        }
        rill__free(data);
        if (!err)
                conf_swap(conf, tmp);
        rill_broker_conf_destroy(tmp);
        return err;
}
