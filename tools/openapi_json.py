#!/usr/bin/python3
"""docs/openapi.yaml as the JSON resmond serves at GET /v1/openapi.json.

There is no YAML parser in resmond (no Swift packages), so the YAML is the one source and this
writes its JSON copy, Sources/Server/OpenAPI/openapi.json, which SwiftPM embeds in the binary.
`make openapi` runs it; OpenAPIDocumentTests runs it again and fails when the copy differs.
Needs Debian's python3-yaml.
Usage: openapi_json.py docs/openapi.yaml > Sources/Server/OpenAPI/openapi.json
"""
import json
import sys

import yaml


def main():
    with open(sys.argv[1], encoding="utf-8") as source:
        # Quoted in the YAML where it matters: status codes ("200") and the version ("1").
        document = yaml.load(source, Loader=yaml.SafeLoader)
    sys.stdout.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
