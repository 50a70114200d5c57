"""What the encoder computes in: chosen by what the hardware does natively, never by what it emulates.

`train.precision: auto` (the default) is bfloat16 on a GPU that has it and on a CPU whose bfloat16 matrix product is
native (AVX512-BF16 or AMX: a measured probe decides, cached per machine), float32 elsewhere (float16 autocast on a
GPU). Emulated bfloat16 is about 8x slower than float32 (README "Speed"). A model records the precision it was
trained in; scored on a machine that lacks bfloat16 it computes in float32, whose features differ by 1.7e-4 on
average.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from curation.files import USER_CACHE, staged_file

AUTO, BFLOAT16, FLOAT32 = "auto", "bfloat16", "float32"
CHOICES = (AUTO, BFLOAT16, FLOAT32)
# settings that change which kernels PyTorch runs (the probe's answer is kept per combination of them)
ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
NATIVE_FLAGS = frozenset(("avx512_bf16", "amx_bf16", "bf16"))  # x86 AVX512-BF16 and AMX; aarch64 BF16 (Linux's)
CACHE = USER_CACHE / "precision.json"

# bfloat16 and float32 features differ by 1.7e-4 on average and give the same AUCs (README "Speed"): the feature
# cache keys both alike, under bfloat16's name (the key caches of the former default already have)
CACHE_KEY = BFLOAT16

_said: set[str] = set()


def cpu() -> tuple[str, set[str]]:
    """The CPU's model name and its feature flags (Linux's /proc/cpuinfo; elsewhere the platform's name, no flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model or platform.machine(), flags


def describe_cpu() -> str:
    """One line for benchmark figures: the CPU's model and the flags that decide the encoder's speed."""
    model, flags = cpu()
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if f in flags]
    capped = [f"{k}={os.environ[k]}" for k in ISA_VARIABLES if os.environ.get(k)]
    return f"{model}; {os.cpu_count()} cores; flags: {' '.join(shown) or 'none of avx2/avx512/amx'}" + (
        f"; capped: {' '.join(capped)}" if capped else ""
    )


def native_bfloat16_cpu() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively, as PyTorch runs them here: only when the flags say it
    may, a probe times a bfloat16 product against float32 at the encoder's shape (once per machine, kernel settings
    and torch version: the answer is kept in ~/.cache/curation/precision.json)."""
    model, flags = cpu()
    native = flags & NATIVE_FLAGS
    if not native:
        return False
    import torch

    settings = [model, torch.__version__, sorted(native)]
    settings += [os.environ.get(k, "") for k in ISA_VARIABLES]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]
    known = _read_cache()
    if key not in known:
        known[key] = _probe()
        _write_cache(known)
    return bool(known[key])


def _probe() -> bool:
    """bfloat16 at least as fast as float32 on one feed-forward product of the encoder (1,280 tokens by 384 -> 1,536):
    native kernels run it about 3x faster, emulated ones about 8x slower (README "Speed")."""
    import torch

    x, w = torch.randn(1280, 384), torch.randn(1536, 384)

    def best(a, b) -> float:
        torch.nn.functional.linear(a, b)  # the first call builds the kernel
        times = []
        for _ in range(3):
            t = time.perf_counter()
            torch.nn.functional.linear(a, b)
            times.append(time.perf_counter() - t)
        return min(times)

    with torch.inference_mode():
        return best(x.bfloat16(), w.bfloat16()) <= best(x, w)


def _read_cache() -> dict:
    try:
        known = json.loads(CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _write_cache(known: dict) -> None:
    try:  # a cache that cannot be written only means probing again next time
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        with staged_file(CACHE) as staged:
            staged.write_text(json.dumps(known), encoding="utf-8")
    except OSError:
        pass


def fastest(dev: str) -> str:
    """The precision `dev` is fast at: bfloat16 where it is native, else float32 (float16 autocast on a GPU)."""
    import torch

    if dev.startswith("cuda"):
        return BFLOAT16 if torch.cuda.is_bf16_supported() else FLOAT32
    if dev == "cpu" and native_bfloat16_cpu():
        return BFLOAT16
    return FLOAT32  # a CPU without native bfloat16, mps and others


def resolve(setting: str, dev: str) -> str:
    """The precision a training run computes in: `setting` as the config says it, `auto` chosen for `dev`."""
    return fastest(dev) if setting == AUTO else setting


def for_scoring(trained: str, dev: str) -> tuple[str, str | None]:
    """The precision a model trained in `trained` computes in on `dev`, and a note when that is not `trained`:
    float32 is kept everywhere (every machine has it; folders written before `precision` are float32), bfloat16 where
    it is native, and elsewhere replaced by float32, whose features differ by 1.7e-4 on average (README "Speed": the
    in-pool AUCs move by at most 0.001), so the model's thresholds still hold."""
    if trained == FLOAT32 or fastest(dev) == BFLOAT16:
        return trained, None
    where = "this CPU has no native bfloat16" if dev == "cpu" else f"{dev} has no fast bfloat16"
    return FLOAT32, f"the model was trained in bfloat16; {where}: computing in float32 (as fast as this machine goes)"


def say_once(note: str | None) -> None:
    """A note on standard error, once per process."""
    if note and note not in _said:
        _said.add(note)
        print(f"note: {note}", file=sys.stderr)
