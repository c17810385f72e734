"""WebShop's purchase reward: attributes, options and price, scaled by a product-type factor.

Paper: Yao et al., 2022, "WebShop: Towards Scalable Real-World Web Interaction with Grounded
Language Agents" (arXiv 2207.01206); code ``princeton-nlp/WebShop``, ``web_agent_site/engine/goal.py``
(``get_reward``, ``get_type_reward``, ``get_attribute_reward``, ``get_option_reward``)::

    R = r_type * (n_attr_matched + n_opt_matched + 1[price <= price_upper])
               / (|goal attributes| + |goal options| + 1)

Range [0, 1]. WebShop's success metric is ``R == 1.0`` exactly.

Two pieces of the original need libraries this module does without:

* **Fuzzy matching.** The code uses thefuzz's ``fuzz.token_set_ratio`` (rapidfuzz backend) with
  threshold ``> 85``. :func:`token_set_ratio` reimplements it exactly: thefuzz's preprocessing
  (drop non-ASCII, non-alphanumerics to spaces, lowercase, strip), rapidfuzz's token-set formula
  on the Indel (LCS) similarity, rounded to an int as thefuzz does.
* **Type match.** The code compares the NOUN/PROPN tokens that spaCy (``en_core_web_sm``) finds in
  the product and goal names. :func:`noun_tokens` approximates them without spaCy: lowercase
  alphabetic words of two or more letters, minus English function words, colour words and a
  short list of common product adjectives. It keeps words spaCy would tag ADJ/VERB when they are
  not on those lists (``running`` in "running shoes"), so ``title_score`` can differ from the
  original's; pass ``nouns=`` (e.g. a spaCy-backed function) to get the original behaviour.

:data:`COLOR_SET` (``normalize_color``'s table in ``web_agent_site/engine/normalize.py``) was not
in the reference snapshots; it is reconstructed from memory and may differ in a few entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agentgym.core import Task
from agentgym.rewards.base import RewardResult
from agentgym.trajectory import Trajectory

__all__ = [
    "COLOR_SET",
    "WebShopReward",
    "attribute_matches",
    "noun_tokens",
    "normalize_color",
    "option_matches",
    "token_set_ratio",
    "type_reward",
    "webshop_reward",
]

#: Colour words WebShop's ``normalize_color`` looks for, in its (alphabetical) order: the first one
#: that is a substring of an option value replaces it. Reconstructed; see the module docstring.
COLOR_SET: tuple[str, ...] = tuple(
    """
    alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown
    burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee
    cognac copper coral cranberry cream crystal dark denim eggplant elephant espresso fuchsia gold
    granite grape graphite grass gray green grey heather indigo ivory ivy khaki lavender lemon
    leopard light lilac lime magenta maroon mauve merlot midnight mint mocha multicolor mushroom
    mustard natural navy nude olive orange peach pewter pink plum purple rainbow red rose royal
    rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal
    tiger turquoise violet walnut wheat white wine yellow
    """.split()
)


def normalize_color(text: str) -> str:
    """WebShop's ``normalize_color``: the first :data:`COLOR_SET` word in ``text``, else ``text``.

    Args:
        text: An option value.

    Returns:
        The colour word or the unchanged text.

    Examples:
        >>> normalize_color("dark blue"), normalize_color("x-large")
        ('blue', 'x-large')
    """
    for color in COLOR_SET:
        if color in text:
            return color
    return text


_NON_WORD = re.compile(r"(?ui)\W")


def _thefuzz_process(text: str) -> str:
    """Thefuzz's ``full_process`` with ``force_ascii=True``."""
    ascii_only = "".join(ch for ch in text if ord(ch) < 128)
    return _NON_WORD.sub(" ", ascii_only).lower().strip()


