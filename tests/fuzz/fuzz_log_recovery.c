/*
 * fuzz_log_recovery.c - fuzz target for partition-log recovery
 * (rill__log_open, broker/log.c): whatever is found in a partition
 * directory, opening it must not crash, and the log it yields must accept
 * new writes and give them back.
 *
 * Input format (so that a fuzzer can build several files at once):
 *   byte 0: flags - bit 0 cleanup.policy=compact and run a compaction after
 *           the append; bit 1 LogAppendTime; bit 2 tiny segments (512 bytes,
 *           so appends roll); bit 3 reopen after a simulated crash
 *           (rill__log_abandon) instead of a clean close.
 *   then entries: kind u8, length u16 big-endian, that many bytes (cut
 *           short at the end of the input). kind & 7 picks the file:
 *           0 <seg>.log, 1 <seg>.index, 2 <seg>.timeindex,
 *           3 .rill_cleanshutdown, 4 log-start-offset,
 *           5 cleaner-offset-checkpoint, 6 <seg>.log.cleaned, 7 <seg>.log.tmp;
 *           (kind >> 3) & 3 picks <seg>'s base offset among
 *           0, 3, 100 and 2^32 + 4 (file names: 20-digit base offsets).
 *           A later entry for the same file replaces the earlier one.
 *
 * Checks, after rill__log_open() succeeds:
 *   1. start offset <= end offset;
 *   2. reading from the start returns whole batches; when the directory held
 *      at most one segment and no clean-shutdown marker (so recovery
 *      validated all of it), every batch read must pass
 *      rill__batch_validate() and offsets must increase;
 *   3. appending a valid 3-record batch assigns it the old end offset and
 *      moves the end by 3, and reading at that offset returns exactly that
 *      batch with its records;
 *   4. after an optional compaction and a clean close (or a crash), the log
 *      reopens with the same end offset and still returns that batch.
 * A failed open must return RILL_ERR_IO or RILL_ERR_CORRUPT with a message.
 */
#include "fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "log.h"
#include "rill_util.h"

#define PART_DIR_MAX 4096

static char g_root[PART_DIR_MAX];

static const int64_t g_bases[4] = {0, 3, 100, ((int64_t)1 << 32) + 4};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *tmp = getenv("TMPDIR");
        (void)argc;
        (void)argv;
        rill_fuzz_quiet_logs();
        /* tmpfs when available: every input writes and fsyncs files. */
        if (!tmp || !*tmp)
                tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_root, sizeof(g_root), "%s/rill-fuzz-log-XXXXXX", tmp);
        if (!mkdtemp(g_root)) {
                fprintf(stderr, "fuzz_log_recovery: mkdtemp %s: %s\n", g_root, strerror(errno));
                abort();
        }
        /* libFuzzer exits without calling rill_fuzz_cleanup(). */
        atexit(rill_fuzz_cleanup);
        return 0;
}

void
rill_fuzz_cleanup(void)
{
        if (g_root[0])
                rill__rmtree(g_root);
        g_root[0] = '\0';
}

static void
write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
        char path[2 * PART_DIR_MAX];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        RILL_FUZZ_CHECK(f != NULL, "cannot create %s: %s", path, strerror(errno));
        RILL_FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n, "cannot write %s", path);
        fclose(f);
}

/* Lays the input's files out in @p dir; returns the number of .log files
 * and whether a clean-shutdown marker was written. */
static int
lay_out(const char *dir, const uint8_t *data, size_t size, bool *clean)
{
        static const char *const ext[8] = {".log", ".index", ".timeindex", NULL, NULL, NULL,
                                           ".log.cleaned", ".log.tmp"};
        bool have_log[4] = {false, false, false, false};
        int nlogs = 0;
        size_t pos = 0;

        *clean = false;
        while (pos + 3 <= size) {
                uint8_t kind = data[pos];
                size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];
                int type = kind & 7, seg = (kind >> 3) & 3;
                char name[64];

                pos += 3;
                if (len > size - pos)
                        len = size - pos;
                if (type == 3)
                        snprintf(name, sizeof(name), ".rill_cleanshutdown");
                else if (type == 4)
                        snprintf(name, sizeof(name), "log-start-offset");
                else if (type == 5)
                        snprintf(name, sizeof(name), "cleaner-offset-checkpoint");
                else
                        snprintf(name, sizeof(name), "%020" PRId64 "%s", g_bases[seg], ext[type]);
                write_file(dir, name, data + pos, len);
                if (type == 3)
                        *clean = true;
                if (type == 0 && !have_log[seg]) {
                        have_log[seg] = true;
                        nlogs++;
                }
                pos += len;
        }
        return nlogs;
}

