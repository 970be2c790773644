/* sync-poke.c - a hostile peer for t0100: sends malformed and truncated
 * frames at a swarmfs-sync node, over REQ to its catch-up address or over a
 * PUB socket that the node subscribes to, and prints how many went out.
 *   sync-poke req URL        one of each bad frame to the REP at URL
 *   sync-poke pub URL SECS   listens as PUB on URL, publishing bad frames
 *                            every 20 ms for SECS seconds */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

#define N_BAD 8

/* Bad frame number i into a new buffer. */
static int bad_frame(int i, uint8_t **out, size_t *len)
{
	struct sync_change sc;
	struct sync_msg m = { .type = SYNC_MSG_CHANGE, .n_changes = 1, .changes = &sc };
	char why[SYNC_WHY_MAX];
	int rc;

	memset(&sc, 0, sizeof(sc));
	sc.r.c.op = STORE_OP_PUT;
	sc.r.c.kind = STORE_KIND_DEPLOYMENT;
	sc.r.c.ns = "default";
	sc.r.c.name = "evil";
	sc.r.c.version = 1;
	sc.r.c.origin = "mallory";
	sc.r.c.origin_seq = 1;
	sc.r.c.hlc = (uint64_t)time(NULL) * 1000 << 16;
	sc.r.c.time_ms = (int64_t)time(NULL) * 1000;
	sc.r.c.body = "{\"spec\":{\"image\":\"evil\"}}";
	sc.r.parent_node = "";
	rc = sync_wire_encode(&m, out, len, why);
	if (rc < 0) {
		fprintf(stderr, "sync-poke: %s\n", why);
		return rc;
	}
	switch (i) {
	case 0: /* truncated in the middle of the body */
		*len -= 5;
		break;
	case 1: /* wrong magic */
		(*out)[0] = 'X';
		break;
	case 2: /* a future wire version */
		(*out)[4] = 9;
		break;
	case 3: /* op out of range */
		(*out)[12] = 42;
		break;
	case 4: /* namespace not a DNS label */
		(*out)[14] = 'D';
		break;
	case 5: /* body no longer JSON: its first byte */
		(*out)[*len - strlen(sc.r.c.body)] = '[';
		(*out)[*len - 1] = ',';
		break;
	case 6: /* header only */
		*len = SYNC_WIRE_HEADER;
		break;
	default: /* noise */
		for (size_t k = 0; k < *len; k++)
			(*out)[k] = (uint8_t)rand();
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	nng_socket sock;
	int sent = 0, rv;

	if (argc < 3 || (strcmp(argv[1], "req") && strcmp(argv[1], "pub"))) {
		fprintf(stderr, "usage: sync-poke req URL | sync-poke pub URL SECS\n");
		return 2;
	}
	if (strcmp(argv[1], "req") == 0) {
		for (int i = 0; i < N_BAD; i++) {
			uint8_t *buf;
			size_t len;
			void *reply;
			size_t rlen;

			/* A fresh socket each time: REQ is strictly one request, one reply. */
			if (nng_req0_open(&sock) != 0 || nng_dial(sock, argv[2], NULL, 0) != 0) {
				fprintf(stderr, "sync-poke: cannot dial '%s'\n", argv[2]);
				return 1;
			}
			nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 3000);
			if (bad_frame(i, &buf, &len) < 0)
				return 1;
			rv = nng_send(sock, buf, len, 0);
			free(buf);
			if (rv == 0)
				sent++;
			if (rv == 0 && nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC) == 0)
				nng_free(reply, rlen);
			nng_close(sock);
		}
		printf("%d\n", sent);
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: sync-poke pub URL SECS\n");
		return 2;
	}
	if (nng_pub0_open(&sock) != 0 || nng_listen(sock, argv[2], NULL, 0) != 0) {
		fprintf(stderr, "sync-poke: cannot listen on '%s'\n", argv[2]);
		return 1;
	}
	{
		time_t end = time(NULL) + atoi(argv[3]);
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		while (time(NULL) < end) {
			uint8_t *buf;
			size_t len;

			if (bad_frame(sent % N_BAD, &buf, &len) < 0)
				return 1;
			if (nng_send(sock, buf, len, 0) == 0)
				sent++;
			free(buf);
			nanosleep(&ts, NULL);
		}
	}
	nng_close(sock);
	printf("%d\n", sent);
	return 0;
}
