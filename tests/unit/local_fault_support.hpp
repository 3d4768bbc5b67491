// For the domain layer's unit tests (local_*_test.cpp): the fault and the
// message of what a call throws.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "local/fault.hpp"

namespace boxd::local::test {

// The fault and message of the FaultError fn throws (a test failure when
// it throws none).
template <class Fn>
std::pair<Fault, std::string> failure_of(Fn&& fn) {
  try {
    fn();
  } catch (const FaultError& e) {
    return {e.fault(), e.what()};
  }
  FAIL("no FaultError thrown");
  return {Fault::Internal, ""};
}

}  // namespace boxd::local::test
