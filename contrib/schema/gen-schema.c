/* gen-schema.c - prints the JSON Schema (draft-07) of one kind, generated
 * from the validation tables in store/schema.c, so contrib/schema/KIND.json
 * cannot drift from what the store accepts; and, for the tests, runs the
 * store's own validator over documents given on stdin.
 *
 *   swarmfs-schema KIND     KIND: deployment, service, pod or ingress
 *   swarmfs-schema --check  stdin: lines "KIND HEX" (the document's bytes in
 *                           hex); stdout: one line each, "ok" or "error: MSG"
 */
#include "doc-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* metadata.version is compared as an int64 but read from a JSON number:
 * doubles hold integers exactly up to 2^53 - 1 (store/schema.c). */
#define VERSION_MAX 9007199254740991.0

#define LABEL_PATTERN "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#define HOST_LABEL "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
#define HOST_PATTERN "^(\\*\\.)?" HOST_LABEL "(\\." HOST_LABEL ")*$"

static cJSON *field_schema(const struct doc_field *f, enum store_kind kind);

/* {"type":"object","properties":..,"required":..,"additionalProperties":false} */
static cJSON *object_schema(const struct doc_field *fields, enum store_kind kind)
{
	cJSON *o = cJSON_CreateObject(), *props, *req = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "type", "object");
	props = cJSON_AddObjectToObject(o, "properties");
	for (const struct doc_field *f = fields; f->name; f++) {
		cJSON_AddItemToObject(props, f->name, field_schema(f, kind));
		if (f->flags & DOC_REQUIRED)
			cJSON_AddItemToArray(req, cJSON_CreateString(f->name));
	}
	if (cJSON_GetArraySize(req) > 0)
		cJSON_AddItemToObject(o, "required", req);
	else
		cJSON_Delete(req);
	cJSON_AddFalseToObject(o, "additionalProperties");
	return o;
}

static void label(cJSON *o, const char *description)
{
	cJSON_AddStringToObject(o, "description", description);
	cJSON_AddStringToObject(o, "type", "string");
	cJSON_AddStringToObject(o, "pattern", LABEL_PATTERN);
	cJSON_AddNumberToObject(o, "maxLength", STORE_NAME_MAX);
}

static cJSON *field_schema(const struct doc_field *f, enum store_kind kind)
{
	cJSON *o, *s, *arr;

	switch (f->type) {
	case DOC_OBJECT:
		return object_schema(f->children, kind);
	case DOC_ARRAY:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", "array");
		if (f->flags & DOC_NONEMPTY)
			cJSON_AddNumberToObject(o, "minItems", 1);
		cJSON_AddItemToObject(o, "items", object_schema(f->children, kind));
		return o;
	default:
		break;
	}
	o = cJSON_CreateObject();
	switch (f->type) {
	case DOC_MAP:
		cJSON_AddStringToObject(o, "description", "a free-form map of strings");
		cJSON_AddStringToObject(o, "type", "object");
		if (f->flags & DOC_NONEMPTY)
			cJSON_AddNumberToObject(o, "minProperties", 1);
		s = cJSON_AddObjectToObject(o, "additionalProperties");
		cJSON_AddStringToObject(s, "type", "string");
		break;
	case DOC_STRING:
		cJSON_AddStringToObject(o, "type", "string");
		if (f->flags & DOC_NONEMPTY)
			cJSON_AddNumberToObject(o, "minLength", 1);
		break;
	case DOC_INT:
		cJSON_AddStringToObject(o, "type", "integer");
		cJSON_AddNumberToObject(o, "minimum", (double)f->min);
		cJSON_AddNumberToObject(o, "maximum", (double)f->max);
		if (f->flags & DOC_DEFAULT)
			cJSON_AddNumberToObject(o, "default", (double)f->def);
		break;
	case DOC_ENUM:
		cJSON_AddStringToObject(o, "type", "string");
		arr = cJSON_AddArrayToObject(o, "enum");
		for (int i = 0; f->values[i]; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(f->values[i]));
		if (f->flags & DOC_DEFAULT)
			cJSON_AddStringToObject(o, "default", f->values[f->def]);
		break;
	case DOC_LABEL:
		label(o, "a DNS label: lower-case letters, digits and '-', at most 63 characters");
		break;
	case DOC_HOST:
		cJSON_AddStringToObject(o, "description",
					"a DNS name: dot-separated DNS labels, optionally starting "
					"with \"*.\", at most 253 characters");
		cJSON_AddStringToObject(o, "type", "string");
		cJSON_AddStringToObject(o, "pattern", HOST_PATTERN);
		cJSON_AddNumberToObject(o, "maxLength", 253);
		break;
	case DOC_URLPATH:
		cJSON_AddStringToObject(o, "type", "string");
		cJSON_AddStringToObject(o, "pattern", "^/");
		break;
	case DOC_KIND:
		cJSON_AddStringToObject(o, "description", "optional; must name this kind");
		cJSON_AddStringToObject(o, "const", store_kind_name(kind));
		break;
	case DOC_SELF_NAME:
		label(o, "optional; must equal the file name without .json");
		break;
	case DOC_SELF_NS:
		label(o, "optional; must equal the namespace directory");
		break;
	case DOC_VERSION:
		cJSON_AddStringToObject(o, "description",
					"optional precondition: applied only if this is still "
					"the current version");
		cJSON_AddStringToObject(o, "type", "integer");
		cJSON_AddNumberToObject(o, "minimum", 0);
		cJSON_AddNumberToObject(o, "maximum", VERSION_MAX);
		break;
	case DOC_IGNORED:
		cJSON_AddStringToObject(o, "description", "kept by the store; ignored on write");
		break;
	case DOC_OBJECT:
	case DOC_ARRAY:
		break;
	}
	return o;
}

