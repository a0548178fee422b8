#pragma once

#include "controller/source/source.h"

namespace bpfproxy::controller {

// Content equality: a relist re-delivers every object, and an unchanged one must not make
// its Service dirty. resourceVersion is left out: it changes on status-only writes.
bool same(const Service& a, const Service& b);
bool same(const EndpointSlice& a, const EndpointSlice& b);

}  // namespace bpfproxy::controller
