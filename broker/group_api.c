/*
 * group_api.c - the group coordinator in the broker: rill__groups_* (group.h),
 * the decoders and encoders of the group APIs, and parked requests.
 *
 * APIs and versions (librdkafka 2.0.2 uses the highest of each; every one
 * starts at 0 because librdkafka's feature checks need v0 overlap):
 *   FindCoordinator 0-2    JoinGroup 0-5        SyncGroup 0-3
 *   Heartbeat 0-3          LeaveGroup 0-3       OffsetCommit 0-7
 *   OffsetFetch 0-7 (6+ flexible)               DescribeGroups 0-4
 *   ListGroups 0-4 (3+ flexible)                DeleteGroups 0-1
 * Every codec takes the request's `flex` flag, so the flexible versions of
 * the other APIs only need their new fields.
 *
 * Design. Handlers decode a request into the state machine's request structs
 * (group_int.h; strings stay views into the request frame) and call it with
 * the wall clock. JoinGroup and SyncGroup pass the rill__req_t itself as the
 * waiter: when the state machine completes the waiter during the very call
 * that received it, the response goes into the handler's own buffer
 * (RILL__H_RESPOND); otherwise the handler returns RILL__H_PARKED and the
 * completion later encodes the response and calls rill__req_respond() (which
 * just frees the request if its connection is gone). Shutdown hands every
 * parked request back through rill__gc_drop_waiters() to rill__req_free().
 *
 * A malformed request is logged and closes the connection (RILL__H_CLOSE),
 * as Kafka does.
 *
 * Loop thread only.
 */
#include "group.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "group_int.h"
#include "group_store.h"
#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

/* offsets.retention.check.interval.ms (Kafka's default). */
#define GROUPS_EXPIRE_INTERVAL_MS 600000
/* Bitfield of the ACL operations on a group without an authorizer: READ (3),
 * DELETE (6) and DESCRIBE (8). */
#define GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8))

struct rill__groups {
        rill_broker_t *b;
        rill__gc_t *gc;
        bool loaded;
        int64_t next_expire_ms;
        /* The request whose handler is running: a completion for it is
         * written into cur_resp instead of being sent separately. */
        rill__req_t *cur_req;
        rill__wbuf_t *cur_resp;
        bool cur_done;
};

static rill__hres_t
malformed(rill__req_t *req, const char *api)
{
        RILL_LOG_W("group", "malformed %s v%d request from %s; closing the connection", api,
                   req->api_version, rill__conn_peer(req->conn));
        return RILL__H_CLOSE;
}

static rill__groups_t *
groups_of(rill__req_t *req)
{
        return rill__broker_groups(req->broker);
}

/* ---- response encoders for the parked APIs ---- */

static void
encode_join(const rill__req_t *req, rill__wbuf_t *w, const rill__gc_join_res_t *r)
{
        int16_t v = req->api_version;
        bool flex = req->flex;
        if (v >= 2)
                rill__wb_i32(w, 0); /* throttle_time_ms */
        rill__wb_i16(w, r->err);
        rill__wb_i32(w, r->generation);
        rill__wb_cstr(w, r->protocol ? r->protocol : "", flex);
        rill__wb_cstr(w, r->leader ? r->leader : "", flex);
        rill__wb_cstr(w, r->member_id ? r->member_id : "", flex);
        rill__wb_array(w, r->member_cnt, flex);
        for (int i = 0; i < r->member_cnt; i++) {
                const rill__gc_join_member_t *m = &r->members[i];
                rill__wb_cstr(w, m->member_id, flex);
                if (v >= 5)
                        rill__wb_cstr(w, m->instance_id, flex);
                rill__wb_bytes(w, m->meta ? (const void *)m->meta : "", m->meta_len, flex);
                rill__wb_tags(w, flex);
        }
        rill__wb_tags(w, flex);
}

static void
encode_sync(const rill__req_t *req, rill__wbuf_t *w, const rill__gc_sync_res_t *r)
{
        bool flex = req->flex;
        if (req->api_version >= 1)
                rill__wb_i32(w, 0);
        rill__wb_i16(w, r->err);
        rill__wb_bytes(w, r->assignment ? (const void *)r->assignment : "",
                       r->assignment_len > 0 ? r->assignment_len : 0, flex);
        rill__wb_tags(w, flex);
}

