/* wire.c - encoding and decoding of replication frames (layout in wire.h);
 * the decoder bounds-checks every read and validates every field before a
 * caller can see it, so a hostile peer can cost a counter bump, nothing more. */
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int why_set(char *why, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, SYNC_WHY_MAX, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *sync_msg_type_name(int type)
{
	switch (type) {
	case SYNC_MSG_HELLO:
		return "hello";
	case SYNC_MSG_CHANGE:
		return "change";
	case SYNC_MSG_HEARTBEAT:
		return "heartbeat";
	case SYNC_MSG_FETCH:
		return "fetch";
	case SYNC_MSG_FETCH_REPLY:
		return "fetch-reply";
	case SYNC_MSG_STATE_REQ:
		return "state-request";
	case SYNC_MSG_STATE_REPLY:
		return "state-reply";
	}
	return "unknown";
}

void sync_checksum_init(struct sync_checksum *c)
{
	c->h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
}

void sync_checksum_add(struct sync_checksum *c, const void *data, size_t len)
{
	const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		c->h ^= p[i];
		c->h *= prime;
	}
}

void sync_checksum_hex(const struct sync_checksum *c, char hex[33])
{
	snprintf(hex, 33, "%016llx%016llx", (unsigned long long)(c->h >> 64),
		 (unsigned long long)(uint64_t)c->h);
}

