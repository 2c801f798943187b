"""Realistic, deterministic demo data for the storefront (``kn-zoho seed``).

Generation (``generate``) is a pure function of its arguments, so a test or a demo can
re-derive exactly the rows ``seed`` inserted: ids come from the RNG and timestamps from a
fixed 2026 calendar, never from ``now()``. Each table draws from its own RNG stream, so the
first N users and products are the same whatever the counts asked for. Insertion is
idempotent: rows are keyed by their natural keys (email, SKU, order and quote numbers, ids)
and inserted with ``ON CONFLICT DO NOTHING``, so re-running a seed inserts nothing, and the
storefront triggers enqueue Zoho sync work exactly as they do for real sign-ups and orders.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kn_zoho.mapping.states import BY_CODE

Row = dict[str, Any]

IST = timezone(timedelta(hours=5, minutes=30), "IST")
CALENDAR_START = datetime(2026, 1, 1, tzinfo=IST)
CALENDAR_END = datetime(2026, 12, 31, 22, 0, tzinfo=IST)
COMPANY_STATE = "KA"  # KN Biosciences ships from Karnataka: orders to KA are intra-state
QUOTE_VALIDITY = timedelta(days=30)

CENT = Decimal("0.01")

# --- GSTIN -----------------------------------------------------------------------------------

GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gstin_check_char(first14: str) -> str:
    """The 15th GSTIN character: Luhn mod 36 over the first 14 (factors 1, 2, 1, ...)."""
    total = 0
    for position, char in enumerate(first14.upper()):
        product = GSTIN_ALPHABET.index(char) * (2 if position % 2 else 1)
        total += product // 36 + product % 36
    return GSTIN_ALPHABET[-total % 36]


def make_gstin(state_number: str, pan: str, registration: str = "1") -> str:
    """A valid GSTIN: state GST number + PAN + registration count + 'Z' + check character."""
    body = f"{state_number}{pan}{registration}Z".upper()
    if len(body) != 14:
        raise ValueError(f"GSTIN body {body!r} must be 14 characters (2 + PAN of 10 + 1 + Z)")
    return body + gstin_check_char(body)


def random_pan(rng: random.Random, holder_type: str = "C", name: str = "") -> str:
    """A well-formed PAN: AAA + holder type (C company, F firm/LLP, P person...) + initial
    (first letter of ``name``) + 4 digits (not 0000) + a letter."""
    letters = "".join(rng.choice(_UPPER) for _ in range(3))
    initial = next((c for c in name.upper() if c in _UPPER), rng.choice(_UPPER))
    digits = f"{rng.randint(1, 9999):04d}"
    return f"{letters}{holder_type}{initial}{digits}{rng.choice(_UPPER)}"


# --- Reference data --------------------------------------------------------------------------

# Where customers live: Karnataka (the company's home market) first, then the big farm states.
# LA/OT are left out: they have no GSTIN state numbers in common validators.
STATE_WEIGHTS: dict[str, float] = {
    "KA": 38, "MH": 9, "TN": 8, "AD": 6, "TS": 6, "GJ": 4, "UP": 4, "KL": 3, "RJ": 3,
    "MP": 3, "PB": 2, "HR": 2, "WB": 2, "DL": 2, "OD": 1.5, "BR": 1, "CG": 1, "GA": 1,
    "AS": 1, "JH": 0.5, "UK": 0.5, "HP": 0.5, "JK": 0.5, "PY": 0.5, "CH": 0.3, "TR": 0.2,
}


class _Names(NamedTuple):
    first: tuple[str, ...]
    last: tuple[str, ...]
    single_name_share: float  # people known by one name (common in Tamil Nadu)


_NAMES: dict[str, _Names] = {
    "kannada": _Names(
        ("Manjunath", "Raghavendra", "Shivakumar", "Basavaraj", "Chethan", "Darshan", "Prajwal",
         "Kavya", "Shwetha", "Ramya", "Pavithra", "Nagaraj", "Mahesh", "Sowmya", "Anitha",
         "Harish", "Girish", "Vinay", "Lakshmi", "Sahana", "Yashas", "Bhoomika"),
        ("Gowda", "Hegde", "Shetty", "Rao", "Kulkarni", "Bhat", "Naik", "Patil", "Reddy",
         "Shenoy", "Kamath", "Murthy", "Swamy", "Prasad", "Nayak", "Poojary", "Hiremath"),
        0.04),
    "tamil": _Names(
        ("Karthik", "Senthil", "Murugan", "Arun", "Vignesh", "Priya", "Lakshmi", "Divya",
         "Saravanan", "Balaji", "Meena", "Selvi", "Ganesh", "Anand", "Revathi", "Kavitha",
         "Dinesh", "Gokul"),
        ("Subramanian", "Krishnan", "Iyer", "Raman", "Natarajan", "Pillai", "Ramasamy",
         "Sundaram", "Venkatesan", "Palaniswamy", "Rajendran", "Arumugam"),
        0.15),
    "telugu": _Names(
        ("Srinivas", "Venkatesh", "Ravi", "Sai Kiran", "Lakshmi Prasanna", "Swathi", "Naveen",
         "Sravani", "Chaitanya", "Madhavi", "Suresh", "Anusha", "Kiran", "Harika"),
        ("Reddy", "Naidu", "Rao", "Chowdary", "Varma", "Goud", "Yadav", "Sastry", "Raju"),
        0.03),
    "malayali": _Names(
        ("Anoop", "Arjun", "Vishnu", "Aswathy", "Nithin", "Jithin", "Sreeja", "Anju", "Rahul",
         "Greeshma", "Sebastian", "Midhun"),
        ("Nair", "Menon", "Pillai", "Kurup", "Varghese", "Thomas", "Kurian", "Joseph",
         "Namboothiri", "Mathew"),
        0.03),
    "marathi": _Names(
        ("Rahul", "Sachin", "Amol", "Sneha", "Pooja", "Prashant", "Vaishali", "Nikhil",
         "Swapnil", "Snehal", "Rohan", "Aditi", "Tejas", "Manasi"),
        ("Patil", "Deshmukh", "Joshi", "Kulkarni", "Jadhav", "Pawar", "Shinde", "Gaikwad",
         "More", "Deshpande", "Kale", "Naik"),
        0.02),
    "gujarati": _Names(
        ("Hardik", "Jignesh", "Bhavesh", "Nirav", "Hetal", "Krupa", "Dhruv", "Mitesh",
         "Ramesh", "Kinjal", "Parth", "Vikram", "Mahendra", "Sunita"),
        ("Patel", "Shah", "Desai", "Mehta", "Chauhan", "Parmar", "Trivedi", "Rathore",
         "Shekhawat", "Meena", "Choudhary", "Agarwal"),
        0.02),
    "hindi": _Names(
        ("Amit", "Rajesh", "Sunil", "Pankaj", "Neha", "Pooja", "Anjali", "Vikas", "Rohit",
         "Deepak", "Sandeep", "Priyanka", "Manoj", "Ankit", "Gurpreet", "Harpreet", "Jaspreet",
         "Ritu", "Saurabh", "Kamlesh"),
        ("Sharma", "Verma", "Gupta", "Singh", "Yadav", "Mishra", "Tiwari", "Pandey", "Chauhan",
         "Saini", "Dhillon", "Sandhu", "Kumar", "Jain", "Thakur", "Rawat"),
        0.03),
    "eastern": _Names(
        ("Subhajit", "Arindam", "Sourav", "Moumita", "Priyanka", "Debasish", "Anirban",
         "Rupali", "Sasmita", "Biswajit", "Pranjal", "Bidisha"),
        ("Banerjee", "Chatterjee", "Mukherjee", "Das", "Ghosh", "Bose", "Sen", "Mohanty",
         "Patnaik", "Sahoo", "Bora", "Baruah"),
        0.02),
}

_REGION_OF_STATE: dict[str, str] = {
    "KA": "kannada", "GA": "marathi", "MH": "marathi", "TN": "tamil", "PY": "tamil",
    "AD": "telugu", "TS": "telugu", "KL": "malayali", "GJ": "gujarati", "RJ": "gujarati",
    "WB": "eastern", "OD": "eastern", "AS": "eastern", "TR": "eastern", "JH": "eastern",
}  # every other state: "hindi"


class _Person(NamedTuple):
    display: str       # full_name as the user typed it
    first: str         # romanised, for the email address
    last: str | None


# A handful of users type their name in their own script (the email stays romanised).
_NATIVE_NAMES: dict[str, tuple[_Person, ...]] = {
    "hindi": (_Person("राहुल शर्मा", "rahul", "sharma"), _Person("प्रिया वर्मा", "priya", "verma"),
              _Person("अमित कुमार", "amit", "kumar"), _Person("सुनीता यादव", "sunita", "yadav")),
    "marathi": (_Person("स्नेहा पाटील", "sneha", "patil"), _Person("अमोल जाधव", "amol", "jadhav")),
    "tamil": (_Person("கார்த்திக் ராஜா", "karthik", "raja"), _Person("செல்வி", "selvi", None),
              _Person("முருகன் சுப்பிரமணியன்", "murugan", "subramanian")),
    "kannada": (_Person("ಮಂಜುನಾಥ ಗೌಡ", "manjunath", "gowda"), _Person("ಕಾವ್ಯ ಹೆಗ್ಡೆ", "kavya", "hegde"),
                _Person("ಬಸವರಾಜ ಪಾಟೀಲ", "basavaraj", "patil")),
    "telugu": (_Person("శ్రీనివాస్ రెడ్డి", "srinivas", "reddy"),),
}

_FREE_MAIL = {"gmail.com": 70, "yahoo.co.in": 8, "yahoo.com": 5, "outlook.com": 5,
              "rediffmail.com": 4, "hotmail.com": 3, "icloud.com": 2}

# Bengaluru, Chennai, Mumbai, Hyderabad, Delhi, Ahmedabad, Kolkata: businesses give landlines.
_CITY_STD_CODE = {"KA": "80", "TN": "44", "MH": "22", "TS": "40", "DL": "11", "GJ": "79",
                  "WB": "33"}

_COMPANY_PREFIXES = ("Sri Lakshmi", "Sri Venkateswara", "Annapurna", "Kisan", "Green Valley",
                     "Deccan", "Cauvery", "Krishna", "Godavari", "Bharat", "Shakti", "Sahyadri",
                     "Malnad", "Om Sai", "Jai Kisan", "Ganga", "Narmada", "Hariyali", "Bhoomi",
                     "Vasundhara")
_COMPANY_TRADES = ("Agro Agencies", "Agri Inputs", "Fertilisers", "Agro Chemicals",
                   "Farm Solutions", "Seeds & Pesticides", "Horticulture", "Agritech",
                   "Organics", "Biotech", "Krishi Kendra", "Diagnostics", "Nurseries")
# (suffix, PAN holder type): proprietors trade under their own PAN (P), firms and LLPs are F.
_COMPANY_FORMS = (("", "P", 30), (" & Co.", "F", 10), (" LLP", "F", 10),
                  (" Pvt. Ltd.", "C", 30), (" Private Limited", "C", 10),
                  (" Farmer Producer Company Ltd", "C", 7), (" Trust", "T", 3))


class _Product(NamedTuple):
    category: str       # SKU infix
    name: str
    description: str
    hsn_code: str       # 4, 6 or 8 digits, as businesses of different sizes report them
    gst_rate: Decimal
    packs: tuple[tuple[str, int], ...]  # (pack size, typical GST-inclusive price in rupees)


def _p(category: str, name: str, description: str, hsn: str, rate: int,
       *packs: tuple[str, int]) -> _Product:
    return _Product(category, name, description, hsn, Decimal(rate), packs)


CATALOGUE: tuple[_Product, ...] = (
    _p("BF", "Azotobacter Liquid Bio-fertiliser", "Free-living nitrogen fixer for cereals, "
       "millets and vegetables; 1x10^8 CFU/ml.", "31010099", 5,
       ("500 ml", 240), ("1 L", 420), ("5 L", 1850)),
    _p("BF", "Rhizobium Culture for Pulses", "Seed treatment for groundnut, soybean, red gram "
       "and other legumes.", "31010099", 5, ("250 g", 95), ("1 kg", 320)),
    _p("BF", "Azospirillum Bio-fertiliser", "Nitrogen fixer for paddy, sugarcane and maize.",
       "31010099", 5, ("1 L", 410), ("5 L", 1790)),
    _p("BF", "PSB Phosphate Solubilising Bacteria", "Releases fixed soil phosphorus; cuts DAP "
       "use by up to 25%.", "31010099", 5, ("1 L", 390), ("5 L", 1720)),
    _p("BF", "KMB Potash Mobilising Bacteria", "Mobilises potassium for banana, sugarcane and "
       "vegetables.", "31010099", 5, ("1 L", 395), ("5 L", 1750)),
    _p("BF", "Zinc Solubilising Bacteria", "Corrects zinc deficiency in paddy and maize "
       "biologically.", "310100", 5, ("500 ml", 260), ("1 L", 450)),
    _p("BF", "NPK Consortia Liquid Bio-fertiliser", "Azotobacter, PSB and KMB in one bottle.",
       "31010099", 5, ("1 L", 520), ("5 L", 2350)),
    _p("BF", "VAM Mycorrhiza Granules", "Arbuscular mycorrhiza for root growth and drought "
       "tolerance.", "31010099", 5, ("4 kg", 680), ("20 kg", 3100)),
    _p("BF", "Vermicompost Enriched", "Sieved vermicompost enriched with beneficial microbes.",
       "3101", 5, ("5 kg", 199), ("25 kg", 799)),
    _p("BP", "Trichoderma viride 1% WP", "Bio-fungicide against root rot, wilt and damping "
       "off.", "38089290", 12, ("1 kg", 285), ("5 kg", 1320)),
    _p("BP", "Pseudomonas fluorescens 1% WP", "Bio-fungicide and bactericide for blast, sheath "
       "blight and wilt.", "38089290", 12, ("1 kg", 295), ("5 kg", 1380)),
    _p("BP", "Beauveria bassiana 1.15% WP", "Entomopathogenic fungus for borers, whitefly and "
       "thrips.", "38089199", 12, ("1 kg", 340), ("5 kg", 1590)),
    _p("BP", "Metarhizium anisopliae 1.15% WP", "Bio-insecticide for white grub, termite and "
       "rhinoceros beetle.", "38089199", 12, ("1 kg", 345), ("5 kg", 1610)),
    _p("BP", "Verticillium lecanii 1.15% WP", "Controls aphids, mealybugs and scale insects.",
       "38089199", 12, ("1 kg", 330)),
    _p("BP", "Bacillus thuringiensis var. kurstaki 5% WP", "Bio-insecticide for lepidopteran "
       "caterpillars.", "380891", 12, ("500 g", 460), ("1 kg", 860)),
    _p("BP", "Paecilomyces lilacinus 1% WP", "Bio-nematicide for root-knot nematodes.",
       "38089199", 12, ("1 kg", 360)),
    _p("BP", "Neem Oil 10000 ppm", "Azadirachtin 1% EC; repellent and antifeedant.",
       "38089199", 12, ("250 ml", 310), ("1 L", 1090)),
    _p("MN", "Zinc Sulphate Monohydrate 33%", "FCO grade zinc for paddy and maize.",
       "28332990", 12, ("1 kg", 145), ("5 kg", 640)),
    _p("MN", "Chelated Iron EDTA 12%", "Corrects iron chlorosis in fruit crops.", "38249900",
       12, ("500 g", 330), ("1 kg", 610)),
    _p("MN", "Boron 20% (Disodium Octaborate)", "Improves flowering and fruit set.",
       "28401900", 12, ("500 g", 240), ("1 kg", 450)),
    _p("MN", "Multi-micronutrient Mixture Grade II", "Zn, Fe, Mn, Cu, B and Mo for foliar "
       "spray.", "38249900", 12, ("1 kg", 265), ("5 kg", 1190)),
    _p("MN", "NPK 19:19:19 Water Soluble Fertiliser", "Balanced nutrition for fertigation.",
       "31052000", 5, ("1 kg", 185), ("25 kg", 3950)),
    _p("MN", "Mono Potassium Phosphate 0:52:34", "For flowering and fruit development.",
       "31054000", 5, ("1 kg", 260), ("25 kg", 5900)),
    _p("MN", "Calcium Nitrate", "Prevents blossom end rot; fertigation grade.", "3102",
       5, ("1 kg", 120), ("25 kg", 2450)),
    _p("PG", "Seaweed Extract Liquid", "Ascophyllum nodosum extract bio-stimulant.",
       "31010099", 5, ("500 ml", 420), ("1 L", 780)),
    _p("PG", "Humic Acid 12% Liquid", "Improves soil structure and nutrient uptake.",
       "38249900", 18, ("1 L", 350), ("5 L", 1550)),
    _p("PG", "Gibberellic Acid 0.001% L", "Plant growth regulator for grapes and vegetables.",
       "38089340", 18, ("100 ml", 160), ("500 ml", 690)),
    _p("PG", "Amino Acid Bio-stimulant", "Plant-based amino acids for stress recovery.",
       "38249900", 18, ("1 L", 540)),
    _p("PG", "Fulvic Acid Granules", "Soil application with basal dose.", "382499", 18,
       ("5 kg", 820)),
    _p("LR", "Nutrient Agar Medium", "Dehydrated culture medium for general bacteriology.",
       "38210000", 18, ("500 g", 2450)),
    _p("LR", "Potato Dextrose Agar", "Dehydrated medium for fungal cultures.", "38210000", 18,
       ("500 g", 2890)),
    _p("LR", "King's B Medium", "Selective medium for fluorescent pseudomonads.", "38210000",
       18, ("500 g", 3350)),
    _p("LR", "Gram Stain Kit", "Crystal violet, iodine, decolouriser and safranin.",
       "38220090", 12, ("4 x 125 ml", 690)),
    _p("LR", "Soil Testing Kit (NPK, pH, EC)", "Field kit for 50 soil samples.", "38220090",
       12, ("1 kit", 3499)),
    _p("LR", "Sterile Petri Plates 90 mm", "Polystyrene, gamma sterilised.", "39269099", 18,
       ("pack of 500", 3150)),
    _p("SD", "Hybrid Tomato Seeds", "Determinate, ToLCV tolerant, 65 days to first harvest.",
       "12099190", 0, ("10 g", 420), ("50 g", 1950)),
    _p("SD", "Chilli Hybrid Seeds", "Dark green, pungent; for fresh and dry markets.",
       "12099190", 0, ("10 g", 560)),
    _p("SD", "Okra (Bhindi) Seeds", "YVMV tolerant, dark green pods.", "12099190", 0,
       ("250 g", 340), ("1 kg", 1250)),
    _p("SD", "Marigold F1 Seeds", "African orange, for loose flower markets.", "120930", 0,
       ("10 g", 650)),
    _p("SD", "Sweet Corn Seeds", "Hybrid, 18% brix, 75 days.", "1005", 0, ("1 kg", 1150)),
    _p("SD", "Dhaincha Green Manure Seeds", "Sesbania for in-situ green manuring.",
       "12099190", 0, ("5 kg", 475), ("20 kg", 1780)),
    _p("EQ", "Knapsack Battery Sprayer 16 L", "12 V 8 Ah battery, 4 nozzles.", "84242000", 12,
       ("1 unit", 2650)),
    _p("EQ", "Fruit Fly Pheromone Trap", "Methyl eugenol lure with reusable trap.",
       "38089199", 18, ("pack of 5", 399)),
    _p("EQ", "Yellow Sticky Traps", "Monitors whitefly, aphids and leaf miners.",
       "39269099", 18, ("pack of 10", 249)),
)

_CROPS = ("paddy", "sugarcane", "tomato", "chilli", "cotton", "grapes", "pomegranate",
          "banana", "arecanut", "coffee", "turmeric", "ragi", "maize", "groundnut", "onion")

_INQUIRY_TOPICS: tuple[tuple[str, str], ...] = (
    ("Bulk order enquiry", "We need about {qty} packs of {product} for our members growing "
     "{crop}. Please share your best price and delivery time."),
    ("Dealership enquiry", "I run an agri input shop and would like to stock {product} and "
     "your other bio-inputs. What are the dealer terms?"),
    ("Dosage query", "What is the dosage of {product} per acre for {crop}? Can it be mixed "
     "with chemical fungicides?"),
    ("Product availability", "Is {product} available for delivery to my pin code? The "
     "website shows it in stock but checkout fails."),
    ("COA / MSDS request", "Please send the certificate of analysis and MSDS for {product} "
     "(latest batch)."),
    ("Field demonstration", "Our FPO would like a field demo of {product} on {crop} before "
     "the kharif season."),
)

_QUOTE_NOTES = ("Required before kharif sowing.", "Delivery to our godown, part shipments "
                "acceptable.", "Please quote with freight to our warehouse.",
                "Payment by NEFT within 30 days.", "For FPO members; need GST invoice.", None)


# --- Money -----------------------------------------------------------------------------------

def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _included_gst(amount: Decimal, rate: Decimal) -> Decimal:
    """GST contained in a GST-inclusive amount."""
    return _money(amount * rate / (100 + rate))


def _line(product: Row, quantity: int, discount: Decimal) -> Row:
    return {"product_id": product["id"], "quantity": quantity, "unit_price": product["price"],
            "discount": discount, "gst_rate": product["gst_rate"],
            "line_total": _money(quantity * product["price"] - discount)}


def _totals(lines: Sequence[Row]) -> Row:
    return {"subtotal": sum((line["line_total"] for line in lines), Decimal("0.00")),
            "discount_total": sum((line["discount"] for line in lines), Decimal("0.00")),
            "tax_total": sum((_included_gst(line["line_total"], line["gst_rate"])
                              for line in lines), Decimal("0.00"))}


# --- Generation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedData:
    """Rows to insert, keyed by column name, in insertion order."""

    users: list[Row]
    products: list[Row]
    orders: list[Row]
    order_items: list[Row]
    contact_submissions: list[Row]
    b2b_quotes: list[Row]
    b2b_quote_items: list[Row]


def _stream(seed: int, table: str) -> random.Random:
    """One RNG per table, so adding users never changes the products (and so on)."""
    return random.Random(f"kn_zoho.seed:{seed}:{table}")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random, region: str) -> _Person:
    if region in _NATIVE_NAMES and rng.random() < 0.03:
        return rng.choice(_NATIVE_NAMES[region])
    names = _NAMES[region]
    first = rng.choice(names.first)
    roll = rng.random()
    if roll < names.single_name_share:
        return _Person(first, first, None)
    last = rng.choice(names.last)
    if region == "tamil" and roll < 0.35:  # initial of the father's name first: "R. Karthik"
        return _Person(f"{last[0]}. {first}", first, last[0])
    return _Person(f"{first} {last}", first, last)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _email(rng: random.Random, person: _Person, domain: str, taken: set[str]) -> str:
    first, last = _slug(person.first), _slug(person.last or "")
    year = rng.randint(70, 105) % 100
    if last:
        local = rng.choices(
            (f"{first}.{last}", f"{first}{last}", f"{first}_{last}", f"{first}.{last}{year:02d}",
             f"{first[0]}{last}", f"{first}{rng.randint(1, 999)}", f"{last}.{first}"),
            weights=(30, 15, 5, 15, 10, 15, 10))[0]
    else:
        local = rng.choice((first, f"{first}{year:02d}", f"{first}{rng.randint(1, 9999)}"))
    email, suffix = f"{local}@{domain}", 2
    while email in taken:
        email, suffix = f"{local}{suffix}@{domain}", suffix + 1
    taken.add(email)
    return email


def _mobile(rng: random.Random) -> str:
    """An Indian mobile number as people type it: with or without +91, 0, spaces, dashes."""
    number = rng.choices("9876", weights=(50, 25, 18, 7))[0] + "".join(
        rng.choice("0123456789") for _ in range(9))
    return rng.choices(
        (f"+91 {number}", f"+91-{number[:5]}-{number[5:]}", f"0{number}",
         f"{number[:5]} {number[5:]}", number, f"+91{number}", f"91 {number}"),
        weights=(25, 8, 10, 20, 20, 12, 5))[0]


def _landline(rng: random.Random, std_code: str) -> str:
    number = rng.choice("246") + "".join(rng.choice("0123456789") for _ in range(7))
    return rng.choice((f"0{std_code} {number[:4]} {number[4:]}", f"0{std_code}-{number}",
                       f"+91 {std_code} {number}"))


class _Business(NamedTuple):
    name: str
    pan: str
    brand: str  # what its web domain would be called


def _business(rng: random.Random, person: _Person) -> _Business:
    """A trade name and the PAN of the business behind it."""
    suffix, holder_type = rng.choices([(s, t) for s, t, _ in _COMPANY_FORMS],
                                      weights=[w for _, _, w in _COMPANY_FORMS])[0]
    prefix = rng.choice(_COMPANY_PREFIXES)
    trade = "" if "Producer" in suffix else " " + rng.choice(_COMPANY_TRADES)
    name = f"{prefix}{trade}{suffix}"
    # A proprietor's PAN carries their own surname initial; an entity's its name's initial.
    initial_of = (person.last or person.first) if holder_type == "P" else name
    brand = _slug(prefix + (trade or "fpo"))
    return _Business(name, random_pan(rng, holder_type, initial_of), brand)


def _users(rng: random.Random, count: int) -> list[Row]:
    taken: set[str] = set()
    rows = []
    for _ in range(count):
        user_id = _uuid(rng)
        billing_state = _weighted(rng, STATE_WEIGHTS)
        region = _REGION_OF_STATE.get(billing_state, "hindi")
        if rng.random() < 0.12:  # people move: a Tamil name in Pune is ordinary
            region = rng.choice(list(_NAMES))
        person = _person(rng, region)
        shipping_state = (billing_state if rng.random() < 0.92
                          else _weighted(rng, STATE_WEIGHTS))
        b2b = rng.random() < 0.25
        company = gstin = None
        domain = _weighted(rng, _FREE_MAIL)
        phone: str | None = _mobile(rng) if rng.random() < 0.92 else None
        if b2b:
            business = _business(rng, person)
            company = business.name
            registration = rng.choices("123", weights=(85, 10, 5))[0]
            gstin = make_gstin(BY_CODE[billing_state].gst_number, business.pan, registration)
            if rng.random() < 0.6:  # the business's own domain rather than a free mailbox
                domain = business.brand + rng.choice((".in", ".com", ".co.in"))
            if billing_state in _CITY_STD_CODE and rng.random() < 0.3:
                phone = _landline(rng, _CITY_STD_CODE[billing_state])
        created_at = _moment(rng, CALENDAR_START + timedelta(days=1),
                             CALENDAR_START + timedelta(days=330))
        rows.append({
            "id": user_id, "email": _email(rng, person, domain, taken),
            "full_name": person.display, "phone": phone, "company": company, "gstin": gstin,
            "customer_type": "b2b" if b2b else "b2c", "billing_state": billing_state,
            "shipping_state": shipping_state, "created_at": created_at,
            "updated_at": created_at,
        })
    return rows


def _price(rng: random.Random, typical: int) -> Decimal:
    """Around the typical price: half end in a round ``9`` rupee figure, half carry paise."""
    price = Decimal(typical) * Decimal(rng.randint(920, 1080)) / 1000
    if rng.random() < 0.5:
        return Decimal(int(price / 10) * 10 + 9).quantize(CENT)
    return _money(price)


def _products(rng: random.Random, count: int) -> list[Row]:
    variants = [(item, pack) for item in CATALOGUE for pack in item.packs]
    rng.shuffle(variants)
    per_category: dict[str, int] = {}
    rows = []
    for index in range(count):
        item, (pack, typical) = variants[index % len(variants)]
        bundle = index // len(variants) + 1  # past the catalogue: multi-pack bundles
        label = pack if bundle == 1 else f"{pack} x {bundle}"
        per_category[item.category] = per_category.get(item.category, 0) + 1
        created_at = CALENDAR_START + timedelta(minutes=index)
        rows.append({
            "id": _uuid(rng), "sku": f"KNB-{item.category}-{per_category[item.category]:04d}",
            "name": f"{item.name} ({label})", "description": item.description,
            "hsn_code": item.hsn_code, "gst_rate": item.gst_rate,
            "price": _price(rng, typical * bundle), "stock_quantity": rng.randint(50, 1000),
            "is_active": True, "created_at": created_at, "updated_at": created_at,
        })
    return rows


def _retail_discount(rng: random.Random, gross: Decimal) -> Decimal:
    """Mostly none; sometimes a coupon (5-15%, whole rupees) or a flat ₹50/₹100 off."""
    if rng.random() >= 0.15:
        return Decimal("0.00")
    if gross > 500 and rng.random() < 0.4:
        return Decimal(rng.choice((50, 100))).quantize(CENT)
    coupon = gross * rng.choice((5, 10, 15)) / 100
    return coupon.quantize(Decimal(1), ROUND_HALF_UP).quantize(CENT)


def _razorpay_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "pay_" + "".join(rng.choice(alphabet) for _ in range(14))


def _orders(rng: random.Random, count: int, paid: int, users: list[Row],
            products: list[Row]) -> tuple[list[Row], list[Row]]:
    drafts = []
    for _ in range(count):
        user = rng.choice(users)
        shipping_state = (user["shipping_state"] if rng.random() < 0.9
                          else _weighted(rng, STATE_WEIGHTS))
        chosen = rng.sample(products, min(len(products), rng.choices(
            (1, 2, 3, 4, 5), weights=(35, 30, 18, 10, 7))[0]))
        lines = []
        for product in chosen:
            quantity = rng.choices((1, 2, 3, 4, 5), weights=(50, 25, 12, 8, 5))[0]
            discount = _retail_discount(rng, quantity * product["price"])
            lines.append(_line(product, quantity, discount))
        created_at = _moment(rng, user["created_at"] + timedelta(minutes=5), CALENDAR_END)
        drafts.append((created_at, _uuid(rng), user, shipping_state, lines))
    drafts.sort(key=lambda draft: draft[0])  # order numbers follow time

    orders, items = [], []
    for number, (created_at, order_id, user, shipping_state, lines) in enumerate(drafts, 1):
        totals = _totals(lines)
        free_shipping = totals["subtotal"] >= 1499
        shipping = Decimal("0.00") if free_shipping else Decimal(
            49 if shipping_state == COMPANY_STATE else 99).quantize(CENT)
        # Selection sampling: exactly `paid` of the orders are paid, spread at random.
        is_paid = rng.random() * (count - number + 1) < paid
        if is_paid:
            paid -= 1
        status = "paid" if is_paid else rng.choices(("pending", "failed"), (65, 35))[0]
        paid_at = created_at + timedelta(seconds=rng.randint(30, 900)) if is_paid else None
        orders.append({
            "id": order_id, "order_number": f"KN-2026-{number:06d}", "user_id": user["id"],
            "payment_status": status, "paid_at": paid_at,
            "payment_gateway_id": _razorpay_id(rng) if status != "pending" else None,
            "shipping_state": shipping_state, **totals, "shipping_charge": shipping,
            "grand_total": totals["subtotal"] + shipping, "currency": "INR",
            "created_at": created_at, "updated_at": paid_at or created_at,
        })
        items += [{"id": _uuid(rng), "order_id": order_id, **line, "created_at": created_at}
                  for line in lines]
    return orders, items


def _inquiries(rng: random.Random, count: int, products: list[Row]) -> list[Row]:
    rows = []
    taken: set[str] = set()
    for _ in range(count):
        state = _weighted(rng, STATE_WEIGHTS)
        person = _person(rng, _REGION_OF_STATE.get(state, "hindi"))
        company = _business(rng, person).name if rng.random() < 0.35 else None
        subject, template = rng.choice(_INQUIRY_TOPICS)
        product = rng.choice(products)["name"] if products else "your bio-fertilisers"
        rows.append({
            "id": _uuid(rng), "name": person.display,
            "email": _email(rng, person, _weighted(rng, _FREE_MAIL), taken),
            "phone": _mobile(rng) if rng.random() < 0.75 else None, "company": company,
            "subject": subject,
            "message": template.format(product=product, crop=rng.choice(_CROPS),
                                       qty=rng.choice((50, 100, 200, 500))),
            "created_at": _moment(rng, CALENDAR_START, CALENDAR_END),
        })
    return rows


def _quotes(rng: random.Random, requested: int, approved: int, users: list[Row],
            products: list[Row]) -> tuple[list[Row], list[Row]]:
    businesses = [user for user in users if user["customer_type"] == "b2b"]
    statuses = ["requested"] * requested + ["approved"] * approved
    rng.shuffle(statuses)
    drafts = []
    for status in statuses:
        user = rng.choice(businesses)
        lines = []
        for product in rng.sample(products, min(len(products), rng.randint(1, 5))):
            quantity = rng.choice([q for q in (10, 20, 25, 50, 100, 200, 250, 500)
                                   if q * product["price"] <= 250_000] or [5])
            gross = quantity * product["price"]
            discount = (_money(gross * rng.choice((5, 8, 10, 12)) / 100)
                        if rng.random() < 0.6 else Decimal("0.00"))  # bulk discount
            lines.append(_line(product, quantity, discount))
        created_at = _moment(rng, user["created_at"] + timedelta(hours=1), CALENDAR_END)
        drafts.append((created_at, _uuid(rng), status, user, lines))
    drafts.sort(key=lambda draft: draft[0])

    quotes, items = [], []
    for number, (created_at, quote_id, status, user, lines) in enumerate(drafts, 1):
        totals = _totals(lines)
        approved_at = (created_at + timedelta(minutes=rng.randint(240, 7200))
                       if status == "approved" else None)
        quotes.append({
            "id": quote_id, "quote_number": f"QT-2026-{number:04d}", "user_id": user["id"],
            "status": status, "shipping_state": user["shipping_state"],
            "notes": rng.choice(_QUOTE_NOTES),
            "valid_until": (created_at + QUOTE_VALIDITY).date(), **totals,
            "grand_total": totals["subtotal"], "approved_at": approved_at,
            "created_at": created_at, "updated_at": approved_at or created_at,
        })
        items += [{"id": _uuid(rng), "quote_id": quote_id, **line, "created_at": created_at}
                  for line in lines]
    return quotes, items


def generate(*, users: int = 50, products: int = 20, orders: int = 100,
             paid_fraction: float = 0.8, inquiries: int = 10, quote_requests: int = 5,
             approved_quotes: int = 0, seed: int = 42) -> SeedData:
    """The rows ``seed`` inserts, computed without a database (same arguments, same rows)."""
    counts = {"users": users, "products": products, "orders": orders, "inquiries": inquiries,
              "quote_requests": quote_requests, "approved_quotes": approved_quotes}
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0 <= paid_fraction <= 1:
        raise ValueError(f"paid_fraction must be between 0 and 1, got {paid_fraction}")
    if orders and not (users and products):
        raise ValueError("orders need at least one user and one product")

    user_rows = _users(_stream(seed, "users"), users)
    product_rows = _products(_stream(seed, "products"), products)
    if (quote_requests or approved_quotes) and not (
            product_rows and any(u["customer_type"] == "b2b" for u in user_rows)):
        raise ValueError("quotes need at least one product and one b2b user (seed more users)")
    order_rows, order_items = _orders(_stream(seed, "orders"), orders,
                                      round(orders * paid_fraction), user_rows, product_rows)
    quote_rows, quote_items = _quotes(_stream(seed, "quotes"), quote_requests,
                                      approved_quotes, user_rows, product_rows)
    return SeedData(
        users=user_rows, products=product_rows, orders=order_rows, order_items=order_items,
        contact_submissions=_inquiries(_stream(seed, "inquiries"), inquiries, product_rows),
        b2b_quotes=quote_rows, b2b_quote_items=quote_items,
    )


# --- Insertion -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedSummary:
    """How many rows this run inserted (0 everywhere when the data was already there)."""

    users: int
    products: int
    orders: int
    paid_orders: int
    order_items: int
    inquiries: int
    quote_requests: int
    approved_quotes: int
    quote_items: int


def _table(name: str, columns: Sequence[str]) -> sa.TableClause:
    return sa.table(name, *(sa.column(column) for column in columns), schema="public")


def _insert(conn: sa.Connection, name: str, rows: list[Row],
            returning: Sequence[str] = ("id",)) -> list[sa.Row[Any]]:
    """Insert in multi-row VALUES batches, skipping rows whose keys exist; return the new ones."""
    if not rows:
        return []
    table = _table(name, list(rows[0]))
    statement = (postgresql.insert(table).on_conflict_do_nothing()
                 .returning(*(table.c[column] for column in returning)))
    return list(conn.execute(statement, rows))


def _stored_ids(conn: sa.Connection, name: str, key: str, rows: list[Row]) -> dict[Any, Any]:
    """Generated id -> id of the stored row holding the same natural key.

    They differ only when another seed (or a real sign-up) got that email or SKU first; then
    the new orders and quotes attach to the row that is really there.
    """
    table = _table(name, ("id", key))
    keys = sa.bindparam("keys", [row[key] for row in rows], type_=postgresql.ARRAY(sa.Text))
    stored = dict(conn.execute(sa.select(table.c[key], table.c.id)
                               .where(table.c[key] == sa.any_(keys))).all())
    return {row["id"]: stored.get(row[key], row["id"]) for row in rows}


def _attach(rows: list[Row], column: str, ids: dict[Any, Any]) -> list[Row]:
    return [{**row, column: ids.get(row[column], row[column])} for row in rows]


def _sold(data: SeedData) -> dict[Any, int]:
    """Units each product sells in the seed's paid orders."""
    paid = {order["id"] for order in data.orders if order["payment_status"] == "paid"}
    sold: dict[Any, int] = {}
    for item in data.order_items:
        if item["order_id"] in paid:
            sold[item["product_id"]] = sold.get(item["product_id"], 0) + item["quantity"]
    return sold


