// bpx_loadgen: the benchmark's traffic. One binary, one thread per role, every loop bounded
// by a count and a deadline. Results are one JSON object on stdout.
//
//   bpx_loadgen serve --tcp-port 8080 --udp-port 5353 --seconds S
//   bpx_loadgen tcp-crr    --targets FILE --seconds S [--max N]   connect, request, response, close
//   bpx_loadgen udp-rr     --targets FILE --seconds S [--max N]   fresh unconnected socket per query
//   bpx_loadgen tcp-stream --targets FILE --seconds S             one connection, bulk send
//
// FILE holds "address port" lines; clients cycle through them. The server answers on any
// local address (the server namespace routes a whole range to lo), and answers UDP from the
// address a query was sent to, as a DNS server must for NAT and the socket path alike.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRequestBytes = 64;   // a small HTTP/1.0-like request
constexpr size_t kResponseBytes = 128;  // and its answer
constexpr size_t kQueryBytes = 48;     // a DNS query's size
constexpr size_t kStreamChunk = 128 * 1024;
constexpr int kIoTimeoutMs = 1000;

struct Options {
  std::string mode, targets;
  double seconds = 1;
  long max = 5'000'000;
  int tcpPort = 8080, udpPort = 5353;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bpx_loadgen: %s\n", message.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  if (argc < 2) die("usage: bpx_loadgen serve|tcp-crr|udp-rr|tcp-stream [options]");
  Options options;
  options.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--targets") options.targets = value;
    else if (flag == "--seconds") options.seconds = std::stod(value);
    else if (flag == "--max") options.max = std::stol(value);
    else if (flag == "--tcp-port") options.tcpPort = std::stoi(value);
    else if (flag == "--udp-port") options.udpPort = std::stoi(value);
    else die("unknown flag " + flag);
  }
  const double limit = options.mode == "serve" ? 7200 : 600;  // the server outlives a whole run
  if (options.seconds <= 0 || options.seconds > limit) die("--seconds out of range");
  return options;
}

std::vector<sockaddr_in> readTargets(const std::string& path) {
  std::ifstream in(path);
  std::vector<sockaddr_in> targets;
  std::string address;
  int port = 0;
  while (in >> address >> port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) die(path + ": bad address " + address);
    targets.push_back(sa);
  }
  if (targets.empty()) die("no targets in '" + path + "'");
  return targets;
}

void setTimeouts(int fd) {
  timeval tv{kIoTimeoutMs / 1000, (kIoTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = std::min(sorted.size() - 1, static_cast<size_t>(std::ceil(p * sorted.size())) - 1);
  return sorted[index];
}

void report(const Options& o, long count, long errors, double elapsed, std::vector<double> latencies,
            const std::string& extra = "") {
  std::sort(latencies.begin(), latencies.end());
  std::printf("{\"test\":\"%s\",\"count\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
              "\"p50_us\":%.1f,\"p99_us\":%.1f%s}\n",
              o.mode.c_str(), count, errors, elapsed, elapsed > 0 ? count / elapsed : 0.0,
              percentile(latencies, 0.50), percentile(latencies, 0.99), extra.c_str());
}

// One short TCP connection: connect, send a request, read the answer to EOF, close.
bool tcpTransaction(const sockaddr_in& target) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  setTimeouts(fd);
  char request[kRequestBytes], response[kResponseBytes * 2];
  std::memset(request, 'R', sizeof(request));
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) == 0 &&
            send(fd, request, sizeof(request), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(request));
  size_t received = 0;
  while (ok) {
    ssize_t n = recv(fd, response, sizeof(response), 0);
    if (n < 0) ok = false;
    if (n <= 0) break;
    received += static_cast<size_t>(n);
  }
  close(fd);
  return ok && received == kResponseBytes;
}

// One DNS-like exchange on a fresh unconnected socket, as a stub resolver's query; the
// answer must come from the address asked (reverse translation, or NAT undone).
bool udpTransaction(const sockaddr_in& target) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  char query[kQueryBytes], answer[512];
  std::memset(query, 'Q', sizeof(query));
  bool ok = sendto(fd, query, sizeof(query), 0, reinterpret_cast<const sockaddr*>(&target),
                   sizeof(target)) == static_cast<ssize_t>(sizeof(query));
  if (ok) {
    pollfd p{fd, POLLIN, 0};
    sockaddr_in from{};
    socklen_t fromLen = sizeof(from);
    ok = poll(&p, 1, 200) == 1 &&
         recvfrom(fd, answer, sizeof(answer), 0, reinterpret_cast<sockaddr*>(&from), &fromLen) > 0 &&
         from.sin_addr.s_addr == target.sin_addr.s_addr && from.sin_port == target.sin_port;
  }
  close(fd);
  return ok;
}

int runRequests(const Options& o, bool (*transaction)(const sockaddr_in&)) {
  auto targets = readTargets(o.targets);
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(std::min<long>(o.max, 2'000'000)));
  long count = 0, errors = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(o.seconds);
  for (long i = 0; i < o.max; ++i) {
    auto t0 = Clock::now();
    if (t0 >= deadline) break;
    bool ok = transaction(targets[static_cast<size_t>(i) % targets.size()]);
    auto t1 = Clock::now();
    if (ok) {
      ++count;
      latencies.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    } else {
      ++errors;
    }
  }
  report(o, count, errors, std::chrono::duration<double>(Clock::now() - start).count(), latencies);
  return count > 0 ? 0 : 1;
}

