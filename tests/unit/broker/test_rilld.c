/*
 * test_rilld.c - process-level settings of the rilld daemon
 * (broker/daemon/rilld.c) that the in-process broker tests cannot see.
 *
 * - RLIMIT_NOFILE: rilld started with a soft limit of 256 open files runs
 *   with its soft limit raised to the hard limit (read from
 *   /proc/<pid>/limits), since every partition holds a descriptor.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rill_test.h"

/* Reads "Max open files <soft> <hard>" of @p pid; false if not found. A
 * value "unlimited" reads as -1. */
static bool
proc_nofile(pid_t pid, long long *soft, long long *hard)
{
        char path[64], line[256];
        FILE *f;
        bool found = false;
        snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
        f = fopen(path, "r");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char s[32], h[32];
                if (strncmp(line, "Max open files", 14) != 0)
                        continue;
                if (sscanf(line + 14, "%31s %31s", s, h) == 2) {
                        *soft = strcmp(s, "unlimited") ? atoll(s) : -1;
                        *hard = strcmp(h, "unlimited") ? atoll(h) : -1;
                        found = true;
                }
                break;
        }
        fclose(f);
        return found;
}

static void
test_raises_nofile_limit(void)
{
        char *dir = rill_test_tmpdir("rill-rilld");
        struct rlimit orig, low;
        long long soft = 0, hard = 0;
        int port = 0, st;
        pid_t pid;

        CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &orig) == 0);
        if (orig.rlim_max != RLIM_INFINITY && orig.rlim_max <= 256) {
                /* Nothing to raise on this machine. */
                rill_test_rmdir(dir);
                free(dir);
                return;
        }
        /* The child inherits the low soft limit. */
        low = orig;
        low.rlim_cur = 256;
        CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);
        pid = rill_test_rilld_spawn(dir, &port, NULL);
        CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &orig) == 0);
        CU_ASSERT_FATAL(pid > 0);
        CU_ASSERT(proc_nofile(pid, &soft, &hard));
        CU_ASSERT(soft > 256);
        if (hard >= 0)
                CU_ASSERT_EQUAL(soft, hard);
        st = rill_test_rilld_stop(pid, SIGTERM);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        rill_test_rmdir(dir);
        free(dir);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"rilld", NULL, NULL, {
                        {"raises_nofile_limit", test_raises_nofile_limit},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
