#!/usr/bin/env bash
# scripts/image.sh: the archive is a docker-archive whose tag is the chart's default image,
# whose config names its layer by digest, and whose root filesystem runs `bpfproxy version`
# (chroot: only what the image holds) and the iptables/nft tools `bpfproxy takeover` uses.
# Usage: image_test.sh REPO_ROOT BUILD_DIR. Exit 0 pass, 1 fail, 77 not root or no build.
set -uo pipefail
root="$1" build="$2"
[ "$(id -u)" = 0 ] || { echo "skip: chroot needs root"; exit 77; }
[ -x "$build/bpfproxy" ] || { echo "skip: no $build/bpfproxy"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail=0
BUILD_DIR="$build" "$root/scripts/image.sh" "$work/image.tar" >/dev/null || { echo "FAIL image.sh exited $?"; exit 1; }
mkdir "$work/archive" "$work/rootfs"
tar -xf "$work/image.tar" -C "$work/archive"
python3 - "$work/archive" "$root/deploy/bpfproxy.yaml" <<'PY' || fail=1
import hashlib, json, sys, yaml
archive, rendered = sys.argv[1:]
manifest = json.load(open(f"{archive}/manifest.json"))
assert len(manifest) == 1 and len(manifest[0]["Layers"]) == 1, manifest
images = {c["image"] for d in yaml.safe_load_all(open(rendered)) if d and d["kind"] == "DaemonSet"
          for c in d["spec"]["template"]["spec"]["containers"]}
if manifest[0]["RepoTags"] != sorted(images):
    sys.exit(f"FAIL tag {manifest[0]['RepoTags']}, the chart's default image is {sorted(images)}")
config = json.load(open(f"{archive}/{manifest[0]['Config']}"))
layer = open(f"{archive}/{manifest[0]['Layers'][0]}", "rb").read()
if config["rootfs"]["diff_ids"] != ["sha256:" + hashlib.sha256(layer).hexdigest()]:
    sys.exit("FAIL the config's diff_id is not the layer's digest")
if config["config"]["Entrypoint"] != ["/usr/bin/bpfproxy"]:
    sys.exit(f"FAIL entrypoint {config['config']['Entrypoint']}")
PY
tar -xf "$work/archive/"*/layer.tar -C "$work/rootfs"
# No host path leaks in: chroot sees only the image's files, and an empty environment.
version="$(env -i PATH=/usr/sbin:/usr/bin chroot "$work/rootfs" bpfproxy version 2>&1)" ||
  { echo "FAIL bpfproxy version in the image: $version"; fail=1; }
expected="$("$build/bpfproxy" version 2>&1 | head -1)"
[ "$(head -1 <<<"$version")" = "$expected" ] || { echo "FAIL image says '$version', the build '$expected'"; fail=1; }
for tool in iptables-legacy-save iptables-nft-save nft; do
  if command -v "$tool" >/dev/null || command -v "${tool%-save}" >/dev/null; then
    env -i PATH=/usr/sbin:/usr/bin chroot "$work/rootfs" "$tool" --version >/dev/null 2>&1 ||
      { echo "FAIL $tool does not run in the image"; fail=1; }
  fi
done
# Where podman is installed, load it the way a CRI-O node would (private storage).
if command -v podman >/dev/null; then
  tag="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["RepoTags"][0])' "$work/archive/manifest.json")"
  podman --root "$work/storage" --runroot "$work/run" load -i "$work/image.tar" >/dev/null &&
    podman --root "$work/storage" --runroot "$work/run" image exists "$tag" ||
    { echo "FAIL podman load does not give $tag"; fail=1; }
else
  echo "note: podman is not installed: the archive is checked by its manifest and digests only"
fi
[ $fail = 0 ] && echo "ok: image $(basename "$(ls "$work/archive"/*.json | grep -v manifest)") runs: $version"
exit $fail
