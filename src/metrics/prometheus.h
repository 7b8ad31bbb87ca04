// The engine's counters and histograms in Prometheus's text exposition
// format (version 0.0.4): what `/metrics` answers (http_server.h). Names
// follow Prometheus's conventions — a parendb_ prefix, base units (seconds,
// bytes), counters ending in _total — and docs/operating.md lists every one.
#pragma once

#include <string>

namespace parendb {

class Engine;

// The Content-Type of the format.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Renders every metric. Safe from any thread while the engine works: each
// counter is read once; a histogram is consistent with itself.
std::string RenderPrometheus(const Engine& engine);

}  // namespace parendb
