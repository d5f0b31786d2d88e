"""The prompts `bench/cost.py` distils its smaller model on: everyday questions of the kinds the bench asks (short facts,
arithmetic, words, descriptions, and explanations), none of them one of the bench's test, paraphrase or router-training
questions (`cost.py` checks that they are disjoint)."""
import itertools

COUNTRIES = ["Germany", "Italy", "Japan", "Egypt", "Canada", "Brazil", "India", "China", "Russia", "Mexico", "Kenya", "Norway",
             "Sweden", "Greece", "Portugal", "Argentina", "Australia", "Peru", "Turkey", "Poland", "Ireland", "Chile", "Cuba", "Thailand"]
MORE_COUNTRIES = ["Vietnam", "Nigeria", "Morocco", "Austria", "Belgium", "Denmark", "Finland", "Hungary", "Iceland", "Indonesia",
                  "Iran", "Israel", "Jamaica", "Colombia", "Venezuela", "Ukraine", "Switzerland", "the Netherlands", "New Zealand",
                  "Pakistan", "the Philippines", "Saudi Arabia", "South Korea", "Ghana", "Nepal", "Scotland"]
NAMES = ["animal", "bird", "fish", "flower", "tree", "sport", "metal", "gas", "insect", "tool", "ocean", "river", "mountain",
         "country in Europe", "city in Asia", "vegetable that is green", "fruit that is red", "board game", "dance", "language",
         "shape", "season", "month of the year", "body part", "kitchen utensil", "piece of furniture", "vehicle", "profession"]
OPPOSITES = ["cold", "big", "fast", "light", "up", "happy", "old", "early", "wet", "loud", "strong", "rich", "open", "full", "left", "day"]
COLORS = ["snow", "the sky on a clear day", "a banana", "coal", "blood", "an orange", "a lemon", "milk", "a tomato", "the ocean", "chocolate", "a carrot"]
SAY = [("thank you", "French"), ("goodbye", "German"), ("good morning", "Italian"), ("please", "Spanish"), ("yes", "French"),
       ("cat", "German"), ("water", "Spanish"), ("friend", "Italian"), ("good night", "French"), ("dog", "Spanish")]
SOUNDS = ["cat", "dog", "duck", "sheep", "pig", "horse", "lion", "owl", "frog", "bee"]
UNITS = [("hours", "day"), ("minutes", "hour"), ("months", "year"), ("seconds", "minute"), ("centimeters", "meter"),
         ("grams", "kilogram"), ("years", "century"), ("days", "leap year"), ("sides", "triangle"), ("legs", "spider")]
WHY = ["metals feel cold to the touch", "the moon has phases", "bread rises", "we have day and night", "salt melts ice on roads",
       "the ocean is salty", "plants need sunlight", "we sweat when it is hot", "thunder follows lightning", "boats float",
       "the sun rises in the east", "people need sleep", "iron rusts", "hot air rises", "stars twinkle at night", "cats purr"]
HOW = ["a bicycle", "a battery", "a thermometer", "an airplane wing", "a compass", "a microwave oven", "a camera", "a light bulb",
       "the heart", "a volcano", "recycling", "the internet", "a solar panel", "a telescope", "a washing machine", "photosynthesis"]
MORE_HOW = ["a clock", "a bridge", "a dam", "an elevator", "a rocket", "a submarine", "a helicopter", "a printer", "a keyboard",
            "a smartphone", "a radio", "a map", "a bank", "a lock and key", "a pump", "a parachute", "a windmill", "a kettle"]
THINGS = ["a dog", "a cat", "an elephant", "a whale", "a rose", "a sunflower", "the moon", "the sun", "a cloud", "a river",
          "a mountain", "a desert", "a forest", "an island", "a volcano", "a glacier", "a bee", "an ant", "a spider", "a shark",
          "a penguin", "an eagle", "a horse", "a cow", "a tiger", "a lion", "a frog", "a snake", "a turtle", "a rabbit"]
