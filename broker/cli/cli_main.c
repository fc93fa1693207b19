/*
 * cli_main.c - entry point of the `rill` command-line tool.
 *
 * `rill <command> [options]` dispatches to one sub-command; each sub-command
 * mirrors one of Apache Kafka's shell tools with the same flags:
 *
 *     rill topics            kafka-topics.sh
 *     rill console-producer  kafka-console-producer.sh
 *     rill console-consumer  kafka-console-consumer.sh
 *     rill groups            kafka-consumer-groups.sh
 *     rill configs           kafka-configs.sh (topic configurations)
 *
 * For muscle memory, the binary also answers to Kafka's script names: a
 * symlink named kafka-topics.sh (or kafka-topics) pointing at `rill` runs
 * `rill topics`, and so on. The tool talks to the cluster through librdkafka
 * only, so it works against rilld and against Apache Kafka alike.
 */
#include <stdio.h>
#include <string.h>

#include <rill/common.h>

#include "cli.h"

typedef struct cli_cmd {
        const char *name;
        const char *alias;      /* Second accepted name, or NULL. */
        const char *kafka_name; /* Kafka's script name without ".sh". */
        int (*fn)(int argc, char **argv);
        const char *summary;
} cli_cmd_t;

static const cli_cmd_t cli_cmds[] = {
        {"topics", NULL, "kafka-topics", rill__cli_topics,
         "Create, list, describe, alter, delete topics [kafka-topics.sh]."},
        {"console-producer", "produce", "kafka-console-producer", rill__cli_producer,
         "Send stdin lines as records [kafka-console-producer.sh]."},
        {"console-consumer", "consume", "kafka-console-consumer", rill__cli_consumer,
         "Print a topic's records [kafka-console-consumer.sh]."},
        {"groups", "consumer-groups", "kafka-consumer-groups", rill__cli_groups,
         "List, describe (lag), delete groups [kafka-consumer-groups.sh]."},
        {"configs", NULL, "kafka-configs", rill__cli_configs,
         "Describe and change topic configs [kafka-configs.sh]."},
        {NULL, NULL, NULL, NULL, NULL},
};

static void
cli_print_usage(FILE *out)
{
        fprintf(out,
                "Usage: rill <command> [options]\n"
                "\n"
                "The Rill command-line tool. Commands take the flags of Apache Kafka's\n"
                "shell tools and work against rilld or any Kafka-protocol cluster.\n"
                "\n"
                "Commands (Kafka's tool in brackets):\n");
        for (int i = 0; cli_cmds[i].name; i++)
                fprintf(out, "  %-18s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
        fprintf(out,
                "\n"
                "Options:\n"
                "  --help, -h         Show this help; 'rill <command> --help' shows a command's.\n"
                "  --version          Show the version of rill and librdkafka.\n"
                "\n"
                "Example:\n"
                "  rill topics --bootstrap-server localhost:9092 --create --topic demo "
                "--partitions 3\n"
                "\n"
                "See docs/cli.md for every command and flag.\n");
}

static const cli_cmd_t *
cli_find_cmd(const char *name)
{
        for (int i = 0; cli_cmds[i].name; i++) {
                if (!strcmp(name, cli_cmds[i].name) ||
                    (cli_cmds[i].alias && !strcmp(name, cli_cmds[i].alias)))
                        return &cli_cmds[i];
        }
        return NULL;
}

/* Returns the command whose Kafka script name is the basename of argv[0]
 * (with or without ".sh"), or NULL. */
static const cli_cmd_t *
cli_find_by_progname(const char *argv0)
{
        const char *base = strrchr(argv0, '/');
        size_t len;

        base = base ? base + 1 : argv0;
        len = strlen(base);
        if (len > 3 && !strcmp(base + len - 3, ".sh"))
                len -= 3;
        for (int i = 0; cli_cmds[i].name; i++) {
                if (strlen(cli_cmds[i].kafka_name) == len &&
                    !strncmp(base, cli_cmds[i].kafka_name, len))
                        return &cli_cmds[i];
        }
        return NULL;
}

int
main(int argc, char **argv)
{
        const cli_cmd_t *cmd;

        rill__cli_install_signals();
        if (argc > 0 && (cmd = cli_find_by_progname(argv[0])) != NULL)
                return cmd->fn(argc - 1, argv + 1);

        if (argc < 2) {
                cli_print_usage(stderr);
                return CLI_EXIT_FAIL;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                cli_print_usage(stdout);
                return CLI_EXIT_OK;
        }
        if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
                printf("rill %s (librdkafka %s)\n", RILL_VERSION_STR, rd_kafka_version_str());
                return CLI_EXIT_OK;
        }
        cmd = cli_find_cmd(argv[1]);
        if (!cmd) {
                fprintf(stderr, "rill: unknown command '%s' (see 'rill --help')\n", argv[1]);
                return CLI_EXIT_FAIL;
        }
        return cmd->fn(argc - 2, argv + 2);
}
