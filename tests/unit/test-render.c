/* test-render.c - canonical rendering: exact expected output, flags,
 * render -> parse -> render round trips, and byte-for-byte equality with
 * what jq 1.6 prints for the same JSON (skipped when jq is missing). */
#include "doc-internal.h"
#include "store.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static bool have_jq;

/* Runs `jq ARGS` on input; returns its stdout (caller frees) or NULL. */
static char *jq(const char *args, const char *input, size_t len)
{
	char path[300], cmd[700];
	struct doc_buf out = { 0 };
	char chunk[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/in.json", tmpdir);
	f = fopen(path, "w");
	if (f == NULL)
		return NULL;
	fwrite(input, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "jq %s < '%s'", args, path);
	f = popen(cmd, "r");
	if (f == NULL)
		return NULL;
	for (;;) {
		n = fread(chunk, 1, sizeof(chunk), f);
		if (n == 0)
			break;
		doc_buf_put(&out, chunk, n);
	}
	if (pclose(f) != 0 || out.failed) {
		doc_buf_release(&out);
		return NULL;
	}
	return out.data;
}

/* ok() that `mine` is byte-for-byte what `jq ARGS` prints for `input`;
 * compact output has no trailing newline, jq -c adds one. */
static void same_as_jq(const char *args, const char *input, const char *mine, const char *what)
{
	char *theirs;
	bool compact = strstr(args, "-c") != NULL;
	size_t mlen = strlen(mine);

	if (!have_jq) {
		ok(1, "# SKIP jq not installed: %s", what);
		return;
	}
	theirs = jq(args, input, strlen(input));
	ok(theirs != NULL &&
	   (compact ? strlen(theirs) == mlen + 1 && theirs[mlen] == '\n' &&
			      strncmp(theirs, mine, mlen) == 0
		    : strcmp(theirs, mine) == 0),
	   "jq %s agrees: %s", args, what);
	if (theirs != NULL && (compact ? strncmp(theirs, mine, mlen) != 0 : strcmp(theirs, mine) != 0))
		diag("jq:   %.300s\n# mine: %.300s", theirs, mine);
	free(theirs);
}

static const struct store_meta meta = {
	.version = 7,
	.created_ms = INT64_C(1795316400000),
	.updated_ms = INT64_C(1795320612000),
	.hlc = 1,
	.node = "node-1",
};

static char *render(enum store_kind kind, const char *body, int flags, const struct store_meta *m)
{
	char *out = NULL;
	size_t len = 0;
	int rc = store_render(kind, "default", "web", m, body, flags, &out, &len);

	if (rc != 0) {
		diag("store_render: %d", rc);
		return NULL;
	}
	if (strlen(out) != len) {
		diag("length %zu, strlen %zu", len, strlen(out));
		free(out);
		return NULL;
	}
	return out;
}

static char *parse_body(enum store_kind kind, const char *json, bool *has_version, int64_t *version)
{
	struct store_doc doc;
	struct store_err err = { "" };
	char *body;

	if (store_doc_parse(kind, "default", "web", json, strlen(json), &doc, &err) != 0) {
		diag("parse: %s", err.msg);
		return NULL;
	}
	body = doc.body;
	if (has_version != NULL)
		*has_version = doc.has_version;
	if (version != NULL)
		*version = doc.version;
	return body;
}

static const char spec_doc[] =
	"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
	"\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":3,"
	"\"ports\":[{\"containerPort\":80}]}}";

static const char spec_live[] =
	"{\n"
	"  \"kind\": \"Deployment\",\n"
	"  \"metadata\": {\n"
	"    \"name\": \"web\",\n"
	"    \"namespace\": \"default\",\n"
	"    \"labels\": {\n"
	"      \"app\": \"web\"\n"
	"    },\n"
	"    \"version\": 7,\n"
	"    \"created\": \"2026-11-22T03:00:00Z\",\n"
	"    \"updated\": \"2026-11-22T04:10:12Z\",\n"
	"    \"node\": \"node-1\"\n"
	"  },\n"
	"  \"spec\": {\n"
	"    \"image\": \"nginx:1.25\",\n"
	"    \"replicas\": 3,\n"
	"    \"ports\": [\n"
	"      {\n"
	"        \"containerPort\": 80,\n"
	"        \"protocol\": \"TCP\"\n"
	"      }\n"
	"    ]\n"
	"  }\n"
	"}\n";

static void test_exact(void)
{
	char *body = parse_body(STORE_KIND_DEPLOYMENT, spec_doc, NULL, NULL);
	char *out;
	const char *line;

	ok(body != NULL && strcmp(body, "{\"labels\":{\"app\":\"web\"},\"spec\":{\"image\":\"nginx:1.25\","
				  "\"replicas\":3,\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}}") == 0,
	   "body of the SPEC example: %s", body);
	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_LIVE, &meta);
	ok(out != NULL && strcmp(out, spec_live) == 0, "live rendering is exact");
	if (out != NULL && strcmp(out, spec_live) != 0)
		diag("%s", out);
	free(out);

	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_NO_VERSION, &meta);
	line = "    \"version\": 7,\n";
	ok(out != NULL && strstr(out, line) == NULL && strlen(out) == strlen(spec_live) - strlen(line) &&
	   strstr(out, "\"created\"") != NULL && strstr(out, "\"node\": \"node-1\"") != NULL,
	   "NO_VERSION drops only metadata.version");
	free(out);

	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_CONTENT, &meta);
	ok(out != NULL && strstr(out, "\"version\"") == NULL && strstr(out, "\"created\"") == NULL &&
	   strstr(out, "\"updated\"") == NULL && strstr(out, "\"node\"") == NULL &&
	   strstr(out, "    \"labels\": {\n      \"app\": \"web\"\n    }\n  },\n") != NULL,
	   "CONTENT drops version, created, updated and node");
	free(out);

	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_COMPACT, &meta);
	ok(out != NULL && strcmp(out, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
				 "\"labels\":{\"app\":\"web\"},\"version\":7,\"created\":\"2026-11-22T03:00:00Z\","
				 "\"updated\":\"2026-11-22T04:10:12Z\",\"node\":\"node-1\"},\"spec\":{\"image\":"
				 "\"nginx:1.25\",\"replicas\":3,\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}}") == 0,
	   "COMPACT is one line: %s", out);
	free(out);

	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_COMPACT | STORE_RENDER_CONTENT, &meta);
	ok(out != NULL && strcmp(out, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
				 "\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"nginx:1.25\",\"replicas\":3,"
				 "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}}") == 0,
	   "COMPACT|CONTENT: %s", out);
	free(out);

	out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_LIVE, NULL);
	ok(out != NULL && strstr(out, "\"version\"") == NULL && strstr(out, "\"created\"") == NULL,
	   "no meta renders like CONTENT");
	free(out);

	{
		struct store_meta m = meta;

		m.node[0] = '\0';
		out = render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_LIVE, &m);
		ok(out != NULL && strstr(out, "\"node\"") == NULL &&
		   strstr(out, "\"updated\": \"2026-11-22T04:10:12Z\"\n  },") != NULL,
		   "an empty node is left out");
		free(out);
	}
	free(body);
}

