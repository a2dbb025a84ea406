"""The verifier of a one-spec generation, started in a second process at launch.

Verifying needs libcst, whose import is most of a cold `wrapgen SPEC -o OUT`
(its node classes alone take longer than Jinja, PyYAML and Typer together).
Nothing before verification needs it. So when the command line asks for one
spec, `start_for` forks, before anything else is imported, a process that
imports the verifier and waits for the rendered module; this process imports
the command line and the pipeline, loads, validates, plans and renders
meanwhile, and `verify_source` hands the text over and takes the findings
back. The module written is the same either way: the verifier process runs
`codegen.verify.verify_source` on the same text, and whenever it cannot
answer (it died, it raised, its reply is cut) the text is verified here.

It is used once, by the first verification; `stop` kills and reaps it when
the command ends without one (a fresh module, a spec with problems). It is
not started when the module looks up to date (it exists and is newer than
the spec), so regenerating a fresh module costs no second process. It
writes nothing and prints nothing (its standard streams are the null
device), and it leaves as soon as this process does, however it ends: a
thread of it waits on its request pipe, which closes then. Only a machine
with at least two usable cores forks, never with a standard stream closed,
and never a process that has imported TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# No `typing` or `collections.abc` here: whatever this module imports, both
# processes wait for before the fork.

_GENERATE_FLAGS = ("--force", "--skip-other-files")
_SPEC_SUFFIXES = (".yaml", ".yml")


class _Verifier:
    """The forked verifier: its pid and this side's ends of its two pipes."""

    def __init__(self, pid: int, request: int, reply: int) -> None:
        self.pid = pid
        self.request = request
        self.reply = reply


_started: _Verifier | None = None


def start_for(argv: list[str]) -> None:
    """Fork the verifier when `argv` (without the program name) generates one spec
    whose module is probably stale, and this machine has a core to spare for it."""
    global _started
    if _started is not None:
        return
    named = one_spec(argv)
    if named is None or _looks_fresh(*named) or not _can_fork():
        return
    # Ctrl-C is held until the verifier is recorded, so `stop` always finds it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        _started = _fork(previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def one_spec(argv: list[str]) -> tuple[str, str | None] | None:
    """(SPEC, OUT or None) when `argv` is `[generate] SPEC [-o OUT] [--force]
    [--skip-other-files]` with SPEC a `.yaml` or `.yml` file name; else None.

    Errs on the safe side: anything else (another command, `--help`, an
    option it does not know, several paths, a generated module named instead
    of its spec) is left to the command line without a verifier process.
    """
    args = list(argv[1:] if argv[:1] == ["generate"] else argv)
    paths: list[str] = []
    output = None
    while args:
        arg = args.pop(0)
        if arg in ("-o", "--output"):
            if not args:
                return None
            output = args.pop(0)
        elif arg.startswith("--output="):
            output = arg[len("--output=") :]
        elif arg.startswith("-o") and arg != "-o":
            output = arg[2:]
        elif arg in _GENERATE_FLAGS:
            continue
        elif arg == "--":
            paths.extend(args)
            break
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    if len(paths) != 1 or not paths[0].endswith(_SPEC_SUFFIXES):
        return None
    return paths[0], output


def _looks_fresh(spec: str, output: str | None) -> bool:
    """Whether the module is probably up to date, so that nothing will be verified:
    it exists and was written after the spec was last changed.

    A guess from two `stat` calls, as `make` guesses; the module is compared
    with a fresh rendering all the same. The module is `OUT`, or the spec's
    sibling `.py` without `-o` (a spec's `output:` key or `[tool.wrapgen]`
    may name another one: then this guesses stale, and the verifier starts).
    """
    if output == "-":
        return False
    module = output if output is not None else os.path.splitext(spec)[0] + ".py"
    try:
        return os.stat(module).st_mtime_ns >= os.stat(spec).st_mtime_ns
    except (OSError, ValueError):
        return False


def _can_fork() -> bool:
    if not hasattr(signal, "pthread_sigmask"):
        return False
    return fork_allowed() and usable_cores() >= 2


