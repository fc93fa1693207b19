/*
 * test_streams_wordcount.c - word count on rilld (in-process broker), with 4
 * input partitions and two instances of two threads each.
 *
 *  - clean shutdown: after one instance closes, the survivor takes over its
 *    tasks, restores their stores from the changelog, and the final counts
 *    equal an independently computed count;
 *  - kill -9: instances run as child processes of build/bin/wordcount; after
 *    one is killed, no word's final count is missing or lower than expected
 *    (at-least-once), and the survivor exits 0 on SIGTERM;
 *  - broker restart: the broker is killed and started again; the app retries
 *    meanwhile and then catches up;
 *  - standby replicas: with num.standby.replicas=1 each instance keeps the
 *    other's stores warm; after one closes, the survivor takes over without
 *    replaying any changelog record;
 *  - a rebalance resumes the tasks an instance keeps (no second init).
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "streams_it_util.h"

static char *dir;
static rill_broker_t *broker;
static const char *bootstrap;

static bool
start_broker(void)
{
        dir = rill_test_tmpdir("rill-it-wc");
        broker = rill_test_broker_start(dir, NULL);
        if (!broker)
                return false;
        bootstrap = rill_broker_bootstrap(broker);
        return it_create_topic(bootstrap, "streams-plaintext-input", 4) &&
               it_create_topic(bootstrap, "streams-wordcount-output", 4);
}

static void
stop_broker(void)
{
        rill_broker_destroy(broker);
        broker = NULL;
        rill_test_rmdir(dir);
        free(dir);
}

/* Starts two instances of @p app_id (state in <dir>/state-a and -b, filled
 * into @p sa and @p sb) and waits until they share the 8 tasks (2
 * sub-topologies x 4 partitions). */
static void
start_two(const rill_topology_t *topo, const char *app_id, const char *threads,
          const char *const *kv, char sa[4200], char sb[4200], rill_app_t **a, rill_app_t **b)
{
        snprintf(sa, 4200, "%s/state-a", dir);
        snprintf(sb, 4200, "%s/state-b", dir);
        *a = it_app_start_ex(topo, bootstrap, app_id, sa, threads, kv);
        *b = it_app_start_ex(topo, bootstrap, app_id, sb, threads, kv);
        CU_ASSERT_PTR_NOT_NULL_FATAL(*a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(*b);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(*a) == RILL_APP_RUNNING &&
                                               rill_app_state(*b) == RILL_APP_RUNNING &&
                                               rill_app_task_count(*a) > 0 &&
                                               rill_app_task_count(*b) > 0 &&
                                               rill_app_task_count(*a) + rill_app_task_count(*b) == 8,
                                       60000));
}

static void
test_two_instances_clean_shutdown(void)
{
        rill_topology_t *topo = it_wordcount_topology();
        it_counts_t want = {{0}};
        it_reader_t rd;
        rill_app_t *a, *b;
        char sa[4200], sb[4200];

        CU_ASSERT_TRUE_FATAL(start_broker());
        start_two(topo, "it-wc", "2", NULL, sa, sb, &a, &b);
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 0, 400, &want));
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       90000));
        it_counts_print("two instances", &rd.latest, &want);
        /* Both instances did part of the work. */
        CU_ASSERT_TRUE(rill_app_records_processed(a) > 0);
        CU_ASSERT_TRUE(rill_app_records_processed(b) > 0);

        CU_ASSERT_EQUAL(rill_app_close(a, 30000), RILL_OK);
        CU_ASSERT_EQUAL(rill_app_state(a), RILL_APP_NOT_RUNNING);
        rill_app_destroy(a);
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 400, 600, &want));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       90000));
        it_counts_print("survivor", &rd.latest, &want);
        /* The app thread notices that every task is ready on its next tick. */
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(b) == RILL_APP_RUNNING, 10000));
        CU_ASSERT_EQUAL(rill_app_task_count(b), 8);
        /* Without standby replicas the survivor replayed the changelogs of
         * the tasks it took over. */
        CU_ASSERT_TRUE(rill_app_records_restored(b) > 0);
        CU_ASSERT_EQUAL(rd.bad, 0);
        CU_ASSERT_EQUAL(rill_app_close(b, 30000), RILL_OK);
        rill_app_destroy(b);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        stop_broker();
}

