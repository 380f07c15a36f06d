"""National lists that classify listings, and the lookups used to validate them."""

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

from exchange.kernel.errors import field_error
from exchange.kernel.schemas import ApiStruct


class ScienceField(ApiStruct, frozen=True, kw_only=True):
    """A level-1 S&T field."""

    code: str
    vi: str
    en: str


class Sector(ApiStruct, frozen=True, kw_only=True):
    """A level-2 S&T sector with its level-1 field and OECD FORD 2015 class."""

    code: str
    field: str
    ford: str
    vi: str
    en: str


class StrategicGroup(ApiStruct, frozen=True, kw_only=True):
    """A strategic technology group."""

    code: str
    vi: str
    en: str


class StrategicProduct(ApiStruct, frozen=True, kw_only=True):
    """A strategic technology product and the group it is inferred to belong to."""

    code: str
    part: Literal["I", "II"]
    group: str
    vi: str
    en: str


class TrlLevel(ApiStruct, frozen=True, kw_only=True):
    """A technology readiness level."""

    level: int
    vi: str
    en: str


class CodeLabel(ApiStruct, frozen=True, kw_only=True):
    """A coded choice with Vietnamese and English labels."""

    code: str
    vi: str
    en: str


class Province(ApiStruct, frozen=True, kw_only=True):
    """A provincial-level unit and the pre-2025 provinces it absorbed."""

    code: str
    vi: str
    en: str
    kind: Literal["city", "province"]
    former: tuple[str, ...]
    former_codes: tuple[str, ...]


class Taxonomy(ApiStruct, frozen=True, kw_only=True):
    """Every list of the exchange, served as the body of GET /v1/taxonomy."""

    fields: tuple[ScienceField, ...]
    sectors: tuple[Sector, ...]
    sector_source: str
    strategic_groups: tuple[StrategicGroup, ...]
    strategic_products: tuple[StrategicProduct, ...]
    strategic_source: str
    strategic_product_note: str
    trl_levels: tuple[TrlLevel, ...]
    transfer_modes: tuple[CodeLabel, ...]
    ip_statuses: tuple[CodeLabel, ...]
    provinces: tuple[Province, ...]
    province_source: str


# --- S&T fields and sectors -------------------------------------------------

SECTOR_SOURCE_NOTE = (
    "Sector codes are those of Circular 24/2025/TT-BKHCN, whose level-2 list keeps the "
    "46 codes 101-699 of Decision 12/2008/QĐ-BKHCN. The Circular's own level-2 wording "
    "was not available, so labels follow Decision 12/2008 and the OECD Fields of R&D "
    "(FORD 2015) and may differ slightly in wording."
)

fields: tuple[ScienceField, ...] = (
    ScienceField(code="1", vi="Khoa học tự nhiên", en="Natural sciences"),
    ScienceField(code="2", vi="Khoa học kỹ thuật và công nghệ", en="Engineering and technology"),
    ScienceField(code="3", vi="Khoa học y, dược", en="Medical and health sciences"),
    ScienceField(code="4", vi="Khoa học nông nghiệp", en="Agricultural and veterinary sciences"),
    ScienceField(code="5", vi="Khoa học xã hội", en="Social sciences"),
    ScienceField(code="6", vi="Khoa học nhân văn", en="Humanities and the arts"),
)

