"""The words of the estimate's warnings, in English and French, with the values left open.

Every warning code raised by the estimation module (``result.warn(code, values=...)``) has a
message and an advice template here in every language of :data:`LANGUAGES`, with the same
placeholders; :class:`tiphub.estimate.advice.EstimateWarning` renders them. The English
rendering is the warning's ``message`` and ``advice`` (the JSON contract), so an English
template must reproduce the engine's sentence character for character.

Placeholders name a value the warning was built from, with an optional format after the
colon (rendered by :func:`tiphub.estimate.advice.render`, numbers in the language's style):

- ``n`` a whole number with thousands separators (``12,214``; ``12 214`` in French);
  ``f1``/``f2`` one or two decimals; ``p``/``p1`` a percentage; ``c`` a count, or the word
  for "unbounded" when there is no finite value;
- ``join:SEP`` a sequence joined by SEP (numbers as ``n``);
- ``each:FRAGMENT:SEP`` a sequence of mappings, each rendered with ``FRAGMENTS[FRAGMENT]``
  (or ``FRAGMENT.kind`` when the mapping has a ``kind``) and joined by SEP;
- ``frag:PREFIX`` the fragment ``PREFIX.value`` (``PREFIX.none`` for no value, ``PREFIX``
  otherwise), rendered with the warning's values;
- ``plural:ONE|OTHER`` the singular or plural words for a number or a sequence's length;
- ``existence`` the words of an existence code (SparseMSE's ``checkident``).

French follows the report's typography (see :mod:`tiphub.estimate.explain_texts`): a
no-break space before ``:`` and ``%``, a narrow no-break space before ``;``, written here as
``{NBSP}`` and ``{NNBSP}`` and filled in once below.
"""

from __future__ import annotations

from tiphub.estimate.explain_texts import LANGUAGES, NBSP, NNBSP

ROBUSTNESS = "`tiphub estimate robustness`"

