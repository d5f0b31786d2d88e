"""The prompts `bench/cost.py` distils its smaller model on: everyday questions of the kinds the bench asks (short facts,
arithmetic, words, and explanations), none of them one of the bench's test questions."""
import itertools

COUNTRIES = ["Germany", "Italy", "Japan", "Egypt", "Canada", "Brazil", "India", "China", "Russia", "Mexico", "Kenya", "Norway",
             "Sweden", "Greece", "Portugal", "Argentina", "Australia", "Peru", "Turkey", "Poland", "Ireland", "Chile", "Cuba", "Thailand"]
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
COMPARE = [("tea", "coffee"), ("trains", "cars"), ("summer", "winter"), ("books", "films"), ("cities", "villages"), ("email", "letters"),
           ("lakes", "rivers"), ("wind power", "solar power"), ("apples", "oranges"), ("walking", "running")]


def prompts() -> list[str]:
    out = [f"What is the capital of {c}?" for c in COUNTRIES]
    out += [f"Name a {n}." for n in NAMES]
    out += [f"What is {a} plus {b}?" for a, b in itertools.islice(itertools.product(range(1, 10), range(3, 12, 2)), 0, 45, 3)]
    out += [f"What is the opposite of {w}?" for w in OPPOSITES]
    out += [f"What color is {t}?" for t in COLORS]
    out += [f"Say {w} in {l}." for w, l in SAY]
    out += [f"What sound does a {a} make?" for a in SOUNDS]
    out += [f"How many {u} are in a {b}?" for u, b in UNITS]
    out += [f"Explain why {w}." for w in WHY]
    out += [f"Explain how {h} works." for h in HOW]
    out += [f"Compare {a} and {b}." for a, b in COMPARE]
    return out


if __name__ == "__main__":
    p = prompts(); print(len(p)); print("\n".join(p[::20]))
