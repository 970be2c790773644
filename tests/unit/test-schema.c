/* test-schema.c - validation of every kind: canonical bodies of valid
 * documents and the exact message of each kind of error; also the kind
 * table and name rule.  Documents are written with ' for " to stay
 * readable; q() swaps them back. */
#include "store.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { D = STORE_KIND_DEPLOYMENT, S = STORE_KIND_SERVICE, P = STORE_KIND_POD, I = STORE_KIND_INGRESS };

/* ' -> " in a static buffer ring (a few strings live at once). */
static const char *q(const char *s)
{
	static char bufs[4][8192];
	static int next;
	char *b = bufs[next++ % 4];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(bufs[0]); i++)
		b[i] = s[i] == '\'' ? '"' : s[i];
	b[i] = '\0';
	return b;
}

static int parse(int kind, const char *json, struct store_doc *doc, struct store_err *err)
{
	return store_doc_parse((enum store_kind)kind, "default", "web", json,
			       strlen(json), doc, err);
}

/* A valid document and the body it must produce. */
static void good(int kind, const char *json, const char *body)
{
	struct store_doc doc;
	struct store_err err = { "" };
	const char *want = q(body);
	int rc = parse(kind, q(json), &doc, &err);

	ok(rc == 0 && strcmp(doc.body, want) == 0 && doc.body_len == strlen(want),
	   "valid %s: %s", store_kind_name((enum store_kind)kind), want);
	if (rc != 0)
		diag("rc %d: %s", rc, err.msg);
	else if (strcmp(doc.body, want) != 0)
		diag("body %s", doc.body);
	store_doc_release(&doc);
}

/* An invalid document (raw bytes, len 0: strlen) and its exact error. */
static void bad_raw(int kind, const char *json, size_t len, int want_rc, const char *want)
{
	struct store_doc doc;
	struct store_err err = { "" };
	int rc = store_doc_parse((enum store_kind)kind, "default", "web", json,
				 len ? len : strlen(json), &doc, &err);

	ok(rc == want_rc && (rc == 0 || (strcmp(err.msg, want) == 0 && doc.body == NULL)),
	   "%s: %s", rc == 0 ? "valid" : "error", want);
	if (rc != want_rc || (rc != 0 && strcmp(err.msg, want) != 0))
		diag("got rc %d: %s", rc, err.msg);
	if (rc == 0)
		store_doc_release(&doc);
}

static void bad(int kind, const char *json, const char *want)
{
	bad_raw(kind, q(json), 0, -EINVAL, want);
}

#define IMG "'image':'nginx'"
#define SEL "'selector':{'app':'web'}"
#define RULE "'host':'example.com','path':'/','service':'web','port':80"
#define LABEL_MSG "must be a DNS label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)"
#define HOST_MSG "must be a DNS name (dot-separated DNS labels, optionally starting with \"*.\", at most 253 characters)"