# (code, FORD class, Vietnamese, English); the field is the code's first digit.
# 211, 304 and 401/404/405 are Vietnamese splits of one FORD class.
_SECTOR_ROWS = (
    ("101", "1.1", "Toán học và thống kê", "Mathematics and statistics"),
    ("102", "1.2", "Khoa học máy tính và thông tin", "Computer and information sciences"),
    ("103", "1.3", "Vật lý", "Physical sciences"),
    ("104", "1.4", "Hóa học", "Chemical sciences"),
    ("105", "1.5", "Các khoa học trái đất và môi trường liên quan", "Earth and related environmental sciences"),
    ("106", "1.6", "Sinh học", "Biological sciences"),
    ("199", "1.7", "Khoa học tự nhiên khác", "Other natural sciences"),
    ("201", "2.1", "Kỹ thuật dân dụng", "Civil engineering"),
    (
        "202",
        "2.2",
        "Kỹ thuật điện, kỹ thuật điện tử, kỹ thuật thông tin",
        "Electrical, electronic and information engineering",
    ),
    ("203", "2.3", "Kỹ thuật cơ khí", "Mechanical engineering"),
    ("204", "2.4", "Kỹ thuật hóa học", "Chemical engineering"),
    ("205", "2.5", "Kỹ thuật vật liệu và luyện kim", "Materials engineering and metallurgy"),
    ("206", "2.6", "Kỹ thuật y học", "Medical engineering"),
    ("207", "2.7", "Kỹ thuật môi trường", "Environmental engineering"),
    ("208", "2.8", "Công nghệ sinh học môi trường", "Environmental biotechnology"),
    ("209", "2.9", "Công nghệ sinh học công nghiệp", "Industrial biotechnology"),
    ("210", "2.10", "Công nghệ nano", "Nanotechnology"),
    ("211", "2.11", "Kỹ thuật thực phẩm và đồ uống", "Food and beverage engineering"),
    ("299", "2.11", "Khoa học kỹ thuật và công nghệ khác", "Other engineering and technologies"),
    ("301", "3.1", "Y học cơ sở", "Basic medicine"),
    ("302", "3.2", "Y học lâm sàng", "Clinical medicine"),
    ("303", "3.3", "Y tế", "Health sciences"),
    ("304", "3.1", "Dược học", "Pharmacy and pharmaceutical sciences"),
    ("305", "3.4", "Công nghệ sinh học trong y học", "Medical biotechnology"),
    ("399", "3.5", "Khoa học y, dược khác", "Other medical sciences"),
    ("401", "4.1", "Trồng trọt", "Crop science"),
    ("402", "4.2", "Chăn nuôi", "Animal and dairy science"),
    ("403", "4.3", "Thú y", "Veterinary science"),
    ("404", "4.1", "Lâm nghiệp", "Forestry"),
    ("405", "4.1", "Thủy sản", "Fisheries"),
    ("406", "4.4", "Công nghệ sinh học trong nông nghiệp", "Agricultural biotechnology"),
    ("499", "4.5", "Khoa học nông nghiệp khác", "Other agricultural sciences"),
    ("501", "5.1", "Tâm lý học", "Psychology and cognitive sciences"),
    ("502", "5.2", "Kinh tế và kinh doanh", "Economics and business"),
    ("503", "5.3", "Khoa học giáo dục", "Educational sciences"),
    ("504", "5.4", "Xã hội học", "Sociology"),
    ("505", "5.5", "Pháp luật", "Law"),
    ("506", "5.6", "Khoa học chính trị", "Political science"),
    ("507", "5.7", "Địa lý kinh tế và xã hội", "Social and economic geography"),
    ("508", "5.8", "Thông tin đại chúng và truyền thông", "Media and communications"),
    ("599", "5.9", "Khoa học xã hội khác", "Other social sciences"),
    ("601", "6.1", "Lịch sử và khảo cổ học", "History and archaeology"),
    ("602", "6.2", "Ngôn ngữ học và văn học", "Languages and literature"),
    ("603", "6.3", "Triết học, đạo đức học và tôn giáo", "Philosophy, ethics and religion"),
    ("604", "6.4", "Nghệ thuật", "Arts"),
    ("699", "6.5", "Khoa học nhân văn khác", "Other humanities"),
)

sectors: tuple[Sector, ...] = tuple(
    Sector(code=code, field=code[0], ford=ford, vi=vi, en=en) for code, ford, vi, en in _SECTOR_ROWS
)

# --- Strategic technologies ---------------------------------------------------

STRATEGIC_SOURCE = (
    "Decision 21/2026/QĐ-TTg on strategic technologies and products, in force from 1 July 2026 "
    "(replacing Decision 1131/QĐ-TTg)."
)
STRATEGIC_PRODUCT_NOTE = (
    "The Decision lists groups and products separately; each product's group here is inferred "
    "by the exchange, not stated by the Decision. Product labels are short forms."
)

