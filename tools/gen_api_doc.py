#!/usr/bin/env python3
"""Writes docs/api.md, the REST reference, from the OpenAPI document that
discoveryd serves (libdiscovery/src/server/openapi.json), so the two never
drift. Standard library only.

    tools/gen_api_doc.py            regenerate docs/api.md
    tools/gen_api_doc.py --check    exit 1 (with a diff) when docs/api.md is stale

The page is generated: edit openapi.json (or this script), not docs/api.md.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "libdiscovery" / "src" / "server" / "openapi.json"
OUT = ROOT / "docs" / "api.md"
METHODS = ("get", "put", "post", "patch", "delete")


class Doc:
    def __init__(self, spec: dict):
        self.spec = spec
        self.components = spec.get("components", {})

    # -------------------------------------------------------------- helpers --
    def resolve(self, node: dict) -> dict:
        while isinstance(node, dict) and "$ref" in node:
            node = self.lookup(node["$ref"])
        return node

    def lookup(self, ref: str) -> dict:
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported: {ref}")
        node = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @staticmethod
    def anchor(text: str) -> str:
        """GitHub's heading anchor: lowercase, spaces to '-', punctuation dropped."""
        text = re.sub(r"[^\w\- ]", "", text.strip().lower())
        return text.replace(" ", "-")

    def schema_link(self, ref: str) -> str:
        name = ref.rsplit("/", 1)[-1]
        return f"[{name}](#{self.anchor(name)})"

    def type_of(self, schema: dict) -> str:
        """A short human type: `string (uuid)`, `array of [Tag](#tag)`, `Duration or null`."""
        if not schema:
            return "any"
        if "$ref" in schema:
            return self.schema_link(schema["$ref"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return " or ".join(self.type_of(s) for s in schema[key])
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        if "enum" in schema:
            return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
        types = schema.get("type", "object" if "properties" in schema else "any")
        if isinstance(types, list):
            return " or ".join(self.type_of({**schema, "type": t}) for t in types)
        if types == "array":
            return "array of " + self.type_of(schema.get("items", {}))
        if types == "null":
            return "null"
        text = types
        if "format" in schema:
            text += f" ({schema['format']})"
        return text

    @staticmethod
    def constraints(schema: dict) -> str:
        parts = []
        for key, label in (("minimum", "≥"), ("maximum", "≤")):
            if key in schema:
                parts.append(f"{label} {schema[key]}")
        for key, label in (("minLength", "length ≥"), ("maxLength", "length ≤"),
                           ("minItems", "items ≥"), ("maxItems", "items ≤")):
            if key in schema:
                parts.append(f"{label} {schema[key]}")
        if "pattern" in schema:
            parts.append(f"pattern `{schema['pattern']}`")
        if "default" in schema:
            parts.append(f"default `{json.dumps(schema['default'])}`")
        if schema.get("readOnly"):
            parts.append("read-only")
        return "; ".join(parts)

    @staticmethod
    def cell(text: str) -> str:
        """Text for one table cell: one line, pipes escaped."""
        return " ".join(str(text).split()).replace("|", "\\|")

    def field_rows(self, schema: dict) -> list[str]:
        schema = self.resolve(schema)
        required = set(schema.get("required", []))
        rows = []
        for name, prop in schema.get("properties", {}).items():
            target = self.resolve(prop)
            description = prop.get("description") or target.get("description", "")
            notes = "; ".join(filter(None, [self.constraints(prop), self.constraints(target) if "$ref" in prop else ""]))
            if notes:
                description = f"{description} ({notes})" if description else notes
            rows.append(f"| `{name}` | {self.type_of(prop)} | {'yes' if name in required else ''} | "
                        f"{self.cell(description)} |")
        return rows

    def field_table(self, schema: dict) -> list[str]:
        rows = self.field_rows(schema)
        if not rows:
            return []
        return ["| field | type | required | description |", "|---|---|---|---|", *rows, ""]

    # ----------------------------------------------------------- sections --
    def operations(self):
        for path, item in self.spec["paths"].items():
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    yield path, method, item[method], shared

    def render(self) -> str:
        info = self.spec["info"]
        out = [
            f"# {info['title']} ({info['version']})",
            "",
            "<!-- Generated by tools/gen_api_doc.py from libdiscovery/src/server/openapi.json: "
            "edit those, not this file. A CTest check (api_doc) fails when they drift. -->",
            "",
            f"OpenAPI {self.spec['openapi']}; discoveryd serves the document itself at `GET /openapi.json`. "
            "Each operation's **Access** paragraph says which token levels may call it.",
            "",
        ]
        if info.get("summary"):
            out += [info["summary"], ""]
        out += [info.get("description", ""), ""]
        for server in self.spec.get("servers", []):
            out += [f"Default server: `{server['url']}`: {server.get('description', '').rstrip('.')}.", ""]

        out += ["## Operations", ""]
        tags = {t["name"]: t.get("description", "") for t in self.spec.get("tags", [])}
        by_tag: dict[str, list] = {}
        for op in self.operations():
            by_tag.setdefault((op[2].get("tags") or ["other"])[0], []).append(op)
        out += ["| operation | method and path | token |", "|---|---|---|"]
        for tag in list(tags) + [t for t in by_tag if t not in tags]:
            for path, method, op, _ in by_tag.get(tag, []):
                title = f"{method.upper()} {path}"
                out.append(f"| [{op.get('summary', op['operationId'])}](#{self.anchor(title)}) | "
                           f"`{method.upper()} {path}` | {self.token(op)} |")
        out.append("")

        for tag in list(tags) + [t for t in by_tag if t not in tags]:
            if tag not in by_tag:
                continue
            out += [f"## {tag.capitalize()}", "", tags.get(tag, ""), ""]
            for path, method, op, shared in by_tag[tag]:
                out += self.operation(path, method, op, shared)

        out += ["## Errors", "", self.resolve({"$ref": "#/components/schemas/ErrorCode"}).get("description", ""), ""]
        out += ["| status | meaning |", "|---|---|"]
        for name, response in self.components.get("responses", {}).items():
            status = self.status_of(name)
            out.append(f"| {status} | {self.cell(response.get('description', ''))} |")
        out += ["", "Every error body is an [Error](#error):", "", "```json",
                json.dumps(self.components["schemas"]["Error"].get("examples", [{}])[0], indent=2), "```", ""]

        out += ["## Schemas", ""]
        for name, schema in self.components.get("schemas", {}).items():
            out += [f"### {name}", "", schema.get("description", ""), ""]
            table = self.field_table(schema)
            if table:
                out += table
            else:
                out += [f"Type: {self.type_of(schema)}" +
                        (f" ({self.constraints(schema)})" if self.constraints(schema) else "") + ".", ""]
        return "\n".join(re.sub(r"[ \t]+$", "", line) for line in "\n".join(out).split("\n")).rstrip() + "\n"

    def status_of(self, response_name: str) -> str:
        for path, method, op, _ in self.operations():
            for status, response in op.get("responses", {}).items():
                if response.get("$ref", "").endswith("/" + response_name):
                    return status
        return "?"

    @staticmethod
    def token(op: dict) -> str:
        if op.get("security") != []:
            return "bearer"
        return "none unless the daemon requires one" if "unless" in op.get("description", "") else "none"

    def operation(self, path: str, method: str, op: dict, shared: list) -> list[str]:
        out = [f"### {method.upper()} {path}", "", f"**{op.get('summary', '')}** (`{op['operationId']}`)", "",
               op.get("description", ""), ""]
        params = [self.resolve(p) for p in shared + op.get("parameters", [])]
        if params:
            out += ["**Parameters**", "", "| name | in | type | required | description |", "|---|---|---|---|---|"]
            for p in params:
                schema = p.get("schema", {})
                notes = self.constraints(schema) or self.constraints(self.resolve(schema))
                description = p.get("description", "") + (f" ({notes})" if notes else "")
                out.append(f"| `{p['name']}` | {p['in']} | {self.type_of(schema)} | {'yes' if p.get('required') else ''} | "
                           f"{self.cell(description)} |")
            out.append("")
        body = op.get("requestBody")
        if body:
            body = self.resolve(body)
            out += ["**Request body**" + (" (required)" if body.get("required") else ""), ""]
            if body.get("description"):
                out += [body["description"], ""]
            for ctype, media in body.get("content", {}).items():
                out.append(f"- `{ctype}`: {self.type_of(media.get('schema', {}))}")
            out.append("")
            first = next(iter(body.get("content", {}).values()), {})
            if "example" in first:
                out += ["```json", json.dumps(first["example"], indent=2), "```", ""]
        out += ["**Responses**", "", "| status | body | description |", "|---|---|---|"]
        for status, response in op.get("responses", {}).items():
            if response.get("$ref", "").startswith("#/components/responses/"):
                # A shared error answer: its code here, its meaning under Errors.
                code = self.resolve(response).get("description", "").split(":", 1)[0]
                out.append(f"| {status} | [Error](#error) | `{code}` (see [Errors](#errors)) |")
                continue
            response = self.resolve(response)
            content = response.get("content", {})
            types = [f"{self.type_of(m.get('schema', {}))} (`{c}`)" for c, m in content.items()]
            headers = ", ".join(f"`{h}`" for h in response.get("headers", {}))
            description = response.get("description", "") + (f" Headers: {headers}." if headers else "")
            out.append(f"| {status} | {', '.join(types) or '(none)'} | {self.cell(description)} |")
        out.append("")
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 when stale")
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    text = Doc(json.loads(args.spec.read_text(encoding="utf-8"))).render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current == text:
            print(f"{args.out.relative_to(ROOT)} is up to date with {args.spec.relative_to(ROOT)}")
            return 0
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                   str(args.out.relative_to(ROOT)), "regenerated", n=1))
        print(f"\n{args.out.relative_to(ROOT)} is stale: run tools/gen_api_doc.py", file=sys.stderr)
        return 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
