/*
 * bench: times pcap_compile (optimizer on) on filter expressions, for
 * bpfcompile's compile benchmark (scripts/libpcap/bench.sh runs it beside
 * the Go benchmark on the same machine, in the same run).
 *
 * Input (stdin): one case a line, "<name>\t<DLT name>\t<expression>".
 * Output: one line a case, "<name>\t<median ns per compile>\t<program
 * length>", or "<name>\terror\t<message>".
 *
 * Each case is compiled in rounds of at least -t milliseconds (default
 * 20) of the process's CPU time; the median of -r rounds (default 7) is
 * printed.
 *
 * This file is the project's own; it only links against libpcap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

/*
 * cpu_ns is the CPU time the process has used: on a busy machine it
 * measures the work, where the wall clock also counts the time other
 * processes run.
 */
static double
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static char line[1 << 20];
	int rounds = 7, min_ms = 20, i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			rounds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-t") == 0)
			min_ms = atoi(argv[i + 1]);
	}
	if (rounds < 1 || rounds > 101)
		rounds = 7;
	while (fgets(line, sizeof line, stdin) != NULL) {
		char *name = line, *dltname, *expr, *nl;
		double per[101];
		struct bpf_program prog;
		pcap_t *p;
		int dlt, r, len = 0;

		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if ((dltname = strchr(name, '\t')) == NULL)
			continue;
		*dltname++ = '\0';
		if ((expr = strchr(dltname, '\t')) == NULL)
			continue;
		*expr++ = '\0';
		dlt = pcap_datalink_name_to_val(dltname);
		p = pcap_open_dead(dlt, 262144);
		if (p == NULL) {
			printf("%s\terror\tpcap_open_dead\n", name);
			continue;
		}
		if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			printf("%s\terror\t%s\n", name, pcap_geterr(p));
			pcap_close(p);
			continue;
		}
		len = (int)prog.bf_len;
		pcap_freecode(&prog);
		for (r = 0; r < rounds; r++) {
			double start = cpu_ns(), el = 0;
			long n = 0, batch = 1, k;

			/*
			 * The clock is read after batches of compiles that double
			 * in size: reading it is a system call, about as long as
			 * compiling a short filter.
			 */
			do {
				for (k = 0; k < batch; k++) {
					if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0)
						break;
					pcap_freecode(&prog);
				}
				n += batch;
				batch *= 2;
				el = cpu_ns() - start;
			} while (el < min_ms * 1e6);
			per[r] = el / (double)n;
		}
		qsort(per, rounds, sizeof per[0], cmp_double);
		printf("%s\t%.0f\t%d\n", name, per[rounds / 2], len);
		fflush(stdout);
		pcap_close(p);
	}
	return 0;
}
