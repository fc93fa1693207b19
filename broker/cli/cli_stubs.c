/*
 * cli_stubs.c - temporary stubs while the sub-commands are written.
 */
#include "cli.h"

int
rill__cli_configs(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        return 1;
}
