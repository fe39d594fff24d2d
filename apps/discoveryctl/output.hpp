// Everything discoveryctl shows a person: indented JSON, aligned tables and
// the one-line and summary views of records, health and watch events. Pure
// functions from JSON to text; the commands decide where the text goes.
#pragma once

#include <boost/json/value.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace discovery::ctl {

// JSON indented by two spaces, ending in a newline. Numbers that are whole
// or short decimals read as written ("12.4", not Boost's "1.24E1").
std::string pretty_json(const boost::json::value& value);

// The member at `path` as display text: strings as they are, numbers and
// booleans as JSON, "-" when absent or null.
std::string text_at(const boost::json::value& value, std::initializer_list<std::string_view> path);

// Left-aligned columns two spaces apart; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// SERVICE ID, COMPANY, INSTANCE, STATUS, REGION, ENV, PRIMARY for records.
std::string services_table(const std::vector<boost::json::value>& records);

// "<time>  <index>  <type>  <company>/<instance>  <status>  <serviceId>" for
// one watch event's data ({"index", "type", "service"}).
std::string event_line(std::string_view received_at, const boost::json::value& event);

// Labelled values shown one per line, the values aligned.
using Fields = std::vector<std::pair<std::string, std::string>>;
std::string render_fields(const Fields& fields);

// A healthStatus object as fields: last check, response time, uptime, ...
Fields health_fields(const boost::json::value& health_status);

// The recentChecks of a health detail: AT, RESULT, RESPONSE MS, ENDPOINT, ERROR.
std::string checks_table(const boost::json::value& checks);

}  // namespace discovery::ctl
