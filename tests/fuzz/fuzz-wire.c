/* fuzz-wire.c - libFuzzer harness for the replication wire format
 * (sync/wire.c): no frame may crash the decoder; a frame that decodes
 * re-encodes to the same bytes and decodes to the same message; and a
 * message built from the input that the encoder accepts decodes back
 * field by field (encoder and decoder agree on what is valid). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- comparing messages ------------------------------------------------- */

/* The decoder gives NULL for an empty text; the encoder writes NULL and ""
 * alike. */
static const char *nz(const char *s)
{
	return s ? s : "";
}

static void same_change(const struct store_rchange *a, const struct store_rchange *b,
			size_t i)
{
	const struct store_change *x = &a->c, *y = &b->c;

	FUZZ_CHECK(x->op == y->op && x->kind == y->kind, "change %zu: op/kind", i);
	FUZZ_CHECK(strcmp(nz(x->ns), nz(y->ns)) == 0, "change %zu: ns", i);
	FUZZ_CHECK(strcmp(nz(x->name), nz(y->name)) == 0, "change %zu: name", i);
	FUZZ_CHECK(x->version == y->version, "change %zu: version", i);
	FUZZ_CHECK(strcmp(nz(x->origin), nz(y->origin)) == 0, "change %zu: origin", i);
	FUZZ_CHECK(x->origin_seq == y->origin_seq, "change %zu: origin_seq", i);
	FUZZ_CHECK(x->hlc == y->hlc && x->time_ms == y->time_ms, "change %zu: hlc/time", i);
	FUZZ_CHECK(a->parent_hlc == b->parent_hlc, "change %zu: parent_hlc", i);
	FUZZ_CHECK(strcmp(nz(a->parent_node), nz(b->parent_node)) == 0,
		   "change %zu: parent_node", i);
	FUZZ_CHECK(a->created_ms == b->created_ms, "change %zu: created", i);
	FUZZ_CHECK(strcmp(nz(x->source), nz(y->source)) == 0, "change %zu: source", i);
	FUZZ_CHECK((x->body == NULL) == (y->body == NULL) &&
		   (x->body == NULL || strcmp(x->body, y->body) == 0), "change %zu: body", i);
}

/* Every field, whatever the type: a field the type does not carry must
 * stay zero on both sides. */
static void same_msg(const struct sync_msg *a, const struct sync_msg *b)
{
	FUZZ_CHECK(a->type == b->type, "type %d vs %d", (int)a->type, (int)b->type);
	FUZZ_CHECK(strcmp(a->node, b->node) == 0, "node '%s' vs '%s'", a->node, b->node);
	FUZZ_CHECK(a->nonce == b->nonce, "nonce");
	FUZZ_CHECK(a->revision == b->revision, "revision");
	FUZZ_CHECK(strcmp(a->digest, b->digest) == 0, "digest");
	FUZZ_CHECK(a->n_origins == b->n_origins, "n_origins %zu vs %zu", a->n_origins,
		   b->n_origins);
	for (size_t i = 0; i < a->n_origins; i++)
		FUZZ_CHECK(strcmp(a->origins[i].node, b->origins[i].node) == 0 &&
			   a->origins[i].seq == b->origins[i].seq, "origin %zu", i);
	FUZZ_CHECK(strcmp(a->origin, b->origin) == 0, "origin");
	FUZZ_CHECK(a->after_seq == b->after_seq && a->limit == b->limit, "after_seq/limit");
	FUZZ_CHECK(a->status == b->status && a->high == b->high, "status/high");
	FUZZ_CHECK(a->n_changes == b->n_changes, "n_changes %zu vs %zu", a->n_changes,
		   b->n_changes);
	for (size_t i = 0; i < a->n_changes; i++)
		same_change(&a->changes[i].r, &b->changes[i].r, i);
	FUZZ_CHECK(a->transfer == b->transfer && a->offset == b->offset, "transfer/offset");
	FUZZ_CHECK(a->length == b->length && a->total == b->total, "length/total");
	FUZZ_CHECK(strcmp(a->checksum, b->checksum) == 0, "checksum");
	FUZZ_CHECK(a->data_len == b->data_len &&
		   (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0), "data");
}

/* ---- the input as a frame ------------------------------------------------- */

