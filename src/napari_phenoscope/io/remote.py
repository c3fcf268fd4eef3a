# Long (~410 lines): URLs, retries and the bounded, atomic ObjectCache are the one boundary
# to S3 that every s3:// read goes through.
"""Plates where they live: ``s3://`` objects fetched through a bounded, atomic on-disk cache.

Every reader in ``io`` works on local files; a field index whose folders are ``s3://`` URLs
(a Cell Painting Gallery LoadData CSV names them) is read by first asking ``fetch`` for a
local copy. Only the objects a field needs are fetched (a field's channels in parallel,
``fetch_all``), each once: the copy lands in the cache under ``<bucket>/<key>`` by an
atomic rename, so a file in the cache is always whole, and a revisit or a resumed run
reads it from disk. The cache is bounded: past its size limit the least recently used
files go. OME-Zarr plates on S3 are read through the same cache, object by object
(``io.remote_zarr``).

Access goes through s3fs (fsspec). Public buckets (``s3://cellpainting-gallery``) are read
anonymously; the user's own AWS configuration is used where they give one
(``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``), and ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) points at an S3-compatible store. Settings travel to Dask workers
as environment variables (a local cluster inherits them):

- ``PHENOSCOPE_S3_CACHE``: the cache folder (``--cache-dir``; default
  ``$PHENOSCOPE_CACHE/s3`` or ``~/.cache/napari-phenoscope/s3``);
- ``PHENOSCOPE_S3_CACHE_GB``: its size limit in GB (``--cache-size``; default 20);
- ``PHENOSCOPE_S3_ANON``: ``1`` / ``0`` forces unsigned / signed requests;
- ``PHENOSCOPE_S3_RETRIES`` (default 4) and ``PHENOSCOPE_S3_TIMEOUT`` (seconds per
  request, default 30): transient faults (timeouts, 5xx, throttling) are retried with
  exponential backoff, then reported in one line naming the object and what to do.

``pathlib.Path("s3://bucket/key")`` collapses the two slashes (``s3:/bucket/key``); the
field index keeps folders as strings, but code that joins them with ``Path`` hands that
form back, so both spellings are accepted here.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from napari_phenoscope.errors import RemoteDataError

CACHE_DIR_ENV = "PHENOSCOPE_S3_CACHE"
CACHE_SIZE_ENV = "PHENOSCOPE_S3_CACHE_GB"
ANON_ENV = "PHENOSCOPE_S3_ANON"
RETRIES_ENV = "PHENOSCOPE_S3_RETRIES"
TIMEOUT_ENV = "PHENOSCOPE_S3_TIMEOUT"
DEFAULT_CACHE_GB = 20.0
DEFAULT_RETRIES = 4
DEFAULT_TIMEOUT_S = 30.0
#: First wait between two tries (doubled each time, at most ``_MAX_BACKOFF_S``).
BACKOFF_S = 0.5
_MAX_BACKOFF_S = 20.0
_PARTIAL = ".partial"

Value = TypeVar("Value")


def is_remote(path: str | Path | None) -> bool:
    """True for an ``s3://`` URL (or the ``s3:/`` that ``pathlib.Path`` makes of one)."""
    return path is not None and str(path).startswith("s3:/")


def as_url(path: str | Path) -> str:
    """``s3://bucket/key`` from either spelling (``s3:/bucket/key`` after ``Path``)."""
    text = str(path).replace("\\", "/")
    if not is_remote(text):
        raise ValueError(f"{text} is not an s3:// URL")
    return "s3://" + text[len("s3:/") :].lstrip("/")


def display_path(path: str | Path) -> str:
    """A path as the user typed it: ``s3://`` URLs with both slashes, others as they are."""
    return as_url(path) if is_remote(path) else str(path)


def join_url(folder: str | Path, *names: str) -> str:
    """``folder/name...`` as an ``s3://`` URL (one slash between parts)."""
    url = as_url(folder).rstrip("/")
    return "/".join([url, *(name.strip("/") for name in names if name)])


def url_parent(url: str | Path) -> str:
    """The folder of an object: ``s3://b/a/x.csv`` -> ``s3://b/a``."""
    return as_url(url).rstrip("/").rsplit("/", 1)[0]


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise RemoteDataError(f"environment variable {name}={text!r} is not a number") from None


