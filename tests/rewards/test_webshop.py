"""WebShop's purchase reward on plain dicts: the worked example of WebShop worked example, matching, type."""

from __future__ import annotations

import random

import pytest

from agentgym.core import Task
from agentgym.rewards.webshop import (
    COLOR_SET,
    WebShopReward,
    attribute_matches,
    normalize_color,
    noun_tokens,
    option_matches,
    token_set_ratio,
    type_reward,
    webshop_reward,
)
from agentgym.trajectory import Step, Trajectory

GOAL = {
    "query": "t-shirt",
    "product_category": "Clothing › Men › Shirts",
    "name": "cotton t-shirt",
    "attributes": ["machine wash", "long sleeve", "slim fit"],
    "goal_options": ["blue", "large"],
    "price_upper": 30.0,
}
PRODUCT = {
    "query": "t-shirt",
    "product_category": "Clothing › Men › Shirts",
    "name": "Men's Cotton T-Shirt",
    "Title": "Men's Cotton T-Shirt",
    "BulletPoints": ["Long sleeve", "Soft fabric"],
    "Description": "A classic shirt.",
    "Attributes": ["machine washable"],
}


def test_worked_example():
    # the worked example of WebShop: 3 goal attributes (2 matched), 2 options (1 matched), price OK, r_type 1
    # -> (2 + 1 + 1) / (3 + 2 + 1) = 0.6667
    reward, info = webshop_reward(PRODUCT, GOAL, 19.99, {"color": "navy blue", "size": "small"})
    assert (info["n_attr"], info["n_option"], info["r_price"], info["r_type"]) == (2, 1, 1.0, 1.0)
    assert reward == pytest.approx(4 / 6)
    assert round(reward, 4) == 0.6667
    # the verbose weights of WebShop's info dict
    assert (info["w_att"], info["w_option"], info["w_price"]) == pytest.approx(
        (3 / 6, 2 / 6, 1 / 6)
    )


def test_full_and_zero_rewards():
    # everything matched -> 1.0
    assert (
        webshop_reward(
            PRODUCT, {**GOAL, "attributes": ["long sleeve"], "goal_options": []}, 10.0, {}
        )[0]
        == 1.0
    )
    # over the price bound: the price term is lost
    reward, info = webshop_reward(PRODUCT, {**GOAL, "attributes": [], "goal_options": []}, 45.0, {})
    assert (reward, info["r_price"]) == (0.0, 0.0)
    # wrong product type (title_score 0) -> r_type 0 zeroes everything
    boots = {**PRODUCT, "query": "boots", "product_category": "Shoes", "name": "Hiking Boots"}
    assert webshop_reward(boots, GOAL, 10.0, {"color": "blue", "size": "large"})[0] == 0.0


def test_type_reward_rules():
    base = {"query": "q", "product_category": "A › B › C", "name": "cotton t-shirt"}
    # query match alone keeps r_type 1 when title_score >= 0.1
    assert type_reward({**base, "product_category": "X", "name": "shirt"}, base)["r_type"] == 1.0
    # no query or category match, title_score 1.0 > 0.2 -> 1
    other = {"query": "other", "product_category": "X", "name": "shirt"}
    assert type_reward(other, base)["r_type"] == 1.0
    # no match at all and title_score in [0.1, 0.2] -> 0.5 (goal nouns: 5, product shares 1)
    goal = {"query": "q", "product_category": "A", "name": "shirt hat scarf glove sock"}
    assert type_reward({"query": "z", "product_category": "B", "name": "shirt"}, goal) == {
        "r_type": 0.5,
        "query_match": False,
        "category_match": False,
        "title_score": 0.2,
    }
    # title_score < 0.1 (1 of 11 nouns) -> 0.1, even with a query match
    many = {
        "query": "q",
        "product_category": "A",
        "name": " ".join(f"noun{c}" for c in "abcdefghijk"),
    }
    assert (
        type_reward({"query": "q", "product_category": "A", "name": "nouna"}, many)["r_type"] == 0.1
    )
    # title_score == 0 -> 0, even with query and category matches
    assert type_reward({**base, "name": "boots"}, base)["r_type"] == 0.0
    # goal name with no nouns -> title_score 0.2; without query/category match -> 0.5
    adjectives = {"query": "q", "product_category": "A", "name": "black and white"}
    assert (
        type_reward({"query": "z", "product_category": "B", "name": "x"}, adjectives)["title_score"]
        == 0.2
    )
    assert (
        type_reward({"query": "z", "product_category": "B", "name": "x"}, adjectives)["r_type"]
        == 0.5
    )
    # category match needs 2 shared components
    assert (
        type_reward({**base, "query": "z", "product_category": "A › B"}, base)["category_match"]
        is True
    )
    assert (
        type_reward({**base, "query": "z", "product_category": "A › Z"}, base)["category_match"]
        is False
    )
    # a pluggable noun tagger replaces the heuristic
    assert (
        type_reward({**base, "name": "zzz"}, base, nouns=lambda text: ["thing"])["title_score"]
        == 1.0
    )


