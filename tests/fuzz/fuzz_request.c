/*
 * fuzz_request.c - fuzz target for the broker's whole request path: framing
 * (net.c), header decoding and the API table (dispatch.c) and every handler
 * (api_*.c, group_api.c), with the storage and coordinator code behind them.
 *
 * Design. The input is one request frame, the bytes after the int32 size
 * prefix. It goes to a real in-process broker (rill_test_broker_start) over
 * a fresh loopback connection: the harness sends the size prefix and the
 * bytes, then waits for a response, the broker closing the connection, or a
 * short deadline (a request may legitimately park: long-poll Fetch,
 * JoinGroup, or an acks=0 Produce that never answers). That exercises the
 * exact code a hostile client reaches, including framing and connection
 * teardown, at the price of a loopback round trip per input. Calling
 * rill__dispatch() directly was considered and rejected: it needs a
 * connection object private to net.c (parked requests answer through it),
 * and the broker's state belongs to its loop thread, so a direct call would
 * need a new internal entry point into both files for less coverage.
 *
 * The broker runs on its own thread; libFuzzer's coverage counters are
 * process-wide and the harness waits for the outcome of each input before
 * returning, so coverage is attributed to the right input. At start (and
 * after every RESTART_EVERY inputs, so state and disk use stay bounded) a
 * fresh broker gets topic "fuzz" with batches in every codec
 * (rill_fuzz_setup).
 *
 * Known slow path, skipped: a CreateTopics or CreatePartitions request
 * that asks for more than HEAVY_PARTITIONS partitions in total is not sent.
 * Creating partitions runs on the event loop (about 1 ms per partition in
 * a release build, much more under ASan), so one request for 10000
 * partitions stalls every client for seconds and the fuzzer would spend
 * its time waiting on that one, already reported, behaviour.
 *
 * RILL_FUZZ_NO_SKIP=1 in the environment sends such inputs anyway (to
 * reproduce the reports).
 *
 * Invariants, beyond "no crash, no sanitizer report":
 *   - a response carries the request's correlation id and a sane size;
 *   - after every input the broker still answers ApiVersions on a
 *     long-lived control connection within CONTROL_DEADLINE_MS (a hang or a
 *     wedged event loop aborts with a message).
 */
#include "fuzz.h"

#include <string.h>
#include <unistd.h>

#include <rill/broker.h>

#include "fuzz_reqs.h"
#include "kerr.h"
#include "rill_test.h"

#define RESTART_EVERY 4000
#define CONTROL_DEADLINE_MS 60000
#define HEAVY_PARTITIONS 256

typedef struct fuzz_state {
        char *dir;
        rill_broker_t *broker;
        int port;
        int control_fd;
        unsigned inputs;
        int wait_ms;        /* how long one input may take to answer */
        bool no_skip;       /* RILL_FUZZ_NO_SKIP=1: send the known-bad inputs too */
        unsigned long answered, closed, unanswered;
} fuzz_state_t;

static fuzz_state_t g_fz = {NULL, NULL, 0, -1, 0, 250, false, 0, 0, 0};

static void
broker_stop(void)
{
        if (g_fz.control_fd >= 0)
                close(g_fz.control_fd);
        g_fz.control_fd = -1;
        if (g_fz.broker)
                rill_broker_destroy(g_fz.broker);
        g_fz.broker = NULL;
        if (g_fz.dir) {
                rill_test_rmdir(g_fz.dir);
                free(g_fz.dir);
        }
        g_fz.dir = NULL;
}

static void
broker_start(void)
{
        static const char *const ovr[] = {
                "socket.request.max.bytes=1048576",
                "message.max.bytes=262144",
                "group.min.session.timeout.ms=10",
                "log.segment.bytes=65536",
                NULL,
        };
        g_fz.dir = rill_test_tmpdir("rill-fuzz-request");
        g_fz.broker = rill_test_broker_start(g_fz.dir, ovr);
        RILL_FUZZ_CHECK(g_fz.broker != NULL, "cannot start the broker");
        g_fz.port = rill_broker_port(g_fz.broker);
        RILL_FUZZ_CHECK(rill_fuzz_setup(g_fz.port), "cannot set up topic fuzz");
        g_fz.control_fd = rill_fuzz_connect(g_fz.port);
        RILL_FUZZ_CHECK(g_fz.control_fd >= 0, "cannot connect the control connection");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *w = getenv("RILL_FUZZ_WAIT_MS");
        (void)argc;
        (void)argv;
        rill_fuzz_quiet_logs();
        if (w && atoi(w) > 0)
                g_fz.wait_ms = atoi(w);
        g_fz.no_skip = getenv("RILL_FUZZ_NO_SKIP") && strcmp(getenv("RILL_FUZZ_NO_SKIP"), "0");
        /* libFuzzer exits without calling rill_fuzz_cleanup(). */
        atexit(rill_fuzz_cleanup);
        return 0;
}

static void check_alive(void);

void
rill_fuzz_cleanup(void)
{
        if (!g_fz.broker)
                return;
        fprintf(stderr, "fuzz_request: %lu answered, %lu closed by the broker, %lu unanswered "
                "(parked or acks=0)\n", g_fz.answered, g_fz.closed, g_fz.unanswered);
        /* Some work runs only on the broker's periodic tick (every ~50 ms:
         * group expiry, fetch deadlines): keep checking for a few ticks so
         * that a tick that wedges the loop fails here, with a message,
         * instead of hanging rill_broker_destroy(). */
        if (g_fz.broker) {
                int64_t until = rill_test_now_ms() + 300;
                while (rill_test_now_ms() < until)
                        check_alive();
        }
        broker_stop();
}

