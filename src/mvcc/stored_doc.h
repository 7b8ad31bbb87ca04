// A committed document version's payload. Immutable once published, so any
// number of readers share it without copying; the JSON text is rendered once
// at commit so that reads only copy bytes.
#pragma once

#include <memory>
#include <string>

#include "doc/value.h"

namespace parendb {

struct StoredDoc {
  Value value;       // an object whose first member is `_id`
  std::string json;  // AppendJson(value)
};

using DocRef = std::shared_ptr<const StoredDoc>;

// Builds a StoredDoc, rendering its JSON.
DocRef MakeStoredDoc(Value value);

}  // namespace parendb
