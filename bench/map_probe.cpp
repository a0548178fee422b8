// bpx_map_probe: reads bpfproxy's pinned maps through the bpf syscall, for the benchmark.
//
//   bpx_map_probe count  --pin-dir P
//       {"frontends":F,"backends":B}: what the maps hold
//   bpx_map_probe change --pin-dir P --frontend VIP:PORT/PROTO --backend ADDR:PORT
//                        --install FILE --to PATH [--timeout-ms T]
//       renames FILE onto PATH (the event: a manifest changes), then polls the frontend's
//       active backend bank until it holds ADDR:PORT; prints {"ms":...} from the rename.
//   bpx_map_probe wait   --pin-dir P --frontend VIP:PORT/PROTO --backend ADDR:PORT [--timeout-ms T]
//       polls the same way for a change made by someone else (the API benchmark); prints
//       {"monotonic":S}: CLOCK_MONOTONIC seconds when the map first held it.
#include <arpa/inet.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bpf/maps_abi.h"
#include "maps/datapath_maps.h"
#include "maps/snapshot_reader.h"
#include "maps/ip_address.h"

namespace {

using namespace bpfproxy;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bpx_map_probe: %s\n", message.c_str());
  std::exit(2);
}

// "10.32.0.10:80" -> address and network-order port.
void parseEndpoint(const std::string& text, uint8_t (&addr)[16], __be16& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) die("expected ADDRESS:PORT, got " + text);
  auto address = IpAddress::parse(text.substr(0, colon));
  if (!address) die("bad address in " + text);
  auto bytes = address->bytes();
  std::copy(bytes.begin(), bytes.end(), addr);
  port = htons(static_cast<uint16_t>(std::stoi(text.substr(colon + 1))));
}

// True when the frontend's active bank lists the backend.
bool holdsBackend(const maps::DatapathMaps& maps, const bpx_svc_key& frontend, const bpx_backend& wanted) {
  bpx_svc_value service{};
  if (maps.services.lookup(frontend, service) != 0) return false;
  for (uint32_t i = 0; i < service.backend_count; ++i) {
    bpx_slot_key key{};
    key.svc_id = service.svc_id;
    key.index = static_cast<uint16_t>(i);
    key.bank = static_cast<uint8_t>(service.generation & 1);
    bpx_slot_value slot{};
    bpx_backend backend{};
    if (maps.slots.lookup(key, slot) != 0 || maps.backends.lookup(slot.backend_id, backend) != 0) continue;
    if (std::equal(std::begin(backend.addr), std::end(backend.addr), std::begin(wanted.addr)) &&
        backend.port == wanted.port)
      return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: bpx_map_probe count|change --pin-dir P ...");
  std::string mode = argv[1], pinDir, frontendText, backendText, install, to;
  long timeoutMs = 30000;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--pin-dir") pinDir = value;
    else if (flag == "--frontend") frontendText = value;
    else if (flag == "--backend") backendText = value;
    else if (flag == "--install") install = value;
    else if (flag == "--to") to = value;
    else if (flag == "--timeout-ms") timeoutMs = std::stol(value);
    else die("unknown flag " + flag);
  }
  maps::DatapathMaps maps;
  if (auto opened = maps.open(pinDir); !opened) die(opened.error().message);

  if (mode == "count") {
    auto snapshot = maps::readSnapshot(maps);
    std::printf("{\"frontends\":%zu,\"backends\":%zu}\n", snapshot.frontends.size(), snapshot.backends.size());
    return 0;
  }
  if (mode != "change" && mode != "wait") die("unknown mode " + mode);
  if (mode == "change" && (install.empty() || to.empty())) die("change needs --install and --to");

  bpx_svc_key frontend{};
  auto slash = frontendText.rfind('/');
  std::string proto = slash == std::string::npos ? "TCP" : frontendText.substr(slash + 1);
  parseEndpoint(frontendText.substr(0, slash), frontend.addr, frontend.port);
  frontend.proto = proto == "UDP" ? BPX_PROTO_UDP : BPX_PROTO_TCP;
  bpx_backend wanted{};
  parseEndpoint(backendText, wanted.addr, wanted.port);

  auto start = Clock::now();
  if (mode == "change" && std::rename(install.c_str(), to.c_str()) != 0)
    die("rename " + install + " -> " + to + " failed");
  auto deadline = start + std::chrono::milliseconds(timeoutMs);
  // 50 us between reads: the resolution, without taking a core from the agent.
  for (long polls = 0; Clock::now() < deadline && polls < 10'000'000; ++polls) {
    if (holdsBackend(maps, frontend, wanted)) {
      if (mode == "wait") {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        std::printf("{\"monotonic\":%ld.%09ld,\"polls\":%ld}\n", static_cast<long>(now.tv_sec), now.tv_nsec, polls);
        return 0;
      }
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      std::printf("{\"ms\":%.3f,\"polls\":%ld}\n", ms, polls);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  std::printf("{\"ms\":null,\"error\":\"timed out after %ld ms\"}\n", timeoutMs);
  return 1;
}
