/*
 * topology.c - the topology builder and build().
 *
 * The builder is an arena: every operator appends a node to the graph and
 * returns a new handle (rill_stream_t, rill_table_t, ...) that the builder
 * owns. A handle is a small struct naming the node that produces its records,
 * the key and value serdes of those records, and whether the key was changed
 * since the last (re)partitioning, which decides whether grouping needs a
 * repartition topic.
 *
 * Errors are latched: the first failure is recorded in the builder and a
 * "failed" handle is returned; operators on failed handles return failed
 * handles, and build() reports the error once.
 *
 * build() moves the nodes into an immutable rill_topology_t and computes:
 *  - sub-topologies: connected components of the graph in which repartition
 *    topics cut the edges (a sink into a repartition topic and the source
 *    reading it belong to different components) and processors sharing a
 *    store are joined;
 *  - which sub-topology owns each store and writes/reads each repartition
 *    topic.
 * Partition counts depend on the cluster and are computed when a driver or an
 * application starts (rill__topo_partitions()).
 *
 * Generated names are "<operation>-<origin>-<n>", where origin is the set of
 * source topics the node descends from and n counts earlier generated names
 * with the same prefix, so inserting a stateless operator renames nothing.
 */
#include "streams_int.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum { H_STREAM, H_TABLE, H_GROUPED, H_GROUPED_TABLE, H_BRANCHED } hkind_t;

typedef struct handle {
        rill_builder_t *b;
        hkind_t kind;
        bool failed;
        rill__node_t *node;
        rill_serde_t *kserde;
        rill_serde_t *vserde;
        bool key_changed;
        int store;                 /* tables: materialized store or -1 */
        char *prefix;              /* branched: branch name prefix */
        char *store_name;          /* tables: name of the store (owned) */
} handle_t;

struct rill_stream_s {
        handle_t h;
};
struct rill_table_s {
        handle_t h;
};
struct rill_grouped_s {
        handle_t h;
};
struct rill_grouped_table_s {
        handle_t h;
};
struct rill_branched_s {
        handle_t h;
};

struct rill_materialized_s {
        rill_builder_t *b;
        char *name;
        rill_store_type_t type;
        bool logging;
        bool caching;
        rill_serde_t *kserde;
        rill_serde_t *vserde;
        bool used;
};

struct rill_builder_s {
        rill__node_t **nodes;
        int nnodes;
        rill__store_def_t *stores;
        int nstores;
        rill__repart_def_t *reparts;
        int nreparts;
        handle_t **handles;
        int nhandles;
        rill_materialized_t **mats;
        int nmats;
        char **gen;                /* prefixes of generated names, one per name */
        int ngen;
        rill_err_t err;
        char errmsg[512];
        bool built;
};

#define GROW(arr, n) ((arr) = rill__realloc((arr), sizeof(*(arr)) * (size_t)((n) + 1)))

