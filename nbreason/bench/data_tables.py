"""The tables the data questions are asked about, each read offline from the package that ships it:
scikit-learn's bundled data sets (not the downloaded ones) and vega_datasets' local files.
palmerpenguins and vega's cars, seattle-weather and stocks are kept out on purpose: they are
reserved for an outside check."""

from __future__ import annotations

import functools
from typing import Any, Callable

# -- the tables ----------------------------------------------------------------------------
# A loader's name travels with a problem, so the variables can be rebuilt anywhere.


def _sklearn(name: str, **options):
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")(as_frame=True, **options)


def sklearn_iris():
    bunch = _sklearn("iris")
    frame = bunch.frame.drop(columns="target")
    frame["species"] = bunch.target_names[bunch.target]
    return frame


def sklearn_wine():
    bunch = _sklearn("wine")
    frame = bunch.frame.drop(columns="target")
    frame["cultivar"] = bunch.target_names[bunch.target]
    return frame


def sklearn_diabetes():
    return _sklearn("diabetes", scaled=False).frame  # measured units (age in years, bmi in kg/m²)


def sklearn_breast_cancer():
    bunch = _sklearn("breast_cancer")
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = bunch.target_names[bunch.target]
    return frame


def _vega(name: str):
    from vega_datasets import local_data  # the files shipped in the package: never downloaded

    return local_data(name)


def vega_barley():
    return _vega("barley")


def vega_barley_1931():
    frame = _vega("barley")
    return frame[frame["year"] == 1931].reset_index(drop=True)


def vega_barley_1932():
    frame = _vega("barley")
    return frame[frame["year"] == 1932].reset_index(drop=True)


def vega_iowa_electricity():
    return _vega("iowa-electricity")


def vega_us_employment():
    return _vega("us-employment")


def vega_sf_temps():
    return _vega("sf-temps")


def vega_seattle_temps():
    return _vega("seattle-temps")


def vega_wheat():
    return _vega("wheat")


def vega_driving():
    return _vega("driving")


def vega_anscombe():
    return _vega("anscombe")


def vega_burtin():
    return _vega("burtin")


def vega_crimea():
    return _vega("crimea")


def vega_la_riots():
    return _vega("la-riots")


def vega_ohlc():
    return _vega("ohlc")


def vega_airports():
    return _vega("airports")


def vega_iris():
    return _vega("iris")


LOADERS: dict[str, Callable[[], Any]] = {f.__name__: f for f in (
    sklearn_iris, sklearn_wine, sklearn_diabetes, sklearn_breast_cancer, vega_barley, vega_barley_1931,
    vega_barley_1932, vega_iowa_electricity, vega_us_employment, vega_sf_temps, vega_seattle_temps, vega_wheat,
    vega_driving, vega_anscombe, vega_burtin, vega_crimea, vega_la_riots, vega_ohlc, vega_airports, vega_iris)}


@functools.lru_cache(maxsize=None)
def table(loader: str):
    return LOADERS[loader]()


def build_variables(problem) -> dict[str, Any]:
    """The variables to pass for a problem (or a DataQuestion), each a fresh copy of its table,
    so no run sees what an earlier one did to a shared frame."""
    tables = getattr(problem, "variables", None) or getattr(problem, "tables")
    return {name: table(loader).copy(deep=True) for name, loader in tables.items()}
