/*
 * fuzz_reqs.h - valid Kafka requests and a tiny loopback client for the fuzz
 * targets, the seed generator and the hostile-input test.
 *
 * The builders encode, with the broker's own codec (codec.h), one valid
 * request body for every (API key, version) pair listed in
 * rill_fuzz_apis[] - the ranges the broker advertises today. They refer to
 * a topic "fuzz" with two partitions that rill_fuzz_setup() creates and
 * fills, so Produce/Fetch/ListOffsets/... seeds reach real data paths, and
 * to groups named "fuzz-group..." (JoinGroup uses one group per version so
 * that no seed waits for another seed's departed member).
 *
 * The client helpers use blocking sockets with poll() deadlines; nothing
 * waits forever. Not thread-safe (no shared state, but one socket belongs
 * to one thread).
 */
#ifndef RILL_FUZZ_REQS_H
#define RILL_FUZZ_REQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/** One API and the versions the builders cover. */
typedef struct rill_fuzz_api {
        int16_t key;
        int16_t min_version;
        int16_t max_version;
        int16_t flex_min_version;   /**< Kafka's first flexible version */
        const char *name;
} rill_fuzz_api_t;

extern const rill_fuzz_api_t rill_fuzz_apis[];
extern const int rill_fuzz_api_cnt;

/** The table entry for @p key, or NULL. */
const rill_fuzz_api_t *rill_fuzz_api_find(int16_t key);

/** Appends a valid body of API @p key version @p ver to @p w; false if the
 *  builders do not cover that pair. */
bool rill_fuzz_build_body(rill__wbuf_t *w, int16_t key, int16_t ver);

/** Appends a whole request frame without its size prefix: header v1 (v2 for
 *  flexible versions) with @p corr and client id "rill-fuzz", then @p body. */
void rill_fuzz_build_frame(rill__wbuf_t *w, int16_t key, int16_t ver, int32_t corr,
                           const rill__wbuf_t *body);

/** Appends a RecordBatch v2 of @p n records ("key-<i>", "<prefix>-<i>",
 *  one header on odd records) compressed with @p codec (RILL__COMP_*). */
void rill_fuzz_make_batch(rill__wbuf_t *out, int n, int codec, const char *prefix);

/* ---- loopback client ---- */

/** Connects to 127.0.0.1:@p port (blocking, TCP_NODELAY); -1 on failure. */
int rill_fuzz_connect(int port);
/** Sends all of @p p; false if the peer closed or an error occurred. */
bool rill_fuzz_send_all(int fd, const void *p, size_t n);
/** Sends @p frame (without size prefix) with its size prefix. */
bool rill_fuzz_send_frame(int fd, const void *frame, size_t len);

typedef enum rill_fuzz_rr {
        RILL_FUZZ_RESPONSE = 1,  /**< a whole response frame arrived */
        RILL_FUZZ_CLOSED = 0,    /**< the broker closed the connection */
        RILL_FUZZ_TIMEOUT = -1,  /**< nothing complete before the deadline */
        RILL_FUZZ_BAD = -2       /**< a response with an impossible size prefix */
} rill_fuzz_rr_t;

/**
 * Reads one response frame within @p timeout_ms. On RILL_FUZZ_RESPONSE,
 * *out (malloc'd, caller frees) holds the frame without its size prefix and
 * *out_len its length (>= 4: starts with the correlation id).
 */
rill_fuzz_rr_t rill_fuzz_recv(int fd, int timeout_ms, uint8_t **out, size_t *out_len);

/** Sends a built request and reads its response; checks the correlation id.
 *  Returns the response (caller frees) or NULL. */
uint8_t *rill_fuzz_call(int fd, int16_t key, int16_t ver, const rill__wbuf_t *body,
                        int timeout_ms, size_t *resp_len);

/** Creates topic "fuzz" (2 partitions) on the broker at @p port and
 *  produces a few batches into each partition (one per codec). */
bool rill_fuzz_setup(int port);

#endif /* RILL_FUZZ_REQS_H */
