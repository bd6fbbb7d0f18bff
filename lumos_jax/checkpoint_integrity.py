# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Checksums of a checkpoint step's files, and moving a damaged step aside.

Each step directory holds SHA256SUMS in sha256sum's format (`cd STEP && sha256sum -c
SHA256SUMS` checks it by hand): one line per file of the step but two small ones Orbax
rewrites when it commits the step. checkpoint.Checkpointer writes it into Orbax's
temporary directory once every item is complete and before Orbax renames that
directory into place, so a step that is listed at all has its sums. A
step whose files differ from its sums (a flipped bit, a truncated or missing file) is
damaged; a step without SHA256SUMS was saved before sums existed and is unverified.

A damaged step is never deleted: it is renamed to `STEP.damaged-TIME` beside the steps
(Orbax lists only integer names), so its files stay there for a post-mortem.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import time

SUMS_NAME = "SHA256SUMS"
# Step-level files Orbax (re)writes when it commits the step, after the sums are made:
# its step metadata (commit time) and commit marker. Restoring reads neither's content.
_WRITTEN_AT_COMMIT = ("_CHECKPOINT_METADATA", "commit_success.txt")
_CHUNK = 16 << 20  # hashlib releases the GIL on large buffers: files hash in parallel
_WORKERS = 4


def _files(directory: str) -> list[str]:
    """Every file under `directory` but the sums and Orbax's commit-time files, as
    sorted relative paths."""
    out = []
    for root, _, names in os.walk(directory):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), directory)
            if rel not in (SUMS_NAME, SUMS_NAME + ".tmp") + _WRITTEN_AT_COMMIT:
                out.append(rel)
    return sorted(out)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_all(directory: str, rel_paths) -> dict[str, str]:
    with concurrent.futures.ThreadPoolExecutor(_WORKERS) as pool:
        sums = pool.map(lambda rel: file_sha256(os.path.join(directory, rel)), rel_paths)
        return dict(zip(rel_paths, sums))


def write_sums(directory: str) -> int:
    """Hashes every file of a finished step into DIRECTORY/SHA256SUMS (written to a
    temporary name, fsynced, renamed). Returns the number of bytes hashed."""
    rel_paths = _files(directory)
    sums = _hash_all(directory, rel_paths)
    tmp = os.path.join(directory, SUMS_NAME + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(f"{sums[rel]}  {rel}\n" for rel in rel_paths)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(directory, SUMS_NAME))
    return sum(os.path.getsize(os.path.join(directory, rel)) for rel in rel_paths)


def read_sums(directory: str) -> dict[str, str] | None:
    """{relative path: sha256 hex} from DIRECTORY/SHA256SUMS; None if there is none."""
    path = os.path.join(directory, SUMS_NAME)
    if not os.path.exists(path):
        return None
    sums = {}
    with open(path) as f:
        for line in f:
            digest, sep, rel = line.rstrip("\n").partition("  ")
            if not sep or len(digest) != 64:
                raise ValueError(f"{path}: line {line!r} is not 'SHA256  PATH'")
            sums[rel] = digest
    return sums


def verify(directory: str) -> tuple[str, str]:
    """-> ("ok", ""), ("unverified", why) or ("damaged", what differs: the first file
    that is missing, of another size or another hash)."""
    try:
        sums = read_sums(directory)
    except (ValueError, UnicodeDecodeError) as e:
        return "damaged", f"unreadable {SUMS_NAME} ({e})"
    if sums is None:
        return "unverified", f"no {SUMS_NAME} (saved before checkpoints had checksums)"
    missing = [rel for rel in sums if not os.path.isfile(os.path.join(directory, rel))]
    if missing:
        return "damaged", f"{missing[0]} is missing" + (
            f" (and {len(missing) - 1} more files)" if len(missing) > 1 else ""
        )
    actual = _hash_all(directory, list(sums))
    for rel, digest in sums.items():
        if actual[rel] != digest:
            return "damaged", f"{rel} differs from its sha256 in {SUMS_NAME}"
    return "ok", ""


def readable(directory: str) -> tuple[str, str]:
    """Whether this process can open every file the step's sums list (no hashing: the
    other processes of a job check this, the chief checks the sums) -> verify's verdicts."""
    try:
        sums = read_sums(directory)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return "damaged", f"unreadable {SUMS_NAME} ({e})"
    if sums is None:
        if not os.path.isdir(directory):
            return "damaged", "the step directory is missing"
        return "unverified", f"no {SUMS_NAME} (saved before checkpoints had checksums)"
    for rel in sums:
        try:
            with open(os.path.join(directory, rel), "rb"):
                pass
        except OSError as e:
            return "damaged", f"{rel} cannot be read ({e.strerror})"
    return "ok", ""


def move_aside(directory: str) -> str:
    """Renames a damaged step to `STEP.damaged-YYYYmmddTHHMMSS` (never deletes it)."""
    target = f"{directory}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
    n = 1
    while os.path.exists(target):  # two in the same second
        target = f"{directory}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{n}"
        n += 1
    os.rename(directory, target)
    return target
