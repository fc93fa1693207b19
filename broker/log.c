/*
 * log.c - a partition's segmented on-disk log. See log.h.
 *
 * Layout (Kafka's): the partition directory holds segments named by their
 * 20-digit base offset: <base>.log (batches as received), <base>.index
 * (sparse, 8-byte entries: relative last offset of a batch i32, file
 * position of that batch i32, one entry after every index.interval.bytes of
 * batches) and <base>.timeindex (12-byte entries: largest timestamp so far
 * i64, relative offset of the record carrying it i32, appended together
 * with an index entry when that timestamp grew). Index files are not
 * preallocated: they grow with append(), so an idle partition costs a few
 * bytes on disk. Other files: ".rill_cleanshutdown" (written by close(),
 * removed by open()), "log-start-offset" (DeleteRecords checkpoint),
 * "cleaner-offset-checkpoint" (first dirty offset for compaction) and
 * "recovery-point-offset" (see below), all replaced atomically via tmp +
 * rename.
 *
 * Memory and fds: per segment only a small seg_t (offsets, sizes, max
 * timestamp); index lookups pread() the index files (binary search), so
 * per-partition memory stays small however large the log grows. A log holds
 * one fd for its active segment's .log plus at most one cached fd for
 * reading a closed segment; index entries of the active segment are
 * buffered (64 at a time, ~1.3 KiB) and appended to their files when the
 * buffer fills, at roll, flush and close. A one-entry hint remembers where the previous read
 * ended, so a sequential consumer needs no index lookup at all. An index
 * entry that does not lead to a batch (indexes carry no checksum) makes the
 * lookup fall back to scanning the segment from its start.
 *
 * Read: rill__log_read() pread()s whole batches straight into the caller's
 * wbuf, crossing into later segments while max_bytes allows, never past the
 * high watermark, and always at least one batch (KIP-74).
 *
 * Append: all batches of a request are validated first (CRC-32C, sizes,
 * magic, max.message.bytes), then patched in place (BaseOffset,
 * PartitionLeaderEpoch, and MaxTimestamp + CRC for LogAppendTime logs) and
 * written with a single pwrite(). A failed write truncates the segment
 * back to its previous size.
 *
 * Durability and recovery: a closed segment is durable (data and indexes
 * fsync()ed) once it is below the recovery point. Without a syncer the
 * fsync happens in roll() itself; with one (see "Background work") it is
 * deferred, and the file "recovery-point-offset" records how far the
 * deferred fsyncs have got: every closed segment that ends at or below it
 * is durable. Without the clean-shutdown marker, open() re-validates every
 * batch (size, magic, CRC, offsets) of the last segment and of every
 * segment reaching above the recovery point, truncates each at its first
 * invalid byte, rebuilds its indexes and fsyncs the closed ones, then
 * moves the recovery point up. With or without the marker, every segment's
 * indexes get a cheap sanity check (sizes, last entries point at a real
 * batch) and are rebuilt when they fail it; the batches after the last
 * index entry are always re-validated. The recovery point file exists only
 * for logs that ever deferred a roll fsync (it is created, synchronously,
 * before the first one); without it only the last segment is re-validated,
 * as every earlier one was fsynced when it rolled.
 *
 * Compaction rewrites closed segments into <base>.log.cleaned (+ index
 * files), fsyncs them, removes the old index files, then renames the new
 * files into place; open() deletes leftover *.cleaned files and rebuilds
 * any missing index, so a crash at any point leaves a consistent log. See
 * the comment above the compaction code for the rules (tombstones, dirty
 * ratio, lags).
 *
 * Background work. A log is owned by one thread (the broker's event loop),
 * and nothing of it is locked. Two costly things can nevertheless run on
 * other threads, through objects that carry their own copy of what they
 * need and a reference to a small shared state (bgstate_t: a mutex, a
 * "dead" flag set when the log is closed or deleted, a truncation epoch,
 * the recovery point), so that they stay valid whatever happens to the log:
 *
 * - Sync tasks (rill__log_sync_t). With a syncer set and no flush policy
 *   (flush.messages and flush.ms unset), roll() writes the pending index
 *   entries and hands the closed segment's descriptors (the .log fd that
 *   was the active one, plus the two index files) to a task instead of
 *   fsyncing them; the task fsyncs them and the directory, then advances
 *   the recovery point (in memory and, through <file>.bg.tmp + rename, on
 *   disk). Directory fsyncs after retention and compaction and the
 *   compaction checkpoint go the same way, and so does the last close of a
 *   segment file that retention, DeleteRecords or a compaction swap
 *   removes: a task holds a descriptor of it, so that freeing the blocks of
 *   a large file happens on the syncer's thread. The syncer runs a log's tasks in
 *   order on one thread. A log with a flush policy keeps its roll
 *   synchronous: flush.messages=1 still means every acknowledged write is
 *   fsynced before the response. Closing a log cleanly fsyncs whatever
 *   closed segment the syncer has not confirmed before it writes the
 *   marker, so a clean shutdown never depends on the syncer being drained.
 *
 * - Compaction jobs (rill__compact_job_t), in three steps. The plan runs
 *   on the log's thread: it applies the dirty-ratio and lag rules and
 *   copies the base, size and largest timestamp of the cleanable (closed)
 *   segments into the job. The build runs anywhere and touches only the
 *   job: it opens those segments by path through its own descriptors
 *   (closed segments never change in place: they are only deleted, by
 *   retention, DeleteRecords, truncation or topic deletion, all on the
 *   log's thread, and an unlinked file stays readable through an open
 *   descriptor), builds the key map, and writes and fsyncs the .cleaned
 *   files. A segment with nothing to drop is left alone. Between batches it
 *   asks the caller's go_on() (cancellation) and checks the dead flag. The
 *   commit runs on the log's thread, so it is atomic with respect to
 *   appends and reads: it renames the results into place, updates the
 *   in-memory segments, drops the read cache and advances the compaction
 *   checkpoint. It discards everything (removing the .cleaned files) when
 *   the build failed or was cancelled, the log was truncated (epoch), the
 *   topic is no longer compacted, or a planned segment is still there but
 *   different; results for segments deleted from the front meanwhile are
 *   dropped and the rest is committed. A busy flag keeps one job per log.
 *
 *   Files in the directory are created, renamed or unlinked from another
 *   thread only under the shared mutex and only while the log is alive;
 *   closing or deleting the log sets "dead" under that mutex before the
 *   directory is touched, so a topic deletion (rmtree) never races with a
 *   background creation, and a re-created topic of the same name never
 *   sees a stale task's checkpoint. Leftovers (*.cleaned, *.tmp) of work
 *   cut short are removed by the next open().
 *
 * rill__log_compact() chains the three steps on the caller's thread.
 *
 * Blocking: without a syncer everything is synchronous on the caller's
 * thread. With one, the remaining costly calls on the log's thread are
 * recovery in open(), the fsyncs that a flush policy asks for, and the
 * small checkpoint writes of DeleteRecords and truncation.
 *
 * Threading: a log belongs to one thread (see log.h); rill__log_sync_run,
 * rill__log_sync_drop, rill__compact_job_build and rill__compact_job_free
 * run on any thread.
 */
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define LOG_COMP "log"
#define CLEAN_MARKER ".rill_cleanshutdown"
#define START_CKPT "log-start-offset"
#define CLEANER_CKPT "cleaner-offset-checkpoint"
#define RP_CKPT "recovery-point-offset"
#define IDX_ENTRY 8
#define TIDX_ENTRY 12
#define PENDING_MAX 64
#define PATH_BUF 4096

/* One segment. The active segment is always segs[nsegs - 1]. */
typedef struct seg {
        int64_t base;       /* base offset (file name) */
        int64_t next;       /* one past the last offset stored (base if empty) */
        int64_t size;       /* bytes in the .log file */
        int64_t max_ts;     /* largest batch MaxTimestamp (-1 if none) */
        int64_t max_ts_off; /* last offset of the batch carrying max_ts */
        int64_t first_ts;   /* MaxTimestamp of the first batch (segment.ms basis) */
        int64_t created_ms; /* wall clock when created or loaded */
} seg_t;

/*
 * State shared between a log and the background work it hands out (sync
 * tasks, compaction jobs). Reference-counted: it outlives the log for as
 * long as some task or job still points at it. Fields marked (mu) are
 * guarded by mu; epoch is written by the log's thread under mu, so that
 * thread may read it without the lock.
 */
typedef struct bgstate {
        atomic_int refs;
        pthread_mutex_t mu;
        atomic_bool dead;  /* log closed or deleted: leave its directory alone */
        atomic_bool busy;  /* a compaction job is outstanding */
        uint64_t epoch;    /* bumped by truncation: older tasks and jobs are stale */
        int64_t synced_to; /* (mu) closed segments ending at or below are durable */
        int64_t rp_disk;   /* (mu) value in the recovery-point file, -1 if none */
        char *dir;         /* immutable copy of the log's directory */
} bgstate_t;

struct rill__log {
        char *dir;
        bgstate_t *st;
        rill__log_syncer_fn *syncer;
        void *syncer_opaque;
        rill__log_conf_t conf;
        seg_t *segs;
        int nsegs, segs_cap;

        /* Active segment: only its .log stays open. Index entries gather
         * in small pending buffers and are appended to the index files
         * when a buffer fills, at roll, flush and close (a crash loses
         * them, but recovery rebuilds the last segment's indexes anyway). */
        int fd;
        int64_t idx_size, tidx_size; /* bytes of entries on disk */
        int64_t bytes_since_idx;
        int64_t tidx_last_ts;        /* including pending entries */
        int pend_idx_n, pend_tidx_n;
        uint8_t pend_idx[PENDING_MAX * IDX_ENTRY];
        uint8_t pend_tidx[PENDING_MAX * TIDX_ENTRY];

        /* One cached fd for reading a closed segment. */
        int rd_fd;
        int64_t rd_base;

        /* Position hint: offset hint_off starts at hint_pos in segment
         * hint_base (the end of the previous read), so sequential
         * consumers skip the index lookup. */
        int64_t hint_base, hint_off, hint_pos;