/* Sends the response of @p req: into the running handler's buffer when it
 * is the request being handled, else as a parked-request completion. */
static void
complete(rill__groups_t *g, rill__req_t *req, void (*enc)(const rill__req_t *, rill__wbuf_t *,
                                                          const void *),
         const void *res)
{
        rill__wbuf_t w;
        if (req == g->cur_req && !g->cur_done) {
                enc(req, g->cur_resp, res);
                g->cur_done = true;
                return;
        }
        rill__wb_init(&w, 128);
        enc(req, &w, res);
        rill__req_respond(req, &w);
        rill__wb_free(&w);
}

static void
enc_join_v(const rill__req_t *req, rill__wbuf_t *w, const void *res)
{
        encode_join(req, w, res);
}

static void
enc_sync_v(const rill__req_t *req, rill__wbuf_t *w, const void *res)
{
        encode_sync(req, w, res);
}

static void
ops_join_done(void *opaque, void *waiter, const rill__gc_join_res_t *res)
{
        complete(opaque, waiter, enc_join_v, res);
}

static void
ops_sync_done(void *opaque, void *waiter, const rill__gc_sync_res_t *res)
{
        complete(opaque, waiter, enc_sync_v, res);
}

static int16_t
ops_persist(void *opaque, const char *group_id, const rill__grec_t *recs, int n, int64_t now)
{
        rill__groups_t *g = opaque;
        return rill__gstore_persist(g->b, group_id, recs, n, now);
}

static void
drop_req(void *waiter, void *arg)
{
        rill__groups_t *g = arg;
        if (waiter == g->cur_req)
                return; /* its handler answers it */
        rill__req_free(waiter);
}

/* ---- lifecycle (group.h) ---- */

rill__groups_t *
rill__groups_new(rill_broker_t *b)
{
        const struct rill_broker_conf_s *c = rill__broker_conf(b);
        rill__groups_t *g = RILL__NEW(rill__groups_t);
        rill__gc_conf_t gconf;
        rill__gc_ops_t ops;

        memset(&gconf, 0, sizeof(gconf));
        gconf.initial_rebalance_delay_ms = c->group_initial_rebalance_delay_ms;
        gconf.min_session_timeout_ms = c->group_min_session_timeout_ms;
        gconf.max_session_timeout_ms = c->group_max_session_timeout_ms;
        gconf.max_size = c->group_max_size > 0 ? c->group_max_size : INT32_MAX;
        gconf.offsets_retention_ms = c->offsets_retention_minutes > 0
                                             ? c->offsets_retention_minutes * 60000
                                             : 0;
        memset(&ops, 0, sizeof(ops));
        ops.opaque = g;
        ops.join_done = ops_join_done;
        ops.sync_done = ops_sync_done;
        ops.persist = ops_persist;
        g->b = b;
        g->gc = rill__gc_new(&gconf, &ops);
        return g;
}

rill_err_t
rill__groups_load(rill__groups_t *g, char *errstr, size_t errstr_size)
{
        rill_err_t e;
        int64_t now = rill__now_ms();
        g->loaded = false;
        rill__gc_reset(g->gc, drop_req, g);
        if ((e = rill__gstore_ensure(g->b, errstr, errstr_size)) != RILL_OK)
                return e;
        if ((e = rill__gstore_replay(g->b, g->gc, errstr, errstr_size)) != RILL_OK)
                return e;
        rill__gc_load_done(g->gc, now);
        g->next_expire_ms = now + GROUPS_EXPIRE_INTERVAL_MS;
        g->loaded = true;
        RILL_LOG_I("group", "group coordinator ready: %d groups", rill__gc_group_count(g->gc));
        return RILL_OK;
}

void
rill__groups_tick(rill__groups_t *g, int64_t now_ms)
{
        bool expire;
        if (!g || !g->loaded)
                return;
        expire = now_ms >= g->next_expire_ms;
        if (expire)
                g->next_expire_ms = now_ms + GROUPS_EXPIRE_INTERVAL_MS;
        rill__gc_tick(g->gc, now_ms, expire);
}