static void
latch(rill_builder_t *b, rill_err_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
latch(rill_builder_t *b, rill_err_t err, const char *fmt, ...)
{
        va_list ap;
        if (b->err != RILL_OK)
                return;
        b->err = err;
        va_start(ap, fmt);
        vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
        va_end(ap);
}

static handle_t *
handle_new(rill_builder_t *b, hkind_t kind, size_t size)
{
        handle_t *h = rill__calloc(1, size);
        h->b = b;
        h->kind = kind;
        h->store = -1;
        GROW(b->handles, b->nhandles);
        b->handles[b->nhandles++] = h;
        return h;
}

static handle_t *
failed_handle(rill_builder_t *b, hkind_t kind)
{
        handle_t *h = handle_new(b, kind, sizeof(handle_t));
        h->failed = true;
        return h;
}

/* Shared entry check of operators: NULL in -> NULL; built or failed -> failed. */
static bool
usable(const handle_t *h)
{
        if (h->b->built) {
                latch(h->b, RILL_ERR_STATE, "the builder was already built");
                return false;
        }
        return !h->failed;
}

static char *
sanitize(const char *s)
{
        size_t n = strlen(s);
        char *r;
        if (n > 120) {
                r = rill__asprintf("%.100s_%08x", s, (unsigned)rill__murmur2(s, n));
        } else {
                r = rill__strdup(s);
        }
        for (char *p = r; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                        *p = '_';
        return r;
}

static char *
gen_name(rill_builder_t *b, const char *op, const char *origin)
{
        char *o = sanitize(origin ? origin : "none");
        char *prefix = rill__asprintf("%s-%s", op, o);
        int n = 0;
        char *name;
        for (int i = 0; i < b->ngen; i++)
                if (!strcmp(b->gen[i], prefix))
                        n++;
        GROW(b->gen, b->ngen);
        b->gen[b->ngen++] = prefix;
        name = rill__asprintf("%s-%d", prefix, n);
        rill__free(o);
        return name;
}

static bool
valid_name(const char *s)
{
        if (!s || !*s || strlen(s) > 200)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                        return false;
        return true;
}

static char *
origin_join(const char *a, const char *b)
{
        if (!a)
                return rill__strdup(b ? b : "none");
        if (!b || !strcmp(a, b))
                return rill__strdup(a);
        return rill__asprintf("%s+%s", a, b);
}

static rill__node_t *
node_new(rill_builder_t *b, rill__node_kind_t kind, const char *kindname, rill__node_t *parent)
{
        rill__node_t *n = RILL__NEW(rill__node_t);
        n->id = b->nnodes;
        n->kind = kind;
        n->name = rill__asprintf("%s-%04d", kindname, n->id);
        n->store = -1;
        n->repart = -1;
        n->sub = -1;
        GROW(b->nodes, b->nnodes);
        b->nodes[b->nnodes++] = n;
        if (parent) {
                GROW(parent->children, parent->nchildren);
                parent->children[parent->nchildren++] = n;
                GROW(n->parents, n->nparents);
                n->parents[n->nparents++] = parent;
                n->origin = rill__strdup(parent->origin);
        }
        return n;
}

static void
node_free(rill__node_t *n)
{
        for (int i = 0; i < n->ntopics; i++)
                rill__free(n->topics[i]);
        rill__free(n->topics);
        if (n->regex) {
                regfree(n->regex);
                rill__free(n->regex);
        }
        rill__free(n->pattern);
        rill__free(n->topic);
        rill__free(n->name);
        rill__free(n->origin);
        rill__free(n->children);
        rill__free(n->parents);
        rill__free(n->stores);
        rill__serde_unref(n->kserde);
        rill__serde_unref(n->vserde);
        rill__free(n);
}

static rill_stream_t *
stream_new(rill_builder_t *b, rill__node_t *node, rill_serde_t *k, rill_serde_t *v, bool key_changed)
{
        handle_t *h = handle_new(b, H_STREAM, sizeof(rill_stream_t));
        h->node = node;
        h->kserde = k ? k : rill_serde_bytes();
        h->vserde = v ? v : rill_serde_bytes();
        h->key_changed = key_changed;
        return (rill_stream_t *)h;
}

static rill_table_t *
table_new(rill_builder_t *b, rill__node_t *node, rill_serde_t *k, rill_serde_t *v, int store)
{
        handle_t *h = handle_new(b, H_TABLE, sizeof(rill_table_t));
        h->node = node;
        h->kserde = k ? k : rill_serde_bytes();
        h->vserde = v ? v : rill_serde_bytes();
        h->store = store;
        return (rill_table_t *)h;
}

/* ---- builder ---- */

rill_builder_t *
rill_builder_new(void)
{
        return RILL__NEW(rill_builder_t);
}

static void
store_def_free(rill__store_def_t *s)
{
        rill__free(s->name);
        rill__serde_unref(s->kserde);
        rill__serde_unref(s->vserde);
}

void
rill_builder_destroy(rill_builder_t *b)
{
        if (!b)
                return;
        if (!b->built) {
                for (int i = 0; i < b->nnodes; i++)
                        node_free(b->nodes[i]);
                for (int i = 0; i < b->nstores; i++)
                        store_def_free(&b->stores[i]);
                for (int i = 0; i < b->nreparts; i++)
                        rill__free(b->reparts[i].name);
                rill__free(b->nodes);
                rill__free(b->stores);
                rill__free(b->reparts);
        }
        for (int i = 0; i < b->nhandles; i++) {
                rill__free(b->handles[i]->prefix);
                rill__free(b->handles[i]->store_name);
                rill__free(b->handles[i]);
        }
        for (int i = 0; i < b->nmats; i++) {
                rill__free(b->mats[i]->name);
                rill__serde_unref(b->mats[i]->kserde);
                rill__serde_unref(b->mats[i]->vserde);
                rill__free(b->mats[i]);
        }
        for (int i = 0; i < b->ngen; i++)
                rill__free(b->gen[i]);
        rill__free(b->gen);
        rill__free(b->handles);
        rill__free(b->mats);
        rill__free(b);
}

rill_err_t
rill_builder_error(const rill_builder_t *b, char *errstr, size_t errstr_size)
{
        if (b->err != RILL_OK)
                rill__errf(errstr, errstr_size, "%s", b->errmsg);
        return b->err;
}

/* ---- materialized ---- */

rill_materialized_t *
rill_materialized(rill_builder_t *b, const char *store_name)
{
        rill_materialized_t *m = RILL__NEW(rill_materialized_t);
        m->b = b;
        m->logging = true;
        m->caching = true; /* as in Kafka Streams; processor stores ignore it */
        if (store_name) {
                if (!valid_name(store_name))
                        latch(b, RILL_ERR_INVALID_ARG,
                              "invalid store name \"%s\": use 1-200 letters, digits, '.', '_', '-'",
                              store_name);
                m->name = rill__strdup(store_name);
        }
        GROW(b->mats, b->nmats);
        b->mats[b->nmats++] = m;
        return m;
}

rill_materialized_t *
rill_materialized_with_type(rill_materialized_t *m, rill_store_type_t type)
{
        if (m)
                m->type = type;
        return m;
}

rill_materialized_t *
rill_materialized_with_logging(rill_materialized_t *m, bool on)
{
        if (m)
                m->logging = on;
        return m;
}

rill_materialized_t *
rill_materialized_with_caching(rill_materialized_t *m, bool on)
{
        if (m)
                m->caching = on;
        return m;
}

rill_materialized_t *
rill_materialized_with_serdes(rill_materialized_t *m, rill_serde_t *key, rill_serde_t *value)
{
        if (!m)
                return m;
        if (key) {
                rill__serde_unref(m->kserde);
                m->kserde = rill__serde_ref(key);
        }
        if (value) {
                rill__serde_unref(m->vserde);
                m->vserde = rill__serde_ref(value);
        }
        return m;
}

static int
find_store(const rill_builder_t *b, const char *name)
{
        for (int i = 0; i < b->nstores; i++)
                if (!strcmp(b->stores[i].name, name))
                        return i;
        return -1;
}

/* Adds a store for @p m (may be NULL); returns its index or -1 (latched). */
static int
add_store(rill_builder_t *b, rill_materialized_t *m, const char *op, const char *origin,
          rill_serde_t *k, rill_serde_t *v)
{
        rill__store_def_t *s;
        char *name;

        if (m && m->b != b) {
                latch(b, RILL_ERR_INVALID_ARG, "a materialized store spec from another builder");
                return -1;
        }
        if (m && m->used) {
                latch(b, RILL_ERR_EXISTS, "store spec \"%s\" used twice",
                      m->name ? m->name : "(generated)");
                return -1;
        }
        name = m && m->name ? rill__strdup(m->name) : gen_name(b, op, origin);
        if (find_store(b, name) >= 0) {
                latch(b, RILL_ERR_EXISTS, "a store named \"%s\" already exists", name);
                rill__free(name);
                return -1;
        }
        if (m)
                m->used = true;
        GROW(b->stores, b->nstores);
        s = &b->stores[b->nstores];
        memset(s, 0, sizeof(*s));
        s->name = name;
        s->type = m ? m->type : RILL_STORE_DEFAULT;
        s->logging = m ? m->logging : true;
        s->caching = m ? m->caching : true;
        s->kserde = rill__serde_ref(m && m->kserde ? m->kserde : (k ? k : rill_serde_bytes()));
        s->vserde = rill__serde_ref(m && m->vserde ? m->vserde : (v ? v : rill_serde_bytes()));
        s->sub = -1;
        s->generated = !(m && m->name);
        return b->nstores++;
}

rill_err_t
rill_builder_add_store(rill_builder_t *b, rill_materialized_t *m)
{
        if (b->built) {
                latch(b, RILL_ERR_STATE, "the builder was already built");
                return RILL_ERR_STATE;
        }
        if (!m || !m->name) {
                latch(b, RILL_ERR_INVALID_ARG, "rill_builder_add_store: the store needs a name");
                return RILL_ERR_INVALID_ARG;
        }
        if (add_store(b, m, "store", NULL, NULL, NULL) < 0)
                return b->err;
        return RILL_OK;
}

/* ---- sources ---- */

static bool
topic_taken(rill_builder_t *b, const char *topic)
{
        for (int i = 0; i < b->nnodes; i++) {
                rill__node_t *n = b->nodes[i];
                if (n->kind != RILL__N_SOURCE || n->internal)
                        continue;
                for (int j = 0; j < n->ntopics; j++)
                        if (!strcmp(n->topics[j], topic))
                                return true;
        }
        return false;
}

static rill__node_t *
source_node(rill_builder_t *b, const char *const *topics, size_t ntopics, rill_serde_t *k,
            rill_serde_t *v)
{
        rill__node_t *n;
        char *origin = NULL;

        if (b->built) {
                latch(b, RILL_ERR_STATE, "the builder was already built");
                return NULL;
        }
        if (!topics || ntopics == 0) {
                latch(b, RILL_ERR_INVALID_ARG, "a source needs at least one topic");
                return NULL;
        }
        for (size_t i = 0; i < ntopics; i++) {
                if (!topics[i] || !valid_name(topics[i])) {
                        latch(b, RILL_ERR_INVALID_ARG, "invalid topic name \"%s\"",
                              topics[i] ? topics[i] : "(null)");
                        return NULL;
                }
                if (topic_taken(b, topics[i])) {
                        latch(b, RILL_ERR_TOPOLOGY,
                              "topic \"%s\" is already read by another source", topics[i]);
                        return NULL;
                }
        }
        n = node_new(b, RILL__N_SOURCE, "source", NULL);
        n->topics = rill__calloc(ntopics, sizeof(char *));
        for (size_t i = 0; i < ntopics; i++) {
                char *o;
                n->topics[i] = rill__strdup(topics[i]);
                o = origin_join(origin, topics[i]);
                rill__free(origin);
                origin = o;
        }
        n->ntopics = (int)ntopics;
        n->origin = origin;
        n->kserde = rill__serde_ref(k ? k : rill_serde_bytes());
        n->vserde = rill__serde_ref(v ? v : rill_serde_bytes());
        return n;
}

rill_stream_t *
rill_builder_stream_topics(rill_builder_t *b, const char *const *topics, size_t ntopics,
                           rill_serde_t *key, rill_serde_t *value)
{
        rill__node_t *n = source_node(b, topics, ntopics, key, value);
        if (!n)
                return (rill_stream_t *)failed_handle(b, H_STREAM);
        return stream_new(b, n, key, value, false);
}

rill_stream_t *
rill_builder_stream(rill_builder_t *b, const char *topic, rill_serde_t *key, rill_serde_t *value)
{
        const char *topics[1] = {topic};
        return rill_builder_stream_topics(b, topics, 1, key, value);
}

rill_stream_t *
rill_builder_stream_pattern(rill_builder_t *b, const char *pattern, rill_serde_t *key,
                            rill_serde_t *value)
{
        rill__node_t *n;
        regex_t *re;
        char *anchored;
        int rc;

        if (b->built) {
                latch(b, RILL_ERR_STATE, "the builder was already built");
                return (rill_stream_t *)failed_handle(b, H_STREAM);
        }
        if (!pattern || !*pattern) {
                latch(b, RILL_ERR_INVALID_ARG, "empty topic pattern");
                return (rill_stream_t *)failed_handle(b, H_STREAM);
        }
        re = RILL__NEW(regex_t);
        anchored = rill__asprintf("^(%s)$", pattern);
        rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
        rill__free(anchored);
        if (rc != 0) {
                char msg[128];
                regerror(rc, re, msg, sizeof(msg));
                rill__free(re);
                latch(b, RILL_ERR_INVALID_ARG, "invalid topic pattern \"%s\": %s", pattern, msg);
                return (rill_stream_t *)failed_handle(b, H_STREAM);
        }
        n = node_new(b, RILL__N_SOURCE, "source", NULL);
        n->pattern = rill__strdup(pattern);
        n->regex = re;
        n->origin = rill__asprintf("pattern-%s", pattern);
        n->kserde = rill__serde_ref(key ? key : rill_serde_bytes());
        n->vserde = rill__serde_ref(value ? value : rill_serde_bytes());
        return stream_new(b, n, key, value, false);
}

static rill__node_t *
to_table_node(rill_builder_t *b, rill__node_t *parent, int store)
{
        rill__node_t *n = node_new(b, RILL__N_TO_TABLE, "to-table", parent);
        n->store = store;
        return n;
}

static void
table_remember_store(handle_t *h, rill_builder_t *b)
{
        if (h->store >= 0)
                h->store_name = rill__strdup(b->stores[h->store].name);
}

rill_table_t *
rill_builder_table(rill_builder_t *b, const char *topic, rill_serde_t *key, rill_serde_t *value,
                   rill_materialized_t *m)
{
        const char *topics[1] = {topic};
        rill__node_t *src = source_node(b, topics, 1, key, value);
        rill_table_t *t;
        int store;

        if (!src)
                return (rill_table_t *)failed_handle(b, H_TABLE);
        store = add_store(b, m, "table-source", src->origin, key, value);
        if (store < 0)
                return (rill_table_t *)failed_handle(b, H_TABLE);
        t = table_new(b, to_table_node(b, src, store), key, value, store);
        table_remember_store(&t->h, b);
        return t;
}

/* ---- stream operators ---- */

#define ENTER(hd, kind)                                                        \
        do {                                                                   \
                if (!(hd))                                                     \
                        return NULL;                                           \
                if (!usable(&(hd)->h))                                         \
                        return (void *)failed_handle((hd)->h.b, kind);         \
        } while (0)

rill_stream_t *
rill_stream_named(rill_stream_t *s, const char *name)
{
        if (!s || !usable(&s->h))
                return s;
        if (!valid_name(name)) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "invalid node name \"%s\"", name ? name : "");
                return s;
        }
        for (int i = 0; i < s->h.b->nnodes; i++) {
                if (!strcmp(s->h.b->nodes[i]->name, name)) {
                        latch(s->h.b, RILL_ERR_EXISTS, "a node named \"%s\" already exists", name);
                        return s;
                }
        }
        rill__free(s->h.node->name);
        s->h.node->name = rill__strdup(name);
        return s;
}