@pytest.mark.parametrize(
    ("first", "second", "score"),
    [
        ("Machine Washable", "machine wash", 86),  # same value as thefuzz 0.22 (checked offline)
        ("small", "large", 20),  # LCS "a" or "l": 1 - 8/10
        ("x-large", "large", 100),  # token subset -> 100
        ("long sleeve", "Long-Sleeve shirt", 100),  # punctuation becomes a space
        ("", "anything", 0),  # empty after processing
        ("!!!", "anything", 0),  # punctuation only
        ("blue", "blue", 100),  # identical
        ("café", "caf", 100),  # non-ASCII dropped (force_ascii)
    ],
)
def test_token_set_ratio(first, second, score):
    assert token_set_ratio(first, second) == score


def test_attribute_and_option_matching():
    # fuzzy attribute > 85, substring of title/bullets/description, and a miss
    assert attribute_matches(PRODUCT, ["machine wash"]) == 1
    assert attribute_matches(PRODUCT, ["cotton"]) == 1  # in the lowercased title
    assert attribute_matches(PRODUCT, ["classic"]) == 1  # in the description
    assert attribute_matches(PRODUCT, ["waterproof"]) == 0
    # the goal attribute is not lowercased: "Cotton" is not in the lowercased title
    assert attribute_matches(PRODUCT, ["Cotton"]) == 0
    # colours normalize on both sides: "navy blue" -> "blue"
    assert option_matches(["navy blue"], ["light blue"]) == 1
    # each goal option counts once, however many chosen options match it
    assert option_matches(["blue", "blue"], ["blue"]) == 1
    # no chosen options
    assert option_matches([], ["blue"]) == 0


def test_normalize_color():
    # the first COLOR_SET entry (alphabetical) found as a substring wins
    assert normalize_color("dark blue") == "blue"
    assert normalize_color("rose gold") == "gold"
    # substring, not word: "reddish" contains "red"
    assert normalize_color("reddish") == "red"
    # no colour -> unchanged
    assert normalize_color("XL") == "XL"
    assert list(COLOR_SET) == sorted(COLOR_SET)


def test_noun_tokens():
    # function words, colours and listed adjectives dropped; one-letter tokens dropped
    assert noun_tokens("A Large Black T-Shirt for Men") == ["shirt", "men"]
    assert noun_tokens("") == []


def test_goal_options_as_dict():
    # a dict of goal options uses its values
    reward, info = webshop_reward(
        PRODUCT, {**GOAL, "goal_options": {"color": "blue", "size": "large"}}, 10.0, ["blue"]
    )
    assert info["n_option"] == 1 and reward == pytest.approx(4 / 6)


def purchase_trajectory(product: dict, price: float, options: dict) -> Trajectory:
    steps = [
        Step(action="search[cotton t-shirt]"),
        Step(
            action="click[buy now]",
            info={"purchase": {"product": product, "price": price, "options": options}},
        ),
    ]
    return Trajectory(env_id="agentgym/WebShop-v0", task_id="g", steps=steps)


def test_trajectory_reward():
    task = Task(id="g", prompt="Buy a cotton t-shirt", gold={"goal": GOAL})
    result = WebShopReward()(purchase_trajectory(PRODUCT, 19.99, {"color": "navy blue"}), task)
    # worked-example value through a trajectory; not a success (R < 1)
    assert result.value == pytest.approx(4 / 6)
    assert (result.details["success"], result.details["purchased"]) == (0.0, True)
    # no purchase -> 0
    no_buy = Trajectory(env_id="agentgym/WebShop-v0", task_id="g", steps=[Step(action="search[x]")])
    assert WebShopReward()(no_buy, task).details == {
        "webshop": 0.0,
        "success": 0.0,
        "purchased": False,
    }
    # perfect purchase -> success 1
    easy = Task(
        id="g",
        prompt="?",
        gold={"goal": {**GOAL, "attributes": ["long sleeve"], "goal_options": ["blue"]}},
    )
    perfect = WebShopReward()(purchase_trajectory(PRODUCT, 5.0, {"color": "blue"}), easy)
    assert (perfect.value, perfect.details["success"]) == (1.0, 1.0)


def test_range_property():
    # seeded random products, goals and options: R stays in [0, 1]
    rng = random.Random(11)
    words = [
        "cotton",
        "shirt",
        "blue",
        "large",
        "navy",
        "machine",
        "wash",
        "long",
        "sleeve",
        "boots",
        "x",
    ]

    def phrase() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(0, 3)))

    for _ in range(500):
        product = {
            "query": rng.choice(["a", "b"]),
            "product_category": " › ".join(rng.sample(["A", "B", "C", "D"], rng.randint(1, 3))),
            "name": phrase(),
            "Title": phrase(),
            "BulletPoints": [phrase() for _ in range(rng.randint(0, 2))],
            "Description": phrase(),
            "Attributes": [phrase() for _ in range(rng.randint(0, 2))],
        }
        goal = {
            "query": rng.choice(["a", "b"]),
            "product_category": " › ".join(rng.sample(["A", "B", "C", "D"], rng.randint(1, 3))),
            "name": phrase(),
            "attributes": [phrase() for _ in range(rng.randint(0, 3))],
            "goal_options": [phrase() for _ in range(rng.randint(0, 2))],
            "price_upper": rng.choice([10.0, 50.0, 1_000_000]),
        }
        reward, info = webshop_reward(
            product, goal, rng.uniform(0, 60), [phrase() for _ in range(2)]
        )
        assert 0.0 <= reward <= 1.0
        assert info["r_type"] in (0.0, 0.1, 0.5, 1.0)