void
rill__groups_shutdown(rill__groups_t *g)
{
        if (!g)
                return;
        rill__gc_drop_waiters(g->gc, drop_req, g);
        g->loaded = false;
}

void
rill__groups_destroy(rill__groups_t *g)
{
        if (!g)
                return;
        rill__gc_drop_waiters(g->gc, drop_req, g);
        rill__gc_destroy(g->gc);
        rill__free(g);
}

void
rill__groups_topic_deleted(rill__groups_t *g, const char *topic)
{
        if (g && g->loaded && topic)
                rill__gc_topic_deleted(g->gc, topic, rill__now_ms());
}

/* ---- FindCoordinator 0-2 ---- */

static rill__hres_t
handle_find_coordinator(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t key;
        int8_t key_type = 0;
        int16_t err = KERR_NONE;
        const char *msg = NULL;

        key = rill__rb_str(r, flex);
        if (v >= 1)
                key_type = rill__rb_i8(r);
        rill__rb_tags(r, flex);
        if (r->err)
                return malformed(req, "FindCoordinator");
        if (key.len < 0) {
                err = KERR_INVALID_REQUEST;
                msg = "null coordinator key";
        } else if (key_type == 1) {
                err = KERR_COORDINATOR_NOT_AVAILABLE;
                msg = "transactions are not supported yet";
        } else if (key_type != 0) {
                err = KERR_INVALID_REQUEST;
                msg = "unknown coordinator key type";
        } else if (!g || !g->loaded || !rill__gstore_topic(req->broker)) {
                err = KERR_COORDINATOR_NOT_AVAILABLE;
                msg = "the group coordinator is not available";
        }
        if (v >= 1)
                rill__wb_i32(w, 0);
        rill__wb_i16(w, err);
        if (v >= 1)
                rill__wb_cstr(w, msg, flex);
        if (err) {
                rill__wb_i32(w, -1);
                rill__wb_cstr(w, "", flex);
                rill__wb_i32(w, -1);
        } else {
                rill__wb_i32(w, rill_broker_node_id(req->broker));
                rill__wb_cstr(w, rill__broker_adv_host(req->broker), flex);
                rill__wb_i32(w, rill__broker_adv_port(req->broker));
        }
        rill__wb_tags(w, flex);
        return RILL__H_RESPOND;
}

/* ---- JoinGroup 0-5 ---- */

/* Kafka reports a member's host as "/<ip>". */
static void
client_host(const rill__req_t *req, char *buf, size_t size)
{
        const char *peer = req->conn ? rill__conn_peer(req->conn) : "";
        const char *colon = strrchr(peer, ':');
        size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
        if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
                peer++;
                n -= 2;
        }
        snprintf(buf, size, "/%.*s", (int)n, peer);
}

static rill__hres_t
handle_join_group(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__gc_join_req_t jr;
        rill__gc_proto_in_t *protos = NULL;
        char host[80];
        int32_t n;

        memset(&jr, 0, sizeof(jr));
        jr.group_id = rill__rb_str(r, flex);
        jr.session_timeout_ms = rill__rb_i32(r);
        jr.rebalance_timeout_ms = v >= 1 ? rill__rb_i32(r) : jr.session_timeout_ms;
        jr.member_id = rill__rb_str(r, flex);
        jr.instance_id = v >= 5 ? rill__rb_str(r, flex) : RILL__STR_NULL;
        jr.protocol_type = rill__rb_str(r, flex);
        n = rill__rb_array(r, flex);
        if (n > 0)
                protos = rill__calloc((size_t)n, sizeof(*protos));
        for (int32_t i = 0; i < n && !r->err; i++) {
                protos[i].name = rill__rb_str(r, flex);
                protos[i].meta = rill__rb_bytes(r, flex);
                rill__rb_tags(r, flex);
        }
        rill__rb_tags(r, flex);
        if (r->err || jr.member_id.len < 0 || jr.protocol_type.len < 0) {
                rill__free(protos);
                return malformed(req, "JoinGroup");
        }
        jr.protos = protos;
        jr.proto_cnt = n > 0 ? n : 0;
        jr.client_id = req->client_id;
        client_host(req, host, sizeof(host));
        jr.client_host = host;
        jr.require_known_member_id = v >= 4;
        if (jr.rebalance_timeout_ms <= 0)
                jr.rebalance_timeout_ms = jr.session_timeout_ms;

        if (!g || !g->loaded) {
                rill__gc_join_res_t res;
                memset(&res, 0, sizeof(res));
                res.err = KERR_COORDINATOR_NOT_AVAILABLE;
                res.generation = -1;
                res.member_id = "";
                res.leader = "";
                encode_join(req, w, &res);
                rill__free(protos);
                return RILL__H_RESPOND;
        }
        g->cur_req = req;
        g->cur_resp = w;
        g->cur_done = false;
        rill__gc_join(g->gc, &jr, req, rill__now_ms());
        g->cur_req = NULL;
        g->cur_resp = NULL;
        rill__free(protos);
        return g->cur_done ? RILL__H_RESPOND : RILL__H_PARKED;
}

