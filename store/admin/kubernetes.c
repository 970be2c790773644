/* kubernetes.c - `swarmfs-admin export --kubernetes`: the live state as a
 * v1 List of apps/v1 Deployments, v1 Services, v1 Pods and
 * networking.k8s.io/v1 Ingresses, field shapes as in the Kubernetes API
 * reference (v1.32), built from admin_export's tree so both exports read
 * the same transaction.  What Kubernetes would refuse (label keys or values
 * outside its syntax, container port names that are no IANA service name)
 * is moved or dropped and reported, never emitted. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

struct k8s {
	admin_report_cb report;
	void *arg;
	int64_t warnings;
	bool nomem;
};

static void warn(struct k8s *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct k8s *k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	k->warnings++;
	if (k->report)
		k->report(ADMIN_WARNING, msg, k->arg);
}

/* cJSON's Add* return NULL on failure; one flag checked at the end. */
static cJSON *add(struct k8s *k, cJSON *parent, const char *key, cJSON *item)
{
	if (item == NULL || (key ? !cJSON_AddItemToObject(parent, key, item)
				 : !cJSON_AddItemToArray(parent, item))) {
		cJSON_Delete(item);
		k->nomem = true;
		return NULL;
	}
	return item;
}

static cJSON *copy(const cJSON *item)
{
	return cJSON_Duplicate(item, true);
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ---- label syntax (k8s.io/apimachinery validation) --------------------------- */

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A "qualified name": up to 63 of [A-Za-z0-9._-], alphanumeric at both ends;
 * label values are the same or empty. */
static bool qualified_name(const char *s, bool may_be_empty)
{
	size_t n = strlen(s);

	if (n == 0)
		return may_be_empty;
	if (n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* DNS-1123 subdomain: dot-separated lower-case labels, at most 253. */
static bool dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			char label[64];
			size_t len = i - start;
			if (len == 0 || len > 63)
				return false;
			memcpy(label, s + start, len);
			label[len] = '\0';
			if (!store_name_valid(label))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* [prefix/]name, the key syntax of labels and annotations. */
static bool label_key(const char *key)
{
	const char *slash = strchr(key, '/');

	if (slash == NULL)
		return qualified_name(key, false);
	return dns_subdomain(key, (size_t)(slash - key)) && qualified_name(slash + 1, false);
}

/* IANA_SVC_NAME, what a container port's name must be: at most 15 lower-case
 * letters, digits and '-', at least one letter, no "--", no '-' at an end. */
static bool iana_svc_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* ---- the mapping ------------------------------------------------------------------ */

/* metadata {name, namespace, labels, annotations}: labels Kubernetes would
 * refuse become annotations (whose values are free), with a warning. */
static cJSON *metadata(struct k8s *k, const cJSON *doc, const char *where)
{
	const cJSON *md = get(doc, "metadata");
	const cJSON *labels = get(md, "labels"), *ann = get(md, "annotations"), *c;
	cJSON *m = cJSON_CreateObject(), *l = NULL, *a = NULL;

	if (m == NULL) {
		k->nomem = true;
		return NULL;
	}
	add(k, m, "name", copy(get(md, "name")));
	add(k, m, "namespace", copy(get(md, "namespace")));
	cJSON_ArrayForEach(c, labels) {
		if (label_key(c->string) && qualified_name(c->valuestring, true)) {
			if (l == NULL)
				l = add(k, m, "labels", cJSON_CreateObject());
			if (l)
				add(k, l, c->string, copy(c));
			continue;
		}
		warn(k, "%s: label '%s' is not a valid Kubernetes label; exported as an annotation",
		     where, c->string);
	}
	cJSON_ArrayForEach(c, ann) {
		if (!label_key(c->string)) {
			warn(k, "%s: annotation key '%s' is not valid in Kubernetes; left out",
			     where, c->string);
			continue;
		}
		if (a == NULL)
			a = add(k, m, "annotations", cJSON_CreateObject());
		if (a)
			add(k, a, c->string, copy(c));
	}
	cJSON_ArrayForEach(c, labels) {
		if (label_key(c->string) && qualified_name(c->valuestring, true))
			continue;
		if (!label_key(c->string) || get(ann, c->string))
			continue; /* not even a valid annotation key, or already one */
		if (a == NULL)
			a = add(k, m, "annotations", cJSON_CreateObject());
		if (a)
			add(k, a, c->string, copy(c));
	}
	return m;
}

static cJSON *object(struct k8s *k, const char *api, const char *kind, cJSON *items)
{
	cJSON *o = add(k, items, NULL, cJSON_CreateObject());

	if (o) {
		add(k, o, "apiVersion", cJSON_CreateString(api));
		add(k, o, "kind", cJSON_CreateString(kind));
	}
	return o;
}

/* The labels that tie a Deployment's pods to it: its own valid labels, or
 * app=NAME when it has none (matchLabels must not be empty). */
static cJSON *pod_labels(struct k8s *k, const cJSON *meta)
{
	const cJSON *l = get(meta, "labels");

	if (l && l->child)
		return copy(l);
	cJSON *o = cJSON_CreateObject();
	if (o)
		add(k, o, "app", copy(get(meta, "name")));
	return o;
}

static void deployment(struct k8s *k, const cJSON *doc, const char *where, cJSON *items)
{
	const cJSON *spec = get(doc, "spec"), *c;
	cJSON *o = object(k, "apps/v1", "Deployment", items), *meta, *s, *sel, *tpl, *pspec;
	cJSON *ctr, *ports, *env;

	if (o == NULL || (meta = add(k, o, "metadata", metadata(k, doc, where))) == NULL)
		return;
	s = add(k, o, "spec", cJSON_CreateObject());
	if (s == NULL)
		return;
	add(k, s, "replicas", copy(get(spec, "replicas")));
	sel = add(k, s, "selector", cJSON_CreateObject());
	if (sel)
		add(k, sel, "matchLabels", pod_labels(k, meta));
	tpl = add(k, s, "template", cJSON_CreateObject());
	if (tpl == NULL)
		return;
	c = add(k, tpl, "metadata", cJSON_CreateObject());
	if (c)
		add(k, (cJSON *)c, "labels", pod_labels(k, meta));
	pspec = add(k, tpl, "spec", cJSON_CreateObject());
	ctr = pspec ? add(k, add(k, pspec, "containers", cJSON_CreateArray()), NULL,
			  cJSON_CreateObject()) : NULL;
	if (ctr == NULL)
		return;
	add(k, ctr, "name", copy(get(meta, "name")));
	add(k, ctr, "image", copy(get(spec, "image")));
	if (get(spec, "ports")) {
		ports = add(k, ctr, "ports", cJSON_CreateArray());
		cJSON_ArrayForEach(c, get(spec, "ports")) {
			cJSON *p = add(k, ports, NULL, cJSON_CreateObject());
			const cJSON *name = get(c, "name");
			if (p == NULL)
				break;
			add(k, p, "containerPort", copy(get(c, "containerPort")));
			add(k, p, "protocol", copy(get(c, "protocol")));
			if (name && iana_svc_name(name->valuestring))
				add(k, p, "name", copy(name));
			else if (name)
				warn(k, "%s: port name '%s' is not an IANA service name (at most 15 "
				     "characters, a letter, no '--'); left out", where, name->valuestring);
		}
	}
	if (get(spec, "env")) {
		env = add(k, ctr, "env", cJSON_CreateArray());
		/* The store keeps env sorted by name, so the order is stable. */
		cJSON_ArrayForEach(c, get(spec, "env")) {
			cJSON *e = add(k, env, NULL, cJSON_CreateObject());
			if (e == NULL)
				break;
			add(k, e, "name", cJSON_CreateString(c->string));
			add(k, e, "value", copy(c));
		}
	}
}

static void service(struct k8s *k, const cJSON *doc, const char *where, cJSON *items)
{
	const cJSON *spec = get(doc, "spec"), *c;
	cJSON *o = object(k, "v1", "Service", items), *s, *ports;
	int n = cJSON_GetArraySize(get(spec, "ports"));

	if (o == NULL || add(k, o, "metadata", metadata(k, doc, where)) == NULL)
		return;
	/* Service names are DNS-1035 labels: no leading digit. */
	if (isdigit((unsigned char)cJSON_GetStringValue(get(get(doc, "metadata"), "name"))[0]))
		warn(k, "%s: Kubernetes refuses Service names that start with a digit", where);
	s = add(k, o, "spec", cJSON_CreateObject());
	if (s == NULL)
		return;
	add(k, s, "type", copy(get(spec, "type")));
	add(k, s, "selector", copy(get(spec, "selector")));
	ports = add(k, s, "ports", cJSON_CreateArray());
	cJSON_ArrayForEach(c, get(spec, "ports")) {
		cJSON *p = add(k, ports, NULL, cJSON_CreateObject());
		const cJSON *name = get(c, "name"), *proto = get(c, "protocol"), *port = get(c, "port");
		char made[32];

		if (p == NULL)
			break;
		/* Kubernetes requires a name on every port of a multi-port
		 * Service; the store allows none. */
		if (name) {
			add(k, p, "name", copy(name));
		} else if (n > 1) {
			snprintf(made, sizeof(made), "%s-%d",
				 strcmp(proto->valuestring, "UDP") == 0 ? "udp" : "tcp",
				 port->valueint);
			add(k, p, "name", cJSON_CreateString(made));
		}
		add(k, p, "protocol", copy(proto));
		add(k, p, "port", copy(port));
		add(k, p, "targetPort", copy(get(c, "targetPort") ? get(c, "targetPort") : port));
	}
}

static void pod(struct k8s *k, const cJSON *doc, const char *where, cJSON *items)
{
	const cJSON *spec = get(doc, "spec"), *dep = get(spec, "deployment");
	const cJSON *node = get(spec, "node"), *phase = get(get(doc, "status"), "phase");
	cJSON *o = object(k, "v1", "Pod", items), *meta, *s, *ctr, *ann;

	if (o == NULL || (meta = add(k, o, "metadata", metadata(k, doc, where))) == NULL)
		return;
	if (dep) {
		/* Where the pod came from, as the reconciler wrote it. */
		ann = get(meta, "annotations") ? (cJSON *)get(meta, "annotations")
					       : add(k, meta, "annotations", cJSON_CreateObject());
		if (ann && !get(ann, "swarmfs/deployment"))
			add(k, ann, "swarmfs/deployment", copy(dep));
	}
	s = add(k, o, "spec", cJSON_CreateObject());
	if (s == NULL)
		return;
	if (node)
		add(k, s, "nodeName", copy(node));
	ctr = add(k, add(k, s, "containers", cJSON_CreateArray()), NULL, cJSON_CreateObject());
	if (ctr) {
		add(k, ctr, "name", copy(dep ? dep : get(meta, "name")));
		add(k, ctr, "image", copy(get(spec, "image")));
	}
	if (phase) {
		cJSON *st = add(k, o, "status", cJSON_CreateObject());
		if (st)
			add(k, st, "phase", copy(phase));
	}
}

/* swarmfs keeps one flat list of (host, path, service, port); Kubernetes
 * groups paths by host.  Hosts keep the order of their first rule. */
static void ingress(struct k8s *k, const cJSON *doc, const char *where, cJSON *items)
{
	const cJSON *spec = get(doc, "spec"), *r;
	cJSON *o = object(k, "networking.k8s.io/v1", "Ingress", items), *s, *rules;

	if (o == NULL || add(k, o, "metadata", metadata(k, doc, where)) == NULL)
		return;
	s = add(k, o, "spec", cJSON_CreateObject());
	rules = s ? add(k, s, "rules", cJSON_CreateArray()) : NULL;
	if (rules == NULL)
		return;
	cJSON_ArrayForEach(r, get(spec, "rules")) {
		const char *host = get(r, "host")->valuestring;
		cJSON *rule = NULL, *x, *paths, *p, *backend, *svc, *port;

		cJSON_ArrayForEach(x, rules) {
			if (strcmp(get(x, "host")->valuestring, host) == 0)
				rule = x;
		}
		if (rule == NULL) {
			rule = add(k, rules, NULL, cJSON_CreateObject());
			if (rule == NULL)
				return;
			add(k, rule, "host", cJSON_CreateString(host));
			x = add(k, rule, "http", cJSON_CreateObject());
			if (x == NULL || add(k, x, "paths", cJSON_CreateArray()) == NULL)
				return;
		}
		paths = (cJSON *)get(get(rule, "http"), "paths");
		p = add(k, paths, NULL, cJSON_CreateObject());
		if (p == NULL)
			return;
		add(k, p, "path", copy(get(r, "path")));
		/* swarmfs routes a path and everything below it. */
		add(k, p, "pathType", cJSON_CreateString("Prefix"));
		backend = add(k, p, "backend", cJSON_CreateObject());
		svc = backend ? add(k, backend, "service", cJSON_CreateObject()) : NULL;
		if (svc == NULL)
			return;
		add(k, svc, "name", copy(get(r, "service")));
		port = add(k, svc, "port", cJSON_CreateObject());
		if (port)
			add(k, port, "number", copy(get(r, "port")));
	}
}

int admin_kubernetes(const cJSON *export, admin_report_cb report, void *arg,
		     cJSON **out, struct store_err *err)
{
	struct k8s k = { .report = report, .arg = arg };
	cJSON *list = cJSON_CreateObject(), *items;
	const cJSON *doc;

	*out = NULL;
	items = list ? cJSON_CreateArray() : NULL;
	if (list) {
		add(&k, list, "apiVersion", cJSON_CreateString("v1"));
		add(&k, list, "kind", cJSON_CreateString("List"));
		add(&k, list, "items", items);
	}
	cJSON_ArrayForEach(doc, get(export, "resources")) {
		const cJSON *md = get(doc, "metadata");
		const char *kind = cJSON_GetStringValue(get(doc, "kind"));
		char where[STORE_NAME_MAX * 2 + 32];
		enum store_kind sk;

		if (k.nomem || kind == NULL || store_kind_from_name(kind, &sk) < 0)
			continue;
		snprintf(where, sizeof(where), "%s/%s/%s", store_kind_dir(sk),
			 cJSON_GetStringValue(get(md, "namespace")),
			 cJSON_GetStringValue(get(md, "name")));
		switch (sk) {
		case STORE_KIND_DEPLOYMENT:
			deployment(&k, doc, where, items);
			break;
		case STORE_KIND_SERVICE:
			service(&k, doc, where, items);
			break;
		case STORE_KIND_POD:
			pod(&k, doc, where, items);
			break;
		case STORE_KIND_INGRESS:
			ingress(&k, doc, where, items);
			break;
		default:
			break;
		}
	}
	if (list == NULL || k.nomem) {
		cJSON_Delete(list);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	*out = list;
	return 0;
}

int admin_kubernetes_file(struct store *s, const char *path, int64_t now_ms,
			  admin_report_cb report, void *arg, struct store_err *err)
{
	cJSON *exp = NULL, *list = NULL;
	char *text = NULL, tmp[4096];
	size_t len = 0;
	FILE *f;
	int rc;

	rc = admin_export(s, now_ms, &exp, err);
	if (rc == 0)
		rc = admin_kubernetes(exp, report, arg, &list, err);
	cJSON_Delete(exp);
	if (rc == 0)
		rc = admin_json_print(list, &text, &len);
	cJSON_Delete(list);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		free(text);
		return rc;
	}
	if (path == NULL || strcmp(path, "-") == 0) {
		rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
		if (rc < 0)
			snprintf(err->msg, sizeof(err->msg), "unable to write to stdout");
		free(text);
		return rc;
	}
	/* Like the plain export: a reader sees the old file or the whole new one. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "we");
	if (f == NULL || fwrite(text, 1, len, f) != len || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err->msg, sizeof(err->msg), "unable to write '%.160s': %s", tmp, strerror(errno));
	}
	if (f && fclose(f) != 0 && rc == 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "unable to write '%.160s': %s", tmp, strerror(errno));
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "unable to rename '%.100s' to '%.100s': %s", tmp, path,
			 strerror(errno));
	}
	if (rc < 0 && f)
		unlink(tmp);
	free(text);
	return rc;
}
