/*
 * replay_main.c - runs a fuzz target over a corpus without libFuzzer.
 *
 * Usage: <target> PATH...   where each PATH is a file or a directory whose
 * regular files (sorted by name, not recursive) are inputs. Every input is
 * passed once to LLVMFuzzerTestOneInput(); a target that finds a broken
 * invariant aborts, and ASan/UBSan abort on memory errors, so exit status 0
 * means the whole corpus replayed cleanly. Prints one line per input when
 * RILL_FUZZ_VERBOSE is set, and a summary line at the end.
 *
 * This is how CI runs the fuzz targets with gcc (ctest label fuzz-replay);
 * the clang -DRILL_FUZZ=ON build links libFuzzer's own main instead.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Optional hooks; targets that do not define them leave these NULL. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
__attribute__((weak)) void rill_fuzz_cleanup(void);

static int
cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf;
        long n;
        if (!f) {
                fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
                fprintf(stderr, "replay: cannot size %s\n", path);
                fclose(f);
                return -1;
        }
        /* An exact-size heap copy, so ASan catches a read one past the end. */
        buf = malloc(n > 0 ? (size_t)n : 1);
        if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                free(buf);
                fclose(f);
                return -1;
        }
        fclose(f);
        if (getenv("RILL_FUZZ_VERBOSE"))
                fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        return 0;
}

static int
run_path(const char *path, int *count)
{
        struct stat st;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t cnt = 0, cap = 0;
        int rc = 0;

        if (stat(path, &st) != 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*count)++;
                return run_file(path);
        }
        if (!(d = opendir(path))) {
                fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((de = readdir(d))) {
                char full[4096];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
                if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
                        continue;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 64;
                        names = realloc(names, cap * sizeof(*names));
                        if (!names)
                                abort();
                }
                names[cnt++] = strdup(full);
        }
        closedir(d);
        if (cnt > 0)
                qsort(names, cnt, sizeof(*names), cmp_str);
        for (size_t i = 0; i < cnt; i++) {
                (*count)++;
                if (run_file(names[i]) != 0)
                        rc = -1;
                free(names[i]);
        }
        free(names);
        return rc;
}

int
main(int argc, char **argv)
{
        int count = 0, rc = 0;
        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
                return 2;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++)
                if (run_path(argv[i], &count) != 0)
                        rc = 1;
        if (rill_fuzz_cleanup)
                rill_fuzz_cleanup();
        if (count == 0) {
                fprintf(stderr, "replay: no inputs found\n");
                rc = 1;
        }
        printf("%s: replayed %d inputs: %s\n", argv[0], count, rc ? "ERRORS" : "ok");
        return rc;
}