# code -> language -> (message, advice)
WARNING_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    # ------------------------------------------------------------------ checks.py
    "methods-disagree": {
        "en": (
            "The methods disagree on this table: {figures:each:disagree_figure:; }. The 95% "
            "intervals of {pairs:each:pair:, } do not overlap (the highest figure is "
            "{factor:f1} times the lowest), so the figure depends on which assumption about "
            "the lists' dependence is right.",
            "Do not quote one figure alone: run " + ROBUSTNESS + " on the same file to compare "
            "every method and list merge or omission, and report the figure it recommends or "
            "the range.",
        ),
        "fr": (
            "Les méthodes ne concordent pas sur ce tableau{NBSP}: "
            "{figures:each:disagree_figure:{NNBSP}; }. Les intervalles à 95{NBSP}% ne se "
            "recoupent pas pour {pairs:each:pair:, } (le chiffre le plus élevé vaut "
            "{factor:f1} fois le plus bas){NNBSP}; le chiffre dépend donc de l'hypothèse "
            "retenue sur la dépendance entre les listes.",
            "Ne citez pas un chiffre isolé{NBSP}: lancez " + ROBUSTNESS + " sur le même "
            "fichier pour comparer toutes les méthodes et toutes les fusions ou omissions de "
            "listes, puis indiquez le chiffre qu'il recommande ou la fourchette.",
        ),
    },
    "small-sample": {
        "en": (
            "Only {observed:n} people are observed. With {lists} lists the methods need "
            "roughly {needed:n} or more (about {per_cell} per combination of lists) for the "
            "interval's approximations to hold; with fewer, the estimate and its interval can "
            "be far off, and small changes in the data move them a lot.",
            "Treat the figure as indicative only; collect more records for the same period "
            "or area, or combine periods or areas before estimating.",
        ),
        "fr": (
            "Le nombre de personnes observées n'est que de {observed:n}. Avec {lists} listes, "
            "les méthodes en demandent environ {needed:n} ou davantage (environ {per_cell} par "
            "combinaison de listes) pour que les approximations de l'intervalle soient "
            "valables{NNBSP}; en deçà, l'estimation et son intervalle peuvent être très "
            "éloignés de la réalité, et de petites modifications des données les font "
            "beaucoup varier.",
            "Ne présentez ce chiffre qu'à titre indicatif{NNBSP}; recueillez davantage de "
            "données pour la même période ou la même zone, ou regroupez des périodes ou des "
            "zones avant d'estimer.",
        ),
    },
    "few-overlaps": {
        "en": (
            "Only {recaptured:n} {recaptured:plural:person is|people are} on two or more "
            "lists. The estimate of how many were missed rests on these few people alone; "
            "below {minimum} the estimate is known to be strongly biased.",
            "Check that the linkage found everyone who is on several lists (a missed match "
            "inflates the estimate), and collect lists that share more people with these.",
        ),
        "fr": (
            "Le nombre de personnes figurant sur deux listes ou plus n'est que de "
            "{recaptured:n}. L'estimation du nombre de personnes manquées repose sur ces "
            "seules personnes{NNBSP}; en dessous de {minimum}, cette estimation est connue "
            "pour être fortement biaisée.",
            "Vérifiez que l'appariement a bien retrouvé toutes les personnes présentes sur "
            "plusieurs listes (une correspondance manquée gonfle l'estimation), et recueillez "
            "des listes qui ont davantage de personnes en commun avec celles-ci.",
        ),
    },
    "sparse-overlap": {
        "en": (
            "Some lists share almost no one with the other lists "
            "({weak:each:sparse_list:, } with any other list). How many people such a list "
            "misses is estimated from those few shared people alone, so the estimate depends "
            "heavily on them.",
            "Check the linkage for those lists; merge such a list with one recording similar "
            "people ({partner:frag:sparse_merge}) or leave it out (e.g. --omit {weakest}) and "
            "compare the estimates; better, find which of its people are also on the other "
            "lists.",
        ),
        "fr": (
            "Certaines listes n'ont presque personne en commun avec les autres "
            "({weak:each:sparse_list:, }, toutes autres listes confondues). Le nombre de "
            "personnes qu'une telle liste manque est estimé à partir de ces seules quelques "
            "personnes partagées{NNBSP}; l'estimation en dépend donc fortement.",
            "Vérifiez l'appariement de ces listes{NNBSP}; fusionnez une telle liste avec une "
            "liste qui enregistre des personnes semblables ({partner:frag:sparse_merge}) ou "
            "écartez-la (par exemple --omit {weakest}), puis comparez les estimations{NNBSP}; "
            "mieux encore, cherchez lesquelles de ses personnes figurent aussi sur les autres "
            "listes.",
        ),
    },
    "empty-overlap": {
        "en": (
            "Some pairs of lists share no one or almost no one ({pairs:each:empty_pair:, }). "
            "With {lists} lists, no model can then estimate whether those lists depend on each "
            "other; the estimate assumes they do not.",
            "Collect the overlap of those lists (which people are on both), or merge them "
            "(--merge {first_a}+{first_b}) and compare the estimates.",
        ),
        "fr": (
            "Certaines paires de listes n'ont personne ou presque personne en commun "
            "({pairs:each:empty_pair:, }). Avec {lists} listes, aucun modèle ne peut alors "
            "estimer si ces listes dépendent l'une de l'autre{NNBSP}; l'estimation suppose "
            "que non.",
            "Recueillez le recoupement de ces listes (quelles personnes figurent sur les "
            "deux), ou fusionnez-les (--merge {first_a}+{first_b}) et comparez les "
            "estimations.",
        ),
    },
    "infinite-terms": {
        "en": (
            "No one observed is on all the lists of {terms:join:, }, so the model sets "
            "{terms:plural:that interaction|those interactions} to −∞: it assumes nobody at "
            "all — seen or missed — is on those lists together. If people could be on them "
            "together, the estimate of the missed people is too low.",
            "If those lists could share people, collect their overlap, or merge them "
            "(--merge {first:join:+}) and compare; also compare with --method main and "
            + ROBUSTNESS
            + ".",
        ),
        "fr": (
            "Aucune personne observée ne figure sur toutes les listes de {terms:join:, }{NNBSP}; "
            "le modèle fixe donc {terms:plural:cette interaction|ces interactions} à −∞{NBSP}: "
            "il suppose que personne, observé ou non, ne figure à la fois sur ces listes. Si "
            "des personnes pouvaient y figurer ensemble, le nombre estimé de personnes "
            "manquées est trop bas.",
            "Si ces listes peuvent avoir des personnes en commun, recueillez leur "
            "recoupement, ou fusionnez-les (--merge {first:join:+}) et comparez{NNBSP}; "
            "comparez aussi avec --method main et " + ROBUSTNESS + ".",
        ),
    },
    "not-converged": {
        "en": (
            "The Poisson fit of the model did not converge, so the estimate may be wrong.",
            "Compare with --method main and " + ROBUSTNESS + "; merging or omitting lists "
            "that share almost no one usually lets the fit converge.",
        ),
        "fr": (
            "L'ajustement de Poisson du modèle n'a pas convergé{NNBSP}; l'estimation peut "
            "donc être fausse.",
            "Comparez avec --method main et " + ROBUSTNESS + "{NNBSP}; fusionner ou écarter "
            "les listes qui n'ont presque personne en commun permet généralement à "
            "l'ajustement de converger.",
        ),
    },
    "profile-unbounded": {
        "en": (
            "The profile-likelihood interval has no upper limit within 3 times the estimate: "
            "the data cannot rule out a much larger population.",
            "Report the interval as open above; merging lists that share few people, or "
            "collecting their overlap, narrows it.",
        ),
        "fr": (
            "L'intervalle de vraisemblance profilée n'a pas de limite supérieure en deçà de "
            "3 fois l'estimation{NBSP}: les données ne permettent pas d'exclure une "
            "population bien plus grande.",
            "Présentez l'intervalle comme ouvert vers le haut{NNBSP}; fusionner les listes "
            "qui ont peu de personnes en commun, ou recueillir leur recoupement, le resserre.",
        ),
    },
    "large-estimate": {
        "en": (
            "The estimate is {multiple:n} times the {observed:n} people observed: nearly "
            "everyone would be missed by every list. The lists overlap too little for the "
            "data to say much.",
            "Check the linkage (missed matches shrink the overlaps), and merge or omit lists "
            "that share almost no one; compare with " + ROBUSTNESS + ".",
        ),
        "fr": (
            "L'estimation vaut {multiple:n} fois les {observed:n} personnes "
            "observées{NBSP}: presque tout le monde échapperait à toutes les listes. Les "
            "listes se recoupent trop peu pour que les données permettent de conclure.",
            "Vérifiez l'appariement (les correspondances manquées réduisent les "
            "recoupements), et fusionnez ou écartez les listes qui n'ont presque personne en "
            "commun{NNBSP}; comparez avec " + ROBUSTNESS + ".",
        ),
    },
    "bootstrap-failures": {
        "en": (
            "{failed:n} of {requested:n} bootstrap replicates ({share:p}) gave no estimate "
            "and were left out, so the interval comes from the replicates that happened to be "
            "estimable and is likely too narrow.",
            "Merge or omit lists that share almost no one (resampling often empties their "
            "overlaps), and compare with " + ROBUSTNESS + ".",
        ),
        "fr": (
            "{failed:n} réplications bootstrap sur {requested:n} ({share:p}) n'ont donné "
            "aucune estimation et ont été écartées{NNBSP}; l'intervalle provient donc des "
            "seules réplications qui se sont trouvées estimables et est probablement trop "
            "étroit.",
            "Fusionnez ou écartez les listes qui n'ont presque personne en commun (le "
            "rééchantillonnage vide souvent leurs recoupements), et comparez avec "
            + ROBUSTNESS
            + ".",
        ),
    },
    "unstable-bootstrap": {
        "en": (
            "The bootstrap interval is unreliable: {reasons:each:unstable:; }. The estimate "
            "changes a lot from one resampled table to the next (often because the selected "
            "model changes), and the BCa interval cannot correct for that.",
            "Do not quote this interval. Run more replicates (e.g. --bootstrap 2000), compare "
            "with " + ROBUSTNESS + ", and merge or omit lists that share few people.",
        ),
        "fr": (
            "L'intervalle bootstrap n'est pas fiable{NBSP}: "
            "{reasons:each:unstable:{NNBSP}; }. L'estimation varie beaucoup d'un tableau "
            "rééchantillonné à l'autre (souvent parce que le modèle retenu change), et "
            "l'intervalle BCa ne peut pas corriger cet effet.",
            "Ne citez pas cet intervalle. Lancez davantage de réplications (par exemple "
            "--bootstrap 2000), comparez avec " + ROBUSTNESS + ", et fusionnez ou écartez les "
            "listes qui ont peu de personnes en commun.",
        ),
    },
    # ------------------------------------------------------------------ rcapture.py
    "rcapture-large-bias": {
        "en": (
            "Rcapture's asymptotic bias of this estimate ({bias:n}) is more than a tenth of "
            "it: the figure is unreliable.",
            "Compare with m0, mt and closedpms, or collect more overlaps between lists.",
        ),
        "fr": (
            "Le biais asymptotique de cette estimation calculé par Rcapture ({bias:n}) "
            "dépasse le dixième de sa valeur{NBSP}: le chiffre n'est pas fiable.",
            "Comparez avec m0, mt et closedpms, ou recueillez davantage de recoupements entre "
            "les listes.",
        ),
    },
    "rcapture-not-converged": {
        "en": (
            "The Poisson fit stopped after 25 iterations without converging (as R's glm "
            "would): some parameters drift, and the estimate depends on where it stopped.",
            "Treat the figure with caution; run tiphub estimate robustness to compare methods.",
        ),
        "fr": (
            "L'ajustement de Poisson s'est arrêté après 25 itérations sans converger (comme "
            "le ferait glm dans R){NBSP}: certains paramètres dérivent, et l'estimation "
            "dépend de l'endroit où il s'est arrêté.",
            "Considérez ce chiffre avec prudence{NNBSP}; lancez tiphub estimate robustness "
            "pour comparer les méthodes.",
        ),
    },
    "profile-lower-at-observed": {
        "en": (
            "The profile-likelihood interval reaches down to the number observed: the data "
            "cannot rule out that almost nobody was missed.",
            "Report the lower limit as the number observed; more overlap between lists "
            "would narrow the interval.",
        ),
        "fr": (
            "L'intervalle de vraisemblance profilée descend jusqu'au nombre de personnes "
            "observées{NBSP}: les données ne permettent pas d'exclure que presque personne "
            "n'ait été manqué.",
            "Indiquez le nombre de personnes observées comme limite inférieure{NNBSP}; un "
            "recoupement plus large entre les listes resserrerait l'intervalle.",
        ),
    },
    "rcapture-boundary-model": {
        "en": (
            "The best model by {criterion} has terms for lists that share (almost) no one: "
            "their parameters drift towards −∞ as in R's output, and the figure rests on that "
            "fit ({existence_code:existence}).",
            "Compare with --method bic, which leaves such models out, or merge lists that "
            "share no one.",
        ),
        "fr": (
            "Le meilleur modèle selon le {criterion} comporte des termes pour des listes qui "
            "n'ont (presque) personne en commun{NBSP}: leurs paramètres dérivent vers −∞, "
            "comme dans la sortie de R, et le chiffre repose sur cet ajustement "
            "({existence_code:existence}).",
            "Comparez avec --method bic, qui écarte ces modèles, ou fusionnez les listes qui "
            "n'ont personne en commun.",
        ),
    },
    # ------------------------------------------------------------------ dga.py
    "dga_range_truncated": {
        "en": (
            "the posterior still has {mass:p1} of its weight in the top tenth of the range "
            "searched (up to {top:n}), so the median and upper limit depend on where the "
            "range stops",
            "Quote the figure together with that range, and compare --method lcmcr and "
            "--method bic, which do not cap the population; the lists overlap too little to "
            "rule out larger populations.",
        ),
        "fr": (
            "La loi a posteriori garde {mass:p1} de son poids dans le dixième supérieur de la "
            "plage explorée (jusqu'à {top:n}){NNBSP}; la médiane et la limite supérieure "
            "dépendent donc de l'endroit où s'arrête cette plage.",
            "Citez le chiffre avec cette plage, et comparez avec --method lcmcr et --method "
            "bic, qui ne plafonnent pas la population{NNBSP}; les listes se recoupent trop peu "
            "pour exclure des populations plus grandes.",
        ),
    },
    # ------------------------------------------------------------------ bayesthresh.py
    "bayesthresh_low_acceptance": {
        "en": (
            "the {run:frag:mcmc_run} MCMC run accepted only {rate:p1} of its proposals, so "
            "its posterior is summarised from few distinct draws",
            "Compare runs with other --seed values before quoting the figure.",
        ),
        "fr": (
            "{run:frag:mcmc_run} n'a accepté que {rate:p1} de ses propositions{NNBSP}; sa loi "
            "a posteriori est donc résumée à partir de peu de tirages distincts.",
            "Comparez des exécutions lancées avec d'autres valeurs de --seed avant de citer "
            "le chiffre.",
        ),
    },
    # ------------------------------------------------------------------ linkage_error.py
    "linkage-error-not-in-interval": {
        "en": (
            "The table's linkage left {links:n} links uncertain, and the interval does not "
            "include that error: it is narrower than the data allow.",
            "{reason:frag:linkage_advice}",
        ),
        "fr": (
            "L'appariement du tableau a laissé {links:n} liens incertains, et l'intervalle ne "
            "tient pas compte de cette erreur{NBSP}: il est plus étroit que ne le permettent "
            "les données.",
            "{reason:frag:linkage_advice}",
        ),
    },
    # ------------------------------------------------------------------ api.py (strata)
    "lists-left-out": {
        "en": (
            "Lists with nobody on them in this stratum were left out: {dropped:join:, }.",
            "The stratum's estimate rests on the other lists only; merge strata if these "
            "lists matter for it.",
        ),
        "fr": (
            "Les listes sans aucune personne dans cette strate ont été écartées{NBSP}: "
            "{dropped:join:, }.",
            "L'estimation de la strate ne repose que sur les autres listes{NNBSP}; regroupez "
            "des strates si ces listes comptent pour elle.",
        ),
    },
    # ------------------------------------------------------------------ api.py (LCMCR)
    "lcmcr-chains-disagree": {
        "en": (
            "The {chains} LCMCR chains, run with the same settings from different random "
            "starts, did not settle on the same answer: their medians are {medians:join:, } "
            "(split-R̂ {rhat:f2}; above {limit} means they disagree). The model finds several "
            "quite different population sizes compatible with the lists, and the sampler "
            "stays in one of them for a long time; the pooled figure {population:n} mixes "
            "them and no single chain's figure can be trusted alone.",
            "Run longer and with more chains (e.g. --burnin 1000000 --chains 8). If the "
            "chains still disagree, report the range of their medians rather than one figure, "
            "and compare with the log-linear methods (tiphub estimate robustness).",
        ),
        "fr": (
            "Les {chains} chaînes LCMCR, lancées avec les mêmes réglages à partir de départs "
            "aléatoires différents, n'ont pas abouti au même résultat{NBSP}: leurs médianes "
            "sont {medians:join:, } (R̂ scindé {rhat:f2}{NNBSP}; au-delà de {limit}, elles "
            "divergent). Le modèle juge compatibles avec les listes plusieurs tailles de "
            "population très différentes, et l'échantillonneur reste longtemps dans l'une "
            "d'elles{NNBSP}; le chiffre groupé, {population:n}, les mélange, et le chiffre "
            "d'aucune chaîne prise isolément n'est fiable.",
            "Lancez des chaînes plus longues et plus nombreuses (par exemple --burnin 1000000 "
            "--chains 8). Si elles divergent encore, indiquez la fourchette de leurs médianes "
            "plutôt qu'un chiffre unique, et comparez avec les méthodes log-linéaires "
            "(tiphub estimate robustness).",
        ),
    },
    "lcmcr-chains-rough": {
        "en": (
            "The {chains} LCMCR chains agree only roughly: their medians are "
            "{medians:join:, } (split-R̂ {rhat:f2}). The sampler moves slowly on this table, "
            "so the figure carries a Monte-Carlo error of about ±{mcse:n} (apart from the "
            "interval, which is the statistical uncertainty).",
            "For a more precise figure run longer (e.g. --burnin 1000000 --thinning 500) or "
            "with more chains (--chains 8).",
        ),
        "fr": (
            "Les {chains} chaînes LCMCR ne concordent qu'approximativement{NBSP}: leurs "
            "médianes sont {medians:join:, } (R̂ scindé {rhat:f2}). L'échantillonneur "
            "progresse lentement sur ce tableau{NNBSP}; le chiffre comporte donc une erreur "
            "de Monte-Carlo d'environ ±{mcse:n} (en plus de l'intervalle, qui traduit "
            "l'incertitude statistique).",
            "Pour un chiffre plus précis, lancez des chaînes plus longues (par exemple "
            "--burnin 1000000 --thinning 500) ou plus nombreuses (--chains 8).",
        ),
    },
    "lcmcr-not-settled": {
        "en": (
            "{which:frag:lcmcr_which} still drifting after its burn-in (Geweke z = "
            "{geweke:f2}, split-R̂ {rhat:f2}: its early and late draws differ), so the figure "
            "may move with a longer run.",
            "Raise --burnin (e.g. to 1,000,000) and check that the chains' medians agree "
            "(--chains 4 or more).",
        ),
        "fr": (
            "{which:frag:lcmcr_which} encore après sa période de chauffe (z de Geweke = "
            "{geweke:f2}, R̂ scindé {rhat:f2}{NBSP}: ses premiers et ses derniers tirages "
            "diffèrent){NNBSP}; le chiffre peut donc changer avec une exécution plus longue.",
            "Augmentez --burnin (par exemple à 1{NNBSP}000{NNBSP}000) et vérifiez que les "
            "médianes des chaînes concordent (--chains 4 ou plus).",
        ),
    },
}

