/* jsonscan.c - an incremental, allocation-free RFC 8259 recogniser: fed
 * chunks split anywhere (inside UTF-8 sequences, escapes, numbers,
 * literals), it knows after every byte whether the text so far is a prefix
 * of one JSON text, a complete one, or can never become one.
 *
 * Every byte is looked at once and the state is a fixed-size struct, so a
 * whole document costs O(n) however it is chunked.  Any JSON value is
 * accepted at top level (the schema, not the scanner, demands an object);
 * a top-level number such as "12" reports COMPLETE although more digits
 * could still extend it, which is right for our use: the mount only asks
 * whether the bytes so far form a value. */
#include "store.h"

#include <stdio.h>
#include <string.h>

enum lex {
	L_NONE,     /* between tokens */
	L_STR,      /* inside a string */
	L_ESC,      /* after a backslash */
	L_HEX,      /* inside the four hex digits of \u */
	L_LOW_BS,   /* after a high surrogate escape: need '\' */
	L_LOW_U,    /* ... then 'u' */
	L_LOW_HEX,  /* ... then four hex digits of a low surrogate */
	L_TRUE,
	L_FALSE,
	L_NULL,
	N_MINUS,    /* number: after '-' */
	N_ZERO,     /* after a leading 0 */
	N_INT,      /* in integer digits */
	N_DOT,      /* after '.' */
	N_FRAC,     /* in fraction digits */
	N_E,        /* after 'e' or 'E' */
	N_ESIGN,    /* after the exponent's sign */
	N_EXP,      /* in exponent digits */
};

enum after {
	A_VALUE,          /* a value (top level, after ':' or ',' in an array) */
	A_VALUE_OR_CLOSE, /* just after '[' */
	A_KEY,            /* after ',' in an object */
	A_KEY_OR_CLOSE,   /* just after '{' */
	A_COLON,
	A_COMMA_OR_CLOSE,
	A_DONE,           /* the top-level value is complete */
};

static const char *const literals[] = {
	[L_TRUE] = "true", [L_FALSE] = "false", [L_NULL] = "null",
};

void store_jsonscan_init(struct store_jsonscan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->state = STORE_SCAN_PREFIX;
	scan->lex = L_NONE;
	scan->after = A_VALUE;
}