static void check_frame(const uint8_t *data, size_t size)
{
	struct sync_msg m, m2;
	char why[SYNC_WHY_MAX] = "";
	uint8_t *copy = malloc(size ? size : 1), *enc = NULL;
	size_t len = 0;
	int rc;

	FUZZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, data, size); /* exact size: ASan sees any over-read */
	rc = sync_wire_decode(copy, size, &m, why);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EPROTO || rc == -EINVAL || rc == -ENOMEM, "decode returned %d", rc);
		FUZZ_CHECK(why[0] != '\0' && strlen(why) < SYNC_WHY_MAX, "no reason for %d", rc);
		FUZZ_CHECK(m.changes == NULL && m.origins == NULL && m.data == NULL,
			   "a refused frame left allocations");
		free(copy);
		return;
	}
	rc = sync_wire_encode(&m, &enc, &len, why);
	FUZZ_CHECK(rc == 0, "a decoded %s does not encode: %s", sync_msg_type_name(m.type), why);
	FUZZ_CHECK(len == size && memcmp(enc, copy, size) == 0,
		   "encode(decode(x)) != x for a %s (%zu vs %zu bytes)",
		   sync_msg_type_name(m.type), len, size);
	rc = sync_wire_decode(enc, len, &m2, why);
	FUZZ_CHECK(rc == 0, "a re-encoded %s does not decode: %s", sync_msg_type_name(m.type), why);
	same_msg(&m, &m2);
	sync_msg_release(&m2);
	sync_msg_release(&m);
	free(enc);
	free(copy);
}

/* ---- a message built from the input ----------------------------------------- */

struct take {
	const uint8_t *p;
	size_t n;
};

static uint64_t take_uint(struct take *t, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++) {
		v <<= 8;
		if (t->n > 0) {
			v |= *t->p++;
			t->n--;
		}
	}
	return v;
}

/* Mostly small numbers, sometimes the whole 64-bit range. */
static int64_t take_i64(struct take *t)
{
	uint8_t sel = (uint8_t)take_uint(t, 1);

	if (sel < 0xc0)
		return sel;
	return (int64_t)take_uint(t, 8);
}

/* A string of up to `max` bytes: one of a few meaningful names, or raw
 * bytes from the input (length first), NUL-terminated in buf. */
static void take_str(struct take *t, char *buf, size_t size)
{
	static const char *const names[] = { "", "node-1", "node-2", "default", "web",
					     "a", "import", "snapshot:before", "-bad", "Web" };
	uint8_t sel = (uint8_t)take_uint(t, 1);
	size_t n;

	if (sel < 0x80) {
		snprintf(buf, size, "%s", names[sel % (sizeof(names) / sizeof(names[0]))]);
		return;
	}
	n = sel - 0x80;
	if (n > t->n)
		n = t->n;
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, t->p, n);
	buf[n] = '\0';
	t->p += n;
	t->n -= n;
}

struct built {
	struct sync_msg m;
	struct sync_change changes[3];
	char ns[3][80], name[3][80], origin[3][80], parent[3][80], source[3][300], body[3][300];
	struct sync_origin origins[3];
	uint8_t data[64];
};

static void build_change(struct take *t, struct built *b, int i)
{
	static const char *const bodies[] = {
		"{\"spec\":{\"image\":\"nginx\"}}", "{}", "[1,2]", "7", "{", "\"x\"",
	};
	struct store_rchange *r = &b->changes[i].r;
	uint8_t sel;

	r->c.op = (enum store_op)(take_uint(t, 1) % 5);
	r->c.kind = (enum store_kind)(take_uint(t, 1) % 5);
	take_str(t, b->ns[i], sizeof(b->ns[i]));
	take_str(t, b->name[i], sizeof(b->name[i]));
	take_str(t, b->origin[i], sizeof(b->origin[i]));
	take_str(t, b->parent[i], sizeof(b->parent[i]));
	take_str(t, b->source[i], sizeof(b->source[i]));
	r->c.ns = b->ns[i];
	r->c.name = b->name[i];
	r->c.origin = b->origin[i];
	r->parent_node = b->parent[i];
	r->c.source = b->source[i];
	r->c.version = take_i64(t);
	r->c.origin_seq = take_i64(t);
	r->c.hlc = (uint64_t)take_i64(t);
	r->c.time_ms = take_i64(t);
	r->parent_hlc = (uint64_t)take_i64(t);
	r->created_ms = take_i64(t);
	sel = (uint8_t)take_uint(t, 1);
	if (sel < 0x40) {
		r->c.body = NULL;
	} else if (sel < 0x80) {
		r->c.body = bodies[sel % (sizeof(bodies) / sizeof(bodies[0]))];
	} else {
		take_str(t, b->body[i], sizeof(b->body[i]));
		r->c.body = b->body[i];
	}
}

