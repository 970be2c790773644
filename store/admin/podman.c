/* podman.c - maps a Podman Swarm state.json onto swarmfs documents,
 * reporting every member it cannot carry over.
 *
 * The input is Podman Swarm's storage.ClusterState (internal/storage/
 * storage.go in github.com/your-server-support/podman-swarm):
 *   {"deployments": {"NS/NAME": Deployment}, "services": {..: Service},
 *    "ingresses": {..: Ingress}, "pods": {..: Pod},
 *    "last_modified": RFC3339, "version": 1}
 * Its types (internal/types/types.go) carry no json tags, so Go writes the
 * field names as they are ("DesiredReplicas", "NodeName"), while the
 * project's STORAGE.md shows snake_case ("desired_replicas").  Go's decoder
 * matches names case-insensitively; we also ignore '_', so both spellings
 * (and hand-written lowercase files) import.
 *
 * The mapping (Go field -> swarmfs document):
 *   Deployment: DesiredReplicas -> spec.replicas (Replicas when it is
 *     missing), Template.spec.containers[0].image/ports/env (or flat Image,
 *     Ports, Env) -> spec.image, spec.ports[] (containerPort, protocol,
 *     name), spec.env (EnvVar list -> map), Labels ->
 *     metadata.labels, Pods[] -> Pod resources with spec.deployment.
 *   Service: Type -> spec.type, Selector -> spec.selector, Ports[] port/
 *     targetPort/protocol/name -> spec.ports[], Labels -> metadata.labels.
 *   Ingress: each Rules[].Paths[] {Path, ServiceName, ServicePort} under its
 *     Host -> one spec.rules[] entry {host, path, service, port}; Labels and
 *     Annotations -> metadata.
 *   Pod: Image -> spec.image, NodeName -> spec.node, State -> status.phase,
 *     the owning deployment (Deployment.Pods, else the "NAME-N" naming
 *     Podman Swarm uses) -> spec.deployment, Labels/Annotations -> metadata.
 * Policy: a non-empty member without an equivalent (ID, CreatedAt,
 * ClusterIP, Volumes, NodeSelector, Selector, container names, PathType,
 * any unknown member) is a WARNING naming its JSON path, and is dropped;
 * Go's zero values (null, "", 0, {}, []) are not reported.  An entry whose
 * mapped document fails validation, or whose key is not a valid
 * NAMESPACE/NAME, is an ERROR, and then nothing is imported.  A pod listed
 * both in "pods" and in a deployment's Pods is imported once, from "pods".
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

#define PATH_MAX_LEN 512
#define KEY_MAX 256 /* long enough that over-long names reach validation whole */

/* A JSON object being mapped, with the members already carried over. */
struct obj {
	const cJSON *json;
	const cJSON *used[64];
	size_t nused;
	const char *path;  /* borrowed: printable JSON path of the object */
};

/* A pod that a deployment lists and that "pods" holds as well. */
struct pod_link {
	char ns[KEY_MAX];
	char name[KEY_MAX];
	char dep[KEY_MAX];
};

struct ctx {
	struct admin_plan *plan;
	const cJSON *pods;        /* the top-level "pods" map, or NULL */
	struct pod_link *links;
	size_t nlinks, caplinks;
};

/* ---- helpers ------------------------------------------------------------------ */

/* snprintf for JSON paths and names: an over-long path is cut short in the
 * message, which is all it is used for (names are checked whole, KEY_MAX
 * being far beyond STORE_NAME_MAX). */
static void pathf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Go-style member matching: case-insensitive; '_' and '-' ignored. */
static bool key_eq(const char *key, const char *norm)
{
	for (;;) {
		while (*key == '_' || *key == '-')
			key++;
		if (!*key || !*norm)
			return !*key && !*norm;
		if (tolower((unsigned char)*key) != *norm)
			return false;
		key++;
		norm++;
	}
}

static void obj_init(struct obj *o, const cJSON *json, const char *path)
{
	o->json = json;
	o->nused = 0;
	o->path = path;
}

static bool obj_used(const struct obj *o, const cJSON *m)
{
	for (size_t i = 0; i < o->nused; i++)
		if (o->used[i] == m)
			return true;
	return false;
}

/* Takes the first unused member matching `norm` (lowercase, no '_'); JSON
 * null counts as absent.  Borrowed. */
