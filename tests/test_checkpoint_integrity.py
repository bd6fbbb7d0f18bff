"""Checkpoint checksums and damaged steps (lumos_jax/checkpoint_integrity.py and
Checkpointer.restore_latest): a step with a missing or cut file or a flipped bit is
reported in one line, moved aside (not deleted) and the previous step is restored."""

import glob
import hashlib
import logging
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lumos_jax import checkpoint, checkpoint_integrity

TARGET = {
    "w": jax.ShapeDtypeStruct((4000,), jnp.float32),
    "b": jax.ShapeDtypeStruct((3,), jnp.float32),
}


def _state(step):
    return {"w": jnp.arange(4000.0) + step, "b": jnp.full((3,), float(step))}


def _saved(directory, steps=(4, 8), async_save=False):
    ck = checkpoint.Checkpointer(str(directory), async_save=async_save)
    for step in steps:
        ck.save(step, _state(step), {"next_batch": step}, force=True)
    ck.close()
    return str(directory)


def _largest_data_file(step_dir):
    return max(glob.glob(f"{step_dir}/state/ocdbt.process_0/d/*"), key=os.path.getsize)


def _remove_manifest(step_dir):
    os.remove(f"{step_dir}/state/manifest.ocdbt")


def _truncate_data(step_dir):
    path = _largest_data_file(step_dir)
    os.truncate(path, os.path.getsize(path) // 2)


def _remove_data_item(step_dir):
    os.remove(f"{step_dir}/data/metadata")


def _flip_a_bit(step_dir):
    path = _largest_data_file(step_dir)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x10
    open(path, "wb").write(bytes(data))


DAMAGE = {
    "manifest.ocdbt removed": (_remove_manifest, "state/manifest.ocdbt is missing"),
    "data file truncated": (_truncate_data, "differs from its sha256"),
    "data/metadata removed": (_remove_data_item, "data/metadata is missing"),
    "one bit flipped": (_flip_a_bit, "differs from its sha256"),
}


@pytest.mark.parametrize("async_save", [False, True])
def test_every_file_of_a_step_has_its_sha256(tmp_path, async_save):
    """The sums match the files as sha256sum computes them, and a listed step has them."""
    d = _saved(tmp_path / "ck", async_save=async_save)
    for step in (4, 8):
        step_dir = os.path.join(d, str(step))
        sums = checkpoint_integrity.read_sums(step_dir)
        assert "state/manifest.ocdbt" in sums and "data/metadata" in sums
        files = [
            os.path.relpath(p, step_dir)
            for p in glob.glob(f"{step_dir}/**", recursive=True)
            if os.path.isfile(p)
        ]
        # All but the sums and the two files Orbax rewrites when it commits the step.
        assert sorted(files) == sorted(
            list(sums) + ["SHA256SUMS", "_CHECKPOINT_METADATA", "commit_success.txt"]
        )
        for rel, digest in sums.items():
            with open(os.path.join(step_dir, rel), "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == digest, rel
        assert checkpoint_integrity.verify(step_dir) == ("ok", "")


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_step_falls_back_to_the_previous_one(tmp_path, caplog, kind):
    damage, reason = DAMAGE[kind]
    d = _saved(tmp_path / "ck")
    damage(os.path.join(d, "8"))
    ck = checkpoint.Checkpointer(d, async_save=False)
    with caplog.at_level(logging.WARNING):
        step, state, data, _ = ck.restore_latest(TARGET)
    assert step == 4 and data["next_batch"] == 4
    np.testing.assert_array_equal(np.asarray(state["w"]), np.arange(4000.0) + 4)
    lines = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"checkpoint step 8 in {d} is damaged (") and reason in lines[0]
    assert "falling back to step 4" in lines[0]
    (aside,) = glob.glob(f"{d}/8.damaged-*")  # moved, not deleted
    assert os.path.basename(aside) in lines[0] and os.path.isdir(f"{aside}/state")
    assert ck.latest_step() == 4
    ck.save(12, _state(12), {"next_batch": 12}, force=True)  # Orbax keeps working
    ck.close()
    assert sorted(os.listdir(d)) == ["12", "4", os.path.basename(aside)]


def test_a_step_without_sums_that_fails_to_load_is_damaged(tmp_path, caplog):
    """Steps saved before sums existed are loaded unverified; one that fails to load
    is handled like a damaged step."""
    d = _saved(tmp_path / "ck")
    for step in (4, 8):
        os.remove(os.path.join(d, str(step), "SHA256SUMS"))
    _truncate_data(os.path.join(d, "8"))
    ck = checkpoint.Checkpointer(d, async_save=False)
    with caplog.at_level(logging.WARNING):
        assert ck.restore_latest(TARGET)[0] == 4
    assert "checkpoint step 8" in caplog.text and "failed to load" in caplog.text
    ck.close()


def test_a_config_that_does_not_fit_is_an_error_and_moves_nothing(tmp_path):
    d = _saved(tmp_path / "ck")
    ck = checkpoint.Checkpointer(d, async_save=False)
    wrong = dict(TARGET, w=jax.ShapeDtypeStruct((4001,), jnp.float32))
    with pytest.raises(ValueError, match=f"checkpoint step 8 in {d} does not fit this config"):
        ck.restore_latest(wrong)
    ck.close()
    assert sorted(os.listdir(d)) == ["4", "8"]


def test_no_intact_step_left_is_one_error(tmp_path):
    d = _saved(tmp_path / "ck")
    _flip_a_bit(os.path.join(d, "4"))
    _remove_manifest(os.path.join(d, "8"))
    ck = checkpoint.Checkpointer(d, async_save=False)
    with pytest.raises(
        FileNotFoundError,
        match="no intact checkpoint in .*: every step was damaged and moved aside",
    ):
        ck.restore_latest(TARGET)
    ck.close()
    assert len(glob.glob(f"{d}/*.damaged-*")) == 2
    assert checkpoint.Checkpointer(d).restore_latest(TARGET) is None


def test_intact_status_says_intact_only_when_verified(tmp_path):
    ck = checkpoint.Checkpointer(str(tmp_path / "ck"), async_save=True)
    assert ck.intact_status() == "no checkpoint was saved yet"
    ck.save(4, _state(4), {}, force=True)
    assert ck.intact_status() == "the last checkpoint, step 4, is intact (checksums verified)"
    _flip_a_bit(os.path.join(ck.directory, "4"))
    assert ck.intact_status().startswith(
        "the last checkpoint, step 4, is not known to be intact (state/ocdbt.process_0/d/"
    )
    ck.close()
    shutil.rmtree(tmp_path / "ck")
