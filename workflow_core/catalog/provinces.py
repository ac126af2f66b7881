"""China's 34 province-level divisions (省级行政区), the values a `province` form field accepts.

Forms store the full official name (北京市, 广西壮族自治区, …) so that the warehouse groups by one
spelling; people often type the short name (北京, 广西), which the form validation maps to it.
The codes are the first two digits of GB/T 2260, which map libraries key on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Province:
    """One province-level division: official name, short name, GB/T 2260 code, capital."""

    name: str
    short: str
    code: str
    en: str
    capital: str


PROVINCE_LIST: Final[tuple[Province, ...]] = (
    Province("北京市", "北京", "11", "Beijing", "北京市"),
    Province("天津市", "天津", "12", "Tianjin", "天津市"),
    Province("河北省", "河北", "13", "Hebei", "石家庄市"),
    Province("山西省", "山西", "14", "Shanxi", "太原市"),
    Province("内蒙古自治区", "内蒙古", "15", "Inner Mongolia", "呼和浩特市"),
    Province("辽宁省", "辽宁", "21", "Liaoning", "沈阳市"),
    Province("吉林省", "吉林", "22", "Jilin", "长春市"),
    Province("黑龙江省", "黑龙江", "23", "Heilongjiang", "哈尔滨市"),
    Province("上海市", "上海", "31", "Shanghai", "上海市"),
    Province("江苏省", "江苏", "32", "Jiangsu", "南京市"),
    Province("浙江省", "浙江", "33", "Zhejiang", "杭州市"),
    Province("安徽省", "安徽", "34", "Anhui", "合肥市"),
    Province("福建省", "福建", "35", "Fujian", "福州市"),
    Province("江西省", "江西", "36", "Jiangxi", "南昌市"),
    Province("山东省", "山东", "37", "Shandong", "济南市"),
    Province("河南省", "河南", "41", "Henan", "郑州市"),
    Province("湖北省", "湖北", "42", "Hubei", "武汉市"),
    Province("湖南省", "湖南", "43", "Hunan", "长沙市"),
    Province("广东省", "广东", "44", "Guangdong", "广州市"),
    Province("广西壮族自治区", "广西", "45", "Guangxi", "南宁市"),
    Province("海南省", "海南", "46", "Hainan", "海口市"),
    Province("重庆市", "重庆", "50", "Chongqing", "重庆市"),
    Province("四川省", "四川", "51", "Sichuan", "成都市"),
    Province("贵州省", "贵州", "52", "Guizhou", "贵阳市"),
    Province("云南省", "云南", "53", "Yunnan", "昆明市"),
    Province("西藏自治区", "西藏", "54", "Tibet", "拉萨市"),
    Province("陕西省", "陕西", "61", "Shaanxi", "西安市"),
    Province("甘肃省", "甘肃", "62", "Gansu", "兰州市"),
    Province("青海省", "青海", "63", "Qinghai", "西宁市"),
    Province("宁夏回族自治区", "宁夏", "64", "Ningxia", "银川市"),
    Province("新疆维吾尔自治区", "新疆", "65", "Xinjiang", "乌鲁木齐市"),
    Province("台湾省", "台湾", "71", "Taiwan", "台北市"),
    Province("香港特别行政区", "香港", "81", "Hong Kong", "香港"),
    Province("澳门特别行政区", "澳门", "82", "Macao", "澳门"),
)

PROVINCES: Final[tuple[str, ...]] = tuple(p.name for p in PROVINCE_LIST)

_BY_SPELLING: Final[dict[str, Province]] = {
    **{p.short: p for p in PROVINCE_LIST},
    **{p.name: p for p in PROVINCE_LIST},
}


def normalise_province(value: str) -> str | None:
    """The official name for a full or short spelling, or None when it is not a province."""
    province = _BY_SPELLING.get(value.strip())
    return province.name if province is not None else None


def province(name: str) -> Province:
    """The division for an official or short name; KeyError for anything else."""
    return _BY_SPELLING[name.strip()]
