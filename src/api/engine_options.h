// The embedded API's Options as the engine takes them (shared by
// Database::Open and a cluster node's server).
#pragma once

#include <parendb/parendb.h>

#include "engine/engine.h"

namespace parendb {

EngineOptions ToEngineOptions(const Options& options);

}  // namespace parendb
