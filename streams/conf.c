/*
 * conf.c - rill_conf_t: Kafka Streams configuration names with defaults and
 * validation, plus prefixed pass-through properties for librdkafka.
 */
#include "streams_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_STR, K_INT, K_ENUM } kind_t;

static const struct known {
        const char *key;
        kind_t kind;
        const char *def;
        int64_t min;
        const char *choices; /* '|'-separated for K_ENUM */
} known[] = {
        {"application.id", K_STR, NULL, 0, NULL},
        {"bootstrap.servers", K_STR, NULL, 0, NULL},
        {"client.id", K_STR, NULL, 0, NULL},
        {"num.stream.threads", K_INT, "1", 1, NULL},
        {"num.standby.replicas", K_INT, "0", 0, NULL},
        {"commit.interval.ms", K_INT, "30000", 0, NULL},
        {"state.dir", K_STR, "/tmp/rill-streams", 0, NULL},
        {"replication.factor", K_INT, "-1", -1, NULL},
        {"processing.guarantee", K_ENUM, "at_least_once", 0, "at_least_once|exactly_once_v2"},
        {"default.deserialization.exception.handler", K_ENUM, "fail", 0,
         "fail|log_and_continue|LogAndFailExceptionHandler|LogAndContinueExceptionHandler"},
        {"default.dsl.store", K_ENUM, "rocksDB", 0, "rocksDB|in_memory"},
        {"statestore.cache.max.bytes", K_INT, "10485760", 0, NULL},
        {"rill.uncaught.error.policy", K_ENUM, "shutdown_client", 0,
         "replace_thread|shutdown_client"},
        {"rill.startup.timeout.ms", K_INT, "30000", 1, NULL},
        {"rill.flush.timeout.ms", K_INT, "60000", 1, NULL},
};

static const char *const prefixes[] = {"consumer.", "producer.", "admin.", "kafka."};

static const struct known *
find_known(const char *key)
{
        for (size_t i = 0; i < RILL__ARRAY_SIZE(known); i++)
                if (!strcmp(known[i].key, key))
                        return &known[i];
        return NULL;
}

static bool
prefixed(const char *key)
{
        for (size_t i = 0; i < RILL__ARRAY_SIZE(prefixes); i++)
                if (!strncmp(key, prefixes[i], strlen(prefixes[i])) && key[strlen(prefixes[i])])
                        return true;
        return false;
}

static bool
enum_ok(const char *choices, const char *v)
{
        size_t n = strlen(v);
        const char *p = choices;
        while (p && *p) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                if (len == n && !strncmp(p, v, n))
                        return true;
                p = bar ? bar + 1 : NULL;
        }
        return false;
}

rill_conf_t *
rill_conf_new(void)
{
        return RILL__NEW(rill_conf_t);
}

static struct rill_conf_entry *
entry(const rill_conf_t *c, const char *key)
{
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->e[i].key, key))
                        return &c->e[i];
        return NULL;
}

rill_err_t
rill_conf_set(rill_conf_t *c, const char *key, const char *value, char *errstr,
              size_t errstr_size)
{
        const struct known *k;
        struct rill_conf_entry *e;

        if (!c || !key || !value) {
                rill__errf(errstr, errstr_size, "rill_conf_set: NULL argument");
                return RILL_ERR_CONFIG;
        }
        k = find_known(key);
        if (!k && !prefixed(key)) {
                rill__errf(errstr, errstr_size,
                           "unknown configuration key \"%s\" (librdkafka properties need a "
                           "\"consumer.\", \"producer.\", \"admin.\" or \"kafka.\" prefix)",
                           key);
                return RILL_ERR_CONFIG;
        }
        if (k && k->kind == K_INT) {
                char *end;
                long long v;
                errno = 0;
                v = strtoll(value, &end, 10);
                if (errno || end == value || *end || v < k->min) {
                        rill__errf(errstr, errstr_size,
                                   "invalid value \"%s\" for %s: expected an integer >= %lld",
                                   value, key, (long long)k->min);
                        return RILL_ERR_CONFIG;
                }
        } else if (k && k->kind == K_ENUM && !enum_ok(k->choices, value)) {
                rill__errf(errstr, errstr_size, "invalid value \"%s\" for %s: expected one of %s",
                           value, key, k->choices);
                return RILL_ERR_CONFIG;
        } else if (k && !strcmp(key, "application.id")) {
                if (!*value || strlen(value) > 200) {
                        rill__errf(errstr, errstr_size, "invalid application.id \"%s\"", value);
                        return RILL_ERR_CONFIG;
                }
                for (const char *p = value; *p; p++) {
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                              (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
                                rill__errf(errstr, errstr_size,
                                           "invalid application.id \"%s\": only letters, digits, "
                                           "'.', '_' and '-' are allowed (it prefixes topic names)",
                                           value);
                                return RILL_ERR_CONFIG;
                        }
                }
        }
        e = entry(c, key);
        if (e) {
                rill__free(e->value);
                e->value = rill__strdup(value);
                return RILL_OK;
        }
        if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 16;
                c->e = rill__realloc(c->e, c->cap * sizeof(*c->e));
        }
        c->e[c->n].key = rill__strdup(key);
        c->e[c->n].value = rill__strdup(value);
        c->n++;
        return RILL_OK;
}

const char *
rill__conf_str(const rill_conf_t *c, const char *key)
{
        const struct known *k;
        struct rill_conf_entry *e = c ? entry(c, key) : NULL;
        if (e)
                return e->value;
        k = find_known(key);
        return k ? k->def : NULL;
}

bool
rill__conf_is_set(const rill_conf_t *c, const char *key)
{
        return c && entry(c, key) != NULL;
}

int64_t
rill__conf_int(const rill_conf_t *c, const char *key)
{
        const char *v = rill__conf_str(c, key);
        return v ? strtoll(v, NULL, 10) : 0;
}

rill_err_t
rill_conf_get(const rill_conf_t *c, const char *key, char *buf, size_t buf_size)
{
        const char *v = rill__conf_str(c, key);
        size_t n;
        if (!v)
                return RILL_ERR_NOT_FOUND;
        n = strlen(v);
        if (buf_size) {
                size_t m = n < buf_size ? n : buf_size - 1;
                memcpy(buf, v, m);
                buf[m] = '\0';
        }
        return n < buf_size ? RILL_OK : RILL_ERR_TOO_LARGE;
}

rill_conf_t *
rill_conf_dup(const rill_conf_t *c)
{
        rill_conf_t *d = rill_conf_new();
        for (size_t i = 0; c && i < c->n; i++)
                rill_conf_set(d, c->e[i].key, c->e[i].value, NULL, 0);
        return d;
}

void
rill_conf_destroy(rill_conf_t *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                rill__free(c->e[i].key);
                rill__free(c->e[i].value);
        }
        rill__free(c->e);
        rill__free(c);
}
