"""The kernels drafts run in (opsnb.kernels, shared with the runbook runner): started ahead, warm code,
refilled after a run, the pool a process picks, and the drafting process's cheaper imports."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from opsnb.kernels import KernelPool, blocking_client
from opsnb.postmortems import kernel


def _run(km: object, code: str) -> str:
    out: list[str] = []
    kc = blocking_client(km)
    kc.start_channels()
    try:
        kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", "")))
    finally:
        kc.stop_channels()
    return "".join(out)


def test_a_prestarted_kernel_ran_its_warm_code_and_is_the_one_acquired() -> None:
    pool = KernelPool(size=0, warm_code="marker = 42\n")
    try:
        pool.prestart()
        pool.prestart()  # one is starting already: no second start
        assert pool._starting.get("python3", 0) + len(pool._ready.get("python3", [])) == 1
        km = pool.acquire()
        assert _run(km, "print(marker)").strip() == "42"
        assert pool._starting.get("python3", 0) == 0 and not pool._ready.get("python3")  # size 0: none kept
        pool.release(km)
    finally:
        pool.close()


def test_a_warm_pool_refills_after_the_run_not_during_it() -> None:
    pool = KernelPool(size=1, refill_on_release=True)
    try:
        pool.warm(wait=True, timeout=60)
        km = pool.acquire()
        assert pool._starting.get("python3", 0) == 0  # nothing competes with the run for the CPU
        pool.release(km)
        pool.warm(wait=True, timeout=60)
        assert len(pool._ready.get("python3", [])) == 1
    finally:
        pool.close()


def test_a_jupyter_server_process_drafts_with_a_warm_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # another test of this worker may have warmed this process's pool (ops.postmortems.warm()): start without
    monkeypatch.setattr(kernel, "_WARM", None)
    assert not kernel.in_jupyter_server() and kernel.default_pool() is kernel.cold_pool()

    class ServerApp:
        @staticmethod
        def initialized() -> bool:
            return True

    monkeypatch.setitem(sys.modules, "jupyter_server.serverapp", types.SimpleNamespace(ServerApp=ServerApp))
    try:
        assert kernel.in_jupyter_server()
        pool = kernel.default_pool()
        assert pool is kernel.warm_pool() and pool.refill_on_release and pool.warm_code == kernel.WARM_IMPORTS
    finally:
        if kernel._WARM is not None:
            kernel._WARM.close()


def test_notebook_libraries_load_without_their_unused_optional_parts_which_still_import_later() -> None:
    code = ("import sys\nfrom opsnb.kernels import import_notebook_libraries\nimport_notebook_libraries()\n"
            "assert 'rfc3987_syntax' not in sys.modules and 'nbformat' in sys.modules\n"
            "assert 'pyarrow' not in sys.modules and 'numpy' not in sys.modules and 'papermill' in sys.modules\n"
            "import jsonschema\n"
            "jsonschema.validate({'a': 1}, {'type': 'object', 'properties': {'a': {'type': 'integer'}}},"
            " format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)\n"
            "import importlib.util\n"
            "if importlib.util.find_spec('rfc3987_syntax'):\n    import rfc3987_syntax\n"
            "import pyarrow, pandas\nassert pandas.DataFrame({'a': [1]}).convert_dtypes(dtype_backend='pyarrow').size\n"
            "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