/* The next offset of changelog partition @p p of the counts store. */
static int64_t
changelog_end(const char *app_id, int p)
{
        rd_kafka_t *c;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256], topic[256];
        int64_t lo = -1, hi = -1;
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
        rd_kafka_conf_set(conf, "group.id", "it-changelog-end", err, sizeof(err));
        c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!c)
                return -1;
        snprintf(topic, sizeof(topic), "%s-counts-store-changelog", app_id);
        if (rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 5000))
                hi = -1;
        rd_kafka_destroy(c);
        return hi;
}

/* The offset task 1_<p>'s checkpoint file under @p state records for the
 * counts store's changelog, or -1. */
static int64_t
checkpoint_of(const char *state, const char *app_id, int p)
{
        char path[4400], line[512], want[300];
        int64_t off = -1;
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s/1_%d/.checkpoint", state, app_id, p);
        snprintf(want, sizeof(want), "%s-counts-store-changelog", app_id);
        if (!(f = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), f)) {
                char topic[300];
                int part;
                long long o;
                if (sscanf(line, "%299s %d %lld", topic, &part, &o) == 3 && part == p &&
                    !strcmp(topic, want))
                        off = o;
        }
        fclose(f);
        return off;
}

/* True when, for every partition, one of the two state directories holds a
 * checkpoint of the counts store at the changelog's end: the standby copies
 * have caught up (active tasks checkpoint only on close or every 10000
 * records). */
static bool
standbys_caught_up(const char *sa, const char *sb, const char *app_id)
{
        for (int p = 0; p < 4; p++) {
                int64_t end = changelog_end(app_id, p);
                if (end <= 0 || (checkpoint_of(sa, app_id, p) != end &&
                                 checkpoint_of(sb, app_id, p) != end))
                        return false;
        }
        return true;
}

/* num.standby.replicas=1: each of two instances keeps a warm copy of the
 * other's stores; when one closes, the survivor takes its tasks over without
 * replaying their changelogs. */
static void
test_standby_failover(void)
{
        static const char *const kv[] = {"num.standby.replicas", "1", NULL};
        rill_topology_t *topo = it_wordcount_topology();
        it_counts_t want = {{0}};
        it_reader_t rd;
        rill_app_t *a, *b;
        char sa[4200], sb[4200];
        uint64_t restored;

        CU_ASSERT_TRUE_FATAL(start_broker());
        start_two(topo, "it-sb", "1", kv, sa, sb, &a, &b);
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 0, 400, &want));
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       90000));
        it_counts_print("with standbys", &rd.latest, &want);
        /* The 4 tasks with a store are split 2 + 2; each instance shadows the
         * other's two. */
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_standby_task_count(a) == 2 &&
                                               rill_app_standby_task_count(b) == 2,
                                       60000));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(standbys_caught_up(sa, sb, "it-sb"), 60000));
        restored = rill_app_records_restored(b);

        CU_ASSERT_EQUAL(rill_app_close(a, 30000), RILL_OK);
        rill_app_destroy(a);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(b) == RILL_APP_RUNNING &&
                                               rill_app_task_count(b) == 8,
                                       60000));
        /* The tasks that moved restored from their standby checkpoints: no
         * changelog record had to be replayed. Alone, b has no one to
         * shadow. */
        CU_ASSERT_EQUAL(rill_app_records_restored(b), restored);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_standby_task_count(b) == 0, 30000));
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 400, 600, &want));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       90000));
        it_counts_print("after fail-over to the standby", &rd.latest, &want);
        CU_ASSERT_EQUAL(rd.bad, 0);
        CU_ASSERT_EQUAL(rill_app_close(b, 30000), RILL_OK);
        rill_app_destroy(b);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        stop_broker();
}

static rill_err_t
inits_init(rill_ctx_t *ctx, void *opaque, void **state)
{
        atomic_fetch_add((atomic_int *)opaque, 1);
        *state = NULL;
        return RILL_OK;
}

static void
inits_process(rill_ctx_t *ctx, const rill_record_t *r, void *state)
{
}

