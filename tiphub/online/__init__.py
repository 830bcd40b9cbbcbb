"""Detect online: screen job ads and recruiter pages for deceptive-recruitment indicators,
cluster the templates that networks reuse, check agencies against a licence register, and
preserve the evidence.

The analysis modules are pure functions over :class:`tiphub.online.ads.RawAd` values
(``ingest``, ``contacts``, ``indicators``, ``classifier``, ``templates``, ``register``,
``evidence``); ``hub`` stores ads, results, reviews and hand-overs in the case store under
the acting user's scope, and ``pipeline`` runs the analyses over what is stored.
Nothing here fetches a third-party page unless a user lists the URL and asks for it.
"""
