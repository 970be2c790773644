/* test-wire.c - the replication wire format: every message type survives
 * encode/decode unchanged, every truncation and every invalid field of a
 * valid frame is refused with a reason, and a few hundred thousand random
 * mutations never crash the decoder (build with ASan to make that strict). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tap.h"
#include "wire.h"

static const char *body = "{\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":3}}";

static void fill_change(struct sync_change *sc, enum store_op op)
{
	memset(sc, 0, sizeof(*sc));
	sc->r.c.op = op;
	sc->r.c.kind = STORE_KIND_SERVICE;
	sc->r.c.ns = "prod";
	sc->r.c.name = op == STORE_OP_PUT || op == STORE_OP_DELETE ? "web" : "";
	sc->r.c.version = 7;
	sc->r.c.origin = "node-1";
	sc->r.c.origin_seq = 42;
	sc->r.c.hlc = (uint64_t)1700000000000 << 16 | 3;
	sc->r.c.time_ms = 1700000000000;
	sc->r.c.body = op == STORE_OP_PUT ? body : NULL;
	sc->r.c.source = op == STORE_OP_DELETE ? "rename:old" : NULL;
	sc->r.parent_hlc = op == STORE_OP_PUT ? (uint64_t)1600000000000 << 16 : 0;
	sc->r.parent_node = op == STORE_OP_PUT ? "node-2" : "";
	sc->r.created_ms = 1600000000000;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return (!a || !*a) && (!b || !*b);
	return strcmp(a, b) == 0;
}

static bool change_eq(const struct store_rchange *a, const struct store_rchange *b)
{
	return a->c.op == b->c.op && a->c.kind == b->c.kind && str_eq(a->c.ns, b->c.ns) &&
	       str_eq(a->c.name, b->c.name) && a->c.version == b->c.version &&
	       str_eq(a->c.origin, b->c.origin) && a->c.origin_seq == b->c.origin_seq &&
	       a->c.hlc == b->c.hlc && a->c.time_ms == b->c.time_ms &&
	       str_eq(a->c.body, b->c.body) && str_eq(a->c.source, b->c.source) &&
	       (a->c.body == NULL) == (b->c.body == NULL) &&
	       a->parent_hlc == b->parent_hlc && str_eq(a->parent_node, b->parent_node) &&
	       a->created_ms == b->created_ms;
}

static bool msg_eq(const struct sync_msg *a, const struct sync_msg *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case SYNC_MSG_HELLO:
		return strcmp(a->node, b->node) == 0 && a->nonce == b->nonce;
	case SYNC_MSG_CHANGE:
		return b->n_changes == 1 && change_eq(&a->changes[0].r, &b->changes[0].r);
	case SYNC_MSG_HEARTBEAT:
		if (strcmp(a->node, b->node) || a->nonce != b->nonce || a->revision != b->revision ||
		    strcmp(a->digest, b->digest) || a->n_origins != b->n_origins)
			return false;
		for (size_t i = 0; i < a->n_origins; i++)
			if (strcmp(a->origins[i].node, b->origins[i].node) ||
			    a->origins[i].seq != b->origins[i].seq)
				return false;
		return true;
	case SYNC_MSG_FETCH:
		return strcmp(a->node, b->node) == 0 && strcmp(a->origin, b->origin) == 0 &&
		       a->after_seq == b->after_seq && a->limit == b->limit;
	case SYNC_MSG_FETCH_REPLY:
		if (a->status != b->status || strcmp(a->origin, b->origin) || a->high != b->high ||
		    a->n_changes != b->n_changes)
			return false;
		for (size_t i = 0; i < a->n_changes; i++)
			if (!change_eq(&a->changes[i].r, &b->changes[i].r))
				return false;
		return true;
	case SYNC_MSG_STATE_REQ:
		return strcmp(a->node, b->node) == 0 && a->transfer == b->transfer &&
		       a->offset == b->offset && a->length == b->length;
	case SYNC_MSG_STATE_REPLY:
		return a->status == b->status && a->transfer == b->transfer &&
		       a->total == b->total && strcmp(a->checksum, b->checksum) == 0 &&
		       a->offset == b->offset && a->data_len == b->data_len &&
		       (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
	}
	return false;
}

/* Valid example messages of every type. */
static struct sync_change changes[4];
static struct sync_origin origins[3] = { { "node-1", 10 }, { "node-2", 0 }, { "n3", 99999 } };