static const cJSON *take(struct obj *o, const char *norm)
{
	const cJSON *m;

	if (!cJSON_IsObject(o->json))
		return NULL;
	cJSON_ArrayForEach(m, o->json) {
		if (!m->string || obj_used(o, m) || !key_eq(m->string, norm))
			continue;
		if (o->nused < sizeof(o->used) / sizeof(o->used[0]))
			o->used[o->nused++] = m;
		return cJSON_IsNull(m) ? NULL : m;
	}
	return NULL;
}

/* Tells which object a taken member came from. */
static bool has_member(const struct obj *o, const cJSON *m)
{
	const cJSON *c;

	if (!cJSON_IsObject(o->json))
		return false;
	cJSON_ArrayForEach(c, o->json)
		if (c == m)
			return true;
	return false;
}

/* Go's zero values: what encoding/json writes for a field never set. */
static bool is_empty(const cJSON *item)
{
	const cJSON *c;

	if (!item || cJSON_IsNull(item) || cJSON_IsFalse(item))
		return true;
	if (cJSON_IsNumber(item))
		return item->valuedouble == 0;
	if (cJSON_IsString(item))
		return item->valuestring[0] == '\0';
	if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
		cJSON_ArrayForEach(c, item)
			if (!is_empty(c))
				return false;
		return true;
	}
	return false;
}

static bool is_blank_string(const cJSON *item)
{
	return !item || cJSON_IsNull(item) ||
	       (cJSON_IsString(item) && item->valuestring[0] == '\0');
}

static void member_path(char *buf, size_t size, const char *path,
			const char *key)
{
	if (path && path[0])
		pathf(buf, size, "%s.%s", path, key);
	else
		pathf(buf, size, "%s", key);
}

/* Warns about every non-empty member that was not carried over. */
static void leftovers(struct ctx *c, const struct obj *o)
{
	const cJSON *m;

	if (!cJSON_IsObject(o->json))
		return;
	cJSON_ArrayForEach(m, o->json) {
		char p[PATH_MAX_LEN];

		if (obj_used(o, m) || is_empty(m))
			continue;
		member_path(p, sizeof(p), o->path, m->string);
		admin_plan_report(c->plan, ADMIN_WARNING,
				  "%s: no equivalent, dropped", p);
	}
}

/* Adds a deep copy of `src` as dst.name.  -ENOMEM on failure. */
static int add_copy(cJSON *dst, const char *name, const cJSON *src)
{
	cJSON *copy = cJSON_Duplicate(src, true);

	if (!copy)
		return -ENOMEM;
	if (!cJSON_AddItemToObject(dst, name, copy)) {
		cJSON_Delete(copy);
		return -ENOMEM;
	}
	return 0;
}

static int add_string(cJSON *dst, const char *name, const char *value)
{
	return cJSON_AddStringToObject(dst, name, value) ? 0 : -ENOMEM;
}

/* Splits "NS/NAME"; a key without '/' is all name. */
static void split_key(const char *key, char ns[KEY_MAX], char name[KEY_MAX])
{
	const char *slash = strchr(key, '/');

	if (slash) {
		pathf(ns, KEY_MAX, "%.*s", (int)(slash - key), key);
		pathf(name, KEY_MAX, "%s", slash + 1);
	} else {
		ns[0] = '\0';
		pathf(name, KEY_MAX, "%s", key);
	}
}

/*
 * Settles an entry's namespace and name: the map key decides (Podman Swarm
 * looks entries up by it); the Name/Namespace members fill gaps, and a
 * disagreement is reported.  An empty namespace becomes "default", as in
 * Kubernetes.
 */
