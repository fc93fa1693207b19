/*
 * broker.c - the broker's lifecycle (rill_broker_*), its topic registry and
 * the periodic work of the event loop.
 *
 * Data directory (the first entry of log.dirs):
 *   .lock                   flock()ed while a broker runs on this directory
 *   meta.properties         version, rill.format, node.id, cluster.id
 *   __rill_topics/<topic id>.properties
 *                           one file per topic, named by the topic's UUID in
 *                           hex (a 249-character topic name would not fit a
 *                           file name): name, id, partition
 *                           count, replication factor, internal flag and the
 *                           topic-level config overrides. Written to a .tmp
 *                           file, fsynced, renamed over the old one and the
 *                           directory fsynced, so it is always either the old
 *                           or the new version. This file is the commit point
 *                           of topic creation, partition addition, config
 *                           changes and (by its removal) deletion.
 *   <topic>-<partition>/    the partition logs, Kafka's layout (log.c)
 * At start, partition directories that belong to no topic (left behind by a
 * crash during create, add-partitions or delete) are removed.
 *
 * Start: lock the directory, read or create meta.properties (a node.id that
 * does not match the directory fails the start), load every topic and open
 * and recover its partition logs (with progress in the log), start the group
 * coordinator (rill__groups_new + rill__groups_load), bind the listener and
 * start the loop thread. Stop: cancel the log cleaner's pass, end the loop
 * thread, free parked requests (groups first), close every connection, join
 * the storage threads (cleaner.c: the cleaner, then the flusher after it
 * ran the queued fsyncs), then close every log cleanly (flush +
 * clean-shutdown marker) and unlock. Kill does the same but drops the
 * queued fsyncs and skips the clean close of the logs, so the next start
 * runs crash recovery.
 *
 * Periodic work (the ~50 ms tick on the loop thread): group coordinator
 * timers, flush.ms, retention every log.retention.check.interval.ms, and
 * compaction through cleaner.c (commit a finished pass, hand over the next
 * log); the compaction itself and the fsync of rolled segments run on the
 * cleaner's threads, never on the loop.
 *
 * The topic registry is an array in creation order plus an open-addressing
 * hash table (name -> index) rebuilt on every create and delete, which are
 * rare next to the lookups done by every Produce and Fetch.
 *
 * Threading: rill_broker_start/stop/kill/restart/destroy are called by the
 * owner of the broker, never concurrently for one broker; they only touch
 * the broker's state while the loop thread is not running (before it is
 * created or after it has been joined). rill_broker_port, _bootstrap and
 * _node_id are safe from any thread. Everything else - the registry and the
 * rill__* hooks - runs on the loop thread only.
 */
#include "server.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "group.h"
#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define TOPICS_DIR "__rill_topics"
#define TICK_MS 50
#define MAX_PARTITIONS_PER_TOPIC 100000
#define KERR_TOPIC_DELETION_DISABLED 73

static void bufpool_clear(rill_broker_t *b);

/* ---- small helpers ---- */

static void
random_bytes(uint8_t *buf, size_t n)
{
        size_t got = 0;
        while (got < n) {
                ssize_t r = getrandom(buf + got, n - got, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        /* Fall back to something unique enough. */
                        for (; got < n; got++)
                                buf[got] = (uint8_t)(rill__mono_us() >> (got % 8));
                        return;
                }
                got += (size_t)r;
        }
}

/* Kafka's Uuid.toString(): URL-safe base64 without padding (22 chars). */
static void
uuid_base64(const uint8_t id[16], char out[23])
{
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int o = 0;
        for (int i = 0; i < 16; i += 3) {
                uint32_t v = (uint32_t)id[i] << 16;
                int n = 16 - i >= 3 ? 3 : 16 - i;
                if (n > 1)
                        v |= (uint32_t)id[i + 1] << 8;
                if (n > 2)
                        v |= id[i + 2];
                out[o++] = tab[(v >> 18) & 63];
                out[o++] = tab[(v >> 12) & 63];
                if (n > 1)
                        out[o++] = tab[(v >> 6) & 63];
                if (n > 2)
                        out[o++] = tab[v & 63];
        }
        out[o] = '\0';
}

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hx[p[i] >> 4];
                out[2 * i + 1] = hx[p[i] & 15];
        }
        out[2 * n] = '\0';
}

static bool
hex_decode(const char *s, uint8_t *out, size_t n)
{
        if (strlen(s) != 2 * n)
                return false;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;
                char a = s[2 * i], c = s[2 * i + 1];
                hi = isdigit((unsigned char)a) ? a - '0' : (tolower((unsigned char)a) - 'a' + 10);
                lo = isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
                if (!isxdigit((unsigned char)a) || !isxdigit((unsigned char)c))
                        return false;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return true;
}

/* Escapes backslash, CR and LF so a value stays on one line. */
static void
prop_escape(FILE *f, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else if (*s == '\r')
                        fputs("\\r", f);
                else
                        fputc(*s, f);
        }
}

static void
prop_unescape(char *s)
{
        char *o = s;
        for (; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        *o++ = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
                } else {
                        *o++ = *s;
                }
        }
        *o = '\0';
}

/* A tiny key=value reader for our own files. Calls @p cb per entry. */
static rill_err_t
props_read(const char *path, int (*cb)(void *opaque, char *key, char *value), void *opaque,
           char *errstr, size_t errstr_size)
{
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int lineno = 0;
        if (!f) {
                rill__errf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
                return errno == ENOENT ? RILL_ERR_NOT_FOUND : RILL_ERR_IO;
        }
        while ((n = getline(&line, &cap, f)) >= 0) {
                char *eq;
                lineno++;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (!line[0] || line[0] == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq) {
                        rill__errf(errstr, errstr_size, "%s:%d: not a key=value line", path, lineno);
                        free(line);
                        fclose(f);
                        return RILL_ERR_CORRUPT;
                }
                *eq = '\0';
                prop_unescape(eq + 1);
                if (cb(opaque, line, eq + 1) != 0) {
                        rill__errf(errstr, errstr_size, "%s:%d: invalid value for %s", path,
                                   lineno, line);
                        free(line);
                        fclose(f);
                        return RILL_ERR_CORRUPT;
                }
        }
        free(line);
        fclose(f);
        return RILL_OK;
}

/* Writes @p content to @p path atomically and durably: tmp file, fsync,
 * rename, fsync of the directory. */
static rill_err_t
write_file_durably(const char *dir, const char *name, const char *content, char *errstr,
                   size_t errstr_size)
{
        char *path = rill__asprintf("%s/%s", dir, name);
        char *tmp = rill__asprintf("%s/%s.tmp", dir, name);
        size_t len = strlen(content), off = 0;
        rill_err_t err = RILL_ERR_IO;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                rill__errf(errstr, errstr_size, "cannot create %s: %s", tmp, strerror(errno));
                goto out;
        }
        while (off < len) {
                ssize_t w = write(fd, content + off, len - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        rill__errf(errstr, errstr_size, "cannot write %s: %s", tmp, strerror(errno));
                        err = errno == ENOSPC ? RILL_ERR_NO_SPACE : RILL_ERR_IO;
                        close(fd);
                        unlink(tmp);
                        goto out;
                }
                off += (size_t)w;
        }
        if (fsync(fd) != 0) {
                rill__errf(errstr, errstr_size, "cannot fsync %s: %s", tmp, strerror(errno));
                close(fd);
                unlink(tmp);
                goto out;
        }
        close(fd);
        if (rename(tmp, path) != 0) {
                rill__errf(errstr, errstr_size, "cannot rename %s: %s", tmp, strerror(errno));
                unlink(tmp);
                goto out;
        }
        if (rill__fsync_dir(dir) != 0) {
                rill__errf(errstr, errstr_size, "cannot fsync %s: %s", dir, strerror(errno));
                goto out;
        }
        err = RILL_OK;
