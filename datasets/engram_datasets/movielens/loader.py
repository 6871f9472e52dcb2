"""Loader for the GroupLens ``ml-100k`` files (``u.data``, ``u.item``, ``u.user``, ``u.genre``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import dataset_path
from .schema import GENRES, RATING_COLUMNS, USER_COLUMNS, MovieLens

REQUIRED_FILES = ("u.data", "u.item", "u.user", "u.genre")


def movielens_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``<data dir>/ml-100k`` (``root`` overrides the data directory)."""
    return dataset_path("ml-100k", root=root)


def movielens_available(root: str | os.PathLike[str] | None = None) -> bool:
    """True when all four required files are present."""
    d = movielens_dir(root)
    return all((d / f).is_file() for f in REQUIRED_FILES)


def read_genres(path: Path) -> tuple[str, ...]:
    """``u.genre`` (``name|index``) as names ordered by index."""
    pairs: list[tuple[int, str]] = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        name, idx = line.rsplit("|", 1)
        pairs.append((int(idx), name))
    return tuple(name for _, name in sorted(pairs))


def read_ratings(path: Path) -> pd.DataFrame:
    """``u.data``: tab-separated ``user_id item_id rating timestamp``, file order kept."""
    df = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=list(RATING_COLUMNS),
        dtype={"user_id": np.int32, "item_id": np.int32, "rating": np.int8, "timestamp": np.int64},
    )
    return df


def read_items(path: Path, genres: tuple[str, ...] = GENRES) -> pd.DataFrame:
    """``u.item`` (pipe-separated, latin-1) with typed columns and uint8 genre flags."""
    cols = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *genres]
    df = pd.read_csv(
        path,
        sep="|",
        header=None,
        names=cols,
        encoding="latin-1",
        dtype={
            "item_id": np.int32,
            "title": str,
            "release_date": str,
            "video_release_date": str,
            "imdb_url": str,
        }
        | dict.fromkeys(genres, np.uint8),
        keep_default_na=False,
    )
    df["release_date"] = pd.to_datetime(df["release_date"].replace("", None), format="%d-%b-%Y").astype(
        "datetime64[ns]"
    )
    df["video_release_date"] = pd.to_datetime(
        df["video_release_date"].replace("", None), format="%d-%b-%Y"
    ).astype("datetime64[ns]")
    return df


def read_users(path: Path) -> pd.DataFrame:
    """``u.user``: ``user_id | age | gender | occupation | zip_code`` (zip codes kept as text)."""
    return pd.read_csv(
        path,
        sep="|",
        header=None,
        names=list(USER_COLUMNS),
        dtype={"user_id": np.int32, "age": np.int16, "gender": str, "occupation": str, "zip_code": str},
        keep_default_na=False,
    )


def load_movielens(root: str | os.PathLike[str] | None = None) -> MovieLens:
    """Load the real ``ml-100k`` files; raises ``FileNotFoundError`` when any is missing."""
    d = movielens_dir(root)
    missing = [f for f in REQUIRED_FILES if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError(f"ml-100k files missing under {d}: {', '.join(missing)}")
    genres = read_genres(d / "u.genre")
    return MovieLens(
        ratings=read_ratings(d / "u.data"),
        items=read_items(d / "u.item", genres),
        users=read_users(d / "u.user"),
        genres=genres,
        source="real",
    )
