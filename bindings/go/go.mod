module github.com/mcp-discovery/mcp-discovery/bindings/go

go 1.19
