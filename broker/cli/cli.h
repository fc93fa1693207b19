/*
 * cli.h - shared declarations of the `rill` command-line tool (internal).
 *
 * The tool is a set of sub-commands (topics, console-producer,
 * console-consumer, groups, configs) that mirror Apache Kafka's shell tools
 * flag for flag, so that a user who learnt kafka-topics.sh types the same
 * words. Every sub-command is written against librdkafka only (admin API,
 * producer, consumer, legacy group listing) and never against Rill
 * internals: the same binary works against rilld and against an Apache
 * Kafka or Redpanda cluster.
 *
 * Pieces shared by the sub-commands live here:
 * - a small table-driven option parser (cli_args.c) that accepts Kafka's
 *   "--name value" and "--name=value" spellings, rejects unknown options
 *   with a one-line message, and prints --help from the same table;
 * - client construction (cli_client.c): bootstrap servers, properties files
 *   (--command-config), "k=v" overrides, quiet librdkafka logging with the
 *   last connection error remembered, and a connectivity check with a
 *   deadline so that an unreachable cluster is a clear error, never a hang;
 * - error printing: every failure is one line "rill <cmd>: <message>" on
 *   stderr and exit status 1.
 *
 * Threading: the tool is single-threaded apart from librdkafka's own
 * threads; the only state touched from those threads is the context's last
 * error, guarded by a mutex. The SIGINT/SIGTERM flag is the one
 * process-wide variable (a signal handler cannot reach anything else).
 */
#ifndef RILL_CLI_H
#define RILL_CLI_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/** Exit statuses: 0 success, 1 any failure (Kafka's tools use 1 too). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1

/** Default time to wait for the cluster or for an admin request. */
#define CLI_DEFAULT_TIMEOUT_MS 10000

/** Kinds of command-line options. */
typedef enum cli_opt_kind {
        CLI_FLAG,      /**< Takes no value: "--list". */
        CLI_VALUE,     /**< Takes one value; the last one given wins. */
        CLI_MULTI,     /**< Takes one value and may repeat: "--config k=v". */
        CLI_OPTVALUE,  /**< Takes an optional value (next word unless it
                        *   starts with "--"); "" when none was given. */
} cli_opt_kind_t;

/** One option of a sub-command. Tables end with a NULL name. */
typedef struct cli_opt_def {
        const char *name;     /**< With the dashes: "--topic". */
        cli_opt_kind_t kind;
        const char *argname;  /**< Shown in --help ("TOPIC"); NULL for flags. */
        const char *help;     /**< One or more sentences for --help. */
} cli_opt_def_t;

/** Parsed options: for each table entry, how often it was given and the
 *  values (pointers into argv, or "" for an empty optional value). */
typedef struct cli_args {
        const cli_opt_def_t *defs;
        int ndefs;
        int *count;           /**< count[i]: occurrences of defs[i]. */
        const char ***values; /**< values[i][0..count[i]-1]. */
} cli_args_t;

/** Result of rill__cli_parse(). */
typedef enum cli_parse_res {
        CLI_PARSE_OK = 0,
        CLI_PARSE_ERROR = 1, /**< A message was printed; exit 1. */
        CLI_PARSE_HELP = 2,  /**< --help or --version was printed; exit 0. */
} cli_parse_res_t;

/**
 * @brief Parses @p argv (the words after the sub-command name) against
 *        @p defs. "--help"/"-h" prints the help built from @p defs, with
 *        @p usage and @p summary on top, to stdout.
 * @returns CLI_PARSE_OK (fill @p out; free with rill__cli_args_free()),
 *          CLI_PARSE_ERROR after printing "<prog>: <why>" to stderr, or
 *          CLI_PARSE_HELP. Positional words are errors (Kafka's tools take
 *          none).
 */
cli_parse_res_t rill__cli_parse(const char *prog, const char *usage, const char *summary,
                                const cli_opt_def_t *defs, int argc, char **argv,
                                cli_args_t *out);
void rill__cli_args_free(cli_args_t *args);

/** True if option @p name was given at least once. */
bool rill__cli_has(const cli_args_t *args, const char *name);
/** Last value of @p name, or NULL if absent. */
const char *rill__cli_get(const cli_args_t *args, const char *name);
/** All values of a CLI_MULTI option; returns the count, *vals is set. */
int rill__cli_get_all(const cli_args_t *args, const char *name, const char *const **vals);

/**
 * @brief Reads option @p name as an integer in [min, max]; @p def when
 *        absent. @returns 0, or -1 after printing "<prog>: invalid value".
 */
int rill__cli_get_int(const char *prog, const cli_args_t *args, const char *name,
                      long long def, long long min, long long max, long long *out);