static void resolve_names(struct ctx *c, struct obj *o, const char *key,
			  const char *default_ns, char ns[KEY_MAX],
			  char name[KEY_MAX])
{
	const cJSON *fname = take(o, "name");
	const cJSON *fns = take(o, "namespace");
	char p[PATH_MAX_LEN];

	ns[0] = name[0] = '\0';
	if (key)
		split_key(key, ns, name);
	if (cJSON_IsString(fname) && fname->valuestring[0]) {
		if (!name[0]) {
			pathf(name, KEY_MAX, "%s", fname->valuestring);
		} else if (strcmp(name, fname->valuestring) != 0) {
			member_path(p, sizeof(p), o->path, fname->string);
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: '%s' differs from the key, '%s' used",
					  p, fname->valuestring, name);
		}
	}
	if (cJSON_IsString(fns) && fns->valuestring[0]) {
		if (!ns[0]) {
			pathf(ns, KEY_MAX, "%s", fns->valuestring);
		} else if (strcmp(ns, fns->valuestring) != 0) {
			member_path(p, sizeof(p), o->path, fns->string);
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: '%s' differs from the key, '%s' used",
					  p, fns->valuestring, ns);
		}
	}
	if (!ns[0] && default_ns)
		pathf(ns, KEY_MAX, "%s", default_ns);
	if (!ns[0]) {
		admin_plan_report(c->plan, ADMIN_WARNING,
				  "%s: no namespace, imported into '%s'", o->path,
				  STORE_DEFAULT_NAMESPACE);
		pathf(ns, KEY_MAX, "%s", STORE_DEFAULT_NAMESPACE);
	}
}

/* Starts a document: kind plus metadata with name, namespace, and the
 * entry's Labels/Annotations.  Returns the new document or NULL. */
static cJSON *new_doc(struct obj *o, enum store_kind kind, const char *ns,
		      const char *name)
{
	const cJSON *labels = take(o, "labels");
	const cJSON *annotations = take(o, "annotations");
	cJSON *doc = cJSON_CreateObject();
	cJSON *meta;

	if (!doc || add_string(doc, "kind", store_kind_name(kind)) < 0)
		goto fail;
	meta = cJSON_AddObjectToObject(doc, "metadata");
	if (!meta || add_string(meta, "name", name) < 0 ||
	    add_string(meta, "namespace", ns) < 0)
		goto fail;
	if (!is_empty(labels) && add_copy(meta, "labels", labels) < 0)
		goto fail;
	if (!is_empty(annotations) && add_copy(meta, "annotations", annotations) < 0)
		goto fail;
	return doc;
fail:
	cJSON_Delete(doc);
	return NULL;
}

/* ---- container ports and env ------------------------------------------------ */

/* corev1.ContainerPort list -> [{"containerPort","protocol","name"}];
 * hostPort and hostIP have no equivalent. */
static int map_container_ports(struct ctx *c, const cJSON *ports,
			       const char *path, cJSON *spec)
{
	cJSON *out;
	const cJSON *e;
	int i = 0;

	if (is_empty(ports))
		return 0;
	if (!cJSON_IsArray(ports))
		return add_copy(spec, "ports", ports); /* validation says why */
	out = cJSON_AddArrayToObject(spec, "ports");
	if (!out)
		return -ENOMEM;
	cJSON_ArrayForEach(e, ports) {
		char p[PATH_MAX_LEN];
		struct obj eo;
		const cJSON *cp, *proto, *pname;
		cJSON *port;

		pathf(p, sizeof(p), "%s[%d]", path, i++);
		if (!cJSON_IsObject(e)) {
			cJSON *copy = cJSON_Duplicate(e, true);

			if (!copy || !cJSON_AddItemToArray(out, copy)) {
				cJSON_Delete(copy);
				return -ENOMEM;
			}
			continue;
		}
		obj_init(&eo, e, p);
		cp = take(&eo, "containerport");
		proto = take(&eo, "protocol");
		pname = take(&eo, "name");
		port = cJSON_CreateObject();
		if (!port || !cJSON_AddItemToArray(out, port)) {
			cJSON_Delete(port);
			return -ENOMEM;
		}
		if (cp && add_copy(port, "containerPort", cp) < 0)
			return -ENOMEM;
		if (!is_blank_string(proto) && add_copy(port, "protocol", proto) < 0)
			return -ENOMEM;
		if (!is_blank_string(pname) && add_copy(port, "name", pname) < 0)
			return -ENOMEM;
		leftovers(c, &eo);
	}
	return 0;
}