out:
        rill__free(path);
        rill__free(tmp);
        return err;
}

/* ---- accessors ---- */

const struct rill_broker_conf_s *
rill__broker_conf(const rill_broker_t *b)
{
        return b->conf;
}

const char *
rill__broker_adv_host(const rill_broker_t *b)
{
        return b->adv_host;
}

int
rill__broker_adv_port(const rill_broker_t *b)
{
        return b->adv_port;
}

const char *
rill__broker_cluster_id(const rill_broker_t *b)
{
        return b->cluster_id;
}

const char *
rill__broker_data_dir(const rill_broker_t *b)
{
        return b->data_dir;
}

rill__groups_t *
rill__broker_groups(rill_broker_t *b)
{
        return b->groups;
}

int64_t
rill__broker_idle_ms(const rill_broker_t *b)
{
        return b->conf->connections_max_idle_ms;
}

int32_t
rill__broker_max_request(const rill_broker_t *b)
{
        return b->conf->socket_request_max_bytes;
}

int
rill_broker_port(const rill_broker_t *b)
{
        return b ? atomic_load(&b->port) : 0;
}

const char *
rill_broker_bootstrap(const rill_broker_t *b)
{
        return b ? b->bootstrap : "";
}

int32_t
rill_broker_node_id(const rill_broker_t *b)
{
        return b->conf->node_id;
}

int16_t
rill__check_leader_epoch(const rill__partition_t *p, int32_t current_leader_epoch)
{
        if (current_leader_epoch < 0)
                return KERR_NONE;
        if (current_leader_epoch < p->leader_epoch)
                return KERR_FENCED_LEADER_EPOCH;
        if (current_leader_epoch > p->leader_epoch)
                return KERR_UNKNOWN_LEADER_EPOCH;
        return KERR_NONE;
}

/* ---- topic registry ---- */

static uint32_t
name_hash(const char *s, size_t len)
{
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++) {
                h ^= (uint8_t)s[i];
                h *= 16777619u;
        }
        return h;
}

static void
registry_rehash(rill_broker_t *b)
{
        int size = 16;
        while (size < b->topic_cnt * 2)
                size *= 2;
        if (size != b->topic_hash_size) {
                rill__free(b->topic_hash);
                b->topic_hash = rill__malloc((size_t)size * sizeof(*b->topic_hash));
                b->topic_hash_size = size;
        }
        for (int i = 0; i < size; i++)
                b->topic_hash[i] = -1;
        for (int i = 0; i < b->topic_cnt; i++) {
                const char *n = b->topics[i]->name;
                uint32_t h = name_hash(n, strlen(n)) & (uint32_t)(size - 1);
                while (b->topic_hash[h] >= 0)
                        h = (h + 1) & (uint32_t)(size - 1);
                b->topic_hash[h] = i;
        }
}

rill__topic_t *
rill__topic_find(rill_broker_t *b, const char *name, size_t len)
{
        uint32_t h, mask;
        if (!name || !b->topic_hash_size || !b->topic_cnt)
                return NULL;
        mask = (uint32_t)(b->topic_hash_size - 1);
        for (h = name_hash(name, len) & mask; b->topic_hash[h] >= 0; h = (h + 1) & mask) {
                rill__topic_t *t = b->topics[b->topic_hash[h]];
                if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
                        return t;
        }
        return NULL;
}

rill__partition_t *
rill__partition_find(rill_broker_t *b, rill__str_t topic, int32_t partition)
{
        rill__topic_t *t;
        if (topic.len < 0)
                return NULL;
        t = rill__topic_find(b, topic.ptr, (size_t)topic.len);
        if (!t || partition < 0 || partition >= t->partition_cnt)
                return NULL;
        return t->partitions[partition];
}

rill__topic_t *
rill__topic_at(rill_broker_t *b, int i)
{
        return i >= 0 && i < b->topic_cnt ? b->topics[i] : NULL;
}

static void
registry_add(rill_broker_t *b, rill__topic_t *t)
{
        if (b->topic_cnt == b->topic_cap) {
                b->topic_cap = b->topic_cap ? b->topic_cap * 2 : 16;
                b->topics = rill__realloc(b->topics, (size_t)b->topic_cap * sizeof(*b->topics));
        }
        b->topics[b->topic_cnt++] = t;
        registry_rehash(b);
}

static void
registry_remove(rill_broker_t *b, rill__topic_t *t)
{
        for (int i = 0; i < b->topic_cnt; i++) {
                if (b->topics[i] == t) {
                        memmove(&b->topics[i], &b->topics[i + 1],
                                (size_t)(b->topic_cnt - i - 1) * sizeof(*b->topics));
                        b->topic_cnt--;
                        break;
                }
        }
        registry_rehash(b);
}

static void
kv_free(rill__kv_t *kv, int cnt)
{
        for (int i = 0; i < cnt; i++) {
                rill__free(kv[i].key);
                rill__free(kv[i].value);
        }
        rill__free(kv);
}

static rill__kv_t *
kv_dup(const rill__kv_t *kv, int cnt)
{
        rill__kv_t *out;
        if (cnt <= 0)
                return NULL;
        out = rill__calloc((size_t)cnt, sizeof(*out));
        for (int i = 0; i < cnt; i++) {
                out[i].key = rill__strdup(kv[i].key);
                out[i].value = rill__strdup(kv[i].value ? kv[i].value : "");
        }
        return out;
}

/* Frees a topic and its partitions; logs are closed (cleanly or not) or
 * must already be gone. */
static void
topic_free(rill__topic_t *t, int how)
{
        for (int32_t i = 0; i < t->partition_cnt; i++) {
                rill__partition_t *p = t->partitions[i];
                if (!p)
                        continue;
                if (how == 1)
                        rill__log_close(p->log);
                else if (how == 2)
                        rill__log_abandon(p->log);
                rill__free(p);
        }
        rill__free(t->partitions);
        kv_free(t->overrides, t->override_cnt);
        rill__free(t->name);
        rill__free(t);
}

static char *
partition_dir(const rill_broker_t *b, const char *topic, int32_t p)
{
        return rill__asprintf("%s/%s-%d", b->data_dir, topic, p);
}

/* Builds the effective config of a topic from the broker defaults and
 * @p configs. */
