# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""Imports point down the layers (README, "Architecture"); no module imports a CLI.

Every module under lumos_jax/ is parsed with ast; top-level and function-local imports
both count (a local import is still a dependency, only a hidden one).
"""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lumos_jax")

# Layer of each module: the longest matching dotted prefix wins.
LAYER_OF = {
    "lumos_jax.cli": "base",
    "lumos_jax.progress": "base",
    "lumos_jax.parallel": "base",
    "lumos_jax.checkpoint": "base",
    "lumos_jax.checkpoint_integrity": "base",
    "lumos_jax.metrics_io": "base",
    "lumos_jax.optim": "base",
    "lumos_jax.preemption": "base",
    "lumos_jax.distributed": "base",
    "lumos_jax.workdir_lock": "base",
    "lumos_jax.video_io": "base",
    "lumos_jax.pixels": "base",
    "lumos_jax.checkout": "base",  # where the checkout's configs/ and assets/ are
    "lumos_jax.layout": "layout",
    "lumos_jax.model": "model",
    "lumos_jax.tokenizer": "tokenizer",
    "lumos_jax.data": "data",
    "lumos_jax.sampling": "sampling",
    "lumos_jax.evaluation": "scorers",
    "lumos_jax.report": "scorers",
    "lumos_jax.train_step": "experiment",
    "lumos_jax.train_lib": "experiment",
    "lumos_jax.train_loop": "experiment",
    "lumos_jax.eval_lib": "experiment",
    "lumos_jax.config_lib": "experiment",
}
# What each layer may import (besides itself). The never-rules follow from what is
# missing: data -> model, model -> data / tokenizer, tokenizer -> data,
# sampling -> experiment (a Trainer), anything -> a CLI module.
MAY_IMPORT = {
    "base": {"base"},
    "layout": {"base"},
    "model": {"base", "layout"},
    "tokenizer": {"base", "layout", "model"},
    "data": {"base", "layout", "tokenizer"},
    "sampling": {"base", "layout", "model", "tokenizer", "data"},
    "scorers": {"base", "layout", "data"},
    "experiment": {"base", "layout", "model", "tokenizer", "data", "sampling", "scorers"},
    "cli": {"base", "layout", "model", "tokenizer", "data", "sampling", "scorers", "experiment"},
}
# The programs: flags + main run by cli.run / app.run, imported by nothing.
CLI_MODULES = {
    "lumos_jax.train",
    "lumos_jax.sample",
    "lumos_jax.evaluate",
    "lumos_jax.demo",
    "lumos_jax.export",
    "lumos_jax.compile_check",
    "lumos_jax.data.prepare",
    "lumos_jax.data.check",
    "lumos_jax.data.decode",
    "lumos_jax.tokenizer.train",
    "lumos_jax.tokenizer.fit",
}
# Libraries that also run as a script (a small main over their functions): imported
# for the functions, so they stay in their layer and may be imported.
LIBRARIES_WITH_A_MAIN = {
    "lumos_jax.cli",  # `python -m lumos_jax.cli`: the command list
    "lumos_jax.model.convert_hf",
    "lumos_jax.model.summary",
    "lumos_jax.tokenizer.convert_cosmos",
    "lumos_jax.data.lumos_pkl",
    "lumos_jax.tokenizer.text",  # `--train_bpe`: a BPE of one's own captions
}
# (importer, imported) pairs allowed for now, each with why.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(ROOT))[: -len(".py")]
    parts = rel.split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, str]:
    out = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                out[module_name(os.path.join(d, f))] = os.path.join(d, f)
    return out


MODULES = all_modules()


def layer(module: str) -> str | None:
    if module in CLI_MODULES:
        return "cli"
    if module == "lumos_jax":  # the package __init__ (re-exports cli.run)
        return "base"
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYER_OF:
            return LAYER_OF[".".join(parts[:n])]
    return None


def _resolve(name: str) -> str:
    """A dotted name -> the lumos_jax module it is or lives in."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str, path: str) -> list[tuple[int, str]]:
    """(line, imported lumos_jax module) of every import statement, at any depth."""
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [
                (node.lineno, _resolve(a.name))
                for a in node.names
                if a.name.split(".")[0] == "lumos_jax"
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] != "lumos_jax":
                continue
            for a in node.names:  # `from pkg import submodule` imports the submodule
                out.append((node.lineno, _resolve(f"{base}.{a.name}")))
    return out


