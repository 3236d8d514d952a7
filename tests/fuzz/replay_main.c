/* Plain main for a fuzz target: runs LLVMFuzzerTestOneInput once over every file named on the
 * command line or found in a directory named there (not recursive), each input in an exact-size
 * heap buffer, then prints "replay: N inputs, B bytes". Built with the normal compiler (and
 * ASan+UBSan under SAN=1), so `make test` replays the stored corpora without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static size_t inputs, bytes;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	struct stat st;
	size_t n;
	int err = 0;

	if (!f || fstat(fileno(f), &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size) {
		err = -EIO;
		goto cleanup;
	}
	/* A zero-length input gets a NULL-free but empty buffer, as libFuzzer passes it. */
	LLVMFuzzerTestOneInput(buf, n);
	inputs++;
	bytes += n;
cleanup:
	free(buf);
	if (f)
		fclose(f);
	if (err)
		fprintf(stderr, "replay: Failed to read %s: %s\n", path, strerror(-err));
	return err;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of dir in name order, so a failure is reproducible by position. */
static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	struct stat st;
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name))) {
			err = -ENOMEM;
			goto cleanup;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			err = run_file(path);
	}
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return err;
}

int main(int argc, char **argv)
{
	struct stat st;
	int err = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc && !err; i++) {
		if (stat(argv[i], &st) < 0)
			err = -errno;
		else
			err = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
		if (err)
			fprintf(stderr, "replay: Failed to replay %s: %s\n", argv[i], strerror(-err));
	}
	printf("replay: %zu inputs, %zu bytes\n", inputs, bytes);
	return err ? 1 : 0;
}
