"""CPF and CNPJ check digits, as property tests against an independent formulation; the
numbers written as on paper."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from api.domain.documento import (
    cnpj_check_digits,
    cpf_check_digits,
    formatted,
    normalize_documento,
)


def _reference_digit(digits: list[int], weights: list[int]) -> int:
    # Written the other common way (11 - sum % 11, 10 and 11 becoming 0), to cross-check.
    digit = 11 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if digit >= 10 else digit


def _reference_cpf(base: str) -> str:
    digits = [int(c) for c in base]
    digits.append(_reference_digit(digits, list(range(10, 1, -1))))
    digits.append(_reference_digit(digits, list(range(11, 1, -1))))
    return "".join(map(str, digits))


def _reference_cnpj(base: str) -> str:
    digits = [int(c) for c in base]
    digits.append(_reference_digit(digits, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]))
    digits.append(_reference_digit(digits, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]))
    return "".join(map(str, digits))


bases9 = st.text("0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1)
bases12 = st.text("0123456789", min_size=12, max_size=12).filter(lambda s: len(set(s)) > 1)


@given(bases9)
def test_cpf_check_digits_match_the_reference(base: str) -> None:
    assert cpf_check_digits(base) == _reference_cpf(base)


@given(bases12)
def test_cnpj_check_digits_match_the_reference(base: str) -> None:
    assert cnpj_check_digits(base) == _reference_cnpj(base)


@given(bases9)
def test_every_valid_cpf_is_accepted_with_or_without_punctuation(base: str) -> None:
    cpf = cpf_check_digits(base)
    formatted = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    assert normalize_documento(cpf) == normalize_documento(formatted) == cpf


@given(bases12)
def test_every_valid_cnpj_is_accepted_with_or_without_punctuation(base: str) -> None:
    cnpj = cnpj_check_digits(base)
    formatted = f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"
    assert normalize_documento(formatted) == cnpj


@given(st.one_of(bases9.map(cpf_check_digits), bases12.map(cnpj_check_digits)), st.data())
def test_a_single_digit_change_is_rejected(documento: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(documento) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != documento[position]]))
    changed = documento[:position] + replacement + documento[position + 1 :]
    with_check_digits = cpf_check_digits if len(documento) == 11 else cnpj_check_digits
    # The scheme maps remainders 0 and 1 to the same digit, so a few changed numbers are valid
    # numbers in their own right: those are not typos the check digits can catch.
    assume(with_check_digits(changed[:-2]) != changed)
    with pytest.raises(ValueError, match="check digits"):
        normalize_documento(changed)


@given(st.text(max_size=20))
def test_arbitrary_text_is_accepted_only_if_valid(text: str) -> None:
    try:
        digits = normalize_documento(text)
    except ValueError:
        return
    assert digits in (cpf_check_digits(digits[:9]), cnpj_check_digits(digits[:12]))


@pytest.mark.parametrize("repeated", ["11111111111", "00000000000000", "999.999.999-99"])
def test_repeated_digits_are_not_issued(repeated: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        normalize_documento(repeated)


@pytest.mark.parametrize("wrong_length", ["123", "1234567890", "123456789012", "1" * 15])
def test_wrong_lengths_are_rejected(wrong_length: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        normalize_documento(wrong_length)


@pytest.mark.parametrize(
    ("documento", "shown"),
    [
        ("12345678909", "123.456.789-09"),
        ("11222333000181", "11.222.333/0001-81"),
        ("123.456.789-09", "123.456.789-09"),  # already written so: unchanged
        ("11.222.333/0001-81", "11.222.333/0001-81"),
    ],
)
def test_cpf_and_cnpj_are_written_as_on_paper(documento: str, shown: str) -> None:
    assert formatted(documento) == shown


@pytest.mark.parametrize(
    "other", ["", "123", "1234567890", "1" * 15, "abc.def.ghi-jk", "١٢٣٤٥٦٧٨٩٠٩"]
)
def test_what_is_neither_a_cpf_nor_a_cnpj_is_left_as_it_is(other: str) -> None:
    assert formatted(other) == other


@given(st.one_of(bases9.map(cpf_check_digits), bases12.map(cnpj_check_digits)))
def test_the_written_form_reads_back_as_the_same_number(documento: str) -> None:
    shown = formatted(documento)
    assert len(shown) == (14 if len(documento) == 11 else 18)
    assert normalize_documento(shown) == documento
