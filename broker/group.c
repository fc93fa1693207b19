/*
 * group.c - the group coordinator's state machine (see group_int.h).
 *
 * This is Kafka's classic (eager) group protocol, modelled on Kafka's
 * GroupCoordinator, with the same states and transitions:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable --join/leave/expiry-->
 *   PreparingRebalance ... ; a group whose last member leaves goes back to
 *   Empty (with a new generation); DeleteGroups and offsets expiry remove an
 *   Empty group (Dead).
 *
 * Design. The module is pure: no network, no disk, no clock. Decoded requests
 * come in with the current time; JoinGroup and SyncGroup results go out
 * through ops->join_done / ops->sync_done with the caller's opaque waiter,
 * and records to persist through ops->persist (synchronous: the broker
 * appends to __consumer_offsets before the call returns). Every parked waiter
 * is completed exactly once - on rebalance completion, on an error, when its
 * member is removed or replaced, or handed back by rill__gc_drop_waiters() -
 * which is what keeps the broker's parked requests leak-free.
 *
 * Timers are deadlines checked by rill__gc_tick() (and right after the
 * operations that can satisfy them): each member's session deadline, the
 * PreparingRebalance deadline (initial-rebalance delay for an Empty group,
 * extended while new members keep arriving and capped by the rebalance
 * timeout, as Kafka's InitialDelayedJoin; otherwise the rebalance timeout),
 * the deadline by which members that got their JoinGroup answer must send
 * SyncGroup, and KIP-394 pending member ids.
 *
 * Groups live in a chained hash table keyed by group id; committed offsets in
 * a per-group list of topics, each with a sorted array of partitions.
 *
 * Not thread-safe: one coordinator belongs to one broker loop thread.
 */
#include "group_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

struct rill__gc {
        rill__gc_conf_t conf;
        rill__gc_ops_t ops;
        rill__group_t **buckets;
        int nbuckets;           /* power of two */
        int count;
        uint64_t id_seq;        /* fallback entropy for member ids */
};

static void prepare_rebalance(rill__gc_t *gc, rill__group_t *g, int64_t now);
static void try_complete_join(rill__gc_t *gc, rill__group_t *g, int64_t now);

/* ---- small helpers ---- */

const char *
rill__gstate_name(rill__gstate_t s)
{
        switch (s) {
        case RILL__GS_EMPTY:
                return "Empty";
        case RILL__GS_PREPARING:
                return "PreparingRebalance";
        case RILL__GS_COMPLETING:
                return "CompletingRebalance";
        case RILL__GS_STABLE:
                return "Stable";
        case RILL__GS_DEAD:
        default:
                return "Dead";
        }
}

/* Equality of a NUL-terminated (or NULL) string and a borrowed one. */
static bool
cstr_eq(const char *c, rill__str_t s)
{
        return rill__str_eq(s, c);
}