/* A snapshot's rendering: metadata.snapshot last in metadata, no version;
 * writing it back parses to the same body and names the snapshot. */
static void test_snapshot(void)
{
	char *body = parse_body(STORE_KIND_DEPLOYMENT, spec_doc, NULL, NULL);
	struct store_err err = { "" };
	struct store_doc doc;
	char *out = NULL, *plain = NULL;
	size_t len = 0, plen = 0;
	int rc;

	rc = store_render_snapshot(STORE_KIND_DEPLOYMENT, "default", "web", &meta, body,
				   STORE_RENDER_NO_VERSION, "before-upgrade", &out, &len);
	ok(rc == 0 && strlen(out) == len &&
	   strstr(out, "    \"node\": \"node-1\",\n    \"snapshot\": \"before-upgrade\"\n  },\n") != NULL &&
	   strstr(out, "\"version\"") == NULL, "snapshot rendering ends metadata with its name");
	store_render_snapshot(STORE_KIND_DEPLOYMENT, "default", "web", &meta, body,
			      STORE_RENDER_NO_VERSION, NULL, &plain, &plen);
	ok(plain != NULL && out != NULL && plen + strlen(",\n    \"snapshot\": \"before-upgrade\"") == len,
	   "NULL snapshot renders like store_render");
	rc = out ? store_doc_parse(STORE_KIND_DEPLOYMENT, "default", "web", out, len, &doc, &err) : -1;
	ok(rc == 0 && strcmp(doc.snapshot, "before-upgrade") == 0 && strcmp(doc.body, body) == 0 &&
	   !doc.has_version, "a copy written back parses to the same body, from 'before-upgrade'");
	if (rc == 0)
		store_doc_release(&doc);
	if (have_jq && out)
		same_as_jq(".", out, out, "snapshot rendering");
	free(out);
	free(plain);
	free(body);
}

