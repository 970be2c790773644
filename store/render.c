/* render.c - the one JSON printer (byte-for-byte what `jq .` and `jq -c`
 * of jq 1.6 print, so users can diff the mount against jq output) and the
 * canonical document built from a stored body plus the store's metadata:
 * validated through the schema (store_render), or re-indented straight
 * from the stored text when it is in the printer's own compact form
 * (store_render_stored), with the same bytes as the result. */
#include "doc-internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ------------------------------------------------------------- */

void doc_buf_put(struct doc_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->data, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void put_str(struct doc_buf *b, const char *s)
{
	doc_buf_put(b, s, strlen(s));
}

void doc_buf_release(struct doc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- printer ------------------------------------------------------------ */

void doc_print_string(struct doc_buf *b, const char *s, size_t n)
{
	size_t run = 0; /* bytes copied as they are, flushed in one go */

	doc_buf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char hex[8];

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(hex, sizeof(hex), "\\u%04x", c);
				esc = hex;
			}
			break;
		}
		if (esc == NULL) {
			run++;
			continue;
		}
		doc_buf_put(b, s + i - run, run);
		run = 0;
		put_str(b, esc);
	}
	doc_buf_put(b, s + n - run, run);
	doc_buf_put(b, "\"", 1);
}

/*
 * jq 1.6 prints numbers with the shortest digits that read back as the
 * same double, in fixed notation unless the decimal point would sit 4 or
 * more places left of the digits or more than 15 places right of them.
 * Documents only hold integers, which take the first branch; the rest keeps
 * the printer honest for any tree.
 */
static void print_number(struct doc_buf *b, double d)
{
	char buf[64], digits[32], out[64];
	size_t nd = 0, pos = 0;
	int exp10, decpt;
	char *e;

	if (d != d) {
		put_str(b, "null");
		return;
	}
	if (d > DBL_MAX)
		d = DBL_MAX;
	if (d < -DBL_MAX)
		d = -DBL_MAX;
	if (d > -1e16 && d < 1e16 && (double)(int64_t)d == d) {
		if (d == 0 && 1 / d < 0)
			put_str(b, "-0");
		else {
			snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)d);
			put_str(b, buf);
		}
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf is "-d.ddde+XX": collect the digits and the exponent. */
	e = strchr(buf, 'e');
	if (e == NULL)
		return;
	exp10 = atoi(e + 1);
	for (const char *p = buf; p < e; p++) {
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	decpt = exp10 + 1;
	if (d < 0)
		out[pos++] = '-';
	if (decpt <= -4 || decpt > (int)nd + 15) {
		out[pos++] = digits[0];
		if (nd > 1) {
			out[pos++] = '.';
			memcpy(out + pos, digits + 1, nd - 1);
			pos += nd - 1;
		}
		snprintf(out + pos, sizeof(out) - pos, "e%c%02d",
			 exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
	} else if (decpt <= 0) {
		out[pos++] = '0';
		out[pos++] = '.';
		for (int i = 0; i < -decpt; i++)
			out[pos++] = '0';
		memcpy(out + pos, digits, nd);
		out[pos + nd] = '\0';
	} else if (decpt >= (int)nd) {
		memcpy(out + pos, digits, nd);
		pos += nd;
		for (int i = 0; i < decpt - (int)nd; i++)
			out[pos++] = '0';
		out[pos] = '\0';
	} else {
		memcpy(out + pos, digits, (size_t)decpt);
		pos += (size_t)decpt;
		out[pos++] = '.';
		memcpy(out + pos, digits + decpt, nd - (size_t)decpt);
		out[pos + nd - (size_t)decpt] = '\0';
	}
	put_str(b, out);
}

static void newline_indent(struct doc_buf *b, int level)
{
	static const char spaces[] = "                                ";

	doc_buf_put(b, "\n", 1);
	for (size_t n = (size_t)level * 2; n > 0;) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		doc_buf_put(b, spaces, k);
		n -= k;
	}
}

static void print_value(struct doc_buf *b, const cJSON *item, bool pretty, int level)
{
	bool object;

	switch (item->type & 0xff) {
	case cJSON_False:
		put_str(b, "false");
		return;
	case cJSON_True:
		put_str(b, "true");
		return;
	case cJSON_NULL:
		put_str(b, "null");
		return;
	case cJSON_Number:
		print_number(b, item->valuedouble);
		return;
	case cJSON_String:
		doc_print_string(b, item->valuestring, strlen(item->valuestring));
		return;
	case cJSON_Raw:
		put_str(b, item->valuestring);
		return;
	case cJSON_Array:
	case cJSON_Object:
		break;
	default:
		put_str(b, "null");
		return;
	}
	object = cJSON_IsObject(item);
	if (item->child == NULL) {
		put_str(b, object ? "{}" : "[]");
		return;
	}
	doc_buf_put(b, object ? "{" : "[", 1);
	for (const cJSON *c = item->child; c != NULL; c = c->next) {
		if (c != item->child)
			doc_buf_put(b, ",", 1);
		if (pretty)
			newline_indent(b, level + 1);
		if (object) {
			doc_print_string(b, c->string, strlen(c->string));
			doc_buf_put(b, pretty ? ": " : ":", pretty ? 2 : 1);
		}
		print_value(b, c, pretty, level + 1);
	}
	if (pretty)
		newline_indent(b, level);
	doc_buf_put(b, object ? "}" : "]", 1);
}

