/*
 * server.h - private interfaces of the broker's core server (internal).
 *
 * The core server is broker.c (lifecycle, topic registry, periodic work),
 * net.c (epoll loop, connections, framing), dispatch.c (API table, request
 * header, ApiVersions) and the data-plane handlers api_metadata.c,
 * api_produce.c, api_fetch.c and api_list_offsets.c. This header holds what
 * those files share and nobody else needs: the broker struct itself, the
 * net <-> broker hooks, the per-API descriptors and the long-poll Fetch
 * plumbing. Other modules use broker_int.h only.
 *
 * Threading: everything here runs on the broker's event-loop thread unless a
 * function says otherwise. rill_broker_start/stop/kill run on the caller's
 * thread while the loop thread is not running (before it is created or after
 * it has been joined), so they may touch the same state without locks.
 */
#ifndef RILL_BROKER_SERVER_H
#define RILL_BROKER_SERVER_H

#include <stdatomic.h>

#include "broker_int.h"

/** Size of the API lookup table (index = api key). */
#define RILL__API_SLOTS 128
/** Response buffers kept for reuse, and the largest one kept. */
#define RILL__BUFPOOL_MAX 4
#define RILL__BUFPOOL_MAX_CAP (16 * 1024 * 1024)
#define RILL__BUFPOOL_MIN_CAP (64 * 1024)

typedef struct rill__net rill__net_t;
typedef struct rill__fetch_park rill__fetch_park_t;
typedef struct rill__cleaner rill__cleaner_t;

struct rill_broker_s {
        rill_broker_conf_t *conf;       /**< owned */
        char *data_dir;                 /**< first entry of log.dirs */
        char *cluster_id;               /**< from meta.properties or generated */
        char adv_host[256];
        int adv_port;
        char bootstrap[300];            /**< "adv_host:adv_port" */
        atomic_int port;                /**< bound port, 0 before the first start */
        bool running;
        int lock_fd;                    /**< flock()ed <data_dir>/.lock while running */

        /* Topic registry: an array in creation order plus an open-addressing
         * hash table of indexes into it (rebuilt on create/delete). */
        rill__topic_t **topics;
        int topic_cnt;
        int topic_cap;
        int32_t *topic_hash;            /**< -1 = empty slot */
        int topic_hash_size;            /**< power of two */

        rill__groups_t *groups;
        rill__net_t *net;
        rill__cleaner_t *cleaner;       /**< log cleaner + flusher threads (cleaner.c) */
        pthread_t thread;

        const rill__api_desc_t *apis[RILL__API_SLOTS];

        /* Long-poll Fetch: parked requests and the partitions appended to
         * since the last wake-up pass. */
        rill__fetch_park_t *fetch_parked;
        rill__partition_t **fetch_dirty;
        int fetch_dirty_cnt;
        int fetch_dirty_cap;

        /* Large response buffers kept for reuse (Fetch responses), so that
         * a busy consumer does not fault fresh pages in for every answer. */
        rill__wbuf_t bufpool[RILL__BUFPOOL_MAX];
        int bufpool_cnt;
        int64_t bufpool_last_use_ms;    /**< monotonic */

        int64_t next_tick_ms;           /**< monotonic */
        int64_t next_retention_ms;      /**< monotonic */
        int64_t next_idle_check_ms;     /**< monotonic */
};

/* ---- net.c ---- */

/** Creates the network layer for @p b (no sockets yet). */
rill__net_t *rill__net_new(rill_broker_t *b);
/**
 * Creates the epoll instance and eventfd and binds a non-blocking listener
 * to @p host (empty = all interfaces) and @p port (0 = a free port).
 * @returns RILL_OK and the bound port in *bound_port, or RILL_ERR_IO.
 */
rill_err_t rill__net_listen(rill__net_t *n, const char *host, int port, int *bound_port,
                            char *errstr, size_t errstr_size);
/** Runs the event loop until rill__net_wakeup_stop(). Loop thread. */
void rill__net_run(rill__net_t *n);
/** Asks the loop to return. Thread-safe (async-signal-safe: one write()). */
void rill__net_wakeup_stop(rill__net_t *n);
/** Closes the listener, every connection and the epoll/eventfd descriptors.
 *  Call after the loop thread has returned. Parked requests stay valid
 *  (their connections are marked dead). */
void rill__net_close_all(rill__net_t *n);
void rill__net_destroy(rill__net_t *n);
/** "ip:port" of the peer, for log messages. */
const char *rill__conn_peer(const rill__conn_t *c);

/** Like rill__req_respond() but takes @p resp's buffer instead of copying
 *  it (@p resp is left empty). Loop thread only. */
void rill__req_respond_take(rill__req_t *req, rill__wbuf_t *resp);

/* ---- broker.c: response buffer pool ---- */

/** Replaces the (empty) @p w with a pooled buffer of at least
 *  RILL__BUFPOOL_MIN_CAP bytes, or a new one. Loop thread only. */
void rill__bufpool_get(rill_broker_t *b, rill__wbuf_t *w);
/** Frees @p w's buffer, or keeps it for reuse when it is large. */
void rill__bufpool_put(rill_broker_t *b, rill__wbuf_t *w);

/* ---- broker.c: hooks driven by the loop ---- */

/** Milliseconds until the broker's next timed work (tick or fetch deadline). */
int rill__broker_loop_timeout(rill_broker_t *b, int64_t now_mono_ms);
/** Called after each batch of events: completes woken and expired fetches,
 *  runs the ~50 ms tick when due. */
