# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Which tokenizers made a run's token records, and the checks that whatever reads or
continues the run uses the same ones.

A prepare run records its visual tokenizer (sha256 of the params) and its text tokenizer
(sha256 of the file) in `manifest-SPLIT.json` beside its shards. A training run writes
the pair of its records in WORKDIR/tokenizers.json (and an export copies it into
export_info.json), so that:
  - sample / evaluate without a tokenizer flag decode with the run's tokenizers;
  - sample / evaluate / init_from given other tokenizers refuse in one line naming both.
Codes of one tokenizer decoded by another are noise with exit code 0: never silent.
"""

from __future__ import annotations

import glob
import json
import os

from lumos_jax.data import sources
from lumos_jax.tokenizer import checkpoint_io
from lumos_jax.tokenizer import text as text_lib

RUN_FILE = "tokenizers.json"
EXPORT_FILE = "export_info.json"  # lumos_jax.export's record beside exported params
BUILTIN = "builtin:"


# ------------------------------------------------------------------ records' manifests


def _manifests_of(pattern: str) -> list[tuple[str, dict]]:
    """(path, manifest) of every prepare manifest listing a shard that `pattern` matches."""
    pattern = os.path.expanduser(pattern)
    shards = {os.path.basename(p) for p in glob.glob(pattern)}
    out = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(pattern), "manifest-*.json"))):
        with open(path) as f:
            manifest = json.load(f)
        files = {
            s["file"]
            for stream in manifest.get("streams", {}).values()
            for s in stream.get("shards", [])
        }
        if files & shards:
            out.append((path, manifest))
    return out


def _entry(path: str, manifest: dict) -> dict:
    """The tokenizer pair of one manifest, with the text tokenizer's file made absolute."""
    text = dict(manifest.get("text_tokenizer", {}))
    if text.get("file"):
        text["path"] = os.path.join(os.path.dirname(os.path.abspath(path)), text["file"])
    return dict(
        visual_tokenizer=manifest.get("visual_tokenizer", {}),
        text_tokenizer=text,
        manifest=os.path.abspath(path),
    )


def visual_sha(entry: dict | None) -> str:
    return ((entry or {}).get("visual_tokenizer") or {}).get("params_sha256", "")


def text_sha(entry: dict | None) -> str:
    return ((entry or {}).get("text_tokenizer") or {}).get("sha256", "")


def describe(entry: dict, halves=("visual", "text")) -> str:
    """'visual tokenizer tiny:1a2b.. (CKPT), text tokenizer sha256 3c4d.. (FILE)'."""
    v, t = entry.get("visual_tokenizer") or {}, entry.get("text_tokenizer") or {}
    parts = []
    if "visual" in halves and visual_sha(entry):
        parts.append(
            f"visual tokenizer {v.get('id') or visual_sha(entry)[:16]} "
            f"({v.get('checkpoint', 'checkpoint not recorded')})"
        )
    if "text" in halves and text_sha(entry):
        parts.append(
            f"text tokenizer sha256 {text_sha(entry)[:16]} "
            f"({t.get('path') or t.get('file') or 'file not recorded'})"
        )
    return ", ".join(parts) or "no recorded tokenizers"


def _differing(a: dict, b: dict) -> tuple:
    """The halves ('visual', 'text') two records name differently (unknown: never)."""
    return tuple(
        half
        for half, sha in (("visual", visual_sha), ("text", text_sha))
        if sha(a) and sha(b) and sha(a) != sha(b)
    )


def _differ(a: dict, b: dict) -> bool:
    return bool(_differing(a, b))


def source_tokenizers(spec: str, key: str = "sources") -> dict:
    """The tokenizer pair of the records `spec` names (from their prepare manifests);
    {} when none is recorded (TFDS, pickles, shards written by hand). Records of two
    tokenizers under one spec are an error naming `key` and both manifests."""
    found = {}
    for one in sources.parse_specs(spec):
        kind, _, pattern = one.partition(":")
        if kind != "array_record":
            continue
        for path, manifest in _manifests_of(pattern):
            entry = _entry(path, manifest)
            if found and _differ(found, entry):
                halves = _differing(found, entry)
                raise ValueError(
                    f"config {key}={spec!r} mixes records of two tokenizers: {path} says "
                    f"{describe(entry, halves)}, {found['manifest']} says "
                    f"{describe(found, halves)}"
                )
            found = found or entry
    return found


def _active_keys(config) -> list[str]:
    """The data keys a run reads: active streams' sources, then eval_sources."""
    keys = [
        f"data.streams.{name}.sources"
        for name in sorted(config.data.streams.keys())
        if config.data.streams[name].weight > 0 and config.data.streams[name].sources
    ]
    return keys + (["eval_sources"] if config.get("eval_sources") else [])


