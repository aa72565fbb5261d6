/*
 * label: compiles filter expressions with libpcap (pcap_compile, optimizer
 * on and off) and runs each program over packets with pcap_offline_filter,
 * printing the verdicts. bpfcompile's random-expression test keeps its
 * output as labels (bpfcompile/testdata/random-labels.json.gz); see
 * scripts/libpcap/README.md.
 *
 * Input (stdin), one case per block of lines:
 *
 *   X <DLT name> <snaplen> <netmask, hex> <expression to the end of the line>
 *   P <wire length> <captured bytes, hex>      (zero or more)
 *   .
 *
 * Output (stdout), per case:
 *
 *   O ok <result of packet 1> <result of packet 2> ...    (optimizer on)
 *   O err <libpcap's error message>
 *   U ok ... | U err ...                                  (optimizer off)
 *
 * With -d, each "ok" line is followed by the program, one "# " line per
 * instruction as bpf_image() prints it.
 *
 * This file is the project's own; it only links against libpcap.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#define MAX_PACKETS 4096
#define MAX_LINE (1 << 20)

struct packet {
	struct pcap_pkthdr hdr;
	unsigned char *data;
};

static int dump;

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* run compiles expr with the optimizer on or off and prints one line. */
static void
run(char tag, int dlt, int snaplen, bpf_u_int32 netmask, const char *expr,
    struct packet *pkts, int npkts, int optimize)
{
	pcap_t *p = pcap_open_dead(dlt, snaplen);
	struct bpf_program prog;
	int i;

	if (p == NULL) {
		printf("%c err pcap_open_dead failed\n", tag);
		return;
	}
	if (pcap_compile(p, &prog, expr, optimize, netmask) < 0) {
		char *e = pcap_geterr(p);
		for (char *c = e; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("%c err %s\n", tag, e);
		pcap_close(p);
		return;
	}
	printf("%c ok", tag);
	for (i = 0; i < npkts; i++)
		printf(" %d", pcap_offline_filter(&prog, &pkts[i].hdr, pkts[i].data));
	printf("\n");
	if (dump) {
		for (i = 0; i < (int)prog.bf_len; i++)
			printf("# %s\n", bpf_image(&prog.bf_insns[i], i));
	}
	pcap_freecode(&prog);
	pcap_close(p);
}

int
main(int argc, char **argv)
{
	static char line[MAX_LINE];
	static struct packet pkts[MAX_PACKETS];
	char dltname[64], expr[MAX_LINE];
	int npkts = 0, dlt = -1, snaplen = 0, have = 0, lineno = 0;
	unsigned int netmask = 0;

	if (argc > 1 && strcmp(argv[1], "-d") == 0)
		dump = 1;
	while (fgets(line, sizeof line, stdin) != NULL) {
		lineno++;
		chomp(line);
		switch (line[0]) {
		case 'X': {
			int n = 0;
			if (sscanf(line, "X %63s %d %x %n", dltname, &snaplen, &netmask, &n) < 3 || n == 0) {
				fprintf(stderr, "line %d: bad X line\n", lineno);
				return 2;
			}
			dlt = pcap_datalink_name_to_val(dltname);
			if (dlt < 0) {
				fprintf(stderr, "line %d: unknown DLT %s\n", lineno, dltname);
				return 2;
			}
			strcpy(expr, line + n);
			have = 1;
			npkts = 0;
			break;
		}
		case 'P': {
			char *s = line + 1, *end;
			long wire = strtol(s, &end, 10);
			size_t hexlen, i;
			unsigned char *d;

			if (!have || npkts == MAX_PACKETS || end == s) {
				fprintf(stderr, "line %d: bad P line\n", lineno);
				return 2;
			}
			while (*end == ' ')
				end++;
			hexlen = strlen(end);
			d = malloc(hexlen / 2 + 1);
			for (i = 0; i + 1 < hexlen + 1 && 2 * i + 1 < hexlen; i++) {
				int hi = hexval(end[2 * i]), lo = hexval(end[2 * i + 1]);
				if (hi < 0 || lo < 0) {
					fprintf(stderr, "line %d: bad hex\n", lineno);
					return 2;
				}
				d[i] = (unsigned char)(hi << 4 | lo);
			}
			memset(&pkts[npkts].hdr, 0, sizeof pkts[npkts].hdr);
			pkts[npkts].hdr.caplen = (bpf_u_int32)i;
			pkts[npkts].hdr.len = (bpf_u_int32)wire;
			pkts[npkts].data = d;
			npkts++;
			break;
		}
		case '.':
			if (!have) {
				fprintf(stderr, "line %d: '.' without X\n", lineno);
				return 2;
			}
			run('O', dlt, snaplen, netmask, expr, pkts, npkts, 1);
			run('U', dlt, snaplen, netmask, expr, pkts, npkts, 0);
			fflush(stdout);
			while (npkts > 0)
				free(pkts[--npkts].data);
			have = 0;
			break;
		case '\0':
		case '#':
			break;
		default:
			fprintf(stderr, "line %d: unknown line\n", lineno);
			return 2;
		}
	}
	return 0;
}
