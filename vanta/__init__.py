"""vanta: a deterministic, file-based vault-mirroring engine."""

__version__ = "0.1.0"
