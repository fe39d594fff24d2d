#include <discovery/query_engine.hpp>

#include "catalog.hpp"

#include <algorithm>

namespace discovery {

Result<DiscoverPage> QueryEngine::discover(const DiscoverQuery& query) const {
  return registry_.catalog().discover(query);
}

DiscoverVersion QueryEngine::version(const DiscoverQuery& query) const {
  return registry_.catalog().version(query);
}

Result<DiscoverPage> QueryEngine::discover_after(const DiscoverQuery& query, std::uint64_t index,
                                                 Duration timeout) const {
  registry_.wait_for_index(index, timeout);
  return discover(query);
}

bool QueryEngine::matches(const DiscoverQuery& query, const ServiceRecord& record) {
  const auto has_all = [](const std::vector<std::string>& have, const std::vector<std::string>& want) {
    return std::all_of(want.begin(), want.end(), [&](const std::string& w) {
      return std::find(have.begin(), have.end(), w) != have.end();
    });
  };
  if (!query.company.empty() && record.company_name != query.company) return false;
  if (!query.region.empty() && record.service_info.region != query.region) return false;
  if (!query.environment.empty() && record.service_info.environment != query.environment)
    return false;
  if (query.status && record.status != *query.status) return false;
  if (query.sao_level && record.sao_level != *query.sao_level) return false;
  if (!has_all(record.service_info.capabilities, query.capabilities)) return false;
  if (!has_all(record.tags, query.tags)) return false;
  if (!query.tools.empty()) {
    if (!record.mcp) return false;
    for (const auto& want : query.tools) {
      if (std::none_of(record.mcp->tools.begin(), record.mcp->tools.end(),
                       [&](const McpTool& t) { return t.name == want; }))
        return false;
    }
  }
  return true;
}

}  // namespace discovery