/* ---- SyncGroup 0-3 ---- */

static rill__hres_t
handle_sync_group(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__gc_sync_req_t sr;
        rill__gc_assign_in_t *as = NULL;
        int32_t n;

        memset(&sr, 0, sizeof(sr));
        sr.group_id = rill__rb_str(r, flex);
        sr.generation = rill__rb_i32(r);
        sr.member_id = rill__rb_str(r, flex);
        sr.instance_id = v >= 3 ? rill__rb_str(r, flex) : RILL__STR_NULL;
        sr.protocol_type = RILL__STR_NULL;
        sr.protocol_name = RILL__STR_NULL;
        n = rill__rb_array(r, flex);
        if (n > 0)
                as = rill__calloc((size_t)n, sizeof(*as));
        for (int32_t i = 0; i < n && !r->err; i++) {
                as[i].member_id = rill__rb_str(r, flex);
                as[i].assignment = rill__rb_bytes(r, flex);
                rill__rb_tags(r, flex);
        }
        rill__rb_tags(r, flex);
        if (r->err || sr.member_id.len < 0) {
                rill__free(as);
                return malformed(req, "SyncGroup");
        }
        sr.assigns = as;
        sr.assign_cnt = n > 0 ? n : 0;
        if (!g || !g->loaded) {
                rill__gc_sync_res_t res;
                memset(&res, 0, sizeof(res));
                res.err = KERR_COORDINATOR_NOT_AVAILABLE;
                encode_sync(req, w, &res);
                rill__free(as);
                return RILL__H_RESPOND;
        }
        g->cur_req = req;
        g->cur_resp = w;
        g->cur_done = false;
        rill__gc_sync(g->gc, &sr, req, rill__now_ms());
        g->cur_req = NULL;
        g->cur_resp = NULL;
        rill__free(as);
        return g->cur_done ? RILL__H_RESPOND : RILL__H_PARKED;
}

/* ---- Heartbeat 0-3 ---- */

static rill__hres_t
handle_heartbeat(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t group, member, instance = RILL__STR_NULL;
        int32_t generation;
        int16_t err;

        group = rill__rb_str(r, flex);
        generation = rill__rb_i32(r);
        member = rill__rb_str(r, flex);
        if (v >= 3)
                instance = rill__rb_str(r, flex);
        rill__rb_tags(r, flex);
        if (r->err)
                return malformed(req, "Heartbeat");
        if (!g || !g->loaded)
                err = KERR_COORDINATOR_NOT_AVAILABLE;
        else
                err = rill__gc_heartbeat(g->gc, group, generation, member, instance,
                                         rill__now_ms());
        if (v >= 1)
                rill__wb_i32(w, 0);
        rill__wb_i16(w, err);
        rill__wb_tags(w, flex);
        return RILL__H_RESPOND;
}

/* ---- LeaveGroup 0-3 ---- */

