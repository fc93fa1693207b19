/*
 * filter_map.c - the filter-map example, a stateless topology: drops blank
 * lines (empty or only white space) from streams-plaintext-input,
 * upper-cases the rest, and writes them to streams-filter-map-output keyed
 * by their length in bytes (string).
 *
 *   filter-map --bootstrap-server HOST:PORT [--application-id ID]
 *              [--input-topic T] [--output-topic T]
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

static bool
is_blank(const rill_record_t *r, void *opaque)
{
        rill_bytes_t v = rill_record_value(r);
        for (size_t i = 0; v.data && i < v.len; i++)
                if (!isspace(((const unsigned char *)v.data)[i]))
                        return false;
        return true;
}

/* Upper-cases the whole value (ASCII letters; other bytes stay as they
 * are), whatever its length: short values in a stack buffer, longer ones in
 * a heap copy. rill_out_kv() copies key and value before it returns. */
static void
upper_by_length(const rill_record_t *in, rill_out_t *out, void *opaque)
{
        rill_bytes_t v = rill_record_value(in);
        char key[24], small[4096];
        char *buf = v.len <= sizeof(small) ? small : malloc(v.len);
        int kl = snprintf(key, sizeof(key), "%zu", v.len);

        if (!buf) {
                fprintf(stderr, "filter-map: out of memory for a %zu-byte value\n", v.len);
                abort();
        }
        for (size_t i = 0; i < v.len; i++)
                buf[i] = (char)toupper(((const unsigned char *)v.data)[i]);
        rill_out_kv(out, rill_bytes(key, (size_t)kl), rill_bytes(buf, v.len));
        if (buf != small)
                free(buf);
}

int
main(int argc, char **argv)
{
        example_opts_t o;
        const char *in, *out;
        rill_builder_t *b;
        rill_stream_t *s;

        example_parse(argc, argv, "streams-filter-map", &o);
        in = o.input_topic ? o.input_topic : "streams-plaintext-input";
        out = o.output_topic ? o.output_topic : "streams-filter-map-output";
        b = rill_builder_new();
        s = rill_builder_stream(b, in, rill_serde_string(), rill_serde_string());
        s = rill_stream_filter_not(s, is_blank, NULL);
        s = rill_stream_map(s, upper_by_length, NULL);
        rill_stream_to(s, out, NULL, NULL);
        return example_build_and_run(b, &o);
}