strategic_groups: tuple[StrategicGroup, ...] = (
    StrategicGroup(
        code="digital",
        vi="Công nghệ số (trí tuệ nhân tạo, dữ liệu lớn, bản sao số, điện toán đám mây, điện toán biên, IoT, chuỗi khối)",
        en="Digital technologies (AI, big data, digital twins, cloud and edge computing, IoT, blockchain)",
    ),
    StrategicGroup(
        code="mobile_networks", vi="Công nghệ mạng di động thế hệ sau", en="Next-generation mobile networks"
    ),
    StrategicGroup(code="robotics_automation", vi="Công nghệ robot và tự động hóa", en="Robotics and automation"),
    StrategicGroup(
        code="biotech_biomedicine",
        vi="Công nghệ sinh học và y sinh tiên tiến",
        en="Biotechnology and advanced biomedicine",
    ),
    StrategicGroup(
        code="energy_materials", vi="Công nghệ năng lượng và vật liệu tiên tiến", en="Energy and advanced materials"
    ),
    StrategicGroup(code="semiconductors", vi="Công nghệ chip bán dẫn", en="Semiconductor chips"),
    StrategicGroup(
        code="cybersecurity_quantum",
        vi="Công nghệ an ninh mạng và lượng tử",
        en="Cybersecurity and quantum technologies",
    ),
    StrategicGroup(
        code="marine_subsoil", vi="Công nghệ biển, đại dương và lòng đất", en="Marine, ocean and subsoil technologies"
    ),
    StrategicGroup(code="aerospace", vi="Công nghệ hàng không và vũ trụ", en="Aviation and space technologies"),
    StrategicGroup(
        code="railway",
        vi="Công nghệ đường sắt tốc độ cao và đường sắt đô thị",
        en="High-speed and urban railway technologies",
    ),
)