rill_stream_t *
rill_stream_with_serdes(rill_stream_t *s, rill_serde_t *key, rill_serde_t *value)
{
        ENTER(s, H_STREAM);
        return stream_new(s->h.b, s->h.node, key ? key : s->h.kserde,
                          value ? value : s->h.vserde, s->h.key_changed);
}

static rill_stream_t *
filter_common(rill_stream_t *s, rill_predicate_fn *pred, void *opaque, bool negate)
{
        rill__node_t *n;
        ENTER(s, H_STREAM);
        if (!pred) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "filter: NULL predicate");
                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
        }
        n = node_new(s->h.b, RILL__N_FILTER, negate ? "filter-not" : "filter", s->h.node);
        n->pred = pred;
        n->opaque = opaque;
        n->negate = negate;
        return stream_new(s->h.b, n, s->h.kserde, s->h.vserde, s->h.key_changed);
}

rill_stream_t *
rill_stream_filter(rill_stream_t *s, rill_predicate_fn *pred, void *opaque)
{
        return filter_common(s, pred, opaque, false);
}

rill_stream_t *
rill_stream_filter_not(rill_stream_t *s, rill_predicate_fn *pred, void *opaque)
{
        return filter_common(s, pred, opaque, true);
}

static rill_stream_t *
map_common(rill_stream_t *s, rill_mapper_fn *fn, void *opaque, const char *kindname,
           rill__out_mode_t mode, bool single)
{
        rill__node_t *n;
        ENTER(s, H_STREAM);
        if (!fn) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "%s: NULL mapper", kindname);
                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
        }
        n = node_new(s->h.b, RILL__N_MAP, kindname, s->h.node);
        n->mapper = fn;
        n->opaque = opaque;
        n->out_mode = mode;
        n->single = single;
        return stream_new(s->h.b, n, s->h.kserde, s->h.vserde,
                          s->h.key_changed || mode != RILL__OUT_VALUE);
}

