/*
 * rill_util.c - clocks, error formatting and filesystem helpers.
 */
#include "rill_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t
rill__now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rill__mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rill__mono_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
rill__errf(char *errstr, size_t errstr_size, const char *fmt, ...)
{
        va_list ap;
        if (!errstr || !errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

int
rill__mkdirs(const char *path, int mode)
{
        char tmp[4096];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof(tmp)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        memcpy(tmp, path, n + 1);
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
                return -1;
        return 0;
}

static int
rmtree_cb(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
        return remove(fpath);
}

int
rill__rmtree(const char *path)
{
        struct stat st;
        if (stat(path, &st) != 0)
                return errno == ENOENT ? 0 : -1;
        return nftw(path, rmtree_cb, 32, FTW_DEPTH | FTW_PHYS);
}

int
rill__fsync_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;
        if (fd < 0)
                return -1;
        r = fsync(fd);
        close(fd);
        return r;
}
