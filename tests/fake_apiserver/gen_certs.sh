#!/usr/bin/env bash
# Writes a test PKI into DIR with the openssl CLI: ca.crt/ca.key, server.crt/key (SAN
# 127.0.0.1, localhost), client.crt/key (CN=bpfproxy, signed by the CA) and other-ca.crt
# with other-client.crt/key (signed by an unrelated CA: must be rejected).
set -euo pipefail
dir=${1:?usage: gen_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1 || { echo "gen_certs: failed: $*" >&2; exit 1; }; }

ca() {  # name
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 2 \
    -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
}
leaf() {  # name ca cn extfile-line
  q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3"
  printf '%s\n' "$4" > "$1.ext"
  q openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" \
    -days 2 -extfile "$1.ext"
  rm -f "$1.csr" "$1.ext"
}
ca ca
ca other-ca
leaf server ca fake-apiserver "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
leaf client ca bpfproxy "extendedKeyUsage=clientAuth"
leaf other-client other-ca intruder "extendedKeyUsage=clientAuth"
chmod 600 ./*.key