static void test_valid(void)
{
	struct store_doc doc;
	struct store_err err = { "" };
	int rc;

	/* Deployment */
	good(D, "{'spec':{" IMG "}}", "{'spec':{'image':'nginx','replicas':1}}");
	good(D, "{'kind':'Deployment','metadata':{'node':{'x':[1]},'updated':5,"
		"'created':'whenever','version':7,'annotations':{'x':'y'},"
		"'labels':{'b':'2','a':'1','B':'0'},'namespace':'default','name':'web'},"
		"'spec':{'env':{'Z':'1','A':'2','a':''},'ports':[{'name':'http','containerPort':80},"
		"{'protocol':'UDP','containerPort':53}],'replicas':3,'image':'nginx:1.25'}}",
	     "{'labels':{'B':'0','a':'1','b':'2'},'annotations':{'x':'y'},"
	     "'spec':{'image':'nginx:1.25','replicas':3,'ports':[{'containerPort':80,"
	     "'protocol':'TCP','name':'http'},{'containerPort':53,'protocol':'UDP'}],"
	     "'env':{'A':'2','Z':'1','a':''}}}");
	good(D, "{'spec':{" IMG ",'replicas':0,'ports':[]}}",
	     "{'spec':{'image':'nginx','replicas':0,'ports':[]}}");
	good(D, "{'spec':{" IMG ",'replicas':10000,'ports':[{'containerPort':1},{'containerPort':65535}]}}",
	     "{'spec':{'image':'nginx','replicas':10000,'ports':[{'containerPort':1,'protocol':'TCP'},"
	     "{'containerPort':65535,'protocol':'TCP'}]}}");
	/* integral numbers in other spellings are integers */
	good(D, "{'spec':{" IMG ",'replicas':3.0,'ports':[{'containerPort':8e1},{'containerPort':0.0001e4}]}}",
	     "{'spec':{'image':'nginx','replicas':3,'ports':[{'containerPort':80,'protocol':'TCP'},"
	     "{'containerPort':1,'protocol':'TCP'}]}}");
	good(D, "{'spec':{" IMG ",'replicas':-0}}", "{'spec':{'image':'nginx','replicas':0}}");
	/* an empty labels map is kept; whitespace and order do not matter */
	good(D, "\n{ 'metadata' : { 'labels' : { } } ,\n 'spec' : { 'replicas' : 2 , " IMG " } }\n",
	     "{'labels':{},'spec':{'image':'nginx','replicas':2}}");
	/* strings keep escapes and non-ASCII */
	good(D, "{'metadata':{'annotations':{'note':'caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \\t \\/'}},'spec':{" IMG "}}",
	     "{'annotations':{'note':'caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80 \\t /'},'spec':{'image':'nginx','replicas':1}}");

	/* Service */
	good(S, "{'spec':{" SEL ",'ports':[{'port':80}]}}",
	     "{'spec':{'selector':{'app':'web'},'ports':[{'port':80,'protocol':'TCP'}],'type':'ClusterIP'}}");
	good(S, "{'kind':'Service','spec':{'type':'NodePort','ports':[{'name':'dns','protocol':'UDP',"
		"'targetPort':5353,'port':53},{'port':65535,'targetPort':1}],'selector':{'tier':'x','app':'web'}}}",
	     "{'spec':{'selector':{'app':'web','tier':'x'},'ports':[{'port':53,'targetPort':5353,"
	     "'protocol':'UDP','name':'dns'},{'port':65535,'targetPort':1,'protocol':'TCP'}],'type':'NodePort'}}");
	good(S, "{'spec':{" SEL ",'ports':[{'port':1}],'type':'LoadBalancer'}}",
	     "{'spec':{'selector':{'app':'web'},'ports':[{'port':1,'protocol':'TCP'}],'type':'LoadBalancer'}}");

	/* Pod */
	good(P, "{'spec':{'image':'busybox'}}", "{'spec':{'image':'busybox'}}");
	good(P, "{'kind':'Pod','status':{'phase':'Running'},'spec':{'deployment':'web','node':'node-1','image':'busybox'},"
		"'metadata':{'labels':{'app':'web'}}}",
	     "{'labels':{'app':'web'},'spec':{'image':'busybox','node':'node-1','deployment':'web'},"
	     "'status':{'phase':'Running'}}");
	good(P, "{'spec':{'image':'busybox'},'status':{}}", "{'spec':{'image':'busybox'},'status':{}}");

	/* Ingress */
	good(I, "{'spec':{'rules':[{" RULE "}]}}",
	     "{'spec':{'rules':[{'host':'example.com','path':'/','service':'web','port':80}]}}");
	good(I, "{'spec':{'rules':[{'port':65535,'service':'api','path':'/v1/x','host':'*.a-b.example.com'},{" RULE "}]}}",
	     "{'spec':{'rules':[{'host':'*.a-b.example.com','path':'/v1/x','service':'api','port':65535},"
	     "{'host':'example.com','path':'/','service':'web','port':80}]}}");
	good(I, "{'spec':{'rules':[{'host':'localhost','path':'/','service':'web','port':1}]}}",
	     "{'spec':{'rules':[{'host':'localhost','path':'/','service':'web','port':1}]}}");

	/* metadata.version is the precondition */
	rc = parse(D, q("{'metadata':{'version':7},'spec':{" IMG "}}"), &doc, &err);
	ok(rc == 0 && doc.has_version && doc.version == 7, "version 7 is a precondition");
	store_doc_release(&doc);
	rc = parse(D, q("{'metadata':{'version':0},'spec':{" IMG "}}"), &doc, &err);
	ok(rc == 0 && doc.has_version && doc.version == 0, "version 0 is a precondition");
	store_doc_release(&doc);
	rc = parse(D, q("{'metadata':{'version':9007199254740991},'spec':{" IMG "}}"), &doc, &err);
	ok(rc == 0 && doc.has_version && doc.version == INT64_C(9007199254740991),
	   "version 2^53-1 is a precondition");
	store_doc_release(&doc);
	rc = parse(D, q("{'metadata':{'name':'web'},'spec':{" IMG "}}"), &doc, &err);
	ok(rc == 0 && !doc.has_version && doc.version == 0, "no version, no precondition");
	store_doc_release(&doc);

	/* NULL namespace and name skip the path checks */
	rc = store_doc_parse(STORE_KIND_DEPLOYMENT, NULL, NULL,
			     q("{'metadata':{'name':'x','namespace':'y'},'spec':{" IMG "}}"),
			     strlen(q("{'metadata':{'name':'x','namespace':'y'},'spec':{" IMG "}}")),
			     &doc, &err);
	ok(rc == 0, "NULL ns and name are not checked");
	store_doc_release(&doc);
	store_doc_release(NULL);
}

