# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""The shared command-line behaviour (lumos_jax/cli.py, lumos_jax/progress.py): no TPU
probe without a TPU, one-line errors with exit codes before the workdir is touched,
config-key suggestions, quiet library logs, progress lines."""

import logging
import os
import subprocess
import sys

import pytest

from lumos_jax import cli, config_lib
from lumos_jax.progress import Progress, duration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "configs/t2v.py:tiny"


def _user_env(**extra):
    """The environment of a user's shell: none of the test set-up's JAX settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JAX_PLATFORMS", "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS")
    }
    env.update(extra)
    return env


def _cli(module, *args, timeout=180, **env):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=_user_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------ process defaults


def test_cpu_platform_only_without_an_accelerator_and_never_over_the_user():
    if sys.platform.startswith("linux"):
        env = {}
        assert cli.process_defaults(env, find=lambda p: [])["JAX_PLATFORMS"] == "cpu"
        assert env["JAX_PLATFORMS"] == "cpu"
    env = {"JAX_PLATFORMS": "cuda"}
    cli.process_defaults(env, find=lambda p: [])
    assert env["JAX_PLATFORMS"] == "cuda"  # the user's choice stands
    for device in ("/dev/nvidia0", "/dev/accel0", "/dev/vfio/0", "/dev/kfd"):
        env = {}
        cli.process_defaults(env, find=lambda p, d=device: [d] if p[:8] == d[:8] else [])
        assert "JAX_PLATFORMS" not in env, device  # JAX picks the accelerator itself


@pytest.mark.skipif(cli.accelerator_present(), reason="this machine has an accelerator")
def test_no_tpu_probe_output_without_a_tpu():
    """libtpu is installed ([tpu] extra); a plain `import lumos_jax` keeps its probe quiet."""
    r = subprocess.run(
        [sys.executable, "-c", "import lumos_jax, jax; print(jax.devices()[0].platform)"],
        cwd=ROOT,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "cpu", r.stderr[-2000:]
    for noise in ("Unable to initialize backend", "unexpected worker hostname", "TPU"):
        assert noise not in r.stderr, r.stderr[-2000:]


# ------------------------------------------------------------ config keys and values


@pytest.mark.parametrize(
    "arg,message",
    [
        (
            "--config.optim.lrr=1",
            "--config.optim.lrr: no such config key in configs/t2v.py:tiny "
            "(did you mean optim.lr?)",
        ),
        ("--config.num_steps=20", "(did you mean train.steps"),
        ("--config.lr=1e-3", "(did you mean optim.lr?)"),
        ("--config.workdir=/tmp/x", "did you mean --workdir=DIR"),
        (
            "--config.train.steps=abc",
            "--config.train.steps=abc: expected an integer (the config's value is 3000)",
        ),
        ("--config.optim.lr=fast", "expected a number"),
        ("--config.train.async_checkpoint=maybe", "expected true or false"),
    ],
)
def test_config_override_errors_name_the_key_and_what_is_right(arg, message):
    with pytest.raises(cli.UsageError) as e:
        cli.check_config_overrides([f"--config={TINY}", arg])
    assert message in str(e.value)


def test_good_overrides_and_config_files():
    cli.check_config_overrides(
        [
            f"--config={TINY}",
            "--config.train.steps=2",
            "--config.optim.lr=3e-4",
            "--config.data.batch_size=4",
            "--noconfig.train.async_checkpoint",
            "--config.init_from=",
        ]
    )
    with pytest.raises(cli.UsageError, match="config preset 'huge': expected one of"):
        cli.check_config_overrides(["--config=configs/t2v.py:huge"])
    with pytest.raises(cli.UsageError, match="no config file 'configs/nope.py'"):
        cli.check_config_overrides(["--config=configs/nope.py"])
    with pytest.raises(cli.UsageError, match="needs --config=FILE"):
        cli.check_config_overrides(["--config.train.steps=2"])


def test_the_keys_the_readme_lists_exist():
    keys = cli.config_paths(config_lib.experiment("t2v", "tiny"))
    for key in (
        "train.steps",
        "data.batch_size",
        "optim.lr",
        "init_from",
        "data.streams.video.sources",
    ):
        assert key in keys, key


def test_errors_as_one_line_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        with cli.errors_as_one_line("prog", verbose=False):
            raise FileNotFoundError("config x='/nope': no files match\n  '/nope'")
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "prog: error: config x='/nope': no files match '/nope' (--verbosity=1 "
        "shows the traceback)\n"
    )
    with pytest.raises(SystemExit) as e:
        with cli.errors_as_one_line("prog", verbose=False):
            raise cli.UsageError("--flag: bad")
    assert e.value.code == 2 and capsys.readouterr().err == "prog: error: --flag: bad\n"
    with pytest.raises(ValueError):  # verbose: the exception itself, with its traceback
        with cli.errors_as_one_line("prog", verbose=True):
            raise ValueError("x")
    with pytest.raises(KeyError):  # not an expected error: never hidden
        with cli.errors_as_one_line("prog", verbose=False):
            raise KeyError("bug")
    assert cli.verbosity_in(["--verbosity=1"]) == 1 and cli.verbosity_in(["-v", "2"]) == 2
    assert cli.verbosity_in(["--config=x"]) == 0


