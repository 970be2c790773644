/* fuzz-document.c - libFuzzer harness for the document layer (schema.c,
 * jsonscan.c, render.c, kinds.c compiled in): the incremental scanner must
 * give the same verdict however the input is split and agree with the
 * parser; every document that validates must survive render -> parse ->
 * render byte for byte, and the stored-body fast path must match the
 * validating renderer. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc-internal.h"
#include "fuzz.h"

#define NS "default"
#define NAME "web"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the scanner -------------------------------------------------------- */

struct verdict {
	enum store_scan_state state;
	size_t error_offset;
	char error[80];
};

static void scan_once(const char *p, size_t n, struct verdict *v)
{
	struct store_jsonscan scan;

	store_jsonscan_init(&scan);
	v->state = store_jsonscan_feed(&scan, p, n);
	FUZZ_CHECK(scan.offset == n || v->state == STORE_SCAN_INVALID,
		   "offset %zu after feeding %zu bytes", scan.offset, n);
	v->error_offset = scan.error_offset;
	memcpy(v->error, scan.error, sizeof(v->error));
}

/* Byte by byte: the state after each byte is the verdict on that prefix,
 * so it turns INVALID exactly at the offending byte and stays there. */
static void scan_bytewise(const char *p, size_t n, const struct verdict *whole)
{
	struct store_jsonscan scan;
	enum store_scan_state st = STORE_SCAN_PREFIX;

	store_jsonscan_init(&scan);
	for (size_t i = 0; i < n; i++) {
		enum store_scan_state prev = st;

		st = store_jsonscan_feed(&scan, p + i, 1);
		if (prev == STORE_SCAN_INVALID) {
			FUZZ_CHECK(st == STORE_SCAN_INVALID, "INVALID not sticky at byte %zu", i);
			continue;
		}
		if (st == STORE_SCAN_INVALID) {
			FUZZ_CHECK(whole->state == STORE_SCAN_INVALID,
				   "byte %zu invalid bytewise, whole input is not", i);
			FUZZ_CHECK(scan.error_offset == i && whole->error_offset == i,
				   "invalid at byte %zu bytewise, error_offset %zu, whole %zu",
				   i, scan.error_offset, whole->error_offset);
		}
	}
	FUZZ_CHECK(st == whole->state, "bytewise state %d, whole %d", st, whole->state);
	if (st == STORE_SCAN_INVALID)
		FUZZ_CHECK(strcmp(scan.error, whole->error) == 0, "bytewise '%s', whole '%s'",
			   scan.error, whole->error);
}

/* Split at points derived from the input: same verdict as one call. */
static void scan_chunked(const char *p, size_t n, uint64_t seed, const struct verdict *whole)
{
	struct store_jsonscan scan;
	enum store_scan_state st = STORE_SCAN_PREFIX;
	size_t pos = 0;

	store_jsonscan_init(&scan);
	while (pos < n) {
		size_t chunk = (size_t)(fuzz_next(&seed) % 17);

		if (chunk > n - pos)
			chunk = n - pos;
		st = store_jsonscan_feed(&scan, p + pos, chunk);
		pos += chunk;
		if (st == STORE_SCAN_INVALID)
			FUZZ_CHECK(whole->state == STORE_SCAN_INVALID &&
				   scan.error_offset == whole->error_offset &&
				   scan.error_offset < pos,
				   "chunked invalid at %zu (fed %zu), whole state %d at %zu",
				   scan.error_offset, pos, whole->state, whole->error_offset);
	}
	if (n == 0)
		st = store_jsonscan_feed(&scan, p, 0);
	FUZZ_CHECK(st == whole->state, "chunked state %d, whole %d", st, whole->state);
}

/* ---- the parser and the printer ------------------------------------------- */

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *print(const cJSON *item, bool pretty, size_t *len)
{
	struct doc_buf b = { 0 };

	doc_print(&b, item, pretty);
	FUZZ_CHECK(!b.failed && b.data != NULL, "doc_print failed");
	*len = b.len;
	return b.data;
}

/* Any JSON the parser accepts prints (compact and pretty) as JSON the
 * scanner and parser accept, and printing is a fixed point. */