static bool
streq0(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static char *
dup_str(rill__str_t s)
{
        if (s.len == 0)
                return rill__strdup("");
        return rill__str_dup(s);
}

static uint8_t *
dup_bytes(rill__str_t s, int32_t *len)
{
        uint8_t *p;
        if (s.len <= 0) {
                *len = s.len < 0 ? -1 : 0;
                return NULL;
        }
        p = rill__malloc((size_t)s.len);
        memcpy(p, s.ptr, (size_t)s.len);
        *len = s.len;
        return p;
}

static uint64_t
hash_bytes(const char *p, size_t n)
{
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

/* Generates "<prefix>-<uuid4>" as Kafka does for member ids. */
static char *
gen_member_id(rill__gc_t *gc, rill__str_t prefix)
{
        uint8_t u[16];
        char uuid[37];
        size_t got = 0;
        while (got < sizeof(u)) {
                ssize_t n = getrandom(u + got, sizeof(u) - got, GRND_NONBLOCK);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        if (got < sizeof(u)) {
                /* No entropy available: a counter mixed with the address of
                 * the coordinator still gives unique ids within it. */
                uint64_t a = ++gc->id_seq * 0x9e3779b97f4a7c15ULL, b2 = (uint64_t)(uintptr_t)gc;
                memcpy(u, &a, 8);
                memcpy(u + 8, &b2, 8);
        }
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                 u[12], u[13], u[14], u[15]);
        return rill__asprintf("%.*s-%s", prefix.len > 0 ? (int)prefix.len : 0,
                              prefix.len > 0 ? prefix.ptr : "", uuid);
}

/* ---- Java String.hashCode and the coordinator partition ---- */

int32_t
rill__java_string_hash(const char *s, size_t len)
{
        const uint8_t *p = (const uint8_t *)s;
        uint32_t h = 0;
        size_t i = 0;
        while (i < len) {
                uint32_t cp;
                size_t n;
                uint8_t c = p[i];
                if (c < 0x80) {
                        cp = c;
                        n = 1;
                } else if ((c & 0xe0) == 0xc0) {
                        cp = c & 0x1f;
                        n = 2;
                } else if ((c & 0xf0) == 0xe0) {
                        cp = c & 0x0f;
                        n = 3;
                } else if ((c & 0xf8) == 0xf0) {
                        cp = c & 0x07;
                        n = 4;
                } else {
                        cp = 0xfffd;
                        n = 1;
                        goto emit;
                }
                if (i + n > len) {
                        cp = 0xfffd;
                        n = 1;
                        goto emit;
                }
                for (size_t k = 1; k < n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80) {
                                cp = 0xfffd;
                                n = 1;
                                goto emit;
                        }
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                /* Overlong forms, surrogates and out-of-range values are
                 * malformed for Java's decoder too. */
                if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                        cp = 0xfffd;
                        n = 1;
                }
emit:
                if (cp >= 0x10000) {
                        uint32_t v = cp - 0x10000;
                        h = h * 31 + (0xd800 + (v >> 10));
                        h = h * 31 + (0xdc00 + (v & 0x3ff));
                } else {
                        h = h * 31 + cp;
                }
                i += n;
        }
        return (int32_t)h;
}

int32_t
rill__gc_partition_for(rill__str_t group_id, int32_t n)
{
        int32_t h;
        if (n <= 0)
                return 0;
        h = rill__java_string_hash(group_id.ptr ? group_id.ptr : "",
                                   group_id.len > 0 ? (size_t)group_id.len : 0);
        /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
        h = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
        return h % n;
}

/* ---- offsets ---- */

static rill__gtopic_t *
topic_find(const rill__group_t *g, rill__str_t name)
{
        for (rill__gtopic_t *t = g->topics; t; t = t->next)
                if (cstr_eq(t->name, name))
                        return t;
        return NULL;
}

/* Index of @p partition in @p t, or -(insertion point)-1. */
static int
part_search(const rill__gtopic_t *t, int32_t partition)
{
        int lo = 0, hi = t->part_cnt - 1;
        while (lo <= hi) {
                int mid = lo + (hi - lo) / 2;
                if (t->parts[mid].partition == partition)
                        return mid;
                if (t->parts[mid].partition < partition)
                        lo = mid + 1;
                else
                        hi = mid - 1;
        }
        return -lo - 1;
}

const rill__goffset_t *
rill__gc_offset_find(const rill__group_t *g, rill__str_t topic, int32_t partition)
{
        const rill__gtopic_t *t = topic_find(g, topic);
        int i;
        if (!t)
                return NULL;
        i = part_search(t, partition);
        return i >= 0 ? &t->parts[i] : NULL;
}

static void
topic_free(rill__gtopic_t *t)
{
        for (int i = 0; i < t->part_cnt; i++)
                rill__free(t->parts[i].metadata);
        rill__free(t->parts);
        rill__free(t->name);
        rill__free(t);
}

/* Stores a copy of @p off (metadata duplicated) for (topic, partition). */
static void
offset_set(rill__group_t *g, rill__str_t topic, const rill__goffset_t *off)
{
        rill__gtopic_t *t = topic_find(g, topic);
        int i;
        if (!t) {
                t = RILL__NEW(rill__gtopic_t);
                t->name = dup_str(topic);
                if (!t->name)
                        t->name = rill__strdup("");
                t->next = g->topics;
                g->topics = t;
        }
        i = part_search(t, off->partition);
        if (i >= 0) {
                rill__free(t->parts[i].metadata);
        } else {
                i = -i - 1;
                if (t->part_cnt == t->part_cap) {
                        t->part_cap = t->part_cap ? t->part_cap * 2 : 8;
                        t->parts = rill__realloc(t->parts, (size_t)t->part_cap * sizeof(*t->parts));
                }
                memmove(&t->parts[i + 1], &t->parts[i],
                        (size_t)(t->part_cnt - i) * sizeof(*t->parts));
                t->part_cnt++;
                g->offset_cnt++;
        }
        t->parts[i] = *off;
        t->parts[i].metadata = rill__strdup(off->metadata ? off->metadata : "");
}

static void
offset_del(rill__group_t *g, rill__str_t topic, int32_t partition)
{
        rill__gtopic_t **tp, *t;
        int i;
        for (tp = &g->topics; *tp; tp = &(*tp)->next)
                if (cstr_eq((*tp)->name, topic))
                        break;
        t = *tp;
        if (!t)
                return;
        i = part_search(t, partition);
        if (i < 0)
                return;
        rill__free(t->parts[i].metadata);
        memmove(&t->parts[i], &t->parts[i + 1], (size_t)(t->part_cnt - i - 1) * sizeof(*t->parts));
        t->part_cnt--;
        g->offset_cnt--;
        if (t->part_cnt == 0) {
                *tp = t->next;
                topic_free(t);
        }
}

/* ---- members ---- */

static void
protos_free(rill__gmember_t *m)
{
        for (int i = 0; i < m->proto_cnt; i++) {
                rill__free(m->protos[i].name);
                rill__free(m->protos[i].meta);
        }
        rill__free(m->protos);
        m->protos = NULL;
        m->proto_cnt = 0;
}

static void
protos_set(rill__gmember_t *m, const rill__gc_proto_in_t *in, int n)
{
        protos_free(m);
        m->protos = rill__calloc((size_t)(n > 0 ? n : 1), sizeof(*m->protos));
        for (int i = 0; i < n; i++) {
                m->protos[i].name = dup_str(in[i].name);
                if (!m->protos[i].name)
                        m->protos[i].name = rill__strdup("");
                m->protos[i].meta = dup_bytes(in[i].meta, &m->protos[i].meta_len);
                if (m->protos[i].meta_len < 0)
                        m->protos[i].meta_len = 0;
        }
        m->proto_cnt = n;
}

static void
member_free(rill__gmember_t *m)
{
        protos_free(m);
        rill__free(m->member_id);
        rill__free(m->instance_id);
        rill__free(m->client_id);
        rill__free(m->client_host);
        rill__free(m->protocol_type);
        rill__free(m->assignment);
        rill__free(m);
}

static bool
member_supports(const rill__gmember_t *m, const char *name, size_t len)
{
        for (int i = 0; i < m->proto_cnt; i++)
                if (strlen(m->protos[i].name) == len && memcmp(m->protos[i].name, name, len) == 0)
                        return true;
        return false;
}

const uint8_t *
rill__gmember_meta(const rill__gmember_t *m, const char *name, int32_t *len)
{
        for (int i = 0; name && i < m->proto_cnt; i++) {
                if (strcmp(m->protos[i].name, name) == 0) {
                        *len = m->protos[i].meta_len;
                        return m->protos[i].meta;
                }
        }
        *len = 0;
        return NULL;
}

/* True if @p m's protocols equal @p req's (names, metadata and order). */
static bool
member_matches(const rill__gmember_t *m, const rill__gc_join_req_t *req)
{
        if (m->proto_cnt != req->proto_cnt)
                return false;
        for (int i = 0; i < m->proto_cnt; i++) {
                rill__str_t meta = req->protos[i].meta;
                int32_t mlen = meta.len < 0 ? 0 : meta.len;
                if (!cstr_eq(m->protos[i].name, req->protos[i].name))
                        return false;
                if (m->protos[i].meta_len != mlen ||
                    (mlen && memcmp(m->protos[i].meta, meta.ptr, (size_t)mlen) != 0))
                        return false;
        }
        return true;
}

static rill__gmember_t *
member_find(const rill__group_t *g, rill__str_t id)
{
        if (id.len <= 0)
                return NULL;
        for (rill__gmember_t *m = g->members; m; m = m->next)
                if (cstr_eq(m->member_id, id))
                        return m;
        return NULL;
}

static rill__gmember_t *
static_find(const rill__group_t *g, rill__str_t instance_id)
{
        if (instance_id.len < 0)
                return NULL;
        for (rill__gmember_t *m = g->members; m; m = m->next)
                if (m->instance_id && cstr_eq(m->instance_id, instance_id))
                        return m;
        return NULL;
}

static int32_t
group_rebalance_timeout(const rill__group_t *g)
{
        int32_t t = 0;
        for (const rill__gmember_t *m = g->members; m; m = m->next)
                t = RILL__MAX(t, m->rebalance_timeout_ms);
        return t;
}

static void
set_state(rill__group_t *g, rill__gstate_t s, int64_t now)
{
        g->state = s;
        g->state_ts = now;
}

/* ---- pending (KIP-394) member ids ---- */

static int
pending_index(const rill__group_t *g, rill__str_t id)
{
        if (id.len <= 0)
                return -1;
        for (int i = 0; i < g->pending_cnt; i++)
                if (cstr_eq(g->pending[i].member_id, id))
                        return i;
        return -1;
}

static void
pending_add(rill__group_t *g, char *id, int64_t deadline)
{
        if (g->pending_cnt == g->pending_cap) {
                g->pending_cap = g->pending_cap ? g->pending_cap * 2 : 4;
                g->pending = rill__realloc(g->pending, (size_t)g->pending_cap * sizeof(*g->pending));
        }
        g->pending[g->pending_cnt].member_id = id;
        g->pending[g->pending_cnt].deadline = deadline;
        g->pending_cnt++;
}

static void
pending_remove_at(rill__group_t *g, int i)
{
        rill__free(g->pending[i].member_id);
        g->pending[i] = g->pending[g->pending_cnt - 1];
        g->pending_cnt--;
}

/* ---- the group table ---- */

static rill__group_t **
group_slot(rill__gc_t *gc, rill__str_t id)
{
        uint64_t h = hash_bytes(id.ptr ? id.ptr : "", id.len > 0 ? (size_t)id.len : 0);
        return &gc->buckets[h & (uint64_t)(gc->nbuckets - 1)];
}

/* A group id is a string without NUL bytes: groups are keyed, persisted and
 * logged as C strings, so an id with an embedded NUL would alias another id
 * (and once corrupted the hash table walk). Such ids get INVALID_GROUP_ID. */
bool
rill__gc_group_id_ok(rill__str_t id)
{
        return id.len >= 0 && (id.len == 0 || !memchr(id.ptr, 0, (size_t)id.len));
}

rill__group_t *
rill__gc_group_find(rill__gc_t *gc, rill__str_t id)
{
        if (!rill__gc_group_id_ok(id))
                return NULL;
        for (rill__group_t *g = *group_slot(gc, id); g; g = g->hnext)
                if (cstr_eq(g->id, id))
                        return g;
        return NULL;
}

static void
table_grow(rill__gc_t *gc)
{
        int n = gc->nbuckets * 2;
        rill__group_t **nb = rill__calloc((size_t)n, sizeof(*nb));
        for (int i = 0; i < gc->nbuckets; i++) {
                rill__group_t *g = gc->buckets[i], *next;
                for (; g; g = next) {
                        uint64_t h = hash_bytes(g->id, strlen(g->id));
                        next = g->hnext;
                        g->hnext = nb[h & (uint64_t)(n - 1)];
                        nb[h & (uint64_t)(n - 1)] = g;
                }
        }
        rill__free(gc->buckets);
        gc->buckets = nb;
        gc->nbuckets = n;
}

static rill__group_t *
group_create(rill__gc_t *gc, rill__str_t id, int64_t now)
{
        rill__group_t *g = RILL__NEW(rill__group_t), **slot;
        if (gc->count >= gc->nbuckets)
                table_grow(gc);
        g->id = dup_str(id);
        if (!g->id)
                g->id = rill__strdup("");
        g->state = RILL__GS_EMPTY;
        g->state_ts = now;
        slot = group_slot(gc, id);
        g->hnext = *slot;
        *slot = g;
        gc->count++;
        return g;
}

/* Frees @p g's memory; its members must have no waiters left. */
static void
group_free(rill__group_t *g)
{
        rill__gmember_t *m, *mn;
        rill__gtopic_t *t, *tn;
        for (m = g->members; m; m = mn) {
                mn = m->next;
                member_free(m);
        }
        for (t = g->topics; t; t = tn) {
                tn = t->next;
                topic_free(t);
        }
        for (int i = 0; i < g->pending_cnt; i++)
                rill__free(g->pending[i].member_id);
        rill__free(g->pending);
        rill__free(g->id);
        rill__free(g->protocol_type);
        rill__free(g->protocol);
        rill__free(g);
}

/* Unlinks @p g from the table and frees it (it becomes Dead). */
static void
group_remove(rill__gc_t *gc, rill__group_t *g)
{
        rill__str_t id = {g->id, (int32_t)strlen(g->id)};
        rill__group_t **pp;
        for (pp = group_slot(gc, id); *pp; pp = &(*pp)->hnext) {
                if (*pp == g) {
                        *pp = g->hnext;
                        gc->count--;
                        break;
                }
        }
        g->state = RILL__GS_DEAD;
        group_free(g);
}

rill__group_t *
rill__gc_group_next(rill__gc_t *gc, rill__group_t *prev)
{
        int b = 0;
        if (prev) {
                if (prev->hnext)
                        return prev->hnext;
                b = (int)(hash_bytes(prev->id, strlen(prev->id)) & (uint64_t)(gc->nbuckets - 1)) + 1;
        }
        for (; b < gc->nbuckets; b++)
                if (gc->buckets[b])
                        return gc->buckets[b];
        return NULL;
}

int
rill__gc_group_count(const rill__gc_t *gc)
{
        return gc->count;
}

/* A group that holds nothing at all (created by a request that then
 * failed) is not kept. */
static bool
group_is_vacant(const rill__group_t *g)
{
        return g->state == RILL__GS_EMPTY && g->member_cnt == 0 && g->pending_cnt == 0 &&
               g->offset_cnt == 0 && g->generation == 0 && !g->protocol_type;
}

static void
maybe_drop_vacant(rill__gc_t *gc, rill__group_t *g)
{
        if (group_is_vacant(g))
                group_remove(gc, g);
}

/* ---- lifecycle ---- */

rill__gc_t *
rill__gc_new(const rill__gc_conf_t *conf, const rill__gc_ops_t *ops)
{
        rill__gc_t *gc = RILL__NEW(rill__gc_t);
        gc->conf = *conf;
        gc->ops = *ops;
        gc->nbuckets = 64;
        gc->buckets = rill__calloc((size_t)gc->nbuckets, sizeof(*gc->buckets));
        return gc;
}

static void
drop_member_waiters(rill__gmember_t *m, void (*drop)(void *waiter, void *arg), void *arg)
{
        if (m->awaiting_join && m->join_waiter && drop)
                drop(m->join_waiter, arg);
        if (m->sync_waiter && drop)
                drop(m->sync_waiter, arg);
        m->join_waiter = NULL;
        m->sync_waiter = NULL;
        m->awaiting_join = false;
}

void
rill__gc_reset(rill__gc_t *gc, void (*drop)(void *waiter, void *arg), void *arg)
{
        for (int b = 0; b < gc->nbuckets; b++) {
                rill__group_t *g = gc->buckets[b], *next;
                for (; g; g = next) {
                        next = g->hnext;
                        for (rill__gmember_t *m = g->members; m; m = m->next)
                                drop_member_waiters(m, drop, arg);
                        group_free(g);
                }
                gc->buckets[b] = NULL;
        }
        gc->count = 0;
}

void
rill__gc_destroy(rill__gc_t *gc)
{
        if (!gc)
                return;
        rill__gc_reset(gc, NULL, NULL);
        rill__free(gc->buckets);
        rill__free(gc);
}

void
rill__gc_drop_waiters(rill__gc_t *gc, void (*drop)(void *waiter, void *arg), void *arg)
{
        rill__group_t *g, *next;
        for (g = rill__gc_group_next(gc, NULL); g; g = next) {
                rill__gmember_t *m, *mn;
                next = rill__gc_group_next(gc, g);
                for (m = g->members; m; m = mn) {
                        mn = m->next;
                        drop_member_waiters(m, drop, arg);
                        member_free(m);
                }
                g->members = NULL;
                g->leader = NULL;
                g->member_cnt = 0;
                g->awaiting_join_cnt = 0;
                for (int i = 0; i < g->pending_cnt; i++)
                        rill__free(g->pending[i].member_id);
                g->pending_cnt = 0;
                g->sync_deadline = 0;
                if (g->state != RILL__GS_EMPTY) {
                        /* Nobody is left: the generation ends as Kafka's
                         * would once every session expired. */
                        g->generation++;
                        rill__free(g->protocol);
                        g->protocol = NULL;
                        g->state = RILL__GS_EMPTY;
                }
        }
}

/* ---- result delivery ---- */

static void
join_error(rill__gc_t *gc, void *waiter, int16_t err, rill__str_t member_id)
{
        rill__gc_join_res_t r;
        char *mid = dup_str(member_id);
        memset(&r, 0, sizeof(r));
        r.err = err;
        r.generation = -1;
        r.leader = "";
        r.member_id = mid ? mid : "";
        gc->ops.join_done(gc->ops.opaque, waiter, &r);
        rill__free(mid);
}

static void
join_error_c(rill__gc_t *gc, void *waiter, int16_t err, const char *member_id)
{
        rill__str_t s = {member_id, member_id ? (int32_t)strlen(member_id) : 0};
        join_error(gc, waiter, err, s);
}

static void
sync_result(rill__gc_t *gc, void *waiter, int16_t err, const rill__group_t *g,
            const rill__gmember_t *m)
{
        rill__gc_sync_res_t r;
        memset(&r, 0, sizeof(r));
        r.err = err;
        if (g) {
                r.protocol_type = g->protocol_type;
                r.protocol = g->protocol;
        }
        if (!err && m) {
                r.assignment = m->assignment;
                r.assignment_len = m->assignment_len > 0 ? m->assignment_len : 0;
        }
        gc->ops.sync_done(gc->ops.opaque, waiter, &r);
}

static void
sync_error(rill__gc_t *gc, void *waiter, int16_t err)
{
        sync_result(gc, waiter, err, NULL, NULL);
}

/* Sends the current generation's JoinGroup answer to @p m's waiter (or to
 * @p waiter when @p m is not parked). The leader gets every member's
 * metadata for the selected protocol unless @p no_members. */
static void
join_answer(rill__gc_t *gc, rill__group_t *g, rill__gmember_t *m, void *waiter,
            const char *leader_id, bool no_members)
{
        rill__gc_join_res_t r;
        rill__gc_join_member_t *ms = NULL;
        int n = 0;
        memset(&r, 0, sizeof(r));
        if (!no_members && g->leader == m) {
                ms = rill__calloc((size_t)(g->member_cnt > 0 ? g->member_cnt : 1), sizeof(*ms));
                for (rill__gmember_t *x = g->members; x; x = x->next) {
                        ms[n].member_id = x->member_id;
                        ms[n].instance_id = x->instance_id;
                        ms[n].meta = rill__gmember_meta(x, g->protocol, &ms[n].meta_len);
                        n++;
                }
        }
        r.err = KERR_NONE;
        r.generation = g->generation;
        r.protocol_type = g->protocol_type;
        r.protocol = g->protocol;
        r.leader = leader_id ? leader_id : (g->leader ? g->leader->member_id : "");
        r.member_id = m->member_id;
        r.members = ms;
        r.member_cnt = n;
        gc->ops.join_done(gc->ops.opaque, waiter, &r);
        rill__free(ms);
}

/* ---- persistence ---- */

static int16_t
persist(rill__gc_t *gc, const char *group_id, const rill__grec_t *recs, int n, int64_t now)
{
        if (!gc->ops.persist || n == 0)
                return KERR_NONE;
        return gc->ops.persist(gc->ops.opaque, group_id, recs, n, now);
}

static int16_t
persist_group(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        rill__grec_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.kind = RILL__GREC_GROUP;
        rec.group_id = g->id;
        rec.group = g;
        return persist(gc, g->id, &rec, 1, now);
}

/* ---- membership changes ---- */

/* Unlinks @p m from @p g and frees it, answering its parked requests with
 * @p err. Does not trigger a rebalance. */
static void
member_remove_raw(rill__gc_t *gc, rill__group_t *g, rill__gmember_t *m, int16_t err)
{
        rill__gmember_t **pp;
        void *jw = m->awaiting_join ? m->join_waiter : NULL;
        void *sw = m->sync_waiter;
        for (pp = &g->members; *pp; pp = &(*pp)->next) {
                if (*pp == m) {
                        *pp = m->next;
                        break;
                }
        }
        g->member_cnt--;
        if (m->awaiting_join)
                g->awaiting_join_cnt--;
        if (g->leader == m)
                g->leader = g->members;
        m->awaiting_join = false;
        m->join_waiter = NULL;
        m->sync_waiter = NULL;
        if (jw)
                join_error_c(gc, jw, err, "");
        if (sw)
                sync_error(gc, sw, err);
        member_free(m);
}

static void
maybe_prepare_rebalance(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        if (g->state == RILL__GS_STABLE || g->state == RILL__GS_COMPLETING ||
            g->state == RILL__GS_EMPTY)
                prepare_rebalance(gc, g, now);
}

/* Kafka's removeMemberAndUpdateGroup. */
static void
member_remove(rill__gc_t *gc, rill__group_t *g, rill__gmember_t *m, int64_t now)
{
        member_remove_raw(gc, g, m, KERR_UNKNOWN_MEMBER_ID);
        switch (g->state) {
        case RILL__GS_STABLE:
        case RILL__GS_COMPLETING:
                maybe_prepare_rebalance(gc, g, now);
                break;
        case RILL__GS_PREPARING:
                try_complete_join(gc, g, now);
                break;
        default:
                break;
        }
}

/* Clears every assignment and answers parked SyncGroups with @p err. */
static void
reset_and_propagate_assignment_error(rill__gc_t *gc, rill__group_t *g, int16_t err)
{
        for (rill__gmember_t *m = g->members; m; m = m->next) {
                rill__free(m->assignment);
                m->assignment = NULL;
                m->assignment_len = 0;
                if (m->sync_waiter) {
                        void *w = m->sync_waiter;
                        m->sync_waiter = NULL;
                        sync_error(gc, w, err);
                }
        }
}

static void
prepare_rebalance(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        int32_t rt = group_rebalance_timeout(g);
        if (g->state == RILL__GS_COMPLETING)
                reset_and_propagate_assignment_error(gc, g, KERR_REBALANCE_IN_PROGRESS);
        g->sync_deadline = 0;
        for (rill__gmember_t *m = g->members; m; m = m->next)
                m->pending_sync = false;
        if (g->state == RILL__GS_EMPTY) {
                int32_t d = RILL__MAX(gc->conf.initial_rebalance_delay_ms, 0);
                g->initial_join = true;
                g->initial_delay_ms = d;
                g->initial_remaining_ms = RILL__MAX(rt - d, 0);
                g->new_member_added = false;
                g->join_deadline = now + d;
        } else {
                g->initial_join = false;
                g->join_deadline = now + rt;
        }
        set_state(g, RILL__GS_PREPARING, now);
        RILL_LOG_D("group", "group %s: preparing rebalance (generation %d, %d members)", g->id,
                   g->generation, g->member_cnt);
        try_complete_join(gc, g, now);
}

/* Picks the protocol supported by every member that most members prefer
 * (ties: the leader's order of preference). */
static char *
select_protocol(const rill__group_t *g)
{
        const rill__gmember_t *head = g->leader ? g->leader : g->members;
        int best = -1, best_votes = -1;
        if (!head || head->proto_cnt == 0)
                return NULL;
        for (int i = 0; i < head->proto_cnt; i++) {
                const char *name = head->protos[i].name;
                size_t len = strlen(name);
                int votes = 0;
                bool all = true;
                for (const rill__gmember_t *m = g->members; m; m = m->next) {
                        if (!member_supports(m, name, len)) {
                                all = false;
                                break;
                        }
                }
                if (!all)
                        continue;
                /* Each member votes for its first candidate. */
                for (const rill__gmember_t *m = g->members; m; m = m->next) {
                        for (int k = 0; k < m->proto_cnt; k++) {
                                const char *pn = m->protos[k].name;
                                bool cand = true;
                                for (const rill__gmember_t *o = g->members; o; o = o->next) {
                                        if (!member_supports(o, pn, strlen(pn))) {
                                                cand = false;
                                                break;
                                        }
                                }
                                if (cand) {
                                        if (strcmp(pn, name) == 0)
                                                votes++;
                                        break;
                                }
                        }
                }
                if (votes > best_votes) {
                        best = i;
                        best_votes = votes;
                }
        }
        return rill__strdup(head->protos[best >= 0 ? best : 0].name);
}

/* Kafka's maybeElectNewJoinedLeader. */
static bool
elect_joined_leader(rill__group_t *g)
{
        if (!g->leader)
                return false;
        if (g->leader->awaiting_join)
                return true;
        for (rill__gmember_t *m = g->members; m; m = m->next) {
                if (m->awaiting_join) {
                        g->leader = m;
                        return true;
                }
        }
        return false;
}

/* Kafka's onCompleteJoin. */
static void
complete_join(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        rill__gmember_t *m, *mn;
        /* Dynamic members that did not rejoin in time are removed; static
         * members stay until their session expires. */
        for (m = g->members; m; m = mn) {
                mn = m->next;
                if (!m->awaiting_join && !m->instance_id) {
                        RILL_LOG_I("group", "group %s: removing member %s, which did not rejoin "
                                   "in time", g->id, m->member_id);
                        member_remove_raw(gc, g, m, KERR_UNKNOWN_MEMBER_ID);
                }
        }
        if (!elect_joined_leader(g) && g->member_cnt > 0) {
                /* Only static members that have not rejoined are left: wait
                 * another rebalance timeout (their sessions may expire). */
                g->initial_join = false;
                g->join_deadline = now + group_rebalance_timeout(g);
                return;
        }
        g->generation++;
        rill__free(g->protocol);
        g->protocol = NULL;
        g->initial_join = false;
        if (g->member_cnt == 0) {
                int16_t err;
                set_state(g, RILL__GS_EMPTY, now);
                RILL_LOG_I("group", "group %s: generation %d is empty", g->id, g->generation);
                err = persist_group(gc, g, now);
                if (err)
                        RILL_LOG_W("group", "group %s: could not store empty metadata (error %d)",
                                   g->id, err);
                return;
        }
        g->protocol = select_protocol(g);
        set_state(g, RILL__GS_COMPLETING, now);
        RILL_LOG_I("group", "group %s: generation %d with %d members, protocol %s, leader %s",
                   g->id, g->generation, g->member_cnt, g->protocol ? g->protocol : "-",
                   g->leader->member_id);
        for (m = g->members; m; m = m->next) {
                if (m->awaiting_join) {
                        void *w = m->join_waiter;
                        m->awaiting_join = false;
                        m->join_waiter = NULL;
                        g->awaiting_join_cnt--;
                        join_answer(gc, g, m, w, NULL, false);
                }
                m->hb_deadline = now + m->session_timeout_ms;
                m->is_new = false;
                m->pending_sync = true;
        }
        g->sync_deadline = now + RILL__MAX(group_rebalance_timeout(g), 1);
}

static bool
all_joined(const rill__group_t *g)
{
        return g->awaiting_join_cnt == g->member_cnt && g->pending_cnt == 0;
}

static void
try_complete_join(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        if (g->state != RILL__GS_PREPARING)
                return;
        if (g->initial_join) {
                /* InitialDelayedJoin: never completes early; extends while
                 * new members keep arriving, up to the rebalance timeout. */
                if (now < g->join_deadline)
                        return;
                if (g->new_member_added && g->initial_remaining_ms != 0) {
                        int32_t cur = g->initial_delay_ms;
                        int32_t d = RILL__MIN(gc->conf.initial_rebalance_delay_ms,
                                              g->initial_remaining_ms);
                        g->new_member_added = false;
                        g->initial_remaining_ms = RILL__MAX(g->initial_remaining_ms - cur, 0);
                        g->initial_delay_ms = d;
                        g->join_deadline = now + d;
                        if (d > 0)
                                return;
                }
                complete_join(gc, g, now);
                return;
        }
        if (all_joined(g) || now >= g->join_deadline)
                complete_join(gc, g, now);
}

/* Adds a new member (owning @p member_id) parked on @p waiter. */
static void
add_member_and_rebalance(rill__gc_t *gc, rill__group_t *g, const rill__gc_join_req_t *req,
                         char *member_id, rill__str_t instance_id, void *waiter, int64_t now)
{
        rill__gmember_t *m = RILL__NEW(rill__gmember_t), **pp;
        int pi;
        m->member_id = member_id;
        m->instance_id = dup_str(instance_id);
        m->client_id = dup_str(req->client_id);
        if (!m->client_id)
                m->client_id = rill__strdup("");
        m->client_host = rill__strdup(req->client_host ? req->client_host : "");
        m->session_timeout_ms = req->session_timeout_ms;
        m->rebalance_timeout_ms = req->rebalance_timeout_ms;
        m->protocol_type = dup_str(req->protocol_type);
        protos_set(m, req->protos, req->proto_cnt);
        m->is_new = true;
        m->awaiting_join = true;
        m->join_waiter = waiter;
        m->hb_deadline = now + RILL__GC_NEW_MEMBER_JOIN_TIMEOUT_MS;

        if (g->state == RILL__GS_PREPARING && g->initial_join)
                g->new_member_added = true;
        if (g->member_cnt == 0) {
                rill__free(g->protocol_type);
                g->protocol_type = dup_str(req->protocol_type);
        }
        for (pp = &g->members; *pp; pp = &(*pp)->next)
                ;
        *pp = m;
        g->member_cnt++;
        g->awaiting_join_cnt++;
        if (!g->leader)
                g->leader = m;
        pi = pending_index(g, (rill__str_t){member_id, (int32_t)strlen(member_id)});
        if (pi >= 0)
                pending_remove_at(g, pi);
        RILL_LOG_D("group", "group %s: member %s joins (%d members)", g->id, m->member_id,
                   g->member_cnt);
        maybe_prepare_rebalance(gc, g, now);
}

/* A known member rejoins: refresh its protocols and park it. */
static void
update_member_and_rebalance(rill__gc_t *gc, rill__group_t *g, rill__gmember_t *m,
                            const rill__gc_join_req_t *req, void *waiter, int64_t now)
{
        protos_set(m, req->protos, req->proto_cnt);
        m->session_timeout_ms = req->session_timeout_ms;
        m->rebalance_timeout_ms = req->rebalance_timeout_ms;
        if (m->awaiting_join) {
                /* A duplicate JoinGroup: the older request gets an error. */
                void *old = m->join_waiter;
                m->join_waiter = waiter;
                if (old && old != waiter)
                        join_error_c(gc, old, KERR_REBALANCE_IN_PROGRESS, m->member_id);
        } else {
                m->awaiting_join = true;
                m->join_waiter = waiter;
                g->awaiting_join_cnt++;
        }
        maybe_prepare_rebalance(gc, g, now);
}

/* Kafka's supportsProtocols; the joining member itself (@p self) is not
 * counted, so a lone member may change its protocols. */
static bool
supports_protocols(const rill__group_t *g, const rill__gc_join_req_t *req,
                   const rill__gmember_t *self)
{
        int others = g->member_cnt - (self ? 1 : 0);
        if (req->protocol_type.len <= 0 || req->proto_cnt <= 0)
                return false;
        if (others == 0)
                return true;
        if (!cstr_eq(g->protocol_type, req->protocol_type))
                return false;
        for (int i = 0; i < req->proto_cnt; i++) {
                rill__str_t n = req->protos[i].name;
                int cnt = 0;
                if (n.len < 0)
                        continue;
                for (const rill__gmember_t *m = g->members; m; m = m->next)
                        if (m != self && member_supports(m, n.ptr, (size_t)n.len))
                                cnt++;
                if (cnt == others)
                        return true;
        }
        return false;
}

/* Kafka's acceptJoiningMember (group.max.size). */
static bool
accept_joining_member(const rill__gc_t *gc, const rill__group_t *g, const rill__gmember_t *m)
{
        switch (g->state) {
        case RILL__GS_PREPARING:
                return (m && m->awaiting_join) || g->awaiting_join_cnt < gc->conf.max_size;
        case RILL__GS_COMPLETING:
        case RILL__GS_STABLE:
                return m || g->member_cnt < gc->conf.max_size;
        default:
                return true;
        }
}

/* A static member (instance id already known as @p old) joins with a new
 * member id: it replaces the old one (Kafka's updateStaticMemberAndRebalance). */
static void
static_replace(rill__gc_t *gc, rill__group_t *g, rill__gmember_t *old, char *new_id,
               const rill__gc_join_req_t *req, void *waiter, int64_t now)
{
        char *old_id = old->member_id;
        char *prev_leader = g->leader ? rill__strdup(g->leader->member_id) : NULL;
        void *jw = old->awaiting_join ? old->join_waiter : NULL, *sw = old->sync_waiter;
        bool same_meta = member_matches(old, req);
        bool was_awaiting = old->awaiting_join;

        /* Fence whoever still waits with the old member id. */
        old->join_waiter = NULL;
        old->sync_waiter = NULL;
        if (jw)
                join_error_c(gc, jw, KERR_FENCED_INSTANCE_ID, old_id);
        if (sw)
                sync_error(gc, sw, KERR_FENCED_INSTANCE_ID);
        old->member_id = new_id;
        RILL_LOG_I("group", "group %s: static member %s replaced %s by %s", g->id,
                   old->instance_id, old_id, new_id);
        rill__free(old_id);

        switch (g->state) {
        case RILL__GS_STABLE: {
                char *next_proto;
                bool same_proto;
                int16_t err;
                protos_set(old, req->protos, req->proto_cnt);
                old->session_timeout_ms = req->session_timeout_ms;
                old->rebalance_timeout_ms = req->rebalance_timeout_ms;
                if (was_awaiting) {
                        old->awaiting_join = false;
                        g->awaiting_join_cnt--;
                }
                next_proto = select_protocol(g);
                same_proto = streq0(next_proto, g->protocol);
                rill__free(next_proto);
                if (same_proto && same_meta) {
                        /* No rebalance: persist the new member id and give
                         * the member the current generation. The old leader
                         * id is returned so that the member does not run an
                         * assignment a Stable group would not distribute. */
                        old->hb_deadline = now + old->session_timeout_ms;
                        err = persist_group(gc, g, now);
                        if (err) {
                                join_error_c(gc, waiter, err, new_id);
                                break;
                        }
                        join_answer(gc, g, old, waiter, prev_leader ? prev_leader : "", true);
                        break;
                }
                old->awaiting_join = true;
                old->join_waiter = waiter;
                g->awaiting_join_cnt++;
                maybe_prepare_rebalance(gc, g, now);
                break;
        }
        case RILL__GS_COMPLETING:
        case RILL__GS_PREPARING:
        default:
                if (!was_awaiting)
                        g->awaiting_join_cnt++;
                protos_set(old, req->protos, req->proto_cnt);
                old->session_timeout_ms = req->session_timeout_ms;
                old->rebalance_timeout_ms = req->rebalance_timeout_ms;
                old->awaiting_join = true;
                old->join_waiter = waiter;
                old->hb_deadline = now + old->session_timeout_ms;
                maybe_prepare_rebalance(gc, g, now);
                break;
        }
        rill__free(prev_leader);
}

static void
new_member_join(rill__gc_t *gc, rill__group_t *g, const rill__gc_join_req_t *req, void *waiter,
                int64_t now)
{
        char *new_id;
        rill__gmember_t *old;
        if (!supports_protocols(g, req, NULL)) {
                join_error(gc, waiter, KERR_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
                return;
        }
        if (req->instance_id.len >= 0) {
                new_id = gen_member_id(gc, req->instance_id);
                old = static_find(g, req->instance_id);
                if (old)
                        static_replace(gc, g, old, new_id, req, waiter, now);
                else
                        add_member_and_rebalance(gc, g, req, new_id, req->instance_id, waiter, now);
                return;
        }
        new_id = gen_member_id(gc, req->client_id);
        if (req->require_known_member_id) {
                /* KIP-394: hand out the id; the member joins again with it. */
                pending_add(g, new_id, now + req->session_timeout_ms);
                join_error_c(gc, waiter, KERR_MEMBER_ID_REQUIRED, new_id);
                return;
        }
        add_member_and_rebalance(gc, g, req, new_id, RILL__STR_NULL, waiter, now);
}

static void
current_member_join(rill__gc_t *gc, rill__group_t *g, const rill__gc_join_req_t *req,
                    void *waiter, int64_t now)
{
        rill__gmember_t *m = member_find(g, req->member_id);
        int pi = pending_index(g, req->member_id);
        if (!supports_protocols(g, req, m)) {
                join_error(gc, waiter, KERR_INCONSISTENT_GROUP_PROTOCOL, req->member_id);
                return;
        }
        if (pi >= 0) {
                char *id;
                if (req->instance_id.len >= 0 && static_find(g, req->instance_id)) {
                        join_error(gc, waiter, KERR_FENCED_INSTANCE_ID, req->member_id);
                        return;
                }
                id = g->pending[pi].member_id;
                g->pending[pi].member_id = NULL;
                pending_remove_at(g, pi);
                add_member_and_rebalance(gc, g, req, id, req->instance_id, waiter, now);
                return;
        }
        if (req->instance_id.len >= 0) {
                rill__gmember_t *s = static_find(g, req->instance_id);
                if (s && s != m) {
                        join_error(gc, waiter, KERR_FENCED_INSTANCE_ID, req->member_id);
                        return;
                }
                if (!s) {
                        join_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID, req->member_id);
                        return;
                }
        }
        if (!m) {
                join_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID, req->member_id);
                return;
        }
        switch (g->state) {
        case RILL__GS_PREPARING:
                update_member_and_rebalance(gc, g, m, req, waiter, now);
                break;
        case RILL__GS_COMPLETING:
                if (member_matches(m, req))
                        join_answer(gc, g, m, waiter, NULL, false);
                else
                        update_member_and_rebalance(gc, g, m, req, waiter, now);
                break;
        case RILL__GS_STABLE:
                if (g->leader == m || !member_matches(m, req))
                        update_member_and_rebalance(gc, g, m, req, waiter, now);
                else
                        join_answer(gc, g, m, waiter, NULL, true);
                break;
        default:
                join_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID, req->member_id);
                break;
        }
}

