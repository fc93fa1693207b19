/*
 * cli_args.c - the option parser and --help printer of the `rill` tool.
 *
 * Kafka's tools use joptsimple: long options only, written "--name value"
 * or "--name=value", repeatable where it makes sense (--config,
 * --property), no positional arguments. This parser accepts exactly that,
 * driven by a table of cli_opt_def_t per sub-command, so that the help text
 * and the accepted options can never drift apart. Anything it does not know
 * is a one-line error that names the word and points at --help: a typo must
 * never be silently ignored (Kafka behaves the same way).
 *
 * Values are pointers into argv; nothing is copied. The arrays of counts and
 * values are allocated per parse and freed by rill__cli_args_free().
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rill/common.h>

#include "rill_alloc.h"

void
rill__cli_err(const char *prog, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void
rill__cli_usage_err(const char *prog, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see '%s --help')\n", prog);
}

/* Prints the help page: usage line, summary, then each option with its
 * help text wrapped at 80 columns. */
static void
cli_print_help(const char *usage, const char *summary, const cli_opt_def_t *defs)
{
        printf("Usage: %s\n\n", usage);
        if (summary && *summary)
                printf("%s\n\n", summary);
        printf("Options:\n");
        for (int i = 0; defs[i].name; i++) {
                char head[96];
                const char *h = defs[i].help ? defs[i].help : "";
                int col;

                if (defs[i].kind == CLI_FLAG)
                        snprintf(head, sizeof(head), "  %s", defs[i].name);
                else if (defs[i].kind == CLI_OPTVALUE)
                        snprintf(head, sizeof(head), "  %s [%s]", defs[i].name,
                                 defs[i].argname ? defs[i].argname : "VALUE");
                else
                        snprintf(head, sizeof(head), "  %s %s", defs[i].name,
                                 defs[i].argname ? defs[i].argname : "VALUE");
                fputs(head, stdout);
                col = (int)strlen(head);
                if (col >= 31) {
                        fputc('\n', stdout);
                        col = 0;
                }
                /* Word-wrap the help text into the column from 32 to 100. */
                while (*h) {
                        const char *sp;
                        int wlen;

                        while (*h == ' ')
                                h++;
                        if (!*h)
                                break;
                        sp = strchr(h, ' ');
                        wlen = sp ? (int)(sp - h) : (int)strlen(h);
                        if (col > 32 && col + 1 + wlen > 100) {
                                fputc('\n', stdout);
                                col = 0;
                        }
                        if (col < 32) {
                                printf("%*s", 32 - col, "");
                                col = 32;
                        } else {
                                fputc(' ', stdout);
                                col++;
                        }
                        fwrite(h, 1, (size_t)wlen, stdout);
                        col += wlen;
                        h += wlen;
                }
                fputc('\n', stdout);
        }
}

static int
cli_find(const cli_opt_def_t *defs, const char *name, size_t len)
{
        for (int i = 0; defs[i].name; i++)
                if (strlen(defs[i].name) == len && !strncmp(defs[i].name, name, len))
                        return i;
        return -1;
}

static void
cli_add_value(cli_args_t *out, int idx, const char *v)
{
        int n = out->count[idx];

        out->values[idx] = rill__realloc(out->values[idx], sizeof(char *) * (size_t)(n + 1));
        out->values[idx][n] = v;
        out->count[idx] = n + 1;
}

cli_parse_res_t
rill__cli_parse(const char *prog, const char *usage, const char *summary,
                const cli_opt_def_t *defs, int argc, char **argv, cli_args_t *out)
{
        int ndefs = 0;

        while (defs[ndefs].name)
                ndefs++;
        memset(out, 0, sizeof(*out));
        out->defs = defs;
        out->ndefs = ndefs;
        out->count = rill__calloc((size_t)ndefs + 1, sizeof(int));
        out->values = rill__calloc((size_t)ndefs + 1, sizeof(char **));

        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                const char *eq;
                size_t nlen;
                int idx;

                if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        cli_print_help(usage, summary, defs);
                        rill__cli_args_free(out);
                        return CLI_PARSE_HELP;
                }
                if (!strcmp(a, "--version")) {
                        printf("rill %s (librdkafka %s)\n", RILL_VERSION_STR,
                               rd_kafka_version_str());
                        rill__cli_args_free(out);
                        return CLI_PARSE_HELP;
                }
                if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
                        rill__cli_usage_err(prog, "unexpected argument '%s'", a);
                        goto fail;
                }
                eq = strchr(a, '=');
                nlen = eq ? (size_t)(eq - a) : strlen(a);
                idx = cli_find(defs, a, nlen);
                if (idx < 0) {
                        rill__cli_usage_err(prog, "unknown option '%.*s'", (int)nlen, a);
                        goto fail;
                }
                switch (defs[idx].kind) {
                case CLI_FLAG:
                        if (eq) {
                                rill__cli_usage_err(prog, "option '%s' takes no value",
                                                    defs[idx].name);
                                goto fail;
                        }
                        out->count[idx]++;
                        break;
                case CLI_VALUE:
                case CLI_MULTI:
                        if (eq) {
                                cli_add_value(out, idx, eq + 1);
                        } else if (i + 1 < argc) {
                                cli_add_value(out, idx, argv[++i]);
                        } else {
                                rill__cli_usage_err(prog, "option '%s' needs a value (%s)",
                                                    defs[idx].name,
                                                    defs[idx].argname ? defs[idx].argname
                                                                      : "VALUE");
                                goto fail;
                        }
                        break;
                case CLI_OPTVALUE:
                        if (eq)
                                cli_add_value(out, idx, eq + 1);
                        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                                cli_add_value(out, idx, argv[++i]);
                        else
                                cli_add_value(out, idx, "");
                        break;
                }
        }
        return CLI_PARSE_OK;
fail:
        rill__cli_args_free(out);
        return CLI_PARSE_ERROR;
}

void
rill__cli_args_free(cli_args_t *args)
{
        if (!args->count)
                return;
        for (int i = 0; i < args->ndefs; i++)
                rill__free(args->values[i]);
        rill__free(args->values);
        rill__free(args->count);
        args->values = NULL;
        args->count = NULL;
}

static int
cli_idx(const cli_args_t *args, const char *name)
{
        for (int i = 0; i < args->ndefs; i++)
                if (!strcmp(args->defs[i].name, name))
                        return i;
        /* Asking for an option missing from the table is a programming
         * error; fail loudly in tests rather than silently. */
        fprintf(stderr, "rill: internal error: option %s not in table\n", name);
        abort();
}

bool
rill__cli_has(const cli_args_t *args, const char *name)
{
        return args->count[cli_idx(args, name)] > 0;
}

const char *
rill__cli_get(const cli_args_t *args, const char *name)
{
        int i = cli_idx(args, name);

        if (args->count[i] == 0 || !args->values[i])
                return NULL;
        return args->values[i][args->count[i] - 1];
}

int
rill__cli_get_all(const cli_args_t *args, const char *name, const char *const **vals)
{
        int i = cli_idx(args, name);

        *vals = (const char *const *)args->values[i];
        return args->values[i] ? args->count[i] : 0;
}

int
rill__cli_get_int(const char *prog, const cli_args_t *args, const char *name, long long def,
                  long long min, long long max, long long *out)
{
        const char *v = rill__cli_get(args, name);
        char *end;
        long long n;

        if (!v) {
                *out = def;
                return 0;
        }
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0' || n < min || n > max) {
                rill__cli_usage_err(prog, "invalid value '%s' for %s: expected an integer from "
                                    "%lld to %lld", v, name, min, max);
                return -1;
        }
        *out = n;
        return 0;
}