rill_stream_t *
rill_stream_map(rill_stream_t *s, rill_mapper_fn *fn, void *opaque)
{
        return map_common(s, fn, opaque, "map", RILL__OUT_KV, true);
}

rill_stream_t *
rill_stream_map_values(rill_stream_t *s, rill_mapper_fn *fn, void *opaque)
{
        return map_common(s, fn, opaque, "map-values", RILL__OUT_VALUE, true);
}

rill_stream_t *
rill_stream_flat_map(rill_stream_t *s, rill_mapper_fn *fn, void *opaque)
{
        return map_common(s, fn, opaque, "flat-map", RILL__OUT_KV, false);
}

rill_stream_t *
rill_stream_flat_map_values(rill_stream_t *s, rill_mapper_fn *fn, void *opaque)
{
        return map_common(s, fn, opaque, "flat-map-values", RILL__OUT_VALUE, false);
}

rill_stream_t *
rill_stream_select_key(rill_stream_t *s, rill_mapper_fn *fn, void *opaque)
{
        return map_common(s, fn, opaque, "select-key", RILL__OUT_KEY, true);
}

rill_stream_t *
rill_stream_peek(rill_stream_t *s, rill_action_fn *fn, void *opaque)
{
        rill__node_t *n;
        ENTER(s, H_STREAM);
        if (!fn) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "peek: NULL action");
                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
        }
        n = node_new(s->h.b, RILL__N_PEEK, "peek", s->h.node);
        n->action = fn;
        n->opaque = opaque;
        return stream_new(s->h.b, n, s->h.kserde, s->h.vserde, s->h.key_changed);
}

void
rill_stream_foreach(rill_stream_t *s, rill_action_fn *fn, void *opaque)
{
        rill__node_t *n;
        if (!s || !usable(&s->h))
                return;
        if (!fn) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "foreach: NULL action");
                return;
        }
        n = node_new(s->h.b, RILL__N_PEEK, "foreach", s->h.node);
        n->action = fn;
        n->opaque = opaque;
}

rill_branched_t *
rill_stream_split(rill_stream_t *s, const char *name)
{
        handle_t *h;
        rill__node_t *n;
        ENTER(s, H_BRANCHED);
        n = node_new(s->h.b, RILL__N_SPLIT, "split", s->h.node);
        h = handle_new(s->h.b, H_BRANCHED, sizeof(rill_branched_t));
        h->node = n;
        h->kserde = s->h.kserde;
        h->vserde = s->h.vserde;
        h->key_changed = s->h.key_changed;
        h->prefix = rill__strdup(name ? name : n->name);
        return (rill_branched_t *)h;
}

static rill_stream_t *
branch_common(rill_branched_t *br, rill_predicate_fn *pred, void *opaque, const char *name)
{
        rill__node_t *n;
        char *full;
        ENTER(br, H_STREAM);
        for (int i = 0; i < br->h.node->nchildren; i++) {
                if (!br->h.node->children[i]->pred) {
                        latch(br->h.b, RILL_ERR_TOPOLOGY,
                              "split %s: no branch may follow the default branch", br->h.prefix);
                        return (rill_stream_t *)failed_handle(br->h.b, H_STREAM);
                }
        }
        n = node_new(br->h.b, RILL__N_BRANCH, "branch", br->h.node);
        n->pred = pred;
        n->opaque = opaque;
        full = rill__asprintf("%s%s", br->h.prefix,
                              name ? name : (pred ? "" : "default"));
        if (name || !pred) {
                rill__free(n->name);
                n->name = full;
        } else {
                rill__free(full);
        }
        return stream_new(br->h.b, n, br->h.kserde, br->h.vserde, br->h.key_changed);
}

rill_stream_t *
rill_branched_branch(rill_branched_t *br, rill_predicate_fn *pred, void *opaque, const char *name)
{
        if (br && !pred && usable(&br->h)) {
                latch(br->h.b, RILL_ERR_INVALID_ARG, "split branch: NULL predicate");
                return (rill_stream_t *)failed_handle(br->h.b, H_STREAM);
        }
        return branch_common(br, pred, opaque, name);
}

rill_stream_t *
rill_branched_default(rill_branched_t *br, const char *name)
{
        return branch_common(br, NULL, NULL, name);
}

rill_stream_t *
rill_stream_merge(rill_stream_t *a, rill_stream_t *b)
{
        rill__node_t *n;
        char *o;
        if (!a || !b)
                return NULL;
        if (a->h.b != b->h.b) {
                latch(a->h.b, RILL_ERR_INVALID_ARG, "merge: streams from different builders");
                return (rill_stream_t *)failed_handle(a->h.b, H_STREAM);
        }
        ENTER(a, H_STREAM);
        ENTER(b, H_STREAM);
        n = node_new(a->h.b, RILL__N_MERGE, "merge", a->h.node);
        GROW(b->h.node->children, b->h.node->nchildren);
        b->h.node->children[b->h.node->nchildren++] = n;
        GROW(n->parents, n->nparents);
        n->parents[n->nparents++] = b->h.node;
        o = origin_join(a->h.node->origin, b->h.node->origin);
        rill__free(n->origin);
        n->origin = o;
        return stream_new(a->h.b, n, a->h.kserde, a->h.vserde,
                          a->h.key_changed || b->h.key_changed);
}

static rill__node_t *
sink_node(handle_t *h, rill__node_t *parent, const char *topic, rill_serde_t *k, rill_serde_t *v)
{
        rill__node_t *n = node_new(h->b, RILL__N_SINK, "sink", parent);
        n->topic = topic ? rill__strdup(topic) : NULL;
        n->kserde = rill__serde_ref(k ? k : h->kserde);
        n->vserde = rill__serde_ref(v ? v : h->vserde);
        return n;
}

void
rill_stream_to(rill_stream_t *s, const char *topic, rill_serde_t *key, rill_serde_t *value)
{
        if (!s || !usable(&s->h))
                return;
        if (!valid_name(topic)) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "to: invalid topic name \"%s\"",
                      topic ? topic : "(null)");
                return;
        }
        sink_node(&s->h, s->h.node, topic, key, value);
}

