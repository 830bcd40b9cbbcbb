"""Detect online: screen job ads and recruiter pages for deceptive-recruitment indicators,
cluster the templates that networks reuse, check agencies against a licence register, and
preserve the evidence.

The analysis modules are pure functions over :class:`tiphub.online.ads.RawAd` values:
``ingest`` (files in), ``contacts`` (found, normalised, masked, hashed), ``indicators``
(the rules in ``data/indicators.json``), ``classifier`` (and the optional ``embeddings``),
``templates`` (and ``generator``, templated ads with their truth), ``register`` and
``evidence`` (bundles). ``hub`` stores ads, results, reviews and hand-overs in the case
store under the acting user's scope; ``pipeline`` runs the analyses over what is stored;
``charts`` draws the weekly statistics. Nothing here fetches a third-party page unless a
user lists the URL and runs ``fetcher``.
"""