def _get(config, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def data_tokenizers(config) -> dict:
    """The tokenizer pair of a run's data (training streams and eval_sources), or {}.
    Keys whose records were made with different tokenizers are an error naming both
    (e.g. validation records of another visual tokenizer: its eval loss means nothing)."""
    found, found_key = {}, ""
    for key in _active_keys(config):
        spec = _get(config, key)
        if spec.startswith(BUILTIN):
            continue  # not made yet: a run resolves them first
        entry = source_tokenizers(spec, key)
        halves = _differing(found, entry)
        if halves:
            raise ValueError(
                f"config {key} holds records of {describe(entry, halves)} but {found_key} "
                f"holds records of {describe(found, halves)}; prepare both with the same "
                f"tokenizers"
            )
        if entry and not found:
            found, found_key = entry, key
    return found


# ------------------------------------------------------------------ runs and params


def write_run_record(workdir: str, entry: dict) -> None:
    path = os.path.join(workdir, RUN_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(entry, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _workdir_of(path: str) -> str | None:
    """A training workdir, one of its step dirs (WORKDIR/checkpoints/STEP) or None."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(os.path.join(path, "checkpoints")) or os.path.isfile(
        os.path.join(path, RUN_FILE)
    ):
        return path
    parent = os.path.dirname(path)
    if os.path.basename(parent) == "checkpoints":
        return os.path.dirname(parent)
    return None


def params_tokenizers(path: str) -> dict:
    """The tokenizer pair params at `path` were trained on: a training workdir or step
    dir (its tokenizers.json, else its config.json's data), or a params export
    (export_info.json); {} when nothing says (a Hugging Face directory, old runs)."""
    path = os.path.abspath(os.path.expanduser(path))
    export = os.path.join(path, EXPORT_FILE)
    if os.path.isfile(export):
        with open(export) as f:
            info = json.load(f)
        return {k: info[k] for k in ("visual_tokenizer", "text_tokenizer") if k in info}
    workdir = _workdir_of(path)
    if workdir is None:
        return {}
    record = os.path.join(workdir, RUN_FILE)
    if os.path.isfile(record):
        with open(record) as f:
            return json.load(f)
    return config_json_tokenizers(os.path.join(workdir, "config.json"))


def config_json_tokenizers(path: str) -> dict:
    """The tokenizer pair of the first training stream with a manifest in a run's
    config.json (runs written before tokenizers.json existed); {} when none."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        config = json.load(f)
    for name, stream in sorted(config.get("data", {}).get("streams", {}).items()):
        spec = (stream or {}).get("sources", "")
        if spec and not spec.startswith(BUILTIN):
            entry = source_tokenizers(spec, f"data.streams.{name}.sources")
            if entry:
                return entry
    return {}


def check_same(expected: dict, expected_what: str, got: dict, got_what: str) -> None:
    """Refuses (one line naming both) when two tokenizer records name different ones."""
    halves = _differing(expected or {}, got or {})
    if halves:
        raise ValueError(
            f"{got_what} and {expected_what} were made with different tokenizers: "
            f"{got_what}: {describe(got, halves)}; {expected_what}: "
            f"{describe(expected, halves)}"
        )


# ------------------------------------------------------------------ sample / evaluate


def _unset(value: str) -> bool:
    return not value or value.startswith(BUILTIN)


def use_run_tokenizers(sampling, params_path: str) -> dict:
    """Points `sampling` (config.sampling) at the tokenizers the params at `params_path`
    were trained with, where it names none of its own (empty, or the preset's built-in
    default); returns their record ({} when nothing is recorded)."""
    recorded = params_tokenizers(params_path) if params_path else {}
    ckpt = (recorded.get("visual_tokenizer") or {}).get("checkpoint", "")
    if ckpt and _unset(sampling.tokenizer_ckpt) and os.path.exists(ckpt):
        sampling.tokenizer_ckpt = ckpt
        sampling.tokenizer_preset = ""  # the architecture its trainer recorded
    text = (recorded.get("text_tokenizer") or {}).get("path", "")
    if text and _unset(sampling.text_tokenizer) and os.path.exists(text):
        sampling.text_tokenizer = text
    return recorded


def check_visual(recorded: dict, info: dict, given: str, params_path: str) -> None:
    """Refuses decoding the params' codes with a visual tokenizer of other weights."""
    check_same(
        recorded,
        f"the records of {params_path}",
        {"visual_tokenizer": info},
        f"the visual tokenizer {given} (config sampling.tokenizer_ckpt / --tokenizer_ckpt)",
    )


def check_text(recorded: dict, sha256: str, given: str, params_path: str) -> None:
    """Refuses prompts encoded by a text tokenizer other than the records' one."""
    check_same(
        recorded,
        f"the records of {params_path}",
        {"text_tokenizer": {"sha256": sha256, "path": given}},
        f"the text tokenizer {given} (config sampling.text_tokenizer / --text_tokenizer)",
    )


def check_sampling_tokenizers(sampling, vocab, recorded: dict, params_path: str) -> None:
    """Loads config.sampling's tokenizers (resolved paths) and refuses any that is not
    the one the params' records were made with."""
    if not recorded:
        return
    path = sampling.tokenizer_ckpt
    if path and not path.endswith(".safetensors"):
        info = checkpoint_io.load_visual_tokenizer(path, sampling.tokenizer_preset or None)[1]
        check_visual(recorded, info, path, params_path)
    if sampling.text_tokenizer:
        sha = text_lib.load(sampling.text_tokenizer, vocab).fingerprint()
        check_text(recorded, sha, sampling.text_tokenizer, params_path)