void
rill__gc_join(rill__gc_t *gc, const rill__gc_join_req_t *req, void *waiter, int64_t now)
{
        rill__group_t *g;
        rill__gmember_t *m;
        bool unknown = req->member_id.len <= 0;

        if (req->group_id.len <= 0 || !rill__gc_group_id_ok(req->group_id)) {
                join_error(gc, waiter, KERR_INVALID_GROUP_ID, req->member_id);
                return;
        }
        if (req->session_timeout_ms < gc->conf.min_session_timeout_ms ||
            req->session_timeout_ms > gc->conf.max_session_timeout_ms) {
                join_error(gc, waiter, KERR_INVALID_SESSION_TIMEOUT, req->member_id);
                return;
        }
        g = rill__gc_group_find(gc, req->group_id);
        if (!g) {
                if (!unknown) {
                        join_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID, req->member_id);
                        return;
                }
                g = group_create(gc, req->group_id, now);
        }
        m = unknown ? NULL : member_find(g, req->member_id);
        if (!accept_joining_member(gc, g, m)) {
                if (m)
                        member_remove(gc, g, m, now);
                join_error_c(gc, waiter, KERR_GROUP_MAX_SIZE_REACHED, "");
        } else if (unknown) {
                new_member_join(gc, g, req, waiter, now);
        } else {
                current_member_join(gc, g, req, waiter, now);
        }
        if (g->state == RILL__GS_PREPARING)
                try_complete_join(gc, g, now);
        maybe_drop_vacant(gc, g);
}

