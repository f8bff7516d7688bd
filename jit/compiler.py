"""Compiling the kernels once per process, with the object code cached between runs.

The cache key covers everything the machine code depends on: the IR text, the LLVM
version, the target triple and the host CPU with its features. A cache hit skips LLVM's
optimiser and code generator entirely (loading takes milliseconds).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jit.ir_kernels import KERNEL_NAMES, build_module

# The per-token kernels run for a few microseconds and keep the GIL (PYFUNCTYPE): releasing
# and retaking it costs about as much as such a call, and while requests run concurrently
# every release can hand the GIL to another thread, so a token would wait for a thread
# switch. Only the prompt's reset, which can run long, releases it (CFUNCTYPE).
_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
FRAME_TYPE = ctypes.PYFUNCTYPE(_I64, _PTR)
FRAME_PROB_TYPE = ctypes.PYFUNCTYPE(ctypes.c_double, _PTR)
# A whole document is scored in one call (milliseconds), like reset: the GIL is released.
SCORE_TYPE = ctypes.CFUNCTYPE(_I64, _PTR, _PTR, _I64, _PTR)
SCORE_WEIGHTS_TYPE = ctypes.CFUNCTYPE(_I64, _PTR, _PTR, _PTR, _I64)
COLLECT_TYPE = ctypes.CFUNCTYPE(_I64, _PTR, _PTR, _I64, _PTR, _I64, _PTR, _PTR)
# The fit's objective passes take milliseconds too.
FIT_TYPE = ctypes.CFUNCTYPE(_I64, _PTR)
FRAME_INT_TYPE = ctypes.PYFUNCTYPE(_I64, _PTR, _I64)
FRAME_DOUBLE_TYPE = ctypes.PYFUNCTYPE(_I64, _PTR, ctypes.c_double)
SAMPLE_TYPE = ctypes.PYFUNCTYPE(_I64, _PTR, _I64, ctypes.c_double)
RESET_TYPE = ctypes.CFUNCTYPE(_I64, _PTR, _PTR, _I64)
TOP_TYPE = ctypes.PYFUNCTYPE(_I64, _PTR, _I64, _I64, _PTR, _PTR)


@dataclass
class NativeKernels:
    """The compiled kernels as ctypes functions (a jit.KernelSet): a frame is passed as its
    address (or a jit.frame.Frame, which ctypes turns into it), a buffer as its data's."""

    dist: Callable[..., int]
    stats: Callable[..., int]
    prob: Callable[..., float]
    score: Callable[..., int]
    score_weights: Callable[..., int]
    collect: Callable[..., int]
    cache_push: Callable[..., int]
    reset: Callable[..., int]
    sample: Callable[..., int]
    argmax: Callable[..., int]
    top: Callable[..., int]
    dry_apply: Callable[..., int]
    dry_restore: Callable[..., int]
    dry_argmax: Callable[..., int]
    dry_sample: Callable[..., int]
    fit_forward: Callable[..., int]
    fit_backward: Callable[..., int]
    fit_mixture: Callable[..., int]
    compile_seconds: float
    from_cache: bool
    engine: object  # keeps the machine code alive


def compile_native(cache_dir: Path | None) -> NativeKernels:
    """Compile (or load from ``cache_dir``) the kernels; raises if LLVM is unusable."""
    import llvmlite.binding as llvm

    started = time.perf_counter()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    ir_text = str(build_module())
    target = llvm.Target.from_default_triple()
    cpu = llvm.get_host_cpu_name()
    features = llvm.get_host_cpu_features().flatten()
    machine = target.create_target_machine(cpu=cpu, features=features, opt=3,
                                           codemodel="jitdefault")
    digest = hashlib.sha256("\0".join(
        [ir_text, ".".join(map(str, llvm.llvm_version_info)), target.triple, cpu, features]
    ).encode()).hexdigest()[:32]
    cached = None if cache_dir is None else cache_dir / f"kernels-{digest}.o"

    module = llvm.parse_assembly(ir_text)
    module.verify()
    from_cache = cached is not None and cached.exists()
    if not from_cache:
        tuning = llvm.create_pipeline_tuning_options(speed_level=3)
        passes = llvm.create_pass_builder(machine, tuning)
        passes.getModulePassManager().run(module, passes)
    engine = llvm.create_mcjit_compiler(module, machine)

    def notify(_module: object, data: bytes) -> None:
        if cached is not None and not from_cache:
            _write_atomically(cached, data)

    def getbuffer(_module: object) -> bytes | None:
        if cached is not None and from_cache:
            return cached.read_bytes()
        return None

    engine.set_object_cache(notify, getbuffer)
    engine.finalize_object()
    address = {name: engine.get_function_address(name) for name in KERNEL_NAMES}
    return NativeKernels(
        dist=FRAME_TYPE(address["hc_dist"]),
        stats=FRAME_TYPE(address["hc_stats"]),
        prob=FRAME_PROB_TYPE(address["hc_prob"]),
        score=SCORE_TYPE(address["hc_score"]),
        score_weights=SCORE_WEIGHTS_TYPE(address["hc_score_weights"]),
        collect=COLLECT_TYPE(address["hc_collect"]),
        cache_push=FRAME_INT_TYPE(address["hc_cache_push"]),
        reset=RESET_TYPE(address["hc_reset"]),
        sample=SAMPLE_TYPE(address["hc_sample"]),
        argmax=FRAME_INT_TYPE(address["hc_argmax"]),
        top=TOP_TYPE(address["hc_top"]),
        dry_apply=FRAME_TYPE(address["hc_dry_apply"]),
        dry_restore=FRAME_INT_TYPE(address["hc_dry_restore"]),
        dry_argmax=FRAME_TYPE(address["hc_dry_argmax"]),
        dry_sample=FRAME_DOUBLE_TYPE(address["hc_dry_sample"]),
        fit_forward=FIT_TYPE(address["hc_fit_forward"]),
        fit_backward=FIT_TYPE(address["hc_fit_backward"]),
        fit_mixture=FIT_TYPE(address["hc_fit_mixture"]),
        compile_seconds=time.perf_counter() - started,
        from_cache=from_cache,
        engine=engine,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Another process may compile at the same moment: write whole files only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".kernels-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError:
        pass  # a read-only data folder only costs a recompile next time
