/*
 * dedup_processor.c - the dedup-processor example, the Processor API: drops
 * records whose key was seen before, using a declared key-value store, and
 * reports every 10 seconds of wall-clock time how many duplicates each task
 * dropped.
 *
 * Reads streams-plaintext-input, writes first occurrences to
 * streams-dedup-output and the periodic reports (key "report", value
 * "<task>: <n> duplicates") to streams-dedup-report (the first two can be
 * changed with --input-topic and --output-topic). Records without a key
 * are dropped.
 *
 *   dedup-processor --bootstrap-server HOST:PORT [--application-id ID]
 *                   [--input-topic T] [--output-topic T]
 */
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

typedef struct dedup_state {
        rill_kv_store_t *seen;
        long duplicates;
} dedup_state_t;

static void
report(rill_ctx_t *ctx, int64_t now, void *opaque)
{
        dedup_state_t *st = opaque;
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "%s: %ld duplicates", rill_ctx_task_id(ctx),
                         st->duplicates);
        rill_ctx_forward_ex(ctx, "reports", rill_bytes("report", 6), rill_bytes(msg, (size_t)n), now,
                            NULL, 0);
}

static rill_err_t
dedup_init(rill_ctx_t *ctx, void *opaque, void **state)
{
        dedup_state_t *st = calloc(1, sizeof(*st));
        if (!st)
                return RILL_ERR_NOMEM;
        st->seen = rill_ctx_store(ctx, "seen-keys");
        rill_ctx_schedule(ctx, 10000, RILL_PUNCTUATE_WALL_CLOCK_TIME, report, st);
        *state = st;
        return RILL_OK;
}

static void
dedup_process(rill_ctx_t *ctx, const rill_record_t *r, void *state)
{
        dedup_state_t *st = state;
        rill_bytes_t key = rill_record_key(r), v;
        if (!key.data)
                return;
        if (rill_kv_store_get(st->seen, key, &v) == RILL_OK) {
                st->duplicates++;
                return;
        }
        rill_kv_store_put(st->seen, key, rill_bytes("", 0));
        rill_ctx_forward_ex(ctx, "firsts", key, rill_record_value(r), rill_record_timestamp(r), NULL,
                            0);
}

static void
dedup_close(rill_ctx_t *ctx, void *state)
{
        free(state);
}

static void
nothing(const rill_record_t *r, void *opaque)
{
}

int
main(int argc, char **argv)
{
        static const rill_processor_ops_t ops = {dedup_init, dedup_process, dedup_close};
        const char *stores[] = {"seen-keys", NULL};
        example_opts_t o;
        const char *in, *out;
        rill_builder_t *b;
        rill_stream_t *s, *p;

        example_parse(argc, argv, "streams-dedup", &o);
        in = o.input_topic ? o.input_topic : "streams-plaintext-input";
        out = o.output_topic ? o.output_topic : "streams-dedup-output";
        b = rill_builder_new();
        rill_builder_add_store(b, rill_materialized(b, "seen-keys"));
        s = rill_builder_stream(b, in, NULL, NULL);
        p = rill_stream_process(s, &ops, NULL, "dedup", stores);
        rill_stream_to(rill_stream_named(rill_stream_peek(p, nothing, NULL), "firsts"),
                       out, NULL, NULL);
        rill_stream_to(rill_stream_named(rill_stream_peek(p, nothing, NULL), "reports"),
                       "streams-dedup-report", NULL, NULL);
        return example_build_and_run(b, &o);
}
