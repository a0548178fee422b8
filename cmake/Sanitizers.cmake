# -DBPFPROXY_SANITIZE=address,undefined or =thread instruments everything compiled for the
# host (the BPF objects are built apart and stay as they are): scripts/test.sh --sanitize.
# -DBPFPROXY_FUZZ=ON (clang) adds coverage for libFuzzer and builds fuzz/'s executables.
set(BPFPROXY_SANITIZE "" CACHE STRING "Sanitizers for the host code: address,undefined or thread")
option(BPFPROXY_FUZZ "Build the libFuzzer targets under fuzz/ (clang)" OFF)
if(BPFPROXY_SANITIZE)
  add_compile_options(-fsanitize=${BPFPROXY_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${BPFPROXY_SANITIZE})
  if(BPFPROXY_SANITIZE MATCHES "undefined")
    # A finding fails the test instead of printing and carrying on.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
if(BPFPROXY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "BPFPROXY_FUZZ needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