static int16_t
topic_conf_build(rill_broker_t *b, const rill__kv_t *configs, int cnt, rill__log_conf_t *out,
                 char *errmsg, size_t errmsg_size)
{
        *out = b->conf->log;
        for (int i = 0; i < cnt; i++) {
                char msg[256] = "";
                rill_err_t e;
                if (!configs[i].key) {
                        rill__errf(errmsg, errmsg_size, "Null config name");
                        return KERR_INVALID_CONFIG;
                }
                if (!configs[i].value) /* null value: the broker default */
                        continue;
                e = rill__topic_conf_set(out, configs[i].key, configs[i].value, msg, sizeof(msg));
                if (e == RILL_ERR_NOT_FOUND) {
                        rill__errf(errmsg, errmsg_size, "Unknown topic config name: %s",
                                   configs[i].key);
                        return KERR_INVALID_CONFIG;
                }
                if (e != RILL_OK) {
                        rill__errf(errmsg, errmsg_size, "%s", msg[0] ? msg : "Invalid config value");
                        return KERR_INVALID_CONFIG;
                }
        }
        return KERR_NONE;
}

/* Persists the metadata of topic @p t with the given partition count and
 * overrides (which may differ from t's current ones: persist first, then
 * apply). */
static rill_err_t
topic_persist(rill_broker_t *b, const rill__topic_t *t, int32_t partition_cnt,
              const rill__kv_t *overrides, int override_cnt, char *errmsg, size_t errmsg_size)
{
        char *buf = NULL, *dir, *fname;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        char idhex[33];
        rill_err_t err;

        hex_encode(t->id, 16, idhex);
        fprintf(f, "# Rill topic metadata. Written by the broker; do not edit while it runs.\n");
        fprintf(f, "name=%s\nid=%s\npartitions=%d\nreplication.factor=%d\ninternal=%s\n", t->name,
                idhex, partition_cnt, t->replication_factor, t->internal ? "true" : "false");
        for (int i = 0; i < override_cnt; i++) {
                if (!overrides[i].value)
                        continue;
                fprintf(f, "config.%s=", overrides[i].key);
                prop_escape(f, overrides[i].value);
                fputc('\n', f);
        }
        fclose(f);
        dir = rill__asprintf("%s/%s", b->data_dir, TOPICS_DIR);
        hex_encode(t->id, 16, idhex);
        fname = rill__asprintf("%s.properties", idhex);
        err = write_file_durably(dir, fname, buf, errmsg, errmsg_size);
        free(buf);
        rill__free(dir);
        rill__free(fname);
        return err;
}

static bool
topic_name_valid(const char *name, char *errmsg, size_t errmsg_size)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0) {
                rill__errf(errmsg, errmsg_size, "Topic name is illegal, it can't be empty");
                return false;
        }
        if (!strcmp(name, ".") || !strcmp(name, "..")) {
                rill__errf(errmsg, errmsg_size, "Topic name cannot be \".\" or \"..\"");
                return false;
        }
        if (n > 249) {
                rill__errf(errmsg, errmsg_size,
                           "Topic name is illegal, it can't be longer than 249 characters");
                return false;
        }
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-')) {
                        rill__errf(errmsg, errmsg_size,
                                   "Topic name \"%.249s\" is illegal, it contains a character other "
                                   "than ASCII alphanumerics, '.', '_' and '-'",
                                   name);
                        return false;
                }
        }
        if (!strcmp(name, TOPICS_DIR)) {
                rill__errf(errmsg, errmsg_size, "Topic name %s is reserved", name);
                return false;
        }
        return true;
}

/* Opens partition @p i of @p t (creating its directory). A directory left
 * over from an earlier topic of the same name is removed first when
 * @p fresh. */
static rill__partition_t *
partition_open(rill_broker_t *b, rill__topic_t *t, int32_t i, bool fresh, char *errmsg,
               size_t errmsg_size)
{
        char *dir = partition_dir(b, t->name, i);
        rill__partition_t *p;
        rill__log_t *log = NULL;
        rill_err_t e;

        if (fresh) {
                struct stat st;
                if (stat(dir, &st) == 0) {
                        RILL_LOG_W("broker", "removing stale partition directory %s", dir);
                        rill__rmtree(dir);
                }
        }
        e = rill__log_open(dir, &t->conf, &log, errmsg, errmsg_size);
        rill__free(dir);
        if (e != RILL_OK)
                return NULL;
        if (b->cleaner)
                rill__log_set_syncer(log, rill__cleaner_syncer, b->cleaner);
        p = RILL__NEW(rill__partition_t);
        p->topic = t;
        p->id = i;
        p->log = log;
        p->high_watermark = rill__log_end_offset(log);
        p->leader_epoch = 0;
        return p;
}

int16_t
rill__topic_create(rill_broker_t *b, const char *name, int32_t partitions,
                   int16_t replication_factor, const rill__kv_t *configs, int config_cnt,
                   bool internal, bool validate_only, rill__topic_t **out, char *errmsg,
                   size_t errmsg_size)
{
        rill__log_conf_t conf;
        rill__topic_t *t;
        int16_t err;
        char msg[512] = "";

        if (out)
                *out = NULL;
        if (!topic_name_valid(name, errmsg, errmsg_size))
                return KERR_INVALID_TOPIC_EXCEPTION;
        if (rill__topic_find(b, name, strlen(name))) {
                rill__errf(errmsg, errmsg_size, "Topic '%s' already exists.", name);
                return KERR_TOPIC_ALREADY_EXISTS;
        }
        if (partitions == -1)
                partitions = b->conf->num_partitions;
        if (replication_factor == -1)
                replication_factor = b->conf->default_replication_factor;
        if (partitions < 1 || partitions > MAX_PARTITIONS_PER_TOPIC) {
                rill__errf(errmsg, errmsg_size, "Number of partitions must be between 1 and %d.",
                           MAX_PARTITIONS_PER_TOPIC);
                return KERR_INVALID_PARTITIONS;
        }
        if (replication_factor < 1) {
                rill__errf(errmsg, errmsg_size, "Replication factor must be larger than 0.");
                return KERR_INVALID_REPLICATION_FACTOR;
        }
        if (replication_factor > 1) {
                rill__errf(errmsg, errmsg_size,
                           "Replication factor: %d larger than available brokers: 1.",
                           replication_factor);
                return KERR_INVALID_REPLICATION_FACTOR;
        }
        err = topic_conf_build(b, configs, config_cnt, &conf, errmsg, errmsg_size);
        if (err != KERR_NONE)
                return err;
        if (validate_only)
                return KERR_NONE;

        t = RILL__NEW(rill__topic_t);
        t->name = rill__strdup(name);
        random_bytes(t->id, sizeof(t->id));
        t->replication_factor = replication_factor;
        t->internal = internal;
        t->conf = conf;
        t->overrides = kv_dup(configs, config_cnt);
        t->override_cnt = configs ? config_cnt : 0;
        t->partitions = rill__calloc((size_t)partitions, sizeof(*t->partitions));
        for (int32_t i = 0; i < partitions; i++) {
                t->partitions[i] = partition_open(b, t, i, true, msg, sizeof(msg));
                if (!t->partitions[i]) {
                        rill__errf(errmsg, errmsg_size, "cannot create partition %s-%d: %s", name,
                                   i, msg);
                        RILL_LOG_E("broker", "%s", errmsg);
                        for (int32_t j = 0; j < i; j++) {
                                rill__log_delete(t->partitions[j]->log);
                                t->partitions[j]->log = NULL;
                        }
                        t->partition_cnt = i;
                        topic_free(t, 0);
                        return KERR_KAFKA_STORAGE_ERROR;
                }
                t->partition_cnt = i + 1;
        }
        /* The new partition directories' entries must be durable before the
         * metadata file that makes the topic exist. */
        rill__fsync_dir(b->data_dir);
        if (topic_persist(b, t, partitions, t->overrides, t->override_cnt, msg, sizeof(msg)) !=
            RILL_OK) {
                rill__errf(errmsg, errmsg_size, "cannot persist topic %s: %s", name, msg);
                RILL_LOG_E("broker", "%s", errmsg);
                for (int32_t j = 0; j < t->partition_cnt; j++) {
                        rill__log_delete(t->partitions[j]->log);
                        t->partitions[j]->log = NULL;
                }
                topic_free(t, 0);
                return KERR_KAFKA_STORAGE_ERROR;
        }
        registry_add(b, t);
        RILL_LOG_I("broker", "created topic %s (%d partitions, replication factor %d%s)", name,
                   partitions, replication_factor, internal ? ", internal" : "");
        if (out)
                *out = t;
        return KERR_NONE;
}

