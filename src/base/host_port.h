// "HOST:PORT" addresses, as --cluster, --advertise and not-leader answers
// write them.
#pragma once

#include <string>
#include <string_view>

namespace parendb {

// Splits at the last colon; an IPv6 host loses its brackets ("[::1]:7521"
// gives "::1" and "7521"). False when there is no colon.
inline bool SplitHostPort(std::string_view address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = address.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  host->assign(h);
  port->assign(address.substr(colon + 1));
  return true;
}

}  // namespace parendb
