#include "loader/kernel_features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

namespace bpfproxy::loader {

bool KernelFeatures::has(const std::string& name) const {
  for (const auto& feature : features)
    if (feature.name == name) return feature.present;
  return false;
}

std::vector<std::string> KernelFeatures::missingRequired() const {
  std::vector<std::string> missing;
  for (const auto& feature : features)
    if (feature.required && !feature.present)
      missing.push_back(feature.name + ": " + feature.detail);
  return missing;
}

namespace {

// Loads `r0 = 1; *(u64 *)(r10 - 8) = 0; r0 = atomic_fetch_add((u64 *)(r10 - 8), r0); exit`:
// kernels before 5.12 reject the fetching form (BPF_FETCH) of the atomic add.
bool atomicFetchLoads() {
  const bpf_insn program[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
      {BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0},
      {BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_0, -8, BPF_ADD | BPF_FETCH},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, nullptr, "GPL", program,
                         sizeof(program) / sizeof(program[0]), nullptr);
  if (fd < 0) return false;
  close(fd);
  return true;
}

}  // namespace

KernelFeatures probeKernelFeatures() {
  auto progType = [](bpf_prog_type type) { return libbpf_probe_bpf_prog_type(type, nullptr) == 1; };
  auto helper = [](bpf_prog_type type, bpf_func_id id) {
    return libbpf_probe_bpf_helper(type, id, nullptr) == 1;
  };
  auto mapType = [](bpf_map_type type) { return libbpf_probe_bpf_map_type(type, nullptr) == 1; };

  KernelFeatures result;
  auto add = [&](std::string name, bool present, bool required, std::string detail) {
    result.features.push_back({std::move(name), present, required, std::move(detail)});
  };
  add("btf", access("/sys/kernel/btf/vmlinux", R_OK) == 0, false,
      "kernel BTF (/sys/kernel/btf/vmlinux); CONFIG_DEBUG_INFO_BTF=y");
  add("cgroup_sock_addr", progType(BPF_PROG_TYPE_CGROUP_SOCK_ADDR), true,
      "socket hooks connect/sendmsg/recvmsg; CONFIG_CGROUP_BPF=y, kernel 4.17+");
  add("getpeername_hook", helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_socket_cookie), true,
      "socket cookies in sock_addr hooks (kernel 5.8+ for getpeername)");
  add("set_retval", helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval), true,
      "bpf_set_retval, so refused connects fail with ECONNREFUSED (kernel 5.18+)");
  add("lru_hash", mapType(BPF_MAP_TYPE_LRU_HASH), true, "LRU hash maps (kernel 4.10+)");
#ifdef BPX_NO_ATOMIC_FETCH
  add("atomic_fetch", atomicFetchLoads(), false,
      "fetching atomic add (kernel 5.12+); this build does without: round-robin rotation may "
      "repeat a position when CPUs connect at once");
#else
  add("atomic_fetch", atomicFetchLoads(), true,
      "fetching atomic add, round-robin's exact rotation (kernel 5.12+; for 5.8-5.11 build with "
      "cmake -DBPFPROXY_BPF_ATOMIC_FETCH=OFF)");
#endif
  add("sched_cls", progType(BPF_PROG_TYPE_SCHED_CLS), false, "TC programs for NodePort");
  add("lpm_trie", mapType(BPF_MAP_TYPE_LPM_TRIE), false, "source ranges (kernel 4.11+)");
  return result;
}

}  // namespace bpfproxy::loader