def _lcs_length(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for ch in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if ch == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _indel_distance(a: str, b: str) -> int:
    return len(a) + len(b) - 2 * _lcs_length(a, b)


def token_set_ratio(first: str, second: str) -> int:
    """Thefuzz's ``fuzz.token_set_ratio`` (0-100), reimplemented without rapidfuzz.

    Both strings are preprocessed (non-ASCII dropped, non-alphanumerics to spaces, lowercase,
    strip) and split into token sets. If one set contains the other (and they share a token) the
    score is 100; otherwise it is the best Indel similarity among "sorted intersection" vs
    "intersection + rest of either side" and the two "intersection + rest" strings, rounded.

    Args:
        first: A string.
        second: Another string.

    Returns:
        The similarity, 0 to 100.

    Examples:
        >>> token_set_ratio("Machine Washable", "machine wash"), token_set_ratio("small", "large")
        (86, 20)
        >>> token_set_ratio("long sleeve", "Long-Sleeve shirt"), token_set_ratio("", "x")
        (100, 0)
    """
    a, b = _thefuzz_process(first), _thefuzz_process(second)
    tokens_a, tokens_b = set(a.split()), set(b.split())
    if not tokens_a or not tokens_b:
        return 0
    common = tokens_a & tokens_b
    only_a, only_b = tokens_a - tokens_b, tokens_b - tokens_a
    if common and (not only_a or not only_b):
        return 100
    rest_a, rest_b = " ".join(sorted(only_a)), " ".join(sorted(only_b))
    common_len = len(" ".join(common))
    with_a = common_len + (common_len != 0) + len(rest_a)
    with_b = common_len + (common_len != 0) + len(rest_b)
    best = 100.0 * (1 - _indel_distance(rest_a, rest_b) / (with_a + with_b))
    if common_len:
        best = max(
            best,
            100.0 * (1 - (1 + len(rest_a)) / (common_len + with_a)),
            100.0 * (1 - (1 + len(rest_b)) / (common_len + with_b)),
        )
    return int(round(best))


_STOPWORDS = frozenset(
    """
    a an the and or nor but of for with without in on at to from by into onto over under about
    as per via than then so if is are be been was were it its this that these those my your our
    their his her he she they we you i me us them not no only very too also plus vs x
    """.split()
)
_ADJECTIVES = frozenset(
    """
    new large small big mini extra premium best high low long short soft hard light heavy
    portable professional waterproof wireless organic original classic modern vintage cute
    comfortable durable adjustable lightweight stainless plastic wooden cotton leather
    """.split()
)
_ALPHA = re.compile(r"[a-z]+")


def noun_tokens(text: str) -> list[str]:
    """Approximate the lowercase NOUN/PROPN tokens spaCy finds in a product name.

    Alphabetic words of two or more letters, minus function words, :data:`COLOR_SET` words and a
    few common product adjectives. A heuristic stand-in for spaCy (see the module docstring).

    Args:
        text: A product or goal name.

    Returns:
        The tokens, in order.

    Examples:
        >>> noun_tokens("Men's Black Leather Running Shoes, Size 10")
        ['men', 'running', 'shoes', 'size']
    """
    words = _ALPHA.findall(text.lower())
    colors = set(COLOR_SET)
    return [
        w
        for w in words
        if len(w) > 1 and w not in _STOPWORDS and w not in colors and w not in _ADJECTIVES
    ]


def type_reward(
    purchased: Mapping[str, Any],
    goal: Mapping[str, Any],
    *,
    nouns: Callable[[str], Sequence[str]] = noun_tokens,
) -> dict[str, Any]:
    """WebShop's ``get_type_reward``: is the purchased product the right kind of product?

    ``query_match``: same search query; ``category_match``: at least 2 shared ``›``-separated
    category names; ``title_score``: the fraction of the goal name's noun tokens found in the
    product name (0.2 when the goal name has none). Then, in order: ``r_type = 1``; 0.5 if no
    match of any kind (``title_score > 0.2`` counts as one); 0.1 if ``title_score < 0.1``; 0 if
    ``title_score == 0``.

    Args:
        purchased: The product (``query``, ``product_category``, ``name``).
        goal: The goal (same keys).
        nouns: Name -> noun tokens (:func:`noun_tokens`; plug spaCy in for the original).

    Returns:
        ``{"r_type", "query_match", "category_match", "title_score"}``.

    Examples:
        >>> goal = {"query": "shoes", "product_category": "Shoes › Men", "name": "running shoes"}
        >>> boots = {"query": "boots", "product_category": "Boots", "name": "hiking boots"}
        >>> type_reward(boots, goal)
        {'r_type': 0.0, 'query_match': False, 'category_match': False, 'title_score': 0.0}
    """
    query_match = purchased.get("query") == goal.get("query")
    categories_p = {x.strip() for x in str(purchased.get("product_category", "")).split("›")}
    categories_g = {x.strip() for x in str(goal.get("product_category", "")).split("›")}
    category_match = len(categories_p & categories_g) >= 2
    purchased_nouns = {t.lower() for t in nouns(str(purchased.get("name", "")))}
    desired_nouns = [t.lower() for t in nouns(str(goal.get("name", "")))]
    if desired_nouns:
        title_score = len(purchased_nouns & set(desired_nouns)) / len(desired_nouns)
    else:
        title_score = 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {
        "r_type": r_type,
        "query_match": query_match,
        "category_match": category_match,
        "title_score": title_score,
    }


def attribute_matches(purchased: Mapping[str, Any], goal_attributes: Iterable[str]) -> int:
    """How many goal attributes the product has (WebShop's ``get_attribute_reward`` count).

    A goal attribute matches if some product attribute has ``token_set_ratio > 85`` with it, or
    else if it is a substring of the lowercased title, bullet points or description (the goal
    attribute itself is not lowercased, as in the code).

    Args:
        purchased: The product (``Attributes``, ``Title``, ``BulletPoints``, ``Description``).
        goal_attributes: The goal's attributes.

    Returns:
        The number of matched attributes.

    Examples:
        >>> product = {"Attributes": ["machine washable"], "Title": "Cotton T-Shirt",
        ...            "BulletPoints": ["long sleeve"], "Description": ""}
        >>> attribute_matches(product, ["machine wash", "long sleeve", "slim fit"])  # 86 > 85
        2
    """
    product_attributes = list(purchased.get("Attributes") or [])
    title = str(purchased.get("Title", "")).lower()
    bullets = " ".join(purchased.get("BulletPoints") or []).lower()
    description = str(purchased.get("Description", "")).lower()
    matched = 0
    for goal_attribute in goal_attributes:
        if any(token_set_ratio(p, goal_attribute) > 85 for p in product_attributes):
            matched += 1
        elif goal_attribute in title or goal_attribute in bullets or goal_attribute in description:
            matched += 1
    return matched


def option_matches(purchased_options: Iterable[str], goal_options: Iterable[str]) -> int:
    """How many goal options the chosen options satisfy (WebShop's ``get_option_reward`` count).

    Both sides go through :func:`normalize_color`; a goal option matches if some chosen option
    has ``token_set_ratio > 85`` with it.

    Args:
        purchased_options: The option values chosen before buying.
        goal_options: The goal's option values.

    Returns:
        The number of matched goal options.

    Examples:
        >>> option_matches(["navy blue", "small"], ["blue", "large", "cotton"])
        1
        >>> option_matches(["x-large"], ["large"])  # {"x", "large"} contains {"large"}: ratio 100
        1
    """
    chosen = [normalize_color(o) for o in purchased_options]
    matched = 0
    for goal_option in (normalize_color(o) for o in goal_options):
        if any(token_set_ratio(p, goal_option) > 85 for p in chosen):
            matched += 1
    return matched


def webshop_reward(
    purchased: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str] | Iterable[str],
    *,
    nouns: Callable[[str], Sequence[str]] = noun_tokens,
) -> tuple[float, dict[str, Any]]:
    """WebShop's ``get_reward`` on plain dicts, with its verbose components.

    Args:
        purchased: The bought product: ``query``, ``product_category``, ``name``, ``Title``,
            ``BulletPoints``, ``Description``, ``Attributes``.
        goal: ``query``, ``product_category``, ``name``, ``attributes``, ``goal_options`` (a list,
            or a dict whose values are used: the code passes ``.items()`` there, which would fail)
            and ``price_upper``.
        price: The price paid.
        options: The chosen options (a dict of name -> value, or the values).
        nouns: Name -> noun tokens for :func:`type_reward`.

    Returns:
        ``(R, info)``: R in [0, 1]; info holds ``r_type``, ``r_att``, ``r_option``, ``r_price``,
        their weights ``w_*``, the match counts and the type diagnostics.

    Examples:
        >>> goal = {"query": "t-shirt", "product_category": "Clothing › Men › Shirts",
        ...         "name": "cotton t-shirt",
        ...         "attributes": ["machine wash", "long sleeve", "cotton"],
        ...         "goal_options": ["blue", "large"], "price_upper": 30.0}
        >>> product = {"query": "t-shirt", "product_category": "Clothing › Men › Tops",
        ...            "name": "Men's Cotton T-Shirt", "Title": "Men's Cotton T-Shirt",
        ...            "BulletPoints": ["Long sleeve"], "Description": "", "Attributes": []}
        >>> chosen = {"color": "navy blue", "size": "small"}
        >>> reward, info = webshop_reward(product, goal, 19.99, chosen)
        >>> round(reward, 4), info["n_attr"], info["n_option"]  # (2 + 1 + 1) / (3 + 2 + 1)
        (0.6667, 2, 1)
    """
    goal_attributes = list(goal.get("attributes") or [])
    raw_options = goal.get("goal_options") or []
    goal_options = (
        list(raw_options.values()) if isinstance(raw_options, Mapping) else list(raw_options)
    )
    chosen = list(options.values()) if isinstance(options, Mapping) else list(options)

    type_info = type_reward(purchased, goal, nouns=nouns)
    price_upper = float(goal.get("price_upper", 1_000_000))
    r_price = float(price <= price_upper) if price_upper > 0 else 0.0
    n_attr = attribute_matches(purchased, goal_attributes)
    n_option = option_matches(chosen, goal_options)
    denominator = len(goal_attributes) + len(goal_options) + 1
    reward = type_info["r_type"] * (n_attr + n_option + r_price) / denominator
    info: dict[str, Any] = {
        **type_info,
        "r_att": n_attr / len(goal_attributes) if goal_attributes else None,
        "w_att": len(goal_attributes) / denominator,
        "r_option": n_option / len(goal_options) if goal_options else None,
        "w_option": len(goal_options) / denominator,
        "r_price": r_price,
        "w_price": 1 / denominator,
        "n_attr": n_attr,
        "n_option": n_option,
    }
    return reward, info


