/*
 * bench_proc.c - process measurement helpers shared by the benchmarks (see
 * bench_proc.h).
 */
#include "bench_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

/** CPU seconds (user+system) consumed so far by process @p pid, from
 *  /proc/<pid>/stat (clock-tick resolution, dead threads included), or -1. */
double
proc_stat_cpu_s(pid_t pid)
{
        char path[64], buf[4096];
        unsigned long long utime, stime;
        const char *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        /* The command name may contain spaces and parentheses: fields are
         * counted from the last ')'. Field 3 (state) follows it; utime and
         * stime are fields 14 and 15. */
        p = strrchr(buf, ')');
        if (!p)
                return -1;
        p++;
        for (int field = 3; field < 14; field++) {
                while (*p == ' ')
                        p++;
                while (*p && *p != ' ')
                        p++;
        }
        if (sscanf(p, " %llu %llu", &utime, &stime) != 2)
                return -1;
        return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double
self_cpu_s(void)
{
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
                return -1;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void
cpu_sample(pid_t pid, cpu_sample_t *c)
{
        char path[64];
        DIR *d;
        struct dirent *de;
        unsigned long long ns_total = 0;

        c->self_s = self_cpu_s();
        c->stat_s = proc_stat_cpu_s(pid);
        c->sched_s = -1;
        c->ntid = 0;
        c->tid_sum = 0;
        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char tpath[320];
                unsigned long long ns;
                FILE *fp;
                int ok;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
                fp = fopen(tpath, "re");
                if (!fp)
                        continue; /* the thread just exited */
                ok = fscanf(fp, "%llu", &ns) == 1;
                fclose(fp);
                if (!ok) {
                        closedir(d);
                        return;
                }
                ns_total += ns;
                c->ntid++;
                c->tid_sum += strtoull(de->d_name, NULL, 10);
        }
        closedir(d);
        if (c->ntid > 0)
                c->sched_s = (double)ns_total / 1e9;
}

/** CPU seconds used between readings @p a and @p b (NAN if unknown). */
double
cpu_delta(const cpu_sample_t *a, const cpu_sample_t *b)
{
        if (a->sched_s >= 0 && b->sched_s >= 0 && a->ntid == b->ntid &&
            a->tid_sum == b->tid_sum)
                return b->sched_s - a->sched_s;
        if (a->stat_s >= 0 && b->stat_s >= 0)
                return b->stat_s - a->stat_s;
        return NAN;
}

/** Peak resident set size of @p pid in MB (VmHWM), or NAN. */
double
proc_peak_rss_mb(pid_t pid)
{
        char path[64], line[256];
        double mb = NAN;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        fp = fopen(path, "re");
        if (!fp)
                return NAN;
        while (fgets(line, sizeof(line), fp)) {
                unsigned long kb;
                if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
                        mb = (double)kb * 1024.0 / 1e6;
                        break;
                }
        }
        fclose(fp);
        return mb;
}

/** A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int
free_port(void)
{
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int port = -1;

        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
                port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

bool
port_open(int port)
{
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (fd < 0)
                return false;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)port);
        ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}
