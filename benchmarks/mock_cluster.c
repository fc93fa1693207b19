/*
 * mock_cluster.c - rill-mock-cluster: librdkafka's mock cluster in a process
 * of its own.
 *
 * bench-broker compares rilld with librdkafka's in-memory mock broker
 * (rdkafka_mock.h). Running the mock in its own process, like rilld, lets the
 * benchmark measure both servers the same way: their CPU time is read from
 * /proc/<pid>/stat, and the client never shares a process with the server.
 *
 * Usage:
 *     rill-mock-cluster [--brokers N] [--topic NAME --partitions P]...
 *
 * Each --topic is pre-created (the mock does not implement CreateTopics) with
 * the --partitions given before it (default 1) and replication factor 1.
 * Once the cluster is up it prints one line, "BOOTSTRAP host:port[,...]", on
 * stdout and flushes it, then runs until SIGTERM or SIGINT, when it destroys
 * the cluster and exits 0. Errors go to stderr with exit status 1.
 *
 * Design: the signals are blocked before librdkafka starts its threads (they
 * inherit the mask), so the main thread receives them in sigwait() and no
 * librdkafka thread is interrupted by them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void
usage(FILE *fp)
{
        fprintf(fp,
                "usage: rill-mock-cluster [--brokers N] [--partitions P] [--topic NAME]...\n"
                "  --brokers N     number of mock brokers (default 1)\n"
                "  --partitions P  partition count for the --topic options that follow (default 1)\n"
                "  --topic NAME    pre-create topic NAME (replication factor 1)\n"
                "Prints \"BOOTSTRAP host:port\" on stdout, then runs until SIGTERM/SIGINT.\n");
}

static int
parse_int(const char *s, int min, int max, int *out)
{
        char *end;
        long v;

        if (!s)
                return -1;
        v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

int
main(int argc, char **argv)
{
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        sigset_t set;
        int brokers = 1, partitions = 1, sig = 0;

        /* First pass: validate the options before starting anything. */
        for (int i = 1; i < argc; i++) {
                int v;

                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "--brokers") || !strcmp(argv[i], "--partitions")) {
                        if (parse_int(argv[i + 1], 1, 100000, &v)) {
                                fprintf(stderr, "rill-mock-cluster: %s needs a positive integer\n",
                                        argv[i]);
                                return 1;
                        }
                        if (!strcmp(argv[i], "--brokers"))
                                brokers = v;
                        i++;
                } else if (!strcmp(argv[i], "--topic")) {
                        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                                fprintf(stderr, "rill-mock-cluster: --topic needs a name\n");
                                return 1;
                        }
                        i++;
                } else {
                        fprintf(stderr, "rill-mock-cluster: unknown option %s\n", argv[i]);
                        usage(stderr);
                        return 1;
                }
        }

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
                fprintf(stderr, "rill-mock-cluster: cannot block signals\n");
                return 1;
        }

        conf = rd_kafka_conf_new();
        /* The handle only hosts the mock cluster; keep its own logging quiet. */
        if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "rill-mock-cluster: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rill-mock-cluster: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) {
                fprintf(stderr, "rill-mock-cluster: rd_kafka_mock_cluster_new failed\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        /* Second pass: create the topics in order. */
        partitions = 1;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--partitions")) {
                        (void)parse_int(argv[++i], 1, 100000, &partitions);
                } else if (!strcmp(argv[i], "--brokers")) {
                        i++;
                } else if (!strcmp(argv[i], "--topic")) {
                        const char *topic = argv[++i];
                        rd_kafka_resp_err_t err =
                                rd_kafka_mock_topic_create(mc, topic, partitions, 1);
                        if (err) {
                                fprintf(stderr, "rill-mock-cluster: creating topic %s: %s\n",
                                        topic, rd_kafka_err2str(err));
                                rd_kafka_mock_cluster_destroy(mc);
                                rd_kafka_destroy(rk);
                                return 1;
                        }
                }
        }

        printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        if (sigwait(&set, &sig) != 0)
                sig = 0;

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
