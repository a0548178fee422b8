# cmake -DIN=bpf/maps_abi.h -DOUT=bpx_stat_names.h -P StatNames.cmake
# Writes one table entry per `#define BPX_STAT_<NAME> <index> /* <help> */` of the map-ABI
# header, so a counter added to the datapath is exported without anyone listing it again.
file(STRINGS "${IN}" lines REGEX "^#define BPX_STAT_[A-Z0-9_]+[ \t]+[0-9]+")
set(body "")
foreach(line IN LISTS lines)
  string(REGEX MATCH "^#define BPX_STAT_([A-Z0-9_]+)[ \t]+([0-9]+)[ \t]*(/\\*[ \t]*(.*[^ \t])[ \t]*\\*/)?" _ "${line}")
  set(name "${CMAKE_MATCH_1}")
  set(help "${CMAKE_MATCH_4}")
  if(name STREQUAL "COUNT")
    continue()
  endif()
  string(REPLACE "\\" "\\\\" help "${help}")
  string(REPLACE "\"" "\\\"" help "${help}")
  string(APPEND body "    {BPX_STAT_${name}, \"${name}\", \"${help}\"},\n")
endforeach()
set(text "// Generated from bpf/maps_abi.h by cmake/StatNames.cmake: every BPX_STAT_* counter.
#pragma once
#include \"bpf/maps_abi.h\"

namespace bpfproxy::maps::generated {

struct StatEntry {
  unsigned index;
  const char* name;  // the macro's name without BPX_STAT_
  const char* help;  // the macro's comment
};

inline constexpr StatEntry kStatEntries[] = {
${body}};

}  // namespace bpfproxy::maps::generated
")
# Rewrite only on change, so dependants do not rebuild for nothing.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${text}")