/* Reads the whole log from its start; checks what check 2 above says. */
static void
read_all(rill__log_t *log, bool strict)
{
        int64_t off = rill__log_start_offset(log), end = rill__log_end_offset(log);
        rill__wbuf_t out;
        char err[256];

        rill__wb_init(&out, 4096);
        for (int round = 0; off < end && round < 4096; round++) {
                size_t pos = 0;
                int64_t next = off;
                rill_err_t e;

                rill__wb_reset(&out);
                e = rill__log_read(log, off, end, 16384, &out);
                RILL_FUZZ_CHECK(e == RILL_OK || e == RILL_ERR_IO, "read at %" PRId64 ": %d", off,
                                (int)e);
                if (e != RILL_OK || out.len == 0)
                        break;
                while (pos < out.len) {
                        rill__batch_hdr_t h;
                        e = rill__batch_validate(out.buf + pos, out.len - pos, err, sizeof(err));
                        RILL_FUZZ_CHECK(!strict || e == RILL_OK,
                                        "recovered log returned an invalid batch at offset %" PRId64
                                        ": %s", next, err);
                        if (e != RILL_OK)
                                goto done;
                        rill__batch_hdr_parse(out.buf + pos, &h);
                        RILL_FUZZ_CHECK(!strict || h.base_offset + h.last_offset_delta >= next,
                                        "batch %" PRId64 "+%d goes back before %" PRId64,
                                        h.base_offset, h.last_offset_delta, next);
                        if (h.base_offset > INT64_MAX - 1 - h.last_offset_delta)
                                goto done;
                        if (h.base_offset + h.last_offset_delta + 1 > next)
                                next = h.base_offset + h.last_offset_delta + 1;
                        pos += rill__batch_size(out.buf + pos);
                }
                if (next <= off)
                        break; /* no progress (only possible in a trusted, damaged log) */
                off = next;
        }
done:
        rill__wb_free(&out);
}

