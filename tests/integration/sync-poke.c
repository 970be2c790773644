/* sync-poke.c - test helper for the replication tests: a hostile peer that
 * sends malformed and truncated frames at a swarmfs-sync node, over REQ to
 * its catch-up address or over a PUB socket that the node subscribes to, and
 * prints how many went out; a TLS client with another (or no) certificate;
 * and a writer that records every acknowledged write for the checker.
 *   sync-poke req URL        one of each bad frame to the REP at URL
 *   sync-poke pub URL SECS   listens as PUB on URL, publishing bad frames
 *                            every 20 ms for SECS seconds
 *   sync-poke tls URL CA [PEM]
 *                            over tls+tcp:// to the REP at URL: a HELLO and a
 *                            well-formed change; prints "answered" or
 *                            "refused" (no TLS session, no reply)
 *   sync-poke write DATA_DIR reads "put NS NAME IMAGE", "del NS NAME" and
 *                            "mkns NS" lines (deployments) from stdin, writes
 *                            each to the store in DATA_DIR and prints one
 *                            "ack OP deployments/NS/NAME HLC NODE IMAGE" line
 *                            per acknowledged write ("-" as IMAGE for del) */
#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
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
	case -1: /* well-formed: for the TLS test, which must not get it in */
		break;
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

/* ---- tls ------------------------------------------------------------------------ */

/* PEM: our certificate and key in one file, as nng_tls_config_cert_key_file wants. */
static int tls_try(const char *url, const char *ca, const char *pem)
{
	nng_tls_config *cfg;
	nng_dialer d;
	nng_socket sock;
	struct sync_msg hello = { .type = SYNC_MSG_HELLO, .nonce = 1 };
	char why[SYNC_WHY_MAX];
	uint8_t *buf;
	size_t len;
	void *reply;
	size_t rlen;
	int rv, answered = 0;

	snprintf(hello.node, sizeof(hello.node), "mallory");
	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) != 0 ||
	    nng_tls_config_ca_file(cfg, ca) != 0 ||
	    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0 ||
	    (pem && nng_tls_config_cert_key_file(cfg, pem, NULL) != 0)) {
		fprintf(stderr, "sync-poke: cannot set up TLS\n");
		return 1;
	}
	if (nng_req0_open(&sock) != 0 || nng_dialer_create(&d, sock, url) != 0 ||
	    nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg) != 0) {
		fprintf(stderr, "sync-poke: cannot dial '%s'\n", url);
		return 1;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 3000);
	rv = nng_dialer_start(d, 0);
	if (rv != 0) {
		printf("refused (%s)\n", nng_strerror(rv));
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (i == 0) {
			rv = sync_wire_encode(&hello, &buf, &len, why);
		} else {
			rv = bad_frame(-1, &buf, &len);
		}
		if (rv < 0)
			return 1;
		rv = nng_send(sock, buf, len, 0);
		free(buf);
		if (rv == 0 && nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC) == 0) {
			nng_free(reply, rlen);
			answered++;
		}
	}
	printf(answered ? "answered\n" : "refused (no reply)\n");
	nng_close(sock);
	nng_tls_config_free(cfg);
	return 0;
}

/* ---- write ------------------------------------------------------------------------ */

static int hlc_of(const struct store_change *c, void *arg)
{
	const struct store_change **out = arg;

	printf("%" PRIu64 " %s", c->hlc, c->origin);
	*out = c;
	return 0;
}

static int write_main(const char *dir)
{
	struct store_options so = { .create = false };
	struct store_err err = { "" };
	struct store *s;
	char path[4200], line[512];
	int rc;

	snprintf(path, sizeof(path), "%s/" STORE_DB_FILE, dir);
	rc = store_open(path, &so, &s, &err);
	if (rc < 0) {
		fprintf(stderr, "sync-poke: %s\n", err.msg);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char op[16], ns[64], name[64], image[128], body[256];
		struct store_result res = { 0 };
		struct store_log_filter f = { 0 };
		const struct store_change *seen = NULL;
		int n = sscanf(line, "%15s %63s %63s %127s", op, ns, name, image);

		if (n >= 4 && strcmp(op, "put") == 0) {
			snprintf(body, sizeof(body), "{\"spec\":{\"image\":\"%s\"}}", image);
			rc = store_put(s, STORE_KIND_DEPLOYMENT, ns, name, body, strlen(body), NULL,
				       &res, &err);
		} else if (n >= 3 && strcmp(op, "del") == 0) {
			snprintf(image, sizeof(image), "-");
			rc = store_delete(s, STORE_KIND_DEPLOYMENT, ns, name, &res, &err);
		} else if (n >= 2 && strcmp(op, "mkns") == 0) {
			rc = store_ns_create(s, STORE_KIND_DEPLOYMENT, ns, &err);
			if (rc == 0 || rc == -EEXIST)
				printf("ok mkns %s\n", ns);
			continue;
		} else {
			fprintf(stderr, "sync-poke: bad line '%s'\n", line);
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "sync-poke: %s %s/%s: %s\n", op, ns, name, err.msg);
			continue;
		}
		/* The stamp the write got: its own change-log entry. */
		printf("ack %s deployments/%s/%s ", op, ns, name);
		f.after_revision = res.revision - 1;
		f.limit = 1;
		store_log(s, &f, hlc_of, &seen);
		printf(" %s\n", image);
	}
	store_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	nng_socket sock;
	int sent = 0, rv;

	if (argc == 3 && strcmp(argv[1], "write") == 0)
		return write_main(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "tls") == 0)
		return tls_try(argv[2], argv[3], argc >= 5 ? argv[4] : NULL);
	if (argc < 3 || (strcmp(argv[1], "req") && strcmp(argv[1], "pub"))) {
		fprintf(stderr, "usage: sync-poke req URL | sync-poke pub URL SECS | "
			"sync-poke tls URL CA [PEM] | sync-poke write DATA_DIR\n");
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