static void fail(struct store_jsonscan *scan, size_t offset, const char *reason)
{
	scan->state = STORE_SCAN_INVALID;
	scan->error_offset = offset;
	snprintf(scan->error, sizeof(scan->error), "%s", reason);
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A value (or a key) just ended: decide what may follow. */
static void token_end(struct store_jsonscan *scan)
{
	scan->lex = L_NONE;
	if (scan->after == A_KEY || scan->after == A_KEY_OR_CLOSE)
		scan->after = A_COLON;
	else
		scan->after = scan->depth == 0 ? A_DONE : A_COMMA_OR_CLOSE;
}

static bool push(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	if (scan->depth >= sizeof(scan->stack)) {
		fail(scan, off, "nesting too deep");
		return false;
	}
	scan->stack[scan->depth++] = c;
	scan->after = c == '{' ? A_KEY_OR_CLOSE : A_VALUE_OR_CLOSE;
	return true;
}

static void pop(struct store_jsonscan *scan)
{
	scan->depth--;
	scan->after = scan->depth == 0 ? A_DONE : A_COMMA_OR_CLOSE;
}

/* Starts a value at c; false (and INVALID) if c cannot start one. */
static bool value_start(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	switch (c) {
	case '{':
	case '[':
		return push(scan, c, off);
	case '"':
		scan->lex = L_STR;
		return true;
	case 't':
		scan->lex = L_TRUE;
		scan->lex_pos = 1;
		return true;
	case 'f':
		scan->lex = L_FALSE;
		scan->lex_pos = 1;
		return true;
	case 'n':
		scan->lex = L_NULL;
		scan->lex_pos = 1;
		return true;
	case '-':
		scan->lex = N_MINUS;
		return true;
	case '0':
		scan->lex = N_ZERO;
		return true;
	default:
		if (c >= '1' && c <= '9') {
			scan->lex = N_INT;
			return true;
		}
		fail(scan, off, "expected a value");
		return false;
	}
}

/* A byte between tokens. */
static void structural(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	unsigned char top;

	if (is_space(c))
		return;
	switch (scan->after) {
	case A_DONE:
		fail(scan, off, "unexpected data after the value");
		return;
	case A_COLON:
		if (c == ':')
			scan->after = A_VALUE;
		else
			fail(scan, off, "expected ':'");
		return;
	case A_COMMA_OR_CLOSE:
		top = scan->stack[scan->depth - 1];
		if (c == ',')
			scan->after = top == '{' ? A_KEY : A_VALUE;
		else if ((c == '}' && top == '{') || (c == ']' && top == '['))
			pop(scan);
		else
			fail(scan, off, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
		return;
	case A_KEY_OR_CLOSE:
		if (c == '}') {
			pop(scan);
			return;
		}
		/* fall through */
	case A_KEY:
		if (c == '"')
			scan->lex = L_STR;
		else
			fail(scan, off, scan->after == A_KEY ? "expected a string" : "expected a string or '}'");
		return;
	case A_VALUE_OR_CLOSE:
		if (c == ']') {
			pop(scan);
			return;
		}
		/* fall through */
	default:
		value_start(scan, c, off);
		return;
	}
}

/* A byte inside a string, outside escapes. */
static void string_byte(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	if (scan->utf8_need > 0) {
		if (c < scan->utf8_lo || c > scan->utf8_hi) {
			fail(scan, off, "invalid UTF-8");
			return;
		}
		scan->utf8_need--;
		scan->utf8_lo = 0x80;
		scan->utf8_hi = 0xbf;
		return;
	}
	if (c == '"') {
		token_end(scan);
		return;
	}
	if (c == '\\') {
		scan->lex = L_ESC;
		return;
	}
	if (c < 0x20) {
		fail(scan, off, "control character in string");
		return;
	}
	if (c < 0x80)
		return;
	/* The second byte's range excludes overlong forms (E0, F0),
	 * UTF-16 surrogates (ED) and code points above U+10FFFF (F4). */
	scan->utf8_lo = 0x80;
	scan->utf8_hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		scan->utf8_need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		scan->utf8_need = 2;
		if (c == 0xe0)
			scan->utf8_lo = 0xa0;
		else if (c == 0xed)
			scan->utf8_hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		scan->utf8_need = 3;
		if (c == 0xf0)
			scan->utf8_lo = 0x90;
		else if (c == 0xf4)
			scan->utf8_hi = 0x8f;
	} else {
		fail(scan, off, "invalid UTF-8");
	}
}

static void hex_digit(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	int v = hex_value(c);

	if (v < 0) {
		fail(scan, off, "invalid \\u escape");
		return;
	}
	scan->cp = scan->cp << 4 | (uint32_t)v;
	if (++scan->lex_pos < 4)
		return;
	if (scan->lex == L_LOW_HEX) {
		if (scan->cp >= 0xdc00 && scan->cp <= 0xdfff)
			scan->lex = L_STR;
		else
			fail(scan, off, "unpaired surrogate escape");
	} else if (scan->cp >= 0xd800 && scan->cp <= 0xdbff) {
		scan->lex = L_LOW_BS;
	} else if (scan->cp >= 0xdc00 && scan->cp <= 0xdfff) {
		fail(scan, off, "unpaired surrogate escape");
	} else {
		scan->lex = L_STR;
	}
}

/* Handles one byte; returns false when the byte ended a number without
 * being part of it, so the caller feeds it again between tokens. */
static bool step(struct store_jsonscan *scan, unsigned char c, size_t off)
{
	bool digit = c >= '0' && c <= '9';

	switch (scan->lex) {
	case L_NONE:
		structural(scan, c, off);
		return true;
	case L_STR:
		string_byte(scan, c, off);
		return true;
	case L_ESC:
		if (c == 'u') {
			scan->lex = L_HEX;
			scan->lex_pos = 0;
			scan->cp = 0;
		} else if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
			scan->lex = L_STR;
		} else {
			fail(scan, off, "invalid escape");
		}
		return true;
	case L_HEX:
	case L_LOW_HEX:
		hex_digit(scan, c, off);
		return true;
	case L_LOW_BS:
		if (c == '\\')
			scan->lex = L_LOW_U;
		else
			fail(scan, off, "unpaired surrogate escape");
		return true;
	case L_LOW_U:
		if (c == 'u') {
			scan->lex = L_LOW_HEX;
			scan->lex_pos = 0;
			scan->cp = 0;
		} else {
			fail(scan, off, "unpaired surrogate escape");
		}
		return true;
	case L_TRUE:
	case L_FALSE:
	case L_NULL:
		if (c != (unsigned char)literals[scan->lex][scan->lex_pos]) {
			fail(scan, off, "invalid literal");
			return true;
		}
		if (literals[scan->lex][++scan->lex_pos] == '\0')
			token_end(scan);
		return true;
	case N_MINUS:
		if (c == '0')
			scan->lex = N_ZERO;
		else if (digit)
			scan->lex = N_INT;
		else
			fail(scan, off, "expected a digit");
		return true;
	case N_ZERO:
	case N_INT:
		if (digit && scan->lex == N_ZERO) {
			fail(scan, off, "leading zero in number");
			return true;
		}
		if (digit)
			return true;
		if (c == '.') {
			scan->lex = N_DOT;
			return true;
		}
		if (c == 'e' || c == 'E') {
			scan->lex = N_E;
			return true;
		}
		token_end(scan);
		return false;
	case N_DOT:
		if (digit)
			scan->lex = N_FRAC;
		else
			fail(scan, off, "expected a digit");
		return true;
	case N_FRAC:
		if (digit)
			return true;
		if (c == 'e' || c == 'E') {
			scan->lex = N_E;
			return true;
		}
		token_end(scan);
		return false;
	case N_E:
		if (c == '+' || c == '-')
			scan->lex = N_ESIGN;
		else if (digit)
			scan->lex = N_EXP;
		else
			fail(scan, off, "expected a digit");
		return true;
	case N_ESIGN:
		if (digit)
			scan->lex = N_EXP;
		else
			fail(scan, off, "expected a digit");
		return true;
	case N_EXP:
		if (digit)
			return true;
		token_end(scan);
		return false;
	default:
		fail(scan, off, "internal scanner state");
		return true;
	}
}

enum store_scan_state store_jsonscan_feed(struct store_jsonscan *scan,
					  const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;

	if (scan->state == STORE_SCAN_INVALID)
		return scan->state;
	while (i < len) {
		size_t off = scan->offset + i;

		/* Plain string bytes are the bulk of a document: skip them
		 * without the dispatch. */
		if (scan->lex == L_STR && scan->utf8_need == 0 && p[i] >= 0x20 &&
		    p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
			i++;
			continue;
		}
		if (!step(scan, p[i], off))
			continue; /* the byte ended a number: look at it again */
		if (scan->state == STORE_SCAN_INVALID) {
			scan->offset = off + 1;
			return scan->state;
		}
		i++;
	}
	scan->offset += len;
	if (scan->lex == L_NONE && scan->after == A_DONE)
		scan->state = STORE_SCAN_COMPLETE;
	else if (scan->depth == 0 && (scan->lex == N_ZERO || scan->lex == N_INT ||
				      scan->lex == N_FRAC || scan->lex == N_EXP))
		scan->state = STORE_SCAN_COMPLETE;
	else
		scan->state = STORE_SCAN_PREFIX;
	return scan->state;
}