/* ---- SyncGroup ---- */

/* Kafka's validateCurrentMember. */
static int16_t
validate_member(const rill__group_t *g, rill__str_t member_id, rill__str_t instance_id)
{
        if (instance_id.len >= 0) {
                const rill__gmember_t *s = static_find(g, instance_id);
                if (!s)
                        return KERR_UNKNOWN_MEMBER_ID;
                if (!cstr_eq(s->member_id, member_id))
                        return KERR_FENCED_INSTANCE_ID;
                return KERR_NONE;
        }
        return member_find(g, member_id) ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID;
}

void
rill__gc_sync(rill__gc_t *gc, const rill__gc_sync_req_t *req, void *waiter, int64_t now)
{
        rill__group_t *g;
        rill__gmember_t *m;
        int16_t err;

        if (req->group_id.len <= 0 || !rill__gc_group_id_ok(req->group_id)) {
                sync_error(gc, waiter, KERR_INVALID_GROUP_ID);
                return;
        }
        g = rill__gc_group_find(gc, req->group_id);
        if (!g) {
                sync_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID);
                return;
        }
        err = validate_member(g, req->member_id, req->instance_id);
        if (!err && req->generation != g->generation)
                err = KERR_ILLEGAL_GENERATION;
        if (!err && ((req->protocol_type.len >= 0 && !cstr_eq(g->protocol_type, req->protocol_type)) ||
                     (req->protocol_name.len >= 0 && !cstr_eq(g->protocol, req->protocol_name))))
                err = KERR_INCONSISTENT_GROUP_PROTOCOL;
        if (err) {
                sync_error(gc, waiter, err);
                return;
        }
        m = member_find(g, req->member_id);
        switch (g->state) {
        case RILL__GS_EMPTY:
                sync_error(gc, waiter, KERR_UNKNOWN_MEMBER_ID);
                return;
        case RILL__GS_PREPARING:
                sync_error(gc, waiter, KERR_REBALANCE_IN_PROGRESS);
                return;
        case RILL__GS_STABLE:
                m->pending_sync = false;
                m->hb_deadline = now + m->session_timeout_ms;
                sync_result(gc, waiter, KERR_NONE, g, m);
                return;
        case RILL__GS_COMPLETING:
                break;
        default:
                sync_error(gc, waiter, KERR_COORDINATOR_NOT_AVAILABLE);
                return;
        }
        if (m->sync_waiter && m->sync_waiter != waiter) {
                void *old = m->sync_waiter;
                m->sync_waiter = NULL;
                sync_error(gc, old, KERR_REBALANCE_IN_PROGRESS);
        }
        m->sync_waiter = waiter;
        m->pending_sync = false;
        if (m != g->leader)
                return; /* parked until the leader's assignment arrives */

        /* The leader's assignment: members it did not mention get an empty one. */
        for (rill__gmember_t *x = g->members; x; x = x->next) {
                const rill__gc_assign_in_t *a = NULL;
                rill__free(x->assignment);
                x->assignment = NULL;
                x->assignment_len = 0;
                for (int i = 0; i < req->assign_cnt; i++)
                        if (cstr_eq(x->member_id, req->assigns[i].member_id))
                                a = &req->assigns[i];
                if (a)
                        x->assignment = dup_bytes(a->assignment, &x->assignment_len);
                if (x->assignment_len < 0)
                        x->assignment_len = 0;
        }
        err = persist_group(gc, g, now);
        if (err) {
                RILL_LOG_W("group", "group %s: storing the assignment failed (error %d)", g->id,
                           err);
                reset_and_propagate_assignment_error(gc, g, err);
                maybe_prepare_rebalance(gc, g, now);
                return;
        }
        set_state(g, RILL__GS_STABLE, now);
        RILL_LOG_D("group", "group %s: generation %d is stable", g->id, g->generation);
        for (rill__gmember_t *x = g->members; x; x = x->next) {
                if (x->sync_waiter) {
                        void *w = x->sync_waiter;
                        x->sync_waiter = NULL;
                        sync_result(gc, w, KERR_NONE, g, x);
                }
        }
}