static void test_invalid(void)
{
	/* unknown fields at every depth */
	bad(D, "{'apiVersion':'v1','spec':{" IMG "}}", "apiVersion: unknown field");
	bad(D, "{'metadata':{'uid':'1'},'spec':{" IMG "}}", "metadata.uid: unknown field");
	bad(D, "{'spec':{" IMG ",'foo':1}}", "spec.foo: unknown field");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80},{'containerPort':80,'foo':1}]}}",
	    "spec.ports[1].foo: unknown field");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80,'foo':1}]}}", "spec.ports[0].foo: unknown field");
	bad(D, "{'spec':{" IMG ",'a b':1}}", "spec[\"a b\"]: unknown field");
	bad(D, "{'spec':{" IMG "},'status':{}}", "status: unknown field");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':80}]},'status':{}}", "status: unknown field");
	bad(P, "{'spec':{'image':'x'},'status':{'phase':'Running','ip':'10.0.0.1'}}", "status.ip: unknown field");
	bad(I, "{'spec':{'rules':[{" RULE ",'tls':true}]}}", "spec.rules[0].tls: unknown field");

	/* required and types */
	bad(D, "{}", "spec: required");
	bad(D, "{'metadata':{}}", "spec: required");
	bad(D, "{'spec':{}}", "spec.image: required");
	bad(D, "{'spec':[]}", "spec: must be an object");
	bad(D, "{'spec':null}", "spec: must be an object");
	bad(D, "{'spec':{'image':''}}", "spec.image: must be a non-empty string");
	bad(D, "{'spec':{'image':5}}", "spec.image: must be a non-empty string");
	bad(D, "{'metadata':[],'spec':{" IMG "}}", "metadata: must be an object");

	/* integer ranges at their boundaries, and non-integers */
	bad(D, "{'spec':{" IMG ",'replicas':-1}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'replicas':10001}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'replicas':'3'}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'replicas':true}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'replicas':null}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'replicas':1.5}}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':0}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':65536}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':3.5}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':1e400}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':-1e400}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':'80'}]}}",
	    "spec.ports[0].containerPort: must be an integer from 1 to 65535");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80},{'protocol':'TCP'}]}}",
	    "spec.ports[1].containerPort: required");
	bad(D, "{'spec':{" IMG ",'ports':{}}}", "spec.ports: must be an array");
	bad(D, "{'spec':{" IMG ",'ports':[1]}}", "spec.ports[0]: must be an object");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80,'protocol':'SCTP'}]}}",
	    "spec.ports[0].protocol: must be one of TCP, UDP");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80,'protocol':'tcp'}]}}",
	    "spec.ports[0].protocol: must be one of TCP, UDP");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80,'name':'Http'}]}}",
	    "spec.ports[0].name: " LABEL_MSG);
	bad(D, "{'spec':{" IMG ",'env':{'A':1}}}", "spec.env.A: must be a string");
	bad(D, "{'spec':{" IMG ",'env':[]}}", "spec.env: must be an object");

	/* metadata */
	bad(D, "{'metadata':{'labels':{'app':1}},'spec':{" IMG "}}", "metadata.labels.app: must be a string");
	bad(D, "{'metadata':{'labels':{'app.kubernetes.io/name':true}},'spec':{" IMG "}}",
	    "metadata.labels[\"app.kubernetes.io/name\"]: must be a string");
	bad(D, "{'metadata':{'labels':{'a\\\"b':null}},'spec':{" IMG "}}",
	    "metadata.labels[\"a\\\"b\"]: must be a string");
	bad(D, "{'metadata':{'annotations':[]},'spec':{" IMG "}}", "metadata.annotations: must be an object");
	bad(D, "{'kind':'Service','spec':{" IMG "}}", "kind: must be \"Deployment\" here, got \"Service\"");
	bad(D, "{'kind':3,'spec':{" IMG "}}", "kind: must be \"Deployment\" here, got 3");
	bad(S, "{'kind':'Deployment','spec':{" SEL ",'ports':[{'port':80}]}}",
	    "kind: must be \"Service\" here, got \"Deployment\"");
	bad(D, "{'metadata':{'name':'api'},'spec':{" IMG "}}", "metadata.name: must be \"web\" here, got \"api\"");
	bad(D, "{'metadata':{'namespace':'prod'},'spec':{" IMG "}}",
	    "metadata.namespace: must be \"default\" here, got \"prod\"");
	bad(D, "{'metadata':{'namespace':{'a':'very long value that will be shortened in the message'}},'spec':{" IMG "}}",
	    "metadata.namespace: must be \"default\" here, got {\"a\":\"very long value that will be short...");
	bad(D, "{'metadata':{'version':-1},'spec':{" IMG "}}",
	    "metadata.version: must be an integer from 0 to 9007199254740991");
	bad(D, "{'metadata':{'version':'7'},'spec':{" IMG "}}",
	    "metadata.version: must be an integer from 0 to 9007199254740991");
	bad(D, "{'metadata':{'version':1.5},'spec':{" IMG "}}",
	    "metadata.version: must be an integer from 0 to 9007199254740991");
	bad(D, "{'metadata':{'version':null},'spec':{" IMG "}}",
	    "metadata.version: must be an integer from 0 to 9007199254740991");

	/* Service */
	bad(S, "{'spec':{'ports':[{'port':80}]}}", "spec.selector: required");
	bad(S, "{'spec':{" SEL "}}", "spec.ports: required");
	bad(S, "{'spec':{'selector':{},'ports':[{'port':80}]}}", "spec.selector: must not be empty");
	bad(S, "{'spec':{'selector':{'app':7},'ports':[{'port':80}]}}", "spec.selector.app: must be a string");
	bad(S, "{'spec':{" SEL ",'ports':[]}}", "spec.ports: must not be empty");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':80}],'type':'External'}}",
	    "spec.type: must be one of ClusterIP, NodePort, LoadBalancer");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':80}],'type':1}}",
	    "spec.type: must be one of ClusterIP, NodePort, LoadBalancer");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':65536}]}}", "spec.ports[0].port: must be an integer from 1 to 65535");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':0}]}}", "spec.ports[0].port: must be an integer from 1 to 65535");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':80,'targetPort':0}]}}",
	    "spec.ports[0].targetPort: must be an integer from 1 to 65535");
	bad(S, "{'spec':{" SEL ",'ports':[{'port':80,'targetPort':65536}]}}",
	    "spec.ports[0].targetPort: must be an integer from 1 to 65535");
	bad(S, "{'spec':{" SEL ",'ports':[{'targetPort':80}]}}", "spec.ports[0].port: required");

	/* Pod */
	bad(P, "{'spec':{}}", "spec.image: required");
	bad(P, "{'spec':{'image':'x','node':'Node_1'}}", "spec.node: " LABEL_MSG);
	bad(P, "{'spec':{'image':'x','deployment':'-web'}}", "spec.deployment: " LABEL_MSG);
	bad(P, "{'spec':{'image':'x'},'status':{'phase':'Done'}}",
	    "status.phase: must be one of Pending, Running, Succeeded, Failed, Unknown");
	bad(P, "{'spec':{'image':'x'},'status':[]}", "status: must be an object");

	/* Ingress */
	bad(I, "{'spec':{}}", "spec.rules: required");
	bad(I, "{'spec':{'rules':[]}}", "spec.rules: must not be empty");
	bad(I, "{'spec':{'rules':[{'path':'/','service':'web','port':80}]}}", "spec.rules[0].host: required");
	bad(I, "{'spec':{'rules':[{'host':'a.com','service':'web','port':80}]}}", "spec.rules[0].path: required");
	bad(I, "{'spec':{'rules':[{'host':'Example.com','path':'/','service':'web','port':80}]}}",
	    "spec.rules[0].host: " HOST_MSG);
	bad(I, "{'spec':{'rules':[{'host':'a..b','path':'/','service':'web','port':80}]}}",
	    "spec.rules[0].host: " HOST_MSG);
	bad(I, "{'spec':{'rules':[{'host':'*.','path':'/','service':'web','port':80}]}}",
	    "spec.rules[0].host: " HOST_MSG);
	bad(I, "{'spec':{'rules':[{'host':'a.*.b','path':'/','service':'web','port':80}]}}",
	    "spec.rules[0].host: " HOST_MSG);
	bad(I, "{'spec':{'rules':[{'host':'a.com.','path':'/','service':'web','port':80}]}}",
	    "spec.rules[0].host: " HOST_MSG);
	bad(I, "{'spec':{'rules':[{'host':'a.com','path':'x/','service':'web','port':80}]}}",
	    "spec.rules[0].path: must be a string starting with \"/\"");
	bad(I, "{'spec':{'rules':[{'host':'a.com','path':'/','service':'Web','port':80}]}}",
	    "spec.rules[0].service: " LABEL_MSG);
	bad(I, "{'spec':{'rules':[{'host':'a.com','path':'/','service':'web','port':0}]}}",
	    "spec.rules[0].port: must be an integer from 1 to 65535");
	bad(I, "{'spec':{'rules':[{" RULE "},'x']}}", "spec.rules[1]: must be an object");
	{
		/* 253 characters is the limit of a DNS name */
		char doc[600], host[300];

		memset(host, 'a', 253);
		for (int i = 63; i < 253; i += 64)
			host[i] = '.';
		host[253] = '\0';
		snprintf(doc, sizeof(doc), "{'spec':{'rules':[{'host':'%s','path':'/','service':'web','port':80}]}}", host);
		bad_raw(I, q(doc), 0, 0, "");
		host[253] = 'a';
		host[254] = '\0';
		snprintf(doc, sizeof(doc), "{'spec':{'rules':[{'host':'%s','path':'/','service':'web','port':80}]}}", host);
		bad(I, doc, "spec.rules[0].host: " HOST_MSG);
	}

	/* the first problem in document order wins */
	bad(D, "{'spec':{'replicas':-1},'apiVersion':'v1'}", "spec.replicas: must be an integer from 0 to 10000");
	bad(D, "{'apiVersion':'v1','spec':{'replicas':-1}}", "apiVersion: unknown field");
}

