#!/bin/sh
# check-man.sh - the man pages pass `mandoc -Tlint` (warnings and worse),
# and each program's --help and its page name the same long options, and
# every short option of --help is in the page, so that neither can drift
# from the other.  TAP; the programs come from $top_builddir.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
man=$top_srcdir/man
# TAP helpers and a temporary dir ($TMP, removed at exit) from lib.sh.
. "$top_srcdir/tests/integration/lib.sh"

if command -v mandoc >/dev/null 2>&1; then
	for page in swarmfs.8 swarmfs-sync.8 swarmfs-admin.8 swarmfs.5; do
		# STYLE messages (e.g. pages of other packages not installed)
		# depend on the machine; warnings and errors do not.
		out=$(mandoc -Tlint -W warning "$man/$page" 2>&1)
		if [ -z "$out" ]; then
			pass "mandoc -Tlint: $page"
		else
			fail "mandoc -Tlint: $page" "$out"
		fi
	done
else
	for page in swarmfs.8 swarmfs-sync.8 swarmfs-admin.8 swarmfs.5; do
		skip "mandoc -Tlint: $page" "mandoc not installed"
	done
fi

# help_long FILE: the long options a --help text names, one a line.
help_long() {
	grep -o -- '--[a-z][a-z0-9-]*' "$1" | sort -u
}
# help_short FILE: the short options at the start of a --help line.
help_short() {
	grep -Eo -- '^ +-[A-Za-z]([ ,]|$)' "$1" | grep -Eo -- '-[A-Za-z]' | sort -u
}
# page_long PAGE: the long options the page marks up with Fl.
page_long() {
	grep -o 'Fl \\-[a-z][a-z0-9\\-]*' "$1" | sed 's/^Fl //; s/\\//g; s/^/-/' | sort -u
}
# page_short PAGE: the short options the page marks up with Fl (letters
# grouped as in `Fl fsd` count one by one).
page_short() {
	grep -Eo 'Fl [A-Za-z]+( |$)' "$1" | sed 's/^Fl //; s/ $//' | grep -o . | sed 's/^/-/' | sort -u
}

# compare NAME HELPFILE PAGE: one test point per direction and per kind.
compare() {
	local name=$1 help=$2 page=$3 missing
	missing=$(comm -23 <(help_long "$help") <(page_long "$page"))
	if [ -z "$missing" ]; then
		pass "$name: every long option of --help is in ${page##*/}"
	else
		fail "$name: every long option of --help is in ${page##*/}" "missing: $(echo $missing)"
	fi
	missing=$(comm -13 <(help_long "$help") <(page_long "$page"))
	if [ -z "$missing" ]; then
		pass "$name: every long option of ${page##*/} is in --help"
	else
		fail "$name: every long option of ${page##*/} is in --help" "missing: $(echo $missing)"
	fi
	missing=$(comm -23 <(help_short "$help") <(page_short "$page"))
	if [ -z "$missing" ]; then
		pass "$name: every short option of --help is in ${page##*/}"
	else
		fail "$name: every short option of --help is in ${page##*/}" "missing: $(echo $missing)"
	fi
}

tmp=$TMP
for prog in fs/swarmfs sync/swarmfs-sync store/swarmfs-admin; do
	name=${prog##*/}
	if ! "$top_builddir/$prog" --help >"$tmp/$name.help" 2>&1; then
		fail "$name --help exits 0" "$(cat "$tmp/$name.help")"
		continue
	fi
	if [ "$(help_long "$tmp/$name.help" | wc -l)" -lt 2 ]; then
		fail "$name --help names its long options"
		continue
	fi
	compare "$name" "$tmp/$name.help" "$man/$name.8"
done

# The comparison must be able to fail: an option added to --help only, and
# one documented only, are both noticed.
cp "$tmp/swarmfs.help" "$tmp/grown.help"
echo "  --brand-new-option   not documented" >>"$tmp/grown.help"
if comm -23 <(help_long "$tmp/grown.help") <(page_long "$man/swarmfs.8") | grep -qx -- --brand-new-option; then
	pass "an option added to --help only is noticed"
else
	fail "an option added to --help only is noticed"
fi
grep -v -- '--snapshot-keep' "$tmp/swarmfs.help" >"$tmp/shrunk.help"
if comm -13 <(help_long "$tmp/shrunk.help") <(page_long "$man/swarmfs.8") | grep -qx -- --snapshot-keep; then
	pass "an option documented only in the page is noticed"
else
	fail "an option documented only in the page is noticed"
fi

done_testing
