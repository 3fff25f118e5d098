#pragma once
// Test helper for the alert sinks: hands a sink a batch as the dispatcher
// does, each alert with its JSON line.

#include <string>
#include <vector>

#include "alert_sink.hpp"

namespace airssys::daemoneye::testing {

inline void deliver(detail::Sink& sink, const std::vector<Alert>& alerts) {
  std::vector<std::string> json;
  for (const Alert& a : alerts) json.push_back(alert_to_json(a));
  std::vector<detail::Delivery> batch;
  for (std::size_t i = 0; i < alerts.size(); ++i) batch.push_back({&alerts[i], &json[i]});
  sink.deliver(batch);
}

}  // namespace airssys::daemoneye::testing