class WebShopReward:
    """WebShop's purchase reward on a trajectory (:func:`webshop_reward`).

    Paper: WebShop (Yao et al., 2022); code-faithful formula, with the two documented
    approximations (fuzzy matching reimplemented exactly, spaCy's noun tagging approximated by
    :func:`noun_tokens` unless ``nouns=`` is given). Range [0, 1]; ``details["success"]`` is 1 only
    for ``R == 1.0``, WebShop's success metric.

    The goal is ``task.gold["goal"]``. The purchase is ``info["purchase"]`` of the last step that
    recorded one: ``{"product": {...}, "price": float, "options": {name: value}}``. An episode
    without a purchase scores 0 (WebShop ends episodes only on "buy now").

    Args:
        nouns: Name -> noun tokens for the type factor.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> product = {"query": "mug", "product_category": "Kitchen › Mugs", "name": "coffee mug",
        ...            "Title": "Coffee Mug", "BulletPoints": [], "Description": "",
        ...            "Attributes": ["dishwasher safe"]}
        >>> goal = {"query": "mug", "product_category": "Kitchen › Mugs", "name": "coffee mug",
        ...         "attributes": ["dishwasher safe"], "goal_options": [], "price_upper": 20.0}
        >>> purchase = {"product": product, "price": 9.5, "options": {}}
        >>> step = Step(action="click[buy now]", info={"purchase": purchase})
        >>> t = Trajectory(env_id="x", task_id="g", steps=[step])
        >>> WebShopReward()(t, Task(id="g", prompt="Buy a mug", gold={"goal": goal})).value
        1.0
    """

    def __init__(self, *, nouns: Callable[[str], Sequence[str]] = noun_tokens) -> None:
        self.nouns = nouns

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        purchase = next(
            (s.info["purchase"] for s in reversed(trajectory.steps) if s.info.get("purchase")),
            None,
        )
        if purchase is None:
            return RewardResult(0.0, details={"webshop": 0.0, "success": 0.0, "purchased": False})
        reward, info = webshop_reward(
            purchase["product"],
            task.gold["goal"],
            float(purchase.get("price", 0.0)),
            purchase.get("options") or {},
            nouns=self.nouns,
        )
        success = float(reward == 1.0)
        return RewardResult(
            reward, details={"webshop": reward, "success": success, "purchased": True, **info}
        )