/* corev1.EnvVar list [{"name","value"}] (or a plain map) -> {"NAME":"value"}. */
static int map_env(struct ctx *c, const cJSON *env, const char *path,
		   cJSON *spec)
{
	cJSON *out;
	const cJSON *e;
	int i = 0;

	if (is_empty(env))
		return 0;
	if (!cJSON_IsArray(env))
		return add_copy(spec, "env", env);
	out = cJSON_AddObjectToObject(spec, "env");
	if (!out)
		return -ENOMEM;
	cJSON_ArrayForEach(e, env) {
		char p[PATH_MAX_LEN];
		struct obj eo;
		const cJSON *name, *value, *from;

		pathf(p, sizeof(p), "%s[%d]", path, i++);
		obj_init(&eo, e, p);
		name = take(&eo, "name");
		value = take(&eo, "value");
		from = take(&eo, "valuefrom");
		if (!cJSON_IsString(name) || !name->valuestring[0]) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: no name, dropped", p);
			continue;
		}
		/* a secret or field reference: importing "" would change what
		 * the variable means, so the whole variable goes */
		if (!is_empty(from)) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s.%s: no equivalent, variable '%s' dropped",
					  p, from->string, name->valuestring);
			continue;
		}
		/* an omitted value is the empty string in Kubernetes */
		if (value && !cJSON_IsString(value)) {
			if (add_copy(out, name->valuestring, value) < 0)
				return -ENOMEM;
		} else if (add_string(out, name->valuestring,
				      value ? value->valuestring : "") < 0) {
			return -ENOMEM;
		}
		leftovers(c, &eo);
	}
	return 0;
}

/* ---- pods ---------------------------------------------------------------------- */

static const struct pod_link *find_link(const struct ctx *c, const char *ns,
					const char *name)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (strcmp(c->links[i].ns, ns) == 0 &&
		    strcmp(c->links[i].name, name) == 0)
			return &c->links[i];
	return NULL;
}

