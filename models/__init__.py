"""Model registry: the manifest of every model, verified files, downloads, and lazily loaded sessions.

Importing this package is cheap: onnxruntime and the engines are imported only when a model loads.
"""

from shadowlens.models.manifest import ModelFile, ModelSpec, load_manifest
from shadowlens.models.registry import FileStatus, ModelUnavailable, Registry, UnknownModel

__all__ = [
    "FileStatus",
    "ModelFile",
    "ModelSpec",
    "ModelUnavailable",
    "Registry",
    "UnknownModel",
    "load_manifest",
]
