#pragma once
// REQUIRE_OK(expr): expr is a Result or Status (base/result.h) that must be ok; when it is
// not, the case stops with its error's message.
#include <doctest/doctest.h>

#include <string>

#define REQUIRE_OK(expr)                                          \
  do {                                                            \
    const auto& bpxResult = (expr);                               \
    const std::string bpxWhy = bpxResult.ok() ? std::string() : bpxResult.error().message; \
    REQUIRE_MESSAGE(bpxResult.ok(), bpxWhy);                      \
  } while (0)