static void check_parser(const char *p, size_t n, const struct verdict *whole)
{
	struct store_err err = { { 0 } };
	cJSON *root = NULL, *again = NULL;
	char *compact, *pretty, *compact2;
	size_t clen, plen, c2len;
	struct verdict v;
	int rc;

	rc = doc_parse_json(p, n, &root, &err);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL, "doc_parse_json returned %d", rc);
		FUZZ_CHECK(err.msg[0] != '\0', "no reason for a refusal");
		/* The scanner's COMPLETE is final except for what the parser
		 * refuses on purpose beyond RFC 8259. */
		if (whole->state == STORE_SCAN_COMPLETE)
			FUZZ_CHECK(starts(err.msg, "unsupported \\u0000") ||
				   strstr(err.msg, ": duplicate key") != NULL ||
				   strstr(err.msg, "not supported by the parser") != NULL,
				   "scanner COMPLETE, parser refused: %s", err.msg);
		return;
	}
	FUZZ_CHECK(whole->state == STORE_SCAN_COMPLETE, "parser accepted, scanner state %d",
		   whole->state);

	compact = print(root, false, &clen);
	pretty = print(root, true, &plen);
	scan_once(compact, clen, &v);
	FUZZ_CHECK(v.state == STORE_SCAN_COMPLETE, "compact print does not scan: %s", v.error);
	scan_once(pretty, plen, &v);
	FUZZ_CHECK(v.state == STORE_SCAN_COMPLETE, "pretty print does not scan: %s", v.error);

	rc = doc_parse_json(pretty, plen, &again, &err);
	FUZZ_CHECK(rc == 0, "pretty print does not parse: %s", err.msg);
	compact2 = print(again, false, &c2len);
	FUZZ_CHECK(c2len == clen && memcmp(compact, compact2, clen) == 0,
		   "print is not a fixed point:\n%s\n%s", compact, compact2);

	free(compact);
	free(compact2);
	free(pretty);
	cJSON_Delete(again);
	cJSON_Delete(root);
}

/* ---- documents ------------------------------------------------------------ */

static const int render_flags[] = {
	STORE_RENDER_LIVE,
	STORE_RENDER_LIVE | STORE_RENDER_COMPACT,
	STORE_RENDER_NO_VERSION,
	STORE_RENDER_CONTENT,
	STORE_RENDER_CONTENT | STORE_RENDER_COMPACT,
};

/* render -> parse -> render for one rendering of a parsed body. */
static void round_trip(enum store_kind kind, const struct store_doc *doc,
		       const struct store_meta *meta, int flags, const char *snapshot)
{
	struct store_err err = { { 0 } };
	struct store_doc doc2 = { 0 };
	char *r1 = NULL, *r2 = NULL, *fast = NULL;
	size_t l1 = 0, l2 = 0, lf = 0;
	bool versioned = meta != NULL &&
			 !(flags & (STORE_RENDER_NO_VERSION | STORE_RENDER_CONTENT));
	int rc;

	rc = store_render_snapshot(kind, NS, NAME, meta, doc->body, flags, snapshot, &r1, &l1);
	FUZZ_CHECK(rc == 0, "a parsed body does not render (%d): %s", rc, doc->body);
	FUZZ_CHECK(strlen(r1) == l1, "rendering has a NUL or a wrong length");

	rc = store_render_stored(kind, NS, NAME, meta, doc->body, flags, snapshot, &fast, &lf);
	FUZZ_CHECK(rc == 0 && lf == l1 && memcmp(r1, fast, l1) == 0,
		   "stored-body rendering differs (flags %d):\n%s\n----\n%s", flags, r1,
		   rc == 0 ? fast : "(failed)");

	rc = store_doc_parse(kind, NS, NAME, r1, l1, &doc2, &err);
	FUZZ_CHECK(rc == 0, "a rendering does not parse back (flags %d): %s\n%s", flags,
		   err.msg, r1);
	FUZZ_CHECK(doc2.body_len == doc->body_len && strcmp(doc2.body, doc->body) == 0,
		   "body changed in the round trip:\n%s\n%s", doc->body, doc2.body);
	FUZZ_CHECK(doc2.has_version == versioned &&
		   (!versioned || doc2.version == meta->version),
		   "metadata.version did not round-trip");
	FUZZ_CHECK(strcmp(doc2.snapshot, snapshot ? snapshot : "") == 0,
		   "metadata.snapshot '%s' came back as '%s'", snapshot ? snapshot : "",
		   doc2.snapshot);

	rc = store_render_snapshot(kind, NS, NAME, meta, doc2.body, flags, snapshot, &r2, &l2);
	FUZZ_CHECK(rc == 0 && l2 == l1 && memcmp(r1, r2, l1) == 0,
		   "render -> parse -> render differs:\n%s\n----\n%s", r1, rc == 0 ? r2 : "");

	free(r1);
	free(r2);
	free(fast);
	store_doc_release(&doc2);
}

