"""Tests for resident ID, mobile and USCC validation and for the display masks.

Valid resident IDs here are built from a made-up prefix with
``check_resident_id_char`` (plus the standard's published example), never
copied from real people.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.errors import InvalidIdentifierError, InvalidInputError, TaizhangError
from domain.identifiers import (
    USCC_ALPHABET,
    check_resident_id_char,
    check_uscc_char,
    mask_enterprise_name,
    mask_mobile,
    mask_name,
    mask_resident_id,
    mask_uscc,
    validate_mobile,
    validate_resident_id,
    validate_uscc,
)

DIGITS = "0123456789"
# Region 370102 (Jinan, Lixia district), born 1990-03-07, sequence 123.
LIXIA_PREFIX = "37010219900307123"
LIXIA_ID = LIXIA_PREFIX + check_resident_id_char(LIXIA_PREFIX)
PUBLISHED_ID = "11010519491231002X"
PUBLISHED_USCC = "91350100M000100Y43"
JINAN_USCC_PREFIX = "91370102MA3C12345"
JINAN_USCC = JINAN_USCC_PREFIX + check_uscc_char(JINAN_USCC_PREFIX)
FIXED_TODAY = date(2024, 6, 1)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def with_id_check(first17: str) -> str:
    return first17 + check_resident_id_char(first17)


def with_uscc_check(first17: str) -> str:
    return first17 + check_uscc_char(first17)


def validation_error(validate, value, **kwargs) -> InvalidIdentifierError:
    with pytest.raises(InvalidIdentifierError) as caught:
        validate(value, **kwargs)
    return caught.value


def assert_no_echo(value: str, message: str) -> None:
    """The message repeats neither the value nor any 8-character run of it."""
    text = value.strip()
    assert text not in message
    for start in range(len(text) - 7):
        assert text[start : start + 8] not in message


# --- strategies ------------------------------------------------------------------------------

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=FIXED_TODAY)


@st.composite
def resident_id_prefixes(draw) -> str:
    region = draw(st.sampled_from("12345678")) + draw(st.text(DIGITS, min_size=5, max_size=5))
    born = draw(birth_dates).strftime("%Y%m%d")
    sequence = draw(st.text(DIGITS, min_size=3, max_size=3))
    return region + born + sequence


valid_resident_ids = resident_id_prefixes().map(with_id_check)
uscc_prefixes = st.text(USCC_ALPHABET, min_size=17, max_size=17)
valid_usccs = uscc_prefixes.map(with_uscc_check)
valid_mobiles = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text(DIGITS, min_size=9, max_size=9),
)


# --- check characters ------------------------------------------------------------------------


def test_the_published_resident_id_example_has_check_character_x():
    assert check_resident_id_char(PUBLISHED_ID[:17]) == "X"


def test_the_resident_id_check_character_makes_the_weighted_sum_one_mod_11():
    # GB 11643-1999 defines the check so that sum(a_i * 2**(18-i)) over all 18 is 1 mod 11.
    for number in (LIXIA_ID, PUBLISHED_ID):
        values = [10 if char == "X" else int(char) for char in number]
        weights = [pow(2, 17 - index, 11) for index in range(18)]
        assert sum(v * w for v, w in zip(values, weights, strict=True)) % 11 == 1


@given(resident_id_prefixes())
def test_every_computed_resident_id_check_character_satisfies_the_iso_7064_equation(prefix):
    # Independent of the module's lookup table: the full 18-character number,
    # X counting as 10 and position i weighted 2**(18 - i), sums to 1 mod 11.
    number = with_id_check(prefix)
    values = [10 if char == "X" else int(char) for char in number]
    assert sum(v * pow(2, 17 - index, 11) for index, v in enumerate(values)) % 11 == 1


@given(uscc_prefixes)
def test_every_computed_uscc_check_character_makes_the_weighted_sum_a_multiple_of_31(prefix):
    # GB 32100-2015 with the check character weighted 1: the total is 0 mod 31.
    code = with_uscc_check(prefix)
    indexes = [USCC_ALPHABET.index(char) for char in code]
    total = sum(index * pow(3, n, 31) for n, index in enumerate(indexes[:17])) + indexes[17]
    assert total % 31 == 0


def test_the_resident_id_weights_are_the_powers_of_two_mod_11():
    assert tuple(pow(2, 17 - index, 11) for index in range(17)) == ID_WEIGHTS


def test_the_uscc_weights_are_the_powers_of_three_mod_31():
    assert tuple(pow(3, index, 31) for index in range(17)) == USCC_WEIGHTS


def test_the_published_uscc_example_has_the_right_check_character():
    assert check_uscc_char(PUBLISHED_USCC[:17]) == PUBLISHED_USCC[-1]


def test_a_uscc_whose_weighted_sum_is_a_multiple_of_31_gets_check_character_zero():
    assert check_uscc_char("0" * 17) == "0"


@pytest.mark.parametrize("bad", ["", "1234567890123456", "123456789012345678", "1234567890123456A"])
def test_the_resident_id_check_character_needs_exactly_17_digits(bad):
    error = validation_error(check_resident_id_char, bad)
    assert error.field == "first17"


@pytest.mark.parametrize("bad", ["", "9137010", "91370102MA3C1234I", "91370102MA3C123456"])
def test_the_uscc_check_character_needs_exactly_17_alphabet_characters(bad):
    error = validation_error(check_uscc_char, bad)
    assert error.field == "first17"


# --- resident ID: valid ----------------------------------------------------------------------


def test_the_published_resident_id_example_is_valid():
    assert validate_resident_id(PUBLISHED_ID) == PUBLISHED_ID


def test_a_generated_lixia_resident_id_is_valid():
    assert LIXIA_ID == "370102199003071238"
    assert validate_resident_id(LIXIA_ID) == LIXIA_ID


def test_a_lowercase_x_is_accepted_and_returned_uppercase():
    assert validate_resident_id(PUBLISHED_ID.lower()) == PUBLISHED_ID


def test_surrounding_whitespace_is_stripped_from_a_resident_id():
    assert validate_resident_id(f"  {LIXIA_ID}\t\n") == LIXIA_ID


def test_a_person_born_today_in_china_has_a_valid_resident_id():
    prefix = "370102" + FIXED_TODAY.strftime("%Y%m%d") + "001"
    assert validate_resident_id(with_id_check(prefix), today=FIXED_TODAY)


def test_a_person_born_on_the_first_day_of_1900_has_a_valid_resident_id():
    assert validate_resident_id(with_id_check("37010219000101001"))


def test_a_person_born_on_29_february_of_a_leap_year_has_a_valid_resident_id():
    assert validate_resident_id(with_id_check("37010220000229001"))


@given(valid_resident_ids)
def test_any_valid_prefix_with_its_computed_check_character_validates(number):
    assert validate_resident_id(number, today=FIXED_TODAY) == number


@given(valid_resident_ids)
def test_a_valid_resident_id_still_validates_with_the_default_today(number):
    # FIXED_TODAY is in the past, so today's date in China is never earlier.
    assert validate_resident_id(number) == number


# --- resident ID: invalid --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be blank"),
        ("   ", "must not be blank"),
        (LIXIA_ID[:17], "must be 18 characters long, not 17"),
        (LIXIA_ID + "0", "must be 18 characters long, not 19"),
        ("37010219900307123", "must be 18 characters long, not 17"),
        ("370102199003071", "must be 18 characters long, not 15"),
        ("3701021990030712a8", "must have a digit 0-9 at position 17"),
        ("X70102199003071238", "must have a digit 0-9 at position 1"),
        ("37010219900307123" + "Y", "must end in a check character that is a digit 0-9 or X"),
        ("３70102199003071238", "must have a digit 0-9 at position 1"),
    ],
)
def test_a_malformed_resident_id_is_rejected_with_the_reason(value, fragment):
    error = validation_error(validate_resident_id, value)
    assert error.field == "id_number"
    assert fragment in error.message


def test_a_resident_id_with_an_inner_space_is_rejected_at_that_position():
    value = "370102 1990030712" + "3"
    error = validation_error(validate_resident_id, value)
    assert "must have a digit 0-9 at position 7" in error.message


def test_a_full_width_digit_is_not_accepted_as_a_digit():
    value = LIXIA_ID[:5] + "２" + LIXIA_ID[6:]
    error = validation_error(validate_resident_id, value)
    assert "position 6" in error.message


@pytest.mark.parametrize("first", ["0", "9"])
def test_a_region_code_starting_with_0_or_9_is_rejected(first):
    error = validation_error(validate_resident_id, with_id_check(first + LIXIA_PREFIX[1:]))
    assert error.field == "id_number"
    assert "region code must start with a digit 1-8" in error.message


@pytest.mark.parametrize(
    "birth",
    ["19900230", "19901301", "19900001", "19900100", "19000229", "20230229", "00000000"],
)
def test_a_birth_date_that_is_not_a_real_date_is_rejected(birth):
    error = validation_error(validate_resident_id, with_id_check("370102" + birth + "123"))
    assert error.field == "id_number"
    assert "birth date (positions 7-14) is not a real calendar date" in error.message


@pytest.mark.parametrize("birth", ["18991231", "18500101", "10000101"])
def test_a_birth_date_before_1900_is_rejected(birth):
    error = validation_error(validate_resident_id, with_id_check("370102" + birth + "123"))
    assert "birth date (positions 7-14) is before 1900" in error.message


def test_a_birth_date_after_today_is_rejected():
    tomorrow = (FIXED_TODAY + timedelta(days=1)).strftime("%Y%m%d")
    number = with_id_check("370102" + tomorrow + "123")
    error = validation_error(validate_resident_id, number, today=FIXED_TODAY)
    assert "birth date (positions 7-14) is in the future" in error.message


def test_a_birth_date_far_in_the_future_is_rejected_with_the_default_today():
    error = validation_error(validate_resident_id, with_id_check("37010229991231123"))
    assert "is in the future" in error.message


def test_a_wrong_check_character_is_rejected_without_revealing_the_right_one():
    error = validation_error(validate_resident_id, PUBLISHED_ID[:17] + "1")
    assert error.field == "id_number"
    assert error.message == "id_number check character does not match the other 17 characters"


def test_a_wrong_check_character_on_a_digit_id_is_rejected_the_same_way():
    error = validation_error(validate_resident_id, LIXIA_PREFIX + "X")
    assert error.message == "id_number check character does not match the other 17 characters"


def test_the_resident_id_error_names_the_field_given_by_the_caller():
    error = validation_error(validate_resident_id, "123", field="guardian_id_number")
    assert error.field == "guardian_id_number"
    assert error.message.startswith("guardian_id_number ")


@pytest.mark.parametrize("value", [None, 370102199003071238, b"370102199003071238"])
def test_a_resident_id_that_is_not_a_string_is_rejected(value):
    error = validation_error(validate_resident_id, value)
    assert "must be a string" in error.message


def test_invalid_identifier_errors_belong_to_the_service_error_tree():
    error = validation_error(validate_resident_id, "")
    assert isinstance(error, InvalidInputError)
    assert isinstance(error, TaizhangError)
    assert error.code == "invalid_identifier"


@given(valid_resident_ids, st.integers(0, 17), st.sampled_from(DIGITS + "X"))
def test_changing_any_single_character_of_a_valid_resident_id_makes_it_invalid(
    number, position, replacement
):
    allowed = DIGITS + "X" if position == 17 else DIGITS
    if replacement not in allowed or replacement == number[position]:
        replacement = next(char for char in allowed if char != number[position])
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidIdentifierError):
        validate_resident_id(changed, today=FIXED_TODAY)


@pytest.mark.parametrize("number", [LIXIA_ID, PUBLISHED_ID])
def test_every_single_character_substitution_of_a_known_id_is_rejected(number):
    for position in range(18):
        allowed = DIGITS + "X" if position == 17 else DIGITS
        for replacement in allowed:
            if replacement == number[position]:
                continue
            changed = number[:position] + replacement + number[position + 1 :]
            with pytest.raises(InvalidIdentifierError):
                validate_resident_id(changed)


def test_mod_11_2_weights_detect_every_single_digit_substitution_at_every_position():
    # A substitution changes the weighted sum by weight * (new - old); it goes
    # undetected only if that is 0 mod 11. 11 is prime, no weight is 0 mod 11
    # and |new - old| <= 10, so this never happens: checked exhaustively here.
    for weight in ID_WEIGHTS:
        for old in range(10):
            for new in range(10):
                if old != new:
                    assert weight * (new - old) % 11 != 0
    # The check position itself maps sums to distinct characters.
    assert len(set("10X98765432")) == 11


# --- mobile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        " 13800138000 ",
        "+8613800138000",
        "+86 138 0013 8000",
        "+86-138-0013-8000",
        "8613800138000",
        "86 138 0013 8000",
        "138 0013 8000",
        "138-0013-8000",
        "138 - 0013 - 8000",
    ],
)
def test_common_ways_of_writing_a_mobile_number_give_the_bare_11_digits(value):
    assert validate_mobile(value) == "13800138000"


@pytest.mark.parametrize("second", "3456789")
def test_a_mobile_number_may_have_any_second_digit_from_3_to_9(second):
    number = "1" + second + "012345678"
    assert validate_mobile(number) == number


@given(valid_mobiles)
def test_any_11_digit_number_starting_1_then_3_to_9_is_a_valid_mobile(number):
    assert validate_mobile(number) == number
    assert validate_mobile("+86 " + number[:3] + "-" + number[3:7] + "-" + number[7:]) == number


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be blank"),
        ("1380013800", "must have 11 digits, not 10"),
        ("138001380001", "must have 11 digits, not 12"),
        ("+86138001380", "must have 11 digits, not 9"),
        ("23800138000", "must start with 1"),
        ("12800138000", "must have a second digit of 3-9"),
        ("10800138000", "must have a second digit of 3-9"),
        ("+1 415 555 0100", "the only country code allowed is +86"),
        ("+44 7911 123456", "the only country code allowed is +86"),
        ("138.0013.8000", "may contain only digits"),
        ("(138) 0013 8000", "may contain only digits"),
        ("138 0013 800O", "may contain only digits"),
        ("-13800138000", "may contain only digits"),
        ("13800138000-", "may contain only digits"),
        ("138001３8000", "may contain only digits"),
        ("86+13800138000", "may contain only digits"),
    ],
)
def test_a_malformed_mobile_number_is_rejected_with_the_reason(value, fragment):
    error = validation_error(validate_mobile, value)
    assert error.field == "mobile"
    assert fragment in error.message


def test_the_mobile_error_names_the_field_given_by_the_caller():
    error = validation_error(validate_mobile, "12345", field="contact_mobile")
    assert error.field == "contact_mobile"


def test_a_mobile_number_that_is_not_a_string_is_rejected():
    error = validation_error(validate_mobile, 13800138000)
    assert "must be a string" in error.message


# --- unified social credit code --------------------------------------------------------------


def test_the_published_uscc_example_is_valid():
    assert validate_uscc(PUBLISHED_USCC) == PUBLISHED_USCC


def test_a_generated_jinan_uscc_is_valid():
    assert validate_uscc(JINAN_USCC) == JINAN_USCC


def test_a_lowercase_uscc_is_accepted_and_returned_uppercase():
    assert validate_uscc(f" {PUBLISHED_USCC.lower()} ") == PUBLISHED_USCC


@given(valid_usccs)
def test_any_17_alphabet_characters_with_their_check_character_validate(code):
    assert validate_uscc(code) == code


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be blank"),
        (PUBLISHED_USCC[:17], "must be 18 characters long, not 17"),
        (PUBLISHED_USCC + "0", "must be 18 characters long, not 19"),
        ("91350100I000100Y43", "position 9 that is not allowed"),
        ("91350100O000100Y43", "position 9 that is not allowed"),
        ("9135010Z0000100Y43", "position 8 that is not allowed"),
        ("S1350100M000100Y43", "position 1 that is not allowed"),
        ("91350100M000100V43", "position 16 that is not allowed"),
        ("91350100M000100Y4-", "position 18 that is not allowed"),
        ("91350100M000100Y4 ", "must be 18 characters long, not 17"),
        ("91350100M 00100Y43", "position 10 that is not allowed"),
        ("91350100M000100Y44", "check character does not match"),
    ],
)
def test_a_malformed_uscc_is_rejected_with_the_reason(value, fragment):
    error = validation_error(validate_uscc, value)
    assert error.field == "uscc"
    assert fragment in error.message


def test_the_uscc_error_names_the_field_given_by_the_caller():
    error = validation_error(validate_uscc, "9135", field="employer_uscc")
    assert error.field == "employer_uscc"


def test_a_uscc_that_is_not_a_string_is_rejected():
    error = validation_error(validate_uscc, None)
    assert "must be a string" in error.message


@given(valid_usccs, st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_changing_any_single_character_of_a_valid_uscc_makes_it_invalid(
    code, position, replacement
):
    if replacement == code[position]:
        replacement = next(char for char in USCC_ALPHABET if char != code[position])
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidIdentifierError):
        validate_uscc(changed)


@pytest.mark.parametrize("code", [PUBLISHED_USCC, JINAN_USCC])
def test_every_single_character_substitution_of_a_known_uscc_is_rejected(code):
    for position in range(18):
        for replacement in USCC_ALPHABET:
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(InvalidIdentifierError):
                validate_uscc(changed)


def test_mod_31_weights_detect_every_single_character_substitution_at_every_position():
    # As for MOD 11-2: 31 is prime, no weight is 0 mod 31 and alphabet indexes
    # differ by at most 30, so weight * (new - old) is never 0 mod 31.
    for weight in USCC_WEIGHTS:
        for old in range(31):
            for new in range(31):
                if old != new:
                    assert weight * (new - old) % 31 != 0


# --- errors never echo the value -------------------------------------------------------------

id_like_text = st.text(DIGITS + "Xx -AIOZ３", min_size=8, max_size=24)


@given(st.one_of(id_like_text, valid_resident_ids, valid_resident_ids.map(lambda v: v[:-1] + "0")))
@example("370102199003071237")
@example("370102199002301238")
@example("3701021990030712")
def test_a_resident_id_error_never_echoes_the_value(value):
    try:
        validate_resident_id(value, today=FIXED_TODAY)
    except InvalidIdentifierError as error:
        assert_no_echo(value, error.message)
        assert_no_echo(value, str(error))


@given(st.one_of(st.text(DIGITS + " -+O", min_size=8, max_size=20), valid_mobiles))
@example("12800138000")
@example("+1 415 555 0100")
def test_a_mobile_error_never_echoes_the_value(value):
    try:
        validate_mobile(value)
    except InvalidIdentifierError as error:
        assert_no_echo(value, error.message)


@given(st.one_of(st.text(USCC_ALPHABET + "IOSVZ- ", min_size=8, max_size=24), valid_usccs))
@example("91350100M000100Y44")
def test_a_uscc_error_never_echoes_the_value(value):
    try:
        validate_uscc(value)
    except InvalidIdentifierError as error:
        assert_no_echo(value, error.message)


# --- masks -----------------------------------------------------------------------------------


def test_a_resident_id_is_masked_to_region_code_and_last_four():
    assert mask_resident_id(LIXIA_ID) == "370102********1238"
    assert mask_resident_id(PUBLISHED_ID) == "110105********002X"


def test_a_resident_id_with_lowercase_x_is_masked_with_uppercase_x():
    assert mask_resident_id(PUBLISHED_ID.lower()) == "110105********002X"


@given(valid_resident_ids)
def test_a_masked_resident_id_never_shows_the_birth_date(number):
    masked = mask_resident_id(number)
    assert masked == number[:6] + "********" + number[-4:]
    assert number[6:14] not in masked


def test_a_mobile_is_masked_to_first_three_and_last_four_digits():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile("+86 138-0013-8000") == "138****8000"


@given(valid_mobiles)
def test_a_masked_mobile_never_shows_the_middle_four_digits(number):
    masked = mask_mobile(number)
    assert masked == number[:3] + "****" + number[-4:]
    assert masked[3:7] == "****"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李小明", "李**"),
        ("欧阳娜娜", "欧***"),
        ("王", "*"),
        ("", ""),
        (" 张三 ", "张*"),
    ],
)
def test_a_person_name_shows_only_its_first_character(name, masked):
    assert mask_name(name) == masked


@given(st.text(min_size=2).filter(lambda s: len(s.strip()) >= 2))
def test_a_masked_person_name_hides_every_character_after_the_first(name):
    text = name.strip()
    masked = mask_name(name)
    assert masked == text[0] + "*" * (len(text) - 1)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("济南某某科技有限公司", "济南******公司"),
        ("济南科技公司", "济南**公司"),
        ("山东大学堂", "山东*学堂"),
        ("华为公司", "华***"),
        ("阿里", "阿*"),
        ("鑫", "*"),
        ("", ""),
    ],
)
def test_an_enterprise_name_shows_its_first_two_and_last_two_characters(name, masked):
    assert mask_enterprise_name(name) == masked


@given(st.text())
def test_a_masked_enterprise_name_always_hides_at_least_one_character(name):
    text = name.strip()
    masked = mask_enterprise_name(name)
    assert len(masked) == len(text)
    if text:
        assert "*" in masked
    if len(text) >= 5:
        assert masked[2:-2] == "*" * (len(text) - 4)


def test_a_uscc_is_masked_to_first_four_and_last_two():
    assert mask_uscc(PUBLISHED_USCC) == "9135************43"


@given(valid_usccs)
def test_a_masked_uscc_never_shows_its_middle(code):
    masked = mask_uscc(code)
    assert len(masked) == len(code)
    assert masked == code[:4] + "*" * 12 + code[-2:]


@pytest.mark.parametrize(
    "mask", [mask_resident_id, mask_mobile, mask_name, mask_enterprise_name, mask_uscc]
)
@pytest.mark.parametrize("value", [None, "", "   ", 13800138000, "x", "١٢٣", "\ud800", object()])
def test_masks_never_raise_on_odd_input(mask, value):
    assert isinstance(mask(value), str)


@pytest.mark.parametrize(
    "mask", [mask_resident_id, mask_mobile, mask_name, mask_enterprise_name, mask_uscc]
)
@given(value=st.text())
def test_masks_never_raise_on_any_text(mask, value):
    assert isinstance(mask(value), str)


@given(st.text(DIGITS + "Xx", min_size=1, max_size=30).filter(lambda s: len(s) != 18))
def test_a_value_that_is_not_resident_id_shaped_is_masked_completely(value):
    assert set(mask_resident_id(value)) <= {"*"}


@given(st.text(min_size=1, max_size=30).filter(lambda s: len(s.strip()) != 18))
def test_a_value_that_is_not_uscc_shaped_is_masked_completely(value):
    assert set(mask_uscc(value)) <= {"*"}


@given(st.text(DIGITS + " -+", min_size=1, max_size=20))
def test_a_masked_mobile_shows_at_most_seven_digits(value):
    masked = mask_mobile(value)
    assert sum(char in DIGITS for char in masked) <= 7
