"The semantic cache end to end (real MiniLM, default threshold and verification): a question that asks something else is never served the stored answer."
from types import SimpleNamespace
import pytest
from jupyter_llmops.cache import SemanticCache
from jupyter_llmops.config import load_settings

MODEL = "openai:m@http://127.0.0.1:9"  # never called: the cache alone answers


@pytest.fixture
def cache(tmp_path):
    s = load_settings(tmp_path, {"HOME": str(tmp_path), "LLMOPS_HOME": str(tmp_path / "home")})
    c = SemanticCache(tmp_path / "semantic.db", s.embed_model, s.cache_threshold, verify=True)
    c.settings = s
    return c


def _served(c, stored: str, query: str):
    "The answer the cache serves for `query` after `stored` was answered."
    msgs = lambda q: [{"role": "user", "content": q}]
    c.store(MODEL, msgs(stored), 64, None, None, SimpleNamespace(text=f"answer to: {stored}", cost=0.01, logprob=None, latency_s=1.0))
    hit = c.lookup(MODEL, msgs(query), 64)
    return hit and hit.text


@pytest.mark.parametrize("stored,query", [
    ("What is twenty-one times three?", "What is twenty-two times three?"),  # 0.97: both share *twenty*
    ("How many seconds are in a million years?", "How many seconds are in a billion years?"),  # 0.95: no number word at all
    ("How much is one thousand euros in dollars?", "How much is one million euros in dollars?"),
    ("How many cups is ½ a pint?", "How many cups is ¼ of a pint?")])  # 0.94: numbers in another script
def test_numbers_in_words_or_signs_are_never_served_for_others(cache, stored, query):
    assert _served(cache, stored, query) is None


def test_the_same_number_written_otherwise_is_still_served(cache):
    assert _served(cache, "How old is a twenty-one year old?", "How old is a 21 year old?") == "answer to: How old is a twenty-one year old?"


@pytest.mark.parametrize("stored,query", [
    ("Can children under 12 take ibuprofen?", "Can children over 12 take ibuprofen?"),  # 0.99
    ("How do I turn left at a roundabout?", "How do I turn right at a roundabout?"),  # 0.96
    ("Is coffee good for you?", "Is coffee bad for you?"),  # 0.94
    ("How do I convert a string to lowercase in Python?", "How do I convert a string to uppercase in Python?"),
    ("What is the average salary of a nurse?", "What is the median salary of a nurse?"),
    ("Is 7 an odd number?", "Is 7 an even number?")])
def test_a_question_the_other_way_round_is_never_served(cache, stored, query):
    assert _served(cache, stored, query) is None


@pytest.mark.parametrize("stored,query", [
    ("how to install python on windows", "how to install python on linux"),  # 0.90: typed in lower case, no names
    ("how many meters in a mile", "how many feet in a mile"),  # 0.88
    ("how to center a div horizontally", "how to center a div vertically")])  # 0.87
def test_another_system_unit_or_axis_is_never_served(cache, stored, query):
    assert _served(cache, stored, query) is None


@pytest.mark.parametrize("stored,query", [
    ("how many ounces in a pound", "how many pounds in an ounce"),  # 0.94
    ("how many teaspoons in a tablespoon", "how many tablespoons in a teaspoon"),  # 0.95
    ("what is 100 usd in eur", "what is 100 eur in usd")])  # 0.98
def test_a_conversion_the_other_way_round_around_in_is_never_served(cache, stored, query):
    assert _served(cache, stored, query) is None