int16_t
rill__topic_delete(rill_broker_t *b, const char *name, char *errmsg, size_t errmsg_size)
{
        rill__topic_t *t = name ? rill__topic_find(b, name, strlen(name)) : NULL;
        char *path, idhex[33];

        if (!t) {
                rill__errf(errmsg, errmsg_size, "This server does not host this topic-partition.");
                return KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (t->internal) {
                rill__errf(errmsg, errmsg_size, "Internal topic %s cannot be deleted.", name);
                return KERR_INVALID_TOPIC_EXCEPTION;
        }
        if (!b->conf->delete_topic_enable) {
                rill__errf(errmsg, errmsg_size, "Topic deletion is disabled (delete.topic.enable).");
                return KERR_TOPIC_DELETION_DISABLED;
        }
        /* The commit point: once the metadata file is gone, so is the topic
         * (leftover partition directories are removed at the next start). */
        hex_encode(t->id, 16, idhex);
        path = rill__asprintf("%s/%s/%s.properties", b->data_dir, TOPICS_DIR, idhex);
        if (unlink(path) != 0 && errno != ENOENT) {
                rill__errf(errmsg, errmsg_size, "cannot remove %s: %s", path, strerror(errno));
                rill__free(path);
                return KERR_KAFKA_STORAGE_ERROR;
        }
        rill__free(path);
        path = rill__asprintf("%s/%s", b->data_dir, TOPICS_DIR);
        rill__fsync_dir(path);
        rill__free(path);

        registry_remove(b, t);
        /* Parked fetches may wait on this topic: answer them now (they look
         * topics up by name, so they see it gone). */
        rill__fetch_complete_all(b);
        for (int32_t i = 0; i < t->partition_cnt; i++) {
                if (rill__log_delete(t->partitions[i]->log) != RILL_OK)
                        RILL_LOG_W("broker", "could not remove all of %s-%d's directory; it "
                                   "will be removed at the next start", t->name, i);
                t->partitions[i]->log = NULL;
        }
        if (b->groups)
                rill__groups_topic_deleted(b->groups, t->name);
        RILL_LOG_I("broker", "deleted topic %s", t->name);
        topic_free(t, 0);
        return KERR_NONE;
}

int16_t
rill__topic_add_partitions(rill_broker_t *b, rill__topic_t *t, int32_t new_total,
                           bool validate_only, char *errmsg, size_t errmsg_size)
{
        int32_t old = t->partition_cnt;
        rill__partition_t **parts;
        char msg[512] = "";

        if (new_total <= old) {
                rill__errf(errmsg, errmsg_size,
                           "Topic currently has %d partitions, which is higher than the requested %d.",
                           old, new_total);
                return KERR_INVALID_PARTITIONS;
        }
        if (new_total > MAX_PARTITIONS_PER_TOPIC) {
                rill__errf(errmsg, errmsg_size, "Number of partitions must be at most %d.",
                           MAX_PARTITIONS_PER_TOPIC);
                return KERR_INVALID_PARTITIONS;
        }
        if (validate_only)
                return KERR_NONE;
        parts = rill__calloc((size_t)new_total, sizeof(*parts));
        memcpy(parts, t->partitions, (size_t)old * sizeof(*parts));
        for (int32_t i = old; i < new_total; i++) {
                parts[i] = partition_open(b, t, i, true, msg, sizeof(msg));
                if (!parts[i]) {
                        rill__errf(errmsg, errmsg_size, "cannot create partition %s-%d: %s",
                                   t->name, i, msg);
                        goto fail;
                }
        }
        rill__fsync_dir(b->data_dir);
        if (topic_persist(b, t, new_total, t->overrides, t->override_cnt, msg, sizeof(msg)) !=
            RILL_OK) {
                rill__errf(errmsg, errmsg_size, "cannot persist topic %s: %s", t->name, msg);
                goto fail;
        }
        rill__free(t->partitions);
        t->partitions = parts;
        t->partition_cnt = new_total;
        RILL_LOG_I("broker", "topic %s: %d -> %d partitions", t->name, old, new_total);
        return KERR_NONE;
fail:
        RILL_LOG_E("broker", "%s", errmsg);
        for (int32_t i = old; i < new_total && parts[i]; i++) {
                rill__log_delete(parts[i]->log);
                rill__free(parts[i]);
        }
        rill__free(parts);
        return KERR_KAFKA_STORAGE_ERROR;
}

int16_t
rill__topic_set_configs(rill_broker_t *b, rill__topic_t *t, const rill__kv_t *configs,
                        int config_cnt, bool validate_only, char *errmsg, size_t errmsg_size)
{
        rill__log_conf_t conf;
        rill__kv_t *kv;
        int cnt = 0;
        char msg[512] = "";
        int16_t err = topic_conf_build(b, configs, config_cnt, &conf, errmsg, errmsg_size);
        if (err != KERR_NONE || validate_only)
                return err;
        /* Null values mean "back to the default": they are not stored. */
        kv = config_cnt > 0 ? rill__calloc((size_t)config_cnt, sizeof(*kv)) : NULL;
        for (int i = 0; i < config_cnt; i++) {
                if (!configs[i].value)
                        continue;
                kv[cnt].key = rill__strdup(configs[i].key);
                kv[cnt].value = rill__strdup(configs[i].value);
                cnt++;
        }
        if (topic_persist(b, t, t->partition_cnt, kv, cnt, msg, sizeof(msg)) != RILL_OK) {
                rill__errf(errmsg, errmsg_size, "cannot persist topic %s: %s", t->name, msg);
                RILL_LOG_E("broker", "%s", errmsg);
                kv_free(kv, cnt);
                return KERR_KAFKA_STORAGE_ERROR;
        }
        kv_free(t->overrides, t->override_cnt);
        t->overrides = kv;
        t->override_cnt = cnt;
        t->conf = conf;
        for (int32_t i = 0; i < t->partition_cnt; i++)
                rill__log_set_conf(t->partitions[i]->log, &t->conf);
        return KERR_NONE;
}

int16_t
rill__partition_append(rill_broker_t *b, rill__partition_t *p, uint8_t *data, size_t len,
                       int64_t *first_offset, int64_t *append_time, char *errmsg,
                       size_t errmsg_size)
{
        rill_err_t e = rill__log_append(p->log, data, len, p->leader_epoch, first_offset,
                                        append_time, errmsg, errmsg_size);
        switch (e) {
        case RILL_OK:
                break;
        case RILL_ERR_CORRUPT:
        case RILL_ERR_PROTOCOL:
                return KERR_CORRUPT_MESSAGE;
        case RILL_ERR_TOO_LARGE:
                return KERR_MESSAGE_TOO_LARGE;
        case RILL_ERR_UNSUPPORTED:
                return KERR_UNSUPPORTED_COMPRESSION_TYPE;
        case RILL_ERR_INVALID_ARG:
                return KERR_INVALID_RECORD;
        default:
                RILL_LOG_E("broker", "append to %s-%d failed: %s", p->topic->name, p->id,
                           errmsg && errmsg[0] ? errmsg : rill_err2str(e));
                return KERR_KAFKA_STORAGE_ERROR;
        }
        /* Single node: everything appended is committed. With replication
         * the high watermark follows the in-sync replicas instead. */
        p->high_watermark = rill__log_end_offset(p->log);
        rill__fetch_notify(b, p);
        return KERR_NONE;
}

/* ---- loading at start ---- */

typedef struct topic_load {
        char *name;
        char *id;
        int32_t partitions;
        int16_t rf;
        bool internal;
        rill__kv_t *kv;
        int kv_cnt;
} topic_load_t;

static int
topic_load_cb(void *opaque, char *key, char *value)
{
        topic_load_t *tl = opaque;
        char *end;
        long v;
        if (!strcmp(key, "name")) {
                rill__free(tl->name);
                tl->name = rill__strdup(value);
        } else if (!strcmp(key, "id")) {
                rill__free(tl->id);
                tl->id = rill__strdup(value);
        } else if (!strcmp(key, "partitions")) {
                v = strtol(value, &end, 10);
                if (*end || v < 1 || v > MAX_PARTITIONS_PER_TOPIC)
                        return -1;
                tl->partitions = (int32_t)v;
        } else if (!strcmp(key, "replication.factor")) {
                v = strtol(value, &end, 10);
                if (*end || v < 1 || v > INT16_MAX)
                        return -1;
                tl->rf = (int16_t)v;
        } else if (!strcmp(key, "internal")) {
                tl->internal = !strcmp(value, "true");
        } else if (!strncmp(key, "config.", 7)) {
                tl->kv = rill__realloc(tl->kv, (size_t)(tl->kv_cnt + 1) * sizeof(*tl->kv));
                tl->kv[tl->kv_cnt].key = rill__strdup(key + 7);
                tl->kv[tl->kv_cnt].value = rill__strdup(value);
                tl->kv_cnt++;
        } /* unknown keys: ignored (newer format) */
        return 0;
}

typedef struct load_progress {
        int total;
        int done;
        int64_t next_log_ms;
} load_progress_t;

static rill_err_t
load_topic_file(rill_broker_t *b, const char *fname, load_progress_t *prog, char *errstr,
                size_t errstr_size)
{
        char *path = rill__asprintf("%s/%s/%s", b->data_dir, TOPICS_DIR, fname);
        topic_load_t tl;
        rill__topic_t *t;
        rill__log_conf_t conf;
        char msg[512] = "";
        uint8_t id[16];
        rill_err_t e;

        memset(&tl, 0, sizeof(tl));
        tl.rf = 1;
        e = props_read(path, topic_load_cb, &tl, errstr, errstr_size);
        if (e == RILL_OK && (!tl.name || !tl.partitions || !tl.id)) {
                rill__errf(errstr, errstr_size, "%s: missing name, id or partitions", path);
                e = RILL_ERR_CORRUPT;
        }
        if (e == RILL_OK && topic_conf_build(b, tl.kv, tl.kv_cnt, &conf, msg, sizeof(msg)) !=
                                    KERR_NONE) {
                rill__errf(errstr, errstr_size, "%s: %s", path, msg);
                e = RILL_ERR_CORRUPT;
        }
        if (e == RILL_OK) {
                char *expect = rill__asprintf("%s.properties", tl.id);
                if (!hex_decode(tl.id, id, 16) || strcmp(expect, fname)) {
                        rill__errf(errstr, errstr_size, "%s: id %s is not a topic id matching the "
                                   "file name", path, tl.id);
                        e = RILL_ERR_CORRUPT;
                } else if (rill__topic_find(b, tl.name, strlen(tl.name))) {
                        rill__errf(errstr, errstr_size, "%s: topic %s is defined twice", path,
                                   tl.name);
                        e = RILL_ERR_CORRUPT;
                }
                rill__free(expect);
        }
        if (e != RILL_OK)
                goto out;
        t = RILL__NEW(rill__topic_t);
        t->name = tl.name;
        tl.name = NULL;
        memcpy(t->id, id, 16);
        t->replication_factor = tl.rf;
        t->internal = tl.internal;
        t->conf = conf;
        t->overrides = tl.kv;
        t->override_cnt = tl.kv_cnt;
        tl.kv = NULL;
        tl.kv_cnt = 0;
        t->partitions = rill__calloc((size_t)tl.partitions, sizeof(*t->partitions));
        for (int32_t i = 0; i < tl.partitions; i++) {
                int64_t now;
                t->partitions[i] = partition_open(b, t, i, false, msg, sizeof(msg));
                if (!t->partitions[i]) {
                        rill__errf(errstr, errstr_size, "cannot open partition %s-%d: %s",
                                   t->name, i, msg);
                        topic_free(t, 1);
                        e = RILL_ERR_IO;
                        goto out;
                }
                t->partition_cnt = i + 1;
                prog->done++;
                now = rill__mono_ms();
                if (now >= prog->next_log_ms) {
                        RILL_LOG_I("broker", "opening logs: %d/%d partitions", prog->done,
                                   prog->total);
                        prog->next_log_ms = now + 2000;
                }
        }
        registry_add(b, t);
out:
        rill__free(path);
        rill__free(tl.name);
        rill__free(tl.id);
        kv_free(tl.kv, tl.kv_cnt);
        return e;
}

static int
count_partitions_cb(void *opaque, char *key, char *value)
{
        if (!strcmp(key, "partitions"))
                *(int *)opaque += atoi(value);
        return 0;
}

/* True if @p name looks like "<topic>-<digits>". */
static bool
looks_like_partition_dir(const char *name, char *topic, size_t topic_size, int32_t *part)
{
        const char *dash = strrchr(name, '-');
        char *end;
        long v;
        if (!dash || dash == name || !dash[1])
                return false;
        for (const char *p = dash + 1; *p; p++)
                if (!isdigit((unsigned char)*p))
                        return false;
        v = strtol(dash + 1, &end, 10);
        if (v > INT32_MAX || (size_t)(dash - name) >= topic_size)
                return false;
        memcpy(topic, name, (size_t)(dash - name));
        topic[dash - name] = '\0';
        *part = (int32_t)v;
        return true;
}

/* A directory holds only what a partition log writes (Kafka file names). */
static bool
dir_holds_only_log_files(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        bool ok = true;
        static const char *const sfx[] = {".log", ".index", ".timeindex", ".txnindex", ".snapshot",
                                          ".cleaned", ".swap", ".deleted", ".tmp",
                                          "leader-epoch-checkpoint", ".clean",
                                          "partition.metadata", "recovery-point"};
        if (!d)
                return false;
        while ((de = readdir(d)) != NULL && ok) {
                bool match = false;
                size_t n = strlen(de->d_name);
                if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
                        continue;
                for (size_t i = 0; i < RILL__ARRAY_SIZE(sfx) && !match; i++) {
                        size_t s = strlen(sfx[i]);
                        match = n >= s && !strcmp(de->d_name + n - s, sfx[i]);
                }
                /* Log modules may keep small files of their own: accept
                 * names that start with a digit or a dot too. */
                if (!match && (isdigit((unsigned char)de->d_name[0]) || de->d_name[0] == '.'))
                        match = true;
                ok = match;
        }
        closedir(d);
        return ok;
}

static void
remove_orphan_partitions(rill_broker_t *b)
{
        DIR *d = opendir(b->data_dir);
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d)) != NULL) {
                char topic[512];
                int32_t part;
                rill__topic_t *t;
                char *path;
                struct stat st;
                if (de->d_name[0] == '.' || !looks_like_partition_dir(de->d_name, topic,
                                                                      sizeof(topic), &part))
                        continue;
                t = rill__topic_find(b, topic, strlen(topic));
                if (t && part < t->partition_cnt)
                        continue;
                path = rill__asprintf("%s/%s", b->data_dir, de->d_name);
                if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                        if (dir_holds_only_log_files(path)) {
                                RILL_LOG_W("broker", "removing %s: partition directory of no "
                                           "topic (left by an interrupted create or delete)",
                                           path);
                                rill__rmtree(path);
                        } else {
                                RILL_LOG_W("broker", "ignoring %s: looks like a partition "
                                           "directory of no topic, but holds unknown files", path);
                        }
                }
                rill__free(path);
        }
        closedir(d);
}