void rill__broker_loop_iter(rill_broker_t *b, int64_t now_mono_ms);
/** The connection idle limit (connections.max.idle.ms), for net.c. */
int64_t rill__broker_idle_ms(const rill_broker_t *b);
/** socket.request.max.bytes, for net.c. */
int32_t rill__broker_max_request(const rill_broker_t *b);

/* ---- cleaner.c: background storage threads ---- */

/**
 * Creates the broker's storage threads and starts them: the flusher (runs
 * the logs' deferred sync tasks in order) always, the log cleaner (builds
 * compaction jobs) when @p compaction (log.cleaner.enable). A scan that
 * finds no log to compact pauses the scans for @p backoff_ms
 * (log.cleaner.backoff.ms). @returns NULL with a message if a thread cannot
 * start. Owner's thread, loop thread not running.
 */
rill__cleaner_t *rill__cleaner_new(rill_broker_t *b, bool compaction, int64_t backoff_ms,
                                   char *errstr, size_t errstr_size);
/** The rill__log_syncer_fn of the broker's logs (@p opaque: the cleaner):
 *  queues @p task for the flusher. Loop thread. */
void rill__cleaner_syncer(void *opaque, rill__log_sync_t *task);
/** Periodic work (every tick): commits a compaction job the cleaner has
 *  finished (or frees it when its log is gone), then, when the cleaner is
 *  idle and not backing off, plans the next job. Loop thread. NULL no-op. */
void rill__cleaner_tick(rill__cleaner_t *c, int64_t now_mono_ms);
/** Asks the cleaner to abandon its pass promptly (checked between batches).
 *  Thread-safe. NULL is a no-op. */
void rill__cleaner_cancel(rill__cleaner_t *c);
/** True once rill__cleaner_cancel (or destroy) was called. Thread-safe. */
bool rill__cleaner_cancelled(const rill__cleaner_t *c);
/**
 * Cancels and joins the cleaner, frees the jobs it holds (removing their
 * .cleaned files), then stops the flusher after running (@p drain) or
 * dropping (a kill) the queued sync tasks. Call before the logs are closed,
 * with the loop thread stopped and no log using the cleaner as its syncer
 * any more. NULL is a no-op.
 */
void rill__cleaner_destroy(rill__cleaner_t *c, bool drain);

/** Counters, for tests and logs. */
typedef struct rill__cleaner_stats {
        int64_t passes;     /**< compaction jobs handed to the cleaner */
        int64_t committed;  /**< jobs committed */
        int64_t discarded;  /**< jobs discarded (log changed or gone, failure, cancel) */
        int64_t syncs;      /**< sync tasks run by the flusher */
} rill__cleaner_stats_t;
/** Fills @p out. Thread-safe. */
void rill__cleaner_stats(rill__cleaner_t *c, rill__cleaner_stats_t *out);
/** Test hook: @p fn is called on the cleaner thread between batches of the
 *  jobs handed over after this call (it may block to hold a pass in the
 *  middle). Thread-safe. */
void rill__cleaner_set_test_hook(rill__cleaner_t *c, void (*fn)(void *opaque), void *opaque);

/* ---- dispatch.c ---- */

/** Fills b->apis from this module's and the group/admin modules' tables. */
void rill__dispatch_init(rill_broker_t *b);
/**
 * Decodes the request header of @p req (frame already set), looks the API up
 * and runs its handler, writing the response body into @p resp.
 * @returns what net.c must do with the response.
 */
rill__hres_t rill__dispatch(rill__req_t *req, rill__wbuf_t *resp);
/** Encodes the response header for @p req into @p hdr (size prefix for a
 *  body of @p body_len bytes included); returns its length (<= 9). */
size_t rill__resp_header(const rill__req_t *req, size_t body_len, uint8_t hdr[16]);
/** Logs "malformed <Api> v<N> from <client>" and returns RILL__H_CLOSE. */
rill__hres_t rill__req_malformed(rill__req_t *req);
/** The name of API @p key ("Produce"), or "Unknown". */
const char *rill__api_name(int16_t key);

/* ---- data-plane API descriptors ---- */

extern const rill__api_desc_t rill__api_metadata;
extern const rill__api_desc_t rill__api_produce;
extern const rill__api_desc_t rill__api_fetch;
extern const rill__api_desc_t rill__api_list_offsets;

/* ---- api_fetch.c: long-poll plumbing ---- */

/** An append reached @p p: parked fetches on it are re-checked after the
 *  current batch of events. */
void rill__fetch_notify(rill_broker_t *b, rill__partition_t *p);
/** Completes parked fetches that were woken or whose deadline passed. */
void rill__fetch_poll(rill_broker_t *b, int64_t now_mono_ms);
/** Earliest parked-fetch deadline (monotonic ms), or INT64_MAX. */
int64_t rill__fetch_next_deadline(const rill_broker_t *b);
/** Responds to every parked fetch now (before a topic is deleted). */
void rill__fetch_complete_all(rill_broker_t *b);
/** Frees every parked fetch without responding (shutdown). */
void rill__fetch_shutdown(rill_broker_t *b);

/* ---- shared helpers for handlers ---- */

/** Leader-epoch fencing for Fetch/ListOffsets (current_leader_epoch -1 = none). */
int16_t rill__check_leader_epoch(const rill__partition_t *p, int32_t current_leader_epoch);

#endif /* RILL_BROKER_SERVER_H */