/* Documents of every kind, with every string escape class. */
static const struct {
	enum store_kind kind;
	const char *json;
} docs[] = {
	{ STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"nginx\"}}" },
	{ STORE_KIND_DEPLOYMENT, spec_doc },
	{ STORE_KIND_DEPLOYMENT,
	  "{\"metadata\":{\"labels\":{},\"annotations\":{\"note\":\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f "
	  "/ \\/ \\u00e9\xc3\xa9 \\ud83d\\ude00 \\u2028 \xe2\x80\xa9 ~\",\"z\":\"\",\"a\":\"\\u0041\"}},"
	  "\"spec\":{\"image\":\"reg.example.com:5000/team/app@sha256:0123\",\"replicas\":0,\"ports\":[],"
	  "\"env\":{\"PATH\":\"/bin:/usr/bin\",\"EMPTY\":\"\",\"JSON\":\"{\\\"a\\\":[1]}\"}}}" },
	{ STORE_KIND_SERVICE,
	  "{\"kind\":\"Service\",\"spec\":{\"selector\":{\"app\":\"web\",\"tier\":\"front\"},"
	  "\"ports\":[{\"port\":80,\"targetPort\":8080,\"name\":\"http\"},{\"port\":53,\"protocol\":\"UDP\"}],"
	  "\"type\":\"LoadBalancer\"}}" },
	{ STORE_KIND_POD,
	  "{\"kind\":\"Pod\",\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"image\":\"busybox\","
	  "\"node\":\"node-1\",\"deployment\":\"web\"},\"status\":{\"phase\":\"Running\"}}" },
	{ STORE_KIND_POD, "{\"spec\":{\"image\":\"busybox\"},\"status\":{}}" },
	{ STORE_KIND_INGRESS,
	  "{\"spec\":{\"rules\":[{\"host\":\"*.example.com\",\"path\":\"/api\",\"service\":\"api\",\"port\":8443},"
	  "{\"host\":\"example.com\",\"path\":\"/\",\"service\":\"web\",\"port\":80}]}}" },
};

static void test_round_trip(void)
{
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		enum store_kind kind = docs[i].kind;
		char *body, *body2 = NULL, *body3 = NULL, *live, *live2 = NULL, *snap, *compact;
		bool has_version = false;
		int64_t version = -1;

		body = parse_body(kind, docs[i].json, NULL, NULL);
		live = body ? render(kind, body, STORE_RENDER_LIVE, &meta) : NULL;
		if (live != NULL)
			body2 = parse_body(kind, live, &has_version, &version);
		ok(body2 != NULL && strcmp(body, body2) == 0 && has_version && version == meta.version,
		   "doc %zu: live rendering parses back to the same body, version 7", i);
		if (body2 != NULL)
			live2 = render(kind, body2, STORE_RENDER_LIVE, &meta);
		ok(live2 != NULL && strcmp(live, live2) == 0, "doc %zu: render is stable", i);

		snap = body ? render(kind, body, STORE_RENDER_NO_VERSION, &meta) : NULL;
		if (snap != NULL)
			body3 = parse_body(kind, snap, &has_version, &version);
		ok(body3 != NULL && strcmp(body, body3) == 0 && !has_version,
		   "doc %zu: snapshot rendering has no precondition", i);

		compact = body ? render(kind, body, STORE_RENDER_COMPACT, &meta) : NULL;
		ok(compact != NULL && strchr(compact, '\n') == NULL, "doc %zu: compact is one line", i);
		if (live != NULL && body != NULL && compact != NULL) {
			same_as_jq(".", live, live, "live rendering");
			same_as_jq("-c .", body, body, "body");
			same_as_jq("-c .", live, compact, "compact rendering");
		}
		free(body);
		free(body2);
		free(body3);
		free(live);
		free(live2);
		free(snap);
		free(compact);
	}
}

static void test_escapes(void)
{
	char *body = parse_body(STORE_KIND_DEPLOYMENT, docs[2].json, NULL, NULL);
	char *out = body ? render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_CONTENT, NULL) : NULL;

	ok(out != NULL &&
	   strstr(out, "      \"note\": \"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f / / "
		       "\xc3\xa9\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8 \xe2\x80\xa9 ~\",\n") != NULL,
	   "strings escape like jq: short escapes, lowercase \\u00XX, raw UTF-8, '/' as is");
	ok(out != NULL && strstr(out, "    \"annotations\": {\n      \"a\": \"A\",\n      \"note\"") != NULL &&
	   strstr(out, "\"labels\": {},\n") != NULL && strstr(out, "\"ports\": [],\n") != NULL,
	   "maps sorted, empty object and array inline");
	ok(out != NULL && strstr(out, "\"env\": {\n      \"EMPTY\": \"\",\n      \"JSON\": \"{\\\"a\\\":[1]}\",\n"
				      "      \"PATH\": \"/bin:/usr/bin\"\n    }\n") != NULL,
	   "env sorted by key, byte order");
	if (out != NULL)
		same_as_jq(".", out, out, "escapes");
	free(out);
	free(body);
}

