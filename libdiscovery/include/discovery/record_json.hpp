// JSON conversions of the record types (Boost.JSON, both ways) and the
// validation that names the offending field.
//
// Parsing never throws on bad input: it returns an Error whose `field` is the
// dotted path of the first offending field ("serviceInfo.endpoints.primary",
// "tags[3]"). The tag_invoke overloads make boost::json::value_from/value_to
// work; value_to throws ResultError on bad input.
#pragma once

#include <discovery/error.hpp>
#include <discovery/service_record.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

namespace discovery {

// Which fields a JSON form carries.
enum class JsonView {
  full,      // every API field (for readers allowed to manage the company)
  redacted,  // without personalConfig and demoConfig (opal, onyx, other companies)
  storage,   // full plus the bookkeeping fields (statusCause, createIndex, modifyIndex)
};

boost::json::object to_json(const ServiceRecord& record, JsonView view = JsonView::full);
boost::json::object to_json(const HealthStatus& health);
boost::json::object to_json(const HealthCheckConfig& config);
boost::json::object to_json(const McpInfo& mcp);

// The fields a client may write (register and PATCH), in API form: what a
// merge patch is applied to.
boost::json::object writable_json(const ServiceRecord& record);

// A registration body (POST /services/register) into a record. Applies the
// health-check defaults, rejects unknown fields and read-only fields
// (serviceId, status, healthStatus, mcp, registeredAt, lastUpdated), requires
// companyName and serviceInfo.endpoints.primary, and validates everything.
// saoLevel absent -> caller_level; above caller_level -> invalid_argument.
// instanceId and domain may be left empty here; the registry fills them.
Result<ServiceRecord> parse_registration(const boost::json::value& body, SaoLevel caller_level,
                                         const RecordLimits& limits = {});

// A stored record (JsonView::storage) back into a record. Lenient about
// absent optional fields, strict about types.
Result<ServiceRecord> parse_stored_record(const boost::json::value& json);

Result<HealthCheckConfig> parse_health_check_config(const boost::json::value& json,
                                                    const RecordLimits& limits = {});
Result<McpInfo> parse_mcp_info(const boost::json::value& json, const RecordLimits& limits = {});

// Every rule of API.md for a complete record: patterns, URL schemes, limits.
Result<void> validate(const ServiceRecord& record, const RecordLimits& limits = {});

// Boost.JSON customisation points (API form, JsonView::full).
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const ServiceRecord& r);
ServiceRecord tag_invoke(boost::json::value_to_tag<ServiceRecord>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const HealthCheckConfig& c);
HealthCheckConfig tag_invoke(boost::json::value_to_tag<HealthCheckConfig>,
                             const boost::json::value& v);

}  // namespace discovery