/* ---- Heartbeat, LeaveGroup ---- */

int16_t
rill__gc_heartbeat(rill__gc_t *gc, rill__str_t group_id, int32_t generation,
                   rill__str_t member_id, rill__str_t instance_id, int64_t now)
{
        rill__group_t *g;
        rill__gmember_t *m;
        int16_t err;
        if (group_id.len <= 0 || !rill__gc_group_id_ok(group_id))
                return KERR_INVALID_GROUP_ID;
        g = rill__gc_group_find(gc, group_id);
        if (!g)
                return KERR_UNKNOWN_MEMBER_ID;
        err = validate_member(g, member_id, instance_id);
        if (err)
                return err;
        if (generation != g->generation)
                return KERR_ILLEGAL_GENERATION;
        m = member_find(g, member_id);
        switch (g->state) {
        case RILL__GS_COMPLETING:
        case RILL__GS_STABLE:
                m->hb_deadline = now + m->session_timeout_ms;
                return KERR_NONE;
        case RILL__GS_PREPARING:
                m->hb_deadline = now + m->session_timeout_ms;
                return KERR_REBALANCE_IN_PROGRESS;
        default:
                return KERR_UNKNOWN_MEMBER_ID;
        }
}

int16_t
rill__gc_leave(rill__gc_t *gc, rill__str_t group_id, const rill__gc_leave_in_t *in, int n,
               int16_t *errs, int64_t now)
{
        rill__group_t *g;
        if (group_id.len <= 0 || !rill__gc_group_id_ok(group_id))
                return KERR_INVALID_GROUP_ID;
        g = rill__gc_group_find(gc, group_id);
        for (int i = 0; i < n; i++) {
                rill__gmember_t *m;
                int pi;
                if (!g) {
                        errs[i] = KERR_UNKNOWN_MEMBER_ID;
                        continue;
                }
                if (in[i].member_id.len <= 0) {
                        /* Administrative removal by group.instance.id. */
                        m = static_find(g, in[i].instance_id);
                        if (m) {
                                RILL_LOG_I("group", "group %s: static member %s removed",
                                           g->id, m->instance_id);
                                member_remove(gc, g, m, now);
                                errs[i] = KERR_NONE;
                        } else {
                                errs[i] = KERR_UNKNOWN_MEMBER_ID;
                        }
                        continue;
                }
                pi = pending_index(g, in[i].member_id);
                if (pi >= 0) {
                        pending_remove_at(g, pi);
                        try_complete_join(gc, g, now);
                        errs[i] = KERR_NONE;
                        continue;
                }
                errs[i] = validate_member(g, in[i].member_id, in[i].instance_id);
                if (errs[i])
                        continue;
                m = member_find(g, in[i].member_id);
                RILL_LOG_D("group", "group %s: member %s leaves", g->id, m->member_id);
                member_remove(gc, g, m, now);
        }
        if (g)
                maybe_drop_vacant(gc, g);
        return KERR_NONE;
}