def anonymous() -> bool:
    """Unsigned requests unless the user configured AWS credentials (or forces either)."""
    forced = os.environ.get(ANON_ENV, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    configured = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE")
    return not any(os.environ.get(name) for name in configured)


def storage_options() -> dict[str, Any]:
    """s3fs options from the environment (see the module docstring).

    Retries are ours (``_with_retries``), so botocore tries once (and s3fs, ``filesystem``):
    one policy, one count, one message.
    """
    timeout = _env_float(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)
    options: dict[str, Any] = {
        "anon": anonymous(),
        "config_kwargs": {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"max_attempts": 1, "mode": "standard"},
        },
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    if os.environ.get("AWS_PROFILE") and not options["anon"]:
        options["profile"] = os.environ["AWS_PROFILE"]
    return options


def filesystem() -> Any:
    """An s3fs filesystem configured from the environment (fsspec caches the instance)."""
    import s3fs

    fs = s3fs.S3FileSystem(**storage_options())
    fs.retries = 1  # s3fs's own retry loop (a class attribute, not an argument): ours instead
    return fs


def _retries() -> int:
    return max(0, int(_env_float(RETRIES_ENV, DEFAULT_RETRIES)))


def _advice(url: str, error: BaseException) -> str:
    """One line: the object, what went wrong, what to do."""
    if isinstance(error, FileNotFoundError):
        return (
            f"missing object {url}: check the path (a LoadData CSV or plate names it) "
            "and that the bucket holds it"
        )
    if isinstance(error, PermissionError):
        if anonymous():
            return (
                f"{url} refuses anonymous access: for a private bucket set AWS_PROFILE "
                "(or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
            )
        return f"access to {url} denied with your AWS credentials: check AWS_PROFILE and the bucket"
    endpoint = storage_options().get("endpoint_url", "AWS S3")
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (
        f"cannot fetch {url} from {endpoint} after {_retries() + 1} tries ({reason}): "
        "check the network (or AWS_ENDPOINT_URL) and run again; finished fields are kept"
    )


def _with_retries(url: str, action: Callable[[], Value], missing_ok: bool = False) -> Value | None:
    """Run ``action``; retry transient faults with exponential backoff, else one-line error.

    A missing object is reported at once, or, with ``missing_ok``, answered with None (a
    zarr chunk never written is its fill value, not an error).
    """
    attempts = _retries() + 1
    for attempt in range(attempts):
        try:
            return action()
        except FileNotFoundError as error:
            if missing_ok:
                return None
            raise RemoteDataError(_advice(url, error)) from None
        except PermissionError as error:  # retrying will not help
            raise RemoteDataError(_advice(url, error)) from None
        except Exception as error:  # timeouts, 5xx, throttling, dropped connections
            if attempt == attempts - 1:
                raise RemoteDataError(_advice(url, error)) from None
            time.sleep(min(BACKOFF_S * 2**attempt, _MAX_BACKOFF_S))
    raise AssertionError("unreachable")


def exists(url: str | Path) -> bool:
    """True when the object exists (a HEAD request; faults retried, then raised)."""
    url = as_url(url)
    return bool(_with_retries(url, lambda: filesystem().exists(url)))


def list_objects(pattern: str) -> list[str]:
    """``s3://`` URLs matching a glob (``s3://b/workspace/load_data_csv/*/*/load_data*``)."""
    pattern = as_url(pattern)
    found = _with_retries(pattern, lambda: filesystem().glob(pattern))
    return sorted(f"s3://{key}" for key in found)


def default_cache_dir() -> Path:
    """``$PHENOSCOPE_S3_CACHE``, else ``s3/`` in phenoscope's cache folder."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("PHENOSCOPE_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "napari-phenoscope"
    return root / "s3"


class ObjectCache:
    """A bounded folder of whole objects, ``<root>/<bucket>/<key>``, least recently used out.

    Parameters
    ----------
    root
        The cache folder (created on first use).
    max_bytes
        Size limit; after a fetch, the least recently used files are removed until the
        cache is under it (the file just fetched always stays).
    """

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self._size: int | None = None
        self._pinned: Counter[Path] = Counter()
        self._lock = threading.Lock()

    def path_of(self, url: str | Path) -> Path:
        """Where the object of ``url`` lives in the cache (whether or not it is there)."""
        return self.root.joinpath(*as_url(url)[len("s3://") :].split("/"))

    def get(self, url: str | Path) -> Path:
        """The local copy of ``url``, fetched (atomically) if not cached.

        Raises
        ------
        RemoteDataError
            Naming the object: missing, access refused, or faults past the retries.
        """
        local = self._get(as_url(url), missing_ok=False)
        assert local is not None
        return local

    def get_if_exists(self, url: str | Path) -> Path | None:
        """``get``, but None for an object the bucket does not hold (other faults raise)."""
        return self._get(as_url(url), missing_ok=True)

    @contextmanager
    def pinned(self, paths: Iterable[Path]) -> Iterator[None]:
        """Keep these cached files through any eviction while the block runs.

        For readers that open cached files after fetching them (zarr reads an absent chunk
        as its fill value, so an evicted chunk would read as zeros, not fail).
        """
        held = list(paths)
        with self._lock:
            self._pinned.update(held)
        try:
            yield
        finally:
            with self._lock:
                self._pinned.subtract(held)
                self._pinned += Counter()  # drop the zero counts

    def _get(self, url: str, missing_ok: bool) -> Path | None:
        local = self.path_of(url)
        if local.is_file():
            with self._lock:
                self.hits += 1
            os.utime(local)  # recently used: last to be evicted
            return local
        with self._lock:
            self.misses += 1
        partial_dir = self.root / _PARTIAL
        partial_dir.mkdir(parents=True, exist_ok=True)
        partial = partial_dir / f"{uuid.uuid4().hex}{local.suffix}"

        def download() -> bool:
            filesystem().get_file(url, str(partial))
            return True

        try:
            if _with_retries(url, download, missing_ok) is None:
                return None  # not in the bucket (missing_ok)
            local.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, local)  # same folder tree: atomic, never a half file
        finally:
            partial.unlink(missing_ok=True)
        self._added(local)
        return local

    def size(self) -> int:
        """Bytes held (partial downloads not counted)."""
        return sum(path.stat().st_size for path in self._files())

    def clear(self) -> int:
        """Remove every cached object; returns the bytes freed."""
        freed = 0
        for path in self._files():
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
        with self._lock:
            self._size = 0
        return freed

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            path
            for path in self.root.rglob("*")
            if path.is_file() and _PARTIAL not in path.relative_to(self.root).parts[:1]
        ]

    def _added(self, local: Path) -> None:
        with self._lock:
            if self._size is None:
                self._size = self.size()
            else:
                self._size += local.stat().st_size
            if self._size > self.max_bytes:
                self._size = self._evict(keep=local)

    def _evict(self, keep: Path) -> int:
        files = sorted(self._files(), key=lambda path: path.stat().st_mtime)
        total = sum(path.stat().st_size for path in files)
        for path in files:
            if total <= self.max_bytes:
                break
            if path == keep or path in self._pinned:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
        return total


_CACHES: dict[tuple[Path, int], ObjectCache] = {}
_CACHES_LOCK = threading.Lock()


def object_cache() -> ObjectCache:
    """This process's cache for the current settings (one object per folder and limit)."""
    root = default_cache_dir()
    gigabytes = _env_float(CACHE_SIZE_ENV, DEFAULT_CACHE_GB)
    if gigabytes <= 0:
        raise RemoteDataError(f"{CACHE_SIZE_ENV} (--cache-size) must be positive, not {gigabytes}")
    key = (root, int(gigabytes * 1e9))
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = ObjectCache(*key)
        return _CACHES[key]


def configure_cache(cache_dir: str | Path | None = None, size_gb: float | None = None) -> None:
    """Set the cache folder and size limit for this process and the Dask workers it starts."""
    if cache_dir is not None:
        os.environ[CACHE_DIR_ENV] = str(Path(cache_dir).expanduser().resolve())
    if size_gb is not None:
        if size_gb <= 0:
            raise RemoteDataError(f"--cache-size must be a positive number of GB, not {size_gb}")
        os.environ[CACHE_SIZE_ENV] = str(size_gb)


def fetch(path: str | Path) -> Path:
    """A local, whole copy of an ``s3://`` object (from the cache, or fetched into it)."""
    return object_cache().get(path)


def localize(path: Path) -> Path:
    """``path`` itself if local, else its cached copy (``fetch``)."""
    return fetch(path) if is_remote(path) else path


def fetch_many(urls: Sequence[str], missing_ok: bool = False) -> dict[str, Path | None]:
    """Fetch objects into the cache in parallel; URL -> local copy (None: not in the bucket,
    with ``missing_ok``).

    Raises
    ------
    RemoteDataError
        The first object that could not be fetched, named.
    """
    cache = object_cache()
    unique = list(dict.fromkeys(as_url(url) for url in urls))
    get = cache.get_if_exists if missing_ok else cache.get
    if len(unique) < 2:
        return {url: get(url) for url in unique}
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        return dict(zip(unique, pool.map(get, unique), strict=True))


def fetch_all(paths: Sequence[str | Path | None]) -> None:
    """Fetch the remote ones of ``paths`` into the cache in parallel (a field's channels).

    Raises
    ------
    RemoteDataError
        The first object that could not be fetched, named.
    """
    remote = list(dict.fromkeys(as_url(p) for p in paths if p is not None and is_remote(p)))
    cache = object_cache()
    missing = [url for url in remote if not cache.path_of(url).is_file()]
    if len(missing) >= 2:  # one is fetched by its reader
        fetch_many(missing)
