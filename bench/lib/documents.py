#!/usr/bin/env python3
"""N documents of ~200 bytes as JSON Lines on stdout, each a little different:
the bulk-load benchmarks' data (bench/import_export.sh, bench/backup.sh)."""
import json
import sys

n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    out.write(json.dumps({"user": "user%d" % i, "email": "user%d@example.com" % i, "age": 18 + i % 60,
                          "score": (i * 7919) % 10007 / 7.0, "tags": ["t%d" % (i % 13), "x"],
                          "bio": "lorem ipsum dolor sit amet " * 3}, separators=(",", ":")) + "\n")