static int examples(struct sync_msg *m, int max)
{
	int n = 0;

	fill_change(&changes[0], STORE_OP_PUT);
	fill_change(&changes[1], STORE_OP_DELETE);
	fill_change(&changes[2], STORE_OP_NS_CREATE);
	fill_change(&changes[3], STORE_OP_NS_DELETE);
	memset(m, 0, sizeof(*m) * (size_t)max);
	m[n].type = SYNC_MSG_HELLO;
	snprintf(m[n].node, sizeof(m[n].node), "node-1");
	m[n++].nonce = 0x0123456789abcdefULL;
	for (int i = 0; i < 4; i++) {
		m[n].type = SYNC_MSG_CHANGE;
		m[n].n_changes = 1;
		m[n++].changes = &changes[i];
	}
	m[n].type = SYNC_MSG_HEARTBEAT;
	snprintf(m[n].node, sizeof(m[n].node), "node-2");
	m[n].nonce = 7;
	m[n].revision = 1234;
	snprintf(m[n].digest, sizeof(m[n].digest), "0123456789abcdef0123456789abcdef");
	m[n].n_origins = 3;
	m[n++].origins = origins;
	m[n].type = SYNC_MSG_FETCH;
	snprintf(m[n].node, sizeof(m[n].node), "node-3");
	snprintf(m[n].origin, sizeof(m[n].origin), "node-1");
	m[n].after_seq = 17;
	m[n++].limit = 256;
	m[n].type = SYNC_MSG_FETCH_REPLY;
	m[n].status = SYNC_FETCH_OK;
	snprintf(m[n].origin, sizeof(m[n].origin), "node-1");
	m[n].high = 50;
	m[n].n_changes = 4;
	m[n++].changes = changes;
	m[n].type = SYNC_MSG_FETCH_REPLY;
	m[n].status = SYNC_FETCH_STALE;
	snprintf(m[n].origin, sizeof(m[n].origin), "node-9");
	m[n++].high = 3;
	m[n].type = SYNC_MSG_STATE_REQ; /* start a transfer */
	snprintf(m[n].node, sizeof(m[n].node), "node-3");
	n++;
	m[n].type = SYNC_MSG_STATE_REQ; /* one chunk of it */
	snprintf(m[n].node, sizeof(m[n].node), "node-3");
	m[n].transfer = 0xfeedfacecafebeefULL;
	m[n].offset = 3 * SYNC_STATE_CHUNK;
	m[n++].length = SYNC_STATE_CHUNK;
	m[n].type = SYNC_MSG_STATE_REPLY;
	m[n].transfer = 0xfeedfacecafebeefULL;
	m[n].total = 100;
	snprintf(m[n].checksum, sizeof(m[n].checksum), "00112233445566778899aabbccddeeff");
	m[n].offset = 90;
	m[n].data = (uint8_t *)"0123456789";
	m[n++].data_len = 10;
	return n;
}

static void test_roundtrip(void)
{
	struct sync_msg m[12];
	int n = examples(m, 12);

	for (int i = 0; i < n; i++) {
		struct sync_msg d;
		char why[SYNC_WHY_MAX] = "";
		uint8_t *buf;
		size_t len;
		int rc = sync_wire_encode(&m[i], &buf, &len, why);
		bool truncs = true;

		ok(rc == 0, "encode %s #%d (%s)", sync_msg_type_name(m[i].type), i, why);
		if (rc < 0)
			continue;
		rc = sync_wire_decode(buf, len, &d, why);
		ok(rc == 0 && msg_eq(&m[i], &d), "decode(encode(%s #%d)) is the same message (%s)",
		   sync_msg_type_name(m[i].type), i, why);
		sync_msg_release(&d);
		for (size_t cut = 0; cut < len; cut++) {
			rc = sync_wire_decode(buf, cut, &d, why);
			if (rc != -EPROTO && rc != -EINVAL) {
				truncs = false;
				diag("a truncation to %zu bytes gave %d", cut, rc);
			}
			sync_msg_release(&d);
		}
		ok(truncs, "all %zu truncations of %s #%d are refused", len,
		   sync_msg_type_name(m[i].type), i);
		{
			uint8_t *longer = malloc(len + 1);

			memcpy(longer, buf, len);
			longer[len] = 0;
			longer[11]++; /* length too, or it is a length mismatch */
			rc = sync_wire_decode(longer, len + 1, &d, why);
			ok(rc == -EPROTO, "a trailing byte is refused (%s)", why);
			sync_msg_release(&d);
			free(longer);
		}
		free(buf);
	}
}

/* Encodes m, lets `edit` change the frame, and expects a refusal. */
static int decode_edited(const struct sync_msg *m, size_t at, uint8_t value, char *why)
{
	struct sync_msg d;
	uint8_t *buf;
	size_t len;
	int rc = sync_wire_encode(m, &buf, &len, why);

	if (rc < 0)
		return 1;
	if (at < len)
		buf[at] = value;
	rc = sync_wire_decode(buf, len, &d, why);
	sync_msg_release(&d);
	free(buf);
	return rc;
}