/* ---- OffsetCommit ---- */

static void
commit_fail_all(rill__gc_commit_req_t *req, int16_t err)
{
        for (int i = 0; i < req->part_cnt; i++)
                if (!req->parts[i].err)
                        req->parts[i].err = err;
}

static void
commit_store(rill__gc_t *gc, rill__group_t *g, rill__gc_commit_req_t *req, int64_t now)
{
        int cnt = req->part_cnt > 0 ? req->part_cnt : 1;
        rill__grec_t *recs = rill__calloc((size_t)cnt, sizeof(*recs));
        rill__goffset_t *offs = rill__calloc((size_t)cnt, sizeof(*offs));
        char **names = rill__calloc((size_t)cnt, sizeof(*names));
        int *idx = rill__calloc((size_t)cnt, sizeof(*idx));
        int n = 0;
        int16_t err;

        for (int i = 0; i < req->part_cnt; i++) {
                rill__gc_commit_in_t *p = &req->parts[i];
                rill__goffset_t *o = &offs[n];
                if (p->err)
                        continue;
                if (p->metadata.len > RILL__GC_MAX_METADATA) {
                        p->err = KERR_OFFSET_METADATA_TOO_LARGE;
                        continue;
                }
                if (p->topic.len < 0) {
                        p->err = KERR_INVALID_TOPIC_EXCEPTION;
                        continue;
                }
                o->partition = p->partition;
                o->offset = p->offset;
                o->leader_epoch = p->leader_epoch;
                o->metadata = p->metadata.len >= 0 ? dup_str(p->metadata) : rill__strdup("");
                o->commit_ts = p->commit_ts >= 0 ? p->commit_ts : now;
                o->expire_ts = req->retention_ms > 0 ? now + req->retention_ms : -1;
                names[n] = dup_str(p->topic);
                recs[n].kind = RILL__GREC_OFFSET;
                recs[n].group_id = g->id;
                recs[n].topic = names[n];
                recs[n].partition = p->partition;
                recs[n].off = o;
                idx[n] = i;
                n++;
        }
        err = persist(gc, g->id, recs, n, now);
        for (int k = 0; k < n; k++) {
                rill__gc_commit_in_t *p = &req->parts[idx[k]];
                if (err)
                        p->err = err;
                else
                        offset_set(g, p->topic, &offs[k]);
                rill__free(offs[k].metadata);
                rill__free(names[k]);
        }
        rill__free(idx);
        rill__free(names);
        rill__free(offs);
        rill__free(recs);
}