def runs_as_main(path: str) -> bool:
    tree = ast.parse(open(path).read(), path)
    return any(isinstance(n, ast.If) and "__main__" in ast.dump(n.test) for n in tree.body)


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if layer(m) is None)
    assert not missing, (
        f"no layer for {missing}: add each to LAYER_OF in "
        f"tests/test_layering.py (and the README's architecture section)"
    )


def test_every_script_is_a_cli_or_a_library_with_a_main():
    scripts = {m for m, p in MODULES.items() if runs_as_main(p)}
    unknown = sorted(scripts - CLI_MODULES - LIBRARIES_WITH_A_MAIN)
    assert not unknown, (
        f"{unknown} run as programs: list each in CLI_MODULES (a thin "
        f"program, imported by nothing) or LIBRARIES_WITH_A_MAIN"
    )
    assert not CLI_MODULES - set(MODULES), "CLI_MODULES names a module that is gone"


def forbidden_imports() -> list[tuple[str, str]]:
    """(importing module, what is wrong) of every forbidden import."""
    bad = []
    for module, path in sorted(MODULES.items()):
        mine = layer(module)
        for line, target in imports_of(module, path):
            if target == module or (module, target) in KNOWN_EXCEPTIONS:
                continue
            theirs = layer(target)
            where = f"{os.path.relpath(path, os.path.dirname(ROOT))}:{line}"
            if target in CLI_MODULES:
                bad.append(
                    (
                        module,
                        f"{where}: {module} imports the CLI module {target} "
                        f"(move what it uses into a library module)",
                    )
                )
            elif theirs is not None and theirs != mine and theirs not in MAY_IMPORT[mine]:
                bad.append((module, f"{where}: {module} ({mine}) imports {target} ({theirs})"))
    return bad


def test_imports_point_down_and_never_at_a_cli():
    bad = forbidden_imports()
    assert not bad, "forbidden imports:\n" + "\n".join(text for _, text in bad)


def test_known_exceptions_are_still_needed():
    used = {(m, t) for m, p in MODULES.items() for _, t in imports_of(m, p)}
    stale = sorted(set(KNOWN_EXCEPTIONS) - used)
    assert not stale, f"KNOWN_EXCEPTIONS no longer needed, remove them: {stale}"


@pytest.mark.parametrize(
    "code, module, want",
    [
        (
            "from lumos_jax.train_step import Trainer",
            "lumos_jax.sampling.loaders",
            "(sampling) imports lumos_jax.train_step (experiment)",
        ),
        (
            "def f():\n    from lumos_jax.model import decoder",
            "lumos_jax.data.records",
            "(data) imports lumos_jax.model.decoder (model)",
        ),
        (
            "from lumos_jax import sample",
            "lumos_jax.eval_lib",
            "imports the CLI module lumos_jax.sample",
        ),
        ("from . import fsq", "lumos_jax.data.pipeline", None),  # lumos_jax.data.fsq: data
    ],
)
def test_the_check_catches_a_forbidden_import(tmp_path, monkeypatch, code, module, want):
    """A planted module: the checker names it, its line and both layers."""
    path = tmp_path / "planted.py"
    path.write_text(code + "\n")
    monkeypatch.setitem(MODULES, module, str(path))
    bad = [text for importer, text in forbidden_imports() if importer == module]
    if want is None:
        assert not bad
    else:
        assert len(bad) == 1 and want in bad[0], bad