# (group, Vietnamese, English) in the Decision's order; products 1-22 are Part I, 23-30 Part II.
_PRODUCT_ROWS = (
    (
        "digital",
        "Mô hình ngôn ngữ lớn tiếng Việt, trợ lý ảo, AI chuyên ngành",
        "Vietnamese large language models, virtual assistants and domain AI",
    ),
    ("digital", "Camera AI xử lý tại biên", "Edge-processing AI cameras"),
    ("digital", "Nền tảng bản sao số", "Digital-twin platforms"),
    ("digital", "Nền tảng điện toán đám mây", "Cloud-computing platforms"),
    ("digital", "Hạ tầng chuỗi khối và truy xuất nguồn gốc", "Blockchain infrastructure and traceability"),
    ("mobile_networks", "Thiết bị, hệ thống mạng 5G/5G-Advanced", "5G and 5G-Advanced network equipment and systems"),
    ("robotics_automation", "Robot tự hành và robot công nghiệp", "Autonomous and industrial robots"),
    ("robotics_automation", "Nền tảng, giải pháp sản xuất thông minh", "Smart-manufacturing platforms and solutions"),
    (
        "cybersecurity_quantum",
        "Giải pháp an ninh mạng cho hạ tầng trọng yếu",
        "Cybersecurity for critical infrastructure",
    ),
    ("biotech_biomedicine", "Vắc xin thế hệ mới cho người", "Next-generation human vaccines"),
    (
        "biotech_biomedicine",
        "Liệu pháp tế bào (tế bào gốc, tế bào miễn dịch)",
        "Cell therapies (stem-cell and immune-cell)",
    ),
    (
        "biotech_biomedicine",
        "Hệ thống sản xuất y tế cá thể hóa bằng in 3D",
        "Personalised 3D-printed medical manufacturing",
    ),
    ("biotech_biomedicine", "Hệ thống cảm biến sinh học thông minh", "Smart biosensor systems"),
    (
        "biotech_biomedicine",
        "Vắc xin và chế phẩm sinh học dùng trong nông nghiệp",
        "Agricultural vaccines and biologicals",
    ),
    (
        "biotech_biomedicine",
        "Hệ thống sản xuất và chế biến sâu nông sản",
        "Agricultural production and deep-processing systems",
    ),
    (
        "biotech_biomedicine",
        "Giống cây trồng, vật nuôi công nghệ sinh học",
        "Biotech crop varieties and livestock breeds",
    ),
    ("energy_materials", "Vật liệu tiên tiến, vật liệu chức năng", "Advanced and functional materials"),
    ("energy_materials", "Pin, ắc quy và hệ thống lưu trữ năng lượng", "Batteries and battery energy-storage systems"),
    ("energy_materials", "Hydro xanh, nhiên liệu sinh học", "Green hydrogen and biofuels"),
    (
        "energy_materials",
        "Thiết bị điện cao áp và hệ thống truyền tải điện",
        "High-voltage equipment and power transmission systems",
    ),
    ("energy_materials", "Công nghệ thu giữ, sử dụng và lưu trữ carbon", "Carbon capture, utilisation and storage"),
    ("aerospace", "UAV và hệ thống giám sát, chế áp UAV", "UAVs and UAV monitoring and counter-UAV systems"),
    ("semiconductors", "Chip chuyên dụng", "Application-specific chips"),
    ("cybersecurity_quantum", "Công nghệ lượng tử", "Quantum technology"),
    (
        "marine_subsoil",
        "Công nghệ khai thác, chế biến khoáng sản và đất hiếm",
        "Mineral and rare-earth mining and processing",
    ),
    (
        "marine_subsoil",
        "Công nghệ thăm dò biển sâu, lòng đất và năng lượng ngoài khơi",
        "Deep-sea and subsurface exploration, offshore energy",
    ),
    ("energy_materials", "Lò phản ứng hạt nhân mô-đun nhỏ (SMR)", "Small modular nuclear reactors (SMR)"),
    ("aerospace", "Vệ tinh và chùm vệ tinh quỹ đạo thấp", "Satellites and low-Earth-orbit constellations"),
    ("railway", "Công trình đường sắt tốc độ cao", "High-speed railway works"),
    (
        "railway",
        "Hệ thống, thiết bị đường sắt tốc độ cao và đường sắt đô thị",
        "High-speed and urban railway systems and equipment",
    ),
)

strategic_products: tuple[StrategicProduct, ...] = tuple(
    StrategicProduct(code=f"p{n:02d}", part="I" if n <= 22 else "II", group=group, vi=vi, en=en)
    for n, (group, vi, en) in enumerate(_PRODUCT_ROWS, start=1)
)

# --- Readiness, transfer modes, IP status -------------------------------------

trl_levels: tuple[TrlLevel, ...] = (
    TrlLevel(level=1, vi="Nguyên lý cơ bản được quan sát", en="Basic principles observed"),
    TrlLevel(level=2, vi="Hình thành khái niệm công nghệ", en="Technology concept formulated"),
    TrlLevel(level=3, vi="Chứng minh khái niệm bằng thực nghiệm", en="Experimental proof of concept"),
    TrlLevel(level=4, vi="Công nghệ được kiểm chứng trong phòng thí nghiệm", en="Technology validated in lab"),
    TrlLevel(
        level=5,
        vi="Công nghệ được kiểm chứng trong môi trường liên quan",
        en="Technology validated in relevant environment",
    ),
    TrlLevel(
        level=6,
        vi="Công nghệ được trình diễn trong môi trường liên quan",
        en="Technology demonstrated in relevant environment",
    ),
    TrlLevel(
        level=7,
        vi="Trình diễn nguyên mẫu hệ thống trong môi trường vận hành",
        en="System prototype demonstration in operational environment",
    ),
    TrlLevel(level=8, vi="Hệ thống hoàn chỉnh và đạt chuẩn", en="System complete and qualified"),
    TrlLevel(
        level=9,
        vi="Hệ thống thực tế được chứng minh trong môi trường vận hành",
        en="Actual system proven in operational environment",
    ),
)

