// The whole public API of libdiscovery.
#pragma once

#include <discovery/address_policy.hpp>
#include <discovery/auth.hpp>
#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/health_checker.hpp>
#include <discovery/merge_patch.hpp>
#include <discovery/query_engine.hpp>
#include <discovery/record_json.hpp>
#include <discovery/registry.hpp>
#include <discovery/service_record.hpp>
#include <discovery/storage.hpp>
#include <discovery/version.hpp>