        int64_t start;        /* log start offset */
        int64_t total_size;   /* sum of segment sizes */
        int64_t unflushed;    /* records appended since the last fsync */
        int64_t last_flush_ms;
        int64_t cleaner_ckpt; /* first offset not yet compacted */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static void
seg_path(const rill__log_t *log, int64_t base, const char *ext, char *buf)
{
        snprintf(buf, PATH_BUF, "%s/%020" PRId64 "%s", log->dir, base, ext);
}

static void
dir_path(const rill__log_t *log, const char *name, char *buf)
{
        snprintf(buf, PATH_BUF, "%s/%s", log->dir, name);
}

static rill_err_t
errno_err(int e)
{
        return (e == ENOSPC || e == EDQUOT || e == EFBIG) ? RILL_ERR_NO_SPACE : RILL_ERR_IO;
}

/* pwrite() all of @p len bytes; returns 0 or -1 with errno set. */
static int
pwrite_all(int fd, const void *data, size_t len, int64_t pos)
{
        const uint8_t *p = data;
        while (len) {
                ssize_t n = pwrite(fd, p, len, (off_t)pos);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (n == 0) {
                        errno = EIO;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
                pos += n;
        }
        return 0;
}

/* pread() up to @p len bytes; returns bytes read (short only at EOF) or -1. */
static ssize_t
pread_full(int fd, void *data, size_t len, int64_t pos)
{
        uint8_t *p = data;
        size_t got = 0;
        while (got < len) {
                ssize_t n = pread(fd, p + got, len - got, (off_t)(pos + (int64_t)got));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

static int64_t
fd_size(int fd)
{
        struct stat st;
        if (fstat(fd, &st) != 0)
                return -1;
        return (int64_t)st.st_size;
}

/* Writes @p content to dir/name atomically (tmp + fsync + rename + fsync dir). */
static int
write_file_atomic(const rill__log_t *log, const char *name, const char *content)
{
        char tmp[PATH_BUF], dst[PATH_BUF];
        int fd, r = -1;
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", log->dir, name);
        dir_path(log, name, dst);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        if (pwrite_all(fd, content, strlen(content), 0) == 0 && fsync(fd) == 0)
                r = 0;
        close(fd);
        if (r == 0)
                r = rename(tmp, dst);
        if (r == 0)
                rill__fsync_dir(log->dir);
        else
                unlink(tmp);
        return r;
}

/* Reads an int64 checkpoint file; returns -1 if absent or unreadable. */
static int64_t
read_ckpt(const rill__log_t *log, const char *name)
{
        char path[PATH_BUF], buf[64];
        int fd;
        ssize_t n;
        char *end;
        long long v;
        dir_path(log, name, path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = pread_full(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        errno = 0;
        v = strtoll(buf, &end, 10);
        if (errno || end == buf || v < 0)
                return -1;
        return (int64_t)v;
}

static int
write_ckpt(const rill__log_t *log, const char *name, int64_t v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64 "\n", v);
        return write_file_atomic(log, name, buf);
}

static int64_t seg_largest_ts(const rill__log_t *log, int si);

/* ------------------------------------------------------------------------ */
/* Shared state and files touched from background threads                   */
/* ------------------------------------------------------------------------ */

static bgstate_t *
bg_new(const char *dir)
{
        bgstate_t *st = RILL__NEW(bgstate_t);
        atomic_init(&st->refs, 1);
        pthread_mutex_init(&st->mu, NULL);
        atomic_init(&st->dead, false);
        atomic_init(&st->busy, false);
        st->rp_disk = -1;
        st->dir = rill__strdup(dir);
        return st;
}

static bgstate_t *
bg_ref(bgstate_t *st)
{
        atomic_fetch_add(&st->refs, 1);
        return st;
}

static void
bg_unref(bgstate_t *st)
{
        if (atomic_fetch_sub(&st->refs, 1) != 1)
                return;
        pthread_mutex_destroy(&st->mu);
        rill__free(st->dir);
        rill__free(st);
}

/* Marks the log gone. From now on background work creates, renames and
 * unlinks nothing in its directory (which may be being removed). */
static void
bg_kill(bgstate_t *st)
{
        pthread_mutex_lock(&st->mu);
        atomic_store(&st->dead, true);
        pthread_mutex_unlock(&st->mu);
}

/* Creates (truncating) @p path for writing unless the log is gone; returns
 * the fd, or -1 with errno set (ESHUTDOWN when the log is gone). Taking mu
 * orders the creation before a directory removal that follows bg_kill(). */
static int
bg_create(bgstate_t *st, const char *path)
{
        int fd;
        pthread_mutex_lock(&st->mu);
        if (atomic_load(&st->dead)) {
                pthread_mutex_unlock(&st->mu);
                errno = ESHUTDOWN;
                return -1;
        }
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        pthread_mutex_unlock(&st->mu);
        return fd;
}

/* Unlinks @p path unless the log is gone (its removal takes care of it, or
 * the next open removes leftovers). */
static void
bg_unlink(bgstate_t *st, const char *path)
{
        pthread_mutex_lock(&st->mu);
        if (!atomic_load(&st->dead))
                unlink(path);
        pthread_mutex_unlock(&st->mu);
}

/*
 * Background checkpoint write: <name>.bg.tmp (own name, so that it never
 * collides with a write by the log's thread), fsync, then rename under mu
 * if the log is alive and no truncation happened since @p epoch. For
 * RP_CKPT the new value is recorded in st->rp_disk. Returns 0 or -1.
 */
static int
bg_write_ckpt(bgstate_t *st, const char *name, int64_t value, uint64_t epoch)
{
        char tmp[PATH_BUF], dst[PATH_BUF], buf[32];
        int fd, r = -1;
        snprintf(tmp, sizeof(tmp), "%s/%s.bg.tmp", st->dir, name);
        snprintf(dst, sizeof(dst), "%s/%s", st->dir, name);
        snprintf(buf, sizeof(buf), "%" PRId64 "\n", value);
        fd = bg_create(st, tmp);
        if (fd < 0)
                return -1;
        if (pwrite_all(fd, buf, strlen(buf), 0) == 0 && fsync(fd) == 0)
                r = 0;
        close(fd);
        pthread_mutex_lock(&st->mu);
        if (atomic_load(&st->dead)) {
                r = -1;
        } else if (r != 0 || st->epoch != epoch ||
                   (strcmp(name, RP_CKPT) == 0 && value <= st->rp_disk)) {
                unlink(tmp);
                r = -1;
        } else if (rename(tmp, dst) != 0) {
                unlink(tmp);
                r = -1;
        } else {
                if (strcmp(name, RP_CKPT) == 0)
                        st->rp_disk = value;
        }
        pthread_mutex_unlock(&st->mu);
        if (r == 0)
                rill__fsync_dir(st->dir);
        return r;
}

/* Offsets and timestamps read from disk or sent by clients are arbitrary
 * int64 values: arithmetic on them wraps or saturates instead of
 * overflowing (undefined behaviour). */
static inline int64_t
add64(int64_t a, int64_t b)
{
        return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t
sub_sat(int64_t a, int64_t b)
{
        int64_t r;
        if (__builtin_sub_overflow(a, b, &r))
                return b > 0 ? INT64_MIN : INT64_MAX;
        return r;
}

static inline seg_t *
active_seg(rill__log_t *log)
{
        return &log->segs[log->nsegs - 1];
}

static seg_t *
segs_insert(rill__log_t *log, int at)
{
        if (log->nsegs == log->segs_cap) {
                log->segs_cap = log->segs_cap ? log->segs_cap * 2 : 4;
                log->segs = rill__realloc(log->segs, (size_t)log->segs_cap * sizeof(seg_t));
        }
        memmove(&log->segs[at + 1], &log->segs[at], (size_t)(log->nsegs - at) * sizeof(seg_t));
        log->nsegs++;
        memset(&log->segs[at], 0, sizeof(seg_t));
        return &log->segs[at];
}

static void
segs_remove(rill__log_t *log, int at)
{
        memmove(&log->segs[at], &log->segs[at + 1], (size_t)(log->nsegs - at - 1) * sizeof(seg_t));
        log->nsegs--;
}

/* Index of the last segment whose base <= offset (0 if none). */
static int
seg_find(const rill__log_t *log, int64_t offset)
{
        int lo = 0, hi = log->nsegs - 1;
        while (lo < hi) {
                int mid = (lo + hi + 1) / 2;
                if (log->segs[mid].base <= offset)
                        lo = mid;
                else
                        hi = mid - 1;
        }
        return lo;
}

static void
rd_cache_drop(rill__log_t *log)
{
        if (log->rd_fd >= 0)
                close(log->rd_fd);
        log->rd_fd = -1;
        log->rd_base = -1;
        log->hint_base = -1;
}

/* Returns a readable fd for segment @p si (cached for closed segments). */
static int
seg_rd_fd(rill__log_t *log, int si)
{
        char path[PATH_BUF];
        if (si == log->nsegs - 1)
                return log->fd;
        if (log->rd_fd >= 0 && log->rd_base == log->segs[si].base)
                return log->rd_fd;
        if (log->rd_fd >= 0)
                close(log->rd_fd);
        seg_path(log, log->segs[si].base, ".log", path);
        log->rd_fd = open(path, O_RDONLY | O_CLOEXEC);
        log->rd_base = log->rd_fd >= 0 ? log->segs[si].base : -1;
        return log->rd_fd;
}

/* ---- sync tasks ---- */

enum { SYNC_SEGMENT, SYNC_DIR, SYNC_CLEANER_CKPT, SYNC_RELEASE };

struct rill__log_sync {
        bgstate_t *st;
        int kind;
        uint64_t epoch;
        int fds[3];    /* SYNC_SEGMENT: .log, .index, .timeindex (-1 = none);
                        * SYNC_RELEASE: the last descriptor of a removed file */
        int64_t value; /* SYNC_SEGMENT: the segment's end offset; SYNC_CLEANER_CKPT: checkpoint */
};

static rill__log_sync_t *
sync_new(rill__log_t *log, int kind)
{
        rill__log_sync_t *t = RILL__NEW(rill__log_sync_t);
        t->st = bg_ref(log->st);
        t->kind = kind;
        t->epoch = log->st->epoch;
        t->fds[0] = t->fds[1] = t->fds[2] = -1;
        return t;
}

static void
sync_free(rill__log_sync_t *t)
{
        for (int i = 0; i < 3; i++)
                if (t->fds[i] >= 0)
                        close(t->fds[i]);
        bg_unref(t->st);
        rill__free(t);
}

void
rill__log_sync_drop(rill__log_sync_t *task)
{
        if (task)
                sync_free(task);
}

void
rill__log_sync_run(rill__log_sync_t *t)
{
        bgstate_t *st = t->st;
        bool ok = true, write_rp = false;

        if (atomic_load(&st->dead)) {
                /* Closed (the close made everything durable itself) or
                 * deleted (nothing to keep): only the descriptors go. */
                sync_free(t);
                return;
        }
        switch (t->kind) {
        case SYNC_SEGMENT:
                for (int i = 0; i < 3; i++) {
                        if (t->fds[i] >= 0 && fdatasync(t->fds[i]) != 0) {
                                RILL_LOG_E(LOG_COMP, "%s: fsync of a rolled segment (ending at offset %" PRId64
                                           "): %s", st->dir, t->value, strerror(errno));
                                ok = false;
                        }
                }
                if (!ok)
                        break;
                rill__fsync_dir(st->dir);
                pthread_mutex_lock(&st->mu);
                if (st->epoch == t->epoch) {
                        if (t->value > st->synced_to)
                                st->synced_to = t->value;
                        write_rp = st->rp_disk >= 0 && t->value > st->rp_disk;
                }
                pthread_mutex_unlock(&st->mu);
                if (write_rp && bg_write_ckpt(st, RP_CKPT, t->value, t->epoch) != 0 &&
                    !atomic_load(&st->dead))
                        RILL_LOG_D(LOG_COMP, "%s: recovery point not advanced to %" PRId64, st->dir,
                                   t->value);
                break;
        case SYNC_DIR:
                rill__fsync_dir(st->dir);
                break;
        case SYNC_RELEASE:
                /* sync_free() closes the descriptor: the file's blocks
                 * are freed here, not on the log's thread. */
                break;
        case SYNC_CLEANER_CKPT:
                /* The renames of the compacted segments first, then the
                 * checkpoint that says they are clean. */
                rill__fsync_dir(st->dir);
                if (bg_write_ckpt(st, CLEANER_CKPT, t->value, t->epoch) != 0 && !atomic_load(&st->dead))
                        RILL_LOG_W(LOG_COMP, "%s: writing %s failed", st->dir, CLEANER_CKPT);
                break;
        }
        sync_free(t);
}

/* True when the log defers fsyncs to a syncer (see rill__log_set_syncer). */
static bool
defers_roll_sync(const rill__log_t *log)
{
        return log->syncer && log->conf.flush_messages == INT64_MAX && log->conf.flush_ms == INT64_MAX;
}

/*
 * Before a segment file is unlinked or renamed over: with a syncer, keeps
 * a descriptor of it open in a task, so that the last close - which frees
 * the blocks of a file of up to a GiB, and can take a while - happens on the
 * syncer's thread. Call release_hand() after the unlink/rename.
 */
static int
release_hold(rill__log_t *log, const char *path)
{
        return log->syncer ? open(path, O_RDONLY | O_CLOEXEC) : -1;
}

static void
release_hand(rill__log_t *log, int fd)
{
        rill__log_sync_t *t;
        if (fd < 0)
                return;
        t = sync_new(log, SYNC_RELEASE);
        t->fds[0] = fd;
        log->syncer(log->syncer_opaque, t);
}

/* fsyncs the log directory now, or hands that to the syncer. */
static void
dir_sync(rill__log_t *log)
{
        if (log->syncer)
                log->syncer(log->syncer_opaque, sync_new(log, SYNC_DIR));
        else
                rill__fsync_dir(log->dir);
}

void
rill__log_set_syncer(rill__log_t *log, rill__log_syncer_fn *fn, void *opaque)
{
        log->syncer = fn;
        log->syncer_opaque = fn ? opaque : NULL;
}

/* ------------------------------------------------------------------------ */
/* Index files                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Binary search in an index file of @p n entries of @p esz bytes for the
 * last entry whose key (read by @p key_of) is <= @p target (or < target when
 * @p strict). Returns the entry index or -1. The search narrows the range
 * with single-entry preads, then reads the last few KiB at once.
 */
typedef int64_t (*key_fn)(const uint8_t *e);

static int64_t
idx_key(const uint8_t *e)
{
        return (int32_t)rill__be32(e);
}

static int64_t
tidx_key(const uint8_t *e)
{
        return (int64_t)rill__be64(e);
}

static int64_t
index_search(int fd, int64_t n, size_t esz, key_fn key_of, int64_t target, bool strict,
             uint8_t *entry_out)
{
        int64_t lo = 0, hi = n - 1, found = -1;
        uint8_t e[16];
        uint8_t chunk[4096];

        while (hi - lo + 1 > (int64_t)(sizeof(chunk) / esz)) {
                int64_t mid = lo + (hi - lo) / 2, k;
                if (pread_full(fd, e, esz, mid * (int64_t)esz) != (ssize_t)esz)
                        return -1;
                k = key_of(e);
                if (k < target || (!strict && k == target)) {
                        found = mid;
                        memcpy(entry_out, e, esz);
                        lo = mid + 1;
                } else {
                        hi = mid - 1;
                }
        }
        if (lo <= hi) {
                size_t want = (size_t)(hi - lo + 1) * esz;
                ssize_t got = pread_full(fd, chunk, want, lo * (int64_t)esz);
                if (got < 0)
                        return found;
                for (int64_t i = 0; i < got / (ssize_t)esz; i++) {
                        int64_t k = key_of(chunk + i * (int64_t)esz);
                        if (k < target || (!strict && k == target)) {
                                found = lo + i;
                                memcpy(entry_out, chunk + i * (int64_t)esz, esz);
                        } else {
                                break;
                        }
                }
        }
        return found;
}

/* File position from which to scan for @p offset in segment @p si. */
static int64_t
seg_lookup_pos(rill__log_t *log, int si, int64_t offset)
{
        const seg_t *s = &log->segs[si];
        char path[PATH_BUF];
        uint8_t e[IDX_ENTRY];
        int fd;
        int64_t n, rel = offset - s->base, pos = 0;

        if (rel <= 0)
                return 0;
        if (rel > INT32_MAX)
                rel = INT32_MAX;
        if (si == log->nsegs - 1 && log->pend_idx_n > 0 && idx_key(log->pend_idx) <= rel) {
                /* The answer is among the pending (not yet written) entries. */
                for (int i = 0; i < log->pend_idx_n && idx_key(log->pend_idx + i * IDX_ENTRY) <= rel; i++)
                        pos = (int32_t)rill__be32(log->pend_idx + i * IDX_ENTRY + 4);
                return pos >= 0 && pos < s->size ? pos : 0;
        }
        seg_path(log, s->base, ".index", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = (si == log->nsegs - 1 ? log->idx_size : fd_size(fd)) / IDX_ENTRY;
        if (n > 0 && index_search(fd, n, IDX_ENTRY, idx_key, rel, false, e) >= 0) {
                pos = (int32_t)rill__be32(e + 4);
                if (pos < 0 || pos >= s->size)
                        pos = 0;
        }
        close(fd);
        return pos;
}

/* ------------------------------------------------------------------------ */
/* Batch scanning                                                           */
/* ------------------------------------------------------------------------ */

/* A window of a file, for sequential batch walks. */
typedef struct fwin {
        int fd;
        int64_t fsize;
        int64_t wpos;  /* file position of buf[0] */
        size_t wlen;
        uint8_t *buf;
        size_t cap;
        size_t chunk;  /* preferred read size */
} fwin_t;

static void
fwin_init(fwin_t *w, int fd, int64_t fsize, size_t chunk)
{
        memset(w, 0, sizeof(*w));
        w->fd = fd;
        w->fsize = fsize;
        w->chunk = chunk;
}

static void
fwin_free(fwin_t *w)
{
        rill__free(w->buf);
        w->buf = NULL;
}

/* Returns a pointer to @p n bytes at file position @p pos, or NULL if the
 * file is shorter (*short_read = 1) or on an I/O error (*short_read = 0). */
static const uint8_t *
fwin_get(fwin_t *w, int64_t pos, size_t n, int *short_read)
{
        size_t want;
        ssize_t got;
        *short_read = 0;
        if (pos < 0 || pos + (int64_t)n > w->fsize) {
                *short_read = 1;
                return NULL;
        }
        if (w->buf && pos >= w->wpos && pos + (int64_t)n <= w->wpos + (int64_t)w->wlen)
                return w->buf + (pos - w->wpos);
        want = RILL__MAX(n, w->chunk);
        if ((int64_t)want > w->fsize - pos)
                want = (size_t)(w->fsize - pos);
        if (want > w->cap) {
                rill__free(w->buf);
                w->buf = rill__malloc(want);
                w->cap = want;
        }
        got = pread_full(w->fd, w->buf, want, pos);
        if (got < 0) {
                w->wlen = 0;
                return NULL;
        }
        w->wpos = pos;
        w->wlen = (size_t)got;
        if ((size_t)got < n) {
                *short_read = 1;
                return NULL;
        }
        return w->buf;
}

/* Result of walking the batches of a segment. */
typedef struct scan_res {
        int64_t valid_end;  /* position after the last valid batch */
        int64_t next;       /* one past the last offset seen */
        int64_t max_ts, max_ts_off;
        int64_t first_ts;   /* MaxTimestamp of the batch at position 0 */
        int64_t last_idx_pos;
        int nbatches;
        char why[160];      /* reason the walk stopped early */
} scan_res_t;

/*
 * Walks the batches of segment @p s from @p from, validating structure
 * (length, magic, offsets not going backwards) and, when @p check_crc, the
 * CRC. Stops at the first invalid or incomplete batch. When @p idx and
 * @p tidx are given (a rebuild from position 0), emits index entries with
 * the same rule as append().
 */
static rill_err_t
seg_scan(rill__log_t *log, const seg_t *s, int fd, int64_t fsize, int64_t from,
         bool check_crc, rill__wbuf_t *idx, rill__wbuf_t *tidx, scan_res_t *r)
{
        fwin_t w;
        int64_t pos = from, since = 0, tidx_last = -1;
        rill_err_t err = RILL_OK;

        fwin_init(&w, fd, fsize, 1 << 16);
        r->why[0] = '\0';
        r->nbatches = 0;
        r->last_idx_pos = 0;
        while (pos < fsize) {
                const uint8_t *p;
                int shrt;
                rill__batch_hdr_t h;
                size_t bsize;
                int64_t last;

                p = fwin_get(&w, pos, 12, &shrt);
                if (!p) {
                        if (shrt) {
                                snprintf(r->why, sizeof(r->why), "partial batch header");
                                break;
                        }
                        err = RILL_ERR_IO;
                        break;
                }
                bsize = rill__batch_size(p);
                if ((int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH) < RILL__BATCH_HDR_SIZE - 12) {
                        snprintf(r->why, sizeof(r->why), "invalid batch length %d",
                                 (int)(int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH));
                        break;
                }
                p = fwin_get(&w, pos, check_crc ? bsize : RILL__BATCH_HDR_SIZE, &shrt);
                if (!p) {
                        if (shrt) {
                                snprintf(r->why, sizeof(r->why), "partial batch (%zu bytes, %" PRId64 " left)",
                                         bsize, fsize - pos);
                                break;
                        }
                        err = RILL_ERR_IO;
                        break;
                }
                if (!check_crc && pos + (int64_t)bsize > fsize) {
                        snprintf(r->why, sizeof(r->why), "partial batch (%zu bytes, %" PRId64 " left)",
                                 bsize, fsize - pos);
                        break;
                }
                if (check_crc) {
                        if (rill__batch_validate(p, bsize, r->why, sizeof(r->why)) != RILL_OK)
                                break;
                }
                rill__batch_hdr_parse(p, &h);
                if (h.magic != 2 || h.last_offset_delta < 0) {
                        snprintf(r->why, sizeof(r->why), "invalid batch header");
                        break;
                }
                if (h.base_offset < r->next || h.base_offset < s->base ||
                    h.base_offset > INT64_MAX - INT32_MAX ||
                    h.base_offset + h.last_offset_delta - s->base > INT32_MAX) {
                        snprintf(r->why, sizeof(r->why),
                                 "batch base offset %" PRId64 " out of order (expected >= %" PRId64 ")",
                                 h.base_offset, r->next);
                        break;
                }
                last = h.base_offset + h.last_offset_delta;
                if (pos == 0)
                        r->first_ts = h.max_timestamp;
                if (h.max_timestamp > r->max_ts) {
                        r->max_ts = h.max_timestamp;
                        r->max_ts_off = last;
                }
                if (idx && since > log->conf.index_interval_bytes) {
                        uint8_t *e = rill__wb_extend(idx, IDX_ENTRY);
                        rill__put_be32(e, (uint32_t)(last - s->base));
                        rill__put_be32(e + 4, (uint32_t)pos);
                        r->last_idx_pos = pos;
                        if (r->max_ts > tidx_last) {
                                e = rill__wb_extend(tidx, TIDX_ENTRY);
                                rill__put_be64(e, (uint64_t)r->max_ts);
                                rill__put_be32(e + 8, (uint32_t)(r->max_ts_off - s->base));
                                tidx_last = r->max_ts;
                        }
                        since = 0;
                }
                since += (int64_t)bsize;
                r->next = last + 1;
                r->nbatches++;
                pos += (int64_t)bsize;
        }
        r->valid_end = pos;
        fwin_free(&w);
        return err;
}

/* ------------------------------------------------------------------------ */
/* Loading and recovering segments                                          */
/* ------------------------------------------------------------------------ */

static int
open_rw(const char *path, bool create)
{
        return open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
}

/* Rewrites the two index files of @p s from the given entries. */
static int
write_indexes(rill__log_t *log, int64_t base, const rill__wbuf_t *idx, const rill__wbuf_t *tidx,
              const char *suffix)
{
        char path[PATH_BUF], ext[32];
        int fd;
        const rill__wbuf_t *bufs[2] = {idx, tidx};
        const char *exts[2] = {".index", ".timeindex"};
        for (int i = 0; i < 2; i++) {
                snprintf(ext, sizeof(ext), "%s%s", exts[i], suffix);
                seg_path(log, base, ext, path);
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -1;
                if (pwrite_all(fd, bufs[i]->buf, bufs[i]->len, 0) != 0) {
                        close(fd);
                        return -1;
                }
                close(fd);
        }
        return 0;
}

/* Reads the last entry of an index file; returns 1 if there is one, 0 if
 * the file is empty, -1 if it is missing or its size is not a multiple of
 * the entry size. */
static int
index_last(const char *path, size_t esz, uint8_t *e, int64_t *nentries)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int64_t sz;
        int r;
        if (fd < 0)
                return -1;
        sz = fd_size(fd);
        if (sz < 0 || sz % (int64_t)esz) {
                close(fd);
                return -1;
        }
        *nentries = sz / (int64_t)esz;
        if (sz == 0) {
                close(fd);
                return 0;
        }
        r = pread_full(fd, e, esz, sz - (int64_t)esz) == (ssize_t)esz ? 1 : -1;
        close(fd);
        return r;
}

/*
 * Reads the whole offset index at @p path and checks that it can be
 * binary-searched: relative offsets and positions strictly increasing, no
 * relative offset below 0 and every position leaving room for a batch
 * header in a segment of @p seg_size bytes. Returns like index_last(), with
 * -1 also for an index that fails these checks (it is then rebuilt): a
 * non-monotonic index makes lookups land on positions that are no batch.
 */
static int
index_check(const char *path, int64_t seg_size, uint8_t *e, int64_t *nentries)
{
        uint8_t buf[IDX_ENTRY * 1024];
        int64_t sz, at = 0, prev_rel = -1, prev_pos = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -1;
        sz = fd_size(fd);
        if (sz < 0 || sz % IDX_ENTRY) {
                close(fd);
                return -1;
        }
        *nentries = sz / IDX_ENTRY;
        while (at < sz) {
                size_t want = (size_t)RILL__MIN((int64_t)sizeof(buf), sz - at);
                if (pread_full(fd, buf, want, at) != (ssize_t)want) {
                        close(fd);
                        return -1;
                }
                for (size_t i = 0; i < want; i += IDX_ENTRY) {
                        int64_t rel = (int32_t)rill__be32(buf + i);
                        int64_t pos = (int32_t)rill__be32(buf + i + 4);
                        if (rel <= prev_rel || pos <= prev_pos || pos < 0 ||
                            pos > seg_size - RILL__BATCH_HDR_SIZE) {
                                close(fd);
                                return -1;
                        }
                        prev_rel = rel;
                        prev_pos = pos;
                }
                memcpy(e, buf + want - IDX_ENTRY, IDX_ENTRY);
                at += (int64_t)want;
        }
        close(fd);
        return sz > 0 ? 1 : 0;
}

/* Reads and checks the header of the batch at @p pos. */
static bool
peek_batch(int fd, int64_t fsize, int64_t pos, rill__batch_hdr_t *h)
{
        uint8_t b[RILL__BATCH_HDR_SIZE];
        if (pos < 0 || pos + RILL__BATCH_HDR_SIZE > fsize)
                return false;
        if (pread_full(fd, b, sizeof(b), pos) != (ssize_t)sizeof(b))
                return false;
        rill__batch_hdr_parse(b, h);
        return h->magic == 2 && h->length >= RILL__BATCH_HDR_SIZE - 12 &&
               pos + 12 + h->length <= fsize && h->last_offset_delta >= 0;
}

/*
 * Loads segment @p s: determines its end offset, size and largest
 * timestamp, checking or rebuilding its indexes. @p full_check re-validates
 * every batch (CRC) and is used for the last segment after an unclean
 * shutdown. Torn or invalid tails are truncated (with a warning).
 */
static rill_err_t
seg_load(rill__log_t *log, seg_t *s, bool is_last, bool full_check)
{
        char path[PATH_BUF], ipath[PATH_BUF], tpath[PATH_BUF];
        uint8_t ie[IDX_ENTRY], te[TIDX_ENTRY];
        int64_t ni = 0, nt = 0, from = 0;
        int fd, ir, tr;
        bool rebuild = full_check;
        scan_res_t r;
        rill_err_t err;
        rill__batch_hdr_t h;

        seg_path(log, s->base, ".log", path);
        seg_path(log, s->base, ".index", ipath);
        seg_path(log, s->base, ".timeindex", tpath);
        fd = open_rw(path, false);
        if (fd < 0) {
                RILL_LOG_E(LOG_COMP, "%s: open: %s", path, strerror(errno));
                return RILL_ERR_IO;
        }
        s->size = fd_size(fd);
        s->created_ms = rill__now_ms();
        memset(&r, 0, sizeof(r));
        r.next = s->base;
        r.max_ts = -1;
        r.max_ts_off = -1;
        r.first_ts = -1;

        if (!rebuild) {
                /* Sanity-check the indexes: well-formed sizes, an offset
                 * index that is strictly increasing within the segment,
                 * and last entries that point at real batches. */
                ir = index_check(ipath, s->size, ie, &ni);
                tr = index_last(tpath, TIDX_ENTRY, te, &nt);
                if (ir < 0 || tr < 0) {
                        rebuild = true;
                } else if (ir == 1) {
                        int64_t rel = (int32_t)rill__be32(ie), pos = (int32_t)rill__be32(ie + 4);
                        if (rel < 0 || !peek_batch(fd, s->size, pos, &h) ||
                            add64(h.base_offset, h.last_offset_delta) != s->base + rel)
                                rebuild = true;
                        else
                                from = pos;
                }
                if (!rebuild && tr == 1) {
                        int64_t trel = (int32_t)rill__be32(te + 8);
                        if (trel < 0) {
                                rebuild = true;
                        } else {
                                r.max_ts = (int64_t)rill__be64(te);
                                r.max_ts_off = s->base + trel;
                        }
                }
                if (!rebuild && s->size > 0 && peek_batch(fd, s->size, 0, &h))
                        r.first_ts = h.max_timestamp;
        }

        if (!rebuild) {
                /* Walk (and validate) the batches after the last index entry. */
                err = seg_scan(log, s, fd, s->size, from, is_last, NULL, NULL, &r);
                if (err != RILL_OK) {
                        close(fd);
                        return err;
                }
                if (r.valid_end != s->size || (r.max_ts >= 0 && r.max_ts_off >= r.next) ||
                    (r.nbatches == 0 && from > 0)) {
                        rebuild = true;
                        memset(&r, 0, sizeof(r));
                        r.next = s->base;
                        r.max_ts = -1;
                        r.max_ts_off = -1;
                        r.first_ts = -1;
                }
        }

        if (rebuild) {
                rill__wbuf_t idx, tidx;
                rill__wb_init(&idx, 256);
                rill__wb_init(&tidx, 256);
                err = seg_scan(log, s, fd, s->size, 0, is_last || full_check, &idx, &tidx, &r);
                if (err != RILL_OK) {
                        rill__wb_free(&idx);
                        rill__wb_free(&tidx);
                        close(fd);
                        return err;
                }
                if (r.valid_end < s->size) {
                        RILL_LOG_W(LOG_COMP,
                                   "%s: truncating %" PRId64 " bytes at position %" PRId64 " (%s)",
                                   path, s->size - r.valid_end, r.valid_end, r.why);
                        if (ftruncate(fd, (off_t)r.valid_end) != 0) {
                                RILL_LOG_E(LOG_COMP, "%s: ftruncate: %s", path, strerror(errno));
                                rill__wb_free(&idx);
                                rill__wb_free(&tidx);
                                close(fd);
                                return RILL_ERR_IO;
                        }
                        s->size = r.valid_end;
                        if (fsync(fd) != 0)
                                RILL_LOG_W(LOG_COMP, "%s: fsync: %s", path, strerror(errno));
                }
                /* A final time-index entry so that the segment's largest
                 * timestamp is known without a scan at the next open. */
                if (r.max_ts >= 0 &&
                    (tidx.len == 0 || (int64_t)rill__be64(tidx.buf + tidx.len - TIDX_ENTRY) < r.max_ts)) {
                        uint8_t *e = rill__wb_extend(&tidx, TIDX_ENTRY);
                        rill__put_be64(e, (uint64_t)r.max_ts);
                        rill__put_be32(e + 8, (uint32_t)(r.max_ts_off - s->base));
                }
                if (write_indexes(log, s->base, &idx, &tidx, "") != 0) {
                        RILL_LOG_E(LOG_COMP, "%s: writing indexes: %s", path, strerror(errno));
                        rill__wb_free(&idx);
                        rill__wb_free(&tidx);
                        close(fd);
                        return RILL_ERR_IO;
                }
                if (!full_check)
                        RILL_LOG_W(LOG_COMP, "%s: rebuilt indexes (%d batches)", path, r.nbatches);
                rill__wb_free(&idx);
                rill__wb_free(&tidx);
        }
        close(fd);
        s->next = r.next;
        s->max_ts = r.max_ts;
        s->max_ts_off = r.max_ts_off;
        s->first_ts = r.first_ts;
        return RILL_OK;
}

/* Opens the fds of the active (last) segment and its append state. */
static rill_err_t
activate_last(rill__log_t *log, char *errstr, size_t errstr_size)
{
        seg_t *s = active_seg(log);
        char path[PATH_BUF];
        uint8_t e[TIDX_ENTRY];

        int64_t n;

        log->pend_idx_n = log->pend_tidx_n = 0;
        seg_path(log, s->base, ".log", path);
        log->fd = open_rw(path, true);
        if (log->fd < 0) {
                rill__errf(errstr, errstr_size, "%s: open: %s", path, strerror(errno));
                return RILL_ERR_IO;
        }
        log->idx_size = log->tidx_size = 0;
        log->bytes_since_idx = s->size;
        log->tidx_last_ts = -1;
        seg_path(log, s->base, ".index", path);
        if (index_last(path, IDX_ENTRY, e, &n) == 1) {
                log->idx_size = n * IDX_ENTRY;
                log->bytes_since_idx = s->size - (int32_t)rill__be32(e + 4);
        }
        seg_path(log, s->base, ".timeindex", path);
        if (index_last(path, TIDX_ENTRY, e, &n) == 1) {
                log->tidx_size = n * TIDX_ENTRY;
                log->tidx_last_ts = (int64_t)rill__be64(e);
        }
        return RILL_OK;
}

/* Appends @p n entries to an index file of the active segment at *size;
 * on failure cuts the file back (indexes are sparse: a lost entry only
 * costs a longer scan). Optionally fsyncs. */
static int
index_append(rill__log_t *log, const char *ext, const uint8_t *data, size_t n, int64_t *size,
             bool sync)
{
        char path[PATH_BUF];
        int fd, r = 0;
        seg_path(log, active_seg(log)->base, ext, path);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                RILL_LOG_W(LOG_COMP, "%s: open: %s", path, strerror(errno));
                return -1;
        }
        if (n && pwrite_all(fd, data, n, *size) == 0) {
                *size += (int64_t)n;
        } else if (n) {
                RILL_LOG_W(LOG_COMP, "%s: index write failed: %s", path, strerror(errno));
                if (ftruncate(fd, (off_t)*size) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: ftruncate: %s", path, strerror(errno));
                r = -1;
        }
        if (sync && fdatasync(fd) != 0)
                r = -1;
        close(fd);
        return r;
}

/* Writes the pending index entries of the active segment (and fsyncs the
 * index files when @p sync). */
static int
pending_flush(rill__log_t *log, bool sync)
{
        int r = 0;
        if (log->fd < 0)
                return 0;
        if (log->pend_idx_n || sync)
                r |= index_append(log, ".index", log->pend_idx, (size_t)log->pend_idx_n * IDX_ENTRY,
                                  &log->idx_size, sync);
        if (log->pend_tidx_n || sync)
                r |= index_append(log, ".timeindex", log->pend_tidx,
                                  (size_t)log->pend_tidx_n * TIDX_ENTRY, &log->tidx_size, sync);
        log->pend_idx_n = log->pend_tidx_n = 0;
        return r;
}

/* Closes the active segment's fd; pending index entries are written first
 * unless @p discard (a simulated crash). */
static void
close_active(rill__log_t *log, bool discard)
{
        if (!discard)
                pending_flush(log, false);
        log->pend_idx_n = log->pend_tidx_n = 0;
        if (log->fd >= 0)
                close(log->fd);
        log->fd = -1;
}

/* Creates an empty segment file set at @p base and appends it to segs.
 * The directory is fsynced unless @p defer_dir_sync (the caller's sync
 * task does it). */
static rill_err_t
create_segment(rill__log_t *log, int64_t base, bool defer_dir_sync)
{
        char path[PATH_BUF];
        const char *exts[3] = {".log", ".index", ".timeindex"};
        seg_t *s;
        for (int i = 0; i < 3; i++) {
                int fd;
                seg_path(log, base, exts[i], path);
                fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0) {
                        int e = errno;
                        RILL_LOG_E(LOG_COMP, "%s: create: %s", path, strerror(e));
                        for (int j = 0; j < i; j++) {
                                seg_path(log, base, exts[j], path);
                                unlink(path);
                        }
                        return errno_err(e);
                }
                close(fd);
        }
        if (!defer_dir_sync)
                rill__fsync_dir(log->dir);
        s = segs_insert(log, log->nsegs);
        s->base = base;
        s->next = base;
        s->max_ts = -1;
        s->max_ts_off = -1;
        s->first_ts = -1;
        s->created_ms = rill__now_ms();
        return RILL_OK;
}

/* Adds the final time-index entry of the active segment if needed. */
static void
finish_active_tidx(rill__log_t *log)
{
        seg_t *s = active_seg(log);
        uint8_t e[TIDX_ENTRY];
        if (s->max_ts < 0 || s->max_ts <= log->tidx_last_ts || log->fd < 0)
                return;
        rill__put_be64(e, (uint64_t)s->max_ts);
        rill__put_be32(e + 8, (uint32_t)(s->max_ts_off - s->base));
        if (log->pend_tidx_n == PENDING_MAX)
                pending_flush(log, false);
        memcpy(log->pend_tidx + log->pend_tidx_n * TIDX_ENTRY, e, TIDX_ENTRY);
        log->pend_tidx_n++;
        log->tidx_last_ts = s->max_ts;
}

/* Makes sure a recovery-point file exists before the first segment whose
 * fsync is deferred: from then on, open() after a crash validates every
 * segment above it (see "Durability and recovery"). Returns 0 or -1. */
static int
ensure_recovery_point(rill__log_t *log, int64_t value)
{
        int64_t rp;
        pthread_mutex_lock(&log->st->mu);
        rp = log->st->rp_disk;
        pthread_mutex_unlock(&log->st->mu);
        if (rp >= 0)
                return 0;
        if (write_ckpt(log, RP_CKPT, value) != 0) {
                RILL_LOG_W(LOG_COMP, "%s: writing %s: %s", log->dir, RP_CKPT, strerror(errno));
                return -1;
        }
        pthread_mutex_lock(&log->st->mu);
        log->st->rp_disk = value;
        pthread_mutex_unlock(&log->st->mu);
        return 0;
}

/*
 * Closes the active segment and starts a new one at the log end offset.
 * The closed segment (data and indexes) is fsynced here, or, when the log
 * defers that to its syncer, its descriptors go to a sync task instead.
 * On failure the current active segment stays active.
 */
static rill_err_t
roll(rill__log_t *log)
{
        seg_t *s = active_seg(log);
        int64_t base = s->next;
        int nsegs = log->nsegs;
        bool defer = defers_roll_sync(log);
        int old_fd = -1, ifd = -1, tfd = -1;
        char path[PATH_BUF];
        rill_err_t err;

        if (s->size == 0)
                return RILL_OK;
        finish_active_tidx(log);
        if (defer && ensure_recovery_point(log, s->base) != 0)
                defer = false;
        if (defer) {
                /* Written now, fsynced by the task. */
                pending_flush(log, false);
                seg_path(log, s->base, ".index", path);
                ifd = open(path, O_RDONLY | O_CLOEXEC);
                seg_path(log, s->base, ".timeindex", path);
                tfd = open(path, O_RDONLY | O_CLOEXEC);
        } else {
                if (fdatasync(log->fd) != 0) {
                        int e = errno;
                        RILL_LOG_E(LOG_COMP, "%s: fsync on roll: %s", log->dir, strerror(e));
                        return errno_err(e);
                }
                /* Closed segments are never re-validated after a crash
                 * (below the recovery point), only sanity-checked: their
                 * indexes are made durable now. */
                pending_flush(log, true);
        }
        if ((err = create_segment(log, base, defer)) != RILL_OK) {
                if (ifd >= 0)
                        close(ifd);
                if (tfd >= 0)
                        close(tfd);
                return err;
        }
        if (defer) {
                old_fd = log->fd;
                log->fd = -1;
        }
        close_active(log, false);
        if ((err = activate_last(log, NULL, 0)) != RILL_OK) {
                /* Fall back to the previous segment. */
                close_active(log, true);
                seg_path(log, base, ".log", path);
                unlink(path);
                seg_path(log, base, ".index", path);
                unlink(path);
                seg_path(log, base, ".timeindex", path);
                unlink(path);
                log->nsegs = nsegs;
                activate_last(log, NULL, 0);
                if (old_fd >= 0)
                        close(old_fd);
                if (ifd >= 0)
                        close(ifd);
                if (tfd >= 0)
                        close(tfd);
                return err;
        }
        if (defer) {
                rill__log_sync_t *t = sync_new(log, SYNC_SEGMENT);
                t->fds[0] = old_fd;
                t->fds[1] = ifd;
                t->fds[2] = tfd;
                t->value = base;
                log->syncer(log->syncer_opaque, t);
        }
        log->unflushed = 0;
        log->last_flush_ms = rill__now_ms();
        RILL_LOG_D(LOG_COMP, "%s: rolled new segment at offset %" PRId64 "%s", log->dir, base,
                   defer ? " (fsync of the previous one deferred)" : "");
        return RILL_OK;
}

/* fsyncs the .log and index files of the segment at @p base (by path;
 * missing index files are skipped). Returns 0 or -1. */
static int
seg_sync_files(const rill__log_t *log, int64_t base)
{
        static const char *const exts[3] = {".log", ".index", ".timeindex"};
        char path[PATH_BUF];
        int r = 0;
        for (int i = 0; i < 3; i++) {
                int fd;
                seg_path(log, base, exts[i], path);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        if (i == 0 || errno != ENOENT)
                                r = -1;
                        continue;
                }
                if (fdatasync(fd) != 0) {
                        RILL_LOG_E(LOG_COMP, "%s: fsync: %s", path, strerror(errno));
                        r = -1;
                }
                close(fd);
        }
        return r;
}

static int
cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static bool
has_suffix(const char *s, const char *suf)
{
        size_t n = strlen(s), m = strlen(suf);
        return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Parses "<20 digits><ext>"; returns true and the base offset. */
static bool
parse_seg_name(const char *name, const char *ext, int64_t *base)
{
        size_t m = strlen(ext);
        char *end;
        long long v;
        if (strlen(name) != 20 + m || strcmp(name + 20, ext) != 0)
                return false;
        for (int i = 0; i < 20; i++)
                if (name[i] < '0' || name[i] > '9')
                        return false;
        errno = 0;
        v = strtoll(name, &end, 10);
        if (errno || end != name + 20 || v < 0)
                return false;
        *base = (int64_t)v;
        return true;
}

rill_err_t
rill__log_open(const char *dir, const rill__log_conf_t *conf, rill__log_t **out,
               char *errstr, size_t errstr_size)
{
        rill__log_t *log;
        DIR *d;
        struct dirent *de;
        int64_t *bases = NULL, ckpt, rp;
        size_t nb = 0, cb = 0;
        char path[PATH_BUF];
        bool clean, recovered_closed = false;
        rill_err_t err = RILL_OK;

        *out = NULL;
        if (rill__mkdirs(dir, 0755) != 0) {
                rill__errf(errstr, errstr_size, "%s: mkdir: %s", dir, strerror(errno));
                return RILL_ERR_IO;
        }
        log = RILL__NEW(rill__log_t);
        log->dir = rill__strdup(dir);
        log->conf = *conf;
        if (log->conf.index_interval_bytes <= 0)
                log->conf.index_interval_bytes = 4096;
        log->fd = log->rd_fd = -1;
        log->rd_base = log->hint_base = -1;

        d = opendir(dir);
        if (!d) {
                rill__errf(errstr, errstr_size, "%s: opendir: %s", dir, strerror(errno));
                rill__free(log->dir);
                rill__free(log);
                return RILL_ERR_IO;
        }
        log->st = bg_new(dir);
        while ((de = readdir(d))) {
                int64_t base;
                if (has_suffix(de->d_name, ".cleaned") || has_suffix(de->d_name, ".tmp")) {
                        /* Leftovers of an interrupted compaction or
                         * checkpoint write: never part of the log. */
                        dir_path(log, de->d_name, path);
                        RILL_LOG_I(LOG_COMP, "%s: removing leftover %s", dir, de->d_name);
                        unlink(path);
                        continue;
                }
                if (!parse_seg_name(de->d_name, ".log", &base))
                        continue;
                if (nb == cb) {
                        cb = cb ? cb * 2 : 16;
                        bases = rill__realloc(bases, cb * sizeof(*bases));
                }
                bases[nb++] = base;
        }
        closedir(d);
        if (nb)
                qsort(bases, nb, sizeof(*bases), cmp_i64);

        dir_path(log, CLEAN_MARKER, path);
        clean = access(path, F_OK) == 0;
        rp = read_ckpt(log, RP_CKPT);
        if (!clean && nb) {
                if (rp >= 0 && nb > 1 && bases[nb - 2] >= rp)
                        RILL_LOG_I(LOG_COMP, "%s: no clean-shutdown marker, recovering the segments "
                                   "above the recovery point %" PRId64, dir, rp);
                else
                        RILL_LOG_I(LOG_COMP, "%s: no clean-shutdown marker, recovering last segment", dir);
        }

        for (size_t i = 0; i < nb; i++) {
                seg_t *s = segs_insert(log, log->nsegs);
                /* After a crash: the last segment, and every segment whose
                 * deferred fsync may not have happened (its offsets reach
                 * above the recovery point), get a full validation. */
                bool full = !clean && (i == nb - 1 || (rp >= 0 && bases[i + 1] > rp));
                s->base = bases[i];
                err = seg_load(log, s, i == nb - 1, full);
                if (err == RILL_OK && full && i < nb - 1) {
                        /* Recovered closed segments must be durable, as
                         * every closed segment below the recovery point. */
                        if (seg_sync_files(log, s->base) != 0)
                                err = RILL_ERR_IO;
                        recovered_closed = true;
                }
                if (err != RILL_OK) {
                        rill__errf(errstr, errstr_size, "%s: loading segment %020" PRId64 " failed",
                                   dir, bases[i]);
                        goto fail;
                }
                log->total_size += s->size;
                if (i > 0 && log->segs[i - 1].next > s->base)
                        RILL_LOG_W(LOG_COMP, "%s: segment %020" PRId64 " overlaps the previous one "
                                   "(ends at %" PRId64 ")", dir, s->base, log->segs[i - 1].next);
        }
        rill__free(bases);
        bases = NULL;

        ckpt = read_ckpt(log, START_CKPT);
        if (log->nsegs == 0) {
                err = create_segment(log, ckpt > 0 ? ckpt : 0, false);
                if (err != RILL_OK) {
                        rill__errf(errstr, errstr_size, "%s: cannot create first segment", dir);
                        goto fail;
                }
        }
        if ((err = activate_last(log, errstr, errstr_size)) != RILL_OK)
                goto fail;
        log->start = RILL__MAX(ckpt, log->segs[0].base);
        if (log->start > active_seg(log)->next) {
                /* A checkpoint beyond what recovery kept: rewrite it, or it
                 * would hide the records appended from now on at the next
                 * open. */
                log->start = active_seg(log)->next;
                if (write_ckpt(log, START_CKPT, log->start) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: rewriting %s: %s", dir, START_CKPT, strerror(errno));
        }
        if (recovered_closed && write_ckpt(log, RP_CKPT, active_seg(log)->base) == 0)
                rp = active_seg(log)->base;
        log->st->rp_disk = rp;
        log->st->synced_to = active_seg(log)->base;
        log->cleaner_ckpt = read_ckpt(log, CLEANER_CKPT);
        if (log->cleaner_ckpt < 0)
                log->cleaner_ckpt = 0;
        log->last_flush_ms = rill__now_ms();
        if (clean) {
                /* The marker must be gone before anything is appended, so
                 * that a crash from now on triggers recovery. */
                if (unlink(path) != 0 || rill__fsync_dir(dir) != 0) {
                        rill__errf(errstr, errstr_size, "%s: removing marker: %s", path, strerror(errno));
                        err = RILL_ERR_IO;
                        goto fail;
                }
        }
        *out = log;
        return RILL_OK;
fail:
        rill__free(bases);
        close_active(log, true);
        bg_kill(log->st);
        bg_unref(log->st);
        rill__free(log->segs);
        rill__free(log->dir);
        rill__free(log);
        return err;
}

/*
 * fsyncs the active segment's data. Pending index entries are written but
 * the index files are fsynced only at roll and close: after a crash the
 * last segment's indexes are rebuilt from its data anyway, so an fsync per
 * flush.messages would only add cost.
 */
rill_err_t
rill__log_flush(rill__log_t *log)
{
        if (fdatasync(log->fd) != 0) {
                int e = errno;
                RILL_LOG_E(LOG_COMP, "%s: fsync: %s", log->dir, strerror(e));
                return errno_err(e);
        }
        pending_flush(log, false);
        log->unflushed = 0;
        log->last_flush_ms = rill__now_ms();
        return RILL_OK;
}

static void
log_free(rill__log_t *log, bool write_marker)
{
        int64_t synced, rp;

        /* Background work of this log stops touching its directory. */
        bg_kill(log->st);
        pthread_mutex_lock(&log->st->mu);
        synced = log->st->synced_to;
        rp = log->st->rp_disk;
        pthread_mutex_unlock(&log->st->mu);
        if (write_marker) {
                char path[PATH_BUF];
                int fd;
                bool ok = rill__log_flush(log) == RILL_OK && pending_flush(log, true) == 0;
                /* Closed segments whose deferred fsync was not confirmed
                 * (the syncer was not drained first) are fsynced here: the
                 * marker promises a durable log. */
                for (int i = 0; ok && i < log->nsegs - 1; i++) {
                        if (log->segs[i].next > synced && seg_sync_files(log, log->segs[i].base) != 0)
                                ok = false;
                }
                /* Everything below the active segment is durable now. */
                if (ok && rp >= 0 && rp < active_seg(log)->base &&
                    write_ckpt(log, RP_CKPT, active_seg(log)->base) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: writing %s: %s", log->dir, RP_CKPT, strerror(errno));
                dir_path(log, CLEAN_MARKER, path);
                if (ok && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0) {
                        fsync(fd);
                        close(fd);
                        rill__fsync_dir(log->dir);
                }
        }
        close_active(log, !write_marker);
        rd_cache_drop(log);
        bg_unref(log->st);
        rill__free(log->segs);
        rill__free(log->dir);
        rill__free(log);
}

void
rill__log_close(rill__log_t *log)
{
        if (!log)
                return;
        log_free(log, true);
}

rill_err_t
rill__log_delete(rill__log_t *log)
{
        char *dir;
        int r;
        if (!log)
                return RILL_OK;
        dir = rill__strdup(log->dir);
        log_free(log, false);
        r = rill__rmtree(dir);
        if (r != 0)
                RILL_LOG_E(LOG_COMP, "%s: removing: %s", dir, strerror(errno));
        rill__free(dir);
        return r == 0 ? RILL_OK : RILL_ERR_IO;
}

void
rill__log_set_conf(rill__log_t *log, const rill__log_conf_t *conf)
{
        log->conf = *conf;
        if (log->conf.index_interval_bytes <= 0)
                log->conf.index_interval_bytes = 4096;
}

const rill__log_conf_t *
rill__log_conf(const rill__log_t *log)
{
        return &log->conf;
}

const char *
rill__log_dir(const rill__log_t *log)
{
        return log->dir;
}

int64_t
rill__log_start_offset(const rill__log_t *log)
{
        return log->start;
}

int64_t
rill__log_end_offset(const rill__log_t *log)
{
        return log->segs[log->nsegs - 1].next;
}

void
rill__log_max_timestamp(const rill__log_t *log, int64_t *ts, int64_t *offset)
{
        int64_t bts = -1, boff = -1;
        for (int i = 0; i < log->nsegs; i++) {
                if (log->segs[i].max_ts > bts) {
                        bts = log->segs[i].max_ts;
                        boff = log->segs[i].max_ts_off;
                }
        }
        *ts = bts;
        *offset = boff;
}

int64_t
rill__log_size_bytes(const rill__log_t *log)
{
        return log->total_size;
}

/* ------------------------------------------------------------------------ */
/* Append                                                                   */
/* ------------------------------------------------------------------------ */

rill_err_t
rill__log_append(rill__log_t *log, uint8_t *data, size_t len, int32_t leader_epoch,
                 int64_t *first_offset, int64_t *append_time,
                 char *errstr, size_t errstr_size)
{
        seg_t *s;
        size_t pos;
        int64_t noffsets = 0, nrecords = 0, now = rill__now_ms(), next, first_ts = -1;
        int64_t old_size;
        rill_err_t err;

        if (len == 0) {
                rill__errf(errstr, errstr_size, "empty record set");
                return RILL_ERR_PROTOCOL;
        }
        /* Pass 1: validate everything; nothing is written unless all
         * batches are valid. */
        for (pos = 0; pos < len;) {
                rill__batch_hdr_t h;
                size_t bsize;
                err = rill__batch_validate(data + pos, len - pos, errstr, errstr_size);
                if (err != RILL_OK)
                        return err;
                bsize = rill__batch_size(data + pos);
                if (bsize > (size_t)log->conf.max_message_bytes) {
                        rill__errf(errstr, errstr_size, "batch of %zu bytes exceeds max.message.bytes %d",
                                   bsize, (int)log->conf.max_message_bytes);
                        return RILL_ERR_TOO_LARGE;
                }
                rill__batch_hdr_parse(data + pos, &h);
                if (h.records_count < 1 || h.last_offset_delta != h.records_count - 1) {
                        rill__errf(errstr, errstr_size,
                                   "invalid batch: %d records, lastOffsetDelta %d",
                                   (int)h.records_count, (int)h.last_offset_delta);
                        return RILL_ERR_CORRUPT;
                }
                if (first_ts < 0)
                        first_ts = log->conf.log_append_time ? now : h.max_timestamp;
                noffsets += (int64_t)h.last_offset_delta + 1;
                nrecords += h.records_count;
                pos += bsize;
        }

        /* Roll first if this request does not fit the active segment. */
        s = active_seg(log);
        if (s->size > 0) {
                bool full = s->size + (int64_t)len > log->conf.segment_bytes ||
                            (log->conf.segment_index_bytes > 0 &&
                             (log->idx_size + (log->pend_idx_n + 1) * IDX_ENTRY >
                                      log->conf.segment_index_bytes ||
                              log->tidx_size + (log->pend_tidx_n + 1) * TIDX_ENTRY >
                                      log->conf.segment_index_bytes)) ||
                            s->size + (int64_t)len > INT32_MAX ||
                            s->next + noffsets - 1 - s->base > INT32_MAX;
                int64_t waited = s->first_ts >= 0 ? sub_sat(first_ts, s->first_ts) : now - s->created_ms;
                if (full || waited > log->conf.segment_ms) {
                        if ((err = roll(log)) != RILL_OK) {
                                rill__errf(errstr, errstr_size, "%s: cannot roll segment", log->dir);
                                return err;
                        }
                        s = active_seg(log);
                }
        }
        if (s->size + (int64_t)len > INT32_MAX) {
                rill__errf(errstr, errstr_size, "record set of %zu bytes too large for a segment", len);
                return RILL_ERR_TOO_LARGE;
        }

        /* Pass 2: assign offsets, stamp epoch and LogAppendTime. */
        next = s->next;
        for (pos = 0; pos < len;) {
                uint8_t *p = data + pos;
                size_t bsize = rill__batch_size(p);
                rill__put_be64(p + RILL__BATCH_OFF_BASE_OFFSET, (uint64_t)next);
                rill__put_be32(p + RILL__BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
                if (log->conf.log_append_time) {
                        uint16_t attrs = rill__be16(p + RILL__BATCH_OFF_ATTRS);
                        rill__put_be16(p + RILL__BATCH_OFF_ATTRS, attrs | RILL__BATCH_ATTR_LOG_APPEND_TIME);
                        rill__put_be64(p + RILL__BATCH_OFF_MAX_TS, (uint64_t)now);
                        rill__put_be32(p + RILL__BATCH_OFF_CRC,
                                       rill__crc32c(0, p + RILL__BATCH_OFF_ATTRS, bsize - RILL__BATCH_OFF_ATTRS));
                }
                next += (int64_t)rill__be32(p + RILL__BATCH_OFF_LAST_DELTA) + 1;
                pos += bsize;
        }

        /* One write for the whole request. */
        old_size = s->size;
        if (pwrite_all(log->fd, data, len, old_size) != 0) {
                int e = errno;
                rill__errf(errstr, errstr_size, "%s: write: %s", log->dir, strerror(e));
                RILL_LOG_E(LOG_COMP, "%s: append of %zu bytes failed: %s", log->dir, len, strerror(e));
                if (ftruncate(log->fd, (off_t)old_size) != 0)
                        RILL_LOG_E(LOG_COMP, "%s: truncating back to %" PRId64 " failed: %s",
                                   log->dir, old_size, strerror(errno));
                return errno_err(e);
        }

        /* Index entries and segment state. */
        *first_offset = s->next;
        for (pos = 0; pos < len;) {
                const uint8_t *p = data + pos;
                size_t bsize = rill__batch_size(p);
                int64_t base = (int64_t)rill__be64(p + RILL__BATCH_OFF_BASE_OFFSET);
                int64_t last = base + (int32_t)rill__be32(p + RILL__BATCH_OFF_LAST_DELTA);
                int64_t mts = (int64_t)rill__be64(p + RILL__BATCH_OFF_MAX_TS);
                int64_t bpos = old_size + (int64_t)pos;
                if (bpos == 0)
                        s->first_ts = mts;
                if (mts > s->max_ts) {
                        s->max_ts = mts;
                        s->max_ts_off = last;
                }
                if (log->bytes_since_idx > log->conf.index_interval_bytes) {
                        if (log->pend_idx_n == PENDING_MAX || log->pend_tidx_n == PENDING_MAX)
                                pending_flush(log, false);
                        rill__put_be32(log->pend_idx + log->pend_idx_n * IDX_ENTRY, (uint32_t)(last - s->base));
                        rill__put_be32(log->pend_idx + log->pend_idx_n * IDX_ENTRY + 4, (uint32_t)bpos);
                        log->pend_idx_n++;
                        if (s->max_ts > log->tidx_last_ts) {
                                uint8_t *e = log->pend_tidx + log->pend_tidx_n * TIDX_ENTRY;
                                rill__put_be64(e, (uint64_t)s->max_ts);
                                rill__put_be32(e + 8, (uint32_t)(s->max_ts_off - s->base));
                                log->pend_tidx_n++;
                                log->tidx_last_ts = s->max_ts;
                        }
                        log->bytes_since_idx = 0;
                }
                log->bytes_since_idx += (int64_t)bsize;
                pos += bsize;
        }
        s->next = next;
        s->size = old_size + (int64_t)len;
        log->total_size += (int64_t)len;
        if (append_time)
                *append_time = log->conf.log_append_time ? now : -1;

        log->unflushed += nrecords;
        if (log->unflushed >= log->conf.flush_messages) {
                if ((err = rill__log_flush(log)) != RILL_OK) {
                        /* The data is written but not durable; report it. */
                        rill__errf(errstr, errstr_size, "%s: fsync failed", log->dir);
                        return err;
                }
        }
        return RILL_OK;
}

void
rill__log_tick(rill__log_t *log, int64_t now_ms)
{
        if (log->unflushed > 0 && log->conf.flush_ms != INT64_MAX &&
            now_ms - log->last_flush_ms >= log->conf.flush_ms)
                rill__log_flush(log);
}

/* ------------------------------------------------------------------------ */
/* Read                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Finds, in segment @p si, the position of the first batch whose last
 * offset is >= @p offset. Returns the position (the segment size if there
 * is none) or -1 on an I/O error or a corrupt header.
 */
static int64_t
seg_locate(rill__log_t *log, int si, int64_t offset, int64_t *batch_base)
{
        const seg_t *s = &log->segs[si];
        int fd = seg_rd_fd(log, si);
        int64_t pos, start, prev_next;
        fwin_t w;

        if (fd < 0)
                return -1;
        if (!batch_base && log->hint_base == s->base && log->hint_off == offset &&
            log->hint_pos < s->size) {
                /* A sequential reader: the previous read ended exactly at
                 * the batch boundary before @p offset. */
                return log->hint_pos;
        }
        pos = seg_lookup_pos(log, si, offset);
        start = pos;
        prev_next = s->base;
        fwin_init(&w, fd, s->size, 4096);
        while (pos < s->size) {
                int shrt;
                const uint8_t *p = fwin_get(&w, pos, RILL__BATCH_HDR_SIZE, &shrt);
                int64_t base = 0, last = -1;
                int32_t length = p ? (int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH) : 0;
                bool bad = !p || p[RILL__BATCH_OFF_MAGIC] != 2 || length < RILL__BATCH_HDR_SIZE - 12 ||
                           pos + 12 + (int64_t)length > s->size;
                if (!bad) {
                        /* Offsets that make no sense (going backwards, out
                         * of the segment's recovered range): not a batch to
                         * trust, whatever led here (trusted segments are
                         * not CRC-checked at open). */
                        int32_t delta = (int32_t)rill__be32(p + RILL__BATCH_OFF_LAST_DELTA);
                        base = (int64_t)rill__be64(p);
                        bad = delta < 0 || base < prev_next || base >= s->next ||
                              base > INT64_MAX - INT32_MAX;
                        if (!bad)
                                last = base + delta;
                        bad = bad || last >= s->next;
                }
                if (!bad && pos == start && start > 0 && base > offset)
                        bad = true; /* the index overshot: it cannot be right */
                if (bad) {
                        if (start > 0) {
                                /* A damaged index (no checksum): scan the
                                 * segment from its start instead. */
                                RILL_LOG_W(LOG_COMP, "%s: index of segment %020" PRId64
                                           " points at no batch for offset %" PRId64 ", scanning",
                                           log->dir, s->base, offset);
                                pos = start = 0;
                                prev_next = s->base;
                                log->hint_base = -1;
                                continue;
                        }
                        RILL_LOG_W(LOG_COMP, "%s: segment %020" PRId64 " has no valid batch at "
                                   "position %" PRId64 " (looking for offset %" PRId64 ")",
                                   log->dir, s->base, pos, offset);
                        pos = -1;
                        break;
                }
                if (last >= offset) {
                        if (batch_base)
                                *batch_base = base;
                        break;
                }
                prev_next = last + 1;
                pos += 12 + (int64_t)length;
        }
        fwin_free(&w);
        return pos;
}

rill_err_t
rill__log_read(rill__log_t *log, int64_t offset, int64_t max_offset, int32_t max_bytes,
               rill__wbuf_t *out)
{
        int64_t end = rill__log_end_offset(log);
        int si;
        size_t got = 0;

        if (offset < log->start || offset > end)
                return RILL_ERR_OFFSET_OUT_OF_RANGE;
        if (max_offset > end)
                max_offset = end;
        if (offset >= max_offset)
                return RILL_OK;
        if (max_bytes < 0)
                max_bytes = 0;
        si = seg_find(log, offset);
        for (; si < log->nsegs; si++) {
                const seg_t *s = &log->segs[si];
                int64_t pos, chunk, walked = 0, next_off = offset;
                size_t budget, start_len = out->len;
                int fd;
                bool stop = false;
                uint8_t *dst;
                ssize_t n;

                if (s->base >= max_offset)
                        break;
                if (offset < s->base)
                        offset = s->base;
                if (offset >= s->next)
                        continue;
                pos = seg_locate(log, si, offset, NULL);
                if (pos < 0)
                        return got ? RILL_OK : RILL_ERR_IO;
                if (pos >= s->size)
                        continue;
                fd = seg_rd_fd(log, si);
                budget = got < (size_t)max_bytes ? (size_t)max_bytes - got : 0;
                chunk = RILL__MIN((int64_t)budget, s->size - pos);
                if (got == 0 && chunk < RILL__BATCH_HDR_SIZE)
                        chunk = RILL__MIN((int64_t)RILL__BATCH_HDR_SIZE, s->size - pos);
                if (chunk <= 0)
                        break;
                dst = rill__wb_extend(out, (size_t)chunk);
                n = pread_full(fd, dst, (size_t)chunk, pos);
                if (n < 0) {
                        out->len = start_len;
                        return got ? RILL_OK : RILL_ERR_IO;
                }
                /* Keep whole batches below max_offset. The first batch of
                 * the response is always complete in the header sense:
                 * chunk >= RILL__BATCH_HDR_SIZE whenever got == 0. */
                while (n - walked >= RILL__BATCH_HDR_SIZE) {
                        const uint8_t *p = dst + walked;
                        int64_t bsize = (int64_t)rill__batch_size(p), last;
                        if (bsize < RILL__BATCH_HDR_SIZE || p[RILL__BATCH_OFF_MAGIC] != 2) {
                                stop = true;
                                break;
                        }
                        last = add64((int64_t)rill__be64(p), (int32_t)rill__be32(p + RILL__BATCH_OFF_LAST_DELTA));
                        if (last >= max_offset) {
                                stop = true;
                                break;
                        }
                        if (walked + bsize > n) {
                                if (got == 0 && walked == 0 && pos + bsize <= s->size) {
                                        /* KIP-74: the first batch is returned
                                         * even when larger than max_bytes. */
                                        out->len = start_len;
                                        dst = rill__wb_extend(out, (size_t)bsize);
                                        n = pread_full(fd, dst, (size_t)bsize, pos);
                                        if (n != bsize) {
                                                out->len = start_len;
                                                return RILL_ERR_IO;
                                        }
                                        walked = bsize;
                                        next_off = last + 1;
                                }
                                stop = true;
                                break;
                        }
                        walked += bsize;
                        next_off = last + 1;
                }
                out->len = start_len + (size_t)walked;
                got += (size_t)walked;
                if (walked > 0) {
                        /* Remember where the next sequential read starts. */
                        log->hint_base = s->base;
                        log->hint_off = next_off;
                        log->hint_pos = pos + walked;
                } else if (got == 0 && stop) {
                        /* Nothing readable below max_offset, or a corrupt header. */
                        break;
                }
                if (stop || got >= (size_t)max_bytes || pos + walked < s->size)
                        break;
                offset = s->next;
        }
        return RILL_OK;
}

/* ------------------------------------------------------------------------ */
/* Offset for time                                                          */
/* ------------------------------------------------------------------------ */

/* Key of an offset-index entry by position, and of a time-index entry by
 * relative offset (both non-decreasing within a file). */
static int64_t
idx_pos_key(const uint8_t *e)
{
        return (int32_t)rill__be32(e + 4);
}

static int64_t
tidx_off_key(const uint8_t *e)
{
        return (int32_t)rill__be32(e + 8);
}

/* Offset from which to scan segment @p si for the first batch whose
 * MaxTimestamp >= @p ts, from the time index. */
static int64_t
seg_time_lookup(rill__log_t *log, int si, int64_t ts)
{
        const seg_t *s = &log->segs[si];
        char path[PATH_BUF];
        uint8_t e[TIDX_ENTRY];
        int fd;
        int64_t n, off = s->base;

        /* Entry (T, o): every batch up to the one holding offset o has
         * MaxTimestamp <= T. With T < ts the answer is at or after o. */
        if (si == log->nsegs - 1 && log->pend_tidx_n > 0 && tidx_key(log->pend_tidx) < ts) {
                for (int i = 0; i < log->pend_tidx_n && tidx_key(log->pend_tidx + i * TIDX_ENTRY) < ts; i++)
                        off = s->base + (int32_t)rill__be32(log->pend_tidx + i * TIDX_ENTRY + 8);
                return off;
        }
        seg_path(log, s->base, ".timeindex", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return off;
        n = (si == log->nsegs - 1 ? log->tidx_size : fd_size(fd)) / TIDX_ENTRY;
        if (n > 0 && index_search(fd, n, TIDX_ENTRY, tidx_key, ts, true, e) >= 0)
                off = s->base + (int32_t)rill__be32(e + 8);
        close(fd);
        return off;
}

rill_err_t
rill__log_offset_for_time(rill__log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
        *offset = -1;
        *found_ts = -1;
        if (ts == -2) { /* ListOffsets EARLIEST */
                *offset = log->start;
                return RILL_OK;
        }
        if (ts == -1) { /* ListOffsets LATEST */
                *offset = rill__log_end_offset(log);
                return RILL_OK;
        }
        for (int si = 0; si < log->nsegs; si++) {
                const seg_t *s = &log->segs[si];
                int64_t from, pos;
                int fd;
                bool first;
                fwin_t w;

                if (s->max_ts < ts || s->size == 0)
                        continue;
                from = seg_time_lookup(log, si, ts);
                pos = seg_locate(log, si, from, NULL);
                fd = seg_rd_fd(log, si);
                if (fd < 0 || pos < 0)
                        return RILL_ERR_IO;
                fwin_init(&w, fd, s->size, 1 << 16);
                first = pos > 0;
                while (pos < s->size) {
                        int shrt;
                        const uint8_t *p = fwin_get(&w, pos, RILL__BATCH_HDR_SIZE, &shrt);
                        rill__batch_hdr_t h;
                        rill__record_iter_t it;
                        rill__record_t r;
                        if (!p) {
                                fwin_free(&w);
                                return RILL_ERR_IO;
                        }
                        rill__batch_hdr_parse(p, &h);
                        if (h.magic != 2 || h.length < RILL__BATCH_HDR_SIZE - 12) {
                                fwin_free(&w);
                                return RILL_ERR_CORRUPT;
                        }
                        if (first && h.max_timestamp >= ts) {
                                /* The time index promised an earlier
                                 * timestamp here: it is damaged, scan the
                                 * segment from its start. */
                                pos = 0;
                                first = false;
                                continue;
                        }
                        first = false;
                        if (h.max_timestamp < ts || add64(h.base_offset, h.last_offset_delta) < log->start) {
                                pos += 12 + (int64_t)h.length;
                                continue;
                        }
                        /* This batch has it: find the first record at or
                         * after ts (Kafka answers with a record offset). */
                        *offset = h.base_offset;
                        *found_ts = h.max_timestamp;
                        p = fwin_get(&w, pos, 12 + (size_t)h.length, &shrt);
                        if (p && rill__record_iter_init(&it, p, 12 + (size_t)h.length) == RILL_OK) {
                                while (rill__record_iter_next(&it, &r) == 1) {
                                        if (r.timestamp >= ts && r.offset >= log->start) {
                                                *offset = r.offset;
                                                *found_ts = r.timestamp;
                                                break;
                                        }
                                }
                        }
                        rill__record_iter_destroy(&it);
                        fwin_free(&w);
                        if (*offset < log->start)
                                *offset = log->start;
                        return RILL_OK;
                }
                fwin_free(&w);
        }
        return RILL_OK;
}

/* ------------------------------------------------------------------------ */
/* Deleting segments, retention, DeleteRecords, truncation                  */
/* ------------------------------------------------------------------------ */

/* Removes the files of closed segment @p si and forgets it. */
static void
seg_delete(rill__log_t *log, int si, const char *why)
{
        char path[PATH_BUF];
        const char *exts[3] = {".log", ".index", ".timeindex"};
        seg_t *s = &log->segs[si];
        if (log->rd_base == s->base)
                rd_cache_drop(log);
        RILL_LOG_I(LOG_COMP, "%s: deleting segment %020" PRId64 " (%" PRId64 " bytes, offsets %" PRId64
                   "..%" PRId64 "): %s", log->dir, s->base, s->size, s->base, s->next - 1, why);
        for (int i = 0; i < 3; i++) {
                int hold;
                seg_path(log, s->base, exts[i], path);
                hold = i == 0 && s->size > 0 ? release_hold(log, path) : -1;
                if (unlink(path) != 0 && errno != ENOENT)
                        RILL_LOG_W(LOG_COMP, "%s: unlink: %s", path, strerror(errno));
                release_hand(log, hold);
        }
        log->total_size -= s->size;
        segs_remove(log, si);
}

static void
advance_start(rill__log_t *log)
{
        if (log->segs[0].base > log->start)
                log->start = log->segs[0].base;
}

int
rill__log_retention(rill__log_t *log, int64_t now_ms)
{
        seg_t *s = active_seg(log);
        int deleted = 0;
        bool del = (log->conf.cleanup_policy & RILL__CLEANUP_DELETE) != 0;
        int64_t basis = s->first_ts >= 0 ? s->first_ts : s->created_ms;

        /* Roll an old active segment so that it can be deleted or
         * compacted, and a fully expired one so that it can go now. */
        if (s->size > 0 && (sub_sat(now_ms, basis) > log->conf.segment_ms ||
                            (del && log->conf.retention_ms >= 0 &&
                             s->max_ts < sub_sat(now_ms, log->conf.retention_ms)))) {
                if (roll(log) != RILL_OK)
                        RILL_LOG_W(LOG_COMP, "%s: retention: roll failed", log->dir);
        }
        if (!del)
                return 0;
        if (log->conf.retention_ms >= 0) {
                while (log->nsegs > 1 && seg_largest_ts(log, 0) < sub_sat(now_ms, log->conf.retention_ms)) {
                        seg_delete(log, 0, "retention.ms");
                        deleted++;
                }
        }
        if (log->conf.retention_bytes >= 0) {
                while (log->nsegs > 1 &&
                       log->total_size - log->segs[0].size >= log->conf.retention_bytes) {
                        seg_delete(log, 0, "retention.bytes");
                        deleted++;
                }
        }
        if (deleted) {
                advance_start(log);
                dir_sync(log);
        }
        return deleted;
}

rill_err_t
rill__log_delete_records(rill__log_t *log, int64_t offset)
{
        int deleted = 0;
        if (offset < 0 || offset > rill__log_end_offset(log))
                return RILL_ERR_OFFSET_OUT_OF_RANGE;
        if (offset <= log->start)
                return RILL_OK;
        if (write_ckpt(log, START_CKPT, offset) != 0) {
                RILL_LOG_E(LOG_COMP, "%s: writing %s: %s", log->dir, START_CKPT, strerror(errno));
                return errno_err(errno);
        }
        log->start = offset;
        while (log->nsegs > 1 && log->segs[1].base <= offset) {
                seg_delete(log, 0, "DeleteRecords");
                deleted++;
        }
        if (deleted)
                rill__fsync_dir(log->dir);
        return RILL_OK;
}

/* Cuts the index files of segment @p s (closed fds) to entries before file
 * position @p size and offsets before @p next. */
static void
truncate_indexes(rill__log_t *log, const seg_t *s, int64_t size, int64_t next)
{
        char path[PATH_BUF];
        uint8_t e[TIDX_ENTRY];
        int fd;
        int64_t n, keep;

        seg_path(log, s->base, ".index", path);
        if ((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
                n = fd_size(fd) / IDX_ENTRY;
                keep = index_search(fd, n, IDX_ENTRY, idx_pos_key, size, true, e) + 1;
                if (ftruncate(fd, (off_t)(keep * IDX_ENTRY)) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: ftruncate: %s", path, strerror(errno));
                close(fd);
        }
        seg_path(log, s->base, ".timeindex", path);
        if ((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
                n = fd_size(fd) / TIDX_ENTRY;
                keep = index_search(fd, n, TIDX_ENTRY, tidx_off_key, next - s->base, true, e) + 1;
                if (ftruncate(fd, (off_t)(keep * TIDX_ENTRY)) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: ftruncate: %s", path, strerror(errno));
                close(fd);
        }
}

/* After a truncation: the recovery point and the synced mark go back to
 * the base of the (new) active segment, whose earlier data may still wait
 * for a deferred fsync, and the compaction checkpoint to the end. */
static void
truncate_ckpts(rill__log_t *log)
{
        int64_t abase = active_seg(log)->base, end = rill__log_end_offset(log), rp;
        pthread_mutex_lock(&log->st->mu);
        if (log->st->synced_to > abase)
                log->st->synced_to = abase;
        rp = log->st->rp_disk;
        pthread_mutex_unlock(&log->st->mu);
        if (rp > abase) {
                if (write_ckpt(log, RP_CKPT, abase) == 0) {
                        pthread_mutex_lock(&log->st->mu);
                        log->st->rp_disk = abase;
                        pthread_mutex_unlock(&log->st->mu);
                } else {
                        RILL_LOG_E(LOG_COMP, "%s: writing %s: %s", log->dir, RP_CKPT, strerror(errno));
                }
        }
        if (log->cleaner_ckpt > end) {
                log->cleaner_ckpt = end;
                if (write_ckpt(log, CLEANER_CKPT, end) != 0)
                        RILL_LOG_W(LOG_COMP, "%s: writing %s: %s", log->dir, CLEANER_CKPT, strerror(errno));
        }
}

rill_err_t
rill__log_truncate(rill__log_t *log, int64_t offset)
{
        int si;
        seg_t *s;
        int64_t pos, bbase = -1;
        rill_err_t err;
        char path[PATH_BUF];

        if (offset < 0)
                return RILL_ERR_INVALID_ARG;
        if (offset >= rill__log_end_offset(log))
                return RILL_OK;
        rd_cache_drop(log);
        /* Sync tasks and compaction jobs planned before this point are
         * stale: they no longer advance checkpoints or commit. */
        pthread_mutex_lock(&log->st->mu);
        log->st->epoch++;
        pthread_mutex_unlock(&log->st->mu);
        if (offset <= log->segs[0].base) {
                /* Everything goes: start over, empty, at @p offset. */
                close_active(log, false);
                while (log->nsegs > 0)
                        seg_delete(log, log->nsegs - 1, "truncation");
                if ((err = create_segment(log, offset, false)) != RILL_OK ||
                    (err = activate_last(log, NULL, 0)) != RILL_OK)
                        return err;
                log->start = offset;
                write_ckpt(log, START_CKPT, offset);
                truncate_ckpts(log);
                return RILL_OK;
        }
        si = seg_find(log, offset);
        pos = seg_locate(log, si, offset, &bbase);
        if (pos < 0)
                return RILL_ERR_IO;
        close_active(log, false);
        while (log->nsegs - 1 > si)
                seg_delete(log, log->nsegs - 1, "truncation");
        s = &log->segs[si];
        if (pos < s->size) {
                int fd;
                seg_path(log, s->base, ".log", path);
                fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0 || ftruncate(fd, (off_t)pos) != 0 || fsync(fd) != 0) {
                        int e = errno;
                        RILL_LOG_E(LOG_COMP, "%s: truncate: %s", path, strerror(e));
                        if (fd >= 0)
                                close(fd);
                        activate_last(log, NULL, 0);
                        return errno_err(e);
                }
                close(fd);
                RILL_LOG_I(LOG_COMP, "%s: truncated to offset %" PRId64 " (%" PRId64 " bytes removed)",
                           log->dir, bbase, s->size - pos);
                log->total_size -= s->size - pos;
                truncate_indexes(log, s, pos, bbase);
        }
        log->total_size -= s->size;
        err = seg_load(log, s, true, false);
        log->total_size += s->size;
        if (err == RILL_OK)
                err = activate_last(log, NULL, 0);
        if (log->start > s->next) {
                log->start = s->next;
                write_ckpt(log, START_CKPT, log->start);
        }
        truncate_ckpts(log);
        rill__fsync_dir(log->dir);
        return err;
}

void
rill__log_abandon(rill__log_t *log)
{
        if (!log)
                return;
        log_free(log, false);
}

/* ------------------------------------------------------------------------ */
/* Compaction                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Rules (Kafka's, simplified where noted):
 * - Only closed segments are cleaned, and only those whose largest
 *   timestamp is at least min.compaction.lag.ms old (and everything before
 *   them). The active segment is never touched.
 * - The "dirty" part starts at the cleaner checkpoint (the offset where the
 *   previous pass stopped). A pass runs when dirty bytes / cleanable bytes
 *   >= min.cleanable.dirty.ratio, or when the oldest dirty segment is older
 *   than max.compaction.lag.ms.
 * - A key -> last offset map (keys hashed to 128 bits with a per-pass random
 *   seed) is built over the dirty segments, bounded in memory; a pass that
 *   fills it stops there and the next pass continues.
 * - Every cleanable segment up to the end of the map is then rewritten (one
 *   with nothing to drop is left as it is): a record is dropped when the
 *   map holds a later offset for its key. Records with a null key are kept.
 *   Control and transactional batches are kept verbatim (transactions are
 *   not interpreted yet). A batch whose records are all kept is copied as
 *   is (compression preserved); otherwise the kept records are re-encoded
 *   uncompressed with their original offsets, timestamps and headers, and
 *   the batch keeps its base offset, last offset delta, producer fields and
 *   leader epoch. Batches left empty are dropped; segments left empty are
 *   deleted, except the first, which stays as an empty file so that the log
 *   start offset never moves because of compaction.
 * - Delete horizon (our approximation of Kafka's): a tombstone that is the
 *   latest record for its key is dropped once the largest timestamp of the
 *   segment holding it is older than now - delete.retention.ms; until then it
 *   is kept. Only tombstones covered by this pass's map (or already in the
 *   cleaned part) are dropped, so older values of the key are always gone
 *   first and can never reappear. The horizon therefore counts from the newest record written
 *   around the tombstone, never from producer-chosen timestamps alone.
 * - Offsets never change; gaps are normal in a compacted log.
 */

#define MAP_MAX_SLOTS ((size_t)1 << 20)

typedef struct kmap_ent {
        uint64_t h1, h2; /* h1 == 0 && h2 == 0: empty slot */
        int64_t off;
} kmap_ent_t;

typedef struct kmap {
        kmap_ent_t *t;
        size_t slots, used;
        uint64_t seed1, seed2;
} kmap_t;

static inline uint64_t
fmix64(uint64_t k)
{
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53ULL;
        k ^= k >> 33;
        return k;
}

static uint64_t
khash(const uint8_t *p, size_t n, uint64_t seed)
{
        uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
        while (n >= 8) {
                uint64_t v;
                memcpy(&v, p, 8);
                h = (h ^ fmix64(v + seed)) * 0x9E3779B97F4A7C15ULL;
                h = (h << 31) | (h >> 33);
                p += 8;
                n -= 8;
        }
        if (n) {
                uint64_t v = 0;
                memcpy(&v, p, n);
                h = (h ^ fmix64(v + seed + n)) * 0x9E3779B97F4A7C15ULL;
        }
        return fmix64(h);
}

static void
kmap_hash(const kmap_t *m, const uint8_t *k, int32_t n, uint64_t *h1, uint64_t *h2)
{
        *h1 = khash(k, (size_t)n, m->seed1);
        *h2 = khash(k, (size_t)n, m->seed2);
        if (*h1 == 0 && *h2 == 0)
                *h2 = 1;
}

static kmap_ent_t *
kmap_slot(kmap_ent_t *t, size_t slots, uint64_t h1, uint64_t h2)
{
        size_t i = (size_t)h1 & (slots - 1);
        for (;;) {
                kmap_ent_t *e = &t[i];
                if ((e->h1 == 0 && e->h2 == 0) || (e->h1 == h1 && e->h2 == h2))
                        return e;
                i = (i + 1) & (slots - 1);
        }
}

/* Records key -> offset; returns false when the map is full. */
static bool
kmap_put(kmap_t *m, const uint8_t *k, int32_t n, int64_t off)
{
        uint64_t h1, h2;
        kmap_ent_t *e;
        kmap_hash(m, k, n, &h1, &h2);
        if ((m->used + 1) * 4 > m->slots * 3) {
                size_t ns = m->slots * 2;
                kmap_ent_t *nt;
                e = kmap_slot(m->t, m->slots, h1, h2);
                if (e->h1 || e->h2) {
                        /* Existing key: an update needs no room. */
                        if (off > e->off)
                                e->off = off;
                        return true;
                }
                if (ns > MAP_MAX_SLOTS)
                        return false;
                nt = rill__calloc(ns, sizeof(*nt));
                for (size_t i = 0; i < m->slots; i++)
                        if (m->t[i].h1 || m->t[i].h2)
                                *kmap_slot(nt, ns, m->t[i].h1, m->t[i].h2) = m->t[i];
                rill__free(m->t);
                m->t = nt;
                m->slots = ns;
        }
        e = kmap_slot(m->t, m->slots, h1, h2);
        if (!e->h1 && !e->h2) {
                e->h1 = h1;
                e->h2 = h2;
                e->off = off;
                m->used++;
        } else if (off > e->off) {
                e->off = off;
        }
        return true;
}

/* Latest offset recorded for key, or -1. */
static int64_t
kmap_get(const kmap_t *m, const uint8_t *k, int32_t n)
{
        uint64_t h1, h2;
        kmap_ent_t *e;
        kmap_hash(m, k, n, &h1, &h2);
        e = kmap_slot(m->t, m->slots, h1, h2);
        return (e->h1 || e->h2) ? e->off : -1;
}

static uint64_t
rand64(void)
{
        uint64_t v = 0;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
                        v = 0;
                close(fd);
        }
        return v ^ (uint64_t)rill__mono_us() ^ ((uint64_t)(uintptr_t)&v << 17);
}

static int64_t
seg_largest_ts(const rill__log_t *log, int si)
{
        char path[PATH_BUF];
        struct stat st;
        if (log->segs[si].max_ts >= 0)
                return log->segs[si].max_ts;
        /* No timestamps: the file's modification time stands in. */
        seg_path(log, log->segs[si].base, ".log", path);
        if (stat(path, &st) != 0)
                return -1;
        return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static bool
batch_skipped_by_cleaner(const rill__batch_hdr_t *h)
{
        return (h->attributes & (RILL__BATCH_ATTR_CONTROL | RILL__BATCH_ATTR_TRANSACTIONAL)) != 0;
}

/* ---- jobs ---- */

/* What a job knows about one cleanable segment (captured by the plan) and
 * what the build made of it. */
enum { JS_TODO = 0, JS_GONE, JS_SAME, JS_CLEANED };

typedef struct jseg {
        int64_t base, size, largest_ts; /* at plan time */
        int state;
        int64_t nsize, next, max_ts, max_ts_off, first_ts; /* JS_CLEANED output */
} jseg_t;

struct rill__compact_job {
        bgstate_t *st;
        rill__log_t *log;       /* identity; dereferenced on the log's thread only */
        uint64_t epoch;
        int64_t now_ms, delete_retention_ms;
        int32_t index_interval_bytes;
        jseg_t *segs;           /* the cleanable segments, oldest first */
        int nsegs;
        int first_dirty;
        int end;                /* segments [0, end) are rewritten */
        int64_t mapped_to;      /* one past the last offset whose key is in the map */
        int64_t dropped, clean_bytes, dirty_bytes;
        size_t keys;
        bool built;
        rill_err_t err;
        bool (*go_on)(void *opaque);
        void *go_opaque;
};

static void
job_path(const rill__compact_job_t *job, int64_t base, const char *ext, char *buf)
{
        snprintf(buf, PATH_BUF, "%s/%020" PRId64 "%s", job->st->dir, base, ext);
}

/* Removes the .cleaned files of job segment @p i (unless the log is gone). */
static void
job_remove_cleaned(rill__compact_job_t *job, int i)
{
        static const char *const exts[3] = {".log.cleaned", ".index.cleaned", ".timeindex.cleaned"};
        char path[PATH_BUF];
        for (int k = 0; k < 3; k++) {
                job_path(job, job->segs[i].base, exts[k], path);
                bg_unlink(job->st, path);
        }
        job->segs[i].state = JS_GONE;
}

/* Frees @p job, removing whatever .cleaned files it still has. */
static void
job_free(rill__compact_job_t *job)
{
        for (int i = 0; i < job->nsegs; i++)
                if (job->segs[i].state == JS_CLEANED)
                        job_remove_cleaned(job, i);
        atomic_store(&job->st->busy, false);
        bg_unref(job->st);
        rill__free(job->segs);
        rill__free(job);
}

void
rill__compact_job_free(rill__compact_job_t *job)
{
        if (job)
                job_free(job);
}

rill__log_t *
rill__compact_job_log(const rill__compact_job_t *job)
{
        return atomic_load(&job->st->dead) ? NULL : job->log;
}

/* Between batches: false when the build must stop (cancelled, log gone). */
static bool
job_go_on(const rill__compact_job_t *job)
{
        if (atomic_load(&job->st->dead))
                return false;
        return !job->go_on || job->go_on(job->go_opaque);
}

/* Opens the .log of job segment @p i for reading. Returns the fd, or -1:
 * *gone is set when the file is missing or no longer the planned one
 * (retention deleted it meanwhile; commit sorts out the rest). */
static int
job_open_seg(const rill__compact_job_t *job, int i, bool *gone)
{
        char path[PATH_BUF];
        int fd;
        *gone = false;
        job_path(job, job->segs[i].base, ".log", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        *gone = true;
                else
                        RILL_LOG_E(LOG_COMP, "%s: open: %s", path, strerror(errno));
                return -1;
        }
        if (fd_size(fd) != job->segs[i].size) {
                close(fd);
                *gone = true;
                return -1;
        }
        return fd;
}

/*
 * Adds the keys of job segment @p i to the map. Returns 1 when the whole
 * segment was mapped, 0 when the map filled up (then *mapped_to is one past
 * the last offset whose key made it), 2 when the segment is gone, -1 on an
 * I/O error, -2 when cancelled.
 */
static int
map_segment(rill__compact_job_t *job, int i, kmap_t *m, int64_t *mapped_to)
{
        const jseg_t *s = &job->segs[i];
        int64_t pos = 0;
        bool gone;
        int fd = job_open_seg(job, i, &gone);
        fwin_t w;
        int ret = 1;

        if (fd < 0)
                return gone ? 2 : -1;
        fwin_init(&w, fd, s->size, 1 << 20);
        while (pos < s->size && ret == 1) {
                int shrt;
                const uint8_t *p;
                size_t bsize = 0;
                rill__batch_hdr_t h;
                rill__record_iter_t it;
                rill__record_t r;
                if (!job_go_on(job)) {
                        ret = -2;
                        break;
                }
                p = fwin_get(&w, pos, 12, &shrt);
                if (p) {
                        bsize = rill__batch_size(p);
                        p = bsize >= RILL__BATCH_HDR_SIZE ? fwin_get(&w, pos, bsize, &shrt) : NULL;
                }
                if (!p) {
                        /* Shorter than planned: truncated meanwhile. */
                        ret = shrt ? 2 : -1;
                        break;
                }
                rill__batch_hdr_parse(p, &h);
                if (!batch_skipped_by_cleaner(&h) && rill__record_iter_init(&it, p, bsize) == RILL_OK) {
                        while (rill__record_iter_next(&it, &r) == 1) {
                                if (r.key_len < 0)
                                        continue;
                                if (!kmap_put(m, r.key, r.key_len, r.offset)) {
                                        ret = 0;
                                        break;
                                }
                                *mapped_to = r.offset + 1;
                        }
                        rill__record_iter_destroy(&it);
                } else if (!batch_skipped_by_cleaner(&h)) {
                        rill__record_iter_destroy(&it);
                }
                if (ret == 1)
                        *mapped_to = add64(h.base_offset, h.last_offset_delta + 1);
                pos += (int64_t)bsize;
        }
        fwin_free(&w);
        close(fd);
        return ret;
}

/* Output of a segment rewrite. */
typedef struct cleaned {
        int fd;
        int64_t size, next, max_ts, max_ts_off, first_ts, since, tidx_last;
        rill__wbuf_t buf, idx, tidx;
        int nbatches;
} cleaned_t;

static int
cleaned_flush(cleaned_t *c)
{
        if (c->buf.len == 0)
                return 0;
        if (pwrite_all(c->fd, c->buf.buf, c->buf.len, c->size - (int64_t)c->buf.len) != 0)
                return -1;
        rill__wb_reset(&c->buf);
        return 0;
}

/* Appends one batch to the cleaned output, with index entries (the same
 * rule as append()). */
static int
cleaned_add(const rill__compact_job_t *job, const jseg_t *s, cleaned_t *c, const uint8_t *b,
            size_t bsize)
{
        rill__batch_hdr_t h;
        int64_t last;
        rill__batch_hdr_parse(b, &h);
        last = add64(h.base_offset, h.last_offset_delta);
        if (c->size == 0)
                c->first_ts = h.max_timestamp;
        if (h.max_timestamp > c->max_ts) {
                c->max_ts = h.max_timestamp;
                c->max_ts_off = last;
        }
        if (c->since > job->index_interval_bytes) {
                uint8_t *e = rill__wb_extend(&c->idx, IDX_ENTRY);
                rill__put_be32(e, (uint32_t)(last - s->base));
                rill__put_be32(e + 4, (uint32_t)c->size);
                if (c->max_ts > c->tidx_last) {
                        e = rill__wb_extend(&c->tidx, TIDX_ENTRY);
                        rill__put_be64(e, (uint64_t)c->max_ts);
                        rill__put_be32(e + 8, (uint32_t)(c->max_ts_off - s->base));
                        c->tidx_last = c->max_ts;
                }
                c->since = 0;
        }
        c->since += (int64_t)bsize;
        rill__wb_raw(&c->buf, b, bsize);
        c->size += (int64_t)bsize;
        c->next = last + 1;
        c->nbatches++;
        if (c->buf.len >= (1u << 20))
                return cleaned_flush(c);
        return 0;
}

/* Writes @p content to a new file @p path (through bg_create) and fsyncs
 * it. Returns 0 or -1 with errno set. */
static int
job_write_file(rill__compact_job_t *job, const char *path, const rill__wbuf_t *content)
{
        int fd = bg_create(job->st, path), r = 0;
        if (fd < 0)
                return -1;
        if (pwrite_all(fd, content->buf, content->len, 0) != 0 || fsync(fd) != 0)
                r = -1;
        close(fd);
        return r;
}

/*
 * Rewrites job segment @p i into <base>.log.cleaned (+ .index.cleaned and
 * .timeindex.cleaned), all fsynced, keeping what the map and the delete
 * horizon allow. Sets the segment's state: JS_CLEANED, JS_SAME (nothing to
 * drop: no files left behind) or JS_GONE.
 */
static rill_err_t
clean_segment(rill__compact_job_t *job, int i, const kmap_t *m)
{
        jseg_t *s = &job->segs[i];
        char cpath[PATH_BUF], path[PATH_BUF];
        bool drop_tombstones, gone;
        int64_t pos = 0, dropped = 0;
        int fd = job_open_seg(job, i, &gone);
        fwin_t w;
        cleaned_t c;
        rill_err_t err = RILL_OK;

        if (fd < 0) {
                if (!gone)
                        return RILL_ERR_IO;
                s->state = JS_GONE;
                return RILL_OK;
        }
        drop_tombstones = s->largest_ts < sub_sat(job->now_ms, job->delete_retention_ms);
        job_path(job, s->base, ".log.cleaned", cpath);
        memset(&c, 0, sizeof(c));
        c.max_ts = c.max_ts_off = c.first_ts = c.tidx_last = -1;
        c.next = s->base;
        c.fd = bg_create(job->st, cpath);
        if (c.fd < 0) {
                int e = errno;
                close(fd);
                if (e == ESHUTDOWN)
                        return RILL_ERR_SHUTDOWN;
                RILL_LOG_E(LOG_COMP, "%s: create: %s", cpath, strerror(e));
                return errno_err(e);
        }
        /* From here on the files exist: failures below remove them. */
        s->state = JS_CLEANED;
        rill__wb_init(&c.buf, 1 << 16);
        rill__wb_init(&c.idx, 256);
        rill__wb_init(&c.tidx, 256);
        fwin_init(&w, fd, s->size, 1 << 20);

        while (pos < s->size && err == RILL_OK) {
                int shrt, nkeep = 0, ntotal = 0, rc;
                const uint8_t *p;
                size_t bsize = 0;
                rill__batch_hdr_t h;
                rill__record_iter_t it;
                rill__record_t r;

                if (!job_go_on(job)) {
                        err = RILL_ERR_SHUTDOWN;
                        break;
                }
                p = fwin_get(&w, pos, 12, &shrt);
                if (p) {
                        bsize = rill__batch_size(p);
                        p = bsize >= RILL__BATCH_HDR_SIZE ? fwin_get(&w, pos, bsize, &shrt) : NULL;
                }
                if (!p) {
                        if (shrt)
                                gone = true; /* shorter than planned: truncated meanwhile */
                        else
                                err = RILL_ERR_IO;
                        break;
                }
                pos += (int64_t)bsize;
                rill__batch_hdr_parse(p, &h);
                if (batch_skipped_by_cleaner(&h) || rill__record_iter_init(&it, p, bsize) != RILL_OK) {
                        if (!batch_skipped_by_cleaner(&h))
                                rill__record_iter_destroy(&it);
                        if (cleaned_add(job, s, &c, p, bsize) != 0)
                                err = errno_err(errno);
                        continue;
                }
                /* Pass 1: count what stays. */
                while ((rc = rill__record_iter_next(&it, &r)) == 1) {
                        bool keep = true;
                        ntotal++;
                        if (r.key_len >= 0) {
                                int64_t latest = kmap_get(m, r.key, r.key_len);
                                if (latest > r.offset)
                                        keep = false;
                                else if (r.value_len < 0 && drop_tombstones && r.offset < job->mapped_to)
                                        keep = false;
                        }
                        nkeep += keep;
                }
                rill__record_iter_destroy(&it);
                if (rc < 0 || nkeep == ntotal) {
                        /* Undecodable or untouched: copy as is. */
                        if (cleaned_add(job, s, &c, p, bsize) != 0)
                                err = errno_err(errno);
                        continue;
                }
                dropped += ntotal - nkeep;
                if (nkeep == 0)
                        continue;
                /* Pass 2: re-encode the survivors. */
                {
                        rill__batch_builder_t b;
                        bool lat = (h.attributes & RILL__BATCH_ATTR_LOG_APPEND_TIME) != 0;
                        rill__batch_builder_init(&b, h.base_offset, h.base_timestamp);
                        b.attributes = (int16_t)(h.attributes & RILL__BATCH_ATTR_LOG_APPEND_TIME);
                        b.producer_id = h.producer_id;
                        b.producer_epoch = h.producer_epoch;
                        b.base_sequence = h.base_sequence;
                        rill__record_iter_init(&it, p, bsize);
                        while (rill__record_iter_next(&it, &r) == 1) {
                                if (r.key_len >= 0) {
                                        int64_t latest = kmap_get(m, r.key, r.key_len);
                                        if (latest > r.offset ||
                                            (r.value_len < 0 && drop_tombstones && r.offset < job->mapped_to))
                                                continue;
                                }
                                rill__batch_builder_add(&b, (int64_t)((uint64_t)r.offset - (uint64_t)h.base_offset),
                                                        lat ? h.base_timestamp : r.timestamp,
                                                        r.key, r.key_len, r.value, r.value_len,
                                                        r.headers, r.headers_len, r.header_count);
                        }
                        rill__record_iter_destroy(&it);
                        b.last_offset_delta = h.last_offset_delta;
                        if (lat)
                                b.max_timestamp = h.max_timestamp;
                        rill__batch_builder_finish(&b);
                        rill__put_be32(b.buf.buf + RILL__BATCH_OFF_LEADER_EPOCH, (uint32_t)h.leader_epoch);
                        if (cleaned_add(job, s, &c, b.buf.buf, b.buf.len) != 0)
                                err = errno_err(errno);
                        rill__batch_builder_destroy(&b);
                }
        }
        fwin_free(&w);
        close(fd);
        if (err == RILL_OK && gone) {
                close(c.fd);
                job_remove_cleaned(job, i);
                s->state = JS_GONE;
                rill__wb_free(&c.buf);
                rill__wb_free(&c.idx);
                rill__wb_free(&c.tidx);
                return RILL_OK;
        }
        if (err == RILL_OK && dropped == 0) {
                /* Nothing to drop: the segment stays as it is. */
                close(c.fd);
                job_remove_cleaned(job, i);
                s->state = JS_SAME;
                rill__wb_free(&c.buf);
                rill__wb_free(&c.idx);
                rill__wb_free(&c.tidx);
                return RILL_OK;
        }
        if (err == RILL_OK && cleaned_flush(&c) != 0)
                err = errno_err(errno);
        if (err == RILL_OK && fsync(c.fd) != 0)
                err = errno_err(errno);
        close(c.fd);
        if (err == RILL_OK) {
                if (c.max_ts >= 0 && c.max_ts > c.tidx_last) {
                        uint8_t *e = rill__wb_extend(&c.tidx, TIDX_ENTRY);
                        rill__put_be64(e, (uint64_t)c.max_ts);
                        rill__put_be32(e + 8, (uint32_t)(c.max_ts_off - s->base));
                }
                job_path(job, s->base, ".index.cleaned", path);
                if (job_write_file(job, path, &c.idx) != 0)
                        err = errno == ESHUTDOWN ? RILL_ERR_SHUTDOWN : errno_err(errno);
                job_path(job, s->base, ".timeindex.cleaned", path);
                if (err == RILL_OK && job_write_file(job, path, &c.tidx) != 0)
                        err = errno == ESHUTDOWN ? RILL_ERR_SHUTDOWN : errno_err(errno);
        }
        rill__wb_free(&c.buf);
        rill__wb_free(&c.idx);
        rill__wb_free(&c.tidx);
        if (err != RILL_OK) {
                if (err != RILL_ERR_SHUTDOWN)
                        RILL_LOG_E(LOG_COMP, "%s: compaction of segment %020" PRId64 " failed: %s",
                                   job->st->dir, s->base, rill_err2str(err));
                job_remove_cleaned(job, i);
                return err;
        }
        job->dropped += dropped;
        s->nsize = c.size;
        s->next = c.next;
        s->max_ts = c.max_ts;
        s->max_ts_off = c.max_ts_off;
        s->first_ts = c.first_ts;
        return RILL_OK;
}

rill_err_t
rill__log_compact_plan(rill__log_t *log, int64_t now_ms, rill__compact_job_t **out)
{
        int lim, first_dirty = -1;
        int64_t clean_bytes = 0, dirty_bytes = 0, *lts;
        bool forced;
        rill__compact_job_t *job;

        *out = NULL;
        if (!(log->conf.cleanup_policy & RILL__CLEANUP_COMPACT) || log->nsegs < 2 ||
            atomic_load(&log->st->busy))
                return RILL_DECLINED;
        /* Cleanable: closed segments older than min.compaction.lag.ms. */
        lts = rill__malloc((size_t)log->nsegs * sizeof(*lts));
        lim = log->nsegs - 1;
        for (int i = 0; i < lim; i++) {
                /* An empty segment (a first segment emptied by compaction)
                 * holds nothing young, whatever its mtime says. */
                lts[i] = log->segs[i].size == 0 ? -1 : seg_largest_ts(log, i);
                if (lts[i] > sub_sat(now_ms, log->conf.min_compaction_lag_ms)) {
                        lim = i;
                        break;
                }
        }
        for (int i = 0; i < lim; i++) {
                if (first_dirty < 0 && log->segs[i].next > log->cleaner_ckpt)
                        first_dirty = i;
                if (first_dirty < 0)
                        clean_bytes += log->segs[i].size;
                else
                        dirty_bytes += log->segs[i].size;
        }
        if (first_dirty < 0 || dirty_bytes == 0) {
                rill__free(lts);
                return RILL_DECLINED;
        }
        forced = log->conf.max_compaction_lag_ms >= 0 && log->conf.max_compaction_lag_ms < INT64_MAX &&
                 lts[first_dirty] < sub_sat(now_ms, log->conf.max_compaction_lag_ms);
        if (!forced && (double)dirty_bytes / (double)(clean_bytes + dirty_bytes) <
                               log->conf.min_cleanable_dirty_ratio) {
                rill__free(lts);
                return RILL_DECLINED;
        }
        job = RILL__NEW(rill__compact_job_t);
        job->st = bg_ref(log->st);
        job->log = log;
        job->epoch = log->st->epoch;
        job->now_ms = now_ms;
        job->delete_retention_ms = log->conf.delete_retention_ms;
        job->index_interval_bytes = log->conf.index_interval_bytes;
        job->nsegs = lim;
        job->first_dirty = first_dirty;
        job->clean_bytes = clean_bytes;
        job->dirty_bytes = dirty_bytes;
        job->segs = rill__calloc((size_t)lim, sizeof(*job->segs));
        for (int i = 0; i < lim; i++) {
                job->segs[i].base = log->segs[i].base;
                job->segs[i].size = log->segs[i].size;
                job->segs[i].largest_ts = lts[i];
        }
        rill__free(lts);
        atomic_store(&log->st->busy, true);
        *out = job;
        return RILL_OK;
}

rill_err_t
rill__compact_job_build(rill__compact_job_t *job, bool (*go_on)(void *opaque), void *opaque)
{
        kmap_t m;
        rill_err_t err = RILL_OK;

        job->go_on = go_on;
        job->go_opaque = opaque;
        memset(&m, 0, sizeof(m));
        m.slots = 1024;
        m.t = rill__calloc(m.slots, sizeof(*m.t));
        m.seed1 = rand64();
        m.seed2 = rand64() ^ 0x5851F42D4C957F2DULL;

        /* Map the dirty segments. */
        job->mapped_to = job->segs[job->first_dirty].base;
        job->end = job->first_dirty;
        for (int i = job->first_dirty; i < job->nsegs; i++) {
                int r = map_segment(job, i, &m, &job->mapped_to);
                if (r < 0) {
                        err = r == -2 ? RILL_ERR_SHUTDOWN : RILL_ERR_IO;
                        break;
                }
                job->end = i + 1;
                if (r == 2)
                        job->segs[i].state = JS_GONE;
                if (r == 0)
                        break;
        }
        job->keys = m.used;
        if (err == RILL_OK)
                RILL_LOG_D(LOG_COMP, "%s: compacting segments up to offset %" PRId64 " (%zu keys, dirty %"
                           PRId64 " of %" PRId64 " bytes)", job->st->dir, job->mapped_to, m.used,
                           job->dirty_bytes, job->clean_bytes + job->dirty_bytes);

        /* Rewrite every segment up to the mapped end. */
        for (int i = 0; i < job->end && err == RILL_OK; i++) {
                if (job->segs[i].state == JS_GONE)
                        continue;
                err = clean_segment(job, i, &m);
        }
        rill__free(m.t);
        if (err != RILL_OK) {
                for (int i = 0; i < job->nsegs; i++)
                        if (job->segs[i].state == JS_CLEANED)
                                job_remove_cleaned(job, i);
        }
        job->go_on = NULL;
        job->go_opaque = NULL;
        job->err = err;
        job->built = true;
        return err;
}

/* Index of the segment whose base is @p base, or -1. */
static int
seg_index_of(const rill__log_t *log, int64_t base)
{
        int si = seg_find(log, base);
        return log->nsegs > 0 && log->segs[si].base == base ? si : -1;
}

/*
 * Swaps job segment @p js into segment @p si: old indexes out first (a
 * missing index is rebuilt at open), then the log (atomic rename), then the
 * new indexes. A segment left empty is deleted, except the first, which
 * stays as an empty file so that the log start offset does not move:
 * compaction never makes offsets out of range, reads just skip ahead.
 */
static rill_err_t
swap_in(rill__log_t *log, int si, const rill__compact_job_t *job, int i)
{
        const jseg_t *js = &job->segs[i];
        seg_t *s = &log->segs[si];
        char lpath[PATH_BUF], cpath[PATH_BUF], path[PATH_BUF];
        static const char *const iext[2] = {".index", ".timeindex"};
        int hold;

        seg_path(log, s->base, ".log", lpath);
        seg_path(log, s->base, ".log.cleaned", cpath);
        if (js->nsize == 0 && si > 0) {
                unlink(cpath);
                for (int k = 0; k < 2; k++) {
                        char ext[32];
                        snprintf(ext, sizeof(ext), "%s.cleaned", iext[k]);
                        seg_path(log, s->base, ext, path);
                        unlink(path);
                }
                seg_delete(log, si, "compaction left it empty");
                return RILL_OK;
        }
        for (int k = 0; k < 2; k++) {
                seg_path(log, s->base, iext[k], path);
                unlink(path);
        }
        hold = release_hold(log, lpath);
        if (rename(cpath, lpath) != 0) {
                int e = errno;
                RILL_LOG_E(LOG_COMP, "%s: rename: %s", cpath, strerror(e));
                if (hold >= 0)
                        close(hold);
                return errno_err(e);
        }
        release_hand(log, hold);
        for (int k = 0; k < 2; k++) {
                char ext[32], dst[PATH_BUF];
                snprintf(ext, sizeof(ext), "%s.cleaned", iext[k]);
                seg_path(log, s->base, ext, path);
                seg_path(log, s->base, iext[k], dst);
                if (rename(path, dst) != 0)
                        unlink(path);
        }
        log->total_size += js->nsize - s->size;
        s->size = js->nsize;
        s->next = js->next;
        s->max_ts = js->max_ts;
        s->max_ts_off = js->max_ts_off;
        s->first_ts = js->first_ts;
        return RILL_OK;
}

rill_err_t
rill__log_compact_commit(rill__log_t *log, rill__compact_job_t *job)
{
        rill_err_t err = job->err;
        bool ok = job->built && err == RILL_OK && job->log == log && job->epoch == log->st->epoch &&
                  (log->conf.cleanup_policy & RILL__CLEANUP_COMPACT);
        bool present_seen = false, changed = false;
        int committed = 0, gone = 0;

        /* Segments deleted since the plan must be a prefix (retention,
         * DeleteRecords): their results are dropped. Any other difference
         * - a segment present but not as planned, a gap - voids the pass:
         * dropping a tombstone is only right when every older value of its
         * key went too. */
        for (int i = 0; ok && i < job->end; i++) {
                const jseg_t *js = &job->segs[i];
                int si = seg_index_of(log, js->base);
                if (si < 0) {
                        if (present_seen)
                                ok = false;
                        gone++;
                        continue;
                }
                present_seen = true;
                if (js->state == JS_GONE || si >= log->nsegs - 1 || log->segs[si].size != js->size)
                        ok = false;
        }
        if (!ok) {
                if (job->built && err == RILL_OK)
                        RILL_LOG_I(LOG_COMP, "%s: compaction result discarded: the log changed during the pass",
                                   log->dir);
                job_free(job);
                return err != RILL_OK ? err : RILL_DECLINED;
        }
        /* The read cache may hold a segment about to be replaced. */
        rd_cache_drop(log);
        for (int i = 0; i < job->end && err == RILL_OK; i++) {
                int si;
                if (job->segs[i].state != JS_CLEANED)
                        continue;
                si = seg_index_of(log, job->segs[i].base);
                if (si < 0) {
                        job_remove_cleaned(job, i);
                        continue;
                }
                err = swap_in(log, si, job, i);
                job->segs[i].state = err == RILL_OK ? JS_SAME : JS_CLEANED;
                committed++;
                changed = true;
        }
        if (err != RILL_OK) {
                /* The rest stays as it was (job_free removes its files);
                 * the checkpoint does not move, the next pass redoes it. */
                job_free(job);
                return err;
        }
        if (job->mapped_to > log->cleaner_ckpt) {
                log->cleaner_ckpt = job->mapped_to;
                if (log->syncer) {
                        rill__log_sync_t *t = sync_new(log, SYNC_CLEANER_CKPT);
                        t->value = job->mapped_to;
                        log->syncer(log->syncer_opaque, t);
                } else {
                        if (changed)
                                rill__fsync_dir(log->dir);
                        if (write_ckpt(log, CLEANER_CKPT, job->mapped_to) != 0)
                                RILL_LOG_W(LOG_COMP, "%s: writing %s: %s", log->dir, CLEANER_CKPT,
                                           strerror(errno));
                }
        } else if (changed) {
                dir_sync(log);
        }
        if (committed > 0 || job->dropped > 0)
                RILL_LOG_I(LOG_COMP, "%s: compaction removed %" PRId64 " records (%d segment%s rewritten%s)",
                           log->dir, job->dropped, committed, committed == 1 ? "" : "s",
                           gone ? "; results for segments deleted meanwhile dropped" : "");
        else
                RILL_LOG_D(LOG_COMP, "%s: compaction found nothing to remove up to offset %" PRId64,
                           log->dir, job->mapped_to);
        job_free(job);
        return RILL_OK;
}

rill_err_t
rill__log_compact(rill__log_t *log, int64_t now_ms)
{
        rill__compact_job_t *job;
        rill_err_t err = rill__log_compact_plan(log, now_ms, &job);
        if (err != RILL_OK)
                return err;
        rill__compact_job_build(job, NULL, NULL);
        return rill__log_compact_commit(log, job);
}