void doc_print(struct doc_buf *b, const cJSON *item, bool pretty)
{
	print_value(b, item, pretty, 0);
}

/* ---- documents ---------------------------------------------------------- */

/* Adds item to obj under key; on failure frees item (which may be NULL,
 * from a failed create) so callers need one check. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (item == NULL)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* Moves canon's member `key`, if any, to the end of dst. */
static bool move(cJSON *dst, cJSON *canon, const char *key)
{
	cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(canon, key);

	return item == NULL || add(dst, key, item);
}

static bool add_time(cJSON *obj, const char *key, int64_t ms)
{
	char buf[40];

	store_format_time(ms, buf, sizeof(buf));
	return add(obj, key, cJSON_CreateString(buf));
}

/* The metadata object: identity, user labels, then what the store owns. */
static cJSON *build_metadata(const char *ns, const char *name,
			     const struct store_meta *meta, cJSON *canon, int flags,
			     const char *snapshot)
{
	cJSON *md = cJSON_CreateObject();
	bool okay;

	if (md == NULL)
		return NULL;
	okay = add(md, "name", cJSON_CreateString(name)) &&
	       add(md, "namespace", cJSON_CreateString(ns)) &&
	       move(md, canon, "labels") && move(md, canon, "annotations");
	if (okay && meta != NULL && !(flags & STORE_RENDER_CONTENT)) {
		if (!(flags & STORE_RENDER_NO_VERSION))
			okay = add(md, "version", cJSON_CreateNumber((double)meta->version));
		okay = okay && add_time(md, "created", meta->created_ms) &&
		       add_time(md, "updated", meta->updated_ms);
		if (okay && meta->node[0] != '\0')
			okay = add(md, "node", cJSON_CreateString(meta->node));
	}
	if (okay && snapshot != NULL)
		okay = add(md, "snapshot", cJSON_CreateString(snapshot));
	if (!okay) {
		cJSON_Delete(md);
		return NULL;
	}
	return md;
}

int store_render(enum store_kind kind, const char *ns, const char *name,
		 const struct store_meta *meta, const char *body, int flags,
		 char **out, size_t *len)
{
	return store_render_snapshot(kind, ns, name, meta, body, flags, NULL, out, len);
}

int store_render_snapshot(enum store_kind kind, const char *ns, const char *name,
			  const struct store_meta *meta, const char *body, int flags,
			  const char *snapshot, char **out, size_t *len)
{
	cJSON *root = NULL, *canon = NULL, *doc = NULL;
	struct doc_buf b = { 0 };
	bool pretty = !(flags & STORE_RENDER_COMPACT);
	int rc;

	if ((unsigned)kind >= STORE_KIND_COUNT || ns == NULL || name == NULL ||
	    body == NULL)
		return -EINVAL;
	/* The body is parsed and validated again, not trusted: a body edited
	 * behind the store's back (or by an older build) is refused instead
	 * of being shown in a shape the schema does not allow. */
	rc = doc_parse_json(body, strlen(body), &root, NULL);
	if (rc < 0)
		return rc;
	rc = doc_validate(kind, DOC_MODE_BODY, ns, name, root, &canon, NULL, NULL, NULL);
	cJSON_Delete(root);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	doc = cJSON_CreateObject();
	if (doc == NULL)
		goto out;
	if (!add(doc, "kind", cJSON_CreateString(store_kind_name(kind))) ||
	    !add(doc, "metadata", build_metadata(ns, name, meta, canon, flags, snapshot)) ||
	    !move(doc, canon, "spec") || !move(doc, canon, "status"))
		goto out;
	doc_print(&b, doc, pretty);
	if (pretty)
		doc_buf_put(&b, "\n", 1);
	if (b.failed) {
		doc_buf_release(&b);
		goto out;
	}
	*out = b.data;
	*len = b.len;
	rc = 0;
out:
	cJSON_Delete(doc);
	cJSON_Delete(canon);
	return rc;
}

/* ---- stored bodies: re-indenting the printer's own compact output ------- */

