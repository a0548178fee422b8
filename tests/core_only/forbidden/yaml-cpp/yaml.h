// Found only by a core-only build (BPFPROXY_CORE_ONLY): the core must not use this library.
#error "the core library includes <yaml-cpp/yaml.h>, a dependency of the adapters"
