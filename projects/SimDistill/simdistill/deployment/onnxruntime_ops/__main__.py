"""``python -m simdistill.deployment.onnxruntime_ops``: builds the library, prints its path."""
from . import library_path

print(library_path())
