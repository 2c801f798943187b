"""Reference data the seed draws from: where customers live, their names, companies and
the product catalogue (real bio-inputs with HSN codes and GST rates)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

# Where customers live: Karnataka (the company's home market) first, then the big farm states.
# LA/OT are left out: they have no GSTIN state numbers in common validators.
STATE_WEIGHTS: dict[str, float] = {
    "KA": 38, "MH": 9, "TN": 8, "AD": 6, "TS": 6, "GJ": 4, "UP": 4, "KL": 3, "RJ": 3,
    "MP": 3, "PB": 2, "HR": 2, "WB": 2, "DL": 2, "OD": 1.5, "BR": 1, "CG": 1, "GA": 1,
    "AS": 1, "JH": 0.5, "UK": 0.5, "HP": 0.5, "JK": 0.5, "PY": 0.5, "CH": 0.3, "TR": 0.2,
}


class Names(NamedTuple):
    first: tuple[str, ...]
    last: tuple[str, ...]
    single_name_share: float  # people known by one name (common in Tamil Nadu)


NAMES: dict[str, Names] = {
    "kannada": Names(
        ("Manjunath", "Raghavendra", "Shivakumar", "Basavaraj", "Chethan", "Darshan", "Prajwal",
         "Kavya", "Shwetha", "Ramya", "Pavithra", "Nagaraj", "Mahesh", "Sowmya", "Anitha",
         "Harish", "Girish", "Vinay", "Lakshmi", "Sahana", "Yashas", "Bhoomika"),
        ("Gowda", "Hegde", "Shetty", "Rao", "Kulkarni", "Bhat", "Naik", "Patil", "Reddy",
         "Shenoy", "Kamath", "Murthy", "Swamy", "Prasad", "Nayak", "Poojary", "Hiremath"),
        0.04),
    "tamil": Names(
        ("Karthik", "Senthil", "Murugan", "Arun", "Vignesh", "Priya", "Lakshmi", "Divya",
         "Saravanan", "Balaji", "Meena", "Selvi", "Ganesh", "Anand", "Revathi", "Kavitha",
         "Dinesh", "Gokul"),
        ("Subramanian", "Krishnan", "Iyer", "Raman", "Natarajan", "Pillai", "Ramasamy",
         "Sundaram", "Venkatesan", "Palaniswamy", "Rajendran", "Arumugam"),
        0.15),
    "telugu": Names(
        ("Srinivas", "Venkatesh", "Ravi", "Sai Kiran", "Lakshmi Prasanna", "Swathi", "Naveen",
         "Sravani", "Chaitanya", "Madhavi", "Suresh", "Anusha", "Kiran", "Harika"),
        ("Reddy", "Naidu", "Rao", "Chowdary", "Varma", "Goud", "Yadav", "Sastry", "Raju"),
        0.03),
    "malayali": Names(
        ("Anoop", "Arjun", "Vishnu", "Aswathy", "Nithin", "Jithin", "Sreeja", "Anju", "Rahul",
         "Greeshma", "Sebastian", "Midhun"),
        ("Nair", "Menon", "Pillai", "Kurup", "Varghese", "Thomas", "Kurian", "Joseph",
         "Namboothiri", "Mathew"),
        0.03),
    "marathi": Names(
        ("Rahul", "Sachin", "Amol", "Sneha", "Pooja", "Prashant", "Vaishali", "Nikhil",
         "Swapnil", "Snehal", "Rohan", "Aditi", "Tejas", "Manasi"),
        ("Patil", "Deshmukh", "Joshi", "Kulkarni", "Jadhav", "Pawar", "Shinde", "Gaikwad",
         "More", "Deshpande", "Kale", "Naik"),
        0.02),
    "gujarati": Names(
        ("Hardik", "Jignesh", "Bhavesh", "Nirav", "Hetal", "Krupa", "Dhruv", "Mitesh",
         "Ramesh", "Kinjal", "Parth", "Vikram", "Mahendra", "Sunita"),
        ("Patel", "Shah", "Desai", "Mehta", "Chauhan", "Parmar", "Trivedi", "Rathore",
         "Shekhawat", "Meena", "Choudhary", "Agarwal"),
        0.02),
    "hindi": Names(
        ("Amit", "Rajesh", "Sunil", "Pankaj", "Neha", "Pooja", "Anjali", "Vikas", "Rohit",
         "Deepak", "Sandeep", "Priyanka", "Manoj", "Ankit", "Gurpreet", "Harpreet", "Jaspreet",
         "Ritu", "Saurabh", "Kamlesh"),
        ("Sharma", "Verma", "Gupta", "Singh", "Yadav", "Mishra", "Tiwari", "Pandey", "Chauhan",
         "Saini", "Dhillon", "Sandhu", "Kumar", "Jain", "Thakur", "Rawat"),
        0.03),
    "eastern": Names(
        ("Subhajit", "Arindam", "Sourav", "Moumita", "Priyanka", "Debasish", "Anirban",
         "Rupali", "Sasmita", "Biswajit", "Pranjal", "Bidisha"),
        ("Banerjee", "Chatterjee", "Mukherjee", "Das", "Ghosh", "Bose", "Sen", "Mohanty",
         "Patnaik", "Sahoo", "Bora", "Baruah"),
        0.02),
}

REGION_OF_STATE: dict[str, str] = {
    "KA": "kannada", "GA": "marathi", "MH": "marathi", "TN": "tamil", "PY": "tamil",
    "AD": "telugu", "TS": "telugu", "KL": "malayali", "GJ": "gujarati", "RJ": "gujarati",
    "WB": "eastern", "OD": "eastern", "AS": "eastern", "TR": "eastern", "JH": "eastern",
}  # every other state: "hindi"


class Person(NamedTuple):
    display: str       # full_name as the user typed it
    first: str         # romanised, for the email address
    last: str | None


# A handful of users type their name in their own script (the email stays romanised).
NATIVE_NAMES: dict[str, tuple[Person, ...]] = {
    "hindi": (Person("राहुल शर्मा", "rahul", "sharma"), Person("प्रिया वर्मा", "priya", "verma"),
              Person("अमित कुमार", "amit", "kumar"), Person("सुनीता यादव", "sunita", "yadav")),
    "marathi": (Person("स्नेहा पाटील", "sneha", "patil"), Person("अमोल जाधव", "amol", "jadhav")),
    "tamil": (Person("கார்த்திக் ராஜா", "karthik", "raja"), Person("செல்வி", "selvi", None),
              Person("முருகன் சுப்பிரமணியன்", "murugan", "subramanian")),
    "kannada": (Person("ಮಂಜುನಾಥ ಗೌಡ", "manjunath", "gowda"), Person("ಕಾವ್ಯ ಹೆಗ್ಡೆ", "kavya", "hegde"),
                Person("ಬಸವರಾಜ ಪಾಟೀಲ", "basavaraj", "patil")),
    "telugu": (Person("శ్రీనివాస్ రెడ్డి", "srinivas", "reddy"),),
}

FREE_MAIL = {"gmail.com": 70, "yahoo.co.in": 8, "yahoo.com": 5, "outlook.com": 5,
              "rediffmail.com": 4, "hotmail.com": 3, "icloud.com": 2}

# Bengaluru, Chennai, Mumbai, Hyderabad, Delhi, Ahmedabad, Kolkata: businesses give landlines.
CITY_STD_CODE = {"KA": "80", "TN": "44", "MH": "22", "TS": "40", "DL": "11", "GJ": "79",
                  "WB": "33"}

COMPANY_PREFIXES = ("Sri Lakshmi", "Sri Venkateswara", "Annapurna", "Kisan", "Green Valley",
                     "Deccan", "Cauvery", "Krishna", "Godavari", "Bharat", "Shakti", "Sahyadri",
                     "Malnad", "Om Sai", "Jai Kisan", "Ganga", "Narmada", "Hariyali", "Bhoomi",
                     "Vasundhara")
COMPANY_TRADES = ("Agro Agencies", "Agri Inputs", "Fertilisers", "Agro Chemicals",
                   "Farm Solutions", "Seeds & Pesticides", "Horticulture", "Agritech",
                   "Organics", "Biotech", "Krishi Kendra", "Diagnostics", "Nurseries")
# (suffix, PAN holder type): proprietors trade under their own PAN (P), firms and LLPs are F.
COMPANY_FORMS = (("", "P", 30), (" & Co.", "F", 10), (" LLP", "F", 10),
                  (" Pvt. Ltd.", "C", 30), (" Private Limited", "C", 10),
                  (" Farmer Producer Company Ltd", "C", 7), (" Trust", "T", 3))


class Product(NamedTuple):
    category: str       # SKU infix
    name: str
    description: str
    hsn_code: str       # 4, 6 or 8 digits, as businesses of different sizes report them
    gst_rate: Decimal
    packs: tuple[tuple[str, int], ...]  # (pack size, typical GST-inclusive price in rupees)


def p(category: str, name: str, description: str, hsn: str, rate: int,
       *packs: tuple[str, int]) -> Product:
    return Product(category, name, description, hsn, Decimal(rate), packs)


CATALOGUE: tuple[Product, ...] = (
    p("BF", "Azotobacter Liquid Bio-fertiliser", "Free-living nitrogen fixer for cereals, "
       "millets and vegetables; 1x10^8 CFU/ml.", "31010099", 5,
       ("500 ml", 240), ("1 L", 420), ("5 L", 1850)),
    p("BF", "Rhizobium Culture for Pulses", "Seed treatment for groundnut, soybean, red gram "
       "and other legumes.", "31010099", 5, ("250 g", 95), ("1 kg", 320)),
    p("BF", "Azospirillum Bio-fertiliser", "Nitrogen fixer for paddy, sugarcane and maize.",
       "31010099", 5, ("1 L", 410), ("5 L", 1790)),
    p("BF", "PSB Phosphate Solubilising Bacteria", "Releases fixed soil phosphorus; cuts DAP "
       "use by up to 25%.", "31010099", 5, ("1 L", 390), ("5 L", 1720)),
    p("BF", "KMB Potash Mobilising Bacteria", "Mobilises potassium for banana, sugarcane and "
       "vegetables.", "31010099", 5, ("1 L", 395), ("5 L", 1750)),
    p("BF", "Zinc Solubilising Bacteria", "Corrects zinc deficiency in paddy and maize "
       "biologically.", "310100", 5, ("500 ml", 260), ("1 L", 450)),
    p("BF", "NPK Consortia Liquid Bio-fertiliser", "Azotobacter, PSB and KMB in one bottle.",
       "31010099", 5, ("1 L", 520), ("5 L", 2350)),
    p("BF", "VAM Mycorrhiza Granules", "Arbuscular mycorrhiza for root growth and drought "
       "tolerance.", "31010099", 5, ("4 kg", 680), ("20 kg", 3100)),
    p("BF", "Vermicompost Enriched", "Sieved vermicompost enriched with beneficial microbes.",
       "3101", 5, ("5 kg", 199), ("25 kg", 799)),
    p("BP", "Trichoderma viride 1% WP", "Bio-fungicide against root rot, wilt and damping "
       "off.", "38089290", 12, ("1 kg", 285), ("5 kg", 1320)),
    p("BP", "Pseudomonas fluorescens 1% WP", "Bio-fungicide and bactericide for blast, sheath "
       "blight and wilt.", "38089290", 12, ("1 kg", 295), ("5 kg", 1380)),
    p("BP", "Beauveria bassiana 1.15% WP", "Entomopathogenic fungus for borers, whitefly and "
       "thrips.", "38089199", 12, ("1 kg", 340), ("5 kg", 1590)),
    p("BP", "Metarhizium anisopliae 1.15% WP", "Bio-insecticide for white grub, termite and "
       "rhinoceros beetle.", "38089199", 12, ("1 kg", 345), ("5 kg", 1610)),
    p("BP", "Verticillium lecanii 1.15% WP", "Controls aphids, mealybugs and scale insects.",
       "38089199", 12, ("1 kg", 330)),
    p("BP", "Bacillus thuringiensis var. kurstaki 5% WP", "Bio-insecticide for lepidopteran "
       "caterpillars.", "380891", 12, ("500 g", 460), ("1 kg", 860)),
    p("BP", "Paecilomyces lilacinus 1% WP", "Bio-nematicide for root-knot nematodes.",
       "38089199", 12, ("1 kg", 360)),
    p("BP", "Neem Oil 10000 ppm", "Azadirachtin 1% EC; repellent and antifeedant.",
       "38089199", 12, ("250 ml", 310), ("1 L", 1090)),
    p("MN", "Zinc Sulphate Monohydrate 33%", "FCO grade zinc for paddy and maize.",
       "28332990", 12, ("1 kg", 145), ("5 kg", 640)),
    p("MN", "Chelated Iron EDTA 12%", "Corrects iron chlorosis in fruit crops.", "38249900",
       12, ("500 g", 330), ("1 kg", 610)),
    p("MN", "Boron 20% (Disodium Octaborate)", "Improves flowering and fruit set.",
       "28401900", 12, ("500 g", 240), ("1 kg", 450)),
    p("MN", "Multi-micronutrient Mixture Grade II", "Zn, Fe, Mn, Cu, B and Mo for foliar "
       "spray.", "38249900", 12, ("1 kg", 265), ("5 kg", 1190)),
    p("MN", "NPK 19:19:19 Water Soluble Fertiliser", "Balanced nutrition for fertigation.",
       "31052000", 5, ("1 kg", 185), ("25 kg", 3950)),
    p("MN", "Mono Potassium Phosphate 0:52:34", "For flowering and fruit development.",
       "31054000", 5, ("1 kg", 260), ("25 kg", 5900)),
    p("MN", "Calcium Nitrate", "Prevents blossom end rot; fertigation grade.", "3102",
       5, ("1 kg", 120), ("25 kg", 2450)),
    p("PG", "Seaweed Extract Liquid", "Ascophyllum nodosum extract bio-stimulant.",
       "31010099", 5, ("500 ml", 420), ("1 L", 780)),
    p("PG", "Humic Acid 12% Liquid", "Improves soil structure and nutrient uptake.",
       "38249900", 18, ("1 L", 350), ("5 L", 1550)),
    p("PG", "Gibberellic Acid 0.001% L", "Plant growth regulator for grapes and vegetables.",
       "38089340", 18, ("100 ml", 160), ("500 ml", 690)),
    p("PG", "Amino Acid Bio-stimulant", "Plant-based amino acids for stress recovery.",
       "38249900", 18, ("1 L", 540)),
    p("PG", "Fulvic Acid Granules", "Soil application with basal dose.", "382499", 18,
       ("5 kg", 820)),
    p("LR", "Nutrient Agar Medium", "Dehydrated culture medium for general bacteriology.",
       "38210000", 18, ("500 g", 2450)),
    p("LR", "Potato Dextrose Agar", "Dehydrated medium for fungal cultures.", "38210000", 18,
       ("500 g", 2890)),
    p("LR", "King's B Medium", "Selective medium for fluorescent pseudomonads.", "38210000",
       18, ("500 g", 3350)),
    p("LR", "Gram Stain Kit", "Crystal violet, iodine, decolouriser and safranin.",
       "38220090", 12, ("4 x 125 ml", 690)),
    p("LR", "Soil Testing Kit (NPK, pH, EC)", "Field kit for 50 soil samples.", "38220090",
       12, ("1 kit", 3499)),
    p("LR", "Sterile Petri Plates 90 mm", "Polystyrene, gamma sterilised.", "39269099", 18,
       ("pack of 500", 3150)),
    p("SD", "Hybrid Tomato Seeds", "Determinate, ToLCV tolerant, 65 days to first harvest.",
       "12099190", 0, ("10 g", 420), ("50 g", 1950)),
    p("SD", "Chilli Hybrid Seeds", "Dark green, pungent; for fresh and dry markets.",
       "12099190", 0, ("10 g", 560)),
    p("SD", "Okra (Bhindi) Seeds", "YVMV tolerant, dark green pods.", "12099190", 0,
       ("250 g", 340), ("1 kg", 1250)),
    p("SD", "Marigold F1 Seeds", "African orange, for loose flower markets.", "120930", 0,
       ("10 g", 650)),
    p("SD", "Sweet Corn Seeds", "Hybrid, 18% brix, 75 days.", "1005", 0, ("1 kg", 1150)),
    p("SD", "Dhaincha Green Manure Seeds", "Sesbania for in-situ green manuring.",
       "12099190", 0, ("5 kg", 475), ("20 kg", 1780)),
    p("EQ", "Knapsack Battery Sprayer 16 L", "12 V 8 Ah battery, 4 nozzles.", "84242000", 12,
       ("1 unit", 2650)),
    p("EQ", "Fruit Fly Pheromone Trap", "Methyl eugenol lure with reusable trap.",
       "38089199", 18, ("pack of 5", 399)),
    p("EQ", "Yellow Sticky Traps", "Monitors whitefly, aphids and leaf miners.",
       "39269099", 18, ("pack of 10", 249)),
)

CROPS = ("paddy", "sugarcane", "tomato", "chilli", "cotton", "grapes", "pomegranate",
          "banana", "arecanut", "coffee", "turmeric", "ragi", "maize", "groundnut", "onion")

INQUIRY_TOPICS: tuple[tuple[str, str], ...] = (
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

QUOTE_NOTES = ("Required before kharif sowing.", "Delivery to our godown, part shipments "
                "acceptable.", "Please quote with freight to our warehouse.",
                "Payment by NEFT within 30 days.", "For FPO members; need GST invoice.", None)
