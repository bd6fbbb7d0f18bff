# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""What every command-line entry point shares (train, sample, evaluate, demo,
compile_check, data.prepare, export).

- `process_defaults()` (run by the package's __init__, before JAX or TensorFlow start):
  JAX_PLATFORMS=cpu on a machine without an accelerator unless the user set it, so the
  libtpu in the venv (for mock-TPU compiles) does not probe for a TPU and print errors.
- `run(main, define_flags)`: absl flags whose config file, config keys and values are
  checked first; a bad command line is one line `PROG: error: ...` and exit code 2, an
  error of the run itself (a missing file, bad data, a config value a module refuses)
  one line and exit code 1; the traceback only with --verbosity=1.
- `quiet_libraries()`: warnings and this package's INFO (progress) reach the console,
  the libraries' INFO chatter (Orbax, Grain, clu, XLA) does not.

Only the standard library is imported at module level: `process_defaults` must run
before jax is imported.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import importlib.util
import logging as py_logging
import os
import re
import sys

# Device files of accelerators JAX can use: NVIDIA (and WSL2's /dev/dxg), AMD, and TPU
# VMs (/dev/accel* up to v5e, /dev/vfio/N on v5p and v6e).
ACCELERATOR_DEVICE_FILES = (
    "/dev/nvidia[0-9]*",
    "/dev/dxg",
    "/dev/kfd",
    "/dev/accel[0-9]*",
    "/dev/vfio/[0-9]*",
)
EXIT_USAGE = 2  # the command line is wrong (flags, config file, config keys or values)
EXIT_FAILURE = 1  # the run failed (missing or bad files, refused settings, non-finite loss)


class UsageError(ValueError):
    """A wrong command line found by a CLI itself (exit code 2)."""


def accelerator_present(find=glob.glob) -> bool:
    return any(find(pattern) for pattern in ACCELERATOR_DEVICE_FILES)


def process_defaults(environ=None, find=glob.glob) -> dict:
    """Environment defaults for this process and the ones it starts; never overrides a
    value the user set. Returns what it set."""
    environ = os.environ if environ is None else environ
    set_ = {}
    if (
        "JAX_PLATFORMS" not in environ
        and sys.platform.startswith("linux")
        and not accelerator_present(find)
    ):
        # Without an accelerator JAX ends up on the CPU anyway; saying so up front skips
        # the TPU probe of libtpu (installed for compile_check's mock TPUs), which prints
        # "Unable to initialize backend 'tpu'" / "unexpected worker hostname" errors.
        set_["JAX_PLATFORMS"] = "cpu"
    # TensorFlow only writes TensorBoard events here; its oneDNN notice at import is noise.
    if "TF_ENABLE_ONEDNN_OPTS" not in environ:
        set_["TF_ENABLE_ONEDNN_OPTS"] = "0"
    environ.update(set_)
    if "JAX_PLATFORMS" in set_ and environ is os.environ and "jax" in sys.modules:
        import jax  # local: at the top it would load jax before JAX_PLATFORMS is set

        if not jax.config.jax_platforms:  # read at jax's import: set it the other way too
            jax.config.update("jax_platforms", "cpu")
    return set_


def tpu_compile_only_env(topology: str, environ=None) -> None:
    """For a mock-TPU compile ('v5p:4x4x3') on a machine without TPUs: libtpu looks up
    its (absent) workers and accelerator type and logs errors without them. The topology
    compiled for comes from the topology name; these only need to parse ('v5p-48')."""
    environ = os.environ if environ is None else environ
    if not accelerator_present():
        kind, _, shape = topology.partition(":")
        chips = 1
        for d in shape.split("x"):
            chips *= int(d) if d.isdigit() else 1
        environ.setdefault("TPU_WORKER_HOSTNAMES", "localhost")
        environ.setdefault("TPU_ACCELERATOR_TYPE", f"{kind}-{chips}")


# ----------------------------------------------------------------------------- logging


class _ProgressOnly(py_logging.Filter):
    """Warnings and up from everyone; INFO only from this package."""

    def filter(self, record):
        path = record.pathname.replace(os.sep, "/")
        return record.levelno >= py_logging.WARNING or "/lumos_jax/" in path


class _RaisedToTheCaller(py_logging.Filter):
    """Orbax logs a failed background write with its traceback (three times over, and
    asyncio once per array as 'exception was never retrieved') and raises it at the next
    save or wait, where checkpoint.CheckpointWriteError makes it one line naming the
    directory and the cause: the logged copies are dropped."""

    def filter(self, record):
        if record.levelno < py_logging.ERROR or not record.exc_info:
            return True
        tb, paths = record.exc_info[2], [record.pathname]
        while tb is not None:
            paths.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        # TensorStore's own futures carry no Orbax frame, only the step's temporary path.
        return not (
            any("/orbax/" in p.replace(os.sep, "/") for p in paths)
            or ".orbax-checkpoint-tmp" in str(record.exc_info[1])
        )


def _unraisable_without_closed_loops(default):
    """After a failed Orbax write, TensorStore completes the futures of the event loops
    Orbax already closed: each prints 'RuntimeError: Event loop is closed' (dozens, all
    the same, saying nothing about the cause). Those are dropped; others print as usual."""

    def hook(unraisable):
        value = unraisable.exc_value
        if isinstance(value, RuntimeError) and str(value) == "Event loop is closed":
            return
        default(unraisable)

    hook.lumos_jax = True
    return hook


def quiet_libraries() -> None:
    """Keeps the libraries' INFO (per-save Orbax lines, Grain, clu, XLA) off the console;
    this package's INFO (progress, checkpoints) and every warning stay; an Orbax write
    error is the one line its caller raises. Idempotent."""
    from absl import logging as absl_logging  # local: stdlib-only at import (module doc)

    handler = absl_logging.get_absl_handler()
    for kind in (_ProgressOnly, _RaisedToTheCaller):
        if not any(isinstance(f, kind) for f in handler.filters):
            handler.addFilter(kind())
    if not getattr(sys.unraisablehook, "lumos_jax", False):
        sys.unraisablehook = _unraisable_without_closed_loops(sys.unraisablehook)
    root = py_logging.getLogger()
    if handler not in root.handlers:  # python loggers (lumos_jax.prepare) reach it too
        root.addHandler(handler)
    py_logging.getLogger("lumos_jax").setLevel(py_logging.INFO)


# ------------------------------------------------------------------------------ errors


def prog_name() -> str:
    """'lumos_jax.train' for `python -m lumos_jax.train`, else the script's name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None else os.path.basename(sys.argv[0] or "lumos_jax")


def one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@contextlib.contextmanager
def errors_as_one_line(
    prog: str, *, verbose: bool, code: int = EXIT_FAILURE, catch: tuple = (ValueError, OSError)
):
    """Turns the expected errors (`catch`) into `PROG: error: ...` on stderr and
    SystemExit(code) (UsageError: 2); with `verbose` they propagate with the traceback."""
    try:
        yield
    except catch as e:
        if verbose:
            raise
        exit_code = EXIT_USAGE if isinstance(e, UsageError) else code
        hint = "" if exit_code == EXIT_USAGE else " (--verbosity=1 shows the traceback)"
        print(f"{prog}: error: {one_line(e)}{hint}", file=sys.stderr, flush=True)
        raise SystemExit(exit_code) from None


def verbosity_in(argv) -> int:
    """absl's --verbosity / -v from a command line that may not parse."""
    value = "0"
    for i, arg in enumerate(argv):
        m = re.fullmatch(r"--?(?:verbosity|v)(?:=(.*))?", arg)
        if m:
            value = (
                m.group(1)
                if m.group(1) is not None
                else (argv[i + 1] if i + 1 < len(argv) else "0")
            )
    try:
        return int(value)
    except ValueError:
        return 0


# ------------------------------------------------------------------ config overrides


def load_config_file(spec: str):
    """`configs/t2v.py:tiny` -> get_config('tiny') of that file (as ml_collections
    loads it), with a UsageError naming the file or preset that is wrong."""
    path, _, arg = spec.partition(":")
    if not os.path.isfile(path):
        raise UsageError(
            f"--config={spec}: no config file {path!r} (expected e.g. "
            f"configs/t2v.py:tiny; configs/ holds t2i.py, t2v.py, i2v.py)"
        )
    module_spec = importlib.util.spec_from_file_location("_lumos_config_check", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
        return module.get_config(arg) if arg else module.get_config()
    except (ValueError, KeyError, TypeError, AttributeError, ImportError) as e:
        raise UsageError(f"--config={spec}: {one_line(e)}") from e


def config_paths(config, prefix: str = "") -> dict:
    """Every key of a ConfigDict as a dotted path -> its value (sub-dicts included)."""
    out = {}
    for key in config.keys():
        value = config[key]
        out[prefix + key] = value
        if hasattr(value, "keys") and hasattr(value, "to_dict"):
            out.update(config_paths(value, prefix + key + "."))
    return out


# What people type for the keys they change first (README "Training").
COMMON_NAMES = {
    "steps": "train.steps",
    "num_steps": "train.steps",
    "train_steps": "train.steps",
    "num_train_steps": "train.steps",
    "lr": "optim.lr",
    "learning_rate": "optim.lr",
    "batch_size": "data.batch_size",
    "batch": "data.batch_size",
    "workdir": "--workdir=DIR (a flag of its own, not a config key)",
}


def suggest(key: str, known) -> str:
    """' (did you mean optim.lr?)': the usual name for what `key` says, then the nearest
    known keys by full path and by last component."""
    last = key.rsplit(".", 1)[-1]

    def score(k):
        return (
            difflib.SequenceMatcher(None, key, k).ratio()
            + difflib.SequenceMatcher(None, last, k.rsplit(".", 1)[-1]).ratio()
        )

    best = [COMMON_NAMES[last.lower()]] if last.lower() in COMMON_NAMES else []
    best += sorted((k for k in known if score(k) >= 1.2 and k not in best), key=lambda k: -score(k))
    return f" (did you mean {' or '.join(best[:3])}?)" if best else ""


_BOOL = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


def check_value(name: str, current, text: str) -> None:
    """A command-line value for a scalar config field; other types are absl's to parse."""
    kind = type(current)
    try:
        if kind is bool:
            if text.lower() not in _BOOL:
                raise ValueError(text)
        elif kind is int:
            int(text)
        elif kind is float:
            float(text)
    except ValueError:
        what = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        raise UsageError(
            f"--config.{name}={text}: expected {what} (the config's value is {current!r})"
        ) from None


def check_config_overrides(argv, flag: str = "config") -> None:
    """Checks `--config.KEY=VALUE` arguments against the config file named by
    `--config=FILE[:ARG]`: unknown keys (with the nearest known ones) and scalar values
    that do not parse, before absl applies them."""
    spec = None
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{flag}="):
            spec = arg.split("=", 1)[1]
        elif arg == f"--{flag}" and i + 1 < len(argv):
            spec = argv[i + 1]
    overrides = [
        (m.group(2), m.group(3), m.group(1))
        for m in (re.fullmatch(rf"--(no)?{flag}\.([^=]+)(?:=(.*))?", a) for a in argv)
        if m
    ]
    if spec is None:
        if overrides:
            raise UsageError(
                f"--{flag}.{overrides[0][0]} needs --{flag}=FILE (e.g. "
                f"--{flag}=configs/t2v.py:tiny) before it"
            )
        return
    config = load_config_file(spec)
    known = config_paths(config)
    leaves = [k for k, v in known.items() if not hasattr(v, "to_dict")]
    for key, value, negated in overrides:
        if "[" in key:  # indexed fields: absl/ml_collections check those
            continue
        if key not in known:
            raise UsageError(f"--{flag}.{key}: no such config key in {spec}{suggest(key, leaves)}")
        if value is not None and not negated:
            check_value(key, known[key], value)


# ------------------------------------------------------------------------- entry point


def run(main, define_flags=None, *, catch: tuple = ()) -> None:
    """`app.run(main)` for a CLI module (call it under `if __name__ == "__main__"`).

    catch: error types besides ValueError and OSError that main may raise for a failed
    run (e.g. NonFiniteError), reported as one line with exit code 1.
    """
    from absl import app, flags  # local: stdlib-only at import (module doc)

    process_defaults()
    if define_flags is not None:
        define_flags()
    prog = prog_name()

    def parse(argv):
        with errors_as_one_line(
            prog,
            verbose=verbosity_in(argv[1:]) >= 1,
            code=EXIT_USAGE,
            catch=(ValueError, OSError, flags.Error, KeyError, AttributeError, TypeError),
        ):
            check_config_overrides(argv[1:])
            return flags.FLAGS(argv)

    def guarded(argv):
        if flags.FLAGS.verbosity < 1:
            quiet_libraries()
        with errors_as_one_line(
            prog, verbose=flags.FLAGS.verbosity >= 1, catch=(ValueError, OSError, *catch)
        ):
            return main(argv)

    app.run(guarded, flags_parser=parse)
