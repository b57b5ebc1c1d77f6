"""The pickle inspector: runs ONLY in a separate, restricted child process.

Started by :mod:`core.registry.formats.pickle_sandbox` as
``[unshare -n] python -I -c "from core.registry.formats.sandbox_inspect import main; main()" MODE``
with the pickle on stdin (an inherited file descriptor; the child needs no path to it), an empty
temp folder as its working directory, and stdout/stderr going to files the parent reads.

Before it reads a byte of the pickle it limits itself (address space, CPU seconds, open files,
size of any file it writes, no core dumps) and closes every other inherited descriptor. It is
normally started as ``nobody`` (``setpriv``); if it finds itself root, it drops to ``nobody``
itself, after importing the reviewed libraries it needs. If a limit cannot be applied it refuses
to go on. Then it unpickles with joblib, describes the model, optionally converts it to skops,
and prints one JSON line (marked with :data:`RESULT_MARK`) on the real stdout.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import traceback
import warnings

RESULT_MARK = "CHARTER-SANDBOX-RESULT "
LIMIT_VARS = ("CHARTER_SANDBOX_AS", "CHARTER_SANDBOX_CPU", "CHARTER_SANDBOX_FSIZE")
NOBODY = 65534


# When the inspector still runs as root (no ``setpriv``), reviewed library code is imported before
# it drops to ``nobody`` (the interpreter's files may not be readable then); never the pickle.
PRELOAD = ("joblib", "sklearn.base", "sklearn.pipeline", "sklearn.compose", "sklearn.linear_model",
           "sklearn.ensemble", "sklearn.tree", "sklearn.preprocessing", "sklearn.impute",
           "core.registry.formats.sklearn_describe")


def restrict(mode: str) -> dict[str, object]:
    """Apply the limits; return what was applied (reported back to the console)."""
    import importlib
    import resource

    address_space = int(os.environ.get("CHARTER_SANDBOX_AS", 2 << 30))
    cpu = int(os.environ.get("CHARTER_SANDBOX_CPU", 60))
    fsize = int(os.environ.get("CHARTER_SANDBOX_FSIZE", 64 << 20))
    limits = {resource.RLIMIT_AS: address_space, resource.RLIMIT_CPU: cpu,
              resource.RLIMIT_FSIZE: fsize, resource.RLIMIT_NOFILE: 64, resource.RLIMIT_CORE: 0}
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    os.closerange(3, 1 << 16)
    user = "nobody" if os.geteuid() == NOBODY else "unchanged"
    if os.geteuid() == 0:
        for module in PRELOAD + (("skops.io",) if mode == "convert" else ()):
            importlib.import_module(module)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        if os.geteuid() == 0 or os.getuid() == 0:
            raise RuntimeError("could not drop root privileges")
        user = "nobody"
    return {"address_space": address_space, "cpu_seconds": cpu, "file_size": fsize,
            "open_files": 64, "user": user, "pid": os.getpid()}


def main() -> None:
    real_stdout = sys.stdout
    mode = sys.argv[1] if len(sys.argv) > 1 else "describe"
    try:
        applied = restrict(mode)
    except Exception as exc:  # refuse to unpickle without the limits
        print(f"sandbox restrictions could not be applied: {exc}", file=sys.stderr)
        sys.exit(3)
    data = sys.stdin.buffer.read()
    sys.stdout = sys.stderr  # whatever the pickle prints must not pass for the result
    try:
        result = inspect(data, mode)
        result["sandbox"] = applied
    except BaseException as exc:  # noqa: BLE001 - report everything, including SystemExit
        traceback.print_exc(file=sys.stderr)
        result = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    real_stdout.write(RESULT_MARK + json.dumps(result, allow_nan=False) + "\n")
    real_stdout.flush()
    os._exit(0)  # skip atexit handlers and finalizers the pickle may have registered


def inspect(data: bytes, mode: str) -> dict[str, object]:
    import joblib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = joblib.load(io.BytesIO(data))
    if not hasattr(model, "get_params"):
        return {"error": f"the pickle holds a {type(model).__module__}.{type(model).__name__}, "
                         "not a scikit-learn model"}
    import sklearn

    from core.registry.formats.sklearn_describe import describe_estimator

    recorded = sklearn.__version__
    notes = []
    for w in caught:
        original = getattr(w.message, "original_sklearn_version", None)
        if original:
            recorded = str(original)
        notes.append(f"While loading: {w.message}")
    facts = describe_estimator(model)
    facts["warnings"] = notes + facts["warnings"]
    facts["library_versions"] = {"scikit-learn": recorded, "joblib": joblib.__version__}
    result: dict[str, object] = {"facts": facts}
    if mode == "convert":
        import skops.io as sio

        result["skops"] = base64.b64encode(sio.dumps(model)).decode("ascii")
    return result