/** Prints "<prog>: <message>" to stderr (one line). */
void rill__cli_err(const char *prog, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/** Prints a usage error with a pointer to --help; same format. */
void rill__cli_usage_err(const char *prog, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/**
 * Per-invocation context of a sub-command. Owned by the sub-command's
 * function; the mutex guards last_error, which librdkafka threads write.
 */
typedef struct cli_ctx {
        const char *prog;        /**< "rill topics" etc., for messages. */
        const char *bootstrap;   /**< --bootstrap-server value. */
        int timeout_ms;          /**< Connect / request deadline. */
        bool verbose;            /**< Pass librdkafka logs through (--debug). */
        pthread_mutex_t lock;
        char last_error[512];    /**< Most recent transport error seen. */
        bool all_brokers_down;   /**< librdkafka gave up on every broker. */
} cli_ctx_t;

/** Initialises @p ctx; destroy with rill__cli_ctx_destroy(). */
void rill__cli_ctx_init(cli_ctx_t *ctx, const char *prog);
void rill__cli_ctx_destroy(cli_ctx_t *ctx);

/**
 * @brief Builds a librdkafka configuration: bootstrap.servers from
 *        ctx->bootstrap, client.id @p client_id, the context's quiet log and
 *        error callbacks, then the sub-command's "k=v" @p defaults, every
 *        properties file in @p files and every "k=v" in @p props, in that
 *        order, so that later ones win. Any list may be NULL with count 0.
 * @returns a new configuration (owned by the caller), or NULL after printing
 *          a one-line error naming the bad file, line or property.
 */
rd_kafka_conf_t *rill__cli_conf_new(cli_ctx_t *ctx, const char *client_id,
                                    const char *const *defaults, int ndefaults,
                                    const char *const *files, int nfiles,
                                    const char *const *props, int nprops);

/** Sets one property on @p conf; prints the error and returns -1 on failure. */
int rill__cli_conf_set(cli_ctx_t *ctx, rd_kafka_conf_t *conf, const char *key,
                       const char *value);

/** Loads a Java-style properties file ("k=v" or "k: v", '#'/'!' comments,
 *  backslash continuation) into @p conf. Returns 0 or -1 after an error. */
int rill__cli_conf_load_file(cli_ctx_t *ctx, rd_kafka_conf_t *conf, const char *path);

/** Splits "key=value" into a key copy (in @p key, size @p key_size) and a
 *  pointer to the value. Returns -1 if there is no '=' or the key is empty
 *  or too long. */
int rill__cli_split_kv(const char *kv, char *key, size_t key_size, const char **value);

/**
 * @brief Creates a client of @p type from @p conf (which it takes, even on
 *        failure), and waits until the cluster answers a metadata request,
 *        or ctx->timeout_ms passes, or librdkafka reports every bootstrap
 *        broker down.
 * @returns the handle, or NULL after printing why (one line).
 */
rd_kafka_t *rill__cli_client_new(cli_ctx_t *ctx, rd_kafka_type_t type, rd_kafka_conf_t *conf);

/**
 * @brief Fetches cluster metadata (all topics when @p all_topics) with the
 *        context's deadline. @returns 0 and *mdp, or -1 after printing.
 */
int rill__cli_metadata(cli_ctx_t *ctx, rd_kafka_t *rk, bool all_topics,
                       const struct rd_kafka_metadata **mdp);

/** Waits for the admin result on @p q; NULL after printing a timeout. */
rd_kafka_event_t *rill__cli_admin_wait(cli_ctx_t *ctx, rd_kafka_queue_t *q);

/** Admin options for @p op with the context's request timeout. */
rd_kafka_AdminOptions_t *rill__cli_admin_options(cli_ctx_t *ctx, rd_kafka_t *rk,
                                                 rd_kafka_admin_op_t op);

/** Returns a human description of the last connection problem, or
 *  @p fallback when none was recorded. Copies into @p buf. */
const char *rill__cli_last_error(cli_ctx_t *ctx, const char *fallback, char *buf,
                                 size_t buf_size);

/** Installs SIGINT/SIGTERM handlers (without SA_RESTART, so a blocking
 *  read returns EINTR) that set the stop flag. */
void rill__cli_install_signals(void);
/** True once SIGINT or SIGTERM arrived. */
bool rill__cli_stopping(void);

/** Shell-style glob/regex helper: true if @p name fully matches the POSIX
 *  extended regular expression @p pattern (Kafka accepts Java regexes for
 *  --topic in describe/delete/list). Invalid patterns match only the exact
 *  name. */
bool rill__cli_topic_matches(const char *pattern, const char *name);

/** Common options added to every admin sub-command table. */
#define CLI_OPTS_CONNECTION                                                                 \
        {"--bootstrap-server", CLI_VALUE, "HOST:PORT",                                      \
         "The Kafka-protocol server(s) to connect to, comma separated (required)."},         \
        {"--command-config", CLI_VALUE, "FILE",                                             \
         "Client properties file (librdkafka/Kafka property names), e.g. security "          \
         "settings."},                                                                      \
        {"--debug", CLI_FLAG, NULL, "Print librdkafka's log messages to stderr."}

/** The deadline option of the admin sub-commands (Kafka's
 *  kafka-consumer-groups.sh name). */
#define CLI_OPT_TIMEOUT                                                                     \
        {"--timeout", CLI_VALUE, "MS",                                                      \
         "How long to wait for the cluster and for each request (default 10000)."}

/* Sub-commands: each takes the words after its name and returns an exit
 * status. */
int rill__cli_topics(int argc, char **argv);
int rill__cli_producer(int argc, char **argv);
int rill__cli_consumer(int argc, char **argv);
int rill__cli_groups(int argc, char **argv);
int rill__cli_configs(int argc, char **argv);

#endif /* RILL_CLI_H */