static void test_json_errors(void)
{
	char *big;
	size_t n;

	bad(D, "{'spec':{'image':'x'},'spec':{'image':'y'}}", "spec: duplicate key");
	bad(D, "{'metadata':{'labels':{'a':'1','b':'2','a':'3'}},'spec':{" IMG "}}",
	    "metadata.labels.a: duplicate key");
	bad(D, "{'spec':{" IMG ",'ports':[{'containerPort':80,'containerPort':81}]}}",
	    "spec.ports[0].containerPort: duplicate key");
	/* duplicates count even inside ignored members */
	bad(D, "{'metadata':{'created':{'x':1,'x':2}},'spec':{" IMG "}}", "metadata.created.x: duplicate key");
	/* a big map takes the sorting path */
	bad(D, "{'metadata':{'labels':{'k01':'','k02':'','k03':'','k04':'','k05':'','k06':'','k07':'',"
	       "'k08':'','k09':'','k10':'','k11':'','k12':'','k13':'','k14':'','k15':'','k16':'',"
	       "'k17':'','k18':'','k05':''}},'spec':{" IMG "}}",
	    "metadata.labels.k05: duplicate key");

	bad(D, "", "invalid JSON at line 1, column 1: unexpected end of input");
	bad(D, "{'spec':", "invalid JSON at line 1, column 9: unexpected end of input");
	bad(D, "{\n  'spec': x\n}", "invalid JSON at line 2, column 11: expected a value");
	bad(D, "{'spec':{" IMG "}} x", "invalid JSON at line 1, column 28: unexpected data after the value");
	bad(D, "{'spec':{" IMG ",}}", "invalid JSON at line 1, column 26: expected a string");
	bad(D, "{'spec':{'image':'a\\u0000b'}}", "unsupported \\u0000 at line 1, column 20");
	good(D, "{'spec':{'image':'a\\\\u0000b'}}", "{'spec':{'image':'a\\\\u0000b','replicas':1}}");
	bad_raw(D, "{\"spec\":{\"image\":\"\xff\"}}", 0, -EINVAL, "invalid UTF-8 at byte 18");
	bad_raw(D, "{\"spec\":{\"image\":\"\xed\xa0\x80\"}}", 0, -EINVAL, "invalid UTF-8 at byte 19");
	bad_raw(D, "{\"spec\":{\"image\":\"a\0\"}}", 23, -EINVAL,
		"invalid JSON at line 1, column 20: control character in string");
	bad(D, "[]", "document: must be an object");
	bad(D, "42", "document: must be an object");
	bad(D, "'x'", "document: must be an object");
	bad(D, "null", "document: must be an object");

	/* size: exactly the limit is fine, one byte more is EFBIG */
	n = STORE_DOC_MAX;
	big = malloc(n + 2);
	memset(big, ' ', n + 1);
	memcpy(big, q("{'spec':{" IMG "}}"), strlen(q("{'spec':{" IMG "}}")));
	big[n + 1] = '\0';
	bad_raw(D, big, n, 0, "");
	bad_raw(D, big, n + 1, -EFBIG, "document is 1048577 bytes, the limit is 1048576");
	free(big);

	{
		struct store_doc doc;
		struct store_err err = { "" };
		int rc = store_doc_parse(STORE_KIND_COUNT, "default", "web", "{}", 2, &doc, &err);

		ok(rc == -EINVAL && strcmp(err.msg, "unknown kind") == 0, "unknown kind");
		rc = store_doc_parse(STORE_KIND_DEPLOYMENT, "default", "web", "{}", 2, &doc, NULL);
		ok(rc == -EINVAL, "err may be NULL");
	}
}

