/* wire-seeds.c - writes the fuzz-wire seed corpus: one frame of each
 * message type, as the encoder produces it, into the directory given.
 * run.sh does not need it; it is kept so the seeds can be regenerated
 * when the wire format changes, from the source tree:
 *   cc -std=c11 -D_GNU_SOURCE -Istore -Isync -o /tmp/wire-seeds \
 *     tests/fuzz/wire-seeds.c sync/wire.c store/jsonscan.c store/kinds.c
 *   /tmp/wire-seeds tests/fuzz/corpus/fuzz-wire */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const char *dir;

static int save(const char *name, const struct sync_msg *m)
{
	char why[SYNC_WHY_MAX] = "", path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = sync_wire_encode(m, &buf, &len, why);

	if (rc < 0) {
		fprintf(stderr, "wire-seeds: unable to encode %s: %s\n", name, why);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "wire-seeds: unable to write '%s'\n", path);
		free(buf);
		return -EIO;
	}
	free(buf);
	return 0;
}

static void change(struct sync_change *sc, enum store_op op, const char *name,
		   const char *body, const char *source, int64_t seq)
{
	memset(sc, 0, sizeof(*sc));
	sc->r.c.op = op;
	sc->r.c.kind = STORE_KIND_DEPLOYMENT;
	sc->r.c.ns = "default";
	sc->r.c.name = name;
	sc->r.c.version = seq;
	sc->r.c.origin = "node-1";
	sc->r.c.origin_seq = seq;
	sc->r.c.hlc = ((uint64_t)1700000000000 << 16) | (uint64_t)seq;
	sc->r.c.time_ms = 1700000000000;
	sc->r.c.body = body;
	sc->r.c.source = source;
	sc->r.parent_hlc = seq > 1 ? ((uint64_t)1700000000000 << 16) : 0;
	sc->r.parent_node = seq > 1 ? "node-2" : "";
	sc->r.created_ms = 1700000000000;
}

int main(int argc, char **argv)
{
	static const char body[] = "{\"labels\":{\"app\":\"web\"},\"spec\":{\"image\":\"nginx:1.25\","
				   "\"replicas\":2,\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}}";
	static uint8_t chunk[] = "SQLite format 3";
	struct sync_change ch[4];
	struct sync_origin origins[2] = { { "node-1", 42 }, { "node-2", 7 } };
	struct sync_msg m;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: wire-seeds DIR\n");
		return 2;
	}
	dir = argv[1];

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_HELLO;
	snprintf(m.node, sizeof(m.node), "node-1");
	m.nonce = 0x0123456789abcdefULL;
	rc |= save("hello", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_CHANGE;
	change(&ch[0], STORE_OP_PUT, "web", body, "import", 3);
	m.changes = ch;
	m.n_changes = 1;
	rc |= save("change-put", &m);
	change(&ch[0], STORE_OP_DELETE, "web", NULL, NULL, 4);
	rc |= save("change-delete", &m);
	change(&ch[0], STORE_OP_NS_CREATE, "", NULL, "snapshot:before-upgrade", 1);
	rc |= save("change-ns-create", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_HEARTBEAT;
	snprintf(m.node, sizeof(m.node), "node-2");
	m.nonce = 99;
	m.revision = 120;
	snprintf(m.digest, sizeof(m.digest), "0123456789abcdef0123456789abcdef");
	m.origins = origins;
	m.n_origins = 2;
	rc |= save("heartbeat", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_FETCH;
	snprintf(m.node, sizeof(m.node), "node-3");
	snprintf(m.origin, sizeof(m.origin), "node-1");
	m.after_seq = 41;
	m.limit = SYNC_FETCH_MAX;
	rc |= save("fetch", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_FETCH_REPLY;
	m.status = SYNC_FETCH_OK;
	snprintf(m.origin, sizeof(m.origin), "node-1");
	m.high = 44;
	change(&ch[0], STORE_OP_PUT, "web", body, NULL, 42);
	change(&ch[1], STORE_OP_DELETE, "web", NULL, NULL, 43);
	change(&ch[2], STORE_OP_NS_DELETE, "", NULL, NULL, 44);
	m.changes = ch;
	m.n_changes = 3;
	rc |= save("fetch-reply", &m);
	m.status = SYNC_FETCH_STALE;
	m.changes = NULL;
	m.n_changes = 0;
	rc |= save("fetch-reply-stale", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_STATE_REQ;
	snprintf(m.node, sizeof(m.node), "node-2");
	rc |= save("state-request-new", &m);
	m.transfer = 7;
	m.offset = 1024;
	m.length = SYNC_STATE_CHUNK;
	rc |= save("state-request-chunk", &m);

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_STATE_REPLY;
	m.status = SYNC_STATE_OK;
	m.transfer = 7;
	m.total = 4096;
	snprintf(m.checksum, sizeof(m.checksum), "fedcba9876543210fedcba9876543210");
	m.offset = 0;
	m.data = chunk;
	m.data_len = sizeof(chunk);
	rc |= save("state-reply", &m);
	m.status = SYNC_STATE_BUSY;
	m.data = NULL;
	m.data_len = 0;
	rc |= save("state-reply-busy", &m);
	return rc ? 1 : 0;
}
