import numpy as np
import pytest

from costcorrect.errors import InputError
from costcorrect.units import format_number, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("250ms", "time", 0.25),
        ("2 s", "time", 2.0),
        ("3.35TB/s", "bandwidth", 3.35e12),
        ("900GB/s", "bandwidth", 9e11),
        ("400Gb/s", "bandwidth", 5e10),
        ("80GiB", "bytes", 80 * 2**30),
        ("$2.49/h", "usd_rate", 2.49 / 3600),
        ("1.2k", "count", 1200.0),
        ("1.5B", "count", 1.5e9),
        ("989 TFLOPS", "flop_rate", 9.89e14),
        ("989TFLOP/s", "flop_rate", 9.89e14),
        ("80%", "fraction", 0.8),
        ("700 W", "power", 700.0),
        (0.5, "time", 0.5),
    ],
)
def test_parse(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("3.35TB", "bandwidth"), ("250 parsecs", "time"), ("fast", "time"), ("2 s", "bytes")],
)
def test_bad_text_names_field_and_value(text, kind):
    with pytest.raises(InputError) as err:
        parse_quantity(text, kind, field="hbm_bytes_per_s")
    message = str(err.value)
    assert message.startswith("hbm_bytes_per_s: got ") and repr(text) in message
    assert "expected" in message


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (3.35e12, "bandwidth", "3.35 TB/s"),
        (0.25, "time", "250 ms"),
        (2.49 / 3600, "usd_rate", "$2.49/h"),
        (70.55e9, "count", "70.5B"),
        (0.8, "fraction", "80%"),
    ],
)
def test_format(value, kind, text):
    assert format_quantity(value, kind) == text


@pytest.mark.parametrize("kind", ["time", "bytes", "bandwidth", "flop_rate", "power"])
def test_round_trip(kind):
    for value in (1.234e-6, 0.5, 3.0, 4.56e9, 7.8e13):
        assert parse_quantity(format_quantity(value, kind, digits=6), kind) == pytest.approx(
            value, rel=1e-5
        )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.30000000000000004, "0.3"),
        (3.14159, "3.142"),
        (12345.678, "12,346"),
        (-2.5e6, "-2,500,000"),
        (1234567, "1,234,567"),
        (np.int64(42), "42"),
        (np.float64(0.000830556), "8.306e-04"),
        (0.0, "0"),
        (float("nan"), "nan"),
        (True, "True"),
        (np.bool_(False), "False"),
        ("H100-SXM", "H100-SXM"),
    ],
)
def test_table_cells_are_formatted_for_people(value, shown):
    assert format_number(value) == shown