static rill__hres_t
handle_leave_group(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t group;
        rill__gc_leave_in_t one, *in;
        int16_t *errs, top;
        int32_t n;

        group = rill__rb_str(r, flex);
        if (v <= 2) {
                one.member_id = rill__rb_str(r, flex);
                one.instance_id = RILL__STR_NULL;
                in = &one;
                n = 1;
        } else {
                n = rill__rb_array(r, flex);
                in = rill__calloc((size_t)(n > 0 ? n : 1), sizeof(*in));
                for (int32_t i = 0; i < n && !r->err; i++) {
                        in[i].member_id = rill__rb_str(r, flex);
                        in[i].instance_id = rill__rb_str(r, flex);
                        rill__rb_tags(r, flex);
                }
                if (n < 0)
                        n = 0;
        }
        rill__rb_tags(r, flex);
        if (r->err) {
                if (in != &one)
                        rill__free(in);
                return malformed(req, "LeaveGroup");
        }
        errs = rill__calloc((size_t)(n > 0 ? n : 1), sizeof(*errs));
        if (!g || !g->loaded)
                top = KERR_COORDINATOR_NOT_AVAILABLE;
        else
                top = rill__gc_leave(g->gc, group, in, n, errs, rill__now_ms());
        if (v >= 1)
                rill__wb_i32(w, 0);
        if (v <= 2) {
                rill__wb_i16(w, top ? top : errs[0]);
        } else {
                rill__wb_i16(w, top);
                rill__wb_array(w, top ? 0 : n, flex);
                for (int32_t i = 0; !top && i < n; i++) {
                        rill__wb_rstr(w, in[i].member_id, flex);
                        rill__wb_rstr(w, in[i].instance_id, flex);
                        rill__wb_i16(w, errs[i]);
                        rill__wb_tags(w, flex);
                }
        }
        rill__wb_tags(w, flex);
        rill__free(errs);
        if (in != &one)
                rill__free(in);
        return RILL__H_RESPOND;
}

/* ---- OffsetCommit 0-7 ---- */

typedef struct commit_topic {
        rill__str_t name;
        int first;
        int count;
} commit_topic_t;

