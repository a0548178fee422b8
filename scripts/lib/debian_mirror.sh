# shellcheck shell=bash
# debian_mirror APT_DIR: the URI of each Debian mirror that APT_DIR's sources (sources.list,
# sources.list.d/*.list, deb822 sources.list.d/*.sources) use for bookworm, in that order.
# scripts/setup.sh adds bookworm-backports from the first one.
debian_mirror() {
  local apt=$1 file
  for file in "$apt/sources.list" "$apt"/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    # deb [options] URI bookworm main ...
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { if ($(i + 1) == "bookworm") { print $i; exit } } }' "$file"
  done
  for file in "$apt"/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # Stanzas separated by blank lines; the one whose Suites holds bookworm.
    awk 'BEGIN { RS = ""; FS = "\n" }
         { uri = ""; suite = 0; enabled = 1
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/) { split($i, f, /[ \t]+/); uri = f[2] }
             if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
             if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
           }
           if (uri != "" && suite && enabled) { print uri; exit } }' "$file"
  done
}
