"""Namespace overlays (`output: overlays`): the pure patch builder (patches) and its files (files).

The names of kustomize's build files live here, light to import: the stream front ends skip those
files, and only the overlay mode needs the patch builder (and its jsonpatch).
"""

import posixpath

# the file names kustomize looks for in a folder, in its order of preference
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def is_kustomization_file(file: str) -> bool:
    """A file kustomize reads as a folder's build instructions (often without apiVersion or kind)."""
    return posixpath.basename(file) in KUSTOMIZATION_FILES