/* The broker must still answer on the control connection. */
static void
check_alive(void)
{
        size_t len;
        uint8_t *resp = NULL;
        for (int attempt = 0; attempt < 2 && !resp; attempt++) {
                if (g_fz.control_fd < 0)
                        g_fz.control_fd = rill_fuzz_connect(g_fz.port);
                RILL_FUZZ_CHECK(g_fz.control_fd >= 0, "broker no longer accepts connections");
                resp = rill_fuzz_call(g_fz.control_fd, KAPI_API_VERSIONS, 0, NULL,
                                      CONTROL_DEADLINE_MS, &len);
                if (!resp) {
                        /* Closed (e.g. idle limit): reconnect once. */
                        close(g_fz.control_fd);
                        g_fz.control_fd = -1;
                }
        }
        RILL_FUZZ_CHECK(resp != NULL, "broker did not answer ApiVersions within %d ms",
                        CONTROL_DEADLINE_MS);
        RILL_FUZZ_CHECK(len >= 6 && rill__be16(resp + 4) == KERR_NONE, "ApiVersions failed");
        free(resp);
}

/* True for a CreateTopics (v0-4) or CreatePartitions (v0-1) request that
 * decodes and asks for more than HEAVY_PARTITIONS partitions. */
static bool
too_heavy(const uint8_t *data, size_t size)
{
        rill__rbuf_t r;
        int16_t key, ver;
        int64_t total = 0;
        int32_t nt;

        rill__rb_init(&r, data, size);
        key = rill__rb_i16(&r);
        ver = rill__rb_i16(&r);
        (void)rill__rb_i32(&r);
        (void)rill__rb_str(&r, false);
        if (r.err || ver < 0 || (key == KAPI_CREATE_TOPICS && ver > 4) ||
            (key == KAPI_CREATE_PARTITIONS && ver > 1) ||
            (key != KAPI_CREATE_TOPICS && key != KAPI_CREATE_PARTITIONS))
                return false;
        nt = rill__rb_array(&r, false);
        for (int32_t i = 0; i < nt && !r.err; i++) {
                int32_t n;
                (void)rill__rb_str(&r, false);
                n = rill__rb_i32(&r);
                total += n > 0 ? n : 1;
                if (key == KAPI_CREATE_PARTITIONS) {
                        int32_t na = rill__rb_array(&r, false);
                        for (int32_t a = 0; a < na && !r.err; a++) {
                                int32_t nb = rill__rb_array(&r, false);
                                for (int32_t k = 0; k < nb && !r.err; k++)
                                        (void)rill__rb_i32(&r);
                        }
                        continue;
                }
                (void)rill__rb_i16(&r);
                n = rill__rb_array(&r, false);   /* assignments: one per partition */
                total += n > 0 ? n : 0;
                for (int32_t a = 0; a < n && !r.err; a++) {
                        int32_t nb;
                        (void)rill__rb_i32(&r);
                        nb = rill__rb_array(&r, false);
                        for (int32_t k = 0; k < nb && !r.err; k++)
                                (void)rill__rb_i32(&r);
                }
                n = rill__rb_array(&r, false);
                for (int32_t c = 0; c < n && !r.err; c++) {
                        (void)rill__rb_str(&r, false);
                        (void)rill__rb_str(&r, false);
                }
        }
        /* A request that does not decode is sent: the broker refuses it. */
        return !r.err && total > HEAVY_PARTITIONS;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fd;
        uint8_t *resp;
        size_t len;
        rill_fuzz_rr_t rr;

        if (!g_fz.broker || g_fz.inputs >= RESTART_EVERY) {
                broker_stop();
                broker_start();
                g_fz.inputs = 0;
        }
        g_fz.inputs++;
        if (!g_fz.no_skip && too_heavy(data, size))
                return 0;

        fd = rill_fuzz_connect(g_fz.port);
        RILL_FUZZ_CHECK(fd >= 0, "cannot connect to the broker");
        if (rill_fuzz_send_frame(fd, data, size)) {
                /* One request, so at most one response; then the broker
                 * either closes, parks the request, or is done. */
                rr = rill_fuzz_recv(fd, g_fz.wait_ms, &resp, &len);
                if (rr == RILL_FUZZ_RESPONSE) {
                        RILL_FUZZ_CHECK(size >= 8, "response to a %zu-byte frame", size);
                        RILL_FUZZ_CHECK(rill__be32(resp) == rill__be32(data + 4),
                                        "response correlation id %08x for request %08x",
                                        rill__be32(resp), rill__be32(data + 4));
                        free(resp);
                        g_fz.answered++;
                } else if (rr == RILL_FUZZ_CLOSED) {
                        g_fz.closed++;
                } else if (rr == RILL_FUZZ_TIMEOUT) {
                        g_fz.unanswered++;
                }
                RILL_FUZZ_CHECK(rr != RILL_FUZZ_BAD, "response with an impossible size");
        } else {
                g_fz.closed++;
        }
        close(fd);
        check_alive();
        return 0;
}
