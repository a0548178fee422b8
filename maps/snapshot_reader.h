#pragma once
// Reads the pinned service maps into a DatapathSnapshot in one pass.
#include "maps/datapath_maps.h"
#include "maps/datapath_snapshot.h"

namespace bpfproxy::maps {

DatapathSnapshot readSnapshot(const DatapathMaps& maps);

}  // namespace bpfproxy::maps