static rill__hres_t
handle_offset_commit(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__gc_commit_req_t cr;
        commit_topic_t *topics = NULL;
        int32_t tn;
        int pcap = 0, pcnt = 0;
        int64_t now = rill__now_ms();

        memset(&cr, 0, sizeof(cr));
        cr.group_id = rill__rb_str(r, flex);
        cr.generation = -1;
        cr.member_id = (rill__str_t){"", 0};
        cr.instance_id = RILL__STR_NULL;
        cr.retention_ms = -1;
        if (v >= 1) {
                cr.generation = rill__rb_i32(r);
                cr.member_id = rill__rb_str(r, flex);
        }
        if (v >= 7)
                cr.instance_id = rill__rb_str(r, flex);
        if (v >= 2 && v <= 4)
                cr.retention_ms = rill__rb_i64(r);
        tn = rill__rb_array(r, flex);
        if (tn > 0)
                topics = rill__calloc((size_t)tn, sizeof(*topics));
        for (int32_t t = 0; t < tn && !r->err; t++) {
                int32_t pn;
                topics[t].name = rill__rb_str(r, flex);
                topics[t].first = pcnt;
                pn = rill__rb_array(r, flex);
                for (int32_t i = 0; i < pn && !r->err; i++) {
                        rill__gc_commit_in_t *p;
                        if (pcnt == pcap) {
                                pcap = pcap ? pcap * 2 : 16;
                                cr.parts = rill__realloc(cr.parts, (size_t)pcap * sizeof(*cr.parts));
                        }
                        p = &cr.parts[pcnt++];
                        memset(p, 0, sizeof(*p));
                        p->topic = topics[t].name;
                        p->partition = rill__rb_i32(r);
                        p->offset = rill__rb_i64(r);
                        p->leader_epoch = v >= 6 ? rill__rb_i32(r) : -1;
                        p->commit_ts = v == 1 ? rill__rb_i64(r) : -1;
                        p->metadata = rill__rb_str(r, flex);
                        rill__rb_tags(r, flex);
                }
                topics[t].count = pcnt - topics[t].first;
                rill__rb_tags(r, flex);
        }
        rill__rb_tags(r, flex);
        if (r->err || (v >= 1 && cr.member_id.len < 0)) {
                rill__free(topics);
                rill__free(cr.parts);
                return malformed(req, "OffsetCommit");
        }
        cr.part_cnt = pcnt;
        for (int i = 0; i < pcnt; i++) {
                rill__gc_commit_in_t *p = &cr.parts[i];
                if (!g || !g->loaded)
                        p->err = KERR_COORDINATOR_NOT_AVAILABLE;
                else if (p->topic.len < 0 || !rill__partition_find(req->broker, p->topic, p->partition))
                        p->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (g && g->loaded)
                rill__gc_commit(g->gc, &cr, now);

        if (v >= 3)
                rill__wb_i32(w, 0);
        rill__wb_array(w, tn > 0 ? tn : 0, flex);
        for (int32_t t = 0; t < tn; t++) {
                rill__wb_rstr(w, topics[t].name, flex);
                rill__wb_array(w, topics[t].count, flex);
                for (int i = topics[t].first; i < topics[t].first + topics[t].count; i++) {
                        rill__wb_i32(w, cr.parts[i].partition);
                        rill__wb_i16(w, cr.parts[i].err);
                        rill__wb_tags(w, flex);
                }
                rill__wb_tags(w, flex);
        }
        rill__wb_tags(w, flex);
        rill__free(topics);
        rill__free(cr.parts);
        return RILL__H_RESPOND;
}

/* ---- OffsetFetch 0-7 ---- */

static void
write_fetched_partition(rill__wbuf_t *w, int16_t v, bool flex, int32_t partition,
                        const rill__goffset_t *o, int16_t err)
{
        rill__wb_i32(w, partition);
        rill__wb_i64(w, o ? o->offset : -1);
        if (v >= 5)
                rill__wb_i32(w, o ? o->leader_epoch : -1);
        rill__wb_cstr(w, o && o->metadata ? o->metadata : "", flex);
        rill__wb_i16(w, err);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_offset_fetch(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t group;
        rill__rbuf_t topics_start;
        int32_t tn;
        int16_t top = KERR_NONE;
        rill__group_t *grp = NULL;

        group = rill__rb_str(r, flex);
        tn = rill__rb_array(r, flex);
        if (tn < 0 && v < 2 && !r->err)
                r->err = 1; /* a null topic list needs v2+ */
        /* First pass: validate, remembering where the topics start. */
        topics_start = *r;
        for (int32_t t = 0; t < tn && !r->err; t++) {
                int32_t pn;
                (void)rill__rb_str(r, flex);
                pn = rill__rb_array(r, flex);
                for (int32_t i = 0; i < pn && !r->err; i++)
                        (void)rill__rb_i32(r);
                rill__rb_tags(r, flex);
        }
        if (v >= 7)
                (void)rill__rb_bool(r); /* require_stable: no transactions yet */
        rill__rb_tags(r, flex);
        if (r->err)
                return malformed(req, "OffsetFetch");

        if (!g || !g->loaded)
                top = KERR_COORDINATOR_NOT_AVAILABLE;
        else if (!rill__gc_group_id_ok(group))
                top = KERR_INVALID_GROUP_ID;
        else
                grp = rill__gc_group_find(g->gc, group);

        if (v >= 3)
                rill__wb_i32(w, 0);
        if (top && v >= 2) {
                rill__wb_array(w, 0, flex);
        } else if (tn < 0) {
                /* All committed offsets of the group. */
                int cnt = 0;
                for (rill__gtopic_t *t = grp ? grp->topics : NULL; t; t = t->next)
                        cnt++;
                rill__wb_array(w, cnt, flex);
                for (rill__gtopic_t *t = grp ? grp->topics : NULL; t; t = t->next) {
                        rill__wb_cstr(w, t->name, flex);
                        rill__wb_array(w, t->part_cnt, flex);
                        for (int i = 0; i < t->part_cnt; i++)
                                write_fetched_partition(w, v, flex, t->parts[i].partition,
                                                        &t->parts[i], KERR_NONE);
                        rill__wb_tags(w, flex);
                }
        } else {
                rill__rbuf_t rr = topics_start;
                rill__wb_array(w, tn, flex);
                for (int32_t t = 0; t < tn; t++) {
                        rill__str_t name = rill__rb_str(&rr, flex);
                        int32_t pn = rill__rb_array(&rr, flex);
                        rill__wb_rstr(w, name, flex);
                        rill__wb_array(w, pn > 0 ? pn : 0, flex);
                        for (int32_t i = 0; i < pn; i++) {
                                int32_t part = rill__rb_i32(&rr);
                                const rill__goffset_t *o =
                                        grp ? rill__gc_offset_find(grp, name, part) : NULL;
                                write_fetched_partition(w, v, flex, part, o, top);
                        }
                        rill__rb_tags(&rr, flex);
                        rill__wb_tags(w, flex);
                }
        }
        if (v >= 2)
                rill__wb_i16(w, top);
        rill__wb_tags(w, flex);
        return RILL__H_RESPOND;
}

/* ---- DescribeGroups 0-4 ---- */

static void
describe_one(rill__wbuf_t *w, int16_t v, bool flex, rill__str_t id, const rill__group_t *grp,
             int16_t err, bool want_ops)
{
        bool stable = grp && grp->state == RILL__GS_STABLE;
        rill__wb_i16(w, err);
        rill__wb_rstr(w, id.len >= 0 ? id : (rill__str_t){"", 0}, flex);
        rill__wb_cstr(w, err ? "" : rill__gstate_name(grp ? grp->state : RILL__GS_DEAD), flex);
        rill__wb_cstr(w, grp && grp->protocol_type ? grp->protocol_type : "", flex);
        rill__wb_cstr(w, stable && grp->protocol ? grp->protocol : "", flex);
        rill__wb_array(w, grp && !err ? grp->member_cnt : 0, flex);
        for (const rill__gmember_t *m = grp && !err ? grp->members : NULL; m; m = m->next) {
                int32_t mlen = 0;
                const uint8_t *meta = stable ? rill__gmember_meta(m, grp->protocol, &mlen) : NULL;
                rill__wb_cstr(w, m->member_id, flex);
                if (v >= 4)
                        rill__wb_cstr(w, m->instance_id, flex);
                rill__wb_cstr(w, m->client_id, flex);
                rill__wb_cstr(w, m->client_host, flex);
                rill__wb_bytes(w, meta ? (const void *)meta : "", meta ? mlen : 0, flex);
                rill__wb_bytes(w, stable && m->assignment ? (const void *)m->assignment : "",
                               stable && m->assignment_len > 0 ? m->assignment_len : 0, flex);
                rill__wb_tags(w, flex);
        }
        if (v >= 3)
                rill__wb_i32(w, want_ops ? GROUP_AUTHORIZED_OPS : INT32_MIN);
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_describe_groups(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t *ids = NULL;
        bool want_ops = false;
        int32_t n;

        ids = rill__rb_str_array(r, flex, &n);
        if (v >= 3)
                want_ops = rill__rb_bool(r);
        rill__rb_tags(r, flex);
        if (r->err) {
                rill__free(ids);
                return malformed(req, "DescribeGroups");
        }
        if (v >= 1)
                rill__wb_i32(w, 0);
        rill__wb_array(w, n > 0 ? n : 0, flex);
        for (int32_t i = 0; i < n; i++) {
                int16_t err = KERR_NONE;
                const rill__group_t *grp = NULL;
                if (!g || !g->loaded)
                        err = KERR_COORDINATOR_NOT_AVAILABLE;
                else if (!rill__gc_group_id_ok(ids[i]))
                        err = KERR_INVALID_GROUP_ID;
                else
                        grp = rill__gc_group_find(g->gc, ids[i]);
                describe_one(w, v, flex, ids[i], grp, err, want_ops);
        }
        rill__wb_tags(w, flex);
        rill__free(ids);
        return RILL__H_RESPOND;
}

/* ---- ListGroups 0-4 ---- */

static bool
state_wanted(const rill__str_t *states, int32_t n, rill__gstate_t s)
{
        const char *name = rill__gstate_name(s);
        if (n <= 0)
                return true;
        for (int32_t i = 0; i < n; i++)
                if (states[i].len == (int32_t)strlen(name) &&
                    strncasecmp(states[i].ptr, name, (size_t)states[i].len) == 0)
                        return true;
        return false;
}

static rill__hres_t
handle_list_groups(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        int16_t v = req->api_version;
        rill__str_t *states = NULL;
        int32_t sn = 0;
        int16_t err = KERR_NONE;
        int cnt = 0;

        if (v >= 4)
                states = rill__rb_str_array(r, flex, &sn);
        rill__rb_tags(r, flex);
        if (r->err) {
                rill__free(states);
                return malformed(req, "ListGroups");
        }
        if (!g || !g->loaded)
                err = KERR_COORDINATOR_NOT_AVAILABLE;
        if (v >= 1)
                rill__wb_i32(w, 0);
        rill__wb_i16(w, err);
        for (rill__group_t *grp = err ? NULL : rill__gc_group_next(g->gc, NULL); grp;
             grp = rill__gc_group_next(g->gc, grp))
                cnt += state_wanted(states, sn, grp->state);
        rill__wb_array(w, cnt, flex);
        for (rill__group_t *grp = err ? NULL : rill__gc_group_next(g->gc, NULL); grp;
             grp = rill__gc_group_next(g->gc, grp)) {
                if (!state_wanted(states, sn, grp->state))
                        continue;
                rill__wb_cstr(w, grp->id, flex);
                rill__wb_cstr(w, grp->protocol_type ? grp->protocol_type : "", flex);
                if (v >= 4)
                        rill__wb_cstr(w, rill__gstate_name(grp->state), flex);
                rill__wb_tags(w, flex);
        }
        rill__wb_tags(w, flex);
        rill__free(states);
        return RILL__H_RESPOND;
}

/* ---- DeleteGroups 0-1 ---- */

static rill__hres_t
handle_delete_groups(rill__req_t *req, rill__wbuf_t *w)
{
        rill__groups_t *g = groups_of(req);
        rill__rbuf_t *r = &req->body;
        bool flex = req->flex;
        rill__str_t *ids = NULL;
        int32_t n;
        int64_t now = rill__now_ms();

        ids = rill__rb_str_array(r, flex, &n);
        rill__rb_tags(r, flex);
        if (r->err) {
                rill__free(ids);
                return malformed(req, "DeleteGroups");
        }
        rill__wb_i32(w, 0);
        rill__wb_array(w, n > 0 ? n : 0, flex);
        for (int32_t i = 0; i < n; i++) {
                int16_t err;
                if (!g || !g->loaded)
                        err = KERR_COORDINATOR_NOT_AVAILABLE;
                else
                        err = rill__gc_delete_group(g->gc, ids[i], now);
                rill__wb_rstr(w, ids[i], flex);
                rill__wb_i16(w, err);
                rill__wb_tags(w, flex);
        }
        rill__wb_tags(w, flex);
        rill__free(ids);
        return RILL__H_RESPOND;
}

/* ---- the API table ---- */

const rill__api_desc_t rill__group_apis[] = {
        {KAPI_OFFSET_COMMIT, 0, 7, INT16_MAX, "OffsetCommit", handle_offset_commit},
        {KAPI_OFFSET_FETCH, 0, 7, 6, "OffsetFetch", handle_offset_fetch},
        {KAPI_FIND_COORDINATOR, 0, 2, INT16_MAX, "FindCoordinator", handle_find_coordinator},
        {KAPI_JOIN_GROUP, 0, 5, INT16_MAX, "JoinGroup", handle_join_group},
        {KAPI_HEARTBEAT, 0, 3, INT16_MAX, "Heartbeat", handle_heartbeat},
        {KAPI_LEAVE_GROUP, 0, 3, INT16_MAX, "LeaveGroup", handle_leave_group},
        {KAPI_SYNC_GROUP, 0, 3, INT16_MAX, "SyncGroup", handle_sync_group},
        {KAPI_DESCRIBE_GROUPS, 0, 4, INT16_MAX, "DescribeGroups", handle_describe_groups},
        {KAPI_LIST_GROUPS, 0, 4, 3, "ListGroups", handle_list_groups},
        {KAPI_DELETE_GROUPS, 0, 1, INT16_MAX, "DeleteGroups", handle_delete_groups},
};
const int rill__group_api_cnt = (int)(sizeof(rill__group_apis) / sizeof(rill__group_apis[0]));