static void test_kinds(void)
{
	enum store_kind k;
	static const char *const dirs[] = { "deployments", "services", "pods", "ingresses" };
	static const char *const names[] = { "Deployment", "Service", "Pod", "Ingress" };
	char name[80];

	for (int i = 0; i < STORE_KIND_COUNT; i++) {
		ok(strcmp(store_kind_dir((enum store_kind)i), dirs[i]) == 0 &&
		   strcmp(store_kind_name((enum store_kind)i), names[i]) == 0,
		   "kind %d is %s in %s", i, names[i], dirs[i]);
		ok(store_kind_from_dir(dirs[i], &k) == 0 && k == (enum store_kind)i, "from dir %s", dirs[i]);
		ok(store_kind_from_name(names[i], &k) == 0 && k == (enum store_kind)i, "from name %s", names[i]);
	}
	ok(store_kind_from_dir("Deployments", &k) == -ENOENT, "unknown dir");
	ok(store_kind_from_name("deployment", &k) == -ENOENT, "unknown name");
	ok(store_kind_dir(STORE_KIND_COUNT) == NULL && store_kind_name(STORE_KIND_COUNT) == NULL,
	   "out-of-range kind");

	ok(store_name_valid("a") && store_name_valid("0") && store_name_valid("web-1") &&
	   store_name_valid("a--b") && store_name_valid("123"), "valid names");
	memset(name, 'a', 63);
	name[63] = '\0';
	ok(store_name_valid(name), "63 characters");
	name[63] = 'a';
	name[64] = '\0';
	ok(!store_name_valid(name), "64 characters");
	ok(!store_name_valid("") && !store_name_valid("-a") && !store_name_valid("a-") &&
	   !store_name_valid("A") && !store_name_valid("a_b") && !store_name_valid("a.b") &&
	   !store_name_valid("a b") && !store_name_valid("\xc3\xa9") && !store_name_valid(NULL),
	   "invalid names");
}