def _restore_updated_at(conn: sa.Connection, name: str, rows: list[Row]) -> None:
    """Checkout stamps now(); the seed's rows keep their calendar's times."""
    if rows:
        table = _table(name, ("id", "updated_at"))
        conn.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                     .values(updated_at=sa.bindparam("stamp")),
                     [{"row_id": row["id"], "stamp": row["updated_at"]} for row in rows])


def seed(engine: sa.Engine, *, users: int = 50, products: int = 20, orders: int = 100,
         paid_fraction: float = 0.8, inquiries: int = 10, quote_requests: int = 5,
         approved_quotes: int = 0, seed: int = 42) -> SeedSummary:
    """Fill the storefront with ``generate``'s rows in one transaction; skip what exists.

    Orders go in with their final payment status and together with their items, so the
    invoice trigger never sees a paid order without lines.
    """
    data = generate(users=users, products=products, orders=orders, paid_fraction=paid_fraction,
                    inquiries=inquiries, quote_requests=quote_requests,
                    approved_quotes=approved_quotes, seed=seed)
    with engine.begin() as conn:
        new_users = _insert(conn, "users", data.users)
        # stock from before the seeded sales: checkout brings it down to the generated figure
        sold = _sold(data)
        new_products = _insert(conn, "products", [
            {**product, "stock_quantity": product["stock_quantity"] + sold.get(product["id"], 0)}
            for product in data.products])
        user_ids = _stored_ids(conn, "users", "email", data.users)
        product_ids = _stored_ids(conn, "products", "sku", data.products)

        # paid orders go in pending and are paid through checkout, which lowers their stock
        new_orders = _insert(conn, "orders", [
            {**order, "payment_status": "pending", "paid_at": None}
            if order["payment_status"] == "paid" else order
            for order in _attach(data.orders, "user_id", user_ids)],
            returning=("id", "payment_status"))
        inserted = {row.id for row in new_orders}
        new_order_items = _insert(conn, "order_items", _attach(
            [item for item in data.order_items if item["order_id"] in inserted],
            "product_id", product_ids))
        checkouts = [order for order in data.orders
                     if order["id"] in inserted and order["payment_status"] == "paid"]
        for order in checkouts:
            conn.execute(sa.text("SELECT public.pay_order(:id, :gateway, :paid_at)"),
                         {"id": order["id"], "gateway": order["payment_gateway_id"],
                          "paid_at": order["paid_at"]})
        paid_ids = {order["id"] for order in checkouts}
        _restore_updated_at(conn, "orders", checkouts)
        inserted_products = {row.id for row in new_products}
        _restore_updated_at(conn, "products",
                            [p for p in data.products if p["id"] in inserted_products])

        new_quotes = _insert(conn, "b2b_quotes", _attach(data.b2b_quotes, "user_id", user_ids),
                             returning=("id", "status"))
        inserted = {row.id for row in new_quotes}
        new_quote_items = _insert(conn, "b2b_quote_items", _attach(
            [item for item in data.b2b_quote_items if item["quote_id"] in inserted],
            "product_id", product_ids))

        new_inquiries = _insert(conn, "contact_submissions", data.contact_submissions)
    return SeedSummary(
        users=len(new_users), products=len(new_products), orders=len(new_orders),
        paid_orders=len(paid_ids),
        order_items=len(new_order_items), inquiries=len(new_inquiries),
        quote_requests=sum(row.status == "requested" for row in new_quotes),
        approved_quotes=sum(row.status == "approved" for row in new_quotes),
        quote_items=len(new_quote_items),
    )
