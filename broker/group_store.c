/*
 * group_store.c - the group coordinator's persistence in __consumer_offsets.
 *
 * __consumer_offsets is an internal, compacted topic with
 * offsets.topic.num.partitions partitions, created at load if missing. A
 * group's records all go to partition abs(javaHash(group_id)) % partitions
 * (Kafka's placement, so the layout matches Kafka's), as one RecordBatch per
 * coordinator operation built with rill__batch_builder and appended with
 * rill__partition_append: an OffsetCommit is acknowledged only after that
 * append returned, and the log applies flush.messages / flush.ms as for any
 * topic. Append errors are mapped the way Kafka's coordinator maps them.
 *
 * Load replays every partition from its log start to its end with
 * rill__log_read and rill__record_iter, feeding each record to
 * rill__grec_replay (group_records.c), so offsets and group generations
 * survive a restart; members do not (they rejoin).
 *
 * Loop thread only (or before the loop starts, for load).
 */
#include "group_store.h"

#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

/* Batches stay well under max.message.bytes (1 MB by default). */
#define GSTORE_BATCH_SOFT_MAX (256 * 1024)
#define GSTORE_READ_CHUNK (1024 * 1024)

rill__topic_t *
rill__gstore_topic(rill_broker_t *b)
{
        return rill__topic_find(b, RILL__OFFSETS_TOPIC, strlen(RILL__OFFSETS_TOPIC));
}

rill_err_t
rill__gstore_ensure(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        const struct rill_broker_conf_s *c = rill__broker_conf(b);
        char k1[] = "cleanup.policy", v1[] = "compact";
        char k2[] = "segment.bytes", v2[] = "104857600";
        rill__kv_t cfg[2] = {{k1, v1}, {k2, v2}};
        rill__topic_t *t = NULL;
        char msg[256] = "";
        int16_t err;
        int16_t rf = c->offsets_topic_replication_factor > 0 ? c->offsets_topic_replication_factor : 1;
        int32_t n = c->offsets_topic_num_partitions > 0 ? c->offsets_topic_num_partitions : 50;

        if (rill__gstore_topic(b))
                return RILL_OK;
        err = rill__topic_create(b, RILL__OFFSETS_TOPIC, n, rf, cfg, 2, true, false, &t, msg,
                                 sizeof(msg));
        if (err == KERR_INVALID_REPLICATION_FACTOR && rf > 1) {
                /* offsets.topic.replication.factor is clamped to the cluster. */
                err = rill__topic_create(b, RILL__OFFSETS_TOPIC, n, 1, cfg, 2, true, false, &t,
                                         msg, sizeof(msg));
        }
        if (err && err != KERR_TOPIC_ALREADY_EXISTS) {
                rill__errf(errstr, errstr_size, "cannot create %s: %s (error %d)",
                           RILL__OFFSETS_TOPIC, msg[0] ? msg : "unknown", err);
                return RILL_ERR_IO;
        }
        RILL_LOG_I("group", "created %s with %d partitions", RILL__OFFSETS_TOPIC, n);
        return RILL_OK;
}

/* Kafka's GroupMetadataManager mapping of append errors. */
static int16_t
map_append_error(int16_t err)
{
        switch (err) {
        case KERR_NONE:
                return KERR_NONE;
        case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        case KERR_NOT_ENOUGH_REPLICAS:
        case KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
                return KERR_COORDINATOR_NOT_AVAILABLE;
        case KERR_NOT_LEADER_OR_FOLLOWER:
        case KERR_KAFKA_STORAGE_ERROR:
                return KERR_NOT_COORDINATOR;
        case KERR_MESSAGE_TOO_LARGE:
        case KERR_RECORD_LIST_TOO_LARGE:
        case KERR_INVALID_FETCH_SIZE:
                return KERR_INVALID_COMMIT_OFFSET_SIZE;
        default:
                return KERR_UNKNOWN_SERVER_ERROR;
        }
}

static int16_t
append_batch(rill_broker_t *b, rill__partition_t *p, rill__batch_builder_t *bb, const char *group)
{
        int64_t first = -1, at = -1;
        char msg[256] = "";
        int16_t err;
        rill__batch_builder_finish(bb);
        err = rill__partition_append(b, p, bb->buf.buf, bb->buf.len, &first, &at, msg, sizeof(msg));
        if (err)
                RILL_LOG_W("group", "group %s: append to %s-%d failed: %s (error %d)", group,
                           RILL__OFFSETS_TOPIC, p->id, msg[0] ? msg : "?", err);
        return map_append_error(err);
}