void
rill__gc_commit(rill__gc_t *gc, rill__gc_commit_req_t *req, int64_t now)
{
        rill__group_t *g;
        rill__gmember_t *m;
        int16_t err = KERR_NONE;

        if (!rill__gc_group_id_ok(req->group_id)) {
                commit_fail_all(req, KERR_INVALID_GROUP_ID);
                return;
        }
        g = rill__gc_group_find(gc, req->group_id);
        if (!g) {
                if (req->generation >= 0) {
                        commit_fail_all(req, KERR_ILLEGAL_GENERATION);
                        return;
                }
                /* Not using group management: allowed, as in Kafka. */
                g = group_create(gc, req->group_id, now);
        }
        if (req->generation >= 0 || req->member_id.len > 0 || req->instance_id.len >= 0) {
                err = validate_member(g, req->member_id, req->instance_id);
                if (!err && req->generation != g->generation)
                        err = KERR_ILLEGAL_GENERATION;
        } else if (g->state != RILL__GS_EMPTY) {
                err = KERR_UNKNOWN_MEMBER_ID;
        }
        if (!err && g->state == RILL__GS_COMPLETING)
                err = KERR_REBALANCE_IN_PROGRESS;
        if (err) {
                commit_fail_all(req, err);
                maybe_drop_vacant(gc, g);
                return;
        }
        m = member_find(g, req->member_id);
        if (m && (g->state == RILL__GS_STABLE || g->state == RILL__GS_PREPARING))
                m->hb_deadline = RILL__MAX(m->hb_deadline, now + m->session_timeout_ms);
        commit_store(gc, g, req, now);
        maybe_drop_vacant(gc, g);
}

/* ---- DeleteGroups, deleted topics, offsets expiry ---- */

/* Writes tombstones for every offset of @p g (all or those of @p topic)
 * plus, with @p group_too, the group metadata. @returns the append error. */
static int16_t
tombstone_offsets(rill__gc_t *gc, rill__group_t *g, const char *topic, bool group_too,
                  int64_t now)
{
        int n = 0, cap = g->offset_cnt + 1;
        rill__grec_t *recs = rill__calloc((size_t)cap, sizeof(*recs));
        int16_t err;
        for (rill__gtopic_t *t = g->topics; t; t = t->next) {
                if (topic && strcmp(t->name, topic) != 0)
                        continue;
                for (int i = 0; i < t->part_cnt; i++) {
                        recs[n].kind = RILL__GREC_OFFSET;
                        recs[n].tombstone = true;
                        recs[n].group_id = g->id;
                        recs[n].topic = t->name;
                        recs[n].partition = t->parts[i].partition;
                        n++;
                }
        }
        if (group_too) {
                recs[n].kind = RILL__GREC_GROUP;
                recs[n].tombstone = true;
                recs[n].group_id = g->id;
                n++;
        }
        err = persist(gc, g->id, recs, n, now);
        rill__free(recs);
        return err;
}

