/*
 * test_app.c - rill_app_t checks that need no cluster: configuration
 * validation, pass-through librdkafka properties, a clear error when the
 * cluster cannot be reached, and closing an app that never ran.
 */
#include <stdlib.h>

#include "streams_test_util.h"

static rill_topology_t *
small_topology(void)
{
        rill_builder_t *b = rill_builder_new();
        rill_stream_to(rill_builder_stream(b, "in", NULL, NULL), "out", NULL, NULL);
        return st_build(b);
}

static rill_conf_t *
base_conf(const char *dir)
{
        rill_conf_t *c = rill_conf_new();
        rill_conf_set(c, "application.id", "unit-app", NULL, 0);
        /* Port 1 on loopback: nothing listens there. */
        rill_conf_set(c, "bootstrap.servers", "127.0.0.1:1", NULL, 0);
        rill_conf_set(c, "state.dir", dir, NULL, 0);
        rill_conf_set(c, "kafka.log_level", "0", NULL, 0);
        return c;
}

static void
test_required_settings(void)
{
        char err[512];
        rill_topology_t *t = small_topology();
        rill_conf_t *c = rill_conf_new();
        CU_ASSERT_PTR_NULL(rill_app_new(t, c, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "application.id"));
        /* The caller keeps conf on failure. */
        rill_conf_set(c, "application.id", "x", NULL, 0);
        rill_conf_set(c, "bootstrap.servers", "127.0.0.1:1", NULL, 0);
        rill_conf_set(c, "processing.guarantee", "exactly_once_v2", NULL, 0);
        CU_ASSERT_PTR_NULL(rill_app_new(t, c, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "exactly_once_v2"));
        rill_conf_destroy(c);
        rill_topology_destroy(t);
}

static void
test_bad_client_property(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-unit-app");
        rill_topology_t *t = small_topology();
        rill_conf_t *c = base_conf(dir);
        CU_ASSERT_EQUAL(rill_conf_set(c, "consumer.no.such.property", "1", err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_PTR_NULL(rill_app_new(t, c, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "no.such.property"));
        rill_conf_destroy(c);
        /* The admin. prefix reaches the admin client. */
        c = base_conf(dir);
        rill_conf_set(c, "admin.another.bad.property", "1", err, sizeof(err));
        CU_ASSERT_PTR_NULL(rill_app_new(t, c, err, sizeof(err)));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "another.bad.property"));
        rill_conf_destroy(c);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_unreachable_cluster(void)
{
        char err[512];
        char *dir = rill_test_tmpdir("rill-unit-app");
        rill_topology_t *t = small_topology();
        rill_conf_t *c = base_conf(dir);
        rill_app_t *app;
        rill_conf_set(c, "rill.startup.timeout.ms", "300", NULL, 0);
        app = rill_app_new(t, c, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(app);
        CU_ASSERT_EQUAL(rill_app_state(app), RILL_APP_CREATED);
        CU_ASSERT_EQUAL(rill_app_start(app, err, sizeof(err)), RILL_ERR_KAFKA);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "127.0.0.1:1"));
        CU_ASSERT_EQUAL(rill_app_close(app, 1000), RILL_OK);
        CU_ASSERT_EQUAL(rill_app_close(app, 1000), RILL_OK); /* idempotent */
        rill_app_destroy(app);
        rill_app_destroy(NULL);
        rill_topology_destroy(t);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_state_names(void)
{
        CU_ASSERT_STRING_EQUAL(rill_app_state_name(RILL_APP_RUNNING), "RUNNING");
        CU_ASSERT_STRING_EQUAL(rill_app_state_name(RILL_APP_ERROR), "ERROR");
        CU_ASSERT_STRING_EQUAL(rill_app_state_name((rill_app_state_t)99), "UNKNOWN");
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"application (no cluster)", NULL, NULL,
                 {{"required settings", test_required_settings},
                  {"bad client property", test_bad_client_property},
                  {"unreachable cluster", test_unreachable_cluster},
                  {"state names", test_state_names},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