transfer_modes: tuple[CodeLabel, ...] = (
    CodeLabel(code="license", vi="Chuyển giao quyền sử dụng (li-xăng)", en="License of the right to use"),
    CodeLabel(code="assignment", vi="Chuyển nhượng quyền sở hữu", en="Assignment of ownership"),
    CodeLabel(code="capital_contribution", vi="Góp vốn bằng công nghệ", en="Capital contribution in technology"),
    CodeLabel(code="joint_venture", vi="Liên doanh", en="Joint venture"),
    CodeLabel(code="rnd_cooperation", vi="Hợp tác nghiên cứu và phát triển", en="R&D cooperation"),
    CodeLabel(code="consulting", vi="Tư vấn, hỗ trợ kỹ thuật", en="Consulting and technical assistance"),
    CodeLabel(
        code="equipment_sale",
        vi="Mua bán máy móc, thiết bị kèm công nghệ",
        en="Sale of machinery and equipment with the technology",
    ),
)

ip_statuses: tuple[CodeLabel, ...] = (
    CodeLabel(code="patent_granted", vi="Đã được cấp bằng độc quyền sáng chế", en="Patent granted"),
    CodeLabel(code="patent_pending", vi="Đang nộp đơn đăng ký sáng chế", en="Patent application pending"),
    CodeLabel(code="utility_solution", vi="Giải pháp hữu ích", en="Utility solution (utility model)"),
    CodeLabel(code="know_how", vi="Bí quyết kỹ thuật", en="Know-how"),
    CodeLabel(code="none", vi="Chưa có bảo hộ", en="No IP protection"),
)

# --- Provinces ------------------------------------------------------------------

PROVINCE_SOURCE = (
    "Codes of Decision 19/2025/QĐ-TTg (34 provincial-level units since 1 July 2025). Each merged unit "
    "kept the old code of the province holding its seat. City status is as of November 2026, after "
    "Đồng Nai, Quảng Ninh and Bắc Ninh became centrally-run cities."
)


def _p(
    code: str, vi: str, en: str, kind: Literal["city", "province"], former: dict[str, str] | None = None
) -> Province:
    """Build a Province from a {former name: pre-2025 code} map (None when unchanged)."""
    return Province(
        code=code,
        vi=vi,
        en=en,
        kind=kind,
        former=tuple(former or ()),
        former_codes=tuple(sorted(former.values())) if former else (code,),
    )