void
rill_stream_to_dynamic(rill_stream_t *s, rill_topic_extractor_fn *fn, void *opaque,
                       rill_serde_t *key, rill_serde_t *value)
{
        rill__node_t *n;
        if (!s || !usable(&s->h))
                return;
        if (!fn) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "to_dynamic: NULL topic extractor");
                return;
        }
        n = sink_node(&s->h, s->h.node, NULL, key, value);
        n->extractor = fn;
        n->opaque = opaque;
}

/*
 * Inserts sink -> repartition topic -> source; returns the new source node,
 * or NULL (latched). The source belongs to a new sub-topology.
 */
static rill__node_t *
repartition_nodes(handle_t *h, const char *name, const char *op, int32_t partitions,
                  bool table_changes, rill_serde_t *k, rill_serde_t *v, rill__node_t **sinkp)
{
        rill_builder_t *b = h->b;
        rill__repart_def_t *r;
        rill__node_t *sink, *src;
        char *rname;

        if (name && !valid_name(name)) {
                latch(b, RILL_ERR_INVALID_ARG, "invalid repartition name \"%s\"", name);
                return NULL;
        }
        if (partitions < 0) {
                latch(b, RILL_ERR_INVALID_ARG, "repartition: negative partition count");
                return NULL;
        }
        rname = name ? rill__strdup(name) : gen_name(b, op, h->node->origin);
        for (int i = 0; i < b->nreparts; i++) {
                if (!strcmp(b->reparts[i].name, rname)) {
                        latch(b, RILL_ERR_EXISTS, "a repartition topic named \"%s\" already exists",
                              rname);
                        rill__free(rname);
                        return NULL;
                }
        }
        GROW(b->reparts, b->nreparts);
        r = &b->reparts[b->nreparts];
        memset(r, 0, sizeof(*r));
        r->name = rname;
        r->partitions = partitions;
        r->from_sub = r->to_sub = -1;

        sink = node_new(b, table_changes ? RILL__N_TABLE_REKEY : RILL__N_SINK,
                        table_changes ? "table-group-by" : "repartition-sink", h->node);
        sink->topic = rill__strdup(rname);
        sink->internal = true;
        sink->repart = b->nreparts;
        sink->kserde = rill__serde_ref(k ? k : h->kserde);
        sink->vserde = rill__serde_ref(v ? v : h->vserde);

        src = node_new(b, RILL__N_SOURCE, "repartition-source", NULL);
        src->topics = rill__calloc(1, sizeof(char *));
        src->topics[0] = rill__strdup(rname);
        src->ntopics = 1;
        src->internal = true;
        src->repart = b->nreparts;
        src->table_changes = table_changes;
        src->origin = rill__strdup(h->node->origin);
        src->kserde = rill__serde_ref(k ? k : h->kserde);
        /* Table changes carry a flag byte before the value: read raw bytes. */
        src->vserde = rill__serde_ref(table_changes ? rill_serde_bytes() : (v ? v : h->vserde));
        b->nreparts++;
        if (sinkp)
                *sinkp = sink;
        return src;
}

rill_stream_t *
rill_stream_repartition(rill_stream_t *s, const char *name, int32_t partitions)
{
        rill__node_t *src;
        ENTER(s, H_STREAM);
        src = repartition_nodes(&s->h, name, "repartition", partitions, false, NULL, NULL, NULL);
        if (!src)
                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
        return stream_new(s->h.b, src, s->h.kserde, s->h.vserde, false);
}

rill_table_t *
rill_stream_to_table(rill_stream_t *s, rill_materialized_t *m)
{
        rill_table_t *t;
        int store;
        ENTER(s, H_TABLE);
        store = add_store(s->h.b, m, "to-table", s->h.node->origin, s->h.kserde, s->h.vserde);
        if (store < 0)
                return (rill_table_t *)failed_handle(s->h.b, H_TABLE);
        t = table_new(s->h.b, to_table_node(s->h.b, s->h.node, store), s->h.kserde, s->h.vserde,
                      store);
        table_remember_store(&t->h, s->h.b);
        return t;
}

static rill_grouped_t *
grouped_new(handle_t *from, rill__node_t *node, rill_serde_t *k)
{
        handle_t *h = handle_new(from->b, H_GROUPED, sizeof(rill_grouped_t));
        h->node = node;
        h->kserde = k ? k : from->kserde;
        h->vserde = from->vserde;
        return (rill_grouped_t *)h;
}

rill_grouped_t *
rill_stream_group_by_key(rill_stream_t *s, const char *name)
{
        rill__node_t *n = NULL;
        ENTER(s, H_GROUPED);
        if (s->h.key_changed) {
                n = repartition_nodes(&s->h, name, "group-by", 0, false, NULL, NULL, NULL);
                if (!n)
                        return (rill_grouped_t *)failed_handle(s->h.b, H_GROUPED);
        }
        return grouped_new(&s->h, n ? n : s->h.node, NULL);
}

rill_grouped_t *
rill_stream_group_by(rill_stream_t *s, rill_mapper_fn *fn, void *opaque, const char *name,
                     rill_serde_t *key)
{
        rill_stream_t *keyed;
        rill__node_t *n;
        ENTER(s, H_GROUPED);
        keyed = map_common(s, fn, opaque, "group-by-key-selector", RILL__OUT_KEY, true);
        if (keyed->h.failed)
                return (rill_grouped_t *)failed_handle(s->h.b, H_GROUPED);
        keyed->h.kserde = key ? key : s->h.kserde;
        n = repartition_nodes(&keyed->h, name, "group-by", 0, false, NULL, NULL, NULL);
        if (!n)
                return (rill_grouped_t *)failed_handle(s->h.b, H_GROUPED);
        return grouped_new(&keyed->h, n, NULL);
}

rill_stream_t *
rill_stream_process(rill_stream_t *s, const rill_processor_ops_t *ops, void *opaque,
                    const char *name, const char *const *store_names)
{
        rill__node_t *n;
        int nst = 0;
        ENTER(s, H_STREAM);
        if (!ops || !ops->process) {
                latch(s->h.b, RILL_ERR_INVALID_ARG, "process: ops->process is required");
                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
        }
        if (name) {
                if (!valid_name(name)) {
                        latch(s->h.b, RILL_ERR_INVALID_ARG, "invalid processor name \"%s\"", name);
                        return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
                }
                for (int i = 0; i < s->h.b->nnodes; i++) {
                        if (!strcmp(s->h.b->nodes[i]->name, name)) {
                                latch(s->h.b, RILL_ERR_EXISTS, "a node named \"%s\" already exists",
                                      name);
                                return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
                        }
                }
        }
        while (store_names && store_names[nst])
                nst++;
        for (int i = 0; i < nst; i++) {
                if (find_store(s->h.b, store_names[i]) < 0) {
                        latch(s->h.b, RILL_ERR_NOT_FOUND,
                              "process: store \"%s\" was not declared with rill_builder_add_store()",
                              store_names[i]);
                        return (rill_stream_t *)failed_handle(s->h.b, H_STREAM);
                }
        }
        n = node_new(s->h.b, RILL__N_PROCESSOR, "process", s->h.node);
        if (name) {
                rill__free(n->name);
                n->name = rill__strdup(name);
        }
        n->ops = *ops;
        n->opaque = opaque;
        n->nstores = nst;
        n->stores = rill__calloc((size_t)(nst ? nst : 1), sizeof(int));
        for (int i = 0; i < nst; i++)
                n->stores[i] = find_store(s->h.b, store_names[i]);
        return stream_new(s->h.b, n, s->h.kserde, s->h.vserde, true);
}

