module github.com/mcp-discovery/mcp-discovery/benchmarks/clients/go

go 1.19

require github.com/mcp-discovery/mcp-discovery/bindings/go v0.0.0

replace github.com/mcp-discovery/mcp-discovery/bindings/go => ../../../bindings/go