provinces: tuple[Province, ...] = (
    _p("01", "Hà Nội", "Hanoi", "city"),
    _p("04", "Cao Bằng", "Cao Bang", "province"),
    _p("08", "Tuyên Quang", "Tuyen Quang", "province", {"Hà Giang": "02", "Tuyên Quang": "08"}),
    _p("11", "Điện Biên", "Dien Bien", "province"),
    _p("12", "Lai Châu", "Lai Chau", "province"),
    _p("14", "Sơn La", "Son La", "province"),
    _p("15", "Lào Cai", "Lao Cai", "province", {"Lào Cai": "10", "Yên Bái": "15"}),
    _p("19", "Thái Nguyên", "Thai Nguyen", "province", {"Bắc Kạn": "06", "Thái Nguyên": "19"}),
    _p("20", "Lạng Sơn", "Lang Son", "province"),
    _p("22", "Quảng Ninh", "Quang Ninh", "city"),
    _p("24", "Bắc Ninh", "Bac Ninh", "city", {"Bắc Giang": "24", "Bắc Ninh": "27"}),
    _p("25", "Phú Thọ", "Phu Tho", "province", {"Hòa Bình": "17", "Phú Thọ": "25", "Vĩnh Phúc": "26"}),
    _p("31", "Hải Phòng", "Hai Phong", "city", {"Hải Dương": "30", "Hải Phòng": "31"}),
    _p("33", "Hưng Yên", "Hung Yen", "province", {"Hưng Yên": "33", "Thái Bình": "34"}),
    _p("37", "Ninh Bình", "Ninh Binh", "province", {"Hà Nam": "35", "Nam Định": "36", "Ninh Bình": "37"}),
    _p("38", "Thanh Hóa", "Thanh Hoa", "province"),
    _p("40", "Nghệ An", "Nghe An", "province"),
    _p("42", "Hà Tĩnh", "Ha Tinh", "province"),
    _p("44", "Quảng Trị", "Quang Tri", "province", {"Quảng Bình": "44", "Quảng Trị": "45"}),
    _p("46", "Huế", "Hue", "city"),
    _p("48", "Đà Nẵng", "Da Nang", "city", {"Đà Nẵng": "48", "Quảng Nam": "49"}),
    _p("51", "Quảng Ngãi", "Quang Ngai", "province", {"Quảng Ngãi": "51", "Kon Tum": "62"}),
    _p("52", "Gia Lai", "Gia Lai", "province", {"Bình Định": "52", "Gia Lai": "64"}),
    _p("56", "Khánh Hòa", "Khanh Hoa", "province", {"Khánh Hòa": "56", "Ninh Thuận": "58"}),
    _p("66", "Đắk Lắk", "Dak Lak", "province", {"Phú Yên": "54", "Đắk Lắk": "66"}),
    _p("68", "Lâm Đồng", "Lam Dong", "province", {"Bình Thuận": "60", "Đắk Nông": "67", "Lâm Đồng": "68"}),
    _p("75", "Đồng Nai", "Dong Nai", "city", {"Bình Phước": "70", "Đồng Nai": "75"}),
    _p(
        "79",
        "Hồ Chí Minh",
        "Ho Chi Minh City",
        "city",
        {"Bình Dương": "74", "Bà Rịa - Vũng Tàu": "77", "Hồ Chí Minh": "79"},
    ),
    _p("80", "Tây Ninh", "Tay Ninh", "province", {"Tây Ninh": "72", "Long An": "80"}),
    _p("82", "Đồng Tháp", "Dong Thap", "province", {"Tiền Giang": "82", "Đồng Tháp": "87"}),
    _p("86", "Vĩnh Long", "Vinh Long", "province", {"Bến Tre": "83", "Trà Vinh": "84", "Vĩnh Long": "86"}),
    _p("91", "An Giang", "An Giang", "province", {"An Giang": "89", "Kiên Giang": "91"}),
    _p("92", "Cần Thơ", "Can Tho", "city", {"Cần Thơ": "92", "Hậu Giang": "93", "Sóc Trăng": "94"}),
    _p("96", "Cà Mau", "Ca Mau", "province", {"Cà Mau": "96", "Bạc Liêu": "95"}),
)

# --- Code sets and lookups ---------------------------------------------------------

FIELD_CODES = frozenset(f.code for f in fields)
SECTOR_CODES = frozenset(s.code for s in sectors)
STRATEGIC_GROUP_CODES = frozenset(g.code for g in strategic_groups)
STRATEGIC_PRODUCT_CODES = frozenset(p.code for p in strategic_products)
TRL_LEVELS = frozenset(t.level for t in trl_levels)
TRANSFER_MODE_CODES = frozenset(m.code for m in transfer_modes)
IP_STATUS_CODES = frozenset(s.code for s in ip_statuses)
PROVINCE_CODES = frozenset(p.code for p in provinces)

# The same lists as types, so a bad code in a body or query is a 4xx naming the field.
SectorCode = Literal[tuple(sorted(SECTOR_CODES))]  # type: ignore[valid-type]
StrategicGroup = Literal[tuple(sorted(STRATEGIC_GROUP_CODES))]  # type: ignore[valid-type]
TransferMode = Literal[tuple(sorted(TRANSFER_MODE_CODES))]  # type: ignore[valid-type]
IpStatus = Literal[tuple(sorted(IP_STATUS_CODES))]  # type: ignore[valid-type]
Language = Literal["vi", "en"]

_SECTORS_BY_CODE = {s.code: s for s in sectors}
_PROVINCES_BY_CODE = {p.code: p for p in provinces}