static int
strcmp_p(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static rill_err_t
load_topics(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        char *dir = rill__asprintf("%s/%s", b->data_dir, TOPICS_DIR);
        DIR *d;
        struct dirent *de;
        char **files = NULL;
        int nfiles = 0;
        load_progress_t prog = {0, 0, 0};
        rill_err_t e = RILL_OK;
        int64_t t0 = rill__mono_ms();

        if (rill__mkdirs(dir, 0755) != 0) {
                rill__errf(errstr, errstr_size, "cannot create %s: %s", dir, strerror(errno));
                rill__free(dir);
                return RILL_ERR_IO;
        }
        d = opendir(dir);
        if (!d) {
                rill__errf(errstr, errstr_size, "cannot read %s: %s", dir, strerror(errno));
                rill__free(dir);
                return RILL_ERR_IO;
        }
        while ((de = readdir(d)) != NULL) {
                size_t n = strlen(de->d_name);
                if (n > 4 && !strcmp(de->d_name + n - 4, ".tmp")) {
                        char *p = rill__asprintf("%s/%s", dir, de->d_name);
                        unlink(p); /* an interrupted metadata write: the old file stands */
                        rill__free(p);
                        continue;
                }
                if (n <= 11 || strcmp(de->d_name + n - 11, ".properties"))
                        continue;
                files = rill__realloc(files, (size_t)(nfiles + 1) * sizeof(*files));
                files[nfiles++] = rill__strdup(de->d_name);
        }
        closedir(d);
        if (nfiles > 1)
                qsort(files, (size_t)nfiles, sizeof(*files), strcmp_p);
        for (int i = 0; i < nfiles; i++) {
                char *p = rill__asprintf("%s/%s", dir, files[i]);
                props_read(p, count_partitions_cb, &prog.total, NULL, 0);
                rill__free(p);
        }
        if (nfiles)
                RILL_LOG_I("broker", "loading %d topics (%d partitions) from %s", nfiles,
                           prog.total, b->data_dir);
        prog.next_log_ms = rill__mono_ms() + 2000;
        for (int i = 0; i < nfiles && e == RILL_OK; i++)
                e = load_topic_file(b, files[i], &prog, errstr, errstr_size);
        for (int i = 0; i < nfiles; i++)
                rill__free(files[i]);
        rill__free(files);
        rill__free(dir);
        if (e == RILL_OK) {
                if (nfiles)
                        RILL_LOG_I("broker", "opened %d partitions of %d topics in %lld ms",
                                   prog.done, b->topic_cnt, (long long)(rill__mono_ms() - t0));
                remove_orphan_partitions(b);
        }
        return e;
}

/* ---- meta.properties ---- */

typedef struct meta_load {
        int64_t node_id;
        char *cluster_id;
        bool rill;
} meta_load_t;

static int
meta_cb(void *opaque, char *key, char *value)
{
        meta_load_t *m = opaque;
        if (!strcmp(key, "node.id") || !strcmp(key, "broker.id")) {
                char *end;
                m->node_id = strtoll(value, &end, 10);
                if (*end)
                        return -1;
        } else if (!strcmp(key, "cluster.id")) {
                rill__free(m->cluster_id);
                m->cluster_id = rill__strdup(value);
        } else if (!strcmp(key, "rill.format")) {
                m->rill = true;
        }
        return 0;
}

static rill_err_t
meta_load_or_create(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        char *path = rill__asprintf("%s/meta.properties", b->data_dir);
        const char *conf_cid = rill__broker_conf_kv_get(b->conf, "cluster.id");
        meta_load_t m = {-1, NULL, false};
        rill_err_t e = props_read(path, meta_cb, &m, errstr, errstr_size);

        if (e == RILL_OK) {
                if (!m.rill) {
                        rill__errf(errstr, errstr_size,
                                   "%s was not written by Rill (no rill.format): refusing to use "
                                   "%s, which looks like another broker's data directory",
                                   path, b->data_dir);
                        e = RILL_ERR_CONFIG;
                } else if (m.node_id != b->conf->node_id) {
                        rill__errf(errstr, errstr_size,
                                   "node.id %d does not match node.id %lld stored in %s: this "
                                   "data directory belongs to another node",
                                   b->conf->node_id, (long long)m.node_id, path);
                        e = RILL_ERR_CONFIG;
                } else if (!m.cluster_id || !m.cluster_id[0]) {
                        rill__errf(errstr, errstr_size, "%s has no cluster.id", path);
                        e = RILL_ERR_CORRUPT;
                } else if (conf_cid && strcmp(conf_cid, m.cluster_id)) {
                        rill__errf(errstr, errstr_size,
                                   "cluster.id %s does not match cluster.id %s stored in %s",
                                   conf_cid, m.cluster_id, path);
                        e = RILL_ERR_CONFIG;
                } else {
                        rill__free(b->cluster_id);
                        b->cluster_id = m.cluster_id;
                        m.cluster_id = NULL;
                }
        } else if (e == RILL_ERR_NOT_FOUND) {
                char cid[23], *content;
                if (conf_cid && conf_cid[0]) {
                        snprintf(cid, sizeof(cid), "%s", conf_cid);
                        rill__free(b->cluster_id);
                        b->cluster_id = rill__strdup(conf_cid);
                } else {
                        uint8_t raw[16];
                        random_bytes(raw, sizeof(raw));
                        uuid_base64(raw, cid);
                        rill__free(b->cluster_id);
                        b->cluster_id = rill__strdup(cid);
                }
                content = rill__asprintf("#Rill broker metadata. Do not edit.\nversion=1\n"
                                         "rill.format=1\nnode.id=%d\ncluster.id=%s\n",
                                         b->conf->node_id, b->cluster_id);
                e = write_file_durably(b->data_dir, "meta.properties", content, errstr,
                                       errstr_size);
                rill__free(content);
        }
        rill__free(m.cluster_id);
        rill__free(path);
        return e;
}

/* ---- lifecycle ---- */

static char *
first_log_dir(const char *dirs)
{
        const char *s = dirs, *e;
        while (*s == ' ' || *s == '\t')
                s++;
        e = strchr(s, ',');
        if (!e)
                e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
        return e > s ? rill__strndup(s, (size_t)(e - s)) : NULL;
}

rill_broker_t *
rill_broker_new(rill_broker_conf_t *conf, char *errstr, size_t errstr_size)
{
        rill_broker_t *b;
        char *dir;
        const char *lname;

        if (!conf) {
                rill__errf(errstr, errstr_size, "no configuration");
                return NULL;
        }
        dir = conf->log_dirs ? first_log_dir(conf->log_dirs) : NULL;
        if (!dir) {
                rill__errf(errstr, errstr_size, "log.dirs: no data directory configured");
                return NULL;
        }
        if (!conf->listener.name) {
                rill__errf(errstr, errstr_size, "listeners: no listener configured");
                rill__free(dir);
                return NULL;
        }
        lname = conf->listener.name;
        if (!strcmp(lname, "SSL") || !strcmp(lname, "SASL_SSL") ||
            !strcmp(lname, "SASL_PLAINTEXT")) {
                rill__errf(errstr, errstr_size,
                           "listeners: %s is not supported yet (only PLAINTEXT)", lname);
                rill__free(dir);
                return NULL;
        }
        b = RILL__NEW(rill_broker_t);
        b->conf = conf;
        b->data_dir = dir;
        b->lock_fd = -1;
        atomic_init(&b->port, 0);
        registry_rehash(b);
        rill__dispatch_init(b);
        return b;
}

static rill_err_t
lock_data_dir(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        char *path = rill__asprintf("%s/.lock", b->data_dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                rill__errf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
                rill__free(path);
                return RILL_ERR_IO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
                int err = errno;
                if (err == EWOULDBLOCK)
                        rill__errf(errstr, errstr_size,
                                   "data directory %s is in use by another broker (%s is locked)",
                                   b->data_dir, path);
                else
                        rill__errf(errstr, errstr_size, "cannot lock %s: %s", path, strerror(err));
                close(fd);
                rill__free(path);
                return RILL_ERR_IO;
        }
        rill__free(path);
        b->lock_fd = fd;
        return RILL_OK;
}

static void
resolve_advertised(rill_broker_t *b, int bound_port)
{
        const rill__listener_t *adv = &b->conf->advertised;
        const rill__listener_t *lis = &b->conf->listener;
        const char *host = NULL;
        bool v6;

        if (adv->host && adv->host[0] && strcmp(adv->host, "0.0.0.0") && strcmp(adv->host, "::") &&
            strcmp(adv->host, "[::]"))
                host = adv->host;
        else if (lis->host && lis->host[0] && strcmp(lis->host, "0.0.0.0") &&
                 strcmp(lis->host, "::") && strcmp(lis->host, "[::]"))
                host = lis->host;
        if (host) {
                snprintf(b->adv_host, sizeof(b->adv_host), "%s", host);
        } else {
                /* Bound to every interface: the host name if it resolves. */
                char hn[256];
                struct addrinfo hints, *res = NULL;
                memset(&hints, 0, sizeof(hints));
                hints.ai_socktype = SOCK_STREAM;
                if (gethostname(hn, sizeof(hn)) == 0 && hn[0] &&
                    getaddrinfo(hn, NULL, &hints, &res) == 0) {
                        snprintf(b->adv_host, sizeof(b->adv_host), "%s", hn);
                        freeaddrinfo(res);
                } else {
                        snprintf(b->adv_host, sizeof(b->adv_host), "127.0.0.1");
                }
        }
        /* Strip brackets from an IPv6 literal; bootstrap adds them back. */
        {
                size_t n = strlen(b->adv_host);
                if (n >= 2 && b->adv_host[0] == '[' && b->adv_host[n - 1] == ']') {
                        memmove(b->adv_host, b->adv_host + 1, n - 2);
                        b->adv_host[n - 2] = '\0';
                }
        }
        b->adv_port = adv->port > 0 && adv->host && adv->host[0] ? adv->port : bound_port;
        if (adv->port > 0 && (!adv->host || !adv->host[0]) && b->conf->advertised_listeners)
                b->adv_port = adv->port;
        v6 = strchr(b->adv_host, ':') != NULL;
        snprintf(b->bootstrap, sizeof(b->bootstrap), v6 ? "[%s]:%d" : "%s:%d", b->adv_host,
                 b->adv_port);
}

static void *
broker_thread(void *arg)
{
        rill_broker_t *b = arg;
        char name[16];
        snprintf(name, sizeof(name), "rill-brk-%d", (int)(b->conf->node_id % 100000));
        pthread_setname_np(pthread_self(), name);
        rill__net_run(b->net);
        return NULL;
}

/* Releases everything start acquired. @p how: 1 = close logs cleanly,
 * 2 = abandon them (crash). */
static void
broker_teardown(rill_broker_t *b, int how)
{
        if (b->groups)
                rill__groups_shutdown(b->groups);
        rill__fetch_shutdown(b);
        if (b->net) {
                rill__net_close_all(b->net);
                rill__net_destroy(b->net);
                b->net = NULL;
        }
        if (b->groups) {
                rill__groups_destroy(b->groups);
                b->groups = NULL;
        }
        /* The storage threads go before the logs: the cleaner is joined
         * (its pass was cancelled in broker_halt), and the flusher runs
         * the queued fsyncs (stop) or drops them (kill). */
        for (int i = 0; i < b->topic_cnt; i++) {
                rill__topic_t *t = b->topics[i];
                for (int32_t j = 0; j < t->partition_cnt; j++)
                        if (t->partitions[j] && t->partitions[j]->log)
                                rill__log_set_syncer(t->partitions[j]->log, NULL, NULL);
        }
        rill__cleaner_destroy(b->cleaner, how == 1);
        b->cleaner = NULL;
        for (int i = 0; i < b->topic_cnt; i++)
                topic_free(b->topics[i], how);
        b->topic_cnt = 0;
        registry_rehash(b);
        bufpool_clear(b);
        rill__free(b->fetch_dirty);
        b->fetch_dirty = NULL;
        b->fetch_dirty_cnt = b->fetch_dirty_cap = 0;
        if (b->lock_fd >= 0) {
                close(b->lock_fd);
                b->lock_fd = -1;
        }
}

rill_err_t
rill_broker_start(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        rill_err_t e;
        int port, bound = 0;
        int64_t now;

        if (!b)
                return RILL_ERR_INVALID_ARG;
        if (b->running) {
                rill__errf(errstr, errstr_size, "broker %d is already running", b->conf->node_id);
                return RILL_ERR_STATE;
        }
        if (rill__mkdirs(b->data_dir, 0755) != 0) {
                rill__errf(errstr, errstr_size, "cannot create data directory %s: %s",
                           b->data_dir, strerror(errno));
                return RILL_ERR_IO;
        }
        if ((e = lock_data_dir(b, errstr, errstr_size)) != RILL_OK)
                return e;
        if ((e = meta_load_or_create(b, errstr, errstr_size)) != RILL_OK)
                goto fail;
        b->cleaner = rill__cleaner_new(b, b->conf->log_cleaner_enable, b->conf->log_cleaner_backoff_ms,
                                       errstr, errstr_size);
        if (!b->cleaner) {
                e = RILL_ERR_IO;
                goto fail;
        }
        if ((e = load_topics(b, errstr, errstr_size)) != RILL_OK)
                goto fail;
        b->groups = rill__groups_new(b);
        if ((e = rill__groups_load(b->groups, errstr, errstr_size)) != RILL_OK)
                goto fail;

        b->net = rill__net_new(b);
        port = atomic_load(&b->port) ? atomic_load(&b->port) : b->conf->listener.port;
        if ((e = rill__net_listen(b->net, b->conf->listener.host, port, &bound, errstr,
                                  errstr_size)) != RILL_OK)
                goto fail;
        atomic_store(&b->port, bound);
        resolve_advertised(b, bound);

        now = rill__mono_ms();
        b->next_tick_ms = now + TICK_MS;
        b->next_retention_ms = now + b->conf->log_retention_check_interval_ms;
        b->running = true;
        if (pthread_create(&b->thread, NULL, broker_thread, b) != 0) {
                b->running = false;
                rill__errf(errstr, errstr_size, "cannot start the broker thread: %s",
                           strerror(errno));
                e = RILL_ERR_IO;
                goto fail;
        }
        RILL_LOG_I("broker", "broker %d serving %s (cluster %s, data in %s)", b->conf->node_id,
                   b->bootstrap, b->cluster_id, b->data_dir);
        return RILL_OK;
fail:
        RILL_LOG_E("broker", "broker %d failed to start: %s", b->conf->node_id,
                   errstr ? errstr : "");
        broker_teardown(b, 1);
        return e;
}

static rill_err_t
broker_halt(rill_broker_t *b, int how)
{
        if (!b || !b->running)
                return RILL_ERR_STATE;
        /* The cleaner leaves its pass while the loop winds down. */
        rill__cleaner_cancel(b->cleaner);
        rill__net_wakeup_stop(b->net);
        pthread_join(b->thread, NULL);
        b->running = false;
        broker_teardown(b, how);
        RILL_LOG_I("broker", "broker %d %s", b->conf->node_id,
                   how == 1 ? "stopped" : "killed (logs left without clean-shutdown markers)");
        return RILL_OK;
}

rill_err_t
rill_broker_stop(rill_broker_t *b)
{
        return broker_halt(b, 1);
}

rill_err_t
rill_broker_kill(rill_broker_t *b)
{
        return broker_halt(b, 2);
}

rill_err_t
rill_broker_restart(rill_broker_t *b, char *errstr, size_t errstr_size)
{
        if (!b)
                return RILL_ERR_INVALID_ARG;
        if (b->running)
                rill_broker_stop(b);
        return rill_broker_start(b, errstr, errstr_size);
}

void
rill_broker_destroy(rill_broker_t *b)
{
        if (!b)
                return;
        if (b->running)
                rill_broker_stop(b);
        rill__free(b->topics);
        rill__free(b->topic_hash);
        rill__free(b->data_dir);
        rill__free(b->cluster_id);
        rill_broker_conf_destroy(b->conf);
        rill__free(b);
}

/* ---- response buffer pool ---- */

void
rill__bufpool_get(rill_broker_t *b, rill__wbuf_t *w)
{
        b->bufpool_last_use_ms = rill__mono_ms();
        if (b->bufpool_cnt > 0) {
                *w = b->bufpool[--b->bufpool_cnt];
                w->len = 0;
                return;
        }
        rill__wb_init(w, RILL__BUFPOOL_MIN_CAP);
}

void
rill__bufpool_put(rill_broker_t *b, rill__wbuf_t *w)
{
        if (w->buf && w->cap >= RILL__BUFPOOL_MIN_CAP && w->cap <= RILL__BUFPOOL_MAX_CAP &&
            b->bufpool_cnt < RILL__BUFPOOL_MAX) {
                b->bufpool[b->bufpool_cnt++] = *w;
                w->buf = NULL;
                w->len = w->cap = 0;
                return;
        }
        rill__wb_free(w);
}

static void
bufpool_clear(rill_broker_t *b)
{
        while (b->bufpool_cnt > 0)
                rill__wb_free(&b->bufpool[--b->bufpool_cnt]);
}

/* ---- periodic work ---- */

int
rill__broker_loop_timeout(rill_broker_t *b, int64_t now_mono_ms)
{
        int64_t next = b->next_tick_ms;
        int64_t fd = rill__fetch_next_deadline(b);
        if (fd < next)
                next = fd;
        if (next <= now_mono_ms)
                return 0;
        return (int)RILL__MIN(next - now_mono_ms, 1000);
}

static void
broker_tick(rill_broker_t *b, int64_t now_mono_ms)
{
        int64_t wall = rill__now_ms();
        bool retention = now_mono_ms >= b->next_retention_ms;

        rill__groups_tick(b->groups, wall);
        for (int i = 0; i < b->topic_cnt; i++) {
                rill__topic_t *t = b->topics[i];
                for (int32_t j = 0; j < t->partition_cnt; j++) {
                        rill__partition_t *p = t->partitions[j];
                        rill__log_tick(p->log, wall);
                        if (!retention)
                                continue;
                        if (t->conf.cleanup_policy & RILL__CLEANUP_DELETE) {
                                int n = rill__log_retention(p->log, wall);
                                if (n > 0)
                                        RILL_LOG_I("broker", "retention: deleted %d segment%s of "
                                                   "%s-%d; log start offset now %lld",
                                                   n, n == 1 ? "" : "s", t->name, p->id,
                                                   (long long)rill__log_start_offset(p->log));
                        }
                }
        }
        /* Compaction: commit what the cleaner thread built, hand it the
         * next log (cleaner.c). */
        rill__cleaner_tick(b->cleaner, now_mono_ms);
        /* Give pooled buffers back when nobody fetched for a while. */
        if (b->bufpool_cnt > 0 && now_mono_ms - b->bufpool_last_use_ms > 5000)
                bufpool_clear(b);
        if (retention)
                b->next_retention_ms = now_mono_ms + RILL__MAX(b->conf->log_retention_check_interval_ms, 1);
}

void
rill__broker_loop_iter(rill_broker_t *b, int64_t now_mono_ms)
{
        rill__fetch_poll(b, now_mono_ms);
        if (now_mono_ms >= b->next_tick_ms) {
                b->next_tick_ms = now_mono_ms + TICK_MS;
                broker_tick(b, now_mono_ms);
        }
}
