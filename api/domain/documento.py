"""Brazilian taxpayer numbers: CPF (people, 11 digits) and CNPJ (companies, 14 digits).

Both end in two check digits computed mod 11 over weighted digits; numbers made of one repeated
digit pass that arithmetic but are not issued, so they are rejected too.
"""

from __future__ import annotations

# The name of this rule as a JSON Schema format (the OpenAPI document cannot spell it out).
DOCUMENTO_FORMAT = "cpf-or-cnpj"

_CPF_WEIGHTS = (range(10, 1, -1), range(11, 1, -1))
_CNPJ_WEIGHTS = ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))


def _check_digit(digits: str, weights: range | tuple[int, ...]) -> str:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def _with_check_digits(
    base: str, weights: tuple[range, range] | tuple[tuple[int, ...], ...]
) -> str:
    first = _check_digit(base, weights[0])
    return base + first + _check_digit(base + first, weights[1])


def cpf_check_digits(base9: str) -> str:
    """The full 11-digit CPF for 9 base digits."""
    return _with_check_digits(base9, _CPF_WEIGHTS)


def cnpj_check_digits(base12: str) -> str:
    """The full 14-digit CNPJ for 12 base digits."""
    return _with_check_digits(base12, _CNPJ_WEIGHTS)


def normalize_documento(value: str) -> str:
    """Digits of a valid CPF or CNPJ, punctuation (``.``, ``-``, ``/``, spaces) removed.

    Raises ValueError with a message fit for a client when the number is not valid.
    """
    digits = "".join(ch for ch in value if ch not in ".-/ ")
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("must contain only digits and the separators . - /")
    if len(digits) == 11:
        kind, expected = "CPF", cpf_check_digits(digits[:9])
    elif len(digits) == 14:
        kind, expected = "CNPJ", cnpj_check_digits(digits[:12])
    else:
        raise ValueError("must be a CPF (11 digits) or a CNPJ (14 digits)")
    if digits != expected or len(set(digits)) == 1:
        raise ValueError(f"invalid {kind}: check digits do not match")
    return digits


def formatted(documento: str) -> str:
    """A CPF as ``123.456.789-09``, a CNPJ as ``12.345.678/0001-95``, as they are written on
    paper; anything else (not 11 or 14 digits once the separators are dropped) as it is."""
    digits = "".join(ch for ch in documento if ch not in ".-/ ")
    if not digits.isascii() or not digits.isdigit():
        return documento
    if len(digits) == 11:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    return documento
