"""The synthetic university's campuses, 书院 and colleges with their majors.

Modelled on a comprehensive Chinese university: humanities and social sciences on the central
campus, science and engineering on the east campus, pharmacy, arts, sport and education at Nanhu.
Codes are short and stable because they become parts of ids (major `CS-SE`, class
`C-CS-SE-2023-01`). `weight` is a major's relative undergraduate intake; graduate intakes follow
the same weights over the majors that run a master's or doctoral programme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class CampusSpec:
    code: str
    name_zh: str
    name_en: str
    address: str


@dataclass(frozen=True)
class ResidentialCollegeSpec:
    code: str
    name_zh: str
    name_en: str
    campus: str


@dataclass(frozen=True)
class MajorSpec:
    code: str
    name_zh: str
    name_en: str
    weight: float
    master: bool = True
    doctor: bool = False
    years: int = 4  # undergraduate programme length; 建筑学 and 临床药学 take five


@dataclass(frozen=True)
class CollegeSpec:
    code: str
    name_zh: str
    name_en: str
    discipline: str  # 学科门类
    campus: str
    female_share: float  # share of women among its students, for realistic rosters
    majors: tuple[MajorSpec, ...]


CAMPUSES: Final[tuple[CampusSpec, ...]] = (
    CampusSpec("CENTRAL", "中心校区", "Central Campus", "学府路 1 号"),
    CampusSpec("EAST", "东校区", "East Campus", "科教大道 88 号"),
    CampusSpec("NANHU", "南湖校区", "Nanhu Campus", "南湖路 6 号"),
)

RESIDENTIAL_COLLEGES: Final[tuple[ResidentialCollegeSpec, ...]] = (
    ResidentialCollegeSpec("RC-MINGDE", "明德书院", "Mingde College", "CENTRAL"),
    ResidentialCollegeSpec("RC-BOYA", "博雅书院", "Boya College", "CENTRAL"),
    ResidentialCollegeSpec("RC-ZHISHAN", "至善书院", "Zhishan College", "CENTRAL"),
    ResidentialCollegeSpec("RC-HONGYI", "弘毅书院", "Hongyi College", "EAST"),
    ResidentialCollegeSpec("RC-ZHIXING", "知行书院", "Zhixing College", "EAST"),
    ResidentialCollegeSpec("RC-GEZHI", "格致书院", "Gezhi College", "EAST"),
    ResidentialCollegeSpec("RC-QIMING", "启明书院", "Qiming College", "NANHU"),
    ResidentialCollegeSpec("RC-QIUSHI", "求是书院", "Qiushi College", "NANHU"),
)

M = MajorSpec

COLLEGES: Final[tuple[CollegeSpec, ...]] = (
    CollegeSpec(
        "CS",
        "计算机学院",
        "School of Computer Science",
        "工学",
        "EAST",
        0.27,
        (
            M("CS", "计算机科学与技术", "Computer Science and Technology", 5, doctor=True),
            M("SE", "软件工程", "Software Engineering", 4, doctor=True),
            M("AI", "人工智能", "Artificial Intelligence", 2.5, doctor=True),
            M("DS", "数据科学与大数据技术", "Data Science and Big Data Technology", 2),
            M("IS", "信息安全", "Information Security", 2, doctor=True),
        ),
    ),
    CollegeSpec(
        "ECON",
        "经济学院",
        "School of Economics",
        "经济学",
        "CENTRAL",
        0.56,
        (
            M("ECO", "经济学", "Economics", 3, doctor=True),
            M("FIN", "金融学", "Finance", 4, doctor=True),
            M("IET", "国际经济与贸易", "International Economics and Trade", 3),
            M("PF", "财政学", "Public Finance", 2),
        ),
    ),
    CollegeSpec(
        "FL",
        "外国语言文学学院",
        "School of Foreign Languages and Literature",
        "文学",
        "CENTRAL",
        0.8,
        (
            M("ENG", "英语", "English", 3, doctor=True),
            M("JPN", "日语", "Japanese", 1.5),
            M("FRE", "法语", "French", 1),
            M("GER", "德语", "German", 1),
            M("TRA", "翻译", "Translation", 1.5),
        ),
    ),
    CollegeSpec(
        "MGMT",
        "管理学院",
        "School of Management",
        "管理学",
        "CENTRAL",
        0.6,
        (
            M("BA", "工商管理", "Business Administration", 3, doctor=True),
            M("ACC", "会计学", "Accounting", 4, doctor=True),
            M("MKT", "市场营销", "Marketing", 2),
            M("HRM", "人力资源管理", "Human Resource Management", 2),
        ),
    ),
    CollegeSpec(
        "LAW",
        "法学院",
        "Law School",
        "法学",
        "CENTRAL",
        0.6,
        (
            M("LAW", "法学", "Law", 5, doctor=True),
            M("IP", "知识产权", "Intellectual Property", 1),
        ),
    ),
    CollegeSpec(
        "MARX",
        "马克思主义学院",
        "School of Marxism",
        "法学",
        "CENTRAL",
        0.7,
        (M("IPE", "思想政治教育", "Ideological and Political Education", 1.5, doctor=True),),
    ),
    CollegeSpec(
        "PUBA",
        "政治与公共管理学院",
        "School of Political Science and Public Administration",
        "管理学",
        "CENTRAL",
        0.6,
        (
            M("PA", "行政管理", "Public Administration", 2, doctor=True),
            M("PS", "政治学与行政学", "Political Science and Public Administration", 1.5),
            M("LSS", "劳动与社会保障", "Labour and Social Security", 1),
        ),
    ),
    CollegeSpec(
        "SOC",
        "社会学院",
        "School of Sociology",
        "法学",
        "CENTRAL",
        0.65,
        (
            M("SOC", "社会学", "Sociology", 2, doctor=True),
            M("SW", "社会工作", "Social Work", 1.5),
        ),
    ),
    CollegeSpec(
        "CHN",
        "文学院",
        "School of Chinese Language and Literature",
        "文学",
        "CENTRAL",
        0.8,
        (
            M("CLL", "汉语言文学", "Chinese Language and Literature", 4, doctor=True),
            M("TCSOL", "汉语国际教育", "Teaching Chinese to Speakers of Other Languages", 1.5),
        ),
    ),
    CollegeSpec(
        "HIST",
        "历史学院",
        "School of History",
        "历史学",
        "CENTRAL",
        0.5,
        (
            M("HIS", "历史学", "History", 2, doctor=True),
            M("ARC", "考古学", "Archaeology", 1, doctor=True),
        ),
    ),
    CollegeSpec(
        "PHIL",
        "哲学学院",
        "School of Philosophy",
        "哲学",
        "CENTRAL",
        0.45,
        (M("PHI", "哲学", "Philosophy", 1.5, doctor=True),),
    ),
    CollegeSpec(
        "JC",
        "新闻与传播学院",
        "School of Journalism and Communication",
        "文学",
        "CENTRAL",
        0.7,
        (
            M("JOU", "新闻学", "Journalism", 2, doctor=True),
            M("ADV", "广告学", "Advertising", 1.5),
            M("NMD", "网络与新媒体", "Network and New Media", 1.5),
        ),
    ),
    CollegeSpec(
        "INFO",
        "信息管理学院",
        "School of Information Management",
        "管理学",
        "CENTRAL",
        0.65,
        (
            M("LIB", "图书馆学", "Library Science", 1, doctor=True),
            M("ARCH", "档案学", "Archival Science", 1, doctor=True),
            M(
                "IMIS",
                "信息管理与信息系统",
                "Information Management and Information Systems",
                2,
            ),
        ),
    ),
    CollegeSpec(
        "MATH",
        "数学与统计学院",
        "School of Mathematics and Statistics",
        "理学",
        "EAST",
        0.4,
        (
            M("MAT", "数学与应用数学", "Mathematics and Applied Mathematics", 3, doctor=True),
            M("STA", "统计学", "Statistics", 2, doctor=True),
            M("ICS", "信息与计算科学", "Information and Computing Science", 2),
        ),
    ),
    CollegeSpec(
        "PHY",
        "物理科学与技术学院",
        "School of Physics and Technology",
        "理学",
        "EAST",
        0.25,
        (
            M("PHY", "物理学", "Physics", 3, doctor=True),
            M("APH", "应用物理学", "Applied Physics", 1.5),
            M(
                "OPT",
                "光电信息科学与工程",
                "Optoelectronic Information Science and Engineering",
                1.5,
                doctor=True,
            ),
        ),
    ),
    CollegeSpec(
        "CHEM",
        "化学与分子科学学院",
        "College of Chemistry and Molecular Sciences",
        "理学",
        "EAST",
        0.45,
        (
            M("CHE", "化学", "Chemistry", 3, doctor=True),
            M("ACH", "应用化学", "Applied Chemistry", 2),
        ),
    ),
    CollegeSpec(
        "LIFE",
        "生命科学学院",
        "College of Life Sciences",
        "理学",
        "EAST",
        0.55,
        (
            M("BIO", "生物科学", "Biological Sciences", 2.5, doctor=True),
            M("BTE", "生物技术", "Biotechnology", 2, doctor=True),
            M("ECL", "生态学", "Ecology", 1, doctor=True),
        ),
    ),
    CollegeSpec(
        "EE",
        "电子信息学院",
        "School of Electronic Information",
        "工学",
        "EAST",
        0.25,
        (
            M("EIE", "电子信息工程", "Electronic Information Engineering", 3, doctor=True),
            M("CE", "通信工程", "Communication Engineering", 3, doctor=True),
            M("MSE", "微电子科学与工程", "Microelectronic Science and Engineering", 2),
        ),
    ),
    CollegeSpec(
        "ME",
        "机械工程学院",
        "School of Mechanical Engineering",
        "工学",
        "EAST",
        0.12,
        (
            M(
                "MDM",
                "机械设计制造及其自动化",
                "Mechanical Design, Manufacturing and Automation",
                3,
                doctor=True,
            ),
            M("VE", "车辆工程", "Vehicle Engineering", 2),
        ),
    ),
    CollegeSpec(
        "CIVIL",
        "土木建筑工程学院",
        "School of Civil Engineering and Architecture",
        "工学",
        "EAST",
        0.25,
        (
            M("CIV", "土木工程", "Civil Engineering", 3, doctor=True),
            M("ARC", "建筑学", "Architecture", 2, years=5),
            M("EM", "工程管理", "Construction Management", 1.5),
        ),
    ),
    CollegeSpec(
        "MATS",
        "材料科学与工程学院",
        "School of Materials Science and Engineering",
        "工学",
        "EAST",
        0.3,
        (
            M("MSE", "材料科学与工程", "Materials Science and Engineering", 3, doctor=True),
            M("PME", "高分子材料与工程", "Polymer Materials and Engineering", 1.5),
        ),
    ),
    CollegeSpec(
        "ENV",
        "资源与环境科学学院",
        "School of Resource and Environmental Sciences",
        "理学",
        "EAST",
        0.45,
        (
            M("ENV", "环境科学", "Environmental Science", 2, doctor=True),
            M("GIS", "地理信息科学", "Geographic Information Science", 2, doctor=True),
        ),
    ),
    CollegeSpec(
        "PHARM",
        "药学院",
        "School of Pharmaceutical Sciences",
        "医学",
        "NANHU",
        0.6,
        (
            M("PHA", "药学", "Pharmacy", 3, doctor=True),
            M("TCP", "中药学", "Traditional Chinese Pharmacy", 1.5),
            M("CPH", "临床药学", "Clinical Pharmacy", 1, years=5),
        ),
    ),
    CollegeSpec(
        "ART",
        "艺术学院",
        "School of Arts",
        "艺术学",
        "NANHU",
        0.65,
        (
            M("FA", "美术学", "Fine Arts", 1.5),
            M("MUS", "音乐学", "Musicology", 1.5),
            M("VCD", "视觉传达设计", "Visual Communication Design", 2),
        ),
    ),
    CollegeSpec(
        "PE",
        "体育学院",
        "School of Physical Education",
        "教育学",
        "NANHU",
        0.35,
        (
            M("PE", "体育教育", "Physical Education", 2, doctor=True),
            M("SSG", "社会体育指导与管理", "Social Sports Guidance and Management", 1.5),
        ),
    ),
    CollegeSpec(
        "EDU",
        "教育学院",
        "School of Education",
        "教育学",
        "NANHU",
        0.75,
        (
            M("EDU", "教育学", "Education", 2, doctor=True),
            M("PRE", "学前教育", "Preschool Education", 1.5),
            M("PSY", "心理学", "Psychology", 2, doctor=True),
        ),
    ),
)

MASTER_YEARS: Final = 3
DOCTOR_YEARS: Final = 4