// One long connection: send for the duration, then wait for the server's close so that the
// rate counts bytes the server has read.
int runStream(const Options& o) {
  auto target = readTargets(o.targets).front();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setTimeouts(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) != 0)
    die(std::string("connect: ") + std::strerror(errno));
  std::vector<char> chunk(kStreamChunk, 'S');
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(o.seconds);
  long long bytes = 0;
  for (long i = 0; i < o.max && Clock::now() < deadline; ++i) {
    ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    bytes += n;
  }
  shutdown(fd, SHUT_WR);
  char sink[64];
  while (recv(fd, sink, sizeof(sink), 0) > 0) {
  }
  close(fd);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  char extra[96];
  std::snprintf(extra, sizeof(extra), ",\"bytes\":%lld,\"gbit_s\":%.3f", bytes, bytes * 8 / elapsed / 1e9);
  report(o, 1, 0, elapsed, {}, extra);
  return bytes > 0 ? 0 : 1;
}

// --- server -----------------------------------------------------------------------------

int listenOn(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (type == SOCK_DGRAM) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) die(std::string("bind: ") + std::strerror(errno));
  if (type == SOCK_STREAM && listen(fd, 4096) != 0) die(std::string("listen: ") + std::strerror(errno));
  return fd;
}

msghdr datagram(sockaddr_in* peer, iovec* iov, char* control, size_t controlLen) {
  msghdr msg{};
  msg.msg_name = peer;
  msg.msg_namelen = sizeof(*peer);
  msg.msg_iov = iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = controlLen;
  return msg;
}

// Answers a datagram from the address it was sent to (IP_PKTINFO), not the route's choice.
void answerDatagram(int fd) {
  for (int i = 0; i < 64; ++i) {
    char buffer[2048], control[CMSG_SPACE(sizeof(in_pktinfo))];
    sockaddr_in from{};
    iovec iov{buffer, sizeof(buffer)};
    msghdr msg = datagram(&from, &iov, control, sizeof(control));
    if (recvmsg(fd, &msg, MSG_DONTWAIT) < 0) return;
    in_pktinfo info{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) std::memcpy(&info, CMSG_DATA(c), sizeof(info));
    char reply[kResponseBytes];
    std::memset(reply, 'A', sizeof(reply));
    iovec out{reply, sizeof(reply)};
    char outControl[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr answer = datagram(&from, &out, outControl, sizeof(outControl));
    cmsghdr* c = CMSG_FIRSTHDR(&answer);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo source{};
    source.ipi_spec_dst = info.ipi_addr;
    std::memcpy(CMSG_DATA(c), &source, sizeof(source));
    sendmsg(fd, &answer, MSG_DONTWAIT);
  }
}

// TCP: a connection starting with 'R' gets one answer and is closed by the server (so the
// TIME_WAIT state stays here, not on the client's ports); any other is a sink read to EOF.
int runServer(const Options& o) {
  int tcp = listenOn(SOCK_STREAM, o.tcpPort), udp = listenOn(SOCK_DGRAM, o.udpPort);
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {tcp, udp}) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
  }
  std::map<int, size_t> pending;  // connection -> request bytes read
  std::vector<char> buffer(kStreamChunk);
  char reply[kResponseBytes];
  std::memset(reply, 'A', sizeof(reply));
  auto deadline = Clock::now() + std::chrono::duration<double>(o.seconds);
  epoll_event events[256];
  while (Clock::now() < deadline) {
    int n = epoll_wait(epoll, events, 256, 200);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == udp) {
        answerDatagram(udp);
      } else if (fd == tcp) {
        for (int k = 0; k < 256; ++k) {
          int conn = accept4(tcp, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (conn < 0) break;
          epoll_event ev{EPOLLIN, {.fd = conn}};
          epoll_ctl(epoll, EPOLL_CTL_ADD, conn, &ev);
          pending[conn] = 0;
        }
      } else {
        ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
        auto& seen = pending[fd];
        bool request = got > 0 && (seen > 0 ? seen < kRequestBytes : buffer[0] == 'R');
        if (got > 0) seen += static_cast<size_t>(got);
        if (got == 0 || (got < 0 && errno != EAGAIN)) {
          close(fd);
          pending.erase(fd);
        } else if (request && seen >= kRequestBytes) {
          send(fd, reply, sizeof(reply), MSG_NOSIGNAL);
          close(fd);
          pending.erase(fd);
        } else if (got > 0 && !request) {
          seen = kRequestBytes * 2;  // a sink from now on
        }
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.mode == "serve") return runServer(o);
  if (o.mode == "tcp-crr") return runRequests(o, tcpTransaction);
  if (o.mode == "udp-rr") return runRequests(o, udpTransaction);
  if (o.mode == "tcp-stream") return runStream(o);
  die("unknown mode " + o.mode);
}
