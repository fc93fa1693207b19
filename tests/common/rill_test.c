/*
 * rill_test.c - helpers shared by the test suites. See rill_test.h.
 */
#include "rill_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rill_util.h"

int
rill_test_run(const rill_test_suite_t *suites)
{
        unsigned failed;
        if (CU_initialize_registry() != CUE_SUCCESS)
                return 2;
        for (const rill_test_suite_t *s = suites; s->name; s++) {
                CU_pSuite cs = CU_add_suite(s->name, s->init, s->cleanup);
                if (!cs)
                        return 2;
                for (int i = 0; i < 64 && s->tests[i].name; i++)
                        if (!CU_add_test(cs, s->tests[i].name, s->tests[i].fn))
                                return 2;
        }
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_basic_run_tests();
        failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
                 CU_get_number_of_tests_failed();
        CU_cleanup_registry();
        return failed ? 1 : 0;
}

int64_t
rill_test_now_ms(void)
{
        return rill__mono_ms();
}

void
rill_test_sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

char *
rill_test_tmpdir(const char *prefix)
{
        const char *base = getenv("TMPDIR");
        char *path;
        size_t n;
        if (!base || !*base)
                base = "/tmp";
        n = strlen(base) + strlen(prefix) + 16;
        path = malloc(n);
        snprintf(path, n, "%s/%s-XXXXXX", base, prefix);
        if (!mkdtemp(path)) {
                perror("mkdtemp");
                abort();
        }
        return path;
}

void
rill_test_rmdir(const char *path)
{
        if (path)
                rill__rmtree(path);
}

int
rill_test_free_port(void)
{
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

bool
rill_test_port_open(int port)
{
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