static int kind_of(const char *arg, enum store_kind *out)
{
	for (int k = 0; k < STORE_KIND_COUNT; k++) {
		const char *name = store_kind_name((enum store_kind)k);

		if (strcasecmp(arg, name) == 0 || strcmp(arg, store_kind_dir((enum store_kind)k)) == 0) {
			*out = (enum store_kind)k;
			return 0;
		}
	}
	return -ENOENT;
}

static int print_schema(enum store_kind kind)
{
	const struct doc_kind_schema *sch = doc_schema(kind);
	struct doc_buf b = { 0 };
	char id[64], lower[32], what[256];
	const char *name = store_kind_name(kind);
	cJSON *root = cJSON_CreateObject(), *body;
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	snprintf(id, sizeof(id), "urn:swarmfs:schema:%s", lower);
	snprintf(what, sizeof(what),
		 "A swarmfs %s as written to %s/NAMESPACE/NAME.json; generated from "
		 "store/schema.c by contrib/schema/gen-schema.c", name, store_kind_dir(kind));
	cJSON_AddStringToObject(root, "$schema", "http://json-schema.org/draft-07/schema#");
	cJSON_AddStringToObject(root, "$id", id);
	cJSON_AddStringToObject(root, "title", name);
	cJSON_AddStringToObject(root, "description", what);
	body = object_schema(sch->document, kind);
	/* Splice the generated object's members into the root. */
	while (body->child) {
		cJSON *c = cJSON_DetachItemViaPointer(body, body->child);
		cJSON_AddItemToObject(root, c->string, c);
	}
	cJSON_Delete(body);
	doc_print(&b, root, true);
	cJSON_Delete(root);
	if (b.failed) {
		doc_buf_release(&b);
		fputs("swarmfs-schema: out of memory\n", stderr);
		return 1;
	}
	fwrite(b.data, 1, b.len, stdout);
	fputc('\n', stdout);
	doc_buf_release(&b);
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The tests' documents pretend to live at default/web.json. */
static int check_lines(void)
{
	char *line = NULL, *doc = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *sp = strchr(line, ' ');
		struct store_err err = { "" };
		struct store_doc d;
		enum store_kind kind;
		size_t len = 0;
		int rc;

		if (sp == NULL)
			return 2;
		*sp = '\0';
		if (kind_of(line, &kind) < 0) {
			fprintf(stderr, "swarmfs-schema: unknown kind '%s'\n", line);
			return 2;
		}
		free(doc);
		doc = malloc((size_t)n);
		for (char *p = sp + 1; doc && hexval(p[0]) >= 0 && hexval(p[1]) >= 0; p += 2)
			doc[len++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
		if (doc == NULL)
			return 2;
		rc = store_doc_parse(kind, "default", "web", doc, len, &d, &err);
		if (rc == 0) {
			puts("ok");
			store_doc_release(&d);
		} else {
			printf("error: %s\n", err.msg);
		}
	}
	free(doc);
	free(line);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	enum store_kind kind;

	if (argc == 2 && strcmp(argv[1], "--check") == 0)
		return check_lines();
	if (argc != 2 || kind_of(argv[1], &kind) < 0) {
		fputs("usage: swarmfs-schema deployment|service|pod|ingress\n"
		      "       swarmfs-schema --check < 'KIND HEX' lines\n", stderr);
		return 2;
	}
	return print_schema(kind);
}