static void test_fields(void)
{
	struct sync_msg m[12], bad;
	char why[SYNC_WHY_MAX];
	struct sync_change sc;
	uint8_t *buf;
	size_t len;
	int rc;

	examples(m, 12);
	ok(decode_edited(&m[0], 0, 'X', why) == -EPROTO && strstr(why, "magic"),
	   "bad magic: %s", why);
	ok(decode_edited(&m[0], 4, 2, why) == -EPROTO && strstr(why, "version"),
	   "another wire version: %s", why);
	ok(decode_edited(&m[0], 5, 77, why) == -EPROTO && strstr(why, "type"),
	   "an unknown type: %s", why);
	ok(decode_edited(&m[0], 7, 1, why) == -EPROTO, "unknown flags: %s", why);
	/* CHANGE payload starts at 12: op, kind, ns length, ns... */
	ok(decode_edited(&m[1], 12, 9, why) == -EINVAL && strstr(why, "op"), "op out of range: %s",
	   why);
	ok(decode_edited(&m[1], 13, 4, why) == -EINVAL && strstr(why, "kind"),
	   "kind out of range: %s", why);
	ok(decode_edited(&m[1], 15, 'P', why) == -EINVAL && strstr(why, "namespace"),
	   "a namespace that is not a DNS label: %s", why);
	ok(decode_edited(&m[1], 14, 200, why) == -EINVAL, "a 200-byte name: %s", why);
	ok(decode_edited(&m[5], 12, 0, why) == -EINVAL, "an empty node name: %s", why);

	/* Fields the encoder already refuses. */
	fill_change(&sc, STORE_OP_PUT);
	sc.r.c.body = "{\"spec\": oops";
	bad = (struct sync_msg){ .type = SYNC_MSG_CHANGE, .n_changes = 1, .changes = &sc };
	ok(sync_wire_encode(&bad, &buf, &len, why) == -EINVAL, "invalid JSON body: %s", why);
	fill_change(&sc, STORE_OP_DELETE);
	sc.r.c.body = body;
	ok(sync_wire_encode(&bad, &buf, &len, why) == -EINVAL, "a delete with a body: %s", why);
	fill_change(&sc, STORE_OP_PUT);
	sc.r.c.origin_seq = 0;
	ok(sync_wire_encode(&bad, &buf, &len, why) == -EINVAL, "origin sequence 0: %s", why);
	fill_change(&sc, STORE_OP_PUT);
	sc.r.parent_node = "";
	ok(sync_wire_encode(&bad, &buf, &len, why) == -EINVAL, "a parent stamp without node: %s",
	   why);
	{
		char *big = malloc(STORE_DOC_MAX + 16);

		memset(big, ' ', STORE_DOC_MAX + 15);
		memcpy(big, "{}", 2);
		big[STORE_DOC_MAX + 15] = '\0';
		fill_change(&sc, STORE_OP_PUT);
		sc.r.c.body = big;
		rc = sync_wire_encode(&bad, &buf, &len, why);
		ok(rc == -EINVAL && strstr(why, "large"), "a body over STORE_DOC_MAX: %s", why);
		free(big);
	}
	/* A huge declared count with a tiny payload must not allocate it. */
	{
		uint8_t frame[] = { 'S', 'W', 'F', 'S', 1, SYNC_MSG_FETCH_REPLY, 0, 0, 0, 0, 0, 14,
				    0, 2, 'n', '1', 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xff };
		struct sync_msg d;

		rc = sync_wire_decode(frame, sizeof(frame), &d, why);
		ok(rc == -EPROTO || rc == -EINVAL, "a count the payload cannot hold: %s", why);
		sync_msg_release(&d);
	}
}

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void test_fuzz(void)
{
	struct sync_msg m[12];
	int n = examples(m, 12);
	long accepted = 0, refused = 0, other = 0, runs = 0;

	for (int i = 0; i < n; i++) {
		uint8_t *buf, *copy;
		size_t len;
		char why[SYNC_WHY_MAX];

		if (sync_wire_encode(&m[i], &buf, &len, why) < 0)
			continue;
		copy = malloc(len);
		for (int k = 0; k < 20000; k++) {
			struct sync_msg d;
			int flips = 1 + (int)(rnd() % 4), rc;
			size_t cut = len;

			memcpy(copy, buf, len);
			for (int f = 0; f < flips; f++)
				copy[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 4 == 0)
				copy[rnd() % len] = (uint8_t)rnd();
			if (rnd() % 8 == 0)
				cut = rnd() % len;
			rc = sync_wire_decode(copy, cut, &d, why);
			if (rc == 0)
				accepted++;
			else if (rc == -EPROTO || rc == -EINVAL)
				refused++;
			else
				other++;
			/* What decodes must encode again: it passed every check. */
			if (rc == 0) {
				uint8_t *again;
				size_t alen;

				if (sync_wire_encode(&d, &again, &alen, why) < 0) {
					other++;
					diag("decoded but does not re-encode: %s", why);
				} else {
					free(again);
				}
			}
			sync_msg_release(&d);
			runs++;
		}
		free(copy);
		free(buf);
	}
	ok(other == 0, "%ld random mutations: %ld accepted (still valid), %ld refused, "
	   "no other result, no crash", runs, accepted, refused);
	/* Pure noise, with and without a valid header. */
	other = 0;
	for (int k = 0; k < 100000; k++) {
		uint8_t noise[300];
		size_t len = rnd() % sizeof(noise);
		struct sync_msg d;
		char why[SYNC_WHY_MAX];
		int rc;

		for (size_t j = 0; j < len; j++)
			noise[j] = (uint8_t)rnd();
		if (len >= SYNC_WIRE_HEADER && k % 2) {
			memcpy(noise, "SWFS\x01", 5);
			noise[5] = (uint8_t)(1 + rnd() % 5);
			noise[6] = noise[7] = 0;
			noise[8] = noise[9] = 0;
			noise[10] = (uint8_t)((len - 12) >> 8);
			noise[11] = (uint8_t)(len - 12);
		}
		rc = sync_wire_decode(noise, len, &d, why);
		if (rc != 0 && rc != -EPROTO && rc != -EINVAL)
			other++;
		sync_msg_release(&d);
	}
	ok(other == 0, "100000 random frames (half with a valid header) never crash");
}

