/*
 * consumer.c - a program built against an INSTALLED Rill (pkg-config and the
 * CMake package), as a user would: starts an embedded broker on a free port
 * and prints its bootstrap address. Used by tests/compat/test_install.sh.
 */
#include <stdio.h>

#include <rill/rill.h>

int
main(int argc, char **argv)
{
        char err[256];
        rill_broker_conf_t *conf;
        rill_broker_t *b;

        if (argc != 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        conf = rill_broker_conf_new();
        if (rill_broker_conf_set(conf, "listeners", "PLAINTEXT://127.0.0.1:0", err, sizeof(err)) ||
            rill_broker_conf_set(conf, "log.dirs", argv[1], err, sizeof(err))) {
                fprintf(stderr, "config: %s\n", err);
                rill_broker_conf_destroy(conf);
                return 1;
        }
        b = rill_broker_new(conf, err, sizeof(err));
        if (!b) {
                fprintf(stderr, "new: %s\n", err);
                rill_broker_conf_destroy(conf);
                return 1;
        }
        if (rill_broker_start(b, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "start: %s\n", err);
                rill_broker_destroy(b);
                return 1;
        }
        printf("bootstrap %s\n", rill_broker_bootstrap(b));
        rill_broker_destroy(b);
        return 0;
}
