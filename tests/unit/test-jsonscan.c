/* test-jsonscan.c - the incremental scanner gives the same answer however
 * the input is chunked, and finds each error at the exact byte. */
#include "store.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* Documents whose every proper prefix is PREFIX (objects and arrays). */
static const char *const valid[] = {
	"{}",
	"[]",
	" \t\r\n{ } \n",
	"{\"a\":1}",
	"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":3,\"ports\":[{\"containerPort\":80}]}}",
	"{\n  \"a\": [\n    1,\n    2.5,\n    -0,\n    -12.5e+10,\n    3E-2,\n    0.0\n  ]\n}\n",
	"[true,false,null,\"\",0,-1,1e5,1E+5,1e-5]",
	"{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}",
	"{\"utf8\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80\"}",
	"[[[[[[[[[[{\"deep\":[[]]}]]]]]]]]]]",
	"{\"a\":{\"b\":{\"c\":[{},{\"d\":[null]}]}},\"e\":\"\x7f\"}",
	"[\"/\", \"\\u0000\", 123456789012345678901234567890]",
};

static size_t value_end(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	return n;
}

/* Feeds s in chunks cut at `cuts` (sorted offsets); checks the state after
 * each chunk against what the prefix length says. */
static bool feed_chunks(const char *s, const size_t *cuts, size_t ncuts)
{
	struct store_jsonscan scan;
	size_t len = strlen(s), end = value_end(s), prev = 0;

	store_jsonscan_init(&scan);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t at = i < ncuts ? cuts[i] : len;
		enum store_scan_state want = at >= end ? STORE_SCAN_COMPLETE : STORE_SCAN_PREFIX;
		enum store_scan_state got = store_jsonscan_feed(&scan, s + prev, at - prev);

		if (got != want) {
			diag("after %zu bytes: state %d, want %d (%s at %zu)", at, got,
			     want, scan.error, scan.error_offset);
			return false;
		}
		prev = at;
	}
	return scan.offset == len;
}

static void test_valid(void)
{
	size_t cuts[4096];

	srand(12345);
	for (size_t d = 0; d < sizeof(valid) / sizeof(valid[0]); d++) {
		const char *s = valid[d];
		size_t len = strlen(s), n;
		bool good = true;

		/* byte by byte */
		for (n = 0; n + 1 < len; n++)
			cuts[n] = n + 1;
		ok(feed_chunks(s, cuts, n), "valid %zu byte by byte", d);
		/* every prefix in one chunk, then the rest in one */
		for (size_t k = 0; k <= len && good; k++) {
			cuts[0] = k;
			good = feed_chunks(s, cuts, 1);
		}
		ok(good, "valid %zu: every split in two", d);
		/* random chunkings */
		for (int r = 0; r < 200 && good; r++) {
			n = 0;
			for (size_t at = 0; at < len;) {
				at += 1 + (size_t)rand() % 7;
				if (at < len)
					cuts[n++] = at;
			}
			good = feed_chunks(s, cuts, n);
		}
		ok(good, "valid %zu: 200 random chunkings", d);
		/* whole */
		ok(feed_chunks(s, cuts, 0), "valid %zu in one feed", d);
	}
}

struct bad {
	const char *in;
	size_t len;   /* 0: strlen */
	size_t offset;
};

