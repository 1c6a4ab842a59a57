#!/usr/bin/env bash
# Certificates and tokens of a Raftbus cluster, made with the openssl CLI.
#
#   scripts/certs.sh DIR ca                          DIR/ca.pem + ca.key (kept if present)
#   scripts/certs.sh DIR node ROLE ID [NAME|IP ...]  DIR/ROLE-ID.pem + .key, signed by the CA
#   scripts/certs.sh DIR token NAME                  DIR/NAME.token + NAME.token.sha256
#
# A node certificate names the node as ROLE-ID.node.raftbus (ROLE: broker or manager): nodes
# accept an internal call only from a certificate valid for the name its sender claims. It is
# also valid for localhost, 127.0.0.1 and every extra NAME or IP given (the addresses other
# nodes and clients reach it at, e.g. a container's host name). Existing files are kept, so
# running it again is harmless; delete a file to make it anew (rotation: see README).
set -euo pipefail

die() { echo "certs.sh: error: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || { sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
command -v openssl >/dev/null || die "openssl is not installed (Debian: apt-get install openssl)"
DIR="$1"; WHAT="$2"; shift 2
mkdir -p "$DIR"
chmod 700 "$DIR"
DAYS="${CERT_DAYS:-825}"

ca() {
    [[ -s "$DIR/ca.pem" && -s "$DIR/ca.key" ]] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
        -subj "/CN=Raftbus cluster CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
    chmod 600 "$DIR/ca.key"
}

node() {
    local role="$1" id="$2"; shift 2
    [[ "$role" == broker || "$role" == manager ]] || die "ROLE must be broker or manager, not $role"
    [[ "$id" =~ ^[0-9]+$ ]] || die "ID must be a number, not $id"
    local name="$role-$id" san="DNS:$role-$id.node.raftbus,DNS:localhost,IP:127.0.0.1" extra
    [[ -s "$DIR/$name.pem" && -s "$DIR/$name.key" ]] && return 0
    [[ -s "$DIR/ca.pem" ]] || die "no CA in $DIR: run 'scripts/certs.sh $DIR ca' first"
    for extra in "$@"; do
        if [[ "$extra" =~ ^[0-9.]+$ || "$extra" == *:* ]]; then san+=",IP:$extra"; else san+=",DNS:$extra"; fi
    done
    local csr ext
    csr="$(mktemp)"; ext="$(mktemp)"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$role-$id.node.raftbus" -keyout "$DIR/$name.key" -out "$csr" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "$san" >"$ext"
    openssl x509 -req -in "$csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -days "$DAYS" -extfile "$ext" -out "$DIR/$name.pem" 2>/dev/null
    rm -f "$csr" "$ext"
    chmod 600 "$DIR/$name.key"
}

token() {
    local name="$1"
    [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad token name $name"
    if [[ ! -s "$DIR/$name.token" ]]; then
        (umask 077; printf 'rb_%s\n' "$(openssl rand -hex 24)" >"$DIR/$name.token")
    fi
    tr -d '\n' <"$DIR/$name.token" | openssl dgst -sha256 -r | cut -d' ' -f1 >"$DIR/$name.token.sha256"
}

case "$WHAT" in
    ca) ca ;;
    node) [[ $# -ge 2 ]] || die "usage: certs.sh DIR node ROLE ID [NAME|IP ...]"; node "$@" ;;
    token) [[ $# -eq 1 ]] || die "usage: certs.sh DIR token NAME"; token "$1" ;;
    *) die "unknown command $WHAT (ca, node, token)" ;;
esac
