/*
 * group_records.c - Kafka's __consumer_offsets record schemas (see group_int.h).
 *
 * Keys (big-endian, classic strings):
 *   offset commit   version 0/1: group string, topic string, partition int32
 *   group metadata  version 2:   group string
 * Values:
 *   offset commit   v0: offset, metadata, timestamp
 *                   v1: offset, metadata, commit_timestamp, expire_timestamp
 *                   v2: offset, metadata, commit_timestamp
 *                   v3: offset, leader_epoch, metadata, commit_timestamp
 *                   v4: v3 in the flexible encoding (compact strings, tags)
 *   group metadata  v0: protocol_type, generation, protocol?, leader?,
 *                       members[member_id, client_id, client_host,
 *                       session_timeout, subscription, assignment]
 *                   v1: + rebalance_timeout (after client_host)
 *                   v2: + current_state_timestamp (after leader)
 *                   v3: + group_instance_id? (after member_id)
 *                   v4: v3 in the flexible encoding
 * A null value is a tombstone (deletion). We write offset value v3 (v1 when
 * the commit carried an explicit retention, as Kafka does) and group value
 * v3, so Kafka's own tools (kafka-console-consumer with the offsets
 * formatter) can read our topic, and we read every version Kafka wrote.
 *
 * Pure: no broker access, so the unit tests exercise it directly.
 */
#include "group_int.h"

#include <string.h>

#include "rill_alloc.h"

void
rill__grec_encode_key(rill__wbuf_t *w, const rill__grec_t *rec)
{
        if (rec->kind == RILL__GREC_OFFSET) {
                rill__wb_i16(w, 1);
                rill__wb_cstr(w, rec->group_id, false);
                rill__wb_cstr(w, rec->topic ? rec->topic : "", false);
                rill__wb_i32(w, rec->partition);
        } else {
                rill__wb_i16(w, 2);
                rill__wb_cstr(w, rec->group_id, false);
        }
}

static void
encode_offset_value(rill__wbuf_t *w, const rill__goffset_t *o)
{
        const char *md = o->metadata ? o->metadata : "";
        if (o->expire_ts >= 0) {
                rill__wb_i16(w, 1);
                rill__wb_i64(w, o->offset);
                rill__wb_cstr(w, md, false);
                rill__wb_i64(w, o->commit_ts);
                rill__wb_i64(w, o->expire_ts);
                return;
        }
        rill__wb_i16(w, 3);
        rill__wb_i64(w, o->offset);
        rill__wb_i32(w, o->leader_epoch);
        rill__wb_cstr(w, md, false);
        rill__wb_i64(w, o->commit_ts);
}

static void
encode_group_value(rill__wbuf_t *w, const rill__group_t *g, int64_t now)
{
        bool with_members = g->state != RILL__GS_EMPTY && g->state != RILL__GS_DEAD;
        rill__wb_i16(w, 3);
        rill__wb_cstr(w, g->protocol_type ? g->protocol_type : "", false);
        rill__wb_i32(w, g->generation);
        rill__wb_cstr(w, g->protocol, false);
        rill__wb_cstr(w, g->leader && with_members ? g->leader->member_id : NULL, false);
        rill__wb_i64(w, g->state_ts > 0 ? g->state_ts : now);
        rill__wb_array(w, with_members ? g->member_cnt : 0, false);
        if (!with_members)
                return;
        for (const rill__gmember_t *m = g->members; m; m = m->next) {
                int32_t mlen = 0;
                const uint8_t *meta = rill__gmember_meta(m, g->protocol, &mlen);
                rill__wb_cstr(w, m->member_id, false);
                rill__wb_cstr(w, m->instance_id, false);
                rill__wb_cstr(w, m->client_id ? m->client_id : "", false);
                rill__wb_cstr(w, m->client_host ? m->client_host : "", false);
                rill__wb_i32(w, m->rebalance_timeout_ms);
                rill__wb_i32(w, m->session_timeout_ms);
                rill__wb_bytes(w, meta ? (const void *)meta : "", mlen, false);
                rill__wb_bytes(w, m->assignment ? (const void *)m->assignment : "",
                               m->assignment_len > 0 ? m->assignment_len : 0, false);
        }
}

void
rill__grec_encode_value(rill__wbuf_t *w, const rill__grec_t *rec, int64_t now)
{
        if (rec->tombstone)
                return;
        if (rec->kind == RILL__GREC_OFFSET)
                encode_offset_value(w, rec->off);
        else
                encode_group_value(w, rec->group, now);
}