CAUSES = ["rain", "snow", "wind", "earthquakes", "tides", "lightning", "thunder", "rust", "fog", "floods", "droughts", "hiccups",
          "echoes", "shadows", "waves on a lake", "a sunburn", "a fever", "jet lag", "a cold", "tooth decay"]
FACTS = ["gravity", "magnets", "electricity", "sound", "light", "heat", "friction", "evaporation", "clouds", "rainbows",
         "fire", "soap", "coffee", "tea", "cheese", "glass", "paper", "plastic", "steel", "concrete", "money", "the brain",
         "the lungs", "muscles", "bones", "blood", "dreams", "memory", "dinosaurs", "comets", "black holes", "robots",
         "coral reefs", "deserts", "forests", "oceans", "bees", "ants", "owls", "volcanoes"]
MORE_COMPARE = [("gravity", "magnets"), ("coffee", "cheese"), ("glass", "paper"), ("plastic", "steel"), ("the brain", "the lungs"),
                ("muscles", "bones"), ("dinosaurs", "birds"), ("comets", "stars"), ("deserts", "forests"), ("bees", "ants"),
                ("libraries", "bookshops"), ("rivers", "canals"), ("buses", "trams"), ("pens", "pencils"), ("mountains", "hills")]
ANIMALS = ["dogs", "cats", "horses", "cows", "rabbits", "owls", "penguins", "sharks", "bees", "ants", "frogs", "snakes",
           "turtles", "eagles", "whales", "bears", "foxes", "wolves", "camels", "monkeys"]
TIPS = ["sleep", "exercise", "healthy eating", "studying", "saving money", "cooking rice", "gardening", "reading more",
        "drinking water", "staying focused", "learning a language", "keeping a room tidy"]
COMPARE = [("tea", "coffee"), ("trains", "cars"), ("summer", "winter"), ("books", "films"), ("cities", "villages"), ("email", "letters"),
           ("lakes", "rivers"), ("wind power", "solar power"), ("apples", "oranges"), ("walking", "running")]


def prompts() -> list[str]:
    out = [f"What is the capital of {c}?" for c in COUNTRIES + MORE_COUNTRIES]
    out += [f"Which city is the capital of {c}?" for c in (COUNTRIES + MORE_COUNTRIES)[1::3]]
    out += [f"Name a {n}." for n in NAMES]
    out += [f"What is {a} plus {b}?" for a, b in itertools.islice(itertools.product(range(1, 10), range(3, 12, 2)), 0, 45, 3)]
    out += [f"What is {a} plus {b}?" for a in range(10, 20) for b in range(1, 20) if (a * 7 + b) % 9 == 0]
    out += [f"What is {a} minus {b}?" for a in range(5, 20) for b in range(1, 5) if (a + b) % 3 == 0]
    out += [f"What is the opposite of {w}?" for w in OPPOSITES]
    out += [f"What color is {t}?" for t in COLORS + THINGS[::3]]
    out += [f"Say {w} in {l}." for w, l in SAY]
    out += [f"What sound does a {a} make?" for a in SOUNDS]
    out += [f"How many {u} are in a {b}?" for u, b in UNITS]
    out += [f"Describe {t} in one sentence." for t in THINGS]
    out += [f"Explain why {w}." for w in WHY]
    out += [f"Explain how {h} works." for h in HOW + MORE_HOW]
    out += [f"What causes {c}?" for c in CAUSES]
    out += [f"Tell me a fact about {f}." for f in FACTS]
    out += [f"Compare {a} and {b}." for a, b in COMPARE + MORE_COMPARE]
    out += [f"Give a tip about {t}." for t in TIPS]
    out += [f"Tell me a fact about {t}." for t in THINGS]
    out += [f"What do {a} eat?" for a in ANIMALS] + [f"Where do {a} live?" for a in ANIMALS[::2]]
    out += [f"What is {a} times {b}?" for a in range(2, 10) for b in range(2, 10) if (a + 2 * b) % 4 == 0]
    return list(dict.fromkeys(out))


if __name__ == "__main__":
    p = prompts(); print(len(p)); print("\n".join(p[::20]))
