"""Test set-up: an emulated 8-device CPU mesh, configured before jax is imported."""

import os
import sys

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# libtpu (the [tpu] extra, for compile_check) keeps a one-process lockfile; tests and the
# processes they start run side by side.
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")

# triton (the GPU kernel compiler the CUDA torch wheels depend on) segfaults when it is
# loaded into a process that already holds TensorFlow (clu's metric writers import it), and
# transformers' lazy imports load it through torch._dynamo: the CI run of 2026-12-01 lost
# three test_convert_hf workers that way (`import tensorflow; import triton` alone crashes). No test needs triton; with this
# entry `import triton` raises ImportError, which torch takes as "no triton".
sys.modules.setdefault("triton", None)

import jax  # noqa: E402  (must come after XLA_FLAGS)

jax.config.update("jax_default_matmul_precision", "highest")