static void test_time(void)
{
	char buf[32];

	store_format_time(INT64_C(1795320612000), buf, sizeof(buf));
	ok(strcmp(buf, "2026-11-22T04:10:12Z") == 0, "format time: %s", buf);
	store_format_time(INT64_C(1795320612999), buf, sizeof(buf));
	ok(strcmp(buf, "2026-11-22T04:10:12Z") == 0, "milliseconds truncate: %s", buf);
	store_format_time(0, buf, sizeof(buf));
	ok(strcmp(buf, "1970-01-01T00:00:00Z") == 0, "epoch: %s", buf);
	store_format_time(-1, buf, sizeof(buf));
	ok(strcmp(buf, "1969-12-31T23:59:59Z") == 0, "before the epoch: %s", buf);
}

/* metadata.snapshot: a DNS label, kept out of the body, reported. */
static void test_snapshot_mark(void)
{
	struct store_doc doc;
	struct store_err err = { "" };
	int rc = parse(STORE_KIND_DEPLOYMENT, q("{'metadata':{'snapshot':'s-1'},'spec':{" IMG "}}"),
		       &doc, &err);

	ok(rc == 0 && strcmp(doc.snapshot, "s-1") == 0 &&
	   strcmp(doc.body, q("{'spec':{'image':'nginx','replicas':1}}")) == 0,
	   "metadata.snapshot is reported and not stored");
	if (rc == 0)
		store_doc_release(&doc);
	rc = parse(STORE_KIND_DEPLOYMENT, q("{'spec':{" IMG "}}"), &doc, &err);
	ok(rc == 0 && doc.snapshot[0] == '\0', "no metadata.snapshot: empty");
	if (rc == 0)
		store_doc_release(&doc);
	bad(STORE_KIND_DEPLOYMENT, "{'metadata':{'snapshot':'Bad_Name'},'spec':{" IMG "}}",
	    "metadata.snapshot: " LABEL_MSG);
	bad(STORE_KIND_DEPLOYMENT, "{'metadata':{'snapshot':7},'spec':{" IMG "}}",
	    "metadata.snapshot: " LABEL_MSG);
}

int main(void)
{
	test_valid();
	test_snapshot_mark();
	test_invalid();
	test_json_errors();
	test_kinds();
	test_time();
	return done_testing();
}
