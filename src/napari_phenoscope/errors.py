"""Exceptions raised at the boundaries (files, columns, weights).

Every message names the file or column at fault, so that the CLI can print it as one
line and the widgets can show it as one notification.
"""

from __future__ import annotations


class PhenoscopeError(Exception):
    """Base class of the errors a user can fix (bad input, missing file, wrong column)."""


class PlateFormatError(PhenoscopeError):
    """A plate folder, image file, LoadData CSV or plate map cannot be read as expected."""


class RemoteDataError(PlateFormatError):
    """An ``s3://`` object is missing, refused, or could not be fetched after retries."""


class ProfileTableError(PhenoscopeError):
    """A profile table lacks a required column, has non-numeric features, or NaNs."""


class ModelWeightsError(PhenoscopeError):
    """A weights file is missing, corrupt, fails its checksum or does not fit the model."""


class ClusterError(PhenoscopeError):
    """A Dask scheduler cannot be reached, execution options conflict, or workers died."""


class QualityControlError(PhenoscopeError):
    """A QC threshold names an unknown measure, or QC leaves nothing to profile."""


class PhenoscopeWarning(UserWarning):
    """Something the user should know but that does not stop the run (one line)."""


class LabelsError(PhenoscopeError):
    """A label image given by the user is missing, not integer, or not the field's shape."""


def one_line(error: BaseException) -> str:
    """An exception as one readable line, as the docks show it.

    A :class:`PhenoscopeError` (the user can fix it) is its message's first line; any
    other error is prefixed by its type name, or is the type name alone when it has no
    message.

    Examples
    --------
    >>> one_line(PhenoscopeError("no column Metadata_Well in plate.csv"))
    'no column Metadata_Well in plate.csv'
    >>> one_line(KeyError())
    'KeyError'
    """
    text = str(error).strip().splitlines()[0].strip() if str(error).strip() else ""
    if isinstance(error, PhenoscopeError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
