/* pyrometer: the command-line interface. A thin dispatcher over the verbs in src/cmd_*.c; verbs
 * that need the daemon talk to it over HTTP, the others (record, dump) work standalone. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd verbs[] = {
	{ "record", cmd_record, "sample a process's CPU with Python stacks into a profile file" },
	{ "dump", cmd_dump, "print every thread's current Python stack" },
	{ "status", cmd_status, "is pyrometerd up, and what is it tracking" },
	{ "top", cmd_top, "live table of services by CPU, with their hottest function" },
	{ "profile", cmd_profile, "a service's or process's profile from the daemon (standalone fallback for --pid)" },
	{ "processes", cmd_processes, "tracked processes and which data sources work for each" },
	{ "report", cmd_report, "each service's verdict (cpu-bound, io-bound, ...) and every finding, with fixes" },
	{ "queries", cmd_queries, "database query templates with their Python call sites, and N+1 findings" },
	{ "alloc", cmd_alloc, "opt-in allocation profile of one process by Python stack (slows it while recording)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pyrometer VERB [options]   (pyrometer VERB --help for a verb's options)\n\n"
		   "verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n  --version  print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pyrometer %s\n", PYROMETER_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "pyrometer: unknown verb '%s' (see pyrometer --help)\n", argv[1]);
	return 2;
}
