"""The MovieLens 100K schema shared by the loader and the generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

#: The 19 genres in ``u.genre`` order (index 0..18); the flag columns of ``items`` follow it.
GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

#: ``ml-100k`` invariants (from the shared README) - valid for the real files only.
N_USERS = 943
N_ITEMS = 1682
N_RATINGS = 100_000
MIN_RATINGS_PER_USER = 20
#: First and last rating timestamps of the real set (1997-09-19 .. 1998-04-22, unix seconds).
TIMESTAMP_MIN = 874_724_710
TIMESTAMP_MAX = 893_286_638
#: Rating histogram of the real set, ratings 1..5.
RATING_COUNTS: tuple[int, ...] = (6_110, 11_370, 27_145, 34_174, 21_201)

OCCUPATIONS: tuple[str, ...] = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
ITEM_COLUMNS = ("item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES)
USER_COLUMNS = ("user_id", "age", "gender", "occupation", "zip_code")


@dataclass(frozen=True)
class MovieLens:
    """One MovieLens-shaped data set.

    ``ratings``: ``user_id`` (int32), ``item_id`` (int32), ``rating`` (int8, 1..5),
    ``timestamp`` (int64 unix seconds), in file order (not sorted).
    ``items``: ``item_id`` (int32), ``title`` (str), ``release_date`` (datetime64, NaT when
    unknown), ``video_release_date`` (datetime64, always NaT), ``imdb_url`` (str), then one
    uint8 0/1 column per genre in :data:`GENRES` order.
    ``users``: ``user_id`` (int32), ``age`` (int16), ``gender`` ("M"/"F"), ``occupation`` (str),
    ``zip_code`` (str; not always numeric).
    ``source`` is ``"real"`` for the GroupLens files and ``"synthetic"`` for generated data.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    genres: tuple[str, ...]
    source: Literal["real", "synthetic"]

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def genre_matrix(self) -> np.ndarray:
        """``(n_items, 19)`` uint8 genre flags, rows in ``items`` order."""
        return self.items[list(self.genres)].to_numpy(dtype=np.uint8)

    def rating_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(user_id, item_id, rating, timestamp)`` as contiguous numpy arrays."""
        r = self.ratings
        return (
            r["user_id"].to_numpy(np.int32),
            r["item_id"].to_numpy(np.int32),
            r["rating"].to_numpy(np.int8),
            r["timestamp"].to_numpy(np.int64),
        )