int16_t
rill__gstore_persist(rill_broker_t *b, const char *group_id, const rill__grec_t *recs, int n,
                     int64_t now)
{
        rill__topic_t *t = rill__gstore_topic(b);
        rill__partition_t *p;
        rill__batch_builder_t bb;
        rill__wbuf_t k, v;
        int32_t pid, in_batch = 0;
        int16_t err = KERR_NONE;

        if (n <= 0)
                return KERR_NONE;
        if (!t || t->partition_cnt <= 0)
                return KERR_COORDINATOR_NOT_AVAILABLE;
        pid = rill__gc_partition_for((rill__str_t){group_id, (int32_t)strlen(group_id)},
                                     t->partition_cnt);
        p = t->partitions[pid];
        if (!p || !p->log)
                return KERR_COORDINATOR_NOT_AVAILABLE;
        rill__wb_init(&k, 128);
        rill__wb_init(&v, 256);
        rill__batch_builder_init(&bb, 0, now);
        for (int i = 0; i < n && !err; i++) {
                rill__wb_reset(&k);
                rill__wb_reset(&v);
                rill__grec_encode_key(&k, &recs[i]);
                rill__grec_encode_value(&v, &recs[i], now);
                rill__batch_builder_add(&bb, in_batch, now, k.buf, (int32_t)k.len,
                                        recs[i].tombstone ? NULL : v.buf,
                                        recs[i].tombstone ? -1 : (int32_t)v.len, NULL, 0, 0);
                in_batch++;
                if (bb.buf.len >= GSTORE_BATCH_SOFT_MAX && i + 1 < n) {
                        err = append_batch(b, p, &bb, group_id);
                        rill__batch_builder_destroy(&bb);
                        rill__batch_builder_init(&bb, 0, now);
                        in_batch = 0;
                }
        }
        if (!err && in_batch > 0)
                err = append_batch(b, p, &bb, group_id);
        rill__batch_builder_destroy(&bb);
        rill__wb_free(&k);
        rill__wb_free(&v);
        return err;
}

/* Replays the batches in buf[0..len); returns the offset after the last
 * whole batch, or -1 when nothing could be parsed. */
static int64_t
replay_chunk(rill__gc_t *gc, const char *where, const uint8_t *buf, size_t len, int *records,
             int *bad)
{
        size_t pos = 0;
        int64_t next = -1;
        while (len - pos >= RILL__BATCH_HDR_SIZE) {
                rill__batch_hdr_t h;
                rill__record_iter_t it;
                rill__record_t rec;
                size_t size = rill__batch_size(buf + pos);
                char err[128];
                int r;
                if (size < RILL__BATCH_HDR_SIZE || size > len - pos)
                        break;
                rill__batch_hdr_parse(buf + pos, &h);
                next = h.base_offset + h.last_offset_delta + 1;
                if (rill__batch_validate(buf + pos, size, err, sizeof(err)) != RILL_OK) {
                        RILL_LOG_W("group", "%s: skipping invalid batch at offset %lld: %s", where,
                                   (long long)h.base_offset, err);
                        (*bad)++;
                        pos += size;
                        continue;
                }
                /* Control batches (transaction markers) carry no group state. */
                if (h.attributes & RILL__BATCH_ATTR_CONTROL) {
                        pos += size;
                        continue;
                }
                if (rill__record_iter_init(&it, buf + pos, size) != RILL_OK) {
                        (*bad)++;
                        pos += size;
                        continue;
                }
                while ((r = rill__record_iter_next(&it, &rec)) == 1) {
                        if (rill__grec_replay(gc, rec.key, rec.key_len, rec.value,
                                              rec.value ? rec.value_len : -1) < 0) {
                                (*bad)++;
                                RILL_LOG_W("group", "%s: skipping malformed record at offset %lld",
                                           where, (long long)rec.offset);
                        } else {
                                (*records)++;
                        }
                }
                if (r < 0)
                        (*bad)++;
                rill__record_iter_destroy(&it);
                pos += size;
        }
        return next;
}

rill_err_t
rill__gstore_replay(rill_broker_t *b, rill__gc_t *gc, char *errstr, size_t errstr_size)
{
        rill__topic_t *t = rill__gstore_topic(b);
        rill__wbuf_t buf;
        int records = 0, bad = 0;

        if (!t) {
                rill__errf(errstr, errstr_size, "%s does not exist", RILL__OFFSETS_TOPIC);
                return RILL_ERR_NOT_FOUND;
        }
        rill__wb_init(&buf, GSTORE_READ_CHUNK);
        for (int32_t i = 0; i < t->partition_cnt; i++) {
                rill__partition_t *p = t->partitions[i];
                int64_t off, end;
                char where[64];
                if (!p || !p->log)
                        continue;
                snprintf(where, sizeof(where), "%s-%d", RILL__OFFSETS_TOPIC, i);
                off = rill__log_start_offset(p->log);
                end = rill__log_end_offset(p->log);
                while (off < end) {
                        rill_err_t e;
                        int64_t next;
                        rill__wb_reset(&buf);
                        e = rill__log_read(p->log, off, end, GSTORE_READ_CHUNK, &buf);
                        if (e != RILL_OK) {
                                rill__wb_free(&buf);
                                rill__errf(errstr, errstr_size, "reading %s at offset %lld: %s",
                                           where, (long long)off, rill_err2str(e));
                                return e;
                        }
                        if (buf.len == 0)
                                break;
                        next = replay_chunk(gc, where, buf.buf, buf.len, &records, &bad);
                        if (next <= off)
                                break; /* no progress: an unreadable tail */
                        off = next;
                }
        }
        rill__wb_free(&buf);
        RILL_LOG_I("group", "loaded %d records from %s (%d partitions)%s", records,
                   RILL__OFFSETS_TOPIC, t->partition_cnt, bad ? "; some were skipped" : "");
        return RILL_OK;
}