/* State transfer frames: lengths and ranges are checked both ways. */
static void test_state(void)
{
	struct sync_msg m = { .type = SYNC_MSG_STATE_REPLY }, d;
	struct sync_checksum a, b;
	char why[SYNC_WHY_MAX], ha[33], hb[33];
	uint8_t *buf, data[16] = { 0 };
	size_t len;

	snprintf(m.checksum, sizeof(m.checksum), "%032d", 0);
	m.total = 10;
	m.offset = 5;
	m.data = data;
	m.data_len = 6;
	ok(sync_wire_encode(&m, &buf, &len, why) == -EINVAL, "a chunk past the total is not encoded (%s)", why);
	m.data_len = 5;
	ok(sync_wire_encode(&m, &buf, &len, why) == 0, "a chunk that ends at the total is");
	/* Patch the total down to 9 (its last byte is at 12 + 1 + 8 + 7). */
	buf[12 + 1 + 8 + 7] = 9;
	ok(sync_wire_decode(buf, len, &d, why) == -EINVAL, "a decoded chunk past the total is refused (%s)", why);
	buf[12 + 1 + 8 + 7] = 10;
	buf[12 + 1 + 8 + 8] = 'G';
	ok(sync_wire_decode(buf, len, &d, why) == -EINVAL, "a checksum that is not hex is refused (%s)", why);
	free(buf);
	m.total = SYNC_STATE_MAX + 1;
	m.data_len = 0;
	m.offset = 0;
	ok(sync_wire_encode(&m, &buf, &len, why) == -EINVAL, "a total above SYNC_STATE_MAX is refused");

	memset(&m, 0, sizeof(m));
	m.type = SYNC_MSG_STATE_REQ;
	snprintf(m.node, sizeof(m.node), "n1");
	m.transfer = 5;
	m.length = SYNC_STATE_CHUNK + 1;
	ok(sync_wire_encode(&m, &buf, &len, why) == -EINVAL, "a request above SYNC_STATE_CHUNK is refused");
	m.length = 0;
	ok(sync_wire_encode(&m, &buf, &len, why) == -EINVAL, "a chunk request of 0 bytes is refused");
	m.transfer = 0;
	m.offset = 7;
	ok(sync_wire_encode(&m, &buf, &len, why) == -EINVAL, "a start with an offset is refused");
	m.offset = 0;
	ok(sync_wire_encode(&m, &buf, &len, why) == 0, "a start request encodes");
	buf[len - 1] = 1; /* length 1 with transfer 0 */
	ok(sync_wire_decode(buf, len, &d, why) == -EINVAL, "a start asking for bytes is refused (%s)", why);
	free(buf);

	sync_checksum_init(&a);
	sync_checksum_add(&a, "hello world", 11);
	sync_checksum_init(&b);
	sync_checksum_add(&b, "hello ", 6);
	sync_checksum_add(&b, "world", 5);
	sync_checksum_hex(&a, ha);
	sync_checksum_hex(&b, hb);
	ok(strcmp(ha, hb) == 0 && strlen(ha) == 32, "the checksum does not depend on chunking (%s)", ha);
	sync_checksum_init(&b);
	sync_checksum_add(&b, "hello worle", 11);
	sync_checksum_hex(&b, hb);
	ok(strcmp(ha, hb) != 0, "and changes with one byte");
}

int main(void)
{
	test_roundtrip();
	test_fields();
	test_state();
	test_fuzz();
	return done_testing();
}
