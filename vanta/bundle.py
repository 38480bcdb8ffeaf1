"""Replay bundles: `replays/cycles/NNNNNN.json` manifests over a content-addressed
store `replays/objects/aa/bbbb...` (zlib-compressed, addressed by the sha256 of the
uncompressed bytes). A file that did not change between cycles is stored once."""

from __future__ import annotations

import hashlib
import threading
import zlib
from pathlib import Path

from vanta import canonical
from vanta.errors import StateError
from vanta.home import Home
from vanta.journal import make_dirs, write_durable
from vanta.models import Manifest
from vanta.validate import parse


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def object_path(home: Home, sha: str) -> Path:
    return home.replays / "objects" / sha[:2] / sha[2:]


def manifest_path(home: Home, cycle: int) -> Path:
    return home.replays / "cycles" / f"{cycle:06d}.json"


def put(home: Home, data: bytes) -> tuple[str, int]:
    """Store a blob; returns (its sha256, bytes added to the store)."""
    sha = digest(data)
    path = object_path(home, sha)
    if path.exists():
        return sha, 0
    packed = zlib.compress(data, 1)  # level 1: most of the ratio, a fifth of the time
    with _storing:
        if path.exists():
            return sha, 0
        make_dirs(path.parent)
        write_durable(path, packed)  # durable before the journal names it
    return sha, len(packed)


_storing = threading.Lock()
"""The commit stores objects from two threads: the same new object twice is written once."""


def get(home: Home, sha: str) -> bytes:
    path = object_path(home, sha)
    try:
        data = zlib.decompress(path.read_bytes())
    except FileNotFoundError:
        raise StateError(f"replay object {sha} is missing from {home.replays / 'objects'}") from None
    except zlib.error:
        raise StateError(f"replay object {path} is damaged (not zlib data)") from None
    if digest(data) != sha:
        raise StateError(f"replay object {path} does not match its hash")
    return data


def cycles(home: Home) -> list[int]:
    d = home.replays / "cycles"
    return sorted(int(p.stem) for p in d.glob("*.json")) if d.exists() else []


def load_manifest(home: Home, cycle: int) -> Manifest:
    path = manifest_path(home, cycle)
    if not path.exists():
        have = cycles(home)
        span = f"cycles {have[0]}..{have[-1]}" if have else "no cycles yet"
        raise StateError(f"no replay bundle for cycle {cycle} in {home.replays} ({span}); give a recorded cycle number")
    return parse(path.read_bytes(), Manifest, f"replays/cycles/{path.name}")


def manifest_bytes(m: Manifest) -> bytes:
    return canonical.dumps_trusted(m)