/*
 * A body that store_doc_parse wrote is the compact output of doc_print for
 * a canonical tree: no blanks, strings escaped as doc_print_string does,
 * integers in plain digits, members in schema order, defaults filled.
 * Printing it pretty needs no tree and no schema: copy each token and add
 * the newlines and indentation print_value would.  Anything this copier
 * does not recognise as that form (blanks, other escapes, fractions,
 * exponents, long integers, deep nesting, unknown top-level members) makes
 * it give up, and the caller falls back to the validating path, so the
 * output is byte-identical either way.
 */
#define COPY_DEPTH 64

struct copier {
	struct doc_buf *b;
	bool pretty;
	bool bad;
};

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A string exactly as doc_print_string escapes it; returns the end. */
static const char *copy_string(struct copier *c, const char *p)
{
	const char *q = p + 1;

	for (;;) {
		unsigned char ch = (unsigned char)*q;

		if (ch == '"')
			break;
		if (ch == '\\') {
			char e = q[1];
			if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' ||
			    e == 'r' || e == 't') {
				q += 2;
				continue;
			}
			/* \u00XX only for the controls without a short escape,
			 * and DEL; lowercase hex, as the printer writes it. */
			if (e == 'u' && q[2] == '0' && q[3] == '0' && is_hex_lower(q[4]) &&
			    is_hex_lower(q[5])) {
				char hex[3] = { q[4], q[5], '\0' };
				unsigned v = (unsigned)strtoul(hex, NULL, 16);
				if ((v < 0x20 && v != '\b' && v != '\f' && v != '\n' && v != '\r' &&
				     v != '\t') || v == 0x7f) {
					q += 6;
					continue;
				}
			}
			c->bad = true;
			return q;
		}
		if (ch < 0x20 || ch == 0x7f) { /* raw controls and the end of text */
			c->bad = true;
			return q;
		}
		q++;
	}
	doc_buf_put(c->b, p, (size_t)(q + 1 - p));
	return q + 1;
}

static const char *copy_value(struct copier *c, const char *p, int level);

static const char *copy_container(struct copier *c, const char *p, int level)
{
	bool object = *p == '{';
	char close = object ? '}' : ']';

	if (level >= COPY_DEPTH) {
		c->bad = true;
		return p;
	}
	p++;
	if (*p == close) {
		put_str(c->b, object ? "{}" : "[]");
		return p + 1;
	}
	doc_buf_put(c->b, object ? "{" : "[", 1);
	for (bool first = true; !c->bad; first = false) {
		if (!first)
			doc_buf_put(c->b, ",", 1);
		if (c->pretty)
			newline_indent(c->b, level + 1);
		if (object) {
			if (*p != '"') {
				c->bad = true;
				return p;
			}
			p = copy_string(c, p);
			if (c->bad || *p != ':') {
				c->bad = true;
				return p;
			}
			p++;
			doc_buf_put(c->b, c->pretty ? ": " : ":", c->pretty ? 2 : 1);
		}
		p = copy_value(c, p, level + 1);
		if (c->bad)
			return p;
		if (*p == close)
			break;
		if (*p != ',') {
			c->bad = true;
			return p;
		}
		p++;
	}
	if (c->pretty)
		newline_indent(c->b, level);
	doc_buf_put(c->b, &close, 1);
	return p + 1;
}

static const char *copy_value(struct copier *c, const char *p, int level)
{
	const char *q = p;

	switch (*p) {
	case '"':
		return copy_string(c, p);
	case '{':
	case '[':
		return copy_container(c, p, level);
	case 't':
		q = strncmp(p, "true", 4) == 0 ? p + 4 : p;
		break;
	case 'f':
		q = strncmp(p, "false", 5) == 0 ? p + 5 : p;
		break;
	case 'n':
		q = strncmp(p, "null", 4) == 0 ? p + 4 : p;
		break;
	default:
		/* Integers as print_number writes them: no leading zeros, at
		 * most 15 digits (well inside its exact integer range). */
		if (*q == '-')
			q++;
		if (*q == '0') {
			q++;
		} else if (*q >= '1' && *q <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
		}
		if (q == p || q[-1] == '-' || q - p - (*p == '-') > 15 || *q == '.' ||
		    *q == 'e' || *q == 'E') {
			c->bad = true;
			return p;
		}
		break;
	}
	if (q == p) {
		c->bad = true;
		return p;
	}
	doc_buf_put(c->b, p, (size_t)(q - p));
	return q;
}

/* Appends `"key": ` (or `"key":`) at the next member position of level. */
static void put_key(struct copier *c, const char *key, int level, bool first)
{
	if (!first)
		doc_buf_put(c->b, ",", 1);
	if (c->pretty)
		newline_indent(c->b, level);
	doc_print_string(c->b, key, strlen(key));
	doc_buf_put(c->b, c->pretty ? ": " : ":", c->pretty ? 2 : 1);
}

