"""Indian states and union territories as GST and Zoho Books know them.

Zoho Books identifies a state by a two-letter code (``place_of_contact``,
``place_of_supply``); a GSTIN starts with the state's two-digit GST number. Codes follow
Zoho Books' list of valid state codes (note Andhra Pradesh is ``AD`` and Uttarakhand ``UK``).
"""

from __future__ import annotations

from typing import NamedTuple


class State(NamedTuple):
    code: str         # Zoho Books two-letter code
    gst_number: str   # first two digits of a GSTIN registered there
    name: str
    union_territory: bool  # UT without legislature: CGST + UTGST instead of CGST + SGST


STATES: tuple[State, ...] = (
    State("JK", "01", "Jammu and Kashmir", False),
    State("HP", "02", "Himachal Pradesh", False),
    State("PB", "03", "Punjab", False),
    State("CH", "04", "Chandigarh", True),
    State("UK", "05", "Uttarakhand", False),
    State("HR", "06", "Haryana", False),
    State("DL", "07", "Delhi", False),
    State("RJ", "08", "Rajasthan", False),
    State("UP", "09", "Uttar Pradesh", False),
    State("BR", "10", "Bihar", False),
    State("SK", "11", "Sikkim", False),
    State("AR", "12", "Arunachal Pradesh", False),
    State("NL", "13", "Nagaland", False),
    State("MN", "14", "Manipur", False),
    State("MZ", "15", "Mizoram", False),
    State("TR", "16", "Tripura", False),
    State("ML", "17", "Meghalaya", False),
    State("AS", "18", "Assam", False),
    State("WB", "19", "West Bengal", False),
    State("JH", "20", "Jharkhand", False),
    State("OD", "21", "Odisha", False),
    State("CG", "22", "Chhattisgarh", False),
    State("MP", "23", "Madhya Pradesh", False),
    State("GJ", "24", "Gujarat", False),
    State("DN", "26", "Dadra and Nagar Haveli and Daman and Diu", True),
    State("MH", "27", "Maharashtra", False),
    State("KA", "29", "Karnataka", False),
    State("GA", "30", "Goa", False),
    State("LD", "31", "Lakshadweep", True),
    State("KL", "32", "Kerala", False),
    State("TN", "33", "Tamil Nadu", False),
    State("PY", "34", "Puducherry", False),
    State("AN", "35", "Andaman and Nicobar Islands", True),
    State("TS", "36", "Telangana", False),
    State("AD", "37", "Andhra Pradesh", False),
    State("LA", "38", "Ladakh", True),
    State("OT", "97", "Other Territory", True),
)

BY_CODE: dict[str, State] = {state.code: state for state in STATES}
BY_GST_NUMBER: dict[str, State] = {state.gst_number: state for state in STATES}


def state_for_code(code: str | None) -> State | None:
    """The state for a Zoho code, case and whitespace insensitive; None if unknown."""
    return BY_CODE.get((code or "").strip().upper())