static void
inits_close(rill_ctx_t *ctx, void *state)
{
}

/* A processor that counts how often its tasks are initialized. */
static rill_topology_t *
inits_topology(atomic_int *inits)
{
        static const rill_processor_ops_t ops = {inits_init, inits_process, inits_close};
        char err[256];
        rill_builder_t *b = rill_builder_new();
        rill_topology_t *t;
        rill_stream_process(rill_builder_stream(b, "keep-in", NULL, NULL), &ops, inits, "inits",
                            NULL);
        t = rill_builder_build(b, err, sizeof(err));
        rill_builder_destroy(b);
        if (!t)
                fprintf(stderr, "topology: %s\n", err);
        return t;
}

/* A rebalance keeps the tasks an instance gets back: when a second instance
 * joins, the first resumes the task it keeps (no reopening, no second
 * init) and closes only the one that moves. */
static void
test_rebalance_resumes_kept_tasks(void)
{
        atomic_int inits_a = 0, inits_b = 0;
        rill_topology_t *ta = inits_topology(&inits_a), *tb = inits_topology(&inits_b);
        rill_app_t *a, *b;
        char sa[4200], sb[4200];

        CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
        CU_ASSERT_TRUE_FATAL(start_broker());
        CU_ASSERT_TRUE_FATAL(it_create_topic(bootstrap, "keep-in", 2));
        snprintf(sa, sizeof(sa), "%s/state-a", dir);
        snprintf(sb, sizeof(sb), "%s/state-b", dir);
        a = it_app_start(ta, bootstrap, "it-keep", sa, "1");
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(a) == RILL_APP_RUNNING &&
                                               rill_app_task_count(a) == 2,
                                       60000));
        CU_ASSERT_EQUAL(atomic_load(&inits_a), 2);
        b = it_app_start(tb, bootstrap, "it-keep", sb, "1");
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(rill_app_state(a) == RILL_APP_RUNNING &&
                                               rill_app_state(b) == RILL_APP_RUNNING &&
                                               rill_app_task_count(a) == 1 &&
                                               rill_app_task_count(b) == 1,
                                       60000));
        CU_ASSERT_EQUAL(atomic_load(&inits_a), 2);
        CU_ASSERT_EQUAL(atomic_load(&inits_b), 1);
        CU_ASSERT_EQUAL(rill_app_close(b, 30000), RILL_OK);
        rill_app_destroy(b);
        CU_ASSERT_EQUAL(rill_app_close(a, 30000), RILL_OK);
        rill_app_destroy(a);
        rill_topology_destroy(ta);
        rill_topology_destroy(tb);
        stop_broker();
}

static pid_t
spawn_wordcount(const char *state_dir)
{
        char bin[4200];
        pid_t pid;
        snprintf(bin, sizeof(bin), "%s/wordcount", RILL_BIN_DIR);
        pid = fork();
        if (pid == 0) {
                setenv("RILL_LOG_LEVEL", "warn", 1);
                execl(bin, bin, "--bootstrap-server", bootstrap, "--application-id", "it-wc-kill",
                      "--state-dir", state_dir, "--threads", "2", "--commit-interval-ms", "300",
                      "--config", "consumer.session.timeout.ms=6000", "--config",
                      "consumer.heartbeat.interval.ms=500", (char *)NULL);
                perror("exec wordcount");
                _exit(127);
        }
        return pid;
}