# Pieces of the templates above: name -> language -> template (same placeholders rules).
FRAGMENTS: dict[str, dict[str, str]] = {
    "unbounded": {"en": "unbounded", "fr": "sans limite"},
    "pair": {"en": "{a} and {b}", "fr": "{a} et {b}"},
    "disagree_figure": {
        "en": "{name} {population:c} (95% {low:c} – {high:c})",
        "fr": "{name} {population:c} (intervalle à 95{NBSP}%{NBSP}: {low:c} – {high:c})",
    },
    "sparse_list": {
        "en": "{name} shares {shared} of its {total:n}",
        "fr": "{name} en partage {shared} sur {total:n}",
    },
    "sparse_merge": {
        "en": "e.g. --merge {weakest}+{partner}",
        "fr": "par exemple --merge {weakest}+{partner}",
    },
    "sparse_merge.none": {
        "en": "with the list it resembles",
        "fr": "avec la liste qui lui ressemble",
    },
    "empty_pair": {"en": "{a} and {b} share {count}", "fr": "{a} et {b} en partagent {count}"},
    "unstable.z0": {
        "en": "the bias correction z0 is {z0:f2} ({share:p} of replicates fall below the estimate)",
        "fr": "la correction de biais z0 vaut {z0:f2} ({share:p} des réplications sont "
        "inférieures à l'estimation)",
    },
    "unstable.same-side": {
        "en": "every replicate falls on the same side of the estimate",
        "fr": "toutes les réplications tombent du même côté de l'estimation",
    },
    "unstable.median-outside": {
        "en": "the replicates' median ({median:c}) lies outside the 95% interval "
        "({low:c} – {high:c})",
        "fr": "la médiane des réplications ({median:c}) se situe hors de l'intervalle à "
        "95{NBSP}% ({low:c} – {high:c})",
    },
    "unstable.same-limits": {
        "en": "the 95% and 80% {sides:frag:limit_sides} limits are the same number "
        "({value:c}), i.e. the most extreme replicate, not a real limit",
        "fr": "les limites {sides:frag:limit_sides} à 95{NBSP}% et à 80{NBSP}% sont un seul "
        "et même nombre ({value:c}), c'est-à-dire la réplication la plus extrême, et non une "
        "vraie limite",
    },
    "limit_sides.lower": {"en": "lower", "fr": "inférieures"},
    "limit_sides.upper": {"en": "upper", "fr": "supérieures"},
    "limit_sides.both": {"en": "lower and upper", "fr": "inférieures et supérieures"},
    "mcmc_run.first": {"en": "first", "fr": "La première exécution MCMC"},
    "mcmc_run.final": {"en": "final", "fr": "L'exécution MCMC finale"},
    "linkage_advice.no-method": {
        "en": "Use a log-linear method (main, stepwise, aic-stepwise, bic) with --bootstrap 200.",
        "fr": "Utilisez une méthode log-linéaire (main, stepwise, aic-stepwise, bic) avec "
        "--bootstrap 200.",
    },
    "linkage_advice.too-many-lists": {
        "en": "A bootstrap of {method} takes at most {most} lists and this table has {lists}: "
        "merge lists (--merge A+B) until {most} remain, or use --method main, then add "
        "--bootstrap 200 (or add --allow-long to run it on all {lists} lists).",
        "fr": "Un bootstrap de {method} accepte au plus {most} listes et ce tableau en a "
        "{lists}{NBSP}: regroupez des listes (--merge A+B) jusqu'à n'en garder que {most}, ou "
        "utilisez --method main, puis ajoutez --bootstrap 200 (ou ajoutez --allow-long pour "
        "le lancer sur les {lists} listes).",
    },
    "linkage_advice.no-bootstrap": {
        "en": "Add --bootstrap 200 to redraw the uncertain links in every replicate.",
        "fr": "Ajoutez --bootstrap 200 pour tirer de nouveau les liens incertains dans chaque "
        "réplication.",
    },
    "lcmcr_which.several": {
        "en": "At least one LCMCR chain was",
        "fr": "Au moins une chaîne LCMCR dérivait",
    },
    "lcmcr_which.one": {"en": "The LCMCR chain was", "fr": "La chaîne LCMCR dérivait"},
}


def _fill_spaces(text: str) -> str:
    return text.replace("{NBSP}", NBSP).replace("{NNBSP}", NNBSP)


# The texts write no-break spaces as {NBSP} and {NNBSP}, visible in review; filled in once.
for _texts in WARNING_TEXTS.values():
    for _language, (_message, _advice) in _texts.items():
        _texts[_language] = (_fill_spaces(_message), _fill_spaces(_advice))
for _pieces in FRAGMENTS.values():
    for _language, _piece in _pieces.items():
        _pieces[_language] = _fill_spaces(_piece)

__all__ = ["FRAGMENTS", "LANGUAGES", "WARNING_TEXTS"]
