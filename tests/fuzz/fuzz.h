/*
 * fuzz.h - what the fuzz targets under tests/fuzz share.
 *
 * Every target defines LLVMFuzzerTestOneInput() (libFuzzer's entry point)
 * and may define LLVMFuzzerInitialize() and rill_fuzz_cleanup(). The same
 * source builds two ways:
 *   - with gcc (the default build), linked with replay_main.c, which feeds
 *     every file of the target's corpus directory to LLVMFuzzerTestOneInput()
 *     once; ctest runs that under ASan+UBSan in CI (label fuzz-replay);
 *   - with clang and -DRILL_FUZZ=ON, linked with -fsanitize=fuzzer as a real
 *     libFuzzer binary (see docs/operations.md, "Hostile input").
 *
 * A target reports a broken invariant with RILL_FUZZ_CHECK(), which prints
 * the condition and aborts, so both libFuzzer and the replay runner see a
 * crash with the reason on stderr.
 *
 * Harness state (the in-process broker of fuzz_request) is necessarily
 * process-wide: libFuzzer's entry point has no context argument.
 */
#ifndef RILL_FUZZ_H
#define RILL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
/** Called by replay_main.c after the last input (optional, weak): lets a
 *  target stop its broker and remove its files so ASan's leak check sees a
 *  clean exit. libFuzzer never calls it. */
void rill_fuzz_cleanup(void);

/** Silences the library's log output (the fuzz targets feed it garbage on
 *  purpose; thousands of "malformed request" warnings per second are noise)
 *  while still formatting every message at warn level and above, so the
 *  format arguments of those paths are exercised. RILL_FUZZ_VERBOSE=1 in
 *  the environment keeps the normal stderr output. */
void rill_fuzz_quiet_logs(void);

#define RILL_FUZZ_CHECK(cond, ...)                                             \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ",  \
                                __FILE__, __LINE__, #cond);                    \
                        fprintf(stderr, __VA_ARGS__);                          \
                        fputc('\n', stderr);                                   \
                        abort();                                               \
                }                                                              \
        } while (0)

#endif /* RILL_FUZZ_H */