/* Reads at @p first and checks that the batch there is the one we wrote. */
static void
check_ours(rill__log_t *log, int64_t first)
{
        rill__wbuf_t out;
        rill__record_iter_t it;
        rill__record_t rec;
        char err[256];
        rill_err_t e;
        int n = 0;

        rill__wb_init(&out, 4096);
        e = rill__log_read(log, first, rill__log_end_offset(log), 1 << 20, &out);
        RILL_FUZZ_CHECK(e == RILL_OK, "read of our batch at %" PRId64 ": %d", first, (int)e);
        RILL_FUZZ_CHECK(out.len >= RILL__BATCH_HDR_SIZE, "our batch at %" PRId64 " not returned",
                        first);
        e = rill__batch_validate(out.buf, out.len, err, sizeof(err));
        RILL_FUZZ_CHECK(e == RILL_OK, "our batch does not validate: %s", err);
        RILL_FUZZ_CHECK((int64_t)rill__be64(out.buf) == first,
                        "read at %" PRId64 " returned batch %" PRId64, first,
                        (int64_t)rill__be64(out.buf));
        RILL_FUZZ_CHECK(rill__record_iter_init(&it, out.buf, rill__batch_size(out.buf)) == RILL_OK,
                        "iter");
        while (rill__record_iter_next(&it, &rec) == 1) {
                char want[32];
                int wl = snprintf(want, sizeof(want), "fuzz-value-%d", n);
                RILL_FUZZ_CHECK(rec.offset == first + n, "record offset %" PRId64, rec.offset);
                RILL_FUZZ_CHECK(rec.value_len == wl && !memcmp(rec.value, want, (size_t)wl),
                                "record %d value differs", n);
                n++;
        }
        RILL_FUZZ_CHECK(n == 3 && !it.err, "our batch has %d records", n);
        rill__record_iter_destroy(&it);
        rill__wb_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char dir[PART_DIR_MAX + 16], err[512];
        rill__log_conf_t conf;
        rill__log_t *log = NULL;
        rill__batch_builder_t bb;
        int64_t end, first = -1, append_time;
        uint8_t flags;
        bool clean, strict;
        int nlogs;
        rill_err_t e;

        if (size < 1)
                return 0;
        flags = data[0];
        snprintf(dir, sizeof(dir), "%s/p-0", g_root);
        rill__rmtree(dir);
        RILL_FUZZ_CHECK(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
        nlogs = lay_out(dir, data + 1, size - 1, &clean);
        strict = !clean && nlogs <= 1;

        rill__log_conf_defaults(&conf);
        conf.index_interval_bytes = 128;
        conf.retention_ms = -1;
        conf.segment_bytes = (flags & 4) ? 512 : 1 << 20;
        conf.log_append_time = (flags & 2) != 0;
        if (flags & 1) {
                conf.cleanup_policy = RILL__CLEANUP_COMPACT;
                conf.min_cleanable_dirty_ratio = 0.0;
                conf.delete_retention_ms = 0;
        }

        err[0] = '\0';
        e = rill__log_open(dir, &conf, &log, err, sizeof(err));
        if (e != RILL_OK) {
                RILL_FUZZ_CHECK(e == RILL_ERR_IO || e == RILL_ERR_CORRUPT, "open returned %d", (int)e);
                RILL_FUZZ_CHECK(err[0] != '\0', "failed open without a message");
                RILL_FUZZ_CHECK(log == NULL, "failed open returned a log");
                return 0;
        }
        end = rill__log_end_offset(log);
        RILL_FUZZ_CHECK(rill__log_start_offset(log) <= end,
                        "start %" PRId64 " > end %" PRId64, rill__log_start_offset(log), end);
        read_all(log, strict);

        /* Append three records with distinct keys (so compaction keeps them). */
        rill__batch_builder_init(&bb, 0, 1700000000000);
        for (int i = 0; i < 3; i++) {
                char k[32], v[32];
                int kl = snprintf(k, sizeof(k), "fuzz-key-%d", i);
                int vl = snprintf(v, sizeof(v), "fuzz-value-%d", i);
                rill__batch_builder_add(&bb, i, 1700000000000 + i, k, kl, v, vl, NULL, 0, 0);
        }
        rill__batch_builder_finish(&bb);
        e = rill__log_append(log, bb.buf.buf, bb.buf.len, 0, &first, &append_time, err,
                             sizeof(err));
        rill__batch_builder_destroy(&bb);
        if (end > INT64_MAX - (1 << 20)) {
                /* Offsets near the int64 limit may be refused; nothing else. */
                rill__log_close(log);
                return 0;
        }
        RILL_FUZZ_CHECK(e == RILL_OK, "append after recovery failed (%d): %s", (int)e, err);
        RILL_FUZZ_CHECK(first == end, "append got offset %" PRId64 ", end was %" PRId64, first, end);
        RILL_FUZZ_CHECK(rill__log_end_offset(log) == end + 3, "end %" PRId64 " after append at %"
                        PRId64, rill__log_end_offset(log), end);
        check_ours(log, first);

        if (flags & 1)
                (void)rill__log_compact(log, rill__now_ms() + 86400000);
        if (flags & 8)
                rill__log_abandon(log);
        else
                rill__log_close(log);
        log = NULL;

        e = rill__log_open(dir, &conf, &log, err, sizeof(err));
        RILL_FUZZ_CHECK(e == RILL_OK, "reopen failed (%d): %s", (int)e, err);
        RILL_FUZZ_CHECK(rill__log_end_offset(log) == end + 3,
                        "end %" PRId64 " after reopen, expected %" PRId64,
                        rill__log_end_offset(log), end + 3);
        RILL_FUZZ_CHECK(rill__log_start_offset(log) <= first, "start %" PRId64 " passed our batch",
                        rill__log_start_offset(log));
        check_ours(log, first);
        rill__log_close(log);
        return 0;
}
