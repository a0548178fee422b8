// A watch body delivered in chunks whose boundaries the input chooses: the first 8 bytes
// are chunk lengths (each plus one, used in turn), the rest is the body. The reader runs
// while the chunks arrive, as it does on a live connection.
#include <cpprest/producerconsumerstream.h>

#include <thread>

#include "controller/source/kube/api_client.h"
#include "fuzz/targets.h"

namespace bpfproxy::fuzz {

int watchStream(const uint8_t* data, size_t size) {
  constexpr size_t kLengths = 8;
  if (size < kLengths) return 0;
  const uint8_t* body = data + kLengths;
  const size_t bodySize = size - kLengths;

  concurrency::streams::producer_consumer_buffer<uint8_t> buffer;
  size_t events = 0;
  std::thread reader([&] {
    try {
      controller::kube::readWatchStream(buffer.create_istream(), "fuzz",
                                        [&](const controller::kube::WatchEvent& event) {
                                          events += event.type.size() > 0;
                                        });
    } catch (const controller::kube::TransportError&) {
    } catch (const controller::kube::ApiError&) {
    }
  });
  for (size_t offset = 0, turn = 0; offset < bodySize; ++turn) {
    size_t length = std::min<size_t>(data[turn % kLengths] + 1u, bodySize - offset);
    buffer.putn_nocopy(body + offset, length).wait();
    offset += length;
  }
  buffer.close(std::ios_base::out).wait();
  reader.join();
  return 0;
}

}  // namespace bpfproxy::fuzz
