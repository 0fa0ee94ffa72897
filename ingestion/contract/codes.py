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


def _table(seed: str | None, columns: str, description: str, *codes: tuple, id_type: str = "int") -> CodeTable:
    """A code table from `"<id column> <name column>"` and (value, name[, legacy spellings]) rows."""
    id_column, name_column = columns.split()
    return CodeTable(seed, id_column, name_column, description, tuple(Code(*row) for row in codes), id_type)


VENDORS = _table(
    "tlc_vendors",
    "vendor_id vendor_name",
    "TLC VendorID codes (TLC trip record data dictionary, 2025). 2009-2014 files name the vendor in text"
    " (CMT, VTS, DDS); code 3 is this project's code for DDS, which has none in today's dictionary.",
    (1, "Creative Mobile Technologies", ("CMT",)),
    (2, "Curb Mobility (VeriFone)", ("VTS",)),
    (3, "Digital Dispatch Systems (2009-2014)", ("DDS",)),
    (6, "Myle Technologies"),
    (7, "Helix"),
)
PAYMENT_TYPES = _table(
    "tlc_payment_types",
    "payment_type_id payment_type_name",
    "TLC payment_type codes (yellow and green data dictionaries, 2025), with the 2009-2014 text codes.",
    (0, "Flex Fare trip"),
    (1, "Credit card", ("CRD", "CRE", "CREDIT", "CREDIT CARD")),
    (2, "Cash", ("CSH", "CAS", "CASH")),
    (3, "No charge", ("NOC", "NO CHARGE", "NO")),
    (4, "Dispute", ("DIS", "DISPUTE")),
    (5, "Unknown", ("UNK", "UNKNOWN", "NA")),
    (6, "Voided trip", ("VOI", "VOIDED")),
)
RATE_CODES = _table(
    "tlc_rate_codes",
    "rate_code_id rate_code_name",
    "TLC RatecodeID codes (yellow and green data dictionaries, 2025).",
    *enumerate(("Standard rate", "JFK", "Newark", "Nassau or Westchester", "Negotiated fare", "Group ride"), start=1),
    (99, "Null/unknown"),
)
TRIP_TYPES = _table(
    "tlc_trip_types",
    "trip_type_id trip_type_name",
    "Green trip_type codes (LPEP data dictionary, 2025).",
    (1, "Street-hail"),
    (2, "Dispatch"),
)
STORE_AND_FORWARD = _table(
    None,
    "store_and_fwd_flag store_and_fwd_name",
    "store_and_fwd_flag: whether the record was held in vehicle memory before sending (2009-2014: 1/0).",
    ("Y", "Store and forward trip", ("1",)),
    ("N", "Not a store and forward trip", ("0",)),
    id_type="string",
)
YES_NO = _table(
    None,
    "flag flag_name",
    "Y/N flags of the high-volume FHV records (shared, access-a-ride, wheelchair requests and matches).",
    ("Y", "Yes"),
    ("N", "No"),
    id_type="string",
)
SHARED_RIDE = _table(
    None,
    "sr_flag sr_flag_name",
    "SR_Flag of FHV records: 1 for a shared-ride request (pool), empty otherwise.",
    (1, "Shared ride requested"),
)
HVFHS_COMPANIES = _table(
    "tlc_hvfhs_companies",
    "hvfhs_license_num company_name",
    "High-volume for-hire service license numbers (HVFHV data dictionary, 2025).",
    *(("HV000" + str(n), name) for n, name in ((2, "Juno"), (3, "Uber"), (4, "Via"), (5, "Lyft"))),
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
