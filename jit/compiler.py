"""Compiling the kernels once per process, with the object code cached between runs.

The cache key covers everything the machine code depends on: the IR generator's source
(or, where it cannot be read, the IR text), the LLVM version, the target triple and the
host CPU with its features. A cache hit skips building the IR and LLVM's optimiser and code
generator entirely: the object code is loaded as it is (milliseconds).
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
    target = llvm.Target.from_default_triple()
    cpu = llvm.get_host_cpu_name()
    features = llvm.get_host_cpu_features().flatten()
    machine = target.create_target_machine(cpu=cpu, features=features, opt=3,
                                           codemodel="jitdefault")
    host = [".".join(map(str, llvm.llvm_version_info)), target.triple, cpu, features]
    # Generating the IR takes longer than loading the object code (~0.13 s of a server's
    # start): where the generator's own source can be read, it is the key, and a hit loads
    # the object into an empty module without building the IR at all. (A frozen build's
    # modules have no source to read: there the IR text is the key.)
    ir_text = None
    key = _source_key()
    if key is None:
        ir_text = str(build_module())
        key = ir_text
    digest = hashlib.sha256("\0".join([key, *host]).encode()).hexdigest()[:32]
    cached = None if cache_dir is None else cache_dir / f"kernels-{digest}.o"
    from_cache = cached is not None and cached.exists()
    if from_cache and cached is not None:
        module = llvm.parse_assembly("")
        module.triple = target.triple
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.add_object_file(llvm.ObjectFileRef.from_data(cached.read_bytes()))
    else:
        module = llvm.parse_assembly(ir_text if ir_text is not None else str(build_module()))
        module.verify()
        tuning = llvm.create_pipeline_tuning_options(speed_level=3)
        passes = llvm.create_pass_builder(machine, tuning)
        passes.getModulePassManager().run(module, passes)
        engine = llvm.create_mcjit_compiler(module, machine)

        def notify(_module: object, data: bytes) -> None:
            if cached is not None:
                _write_atomically(cached, data)

        engine.set_object_cache(notify, lambda _module: None)
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


# What the machine code is generated from (and the compiler's options, in this file).
_GENERATOR_SOURCES = ("ir_kernels.py", "irgen.py", "layout.py", "reference.py", "compiler.py")


def _source_key() -> str | None:
    """The IR generator's source and llvmlite's version, or None where a source file
    cannot be read."""
    import llvmlite

    here = Path(__file__).parent
    try:
        parts = [(here / name).read_text(encoding="utf-8") for name in _GENERATOR_SOURCES]
    except OSError:
        return None
    return "\0".join(["source", llvmlite.__version__, *parts])


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
