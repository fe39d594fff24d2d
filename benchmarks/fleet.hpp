// A synthetic fleet shaped like the seed's: many companies, a few instances
// each, three regions, two environments, a handful of capabilities and tags,
// MCP tool lists. Deterministic for a given index.
#pragma once

#include <discovery/discovery.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace bench {

inline constexpr int kInstancesPerCompany = 50;
inline const char* const kRegions[] = {"us-west1", "us-central1", "eu-west1"};
inline const char* const kEnvironments[] = {"production", "staging"};
inline const char* const kCapabilities[] = {"tools", "resources", "prompts", "search", "files", "sql"};
inline const char* const kTools[] = {"search", "fetch", "translate", "summarize", "query", "upload"};

inline std::string company_of(int i) { return "company" + std::to_string(i / kInstancesPerCompany); }

// A typical record: what a provisioner registers for one MCP instance.
inline discovery::ServiceRecord fleet_record(int i) {
  using namespace discovery;
  ServiceRecord r;
  r.service_id = generate_uuid();
  r.company_name = company_of(i);
  r.instance_id = r.company_name + "-1767225600000-" + std::to_string(100000 + i);
  r.domain = make_domain(r.company_name);
  r.status = (i % 50 == 7) ? ServiceStatus::unhealthy : ServiceStatus::active;
  r.service_info.version = "1.4." + std::to_string(i % 10);
  r.service_info.region = kRegions[i % 3];
  r.service_info.environment = kEnvironments[(i / 3) % 2];
  r.service_info.capabilities = {kCapabilities[i % 6], kCapabilities[(i / 6) % 6]};
  if (r.service_info.capabilities[0] == r.service_info.capabilities[1]) r.service_info.capabilities.pop_back();
  r.service_info.endpoints.primary = "https://" + r.domain;
  r.service_info.endpoints.health = "https://" + r.domain + "/health";
  r.service_info.endpoints.mcp = "https://" + r.domain + "/mcp";
  r.tags = {"beta"};
  if (i % 100 == 0) r.tags.push_back("gpu");  // 1% of the fleet: a broad query's 10,000 hits
  McpInfo mcp;
  mcp.protocol_version = "2025-06-18";
  mcp.transport = "streamable-http";
  mcp.server_name = r.company_name + "-tools";
  mcp.server_version = r.service_info.version;
  for (int t = 0; t < 3; ++t) {
    const char* name = kTools[(i + t) % 6];
    mcp.tools.push_back({name, name, std::string("Runs ") + name + " over the company's data"});
  }
  r.mcp = std::move(mcp);
  r.sao_level = SaoLevel::sapphire;
  r.registered_at = r.last_updated = TimePoint{std::chrono::milliseconds{1767225600000LL + i}};
  r.create_index = r.modify_index = static_cast<std::uint64_t>(i) + 1;
  return r;
}

// Resident set size of this process in bytes (Linux).
inline long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

}  // namespace bench
