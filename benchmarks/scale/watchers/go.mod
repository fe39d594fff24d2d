module github.com/mcp-discovery/mcp-discovery/benchmarks/scale/watchers

go 1.19
