"""TLC code tables: the one list of known codes per coded column.

The ingestion job reports a code that is not listed here as a data-quality warning (the trip is
kept and maps to the dimension's unknown member); the dbt seeds that build the code dimensions
(`dbt_project/seeds/tlc_*.csv`) are generated from these tables. Sources: TLC data dictionaries for
yellow (TPEP), green (LPEP) and high-volume FHV trip records, 2025 revisions, and the 2009-2014
yellow data dictionary for the text codes of that era (`legacy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """One code: its value, its name, and the text spellings older layouts used for it."""

    value: int | str
    name: str
    legacy: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeTable:
    """The known codes of one coded column, and the seed they become."""

    seed: str | None  # the dbt seed generated from it; None: checked by the job only
    id_column: str
    name_column: str
    description: str
    codes: tuple[Code, ...]
    id_type: str = "int"
    name_width: int = 64
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def values(self) -> tuple[int | str, ...]:
        return tuple(code.value for code in self.codes)

    def legacy_map(self) -> dict[str, int | str]:
        """Older text spellings (upper-cased) -> code value."""
        return {spelling.upper(): code.value for code in self.codes for spelling in code.legacy}


VENDORS = CodeTable(
    seed="tlc_vendors",
    id_column="vendor_id",
    name_column="vendor_name",
    description=(
        "TLC VendorID codes (TLC trip record data dictionary, 2025). 2009-2014 files name the vendor in text"
        " (CMT, VTS, DDS); code 3 is this project's code for DDS, which has none in today's dictionary."
    ),
    codes=(
        Code(1, "Creative Mobile Technologies", ("CMT",)),
        Code(2, "Curb Mobility (VeriFone)", ("VTS",)),
        Code(3, "Digital Dispatch Systems (2009-2014)", ("DDS",)),
        Code(6, "Myle Technologies"),
        Code(7, "Helix"),
    ),
)

PAYMENT_TYPES = CodeTable(
    seed="tlc_payment_types",
    id_column="payment_type_id",
    name_column="payment_type_name",
    description="TLC payment_type codes (yellow and green data dictionaries, 2025), with the 2009-2014 text codes.",
    codes=(
        Code(0, "Flex Fare trip"),
        Code(1, "Credit card", ("CRD", "CRE", "CREDIT", "CREDIT CARD")),
        Code(2, "Cash", ("CSH", "CAS", "CASH")),
        Code(3, "No charge", ("NOC", "NO CHARGE", "NO")),
        Code(4, "Dispute", ("DIS", "DISPUTE")),
        Code(5, "Unknown", ("UNK", "UNKNOWN", "NA")),
        Code(6, "Voided trip", ("VOI", "VOIDED")),
    ),
)

RATE_CODES = CodeTable(
    seed="tlc_rate_codes",
    id_column="rate_code_id",
    name_column="rate_code_name",
    description="TLC RatecodeID codes (yellow and green data dictionaries, 2025).",
    codes=(
        Code(1, "Standard rate"),
        Code(2, "JFK"),
        Code(3, "Newark"),
        Code(4, "Nassau or Westchester"),
        Code(5, "Negotiated fare"),
        Code(6, "Group ride"),
        Code(99, "Null/unknown"),
    ),
)

TRIP_TYPES = CodeTable(
    seed="tlc_trip_types",
    id_column="trip_type_id",
    name_column="trip_type_name",
    description="Green trip_type codes (LPEP data dictionary, 2025).",
    codes=(Code(1, "Street-hail"), Code(2, "Dispatch")),
)

STORE_AND_FORWARD = CodeTable(
    seed=None,
    id_column="store_and_fwd_flag",
    name_column="store_and_fwd_name",
    description="store_and_fwd_flag: whether the record was held in vehicle memory before sending (2009-2014: 1/0).",
    codes=(Code("Y", "Store and forward trip", ("1",)), Code("N", "Not a store and forward trip", ("0",))),
    id_type="string",
)

YES_NO = CodeTable(
    seed=None,
    id_column="flag",
    name_column="flag_name",
    description="Y/N flags of the high-volume FHV records (shared, access-a-ride, wheelchair requests and matches).",
    codes=(Code("Y", "Yes"), Code("N", "No")),
    id_type="string",
)

SHARED_RIDE = CodeTable(
    seed=None,
    id_column="sr_flag",
    name_column="sr_flag_name",
    description="SR_Flag of FHV records: 1 for a shared-ride request (pool), empty otherwise.",
    codes=(Code(1, "Shared ride requested"),),
)

HVFHS_COMPANIES = CodeTable(
    seed="tlc_hvfhs_companies",
    id_column="hvfhs_license_num",
    name_column="company_name",
    description="High-volume for-hire service license numbers (HVFHV data dictionary, 2025).",
    codes=(
        Code("HV0002", "Juno"),
        Code("HV0003", "Uber"),
        Code("HV0004", "Via"),
        Code("HV0005", "Lyft"),
    ),
    id_type="string",
)

CODE_TABLES: tuple[CodeTable, ...] = (
    VENDORS,
    PAYMENT_TYPES,
    RATE_CODES,
    TRIP_TYPES,
    STORE_AND_FORWARD,
    YES_NO,
    SHARED_RIDE,
    HVFHS_COMPANIES,
)
