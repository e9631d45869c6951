"""Guests from Thailand and the countries its visitors mostly come from."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from itertools import accumulate

from banrimkwae.seeding.properties import UTC, Row

# country: (calling code, share of guests, first names, last names)
_PEOPLE: dict[str, tuple[str, int, str, str]] = {
    "TH": (
        "66",
        30,
        "Somchai Somsak Anong Kanya Malee Niran Pimchanok Ploy Arthit Chaiya Kittisak Nattapong"
        " Siriporn Wanida Supaporn Thanawat Pichai Rattana Kamon Chanida Jiraporn Narong Preecha"
        " Sunisa Waraporn Yupin Apinya Boonmee Duangjai Tanawat",
        "Srisuk Chaiyaporn Wongsawat Rattanakul Suksawat Thongdee Kaewmanee Boonyarat Phromma"
        " Saetang Jaidee Sombat Kongkaew Intharasuk Pattanakit Siriwong Charoenrat Sukprasert",
    ),
    "CN": (
        "86",
        12,
        "Wei Fang Jing Lei Min Yang Xiu Hao Ling Jun Yan Tao",
        "Wang Li Zhang Liu Chen Zhao Huang Zhou Wu Xu Sun",
    ),
    "GB": (
        "44",
        9,
        "Oliver Amelia Harry Isla Jack Emily George Sophie Charlie",
        "Smith Jones Taylor Brown Williams Wilson Evans Walker Hughes",
    ),
    "DE": (
        "49",
        8,
        "Lukas Anna Felix Lena Jonas Marie Paul Laura Maximilian",
        "Mueller Schmidt Schneider Fischer Weber Becker Wagner Hoffmann",
    ),
    "US": (
        "1",
        7,
        "James Olivia Michael Emma Daniel Ava Ethan Mia Noah Grace",
        "Johnson Miller Davis Garcia Rodriguez Martinez Anderson Clark",
    ),
    "AU": (
        "61",
        7,
        "Lachlan Chloe Cooper Ruby Mitchell Zoe Riley Matilda Hamish",
        "Kelly Ryan Thompson Campbell Robinson Murphy Mitchell Young",
    ),
    "JP": (
        "81",
        6,
        "Haruto Yui Sota Hina Ren Aoi Yuto Sakura Kenji Yuki",
        "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura",
    ),
    "KR": (
        "82",
        6,
        "Minjun Seoyeon Jiho Jiwoo Doyun Hayoon Seojun Sua Eunwoo",
        "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim",
    ),
    "FR": (
        "33",
        5,
        "Louis Emma Gabriel Jade Hugo Chloe Arthur Lea Jules Manon",
        "Martin Bernard Dubois Moreau Laurent Simon Michel Lefebvre",
    ),
    "IN": (
        "91",
        5,
        "Aarav Ananya Vihaan Diya Arjun Isha Rohan Priya Kabir",
        "Sharma Patel Gupta Singh Reddy Iyer Nair Mehta Kapoor",
    ),
    "NL": (
        "31",
        3,
        "Daan Sanne Bram Lotte Sem Fleur Luuk Julia Thijs",
        "Jansen Bakker Visser Smit Meijer Mulder Bos Vos Dekker",
    ),
    "SE": (
        "46",
        2,
        "Erik Elsa Oscar Maja William Astrid Hugo Freja Axel",
        "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson",
    ),
}
_COUNTRIES = tuple(_PEOPLE)
_COUNTRY_CUMULATIVE = list(accumulate(share for _code, share, *_names in _PEOPLE.values()))
_NAMES = {
    country: (first.split(), last.split()) for country, (_, _, first, last) in _PEOPLE.items()
}
WITHOUT_PHONE_SHARE = 0.08


def guest_rows(
    count: int, rng: random.Random, password_hash: str, joined_before: dt.date
) -> Iterator[Row]:
    """`count` guests with ids 1..count; emails are unique because they carry the id."""
    for guest_id in range(1, count + 1):
        country = rng.choices(_COUNTRIES, cum_weights=_COUNTRY_CUMULATIVE)[0]
        calling_code = _PEOPLE[country][0]
        first_names, last_names = _NAMES[country]
        first_name = rng.choice(first_names)
        last_name = rng.choice(last_names)
        joined = joined_before - dt.timedelta(days=rng.randint(0, 730))
        yield {
            "id": guest_id,
            "email": f"{first_name}.{last_name}.{guest_id}@example.test".lower(),
            "first_name": first_name,
            "last_name": last_name,
            "phone": None if rng.random() < WITHOUT_PHONE_SHARE else _phone(calling_code, rng),
            "country": country,
            "password_hash": password_hash,
            "created_at": dt.datetime.combine(
                joined, dt.time(rng.randint(0, 23), rng.randint(0, 59)), tzinfo=UTC
            ),
        }


def _phone(calling_code: str, rng: random.Random) -> str:
    if calling_code == "66":
        # Thai mobile numbers: 0 6/8/9x xxx xxxx, written internationally without the 0.
        return (
            f"+66 {rng.choice('689')}{rng.randint(0, 9)} "
            f"{rng.randint(0, 999):03d} {rng.randint(0, 9999):04d}"
        )
    return (
        f"+{calling_code} {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
    )
