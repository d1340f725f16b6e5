"""A small corpus in four topics, for the console's browser test and its screenshot."""

from __future__ import annotations

from typing import Any

TOPICS: dict[str, list[tuple[str, str]]] = {
    "cooking": [
        ("bread", "Bread dough should rise in a warm place until it doubles, about an hour."),
        ("pasta", "Cook the pasta in plenty of salted boiling water and stir it now and then."),
        ("risotto", "Add hot stock to the risotto rice one ladle at a time, stirring often."),
        ("soup", "A slow-simmered vegetable soup tastes better the next day."),
        ("knife", "A sharp chef's knife is safer than a dull one because it does not slip."),
        ("eggs", "Poach eggs in barely simmering water with a splash of vinegar."),
        ("curry", "Toast whole spices in oil before adding onions to a curry."),
        ("pancakes", "Let pancake batter rest for ten minutes so the flour can hydrate."),
        ("roast", "Rest a roast chicken for fifteen minutes before carving it."),
        ("salad", "Dress a green salad just before serving so the leaves stay crisp."),
        ("cake", "Cream butter and sugar until pale before folding in the flour for a cake."),
        ("sourdough", "A sourdough starter needs feeding with flour and water every day."),
    ],
    "programming": [
        (
            "python-lists",
            "Python list comprehensions build a new list from an iterable in one line.",
        ),
        ("git-rebase", "Use git rebase to replay your branch's commits on top of the main branch."),
        ("sql-index", "An index on a SQL column speeds up lookups but slows down writes."),
        ("unit-tests", "Unit tests should be small, fast and check one behaviour each."),
        ("regex", "Regular expressions match patterns in text, but can be hard to read."),
        ("async", "Async functions in Python let one thread wait on many network calls."),
        ("types", "Static type checkers such as mypy find bugs before the code runs."),
        ("http", "An HTTP server answers requests with a status code, headers and a body."),
        ("json", "JSON is a text format for objects, arrays, strings, numbers and booleans."),
        ("profiling", "Profile a slow program before optimising it, to find the real bottleneck."),
        ("linux-shell", "The Linux shell pipes the output of one command into the next one."),
        ("compilers", "A compiler translates source code into machine code ahead of time."),
    ],
    "astronomy": [
        ("mars", "Mars is a cold desert planet with the tallest volcano in the solar system."),
        ("jupiter", "Jupiter is a gas giant whose Great Red Spot is a storm older than centuries."),
        ("moon", "The Moon always shows the same face to Earth because of tidal locking."),
        ("black-hole", "A black hole bends light so strongly that nothing escapes its horizon."),
        ("comet", "A comet grows a glowing tail of gas and dust as it nears the Sun."),
        ("galaxy", "The Milky Way is a barred spiral galaxy with hundreds of billions of stars."),
        ("eclipse", "A total solar eclipse happens when the Moon covers the whole Sun."),
        ("telescope", "A larger telescope mirror gathers more light and shows fainter stars."),
        ("saturn", "Saturn's rings are made of ice and rock, from dust to house-sized pieces."),
        ("supernova", "A supernova is the explosion of a massive star at the end of its life."),
        ("exoplanet", "Thousands of exoplanets have been found orbiting other stars."),
        ("aurora", "Auroras glow when particles from the Sun hit the upper atmosphere."),
    ],
    "sports": [
        (
            "marathon",
            "Marathon runners train for months and taper in the last weeks before a race.",
        ),
        ("football", "In football a team scores by putting the ball in the other team's goal."),
        ("tennis", "A tennis serve starts every point, from behind the baseline."),
        ("swimming", "Freestyle swimmers breathe to the side between strokes."),
        ("cycling", "Professional cyclists ride in a pack to save energy behind each other."),
        ("basketball", "A basketball team has five players on the court at a time."),
        ("chess", "Chess players study openings, tactics and endgames for years."),
        ("climbing", "Rock climbers are protected by a rope clipped into anchors on the wall."),
        ("skiing", "Downhill skiers carve turns by tilting their skis onto the edges."),
        ("rowing", "Rowers push with their legs first, then swing the back and pull the arms."),
        ("golf", "A golfer tries to finish each hole in as few strokes as possible."),
        ("yoga", "Yoga combines breathing, stretching and balance in slow poses."),
    ],
}

YEARS = (2019, 2020, 2021, 2022, 2023, 2024)


def records() -> dict[str, list[Any]]:
    """Ids ``<topic>-<name>``, documents and metadata (``topic``, ``year``, ``words``)."""
    ids: list[str] = []
    documents: list[str] = []
    metadatas: list[dict[str, Any]] = []
    for topic, items in TOPICS.items():
        for i, (name, text) in enumerate(items):
            ids.append(f"{topic}-{name}")
            documents.append(text)
            metadatas.append(
                {"topic": topic, "year": YEARS[i % len(YEARS)], "words": len(text.split())}
            )
    return {"ids": ids, "documents": documents, "metadatas": metadatas}
