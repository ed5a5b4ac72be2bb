"""Generate ``event.json``: a fictitious 75-participant India–Japan battery-materials roundtable.

All organisation names are invented. The generator is deterministic (fixed seed), so the committed
``event.json`` can be rebuilt with ``python examples/roundtable/make_event.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (role, minerals it handles, offer stage, need stage, what it offers, what it needs)
ARCHETYPES = [
    ("exploration", ["lithium", "graphite"], "exploration", "finance",
     "early-stage pegmatite and graphite prospects, drill data rooms",
     "exploration finance and strategic partners"),
    ("mining", ["lithium", "nickel", "cobalt"], "mining", "equipment",
     "spodumene and nickel ore concentrate under offtake", "mining equipment and offtake partners"),
    ("mining", ["graphite", "manganese"], "mining", "offtake_trading",
     "natural flake graphite concentrate and manganese ore", "long-term offtake buyers"),
    ("refining", ["lithium"], "refining", "mining",
     "battery-grade lithium hydroxide and carbonate", "spodumene concentrate feedstock"),
    ("refining", ["nickel", "cobalt"], "refining", "mining",
     "nickel sulphate and cobalt sulphate crystals", "mixed hydroxide precipitate feedstock"),
    ("precursor_cathode", ["nickel", "lithium", "manganese"], "precursor_cathode", "refining",
     "NMC and LFP cathode active material", "battery-grade lithium hydroxide and nickel sulphate"),
    ("anode_graphite", ["graphite"], "anode_graphite", "mining",
     "spherical coated graphite anode material", "natural flake graphite concentrate"),
    ("cell", ["lithium", "nickel", "graphite"], "cell", "precursor_cathode",
     "LFP and NMC prismatic cells for two-wheelers and storage",
     "cathode active material and anode graphite supply"),
    ("pack", ["lithium"], "pack", "cell", "battery packs and BMS for electric buses",
     "qualified cells with local content"),
    ("recycling", ["lithium", "cobalt", "nickel"], "recycling", "pack",
     "black mass and recovered cobalt nickel lithium salts", "end-of-life packs and scrap"),
    ("equipment", ["lithium", "graphite"], "equipment", "cell",
     "electrode coating and calcining equipment", "cell makers scaling gigafactories"),
    ("finance", ["lithium", "nickel"], "finance", "mining",
     "project finance and export credit for mines and refineries",
     "bankable mining and refining projects"),
    ("offtake_trading", ["nickel", "cobalt", "graphite"], "offtake_trading", "mining",
     "offtake contracts and logistics for concentrates", "reliable concentrate producers"),
]

IND_PREFIX = ["Aravalli", "Deccan", "Narmada", "Kaveri", "Himalaya", "Konkan", "Vindhya", "Godavari",
              "Sahyadri", "Malwa", "Tapti", "Nilgiri", "Kutch", "Satpura", "Chambal", "Ganga",
              "Brahmaputra", "Thar", "Coromandel", "Mahanadi"]
JPN_PREFIX = ["Sakura", "Fujimi", "Kitakaze", "Aozora", "Hoshino", "Minato", "Tsubasa", "Yamabuki",
              "Shirakawa", "Kiriyama", "Hinode", "Asahigawa", "Midori", "Kaede", "Harukaze",
              "Umibe", "Shinonome", "Takane", "Izumi", "Koyo"]
SUFFIX = {
    "exploration": "Exploration", "mining": "Minerals", "refining": "Chemicals",
    "precursor_cathode": "Cathode Materials", "anode_graphite": "Carbon", "cell": "Energy Cells",
    "pack": "Power Systems", "recycling": "Recycling", "equipment": "Engineering",
    "finance": "Capital", "offtake_trading": "Trading",
}
GOV = [
    ("IND", "government", "Ministry of Mines (fictitious desk)", "critical minerals policy"),
    ("IND", "agency", "National Battery Mission Office (fictitious)", "cell manufacturing incentives"),
    ("IND", "research", "Institute of Battery Materials, Pune (fictitious)", "cathode and recycling R&D"),
    ("JPN", "agency", "Japan Trade Promotion Desk (fictitious)", "market entry support"),
    ("JPN", "government", "Resource Security Office (fictitious)", "supply-chain partnerships"),
    ("JPN", "research", "Tohoku Battery Research Centre (fictitious)", "solid-state and anode R&D"),
    ("IND", "agency", "State Mineral Exploration Agency (fictitious)", "lithium and graphite blocks"),
]


def build(seed: int = 2026, n_companies: int = 68) -> dict[str, object]:
    """The event as a JSON-ready dict (75 participants: 68 companies, 7 public bodies)."""
    rng = random.Random(seed)
    participants = []
    for i in range(n_companies):
        country = "IND" if i % 2 == 0 else "JPN"
        role, minerals, offer_stage, need_stage, offer_text, need_text = ARCHETYPES[i % len(ARCHETYPES)]
        prefix = (IND_PREFIX if country == "IND" else JPN_PREFIX)[(i // 2) % 20]
        name = f"{prefix} {SUFFIX[role]}" + (" Pvt Ltd" if country == "IND" else " K.K.")
        mineral = rng.choice(minerals)
        pid = f"{country.lower()}-{i + 1:02d}"
        participants.append({
            "id": pid,
            "name": name,
            "country_iso3": country,
            "kind": "company",
            "roles": [role],
            "minerals": minerals,
            "offers": [{"mineral": mineral, "stage": offer_stage,
                        "volume_t_per_yr": float(rng.choice([500, 2000, 5000, 20000])),
                        "timeframe": rng.choice(["2026", "2027-2028", "2029+"]),
                        "text": offer_text}],
            "needs": [{"mineral": rng.choice(minerals), "stage": need_stage,
                       "timeframe": rng.choice(["2026", "2027-2028"]), "text": need_text}],
            "description": f"{SUFFIX[role]} company from {'India' if country == 'IND' else 'Japan'}.",
            "contact_email": f"bd@{pid}.example",
            "sessions": ["morning", "afternoon"] if rng.random() > 0.15 else ["morning"],
            "unavailable_slots": [rng.randint(1, 10)] if rng.random() < 0.2 else [],
        })
    for j, (country, kind, name, focus) in enumerate(GOV, start=1):
        participants.append({
            "id": f"gov-{j}",
            "name": name,
            "country_iso3": country,
            "kind": kind,
            "roles": ["finance"] if kind == "government" else [],
            "minerals": ["lithium", "graphite", "nickel", "cobalt"],
            "offers": [{"mineral": "lithium", "text": f"support on {focus}"}],
            "needs": [{"mineral": "lithium", "text": "industry partners for bilateral projects"}],
            "description": f"Public body: {focus}.",
            "contact_email": f"desk@gov-{j}.example",
            "visibility": {"description": "public", "contact_email": "organiser"},
        })
    return {
        "format": "critmin-event/1",
        "name": "India–Japan Battery Materials Business Roundtable (fictitious)",
        "date": "2026-02-12",
        "timezone": "Asia/Kolkata",
        "venue": "Convention Centre, New Delhi",
        "n_tables": 20,
        "slot_minutes": 20,
        "morning": {"start": "09:30", "slots": 6},
        "afternoon": {"start": "14:00", "slots": 4},
        "partner_countries": ["IND", "JPN"],
        "auto_accept": False,
        "participants": participants,
        "requests": [],
    }


if __name__ == "__main__":
    (HERE / "event.json").write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    print(f"wrote {HERE / 'event.json'}")
