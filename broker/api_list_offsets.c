/*
 * api_list_offsets.c - the ListOffsets API, versions 0-5.
 *
 * Version differences (Kafka's ListOffsetsRequest/Response.json):
 *   v0  per partition: timestamp + max_num_offsets; answer: an offsets array
 *   v1  answer: timestamp + offset (one offset)
 *   v2  isolation_level; throttle_time_ms in the answer
 *   v4  current_leader_epoch (fencing); leader_epoch in the answer
 *   v3, v5  same layout as the version before (behavioural changes only)
 * v6+ is flexible and v7 adds -3 (max timestamp); neither is implemented.
 *
 * Timestamps: -1 latest -> the high watermark (= last stable offset while
 * there are no transactions), -2 earliest -> the log start offset, anything
 * else -> the first offset whose batch has a timestamp >= the given one
 * (rill__log_offset_for_time), or offset -1 / timestamp -1 if there is none.
 *
 * v0 legacy semantics: Kafka 0.8 returned up to max_num_offsets segment base
 * offsets. We return at most one offset - the same one v1 would return - in
 * the array (none when max_num_offsets is 0 or nothing matches).
 *
 * Loop thread only.
 */
#include "server.h"

#include "rill_log_int.h"
#include "rill_util.h"

static rill__hres_t
handle_list_offsets(rill__req_t *req, rill__wbuf_t *w)
{
        rill_broker_t *b = req->broker;
        rill__rbuf_t *r = &req->body;
        rill__rbuf_t check;
        int16_t v = req->api_version;
        int32_t nt;

        /* Validate the whole request first: answers are written as we go. */
        check = *r;
        (void)rill__rb_i32(&check);
        if (v >= 2)
                (void)rill__rb_i8(&check);
        nt = rill__rb_array(&check, false);
        for (int32_t i = 0; i < nt && !check.err; i++) {
                int32_t np;
                if (rill__rb_str(&check, false).len < 0)
                        check.err = 1;
                np = rill__rb_array(&check, false);
                for (int32_t j = 0; j < np && !check.err; j++) {
                        (void)rill__rb_i32(&check);
                        if (v >= 4)
                                (void)rill__rb_i32(&check);
                        (void)rill__rb_i64(&check);
                        if (v == 0)
                                (void)rill__rb_i32(&check);
                }
        }
        if (check.err)
                return rill__req_malformed(req);

        (void)rill__rb_i32(r);       /* replica_id */
        if (v >= 2)
                (void)rill__rb_i8(r);  /* isolation_level: LSO == HW without txns */
        nt = rill__rb_array(r, false);

        if (v >= 2)
                rill__wb_i32(w, 0);  /* throttle_time_ms */
        rill__wb_array(w, nt < 0 ? 0 : nt, false);
        for (int32_t i = 0; i < nt; i++) {
                rill__str_t name = rill__rb_str(r, false);
                int32_t np = rill__rb_array(r, false);
                rill__topic_t *t = rill__topic_find(b, name.ptr, (size_t)name.len);

                rill__wb_rstr(w, name, false);
                rill__wb_array(w, np < 0 ? 0 : np, false);
                for (int32_t j = 0; j < np; j++) {
                        int32_t idx = rill__rb_i32(r);
                        int32_t cle = v >= 4 ? rill__rb_i32(r) : -1;
                        int64_t ts = rill__rb_i64(r);
                        int32_t max_num = v == 0 ? rill__rb_i32(r) : 1;
                        rill__partition_t *p = NULL;
                        int16_t err = KERR_NONE;
                        int64_t off = -1, found_ts = -1;

                        if (t && idx >= 0 && idx < t->partition_cnt)
                                p = t->partitions[idx];
                        if (!p)
                                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        else
                                err = rill__check_leader_epoch(p, cle);
                        if (err == KERR_NONE) {
                                if (ts == -1) {
                                        off = p->high_watermark;
                                } else if (ts == -2) {
                                        off = rill__log_start_offset(p->log);
                                } else {
                                        rill_err_t e = rill__log_offset_for_time(p->log, ts, &off,
                                                                                 &found_ts);
                                        if (e != RILL_OK) {
                                                RILL_LOG_W("broker", "ListOffsets %s-%d: %s",
                                                           p->topic->name, p->id, rill_err2str(e));
                                                err = KERR_KAFKA_STORAGE_ERROR;
                                                off = -1;
                                        }
                                        /* Nothing at or past the high watermark is visible. */
                                        if (off < 0 || off >= p->high_watermark) {
                                                off = -1;
                                                found_ts = -1;
                                        }
                                }
                        }
                        rill__wb_i32(w, idx);
                        rill__wb_i16(w, err);
                        if (v == 0) {
                                bool one = err == KERR_NONE && off >= 0 && max_num > 0;
                                rill__wb_array(w, one ? 1 : 0, false);
                                if (one)
                                        rill__wb_i64(w, off);
                        } else {
                                rill__wb_i64(w, err == KERR_NONE ? found_ts : -1);
                                rill__wb_i64(w, err == KERR_NONE ? off : -1);
                                if (v >= 4)
                                        rill__wb_i32(w, err == KERR_NONE && off >= 0 && p
                                                                ? p->leader_epoch
                                                                : -1);
                        }
                }
        }
        return RILL__H_RESPOND;
}

const rill__api_desc_t rill__api_list_offsets = {
        KAPI_LIST_OFFSETS, 0, 5, INT16_MAX, "ListOffsets", handle_list_offsets
};