/* ---- replay ---- */

static int
replay_offset(rill__gc_t *gc, rill__rbuf_t *k, const uint8_t *value, int32_t value_len)
{
        rill__str_t group = rill__rb_str(k, false);
        rill__str_t topic = rill__rb_str(k, false);
        int32_t partition = rill__rb_i32(k);
        rill__goffset_t o;
        rill__rbuf_t v;
        int16_t ver;
        bool flex;
        rill__str_t md;

        if (k->err || group.len < 0 || topic.len < 0)
                return -1;
        if (!value) {
                rill__gc_load_offset(gc, group, topic, partition, NULL);
                return 0;
        }
        rill__rb_init(&v, value, (size_t)value_len);
        ver = rill__rb_i16(&v);
        if (ver < 0 || ver > 4)
                return 1; /* a future value version: leave it alone */
        flex = ver >= 4;
        memset(&o, 0, sizeof(o));
        o.leader_epoch = -1;
        o.expire_ts = -1;
        o.offset = rill__rb_i64(&v);
        if (ver >= 3)
                o.leader_epoch = rill__rb_i32(&v);
        md = rill__rb_str(&v, flex);
        o.commit_ts = rill__rb_i64(&v);
        if (ver == 1)
                o.expire_ts = rill__rb_i64(&v);
        rill__rb_tags(&v, flex);
        if (v.err)
                return -1;
        o.metadata = md.len > 0 ? rill__str_dup(md) : NULL;
        rill__gc_load_offset(gc, group, topic, partition, &o);
        rill__free(o.metadata);
        return 0;
}

static int
replay_group(rill__gc_t *gc, rill__rbuf_t *k, const uint8_t *value, int32_t value_len)
{
        rill__str_t group = rill__rb_str(k, false);
        rill__str_t ptype, proto, leader;
        int32_t generation, n;
        int64_t state_ts = -1;
        rill__rbuf_t v;
        int16_t ver;
        bool flex;

        if (k->err || group.len < 0)
                return -1;
        if (!value) {
                rill__gc_load_group(gc, group, true, RILL__STR_NULL, 0, RILL__STR_NULL, -1);
                return 0;
        }
        rill__rb_init(&v, value, (size_t)value_len);
        ver = rill__rb_i16(&v);
        if (ver < 0 || ver > 4)
                return 1;
        flex = ver >= 4;
        ptype = rill__rb_str(&v, flex);
        generation = rill__rb_i32(&v);
        proto = rill__rb_str(&v, flex);
        leader = rill__rb_str(&v, flex);
        (void)leader;
        if (ver >= 2)
                state_ts = rill__rb_i64(&v);
        /* Members are parsed only to validate the record: they are not
         * restored (they rejoin after a coordinator change). */
        n = rill__rb_array(&v, flex);
        for (int32_t i = 0; i < n && !v.err; i++) {
                (void)rill__rb_str(&v, flex);           /* member_id */
                if (ver >= 3)
                        (void)rill__rb_str(&v, flex);   /* group_instance_id */
                (void)rill__rb_str(&v, flex);           /* client_id */
                (void)rill__rb_str(&v, flex);           /* client_host */
                if (ver >= 1)
                        (void)rill__rb_i32(&v);         /* rebalance_timeout */
                (void)rill__rb_i32(&v);                 /* session_timeout */
                (void)rill__rb_bytes(&v, flex);         /* subscription */
                (void)rill__rb_bytes(&v, flex);         /* assignment */
                rill__rb_tags(&v, flex);
        }
        rill__rb_tags(&v, flex);
        if (v.err || ptype.len < 0)
                return -1;
        rill__gc_load_group(gc, group, false, ptype, generation, proto, state_ts);
        return 0;
}

int
rill__grec_replay(rill__gc_t *gc, const uint8_t *key, int32_t key_len, const uint8_t *value,
                  int32_t value_len)
{
        rill__rbuf_t k;
        int16_t ver;
        if (!key || key_len < 2)
                return -1;
        if (value && value_len < 0)
                value = NULL;
        rill__rb_init(&k, key, (size_t)key_len);
        ver = rill__rb_i16(&k);
        switch (ver) {
        case 0:
        case 1:
                return replay_offset(gc, &k, value, value_len);
        case 2:
                return replay_group(gc, &k, value, value_len);
        default:
                return 1; /* transaction or newer-coordinator records */
        }
}
