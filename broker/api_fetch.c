/*
 * api_fetch.c - the Fetch API, versions 4-11, with long-poll parking.
 *
 * Only RecordBatch v2 is stored, so only versions that return it are
 * advertised: 4 (isolation_level, last_stable_offset, aborted transactions;
 * MsgVer2 in librdkafka) to 11 (rack_id, preferred_read_replica). v5 adds
 * log_start_offset, v7 fetch sessions (KIP-227) and forgotten topics, v9
 * current_leader_epoch. v12+ is flexible and not implemented.
 *
 * Fetch sessions: every response carries session_id 0, which tells the
 * client that no session was created, so it keeps sending full fetches
 * (librdkafka 2.0.2 sends session 0 / epoch -1 anyway). An incremental
 * fetch (session_id != 0 or epoch > 0) gets FETCH_SESSION_ID_NOT_FOUND.
 *
 * Reading: each partition's bytes are read from the log straight into the
 * response buffer (one copy; whole batches below the high watermark). The
 * buffer comes from the broker's pool and is sized once per request from an
 * upper bound of the response (fetch_estimate), so it is not grown by
 * doubling while the partitions are read.
 * max_bytes bounds the whole response and partition_max_bytes each
 * partition, except that the first partition returning data always gets at
 * least one whole batch (KIP-74), so a batch larger than the limits never
 * stalls a consumer. read_committed equals read_uncommitted while there are
 * no transactions: last_stable_offset = high watermark and no aborted
 * transactions.
 *
 * Long poll: when fewer than min_bytes are available, no partition has an
 * error and max_wait_ms > 0, the request is parked (its connection is muted
 * by net.c until the answer). rill__partition_append() calls
 * rill__fetch_notify(), which records the partition; after the current batch
 * of events rill__fetch_poll() re-runs every parked fetch that waits on such
 * a partition, or whose deadline passed, from its original request bytes, and
 * answers it when it has enough data (or finally, at the deadline).
 *
 * Loop thread only.
 */
#include "server.h"

#include <string.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define KERR_FETCH_SESSION_ID_NOT_FOUND 70

struct rill__fetch_park {
        rill__fetch_park_t *prev, *next;
        rill__req_t *req;
        rill__rbuf_t body;           /* the request body, to decode again */
        rill__partition_t **parts;   /* partitions waited on */
        int part_cnt;
        int64_t deadline;            /* monotonic ms */
        bool woken;
};

typedef struct fetch_result {
        bool malformed;
        bool want_park;
        int32_t max_wait_ms;
        rill__partition_t **parts;   /* only collected when requested */
        int part_cnt, part_cap;
} fetch_result_t;

static void
result_add_part(fetch_result_t *res, rill__partition_t *p)
{
        if (res->part_cnt == res->part_cap) {
                res->part_cap = res->part_cap ? res->part_cap * 2 : 8;
                res->parts = rill__realloc(res->parts, (size_t)res->part_cap * sizeof(*res->parts));
        }
        res->parts[res->part_cnt++] = p;
}

/*
 * Decodes the Fetch request in @p body and writes a complete response into
 * @p w. Sets res->want_park when the caller may park the request (too little
 * data, no error, max_wait > 0) - only if @p may_park. Collects the fetched
 * partitions into res->parts when @p collect.
 */
