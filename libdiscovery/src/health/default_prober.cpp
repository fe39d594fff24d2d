// The prober a HealthChecker uses when the embedder gives none: the network
// prober configured from the checker's options.
#include <discovery/health_checker.hpp>

#include "health/network_prober.hpp"

namespace discovery::health {

std::unique_ptr<Prober> make_default_prober(boost::asio::any_io_executor executor,
                                            const HealthCheckerOptions& options) {
  NetworkProberOptions network;
  network.address_policy = options.address_policy;
  network.ca_file = options.ca_file;
  network.max_body_bytes = options.max_response_body_bytes;
  network.max_concurrent_connections = std::max<std::size_t>(options.max_concurrent_checks, 64);
  return make_network_prober(std::move(executor), std::move(network));
}

}  // namespace discovery::health
