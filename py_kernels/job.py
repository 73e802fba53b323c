"""Runner for long backend jobs (training, large evaluations), started as a child process.

Usage: ``python3 -m py_kernels.job MODULE:FUNCTION SPEC.json``. The function is marked
with :func:`job` and called as ``function(spec, report)``; ``report(event)`` writes one
JSON line to stdout, which the TypeScript side reads as progress. Logs go to stderr. The
last line is ``{"event": "done", "result": ...}`` or
``{"event": "error", "type": ..., "message": ..., "traceback": ...}`` (exit code 1).
"""
import json
import os
import signal
import sys
import traceback

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from py_kernels.bridge import encode_nonfinite  # noqa: E402

JOB_ATTRIBUTE = "__gpstoken_job__"


def job(function):
    """Mark ``function(spec, report)`` as runnable by this module."""
    setattr(function, JOB_ATTRIBUTE, True)
    return function


def make_reporter(stream=None):
    """Return ``report(event)`` writing one flushed JSON line per event to ``stream``."""
    stream = stream or sys.stdout

    def report(event):
        stream.write(json.dumps(encode_nonfinite(event), allow_nan=False) + "\n")
        stream.flush()

    return report


def resolve_job(entry):
    import importlib

    module_name, _, function_name = entry.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"job {entry!r} must have the form 'module:function'")
    module = importlib.import_module(f"py_kernels.{module_name}")
    function = getattr(module, function_name, None)
    if function is None or not getattr(function, JOB_ATTRIBUTE, False):
        raise ValueError(f"{entry!r} is not a backend job")
    return function


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python3 -m py_kernels.job MODULE:FUNCTION SPEC.json\n")
        return 2
    entry, spec_path = argv
    stdout = sys.__stdout__  # py_kernels.bridge already pointed sys.stdout at stderr
    sys.stdout = sys.stderr  # stray prints must not corrupt the event stream
    report = make_reporter(stdout)
    # SIGTERM from the TypeScript side becomes KeyboardInterrupt, so jobs can save state.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with open(spec_path, "r", encoding="utf-8") as handle:
            spec = json.load(handle)
        result = resolve_job(entry)(spec, report)
        report({"event": "done", "result": result})
        return 0
    except KeyboardInterrupt:
        report({"event": "interrupted"})
        return 130
    except Exception as error:  # noqa: BLE001 - reported to the caller as an event
        report(
            {
                "event": "error",
                "type": type(error).__name__,
                "message": str(error),
                "traceback": traceback.format_exc(),
            }
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


@job
def wait_seconds(spec, report):
    """Report ``started`` and sleep ``spec["seconds"]``: lets tests stop a job that is running."""
    import time

    report({"event": "started"})
    time.sleep(float(spec.get("seconds", 30)))
    return {"slept": float(spec.get("seconds", 30))}