static void put_string_member(struct copier *c, const char *key, const char *value, int level)
{
	put_key(c, key, level, false);
	doc_print_string(c->b, value, strlen(value));
}

/* The body's top-level members in the order they must come. */
static const char *const body_members[] = { "labels", "annotations", "spec", "status" };

/* Index in body_members of the key at p ("\"spec\":..."), or -1. */
static int body_member(const char *p, const char **value)
{
	for (int i = 0; i < 4; i++) {
		size_t n = strlen(body_members[i]);
		if (p[0] == '"' && strncmp(p + 1, body_members[i], n) == 0 && p[n + 1] == '"' &&
		    p[n + 2] == ':') {
			*value = p + n + 3;
			return i;
		}
	}
	return -1;
}

/* The fast path: 0, -ENOMEM, or 1 when the body is not in the form this
 * copier knows (nothing allocated is left). */
static int render_copy(enum store_kind kind, const char *ns, const char *name,
		       const struct store_meta *meta, const char *body, int flags,
		       const char *snapshot, struct doc_buf *b)
{
	struct copier c = { .b = b, .pretty = !(flags & STORE_RENDER_COMPACT) };
	const char *p = body, *value;
	char when[40];
	int next = 0, m;

	if (*p != '{')
		return 1;
	p++;
	doc_buf_put(b, "{", 1);
	put_key(&c, "kind", 1, true);
	doc_print_string(b, store_kind_name(kind), strlen(store_kind_name(kind)));
	put_key(&c, "metadata", 1, false);
	doc_buf_put(b, "{", 1);
	put_key(&c, "name", 2, true);
	doc_print_string(b, name, strlen(name));
	put_string_member(&c, "namespace", ns, 2);
	m = body_member(p, &value);
	/* labels, annotations: inside metadata */
	while (m >= 0 && m <= 1 && m >= next) {
		put_key(&c, body_members[m], 2, false);
		p = copy_value(&c, value, 2);
		if (c.bad)
			return 1;
		next = m + 1;
		if (*p != ',') {
			m = -1;
			break;
		}
		p++;
		m = body_member(p, &value);
	}
	if (meta != NULL && !(flags & STORE_RENDER_CONTENT)) {
		if (!(flags & STORE_RENDER_NO_VERSION)) {
			char v[32];
			if (meta->version <= -INT64_C(10000000000000000) ||
			    meta->version >= INT64_C(10000000000000000))
				return 1; /* print_number's other branch */
			put_key(&c, "version", 2, false);
			snprintf(v, sizeof(v), "%" PRId64, meta->version);
			put_str(b, v);
		}
		store_format_time(meta->created_ms, when, sizeof(when));
		put_string_member(&c, "created", when, 2);
		store_format_time(meta->updated_ms, when, sizeof(when));
		put_string_member(&c, "updated", when, 2);
		if (meta->node[0] != '\0')
			put_string_member(&c, "node", meta->node, 2);
	}
	if (snapshot != NULL)
		put_string_member(&c, "snapshot", snapshot, 2);
	if (c.pretty)
		newline_indent(b, 1);
	doc_buf_put(b, "}", 1);
	/* spec (required), then status */
	if (m != 2 || next > 2)
		return 1;
	while (m >= 2 && m >= next) {
		put_key(&c, body_members[m], 1, false);
		p = copy_value(&c, value, 1);
		if (c.bad)
			return 1;
		next = m + 1;
		if (*p != ',')
			break;
		p++;
		m = body_member(p, &value);
		if (m < next)
			return 1;
	}
	if (p[0] != '}' || p[1] != '\0')
		return 1;
	if (c.pretty)
		put_str(b, "\n}\n");
	else
		doc_buf_put(b, "}", 1);
	return b->failed ? -ENOMEM : 0;
}

int store_render_stored(enum store_kind kind, const char *ns, const char *name,
			const struct store_meta *meta, const char *body, int flags,
			const char *snapshot, char **out, size_t *len)
{
	struct doc_buf b = { 0 };
	int rc;

	if ((unsigned)kind >= STORE_KIND_COUNT || ns == NULL || name == NULL ||
	    body == NULL)
		return -EINVAL;
	rc = render_copy(kind, ns, name, meta, body, flags, snapshot, &b);
	if (rc != 0) {
		doc_buf_release(&b);
		if (rc < 0)
			return rc;
		return store_render_snapshot(kind, ns, name, meta, body, flags, snapshot,
					     out, len);
	}
	*out = b.data;
	*len = b.len;
	return 0;
}