/* ---- aggregations ---- */

static rill_table_t *
stream_agg(rill_grouped_t *g, rill__agg_kind_t kind, rill_initializer_fn *init,
           rill_aggregator_fn *fn, void *opaque, rill_materialized_t *m, const char *op,
           rill_serde_t *vserde)
{
        rill__node_t *n;
        rill_table_t *t;
        int store;
        ENTER(g, H_TABLE);
        if (kind != RILL__AGG_COUNT && (!fn || (kind == RILL__AGG_AGGREGATE && !init))) {
                latch(g->h.b, RILL_ERR_INVALID_ARG, "%s: NULL callback", op);
                return (rill_table_t *)failed_handle(g->h.b, H_TABLE);
        }
        store = add_store(g->h.b, m, op, g->h.node->origin, g->h.kserde, vserde);
        if (store < 0)
                return (rill_table_t *)failed_handle(g->h.b, H_TABLE);
        n = node_new(g->h.b, RILL__N_STREAM_AGG, op, g->h.node);
        n->agg_kind = kind;
        n->init = init;
        n->agg = fn;
        n->opaque = opaque;
        n->store = store;
        t = table_new(g->h.b, n, g->h.kserde, g->h.b->stores[store].vserde, store);
        table_remember_store(&t->h, g->h.b);
        return t;
}

rill_table_t *
rill_grouped_count(rill_grouped_t *g, rill_materialized_t *m)
{
        if (m && !m->vserde)
                rill_materialized_with_serdes(m, NULL, rill_serde_int64());
        return stream_agg(g, RILL__AGG_COUNT, NULL, NULL, NULL, m, "count", rill_serde_int64());
}

rill_table_t *
rill_grouped_reduce(rill_grouped_t *g, rill_aggregator_fn *reducer, void *opaque,
                    rill_materialized_t *m)
{
        return stream_agg(g, RILL__AGG_REDUCE, NULL, reducer, opaque, m, "reduce",
                          g ? g->h.vserde : NULL);
}

rill_table_t *
rill_grouped_aggregate(rill_grouped_t *g, rill_initializer_fn *init, rill_aggregator_fn *aggregator,
                       void *opaque, rill_materialized_t *m)
{
        return stream_agg(g, RILL__AGG_AGGREGATE, init, aggregator, opaque, m, "aggregate",
                          rill_serde_bytes());
}

/* ---- tables ---- */

static rill_table_t *
table_op(rill_table_t *t, rill__node_kind_t kind, const char *op, rill_predicate_fn *pred,
         rill_mapper_fn *mapper, void *opaque, bool negate, rill_materialized_t *m)
{
        rill__node_t *n;
        rill_table_t *r;
        int store = -1;
        ENTER(t, H_TABLE);
        if ((kind == RILL__N_TABLE_FILTER && !pred) || (kind == RILL__N_TABLE_MAP_VALUES && !mapper)) {
                latch(t->h.b, RILL_ERR_INVALID_ARG, "%s: NULL callback", op);
                return (rill_table_t *)failed_handle(t->h.b, H_TABLE);
        }
        if (m) {
                store = add_store(t->h.b, m, op, t->h.node->origin, t->h.kserde, t->h.vserde);
                if (store < 0)
                        return (rill_table_t *)failed_handle(t->h.b, H_TABLE);
        }
        n = node_new(t->h.b, kind, op, t->h.node);
        n->pred = pred;
        n->mapper = mapper;
        n->opaque = opaque;
        n->negate = negate;
        n->out_mode = RILL__OUT_VALUE;
        n->single = true;
        n->store = store;
        r = table_new(t->h.b, n, t->h.kserde, store >= 0 ? t->h.b->stores[store].vserde : t->h.vserde,
                      store);
        table_remember_store(&r->h, t->h.b);
        return r;
}

rill_table_t *
rill_table_filter(rill_table_t *t, rill_predicate_fn *pred, void *opaque, rill_materialized_t *m)
{
        return table_op(t, RILL__N_TABLE_FILTER, "table-filter", pred, NULL, opaque, false, m);
}

rill_table_t *
rill_table_filter_not(rill_table_t *t, rill_predicate_fn *pred, void *opaque,
                      rill_materialized_t *m)
{
        return table_op(t, RILL__N_TABLE_FILTER, "table-filter-not", pred, NULL, opaque, true, m);
}

rill_table_t *
rill_table_map_values(rill_table_t *t, rill_mapper_fn *fn, void *opaque, rill_materialized_t *m)
{
        return table_op(t, RILL__N_TABLE_MAP_VALUES, "table-map-values", NULL, fn, opaque, false, m);
}

rill_stream_t *
rill_table_to_stream(rill_table_t *t)
{
        rill__node_t *n;
        ENTER(t, H_STREAM);
        n = node_new(t->h.b, RILL__N_TABLE_TO_STREAM, "to-stream", t->h.node);
        return stream_new(t->h.b, n, t->h.kserde, t->h.vserde, false);
}

const char *
rill_table_store_name(const rill_table_t *t)
{
        return t && !t->h.failed ? t->h.store_name : NULL;
}

rill_grouped_table_t *
rill_table_group_by(rill_table_t *t, rill_mapper_fn *fn, void *opaque, const char *name,
                    rill_serde_t *key, rill_serde_t *value)
{
        rill__node_t *src, *sink;
        handle_t *h;
        ENTER(t, H_GROUPED_TABLE);
        if (!fn) {
                latch(t->h.b, RILL_ERR_INVALID_ARG, "table group_by: NULL selector");
                return (rill_grouped_table_t *)failed_handle(t->h.b, H_GROUPED_TABLE);
        }
        src = repartition_nodes(&t->h, name, "table-group-by", 0, true, key, value, &sink);
        if (!src)
                return (rill_grouped_table_t *)failed_handle(t->h.b, H_GROUPED_TABLE);
        sink->mapper = fn;
        sink->opaque = opaque;
        sink->out_mode = RILL__OUT_KV;
        sink->single = true;
        h = handle_new(t->h.b, H_GROUPED_TABLE, sizeof(rill_grouped_table_t));
        h->node = src;
        h->kserde = key ? key : t->h.kserde;
        h->vserde = value ? value : t->h.vserde;
        return (rill_grouped_table_t *)h;
}

