/*
 * api_produce.c - the Produce API, versions 3-7.
 *
 * Only RecordBatch v2 (magic 2) is stored, so only the versions that carry it
 * are advertised: 3 (transactional_id; MsgVer2 in librdkafka) to 7 (zstd).
 * Versions 0-2 carry MessageSet v0/v1 and are not implemented; librdkafka's
 * MsgVer2 feature needs overlap with Produce 3 only. v8 adds per-record
 * errors and v9 is flexible; neither is implemented yet.
 *
 * Request: transactional_id, acks, timeout_ms, [topic [partition, records]].
 * Response: [topic [partition, error, base_offset, log_append_time (v2+),
 * log_start_offset (v5+)]], throttle_time_ms.
 *
 * The hot path does no per-record work: the records bytes of each partition
 * point into the request frame (which the request owns, so the log may patch
 * BaseOffset and PartitionLeaderEpoch in place) and are handed to the log as
 * they are.
 *
 * acks: 0 -> no response at all (librdkafka does not wait for one); as Kafka
 * does, a connection whose acks=0 produce failed is closed so the client
 * notices. 1 -> answer after the local append. -1 (all) -> with one node the
 * high watermark passes the batch at the append, so the answer goes out at
 * once; see the REPLICATION comment for where it will park. Any other value
 * fails every partition with INVALID_REQUIRED_ACKS.
 *
 * Durability: rill__partition_append() returns after rill__log_append(),
 * which fsyncs before returning when flush.messages is reached (with
 * log.flush.interval.messages=1, every append). The response is only queued
 * after that, so an acknowledged write has been fsynced in that setting.
 *
 * Loop thread only.
 */
#include "server.h"

#include <string.h>

#include "rill_log_int.h"
#include "rill_util.h"

/* Walks the request once without side effects; false if it is malformed. */
static bool
produce_validate(rill__rbuf_t r, int16_t v)
{
        int32_t nt;
        (void)rill__rb_str(&r, false);  /* transactional_id */
        (void)rill__rb_i16(&r);         /* acks */
        (void)rill__rb_i32(&r);         /* timeout_ms */
        nt = rill__rb_array(&r, false);
        for (int32_t i = 0; i < nt && !r.err; i++) {
                int32_t np;
                if (rill__rb_str(&r, false).len < 0)
                        return false;
                np = rill__rb_array(&r, false);
                for (int32_t j = 0; j < np && !r.err; j++) {
                        (void)rill__rb_i32(&r);
                        (void)rill__rb_bytes(&r, false);
                }
        }
        return !r.err;
}

static int16_t
produce_partition(rill__req_t *req, rill__str_t topic, rill__partition_t *p, rill__str_t records,
                  int64_t *base_offset, int64_t *append_time)
{
        char msg[256] = "";
        int16_t err;

        if (records.len <= 0)
                return KERR_INVALID_RECORD; /* v3+: exactly one batch required */
        if (p->topic->internal)
                return KERR_INVALID_TOPIC_EXCEPTION; /* internal topics are the broker's */
        /* The frame is owned by the request and writable: the log patches
         * BaseOffset / PartitionLeaderEpoch in place. */
        err = rill__partition_append(req->broker, p, (uint8_t *)(uintptr_t)records.ptr,
                                     (size_t)records.len, base_offset, append_time, msg,
                                     sizeof(msg));
        if (err != KERR_NONE) {
                RILL_LOG_W("broker", "produce to %.*s-%d from %s rejected (error %d): %s",
                           (int)RILL__MIN(topic.len, 249), topic.ptr, p->id,
                           rill__conn_peer(req->conn), err, msg);
                *base_offset = -1;
                *append_time = -1;
        }
        return err;
}

static rill__hres_t
handle_produce(rill__req_t *req, rill__wbuf_t *w)
{
        rill_broker_t *b = req->broker;
        rill__rbuf_t *r = &req->body;
        int16_t v = req->api_version;
        int16_t acks;
        int32_t nt;
        bool any_error = false;

        if (!produce_validate(*r, v))
                return rill__req_malformed(req);

        (void)rill__rb_str(r, false); /* transactional_id: no transactions yet */
        acks = rill__rb_i16(r);
        (void)rill__rb_i32(r);        /* timeout_ms: nothing waits on replicas yet */
        nt = rill__rb_array(r, false);

        rill__wb_array(w, nt, false);
        for (int32_t i = 0; i < nt; i++) {
                rill__str_t name = rill__rb_str(r, false);
                int32_t np = rill__rb_array(r, false);
                rill__topic_t *t = rill__topic_find(b, name.ptr, (size_t)name.len);

                rill__wb_rstr(w, name, false);
                rill__wb_array(w, np, false);
                for (int32_t j = 0; j < np; j++) {
                        int32_t idx = rill__rb_i32(r);
                        rill__str_t records = rill__rb_bytes(r, false);
                        rill__partition_t *p = NULL;
                        int64_t base = -1, append_time = -1;
                        int16_t err;

                        if (t && idx >= 0 && idx < t->partition_cnt)
                                p = t->partitions[idx];
                        if (acks != 0 && acks != 1 && acks != -1)
                                err = KERR_INVALID_REQUIRED_ACKS;
                        else if (!p)
                                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        else
                                err = produce_partition(req, name, p, records, &base,
                                                        &append_time);
                        /* REPLICATION: with followers, acks=-1 must park the
                         * request here until the high watermark passes
                         * base + last_offset_delta (or timeout_ms expires with
                         * REQUEST_TIMED_OUT), checking min.insync.replicas
                         * (NOT_ENOUGH_REPLICAS) before the append. With one
                         * node the append itself moves the high watermark. */
                        if (err != KERR_NONE)
                                any_error = true;
                        rill__wb_i32(w, idx);
                        rill__wb_i16(w, err);
                        rill__wb_i64(w, base);
                        rill__wb_i64(w, append_time);
                        if (v >= 5)
                                rill__wb_i64(w, p ? rill__log_start_offset(p->log) : -1);
                }
        }
        rill__wb_i32(w, 0); /* throttle_time_ms */

        if (acks == 0) {
                if (any_error) {
                        RILL_LOG_D("broker", "acks=0 produce from %s failed; closing the "
                                   "connection so the client notices", rill__conn_peer(req->conn));
                        return RILL__H_CLOSE;
                }
                return RILL__H_NO_RESPONSE;
        }
        return RILL__H_RESPOND;
}

const rill__api_desc_t rill__api_produce = {
        KAPI_PRODUCE, 3, 7, INT16_MAX, "Produce", handle_produce
};
