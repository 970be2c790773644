/* wire.h - the replication wire format: versioned, length-prefixed binary
 * frames, and a decoder that checks every length and range before use.
 *
 * A frame is a 12-byte header and a payload, integers big-endian:
 *   magic u32 "SWFS" | version u8 (1) | type u8 | flags u16 (0) | length u32
 * and exactly `length` payload bytes.  Field types in the payload:
 *   name   u8 length + bytes: a DNS label (store_name_valid), 1..63
 *   oname  like name, but may be empty (length 0)
 *   text   u16 length + printable ASCII, at most SYNC_TEXT_MAX
 *   body   u32 length + bytes: at most STORE_DOC_MAX, no NUL, one JSON value
 * Payloads by type:
 *   HELLO       node name | nonce u64
 *   CHANGE      change (below)
 *   HEARTBEAT   node name | nonce u64 | revision i64 | digest 32 hex bytes |
 *               count u16 (<= SYNC_ORIGINS_MAX) | count x (node name, seq i64 >= 0)
 *   FETCH       node name | origin name | after_seq i64 >= 0 | limit u32 (1..SYNC_FETCH_MAX)
 *   FETCH_REPLY status u8 (SYNC_FETCH_*) | origin name | high i64 >= 0 |
 *               count u16 (<= SYNC_FETCH_MAX) | count x change
 *   STATE_REQ   node name | transfer u64 | offset u64 | length u32: transfer 0
 *               and length 0 ask for a new consistent copy of the sender's
 *               store; otherwise bytes [offset, offset + length) of transfer,
 *               length 1..SYNC_STATE_CHUNK
 *   STATE_REPLY status u8 (SYNC_STATE_*) | transfer u64 | total u64
 *               (<= SYNC_STATE_MAX) | checksum 32 hex bytes (sync_checksum of
 *               the whole copy) | offset u64 | data u32 length + bytes
 *               (<= SYNC_STATE_CHUNK, offset + length <= total)
 * change:
 *   op u8 | kind u8 | ns name | name oname (empty exactly for namespace ops) |
 *   version i64 >= 0 | origin name | origin_seq i64 >= 1 | hlc u64 (1..2^63-1) |
 *   time i64 | parent_hlc u64 (< 2^63) | parent_node oname (empty iff
 *   parent_hlc is 0) | created i64 | source text (empty: none) |
 *   has_body u8 (1 exactly for puts) [| body]
 * Decoding never reads past the buffer; trailing bytes are an error. */
#ifndef SWARMFS_SYNC_WIRE_H
#define SWARMFS_SYNC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define SYNC_WIRE_MAGIC 0x53574653u /* "SWFS" */
#define SYNC_WIRE_VERSION 1
#define SYNC_WIRE_HEADER 12
#define SYNC_ORIGINS_MAX 1024
#define SYNC_FETCH_MAX 512
#define SYNC_TEXT_MAX 255
/* A reply stops adding changes past this size (one body may exceed it). */
#define SYNC_REPLY_SOFT_MAX (4 * 1024 * 1024)
#define SYNC_WHY_MAX 128
#define SYNC_STATE_CHUNK (1024 * 1024)                 /* bytes per STATE_REPLY */
#define SYNC_STATE_MAX ((uint64_t)4 * 1024 * 1024 * 1024) /* a state copy is refused above */

enum sync_msg_type {
	SYNC_MSG_HELLO = 1,
	SYNC_MSG_CHANGE = 2,
	SYNC_MSG_HEARTBEAT = 3,
	SYNC_MSG_FETCH = 4,
	SYNC_MSG_FETCH_REPLY = 5,
	SYNC_MSG_STATE_REQ = 6,
	SYNC_MSG_STATE_REPLY = 7,
};

enum sync_state_status {
	SYNC_STATE_OK = 0,
	SYNC_STATE_BUSY = 1,    /* another transfer is under way: retry later */
	SYNC_STATE_UNKNOWN = 2, /* no such transfer (expired or replaced): start again */
	SYNC_STATE_ERROR = 3,   /* the sender could not copy its store, or it is too large */
};

