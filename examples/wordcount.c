/*
 * wordcount.c - the classic streams word count.
 *
 *   wordcount --bootstrap-server HOST:PORT [--application-id ID] [--state-dir DIR]
 *             [--threads N] [--input-topic T] [--output-topic T] [--config KEY=VALUE]
 *
 * Reads lines from streams-plaintext-input, splits them into lower-case
 * words, counts each word, and writes key=word (string), value=count (int64,
 * big-endian) to streams-wordcount-output (the topics can be changed with
 * --input-topic and --output-topic). Runs until SIGINT or SIGTERM, then
 * commits, flushes and checkpoints. Start several instances with the same
 * --application-id to share the partitions.
 *
 * Internal topics: <id>-words-repartition and <id>-counts-store-changelog.
 */
#include <ctype.h>

#include "example_util.h"

/* Splits a line into lower-case words (runs of letters, digits and
 * non-ASCII bytes), like Kafka's WordCountDemo splitting on \W+. */
static void
split_words(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        const unsigned char *p = v.data, *end = p + v.len;
        char word[256];

        while (p && p < end) {
                size_t n = 0;
                while (p < end && !(isalnum(*p) || *p >= 0x80))
                        p++;
                while (p < end && (isalnum(*p) || *p >= 0x80)) {
                        if (n < sizeof(word))
                                word[n++] = (char)tolower(*p);
                        p++;
                }
                if (n)
                        rill_out_value(out, rill_bytes(word, n));
        }
}

static void
word_as_key(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_out_key(out, rill_record_value(in));
}

int
main(int argc, char **argv)
{
        example_opts_t o;
        const char *in, *out;
        rill_builder_t *b;
        rill_stream_t *lines, *words;
        rill_table_t *counts;

        example_parse(argc, argv, "streams-wordcount", &o);
        in = o.input_topic ? o.input_topic : "streams-plaintext-input";
        out = o.output_topic ? o.output_topic : "streams-wordcount-output";
        b = rill_builder_new();
        lines = rill_builder_stream(b, in, rill_serde_string(), rill_serde_string());
        words = rill_stream_flat_map_values(lines, split_words, NULL);
        counts = rill_grouped_count(rill_stream_group_by(words, word_as_key, NULL, "words", NULL),
                                    rill_materialized(b, "counts-store"));
        rill_stream_to(rill_table_to_stream(counts), out, rill_serde_string(), rill_serde_int64());
        return example_build_and_run(b, &o);
}
