"""High-volume for-hire (Uber, Lyft, Via) months in the Parquet layout TLC publishes today.

24 columns (+ ``cbd_congestion_fee`` from 2025); from 2023-02 TLC writes text as large_string and the
zones as int32 (string and int64 before). What the values follow, read off TLC's files: Uber
dispatches almost all its trips from B03404 (before 2023: a few dozen B02xxx bases) and originates
them there; Lyft (B03406, before 2023 B02510) and Via (B02800) leave originating_base_num and
on_scene_datetime empty; Uber's access_a_ride_flag is a blank; request < on scene < pickup; trip_time
is the pickup to drop-off span give or take 2 s; the Black Car Fund and sales tax are a share of the
base fare; driver pay is about three quarters of it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.synthetic.common import AIRPORT_ZONES, ZONES, Chunk, month_start, pickup_seconds, seconds
from ingestion.synthetic.frame import Frame, Roles, plant

UBER, LYFT, VIA = "HV0003", "HV0005", "HV0004"
LICENSES = (UBER, LYFT, VIA)
# (first year, month) -> shares of LICENSES. 2023-01 file: 73.5% Uber, 26.5% Lyft, no Via; Via runs
# about 2% of the 2019-2021 trips. (Juno, HV0002, left in 2019-11: not generated.)
LICENSE_SHARES = (((2019, 2), (0.71, 0.26, 0.03)), ((2021, 1), (0.72, 0.265, 0.015)), ((2022, 1), (0.735, 0.265, 0.0)))
# Uber's bases; from 2023 (the 2023-01 file) nearly all its trips come from B03404 and Lyft's from B03406.
UBER_BASES = (
    "B02764", "B02765", "B02617", "B02682", "B02835", "B02836", "B02864", "B02866", "B02867", "B02869", "B02870",
    "B02871", "B02872", "B02875", "B02877", "B02878", "B02879", "B02880", "B02882", "B02883", "B02884", "B02887",
    "B02888",
)  # fmt: skip
UBER_BASE_2023, LYFT_BASE_2023, LYFT_BASE, VIA_BASE = "B03404", "B03406", "B02510", "B02800"
FLAGS = ("N", "Y", " ")
# Codes the reference tables lack, planted on clean trips (kept, counted as warnings).
WARNINGS = {"hvfhs_license_num": ("hvfhs_license_num", "HV0099"), "wav_match_flag": ("wav_match_flag", "U")}
ROLES = Roles(
    pickup="pickup_datetime",
    dropoff="dropoff_datetime",
    zones=("PULocationID", "DOLocationID"),
    unreadable_text="trip_miles",
    linked_times=("request_datetime", "on_scene_datetime"),
    distance="trip_miles",
    trip_time="trip_time",
    negative_amounts=("base_passenger_fare", "bcf", "sales_tax", "driver_pay"),
)
_AMOUNTS = (
    "base_passenger_fare", "tolls", "bcf", "sales_tax", "congestion_surcharge", "airport_fee", "tips", "driver_pay",
)  # fmt: skip
_FLAG_COLUMNS = ("shared_request_flag", "shared_match_flag", "access_a_ride_flag", "wav_request_flag", "wav_match_flag")


def _current(year: int, month: int) -> bool:
    """TLC's 2023-02 rewrite: large_string text, int32 zones."""
    return (year, month) >= (2023, 2)


def schema(service: str, year: int, month: int = 1) -> pa.Schema:
    """The Parquet schema of TLC's fhvhv file for the month."""
    text = pa.large_string() if _current(year, month) else pa.string()
    zone = pa.int32() if _current(year, month) else pa.int64()
    stamp = pa.timestamp("us")
    fields = [
        ("hvfhs_license_num", text),
        ("dispatching_base_num", text),
        ("originating_base_num", text),
        ("request_datetime", stamp),
        ("on_scene_datetime", stamp),
        ("pickup_datetime", stamp),
        ("dropoff_datetime", stamp),
        ("PULocationID", zone),
        ("DOLocationID", zone),
        ("trip_miles", pa.float64()),
        ("trip_time", pa.int64()),
        *((name, pa.float64()) for name in _AMOUNTS),
        *((name, text) for name in _FLAG_COLUMNS),
    ]
    if year >= 2025:
        fields.append(("cbd_congestion_fee", pa.float64()))
    return pa.schema(fields)


def warning_codes(service: str, year: int, month: int) -> tuple[tuple[str, object], ...]:
    return tuple((name, value) for name, (_, value) in WARNINGS.items())


def _license_shares(year: int, month: int) -> tuple[float, ...]:
    return ([shares for start, shares in LICENSE_SHARES if (year, month) >= start] or [LICENSE_SHARES[0][1]])[-1]