enum sync_fetch_status {
	SYNC_FETCH_OK = 0,
	SYNC_FETCH_STALE = 1, /* the log was compacted: a state transfer is needed */
	SYNC_FETCH_ERROR = 2, /* the peer could not read its store */
};

/* A change with room for its strings; r's pointers point into this struct
 * (or at `body`/`source`), so a decoded sync_change must not be copied. */
struct sync_change {
	struct store_rchange r;
	char ns[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char origin[STORE_NODE_MAX + 1];
	char parent_node[STORE_NODE_MAX + 1];
	char *source; /* owned by a decoded message */
	char *body;   /* owned by a decoded message */
};

struct sync_origin {
	char node[STORE_NODE_MAX + 1];
	int64_t seq;
};

/*
 * One message.  For encoding, the caller fills the fields of its type; in
 * `changes` only `.r` is read.  A decoded message owns its arrays and
 * strings: release with sync_msg_release.
 */
struct sync_msg {
	enum sync_msg_type type;
	char node[STORE_NODE_MAX + 1]; /* HELLO, HEARTBEAT, FETCH: the sender */
	uint64_t nonce;                /* HELLO, HEARTBEAT: random per process run */
	int64_t revision;              /* HEARTBEAT: the sender's store revision */
	char digest[33];               /* HEARTBEAT: store_digest of the sender */
	size_t n_origins;              /* HEARTBEAT */
	struct sync_origin *origins;
	char origin[STORE_NODE_MAX + 1]; /* FETCH, FETCH_REPLY */
	int64_t after_seq;             /* FETCH */
	uint32_t limit;                /* FETCH */
	uint8_t status;                /* FETCH_REPLY */
	int64_t high;                  /* FETCH_REPLY: the server's origins[origin] */
	size_t n_changes;              /* CHANGE (1), FETCH_REPLY */
	struct sync_change *changes;
	uint64_t transfer;             /* STATE_*: the sender's id of one copy */
	uint64_t offset;               /* STATE_*: where the chunk starts */
	uint32_t length;               /* STATE_REQ: bytes wanted */
	uint64_t total;                /* STATE_REPLY: size of the whole copy */
	char checksum[33];             /* STATE_REPLY: sync_checksum of the whole copy */
	uint8_t *data;                 /* STATE_REPLY: owned when decoded, borrowed to encode */
	size_t data_len;
};

/*
 * Encodes m into a new buffer (*out, caller frees with free()) of *len
 * bytes.  -EINVAL (with why) if m holds something the decoder would refuse,
 * -ENOMEM.
 */
int sync_wire_encode(const struct sync_msg *m, uint8_t **out, size_t *len,
		     char why[SYNC_WHY_MAX]);

/*
 * Decodes len bytes into *m (zeroed first).  Returns 0, or -EPROTO (bad
 * framing: magic, version, flags, length, truncation, trailing bytes) or
 * -EINVAL (a field out of range), with a one-line reason in why; -ENOMEM.
 * On error *m holds nothing to release.
 */
int sync_wire_decode(const uint8_t *buf, size_t len, struct sync_msg *m,
		     char why[SYNC_WHY_MAX]);

/* Frees what a decoded message owns; safe on a zeroed message. */
void sync_msg_release(struct sync_msg *m);

const char *sync_msg_type_name(int type);

/* FNV-1a, 128 bits, over a state copy: catches a torn or mis-assembled
 * transfer (TLS already authenticates the sender). */
struct sync_checksum {
	unsigned __int128 h;
};
void sync_checksum_init(struct sync_checksum *c);
void sync_checksum_add(struct sync_checksum *c, const void *data, size_t len);
/* 32 lowercase hex digits and a NUL. */
void sync_checksum_hex(const struct sync_checksum *c, char hex[33]);

#endif
