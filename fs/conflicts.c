/* conflicts.c - the conflicts/ tree: losing versions of concurrent writes
 * (store_conflict_list/get) shown read-only as
 * conflicts/KIND/NS/NAME@NODE-HLC.json, each a JSON file naming the loser
 * and the winner (node, HLC stamp and its time) and holding the losing
 * document; `rm` dismisses one on this node (store_conflict_delete). */
#include "fs.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fs_conflict_name(const char *fname, char rname[STORE_NAME_MAX + 1],
		      char node[STORE_NODE_MAX + 1], uint64_t *hlc)
{
	const char *at = strchr(fname, '@'), *dash, *end;
	size_t len = strlen(fname), n;
	char *stop;

	if (at == NULL || len <= 5 || strcmp(fname + len - 5, ".json") != 0)
		return false;
	end = fname + len - 5;
	/* NODE may hold '-', HLC never: the last '-' splits them. */
	dash = NULL;
	for (const char *p = at + 1; p < end; p++) {
		if (*p == '-')
			dash = p;
	}
	if (dash == NULL || dash + 1 == end)
		return false;
	n = (size_t)(at - fname);
	if (n == 0 || n > STORE_NAME_MAX)
		return false;
	memcpy(rname, fname, n);
	rname[n] = '\0';
	n = (size_t)(dash - at - 1);
	if (n == 0 || n > STORE_NODE_MAX)
		return false;
	memcpy(node, at + 1, n);
	node[n] = '\0';
	if (dash[1] < '0' || dash[1] > '9' || (dash[1] == '0' && dash + 2 != end))
		return false;
	*hlc = strtoull(dash + 1, &stop, 10);
	if (stop != end)
		return false;
	return store_name_valid(rname) && store_name_valid(node);
}

void fs_conflict_file(char *buf, size_t size, const char *name, const char *node,
		      uint64_t hlc)
{
	snprintf(buf, size, "%s@%s-%" PRIu64 ".json", name, node, hlc);
}

/* One side of the conflict: node, exact HLC (a string: it does not fit a
 * double) and the wall-clock time it stands for. */
static cJSON *side(const char *node, uint64_t hlc)
{
	cJSON *o = cJSON_CreateObject();
	char buf[32], when[40];

	if (o == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%" PRIu64, hlc);
	store_format_time(STORE_HLC_PHYSICAL(hlc), when, sizeof(when));
	if (cJSON_AddStringToObject(o, "node", node) == NULL ||
	    cJSON_AddStringToObject(o, "hlc", buf) == NULL ||
	    cJSON_AddStringToObject(o, "time", when) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

struct render_ctx {
	char *out;
	size_t len;
	int64_t time_ms;
	int rc;
};

static int render_cb(const struct store_conflict *c, void *arg)
{
	struct render_ctx *r = arg;
	cJSON *root = NULL, *loser, *winner, *doc = NULL;
	char *text = NULL;
	size_t len;
	int rc;

	/* The losing document's content (who wrote it when is in "loser"):
	 * written back (jq .document), it applies as a new version. */
	rc = store_render_stored(c->kind, c->ns, c->name, NULL, c->body,
				 STORE_RENDER_COMPACT | STORE_RENDER_CONTENT, NULL, &text, &len);
	if (rc < 0) {
		r->rc = rc;
		return rc;
	}
	rc = -ENOMEM;
	doc = cJSON_ParseWithLength(text, len);
	free(text);
	root = cJSON_CreateObject();
	if (doc == NULL || root == NULL)
		goto out;
	loser = side(c->node, c->hlc);
	if (loser == NULL || !cJSON_AddItemToObject(root, "loser", loser)) {
		cJSON_Delete(loser);
		goto out;
	}
	cJSON_AddNumberToObject(loser, "version", (double)c->version);
	winner = side(c->winner_node ? c->winner_node : "", c->winner_hlc);
	if (winner == NULL || !cJSON_AddItemToObject(root, "winner", winner)) {
		cJSON_Delete(winner);
		goto out;
	}
	if (!cJSON_AddItemToObject(root, "document", doc))
		goto out;
	doc = NULL;
	rc = fs_json_print(root, &r->out, &r->len);
	r->time_ms = c->time_ms;
out:
	cJSON_Delete(doc);
	cJSON_Delete(root);
	r->rc = rc;
	return rc;
}

int fs_conflict_render(struct store *s, enum store_kind kind, const char *ns,
		       const char *fname, char **out, size_t *len, int64_t *time_ms)
{
	char rname[STORE_NAME_MAX + 1], node[STORE_NODE_MAX + 1];
	struct render_ctx r = { .rc = -ENOENT };
	uint64_t hlc;
	int rc;

	if (!fs_conflict_name(fname, rname, node, &hlc))
		return -ENOENT;
	rc = store_conflict_get(s, kind, ns, rname, hlc, node, render_cb, &r);
	if (rc < 0 && rc != r.rc)
		return rc;
	if (r.rc < 0)
		return r.rc;
	*out = r.out;
	*len = r.len;
	if (time_ms)
		*time_ms = r.time_ms;
	return 0;
}

int fs_conflict_delete(struct store *s, enum store_kind kind, const char *ns,
		       const char *fname)
{
	char rname[STORE_NAME_MAX + 1], node[STORE_NODE_MAX + 1];
	uint64_t hlc;

	if (!fs_conflict_name(fname, rname, node, &hlc))
		return -ENOENT;
	return store_conflict_delete(s, kind, ns, rname, hlc, node, NULL);
}
