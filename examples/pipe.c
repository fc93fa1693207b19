/*
 * pipe.c - the smallest topology: copies streams-plaintext-input to
 * streams-pipe-output unchanged (keys, values, timestamps, headers).
 *
 *   pipe --bootstrap-server HOST:PORT [--application-id ID]
 *        [--input-topic T] [--output-topic T]
 */
#include "example_util.h"

int
main(int argc, char **argv)
{
        example_opts_t o;
        const char *in, *out;
        rill_builder_t *b;

        example_parse(argc, argv, "streams-pipe", &o);
        in = o.input_topic ? o.input_topic : "streams-plaintext-input";
        out = o.output_topic ? o.output_topic : "streams-pipe-output";
        b = rill_builder_new();
        rill_stream_to(rill_builder_stream(b, in, NULL, NULL), out, NULL, NULL);
        return example_build_and_run(b, &o);
}
