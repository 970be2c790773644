/* log.c - the change history for `swarmfs-admin log`: path filters and the
 * two output forms (aligned columns, or one JSON object per line). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"

int admin_log_parse_path(const char *path, struct store_log_filter *filter,
			 char ns[STORE_NAME_MAX + 1],
			 char name[STORE_NAME_MAX + 1], struct store_err *err)
{
	char buf[3 * (STORE_NAME_MAX + 1) + 16];
	char *parts[4] = { NULL };
	char *p, *save = NULL;
	size_t len;
	int n = 0;

	while (*path == '/')
		path++;
	len = strlen(path);
	if (len >= sizeof(buf))
		goto bad;
	memcpy(buf, path, len + 1);
	while (len > 0 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == 3)
			goto bad;
		parts[n++] = p;
	}
	if (n == 0)
		goto bad;
	if (store_kind_from_dir(parts[0], &filter->kind) < 0 &&
	    store_kind_from_name(parts[0], &filter->kind) < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "unknown kind '%s' (deployments, services, pods or ingresses)",
				 parts[0]);
		return -EINVAL;
	}
	filter->by_kind = true;
	filter->ns = NULL;
	filter->name = NULL;
	if (n >= 2) {
		if (!store_name_valid(parts[1]))
			goto bad;
		snprintf(ns, STORE_NAME_MAX + 1, "%s", parts[1]);
		filter->ns = ns;
	}
	if (n == 3) {
		/* the mount's file name works as well as the resource name */
		len = strlen(parts[2]);
		if (len > 5 && strcmp(parts[2] + len - 5, ".json") == 0)
			parts[2][len - 5] = '\0';
		if (!store_name_valid(parts[2]))
			goto bad;
		snprintf(name, STORE_NAME_MAX + 1, "%s", parts[2]);
		filter->name = name;
	}
	return 0;
bad:
	if (err)
		snprintf(err->msg, sizeof(err->msg),
			 "invalid path '%s' (expected KIND[/NAMESPACE[/NAME]])", path);
	return -EINVAL;
}

struct print_ctx {
	FILE *f;
	bool json;
	bool header;
};

static void change_path(const struct store_change *c, char *buf, size_t size)
{
	if (c->name && c->name[0])
		snprintf(buf, size, "%s/%s/%s", store_kind_dir(c->kind), c->ns,
			 c->name);
	else
		snprintf(buf, size, "%s/%s", store_kind_dir(c->kind), c->ns);
}

static int print_json(FILE *f, const struct store_change *c)
{
	char when[32];

	store_format_time(c->time_ms, when, sizeof(when));
	/* the mount's events line first, then what only the log knows */
	fprintf(f, "{\"revision\":%" PRId64 ",\"op\":", c->revision);
	admin_json_put_string(f, store_op_name(c->op));
	fputs(",\"kind\":", f);
	admin_json_put_string(f, store_kind_name(c->kind));
	fputs(",\"namespace\":", f);
	admin_json_put_string(f, c->ns ? c->ns : "");
	fputs(",\"name\":", f);
	admin_json_put_string(f, c->name ? c->name : "");
	fprintf(f, ",\"version\":%" PRId64 ",\"node\":", c->version);
	admin_json_put_string(f, c->origin ? c->origin : "");
	fputs(",\"time\":", f);
	admin_json_put_string(f, when);
	fprintf(f, ",\"origin_seq\":%" PRId64 ",\"hlc\":%" PRIu64 ",\"source\":",
		c->origin_seq, c->hlc);
	if (c->source)
		admin_json_put_string(f, c->source);
	else
		fputs("null", f);
	fputs("}\n", f);
	return 0;
}

static int print_change(const struct store_change *c, void *arg)
{
	struct print_ctx *pc = arg;
	char when[32], path[3 * (STORE_NAME_MAX + 1) + 16];

	if (pc->json)
		return print_json(pc->f, c);
	if (!pc->header) {
		fprintf(pc->f, "%8s  %-20s  %-6s  %-40s  %7s  %-16s  %s\n",
			"REVISION", "TIME", "OP", "PATH", "VERSION", "NODE",
			"SOURCE");
		pc->header = true;
	}
	store_format_time(c->time_ms, when, sizeof(when));
	change_path(c, path, sizeof(path));
	fprintf(pc->f, "%8" PRId64 "  %-20s  %-6s  %-40s  %7" PRId64 "  %-16s  %s\n",
		c->revision, when, store_op_name(c->op), path, c->version,
		c->origin ? c->origin : "", c->source ? c->source : "-");
	return 0;
}

int admin_log_print(struct store *s, const struct store_log_filter *filter,
		    bool json, FILE *f)
{
	struct print_ctx pc = { .f = f, .json = json };

	return store_log(s, filter, print_change, &pc);
}