static void
fetch_run(rill__req_t *req, rill__rbuf_t body, rill__wbuf_t *w, bool may_park, bool collect,
          fetch_result_t *res)
{
        rill_broker_t *b = req->broker;
        rill__rbuf_t *r = &body;
        int16_t v = req->api_version;
        int32_t min_bytes, max_bytes = INT32_MAX, session_id = 0, session_epoch = -1;
        int32_t nt;
        int64_t total = 0;
        bool any_error = false, got_data = false;
        int16_t top_err = KERR_NONE;

        (void)rill__rb_i32(r);            /* replica_id: consumers only until replication */
        res->max_wait_ms = rill__rb_i32(r);
        min_bytes = rill__rb_i32(r);
        if (v >= 3)
                max_bytes = rill__rb_i32(r);
        if (v >= 4)
                (void)rill__rb_i8(r);     /* isolation_level: LSO == HW without txns */
        if (v >= 7) {
                session_id = rill__rb_i32(r);
                session_epoch = rill__rb_i32(r);
                if (session_id != 0 || session_epoch > 0)
                        top_err = KERR_FETCH_SESSION_ID_NOT_FOUND;
        }
        if (max_bytes < 0)
                max_bytes = 0;

        rill__wb_i32(w, 0);               /* throttle_time_ms */
        if (v >= 7) {
                rill__wb_i16(w, top_err);
                rill__wb_i32(w, 0);       /* session_id: no session created */
        }

        nt = rill__rb_array(r, false);
        if (top_err != KERR_NONE) {
                /* Decode the rest for validation only. */
                rill__wb_array(w, 0, false);
                for (int32_t i = 0; i < nt && !r->err; i++) {
                        int32_t np;
                        (void)rill__rb_str(r, false);
                        np = rill__rb_array(r, false);
                        for (int32_t j = 0; j < np && !r->err; j++) {
                                (void)rill__rb_i32(r);
                                if (v >= 9)
                                        (void)rill__rb_i32(r);
                                (void)rill__rb_i64(r);
                                if (v >= 5)
                                        (void)rill__rb_i64(r);
                                (void)rill__rb_i32(r);
                        }
                }
                any_error = true;
        } else {
                rill__wb_array(w, nt < 0 ? 0 : nt, false);
        }
        for (int32_t i = 0; top_err == KERR_NONE && i < nt && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, false);
                int32_t np = rill__rb_array(r, false);
                rill__topic_t *t = name.len >= 0 ? rill__topic_find(b, name.ptr, (size_t)name.len)
                                                 : NULL;
                if (name.len < 0)
                        r->err = 1;
                rill__wb_rstr(w, name, false);
                rill__wb_array(w, np < 0 ? 0 : np, false);
                for (int32_t j = 0; j < np && !r->err; j++) {
                        int32_t idx = rill__rb_i32(r);
                        int32_t cle = v >= 9 ? rill__rb_i32(r) : -1;
                        int64_t offset = rill__rb_i64(r);
                        int32_t pmax, limit;
                        rill__partition_t *p = NULL;
                        int16_t err = KERR_NONE;
                        int64_t hw = -1, start = -1;
                        size_t err_off, len_off, before;

                        if (v >= 5)
                                (void)rill__rb_i64(r); /* log_start_offset: followers only */
                        pmax = rill__rb_i32(r);
                        if (r->err)
                                break;
                        if (t && idx >= 0 && idx < t->partition_cnt)
                                p = t->partitions[idx];
                        if (!p) {
                                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        } else {
                                hw = p->high_watermark;
                                start = rill__log_start_offset(p->log);
                                err = rill__check_leader_epoch(p, cle);
                                if (err == KERR_NONE && (offset < start || offset > hw))
                                        err = KERR_OFFSET_OUT_OF_RANGE;
                        }

                        rill__wb_i32(w, idx);
                        err_off = w->len;
                        rill__wb_i16(w, err);
                        rill__wb_i64(w, hw);
                        if (v >= 4)
                                rill__wb_i64(w, hw);  /* last_stable_offset */
                        if (v >= 5)
                                rill__wb_i64(w, start);
                        if (v >= 4)
                                rill__wb_array(w, 0, false); /* aborted_transactions */
                        if (v >= 11)
                                rill__wb_i32(w, -1);  /* preferred_read_replica */
                        len_off = rill__wb_reserve_i32(w);
                        before = w->len;
                        if (err == KERR_NONE && offset < hw) {
                                rill_err_t e;
                                int64_t budget = (int64_t)max_bytes - total;
                                limit = (int32_t)RILL__MIN((int64_t)pmax, budget);
                                if (limit < 0)
                                        limit = 0;
                                if (limit > 0 || !got_data) {
                                        e = rill__log_read(p->log, offset, hw, limit, w);
                                        if (e == RILL_ERR_OFFSET_OUT_OF_RANGE)
                                                err = KERR_OFFSET_OUT_OF_RANGE;
                                        else if (e != RILL_OK)
                                                err = KERR_KAFKA_STORAGE_ERROR;
                                        if (err != KERR_NONE) {
                                                w->len = before;
                                                RILL_LOG_W("broker", "fetch %s-%d at %lld: %s",
                                                           p->topic->name, p->id,
                                                           (long long)offset, rill_err2str(e));
                                        } else if (got_data && w->len - before > (size_t)limit) {
                                                /* Only the first partition with data may
                                                 * exceed the limits (KIP-74). */
                                                w->len = before;
                                        }
                                }
                        }
                        if (err != KERR_NONE) {
                                any_error = true;
                                rill__put_be16(w->buf + err_off, (uint16_t)err);
                        }
                        rill__wb_patch_i32(w, len_off, (int32_t)(w->len - before));
                        if (w->len > before) {
                                got_data = true;
                                total += (int64_t)(w->len - before);
                        }
                        if (collect && p && err == KERR_NONE)
                                result_add_part(res, p);
                }
        }
        if (v >= 7 && !r->err) {
                int32_t nf = rill__rb_array(r, false); /* forgotten_topics_data */
                for (int32_t i = 0; i < nf && !r->err; i++) {
                        int32_t np;
                        (void)rill__rb_str(r, false);
                        np = rill__rb_array(r, false);
                        for (int32_t j = 0; j < np && !r->err; j++)
                                (void)rill__rb_i32(r);
                }
        }
        if (v >= 11)
                (void)rill__rb_str(r, false); /* rack_id */
        res->malformed = r->err != 0;
        res->want_park = may_park && !res->malformed && !any_error &&
                         res->max_wait_ms > 0 && total < (int64_t)min_bytes;
}