static const struct bad bad[] = {
	{ "{bad", 0, 1 },
	{ "{\"a\":trux", 0, 8 },
	{ "{} x", 0, 3 },
	{ "[1,]", 0, 3 },
	{ "{\"a\":\"\\ud800x\"}", 0, 12 },
	{ "{\"a\":\"\\ud800\\u0041\"}", 0, 17 },
	{ "{\"a\":\"\\ud800\\n\"}", 0, 13 },
	{ "{\"a\":\"\\udc00\"}", 0, 11 },
	{ "[\"\xc0\x80\"]", 0, 2 },
	{ "[\"\xc1\xbf\"]", 0, 2 },
	{ "[\"\xe0\x80\x80\"]", 0, 3 },
	{ "[\"\xe0\x9f\xbf\"]", 0, 3 },
	{ "[\"\xed\xa0\x80\"]", 0, 3 },
	{ "[\"\xf0\x80\x80\x80\"]", 0, 3 },
	{ "[\"\xf4\x90\x80\x80\"]", 0, 3 },
	{ "[\"\xf5\x80\x80\x80\"]", 0, 2 },
	{ "[\"\xff\"]", 0, 2 },
	{ "[\"\x80\"]", 0, 2 },
	{ "[\"\xc3\"]", 0, 3 },
	{ "[\"\xe2\x82\"]", 0, 4 },
	{ "[\"\xe2\x82\xac\x80\"]", 0, 5 },
	{ "[\"a\x01\"]", 0, 3 },
	{ "[\"\t\"]", 0, 2 },
	{ "[\"a\0\"]", 5, 3 },
	{ "[01]", 0, 2 },
	{ "[-01]", 0, 3 },
	{ "[1.]", 0, 3 },
	{ "[1.e5]", 0, 3 },
	{ "[1e]", 0, 3 },
	{ "[1e+]", 0, 4 },
	{ "[-]", 0, 2 },
	{ "[.5]", 0, 1 },
	{ "[+1]", 0, 1 },
	{ "[1x]", 0, 2 },
	{ "{\"a\" 1}", 0, 5 },
	{ "{\"a\":1,}", 0, 7 },
	{ "{\"a\":1 \"b\":2}", 0, 7 },
	{ "{1:2}", 0, 1 },
	{ "{,}", 0, 1 },
	{ "[1 2]", 0, 3 },
	{ "[}", 0, 1 },
	{ "{]", 0, 1 },
	{ "[1]]", 0, 3 },
	{ "{\"a\":[1}", 0, 7 },
	{ "{\"a\":1}{}", 0, 7 },
	{ "[\"\\x\"]", 0, 3 },
	{ "[\"\\u12G4\"]", 0, 6 },
	{ "[\"\\U0041\"]", 0, 3 },
	{ "[nul]", 0, 4 },
	{ "[True]", 0, 1 },
	{ "[NaN]", 0, 1 },
	{ "[Infinity]", 0, 1 },
	{ "\xef\xbb\xbf{}", 0, 0 },
	{ "{'a':1}", 0, 1 },
	{ "/* c */{}", 0, 0 },
	{ "{\"a\":1}\x00", 8, 7 },
	{ "12 3", 0, 3 },
	{ "\"x\" \"y\"", 0, 4 },
	{ "[\f]", 0, 1 },
	{ "\v{}", 0, 0 },
};

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad *b = &bad[i];
		size_t len = b->len ? b->len : strlen(b->in);
		struct store_jsonscan scan;
		enum store_scan_state st = STORE_SCAN_PREFIX;
		size_t first = (size_t)-1;

		/* one feed */
		store_jsonscan_init(&scan);
		st = store_jsonscan_feed(&scan, b->in, len);
		ok(st == STORE_SCAN_INVALID && scan.error_offset == b->offset &&
		   scan.error[0] != '\0',
		   "bad %zu invalid at %zu (%s)", i, b->offset, scan.error);
		if (scan.error_offset != b->offset)
			diag("got state %d offset %zu", st, scan.error_offset);
		/* byte by byte: becomes INVALID exactly at that byte, sticks */
		store_jsonscan_init(&scan);
		for (size_t k = 0; k < len; k++) {
			st = store_jsonscan_feed(&scan, b->in + k, 1);
			if (st == STORE_SCAN_INVALID && first == (size_t)-1)
				first = k;
		}
		ok(st == STORE_SCAN_INVALID && first == b->offset &&
		   scan.error_offset == b->offset,
		   "bad %zu byte by byte invalid at byte %zu, sticky", i, first);
		st = store_jsonscan_feed(&scan, "{}", 2);
		ok(st == STORE_SCAN_INVALID && scan.error_offset == b->offset,
		   "bad %zu stays invalid", i);
	}
}

static enum store_scan_state scan_all(const char *s, size_t len)
{
	struct store_jsonscan scan;

