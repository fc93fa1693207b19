/*
 * rill_test.h - helpers shared by the test suites.
 *
 * - rill_test_run(): runs CUnit suites and returns a process exit code.
 * - RILL_WAIT_UNTIL(cond, timeout_ms): polls a condition with a deadline (no
 *   bare sleeps as synchronisation); evaluates to true if cond became true.
 * - temp directories, spawning `rilld`, in-process brokers.
 */
#ifndef RILL_TEST_H
#define RILL_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <rill/broker.h>

typedef struct rill_test_suite {
        const char *name;
        int (*init)(void);
        int (*cleanup)(void);
        struct {
                const char *name;
                void (*fn)(void);
        } tests[64];
} rill_test_suite_t;

/** Registers and runs @p suites (terminated by a {NULL} entry); returns 0 if all passed. */
int rill_test_run(const rill_test_suite_t *suites);

/** Monotonic milliseconds. */
int64_t rill_test_now_ms(void);
/** Sleeps @p ms milliseconds (only for pacing a poll loop, never as synchronisation). */
void rill_test_sleep_ms(int ms);

#define RILL_WAIT_UNTIL(cond, timeout_ms)                                      \
        ({                                                                     \
                int64_t _deadline = rill_test_now_ms() + (timeout_ms);         \
                bool _ok;                                                      \
                while (!(_ok = (cond)) && rill_test_now_ms() < _deadline)      \
                        rill_test_sleep_ms(5);                                 \
                _ok;                                                           \
        })

/** Creates a fresh temporary directory (under $TMPDIR or /tmp); returns a
 *  malloc'd path. Removed by rill_test_rmdir(). */
char *rill_test_tmpdir(const char *prefix);
void rill_test_rmdir(const char *path);

/** Starts an in-process broker on 127.0.0.1 with a free port and data in
 *  @p dir. Extra "key=value" overrides are NULL-terminated. Returns NULL on
 *  failure (after printing why). */
rill_broker_t *rill_test_broker_start(const char *dir, const char *const *overrides);

/** Spawns build/bin/rilld with @p dir as log.dirs on a free port, waits until
 *  it accepts connections, and returns its pid; *port receives the port.
 *  Extra "--override key=value" pairs come from @p overrides (NULL-terminated
 *  "key=value" strings). Returns -1 on failure. */
pid_t rill_test_rilld_spawn(const char *dir, int *port, const char *const *overrides);
/** Sends @p sig to the rilld and waits for it to exit; returns its exit status. */
int rill_test_rilld_stop(pid_t pid, int sig);

/** A free TCP port on 127.0.0.1 (bound then released). */
int rill_test_free_port(void);
/** True once a TCP connection to 127.0.0.1:port succeeds. */
bool rill_test_port_open(int port);

#endif /* RILL_TEST_H */