/*
 * An upper bound of the response to the Fetch request in @p body, for
 * sizing its buffer once: per partition the fixed fields plus
 * min(partition_max_bytes, the partition log's size), all records bounded
 * by max_bytes. A malformed request or an unknown topic just gives a
 * smaller figure; the buffer still grows if the estimate is exceeded (a
 * first batch larger than the limits, KIP-74). Only a capacity hint.
 */
static size_t
fetch_estimate(rill__req_t *req, rill__rbuf_t body)
{
        rill_broker_t *b = req->broker;
        rill__rbuf_t *r = &body;
        int16_t v = req->api_version;
        int64_t max_bytes = INT32_MAX, records = 0, fixed = 64;
        int32_t nt;

        (void)rill__rb_i32(r);            /* replica_id */
        (void)rill__rb_i32(r);            /* max_wait_ms */
        (void)rill__rb_i32(r);            /* min_bytes */
        if (v >= 3)
                max_bytes = rill__rb_i32(r);
        if (v >= 4)
                (void)rill__rb_i8(r);
        if (v >= 7) {
                (void)rill__rb_i32(r);
                (void)rill__rb_i32(r);
        }
        nt = rill__rb_array(r, false);
        for (int32_t i = 0; i < nt && !r->err; i++) {
                rill__str_t name = rill__rb_str(r, false);
                int32_t np = rill__rb_array(r, false);
                rill__topic_t *t = name.len >= 0 ? rill__topic_find(b, name.ptr, (size_t)name.len)
                                                 : NULL;
                fixed += 8 + (name.len > 0 ? name.len : 0);
                for (int32_t j = 0; j < np && !r->err; j++) {
                        int32_t idx = rill__rb_i32(r), pmax;
                        if (v >= 9)
                                (void)rill__rb_i32(r);
                        (void)rill__rb_i64(r);
                        if (v >= 5)
                                (void)rill__rb_i64(r);
                        pmax = rill__rb_i32(r);
                        fixed += 64;
                        if (r->err || !t || idx < 0 || idx >= t->partition_cnt || pmax <= 0)
                                continue;
                        records += RILL__MIN((int64_t)pmax,
                                             rill__log_size_bytes(t->partitions[idx]->log));
                        if (records > max_bytes)
                                records = max_bytes;
                }
        }
        return (size_t)(RILL__MAX(records, 0) + fixed);
}

/*
 * Gives the empty pooled buffer @p w room for @p need bytes in one step,
 * so that rill__log_read() never grows it by doubling (each step copying
 * what is already there and touching fresh pages). Estimates above the
 * pool's largest buffer are left to normal growth.
 */
static void
fetch_reserve(rill__wbuf_t *w, size_t need)
{
        if (w->len != 0 || need <= w->cap || need > RILL__BUFPOOL_MAX_CAP)
                return;
        rill__free(w->buf);
        w->buf = rill__malloc(need);
        w->cap = need;
}

static void
park_unlink(rill_broker_t *b, rill__fetch_park_t *fp)
{
        if (fp->prev)
                fp->prev->next = fp->next;
        else
                b->fetch_parked = fp->next;
        if (fp->next)
                fp->next->prev = fp->prev;
        fp->prev = fp->next = NULL;
}

static void
park_free(rill__fetch_park_t *fp)
{
        rill__free(fp->parts);
        rill__free(fp);
}