static void test_bad_bodies(void)
{
	static const struct {
		enum store_kind kind;
		const char *body;
	} bad[] = {
		{ STORE_KIND_DEPLOYMENT, "" },
		{ STORE_KIND_DEPLOYMENT, "not json" },
		{ STORE_KIND_DEPLOYMENT, "[]" },
		{ STORE_KIND_DEPLOYMENT, "{}" },
		{ STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"x\"}} x" },
		{ STORE_KIND_DEPLOYMENT, "{\"kind\":\"Deployment\",\"spec\":{\"image\":\"x\"}}" },
		{ STORE_KIND_DEPLOYMENT, "{\"metadata\":{},\"spec\":{\"image\":\"x\"}}" },
		{ STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"x\"},\"status\":{}}" },
		{ STORE_KIND_SERVICE, "{\"spec\":{\"image\":\"x\"}}" },
		{ STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"x\",\"replicas\":-1}}" },
		{ STORE_KIND_COUNT, "{\"spec\":{\"image\":\"x\"}}" },
	};
	char *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = store_render(bad[i].kind, "default", "web", &meta, bad[i].body,
				      STORE_RENDER_LIVE, &out, &len);

		ok(rc == -EINVAL, "bad body %zu refused", i);
		if (rc == 0)
			free(out);
	}
	/* A body missing defaults (stored by hand) renders with them. */
	out = render(STORE_KIND_DEPLOYMENT, "{\"spec\":{\"image\":\"x\"}}", STORE_RENDER_COMPACT, NULL);
	ok(out != NULL && strcmp(out, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
				 "\"namespace\":\"default\"},\"spec\":{\"image\":\"x\",\"replicas\":1}}") == 0,
	   "defaults filled when rendering: %s", out);
	free(out);
}

/* The printer's numbers, for any tree, against jq -c. */
static void test_numbers(void)
{
	const char *in = "[0,1,-1,100,-0,3.5,1e400,-1e400,1e20,0.1,1e-7,1e16,1e15,123456789012345678,"
			 "0.0001,0.00001,1.5e300,-2.5e-10,65535,9007199254740993,1e17,12345.678,"
			 "5e-324,1.7976931348623157e308,2.2250738585072014e-308,100000000000000000000000,"
			 "0.1234567890123456789,123.456e5,-0.5,1e-4,9.999e15,99999999999999999]";
	cJSON *tree = cJSON_Parse(in);
	struct doc_buf b = { 0 };

	doc_print(&b, tree, false);
	ok(!b.failed && b.data != NULL, "numbers print");
	if (b.data != NULL)
		same_as_jq("-c .", in, b.data, "numbers");
	doc_buf_release(&b);
	doc_print(&b, tree, true);
	doc_buf_put(&b, "\n", 1);
	if (b.data != NULL)
		same_as_jq(".", in, b.data, "numbers, pretty");
	doc_buf_release(&b);
	cJSON_Delete(tree);
}

/* A document near the size limit renders as jq would print it. */
static void test_large(void)
{
	size_t cap = STORE_DOC_MAX - 4096, len = 0;
	char *json = malloc(cap + 256), *body, *out;

	len += (size_t)sprintf(json, "{\"metadata\":{\"labels\":{");
	for (int i = 0; len < cap; i++)
		len += (size_t)sprintf(json + len, "%s\"key-%07d\":\"value \xc3\xa9 \\t %d\"", i ? "," : "", i, i);
	sprintf(json + len, "}},\"spec\":{\"image\":\"x\"}}");
	body = parse_body(STORE_KIND_DEPLOYMENT, json, NULL, NULL);
	out = body ? render(STORE_KIND_DEPLOYMENT, body, STORE_RENDER_LIVE, &meta) : NULL;
	ok(out != NULL, "a %zu-byte document renders", strlen(json));
	if (out != NULL)
		same_as_jq(".", out, out, "large document");
	free(out);
	free(body);
	free(json);
}

int main(void)
{
	char path[300];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-render-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	have_jq = system("jq --version >/dev/null 2>&1") == 0;
	if (!have_jq)
		diag("jq not found: comparisons with jq are skipped");
	test_exact();
	test_snapshot();
	test_round_trip();
	test_escapes();
	test_bad_bodies();
	test_numbers();
	test_large();
	snprintf(path, sizeof(path), "%s/in.json", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return done_testing();
}
