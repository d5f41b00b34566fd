#!/usr/bin/env python3
"""Converts the exercise fixtures of the wger package into exercises.json, the
catalogue the training service embeds and seeds on first start.

Run once, by hand, when the catalogue should be refreshed:

    pip download --no-deps wger==2.1 -d /tmp/wger
    unzip -q /tmp/wger/wger-2.1-py2.py3-none-any.whl -d /tmp/wger/x
    python3 convert_wger.py /tmp/wger/x/wger > exercises.json

What it takes from wger (exercises/fixtures/*.json, core/fixtures/licenses.json):
the English name and description of each exercise, its primary and secondary
muscles, its equipment, and its licence and author. The data is licensed per
exercise (CC-BY-SA 3.0, CC-BY-SA 4.0 or CC0, see LICENSE-wger.md); each entry keeps
its licence, author and wger UUID so the attribution travels with it.

wger does not record mechanics, unilateral work or how an exercise is measured;
those are derived here by documented rules (see `mechanics`, `unilateral`,
`measurement` below), and a user can add exercises of their own.
"""
import html
import json
import re
import sys
from pathlib import Path

ENGLISH = 2

MUSCLES = {  # wger muscle pk -> our slug
    1: "biceps", 2: "shoulders", 3: "serratus", 4: "chest", 5: "triceps", 6: "abs",
    7: "calves", 8: "glutes", 9: "traps", 10: "quads", 11: "hamstrings", 12: "lats",
    13: "brachialis", 14: "obliques", 15: "soleus", 16: "lower_back",
}
EQUIPMENT = {  # wger equipment pk -> our slug
    1: "barbell", 2: "ez_bar", 3: "dumbbell", 4: "mat", 5: "swiss_ball",
    6: "pull_up_bar", 7: "bodyweight", 8: "bench", 9: "incline_bench",
    10: "kettlebell", 11: "resistance_band",
}
LOADED = {"barbell", "ez_bar", "dumbbell", "kettlebell"}


def slugify(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def plain(description):
    text = re.sub(r"<[^>]+>", " ", description or "")
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def category(name):
    n = name.lower()
    if "stretch" in n:
        return "mobility"
    if any(w in n for w in ("jump", "burpee", "plyo", "skipping")):
        return "plyometrics"
    if any(w in n for w in ("running", "jogging", "cycling", "rowing machine", "treadmill")):
        return "cardio"
    return "strength"


def mechanics(primary, secondary):
    # Several muscle groups working means several joints moving: compound.
    return "compound" if len(set(primary) | set(secondary)) >= 2 else "isolation"


def unilateral(name):
    n = name.lower()
    words = ("single", "one arm", "one-arm", "one leg", "one-leg", "unilateral",
             "alternating", "lunge", "split squat", "pistol", "step-up", "step up")
    return any(w in n for w in words)


def measurement(name, cat, equipment):
    n = name.lower()
    if any(w in n for w in ("plank", "hold", "wall sit", "hang", "l-sit")) or cat == "mobility":
        return "time"
    if cat == "cardio":
        return "distance_time"
    if not (set(equipment) & LOADED) and not any(w in n for w in ("machine", "cable", "press")):
        return "reps"
    return "weight_reps"


def main(root):
    fixtures = root / "exercises" / "fixtures"
    load = lambda p: json.loads(p.read_text())
    licences = {l["pk"]: l["fields"]["short_name"] for l in load(root / "core" / "fixtures" / "licenses.json")}
    bases = {b["pk"]: b["fields"] for b in load(fixtures / "exercise-base-data.json")
             if b["model"] == "exercises.exercisebase"}
    out, seen = [], set()
    for e in load(fixtures / "exercises.json"):
        f = e["fields"]
        if e["model"] != "exercises.exercise" or f["language"] != ENGLISH:
            continue
        name = " ".join(f["name"].split())
        slug = slugify(name)
        if not slug or slug in seen:
            continue
        seen.add(slug)
        base = bases[f["exercise_base"]]
        primary = sorted(MUSCLES[m] for m in base["muscles"])
        secondary = sorted(MUSCLES[m] for m in base["muscles_secondary"] if m not in base["muscles"])
        equipment = sorted(EQUIPMENT[q] for q in base["equipment"])
        cat = category(name)
        out.append({
            "slug": slug,
            "name": name,
            "description": plain(f["description"]),
            "category": cat,
            "primary_muscles": primary,
            "secondary_muscles": secondary,
            "equipment": equipment,
            "mechanics": mechanics(primary, secondary),
            "unilateral": unilateral(name),
            "measurement": measurement(name, cat, equipment),
            "source": {
                "wger_uuid": f["uuid"],
                "license": licences.get(f["license"], "CC-BY-SA 3"),
                "author": f["license_author"] or "wger.de",
            },
        })
    out.sort(key=lambda x: x["slug"])
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
