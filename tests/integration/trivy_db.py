"""A minimal Trivy vulnerability database for the image_scan tests.

Trivy's real database cannot be downloaded on the test machines. Its format is small and
documented by trivy-db: a BoltDB file `db/trivy.db` in Trivy's cache directory, next to
`db/metadata.json` (schema version 2). This writes one holding npm advisories only:

    bucket "vulnerability"                      {ID: {Title, Description, Severity}}
    bucket "data-source"                        {"npm::<source>": {ID, Name, URL}}
    bucket "npm::<source>" / bucket <package>   {ID: {VulnerableVersions, PatchedVersions}}

The BoltDB file is written with the PyPI package `boltdb` (a small pure-Python port of Bolt,
installed by scripts/setup.sh next to the test Trivy, under $BYTELYST_TRIVY_TOOLS). It leaves
the meta pages' checksums at 0, which bbolt (Trivy's reader) refuses, so they are filled in
here: FNV-1a 64 over the meta fields before the checksum, as bbolt computes it.
"""

import datetime
import json
import os
import struct
import sys

SOURCE = "npm::GitHub Security Advisory npm"
PAGE_HEADER = 16  # page id u64, flags u16, count u16, overflow u32
META_FIELDS = 56  # magic, version, page size, flags (u32 each), root bucket (2 x u64), freelist, pgid, txid (u64)


def _boltdb():
    tools = os.environ.get("BYTELYST_TRIVY_TOOLS")
    if not tools or not os.path.isdir(os.path.join(tools, "boltdb")):
        raise RuntimeError("BYTELYST_TRIVY_TOOLS does not hold the boltdb package: run scripts/setup.sh "
                           "and source the env.sh it writes")
    if tools not in sys.path:
        sys.path.append(tools)
    import boltdb

    return boltdb


def _fnv1a64(data):
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _fill_meta_checksums(path):
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        page_size = struct.unpack_from("<I", data, PAGE_HEADER + 8)[0]
        for page in (0, 1):
            offset = page * page_size + PAGE_HEADER
            struct.pack_into("<Q", data, offset + META_FIELDS, _fnv1a64(bytes(data[offset:offset + META_FIELDS])))
        handle.seek(0)
        handle.write(bytes(data))


def write(cache_dir, advisories):
    """Write cache_dir/db/{trivy.db,metadata.json} holding the advisories:
    [{"id", "package", "vulnerable": ["<1.2.4"], "patched": ["1.2.4"], "severity", "title"}]."""
    db_dir = os.path.join(cache_dir, "db")
    os.makedirs(db_dir, exist_ok=True)
    path = os.path.join(db_dir, "trivy.db")
    if os.path.exists(path):
        os.unlink(path)
    database = _boltdb().BoltDB(path)
    try:
        with database.update() as tx:
            details = tx.create_bucket(b"vulnerability")
            sources = tx.create_bucket(b"data-source")
            sources.put(SOURCE.encode(), json.dumps({"ID": "ghsa", "Name": "GitHub Security Advisory npm",
                                                     "URL": "https://example.invalid/advisories"}).encode())
            source = tx.create_bucket(SOURCE.encode())
            packages = {}
            for item in advisories:
                details.put(item["id"].encode(), json.dumps({
                    "Title": item["title"], "Description": "Test advisory.", "Severity": item["severity"]}).encode())
                if item["package"] not in packages:
                    packages[item["package"]] = source.create_bucket(item["package"].encode())
                packages[item["package"]].put(item["id"].encode(), json.dumps({
                    "VulnerableVersions": item["vulnerable"], "PatchedVersions": item["patched"]}).encode())
    finally:
        database.close()
        database.close = lambda: None  # its __del__ would close the file a second time
    _fill_meta_checksums(path)
    now = datetime.datetime.now(datetime.timezone.utc)
    with open(os.path.join(db_dir, "metadata.json"), "w") as handle:
        json.dump({"Version": 2, "NextUpdate": (now + datetime.timedelta(days=1)).isoformat(),
                   "UpdatedAt": now.isoformat(), "DownloadedAt": now.isoformat()}, handle)
    return db_dir
