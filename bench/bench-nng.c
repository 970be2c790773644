/* bench-nng.c - the floor under replication latency: an nng pub/sub round
 * trip over 127.0.0.1 (a message published, received and published back), at
 * a paced rate, with the message size of a document; run by
 * bench/run-replication.sh, never by make check. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "bench.h"

#define PROBE 0xffffffffu   /* sequence number of the warm-up messages */

struct echo {
	nng_socket sub, pub;
	atomic_bool stop;
};

static _Noreturn void die(const char *what, int rv)
{
	fprintf(stderr, "bench-nng: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

static void open_pair(nng_socket *pub, nng_socket *sub, const char *listen,
		      const char *dial)
{
	int rv = nng_pub0_open(pub);

	if (rv != 0)
		die("unable to open a pub socket", rv);
	rv = nng_listen(*pub, listen, NULL, 0);
	if (rv != 0)
		die("unable to listen", rv);
	rv = nng_sub0_open(sub);
	if (rv != 0)
		die("unable to open a sub socket", rv);
	rv = nng_socket_set(*sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv != 0)
		die("unable to subscribe", rv);
	rv = nng_socket_set_ms(*sub, NNG_OPT_RECVTIMEO, 100);
	if (rv != 0)
		die("unable to set a receive timeout", rv);
	/* the peer may not listen yet: dial in the background, as the sidecar does */
	rv = nng_dial(*sub, dial, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0)
		die("unable to dial", rv);
}

/* The far side: publishes back whatever it receives. */
static void *echo_main(void *arg)
{
	struct echo *e = arg;

	while (!atomic_load(&e->stop)) {
		nng_msg *m;
		int rv = nng_recvmsg(e->sub, &m, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		if (nng_sendmsg(e->pub, m, 0) != 0)
			nng_msg_free(m);
	}
	return NULL;
}

static int send_seq(nng_socket pub, uint32_t seq, double t_us, size_t size)
{
	char buf[1 << 16];

	memset(buf, 'x', size);
	memcpy(buf, &seq, sizeof(seq));
	memcpy(buf + sizeof(seq), &t_us, sizeof(t_us));
	return nng_send(pub, buf, size, 0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-nng [--rate R] [--duration S] [--size B] URL_A URL_B\n"
		"  URL_A, URL_B: two free tcp://127.0.0.1:PORT addresses\n"
		"prints: messages, lost, rtt_p50_us, rtt_p99_us, rtt_max_us\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double rate = 1000, duration = 5, *rtt, start, deadline;
	size_t size = BENCH_DOC_SIZE;
	struct echo e = {0};
	nng_socket pub, sub;
	pthread_t th;
	unsigned max, sent = 0, got = 0, i;
	int c, ready = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': rate = strtod(optarg, NULL); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'b': size = (size_t)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || rate <= 0 || duration <= 0 || size < 16 ||
	    size > (1 << 16)) {
		usage(stderr);
		return 2;
	}
	open_pair(&pub, &sub, argv[optind], argv[optind + 1]);
	open_pair(&e.pub, &e.sub, argv[optind + 1], argv[optind]);
	if (pthread_create(&th, NULL, echo_main, &e) != 0) {
		fprintf(stderr, "bench-nng: unable to start the echo thread\n");
		return 1;
	}
	/* pub/sub drops what is sent before both subscriptions are connected */
	deadline = bench_now_us() + 5e6;
	while (!ready && bench_now_us() < deadline) {
		nng_msg *m;

		send_seq(pub, PROBE, 0, size);
		if (nng_recvmsg(sub, &m, 0) == 0) {
			ready = 1;
			nng_msg_free(m);
		}
	}
	if (!ready) {
		fprintf(stderr, "bench-nng: the two sides did not connect within 5 s\n");
		return 1;
	}
	/* drain the other warm-up echoes */
	for (;;) {
		nng_msg *m;

		if (nng_recvmsg(sub, &m, 0) != 0)
			break;
		nng_msg_free(m);
	}
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 1000);

	max = (unsigned)(rate * duration) + 1;
	rtt = calloc(max, sizeof(double));
	if (rtt == NULL) {
		fprintf(stderr, "bench-nng: out of memory\n");
		return 1;
	}
	/* one message in flight at a time, on the rate's schedule: the round
	 * trip of each is measured alone, as one replicated write would be */
	start = bench_now_us();
	for (i = 0; i < max; i++) {
		double due = start + i * 1e6 / rate, t0;
		nng_msg *m;
		int rv;

		if (due >= start + duration * 1e6)
			break;
		while (bench_now_us() < due)
			usleep((useconds_t)((due - bench_now_us()) > 50 ? 50 : 1));
		t0 = bench_now_us();
		if (send_seq(pub, i, t0, size) != 0)
			continue;
		sent++;
		rv = nng_recvmsg(sub, &m, 0);
		if (rv != 0)
			continue;
		rtt[got++] = bench_now_us() - t0;
		nng_msg_free(m);
	}
	atomic_store(&e.stop, true);
	pthread_join(th, NULL);
	if (got > 0)
		qsort(rtt, got, sizeof(double), bench_cmp_double);
	printf("messages=%u lost=%u rtt_p50_us=%.1f rtt_p99_us=%.1f rtt_max_us=%.1f\n", sent,
	       sent - got, got ? rtt[got / 2] : 0, got ? rtt[(size_t)(got * 0.99)] : 0,
	       got ? rtt[got - 1] : 0);
	nng_close(pub);
	nng_close(sub);
	nng_close(e.pub);
	nng_close(e.sub);
	free(rtt);
	return 0;
}
