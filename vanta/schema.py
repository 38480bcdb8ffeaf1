"""`vanta schema`: JSON Schema of every file vanta reads or writes, from the models."""

from __future__ import annotations

from pathlib import Path

from vanta import canonical
from vanta.models import SCHEMA_MODELS, Model


def schemas() -> dict[str, bytes]:
    from vanta.onboard import Packet  # the one input that is not a memory file

    models: dict[str, type[Model]] = {**SCHEMA_MODELS, "api_packet.json": Packet}
    out = {}
    for name, model in models.items():
        stem = name.rsplit(".", 1)[0]
        doc = model.model_json_schema(by_alias=True, mode="validation")
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"vanta/{stem}.schema.json",
               "description_file": name, **doc}
        # Schema bounds (minimum: 0.0) are numbers by design; this is no money file.
        out[f"{stem}.schema.json"] = canonical.dumps_trusted(doc)
    return out


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, data in sorted(schemas().items()):
        path = directory / fname
        path.write_bytes(data)
        written.append(path)
    return written
