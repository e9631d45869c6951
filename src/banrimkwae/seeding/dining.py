"""Restaurants and their menus, built from per-cuisine courses."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from banrimkwae.seeding.properties import CENTS, Row

# A course: (category, dishes, variants). With variants, each dish is offered in each variant,
# so "Green Curry" and "with Chicken" make "Green Curry with Chicken".
_Course = tuple[str, str, str]
_PROTEINS = "with Chicken|with Pork|with Prawns|with Tofu"
_CUISINES: dict[str, tuple[_Course, ...]] = {
    "Thai": (
        ("Starters", "Chicken Satay|Fresh Spring Rolls|Thai Fish Cakes|Miang Kham|Golden Bags", ""),
        ("Soups", "Tom Yum Goong|Tom Kha Gai|Tom Saep|Glass Noodle Soup", ""),
        ("Salads", "Som Tam|Larb Gai|Yam Woon Sen|Pomelo Salad|Yam Nua", ""),
        ("Curries", "Green Curry|Red Curry|Massaman Curry|Panang Curry|Jungle Curry", _PROTEINS),
        (
            "Wok",
            "Pad Thai|Pad Kra Pao|Pad See Ew|Cashew Nut Stir-Fry|Pineapple Fried Rice",
            _PROTEINS,
        ),
    ),
    "Northern Thai": (
        ("Starters", "Nam Prik Ong|Nam Prik Noom|Sai Ua Sausage|Crispy Pork Rinds|Miang Lanna", ""),
        ("Salads", "Larb Muang|Tam Khanun|Yam Hed|Green Papaya Salad", ""),
        ("Noodles", "Khao Soi|Kanom Jeen Nam Ngiao|Boat Noodles|Yen Ta Fo", _PROTEINS),
        ("Curries", "Hang Lay Curry|Gaeng Om|Jungle Curry|Gaeng Khanun", _PROTEINS),
        ("Grill", "Gai Yang|Moo Ping|Aeb Pla|Grilled Pork Neck|Sticky Rice Basket", ""),
    ),
    "Seafood": (
        (
            "Starters",
            "Grilled Scallops|Oysters with Nam Jim|Salt and Pepper Squid|Crab Cakes|Prawn Tempura"
            "|Crab Spring Rolls",
            "",
        ),
        ("Soups", "Seafood Tom Yum|Crab and Corn Soup|Clam Broth with Basil", ""),
        (
            "From the Sea",
            "Grilled|Steamed Lime|Garlic Fried|Tamarind Glazed|Salt Crusted",
            "Sea Bass|Tiger Prawns|Red Snapper|Blue Crab|Squid",
        ),
        ("Rice and Noodles", "Crab Fried Rice|Seafood Pad Thai|Squid Ink Noodles", ""),
        (
            "Sides",
            "Jasmine Rice|Sticky Rice|Garlic Butter Corn|Morning Glory Stir-Fry|Grilled Vegetables"
            "|Dipping Sauce Trio",
            "",
        ),
    ),
    "Italian": (
        (
            "Antipasti",
            "Bruschetta|Burrata and Tomatoes|Beef Carpaccio|Arancini|Caprese|Fritto Misto"
            "|Vitello Tonnato",
            "",
        ),
        (
            "Pasta",
            "Spaghetti|Penne|Linguine|Tagliatelle",
            "Carbonara|al Pomodoro|al Pesto|ai Frutti di Mare|alla Bolognese|Aglio e Olio",
        ),
        (
            "Pizza",
            "Margherita|Diavola|Quattro Formaggi|Prosciutto e Rucola|Capricciosa|Marinara|Tartufo",
            "",
        ),
        ("Mains", "Chicken Milanese|Osso Buco|Grilled Sea Bream|Saltimbocca", ""),
    ),
    "Japanese": (
        (
            "Starters",
            "Edamame|Gyoza|Agedashi Tofu|Chicken Karaage|Miso Soup|Wakame Salad|Takoyaki"
            "|Chawanmushi",
            "",
        ),
        ("Sushi", "Salmon|Tuna|Yellowtail|Eel|Prawn|Scallop", "Nigiri|Sashimi|Maki"),
        ("Noodles", "Ramen|Udon|Soba", "with Pork Chashu|with Tempura Prawns|with Vegetables"),
        (
            "Mains",
            "Chicken Teriyaki|Salmon Teriyaki|Tonkatsu|Tempura Moriawase|Unagi Don|Wagyu Don"
            "|Katsu Curry",
            "",
        ),
    ),
    "International": (
        (
            "Breakfast",
            "Eggs Benedict|Avocado Toast|Pancake Stack|Granola Bowl|Full Breakfast|Omelette"
            "|French Toast|Congee",
            "",
        ),
        ("Burgers", "Classic Beef|Crispy Chicken|Portobello|Fish", "Burger|Burger with Cheese"),
        (
            "Grill",
            "Ribeye Steak|Lamb Chops|Grilled Chicken Breast|BBQ Pork Ribs|Grilled Salmon",
            "",
        ),
        ("Salads", "Caesar Salad|Greek Salad|Quinoa Bowl|Nicoise Salad|Cobb Salad", ""),
        ("Pasta", "Spaghetti|Penne", "Bolognese|Arrabbiata"),
        ("Sandwiches", "Club Sandwich|Tuna Melt|Croque Monsieur|BLT|Reuben|Falafel Wrap", ""),
        (
            "Sides",
            "French Fries|Sweet Potato Fries|Garlic Bread|Steamed Vegetables|Onion Rings",
            "",
        ),
    ),
}
# Every menu ends with these.
_SHARED: tuple[_Course, ...] = (
    (
        "Desserts",
        "Mango Sticky Rice|Coconut Ice Cream|Banana Roti|Tub Tim Grob|Chocolate Lava Cake"
        "|Seasonal Fruit Platter",
        "",
    ),
    (
        "Drinks",
        "Thai Iced Tea|Fresh Coconut|Lemongrass Iced Tea|Watermelon Shake|Mango Smoothie"
        "|Singha Beer|Chang Beer|Espresso|Cappuccino|Lime Soda|Mojito|House Red Wine"
        "|House White Wine",
        "",
    ),
)
# Price range in THB by category; anything else uses the default.
_PRICES = {
    "Drinks": (60, 380),
    "Desserts": (120, 260),
    "Sides": (80, 160),
    "Starters": (120, 280),
    "Antipasti": (220, 420),
    "Sushi": (120, 380),
    "From the Sea": (420, 1600),
    "Grill": (260, 1400),
}
_DEFAULT_PRICE = (160, 480)
# (name, cuisine, opening hours)
_RESTAURANTS: tuple[tuple[str, str, str], ...] = (
    ("Baan Rim Nam", "Thai", "11:00-22:00"),
    ("Sala Thai", "Thai", "17:30-22:30"),
    ("Lanna Kitchen", "Northern Thai", "11:00-21:30"),
    ("The Jetty", "Seafood", "17:00-23:00"),
    ("Casa Fiume", "Italian", "12:00-22:30"),
    ("Hanami", "Japanese", "17:30-22:30"),
    ("The Terrace", "International", "06:30-22:00"),
    ("Pool Bar and Grill", "International", "10:00-19:00"),
)
_UNAVAILABLE_SHARE = 0.05


@dataclass(slots=True)
class Dining:
    restaurants: list[Row] = field(default_factory=list)
    menu_items: list[Row] = field(default_factory=list)


def build_dining(property_ids: Sequence[int], rng: random.Random) -> Dining:
    """3 or 4 restaurants per property, each with 30 to 60 dishes of its cuisine."""
    dining = Dining()
    for property_id in property_ids:
        for name, cuisine, hours in rng.sample(_RESTAURANTS, rng.randint(3, 4)):
            restaurant_id = len(dining.restaurants) + 1
            dining.restaurants.append(
                {
                    "id": restaurant_id,
                    "property_id": property_id,
                    "name": name,
                    "cuisine": cuisine,
                    "opening_hours": hours,
                }
            )
            dishes = _dishes(_CUISINES[cuisine] + _SHARED)
            chosen = sorted(rng.sample(range(len(dishes)), rng.randint(30, 60)))
            for category, dish in (dishes[index] for index in chosen):
                low, high = _PRICES.get(category, _DEFAULT_PRICE)
                dining.menu_items.append(
                    {
                        "id": len(dining.menu_items) + 1,
                        "restaurant_id": restaurant_id,
                        "category": category,
                        "name": dish,
                        "description": f"{dish}, from the {name} kitchen.",
                        "price": Decimal(rng.randint(low // 10, high // 10) * 10).quantize(CENTS),
                        "is_available": rng.random() >= _UNAVAILABLE_SHARE,
                    }
                )
    return dining


def _dishes(courses: Sequence[_Course]) -> list[tuple[str, str]]:
    """(category, dish name) for every dish, in menu order; names are distinct."""
    dishes: list[tuple[str, str]] = []
    for category, names, variants in courses:
        for name in names.split("|"):
            if variants:
                dishes.extend((category, f"{name} {variant}") for variant in variants.split("|"))
            else:
                dishes.append((category, name))
    return dishes