def _bases(rng: np.random.Generator, company: np.ndarray, year: int) -> tuple[tuple[str, ...], np.ndarray]:
    """(base numbers, index of each trip's dispatching base): Uber's main base, Lyft's, Via's, then
    Uber's others."""
    if year >= 2023:
        bases, main_share = (UBER_BASE_2023, LYFT_BASE_2023, VIA_BASE, *UBER_BASES), 0.97
    else:
        bases, main_share = (UBER_BASES[0], LYFT_BASE, VIA_BASE, *UBER_BASES[1:]), 0.2
    others = len(bases) - 3
    uber = np.where(rng.random(len(company)) < main_share, 0, 3 + rng.integers(0, others, len(company)))
    return bases, np.where(company == 0, uber, company)  # Lyft -> 1, Via -> 2


def _clean(rng: np.random.Generator, n: int, year: int, month: int, zones: np.ndarray) -> Frame:
    """`n` valid trips."""
    company = rng.choice(len(LICENSES), n, p=_license_shares(year, month))
    lyft, uber = company == 1, company == 0
    bases, dispatching = _bases(rng, company, year)

    pickup = month_start(year, month) + seconds(pickup_seconds(rng, n, year, month))
    wait = np.clip(rng.lognormal(np.log(270), 0.5, n), 30, 3600).astype("int64")
    request = pickup - seconds(wait)
    on_scene = request + seconds(wait * rng.uniform(0.55, 0.95, n))
    miles = np.clip(rng.lognormal(1.05, 0.8, n), 0.0, 120.0)
    miles[rng.random(n) < 0.005] = 0.0
    miles = np.where(lyft, np.round(miles, 3), np.round(miles, 2))  # Lyft reports thousandths
    duration = np.clip(miles / rng.uniform(7, 20, n) * 3600 + rng.integers(60, 300, n), 60, 4 * 3600).astype("int64")
    dropoff = pickup + seconds(duration)
    trip_time = duration + rng.integers(-2, 3, n)

    minutes = duration / 60
    surge = rng.lognormal(0.0, 0.18, n)
    fare = np.round(np.maximum(7.0, (2.5 + 1.7 * miles + 0.75 * minutes) * surge), 2)
    bcf_rate = 0.025 if year <= 2022 else 0.03 if year == 2023 else 0.0275
    tolls = np.where(rng.random(n) < 0.06, 6.94 if year >= 2023 else 6.12, 0.0)
    pu = rng.choice(ZONES, n, p=zones) + 1
    do = rng.choice(ZONES, n, p=zones) + 1
    airport = (np.isin(pu, AIRPORT_ZONES).astype(float) + np.isin(do, AIRPORT_ZONES)) * 2.5
    tipped = rng.random(n) < 0.17
    tip = np.round(fare * rng.uniform(0.08, 0.25, n), 2)
    tip = np.where(tipped, np.where(rng.random(n) < 0.6, np.maximum(1.0, np.round(tip)), tip), 0.0)
    shared = rng.random(n) < 0.027
    wav_request = rng.random(n) < 0.0015
    wav_match = wav_request | (rng.random(n) < 0.065)
    values = {
        "hvfhs_license_num": company,
        "dispatching_base_num": dispatching,
        "originating_base_num": dispatching.copy(),
        "request_datetime": request,
        "on_scene_datetime": on_scene,
        "pickup_datetime": pickup,
        "dropoff_datetime": dropoff,
        "PULocationID": pu,
        "DOLocationID": do,
        "trip_miles": miles,
        "trip_time": trip_time,
        "base_passenger_fare": fare,
        "tolls": tolls,
        "bcf": np.round(fare * bcf_rate, 2),
        "sales_tax": np.round(fare * 0.08875, 2),
        "congestion_surcharge": np.where(rng.random(n) < 0.35, 2.75, 0.0),
        "airport_fee": airport,
        "tips": tip,
        "driver_pay": np.round(fare * np.clip(rng.normal(0.75, 0.07, n), 0.55, 1.0), 2),
        "shared_request_flag": shared.astype("int64"),
        "shared_match_flag": (shared & (rng.random(n) < 0.37)).astype("int64"),
        "access_a_ride_flag": np.where(lyft, 0, 2),
        "wav_request_flag": wav_request.astype("int64"),
        "wav_match_flag": wav_match.astype("int64"),
        "cbd_congestion_fee": np.where(rng.random(n) < 0.35, 1.5, 0.0) if year >= 2025 else np.zeros(n),
    }
    frame = Frame(values, categories={"hvfhs_license_num": LICENSES, "dispatching_base_num": bases})
    frame.categories["originating_base_num"] = bases
    frame.categories.update({name: FLAGS for name in _FLAG_COLUMNS})
    frame.nulls["originating_base_num"] = ~uber
    frame.nulls["on_scene_datetime"] = ~uber
    if year < 2022:  # TLC has no airport fee for these trips before 2022
        frame.nulls["airport_fee"] = np.ones(n, dtype=bool)
    return frame


def chunk(rng: np.random.Generator, spec: Chunk) -> pa.Table:
    """`spec.n` rows in TLC's layout, with the spec's planted anomalies and unknown codes."""
    frame = _clean(rng, spec.n, spec.year, spec.month, spec.zones)
    plant(rng, frame, ROLES, spec, WARNINGS)
    return frame.to_table(schema(spec.service, spec.year, spec.month), spec.text)