static rill__hres_t
handle_fetch(rill__req_t *req, rill__wbuf_t *w)
{
        rill_broker_t *b = req->broker;
        fetch_result_t res;
        rill__fetch_park_t *fp;

        memset(&res, 0, sizeof(res));
        if (w->len == 0) {
                rill__wb_free(w);
                rill__bufpool_get(b, w);
                fetch_reserve(w, fetch_estimate(req, req->body));
        }
        fetch_run(req, req->body, w, true, true, &res);
        if (res.malformed) {
                rill__free(res.parts);
                return rill__req_malformed(req);
        }
        if (!res.want_park) {
                rill__free(res.parts);
                return RILL__H_RESPOND;
        }
        rill__bufpool_put(b, w); /* leaves w empty; the answer comes later */
        fp = RILL__NEW(rill__fetch_park_t);
        fp->req = req;
        fp->body = req->body;
        fp->parts = res.parts;
        fp->part_cnt = res.part_cnt;
        fp->deadline = rill__mono_ms() + res.max_wait_ms;
        req->park_opaque = fp;
        req->park_deadline_ms = fp->deadline;
        fp->next = b->fetch_parked;
        if (b->fetch_parked)
                b->fetch_parked->prev = fp;
        b->fetch_parked = fp;
        return RILL__H_PARKED;
}

void
rill__fetch_notify(rill_broker_t *b, rill__partition_t *p)
{
        if (!b->fetch_parked)
                return;
        for (int i = 0; i < b->fetch_dirty_cnt; i++)
                if (b->fetch_dirty[i] == p)
                        return;
        if (b->fetch_dirty_cnt == b->fetch_dirty_cap) {
                b->fetch_dirty_cap = b->fetch_dirty_cap ? b->fetch_dirty_cap * 2 : 16;
                b->fetch_dirty = rill__realloc(b->fetch_dirty,
                                               (size_t)b->fetch_dirty_cap * sizeof(*b->fetch_dirty));
        }
        b->fetch_dirty[b->fetch_dirty_cnt++] = p;
}

/* Re-runs a parked fetch; answers it unless it should keep waiting. */
static void
park_try_complete(rill_broker_t *b, rill__fetch_park_t *fp, bool final)
{
        rill__wbuf_t w;
        fetch_result_t res;
        rill__req_t *req = fp->req;

        if (!rill__req_conn_alive(req)) {
                park_unlink(b, fp);
                park_free(fp);
                rill__req_free(req);
                return;
        }
        memset(&res, 0, sizeof(res));
        rill__bufpool_get(b, &w);
        fetch_reserve(&w, fetch_estimate(req, fp->body));
        fetch_run(req, fp->body, &w, !final, false, &res);
        if (res.want_park) {
                fp->woken = false;
        } else {
                park_unlink(b, fp);
                park_free(fp);
                rill__req_respond_take(req, &w);
        }
        rill__bufpool_put(b, &w);
}

void
rill__fetch_poll(rill_broker_t *b, int64_t now_mono_ms)
{
        rill__fetch_park_t *fp, *next;
        if (!b->fetch_parked) {
                b->fetch_dirty_cnt = 0;
                return;
        }
        if (b->fetch_dirty_cnt > 0) {
                for (fp = b->fetch_parked; fp; fp = fp->next) {
                        for (int i = 0; i < fp->part_cnt && !fp->woken; i++)
                                for (int j = 0; j < b->fetch_dirty_cnt; j++)
                                        if (fp->parts[i] == b->fetch_dirty[j]) {
                                                fp->woken = true;
                                                break;
                                        }
                }
                b->fetch_dirty_cnt = 0;
        }
        for (fp = b->fetch_parked; fp; fp = next) {
                next = fp->next;
                if (now_mono_ms >= fp->deadline)
                        park_try_complete(b, fp, true);
                else if (fp->woken || !rill__req_conn_alive(fp->req))
                        park_try_complete(b, fp, false);
        }
}

int64_t
rill__fetch_next_deadline(const rill_broker_t *b)
{
        int64_t d = INT64_MAX;
        for (const rill__fetch_park_t *fp = b->fetch_parked; fp; fp = fp->next)
                if (fp->deadline < d)
                        d = fp->deadline;
        return d;
}

void
rill__fetch_complete_all(rill_broker_t *b)
{
        b->fetch_dirty_cnt = 0;
        while (b->fetch_parked)
                park_try_complete(b, b->fetch_parked, true);
}

void
rill__fetch_shutdown(rill_broker_t *b)
{
        while (b->fetch_parked) {
                rill__fetch_park_t *fp = b->fetch_parked;
                rill__req_t *req = fp->req;
                park_unlink(b, fp);
                park_free(fp);
                rill__req_free(req);
        }
        b->fetch_dirty_cnt = 0;
}

const rill__api_desc_t rill__api_fetch = {
        KAPI_FETCH, 4, 11, INT16_MAX, "Fetch", handle_fetch
};
