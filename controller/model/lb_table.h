#pragma once
// The lookup table a frontend's slots carry after its backends (bpx_svc_value.table_size):
// Maglev's, or the backends repeated by weight. Pure, so the agent, `explain` and the tests
// compute the same table from the same backends.
#include <cstdint>
#include <vector>

#include "controller/model/desired_state.h"

namespace bpfproxy::controller {

bool isPrime(uint32_t n);

// Maglev's table size for `backends` backends: `configured` when set; else the smallest
// prime at least 100 times the backend count rounded up to a power of two, and never below
// `current` (the size programmed now): a table keeps its size while backends go, so that
// removing one moves only its flows. Capped so that backends and table fit the 16-bit slot
// index.
uint32_t maglevTableSize(size_t backends, uint32_t configured, uint32_t current);

// Maglev's lookup table (Eisenbud et al., NSDI 2016, section 3.4): position -> index into
// `backends`. Each backend's permutation comes from its address and port only, so the same
// set gives the same table on every agent and after every restart. Weighted: in each turn
// of the population a backend takes weight/gcd positions, so backend i holds
// size * w_i / sum(w) positions to within w_i/gcd; weight 0 gets none; equal weights give
// Maglev's own table. `size` must be prime.
std::vector<uint16_t> maglevTable(const std::vector<BackendSpec>& backends, uint32_t size);

// Backends repeated by weight (divided by the weights' greatest common divisor) and
// interleaved as nginx's smooth weighted round-robin does, so a rotation alternates.
// Empty when every weight is the same and not 0: no table is needed then.
std::vector<uint16_t> weightedTable(const std::vector<BackendSpec>& backends);

// The table for a frontend: Maglev's for BPX_LB_MAGLEV (size from maglevTableSize with
// `currentMaglevSize`), else the weighted one.
std::vector<uint16_t> lookupTable(const FrontendSpec& spec, uint32_t currentMaglevSize);
// Its size, without building Maglev's (for capacity figures).
size_t lookupTableSize(const FrontendSpec& spec);

}  // namespace bpfproxy::controller