static void check_documents(const char *p, size_t n, uint64_t seed)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		struct store_err err = { { 0 } };
		struct store_doc doc = { 0 };
		struct store_meta meta = { 0 };
		int rc;

		rc = store_doc_parse((enum store_kind)k, NS, NAME, p, n, &doc, &err);
		if (rc < 0) {
			FUZZ_CHECK(rc == -EINVAL || rc == -EFBIG, "store_doc_parse returned %d", rc);
			FUZZ_CHECK(err.msg[0] != '\0' && strlen(err.msg) < sizeof(err.msg),
				   "no reason for a refusal");
			continue;
		}
		FUZZ_CHECK(doc.body != NULL && strlen(doc.body) == doc.body_len,
			   "body length disagrees");
		FUZZ_CHECK(doc.snapshot[0] == '\0' || store_name_valid(doc.snapshot),
			   "snapshot '%s' is not a label", doc.snapshot);

		/* The store's own metadata: versions and times as it keeps them. */
		meta.version = 1 + (int64_t)(fuzz_next(&seed) % 1000000);
		meta.created_ms = 1700000000000 + (int64_t)(fuzz_next(&seed) % 100000000000);
		meta.updated_ms = meta.created_ms + (int64_t)(fuzz_next(&seed) % 1000000);
		snprintf(meta.node, sizeof(meta.node), "%s", fuzz_next(&seed) & 1 ? "node-1" : "");

		/* Two renderings per input, chosen by its hash: across the
		 * corpus every flag set meets every document shape, at a
		 * fraction of the cost of trying them all each time. */
		for (int i = 0; i < 2; i++) {
			uint64_t r = fuzz_next(&seed);
			int flags = render_flags[r % (sizeof(render_flags) / sizeof(render_flags[0]))];
			const char *snap = (r >> 8) & 1 ? NULL :
					   doc.snapshot[0] ? doc.snapshot : "before-upgrade";

			round_trip((enum store_kind)k, &doc, (r >> 9) % 8 ? &meta : NULL, flags, snap);
		}
		store_doc_release(&doc);
	}
}

/* The input as a stored body (as if edited behind the store's back): the
 * validating renderer either refuses it or shows a document that parses
 * back to a body rendering the same; the fast path must not crash. */
static void check_body(const char *p, size_t n)
{
	struct store_meta meta = { .version = 3, .created_ms = 1700000000000,
				   .updated_ms = 1700000001000, .node = "node-1" };
	char *body;

	if (memchr(p, '\0', n) != NULL)
		return;
	body = malloc(n + 1);
	FUZZ_CHECK(body != NULL, "out of memory");
	memcpy(body, p, n);
	body[n] = '\0';
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		struct store_err err = { { 0 } };
		struct store_doc doc = { 0 };
		char *out = NULL, *fast = NULL, *again = NULL;
		size_t len = 0, flen = 0, alen = 0;
		int rc;

		rc = store_render_stored((enum store_kind)k, NS, NAME, &meta, body,
					 STORE_RENDER_LIVE, NULL, &fast, &flen);
		if (rc == 0)
			FUZZ_CHECK(strlen(fast) == flen, "fast rendering length disagrees");
		free(fast);
		rc = store_render((enum store_kind)k, NS, NAME, &meta, body, STORE_RENDER_LIVE,
				  &out, &len);
		if (rc < 0) {
			FUZZ_CHECK(rc == -EINVAL, "store_render returned %d", rc);
			continue;
		}
		rc = store_doc_parse((enum store_kind)k, NS, NAME, out, len, &doc, &err);
		FUZZ_CHECK(rc == 0, "a rendered body does not parse back: %s\n%s", err.msg, out);
		rc = store_render((enum store_kind)k, NS, NAME, &meta, doc.body,
				  STORE_RENDER_LIVE, &again, &alen);
		FUZZ_CHECK(rc == 0 && alen == len && memcmp(out, again, len) == 0,
			   "body rendering is not stable:\n%s\n----\n%s", out, rc == 0 ? again : "");
		free(out);
		free(again);
		store_doc_release(&doc);
	}
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = fuzz_hash(data, size);
	struct verdict whole;
	/* An exact-size copy: a read past the end is an ASan report. */
	char *p = malloc(size ? size : 1);

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	scan_once(p, size, &whole);
	scan_bytewise(p, size, &whole);
	scan_chunked(p, size, seed, &whole);
	check_parser(p, size, &whole);
	check_documents(p, size, seed);
	check_body(p, size);
	free(p);
	return 0;
}
