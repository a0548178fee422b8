# shellcheck shell=bash
# The start of every end-to-end script: source "$(dirname "$0")/preamble.sh". Sets `here`
# (tests/e2e) and `top` (the repository), loads the simulated cluster and the named checks
# (which report SKIP without root), and removes everything the test made at exit, also on
# failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
source "$top/scripts/lib/sim_cluster.sh"
source "$here/check.sh"
trap sim_cleanup EXIT
