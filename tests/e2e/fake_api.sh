# shellcheck shell=bash
# The independent fake Kubernetes API server (tests/fake_apiserver) for an end-to-end test,
# on loopback of the host namespace, where the agent runs. Sourced after preamble.sh; the
# server is one of the test's processes, so sim_cleanup stops it.
#   fake_api_start AUTH...  TLS with certificates in $SIM_TMP/pki, the reference objects
#                           loaded; AUTH: --token TOKEN, or --client-ca "$pki/ca.crt" for
#                           client certificates. Writes $SIM_TMP/kubeconfig, whose user is
#                           the token or pki/client.crt. Sets fake_api_port.
#   control METHOD PATH [BODY]    a call to the control API (BODY: JSON, or @FILE); quiet
#   fake_call METHOD PATH [BODY]  the same, its answer on stdout
#   fake_state KEY                a field of GET /state
#   api_refused                   the API port refuses connections (a /down took effect)

pki="$SIM_TMP/pki"
kubeconfig="$SIM_TMP/kubeconfig"

fake_api_start() {
  local ready="$SIM_TMP/fake.json" user token=""
  require "$top/tests/fake_apiserver/gen_certs.sh" "$pki"
  python3 "$top/tests/fake_apiserver/fake_apiserver.py" --ready-file "$ready" \
    --tls-cert "$pki/server.crt" --tls-key "$pki/server.key" "$@" \
    --bookmark-interval 2 --load "$here/kube/reference_objects.json" >"$SIM_TMP/fake.log" 2>&1 &
  SIM_PIDS+=("$!")
  require sim_wait_for "the fake API server" 20 test -s "$ready"
  fake_api_port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['apiPort'])" "$ready")
  fake_control="http://127.0.0.1:$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['controlPort'])" "$ready")"
  [ "${1:-}" = --token ] && token=$2
  if [ -n "$token" ]; then user="{token: $token}"
  else user="{client-certificate: $pki/client.crt, client-key: $pki/client.key}"; fi
  cat > "$kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster: {server: "https://127.0.0.1:$fake_api_port", certificate-authority: $pki/ca.crt}
users:
- name: bpfproxy
  user: $user
contexts:
- name: sim
  context: {cluster: sim, user: bpfproxy}
current-context: sim
YAML
}

fake_call() { curl -sf -X "$1" "$fake_control$2" ${3:+--data-binary "$3"}; }
control() { fake_call "$@" >/dev/null; }
fake_state() { fake_call GET /state | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
api_refused() { ! curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$fake_api_port/version"; }