static bool hex32_ok(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- encoding ------------------------------------------------------------------ */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put_bytes(struct wbuf *b, const void *data, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_uint(struct wbuf *b, uint64_t v, int bytes)
{
	uint8_t tmp[8];

	for (int i = 0; i < bytes; i++)
		tmp[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put_bytes(b, tmp, (size_t)bytes);
}

static void put_str(struct wbuf *b, const char *s, int len_bytes)
{
	size_t n = s ? strlen(s) : 0;

	put_uint(b, n, len_bytes);
	put_bytes(b, s, n);
}

static bool label_ok(const char *s, bool may_be_empty)
{
	if (!s || !*s)
		return may_be_empty;
	return strlen(s) <= STORE_NAME_MAX && store_name_valid(s);
}

static bool text_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > SYNC_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool json_ok(const char *data, size_t len)
{
	struct store_jsonscan scan;

	if (memchr(data, '\0', len))
		return false;
	store_jsonscan_init(&scan);
	return store_jsonscan_feed(&scan, data, len) == STORE_SCAN_COMPLETE;
}

/* The checks the decoder makes, for a change; 0 or -EINVAL with why. */
static int change_check(const struct store_rchange *r, char *why)
{
	const struct store_change *c = &r->c;
	bool nsop = c->op == STORE_OP_NS_CREATE || c->op == STORE_OP_NS_DELETE;
	const char *pn = r->parent_node ? r->parent_node : "";

	if ((int)c->op < STORE_OP_PUT || c->op > STORE_OP_NS_DELETE)
		return why_set(why, -EINVAL, "op %d out of range", (int)c->op);
	if ((int)c->kind < 0 || c->kind >= STORE_KIND_COUNT)
		return why_set(why, -EINVAL, "kind %d out of range", (int)c->kind);
	if (!label_ok(c->ns, false))
		return why_set(why, -EINVAL, "invalid namespace");
	if (nsop ? (c->name && *c->name) : !label_ok(c->name, false))
		return why_set(why, -EINVAL, "invalid name");
	if (!label_ok(c->origin, false))
		return why_set(why, -EINVAL, "invalid origin");
	if (c->version < 0)
		return why_set(why, -EINVAL, "negative version");
	if (c->origin_seq < 1)
		return why_set(why, -EINVAL, "origin sequence %lld out of range",
			       (long long)c->origin_seq);
	if (c->hlc == 0 || c->hlc > (uint64_t)INT64_MAX || r->parent_hlc > (uint64_t)INT64_MAX)
		return why_set(why, -EINVAL, "clock stamp out of range");
	if ((r->parent_hlc == 0) != (*pn == '\0') || !label_ok(pn, true))
		return why_set(why, -EINVAL, "invalid parent");
	if (!text_ok(c->source))
		return why_set(why, -EINVAL, "invalid source");
	if ((c->op == STORE_OP_PUT) != (c->body != NULL))
		return why_set(why, -EINVAL, "a body comes with puts and only with puts");
	if (c->body) {
		size_t n = strlen(c->body);

		if (n > STORE_DOC_MAX)
			return why_set(why, -EINVAL, "body of %zu bytes is too large", n);
		if (!json_ok(c->body, n))
			return why_set(why, -EINVAL, "body is not one JSON value");
	}
	return 0;
}

static void put_change(struct wbuf *b, const struct store_rchange *r)
{
	const struct store_change *c = &r->c;

	put_uint(b, (uint64_t)c->op, 1);
	put_uint(b, (uint64_t)c->kind, 1);
	put_str(b, c->ns, 1);
	put_str(b, c->name, 1);
	put_uint(b, (uint64_t)c->version, 8);
	put_str(b, c->origin, 1);
	put_uint(b, (uint64_t)c->origin_seq, 8);
	put_uint(b, c->hlc, 8);
	put_uint(b, (uint64_t)c->time_ms, 8);
	put_uint(b, r->parent_hlc, 8);
	put_str(b, r->parent_node, 1);
	put_uint(b, (uint64_t)r->created_ms, 8);
	put_str(b, c->source, 2);
	put_uint(b, c->body ? 1 : 0, 1);
	if (c->body)
		put_str(b, c->body, 4);
}

int sync_wire_encode(const struct sync_msg *m, uint8_t **out, size_t *len,
		     char why[SYNC_WHY_MAX])
{
	struct wbuf b = { 0 };
	size_t payload;
	int rc = 0;

	*out = NULL;
	*len = 0;
	put_uint(&b, SYNC_WIRE_MAGIC, 4);
	put_uint(&b, SYNC_WIRE_VERSION, 1);
	put_uint(&b, (uint64_t)m->type, 1);
	put_uint(&b, 0, 2);
	put_uint(&b, 0, 4); /* length, patched below */
	switch (m->type) {
	case SYNC_MSG_HELLO:
		if (!label_ok(m->node, false))
			rc = why_set(why, -EINVAL, "invalid node name");
		put_str(&b, m->node, 1);
		put_uint(&b, m->nonce, 8);
		break;
	case SYNC_MSG_CHANGE:
		if (m->n_changes != 1 || !m->changes)
			rc = why_set(why, -EINVAL, "a change message carries one change");
		else
			rc = change_check(&m->changes[0].r, why);
		if (rc == 0)
			put_change(&b, &m->changes[0].r);
		break;
	case SYNC_MSG_HEARTBEAT:
		if (!label_ok(m->node, false))
			rc = why_set(why, -EINVAL, "invalid node name");
		else if (m->n_origins > SYNC_ORIGINS_MAX || !hex32_ok(m->digest) ||
			 m->revision < 0)
			rc = why_set(why, -EINVAL, "invalid heartbeat");
		put_str(&b, m->node, 1);
		put_uint(&b, m->nonce, 8);
		put_uint(&b, (uint64_t)m->revision, 8);
		put_bytes(&b, m->digest, 32);
		put_uint(&b, m->n_origins, 2);
		for (size_t i = 0; rc == 0 && i < m->n_origins; i++) {
			if (!label_ok(m->origins[i].node, false) || m->origins[i].seq < 0)
				rc = why_set(why, -EINVAL, "invalid origin");
			put_str(&b, m->origins[i].node, 1);
			put_uint(&b, (uint64_t)m->origins[i].seq, 8);
		}
		break;
	case SYNC_MSG_FETCH:
		if (!label_ok(m->node, false) || !label_ok(m->origin, false) || m->after_seq < 0 ||
		    m->limit < 1 || m->limit > SYNC_FETCH_MAX)
			rc = why_set(why, -EINVAL, "invalid fetch");
		put_str(&b, m->node, 1);
		put_str(&b, m->origin, 1);
		put_uint(&b, (uint64_t)m->after_seq, 8);
		put_uint(&b, m->limit, 4);
		break;
	case SYNC_MSG_FETCH_REPLY:
		if (m->status > SYNC_FETCH_ERROR || !label_ok(m->origin, false) || m->high < 0 ||
		    m->n_changes > SYNC_FETCH_MAX)
			rc = why_set(why, -EINVAL, "invalid fetch reply");
		put_uint(&b, m->status, 1);
		put_str(&b, m->origin, 1);
		put_uint(&b, (uint64_t)m->high, 8);
		put_uint(&b, m->n_changes, 2);
		for (size_t i = 0; rc == 0 && i < m->n_changes; i++) {
			rc = change_check(&m->changes[i].r, why);
			put_change(&b, &m->changes[i].r);
		}
		break;
	case SYNC_MSG_STATE_REQ:
		if (!label_ok(m->node, false) || m->length > SYNC_STATE_CHUNK ||
		    (m->transfer == 0) != (m->length == 0) || (m->transfer == 0 && m->offset != 0) ||
		    m->offset > SYNC_STATE_MAX)
			rc = why_set(why, -EINVAL, "invalid state request");
		put_str(&b, m->node, 1);
		put_uint(&b, m->transfer, 8);
		put_uint(&b, m->offset, 8);
		put_uint(&b, m->length, 4);
		break;
	case SYNC_MSG_STATE_REPLY:
		if (m->status > SYNC_STATE_ERROR || m->total > SYNC_STATE_MAX ||
		    !hex32_ok(m->checksum) || m->data_len > SYNC_STATE_CHUNK ||
		    m->offset > m->total || m->data_len > m->total - m->offset ||
		    (m->data_len > 0 && !m->data))
			rc = why_set(why, -EINVAL, "invalid state reply");
		put_uint(&b, m->status, 1);
		put_uint(&b, m->transfer, 8);
		put_uint(&b, m->total, 8);
		put_bytes(&b, m->checksum, 32);
		put_uint(&b, m->offset, 8);
		put_uint(&b, m->data_len, 4);
		if (rc == 0)
			put_bytes(&b, m->data, m->data_len);
		break;
	default:
		rc = why_set(why, -EINVAL, "unknown message type %d", (int)m->type);
	}
	if (rc == 0 && b.oom)
		rc = why_set(why, -ENOMEM, "out of memory");
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	payload = b.len - SYNC_WIRE_HEADER;
	if (payload > UINT32_MAX) {
		free(b.p);
		return why_set(why, -EINVAL, "message too large");
	}
	for (int i = 0; i < 4; i++)
		b.p[8 + i] = (uint8_t)(payload >> (8 * (3 - i)));
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- decoding ------------------------------------------------------------------ */

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	char *why;
};

static int need(struct rbuf *b, size_t n, const char *what)
{
	if (b->len - b->pos < n)
		return why_set(b->why, -EPROTO, "truncated %s", what);
	return 0;
}

static int get_uint(struct rbuf *b, int bytes, uint64_t *v, const char *what)
{
	int rc = need(b, (size_t)bytes, what);

	*v = 0;
	if (rc < 0)
		return rc;
	for (int i = 0; i < bytes; i++)
		*v = (*v << 8) | b->p[b->pos++];
	return 0;
}

static int get_i64(struct rbuf *b, int64_t min, int64_t *v, const char *what)
{
	uint64_t u;
	int rc = get_uint(b, 8, &u, what);

	if (rc < 0)
		return rc;
	*v = (int64_t)u;
	if (*v < min)
		return why_set(b->why, -EINVAL, "%s %lld out of range", what, (long long)*v);
	return 0;
}

/* A DNS label into out (STORE_NAME_MAX + 1 bytes); empty only if allowed. */
static int get_label(struct rbuf *b, char *out, bool may_be_empty, const char *what)
{
	uint64_t n;
	int rc = get_uint(b, 1, &n, what);

	out[0] = '\0';
	if (rc < 0)
		return rc;
	if (n > STORE_NAME_MAX)
		return why_set(b->why, -EINVAL, "%s of %u bytes is too long", what, (unsigned)n);
	rc = need(b, n, what);
	if (rc < 0)
		return rc;
	memcpy(out, b->p + b->pos, n);
	out[n] = '\0';
	b->pos += n;
	/* strlen: a NUL inside would pass the check as a shorter name */
	if (n == 0 ? !may_be_empty : strlen(out) != n || !store_name_valid(out))
		return why_set(b->why, -EINVAL, "invalid %s", what);
	return 0;
}

/* text: a new string, or NULL when empty. */
static int get_text(struct rbuf *b, char **out, const char *what)
{
	uint64_t n;
	int rc = get_uint(b, 2, &n, what);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (n > SYNC_TEXT_MAX)
		return why_set(b->why, -EINVAL, "%s of %u bytes is too long", what, (unsigned)n);
	rc = need(b, n, what);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (b->p[b->pos + i] < 0x20 || b->p[b->pos + i] > 0x7e)
			return why_set(b->why, -EINVAL, "%s is not printable ASCII", what);
	if (n == 0)
		return 0;
	*out = strndup((const char *)b->p + b->pos, n);
	if (!*out)
		return why_set(b->why, -ENOMEM, "out of memory");
	b->pos += n;
	return 0;
}

static int get_change(struct rbuf *b, struct sync_change *sc)
{
	struct store_change *c = &sc->r.c;
	uint64_t op = 0, kind = 0, has_body = 0, n = 0;
	int64_t version = 0;
	int rc;

	memset(sc, 0, sizeof(*sc));
	rc = get_uint(b, 1, &op, "op");
	if (rc == 0 && op > STORE_OP_NS_DELETE)
		rc = why_set(b->why, -EINVAL, "op %u out of range", (unsigned)op);
	if (rc == 0)
		rc = get_uint(b, 1, &kind, "kind");
	if (rc == 0 && kind >= STORE_KIND_COUNT)
		rc = why_set(b->why, -EINVAL, "kind %u out of range", (unsigned)kind);
	if (rc < 0)
		return rc;
	c->op = (enum store_op)op;
	c->kind = (enum store_kind)kind;
	rc = get_label(b, sc->ns, false, "namespace");
	if (rc == 0)
		rc = get_label(b, sc->name, true, "name");
	if (rc == 0 && (c->op == STORE_OP_NS_CREATE || c->op == STORE_OP_NS_DELETE) != !sc->name[0])
		rc = why_set(b->why, -EINVAL, "a name comes with resource changes only");
	if (rc == 0)
		rc = get_i64(b, 0, &version, "version");
	if (rc == 0)
		rc = get_label(b, sc->origin, false, "origin");
	if (rc == 0)
		rc = get_i64(b, 1, &c->origin_seq, "origin sequence");
	if (rc == 0)
		rc = get_uint(b, 8, &c->hlc, "hlc");
	if (rc == 0 && (c->hlc == 0 || c->hlc > (uint64_t)INT64_MAX))
		rc = why_set(b->why, -EINVAL, "hlc out of range");
	if (rc == 0)
		rc = get_i64(b, INT64_MIN, &c->time_ms, "time");
	if (rc == 0)
		rc = get_uint(b, 8, &sc->r.parent_hlc, "parent hlc");
	if (rc == 0 && sc->r.parent_hlc > (uint64_t)INT64_MAX)
		rc = why_set(b->why, -EINVAL, "parent hlc out of range");
	if (rc == 0)
		rc = get_label(b, sc->parent_node, true, "parent node");
	if (rc == 0 && (sc->r.parent_hlc == 0) != (sc->parent_node[0] == '\0'))
		rc = why_set(b->why, -EINVAL, "parent hlc and node disagree");
	if (rc == 0)
		rc = get_i64(b, INT64_MIN, &sc->r.created_ms, "created");
	if (rc == 0)
		rc = get_text(b, &sc->source, "source");
	if (rc == 0)
		rc = get_uint(b, 1, &has_body, "body flag");
	if (rc == 0 && has_body != (c->op == STORE_OP_PUT ? 1u : 0u))
		rc = why_set(b->why, -EINVAL, "a body comes with puts and only with puts");
	if (rc == 0 && has_body) {
		rc = get_uint(b, 4, &n, "body length");
		if (rc == 0 && n > STORE_DOC_MAX)
			rc = why_set(b->why, -EINVAL, "body of %llu bytes is too large",
				     (unsigned long long)n);
		if (rc == 0)
			rc = need(b, n, "body");
		if (rc == 0 && !json_ok((const char *)b->p + b->pos, n))
			rc = why_set(b->why, -EINVAL, "body is not one JSON value");
		if (rc == 0) {
			sc->body = strndup((const char *)b->p + b->pos, n);
			if (!sc->body)
				rc = why_set(b->why, -ENOMEM, "out of memory");
			b->pos += n;
		}
	}
	if (rc < 0) {
		free(sc->source);
		free(sc->body);
		sc->source = sc->body = NULL;
		return rc;
	}
	c->version = version;
	c->ns = sc->ns;
	c->name = sc->name;
	c->origin = sc->origin;
	c->body = sc->body;
	c->source = sc->source;
	sc->r.parent_node = sc->parent_node;
	return 0;
}

static int get_changes(struct rbuf *b, struct sync_msg *m, size_t count)
{
	int rc = 0;

	/* Each change takes at least 59 bytes: a count the payload cannot
	 * hold is refused before allocating for it. */
	if (count > (b->len - b->pos) / 59)
		return why_set(b->why, -EPROTO, "truncated changes");
	if (count == 0)
		return 0;
	m->changes = calloc(count, sizeof(*m->changes));
	if (!m->changes)
		return why_set(b->why, -ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		rc = get_change(b, &m->changes[i]);
		if (rc < 0)
			break;
		m->n_changes = i + 1;
	}
	return rc;
}

int sync_wire_decode(const uint8_t *buf, size_t len, struct sync_msg *m,
		     char why[SYNC_WHY_MAX])
{
	struct rbuf b = { buf, len, 0, why };
	uint64_t magic = 0, version = 0, type = 0, flags = 0, length = 0, n = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (why)
		why[0] = '\0';
	if (!buf)
		return why_set(why, -EPROTO, "empty frame");
	rc = get_uint(&b, 4, &magic, "header");
	if (rc == 0 && magic != SYNC_WIRE_MAGIC)
		rc = why_set(why, -EPROTO, "bad magic 0x%08llx", (unsigned long long)magic);
	if (rc == 0)
		rc = get_uint(&b, 1, &version, "header");
	if (rc == 0 && version != SYNC_WIRE_VERSION)
		rc = why_set(why, -EPROTO, "unsupported wire version %u", (unsigned)version);
	if (rc == 0)
		rc = get_uint(&b, 1, &type, "header");
	if (rc == 0)
		rc = get_uint(&b, 2, &flags, "header");
	if (rc == 0 && flags != 0)
		rc = why_set(why, -EPROTO, "unknown flags 0x%04x", (unsigned)flags);
	if (rc == 0)
		rc = get_uint(&b, 4, &length, "header");
	if (rc == 0 && length != len - SYNC_WIRE_HEADER)
		rc = why_set(why, -EPROTO, "payload is %zu bytes, header says %llu",
			     len - SYNC_WIRE_HEADER, (unsigned long long)length);
	if (rc < 0)
		return rc;
	m->type = (enum sync_msg_type)type;
	switch (type) {
	case SYNC_MSG_HELLO:
		rc = get_label(&b, m->node, false, "node");
		if (rc == 0)
			rc = get_uint(&b, 8, &m->nonce, "nonce");
		break;
	case SYNC_MSG_CHANGE:
		m->changes = calloc(1, sizeof(*m->changes));
		if (!m->changes)
			return why_set(why, -ENOMEM, "out of memory");
		rc = get_change(&b, &m->changes[0]);
		if (rc == 0)
			m->n_changes = 1;
		break;
	case SYNC_MSG_HEARTBEAT:
		rc = get_label(&b, m->node, false, "node");
		if (rc == 0)
			rc = get_uint(&b, 8, &m->nonce, "nonce");
		if (rc == 0)
			rc = get_i64(&b, 0, &m->revision, "revision");
		if (rc == 0)
			rc = need(&b, 32, "digest");
		if (rc == 0) {
			for (int i = 0; i < 32 && rc == 0; i++) {
				char ch = (char)buf[b.pos + (size_t)i];

				if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
					rc = why_set(why, -EINVAL, "digest is not lowercase hex");
				m->digest[i] = ch;
			}
			m->digest[32] = '\0';
			b.pos += 32;
		}
		if (rc == 0)
			rc = get_uint(&b, 2, &n, "origin count");
		if (rc == 0 && n > SYNC_ORIGINS_MAX)
			rc = why_set(why, -EINVAL, "%u origins is too many", (unsigned)n);
		if (rc == 0 && n > (len - b.pos) / 10)
			rc = why_set(why, -EPROTO, "truncated origins");
		if (rc == 0 && n > 0) {
			m->origins = calloc(n, sizeof(*m->origins));
			if (!m->origins)
				rc = why_set(why, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = get_label(&b, m->origins[i].node, false, "origin");
			if (rc == 0)
				rc = get_i64(&b, 0, &m->origins[i].seq, "origin sequence");
			if (rc == 0)
				m->n_origins = i + 1;
		}
		break;
	case SYNC_MSG_FETCH:
		rc = get_label(&b, m->node, false, "node");
		if (rc == 0)
			rc = get_label(&b, m->origin, false, "origin");
		if (rc == 0)
			rc = get_i64(&b, 0, &m->after_seq, "after sequence");
		if (rc == 0)
			rc = get_uint(&b, 4, &n, "limit");
		if (rc == 0 && (n < 1 || n > SYNC_FETCH_MAX))
			rc = why_set(why, -EINVAL, "limit %llu out of range", (unsigned long long)n);
		m->limit = (uint32_t)n;
		break;
	case SYNC_MSG_FETCH_REPLY:
		rc = get_uint(&b, 1, &n, "status");
		if (rc == 0 && n > SYNC_FETCH_ERROR)
			rc = why_set(why, -EINVAL, "status %u out of range", (unsigned)n);
		m->status = (uint8_t)n;
		if (rc == 0)
			rc = get_label(&b, m->origin, false, "origin");
		if (rc == 0)
			rc = get_i64(&b, 0, &m->high, "high-water mark");
		if (rc == 0)
			rc = get_uint(&b, 2, &n, "change count");
		if (rc == 0 && n > SYNC_FETCH_MAX)
			rc = why_set(why, -EINVAL, "%u changes is too many", (unsigned)n);
		if (rc == 0)
			rc = get_changes(&b, m, n);
		break;
	case SYNC_MSG_STATE_REQ:
		rc = get_label(&b, m->node, false, "node");
		if (rc == 0)
			rc = get_uint(&b, 8, &m->transfer, "transfer");
		if (rc == 0)
			rc = get_uint(&b, 8, &m->offset, "offset");
		if (rc == 0)
			rc = get_uint(&b, 4, &n, "length");
		m->length = (uint32_t)n;
		if (rc == 0 && (n > SYNC_STATE_CHUNK || (m->transfer == 0) != (n == 0) ||
				(m->transfer == 0 && m->offset != 0) || m->offset > SYNC_STATE_MAX))
			rc = why_set(why, -EINVAL, "state request out of range");
		break;
	case SYNC_MSG_STATE_REPLY:
		rc = get_uint(&b, 1, &n, "status");
		if (rc == 0 && n > SYNC_STATE_ERROR)
			rc = why_set(why, -EINVAL, "status %u out of range", (unsigned)n);
		m->status = (uint8_t)n;
		if (rc == 0)
			rc = get_uint(&b, 8, &m->transfer, "transfer");
		if (rc == 0)
			rc = get_uint(&b, 8, &m->total, "total");
		if (rc == 0 && m->total > SYNC_STATE_MAX)
			rc = why_set(why, -EINVAL, "state of %llu bytes is too large",
				     (unsigned long long)m->total);
		if (rc == 0)
			rc = need(&b, 32, "checksum");
		if (rc == 0) {
			memcpy(m->checksum, buf + b.pos, 32);
			m->checksum[32] = '\0';
			b.pos += 32;
			if (!hex32_ok(m->checksum))
				rc = why_set(why, -EINVAL, "checksum is not lowercase hex");
		}
		if (rc == 0)
			rc = get_uint(&b, 8, &m->offset, "offset");
		if (rc == 0)
			rc = get_uint(&b, 4, &n, "data length");
		if (rc == 0 && (n > SYNC_STATE_CHUNK || m->offset > m->total ||
				n > m->total - m->offset))
			rc = why_set(why, -EINVAL, "chunk out of range");
		if (rc == 0)
			rc = need(&b, n, "data");
		if (rc == 0 && n > 0) {
			m->data = malloc(n);
			if (!m->data)
				rc = why_set(why, -ENOMEM, "out of memory");
			else
				memcpy(m->data, buf + b.pos, n);
			m->data_len = n;
			b.pos += n;
		}
		break;
	default:
		rc = why_set(why, -EPROTO, "unknown message type %u", (unsigned)type);
	}
	if (rc == 0 && b.pos != len)
		rc = why_set(why, -EPROTO, "%zu trailing bytes", len - b.pos);
	if (rc < 0)
		sync_msg_release(m);
	return rc;
}

void sync_msg_release(struct sync_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->changes && i < m->n_changes; i++) {
		free(m->changes[i].source);
		free(m->changes[i].body);
	}
	/* A change that failed half-way freed its own strings. */
	free(m->changes);
	free(m->origins);
	free(m->data);
	m->changes = NULL;
	m->origins = NULL;
	m->data = NULL;
	m->data_len = 0;
	m->n_changes = m->n_origins = 0;
}