static void build(struct take *t, struct built *b)
{
	struct sync_msg *m = &b->m;
	size_t count;

	memset(b, 0, sizeof(*b));
	m->type = (enum sync_msg_type)(take_uint(t, 1) % 9);
	switch (m->type) {
	case SYNC_MSG_HELLO:
		take_str(t, m->node, sizeof(m->node));
		m->nonce = take_uint(t, 8);
		break;
	case SYNC_MSG_CHANGE:
		m->n_changes = 1;
		m->changes = b->changes;
		build_change(t, b, 0);
		break;
	case SYNC_MSG_HEARTBEAT:
		take_str(t, m->node, sizeof(m->node));
		m->nonce = take_uint(t, 8);
		m->revision = take_i64(t);
		take_str(t, m->digest, sizeof(m->digest));
		m->n_origins = take_uint(t, 1) % 4;
		m->origins = m->n_origins ? b->origins : NULL;
		for (size_t i = 0; i < m->n_origins; i++) {
			take_str(t, m->origins[i].node, sizeof(m->origins[i].node));
			m->origins[i].seq = take_i64(t);
		}
		break;
	case SYNC_MSG_FETCH:
		take_str(t, m->node, sizeof(m->node));
		take_str(t, m->origin, sizeof(m->origin));
		m->after_seq = take_i64(t);
		m->limit = (uint32_t)take_i64(t);
		break;
	case SYNC_MSG_FETCH_REPLY:
		m->status = (uint8_t)take_uint(t, 1);
		take_str(t, m->origin, sizeof(m->origin));
		m->high = take_i64(t);
		count = take_uint(t, 1) % 4;
		m->n_changes = count;
		m->changes = count ? b->changes : NULL;
		for (size_t i = 0; i < count; i++)
			build_change(t, b, (int)i);
		break;
	case SYNC_MSG_STATE_REQ:
		take_str(t, m->node, sizeof(m->node));
		m->transfer = (uint64_t)take_i64(t);
		m->offset = (uint64_t)take_i64(t);
		m->length = (uint32_t)take_i64(t);
		break;
	case SYNC_MSG_STATE_REPLY:
		m->status = (uint8_t)take_uint(t, 1);
		m->transfer = (uint64_t)take_i64(t);
		m->total = (uint64_t)take_i64(t);
		take_str(t, m->checksum, sizeof(m->checksum));
		m->offset = (uint64_t)take_i64(t);
		m->data_len = take_uint(t, 1) % (sizeof(b->data) + 1);
		for (size_t i = 0; i < m->data_len; i++)
			b->data[i] = (uint8_t)take_uint(t, 1);
		m->data = m->data_len ? b->data : NULL;
		break;
	default:
		break; /* types 0 and 8: the encoder must refuse them */
	}
}

static void check_built(const uint8_t *data, size_t size)
{
	struct take t = { data, size };
	struct built *b = malloc(sizeof(*b));
	struct sync_msg d;
	char why[SYNC_WHY_MAX] = "";
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	int rc;

	FUZZ_CHECK(b != NULL, "out of memory");
	build(&t, b);
	rc = sync_wire_encode(&b->m, &enc, &len, why);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "encode returned %d", rc);
		FUZZ_CHECK(enc == NULL && why[0] != '\0', "a refusal without a reason or with a buffer");
		free(b);
		return;
	}
	rc = sync_wire_decode(enc, len, &d, why);
	FUZZ_CHECK(rc == 0, "the encoder accepted a %s the decoder refuses: %s",
		   sync_msg_type_name(b->m.type), why);
	same_msg(&b->m, &d);
	rc = sync_wire_encode(&d, &enc2, &len2, why);
	FUZZ_CHECK(rc == 0 && len2 == len && memcmp(enc, enc2, len) == 0,
		   "encode(decode(encode(m))) != encode(m)");
	sync_msg_release(&d);
	free(enc);
	free(enc2);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	check_built(data, size);
	return 0;
}
