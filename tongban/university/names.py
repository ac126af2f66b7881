"""Chinese personal names, phone numbers and home provinces for the synthetic university.

Surnames follow their approximate share of China's population (percent, rounded, from the 2020
census tallies), so a class of thirty looks like a real one: a few 王, 李 and 张, a long tail of
rarer names. Given names are one or two characters from gendered pools. Every draw goes through
the `random.Random` handed in, so a seed reproduces the same people.
"""

from __future__ import annotations

import itertools
import random
from typing import Final

_SURNAME_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.38), ("陈", 4.53),
    ("杨", 3.08), ("赵", 2.29), ("黄", 2.23), ("周", 1.89), ("吴", 2.05),
    ("徐", 1.45), ("孙", 1.38), ("胡", 1.16), ("朱", 1.26), ("高", 0.96),
    ("林", 1.02), ("何", 1.05), ("郭", 1.15), ("马", 1.29), ("罗", 0.97),
    ("梁", 0.85), ("宋", 0.66), ("郑", 0.87), ("谢", 0.76), ("韩", 0.62),
    ("唐", 0.64), ("冯", 0.61), ("于", 0.51), ("董", 0.53), ("萧", 0.05),
    ("程", 0.45), ("曹", 0.59), ("袁", 0.53), ("邓", 0.60), ("许", 0.64),
    ("傅", 0.12), ("沈", 0.39), ("曾", 0.57), ("彭", 0.58), ("吕", 0.43),
    ("苏", 0.44), ("卢", 0.37), ("蒋", 0.50), ("蔡", 0.49), ("贾", 0.29),
    ("丁", 0.41), ("魏", 0.43), ("薛", 0.24), ("叶", 0.46), ("阎", 0.05),
    ("余", 0.48), ("潘", 0.52), ("杜", 0.47), ("戴", 0.16), ("夏", 0.28),
    ("钟", 0.35), ("汪", 0.33), ("田", 0.54), ("任", 0.40), ("姜", 0.37),
    ("范", 0.32), ("方", 0.27), ("石", 0.31), ("姚", 0.38), ("谭", 0.34),
    ("廖", 0.30), ("邹", 0.26), ("熊", 0.26), ("金", 0.32), ("陆", 0.33),
    ("郝", 0.18), ("孔", 0.15), ("白", 0.27), ("崔", 0.36), ("康", 0.13),
    ("毛", 0.19), ("邱", 0.25), ("秦", 0.25), ("江", 0.25), ("史", 0.21),
    ("顾", 0.19), ("侯", 0.22), ("邵", 0.18), ("孟", 0.26), ("龙", 0.21),
    ("万", 0.17), ("段", 0.23), ("雷", 0.22), ("钱", 0.17), ("汤", 0.14),
    ("尹", 0.24), ("黎", 0.20), ("易", 0.12), ("常", 0.14), ("武", 0.16),
    ("乔", 0.12), ("贺", 0.20), ("赖", 0.12), ("龚", 0.18), ("文", 0.12),
    ("闫", 0.23), ("付", 0.28), ("韦", 0.28), ("覃", 0.16), ("向", 0.15),
    ("严", 0.16), ("莫", 0.15), ("欧阳", 0.05), ("司马", 0.01), ("上官", 0.01),
    ("诸葛", 0.01), ("东方", 0.01),
)  # fmt: skip

SURNAMES: Final[tuple[str, ...]] = tuple(name for name, _ in _SURNAME_SHARES)
_SURNAME_CUM: Final[tuple[float, ...]] = tuple(
    itertools.accumulate(share for _, share in _SURNAME_SHARES)
)

_FEMALE: Final = (
    "芳娜敏静丽艳娟霞婷雪琳慧颖倩欣怡佳雨萱涵诗梦悦瑶思语晨可馨彤淑萍玲燕红洁蕾璐菲琪妍嘉露月茜婉"
    "清秀英华兰凤云莉薇雅蓉丹晶冰若楠宁心一子依"
)
_MALE: Final = (
    "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳博文轩子睿泽然铭航晨一辰哲翔"
    "昊天思源志嘉毅峰亮成康乐兴学诚瑞鸿彬政梓豪皓宸宏远"
)
_GIVEN_BY_GENDER: Final[dict[str, str]] = {"F": _FEMALE, "M": _MALE}

# Mobile prefixes of the three carriers; the rest of the number is random.
_PHONE_PREFIXES: Final[tuple[str, ...]] = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

# Where students come from: a university recruits most heavily in its own province (湖北) and
# its neighbours, then everywhere else roughly by population. Full official names, the values
# the hall's `province` form field stores.
_HOME_PROVINCE_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("湖北省", 38.0), ("河南省", 6.0), ("湖南省", 5.0), ("安徽省", 4.0), ("江西省", 4.0),
    ("广东省", 3.5), ("四川省", 3.0), ("山东省", 3.0), ("河北省", 3.0), ("江苏省", 2.5),
    ("浙江省", 2.5), ("重庆市", 2.0), ("广西壮族自治区", 2.0), ("贵州省", 2.0), ("云南省", 2.0),
    ("陕西省", 2.0), ("山西省", 2.0), ("福建省", 2.0), ("甘肃省", 1.5), ("辽宁省", 1.5),
    ("吉林省", 1.0), ("黑龙江省", 1.0), ("内蒙古自治区", 1.0), ("新疆维吾尔自治区", 1.0),
    ("北京市", 0.8), ("上海市", 0.8), ("天津市", 0.8), ("海南省", 0.8), ("宁夏回族自治区", 0.5),
    ("青海省", 0.5), ("西藏自治区", 0.3), ("香港特别行政区", 0.1), ("澳门特别行政区", 0.05),
    ("台湾省", 0.05),
)  # fmt: skip

HOME_PROVINCES: Final[tuple[str, ...]] = tuple(name for name, _ in _HOME_PROVINCE_SHARES)
_PROVINCE_CUM: Final[tuple[float, ...]] = tuple(
    itertools.accumulate(share for _, share in _HOME_PROVINCE_SHARES)
)


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]


def person_name(rng: random.Random, gender: str, *, single_share: float = 0.2) -> str:
    """A full name for someone of `gender` ("M" or "F"); `single_share` of given names are
    one character (more common among older staff than among today's students)."""
    pool = _GIVEN_BY_GENDER[gender]
    family = surname(rng)
    if rng.random() < single_share:
        return family + rng.choice(pool)
    first = rng.choice(pool)
    second = rng.choice(pool)
    while second == first:
        second = rng.choice(pool)
    return family + first + second


def gender(rng: random.Random, female_share: float) -> str:
    return "F" if rng.random() < female_share else "M"


def phone_number(rng: random.Random) -> str:
    return rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def home_province(rng: random.Random) -> str:
    return rng.choices(HOME_PROVINCES, cum_weights=_PROVINCE_CUM)[0]