static rill_table_t *
table_agg(rill_grouped_table_t *g, rill__agg_kind_t kind, rill_initializer_fn *init,
          rill_aggregator_fn *adder, rill_aggregator_fn *subtractor, void *opaque,
          rill_materialized_t *m, const char *op, rill_serde_t *vserde)
{
        rill__node_t *n;
        rill_table_t *t;
        int store;
        ENTER(g, H_TABLE);
        if (kind != RILL__AGG_COUNT &&
            (!adder || !subtractor || (kind == RILL__AGG_AGGREGATE && !init))) {
                latch(g->h.b, RILL_ERR_INVALID_ARG, "%s: NULL callback", op);
                return (rill_table_t *)failed_handle(g->h.b, H_TABLE);
        }
        store = add_store(g->h.b, m, op, g->h.node->origin, g->h.kserde, vserde);
        if (store < 0)
                return (rill_table_t *)failed_handle(g->h.b, H_TABLE);
        n = node_new(g->h.b, RILL__N_TABLE_AGG, op, g->h.node);
        n->agg_kind = kind;
        n->init = init;
        n->agg = adder;
        n->sub_agg = subtractor;
        n->opaque = opaque;
        n->store = store;
        n->vserde = rill__serde_ref(g->h.vserde); /* the grouped values' serde */
        t = table_new(g->h.b, n, g->h.kserde, g->h.b->stores[store].vserde, store);
        table_remember_store(&t->h, g->h.b);
        return t;
}

rill_table_t *
rill_grouped_table_count(rill_grouped_table_t *g, rill_materialized_t *m)
{
        if (m && !m->vserde)
                rill_materialized_with_serdes(m, NULL, rill_serde_int64());
        return table_agg(g, RILL__AGG_COUNT, NULL, NULL, NULL, NULL, m, "table-count",
                         rill_serde_int64());
}

rill_table_t *
rill_grouped_table_reduce(rill_grouped_table_t *g, rill_aggregator_fn *adder,
                          rill_aggregator_fn *subtractor, void *opaque, rill_materialized_t *m)
{
        return table_agg(g, RILL__AGG_REDUCE, NULL, adder, subtractor, opaque, m, "table-reduce",
                         g ? g->h.vserde : NULL);
}

rill_table_t *
rill_grouped_table_aggregate(rill_grouped_table_t *g, rill_initializer_fn *init,
                             rill_aggregator_fn *adder, rill_aggregator_fn *subtractor,
                             void *opaque, rill_materialized_t *m)
{
        return table_agg(g, RILL__AGG_AGGREGATE, init, adder, subtractor, opaque, m,
                         "table-aggregate", rill_serde_bytes());
}

/* ---- build ---- */

static int
uf_find(int *p, int x)
{
        while (p[x] != x) {
                p[x] = p[p[x]];
                x = p[x];
        }
        return x;
}

static void
uf_union(int *p, int a, int b)
{
        a = uf_find(p, a);
        b = uf_find(p, b);
        if (a != b)
                p[a > b ? a : b] = a < b ? a : b;
}

rill_topology_t *
rill_builder_build(rill_builder_t *b, char *errstr, size_t errstr_size)
{
        rill_topology_t *t;
        int *parent, *subof;
        int nsubs = 0;

        if (b->built)
                latch(b, RILL_ERR_STATE, "the builder was already built");
        if (b->err == RILL_OK && b->nnodes == 0)
                latch(b, RILL_ERR_TOPOLOGY, "the topology has no source");
        if (b->err != RILL_OK) {
                rill__errf(errstr, errstr_size, "%s", b->errmsg);
                return NULL;
        }

        parent = rill__calloc((size_t)b->nnodes, sizeof(int));
        subof = rill__calloc((size_t)b->nnodes, sizeof(int));
        for (int i = 0; i < b->nnodes; i++)
                parent[i] = i;
        for (int i = 0; i < b->nnodes; i++)
                for (int c = 0; c < b->nodes[i]->nchildren; c++)
                        uf_union(parent, i, b->nodes[i]->children[c]->id);
        /* Nodes that share a store belong to one sub-topology. */
        for (int s = 0; s < b->nstores; s++) {
                int first = -1;
                for (int i = 0; i < b->nnodes; i++) {
                        rill__node_t *n = b->nodes[i];
                        bool uses = n->store == s;
                        for (int j = 0; j < n->nstores; j++)
                                uses |= n->stores[j] == s;
                        if (!uses)
                                continue;
                        if (first < 0)
                                first = i;
                        else
                                uf_union(parent, first, i);
                }
        }
        for (int i = 0; i < b->nnodes; i++)
                subof[i] = -1;
        for (int i = 0; i < b->nnodes; i++) {
                int root = uf_find(parent, i);
                if (subof[root] < 0)
                        subof[root] = nsubs++;
                b->nodes[i]->sub = subof[root];
        }

        t = RILL__NEW(rill_topology_t);
        t->nodes = b->nodes;
        t->nnodes = b->nnodes;
        t->stores = b->stores;
        t->nstores = b->nstores;
        t->reparts = b->reparts;
        t->nreparts = b->nreparts;
        t->nsubs = nsubs;
        t->subs = rill__calloc((size_t)nsubs, sizeof(rill__sub_def_t));
        for (int i = 0; i < t->nnodes; i++) {
                rill__node_t *n = t->nodes[i];
                rill__sub_def_t *sd = &t->subs[n->sub];
                GROW(sd->nodes, sd->nnodes);
                sd->nodes[sd->nnodes++] = i;
                if (n->kind == RILL__N_SOURCE) {
                        GROW(sd->sources, sd->nsources);
                        sd->sources[sd->nsources++] = i;
                        if (n->repart >= 0)
                                t->reparts[n->repart].to_sub = n->sub;
                }
                if ((n->kind == RILL__N_SINK || n->kind == RILL__N_TABLE_REKEY) && n->repart >= 0)
                        t->reparts[n->repart].from_sub = n->sub;
                if (n->store >= 0)
                        t->stores[n->store].sub = n->sub;
                for (int j = 0; j < n->nstores; j++)
                        t->stores[n->stores[j]].sub = n->sub;
        }
        for (int s = 0; s < t->nstores; s++) {
                if (t->stores[s].sub < 0)
                        continue;
                rill__sub_def_t *sd = &t->subs[t->stores[s].sub];
                GROW(sd->stores, sd->nstores);
                sd->stores[sd->nstores++] = s;
        }
        rill__free(parent);
        rill__free(subof);
        b->built = true;
        return t;
}

void
rill_topology_destroy(rill_topology_t *t)
{
        if (!t)
                return;
        for (int i = 0; i < t->nnodes; i++)
                node_free(t->nodes[i]);
        for (int i = 0; i < t->nstores; i++)
                store_def_free(&t->stores[i]);
        for (int i = 0; i < t->nreparts; i++)
                rill__free(t->reparts[i].name);
        for (int i = 0; i < t->nsubs; i++) {
                rill__free(t->subs[i].nodes);
                rill__free(t->subs[i].sources);
                rill__free(t->subs[i].stores);
        }
        rill__free(t->subs);
        rill__free(t->nodes);
        rill__free(t->stores);
        rill__free(t->reparts);
        rill__free(t);
}

