/*
 * example_util.h - command-line and signal handling shared by the examples.
 */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <stdio.h>

#include <rill/rill.h>

typedef struct example_opts {
        const char *bootstrap;
        const char *app_id;
        const char *state_dir;
        const char *threads;
        const char *commit_ms;
        const char *input_topic;    /* --input-topic, NULL: the example's default */
        const char *output_topic;   /* --output-topic, NULL: the example's default */
        const char *config[32];     /* extra "key=value" settings */
        int nconfig;
} example_opts_t;

/* Parses --bootstrap-server H:P [--application-id ID] [--state-dir DIR]
 * [--threads N] [--commit-interval-ms MS] [--input-topic T] [--output-topic T]
 * [--config KEY=VALUE]...; exits with usage on error. */
void example_parse(int argc, char **argv, const char *default_app_id, example_opts_t *o);

/* Blocks SIGINT and SIGTERM in every thread (call before creating the app). */
void example_block_signals(void);

/* Builds the configuration, starts @p topo, runs until SIGINT/SIGTERM (or
 * until the app fails), then closes cleanly. Returns the exit code. */
int example_run(rill_topology_t *topo, const example_opts_t *o);

/* Builds @p b (reporting the builder's error), frees it, runs the topology
 * with example_run() and frees it. Returns the exit code. */
int example_build_and_run(rill_builder_t *b, const example_opts_t *o);

#endif
