"""Issue 20 (8a): a code value is compared and reported whole, never cut by a cast.

Staging once cast the Y/N flags to varchar(1): a published `YES` became `Y`, which the reports counted
as a known code while the run summary listed `YES` as unknown. Every text code stays as wide as the
lake lets text be (WHOLE_TEXT_SQL, from MAX_TEXT_BYTES): in staging and intermediate models, and in the
reports that list code values (`code_value`, `warning_key`); so does the quarantine's `reason` and
`raw_record` in staging. Read from the model files, no warehouse.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingestion.contract import DATASETS
from ingestion.contract.types import MAX_TEXT_BYTES, WHOLE_TEXT_SQL

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
# Text codes of the lake (integer codes are cast to integer, which holds every integer code whole).
TEXT_CODES = sorted({f.name for d in DATASETS for f in d.fields if f.codes is not None and f.type == "string"})
REPORTED = ("code_value", "warning_key")
QUARANTINE_TEXT = ("reason", "raw_record")  # the quarantine's text, made to fit by the ingestion, whole too
_CAST = re.compile(r"cast\(\s*([^()]*?)\s+as\s+varchar\((\d+)\)\s*\)", re.IGNORECASE)
_JINJA_TYPE = re.compile(r"'(\w+)'\s*:\s*'varchar\((\d+)\)'")  # {'column': 'varchar(16)'} in a Jinja mapping


def _narrow_casts(path: Path) -> list[str]:
    """`<file>: <column> as varchar(<n>)` for each cast of a code (or of a Jinja-named column) below the limit."""
    text = path.read_text()
    found = [(expr.split(".")[-1].strip(), int(n)) for expr, n in _CAST.findall(text)]
    found += [(name, int(n)) for name, n in _JINJA_TYPE.findall(text)]
    layer = path.relative_to(MODELS).parts[0]
    codes = (*TEXT_CODES, *REPORTED, *QUARANTINE_TEXT) if layer in ("staging", "intermediate") else REPORTED
    return [
        f"{path.relative_to(MODELS)}: {name} as varchar({n})"
        for name, n in found
        if n < MAX_TEXT_BYTES and (name in codes or "{{" in name)
    ]


def test_no_model_casts_a_code_to_a_shorter_text():
    assert WHOLE_TEXT_SQL == f"varchar({MAX_TEXT_BYTES})"
    assert {"store_and_fwd_flag", "shared_request_flag", "hvfhs_license_num"} <= set(TEXT_CODES)
    narrow = [cast for path in sorted(MODELS.rglob("*.sql")) for cast in _narrow_casts(path)]
    assert not narrow, f"codes and quarantine text must be cast to {WHOLE_TEXT_SQL}: " + "; ".join(narrow)


def test_reports_declare_code_values_whole():
    narrow = []
    for path in sorted(MODELS.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for column in model.get("columns", []):
                if column["name"] in REPORTED and column.get("data_type", WHOLE_TEXT_SQL) != WHOLE_TEXT_SQL:
                    narrow.append(f"{model['name']}.{column['name']}: {column['data_type']}")
    assert not narrow, f"reported codes must be {WHOLE_TEXT_SQL}: " + "; ".join(narrow)


# The base license numbers (B00013) are free text in the contract (no list of codes), yet they are
# compared (fact_fhv_trips joins dim_base on them) and reported (dim_base, int_base_months_aggregated
# under the role-neutral name `base_num`): kept whole in every layer, like the codes. A cast to a shorter
# type would cut two long numbers to one key or send a trip to the unknown member.
BASE_NUMBERS = sorted({f.name for d in DATASETS for f in d.fields if f.name.endswith("_base_num")} | {"base_num"})


def test_no_model_cuts_a_base_number_and_every_model_declares_it_whole():
    assert {"dispatching_base_num", "originating_base_num", "affiliated_base_num"} <= set(BASE_NUMBERS)
    narrow = []
    for path in sorted(MODELS.rglob("*.sql")):
        text = path.read_text()
        found = [(expr.split(".")[-1].strip(), int(n)) for expr, n in _CAST.findall(text)]
        found += [(name, int(n)) for name, n in _JINJA_TYPE.findall(text)]
        narrow += [f"{path.relative_to(MODELS)}: {name} as varchar({n})" for name, n in found if name in BASE_NUMBERS]
    narrow = [cast for cast in narrow if not cast.endswith(f"as {WHOLE_TEXT_SQL}")]
    for path in sorted(MODELS.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for column in model.get("columns", []):
                if column["name"] in BASE_NUMBERS and column.get("data_type", WHOLE_TEXT_SQL) != WHOLE_TEXT_SQL:
                    narrow.append(f"{model['name']}.{column['name']}: {column['data_type']}")
    assert not narrow, f"base numbers must be {WHOLE_TEXT_SQL}: " + "; ".join(narrow)
