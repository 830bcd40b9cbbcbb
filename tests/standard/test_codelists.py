from __future__ import annotations

import pytest

from tiphub.standard.codelists import (
    UnknownCodeError,
    codelist,
    country_alpha3,
    htcds_fields,
    normalise_country,
    normalise_language,
)


def test_debt_bondage_loses_the_trailing_space_of_htcds_2_0() -> None:
    means = codelist("means_of_control")
    assert "DebtBondage" in means.codes
    assert "DebtBondage " not in means.codes
    assert means.normalise("DebtBondage ") == "DebtBondage"


def test_restricts_movement_is_added_and_defined_terms_are_aliases() -> None:
    means = codelist("means_of_control")
    assert means.normalise("RestrictsMovement") == "RestrictsMovement"
    assert means.normalise("Threats") == "PhysicalThreats"
    assert means.normalise("UsesChildren") == "ThreatensChildrenFamily"
    assert len(means.codes) == 17


def test_forced_criminality_extends_exploitation_types() -> None:
    types = codelist("exploitation_type")
    assert "ForcedCriminality" in types.codes
    assert types.normalise("forced criminality") == "ForcedCriminality"
    assert types.source.endswith("tiphub extension")


def test_labels_and_codes_are_both_accepted_whatever_the_case_and_spacing() -> None:
    gender = codelist("gender")
    assert gender.normalise("Transgender Feminine\u00a0") == "TransgenderFeminine"
    assert gender.normalise("  feminine ") == "Feminine"
    assert codelist("industry").normalise("Construction") == "F_Construction"


def test_a_near_miss_is_answered_with_the_valid_code_it_resembles() -> None:
    with pytest.raises(UnknownCodeError) as raised:
        codelist("exploitation_type").normalise("ForcedLabor")
    assert "did you mean 'ForcedLabour'?" in str(raised.value)
    with pytest.raises(UnknownCodeError) as raised:
        codelist("gender").normalise("Maria Stan")
    assert "did you mean" not in str(raised.value) and "Maria" not in str(raised.value)


def test_unknown_code_is_rejected_with_the_valid_ones() -> None:
    with pytest.raises(UnknownCodeError) as raised:
        codelist("trafficking_status").normalise("Maybe")
    message = str(raised.value)
    # The refused value is never repeated: it could be a name typed into the wrong column.
    assert "Maybe" not in message
    for code in (
        "PossibleVictimOfTrafficking",
        "ActualVictimOfTrafficking",
        "NotAVictimOfTrafficking",
    ):
        assert code in message


def test_every_htcds_picklist_matches_the_standard_file() -> None:
    fields = htcds_fields()
    exploitation = fields["vic_TypeOfExploitation"]["values"].split("|")
    assert set(exploitation) <= set(codelist("exploitation_type").codes)
    assert len(codelist("industry").codes) == 21


def test_countries_accept_alpha2_and_alpha3_and_store_alpha2() -> None:
    assert normalise_country("ROU") == "RO"
    assert normalise_country("ro") == "RO"
    assert normalise_country("XKX") == "XK"
    assert country_alpha3("GB") == "GBR"
    with pytest.raises(UnknownCodeError, match="unknown country code"):
        normalise_country("ZZZ")


def test_languages_normalise_to_iso_639_2_terminology_codes() -> None:
    assert normalise_language("ro") == "ron"
    assert normalise_language("rum") == "ron"
    assert normalise_language("ukr") == "ukr"
    with pytest.raises(UnknownCodeError):
        normalise_language("xx")