def fork_allowed() -> bool:
    """Whether this process may fork: the OS can, and TensorFlow (whose threads would
    not survive it) is not imported. Shared with `codegen.forked`."""
    return hasattr(os, "fork") and "tensorflow" not in sys.modules


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _fork(mask: set) -> _Verifier | None:
    """Fork the verifier (signals are held); `mask` is the signal mask to restore in it."""
    try:
        request_read, request_write = os.pipe()
    except OSError:
        return None
    try:
        reply_read, reply_write = os.pipe()
    except OSError:
        reply_read = reply_write = -1
    ends = (request_read, request_write, reply_read, reply_write)
    if min(ends) < 3:  # a pipe end took a closed standard stream's number, or none came
        for descriptor in ends:
            if descriptor >= 0:
                os.close(descriptor)
        return None
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:
        _serve(request_read, reply_write, (request_write, reply_read), mask)
    os.close(request_read)
    os.close(reply_write)
    if pid < 0:
        os.close(request_write)
        os.close(reply_read)
        return None
    return _Verifier(pid, request_write, reply_read)


def _serve(request: int, reply: int, parents: tuple[int, int], mask: set) -> None:
    """In the forked process: import the verifier, verify the one text sent, reply, exit.

    A thread waits on the request pipe from the start: when it closes with
    nothing sent (the command ended without verifying, or died, even by
    SIGKILL), the process leaves at once, also in the middle of an import.
    """
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for descriptor in parents:
            os.close(descriptor)
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)
        import _thread

        received: list[bytes] = []
        arrived = _thread.allocate_lock()
        arrived.acquire()

        def receive() -> None:
            try:
                data = _read_all(request)
            except BaseException:  # noqa: BLE001 - nothing to verify then
                data = b""
            if not data:
                os._exit(0)
            received.append(data)
            arrived.release()

        _thread.start_new_thread(receive, ())
        import pickle

        from codegen.verify import verify_source

        arrived.acquire()
        text, path, options = pickle.loads(received[0])
        try:
            answer: tuple = ("findings", verify_source(text, path, **options))
        except Exception:  # noqa: BLE001 - the command verifies again and reports it
            answer = ("raised",)
        _write_all(reply, pickle.dumps(answer))
        code = 0
    finally:
        os._exit(code)


def verify_source(text: str, path: str, **options: object) -> list:
    """`codegen.verify.verify_source(text, path, **options)`, in the verifier process
    when one was started (and not used yet), in this process otherwise."""
    if _started is not None:
        findings = _ask(_started, (text, path, options))
        if findings is not None:
            return findings
    from codegen.verify import verify_source as verify_here

    return verify_here(text, path, **options)


def _ask(verifier: _Verifier, request: tuple) -> list | None:
    """The verifier's findings, or None when it gave no complete answer; reaps it."""
    import pickle

    try:
        with contextlib.suppress(OSError):  # it is gone: its reply pipe says no more
            _write_all(verifier.request, pickle.dumps(request))
        _close(verifier, "request")
        reply, verifier.reply = verifier.reply, -1
        data = _read_all(reply)
    except BaseException:  # Ctrl-C while waiting: it must not outlive the command
        _end(verifier, kill=True)
        raise
    _end(verifier, kill=False)
    try:
        answer = pickle.loads(data)
    except Exception:  # noqa: BLE001 - cut short: it died while replying
        return None
    if isinstance(answer, tuple) and answer[:1] == ("findings",):
        return answer[1]
    return None


def stop() -> None:
    """Kill and reap a verifier nothing asked (the command ended without verifying)."""
    if _started is not None:
        _end(_started, kill=True)


def _end(verifier: _Verifier, *, kill: bool) -> None:
    """Close this side's pipe ends, kill the verifier when `kill`, reap it, forget it.

    It stays recorded until it is reaped, so a Ctrl-C landing in here
    leaves it to `stop`, which does this again.
    """
    global _started
    if kill and verifier.pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(verifier.pid, signal.SIGKILL)
    _close(verifier, "request")
    _close(verifier, "reply")
    if verifier.pid > 0:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(verifier.pid, 0)
        verifier.pid = -1
    _started = None


def _close(verifier: _Verifier, end: str) -> None:
    descriptor = getattr(verifier, end)
    setattr(verifier, end, -1)
    if descriptor >= 0:
        with contextlib.suppress(OSError):
            os.close(descriptor)


def _read_all(descriptor: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(descriptor, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(descriptor)
    return b"".join(chunks)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


__all__ = [
    "fork_allowed",
    "one_spec",
    "start_for",
    "stop",
    "usable_cores",
    "verify_source",
]