def is_sector(code: str) -> bool:
    """Whether code is a level-2 sector code."""
    return code in SECTOR_CODES


def is_strategic_group(code: str) -> bool:
    """Whether code is a strategic technology group slug."""
    return code in STRATEGIC_GROUP_CODES


def sector(code: str) -> Sector | None:
    """The sector with this code, or None."""
    return _SECTORS_BY_CODE.get(code)


def province(code: str) -> Province | None:
    """The current provincial-level unit with this code, or None."""
    return _PROVINCES_BY_CODE.get(code)


def sector_name(code: str, lang: Literal["vi", "en"]) -> str:
    """A sector's name in lang (its code when unknown)."""
    found = _SECTORS_BY_CODE.get(code)
    return getattr(found, lang) if found is not None else code


def province_name(code: str, lang: Literal["vi", "en"]) -> str:
    """A province's name in lang (its code when unknown)."""
    found = _PROVINCES_BY_CODE.get(code)
    return getattr(found, lang) if found is not None else code


_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_PREFIXES = ("thanh pho ", "tinh ", "tp ", "t p ")
_SUFFIXES = (" city", " province")


def _fold(value: str) -> str:
    """Lower-case ASCII form: no diacritics, đ as d, runs of other characters as one space."""
    decomposed = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", bare.lower()).strip()


def _name_key(value: str) -> str:
    """Folded name without an administrative prefix or suffix, spaces removed."""
    key = _fold(value)
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if key.endswith(suffix):
            key = key[: -len(suffix)]
            break
    # Spaces are dropped so "Ha Noi", "Hanoi" and "Đà Nẵng"/"Danang" meet.
    return key.replace(" ", "")


# Common spellings that are not a unit's own or former name.
_ALIASES = {
    "Thừa Thiên Huế": "46",
    "HCM": "79",
    "HCMC": "79",
    "TPHCM": "79",
    "Sài Gòn": "79",
    "BRVT": "79",
    "Bắc Cạn": "19",
}


def _build_region_index() -> tuple[dict[str, str], dict[str, str]]:
    """Index every old and new code and every name form to the current unit code."""
    codes: dict[str, str] = {}
    names: dict[str, str] = {}

    def add(index: dict[str, str], key: str, code: str) -> None:
        # A key claimed by two units would silently misfile listings, so fail at import.
        if index.setdefault(key, code) != code:
            raise ValueError(f"region key {key!r} maps to both {index[key]} and {code}")

    for unit in provinces:
        for old in (unit.code, *unit.former_codes):
            add(codes, old, unit.code)
        for name in (unit.vi, unit.en, *unit.former):
            add(names, _name_key(name), unit.code)
    for name, code in _ALIASES.items():
        add(names, _name_key(name), code)
    return codes, names


_REGION_CODES, _REGION_NAMES = _build_region_index()


def normalize_region(value: str) -> str | None:
    """The current province code for a code, old code or (former) name; None if unknown."""
    text = value.strip()
    if len(text) == 2 and text.isascii() and text.isdigit():
        return _REGION_CODES.get(text)
    key = _name_key(text)
    return _REGION_NAMES.get(key) if key else None


TAXONOMY = Taxonomy(
    fields=fields,
    sectors=sectors,
    sector_source=SECTOR_SOURCE_NOTE,
    strategic_groups=strategic_groups,
    strategic_products=strategic_products,
    strategic_source=STRATEGIC_SOURCE,
    strategic_product_note=STRATEGIC_PRODUCT_NOTE,
    trl_levels=trl_levels,
    transfer_modes=transfer_modes,
    ip_statuses=ip_statuses,
    provinces=provinces,
    province_source=PROVINCE_SOURCE,
)


def region_code(value: str, field: str, error: Callable[[str, str], Exception] = field_error) -> str:
    """The current province code for value, or the error (a 422 by default) naming the field it came from."""
    code = normalize_region(value)
    if code is None:
        raise error(field, f"{value!r} is not a province code or a current or former province name")
    return code