	store_jsonscan_init(&scan);
	return store_jsonscan_feed(&scan, s, len);
}

static void test_states(void)
{
	static const struct {
		const char *in;
		enum store_scan_state want;
	} cases[] = {
		{ "", STORE_SCAN_PREFIX },
		{ "   \n", STORE_SCAN_PREFIX },
		{ "{\"a\":tru", STORE_SCAN_PREFIX },
		{ "{\"a\":true", STORE_SCAN_PREFIX },
		{ "{\"a\":true}", STORE_SCAN_COMPLETE },
		{ "{\"a\":true} \n\t\r", STORE_SCAN_COMPLETE },
		{ "{\"a\":\"\\ud800", STORE_SCAN_PREFIX },
		{ "{\"a\":\"\\ud800\\", STORE_SCAN_PREFIX },
		{ "{\"a\":\"\\ud800\\udc0", STORE_SCAN_PREFIX },
		{ "[\"\xf0\x9f\x98", STORE_SCAN_PREFIX },
		{ "[1e+", STORE_SCAN_PREFIX },
		{ "[-", STORE_SCAN_PREFIX },
		{ "[1", STORE_SCAN_PREFIX },
		{ "{\"a\"", STORE_SCAN_PREFIX },
		{ "{\"a\":", STORE_SCAN_PREFIX },
		{ "{\"a\":1,", STORE_SCAN_PREFIX },
		/* top-level scalars: complete, though a number may still grow */
		{ "12", STORE_SCAN_COMPLETE },
		{ "12 ", STORE_SCAN_COMPLETE },
		{ "-", STORE_SCAN_PREFIX },
		{ "1.", STORE_SCAN_PREFIX },
		{ "1.5e3", STORE_SCAN_COMPLETE },
		{ "0", STORE_SCAN_COMPLETE },
		{ "\"x\"", STORE_SCAN_COMPLETE },
		{ "\"x", STORE_SCAN_PREFIX },
		{ "true", STORE_SCAN_COMPLETE },
		{ "nul", STORE_SCAN_PREFIX },
		{ "null ", STORE_SCAN_COMPLETE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum store_scan_state st = scan_all(cases[i].in, strlen(cases[i].in));

		ok(st == cases[i].want, "state %zu is %d (got %d)", i, cases[i].want, st);
	}
}

static void test_depth(void)
{
	struct store_jsonscan scan;
	size_t max = sizeof(scan.stack);
	char *s = malloc(2 * max + 2);
	enum store_scan_state st;

	memset(s, '[', max);
	memset(s + max, ']', max);
	st = scan_all(s, 2 * max);
	ok(st == STORE_SCAN_COMPLETE, "nesting %zu deep is fine", max);
	memset(s, '[', max + 1);
	store_jsonscan_init(&scan);
	st = store_jsonscan_feed(&scan, s, max + 1);
	ok(st == STORE_SCAN_INVALID && scan.error_offset == max,
	   "nesting %zu deep is invalid at %zu (%s)", max + 1, scan.error_offset, scan.error);
	free(s);
}

/* A large document fed one byte at a time must not be quadratic: this
 * finishes in milliseconds when each byte costs O(1). */
static void test_large(void)
{
	size_t n = 1 << 20, len = 0;
	char *s = malloc(n + 64);
	struct store_jsonscan scan;
	enum store_scan_state st = STORE_SCAN_PREFIX;

	len += (size_t)sprintf(s, "{\"labels\":{");
	for (int i = 0; len < n - 64; i++)
		len += (size_t)sprintf(s + len, "%s\"k%d\":\"v\xc3\xa9%d\"", i ? "," : "", i, i);
	len += (size_t)sprintf(s + len, "}}");
	store_jsonscan_init(&scan);
	for (size_t i = 0; i < len; i++)
		st = store_jsonscan_feed(&scan, s + i, 1);
	ok(st == STORE_SCAN_COMPLETE && scan.offset == len,
	   "%zu-byte document byte by byte is complete", len);
	free(s);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_states();
	test_depth();
	test_large();
	return done_testing();
}