static int add_link(struct ctx *c, const char *ns, const char *name,
		    const char *dep)
{
	struct pod_link *l;

	if (c->nlinks == c->caplinks) {
		size_t cap = c->caplinks ? c->caplinks * 2 : 16;

		l = realloc(c->links, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		c->links = l;
		c->caplinks = cap;
	}
	l = &c->links[c->nlinks++];
	pathf(l->ns, sizeof(l->ns), "%s", ns);
	pathf(l->name, sizeof(l->name), "%s", name);
	pathf(l->dep, sizeof(l->dep), "%s", dep);
	return 0;
}

/* Podman Swarm names a deployment's pods "NAME-0", "NAME-1", ...: finds the
 * planned deployment a pod name belongs to. */
static bool infer_deployment(struct ctx *c, const char *ns, const char *pod,
			     char dep[KEY_MAX])
{
	const char *dash = strrchr(pod, '-');

	if (!dash || dash == pod || !dash[1] ||
	    strspn(dash + 1, "0123456789") != strlen(dash + 1))
		return false;
	pathf(dep, KEY_MAX, "%.*s", (int)(dash - pod), pod);
	return admin_plan_find(c->plan, STORE_KIND_DEPLOYMENT, ns, dep) != NULL;
}

static bool in_top_level_pods(const struct ctx *c, const char *ns,
			      const char *name)
{
	const cJSON *m;
	char kns[KEY_MAX], kname[KEY_MAX];

	cJSON_ArrayForEach(m, c->pods) {
		split_key(m->string, kns, kname);
		if (!kns[0])
			pathf(kns, sizeof(kns), "%s", STORE_DEFAULT_NAMESPACE);
		if (strcmp(kns, ns) == 0 && strcmp(kname, name) == 0)
			return true;
	}
	return false;
}

/*
 * Maps one types.Pod.  `key` is its "NS/NAME" in the pods map, or NULL for
 * a pod inside a deployment (`dep`, namespace `dep_ns`).
 */
static int map_pod(struct ctx *c, const char *key, const cJSON *json,
		   const char *where, const char *dep_ns, const char *dep)
{
	char ns[KEY_MAX], name[KEY_MAX], owner[KEY_MAX] = "";
	const cJSON *image, *node, *phase, *fdep;
	const struct pod_link *link;
	cJSON *doc, *spec, *status;
	struct obj o;
	int rc = -ENOMEM;

	if (!cJSON_IsObject(json)) {
		if (cJSON_IsNull(json))
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: null entry, dropped", where);
		else
			admin_plan_report(c->plan, ADMIN_ERROR,
					  "%s: must be an object", where);
		return 0;
	}
	obj_init(&o, json, where);
	resolve_names(c, &o, key, dep_ns, ns, name);
	if (!name[0]) {
		admin_plan_report(c->plan, ADMIN_ERROR, "%s: no Name", where);
		return 0;
	}
	if (!key && c->pods && in_top_level_pods(c, ns, name))
		return add_link(c, ns, name, dep); /* imported from "pods" */

	doc = new_doc(&o, STORE_KIND_POD, ns, name);
	if (!doc)
		return -ENOMEM;
	spec = cJSON_AddObjectToObject(doc, "spec");
	if (!spec)
		goto out;
	image = take(&o, "image");
	node = take(&o, "nodename");
	if (!node)
		node = take(&o, "node");
	phase = take(&o, "state");
	if (!phase)
		phase = take(&o, "phase");
	fdep = take(&o, "deployment");

	if (image && add_copy(spec, "image", image) < 0)
		goto out;
	if (!is_blank_string(node) && add_copy(spec, "node", node) < 0)
		goto out;
	link = find_link(c, ns, name);
	if (dep)
		pathf(owner, sizeof(owner), "%s", dep);
	else if (link)
		pathf(owner, sizeof(owner), "%s", link->dep);
	if (owner[0]) {
		if (add_string(spec, "deployment", owner) < 0)
			goto out;
	} else if (!is_blank_string(fdep)) {
		if (add_copy(spec, "deployment", fdep) < 0)
			goto out;
	} else if (infer_deployment(c, ns, name, owner)) {
		if (add_string(spec, "deployment", owner) < 0)
			goto out;
	}
	if (!is_blank_string(phase)) {
		status = cJSON_AddObjectToObject(doc, "status");
		if (!status || add_copy(status, "phase", phase) < 0)
			goto out;
	}
	leftovers(c, &o);
	rc = admin_plan_add(c->plan, STORE_KIND_POD, ns, name, doc, where);
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- deployments ------------------------------------------------------------- */

static int map_deployment(struct ctx *c, const char *key, const cJSON *json)
{
	char where[PATH_MAX_LEN], tpath[PATH_MAX_LEN], tmpath[PATH_MAX_LEN];
	char tspath[PATH_MAX_LEN], cpath[PATH_MAX_LEN], p[PATH_MAX_LEN];
	char ns[KEY_MAX], name[KEY_MAX];
	const cJSON *image, *desired, *current, *tmpl, *tmeta, *tspec;
	const cJSON *containers = NULL, *ports, *env, *pods;
	struct obj o, t, tm, ts, ct;
	bool have_ct = false;
	cJSON *doc, *spec;
	int rc = -ENOMEM;

	pathf(where, sizeof(where), "deployments[\"%s\"]", key);
	if (!cJSON_IsObject(json)) {
		if (cJSON_IsNull(json)) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: null entry, dropped", where);
			return 0;
		}
		admin_plan_report(c->plan, ADMIN_ERROR, "%s: must be an object",
				  where);
		return 0;
	}
	obj_init(&o, json, where);
	resolve_names(c, &o, key, NULL, ns, name);
	doc = new_doc(&o, STORE_KIND_DEPLOYMENT, ns, name);
	if (!doc)
		return -ENOMEM;
	spec = cJSON_AddObjectToObject(doc, "spec");
	if (!spec)
		goto out;

	image = take(&o, "image");
	desired = take(&o, "desiredreplicas");
	current = take(&o, "replicas");
	ports = take(&o, "ports");
	env = take(&o, "env");

	/* the pod template: Kubernetes' PodTemplateSpec, first container */
	tmpl = take(&o, "template");
	member_path(tpath, sizeof(tpath), where, tmpl ? tmpl->string : "Template");
	obj_init(&t, tmpl, tpath);
	tmeta = take(&t, "metadata");
	member_path(tmpath, sizeof(tmpath), tpath, tmeta ? tmeta->string : "metadata");
	obj_init(&tm, tmeta, tmpath);
	tspec = take(&t, "spec");
	member_path(tspath, sizeof(tspath), tpath, tspec ? tspec->string : "spec");
	obj_init(&ts, tspec, tspath);
	containers = take(&ts, "containers");
	if (cJSON_IsArray(containers) && cJSON_GetArraySize(containers) > 0) {
		const cJSON *extra;
		int i = 0;

		pathf(cpath, sizeof(cpath), "%s.%s[0]", tspath, containers->string);
		obj_init(&ct, cJSON_GetArrayItem(containers, 0), cpath);
		have_ct = true;
		if (!image)
			image = take(&ct, "image");
		cJSON_ArrayForEach(extra, containers) {
			if (i > 0 && !is_empty(extra))
				admin_plan_report(c->plan, ADMIN_WARNING,
						  "%s.%s[%d]: only the first container is imported, dropped",
						  tspath, containers->string, i);
			i++;
		}
	} else if (containers && !is_empty(containers)) {
		member_path(p, sizeof(p), tspath, containers->string);
		admin_plan_report(c->plan, ADMIN_WARNING,
				  "%s: not a list of containers, dropped", p);
	}

	if (image && add_copy(spec, "image", image) < 0)
		goto out;
	if (desired) {
		if (add_copy(spec, "replicas", desired) < 0)
			goto out;
		if (current && !cJSON_Compare(current, desired, true)) {
			member_path(p, sizeof(p), where, current->string);
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: differs from %s, the desired count is imported",
					  p, desired->string);
		}
	} else if (current && add_copy(spec, "replicas", current) < 0) {
		goto out;
	}

	/* flat Ports/Env win; otherwise the first container's */
	if (!ports && have_ct)
		ports = take(&ct, "ports");
	if (ports) {
		member_path(p, sizeof(p), has_member(&o, ports) ? where : cpath,
			    ports->string);
		if (map_container_ports(c, ports, p, spec) < 0)
			goto out;
	}
	if (!env && have_ct)
		env = take(&ct, "env");
	if (env) {
		member_path(p, sizeof(p), has_member(&o, env) ? where : cpath,
			    env->string);
		if (map_env(c, env, p, spec) < 0)
			goto out;
	}

	/* report what the template held that swarmfs cannot express */
	if (have_ct)
		leftovers(c, &ct);
	leftovers(c, &ts);
	leftovers(c, &tm);
	leftovers(c, &t);

	pods = take(&o, "pods");
	leftovers(c, &o);
	rc = admin_plan_add(c->plan, STORE_KIND_DEPLOYMENT, ns, name, doc, where);
	if (rc < 0)
		goto out;

	if (cJSON_IsArray(pods)) {
		const cJSON *pod;
		int i = 0;

		cJSON_ArrayForEach(pod, pods) {
			char ppath[PATH_MAX_LEN];

			pathf(ppath, sizeof(ppath), "%s.%s[%d]", where,
				 pods->string, i++);
			rc = map_pod(c, NULL, pod, ppath, ns, name);
			if (rc < 0)
				goto out;
		}
	} else if (pods && !is_empty(pods)) {
		member_path(p, sizeof(p), where, pods->string);
		admin_plan_report(c->plan, ADMIN_WARNING,
				  "%s: not a list of pods, dropped", p);
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- services ------------------------------------------------------------------ */

/* corev1.ServicePort list -> [{"port","targetPort","protocol","name"}];
 * nodePort and appProtocol have no equivalent. */
static int map_service_ports(struct ctx *c, const cJSON *ports,
			     const char *path, cJSON *spec)
{
	cJSON *out;
	const cJSON *e;
	int i = 0;

	if (is_empty(ports))
		return 0;
	if (!cJSON_IsArray(ports))
		return add_copy(spec, "ports", ports);
	out = cJSON_AddArrayToObject(spec, "ports");
	if (!out)
		return -ENOMEM;
	cJSON_ArrayForEach(e, ports) {
		char p[PATH_MAX_LEN], tp[PATH_MAX_LEN];
		const cJSON *port, *target, *proto, *pname;
		struct obj eo;
		cJSON *item;

		pathf(p, sizeof(p), "%s[%d]", path, i++);
		if (!cJSON_IsObject(e)) {
			cJSON *copy = cJSON_Duplicate(e, true);

			if (!copy || !cJSON_AddItemToArray(out, copy)) {
				cJSON_Delete(copy);
				return -ENOMEM;
			}
			continue;
		}
		obj_init(&eo, e, p);
		port = take(&eo, "port");
		target = take(&eo, "targetport");
		proto = take(&eo, "protocol");
		pname = take(&eo, "name");
		item = cJSON_CreateObject();
		if (!item || !cJSON_AddItemToArray(out, item)) {
			cJSON_Delete(item);
			return -ENOMEM;
		}
		if (port && add_copy(item, "port", port) < 0)
			return -ENOMEM;
		/* IntOrString: a number maps, a port name cannot (0 is unset) */
		if (cJSON_IsString(target) && target->valuestring[0]) {
			member_path(tp, sizeof(tp), p, target->string);
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: named target port '%s' has no equivalent, dropped",
					  tp, target->valuestring);
		} else if (target && !is_empty(target) &&
			   add_copy(item, "targetPort", target) < 0) {
			return -ENOMEM;
		}
		if (!is_blank_string(proto) && add_copy(item, "protocol", proto) < 0)
			return -ENOMEM;
		if (!is_blank_string(pname) && add_copy(item, "name", pname) < 0)
			return -ENOMEM;
		leftovers(c, &eo);
	}
	return 0;
}

static int map_service(struct ctx *c, const char *key, const cJSON *json)
{
	char where[PATH_MAX_LEN], p[PATH_MAX_LEN];
	char ns[KEY_MAX], name[KEY_MAX];
	const cJSON *type, *selector, *ports;
	cJSON *doc, *spec;
	struct obj o;
	int rc = -ENOMEM;

	pathf(where, sizeof(where), "services[\"%s\"]", key);
	if (!cJSON_IsObject(json)) {
		if (cJSON_IsNull(json)) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: null entry, dropped", where);
			return 0;
		}
		admin_plan_report(c->plan, ADMIN_ERROR, "%s: must be an object",
				  where);
		return 0;
	}
	obj_init(&o, json, where);
	resolve_names(c, &o, key, NULL, ns, name);
	doc = new_doc(&o, STORE_KIND_SERVICE, ns, name);
	if (!doc)
		return -ENOMEM;
	spec = cJSON_AddObjectToObject(doc, "spec");
	if (!spec)
		goto out;
	type = take(&o, "type");
	selector = take(&o, "selector");
	ports = take(&o, "ports");
	if (!is_blank_string(type) && add_copy(spec, "type", type) < 0)
		goto out;
	if (selector && add_copy(spec, "selector", selector) < 0)
		goto out;
	if (ports) {
		member_path(p, sizeof(p), where, ports->string);
		if (map_service_ports(c, ports, p, spec) < 0)
			goto out;
	}
	leftovers(c, &o);
	rc = admin_plan_add(c->plan, STORE_KIND_SERVICE, ns, name, doc, where);
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- ingresses ------------------------------------------------------------------ */

/* Appends {host, path, service, port} to `rules`. */
static int add_rule(struct ctx *c, cJSON *rules, const cJSON *host,
		    struct obj *po)
{
	const cJSON *path, *service, *port;
	cJSON *rule = cJSON_CreateObject();
	char p[PATH_MAX_LEN];

	if (!rule || !cJSON_AddItemToArray(rules, rule)) {
		cJSON_Delete(rule);
		return -ENOMEM;
	}
	path = take(po, "path");
	service = take(po, "servicename");
	if (!service)
		service = take(po, "service");
	port = take(po, "serviceport");
	if (!port)
		port = take(po, "port");
	if (host && add_copy(rule, "host", host) < 0)
		return -ENOMEM;
	if (is_blank_string(path)) {
		/* an unset path matches everything in Kubernetes */
		member_path(p, sizeof(p), po->path, path ? path->string : "Path");
		admin_plan_report(c->plan, ADMIN_WARNING,
				  "%s: empty, imported as \"/\"", p);
		if (add_string(rule, "path", "/") < 0)
			return -ENOMEM;
	} else if (add_copy(rule, "path", path) < 0) {
		return -ENOMEM;
	}
	if (service && add_copy(rule, "service", service) < 0)
		return -ENOMEM;
	if (port && add_copy(rule, "port", port) < 0)
		return -ENOMEM;
	leftovers(c, po);
	return 0;
}

static int map_ingress(struct ctx *c, const char *key, const cJSON *json)
{
	char where[PATH_MAX_LEN], rpath[PATH_MAX_LEN], ppath[PATH_MAX_LEN];
	char ns[KEY_MAX], name[KEY_MAX];
	const cJSON *rules_in, *r;
	cJSON *doc, *spec, *rules;
	struct obj o;
	int rc = -ENOMEM, i = 0;

	pathf(where, sizeof(where), "ingresses[\"%s\"]", key);
	if (!cJSON_IsObject(json)) {
		if (cJSON_IsNull(json)) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: null entry, dropped", where);
			return 0;
		}
		admin_plan_report(c->plan, ADMIN_ERROR, "%s: must be an object",
				  where);
		return 0;
	}
	obj_init(&o, json, where);
	resolve_names(c, &o, key, NULL, ns, name);
	doc = new_doc(&o, STORE_KIND_INGRESS, ns, name);
	if (!doc)
		return -ENOMEM;
	spec = cJSON_AddObjectToObject(doc, "spec");
	if (!spec)
		goto out;
	rules_in = take(&o, "rules");
	if (rules_in && !cJSON_IsArray(rules_in)) {
		/* not a list: carried as it is, so validation says why */
		if (add_copy(spec, "rules", rules_in) < 0)
			goto out;
		rules_in = NULL;
		rules = NULL;
	} else {
		rules = cJSON_AddArrayToObject(spec, "rules");
		if (!rules)
			goto out;
	}
	cJSON_ArrayForEach(r, rules_in) {
		const cJSON *host, *paths, *pe;
		struct obj ro;
		int j = 0;

		pathf(rpath, sizeof(rpath), "%s.%s[%d]", where, rules_in->string, i++);
		obj_init(&ro, r, rpath);
		host = take(&ro, "host");
		paths = take(&ro, "paths");
		if (!cJSON_IsArray(paths) && cJSON_IsObject(r) &&
		    (cJSON_GetObjectItem(r, "service") ||
		     cJSON_GetObjectItem(r, "servicename"))) {
			/* already flat: {host, path, service, port} */
			rc = add_rule(c, rules, host, &ro);
			if (rc < 0)
				goto out;
			continue;
		}
		if (is_empty(paths)) {
			admin_plan_report(c->plan, ADMIN_WARNING,
					  "%s: no paths, rule dropped", rpath);
			continue;
		}
		cJSON_ArrayForEach(pe, paths) {
			struct obj po;

			pathf(ppath, sizeof(ppath), "%s.%s[%d]", rpath,
				 paths->string, j++);
			obj_init(&po, pe, ppath);
			rc = add_rule(c, rules, host, &po);
			if (rc < 0)
				goto out;
		}
		leftovers(c, &ro);
	}
	leftovers(c, &o);
	rc = admin_plan_add(c->plan, STORE_KIND_INGRESS, ns, name, doc, where);
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- the whole state -------------------------------------------------------------- */

typedef int (*map_fn)(struct ctx *c, const char *key, const cJSON *json);

static int map_pod_entry(struct ctx *c, const char *key, const cJSON *json)
{
	char where[PATH_MAX_LEN];

	pathf(where, sizeof(where), "pods[\"%s\"]", key);
	return map_pod(c, key, json, where, NULL, NULL);
}

static int map_all(struct ctx *c, const cJSON *map, map_fn fn)
{
	const cJSON *m;
	int rc;

	if (!map || is_empty(map))
		return 0;
	if (!cJSON_IsObject(map)) {
		admin_plan_report(c->plan, ADMIN_ERROR,
				  "%s: must be an object keyed \"NAMESPACE/NAME\"",
				  map->string);
		return 0;
	}
	cJSON_ArrayForEach(m, map) {
		rc = fn(c, m->string, m);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int admin_import_plan_podman(const cJSON *root, struct admin_plan *plan)
{
	struct ctx c = { .plan = plan };
	const cJSON *deployments, *services, *ingresses, *pods, *version;
	struct obj o;
	int rc;

	obj_init(&o, root, "");
	deployments = take(&o, "deployments");
	services = take(&o, "services");
	ingresses = take(&o, "ingresses");
	pods = take(&o, "pods");
	take(&o, "lastmodified"); /* the store keeps its own times */
	version = take(&o, "version");
	if (version && !(cJSON_IsNumber(version) && version->valuedouble == 1))
		admin_plan_report(plan, ADMIN_WARNING,
				  "%s: state version 1 expected, importing anyway",
				  version->string);
	if (cJSON_IsObject(pods))
		c.pods = pods;

	/* deployments first: pods find their owner among them */
	rc = map_all(&c, deployments, map_deployment);
	if (rc == 0)
		rc = map_all(&c, services, map_service);
	if (rc == 0)
		rc = map_all(&c, ingresses, map_ingress);
	if (rc == 0)
		rc = map_all(&c, pods, map_pod_entry);
	if (rc == 0)
		leftovers(&c, &o);
	free(c.links);
	return rc;
}
