"""Transaction table layout."""

from __future__ import annotations

import numpy as np

#: Transaction kinds: ``purchase`` (merchant set, no destination account), ``transfer``
#: (account to account), ``deposit`` (cash-in; neither merchant nor destination).
TXN_KINDS: tuple[str, ...] = ("purchase", "transfer", "deposit")

#: Column -> dtype of the transactions frame. ``-1`` means "none" in id columns.
#: ``is_fraud`` and ``pattern_id`` are labels (ground truth), not observations.
TXN_DTYPES: dict[str, type | str] = {
    "txn_id": np.int64,
    "timestamp": np.int64,
    "src_account": np.int32,
    "dst_account": np.int32,
    "merchant_id": np.int32,
    "kind": object,
    "amount": np.float64,
    "lat": np.float64,
    "lon": np.float64,
    "city": object,
    "device_id": np.int64,
    "is_fraud": bool,
    "pattern_id": np.int32,
}
LABEL_COLUMNS: tuple[str, ...] = ("is_fraud", "pattern_id")
