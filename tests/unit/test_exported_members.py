"""The public surface is exactly what ``__all__`` says; it changes only on purpose."""

from __future__ import annotations

import vectorhouse

EXPECTED = {
    "AsyncHttpClient",
    "AsyncHttpCollection",
    "AuthenticationError",
    "CheckFinding",
    "CheckReport",
    "Client",
    "ClientClosedError",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConflictError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DefaultEmbeddingFunction",
    "DimensionMismatchError",
    "DiskFullError",
    "DuplicateIDError",
    "EmbeddingDriftError",
    "EmbeddingError",
    "EmbeddingFunction",
    "EmbeddingFunctionConflictError",
    "EphemeralClient",
    "Fusion",
    "GetResult",
    "Hit",
    "HttpClient",
    "HttpCollection",
    "IDAlreadyExistsError",
    "InvalidArgumentError",
    "InvalidCollectionNameError",
    "InvalidEmbeddingError",
    "InvalidFilterError",
    "InvalidIDError",
    "InvalidIncludeError",
    "InvalidMetadataError",
    "InvalidNResultsError",
    "K",
    "Key",
    "Knn",
    "Limit",
    "MilvusClient",
    "NotFoundError",
    "NotSupportedError",
    "PersistentClient",
    "QueryResult",
    "ReadOnlyDatabaseError",
    "ReadOnlyError",
    "Record",
    "Rrf",
    "Search",
    "SearchResult",
    "Select",
    "ResetNotAllowedError",
    "ServerError",
    "ServerUnavailableError",
    "Settings",
    "StorageError",
    "StorageIOError",
    "Val",
    "VectorhouseError",
    "__version__",
}


def test_all_lists_the_public_surface() -> None:
    assert set(vectorhouse.__all__) == EXPECTED


def test_all_is_sorted() -> None:
    assert vectorhouse.__all__ == sorted(vectorhouse.__all__)


def test_every_exported_name_exists_and_public_ones_claim_the_package() -> None:
    for name in vectorhouse.__all__:
        member = getattr(vectorhouse, name)
        if name.startswith("_"):
            continue
        module = getattr(member, "__module__", "")
        assert module.startswith("vectorhouse"), (name, module)


def test_every_error_derives_from_the_base_and_has_a_code() -> None:
    errors = [getattr(vectorhouse, n) for n in vectorhouse.__all__ if n.endswith("Error")]
    codes = set()
    for err in errors:
        assert issubclass(err, vectorhouse.VectorhouseError)
        codes.add(err.code)
    assert len(codes) == len(errors)


def test_importing_the_package_loads_no_model_runtime() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vectorhouse; "
        "print(sorted(m for m in ('onnxruntime', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
