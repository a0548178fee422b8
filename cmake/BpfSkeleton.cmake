# bpfproxy_add_bpf_skeleton(NAME SOURCE): compiles SOURCE for the BPF target with BTF and
# generates NAME.skel.h; the INTERFACE library NAME_skel carries the include path and libbpf.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE BPF_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT BPF_MULTIARCH)
  set(BPF_MULTIARCH x86_64-linux-gnu)
endif()

# Round-robin's exact rotation uses BPF's fetching atomic add (Linux 5.12+); OFF builds
# programs that load on Linux 5.8-5.11, where CPUs connecting at once may share a position.
option(BPFPROXY_BPF_ATOMIC_FETCH "BPF programs use fetching atomics (Linux 5.12+)" ON)
set(BPF_FEATURE_FLAGS "")
if(NOT BPFPROXY_BPF_ATOMIC_FETCH)
  set(BPF_FEATURE_FLAGS -DBPX_NO_ATOMIC_FETCH)
  add_compile_definitions(BPX_NO_ATOMIC_FETCH)
endif()

function(bpfproxy_add_bpf_skeleton name src)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -Wall -Wextra -Werror ${BPF_FEATURE_FLAGS}
            -I${PROJECT_SOURCE_DIR}/bpf -I${PROJECT_SOURCE_DIR}
            -idirafter /usr/include/${BPF_MULTIARCH}
            -MD -MF ${obj}.d -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${src} DEPFILE ${obj}.d VERBATIM COMMENT "BPF ${name}")
  add_custom_command(OUTPUT ${skel}
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj} VERBATIM COMMENT "SKEL ${name}")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF PkgConfig::LIBELF)
endfunction()
