// Names a thread, as `top -H`, `ps -L`, `perf` and gdb show it:
// "parendb-io", "parendb-wal", "parendb-raft"… (at most 15 characters; the
// kernel keeps no more). The process's first thread keeps the program's
// name, which pgrep, pidof and the tests go by.
#pragma once

#include <pthread.h>

#include <thread>

namespace parendb {

// Called by the thread's creator, so the name is there once it returns.
inline void NameThread(std::thread& thread, const char* name) { pthread_setname_np(thread.native_handle(), name); }

}  // namespace parendb
