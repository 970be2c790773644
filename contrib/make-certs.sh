#!/bin/sh
# make-certs.sh - a cluster CA and one certificate per node for swarmfs-sync's
# mutual TLS (--tls-ca, --tls-cert, --tls-key), made with openssl.
#
# usage: make-certs.sh [-d DIR] [-a ADDR]... [--days N] [--ca-name NAME] NODE...
#
#   DIR        where the files go (default: ./certs); created mode 0700
#   -a ADDR    an address peers dial this node at (an IP or a host name),
#              added to every node certificate made in this run; repeat it.
#              127.0.0.1 and localhost are always included.
#   NODE       a node name (a DNS label, as swarmfs-sync --node): it is the
#              certificate's CN and a DNS subjectAltName
#
# Files: DIR/ca.pem and DIR/ca.key (made once, reused by later runs, so nodes
# can be added), DIR/NODE.pem and DIR/NODE.key (keys mode 0600).
# Each node gets ca.pem, its own NODE.pem and NODE.key; ca.key stays with
# whoever adds nodes.
#
# Addresses are written both as IP and as DNS subjectAltNames: the mbedTLS
# 2.x under Debian's nng compares the dialed host with the CN and the DNS
# names only.
set -eu

dir=./certs
days=825
ca_name="swarmfs cluster CA"
addrs="127.0.0.1 localhost"
usage() {
	sed -n '4,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-d) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	-a) [ $# -ge 2 ] || usage; addrs="$addrs $2"; shift 2 ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	--ca-name) [ $# -ge 2 ] || usage; ca_name=$2; shift 2 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "make-certs.sh: unknown option '$1'" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }
for node in "$@"; do
	if ! printf '%s' "$node" | grep -Eq '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'; then
		echo "make-certs.sh: invalid node name '$node': must be a DNS label" >&2
		exit 2
	fi
done

umask 077
mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca.key" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$days" -subj "/CN=$ca_name" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; exit 1; }
	echo "made CA '$ca_name': $dir/ca.pem"
fi

for node in "$@"; do
	san="DNS:$node"
	for a in $addrs; do
		if printf '%s' "$a" | grep -Eq '^[0-9.]+$|:'; then
			san="$san,IP:$a,DNS:$a"
		else
			san="$san,DNS:$a"
		fi
	done
	cat >"$tmp/ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EOF
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/$node.key" -out "$tmp/$node.csr" -subj "/CN=$node" 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; exit 1; }
	openssl x509 -req -in "$tmp/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -out "$dir/$node.pem" -days "$days" -extfile "$tmp/ext" 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; exit 1; }
	chmod 0644 "$dir/$node.pem"
	echo "made '$node': $dir/$node.pem $dir/$node.key ($san)"
done
chmod 0644 "$dir/ca.pem"
rm -f "$dir/ca.srl"
