#!/usr/bin/env bash
# scripts/setup.sh takes bookworm-backports from the mirror the apt sources already use
# (scripts/lib/debian_mirror.sh): one-line .list entries with options, deb822 .sources
# stanzas (disabled ones skipped), never the security or updates suites, nothing when no
# source names bookworm.
set -uo pipefail
root="$1"
source "$root/scripts/lib/debian_mirror.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
expect() {  # DESCRIPTION APT_DIR EXPECTED
  local got
  got="$(debian_mirror "$2" | head -1)"
  if [ "$got" = "$3" ]; then echo "PASS  $1"; else echo "FAIL  $1: got '$got', expected '$3'"; failed=1; fi
}

mkdir -p "$work/deb822/sources.list.d"
cat > "$work/deb822/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://mirror.internal.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a snapshot once, now the local mirror
URIs: http://mirror.internal.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
expect "deb822: the stanza whose Suites holds bookworm" "$work/deb822" http://mirror.internal.example/debian

mkdir -p "$work/disabled/sources.list.d"
cat > "$work/disabled/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://old.example/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: https://new.example/debian/
Suites: bookworm
SRC
expect "deb822: a disabled stanza is skipped" "$work/disabled" https://new.example/debian/

mkdir -p "$work/list/sources.list.d"
cat > "$work/list/sources.list" <<'SRC'
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://ftp.example.org/debian bookworm main contrib
deb http://security.example.org/debian-security bookworm-security main
SRC
expect "one-line entry with options" "$work/list" http://ftp.example.org/debian

mkdir -p "$work/none/sources.list.d"
echo "deb http://archive.ubuntu.com/ubuntu jammy main" > "$work/none/sources.list"
expect "no bookworm source: nothing" "$work/none" ""

[ $failed = 0 ] && echo "ok: the mirror is found in each layout"
exit $failed
