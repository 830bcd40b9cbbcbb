"""The words of the plain-language estimate report, in English and French.

A small catalogue rather than gettext: the web layer's ``.po`` catalogues cannot be imported
from the estimation module (domain code never imports the web layer), and these texts are
long paragraphs with named ``{placeholders}`` that a translator edits side by side. Every key
has every language, with the same placeholders; ``tests/estimate/test_explain.py`` checks it.

French follows the typographic rules of the Imprimerie nationale: a no-break space before
``:`` and ``%``, a narrow no-break space before ``;``, ``?`` and ``!``, and « guillemets ».
Placeholders are filled with HTML that has already been escaped.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")

NBSP = "\u00a0"  # before ":" and "%" and inside « »
NNBSP = "\u202f"  # before ";" "?" "!"

TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ page
    "page_title": {"en": "Population estimate", "fr": "Estimation de la population"},
    "footer": {
        "en": "Produced by tiphub's estimation module. Only aggregate counts are shown.",
        "fr": "Rapport produit par le module d'estimation de tiphub. Seuls des effectifs "
        "agrégés y figurent.",
    },
    "meta_file": {"en": "File {name}", "fr": "Fichier {name}"},
    "meta_lists": {"en": "{count} lists ({names})", "fr": "{count} listes ({names})"},
    "meta_observed": {"en": "{count} people observed", "fr": "{count} personnes observées"},
    "meta_method": {"en": "Method: {method}", "fr": "Méthode{NBSP}: {method}"},
    "meta_stratum": {"en": "stratum {name}", "fr": "strate {name}"},
    # ------------------------------------------------------------------ warnings
    "warnings_title": {"en": "Read this first", "fr": "À lire avant tout"},
    "warnings_intro": {
        "en": "These findings limit how far the figure can be trusted.",
        "fr": "Ces constats limitent la confiance que l'on peut accorder au chiffre.",
    },
    "what_to_do": {"en": "What to do:", "fr": "Que faire{NBSP}:"},
    "warnings_in_english": {
        "en": "",
        "fr": "Les constats ci-dessous sont rédigés en anglais par le moteur d'estimation.",
    },
    "warnings_some_in_english": {
        "en": "",
        "fr": "Ceux que le moteur d'estimation ne sait pas encore traduire restent en anglais.",
    },
    # ------------------------------------------------------------------ headline
    "headline": {
        "en": "An estimated {population} people belong to the population these lists cover "
        "(95% interval: {interval}). {observed} of them are recorded on at least one of the "
        "{lists} lists; about {dark} are recorded on none — the dark figure.",
        "fr": "On estime à {population} le nombre de personnes de la population couverte par "
        "ces listes (intervalle à 95{NBSP}%{NBSP}: {interval}). {observed} d'entre elles "
        "figurent sur au moins une des {lists} listes{NNBSP}; environ {dark} ne figurent "
        "sur aucune{NBSP}: c'est le chiffre noir.",
    },
    "interval_range": {"en": "{low} to {high}", "fr": "de {low} à {high}"},
    "interval_open": {
        "en": "at least {low}, with no upper limit",
        "fr": "au moins {low}, sans limite supérieure",
    },
    "unbounded": {"en": "unbounded", "fr": "illimité"},
    "not_available": {"en": "n/a", "fr": "n.d."},
    # ------------------------------------------------------------------ the figure
    "figure_title": {"en": "The figure and its interval", "fr": "Le chiffre et son intervalle"},
    "figure_confidence": {
        "en": "The best single figure is {population}. The 95% interval, {interval}, shows how "
        "much the figure could vary only because of which people happened to be recorded: if "
        "the same lists could be collected again many times, intervals built this way would "
        "contain the true number 95 times in 100 — provided the assumptions below hold. The "
        "interval does not allow for errors in those assumptions, which can move the figure "
        "by more than its width.",
        "fr": "La meilleure estimation est de {population}. L'intervalle à 95{NBSP}%, "
        "{interval}, indique de combien ce chiffre pourrait varier du seul fait du hasard, "
        "selon les personnes qui se sont trouvées enregistrées{NBSP}: si les mêmes listes "
        "pouvaient être constituées de nouveau un grand nombre de fois, les intervalles "
        "calculés de cette manière contiendraient le nombre réel 95 fois sur 100, à condition "
        "que les hypothèses exposées plus bas soient respectées. L'intervalle ne tient pas "
        "compte d'éventuelles erreurs sur ces hypothèses, qui peuvent déplacer le chiffre de "
        "plus que sa largeur.",
    },
    "figure_credible": {
        "en": "The best single figure (the middle of the model's distribution) is "
        "{population}. The 95% interval, {interval}, is a credible interval: given the model "
        "and the data, there is a 95% probability that the true number lies within it. It "
        "does not allow for errors in the assumptions below, which can move the figure by "
        "more than its width.",
        "fr": "La meilleure estimation (la médiane de la distribution du modèle) est de "
        "{population}. L'intervalle à 95{NBSP}%, {interval}, est un intervalle de "
        "crédibilité{NBSP}: compte tenu du modèle et des données, le nombre réel a 95{NBSP}% "
        "de chances de s'y trouver. Il ne tient pas compte d'éventuelles erreurs sur les "
        "hypothèses exposées plus bas, qui peuvent déplacer le chiffre de plus que sa largeur.",
    },
    "figure_interval_method": {
        "en": "The interval was computed by {name}.",
        "fr": "L'intervalle a été calculé par {name}.",
    },
    "figure_model_conditional": {
        "en": "It treats the selected model as known, so it is narrower than an interval that "
        "also counts the uncertainty of choosing the model (run the estimate with --bootstrap "
        "for that one).",
        "fr": "Il considère le modèle retenu comme certain{NNBSP}; il est donc plus étroit "
        "qu'un intervalle qui tiendrait compte aussi de l'incertitude du choix du modèle "
        "(relancez l'estimation avec --bootstrap pour l'obtenir).",
    },
    "figure_quote": {
        "en": "To quote it, round and give the interval with it: for example “about "
        "{population}, between {low} and {high}”.",
        "fr": "Pour le citer, arrondissez-le et donnez-en l'intervalle{NBSP}: par exemple "
        "«{NBSP}environ {population}, entre {low} et {high}{NBSP}».",
    },
    # ------------------------------------------------------------------ dark figure
    "dark_title": {
        "en": "What the “dark figure” means",
        "fr": "Ce que signifie le «{NBSP}chiffre noir{NBSP}»",
    },
    "dark_text": {
        "en": "The dark figure is the number of people in the population whom no list "
        "recorded: the estimate minus the people observed, here about {dark} ({share} of the "
        "estimated total). It is not a count of identified people and cannot be broken down "
        "by name or case: it is inferred from how much the lists overlap. When many people "
        "appear on several lists, the lists have probably found most of the population "
        "between them and the dark figure is small; when the lists rarely share anyone, many "
        "people are probably missed by all of them.",
        "fr": "Le chiffre noir est le nombre de personnes de la population qu'aucune liste n'a "
        "enregistrées{NBSP}: l'estimation moins les personnes observées, soit ici environ "
        "{dark} ({share} du total estimé). Ce n'est pas un décompte de personnes identifiées, "
        "et il ne peut être ventilé ni par nom ni par dossier{NBSP}: il est déduit du degré "
        "de recoupement entre les listes. Lorsque beaucoup de personnes figurent sur "
        "plusieurs listes, celles-ci ont probablement trouvé ensemble l'essentiel de la "
        "population et le chiffre noir est faible{NNBSP}; lorsque les listes n'ont que "
        "rarement des personnes en commun, beaucoup de personnes échappent probablement à "
        "toutes.",
    },
    # ------------------------------------------------------------------ who is counted
    "counted_title": {"en": "Who is counted", "fr": "Qui est compté"},
    "counted_roles": {"en": "Roles", "fr": "Rôles"},
    "counted_organisations": {"en": "Organisations", "fr": "Organisations"},
    "counted_period": {"en": "Period", "fr": "Période"},
    "counted_strata": {"en": "Strata", "fr": "Strates"},
    "counted_not_stated": {"en": "not stated", "fr": "non précisé"},
    "counted_source": {"en": "Source", "fr": "Source"},
    "counted_files": {"en": "Files", "fr": "Fichiers"},
    "counted_lists": {"en": "Lists", "fr": "Listes"},
    "counted_records": {"en": "Records linked", "fr": "Enregistrements rapprochés"},
    "counted_clusters": {"en": "People after linkage", "fr": "Personnes après rapprochement"},
    "counted_roles_note": {"en": "About the roles", "fr": "À propos des rôles"},
    "counted_lists_changed": {
        "en": "Lists changed for this estimate",
        "fr": "Listes modifiées pour cette estimation",
    },
    "counted_merged": {"en": "merged:", "fr": "fusionnées{NBSP}:"},
    "counted_omitted": {"en": "left out:", "fr": "écartées{NBSP}:"},
    "counted_why": {
        "en": "The estimate describes exactly the people the lists were drawn from, and no "
        "others. If perpetrators are counted with victims, or the lists cover different "
        "periods or places, the figure mixes different populations and cannot be quoted as "
        "the number of victims.",
        "fr": "L'estimation porte exactement sur les personnes à partir desquelles les listes "
        "ont été constituées, et sur elles seules. Si des auteurs sont comptés avec les "
        "victimes, ou si les listes couvrent des périodes ou des lieux différents, le chiffre "
        "mêle des populations distinctes et ne peut pas être présenté comme le nombre de "
        "victimes.",
    },
    "counted_missing": {
        "en": "The table does not say whom it counts. Before quoting the figure, state which "
        "roles (for example victims and presumed victims), which organisations, which period "
        "and which places the lists cover.",
        "fr": "Le tableau n'indique pas qui il dénombre. Avant de citer le chiffre, précisez "
        "quels rôles (par exemple victimes et victimes présumées), quelles organisations, "
        "quelle période et quels lieux les listes couvrent.",
    },
    # ------------------------------------------------------------------ assumptions
    "assumptions_title": {
        "en": "Assumptions, and how they were checked",
        "fr": "Hypothèses et vérifications",
    },
    "assumptions_intro": {
        "en": "The estimate holds only as far as four assumptions do. For each: what it "
        "means, what happens to the figure when it fails, and whether this run could check it.",
        "fr": "L'estimation ne vaut que si quatre hypothèses sont respectées. Pour chacune "
        "d'elles{NBSP}: ce qu'elle signifie, ce que devient le chiffre si elle n'est pas "
        "respectée, et si elle a pu être vérifiée.",
    },
    "status_checked": {"en": "Checked.", "fr": "Vérifiée."},
    "status_partly": {"en": "Partly checked.", "fr": "Vérifiée en partie."},
    "status_not_checked": {"en": "Not checked.", "fr": "Non vérifiée."},
    "status_cannot": {
        "en": "Cannot be checked from the lists.",
        "fr": "Invérifiable à partir des listes.",
    },
    "status_modelled": {"en": "Allowed for by the model.", "fr": "Prise en compte par le modèle."},
    # 1. closed population
    "closed_title": {
        "en": "1. The population does not change during the period",
        "fr": "1. La population ne change pas au cours de la période",
    },
    "closed_text": {
        "en": "Everyone counted belongs to the same population throughout the period the lists "
        "cover: nobody joins or leaves it between one list and another. If people arrive or "
        "leave (lists from different years, victims who move away or are repatriated), the "
        "lists overlap less than they should and the figure comes out too high.",
        "fr": "Toutes les personnes comptées appartiennent à la même population pendant toute "
        "la période couverte par les listes{NBSP}: personne n'y entre ni n'en sort d'une "
        "liste à l'autre. Si des personnes arrivent ou partent (listes d'années différentes, "
        "victimes qui quittent le pays ou sont rapatriées), les listes se recoupent moins "
        "qu'elles ne le devraient et le chiffre est surestimé.",
    },
    "closed_check_period": {
        "en": "It depends on how the lists were collected. Stated period: {period}. Check that "
        "every list covers this same period.",
        "fr": "Cela dépend de la manière dont les listes ont été constituées. Période "
        "indiquée{NBSP}: {period}. Vérifiez que chaque liste couvre bien cette même période.",
    },
    "closed_check_missing": {
        "en": "It depends on how the lists were collected, and no period is stated for this "
        "table: check that every list covers the same period.",
        "fr": "Cela dépend de la manière dont les listes ont été constituées, et aucune "
        "période n'est indiquée pour ce tableau{NBSP}: vérifiez que toutes les listes "
        "couvrent la même période.",
    },
    # 2. linkage
    "linkage_title": {
        "en": "2. The same person is recognised on every list",
        "fr": "2. Une même personne est reconnue d'une liste à l'autre",
    },
    "linkage_text": {
        "en": "Records of the same person on different lists were matched correctly. A missed "
        "match counts one person twice and makes the lists look less overlapping: the figure "
        "comes out too high. A wrong match merges two people: the figure comes out too low. "
        "Small linkage errors weigh heavily, because the estimate rests on the few people "
        "found on several lists.",
        "fr": "Les enregistrements d'une même personne sur différentes listes ont été "
        "correctement rapprochés. Un rapprochement manqué compte une personne deux fois et "
        "fait paraître les listes moins recoupées{NBSP}: le chiffre est surestimé. Un "
        "rapprochement erroné confond deux personnes{NBSP}: le chiffre est sous-estimé. De "
        "petites erreurs de rapprochement pèsent lourd, car l'estimation repose sur le petit "
        "nombre de personnes présentes sur plusieurs listes.",
    },
    "linkage_quality": {
        "en": "The linkage's estimated precision is {precision} (the share of its matches that "
        "are right) and its recall {recall} (the share of true matches it found).",
        "fr": "La précision estimée du rapprochement est de {precision} (part des "
        "rapprochements justes) et son rappel de {recall} (part des vrais rapprochements "
        "retrouvés).",
    },
    "linkage_share": {
        "en": "Linkage uncertainty is carried into the interval and accounts for {share} of "
        "its width.",
        "fr": "L'incertitude du rapprochement est reportée dans l'intervalle, dont elle "
        "représente {share} de la largeur.",
    },
    "linkage_without": {
        "en": "Without the linkage error, the 95% interval would be {interval}.",
        "fr": "Sans l'erreur de rapprochement, l'intervalle à 95{NBSP}% serait {interval}.",
    },
    "linkage_all_certain": {
        "en": "Every link was certain, so the linkage adds nothing to the interval.",
        "fr": "Tous les rapprochements étaient certains{NNBSP}; le rapprochement n'ajoute donc "
        "rien à l'intervalle.",
    },
    "linkage_not_carried": {
        "en": "{count} uncertain links are not carried into the interval, which is therefore "
        "narrower than the data allow.",
        "fr": "{count} rapprochements incertains ne sont pas reportés dans l'intervalle, qui est "
        "donc plus étroit que ne le permettent les données.",
    },
    "linkage_not_carried_plain": {
        "en": "The linkage's uncertainty is not carried into the interval, which is therefore "
        "narrower than the data allow.",
        "fr": "L'incertitude du rapprochement n'est pas reportée dans l'intervalle, qui est donc "
        "plus étroit que ne le permettent les données.",
    },
    "linkage_missing": {
        "en": "This table carries no figures on the quality of the linkage, so the interval "
        "assumes it is perfect. A table written by “tiphub link” carries them.",
        "fr": "Ce tableau ne contient aucune mesure de la qualité du rapprochement{NNBSP}; "
        "l'intervalle suppose donc qu'il est parfait. Un tableau produit par "
        "«{NBSP}tiphub link{NBSP}» contient ces mesures.",
    },
    # 3. dependences
    "dependence_title": {
        "en": "3. How the lists depend on each other",
        "fr": "3. Les dépendances entre listes",
    },
    "dependence_text": {
        "en": "Being on one list can change the chance of being on another: one organisation "
        "refers people to another, or two work in the same places. The model must allow for "
        "such dependences. One it misses biases the figure: too low when the lists tend to "
        "find the same people, too high when they tend to find different people.",
        "fr": "Figurer sur une liste peut modifier la probabilité de figurer sur une "
        "autre{NBSP}: une organisation oriente des personnes vers une autre, ou deux "
        "organisations travaillent aux mêmes endroits. Le modèle doit tenir compte de ces "
        "dépendances. S'il en omet une, le chiffre est biaisé{NBSP}: sous-estimé lorsque les "
        "listes tendent à trouver les mêmes personnes, surestimé lorsqu'elles tendent à en "
        "trouver de différentes.",
    },
    "dependence_model": {
        "en": "This model allows for these dependences:",
        "fr": "Ce modèle tient compte des dépendances suivantes{NBSP}:",
    },
    "dependence_more": {
        "en": "People on {first} are more likely than others to be on {second} too (odds "
        "ratio about {ratio}).",
        "fr": "Les personnes qui figurent sur {first} ont plus de chances que les autres de "
        "figurer aussi sur {second} (rapport des cotes d'environ {ratio}).",
    },
    "dependence_less": {
        "en": "People on {first} are less likely than others to be on {second} too (odds "
        "ratio about {ratio}).",
        "fr": "Les personnes qui figurent sur {first} ont moins de chances que les autres de "
        "figurer aussi sur {second} (rapport des cotes d'environ {ratio}).",
    },
    "dependence_never": {
        "en": "Nobody is on both {first} and {second}; the model treats that combination as "
        "one that does not occur.",
        "fr": "Personne ne figure à la fois sur {first} et sur {second}{NNBSP}; le modèle "
        "traite cette combinaison comme impossible.",
    },
    "dependence_joint_more": {
        "en": "Lists {names} overlap more than their links two by two predict.",
        "fr": "Les listes {names} se recoupent davantage que ne le prévoient leurs liens deux "
        "à deux.",
    },
    "dependence_joint_less": {
        "en": "Lists {names} overlap less than their links two by two predict.",
        "fr": "Les listes {names} se recoupent moins que ne le prévoient leurs liens deux à deux.",
    },
    "dependence_none": {
        "en": "This model assumes the lists are independent: being on one list does not "
        "change the chance of being on another.",
        "fr": "Ce modèle suppose les listes indépendantes{NBSP}: figurer sur l'une ne change "
        "pas la probabilité de figurer sur une autre.",
    },
    "dependence_latent": {
        "en": "This model names no dependence between lists: it lets people differ in how "
        "easily they are found (see 4), which also makes lists depend on each other.",
        "fr": "Ce modèle ne désigne aucune dépendance entre listes{NBSP}: il admet que les "
        "personnes diffèrent dans la facilité avec laquelle on les trouve (voir le point 4), "
        "ce qui crée aussi des dépendances entre listes.",
    },
    "dependence_rcapture": {
        "en": "This model allows no dependence between lists except the one that differences "
        "between people create (point 4).",
        "fr": "Ce modèle n'admet aucune dépendance entre listes, hormis celle que créent les "
        "différences entre personnes (point 4).",
    },
    "dependence_terms": {
        "en": "This model allows for dependences between {pairs}.",
        "fr": "Ce modèle tient compte de dépendances entre {pairs}.",
    },
    "dependence_other": {
        "en": "This method's model: {model}.",
        "fr": "Modèle de cette méthode{NBSP}: {model}.",
    },
    "dependence_chosen_stepwise": {
        "en": "The dependences were chosen from the data, adding one pair of lists at a time "
        "while the overlap it explains is significant (p < {threshold}).",
        "fr": "Les dépendances ont été choisies d'après les données, en ajoutant une paire de "
        "listes à la fois tant que le recoupement qu'elle explique est significatif "
        "(p < {threshold}).",
    },
    "dependence_chosen_aic": {
        "en": "The dependences were chosen from the data by the AIC, keeping only those "
        "significant at p < {threshold}.",
        "fr": "Les dépendances ont été choisies d'après les données selon l'AIC, en ne gardant "
        "que celles qui sont significatives au seuil p < {threshold}.",
    },
    "dependence_chosen_bic": {
        "en": "The dependences were chosen from the data: the model with the smallest BIC "
        "among the hierarchical models tried.",
        "fr": "Les dépendances ont été choisies d'après les données{NBSP}: c'est le modèle de "
        "plus petit BIC parmi les modèles hiérarchiques essayés.",
    },
    "dependence_chosen_user": {
        "en": "The dependences were set by the user (--model), not chosen from the data.",
        "fr": "Les dépendances ont été fixées par l'utilisateur (--model) et non choisies "
        "d'après les données.",
    },
    "dependence_fit_good": {
        "en": "The model reproduces the observed overlaps acceptably (deviance {deviance} on "
        "{df} degrees of freedom, p = {p}).",
        "fr": "Le modèle reproduit de façon acceptable les recoupements observés (déviance "
        "{deviance} pour {df} degrés de liberté, p = {p}).",
    },
    "dependence_fit_poor": {
        "en": "The model does not reproduce the observed overlaps well (deviance {deviance} on "
        "{df} degrees of freedom, p = {p}): a dependence, or differences in how easily people "
        "are found, is missing from it. Compare with the other methods.",
        "fr": "Le modèle reproduit mal les recoupements observés (déviance {deviance} pour "
        "{df} degrés de liberté, p = {p}){NBSP}: il lui manque une dépendance, ou la prise "
        "en compte de différences dans la facilité à trouver les personnes. Comparez avec les "
        "autres méthodes.",
    },
    "dependence_fit_sparse": {
        "en": "This test is only approximate here: many combinations of lists hold few people.",
        "fr": "Ce test n'est ici qu'approximatif{NBSP}: beaucoup de combinaisons de listes "
        "comptent peu de personnes.",
    },
    "dependence_unseen": {
        "en": "No method can detect a dependence that concerns only the people no list "
        "recorded: that part cannot be checked from the lists.",
        "fr": "Aucune méthode ne peut déceler une dépendance qui ne concerne que les "
        "personnes absentes de toutes les listes{NBSP}: cette part reste invérifiable.",
    },
    # 4. heterogeneity
    "heterogeneity_title": {
        "en": "4. People differ in how easy they are to find",
        "fr": "4. Les personnes sont plus ou moins faciles à trouver",
    },
    "heterogeneity_text": {
        "en": "Some people are easier to find than others: those in contact with services, in "
        "cities, or exploited in visible ways appear on several lists, while the most hidden "
        "appear on none. A model that treats everyone as equally easy to find takes the "
        "overlap among the visible people for that of the whole population, and the figure "
        "comes out too low.",
        "fr": "Certaines personnes sont plus faciles à trouver que d'autres{NBSP}: celles qui "
        "sont en contact avec des services, qui vivent en ville ou dont l'exploitation est "
        "visible figurent sur plusieurs listes, tandis que les plus cachées ne figurent sur "
        "aucune. Un modèle qui traite tout le monde comme également facile à trouver prend le "
        "recoupement observé parmi les personnes visibles pour celui de toute la population, "
        "et le chiffre est sous-estimé.",
    },
    "heterogeneity_latent": {
        "en": "The latent-class model lets groups of people differ in how likely each list is "
        "to find them.",
        "fr": "Le modèle à classes latentes admet que des groupes de personnes diffèrent dans "
        "la probabilité que chaque liste les trouve.",
    },
    "heterogeneity_rcapture": {
        "en": "This model lets people differ in how likely they are to be found.",
        "fr": "Ce modèle admet que les personnes diffèrent dans la probabilité d'être trouvées.",
    },
    "heterogeneity_partly": {
        "en": "Positive dependences between lists (point 3) absorb part of these differences. "
        "The latent-class method LCMCR models them directly; “tiphub estimate robustness” "
        "runs both.",
        "fr": "Les dépendances positives entre listes (point 3) absorbent une partie de ces "
        "différences. La méthode à classes latentes LCMCR les modélise directement{NNBSP}; "
        "«{NBSP}tiphub estimate robustness{NBSP}» exécute les deux.",
    },
    "heterogeneity_none": {
        "en": "This model treats everyone as equally easy to find. The latent-class method "
        "LCMCR allows for differences; “tiphub estimate robustness” runs both.",
        "fr": "Ce modèle traite tout le monde comme également facile à trouver. La méthode à "
        "classes latentes LCMCR admet des différences{NNBSP}; «{NBSP}tiphub estimate "
        "robustness{NBSP}» exécute les deux.",
    },
    "heterogeneity_lcmcr_result": {
        "en": "LCMCR, run beside this method, gives {population} (95% interval: {interval}).",
        "fr": "La méthode LCMCR, exécutée en parallèle, donne {population} (intervalle à "
        "95{NBSP}%{NBSP}: {interval}).",
    },
    # ------------------------------------------------------------------ charts
    "overlap_title": {"en": "Who is on which lists", "fr": "Qui figure sur quelles listes"},
    "overlap_caption": {
        "en": "Bars: people per combination of lists. Dots beneath: the lists in that "
        "combination. Left: everyone on each list. The estimate rests on these overlaps.",
        "fr": "Barres{NBSP}: nombre de personnes par combinaison de listes. Points en "
        "dessous{NBSP}: les listes de la combinaison. À gauche{NBSP}: l'effectif de chaque "
        "liste. L'estimation repose sur ces recoupements.",
    },
    "methods_title": {
        "en": "Other methods on the same table",
        "fr": "Autres méthodes sur le même tableau",
    },
    "methods_text": {
        "en": "The same table estimated by other methods. Where their intervals do not "
        "overlap, the choice of method matters more than the interval shows: run “tiphub "
        "estimate robustness” to see which figure to report.",
        "fr": "Le même tableau estimé par d'autres méthodes. Lorsque leurs intervalles ne se "
        "recoupent pas, le choix de la méthode pèse plus que ne le montre "
        "l'intervalle{NBSP}: lancez «{NBSP}tiphub estimate robustness{NBSP}» pour savoir "
        "quel chiffre retenir.",
    },
    "methods_missing": {
        "en": "Only this method was run. “tiphub estimate robustness” compares the methods on "
        "the same table and says which figure to report.",
        "fr": "Seule cette méthode a été exécutée. «{NBSP}tiphub estimate robustness{NBSP}» "
        "compare les méthodes sur le même tableau et indique quel chiffre "
        "retenir.",
    },
    "methods_chart_title": {"en": "Estimate by method", "fr": "Estimation par méthode"},
    "methods_this_run": {"en": "{method} (this report)", "fr": "{method} (ce rapport)"},
    "methods_caption": {
        "en": "Dot: estimate. Thick bar: 80% interval; thin bar: 95% interval. The dotted "
        "line marks the people observed, below which no estimate can fall.",
        "fr": "Point{NBSP}: estimation. Barre épaisse{NBSP}: intervalle à 80{NBSP}%{NNBSP}; "
        "barre fine{NBSP}: intervalle à 95{NBSP}%. La ligne pointillée marque le nombre de "
        "personnes observées, en dessous duquel aucune estimation ne peut descendre.",
    },
    "chart_axis": {"en": "estimated population", "fr": "population estimée"},
    "chart_observed": {"en": " observed {count}", "fr": " observées{NBSP}: {count}"},
    "chart_no_estimate": {"en": "no estimate", "fr": "pas d'estimation"},
    "chart_legend": {
        "en": "dot: estimate; thick bar: 80% interval; thin bar: 95%; arrow: unbounded",
        "fr": "point{NBSP}: estimation{NNBSP}; barre épaisse{NBSP}: intervalle à 80{NBSP}%"
        "{NNBSP}; barre fine{NBSP}: 95{NBSP}%{NNBSP}; flèche{NBSP}: sans limite",
    },
    "chart_upset_bars": {
        "en": "people with this history",
        "fr": "personnes ayant cette combinaison",
    },
    "chart_upset_totals": {"en": "on list", "fr": "sur la liste"},
    "chart_upset_caption": {
        "en": "{people} people\n{histories} observed histories",
        "fr": "{people} personnes\n{histories} combinaisons observées",
    },
    "chart_upset_hidden": {
        "en": "\nshowing the {shown} largest;\n{hidden} more hold {people} people",
        "fr": "\nles {shown} plus grandes sont montrées{NNBSP};\n{hidden} autres regroupent "
        "{people} personnes",
    },
    # ------------------------------------------------------------------ appendix
    "appendix_title": {"en": "Technical appendix", "fr": "Annexe technique"},
    "appendix_intro": {
        "en": "For statisticians: the fitted model and its diagnostics.",
        "fr": "Pour les statisticiens{NBSP}: le modèle ajusté et ses diagnostics.",
    },
    "appendix_method": {"en": "Method", "fr": "Méthode"},
    "appendix_model": {"en": "Model", "fr": "Modèle"},
    "appendix_main_effects": {"en": "main effects only", "fr": "effets principaux seuls"},
    "appendix_latent": {"en": "latent classes", "fr": "classes latentes"},
    "appendix_infinite": {"en": "Terms at −∞", "fr": "Termes à −∞"},
    "appendix_existence": {"en": "Existence check", "fr": "Existence de l'estimateur"},
    "appendix_intervals": {"en": "Intervals", "fr": "Intervalles"},
    "appendix_headline": {"en": "(headline)", "fr": "(retenu)"},
    "appendix_interval": {"en": "interval", "fr": "intervalle"},
    "appendix_coefficients": {"en": "Coefficients", "fr": "Coefficients"},
    "appendix_term": {"en": "term", "fr": "terme"},
    "appendix_coef": {"en": "coefficient", "fr": "coefficient"},
    "appendix_se": {"en": "std. error", "fr": "erreur type"},
    "appendix_odds": {"en": "exp(coef.)", "fr": "exp(coef.)"},
    "appendix_fit": {"en": "Fit", "fr": "Ajustement"},
    "appendix_deviance": {"en": "Deviance", "fr": "Déviance"},
    "appendix_df": {"en": "Degrees of freedom", "fr": "Degrés de liberté"},
    "appendix_diagnostics": {"en": "Diagnostics", "fr": "Diagnostics"},
    "appendix_alternatives": {"en": "Other methods", "fr": "Autres méthodes"},
    "appendix_linkage": {"en": "Linkage", "fr": "Rapprochement"},
    "appendix_settings": {"en": "Settings", "fr": "Paramètres"},
    "appendix_seconds": {"en": "Computing time", "fr": "Temps de calcul"},
    "appendix_estimate": {"en": "estimate", "fr": "estimation"},
    "appendix_key": {"en": "item", "fr": "élément"},
    "appendix_value": {"en": "value", "fr": "valeur"},
    "appendix_error": {"en": "no estimate: {error}", "fr": "pas d'estimation{NBSP}: {error}"},
    "appendix_skipped": {"en": "not run: {reason}", "fr": "non exécutée{NBSP}: {reason}"},
}

# The texts write no-break spaces as {NBSP} and {NNBSP}, visible in review; they are filled in
# here, once, so that every text reaches the report with the real characters.
for _entry in TEXTS.values():
    for _language, _text in _entry.items():
        _entry[_language] = _text.replace("{NBSP}", NBSP).replace("{NNBSP}", NNBSP)

METHOD_NAMES: dict[str, dict[str, str]] = {
    "main": {
        "en": "Main effects (independence between lists)",
        "fr": "Effets principaux (indépendance entre listes)",
    },
    "stepwise": {
        "en": "Stepwise, Poisson p-values (SparseMSE)",
        "fr": "Sélection pas à pas, p-valeurs de Poisson (SparseMSE)",
    },
    "aic-stepwise": {
        "en": "AIC-stepwise with Wald threshold (Bales, Hesketh & Silverman)",
        "fr": "Sélection pas à pas par l'AIC avec seuil de Wald (Bales, Hesketh et Silverman)",
    },
    "bic": {
        "en": "Smallest BIC over hierarchical models (Silverman, Chan & Vincent 2024)",
        "fr": "Plus petit BIC parmi les modèles hiérarchiques (Silverman, Chan et Vincent 2024)",
    },
    "fixed": {"en": "Fixed model", "fr": "Modèle fixé"},
    "lcmcr": {
        "en": "Latent-class model LCMCR (Manrique-Vallier 2016)",
        "fr": "Modèle à classes latentes LCMCR (Manrique-Vallier 2016)",
    },
}

# HTCDS participant roles (tiphub/standard/data/tiphub_extensions.csv), as the people counted.
ROLE_NAMES: dict[str, dict[str, str]] = {
    "Victim": {"en": "victims", "fr": "victimes"},
    "PresumedVictim": {"en": "presumed victims", "fr": "victimes présumées"},
    "Perpetrator": {"en": "perpetrators", "fr": "auteurs"},
    "Witness": {"en": "witnesses", "fr": "témoins"},
    "Family": {"en": "family members", "fr": "membres de la famille"},
    "Guardian": {"en": "guardians", "fr": "tuteurs"},
    "Employer": {"en": "employers", "fr": "employeurs"},
    "Other": {"en": "others", "fr": "autres"},
}

SOURCE_NAMES: dict[str, dict[str, str]] = {
    "database": {"en": "the tiphub database", "fr": "la base de données tiphub"},
    "files": {"en": "files", "fr": "fichiers"},
    "encoded files": {"en": "encoded files", "fr": "fichiers encodés"},
}

INTERVAL_NAMES: dict[str, dict[str, str]] = {
    "lognormal": {
        "en": "the log-normal approximation, given the selected model",
        "fr": "l'approximation log-normale, conditionnellement au modèle retenu",
    },
    "profile": {
        "en": "profile likelihood, given the selected model",
        "fr": "la vraisemblance profilée, conditionnellement au modèle retenu",
    },
    "bca": {
        "en": "the BCa bootstrap, which repeats the choice of model on resampled data",
        "fr": "le bootstrap BCa, qui répète le choix du modèle sur des données rééchantillonnées",
    },
    "posterior": {
        "en": "the posterior distribution of the model",
        "fr": "la distribution a posteriori du modèle",
    },
}

EXISTENCE_NAMES: dict[int, dict[str, str]] = {
    0: {
        "en": "the maximum-likelihood estimate exists and is identifiable",
        "fr": "l'estimateur du maximum de vraisemblance existe et est identifiable",
    },
    1: {
        "en": "the maximum-likelihood estimate does not exist (the data lie on the boundary)",
        "fr": "l'estimateur du maximum de vraisemblance n'existe pas (données à la frontière)",
    },
    2: {
        "en": "the model is not identifiable from these data",
        "fr": "le modèle n'est pas identifiable à partir de ces données",
    },
    3: {
        "en": "the maximum-likelihood estimate does not exist and the model is not identifiable",
        "fr": "l'estimateur du maximum de vraisemblance n'existe pas et le modèle n'est pas "
        "identifiable",
    },
}