/* The number of members of a Stable consumer group (0 otherwise). */
static int
group_members(const char *group)
{
        rd_kafka_t *p = it_producer(bootstrap);
        const struct rd_kafka_group_list *gl = NULL;
        int n = 0;
        if (!p)
                return 0;
        if (rd_kafka_list_groups(p, group, &gl, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && gl) {
                if (gl->group_cnt == 1 && !strcmp(gl->groups[0].state, "Stable"))
                        n = gl->groups[0].member_cnt;
                rd_kafka_group_list_destroy(gl);
        }
        rd_kafka_destroy(p);
        return n;
}

static void
test_kill_9_at_least_once(void)
{
        it_counts_t want = {{0}};
        it_reader_t rd;
        char s1[4200], s2[4200];
        pid_t p1, p2;
        int status = 0;

        CU_ASSERT_TRUE_FATAL(start_broker());
        snprintf(s1, sizeof(s1), "%s/state-1", dir);
        snprintf(s2, sizeof(s2), "%s/state-2", dir);
        p1 = spawn_wordcount(s1);
        p2 = spawn_wordcount(s2);
        CU_ASSERT_TRUE_FATAL(p1 > 0 && p2 > 0);
        /* Both instances are members of the group before input arrives. */
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL(group_members("it-wc-kill") == 2, 60000));
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 0, 300, &want));
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       90000));
        /* Kill one instance while it has fresh input to process. */
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 300, 600, &want));
        CU_ASSERT_EQUAL(kill(p1, SIGKILL), 0);
        CU_ASSERT_EQUAL(waitpid(p1, &status, 0), p1);
        CU_ASSERT_TRUE(WIFSIGNALED(status));
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 600, 700, &want));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_at_least(&rd.latest, &want)),
                                       120000));
        for (int i = 0; i < IT_NWORDS; i++)
                if (rd.latest.n[i] < want.n[i])
                        fprintf(stderr, "after kill: %s = %lld < %lld\n", it_vocab[i],
                                (long long)rd.latest.n[i], (long long)want.n[i]);
        CU_ASSERT_EQUAL(rd.bad, 0);
        CU_ASSERT_EQUAL(kill(p2, SIGTERM), 0);
        CU_ASSERT_EQUAL(waitpid(p2, &status, 0), p2);
        CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        it_reader_close(&rd);
        stop_broker();
}

/* The broker goes away and comes back: the app keeps retrying (it never
 * stops on its own) and then catches up; nothing is lost. */
static void
test_broker_restart(void)
{
        rill_topology_t *topo = it_wordcount_topology();
        it_counts_t want = {{0}};
        it_reader_t rd;
        rill_app_t *app;
        char st[4200], err[512];

        CU_ASSERT_TRUE_FATAL(start_broker());
        snprintf(st, sizeof(st), "%s/state", dir);
        app = it_app_start(topo, bootstrap, "it-wc-restart", st, "2");
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 0, 200, &want));
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_equal(&rd.latest, &want)),
                                       60000));
        it_reader_close(&rd);

        CU_ASSERT_EQUAL(rill_broker_kill(broker), RILL_OK);
        /* While the broker is down the app retries; it must not give up. */
        CU_ASSERT_FALSE(RILL_WAIT_UNTIL(rill_app_state(app) == RILL_APP_ERROR ||
                                                rill_app_state(app) == RILL_APP_NOT_RUNNING,
                                        3000));
        CU_ASSERT_EQUAL(rill_broker_start(broker, err, sizeof(err)), RILL_OK);

        CU_ASSERT_TRUE_FATAL(it_produce_lines(bootstrap, 200, 400, &want));
        CU_ASSERT_TRUE_FATAL(it_reader_open(&rd, bootstrap, 4));
        CU_ASSERT_TRUE(RILL_WAIT_UNTIL((it_reader_poll(&rd), it_counts_at_least(&rd.latest, &want)),
                                       120000));
        it_counts_print("after broker restart", &rd.latest, &want);
        CU_ASSERT_EQUAL(rd.bad, 0);
        CU_ASSERT_TRUE(rill_app_state(app) == RILL_APP_RUNNING ||
                       rill_app_state(app) == RILL_APP_REBALANCING);
        CU_ASSERT_EQUAL(rill_app_close(app, 30000), RILL_OK);
        CU_ASSERT_EQUAL(rill_app_state(app), RILL_APP_NOT_RUNNING);
        rill_app_destroy(app);
        it_reader_close(&rd);
        rill_topology_destroy(topo);
        stop_broker();
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"word count on rilld", NULL, NULL,
                 {{"two instances, clean shutdown, restore", test_two_instances_clean_shutdown},
                  {"kill -9 of one instance (at-least-once)", test_kill_9_at_least_once},
                  {"broker restart", test_broker_restart},
                  {"standby replicas: fail-over without replay", test_standby_failover},
                  {"rebalance resumes the tasks that stay", test_rebalance_resumes_kept_tasks},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