int16_t
rill__gc_delete_group(rill__gc_t *gc, rill__str_t group_id, int64_t now)
{
        rill__group_t *g;
        int16_t err;
        if (!rill__gc_group_id_ok(group_id))
                return KERR_INVALID_GROUP_ID;
        g = rill__gc_group_find(gc, group_id);
        if (!g)
                return KERR_GROUP_ID_NOT_FOUND;
        if (g->state != RILL__GS_EMPTY)
                return KERR_NON_EMPTY_GROUP;
        err = tombstone_offsets(gc, g, NULL, true, now);
        if (err)
                return err;
        RILL_LOG_I("group", "group %s deleted (%d committed offsets)", g->id, g->offset_cnt);
        group_remove(gc, g);
        return KERR_NONE;
}

void
rill__gc_topic_deleted(rill__gc_t *gc, const char *topic, int64_t now)
{
        rill__str_t ts = {topic, (int32_t)strlen(topic)};
        rill__group_t *g, *next;
        for (g = rill__gc_group_next(gc, NULL); g; g = next) {
                rill__gtopic_t *t;
                next = rill__gc_group_next(gc, g);
                t = topic_find(g, ts);
                if (!t)
                        continue;
                if (tombstone_offsets(gc, g, topic, false, now))
                        RILL_LOG_W("group", "group %s: could not write tombstones for deleted "
                                   "topic %s", g->id, topic);
                while ((t = topic_find(g, ts)) != NULL)
                        offset_del(g, ts, t->parts[0].partition);
                if (g->state == RILL__GS_EMPTY && g->offset_cnt == 0 && g->member_cnt == 0 &&
                    g->pending_cnt == 0 && !g->protocol_type && g->generation == 0)
                        group_remove(gc, g);
        }
}

/* offsets.retention.minutes: offsets of an Empty group expire that long
 * after the group became empty (or after their commit, if later); offsets
 * committed with an explicit retention expire then regardless of state. An
 * Empty group left with no offsets is removed (Kafka's cleanupGroupMetadata). */
static void
expire_offsets(rill__gc_t *gc, rill__group_t *g, int64_t now)
{
        bool empty = g->state == RILL__GS_EMPTY && g->member_cnt == 0;
        if (g->offset_cnt > 0) {
                int cap = g->offset_cnt, n = 0;
                rill__grec_t *recs = rill__calloc((size_t)cap, sizeof(*recs));
                char **names = rill__calloc((size_t)cap, sizeof(*names));
                for (rill__gtopic_t *t = g->topics; t; t = t->next) {
                        for (int i = 0; i < t->part_cnt; i++) {
                                const rill__goffset_t *o = &t->parts[i];
                                int64_t at;
                                if (o->expire_ts >= 0)
                                        at = o->expire_ts;
                                else if (empty && gc->conf.offsets_retention_ms > 0)
                                        at = RILL__MAX(g->state_ts, o->commit_ts) +
                                             gc->conf.offsets_retention_ms;
                                else
                                        continue;
                                if (at > now)
                                        continue;
                                names[n] = rill__strdup(t->name);
                                recs[n].kind = RILL__GREC_OFFSET;
                                recs[n].tombstone = true;
                                recs[n].group_id = g->id;
                                recs[n].topic = names[n];
                                recs[n].partition = o->partition;
                                n++;
                        }
                }
                if (n > 0 && persist(gc, g->id, recs, n, now) == KERR_NONE) {
                        RILL_LOG_I("group", "group %s: %d committed offsets expired", g->id, n);
                        for (int i = 0; i < n; i++)
                                offset_del(g, (rill__str_t){names[i], (int32_t)strlen(names[i])},
                                           recs[i].partition);
                }
                for (int i = 0; i < n; i++)
                        rill__free(names[i]);
                rill__free(names);
                rill__free(recs);
        }
        if (empty && g->offset_cnt == 0 && g->pending_cnt == 0) {
                if (!group_is_vacant(g) && tombstone_offsets(gc, g, NULL, true, now))
                        return;
                RILL_LOG_I("group", "group %s: empty with no offsets; removed", g->id);
                group_remove(gc, g);
        }
}

void
rill__gc_tick(rill__gc_t *gc, int64_t now, bool expire)
{
        rill__group_t *g, *next;
        for (g = rill__gc_group_next(gc, NULL); g; g = next) {
                bool changed;
                next = rill__gc_group_next(gc, g);

                /* KIP-394 member ids that were never used. */
                for (int i = 0; i < g->pending_cnt;) {
                        if (g->pending[i].deadline <= now) {
                                pending_remove_at(g, i);
                                try_complete_join(gc, g, now);
                        } else {
                                i++;
                        }
                }
                /* Session expiry. Members parked in JoinGroup (unless new)
                 * or SyncGroup satisfy their heartbeats. */
                do {
                        changed = false;
                        for (rill__gmember_t *m = g->members; m; m = m->next) {
                                if (now < m->hb_deadline)
                                        continue;
                                if ((m->awaiting_join && !m->is_new) || m->sync_waiter)
                                        continue;
                                RILL_LOG_I("group", "group %s: member %s session expired; removing",
                                           g->id, m->member_id);
                                member_remove(gc, g, m, now);
                                changed = true;
                                break;
                        }
                } while (changed);
                try_complete_join(gc, g, now);
                /* Members that got their JoinGroup answer but never synced. */
                if ((g->state == RILL__GS_COMPLETING || g->state == RILL__GS_STABLE) &&
                    g->sync_deadline && now >= g->sync_deadline) {
                        bool any = false;
                        rill__gmember_t *m, *mn;
                        g->sync_deadline = 0;
                        for (m = g->members; m; m = mn) {
                                mn = m->next;
                                if (m->pending_sync) {
                                        RILL_LOG_I("group", "group %s: member %s did not sync in "
                                                   "time; removing", g->id, m->member_id);
                                        member_remove_raw(gc, g, m, KERR_UNKNOWN_MEMBER_ID);
                                        any = true;
                                }
                        }
                        if (any)
                                prepare_rebalance(gc, g, now);
                }
                if (expire)
                        expire_offsets(gc, g, now);
        }
}

/* ---- load ---- */

void
rill__gc_load_offset(rill__gc_t *gc, rill__str_t group_id, rill__str_t topic, int32_t partition,
                     const rill__goffset_t *off)
{
        rill__group_t *g = rill__gc_group_find(gc, group_id);
        if (!off) {
                if (g)
                        offset_del(g, topic, partition);
                return;
        }
        if (!g)
                g = group_create(gc, group_id, off->commit_ts);
        {
                rill__goffset_t o = *off;
                o.partition = partition;
                offset_set(g, topic, &o);
        }
}

void
rill__gc_load_group(rill__gc_t *gc, rill__str_t group_id, bool tombstone,
                    rill__str_t protocol_type, int32_t generation, rill__str_t protocol,
                    int64_t state_ts)
{
        rill__group_t *g = rill__gc_group_find(gc, group_id);
        if (!g) {
                if (tombstone)
                        return;
                g = group_create(gc, group_id, state_ts);
        }
        rill__free(g->protocol_type);
        rill__free(g->protocol);
        g->protocol_type = NULL;
        g->protocol = NULL;
        if (tombstone) {
                g->generation = 0;
                return;
        }
        g->protocol_type = protocol_type.len > 0 ? dup_str(protocol_type) : NULL;
        g->protocol = protocol.len >= 0 ? dup_str(protocol) : NULL;
        g->generation = generation;
        g->state = RILL__GS_EMPTY;
        if (state_ts >= 0)
                g->state_ts = state_ts;
}

void
rill__gc_load_done(rill__gc_t *gc, int64_t now)
{
        rill__group_t *g, *next;
        for (g = rill__gc_group_next(gc, NULL); g; g = next) {
                next = rill__gc_group_next(gc, g);
                /* Members are not restored: the protocol chosen by a past
                 * generation no longer applies. */
                rill__free(g->protocol);
                g->protocol = NULL;
                if (g->state_ts <= 0)
                        g->state_ts = now;
                maybe_drop_vacant(gc, g);
        }
}