static void
cat(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
cat(char **s, size_t *len, const char *fmt, ...)
{
        va_list ap;
        char buf[1024];
        int n;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(buf))
                n = sizeof(buf) - 1;
        *s = rill__realloc(*s, *len + (size_t)n + 1);
        memcpy(*s + *len, buf, (size_t)n + 1);
        *len += (size_t)n;
}

char *
rill_topology_describe(const rill_topology_t *t)
{
        char *s = NULL;
        size_t len = 0;
        cat(&s, &len, "Topologies:\n");
        for (int i = 0; i < t->nsubs; i++) {
                const rill__sub_def_t *sd = &t->subs[i];
                cat(&s, &len, "   Sub-topology: %d\n", i);
                for (int j = 0; j < sd->nnodes; j++) {
                        const rill__node_t *n = t->nodes[sd->nodes[j]];
                        cat(&s, &len, "    %s", n->name);
                        if (n->kind == RILL__N_SOURCE) {
                                cat(&s, &len, " (topics: ");
                                if (n->pattern)
                                        cat(&s, &len, "/%s/", n->pattern);
                                for (int k = 0; k < n->ntopics; k++)
                                        cat(&s, &len, "%s%s%s", k ? ", " : "", n->topics[k],
                                            n->internal ? "-repartition" : "");
                                cat(&s, &len, ")");
                        }
                        if (n->topic)
                                cat(&s, &len, " (topic: %s%s)", n->topic,
                                    n->internal ? "-repartition" : "");
                        if (n->store >= 0)
                                cat(&s, &len, " (store: %s)", t->stores[n->store].name);
                        for (int k = 0; k < n->nstores; k++)
                                cat(&s, &len, " (store: %s)", t->stores[n->stores[k]].name);
                        if (n->nchildren) {
                                cat(&s, &len, " --> ");
                                for (int k = 0; k < n->nchildren; k++)
                                        cat(&s, &len, "%s%s", k ? ", " : "", n->children[k]->name);
                        }
                        cat(&s, &len, "\n");
                }
        }
        return s;
}

/* ---- names and partitions (used by drivers and the runtime) ---- */

char *
rill__repart_topic(const char *app_id, const rill__repart_def_t *r)
{
        return rill__asprintf("%s-%s-repartition", app_id, r->name);
}

char *
rill__changelog_topic(const char *app_id, const rill__store_def_t *s)
{
        return rill__asprintf("%s-%s-changelog", app_id, s->name);
}

bool
rill__source_matches(const rill_topology_t *t, const rill__node_t *n, const char *app_id,
                     const char *topic)
{
        if (n->pattern)
                return regexec((const regex_t *)n->regex, topic, 0, NULL, 0) == 0;
        for (int i = 0; i < n->ntopics; i++) {
                if (n->internal) {
                        size_t al = strlen(app_id), nl = strlen(n->topics[i]);
                        if (!strncmp(topic, app_id, al) && topic[al] == '-' &&
                            !strncmp(topic + al + 1, n->topics[i], nl) &&
                            !strcmp(topic + al + 1 + nl, "-repartition"))
                                return true;
                } else if (!strcmp(topic, n->topics[i])) {
                        return true;
                }
        }
        return false;
}

rill_err_t
rill__topo_partitions(const rill_topology_t *t, const char *app_id,
                      int32_t (*ext)(void *opaque, const char *topic), void *opaque,
                      int32_t *sub_parts, int32_t *repart_parts, char *errstr, size_t errstr_size)
{
        for (int s = 0; s < t->nsubs; s++)
                sub_parts[s] = 0;
        for (int r = 0; r < t->nreparts; r++)
                repart_parts[r] = t->reparts[r].partitions;

        /* External sources first; they never change. */
        for (int s = 0; s < t->nsubs; s++) {
                const rill__sub_def_t *sd = &t->subs[s];
                for (int i = 0; i < sd->nsources; i++) {
                        const rill__node_t *n = t->nodes[sd->sources[i]];
                        if (n->internal)
                                continue;
                        if (n->pattern) {
                                int32_t p = ext(opaque, n->pattern);
                                sub_parts[s] = RILL__MAX(sub_parts[s], p);
                                continue;
                        }
                        for (int k = 0; k < n->ntopics; k++) {
                                int32_t p = ext(opaque, n->topics[k]);
                                if (p <= 0) {
                                        rill__errf(errstr, errstr_size,
                                                   "source topic \"%s\" does not exist; create "
                                                   "it before starting the application",
                                                   n->topics[k]);
                                        return RILL_ERR_TOPOLOGY;
                                }
                                sub_parts[s] = RILL__MAX(sub_parts[s], p);
                        }
                }
        }
        /* Repartition topics take the partition count of their producer;
         * iterate to a fixed point (sub-topology ids are not in flow order). */
        for (int round = 0; round <= t->nsubs + 1; round++) {
                bool changed = false;
                for (int r = 0; r < t->nreparts; r++) {
                        const rill__repart_def_t *rd = &t->reparts[r];
                        if (rd->partitions == 0 && rd->from_sub >= 0 &&
                            sub_parts[rd->from_sub] > repart_parts[r]) {
                                repart_parts[r] = sub_parts[rd->from_sub];
                                changed = true;
                        }
                        if (rd->to_sub >= 0 && repart_parts[r] > sub_parts[rd->to_sub]) {
                                sub_parts[rd->to_sub] = repart_parts[r];
                                changed = true;
                        }
                }
                if (!changed)
                        break;
        }
        /* Co-partitioning: a sub-topology with state must read topics with
         * equal partition counts. */
        for (int s = 0; s < t->nsubs; s++) {
                const rill__sub_def_t *sd = &t->subs[s];
                const char *first = NULL;
                int32_t fp = 0;
                if (sd->nstores == 0)
                        continue;
                for (int i = 0; i < sd->nsources; i++) {
                        const rill__node_t *n = t->nodes[sd->sources[i]];
                        for (int k = 0; k < n->ntopics; k++) {
                                int32_t p = n->internal ? repart_parts[n->repart]
                                                        : ext(opaque, n->topics[k]);
                                if (!first) {
                                        first = n->topics[k];
                                        fp = p;
                                } else if (p != fp) {
                                        rill__errf(errstr, errstr_size,
                                                   "co-partitioned topics of sub-topology %d have "
                                                   "different partition counts: \"%s\" has %d, "
                                                   "\"%s\" has %d; give them equal counts (or "
                                                   "repartition one side)",
                                                   s, first, fp, n->topics[k], p);
                                        return RILL_ERR_TOPOLOGY;
                                }
                        }
                }
        }
        return RILL_OK;
}
