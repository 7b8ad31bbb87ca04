// Which of a fixed set of stripes the calling thread uses.
//
// Structures that every thread updates (counters, reader slots) keep one
// cache line per stripe, and a thread touches only its own: then two
// threads on two cores never write the same line, as long as there are no
// more threads than stripes. Stripes are dealt out in turn, so the first
// kThreadStripes threads each get a stripe of their own.
#pragma once

#include <cstddef>

namespace parendb {

constexpr size_t kThreadStripes = 16;

// The calling thread's stripe, 0..kThreadStripes-1; fixed for its life.
size_t ThreadStripe();

}  // namespace parendb