def test_train_cli_bad_usage_is_one_line_and_writes_nothing(tmp_path):
    work = tmp_path / "w"
    r = _cli("lumos_jax.train", f"--config={TINY}", f"--workdir={work}", "--config.optim.lrr=1")
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip() == (
        "lumos_jax.train: error: --config.optim.lrr: no such config "
        "key in configs/t2v.py:tiny (did you mean optim.lr?)"
    )
    r = _cli(
        "lumos_jax.train",
        f"--config={TINY}",
        f"--workdir={work}",
        "--config.data.streams.video.sources=array_record:/nope/v-*.array_record",
        "--config.eval_sources=",
    )
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == [
        "lumos_jax.train: error: config data.streams.video.sources='array_record:/nope/"
        "v-*.array_record': no files match '/nope/v-*.array_record'; expected token records, "
        "e.g. array_record:GLOB of shards written by python -m lumos_jax.data.prepare "
        "(--verbosity=1 shows the traceback)"
    ]
    r = _cli(
        "lumos_jax.train", f"--config={TINY}", f"--workdir={work}", "--config.model.remat=bogus"
    )
    assert r.returncode == 2 and "model.remat='bogus'; expected" in r.stderr, r.stderr
    r = _cli(
        "lumos_jax.train",
        f"--config={TINY}",
        f"--workdir={work}",
        "--config.init_from=/nope/checkpoints/100",
    )
    assert (
        r.returncode == 1
        and "config init_from='/nope/checkpoints/100': no such directory" in r.stderr
    ), r.stderr
    assert not work.exists()  # no config.json, events or metrics.jsonl before the checks
    r = _cli(
        "lumos_jax.train",
        f"--config={TINY}",
        f"--workdir={work}",
        "--verbosity=1",
        "--config.data.streams.video.sources=array_record:/nope/v-*",
        "--config.eval_sources=",
    )
    assert r.returncode == 1 and "Traceback" in r.stderr  # asked for


@pytest.mark.parametrize(
    "module,args,message",
    [
        (
            "lumos_jax.sample",
            [f"--config={TINY}", "--workdir=/nope", "--prompt=a red circle"],
            "--out=DIR is required",
        ),
        (
            "lumos_jax.evaluate",
            [f"--config={TINY}", "--workdir=/nope"],
            "--workdir='/nope': no complete checkpoint under /nope/checkpoints",
        ),
        (
            "lumos_jax.compile_check",
            ["--config=configs/t2v.py:1b", "--topology=v9x:2x2"],
            "unknown chip 'v9x'",
        ),
        ("lumos_jax.demo", ["--workdir=/tmp/x", "--train_steps=abc"], "--train_steps"),
        ("lumos_jax.export", ["--checkpoint=/nope", "--out=/tmp/x"], "no state/ item"),
    ],
)
def test_every_cli_reports_errors_in_one_line(module, args, message):
    r = _cli(module, *args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode in (1, 2) and len(lines) == 1, r.stderr[-3000:]
    assert lines[0].startswith(f"{module}: error: ") and message in lines[0], lines


# ------------------------------------------------------------------ logs and progress


def test_console_filter_keeps_package_info_and_every_warning():
    f = cli._ProgressOnly()

    def rec(path, level=logging.INFO):
        return logging.LogRecord("x", level, path, 1, "m", None, None)

    assert f.filter(rec("/site/lumos_jax/data/prepare.py"))
    assert f.filter(rec("/site/lumos_jax/train.py"))  # progress lines
    assert not f.filter(rec("/site/orbax/checkpoint/checkpoint_manager.py"))
    assert not f.filter(rec("/site/grain/_src/python/data_loader.py"))
    # clu's per-step metric dumps: the progress line says what a reader needs
    assert not f.filter(rec("/site/clu/metric_writers/logging_writer.py"))
    assert f.filter(rec("/site/orbax/checkpoint/checkpoint_manager.py", logging.WARNING))


def test_progress_lines_every_n_and_after_an_interval():
    now, lines = [0.0], []
    p = Progress("train", 100, every=25, interval_s=30, log=lines.append, clock=lambda: now[0])
    for step in range(1, 101):
        now[0] += 2.0  # 2 s per step: 25 steps = 50 s > 30 s, so a line every 15 steps too
        p.update(step, loss=1.0 / step)
    steps = [int(line.split()[2].split("/")[0]) for line in lines]
    assert steps == [15, 25, 40, 50, 65, 75, 90, 100], lines
    assert lines[1] == "train step 25/100 (25%): loss 0.0400, 0.5 step/s, ETA 2m30s"
    assert lines[-1].endswith("ETA 0s")
    assert duration(42) == "42s" and duration(725) == "12m05s" and duration(7860) == "2h11m"
    quiet = Progress("x", 10, log=lines.append, clock=lambda: 0.0)
    assert quiet.update(3) is None and quiet.update(10) is not None  # the last one shows


def test_prepare_bad_inputs_are_one_line_and_write_nothing(tmp_path, capsys):
    from lumos_jax.data import prepare

    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    common = [f"--out={out}", "--tokenizer_ckpt=/nope/tok", "--text_tokenizer=/nope/t.json"]
    for videos, message in (
        (tmp_path / "missing", "no such directory or CSV file"),
        (empty, "no videos or images in it"),
    ):
        assert prepare.main([f"--videos={videos}", *common]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(
            f"lumos_jax.data.prepare: error: --videos={videos}: {message}"
        ), err
    (empty / "a.png").write_bytes(b"")  # an input, so the next check is reached
    assert prepare.main([f"--videos={empty}", *common]) == 1
    assert "--text_tokenizer=/nope/t.json: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_progress_counts_whole_units_and_fractions_in_the_percentage():
    lines = []
    p = Progress("evaluate", 2, unit="video", log=lines.append, clock=lambda: 0.0)
    p.update(0.8, force=True)
    assert lines[0].startswith("evaluate video 0/2 (40%): ")
