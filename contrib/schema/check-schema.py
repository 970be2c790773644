#!/usr/bin/env python3
"""check-schema.py - do contrib/schema/KIND.json and the store's validator
agree?  Each document of tests/unit/test-schema.c (its good() and bad()
calls) and of contrib/schema/cases.json is validated twice: by
python3-jsonschema against the generated schema, and by the store itself
(swarmfs-schema --check, store_doc_parse at default/web.json).  Any
difference is printed and the exit status is 1.

Two kinds of store errors are outside what a schema describes, and are
counted apart instead of compared:
  - syntax: the bytes are not strict JSON (invalid UTF-8, duplicate keys,
    \\u0000, trailing data); a schema sees parsed JSON only;
  - path: metadata.name / metadata.namespace differ from the file's path,
    which the schema only checks for being a DNS label.

usage: check-schema.py --schemas DIR --checker PROG --source TEST_SCHEMA_C
                       [--cases CASES_JSON] [--expect-disagreement]
"""
import argparse
import json
import re
import subprocess
import sys

import jsonschema

KINDS = {"D": "deployment", "S": "service", "P": "pod", "I": "ingress",
         "STORE_KIND_DEPLOYMENT": "deployment", "STORE_KIND_SERVICE": "service",
         "STORE_KIND_POD": "pod", "STORE_KIND_INGRESS": "ingress"}
SYNTAX = ("invalid JSON", "invalid UTF-8", "unsupported \\u0000")


def c_literal(body):
    """The bytes of a C string literal's body (between the quotes)."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "\\": 92, '"': 34, "'": 39, "0": 0, "/": 47}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif e in simple:
            out.append(simple[e])
            i += 2
        else:
            raise ValueError("unsupported escape \\%s" % e)
    return bytes(out)


STRING = r'"((?:[^"\\\n]|\\.)*)"'


def extract(source):
    """(kind, bytes, where) for each good()/bad() call of test-schema.c."""
    text = open(source, encoding="utf-8").read()
    macros = {}
    for m in re.finditer(r'^#define (\w+) ((?:%s\s*)+)$' % STRING, text, re.M):
        macros[m.group(1)] = b"".join(c_literal(s) for s in re.findall(STRING, m.group(2)))
    docs = []
    call = re.compile(r'\b(good|bad)\(\s*([DSPI]|STORE_KIND_[A-Z]+)\s*,\s*')
    token = re.compile(r'\s*(?:%s|(\w+))' % STRING)
    for m in call.finditer(text):
        pos, parts = m.end(), []
        while True:
            t = token.match(text, pos)
            if not t or (t.group(2) and t.group(2) not in macros):
                break
            parts.append(c_literal(t.group(1)) if t.group(2) is None else macros[t.group(2)])
            pos = t.end()
        if not parts:
            continue
        line = text.count("\n", 0, m.start()) + 1
        doc = b"".join(parts).replace(b"'", b'"')  # q(): ' stands for "
        docs.append((KINDS[m.group(2)], doc, "%s:%d" % (source.rsplit("/", 1)[-1], line)))
    return docs


def python_parse(doc):
    """The parsed document, or None when it is not strict JSON."""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(items)

    def constant(name):
        raise ValueError(name)

    try:
        return json.loads(doc.decode("utf-8"), object_pairs_hook=pairs,
                          parse_constant=constant)
    except (ValueError, UnicodeDecodeError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--checker", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--cases")
    ap.add_argument("--expect-disagreement", action="store_true")
    args = ap.parse_args()

    validators = {}
    for kind in KINDS.values():
        schema = json.load(open("%s/%s.json" % (args.schemas, kind), encoding="utf-8"))
        jsonschema.Draft7Validator.check_schema(schema)
        validators[kind] = jsonschema.Draft7Validator(schema)

    docs = extract(args.source)
    expected = {}
    if args.cases:
        for i, case in enumerate(json.load(open(args.cases, encoding="utf-8"))):
            raw = json.dumps(case["doc"]).encode("utf-8")
            where = "cases.json[%d] %s" % (i, case.get("note", ""))
            expected[where] = case["valid"]
            docs.append((case["kind"], raw, where))

    lines = "".join("%s %s\n" % (k, d.hex()) for k, d, _ in docs)
    res = subprocess.run([args.checker, "--check"], input=lines.encode(),
                         stdout=subprocess.PIPE, check=True)
    verdicts = res.stdout.decode("utf-8", "replace").splitlines()
    if len(verdicts) != len(docs):
        print("the checker answered %d lines for %d documents" % (len(verdicts), len(docs)))
        return 1

    counts = {"valid": 0, "invalid": 0, "syntax": 0, "path": 0}
    problems = []
    for (kind, doc, where), verdict in zip(docs, verdicts):
        store_ok = verdict == "ok"
        msg = verdict[len("error: "):] if not store_ok else ""
        parsed = python_parse(doc)
        if where in expected and expected[where] != store_ok:
            problems.append("%s: the store says %s, the case says %s"
                            % (where, verdict, "valid" if expected[where] else "invalid"))
        if parsed is None:
            if store_ok:
                problems.append("%s: Python cannot parse what the store accepts" % where)
            counts["syntax"] += 1
            continue
        if not store_ok and (msg.startswith(SYNTAX) or msg.endswith(": duplicate key")):
            counts["syntax"] += 1
            continue
        if not store_ok and re.match(r'metadata\.(name|namespace): must be "[^"]*" here', msg):
            counts["path"] += 1
            continue
        errors = sorted(validators[kind].iter_errors(parsed), key=lambda e: list(e.path))
        schema_ok = not errors
        counts["valid" if store_ok else "invalid"] += 1
        if schema_ok != store_ok:
            problems.append("%s (%s): store: %s; schema: %s; document: %s" % (
                where, kind, verdict,
                "valid" if schema_ok else errors[0].message[:120],
                doc.decode("utf-8", "replace")[:160]))
    print("%d documents: %d valid and %d invalid compared, %d syntax-level and %d "
          "path-dependent store errors set apart" % (
              len(docs), counts["valid"], counts["invalid"], counts["syntax"], counts["path"]))
    for p in problems:
        print("disagreement: " + p)
    if args.expect_disagreement:
        return 0 if problems else 1
    if counts["valid"] < 10 or counts["invalid"] < 50:
        print("too few documents compared: the extraction from %s broke" % args.source)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
